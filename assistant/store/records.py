"""Typed rows the store hands out (the same for any backend)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

EventKind = Literal["answer", "suggest", "approved", "skipped", "filed"]


class StoredComment(BaseModel):
    id: int
    platform: str
    platform_room: str
    room: str
    message_id: str | None
    user_id: str | None
    nickname: str | None
    text: str
    received_at: str
    hidden: bool


class RoomEvent(BaseModel):
    """One overlay event: what the websocket sends, exactly as stored."""

    type: Literal["event"] = "event"
    seq: int
    room: str
    kind: EventKind
    at: str
    comment_id: int
    platform: str
    nickname: str | None
    comment: str  # the viewer's words, personal numbers masked
    entry_id: str | None = None
    question: str | None = None
    answer: str | None = None
    domain: str | None = None
    department: str | None = None
    score: float | None = None
    candidates: list[dict[str, Any]] | None = None  # suggest events: the entries the operator may choose from


class HostItem(BaseModel):
    item_id: int
    room: str
    comment_id: int | None
    entry_id: str | None
    question: str
    text: str  # what the digital human says: speakable
    lease_id: str
    lease_expires_at: str
    deliveries: int  # 1 the first time; more when a lease ran out and it was handed out again


class WorkOrder(BaseModel):
    id: int
    comment_id: int
    room: str
    platform: str
    status: str
    source: str
    created_at: str
    intent: str | None
    reason: str
    domain: str | None
    department: str | None
    entry_id: str | None
    display: str
    citizen_text: str  # unmasked: the staff must be able to call back
    contact: list[dict[str, Any]]
    suggested_department: str | None = None  # from the matched entry or the router, until a person dispatches
    complexity: str = "ordinary"  # ordinary: 2 working days; complex: 5
    clock_started_at: str | None = None  # filing time, or the reopening time of a 重办
    dispatch_due: str | None = None
    resolve_due: str | None = None
    provisional: bool | None = None  # a deadline in a year whose holidays are not published yet
    provisional_reason: str | None = None
    dispatched_at: str | None = None
    accepted_at: str | None = None
    closed_at: str | None = None
    resolution: str | None = None
    revisited_at: str | None = None
    satisfied: bool | None = None
    revisit_note: str | None = None
    reopen_count: int = 0
    returned_count: int = 0
    last_colour: str | None = None
    updated_at: str | None = None
