"""What survives a stop: comments stored but not processed, and a kill -9 in the middle of a stream."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
import threading
import time

import httpx
import pytest
import websockets

from assistant.ingest import douyin
from assistant.ingest.record import SHANGHAI, CommentRecord
from assistant.rooms import Rooms
from assistant.settings import EXAMPLE_ROOMS_FILE
from assistant.store import SqliteStore

pytestmark = pytest.mark.model

ROOMS = Rooms.read(EXAMPLE_ROOMS_FILE)
CITY = ROOMS.get("city")
MIX = [
    "出门没带手机也没带医保咔 去医院能刷脸结算吗",  # answer
    "医保卡丢了怎么补办",  # suggest
    "帮我查下我的社保为什么断缴了 电话13912345678",  # work order
    "666",  # ignore
    "老师 带押过户到底是个什么意思 没听懂",  # answer
]


def record(n: int, text: str) -> CommentRecord:
    return CommentRecord(platform="douyin", room=CITY.douyin, message_id=f"pre-{n}", user_id=f"u{n}", nickname="观众", text=text,
                         type="comment", platform_time=None, received_at=dt.datetime.now(SHANGHAI), raw={"n": n})


def test_comments_stored_but_not_processed_are_processed_at_start(tmp_path, bundled_index):
    from live import LiveServer, data_dir_with_index

    data_dir = data_dir_with_index(tmp_path / "data", bundled_index[0])
    # What a push endpoint had committed when the process died before matching.
    store = SqliteStore(data_dir / "govlive.db")
    store.add_records([(record(i, text), "city") for i, text in enumerate(MIX)])
    assert store.count_pending() == len(MIX)
    store.close()

    server = LiveServer(data_dir).start()
    try:
        status = server.wait_processed()
        assert status["comments"] == len(MIX) and status["pending"] == 0
        assert status["decisions"] == {"answer": 2, "suggest": 1, "workorder": 1, "ignore": 1}

        async def replay():
            async with websockets.connect(server.ws_url("city", since=0)) as ws:
                hello = json.loads(await ws.recv())
                return hello, [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(hello["seq"])]

        hello, events = asyncio.run(replay())
        assert [e["kind"] for e in events] == ["answer", "suggest", "answer"]
        assert [e["comment"] for e in events] == [MIX[0], MIX[1], MIX[4]]
        (order,) = server.get("/api/staff/work_orders", "staff").json()
        assert order["citizen_text"] == MIX[2]
    finally:
        server.stop()


def test_kill_9_mid_stream_loses_and_repeats_nothing(tmp_path, bundled_index):
    from live import LiveServer, data_dir_with_index

    server = LiveServer(data_dir_with_index(tmp_path / "data", bundled_index[0])).start()
    acked: list[str] = []
    received: list[dict] = []

    def send_until_refused(stop: threading.Event) -> None:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            for batch in range(80):  # bounded: at most 400 comments
                if stop.is_set():
                    return
                ids = [f"k{batch}-{j}" for j in range(5)]
                body = json.dumps([{"msg_id": i, "sec_openid": f"u{batch}", "nickname": "观众", "content": MIX[(batch + j) % len(MIX)],
                                    "timestamp": int(time.time() * 1000)} for j, i in enumerate(ids)], ensure_ascii=False).encode()
                headers = {"x-roomid": CITY.douyin, "x-msg-type": "live_comment", "x-timestamp": str(int(time.time())), "x-nonce-str": f"n{batch}"}
                headers["x-signature"] = douyin.signature(headers, body, server.secrets.douyin_push_secret)
                try:
                    response = client.post("/push/douyin", content=body, headers=headers)
                except httpx.HTTPError:
                    return  # the server is gone: this push was never acknowledged
                if response.status_code == 200:
                    acked.extend(ids)
                time.sleep(0.02)

    async def follow(since: int, *, quiet: float) -> None:
        """Read overlay events until the server goes away or stays quiet for `quiet` seconds."""
        try:
            async with websockets.connect(server.ws_url("city", since=since)) as ws:
                await ws.recv()
                while True:
                    received.append(json.loads(await asyncio.wait_for(ws.recv(), quiet)))
        except (websockets.ConnectionClosed, OSError, TimeoutError):
            return

    async def scenario() -> None:
        reader = asyncio.create_task(follow(0, quiet=60))
        stop = threading.Event()
        sender = asyncio.create_task(asyncio.to_thread(send_until_refused, stop))
        await asyncio.sleep(1.2)
        await asyncio.to_thread(server.kill)
        stop.set()
        await sender
        await reader
        await asyncio.to_thread(server.start)
        await asyncio.to_thread(server.wait_processed, 180)
        await follow(received[-1]["seq"] if received else 0, quiet=3)

    try:
        asyncio.run(scenario())
        assert len(acked) >= 25, "the stream should have been running when the server was killed"
        db = sqlite3.connect(server.data_dir / "govlive.db")
        rows = db.execute("SELECT message_id, decision, state FROM comments").fetchall()
        by_id = {}
        for message_id, decision, state in rows:
            assert message_id not in by_id, f"{message_id} stored twice"
            by_id[message_id] = (decision, state)
        for message_id in acked:
            assert message_id in by_id, f"acknowledged {message_id} was lost"
            assert by_id[message_id][1] == "done" and by_id[message_id][0] in ("answer", "suggest", "workorder", "ignore")
        # The overlay client saw every event once, in order, across the kill.
        seqs = [e["seq"] for e in received]
        stored_events = db.execute("SELECT seq, comment_id FROM room_events WHERE room = 'city' ORDER BY seq").fetchall()
        assert seqs == [s for s, _ in stored_events] == list(range(1, len(stored_events) + 1))
        shown = db.execute("SELECT count(*) FROM comments WHERE decision IN ('answer', 'suggest')").fetchone()[0]
        assert len({c for _, c in stored_events}) == len(stored_events) == shown
        orders = db.execute("SELECT count(*), count(DISTINCT comment_id) FROM work_orders").fetchone()
        assert orders[0] == orders[1] == db.execute("SELECT count(*) FROM comments WHERE decision = 'workorder'").fetchone()[0]
        db.close()
    finally:
        server.stop()


def test_kill_9_during_a_three_platform_stream_with_reconnecting_overlays(tmp_path, bundled_index):
    """The benchmark's crash trial (bench/crash.py) at small numbers: all three
    adapters, three rooms, overlay clients that reconnect with since=<seq>."""
    from bench.crash import crash_run
    from bench.server import ServeProcess
    from live import data_dir_with_index

    rooms = [ROOMS.get(r) for r in ("city", "county-1", "county-2")]
    server = ServeProcess(data_dir_with_index(tmp_path / "data", bundled_index[0]))
    server.start()
    try:
        report = asyncio.run(crash_run(server, rooms, rate=60, seconds=6, kill_after=2.5))
    finally:
        server.stop()
    figures = report.as_dict()
    assert report.acked_comments >= 30 and report.reconnects >= len(rooms), figures  # the kill hit a running stream
    assert report.lost == [] and report.stored_twice == [] and report.undecided == [], figures
    assert report.events_seen == report.events_stored > 0 and report.duplicate_events_seen == 0 and report.missing_events_seen == 0, figures
    assert report.sequence_gaps == 0 and report.comments_with_two_events == 0 and report.shown_without_event == 0, figures
    assert report.work_orders == report.work_order_decisions > 0, figures
    assert report.passed
