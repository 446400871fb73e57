"""Replay the recorded platform payloads into a running server, as live connectors would.

Every sample of every platform is sent in turn to each chosen room, retargeted
(room ids replaced, message ids made unique per pass so dedupe does not
swallow the replay, times set to now) and signed the way that platform's
push is signed. The pace is in items per second (comments, likes, gifts …),
not requests, because one push may carry ten comments.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import json
import secrets as random_secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from assistant.ingest import connector_auth, douyin, kuaishou, wechat_channels
from assistant.ingest.record import SHANGHAI
from assistant.ingest.samples import Sample, load_samples
from assistant.rooms import Room

SAMPLE_FILES = ("douyin_official", "douyin_bridge", "kuaishou", "wechat_channels")
MAX_IN_FLIGHT = 32


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    items: int  # for pacing


@dataclass
class Report:
    payloads: int = 0
    items: int = 0
    by_status: Counter = field(default_factory=Counter)
    accepted: int = 0
    duplicates: int = 0
    counted: int = 0
    rejected: int = 0
    errors: int = 0  # connection failures
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "payloads": self.payloads, "items": self.items, "by_status": dict(sorted(self.by_status.items())),
            "accepted": self.accepted, "duplicates": self.duplicates, "counted": self.counted,
            "rejected_items": self.rejected, "connection_errors": self.errors, "seconds": round(self.seconds, 2),
            "items_per_second": round(self.items / self.seconds, 1) if self.seconds else None,
        }


def _encode(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def _count_items(kind: str, body: Any) -> int:
    if kind == "douyin_official":
        return len(body) if isinstance(body, list) else 1
    if kind == "kuaishou" and isinstance(body, dict):
        return sum(len(body.get(k) or []) for k in ("commentFeeds", "likeFeeds", "giftFeeds") if isinstance(body.get(k), list)) or 1
    if kind == "wechat_channels" and isinstance(body, dict) and isinstance(body.get("events"), list):
        return len(body["events"]) or 1
    return 1


def _target(path: str) -> str:
    """The path and query as httpx puts them on the wire: what a connector signs."""
    return httpx.URL(path).raw_path.decode("ascii")


def build_request(kind: str, sample: Sample, room: Room, suffix: str, secrets, *, now: dt.datetime, gzip_body: bool = False) -> Request:
    """One recorded sample as the HTTP request its platform (or connector) would make for ``room``.

    Signed pushes get a new nonce (and the current time) each time: build a
    new request for every send, a retry included, as a connector does.
    """
    unix = int(now.timestamp())
    if kind == "douyin_official":
        line = douyin.restamp_official(sample.model_dump(), platform_room=room.douyin or "", suffix=suffix, now=now)
        headers = {k.lower(): str(v) for k, v in (line.get("headers") or {}).items()}
        headers.setdefault("x-timestamp", str(unix))
        headers["x-nonce-str"] = random_secrets.token_hex(8)
        raw = sample.body_text.encode() if sample.body_text is not None else _encode(line.get("body"))
        headers["x-signature"] = douyin.signature(headers, raw, secrets.douyin_push_secret)
        return Request("/push/douyin", {**headers, "content-type": "application/json"}, raw, _count_items(kind, line.get("body")))
    if kind == "douyin_bridge":
        body = sample.body if sample.body_text is not None or not isinstance(sample.body, dict) else douyin.restamp_bridge(
            sample.body, platform_room=room.douyin or "", suffix=suffix, now=now)
        raw = sample.body_text.encode() if sample.body_text is not None else _encode(body)
        headers = {"authorization": f"Bearer {secrets.douyin_bridge_token}", "content-type": "application/json"}
        return Request("/push/douyin/bridge", headers, raw, 1)
    if kind == "kuaishou":
        body = sample.body if sample.body_text is not None or not isinstance(sample.body, dict) else kuaishou.restamp(
            sample.body, platform_room=room.kuaishou or "", suffix=suffix, now=now)
        raw = sample.body_text.encode() if sample.body_text is not None else _encode(body)
        path = f"/push/kuaishou?room={room.kuaishou}"
        headers = {**connector_auth.signed_headers(secrets.kuaishou_connector_secret, unix, raw, target=_target(path)), "content-type": "application/json"}
        return Request(path, headers, raw, _count_items(kind, body))
    if kind == "wechat_channels":
        body = sample.body if sample.body_text is not None or not isinstance(sample.body, dict) else wechat_channels.restamp(
            sample.body, platform_room=room.wechat_channels or "", suffix=suffix, now=now)
        raw = sample.body_text.encode() if sample.body_text is not None else _encode(body)
        headers = {"content-type": "application/json"}
        if gzip_body:
            raw = gzip.compress(raw)
            headers["content-encoding"] = "gzip"
        headers.update(connector_auth.signed_headers(secrets.wechat_channels_connector_secret, unix, raw, target=_target("/push/wechat_channels")))
        return Request("/push/wechat_channels", headers, raw, _count_items(kind, body))
    raise ValueError(f"unknown sample file {kind!r}")


def replay_plan(rooms: list[Room], *, only_valid: bool = False):
    """An endless sequence of (kind, sample, room, pass number), platforms and rooms interleaved."""
    samples = {kind: [s for s in load_samples(kind) if not only_valid or s.expect.status == 200] for kind in SAMPLE_FILES}
    longest = max(len(s) for s in samples.values())
    rounds = 0
    while True:
        for i in range(longest):
            for room in rooms:
                for kind in SAMPLE_FILES:
                    if i < len(samples[kind]):
                        yield kind, samples[kind][i], room, rounds
        rounds += 1


async def simulate(base_url: str, rooms: list[Room], secrets, *, rate: float, duration: float, only_valid: bool = False,
                   run_id: str | None = None, max_payloads: int | None = None) -> Report:
    """Send samples for ``duration`` seconds at ``rate`` items/s; returns what the server answered."""
    run_id = run_id or random_secrets.token_hex(3)
    report = Report()
    in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
    tasks: set[asyncio.Task] = set()
    started = time.monotonic()
    due = started

    async def send(client: httpx.AsyncClient, request: Request) -> None:
        try:
            response = await client.post(request.path, content=request.body, headers=request.headers)
        except httpx.HTTPError:
            report.errors += 1
            return
        finally:
            in_flight.release()
        report.by_status[response.status_code] += 1
        if response.status_code == 200:
            data = response.json()
            report.accepted += data["accepted"]
            report.duplicates += data["duplicates"]
            report.counted += data["counted"]
            report.rejected += data.get("rejected_count", len(data["rejected"]))

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        for n, (kind, sample, room, rounds) in enumerate(replay_plan(rooms, only_valid=only_valid)):
            if time.monotonic() - started >= duration or (max_payloads is not None and n >= max_payloads):
                break
            now = dt.datetime.now(SHANGHAI)
            request = build_request(kind, sample, room, f"-{run_id}-{rounds}", secrets, now=now, gzip_body=bool(n % 2))
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await in_flight.acquire()
            report.payloads += 1
            report.items += request.items
            task = asyncio.create_task(send(client, request))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            due += request.items / rate
        if tasks:
            await asyncio.gather(*tasks)
    report.seconds = time.monotonic() - started
    return report
