"""Fan-out of room events to connected overlay websockets.

Events are stored with their sequence number before they are published, so
a subscriber that misses something (slow, disconnected, server restarted)
gets it from the store with ``?since=N``; the hub only carries live traffic.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable

from assistant.store import RoomEvent

# A client this far behind is cut off; it reconnects and resumes from the store.
SUBSCRIBER_BACKLOG = 2000


class Subscription:
    def __init__(self, room: str) -> None:
        self.room = room
        self.queue: asyncio.Queue[RoomEvent] = asyncio.Queue(maxsize=SUBSCRIBER_BACKLOG)
        self.overflowed = asyncio.Event()  # set when the client fell too far behind

    def offer(self, event: RoomEvent) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed.set()


class OverlayHub:
    def __init__(self) -> None:
        self._subscriptions: dict[str, set[Subscription]] = defaultdict(set)

    def subscribe(self, room: str) -> Subscription:
        sub = Subscription(room)
        self._subscriptions[room].add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscriptions[sub.room].discard(sub)

    def subscriber_count(self, room: str | None = None) -> int:
        if room is not None:
            return len(self._subscriptions.get(room, ()))
        return sum(len(s) for s in self._subscriptions.values())

    def publish(self, events: Iterable[RoomEvent]) -> None:
        for event in events:
            for sub in list(self._subscriptions.get(event.room, ())):
                sub.offer(event)
