"""Formula injection and impossible dates: what a viewer or a URL can put into an export."""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pytest

from assistant.bank.store import AnswerBank
from assistant.spreadsheet import neutralise, restore
from assistant.workorders.ledger import FIRST_LEDGER_DAY, Ledger, LedgerRow, Topic, TrendPoint, ledger_csv, ledger_xlsx, parse_ledger_day
from assistant.workorders.review import NewAnswer, new_entry


@pytest.mark.parametrize("text", ["=cmd|' /C calc'!A0", "+1+1", "-2", "@SUM(A1)", "\t=1", "\r=1"])
def test_formula_starts_are_neutralised_and_restored(text):
    assert neutralise(text) == "'" + text
    assert restore(neutralise(text)) == text


@pytest.mark.parametrize("value", ["社保怎么交", "1+1=2", "'普通引号开头", 42, None, -3])
def test_everything_else_is_left_alone(value):
    assert neutralise(value) == value and restore(value) == value


def test_a_comment_taken_into_the_bank_loses_its_formula_prefix(small_bank_dir):
    bank = AnswerBank.load(small_bank_dir)
    answer = NewAnswer(question="灵活就业社保怎么交", answer="可以在线上缴纳，也可以到社保窗口缴纳。", domain="社会保险",
                       department="市社会保险事业管理中心")
    entry = new_entry(bank, answer, today=dt.date(2026, 12, 4), extra_phrasings=["=cmd|' /C calc'!A0 社保咋交", "@@灵活就业社保在哪交"])
    assert entry.similar_questions[:2] == ["cmd|' /C calc'!A0 社保咋交", "灵活就业社保在哪交"]


def _ledger(room_name: str, topic: str) -> Ledger:
    row = LedgerRow(room="city", room_name=room_name, comments=3)
    return Ledger(date="2026-12-04", rows=[row], rooms=[row], totals=row,
                  top_topics=[Topic(topic=topic, count=1, trend=[TrendPoint(date="2026-12-04", count=1)])])


def test_ledger_exports_write_text_cells_not_formulas():
    ledger = _ledger("=HYPERLINK(\"http://x\")", "-社保")
    rows = list(csv.reader(io.StringIO(ledger_csv(ledger).decode("utf-8-sig"))))
    assert all(not cell.startswith(("=", "+", "-", "@")) for line in rows for cell in line)
    assert rows[1][2] == "'=HYPERLINK(\"http://x\")"
    book = openpyxl.load_workbook(io.BytesIO(ledger_xlsx(ledger)))
    cells = [c for sheet in book.worksheets for line in sheet.iter_rows() for c in line]
    assert all(c.data_type != "f" for c in cells)
    assert "'-社保" in [c.value for c in cells]


@pytest.mark.parametrize("text", ["0001-01-01", "1999-12-31"])
def test_ledger_days_before_the_first_are_refused_clearly(text):
    with pytest.raises(ValueError, match=f"{FIRST_LEDGER_DAY.isoformat()} or later"):
        parse_ledger_day(text)


def test_ledger_day_parsing():
    assert parse_ledger_day("2026-12-04") == dt.date(2026, 12, 4)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_ledger_day("12/04/2026")
