"""The overlay websocket and the two pages (overlay for OBS, control for the 场控 operator)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from fastapi import APIRouter, Depends, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, HTMLResponse

from assistant.settings import REPO_ROOT

from .auth import roles_for, token_from
from .context import Services, get_services

router = APIRouter()
PAGES_DIR = REPO_ROOT / "overlay_web"
# Pages load only their own scripts and styles and talk only to this server.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the page URL carries the token
    "Cache-Control": "no-store",
}
REPLAY_PAGE = 500
VIEWER_ROLES = {"host", "control", "staff", "admin"}


def page(name: str) -> FileResponse:
    return FileResponse(PAGES_DIR / name, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@router.get("/overlay", include_in_schema=False)
async def overlay_page() -> FileResponse:
    """Public (an OBS browser source); the page passes its ?token= to the websocket."""
    return page("overlay.html")


@router.get("/control", include_in_schema=False)
async def control_page(request: Request, services: Services = Depends(get_services)):
    held = roles_for(token_from(request.headers, request.query_params), services)
    if not held & {"control", "admin"}:
        return HTMLResponse("<!doctype html><meta charset=utf-8><title>govlive</title><p>需要场控令牌：/control?room=…&amp;token=…</p>",
                            status_code=401, headers=PAGE_HEADERS)
    return page("control.html")


def asset_path(name: str) -> Path | None:
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

    Close codes: 4401 bad token, 4404 unknown room, 4400 bad ``since``,
    4408 the client fell too far behind (it reconnects with ``since``).
    """
    services: Services = websocket.app.state.services
    await websocket.accept()
    if not roles_for(token_from(websocket.headers, websocket.query_params), services) & VIEWER_ROLES:
        await websocket.close(code=4401, reason="token not recognised")
        return
    known = services.rooms.get(room)
    if known is None:
        await websocket.close(code=4404, reason="unknown room")
        return
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
            {"type": "hello", "room": room, "room_name": known.name, "seq": current, "latest": latest.model_dump() if latest else None}
        )
        last = int(since_text) if since_text is not None else current
        last = await _replay(websocket, services, room, last)
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
                last = await _replay(websocket, services, room, last)
                if event.seq <= last:
                    continue
            await websocket.send_text(event.model_dump_json())
            last = event.seq
    except (WebSocketDisconnect, RuntimeError):
        return
    finally:
        services.hub.unsubscribe(subscription)
        receiver.cancel()
        with contextlib.suppress(BaseException):
            await receiver


async def _replay(websocket: WebSocket, services: Services, room: str, last: int) -> int:
    while True:
        events = services.store.events_since(room, last, REPLAY_PAGE)
        for event in events:
            await websocket.send_text(event.model_dump_json())
            last = event.seq
        if len(events) < REPLAY_PAGE:
            return last


async def _drain_client(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, to notice when it goes away."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
