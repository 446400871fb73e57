"""The 场控 operator's API: pending suggestions; approve, skip, or turn into a work order."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from assistant.deliver.choices import Choice, suggestion_choices
from assistant.deliver.speech import host_speech
from assistant.match.matcher import today_in_shanghai
from assistant.pipeline.worker import event_fields
from assistant.store import RoomEvent

from .auth import Principal, require
from .context import Services, get_services
from .ids import RowId

router = APIRouter(prefix="/api/control", tags=["control (场控)"])


class PendingSuggestion(BaseModel):
    comment_id: int
    platform: str
    nickname: str | None
    comment: str  # masked
    received_at: str
    entry_id: str | None
    question: str | None
    answer: str | None
    domain: str | None
    department: str | None
    score: float | None
    candidates: list[Choice]


class PendingList(BaseModel):
    room: str
    room_name: str
    seq: int  # open the overlay websocket with since=seq to follow changes
    items: list[PendingSuggestion]


class Approve(BaseModel):
    entry_id: str | None = Field(default=None, max_length=64, description="one of the suggestion's candidates; default the suggested one")


class Empty(BaseModel):
    pass


class ReviewDone(BaseModel):
    comment_id: int
    outcome: str
    event: RoomEvent
    work_order_id: int | None = None


def _choices(services: Services, match: dict) -> list[Choice]:
    return suggestion_choices(services.bank, match, today_in_shanghai())


@router.get("/pending", response_model=PendingList)
async def pending(room: str = Query(min_length=1, max_length=64), services: Services = Depends(get_services),
                  principal: Principal = Depends(require("control"))):
    known = services.rooms.get(room)
    if known is None:
        raise HTTPException(404, f"room {room!r} is not configured")
    principal.check_room(room)
    seq = services.store.current_seq(room)
    items = []
    for comment, match in services.store.pending_suggestions(room):
        items.append(
            PendingSuggestion(
                comment_id=comment.id, platform=comment.platform, nickname=comment.nickname, comment=match["display"],
                received_at=comment.received_at, entry_id=match.get("entry_id"), question=match.get("question"),
                answer=match.get("answer"), domain=match.get("domain"), department=match.get("department"),
                score=match.get("score"), candidates=_choices(services, match),
            )
        )
    return PendingList(room=room, room_name=known.name, seq=seq, items=items)


def _pending_or_error(services: Services, comment_id: int, principal: Principal):
    comment = services.store.comment(comment_id)
    match = services.store.comment_match(comment_id)
    if comment is None or match is None:
        raise HTTPException(404, f"no processed comment {comment_id}")
    principal.check_room(comment.room)
    state = services.store.review_state(comment_id)
    if state != "pending":
        raise HTTPException(409, f"comment {comment_id} is not a pending suggestion (it is {state or 'not a suggestion'})")
    return comment, match


def _conflict(comment_id: int):
    return HTTPException(409, f"comment {comment_id} was handled by someone else a moment ago")


@router.post("/suggestions/{comment_id}/approve", response_model=ReviewDone, responses={409: {"description": "already handled"}})
async def approve(comment_id: RowId, body: Approve, services: Services = Depends(get_services),
                 principal: Principal = Depends(require("control"))):
    comment, match = _pending_or_error(services, comment_id, principal)
    choices = {c.entry_id: c for c in _choices(services, match)}
    entry_id = body.entry_id or match.get("entry_id")
    if entry_id not in choices:
        raise HTTPException(422, f"entry {entry_id!r} is not one of this suggestion's current candidates ({', '.join(choices) or 'none'})")
    entry = services.bank.get(entry_id)
    with services.store.transaction():
        if not services.store.take_suggestion(comment_id, "approved"):
            raise _conflict(comment_id)
        event = services.store.append_event(comment.room, "approved", event_fields(comment, match["display"], entry, choices[entry_id].score))
        services.store.enqueue_host_item(comment.room, comment_id=comment.id, entry_id=entry.id, question=entry.question,
                                         text=host_speech(entry.question, entry.answer))
        services.store.audit(principal.actor, "approve", f"comment:{comment_id}", {"entry_id": entry.id})
    services.hub.publish([event])
    services.host_queue.notify(comment.room)
    return ReviewDone(comment_id=comment_id, outcome="approved", event=event)


@router.post("/suggestions/{comment_id}/skip", response_model=ReviewDone, responses={409: {"description": "already handled"}})
async def skip(comment_id: RowId, body: Empty, services: Services = Depends(get_services),
               principal: Principal = Depends(require("control"))):
    comment, match = _pending_or_error(services, comment_id, principal)
    with services.store.transaction():
        if not services.store.take_suggestion(comment_id, "skipped"):
            raise _conflict(comment_id)
        event = services.store.append_event(comment.room, "skipped", event_fields(comment, match["display"]))
        services.store.audit(principal.actor, "skip", f"comment:{comment_id}")
    services.hub.publish([event])
    return ReviewDone(comment_id=comment_id, outcome="skipped", event=event)


@router.post("/suggestions/{comment_id}/workorder", response_model=ReviewDone, responses={409: {"description": "already handled"}})
async def to_work_order(comment_id: RowId, body: Empty, services: Services = Depends(get_services),
                        principal: Principal = Depends(require("control"))):
    comment, match = _pending_or_error(services, comment_id, principal)
    with services.store.transaction():
        if not services.store.take_suggestion(comment_id, "filed"):
            raise _conflict(comment_id)
        order_id = services.desk.file(
            comment, source="control", intent=match.get("intent"), reason="the operator turned a suggestion into a work order",
            domain=match.get("domain"), suggested_department=match.get("department"), entry_id=match.get("entry_id"),
            display=match["display"], contact=match.get("contact", []), actor=principal.actor,
        )
        event = services.store.append_event(comment.room, "filed", event_fields(comment, match["display"]))
        services.store.audit(principal.actor, "file_work_order", f"comment:{comment_id}", {"work_order_id": order_id})
    services.hub.publish([event])
    return ReviewDone(comment_id=comment_id, outcome="filed", event=event, work_order_id=order_id)
