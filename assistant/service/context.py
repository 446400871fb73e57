"""Everything a request handler needs, built once at start-up and injected.

Handlers declare ``services: Services = Depends(get_services)`` (FastAPI
dependency injection); nothing lives in module globals, so several apps
(tests, benchmarks) can run in one process.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from fastapi import Request

from assistant.bank.store import AnswerBank
from assistant.deliver.host import HostQueue
from assistant.deliver.overlay import OverlayHub
from assistant.pipeline.worker import Pipeline
from assistant.rooms import Rooms
from assistant.settings import Settings
from assistant.store import SqliteStore, open_store

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
    tasks: list[asyncio.Task] = field(default_factory=list)


def open_matcher(settings: Settings, bank: AnswerBank):
    """The fitted matcher over the built index; a clear error if there is none."""
    from indexer.embedder import Embedder
    from indexer.index import BankIndex
    from indexer.manifest import IndexMismatch, IndexMissing

    from assistant.match.matcher import Matcher

    try:
        index = BankIndex.open(
            settings.index_dir, bank, model_name=settings.model_name,
            document_prompt=settings.document_prompt, query_prompt=settings.query_prompt,
        )
        embedder = Embedder(settings.model_name, query_prompt=settings.query_prompt, document_prompt=settings.document_prompt,
                            batch_size=settings.embed_batch_size)
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
    bank = AnswerBank.load(settings.bank_dir)
    matcher = open_matcher(settings, bank)
    store = open_store(settings)
    hub = OverlayHub()
    try:
        host_queue = HostQueue(store, bank, settings.host_idle_entries, lease_seconds=settings.host_lease_seconds)
    except ValueError as exc:
        raise StartupError(str(exc)) from None
    pipeline = Pipeline(
        store,
        lambda texts: matcher.match(texts, top_k=3),
        bank,
        hub,
        host_queue,
        batch_max=settings.batch_max,
        batch_wait_ms=settings.batch_wait_ms,
    )
    return Services(settings, secrets, rooms, bank, store, hub, host_queue, pipeline, matcher)


def get_services(request: Request) -> Services:
    return request.app.state.services
