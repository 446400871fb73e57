"""The FastAPI app: routers, start-up (index, matcher, store, pipeline) and shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI

from assistant.settings import Settings

from . import admin_api, control_api, host_api, overlay_routes, push, staff_api
from .body_limit import BodyLimit
from .context import Services, build_services

log = logging.getLogger("govlive.service")


async def watch_deadlines(services: Services) -> None:
    """Turn open orders yellow or red as their deadlines near, and notify their departments."""
    while True:
        try:
            if services.desk.check_warnings():
                services.outbox.wake()
        except Exception:
            log.exception("deadline check failed")
        await asyncio.sleep(services.settings.warning_check_seconds)


def create_app(settings: Settings, services: Services | None = None) -> FastAPI:
    """The app for ``settings``; ``services`` may be built beforehand (so start-up errors surface before uvicorn starts)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        built = services or build_services(settings)
        app.state.services = built
        pending = built.store.count_pending()
        if pending:
            log.warning("%d comments were stored but not processed before the last stop; processing them now", pending)
        built.tasks += [
            asyncio.create_task(built.pipeline.run(), name="pipeline"),
            asyncio.create_task(built.outbox.run(), name="outbox"),
            asyncio.create_task(watch_deadlines(built), name="deadline warnings"),
        ]
        try:
            yield
        finally:
            for task in built.tasks:
                task.cancel()
            for task in built.tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            built.pipeline.close()
            built.store.close()

    app = FastAPI(
        title="govlive",
        summary="Comments from Douyin, Kuaishou and WeChat Channels in; answers to the overlay and the digital-human host out.",
        version="0.1.0",
        lifespan=lifespan,
    )
    # Every body is read within a limit (413 beyond it), so a 10 MB post to a
    # staff form costs nothing; pushes check their own, larger limit (push.read_body).
    app.add_middleware(BodyLimit, max_bytes=settings.max_api_bytes, exempt_prefix="/push/")
    app.include_router(push.router)
    app.include_router(overlay_routes.router)
    app.include_router(host_api.router)
    app.include_router(control_api.router)
    app.include_router(admin_api.router)
    app.include_router(staff_api.router)
    return app
