"""The digital-human host's API: long-poll for the next thing to say, acknowledge it."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from assistant.deliver.host import IdleItem

from .auth import Principal, require
from .context import Services, get_services

router = APIRouter(prefix="/api/host", tags=["digital-human host"])


class HostNext(BaseModel):
    kind: Literal["answer", "idle"]  # idle: a policy highlight, nothing to acknowledge
    room: str
    text: str  # speakable: no URLs, personal numbers masked
    question: str
    entry_id: str | None
    item_id: int | None = None
    comment_id: int | None = None
    lease_id: str | None = None  # acknowledge with this before lease_expires_at
    lease_expires_at: str | None = None
    deliveries: int | None = None  # > 1 when an earlier lease ran out unacknowledged


class HostAck(BaseModel):
    lease_id: str = Field(min_length=1, max_length=64)


class HostAcked(BaseModel):
    status: Literal["spoken", "already"]


@router.get("/next", response_model=HostNext)
async def host_next(
    room: str = Query(min_length=1, max_length=64),
    wait: float = Query(default=0, ge=0, le=600, description="seconds to wait for an item before answering with an idle item"),
    services: Services = Depends(get_services),
    principal: Principal = Depends(require("host")),
) -> HostNext:
    if services.rooms.get(room) is None:
        raise HTTPException(404, f"room {room!r} is not configured")
    principal.check_room(room)  # the digital human of one room does not drain another's queue
    item = await services.host_queue.next(room, min(wait, services.settings.host_max_wait_seconds))
    if isinstance(item, IdleItem):
        return HostNext(kind="idle", room=room, text=item.text, question=item.question, entry_id=item.entry_id)
    return HostNext(kind="answer", **item.model_dump())


@router.post("/ack", response_model=HostAcked, responses={409: {"description": "the lease ran out and the item was handed out again"}})
async def host_ack(ack: HostAck, services: Services = Depends(get_services), principal: Principal = Depends(require("host"))) -> HostAcked:
    # No room check: a lease id is a random value handed only to whoever leased the item.
    outcome = services.host_queue.ack(ack.lease_id)
    if outcome == "unknown":
        raise HTTPException(409, "no such lease: it ran out and the item was handed out again, or the lease id is wrong")
    return HostAcked(status=outcome)
