"""Platform push endpoints: authenticate, decode, parse, store, acknowledge.

Order matters: the body is read within a size limit, the sender is
authenticated on the exact bytes it sent (and, for signed pushes, its
timestamp must be recent), then decoded (gzip within the same limit, so a
gzip bomb costs nothing; JSON within a nesting limit) and parsed. Everything
a push stores (its comments, counts, the summary of its rejected items and
the nonce of a signed push) is written in one transaction, committed before
the 200 goes back: a push that fails or is refused (4xx, 5xx) stores
nothing, so the sender can fix and resend it without duplicates, and a nonce
that was accepted once is refused after (401), even across a restart.

Decoding, parsing and the transaction run in a worker thread, so a large push
does not hold up the event loop (websockets, long-polls, other requests);
the pipeline is woken back on the loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import zlib
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from assistant.ingest import connector_auth, douyin, json_limits, kuaishou, wechat_channels
from assistant.ingest.record import SHANGHAI, Parsed, Rejected
from assistant.rooms import Platform
from assistant.store.sqlite import MAX_REJECTS_KEPT, ReplayedPush

from .context import Services, get_services

router = APIRouter(prefix="/push", tags=["platform pushes"])


class PushAccepted(BaseModel):
    accepted: int  # new chat comments stored
    duplicates: int  # chat comments already stored (a platform retry)
    counted: int  # likes, gifts, enters, follows … (counted, not matched)
    rejected: list[Rejected]  # the first 20 items of this push that could not be used (kept for inspection)
    rejected_count: int  # how many items could not be used in all


class PushRefused(BaseModel):
    detail: str
    rejected: list[Rejected] = []  # the first 20
    rejected_count: int = 0


REFUSALS = {
    400: {"model": PushRefused, "description": "body is not JSON, is nested too deeply, or is not valid gzip"},
    401: {"model": PushRefused, "description": "signature or token missing or wrong, timestamp out of the window, nonce used before"},
    404: {"model": PushRefused, "description": "the room is not configured"},
    413: {"model": PushRefused, "description": "body larger than the limit (before or after gzip)"},
    415: {"model": PushRefused, "description": "unsupported Content-Encoding"},
    422: {"model": PushRefused, "description": "no usable item in the payload"},
}


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body of {declared} bytes is over the {limit}-byte limit")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"body is over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def decode_text(raw: bytes, content_encoding: str | None, limit: int) -> str:
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "gzip":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            raw = inflater.decompress(raw, limit + 1)
        except zlib.error as exc:
            raise HTTPException(400, f"body is not valid gzip: {exc}") from None
        if len(raw) > limit or inflater.unconsumed_tail:
            raise HTTPException(413, f"body decompresses to more than the {limit}-byte limit")
        if not inflater.eof:
            raise HTTPException(400, "gzip body is truncated")
    elif encoding not in ("identity", ""):
        raise HTTPException(415, f"Content-Encoding {encoding!r} is not supported (gzip or none)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HTTPException(400, f"body is not UTF-8: {exc.reason} at byte {exc.start}") from None


def parse_json(text: str) -> Any:
    try:
        return json_limits.loads(text)
    except json.JSONDecodeError as exc:
        raise HTTPException(400, f"body is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except json_limits.TooDeep as exc:
        raise HTTPException(400, f"body is not usable: {exc}") from None


def decode_json(raw: bytes, content_encoding: str | None, limit: int) -> tuple[str, Any]:
    """The body as text (kept, cut, with rejected items) and as parsed JSON."""
    text = decode_text(raw, content_encoding, limit)
    return text, parse_json(text)


def received_now() -> dt.datetime:
    return dt.datetime.now(SHANGHAI)


def _refusal(status: int, detail: str, rejected: list[Rejected]) -> JSONResponse:
    return JSONResponse(
        {"detail": detail, "rejected": [r.model_dump() for r in rejected[:MAX_REJECTS_KEPT]], "rejected_count": len(rejected)},
        status_code=status,
    )


def store_parsed(services: Services, platform: Platform, endpoint: str, parsed: Parsed, text: str,
                 nonce: tuple[str, str, float] | None = None) -> JSONResponse | PushAccepted:
    """Resolve rooms, store what is usable (one transaction), refuse what is wholly unusable. Runs in a worker thread."""
    items, rejected = [], list(parsed.rejected)
    unknown_rooms = set()
    for i, record in enumerate(parsed.records):
        room = services.rooms.for_platform_room(platform, record.room)
        if room is None:
            unknown_rooms.add(record.room)
            rejected.append(Rejected(where=f"record {i}", reason=f"{platform} room {record.room!r} is not configured"))
            continue
        items.append((record, room.id))
    if not items and unknown_rooms:
        return _refusal(404, f"{platform} room {', '.join(sorted(unknown_rooms))[:300]} is not configured", rejected)
    if not items and rejected:
        return _refusal(422, "no usable item in the payload: " + rejected[0].reason, rejected)
    # Items of an accepted push that could not be used are kept for staff (summarised), not dropped silently.
    result = services.store.store_push(items, platform=platform, endpoint=endpoint, rejected=rejected, raw=text, nonce=nonce)
    return PushAccepted(**result.as_dict(), rejected=rejected[:MAX_REJECTS_KEPT], rejected_count=len(rejected))


async def off_the_loop(services: Services, work: Callable[[], Any]) -> Any:
    """Run a push's decoding, parsing and transaction in a worker thread; wake the pipeline on the loop, whatever happened."""
    try:
        return await asyncio.to_thread(work)
    except ReplayedPush as exc:
        raise HTTPException(401, str(exc)) from None
    finally:
        # Always, even if building the answer failed after the commit: asyncio.Event is set here, on the loop.
        services.pipeline.wake()


async def authenticated_body(request: Request, services: Services, check: Callable[[bytes], str | None]) -> bytes:
    raw = await read_body(request, services.settings.max_push_bytes)
    problem = check(raw)
    if problem:
        raise HTTPException(401, problem)
    return raw


@router.post("/douyin", response_model=PushAccepted, responses=REFUSALS)
async def douyin_official_push(request: Request, services: Services = Depends(get_services)):
    """Douyin's official live-data push; ``x-signature`` checked against the configured secret, ``x-timestamp`` and ``x-nonce-str`` against replays."""
    skew = services.settings.push_clock_skew_seconds

    def check(raw: bytes) -> str | None:
        if not douyin.verify_signature(request.headers, raw, services.secrets.douyin_push_secret):
            return "x-signature does not match the body and headers"
        return douyin.check_fresh(request.headers, now=time.time(), max_skew=skew)

    raw = await authenticated_body(request, services, check)
    headers = {k.lower(): v for k, v in request.headers.items()}
    nonce = ("douyin", headers[douyin.NONCE_HEADER], int(headers[douyin.TIMESTAMP_HEADER].strip()) + skew)

    def work():
        text, body = decode_json(raw, headers.get("content-encoding"), services.settings.max_push_bytes)
        parsed = douyin.parse_official_push(headers, body, received_now())
        return store_parsed(services, "douyin", "douyin", parsed, text, nonce)

    return await off_the_loop(services, work)


@router.post("/douyin/bridge", response_model=PushAccepted, responses=REFUSALS)
async def douyin_bridge_push(request: Request, services: Services = Depends(get_services)):
    """The local Douyin bridge: one ``{"Type", "Data"}`` message or a JSON array of them; bearer token."""

    def check(raw: bytes) -> str | None:
        import hmac

        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else ""
        if not token or not hmac.compare_digest(token.encode(), services.secrets.douyin_bridge_token.encode()):
            return "Authorization: Bearer <douyin bridge token> is missing or wrong"
        return None

    raw = await authenticated_body(request, services, check)
    encoding = request.headers.get("content-encoding")

    def work():
        text, body = decode_json(raw, encoding, services.settings.max_push_bytes)
        now = received_now()
        messages = body if isinstance(body, list) else [body]
        records, rejected = [], []
        for i, message in enumerate(messages):
            parsed = douyin.parse_bridge_message(message, now)
            records.extend(parsed.records)
            prefix = f"message {i}: " if isinstance(body, list) else ""
            rejected.extend(Rejected(where=prefix + r.where, reason=r.reason) for r in parsed.rejected)
        return store_parsed(services, "douyin", "douyin/bridge", Parsed(records=records, rejected=rejected), text)

    return await off_the_loop(services, work)


def request_target(request: Request) -> str:
    """The path and query string as the client sent them (what a connector signs)."""
    path = request.scope.get("raw_path") or request.scope["path"].encode()
    query = request.scope.get("query_string") or b""
    return (path + (b"?" + query if query else b"")).decode("latin-1")


def _connector_check(request: Request, services: Services, secret: str) -> Callable[[bytes], str | None]:
    def check(raw: bytes) -> str | None:
        return connector_auth.check(request.headers, raw, secret, method=request.method, target=request_target(request),
                                    now=time.time(), max_skew=services.settings.push_clock_skew_seconds)

    return check


def _connector_nonce(request: Request, services: Services, platform: Platform) -> tuple[str, str, float]:
    """Checked by ``connector_auth.check`` already: a nonce and a recent timestamp."""
    stamp = int(request.headers[connector_auth.TIMESTAMP_HEADER])
    return platform, request.headers[connector_auth.NONCE_HEADER], stamp + services.settings.push_clock_skew_seconds


@router.post("/kuaishou", response_model=PushAccepted, responses=REFUSALS)
async def kuaishou_push(
    request: Request,
    room: str = Query(min_length=1, max_length=128, description="the Kuaishou live stream id the feed was read from"),
    services: Services = Depends(get_services),
):
    """A Kuaishou web feed push decoded to JSON by the connector; signed (room included) with the connector secret."""
    raw = await authenticated_body(request, services, _connector_check(request, services, services.secrets.kuaishou_connector_secret))
    if services.rooms.for_platform_room("kuaishou", room) is None:
        raise HTTPException(404, f"kuaishou room {room!r} is not configured")
    nonce = _connector_nonce(request, services, "kuaishou")
    encoding = request.headers.get("content-encoding")

    def work():
        text, body = decode_json(raw, encoding, services.settings.max_push_bytes)
        parsed = kuaishou.parse_feed_push(body, room=room, received_at=received_now())
        return store_parsed(services, "kuaishou", "kuaishou", parsed, text, nonce)

    return await off_the_loop(services, work)


@router.post("/wechat_channels", response_model=PushAccepted, responses=REFUSALS)
async def wechat_channels_push(request: Request, services: Services = Depends(get_services)):
    """A WeChat Channels event batch (``Content-Encoding: gzip`` accepted); signed with the connector secret."""
    raw = await authenticated_body(request, services, _connector_check(request, services, services.secrets.wechat_channels_connector_secret))
    nonce = _connector_nonce(request, services, "wechat_channels")
    encoding = request.headers.get("content-encoding")

    def work():
        text, body = decode_json(raw, encoding, services.settings.max_push_bytes)
        parsed = wechat_channels.parse_batch(body, received_now())
        return store_parsed(services, "wechat_channels", "wechat_channels", parsed, text, nonce)

    return await off_the_loop(services, work)
