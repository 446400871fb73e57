"""The daily ledger (台账): per day, room and platform, what the live rooms answered and what was filed.

在线即答率 (answered live ÷ questions) is the figure Jinchang holds above
60 %; the 125 figures are dispatched within 1 hour, closed on time, overdue
and satisfaction at revisit.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter, defaultdict
from typing import Any

from pydantic import BaseModel

from assistant.bank.store import AnswerBank
from assistant.ingest.record import SHANGHAI
from assistant.rooms import Rooms
from assistant.spreadsheet import neutralise
from assistant.store import SqliteStore

TREND_DAYS = 7
TOP_TOPICS = 10
FIGURES = ("comments", "questions", "answered_live", "suggested", "work_orders_opened", "dispatched_within_1h",
           "closed_on_time", "overdue", "revisited", "satisfied")
COLUMN_NAMES = {
    "date": "日期", "room": "直播间", "room_name": "直播间名称", "platform": "平台", "comments": "留言数", "questions": "提问数",
    "answered_live": "在线即答", "answer_rate": "在线即答率", "suggested": "建议答复", "work_orders_opened": "新建工单",
    "dispatched_within_1h": "1小时内派单", "closed_on_time": "按时办结", "overdue": "超期", "revisited": "回访数",
    "satisfied": "满意数", "satisfaction": "满意率",
}


class LedgerRow(BaseModel):
    room: str
    room_name: str
    platform: str | None = None  # None for a whole room or the total
    comments: int = 0
    questions: int = 0
    answered_live: int = 0
    answer_rate: float | None = None
    suggested: int = 0
    work_orders_opened: int = 0
    dispatched_within_1h: int = 0
    closed_on_time: int = 0
    overdue: int = 0
    revisited: int = 0
    satisfied: int = 0
    satisfaction: float | None = None


class TrendPoint(BaseModel):
    date: str
    count: int


class Topic(BaseModel):
    topic: str
    count: int  # on the day
    trend: list[TrendPoint]  # the last 7 days, oldest first


class Ledger(BaseModel):
    date: str
    rows: list[LedgerRow]  # room × platform
    rooms: list[LedgerRow]  # the "1+9" overview: one row per room
    totals: LedgerRow
    top_topics: list[Topic]


def _rates(row: LedgerRow) -> LedgerRow:
    row.answer_rate = round(row.answered_live / row.questions, 3) if row.questions else None
    row.satisfaction = round(row.satisfied / row.revisited, 3) if row.revisited else None
    return row


def _sum(rows: list[dict[str, Any]], **identity: Any) -> LedgerRow:
    return _rates(LedgerRow(**identity, **{f: sum(r[f] for r in rows) for f in FIGURES}))


# The ledger's trend looks back TREND_DAYS; days before this are not a live-stream ledger
# (and 0001-01-01 minus a week is not a date at all).
FIRST_LEDGER_DAY = dt.date(2000, 1, 1)


def parse_ledger_day(text: str) -> dt.date:
    """A ledger date from YYYY-MM-DD; ValueError with a message a person can act on."""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"date must be YYYY-MM-DD, not {text!r}") from None
    if day < FIRST_LEDGER_DAY:
        raise ValueError(f"date must be {FIRST_LEDGER_DAY.isoformat()} or later, not {text!r}")
    return day


def build_ledger(store: SqliteStore, rooms: Rooms, bank: AnswerBank, day: dt.date, *, now: dt.datetime | None = None) -> Ledger:
    if day < FIRST_LEDGER_DAY:
        raise ValueError(f"date must be {FIRST_LEDGER_DAY.isoformat()} or later, not {day.isoformat()}")
    now = now or dt.datetime.now(SHANGHAI)
    figures = store.ledger_figures(day.isoformat(), now.isoformat(timespec="seconds"))
    names = {r.id: r.name for r in rooms.rooms}
    rows = [_rates(LedgerRow(**f, room_name=names.get(f["room"], f["room"]))) for f in figures]
    per_room = []
    for room in rooms.rooms:  # every configured room, so a silent county shows as zeros
        per_room.append(_sum([f for f in figures if f["room"] == room.id], room=room.id, room_name=room.name))
    totals = _sum(figures, room="all", room_name="全部直播间")
    return Ledger(date=day.isoformat(), rows=rows, rooms=per_room, totals=totals, top_topics=_topics(store, bank, day))


def _topics(store: SqliteStore, bank: AnswerBank, day: dt.date) -> list[Topic]:
    days = [(day - dt.timedelta(days=n)).isoformat() for n in range(TREND_DAYS - 1, -1, -1)]
    by_topic: dict[str, Counter] = defaultdict(Counter)
    for r in store.question_topics(days[0], days[-1]):
        entry = bank.get(r["entry"])
        by_topic[entry.item if entry else r["entry"]][r["day"]] += r["n"]
    ranked = sorted(by_topic.items(), key=lambda kv: (-kv[1][days[-1]], -sum(kv[1].values()), kv[0]))
    return [
        Topic(topic=name, count=counts[days[-1]], trend=[TrendPoint(date=d, count=counts[d]) for d in days])
        for name, counts in ranked[:TOP_TOPICS]
        if counts[days[-1]]
    ]


def _table(ledger: Ledger) -> tuple[list[str], list[list[Any]]]:
    columns = ["date", "room", "room_name", "platform", *FIGURES[:8], "answer_rate", "revisited", "satisfied", "satisfaction"]
    body = []
    for row in [*ledger.rows, *ledger.rooms, ledger.totals]:
        data = row.model_dump()
        body.append([ledger.date if c == "date" else (data[c] if data[c] is not None else "") for c in columns])
    return [COLUMN_NAMES[c] for c in columns], body


def ledger_csv(ledger: Ledger) -> bytes:
    header, body = _table(ledger)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([[neutralise(cell) for cell in line] for line in body])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: Excel opens Chinese CSV correctly


def ledger_xlsx(ledger: Ledger) -> bytes:
    from openpyxl import Workbook

    header, body = _table(ledger)
    book = Workbook()
    sheet = book.active
    sheet.title = "台账"
    sheet.append(header)
    for line in body:
        sheet.append([neutralise(cell) for cell in line])
    topics = book.create_sheet("热点问题")
    days = [p.date for p in ledger.top_topics[0].trend] if ledger.top_topics else []
    topics.append(["问题", "当日次数", *days])
    for t in ledger.top_topics:
        topics.append([neutralise(t.topic), t.count, *[p.count for p in t.trend]])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
