"""The overlay websocket and the two pages (overlay for OBS, control for the 场控 operator)."""

from __future__ import annotations

import asyncio
import contextlib
import re
from pathlib import Path

from fastapi import APIRouter, Depends, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, HTMLResponse

from assistant.settings import REPO_ROOT

from .auth import OVERLAY, principal_or_none, token_from
from .context import Services, get_services

router = APIRouter()
PAGES_DIR = REPO_ROOT / "overlay_web"
# Pages load only their own scripts and styles and talk only to this server.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the page URL may carry the token until the page's script removes it
    "Cache-Control": "no-store",
}
REPLAY_PAGE = 500
VIEWER_ROLES = {"host", "control", "staff", "admin"}  # see every event; an overlay token sees only what is on air
ON_AIR_KINDS = frozenset({"answer", "approved"})  # what overlay.js shows
OFF_AIR_FIELDS = frozenset({"candidates", "score"})  # never sent with an overlay token


def page(name: str) -> FileResponse:
    return FileResponse(PAGES_DIR / name, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@router.get("/overlay", include_in_schema=False)
async def overlay_page() -> FileResponse:
    """Public (an OBS browser source); the page passes its ?token= (the room's overlay token) to the websocket."""
    return page("overlay.html")


@router.get("/control", include_in_schema=False)
async def control_page(request: Request, services: Services = Depends(get_services)):
    """The page holds no data, so it opens without a token (its script keeps the token in sessionStorage
    and takes ``?token=`` out of the address bar); a token in the URL that is not a control one is refused."""
    token = token_from(request.headers, request.query_params)
    principal = principal_or_none(token, services, {"control", "admin"})
    if token is not None and (principal is None or principal.role not in ("control", "admin")):
        return HTMLResponse("<!doctype html><meta charset=utf-8><title>govlive</title><p>需要场控令牌：/control?room=…&amp;token=…</p>",
                            status_code=401, headers=PAGE_HEADERS)
    return page("control.html")


ASSET_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}\.(?:js|css)")


def asset_path(name: str) -> Path | None:
    # Only plain names: a NUL byte, a slash or "..", anything the OS would refuse
    # or resolve elsewhere, is simply not an asset (404, never a 500).
    if not ASSET_NAME.fullmatch(name):
        return None
    path = (PAGES_DIR / name).resolve()
    return path if path.is_file() and path.parent == PAGES_DIR.resolve() and path.suffix in (".js", ".css") else None


@router.get("/overlay_web/{name}", include_in_schema=False)
async def overlay_asset(name: str):
    path = asset_path(name)
    if path is None:
        return HTMLResponse("not found", status_code=404)
    media = "text/javascript" if path.suffix == ".js" else "text/css"
    return FileResponse(path, media_type=f"{media}; charset=utf-8", headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})


@router.websocket("/ws/overlay/{room}")
async def overlay_socket(websocket: WebSocket, room: str):
    """Room events in sequence order. ``?since=N`` first replays every stored event after N.

    With an overlay token only what is on air is sent (``answer`` and ``approved`` events,
    without candidates or scores); other tokens see every event.

    Close codes: 4401 bad token, 4403 the token is for another room, 4404 unknown room, 4400 bad ``since``,
    4408 the client fell too far behind or did not read an event within
    ``ws_send_timeout_seconds`` (it reconnects with ``since``).
    """
    services: Services = websocket.app.state.services
    await websocket.accept()
    principal = principal_or_none(token_from(websocket.headers, websocket.query_params), services, VIEWER_ROLES)
    if principal is None or principal.role not in VIEWER_ROLES | {OVERLAY}:
        await websocket.close(code=4401, reason="token not recognised")
        return
    known = services.rooms.get(room)
    if known is None:
        await websocket.close(code=4404, reason="unknown room")
        return
    if not principal.may_act_in(room):
        await websocket.close(code=4403, reason="this token is for another room")
        return
    on_air_only = principal.role == OVERLAY
    since_text = websocket.query_params.get("since")
    if since_text is not None and not (since_text.isdigit() and len(since_text) < 19):
        await websocket.close(code=4400, reason="since must be a non-negative integer")
        return
    store = services.store
    subscription = services.hub.subscribe(room)  # before reading the store, so nothing falls between
    receiver = asyncio.create_task(_drain_client(websocket))
    try:
        current = store.current_seq(room)
        latest = store.latest_displayable(room) if since_text is None else None
        await websocket.send_json(
            {"type": "hello", "room": room, "room_name": known.name, "seq": current,
             "latest": latest.model_dump(exclude=OFF_AIR_FIELDS if on_air_only else None) if latest else None}
        )
        last = int(since_text) if since_text is not None else current
        last = await _replay(websocket, services, room, last, on_air_only)
        while True:
            getter = asyncio.create_task(subscription.queue.get())
            overflow = asyncio.create_task(subscription.overflowed.wait())
            done, _ = await asyncio.wait({getter, overflow, receiver}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
            overflow.cancel()
            if receiver in done:
                return
            if subscription.overflowed.is_set():
                await websocket.close(code=4408, reason="too far behind: reconnect with since")
                return
            event = getter.result()
            if event.seq <= last:
                continue
            if event.seq > last + 1:  # a gap: fill it from the store, in order
                last = await _replay(websocket, services, room, last, on_air_only)
                if event.seq <= last:
                    continue
            if on_air_only and event.kind not in ON_AIR_KINDS:
                last = event.seq
                continue
            await _send(websocket, _wire(event, on_air_only), services.settings.ws_send_timeout_seconds)
            last = event.seq
    except SlowClient:
        await _close_slow(websocket)
        return
    except (WebSocketDisconnect, RuntimeError):
        return
    finally:
        services.hub.unsubscribe(subscription)
        receiver.cancel()
        with contextlib.suppress(BaseException):
            await receiver


def _wire(event, on_air_only: bool) -> str:
    return event.model_dump_json(exclude=OFF_AIR_FIELDS if on_air_only else None)


async def _replay(websocket: WebSocket, services: Services, room: str, last: int, on_air_only: bool = False) -> int:
    while True:
        events = services.store.events_since(room, last, REPLAY_PAGE)
        for event in events:
            if not on_air_only or event.kind in ON_AIR_KINDS:
                await _send(websocket, _wire(event, on_air_only), services.settings.ws_send_timeout_seconds)
            last = event.seq
        if len(events) < REPLAY_PAGE:
            return last


class SlowClient(Exception):
    """The client did not take an event within the send timeout."""


async def _send(websocket: WebSocket, text: str, timeout: float) -> None:
    # A client that never reads fills the TCP buffers, and then send_text waits
    # for it for ever while its subscription holds events: bound the wait.
    try:
        await asyncio.wait_for(websocket.send_text(text), timeout)
    except asyncio.TimeoutError:
        raise SlowClient from None


async def _close_slow(websocket: WebSocket) -> None:
    """4408, as for a client too far behind; it reconnects with ?since=. A close it never reads cannot hold us either."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(websocket.close(code=4408, reason="too slow: reconnect with since"), 1.0)


async def _drain_client(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, to notice when it goes away."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
