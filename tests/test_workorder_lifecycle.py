"""Work-order lifecycle, audit trail, deadline warnings and the notification outbox (real SQLite, a real local receiver)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import httpx
import pytest

from assistant.ingest.record import SHANGHAI, CommentRecord
from assistant.store import SqliteStore
from assistant.workorders.deadlines import BusinessHours, WorkingCalendar
from assistant.workorders.lifecycle import IllegalTransition, UnknownWorkOrder, WorkOrderDesk
from assistant.workorders.notify import Departments, OutboxSender
from live import DepartmentRobot

MONDAY_10 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)


class Clock:
    def __init__(self, at: dt.datetime):
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at


@pytest.fixture
def desk(tmp_path):
    store = SqliteStore(tmp_path / "govlive.db")
    clock = Clock(MONDAY_10)
    d = WorkOrderDesk(store, calendar=WorkingCalendar.load(None), hours=BusinessHours.parse("09:00-12:00,13:30-17:30"),
                      departments=Departments({"市医疗保障局": "http://127.0.0.1:9/robot"}), yellow_working_days=1, now=clock)
    d.clock = clock
    yield d
    store.close()


def file_one(desk: WorkOrderDesk, text: str = "帮我查下医保报销进度 电话13912345678") -> int:
    record = CommentRecord(platform="douyin", room="r1", message_id=f"m-{text}", user_id="u", nickname="n", text=text, type="comment",
                           platform_time=None, received_at=desk.clock(), raw={})
    desk.store.add_records([(record, "city")])
    (comment,) = desk.store.pending_comments(1)
    with desk.store.transaction():
        order_id = desk.file(comment, source="pipeline", intent="request", reason="r", domain="医疗保障", suggested_department="市医疗保障局",
                             entry_id=None, display="帮我查下医保报销进度 电话139****5678", contact=[{"kind": "mobile", "value": "13912345678"}])
    desk.store.mark_processed(comment.id, {"decision": "workorder", "intent": "request", "reason": "r", "display": "x"})
    return order_id


def test_filing_sets_the_125_deadlines_and_audits(desk):
    order = desk.store.work_order(file_one(desk))
    assert order.status == "待派单" and order.suggested_department == "市医疗保障局" and order.department is None
    # Monday 10:00 + 1 working hour; resolve: 2 working days after the dispatch day (Tue, Wed) at close of business.
    assert order.dispatch_due == "2026-11-23T11:00:00+08:00"
    assert order.resolve_due == "2026-11-25T17:30:00+08:00"
    assert order.provisional is False and order.citizen_text.endswith("13912345678")
    assert [h["action"] for h in desk.store.work_order_history(order.id)] == ["file"]


def test_every_transition_and_the_illegal_ones(desk):
    oid = file_one(desk)
    for illegal in (lambda: desk.accept(oid, actor="staff"), lambda: desk.close(oid, actor="staff", resolution="x"),
                    lambda: desk.revisit(oid, actor="staff", satisfied=True), lambda: desk.return_misrouted(oid, actor="staff", reason="x")):
        with pytest.raises(IllegalTransition):
            illegal()
    desk.clock.at = MONDAY_10 + dt.timedelta(minutes=30)
    order = desk.dispatch(oid, actor="staff", department="市人力资源和社会保障局")
    assert (order.status, order.department, order.dispatched_at) == ("已派单", "市人力资源和社会保障局", "2026-11-23T10:30:00+08:00")
    order = desk.return_misrouted(oid, actor="staff", reason="应由医保局办理")
    assert (order.status, order.returned_count, order.department) == ("待派单", 1, None)
    order = desk.dispatch(oid, actor="staff", department="市医疗保障局", complexity="complex")
    assert order.complexity == "complex" and order.resolve_due == "2026-11-30T17:30:00+08:00"  # 5 working days after Monday
    with pytest.raises(IllegalTransition):
        desk.dispatch(oid, actor="staff", department="x局")
    assert desk.accept(oid, actor="staff").status == "办理中"
    with pytest.raises(ValueError):
        desk.close(oid, actor="staff", resolution="  ")
    assert desk.close(oid, actor="staff", resolution="已电话联系群众，报销款已到账").status == "已办结"
    # Not satisfied: 重办 with a fresh clock from the revisit.
    desk.clock.at = dt.datetime(2026, 11, 26, 15, 0, tzinfo=SHANGHAI)
    order = desk.revisit(oid, actor="staff", satisfied=False, note="群众表示未收到")
    assert (order.status, order.reopen_count, order.suggested_department, order.department) == ("重办", 1, "市医疗保障局", None)
    assert order.clock_started_at == "2026-11-26T15:00:00+08:00" and order.dispatch_due == "2026-11-26T16:00:00+08:00"
    desk.dispatch(oid, actor="staff", department="市医疗保障局")
    desk.accept(oid, actor="staff")
    desk.close(oid, actor="staff", resolution="补发到账")
    order = desk.revisit(oid, actor="staff", satisfied=True)
    assert (order.status, order.satisfied) == ("已回访", True)
    for illegal in (lambda: desk.revisit(oid, actor="staff", satisfied=True), lambda: desk.dispatch(oid, actor="staff", department="x局")):
        with pytest.raises(IllegalTransition):
            illegal()
    with pytest.raises(UnknownWorkOrder):
        desk.accept(9999, actor="staff")
    history = desk.store.work_order_history(oid)
    assert [(h["action"], h["from_status"], h["to_status"]) for h in history] == [
        ("file", None, "待派单"), ("dispatch", "待派单", "已派单"), ("return", "已派单", "待派单"), ("dispatch", "待派单", "已派单"),
        ("accept", "已派单", "办理中"), ("close", "办理中", "已办结"), ("revisit", "已办结", "重办"), ("dispatch", "重办", "已派单"),
        ("accept", "已派单", "办理中"), ("close", "办理中", "已办结"), ("revisit", "已办结", "已回访"),
    ]
    assert all(h["actor"] == "staff" for h in history[1:]) and history[2]["changes"]["resolution"] == "退回：应由医保局办理"
    assert len(desk.store.work_orders()) == 1  # nothing is ever deleted or duplicated


def test_dispatch_notifies_the_department_and_unknown_departments_are_recorded(desk):
    a, b = file_one(desk, "问题一 帮我查"), file_one(desk, "问题二 帮我查")
    desk.dispatch(a, actor="staff", department="市医疗保障局")
    desk.dispatch(b, actor="staff", department="市民政局")
    sent = {n["order_id"]: n for n in desk.store.notifications()}
    assert sent[a]["state"] == "pending" and sent[a]["url"] == "http://127.0.0.1:9/robot"
    content = sent[a]["payload"]["text"]["content"]
    assert sent[a]["payload"]["msgtype"] == "text" and f"#{a}" in content and "11月25日 17:30" in content
    assert "13912345678" not in json.dumps(sent[a]["payload"], ensure_ascii=False)  # personal numbers stay on the staff page
    assert sent[b]["state"] == "no_webhook"


def test_warnings_turn_yellow_then_red_then_overdue_and_notify_once_each(desk):
    oid = file_one(desk)
    desk.dispatch(oid, actor="staff", department="市医疗保障局")  # due Wed 2026-11-25 17:30
    assert desk.check_warnings(MONDAY_10 + dt.timedelta(hours=1)) == []  # 2 working days left: green (yellow at 1)
    (yellow,) = desk.check_warnings(dt.datetime(2026, 11, 24, 9, 0, tzinfo=SHANGHAI))
    assert (yellow.colour, yellow.working_days_left) == ("yellow", 1)
    assert desk.check_warnings(dt.datetime(2026, 11, 24, 16, 0, tzinfo=SHANGHAI)) == []  # no second message for the same colour
    (red,) = desk.check_warnings(dt.datetime(2026, 11, 25, 9, 0, tzinfo=SHANGHAI))
    assert red.colour == "red" and not red.overdue
    (late,) = desk.check_warnings(dt.datetime(2026, 11, 25, 18, 0, tzinfo=SHANGHAI))
    assert late.overdue
    kinds = [n["kind"] for n in desk.store.notifications(oid)]
    assert kinds == ["dispatch", "warning_yellow", "warning_red", "warning_overdue"]
    assert desk.view(desk.store.work_order(oid), dt.datetime(2026, 11, 26, 9, 0, tzinfo=SHANGHAI)).overdue


def test_the_outbox_keeps_retrying_until_the_receiver_recovers(desk):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    desk.departments = Departments({"市医疗保障局": f"http://127.0.0.1:{port}/cgi-bin/webhook/send?key=k"})
    oid = file_one(desk)
    desk.dispatch(oid, actor="staff", department="市医疗保障局")
    sender = OutboxSender(desk.store, base_seconds=0.05, cap_seconds=0.2)

    async def pump(seconds: float) -> None:
        async with httpx.AsyncClient(timeout=2) as client:
            deadline = asyncio.get_running_loop().time() + seconds
            while asyncio.get_running_loop().time() < deadline:
                await sender.send_due(client)
                await asyncio.sleep(0.05)

    asyncio.run(pump(0.6))  # nobody listening: connection refused, kept
    (n,) = desk.store.notifications(oid)
    assert n["state"] == "pending" and n["attempts"] >= 2 and "Connect" in n["last_error"]
    # Down, then rate-limiting, then accepting.
    robot = DepartmentRobot([(500, {"error": "busy"}), (200, {"errcode": 45009, "errmsg": "api freq out of limit"})], port=port)
    try:
        asyncio.run(pump(2.0))
    finally:
        robot.close()
    (n,) = desk.store.notifications(oid)
    assert n["state"] == "delivered" and n["delivered_at"]
    assert len(robot.received) == 3  # 500, errcode 45009, then accepted: and not resent after that
    assert all(r == n["payload"] for r in robot.received)
