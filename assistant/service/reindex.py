"""Rebuild the index after the staff add an answer, and swap it in without a restart.

The bank files are saved first (the source of truth); the build then embeds
only the new phrasings (earlier ones come from the build cache), refits the
matcher and links the new build in, as `govlive index build` does. Until it
finishes the running matcher keeps serving the old index. Requests that
arrive during a build are coalesced into one more build.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from assistant.bank.store import AnswerBank

log = logging.getLogger("govlive.reindex")


class Reindexer:
    def __init__(self, services) -> None:
        self.services = services
        self._wanted: AnswerBank | None = None
        self._task: asyncio.Task | None = None
        self.builds = 0
        self.last_seconds: float | None = None
        self.last_error: str | None = None

    def state(self) -> dict[str, Any]:
        return {"running": bool(self._task and not self._task.done()), "builds": self.builds,
                "last_seconds": self.last_seconds, "last_error": self.last_error, "entries": len(self.services.bank)}

    def request(self, bank: AnswerBank) -> str:
        self._wanted = bank
        if self._task and not self._task.done():
            return "queued"
        self._task = asyncio.get_running_loop().create_task(self._run())
        return "started"

    async def _run(self) -> None:
        while self._wanted is not None:
            bank, self._wanted = self._wanted, None
            started = time.monotonic()
            try:
                matcher = await asyncio.to_thread(self._build, bank)
            except Exception as exc:  # the old index keeps serving; staff see the error in the summary
                log.exception("reindex failed")
                self.last_error = f"{type(exc).__name__}: {exc}"
                continue
            self.services.use_bank(bank, matcher)
            self.builds += 1
            self.last_seconds = round(time.monotonic() - started, 1)
            self.last_error = None
            log.warning("index rebuilt with %d entries in %.1f s", len(bank), self.last_seconds)

    def _build(self, bank: AnswerBank):
        from indexer.build import build_index
        from indexer.index import BankIndex

        from assistant.match.fit import matcher_fitter
        from assistant.match.matcher import Matcher

        settings = self.services.settings
        embedder = self.services.matcher.embedder
        build_index(bank, index_link=settings.index_dir, embedder=embedder, progress=False, fit=matcher_fitter(settings, bank, embedder))
        index = BankIndex.open_configured(settings, bank)
        return Matcher.open(index, bank, embedder)
