"""The 125 clock on China's real 2026 calendar, its overrides and provisional years, warnings and the CLI.

Every calendar fact a test relies on is first checked against chinesecalendar
itself, so a wrong memory of the State Council's notice fails loudly here
instead of hiding in an expected value.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import chinese_calendar
import pytest
from click.testing import CliRunner

from assistant.cli import cli
from assistant.ingest.record import SHANGHAI
from assistant.workorders.deadlines import (
    BusinessHours,
    Deadlines,
    WorkingCalendar,
    deadline_for,
    parse_aware_iso,
    warning_for,
)

HOURS = BusinessHours.parse("09:00-12:00,13:30-17:30")
CALENDAR = WorkingCalendar.load(None)
UTC = dt.timezone.utc


def at(text: str) -> dt.datetime:
    """'2026-11-23 10:00' in Shanghai."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def due(created: str, complexity: str = "ordinary", *, dispatched: str | None = None,
        calendar: WorkingCalendar = CALENDAR, hours: BusinessHours = HOURS) -> Deadlines:
    return deadline_for(at(created), complexity=complexity, dispatched=at(dispatched) if dispatched else None,  # type: ignore[arg-type]
                        calendar=calendar, hours=hours)


def iso(value: dt.datetime) -> str:
    return value.isoformat(timespec="seconds")


def overrides(tmp_path: Path, **lists: list[str]) -> WorkingCalendar:
    path = tmp_path / "overrides.json"
    path.write_text(json.dumps(lists), encoding="utf-8")
    return WorkingCalendar.load(path)


# -- the calendar facts the tests rest on ----------------------------------------------------
def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def test_the_2026_calendar_facts_used_below():
    # National Day + Mid-Autumn 2026: 10-01..10-07 off, 10-10 (Saturday) and 09-20 (Sunday) are make-up days.
    assert all(chinese_calendar.is_holiday(d(f"2026-10-0{day}")) for day in range(1, 8))
    assert d("2026-10-10").weekday() == 5 and chinese_calendar.is_workday(d("2026-10-10"))
    assert d("2026-09-20").weekday() == 6 and chinese_calendar.is_workday(d("2026-09-20"))
    assert chinese_calendar.is_workday(d("2026-09-30")) and chinese_calendar.is_workday(d("2026-10-08"))
    assert chinese_calendar.is_workday(d("2026-10-09")) and chinese_calendar.is_holiday(d("2026-10-11"))
    # Spring Festival 2026: 02-15..02-23 off, Saturdays 02-14 and 02-28 are make-up days.
    assert all(chinese_calendar.is_holiday(d("2026-02-15") + dt.timedelta(days=n)) for n in range(9))
    assert chinese_calendar.is_workday(d("2026-02-13")) and chinese_calendar.is_workday(d("2026-02-24"))
    for saturday in ("2026-02-14", "2026-02-28"):
        assert d(saturday).weekday() == 5 and chinese_calendar.is_workday(d(saturday))
    # An ordinary late-November week.
    assert [chinese_calendar.is_workday(d(f"2026-11-{day}")) for day in range(20, 31)] == [
        True, False, False, True, True, True, True, True, False, False, True]  # Fri 20 … Mon 30
    # The last days of 2026 are working days; chinesecalendar has no 2027.
    assert all(chinese_calendar.is_workday(d(f"2026-12-{day}")) for day in range(28, 32))
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(d("2027-01-04"))


def test_working_calendar_follows_chinesecalendar_and_is_monday_to_friday_beyond_it():
    assert CALENDAR.covers(d("2026-12-31")) and not CALENDAR.covers(d("2027-01-01"))
    assert not CALENDAR.is_working_day(d("2026-10-01")) and CALENDAR.is_working_day(d("2026-10-10"))
    # 2027 is provisional: plain weekdays, even 2027-01-01 (until an override says otherwise).
    assert CALENDAR.is_working_day(d("2027-01-01")) and not CALENDAR.is_working_day(d("2027-01-02"))


# -- dispatch_due: one working hour ------------------------------------------------------------
@pytest.mark.parametrize(("created", "expected"), [
    ("2026-11-23 10:00", "2026-11-23T11:00:00+08:00"),  # inside the morning window
    ("2026-11-23 11:00", "2026-11-23T12:00:00+08:00"),  # ends exactly at lunch
    ("2026-11-23 11:30", "2026-11-23T14:00:00+08:00"),  # 30 min before lunch + 30 after
    ("2026-11-23 12:00", "2026-11-23T14:30:00+08:00"),  # at the start of lunch
    ("2026-11-23 12:45", "2026-11-23T14:30:00+08:00"),  # during lunch: counts from 13:30
    ("2026-11-23 08:00", "2026-11-23T10:00:00+08:00"),  # before opening
    ("2026-11-23 16:30", "2026-11-23T17:30:00+08:00"),  # ends exactly at close
    ("2026-11-23 20:00", "2026-11-24T10:00:00+08:00"),  # after hours
    ("2026-11-20 17:00", "2026-11-23T09:30:00+08:00"),  # Friday 17:00: 30 min + Monday 09:00-09:30
    ("2026-11-21 10:00", "2026-11-23T10:00:00+08:00"),  # Saturday
    ("2026-10-03 10:00", "2026-10-08T10:00:00+08:00"),  # inside the National Day holiday
    ("2026-09-30 17:00", "2026-10-08T09:30:00+08:00"),  # holiday eve: 30 min, then after the holiday
    ("2026-02-13 17:00", "2026-02-14T09:30:00+08:00"),  # eve of the Spring Festival: the 调休 Saturday counts
])
def test_dispatch_due_counts_one_working_hour(created, expected):
    assert iso(due(created).dispatch_due) == expected


def test_dispatch_due_keeps_seconds_and_a_single_window_day():
    assert due("2026-11-23 10:15:30").dispatch_due == at("2026-11-23 11:15:30")
    hours = BusinessHours.parse("09:00-17:00")
    assert iso(due("2026-11-23 16:30", hours=hours).dispatch_due) == "2026-11-24T09:30:00+08:00"
    assert iso(due("2026-11-23 12:00", hours=hours).resolve_due) == "2026-11-25T17:00:00+08:00"


# -- resolve_due: 2 or 5 working days after the dispatch day -------------------------------------
def test_ordinary_and_complex_in_an_ordinary_week():
    ordinary, complex_ = due("2026-11-23 10:00"), due("2026-11-23 10:00", "complex")
    assert iso(ordinary.resolve_due) == "2026-11-25T17:30:00+08:00"  # Tue, Wed
    assert iso(complex_.resolve_due) == "2026-11-30T17:30:00+08:00"  # Tue … Fri, Mon
    assert ordinary.dispatch_due == complex_.dispatch_due
    assert (ordinary.provisional, ordinary.provisional_reason) == (False, None)


def test_the_afternoon_before_national_day_skips_the_holiday_and_counts_the_make_up_saturday():
    # Dispatch due 09-30 16:00; the working days after 09-30 are 10-08, 10-09, 10-10 (Sat), 10-12, 10-13.
    ordinary, complex_ = due("2026-09-30 15:00"), due("2026-09-30 15:00", "complex")
    assert iso(ordinary.dispatch_due) == "2026-09-30T16:00:00+08:00"
    assert iso(ordinary.resolve_due) == "2026-10-09T17:30:00+08:00"
    assert iso(complex_.resolve_due) == "2026-10-13T17:30:00+08:00"


def test_a_make_up_saturday_can_be_the_due_day():
    # Created 09-30 17:00 → dispatch due 10-08 09:30 → 10-09, then Saturday 10-10.
    assert iso(due("2026-09-30 17:00").resolve_due) == "2026-10-10T17:30:00+08:00"


def test_spring_festival():
    # Dispatch due on the make-up Saturday 02-14; after it: 02-24, 02-25, 02-26, 02-27, Saturday 02-28.
    assert iso(due("2026-02-13 17:00").resolve_due) == "2026-02-25T17:30:00+08:00"
    assert iso(due("2026-02-13 17:00", "complex").resolve_due) == "2026-02-28T17:30:00+08:00"
    # Filed in the middle of the holiday: dispatch due the first day back.
    mid = due("2026-02-18 10:00")
    assert (iso(mid.dispatch_due), iso(mid.resolve_due)) == ("2026-02-24T10:00:00+08:00", "2026-02-26T17:30:00+08:00")


def test_dispatched_moves_the_count_and_the_dispatch_day_itself_is_not_counted():
    base = due("2026-11-23 10:00")
    later = due("2026-11-23 10:00", dispatched="2026-11-25 16:00")
    assert later.dispatch_due == base.dispatch_due  # dispatch_due only depends on created
    assert iso(later.resolve_due) == "2026-11-27T17:30:00+08:00"  # Thu, Fri
    # After hours or on a weekend the dispatch day is still not counted.
    assert iso(due("2026-11-23 10:00", dispatched="2026-11-23 20:00").resolve_due) == "2026-11-25T17:30:00+08:00"
    assert iso(due("2026-11-20 10:00", dispatched="2026-11-21 10:00").resolve_due) == "2026-11-24T17:30:00+08:00"
    # Dispatched on a National Day holiday: 10-08, 10-09.
    assert iso(due("2026-09-30 10:00", dispatched="2026-10-02 09:00").resolve_due) == "2026-10-09T17:30:00+08:00"
    with pytest.raises(ValueError, match="before created"):
        due("2026-11-23 10:00", dispatched="2026-11-23 09:00")


# -- provisional years ------------------------------------------------------------------------
def test_crossing_into_2027_is_provisional():
    inside = due("2026-12-29 10:00")  # due 12-31: still 2026
    assert iso(inside.resolve_due) == "2026-12-31T17:30:00+08:00" and not inside.provisional
    crossing = due("2026-12-30 17:00")  # dispatch due 12-31 09:30; then 2027-01-01 (a Friday, provisional) and 01-04
    assert iso(crossing.dispatch_due) == "2026-12-31T09:30:00+08:00"
    assert iso(crossing.resolve_due) == "2027-01-04T17:30:00+08:00"
    assert crossing.provisional and "2027" in crossing.provisional_reason and "chinesecalendar" in crossing.provisional_reason
    complex_ = due("2026-12-29 10:00", "complex")  # 12-30, 12-31, 01-01, 01-04, 01-05
    assert iso(complex_.resolve_due) == "2027-01-05T17:30:00+08:00" and complex_.provisional
    assert due("2027-03-01 10:00").provisional  # wholly in 2027


def test_overrides_win_over_chinesecalendar(tmp_path):
    # A local holiday added in 2026 pushes the due day.
    calendar = overrides(tmp_path, holidays=["2026-11-24"])
    assert not calendar.is_working_day(d("2026-11-24"))
    assert iso(due("2026-11-23 10:00", calendar=calendar).resolve_due) == "2026-11-26T17:30:00+08:00"
    # Cancelling the make-up Saturday and working a holiday day instead.
    calendar = overrides(tmp_path, holidays=["2026-10-10"], workdays=["2026-10-07"])
    assert iso(due("2026-09-30 17:00", calendar=calendar).dispatch_due) == "2026-10-07T09:30:00+08:00"
    assert iso(due("2026-09-30 17:00", calendar=calendar).resolve_due) == "2026-10-09T17:30:00+08:00"  # 10-08, 10-09


def test_overrides_in_2027_shape_the_provisional_count(tmp_path):
    calendar = overrides(tmp_path, holidays=["2027-01-01"], workdays=["2027-01-02"])
    result = due("2026-12-31 10:00", calendar=calendar)  # after 12-31: 01-02 (a Saturday made a workday), 01-04
    assert iso(result.resolve_due) == "2027-01-04T17:30:00+08:00" and result.provisional
    only_workday = overrides(tmp_path, workdays=["2027-01-02"])
    assert iso(due("2026-12-31 10:00", calendar=only_workday).resolve_due) == "2027-01-02T17:30:00+08:00"


def test_overrides_file_keys_are_optional(tmp_path):
    assert overrides(tmp_path).is_working_day(d("2026-11-23"))
    assert not overrides(tmp_path, holidays=["2026-11-23"]).is_working_day(d("2026-11-23"))


@pytest.mark.parametrize(("content", "problem"), [
    ("{not json", "overrides.json"),
    ('{"holidays": ["2026-13-01"]}', "holidays.0"),
    ('{"holidays": ["2026/10/01"]}', "holidays.0"),
    ('{"holidays": [20261001]}', "holidays.0"),
    ('{"holidays": "2026-10-01"}', "holidays"),
    ('{"holiday": ["2026-10-01"]}', "holiday"),
    ('["2026-10-01"]', "overrides.json"),
    ('{"holidays": ["2026-11-24"], "workdays": ["2026-11-24"]}', "2026-11-24"),
])
def test_bad_overrides_files_are_named(tmp_path, content, problem):
    path = tmp_path / "overrides.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match="overrides.json") as caught:
        WorkingCalendar.load(path)
    assert problem in str(caught.value)


def test_a_missing_overrides_file_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="missing.json"):
        WorkingCalendar.load(tmp_path / "missing.json")


# -- time zones -------------------------------------------------------------------------------
def test_other_zones_are_converted_to_shanghai():
    # 02:00 UTC is 10:00 in Shanghai; 23:00 UTC on Sunday is 07:00 Monday.
    result = deadline_for(dt.datetime(2026, 11, 23, 2, 0, tzinfo=UTC), complexity="ordinary", calendar=CALENDAR, hours=HOURS)
    assert iso(result.dispatch_due) == "2026-11-23T11:00:00+08:00" and iso(result.resolve_due) == "2026-11-25T17:30:00+08:00"
    result = deadline_for(dt.datetime(2026, 11, 22, 23, 0, tzinfo=UTC), complexity="ordinary", calendar=CALENDAR, hours=HOURS)
    assert iso(result.dispatch_due) == "2026-11-23T10:00:00+08:00"
    # A dispatch at 17:00 UTC is the next Shanghai day.
    result = deadline_for(at("2026-11-23 10:00"), complexity="ordinary", dispatched=dt.datetime(2026, 11, 23, 17, 0, tzinfo=UTC),
                          calendar=CALENDAR, hours=HOURS)
    assert iso(result.resolve_due) == "2026-11-26T17:30:00+08:00"
    assert parse_aware_iso("2026-11-23T02:00:00Z") == at("2026-11-23 10:00")


def test_naive_times_and_unknown_complexity_are_refused():
    naive = dt.datetime(2026, 11, 23, 10, 0)
    with pytest.raises(ValueError, match="offset"):
        deadline_for(naive, complexity="ordinary", calendar=CALENDAR, hours=HOURS)
    with pytest.raises(ValueError, match="offset"):
        deadline_for(at("2026-11-23 10:00"), complexity="ordinary", dispatched=naive, calendar=CALENDAR, hours=HOURS)
    with pytest.raises(ValueError, match="offset"):
        warning_for(naive, at("2026-11-23 10:00"), calendar=CALENDAR, yellow_working_days=2)
    with pytest.raises(ValueError, match="complexity"):
        deadline_for(at("2026-11-23 10:00"), complexity="urgent", calendar=CALENDAR, hours=HOURS)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="offset"):
        parse_aware_iso("2026-11-23T10:00:00")
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_aware_iso("next Monday")


# -- business hours specs -------------------------------------------------------------------------
def test_business_hours_parse():
    assert [(w.start, w.end) for w in HOURS.windows] == [(dt.time(9), dt.time(12)), (dt.time(13, 30), dt.time(17, 30))]
    assert BusinessHours.parse(" 09:00 - 12:00 , 13:30-17:30 ") == HOURS
    assert HOURS.close_of_business == dt.time(17, 30)


@pytest.mark.parametrize(("spec", "problem"), [
    ("", "empty"),
    ("   ", "empty"),
    ("9-12", "HH:MM-HH:MM"),
    ("09:00-12:00;13:30-17:30", "HH:MM-HH:MM"),
    ("09:00-12:00,", "HH:MM-HH:MM"),
    ("25:00-26:00", "time of day"),
    ("09:60-12:00", "time of day"),
    ("12:00-09:00", "ends before it starts"),
    ("09:00-09:00", "ends before it starts"),
    ("09:00-12:00,11:00-13:00", "overlap"),
    ("13:30-17:30,09:00-12:00", "in order"),
])
def test_bad_business_hours_specs(spec, problem):
    with pytest.raises(ValueError, match=problem):
        BusinessHours.parse(spec)


# -- warnings -----------------------------------------------------------------------------------
WED_DUE = at("2026-11-25 17:30")  # the ordinary order filed Monday 2026-11-23 10:00


@pytest.mark.parametrize(("now", "yellow_days", "expected"), [
    ("2026-11-23 10:00", 2, ("yellow", False, 2)),  # Tue, Wed left
    ("2026-11-23 10:00", 1, ("green", False, 2)),
    ("2026-11-20 10:00", 2, ("green", False, 3)),  # the Friday before: Mon, Tue, Wed (the weekend does not count)
    ("2026-11-24 23:59", 1, ("yellow", False, 1)),
    ("2026-11-24 09:00", 0, ("green", False, 1)),
    ("2026-11-25 00:00", 2, ("red", False, 0)),  # the due day
    ("2026-11-25 17:30", 2, ("red", False, 0)),  # exactly at the deadline: not yet overdue
    ("2026-11-25 17:30:01", 2, ("red", True, 0)),
    ("2026-11-26 09:00", 2, ("red", True, 0)),
])
def test_warning_colours_at_the_boundaries(now, yellow_days, expected):
    w = warning_for(WED_DUE, at(now), calendar=CALENDAR, yellow_working_days=yellow_days)
    assert (w.colour, w.overdue, w.working_days_left) == expected


def test_warning_counts_working_days_across_national_day():
    due_day = at("2026-10-09 17:30")
    assert warning_for(due_day, at("2026-09-30 10:00"), calendar=CALENDAR, yellow_working_days=2).working_days_left == 2  # 10-08, 10-09
    w = warning_for(due_day, at("2026-09-29 10:00"), calendar=CALENDAR, yellow_working_days=2)
    assert (w.colour, w.working_days_left) == ("green", 3)
    saturday_due = at("2026-10-10 17:30")  # the make-up Saturday counts
    assert warning_for(saturday_due, at("2026-10-08 10:00"), calendar=CALENDAR, yellow_working_days=2).working_days_left == 2


def test_warning_uses_the_shanghai_date():
    # 16:30 UTC on the 24th is already 00:30 on the due day in Shanghai.
    w = warning_for(WED_DUE.astimezone(UTC), dt.datetime(2026, 11, 24, 16, 30, tzinfo=UTC), calendar=CALENDAR, yellow_working_days=0)
    assert (w.colour, w.overdue) == ("red", False)


# -- the CLI ---------------------------------------------------------------------------------------
@pytest.fixture
def run(monkeypatch):
    for name in ("GOVLIVE_BUSINESS_HOURS", "GOVLIVE_CALENDAR_OVERRIDES_FILE"):
        monkeypatch.delenv(name, raising=False)

    def invoke(*args: str):
        return CliRunner().invoke(cli, ["workorder", "deadline", *args])

    return invoke


def test_cli_prints_one_json_line(run):
    result = run("--created", "2026-11-23T02:00:00.250Z", "--complexity", "ordinary")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("\n") == 1 and result.stderr == ""
    assert json.loads(result.stdout) == {
        "dispatch_due": "2026-11-23T11:00:00+08:00", "resolve_due": "2026-11-25T17:30:00+08:00", "provisional": False}
    result = run("--created", "2026-11-23T10:00:00+08:00", "--dispatched", "2026-11-25T16:00:00+08:00", "--complexity", "complex")
    assert json.loads(result.stdout)["resolve_due"] == "2026-12-02T17:30:00+08:00"


def test_cli_warns_on_stderr_when_provisional(run):
    result = run("--created", "2026-12-30T17:00:00+08:00", "--complexity", "ordinary")
    assert result.exit_code == 0
    out = json.loads(result.stdout)
    assert out["provisional"] is True and out["resolve_due"] == "2027-01-04T17:30:00+08:00" and "2027" in out["provisional_reason"]
    assert "Warning" in result.stderr and "2027" in result.stderr


def test_cli_options_and_settings_defaults(run, tmp_path, monkeypatch):
    path = tmp_path / "local.json"
    path.write_text('{"holidays": ["2026-11-24"]}', encoding="utf-8")
    args = ("--created", "2026-11-23T16:30:00+08:00", "--complexity", "ordinary")
    assert json.loads(run(*args).stdout)["dispatch_due"] == "2026-11-23T17:30:00+08:00"
    by_option = json.loads(run(*args, "--business-hours", "08:30-17:00", "--calendar-overrides", str(path)).stdout)
    assert by_option == {"dispatch_due": "2026-11-25T09:00:00+08:00", "resolve_due": "2026-11-27T17:00:00+08:00", "provisional": False}
    monkeypatch.setenv("GOVLIVE_BUSINESS_HOURS", "08:30-17:00")
    monkeypatch.setenv("GOVLIVE_CALENDAR_OVERRIDES_FILE", str(path))
    assert json.loads(run(*args).stdout) == by_option


@pytest.mark.parametrize(("args", "message"), [
    (("--created", "yesterday"), "ISO 8601"),
    (("--created", "2026-11-23T10:00:00"), "offset"),
    (("--created", "2026-11-23T10:00:00+08:00", "--dispatched", "2026-11-23"), "offset"),
    (("--created", "2026-11-23T10:00:00+08:00", "--business-hours", "17:30-09:00"), "ends before it starts"),
    (("--created", "2026-11-23T10:00:00+08:00", "--calendar-overrides", "{missing}"), "missing.json"),
    (("--created", "2026-11-23T10:00:00+08:00", "--calendar-overrides", "{bad}"), "bad.json"),
])
def test_cli_errors(run, tmp_path, args, message):
    bad = tmp_path / "bad.json"
    bad.write_text('{"holidays": ["not a date"]}', encoding="utf-8")
    args = tuple(a.format(missing=tmp_path / "missing.json", bad=bad) for a in args)
    result = run(*args, "--complexity", "ordinary")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("Error: ") and message in result.stderr


def test_cli_rejects_an_unknown_complexity(run):
    result = run("--created", "2026-11-23T10:00:00+08:00", "--complexity", "urgent")
    assert result.exit_code == 2 and "urgent" in result.stderr
