"""A clock the test moves by hand (see assistant/clock.py)."""

from __future__ import annotations

import asyncio


class FakeClock:
    def __init__(self, start: float = 1_796_000_000.0) -> None:
        self._time = start
        self._monotonic = 0.0
        self._sleepers: list[tuple[float, asyncio.Future]] = []

    def time(self) -> float:
        return self._time

    def monotonic(self) -> float:
        return self._monotonic

    @property
    def sleepers(self) -> int:
        """How many waits are asleep right now."""
        return len(self._sleepers)

    async def wait(self, event: asyncio.Event, timeout: float) -> bool:
        timer = asyncio.get_running_loop().create_future()
        entry = (self._monotonic + timeout, timer)
        self._sleepers.append(entry)
        setter = asyncio.ensure_future(event.wait())
        try:
            await asyncio.wait({setter, timer}, return_when=asyncio.FIRST_COMPLETED)
            return setter.done()
        finally:
            setter.cancel()
            self._sleepers.remove(entry)

    def advance(self, seconds: float) -> None:
        """Move time on; every wait whose timeout has passed wakes (on the loop's next turn)."""
        self._time += seconds
        self._monotonic += seconds
        for deadline, timer in self._sleepers:
            if deadline <= self._monotonic and not timer.done():
                timer.set_result(None)
