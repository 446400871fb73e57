"""A work order's life: 待派单 → 已派单 → 办理中 → 已办结 → 已回访, with 退回 and 重办.

Every change goes through :class:`WorkOrderDesk`, which checks that the
transition is allowed, recomputes the 125-rule deadlines where they move,
writes the audit row and queues the department's notification, all in one
transaction. Nothing is ever deleted.

    待派单 ──dispatch──► 已派单 ──accept──► 办理中 ──close──► 已办结 ──revisit(satisfied)──► 已回访
      ▲  ▲                 │                  │                 │
      │  └────return───────┴──────────────────┘                 └─revisit(not satisfied)──► 重办 ──dispatch──► 已派单 …
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any, Literal


from assistant.ingest.record import SHANGHAI
from assistant.store import SqliteStore, StoredComment, WorkOrder

from .deadlines import BusinessHours, WorkingCalendar, deadline_for, warning_for
from .notify import Departments, dispatch_message, warning_message

log = logging.getLogger("govlive.workorders")

Complexity = Literal["ordinary", "complex"]
STATUSES = ("待派单", "已派单", "办理中", "已办结", "已回访", "重办")
OPEN_STATUSES = ("待派单", "已派单", "办理中", "重办")
# action → (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "dispatch": (frozenset({"待派单", "重办"}), "已派单"),
    "accept": (frozenset({"已派单"}), "办理中"),
    "return": (frozenset({"已派单", "办理中"}), "待派单"),
    "close": (frozenset({"办理中"}), "已办结"),
    "revisit": (frozenset({"已办结"}), "已回访"),  # or 重办 when the citizen is not satisfied
}


class IllegalTransition(Exception):
    """The order is not in a state that allows this action (or someone changed it first)."""


class UnknownWorkOrder(LookupError):
    pass


class WorkOrderView(WorkOrder):
    """An order as staff see it: with its traffic light."""

    colour: Literal["green", "yellow", "red"] | None  # None once closed
    overdue: bool
    working_days_left: int | None


def _iso(value: dt.datetime) -> str:
    return value.astimezone(SHANGHAI).isoformat(timespec="seconds")


def _parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


class WorkOrderDesk:
    def __init__(
        self,
        store: SqliteStore,
        *,
        calendar: WorkingCalendar,
        hours: BusinessHours,
        departments: Departments,
        yellow_working_days: int = 2,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(SHANGHAI),
    ):
        self.store = store
        self.calendar = calendar
        self.hours = hours
        self.departments = departments
        self.yellow_working_days = yellow_working_days
        self.now = now

    # -- deadlines --------------------------------------------------------------------
    def deadlines(self, started: dt.datetime, complexity: Complexity, dispatched: dt.datetime | None = None) -> dict[str, Any]:
        d = deadline_for(started, complexity=complexity, dispatched=dispatched, calendar=self.calendar, hours=self.hours)
        if d.provisional:
            log.warning("provisional deadline %s: %s", d.resolve_due.isoformat(), d.provisional_reason)
        return {"dispatch_due": _iso(d.dispatch_due), "resolve_due": _iso(d.resolve_due), "provisional": d.provisional,
                "provisional_reason": d.provisional_reason}

    def view(self, order: WorkOrder, now: dt.datetime | None = None) -> WorkOrderView:
        if order.status not in OPEN_STATUSES or not order.resolve_due:
            return WorkOrderView(**order.model_dump(), colour=None, overdue=False, working_days_left=None)
        w = warning_for(_parse(order.resolve_due), now or self.now(), calendar=self.calendar, yellow_working_days=self.yellow_working_days)
        return WorkOrderView(**order.model_dump(), colour=w.colour, overdue=w.overdue, working_days_left=w.working_days_left)

    # -- filing (inside the caller's transaction) -----------------------------------
    def file(self, comment: StoredComment, *, source: str, intent: str | None, reason: str, domain: str | None,
             suggested_department: str | None, entry_id: str | None, display: str, contact: list[dict[str, Any]],
             complexity: Complexity = "ordinary", actor: str = "system") -> int:
        now = self.now()
        order_id, _ = self.store.file_work_order(
            comment, source=source, intent=intent, reason=reason, domain=domain, suggested_department=suggested_department,
            entry_id=entry_id, display=display, contact=contact, complexity=complexity,
            deadlines=self.deadlines(now, complexity), actor=actor, at=_iso(now),
        )
        return order_id

    # -- transitions ----------------------------------------------------------------
    def _change(self, order_id: int, action: str, actor: str, changes: dict[str, Any], *, to: str | None = None) -> WorkOrder:
        allowed, default_to = TRANSITIONS[action]
        order = self.store.work_order(order_id)
        if order is None:
            raise UnknownWorkOrder(f"no work order {order_id}")
        if order.status not in allowed:
            raise IllegalTransition(f"work order {order_id} is {order.status}; {action} needs {' or '.join(sorted(allowed))}")
        updated = self.store.change_work_order(order_id, expect=set(allowed), actor=actor, action=action,
                                               changes={"status": to or default_to, **changes})
        if updated is None:
            raise IllegalTransition(f"work order {order_id} changed while this {action} was being made; reload it")
        return updated

    def dispatch(self, order_id: int, *, actor: str, department: str, complexity: Complexity | None = None) -> WorkOrder:
        department = department.strip()
        if not department:
            raise ValueError("a department is required to dispatch")
        order = self._require(order_id)
        now = self.now()
        chosen = complexity or order.complexity
        started = _parse(order.clock_started_at or order.created_at)
        # The department gets its full 2 (or 5) working days counted from the day it receives the order.
        deadlines = self.deadlines(started, chosen, dispatched=now)
        with self.store.transaction():
            updated = self._change(order_id, "dispatch", actor, {
                "department": department, "complexity": chosen, "dispatched_at": _iso(now),
                "dispatch_due": deadlines["dispatch_due"], "resolve_due": deadlines["resolve_due"],
                "provisional": int(deadlines["provisional"]), "provisional_reason": deadlines["provisional_reason"],
                "last_colour": None,
            })
            self._notify("dispatch", updated, dispatch_message(updated))
        return updated

    def accept(self, order_id: int, *, actor: str) -> WorkOrder:
        with self.store.transaction():
            return self._change(order_id, "accept", actor, {"accepted_at": _iso(self.now())})

    def return_misrouted(self, order_id: int, *, actor: str, reason: str) -> WorkOrder:
        if not reason.strip():
            raise ValueError("say why the order is returned")
        order = self._require(order_id)
        with self.store.transaction():
            return self._change(order_id, "return", actor, {
                "department": None, "suggested_department": None, "dispatched_at": None, "accepted_at": None,
                "returned_count": order.returned_count + 1, "resolution": f"退回：{reason.strip()}",
            })

    def close(self, order_id: int, *, actor: str, resolution: str) -> WorkOrder:
        if not resolution.strip():
            raise ValueError("a resolution (办理结果) is required to close an order")
        with self.store.transaction():
            return self._change(order_id, "close", actor, {"closed_at": _iso(self.now()), "resolution": resolution.strip()})

    def revisit(self, order_id: int, *, actor: str, satisfied: bool, note: str = "") -> WorkOrder:
        order = self._require(order_id)
        now = self.now()
        changes: dict[str, Any] = {"revisited_at": _iso(now), "satisfied": int(satisfied), "revisit_note": note.strip() or None}
        if satisfied:
            with self.store.transaction():
                return self._change(order_id, "revisit", actor, changes)
        # Not satisfied: 重办, with a fresh 125 clock from now; the last department stays as the suggestion.
        deadlines = self.deadlines(now, order.complexity)
        changes.update({
            "clock_started_at": _iso(now), "reopen_count": order.reopen_count + 1, "suggested_department": order.department,
            "department": None, "dispatched_at": None, "accepted_at": None, "closed_at": None,
            "dispatch_due": deadlines["dispatch_due"], "resolve_due": deadlines["resolve_due"],
            "provisional": int(deadlines["provisional"]), "provisional_reason": deadlines["provisional_reason"], "last_colour": None,
        })
        with self.store.transaction():
            return self._change(order_id, "revisit", actor, changes, to="重办")

    def _require(self, order_id: int) -> WorkOrder:
        order = self.store.work_order(order_id)
        if order is None:
            raise UnknownWorkOrder(f"no work order {order_id}")
        return order

    # -- warnings -------------------------------------------------------------------
    def check_warnings(self, now: dt.datetime | None = None) -> list[WorkOrderView]:
        """Notify departments of orders that turned yellow or red since the last check."""
        now = now or self.now()
        changed = []
        for order in self.store.work_orders(open_only=True):
            view = self.view(order, now)
            level = "overdue" if view.overdue else view.colour
            if level == (order.last_colour or "green") or level == "green":
                continue
            with self.store.transaction():
                updated = self.store.change_work_order(order.id, expect={order.status}, actor="system", action="warning",
                                                       changes={"last_colour": level})
                if updated is not None and updated.department:
                    self._notify(f"warning_{level}", updated, warning_message(updated, view))
            changed.append(view)
        return changed

    def _notify(self, kind: str, order: WorkOrder, payload: dict[str, Any]) -> None:
        department = order.department or order.suggested_department
        self.store.enqueue_notification(kind=kind, order_id=order.id, department=department,
                                        url=self.departments.webhook_for(department), payload=payload)
