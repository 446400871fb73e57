"""The digital-human host's queue: long-poll, leases, re-delivery, idle items.

An item handed out is leased; if the host does not acknowledge it before the
lease runs out (it crashed mid-sentence, the network dropped), the next poll
hands it out again. With nothing queued, the host gets a rotating policy
highlight so that a 24-hour stream never falls silent.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter, defaultdict

from pydantic import BaseModel

from assistant.bank.store import AnswerBank
from assistant.clock import Clock, SystemClock
from assistant.store import HostItem, SqliteStore

from .speech import idle_speech


class IdleItem(BaseModel):
    kind: str = "idle"
    room: str
    entry_id: str
    question: str
    text: str


class HostQueue:
    def __init__(self, store: SqliteStore, bank: AnswerBank, idle_entries: tuple[str, ...], *, lease_seconds: float,
                 clock: Clock | None = None):
        missing = [e for e in idle_entries if bank.get(e) is None]
        if missing or not idle_entries:
            raise ValueError(f"host idle entries not in the answer bank: {missing or 'none configured'}")
        self.store = store
        self.bank = bank
        self.idle_entries = idle_entries
        self.lease_seconds = lease_seconds
        self.clock = clock or SystemClock()
        self.waiting: Counter[str] = Counter()  # long-polls asleep per room, for status and tests
        self._rotation: dict[str, itertools.cycle] = {}
        self._arrivals: dict[str, asyncio.Event] = defaultdict(asyncio.Event)

    def notify(self, room: str) -> None:
        """Something was queued for the room: wake its long-polls."""
        self._arrivals[room].set()

    def idle_item(self, room: str) -> IdleItem:
        rotation = self._rotation.setdefault(room, itertools.cycle(self.idle_entries))
        entry = self.bank.get(next(rotation))
        return IdleItem(room=room, entry_id=entry.id, question=entry.question, text=idle_speech(entry.question, entry.answer))

    async def next(self, room: str, wait: float) -> HostItem | IdleItem:
        clock = self.clock
        deadline = clock.monotonic() + max(0.0, wait)
        while True:
            event = self._arrivals[room]
            event.clear()
            item = self.store.lease_host_item(room, now=clock.time(), lease_seconds=self.lease_seconds)
            if item is not None:
                return item
            remaining = deadline - clock.monotonic()
            if remaining <= 0:
                return self.idle_item(room)
            # Sleep until something arrives, a lease runs out, or the wait ends.
            expiry = self.store.next_lease_expiry(room)
            if expiry is not None:
                remaining = min(remaining, max(0.01, expiry - clock.time()))
            self.waiting[room] += 1
            try:
                await clock.wait(event, remaining)
            finally:
                self.waiting[room] -= 1

    def ack(self, lease_id: str) -> str:
        """"spoken", "already" (acknowledged before) or "unknown" (the lease ran out and was handed out again)."""
        return self.store.ack_host_item(lease_id, now=self.clock.time())
