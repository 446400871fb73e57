"""A mixed live-comment stream pushed through all three platform adapters, and what came back on the overlay.

The mix (by item): 40 % questions, 15 % chitchat, 5 % spam and abuse, 5 %
requests and complaints (work orders), 10 % repeats of a recent question
(the same words again, or with the punctuation and filler normalisation
folds away), 15 % likes and 10 % gifts. Question texts are the labelled
comments of ``corpus/`` and then the bank's own phrasings, each sent once,
so the embedding cache only helps where a real room would: on repeats.

Items are pushed every ``TICK`` seconds, in the batches each platform
sends: a Douyin official push per message type, a Kuaishou feed, a WeChat
Channels event batch. Every comment carries a unique nickname, so an
overlay event can be traced to the push that carried it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import secrets as random_secrets
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import websockets

from assistant.ingest import connector_auth, douyin
from assistant.ingest.record import SHANGHAI
from assistant.rooms import Room
from assistant.settings import BUNDLED_BANK_DIR, REPO_ROOT

TICK = 0.1  # seconds between pushes from each platform's connector
MIX = (("question", 40), ("chitchat", 15), ("spam", 5), ("followup", 5), ("repeat", 10), ("like", 15), ("gift", 10))
GENERIC_CHITCHAT = ("主播好", "来了来了", "666", "哈哈哈哈", "晚上好", "支持政务直播", "打卡", "主播辛苦了", "👍👍👍", "1111")


def _labelled(paths: list[Path]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                out.setdefault(row["intent"], []).append(row["text"])
    return out


class TextPools:
    """Where each kind of comment's words come from."""

    def __init__(self, seed: int = 7):
        self.random = random.Random(seed)
        corpus = REPO_ROOT / "corpus"
        labelled = _labelled([corpus / "intent" / "train.jsonl", corpus / "eval" / "dev.jsonl", corpus / "eval" / "test.jsonl"])
        phrasings = []
        for path in sorted(BUNDLED_BANK_DIR.glob("*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    entry = json.loads(line)
                    phrasings.extend(entry["similar_questions"])
        self.random.shuffle(phrasings)
        questions = labelled["question"][:]
        self.random.shuffle(questions)
        self.questions = deque(questions + phrasings)
        self.chitchat = labelled["chitchat"] + list(GENERIC_CHITCHAT)
        self.spam = labelled["spam"] + labelled["abuse"]
        self.followups = labelled["request"] + labelled["complaint"]
        self.recent: deque[str] = deque(maxlen=200)

    def text(self, kind: str) -> str:
        r = self.random
        if kind == "question" or (kind == "repeat" and not self.recent):
            text = self.questions[0]
            self.questions.rotate(-1)
            self.recent.append(text)
            return text
        if kind == "repeat":
            text = r.choice(self.recent)
            return r.choice((text, text + "？？", "主播 " + text, text + "!!!"))
        if kind == "chitchat":
            return r.choice(self.chitchat)
        if kind == "spam":
            return r.choice(self.spam)
        return r.choice(self.followups)


@dataclass
class Item:
    kind: str  # one of MIX's kinds
    key: str  # unique: message id and nickname
    text: str


class MixedStream:
    def __init__(self, rooms: list[Room], secrets, *, seed: int = 7, run_id: str | None = None):
        self.rooms = rooms
        self.secrets = secrets
        self.pools = TextPools(seed)
        self.random = random.Random(seed + 1)
        self.run_id = run_id or random_secrets.token_hex(3)
        self.n = 0
        kinds, weights = zip(*MIX)
        self._kinds, self._weights = kinds, weights

    def items(self, count: int) -> list[Item]:
        out = []
        for kind in self.random.choices(self._kinds, self._weights, k=count):
            self.n += 1
            text = "" if kind in ("like", "gift") else self.pools.text(kind)
            out.append(Item(kind, f"b{self.run_id}-{self.n}", text))
        return out

    def requests(self, items: list[Item]) -> list[tuple[str, dict[str, str], bytes, list[Item]]]:
        """The pushes that carry ``items``: (path, headers, body, the comments in it)."""
        by_platform: dict[str, list[Item]] = {"douyin": [], "kuaishou": [], "wechat_channels": []}
        platforms = list(by_platform)
        for item in items:
            by_platform[platforms[self.random.randrange(3)]].append(item)
        room = self.rooms[self.random.randrange(len(self.rooms))]
        now = dt.datetime.now(SHANGHAI)
        unix = int(now.timestamp())
        out = []
        douyin_items = by_platform["douyin"]
        for msg_type, kinds in (("live_comment", None), ("live_like", {"like"}), ("live_gift", {"gift"})):
            chosen = [i for i in douyin_items if (i.kind in kinds if kinds else i.kind not in ("like", "gift"))]
            if not chosen:
                continue
            body = json.dumps([{"msg_id": i.key, "sec_openid": f"u-{i.key}", "nickname": i.key, "content": i.text,
                                "timestamp": unix * 1000} for i in chosen], ensure_ascii=False).encode()
            headers = {"x-roomid": room.douyin, "x-msg-type": msg_type, "x-timestamp": str(unix), "x-nonce-str": random_secrets.token_hex(6)}
            headers["x-signature"] = douyin.signature(headers, body, self.secrets.douyin_push_secret)
            out.append(("/push/douyin", {**headers, "content-type": "application/json"}, body, chosen))
        ks = by_platform["kuaishou"]
        if ks:
            feeds = {"commentFeeds": [], "likeFeeds": [], "giftFeeds": []}
            for i in ks:
                user = {"principalId": f"u-{i.key}", "userName": i.key}
                if i.kind == "like":
                    feeds["likeFeeds"].append({"id": i.key, "user": user})
                elif i.kind == "gift":
                    feeds["giftFeeds"].append({"id": i.key, "user": user, "giftId": 1, "batchSize": 1})
                else:
                    feeds["commentFeeds"].append({"id": i.key, "user": user, "content": i.text, "showType": "FEED_SHOW_NORMAL"})
            body = json.dumps(feeds, ensure_ascii=False).encode()
            path = f"/push/kuaishou?room={room.kuaishou}"
            target = httpx.URL(path).raw_path.decode("ascii")
            headers = {**connector_auth.signed_headers(self.secrets.kuaishou_connector_secret, unix, body, target=target),
                       "content-type": "application/json"}
            out.append((path, headers, body, ks))
        wc = by_platform["wechat_channels"]
        if wc:
            events = [{"seq": n, "msg_id": i.key, "sec_openid": f"u-{i.key}", "nickname": i.key, "content": i.text,
                       "decoded_type": {"like": "like", "gift": "gift"}.get(i.kind, "comment"), "msg_time": unix} for n, i in enumerate(wc)]
            body = json.dumps({"events": events, "live_info": {"live_id": room.wechat_channels}}, ensure_ascii=False).encode()
            headers = {**connector_auth.signed_headers(self.secrets.wechat_channels_connector_secret, unix, body, target="/push/wechat_channels"),
                       "content-type": "application/json"}
            out.append(("/push/wechat_channels", headers, body, wc))
        return out


@dataclass
class LoadResult:
    rate: float
    seconds: float
    items_sent: int = 0
    comments_sent: int = 0
    acked_comments: int = 0
    refused_pushes: int = 0
    errors: int = 0
    push_ms: list[float] = field(default_factory=list)  # HTTP round trip of each push
    overlay_ms: list[float] = field(default_factory=list)  # push sent → overlay event received
    backlog: list[tuple[float, int]] = field(default_factory=list)  # (seconds into the run, pending comments)
    drain_seconds: float | None = None
    acked_keys: list[str] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)

    @property
    def achieved_rate(self) -> float:
        return self.items_sent / self.seconds if self.seconds else 0.0

    def backlog_growth_per_second(self) -> float:
        """Slope of the pending backlog over the second half of the run (comments per second)."""
        half = [(t, p) for t, p in self.backlog if self.seconds / 2 <= t <= self.seconds]
        if len(half) < 3:
            return 0.0
        t, p = np.array(half, dtype=float).T
        return float(np.polyfit(t, p, 1)[0])

    def sustained(self) -> bool:
        """Kept up: the backlog did not grow, what was left drained within 2 s, and nothing was refused or lost.

        "Did not grow": the fitted rise over the second half is at most 15
        comments or a tenth of a second's arrivals. The backlog is a sawtooth
        (pushes every 100 ms, micro-batches in between), so a bare slope > 0
        would flag noise; a real overload rises by hundreds.
        """
        rise = self.backlog_growth_per_second() * self.seconds / 2
        return (rise <= max(15.0, 0.1 * self.rate) and (self.drain_seconds or 0) <= 2.0
                and not self.errors and not self.refused_pushes and self.achieved_rate >= 0.95 * self.rate)

    def percentiles(self, values: list[float]) -> dict[str, float | None]:
        if not values:
            return {"p50": None, "p95": None, "p99": None}
        a = np.array(values)
        return {f"p{q}": round(float(np.percentile(a, q)), 1) for q in (50, 95, 99)}


async def run_load(server, rooms: list[Room], *, rate: float, seconds: float, stream: MixedStream | None = None,
                   max_in_flight: int = 64, keep_events: bool = False) -> LoadResult:
    """Push the mixed stream at ``rate`` items/s for ``seconds`` while one overlay client per room listens."""
    stream = stream or MixedStream(rooms, server.secrets)
    result = LoadResult(rate=rate, seconds=seconds)
    sent_at: dict[str, float] = {}
    in_flight = asyncio.Semaphore(max_in_flight)
    stop_listening = asyncio.Event()

    async def listen(room: Room, ready: asyncio.Event) -> None:
        async with websockets.connect(server.ws_url(room.id), max_size=2**22) as ws:
            await ws.recv()  # hello
            ready.set()
            while not stop_listening.is_set():
                try:
                    message = await asyncio.wait_for(ws.recv(), 0.5)
                except TimeoutError:
                    continue
                now = time.perf_counter()
                event = json.loads(message)
                if event.get("type") != "event":
                    continue
                started = sent_at.get(event.get("nickname") or "")
                if started is not None:
                    result.overlay_ms.append((now - started) * 1000)
                if keep_events:
                    result.events.append(event)

    async def push(client: httpx.AsyncClient, path: str, headers: dict[str, str], body: bytes, items: list[Item]) -> None:
        started = time.perf_counter()
        for item in items:
            sent_at[item.key] = started
        try:
            response = await client.post(path, content=body, headers=headers)
        except httpx.HTTPError:
            result.errors += 1
            return
        finally:
            in_flight.release()
        result.push_ms.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            result.refused_pushes += 1
            return
        result.acked_comments += response.json()["accepted"]
        result.acked_keys.extend(i.key for i in items if i.kind not in ("like", "gift"))

    async def watch_backlog(started: float) -> None:
        async with httpx.AsyncClient(base_url=server.url, headers=server.admin, timeout=10) as client:
            while not stop_listening.is_set():
                try:
                    pending = (await client.get("/api/admin/status")).json()["pending"]
                    result.backlog.append((time.monotonic() - started, pending))
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(1.0)

    readies = [asyncio.Event() for _ in rooms]
    listeners = [asyncio.create_task(listen(room, ready)) for room, ready in zip(rooms, readies)]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 30)
    tasks: set[asyncio.Task] = set()
    limits = httpx.Limits(max_connections=max_in_flight, max_keepalive_connections=max_in_flight)
    async with httpx.AsyncClient(base_url=server.url, timeout=30, limits=limits) as client:
        started = time.monotonic()
        watcher = asyncio.create_task(watch_backlog(started))
        tick, carry = 0, 0.0
        while True:
            due = started + tick * TICK
            if due - started >= seconds:
                break
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            carry += rate * TICK
            count, carry = int(carry), carry - int(carry)
            items = stream.items(count)
            result.items_sent += count
            result.comments_sent += sum(1 for i in items if i.kind not in ("like", "gift"))
            for path, headers, body, carried in stream.requests(items):
                await in_flight.acquire()
                task = asyncio.create_task(push(client, path, headers, body, carried))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            tick += 1
        if tasks:
            await asyncio.gather(*tasks)
        result.seconds = time.monotonic() - started
        drain_started = time.monotonic()
        while True:
            pending = (await client.get("/api/admin/status", headers=server.admin)).json()["pending"]
            if not pending or time.monotonic() - drain_started > 120:
                break
            await asyncio.sleep(0.1)
        result.drain_seconds = round(time.monotonic() - drain_started, 2)
        await asyncio.sleep(0.5)  # the last events reach the clients
        stop_listening.set()
        watcher.cancel()
    await asyncio.gather(*listeners, return_exceptions=True)
    return result
