"""Platform push endpoints: authenticate, decode, parse, store, acknowledge.

Order matters: the body is read within a size limit, the sender is
authenticated on the exact bytes it sent, then decoded (gzip within the same
limit, so a gzip bomb costs nothing) and parsed. Comments are committed to
the store before the 200 goes back; a push that is refused (4xx) stores
nothing, so the sender can fix and resend it without duplicates.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import zlib
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from assistant.ingest import connector_auth, douyin, kuaishou, wechat_channels
from assistant.ingest.record import SHANGHAI, Parsed, Rejected
from assistant.rooms import Platform

from .context import Services, get_services

router = APIRouter(prefix="/push", tags=["platform pushes"])


class PushAccepted(BaseModel):
    accepted: int  # new chat comments stored
    duplicates: int  # chat comments already stored (a platform retry)
    counted: int  # likes, gifts, enters, follows … (counted, not matched)
    rejected: list[Rejected]  # items of this push that could not be used (kept for inspection)


class PushRefused(BaseModel):
    detail: str
    rejected: list[Rejected] = []


REFUSALS = {
    400: {"model": PushRefused, "description": "body is not JSON, or not valid gzip"},
    401: {"model": PushRefused, "description": "signature or token missing or wrong"},
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


def decode_json(raw: bytes, content_encoding: str | None, limit: int) -> Any:
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
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HTTPException(400, f"body is not UTF-8: {exc.reason} at byte {exc.start}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise HTTPException(400, f"body is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None


def received_now() -> dt.datetime:
    return dt.datetime.now(SHANGHAI)


def store_parsed(services: Services, platform: Platform, endpoint: str, parsed: Parsed, raw: bytes) -> JSONResponse | PushAccepted:
    """Resolve rooms, store what is usable, refuse what is wholly unusable."""
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
        return JSONResponse(
            {"detail": f"{platform} room {', '.join(sorted(unknown_rooms))} is not configured", "rejected": [r.model_dump() for r in rejected]},
            status_code=404,
        )
    if not items and rejected:
        return JSONResponse(
            {"detail": "no usable item in the payload: " + rejected[0].reason, "rejected": [r.model_dump() for r in rejected]},
            status_code=422,
        )
    result = services.store.add_records(items)
    # Items of an accepted push that could not be used are kept for staff, not dropped silently.
    services.store.record_rejects(platform, endpoint, rejected, raw.decode("utf-8", "replace"))
    if result.new_comment_ids:
        services.pipeline.wake()
    return PushAccepted(**result.as_dict(), rejected=rejected)


async def authenticated_json(request: Request, services: Services, check: Callable[[bytes], str | None]) -> tuple[bytes, Any]:
    raw = await read_body(request, services.settings.max_push_bytes)
    problem = check(raw)
    if problem:
        raise HTTPException(401, problem)
    return raw, decode_json(raw, request.headers.get("content-encoding"), services.settings.max_push_bytes)


@router.post("/douyin", response_model=PushAccepted, responses=REFUSALS)
async def douyin_official_push(request: Request, services: Services = Depends(get_services)):
    """Douyin's official live-data push; ``x-signature`` checked against the configured secret."""

    def check(raw: bytes) -> str | None:
        if not douyin.verify_signature(request.headers, raw, services.secrets.douyin_push_secret):
            return "x-signature does not match the body and headers"
        return None

    raw, body = await authenticated_json(request, services, check)
    parsed = douyin.parse_official_push(request.headers, body, received_now())
    return store_parsed(services, "douyin", "douyin", parsed, raw)


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

    raw, body = await authenticated_json(request, services, check)
    now = received_now()
    messages = body if isinstance(body, list) else [body]
    records, rejected = [], []
    for i, message in enumerate(messages):
        parsed = douyin.parse_bridge_message(message, now)
        records.extend(parsed.records)
        prefix = f"message {i}: " if isinstance(body, list) else ""
        rejected.extend(Rejected(where=prefix + r.where, reason=r.reason) for r in parsed.rejected)
    return store_parsed(services, "douyin", "douyin/bridge", Parsed(records=records, rejected=rejected), raw)


def _connector_check(request: Request, services: Services, secret: str) -> Callable[[bytes], str | None]:
    def check(raw: bytes) -> str | None:
        return connector_auth.check(request.headers, raw, secret, now=time.time(), max_skew=services.settings.push_clock_skew_seconds)

    return check


@router.post("/kuaishou", response_model=PushAccepted, responses=REFUSALS)
async def kuaishou_push(
    request: Request,
    room: str = Query(min_length=1, max_length=128, description="the Kuaishou live stream id the feed was read from"),
    services: Services = Depends(get_services),
):
    """A Kuaishou web feed push decoded to JSON by the connector; signed with the connector secret."""
    raw, body = await authenticated_json(request, services, _connector_check(request, services, services.secrets.kuaishou_connector_secret))
    if services.rooms.for_platform_room("kuaishou", room) is None:
        raise HTTPException(404, f"kuaishou room {room!r} is not configured")
    parsed = kuaishou.parse_feed_push(body, room=room, received_at=received_now())
    return store_parsed(services, "kuaishou", "kuaishou", parsed, raw)


@router.post("/wechat_channels", response_model=PushAccepted, responses=REFUSALS)
async def wechat_channels_push(request: Request, services: Services = Depends(get_services)):
    """A WeChat Channels event batch (``Content-Encoding: gzip`` accepted); signed with the connector secret."""
    raw, body = await authenticated_json(
        request, services, _connector_check(request, services, services.secrets.wechat_channels_connector_secret)
    )
    parsed = wechat_channels.parse_batch(body, received_now())
    return store_parsed(services, "wechat_channels", "wechat_channels", parsed, raw)
