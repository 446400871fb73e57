"""The "125" clock: when a work order must be dispatched and when it must be closed.

Yueyang's rule: dispatched within 1 working hour, closed within 2 (ordinary)
or 5 (complex) working days. Both count on China's real working-day calendar
— public holidays and the 调休 make-up Saturdays/Sundays — which comes from
``chinesecalendar`` plus a city's own overrides. Everything is computed in
Asia/Shanghai time.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from itertools import islice
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import chinese_calendar
from pydantic import BaseModel, ConfigDict, ValidationError

from assistant.ingest.record import SHANGHAI

Complexity = Literal["ordinary", "complex"]
Colour = Literal["green", "yellow", "red"]

DISPATCH_WITHIN = dt.timedelta(hours=1)
RESOLVE_WITHIN_WORKING_DAYS: dict[str, int] = {"ordinary": 2, "complex": 5}

# chinesecalendar raises NotImplementedError outside the years it has data
# for; asking it once here keeps that knowledge in one place.
_FIRST_COVERED_YEAR = min(chinese_calendar.holidays).year
_LAST_COVERED_YEAR = max(chinese_calendar.holidays).year
# A calendar whose overrides declare a whole year of holidays would otherwise
# make the search for the next working day loop for ever.
_MAX_DAYS_WITHOUT_WORK = 366


# -- business hours -------------------------------------------------------------------
@dataclass(frozen=True)
class Window:
    """One stretch of a working day during which the clock runs, e.g. 09:00–12:00."""

    start: dt.time
    end: dt.time


_WINDOW_SPEC = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


def _clock_time(hour: str, minute: str, window: str) -> dt.time:
    h, m = int(hour), int(minute)
    if not (0 <= h <= 23 and 0 <= m <= 59):
        raise ValueError(f"business hours window {window!r}: {hour}:{minute} is not a time of day (00:00–23:59)")
    return dt.time(h, m)


@dataclass(frozen=True)
class BusinessHours:
    """The windows of a working day, in order and not overlapping (lunch is the gap between them)."""

    windows: tuple[Window, ...]

    def __post_init__(self) -> None:
        if not self.windows:
            raise ValueError("business hours need at least one window, e.g. '09:00-12:00,13:30-17:30'")
        previous: Window | None = None
        for window in self.windows:
            if window.end <= window.start:
                raise ValueError(f"business hours window {window.start:%H:%M}-{window.end:%H:%M} ends before it starts")
            if previous is not None and window.start < previous.end:
                raise ValueError(
                    f"business hours windows must be in order and not overlap: {window.start:%H:%M}-{window.end:%H:%M} "
                    f"starts before {previous.start:%H:%M}-{previous.end:%H:%M} ends"
                )
            previous = window

    @classmethod
    def parse(cls, spec: str) -> BusinessHours:
        """``"09:00-12:00,13:30-17:30"`` → two windows."""
        if not spec.strip():
            raise ValueError("business hours are empty; expected e.g. '09:00-12:00,13:30-17:30'")
        windows = []
        for part in (part.strip() for part in spec.split(",")):
            match = _WINDOW_SPEC.match(part)
            if match is None:
                raise ValueError(f"business hours window {part!r} is not HH:MM-HH:MM (spec {spec!r})")
            start_h, start_m, end_h, end_m = match.groups()
            windows.append(Window(_clock_time(start_h, start_m, part), _clock_time(end_h, end_m, part)))
        return cls(tuple(windows))

    @property
    def close_of_business(self) -> dt.time:
        return self.windows[-1].end


# -- the working-day calendar -----------------------------------------------------------
class CalendarOverrides(BaseModel):
    """The overrides file: ``{"holidays": ["YYYY-MM-DD", …], "workdays": ["YYYY-MM-DD", …]}``."""

    # Strict: only "YYYY-MM-DD" strings are dates, and a misspelt key is an
    # error rather than a silently ignored holiday.
    model_config = ConfigDict(extra="forbid", strict=True)

    holidays: list[dt.date] = []
    workdays: list[dt.date] = []


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "the top level"
        problems.append(f"{where}: {item['msg']} (got {item['input']!r})")
    return "; ".join(problems)


class WorkingCalendar:
    """Which days are working days: chinesecalendar, with the overrides winning.

    For years chinesecalendar has no data for (the State Council publishes
    each year's holidays late in the year before), Monday–Friday are working
    days plus the overrides; :meth:`covers` tells such "provisional" days apart.
    """

    def __init__(self, holidays: Iterable[dt.date] = (), workdays: Iterable[dt.date] = ()):
        self.holidays = frozenset(holidays)
        self.workdays = frozenset(workdays)
        both = self.holidays & self.workdays
        if both:
            raise ValueError(f"dates both holiday and workday: {', '.join(sorted(d.isoformat() for d in both))}")

    @classmethod
    def load(cls, overrides_file: Path | None) -> WorkingCalendar:
        if overrides_file is None:
            return cls()
        try:
            text = Path(overrides_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"calendar overrides file {overrides_file}: cannot read it: {exc}") from None
        try:
            overrides = CalendarOverrides.model_validate_json(text)
        except ValidationError as exc:
            raise ValueError(
                f"calendar overrides file {overrides_file} is not valid "
                f'{{"holidays": ["YYYY-MM-DD", …], "workdays": ["YYYY-MM-DD", …]}}: {_describe(exc)}'
            ) from None
        try:
            return cls(overrides.holidays, overrides.workdays)
        except ValueError as exc:
            raise ValueError(f"calendar overrides file {overrides_file}: {exc}") from None

    @staticmethod
    def covers(day: dt.date) -> bool:
        """Whether chinesecalendar has the official holiday arrangement for ``day``'s year."""
        return _FIRST_COVERED_YEAR <= day.year <= _LAST_COVERED_YEAR

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        if self.covers(day):
            return chinese_calendar.is_workday(day)
        return day.weekday() < 5

    def working_days_after(self, day: dt.date) -> Iterator[dt.date]:
        """The working days strictly after ``day``, in order (endless)."""
        idle = 0
        while True:
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                idle = 0
                yield day
            else:
                idle += 1
                if idle > _MAX_DAYS_WITHOUT_WORK:
                    raise ValueError(f"no working day in the {_MAX_DAYS_WITHOUT_WORK} days before {day.isoformat()}; check the calendar overrides")


# -- deadlines --------------------------------------------------------------------------
class Deadlines(BaseModel):
    dispatch_due: dt.datetime
    resolve_due: dt.datetime
    # True when a day in the computation falls in a year chinesecalendar has
    # no data for, so a holiday announced later could move the deadline.
    provisional: bool
    provisional_reason: str | None = None


def in_shanghai(value: dt.datetime, name: str = "time") -> dt.datetime:
    """``value`` in Asia/Shanghai; a naive datetime is refused because its zone would be a guess."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} {value.isoformat()} has no UTC offset; give one, e.g. {value.isoformat()}+08:00")
    return value.astimezone(SHANGHAI)


def parse_aware_iso(value: str, name: str = "time") -> dt.datetime:
    """An ISO 8601 time with a UTC offset (``Z`` allowed), in Asia/Shanghai."""
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} {value!r} is not an ISO 8601 time, e.g. 2026-09-30T15:00:00+08:00") from None
    return in_shanghai(parsed, name)


def _at(day: dt.date, time: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, time, tzinfo=SHANGHAI)


def add_working_time(start: dt.datetime, duration: dt.timedelta, *, calendar: WorkingCalendar, hours: BusinessHours) -> dt.datetime:
    """``start`` plus ``duration`` of clock time counted only inside business hours on working days.

    A start outside a window (before opening, at lunch, after hours, on a
    holiday) counts from the next window's opening.
    """
    start = in_shanghai(start, "start")
    remaining = duration
    day, cursor = start.date(), start
    idle = 0
    while True:
        if calendar.is_working_day(day):
            idle = 0
            for window in hours.windows:
                opens, closes = _at(day, window.start), _at(day, window.end)
                if cursor >= closes:
                    continue
                begin = max(cursor, opens)
                available = closes - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
        else:
            idle += 1
            if idle > _MAX_DAYS_WITHOUT_WORK:
                raise ValueError(f"no working day in the {_MAX_DAYS_WITHOUT_WORK} days after {start.isoformat()}; check the calendar overrides")
        day += dt.timedelta(days=1)
        cursor = _at(day, dt.time(0, 0))


def _provisional_reason(first: dt.date, last: dt.date) -> str | None:
    uncovered = [year for year in range(first.year, last.year + 1) if not WorkingCalendar.covers(dt.date(year, 1, 1))]
    if not uncovered:
        return None
    years = "、".join(str(year) for year in uncovered)
    return (f"{years} 年的节假日安排尚未发布或不在 chinesecalendar 覆盖范围内"
            f"（覆盖 {_FIRST_COVERED_YEAR}–{_LAST_COVERED_YEAR} 年），按周一至周五加自定义调整计算")


def deadline_for(
    created: dt.datetime,
    *,
    complexity: Complexity,
    dispatched: dt.datetime | None = None,
    calendar: WorkingCalendar,
    hours: BusinessHours,
) -> Deadlines:
    """The 125-rule deadlines of an order whose clock started at ``created``.

    ``resolve_due`` is close of business of the 2nd (ordinary) or 5th
    (complex) working day after the dispatch date — the dispatch day itself is
    not counted (民法典 第二百零一条: a period counted in days starts the next
    day). Until the order is dispatched, the dispatch date is ``dispatch_due``'s.
    """
    if complexity not in RESOLVE_WITHIN_WORKING_DAYS:
        raise ValueError(f"complexity must be one of {', '.join(RESOLVE_WITHIN_WORKING_DAYS)}, not {complexity!r}")
    created = in_shanghai(created, "created")
    dispatch_due = add_working_time(created, DISPATCH_WITHIN, calendar=calendar, hours=hours)
    if dispatched is not None:
        dispatched = in_shanghai(dispatched, "dispatched")
        if dispatched < created:
            raise ValueError(f"dispatched {dispatched.isoformat()} is before created {created.isoformat()}")
    counted_from = (dispatched or dispatch_due).date()
    *_, due_day = islice(calendar.working_days_after(counted_from), RESOLVE_WITHIN_WORKING_DAYS[complexity])
    resolve_due = _at(due_day, hours.close_of_business)
    reason = _provisional_reason(created.date(), resolve_due.date())
    return Deadlines(dispatch_due=dispatch_due, resolve_due=resolve_due, provisional=reason is not None, provisional_reason=reason)


# -- traffic lights ---------------------------------------------------------------------
class DeadlineWarning(BaseModel):
    colour: Colour
    overdue: bool
    # Working days after today up to and including the due day; 0 on the due day and after it.
    working_days_left: int


# The name the rest of govlive uses; the class itself is named so that it does
# not shadow Python's built-in Warning inside this module.
Warning = DeadlineWarning


def warning_for(resolve_due: dt.datetime, now: dt.datetime, *, calendar: WorkingCalendar, yellow_working_days: int) -> DeadlineWarning:
    """Kulun's traffic light for an open order: red on the due day and once overdue, yellow when few working days remain."""
    resolve_due = in_shanghai(resolve_due, "resolve_due")
    now = in_shanghai(now, "now")
    if now > resolve_due:
        return DeadlineWarning(colour="red", overdue=True, working_days_left=0)
    today, due_day = now.date(), resolve_due.date()
    if today == due_day:
        return DeadlineWarning(colour="red", overdue=False, working_days_left=0)
    left = sum(1 for offset in range(1, (due_day - today).days + 1) if calendar.is_working_day(today + dt.timedelta(days=offset)))
    colour: Colour = "yellow" if left <= yellow_working_days else "green"
    return DeadlineWarning(colour=colour, overdue=False, working_days_left=left)
