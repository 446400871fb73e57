"""The service's clock, injected where time decides behaviour (host leases, long-polls).

``time()`` is wall-clock Unix seconds (what leases are stored in),
``monotonic()`` measures waits, and ``wait(event, timeout)`` sleeps until the
event is set or the timeout passes. Tests pass a clock they advance by hand,
so a lease that runs out or a long-poll that ends costs no real seconds and
cannot race the machine's load.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def time(self) -> float: ...

    def monotonic(self) -> float: ...

    async def wait(self, event: asyncio.Event, timeout: float) -> bool:
        """True when ``event`` was set, False when ``timeout`` seconds passed first."""
        ...


class SystemClock:
    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def wait(self, event: asyncio.Event, timeout: float) -> bool:
        try:
            await asyncio.wait_for(event.wait(), timeout=timeout)
        except TimeoutError:
            return False
        return True
