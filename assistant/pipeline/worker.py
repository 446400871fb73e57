"""Stored comments → matcher → recorded decision → overlay, host queue or work order.

The worker takes pending comments from the store in micro-batches (one
forward pass of the model per batch), so under load the model sees full
batches and when comments trickle in each waits at most ``batch_wait_ms``.
A batch's consequences are written in one transaction and only then
published; a crash before the commit leaves the comments pending, and they
are matched again on the next start.

Neither the model nor the transaction (which also composes the host's
speech, pure-Python OpenCC) runs on the event loop: each has its own worker
thread, and publishing to the overlay hub and waking the host's long-polls
(asyncio objects) happen back on the loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from assistant.bank.store import AnswerBank
from assistant.deliver.choices import suggestion_choices
from assistant.deliver.host import HostQueue
from assistant.deliver.overlay import OverlayHub
from assistant.deliver.speech import host_speech
from assistant.match.matcher import MatchResult, today_in_shanghai
from assistant.store import RoomEvent, SqliteStore, StoredComment
from assistant.workorders.lifecycle import WorkOrderDesk

log = logging.getLogger("govlive.pipeline")

CANDIDATES_KEPT = 3  # choices offered to the control page for a suggestion


def match_record(result: MatchResult) -> dict[str, Any]:
    """What is stored of a decision: the matcher's JSON, candidates cut to the few a person looks at."""
    data = result.model_dump(exclude={"candidates"})
    data["candidates"] = [c.model_dump() for c in (result.candidates or [])[:CANDIDATES_KEPT]]
    data["contact"] = [{"kind": n.kind, "value": n.value} for n in result.comment.personal_numbers]
    return data


def event_fields(comment: StoredComment, display: str, entry=None, score: float | None = None) -> dict[str, Any]:
    return {
        "comment_id": comment.id,
        "platform": comment.platform,
        "nickname": comment.nickname,
        "comment": display,
        "entry_id": entry.id if entry else None,
        "question": entry.question if entry else None,
        "answer": entry.answer if entry else None,
        "domain": entry.domain if entry else None,
        "department": entry.department if entry else None,
        "score": score,
    }


class Pipeline:
    def __init__(
        self,
        store: SqliteStore,
        match: Callable[[Sequence[str]], list[MatchResult]],
        bank: AnswerBank,
        hub: OverlayHub,
        host_queue: HostQueue,
        desk: WorkOrderDesk,
        *,
        route: Callable[[str], str | None] = lambda text: None,
        batch_max: int = 64,
        batch_wait_ms: int = 15,
        today: Callable[[], dt.date] = today_in_shanghai,
    ):
        self.store = store
        self.match = match
        self.bank = bank
        self.hub = hub
        self.host_queue = host_queue
        self.desk = desk
        self.route = route  # department for a work order no bank entry routes
        self.today = today
        self.batch_max = batch_max
        self.batch_wait = batch_wait_ms / 1000
        self._wake = asyncio.Event()
        # The model runs off the event loop, one batch at a time; so does writing a batch's decisions.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="matcher")
        self._recorder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recorder")
        self.batches = 0
        self.matched = 0

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Forever: drain what is pending (at start-up too: what a crash left), then wait to be woken."""
        while True:
            try:
                await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception:  # keep serving; the comments stay pending and are retried
                log.exception("pipeline batch failed; retrying in 1 s")
                await asyncio.sleep(1)
                continue
            self._wake.clear()
            if self.store.count_pending():
                continue
            await self._wake.wait()

    async def drain(self) -> int:
        done = 0
        while True:
            batch = self.store.pending_comments(self.batch_max)
            if not batch:
                return done
            if len(batch) < self.batch_max and self.batch_wait:
                # Let a burst fill the batch; costs at most batch_wait per quiet comment.
                await asyncio.sleep(self.batch_wait)
                batch = self.store.pending_comments(self.batch_max)
            try:
                results = await self._match(batch)
            except Exception:
                batch, results = await self._match_one_by_one(batch)
            events = await self._off_the_loop(self._recorder, self.record, batch, results)
            self.hub.publish(events)
            for room in {c.room for c in batch}:
                self.host_queue.notify(room)
            self.batches += 1
            self.matched += len(batch)
            done += len(batch)

    async def _off_the_loop(self, executor: ThreadPoolExecutor, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)

    async def _match(self, batch: Sequence[StoredComment]) -> list[MatchResult]:
        return await self._off_the_loop(self._executor, self.match, [c.text for c in batch])

    async def _match_one_by_one(self, batch: Sequence[StoredComment]) -> tuple[list[StoredComment], list[MatchResult]]:
        """A batch failed: match its comments singly and set aside (kept, marked failed) any that fail alone."""
        kept, results = [], []
        for comment in batch:
            try:
                results.extend(await self._match([comment]))
                kept.append(comment)
            except Exception as exc:
                log.exception("comment %s cannot be matched; kept as failed for staff", comment.id)
                await self._off_the_loop(self._recorder, self.store.mark_failed, comment.id, f"{type(exc).__name__}: {exc}")
        return kept, results

    def record(self, batch: Sequence[StoredComment], results: Sequence[MatchResult]) -> list[RoomEvent]:
        """Write every decision of the batch and its consequences in one transaction (in the recorder thread)."""
        events: list[RoomEvent] = []
        with self.store.transaction():
            for comment, result in zip(batch, results, strict=True):
                events.extend(self._apply(comment, result))
        return events

    def _apply(self, comment: StoredComment, result: MatchResult) -> list[RoomEvent]:
        data = match_record(result)
        decision = result.decision
        visible = not comment.hidden  # hidden comments (Kuaishou FEED_HIDDEN) are kept, never shown or spoken
        review = "pending" if decision == "suggest" and visible else None
        self.store.mark_processed(comment.id, data, review=review)
        entry = self.bank.get(result.entry_id) if result.entry_id else None
        if decision == "workorder":
            self.desk.file(
                comment, source="pipeline", intent=result.intent, reason=result.reason, domain=result.domain,
                suggested_department=result.department or self.route(comment.text), entry_id=None,
                display=result.display, contact=data["contact"],
            )
            return []
        if not visible or entry is None or decision not in ("answer", "suggest"):
            return []
        fields = event_fields(comment, result.display, entry, result.score)
        if decision == "suggest":
            fields["candidates"] = [c.model_dump() for c in suggestion_choices(self.bank, data, self.today())]
        event = self.store.append_event(comment.room, decision, fields)
        if decision == "answer":
            self.store.enqueue_host_item(
                comment.room, comment_id=comment.id, entry_id=entry.id, question=entry.question,
                text=host_speech(entry.question, entry.answer),
            )
        return [event]

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._recorder.shutdown(wait=True)  # a batch being written is committed (or rolled back) before the store closes
