"""Everything a request handler needs, built once at start-up and injected.

Handlers declare ``services: Services = Depends(get_services)`` (FastAPI
dependency injection); nothing lives in module globals, so several apps
(tests, benchmarks) can run in one process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Request

from assistant.bank.store import AnswerBank
from assistant.deliver.host import HostQueue
from assistant.deliver.overlay import OverlayHub
from assistant.pipeline.worker import Pipeline
from assistant.rooms import Rooms
from assistant.settings import Settings
from assistant.store import SqliteStore, open_store

from assistant.workorders.deadlines import BusinessHours, WorkingCalendar
from assistant.workorders.lifecycle import WorkOrderDesk
from assistant.workorders.notify import Departments, OutboxSender

from .reindex import Reindexer
from .accounts import Accounts
from .secrets import Secrets, load_secrets

log = logging.getLogger("govlive.service")


class StartupError(RuntimeError):
    pass


@dataclass
class Services:
    settings: Settings
    secrets: Secrets
    rooms: Rooms
    bank: AnswerBank
    store: SqliteStore
    hub: OverlayHub
    host_queue: HostQueue
    pipeline: Pipeline
    matcher: object
    desk: WorkOrderDesk
    outbox: OutboxSender
    route: Callable[[str], str | None]
    accounts: Accounts | None = None  # named accounts (accounts.json); None: shared role tokens only
    reindexer: Reindexer = field(init=False)
    tasks: list[asyncio.Task] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.reindexer = Reindexer(self)

    def use_bank(self, bank: AnswerBank, matcher) -> None:
        """Swap in a rebuilt bank and matcher (between two pipeline batches: all on the event loop)."""
        self.bank = self.pipeline.bank = self.host_queue.bank = bank
        self.matcher = matcher
        self.pipeline.match = lambda texts: matcher.match(texts, top_k=3)


def open_matcher(settings: Settings, bank: AnswerBank):
    """The fitted matcher over the built index; a clear error if there is none."""
    from indexer.embedder import open_embedder
    from indexer.index import BankIndex
    from indexer.manifest import IndexMismatch, IndexMissing

    from assistant.match.matcher import Matcher

    try:
        index = BankIndex.open_configured(settings, bank)
        embedder = open_embedder(settings, log=log.warning, cache=True)
        return Matcher.open(index, bank, embedder)
    except (IndexMissing, IndexMismatch, FileNotFoundError) as exc:
        raise StartupError(f"{exc} (run `govlive index build` first)") from None


def build_services(settings: Settings) -> Services:
    from assistant.rooms import RoomsError

    try:
        rooms = Rooms.read(settings.rooms_file)
    except RoomsError as exc:
        raise StartupError(str(exc)) from None
    secrets = load_secrets(settings)
    accounts = Accounts(settings.accounts_path)
    bank = AnswerBank.load(settings.bank_dir)
    matcher = open_matcher(settings, bank)
    store = open_store(settings)
    hub = OverlayHub()
    try:
        host_queue = HostQueue(store, bank, settings.host_idle_entries, lease_seconds=settings.host_lease_seconds)
    except ValueError as exc:
        raise StartupError(str(exc)) from None
    try:
        desk = WorkOrderDesk(
            store,
            calendar=WorkingCalendar.load(settings.calendar_overrides_file),
            hours=BusinessHours.parse(settings.business_hours),
            departments=Departments.load(settings.department_webhooks_file),
            yellow_working_days=settings.yellow_working_days,
        )
    except ValueError as exc:
        raise StartupError(str(exc)) from None
    route = open_router(settings)
    pipeline = Pipeline(
        store,
        lambda texts: matcher.match(texts, top_k=3),
        bank,
        hub,
        host_queue,
        desk,
        route=route,
        batch_max=settings.batch_max,
        batch_wait_ms=settings.batch_wait_ms,
    )
    outbox = OutboxSender(store, base_seconds=settings.outbox_backoff_seconds, cap_seconds=settings.outbox_backoff_max_seconds)
    return Services(settings, secrets, rooms, bank, store, hub, host_queue, pipeline, matcher, desk, outbox, route, accounts)


def open_router(settings: Settings) -> Callable[[str], str | None]:
    """The trained department router (`govlive router train`), or no routing if none was trained."""
    if not (settings.router_dir / "router.json").exists():
        log.warning("no department router in %s: work orders outside the bank get no suggested department", settings.router_dir)
        return lambda text: None
    from assistant.workorders.router import Router

    try:
        router = Router.load(settings.router_dir)
    except (ValueError, OSError) as exc:
        raise StartupError(f"cannot load the department router: {exc}") from None
    return lambda text: router.predict([text])[0].department


def get_services(request: Request) -> Services:
    return request.app.state.services
