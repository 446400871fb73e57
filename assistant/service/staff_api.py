"""The staff desk: unanswered comments, the work-order board, the ledger, and their pages (staff token)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from assistant.bank.store import BankError
from assistant.ingest.record import SHANGHAI
from assistant.store import StoredComment
from assistant.workorders.ledger import Ledger, build_ledger, ledger_csv, ledger_xlsx, parse_ledger_day
from assistant.workorders.lifecycle import IllegalTransition, UnknownWorkOrder, WorkOrderView
from assistant.workorders.review import NewAnswer, ReviewGroup, group_unanswered, new_entry

from .auth import Principal, principal_or_none, require, token_from
from .context import Services, get_services
from .overlay_routes import PAGE_HEADERS, page
from .ids import RowId

router = APIRouter(tags=["staff"])
Colour = Literal["green", "yellow", "red", "overdue"]


class Summary(BaseModel):
    warnings: list[str]  # e.g. deadlines computed on a provisional calendar
    outbox: dict[str, int]  # notification states: pending, delivered, no_webhook
    open_orders: int
    reindex: dict[str, Any]


class ReviewList(BaseModel):
    groups: list[ReviewGroup]


class Answered(BaseModel):
    entry_id: str
    reindex: str


class Filed(BaseModel):
    work_order_ids: list[int]


class Dismissed(BaseModel):
    dismissed: int


class Dispatch(BaseModel):
    department: str = Field(min_length=2, max_length=40)
    complexity: Literal["ordinary", "complex"] | None = None


class Reason(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class Resolution(BaseModel):
    resolution: str = Field(min_length=1, max_length=2000)


class Revisit(BaseModel):
    satisfied: bool
    note: str = Field(default="", max_length=500)


class Empty(BaseModel):
    pass


# -- pages ------------------------------------------------------------------------
def _staff_page(request: Request, services: Services, name: str):
    """The page itself holds no data (its script calls the API with the token), so it opens without a token:
    the script moves ``?token=`` out of the address bar into sessionStorage and finds it there on a reload.
    A token in the URL that is not a staff one is refused here, to say so at once."""
    token = token_from(request.headers, request.query_params)
    principal = principal_or_none(token, services, {"staff", "admin"})
    if token is not None and (principal is None or principal.role not in ("staff", "admin")):
        return HTMLResponse("<!doctype html><meta charset=utf-8><title>govlive</title><p>需要工作人员令牌：/staff?token=…</p>",
                            status_code=401, headers=PAGE_HEADERS)
    return page(name)


@router.get("/staff", include_in_schema=False)
async def staff_page(request: Request, services: Services = Depends(get_services)):
    return _staff_page(request, services, "staff.html")


@router.get("/staff/ledger", include_in_schema=False)
async def ledger_page(request: Request, services: Services = Depends(get_services)):
    return _staff_page(request, services, "ledger.html")


# -- summary and review -----------------------------------------------------------
@router.get("/api/staff/summary", response_model=Summary)
async def summary(services: Services = Depends(get_services), principal: Principal = Depends(require("staff"))) -> Summary:
    orders = services.store.work_orders(open_only=True)
    warnings = sorted({o.provisional_reason for o in orders if o.provisional and o.provisional_reason})
    return Summary(warnings=warnings, outbox=services.store.outbox_counts(), open_orders=len(orders), reindex=services.reindexer.state())


def _groups(services: Services, room: str | None, principal: Principal) -> list[ReviewGroup]:
    if room:
        principal.check_room(room)
    comments = [(c, m) for c, m in services.store.unanswered_comments(room) if principal.may_act_in(c.room)]
    return group_unanswered(comments, services.bank)


def _group(services: Services, key: str, principal: Principal) -> ReviewGroup:
    group = next((g for g in _groups(services, None, principal) if g.key == key), None)
    if group is None:
        raise HTTPException(404, f"no unanswered group {key!r} (already handled?)")
    return group


@router.get("/api/staff/review", response_model=ReviewList)
async def review(room: str | None = Query(default=None, max_length=64), services: Services = Depends(get_services),
                 principal: Principal = Depends(require("staff"))) -> ReviewList:
    return ReviewList(groups=_groups(services, room, principal))


@router.post("/api/staff/review/{key}/answer", response_model=Answered)
async def answer_group(key: str, body: NewAnswer, services: Services = Depends(get_services), principal: Principal = Depends(require("staff"))):
    group = _group(services, key, principal)
    today = dt.datetime.now(SHANGHAI).date()
    try:
        entry = new_entry(services.bank, body, today=today, extra_phrasings=[c.display for c in group.comments][:5])
        merged = services.bank.merged_with([entry])
    except BankError as exc:
        raise HTTPException(422, "; ".join(str(p) for p in exc.problems)[:1000]) from None
    except ValueError as exc:
        raise HTTPException(422, str(exc)[:1000]) from None
    merged.save()  # the bank files are the source of truth; the index is rebuilt from them
    with services.store.transaction():
        services.store.set_staff_review(group.comment_ids, "answered")
        services.store.audit(principal.actor, "answer_and_add_to_bank", f"group:{key}", {"entry_id": entry.id, "comments": group.comment_ids})
    state = services.reindexer.request(merged)
    return Answered(entry_id=entry.id, reindex=state)


@router.post("/api/staff/review/{key}/workorder", response_model=Filed)
async def file_group(key: str, body: Empty, services: Services = Depends(get_services), principal: Principal = Depends(require("staff"))):
    group = _group(services, key, principal)
    ids = []
    with services.store.transaction():
        for comment_id in group.comment_ids:
            comment: StoredComment = services.store.comment(comment_id)
            match = services.store.comment_match(comment_id) or {}
            ids.append(services.desk.file(
                comment, source="staff", intent=match.get("intent"), reason="staff filed an unanswered question",
                domain=match.get("domain"), suggested_department=match.get("department") or services.route(comment.text),
                entry_id=match.get("entry_id"), display=match.get("display", comment.text), contact=match.get("contact", []), actor=principal.actor,
            ))
        services.store.set_staff_review(group.comment_ids, "filed")
    return Filed(work_order_ids=ids)


@router.post("/api/staff/review/{key}/dismiss", response_model=Dismissed)
async def dismiss_group(key: str, body: Empty, services: Services = Depends(get_services), principal: Principal = Depends(require("staff"))):
    group = _group(services, key, principal)
    with services.store.transaction():
        n = services.store.set_staff_review(group.comment_ids, "dismissed")
        services.store.audit(principal.actor, "dismiss", f"group:{key}", {"comments": group.comment_ids})
    return Dismissed(dismissed=n)


# -- the work-order board ---------------------------------------------------------
@router.get("/api/staff/work_orders", response_model=list[WorkOrderView])
async def work_orders(
    room: str | None = Query(default=None, max_length=64),
    department: str | None = Query(default=None, max_length=40),
    status: str | None = Query(default=None, max_length=8),
    colour: Colour | None = Query(default=None),
    services: Services = Depends(get_services),
    principal: Principal = Depends(require("staff")),
) -> list[WorkOrderView]:
    if room:
        principal.check_room(room)
    now = dt.datetime.now(SHANGHAI)
    views = [services.desk.view(o, now) for o in services.store.work_orders(room, department=department, status=status)
             if principal.may_act_in(o.room)]
    if colour == "overdue":
        views = [v for v in views if v.overdue]
    elif colour:
        views = [v for v in views if v.colour == colour]
    return views


@router.get("/api/staff/work_orders/{order_id}/history")
async def history(order_id: RowId, services: Services = Depends(get_services), principal: Principal = Depends(require("staff"))) -> list[dict[str, Any]]:
    _order_in_scope(services, order_id, principal)
    return services.store.work_order_history(order_id)


def _order_in_scope(services: Services, order_id: int, principal: Principal) -> None:
    order = services.store.work_order(order_id)
    if order is None:
        raise HTTPException(404, f"no work order {order_id}")
    principal.check_room(order.room)


def _act(services: Services, principal: Principal, fn, *args, **kwargs) -> WorkOrderView:
    if principal.rooms is not None:
        _order_in_scope(services, args[0], principal)
    try:
        order = fn(*args, **kwargs)
    except UnknownWorkOrder as exc:
        raise HTTPException(404, str(exc)) from None
    except IllegalTransition as exc:
        raise HTTPException(409, str(exc)) from None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    services.outbox.wake()
    return services.desk.view(order)


@router.post("/api/staff/work_orders/{order_id}/dispatch", response_model=WorkOrderView)
async def dispatch(order_id: RowId, body: Dispatch, services: Services = Depends(get_services), principal: Principal = Depends(require("staff"))):
    return _act(services, principal, services.desk.dispatch, order_id, actor=principal.actor, department=body.department, complexity=body.complexity)


@router.post("/api/staff/work_orders/{order_id}/accept", response_model=WorkOrderView)
async def accept(order_id: RowId, body: Empty, services: Services = Depends(get_services), principal: Principal = Depends(require("staff"))):
    return _act(services, principal, services.desk.accept, order_id, actor=principal.actor)


@router.post("/api/staff/work_orders/{order_id}/return", response_model=WorkOrderView)
async def return_misrouted(order_id: RowId, body: Reason, services: Services = Depends(get_services), principal: Principal = Depends(require("staff"))):
    return _act(services, principal, services.desk.return_misrouted, order_id, actor=principal.actor, reason=body.reason)


@router.post("/api/staff/work_orders/{order_id}/close", response_model=WorkOrderView)
async def close(order_id: RowId, body: Resolution, services: Services = Depends(get_services), principal: Principal = Depends(require("staff"))):
    return _act(services, principal, services.desk.close, order_id, actor=principal.actor, resolution=body.resolution)


@router.post("/api/staff/work_orders/{order_id}/revisit", response_model=WorkOrderView)
async def revisit(order_id: RowId, body: Revisit, services: Services = Depends(get_services), principal: Principal = Depends(require("staff"))):
    return _act(services, principal, services.desk.revisit, order_id, actor=principal.actor, satisfied=body.satisfied, note=body.note)


# -- the ledger -------------------------------------------------------------------
def _day(date: str | None) -> dt.date:
    if date is None:
        return dt.datetime.now(SHANGHAI).date()
    try:
        return parse_ledger_day(date)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


@router.get("/api/staff/ledger", response_model=Ledger)
async def ledger(date: str | None = Query(default=None, max_length=10), services: Services = Depends(get_services),
                 principal: Principal = Depends(require("staff"))) -> Ledger:
    principal.only_rooms()  # the ledger spans all 1+9 rooms
    return build_ledger(services.store, services.rooms, services.bank, _day(date))


@router.get("/api/staff/ledger/export")
async def ledger_export(date: str | None = Query(default=None, max_length=10), format: Literal["xlsx", "csv"] = Query(default="xlsx"),
                        services: Services = Depends(get_services), principal: Principal = Depends(require("staff"))) -> Response:
    principal.only_rooms()
    result = build_ledger(services.store, services.rooms, services.bank, _day(date))
    name = f"govlive-ledger-{result.date}.{format}"
    if format == "csv":
        return Response(ledger_csv(result), media_type="text/csv; charset=utf-8", headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return Response(ledger_xlsx(result), media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
