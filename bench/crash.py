"""kill -9 in the middle of a stream: is every acknowledged comment stored once, decided, and shown exactly once?

The mixed stream (bench/stream.py) runs against a real ``govlive serve``;
part-way through, the server is killed with SIGKILL (no shutdown code runs)
and started again on the same data directory. Overlay clients follow every
room throughout; when their connection drops they reconnect with
``since=<last seq seen>``, as the OBS page does. Afterwards the database and
what the clients saw are compared:

- every comment whose push was answered 200 is stored exactly once and has a decision;
- each room's events have the sequence numbers 1..N with no gap, and the clients saw each exactly once, in order;
- no comment has two events, and every answer or suggestion has its event;
- every work-order decision has exactly one work order.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from dataclasses import dataclass, field

import httpx
import websockets

from assistant.rooms import Room

from .stream import MixedStream


@dataclass
class CrashReport:
    rate: float
    kill_after: float
    items_sent: int = 0
    acked_comments: int = 0
    unacked_pushes: int = 0  # pushes that got no answer because the server was gone
    restart_seconds: float = 0.0
    recovered_pending: int = 0  # stored but unmatched at the kill, matched after the restart
    stored_comments: int = 0
    lost: list[str] = field(default_factory=list)  # acknowledged but not stored
    stored_twice: list[str] = field(default_factory=list)
    undecided: list[str] = field(default_factory=list)
    events_stored: int = 0
    events_seen: int = 0
    duplicate_events_seen: int = 0
    missing_events_seen: int = 0
    sequence_gaps: int = 0
    comments_with_two_events: int = 0
    shown_without_event: int = 0
    work_order_decisions: int = 0
    work_orders: int = 0
    reconnects: int = 0

    @property
    def passed(self) -> bool:
        return not (self.lost or self.stored_twice or self.undecided or self.duplicate_events_seen or self.missing_events_seen
                    or self.sequence_gaps or self.comments_with_two_events or self.shown_without_event
                    or self.work_orders != self.work_order_decisions)

    def as_dict(self) -> dict:
        out = {k: (len(v) if isinstance(v, list) else v) for k, v in self.__dict__.items()}
        out["passed"] = self.passed
        return out


async def crash_run(server, rooms: list[Room], *, rate: float, seconds: float, kill_after: float) -> CrashReport:
    """Stream for ``seconds`` at ``rate`` items/s, kill -9 the server at ``kill_after``, restart it, and check."""
    report = CrashReport(rate=rate, kill_after=kill_after)
    stream = MixedStream(rooms, server.secrets)
    seen: dict[str, list[dict]] = {room.id: [] for room in rooms}
    acked: list[str] = []
    done = asyncio.Event()
    server_up = asyncio.Event()
    server_up.set()

    async def follow(room: Room) -> None:
        """An overlay client that reconnects with since=<last seq> whenever the connection drops."""
        last = None
        while not done.is_set():
            await server_up.wait()
            try:
                async with websockets.connect(server.ws_url(room.id, since=last if last is not None else 0), max_size=2**22) as ws:
                    await ws.recv()  # hello
                    while True:
                        try:
                            message = await asyncio.wait_for(ws.recv(), 0.5)
                        except TimeoutError:
                            if done.is_set():
                                return
                            continue
                        event = json.loads(message)
                        if event.get("type") == "event":
                            seen[room.id].append(event)
                            last = event["seq"]
            except (OSError, websockets.ConnectionClosed, websockets.InvalidHandshake, TimeoutError):
                report.reconnects += 1
                await asyncio.sleep(0.2)

    async def push(client: httpx.AsyncClient, path, headers, body, items) -> None:
        try:
            response = await client.post(path, content=body, headers=headers)
        except httpx.HTTPError:
            report.unacked_pushes += 1  # never acknowledged: the connector would resend it
            return
        if response.status_code == 200:
            report.acked_comments += response.json()["accepted"]
            acked.extend(i.key for i in items if i.kind not in ("like", "gift"))

    async def killer() -> None:
        await asyncio.sleep(kill_after)
        server_up.clear()
        await asyncio.to_thread(server.kill)
        with sqlite3.connect(server.data_dir / "govlive.db") as db:
            report.recovered_pending = db.execute("SELECT count(*) FROM comments WHERE state = 'pending'").fetchone()[0]
        report.restart_seconds = round(await asyncio.to_thread(server.start), 2)
        server_up.set()

    followers = [asyncio.create_task(follow(room)) for room in rooms]
    kill_task = asyncio.create_task(killer())
    pushes: set[asyncio.Task] = set()
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        started, tick, carry = time.monotonic(), 0, 0.0
        while time.monotonic() - started < seconds:
            await asyncio.sleep(max(0.0, started + tick * 0.1 - time.monotonic()))
            carry += rate * 0.1
            count, carry = int(carry), carry - int(carry)
            items = stream.items(count)
            report.items_sent += count
            if server_up.is_set():  # a connector whose server is down queues and resends; here we just stop sending
                for request in stream.requests(items):
                    task = asyncio.create_task(push(client, *request))
                    pushes.add(task)
                    task.add_done_callback(pushes.discard)
            tick += 1
        await asyncio.gather(*pushes)
    await kill_task
    await asyncio.to_thread(server.wait_drained, 300)
    await asyncio.sleep(1.0)
    done.set()
    await asyncio.gather(*followers)

    db = sqlite3.connect(server.data_dir / "govlive.db")
    try:
        rows = db.execute("SELECT message_id, count(*), max(state), max(decision) FROM comments GROUP BY message_id").fetchall()
        by_key = {key: (n, state, decision) for key, n, state, decision in rows}
        report.stored_comments = sum(n for n, _, _ in by_key.values())
        for key in acked:
            if key not in by_key:
                report.lost.append(key)
            elif by_key[key][0] > 1:
                report.stored_twice.append(key)
            elif by_key[key][1] != "done" or by_key[key][2] not in ("answer", "suggest", "workorder", "ignore"):
                report.undecided.append(key)
        for room in rooms:
            stored = [seq for (seq,) in db.execute("SELECT seq FROM room_events WHERE room = ? ORDER BY seq", (room.id,))]
            report.events_stored += len(stored)
            report.sequence_gaps += sum(1 for i, seq in enumerate(stored, start=1) if seq != i)
            got = [e["seq"] for e in seen[room.id]]
            report.events_seen += len(got)
            report.duplicate_events_seen += len(got) - len(set(got))
            report.missing_events_seen += len(set(stored) - set(got))
        report.comments_with_two_events = db.execute(
            "SELECT count(*) FROM (SELECT comment_id FROM room_events WHERE kind IN ('answer', 'suggest') GROUP BY comment_id HAVING count(*) > 1)"
        ).fetchone()[0]
        report.shown_without_event = db.execute(
            "SELECT count(*) FROM comments c WHERE c.decision IN ('answer', 'suggest') AND c.hidden = 0 AND c.entry_id IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM room_events e WHERE e.comment_id = c.id)"
        ).fetchone()[0]
        report.work_order_decisions = db.execute("SELECT count(*) FROM comments WHERE decision = 'workorder'").fetchone()[0]
        report.work_orders = db.execute("SELECT count(DISTINCT comment_id) FROM work_orders").fetchone()[0]
        total_orders = db.execute("SELECT count(*) FROM work_orders").fetchone()[0]
        if total_orders != report.work_orders:
            report.work_orders = -total_orders  # a duplicated order fails the check
    finally:
        db.close()
    return report
