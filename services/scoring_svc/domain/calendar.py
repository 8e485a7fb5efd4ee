"""ISO weeks, calendar months and quarters in the organisation's time zone, as UTC instants."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Granularity = Literal["week", "month", "quarter"]
WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


FIRST_YEAR, LAST_YEAR = 1970, 2999


class PeriodError(ValueError):
    """A week or quarter label that does not exist (or lies outside 1970-2999)."""


def _year(value: str, label: str) -> int:
    year = int(value)
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise PeriodError(f"{label!r}: years {FIRST_YEAR}-{LAST_YEAR} only")
    return year


@dataclass(frozen=True, slots=True)
class Period:
    label: str
    start: datetime
    end: datetime  # exclusive


def _at_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz)


def week(label: str, tz: ZoneInfo) -> Period:
    """`2026-W47` → [Monday 00:00, next Monday 00:00) in the zone."""
    found = WEEK.match(label)
    if not found:
        raise PeriodError(f"{label!r} is not an ISO week such as 2026-W47")
    try:
        monday = date.fromisocalendar(_year(found.group(1), label), int(found.group(2)), 1)
    except ValueError:
        raise PeriodError(f"{label!r} is not an ISO week of its year") from None
    return Period(label, _at_midnight(monday, tz), _at_midnight(monday + timedelta(7), tz))


def week_of(at: datetime, tz: ZoneInfo) -> Period:
    year, number, _ = at.astimezone(tz).date().isocalendar()
    return week(f"{year}-W{number:02d}", tz)


def quarter(label: str, tz: ZoneInfo) -> Period:
    """`2027-Q1` → [1 Jan 00:00, 1 Apr 00:00) in the zone."""
    found = QUARTER.match(label)
    if not found:
        raise PeriodError(f"{label!r} is not a quarter such as 2027-Q1")
    year, q = _year(found.group(1), label), int(found.group(2))
    start = date(year, 3 * q - 2, 1)
    end = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
    return Period(label, _at_midnight(start, tz), _at_midnight(end, tz))


def quarter_of(at: datetime, tz: ZoneInfo) -> Period:
    local = at.astimezone(tz)
    return quarter(f"{local.year}-Q{(local.month - 1) // 3 + 1}", tz)


def quarters(first: str, last: str, tz: ZoneInfo) -> list[Period]:
    """Every quarter from `first` to `last`, both included."""
    out = [quarter(first, tz)]
    end = quarter(last, tz)
    while out[-1].start < end.start:
        out.append(quarter_of(out[-1].end, tz))
    return out


def _period_of(day: date, granularity: Granularity, tz: ZoneInfo) -> Period:
    if granularity == "week":
        year, number, _ = day.isocalendar()
        return week(f"{year}-W{number:02d}", tz)
    if granularity == "quarter":
        return quarter(f"{day.year}-Q{(day.month - 1) // 3 + 1}", tz)
    start = date(day.year, day.month, 1)
    end = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return Period(f"{day:%Y-%m}", _at_midnight(start, tz), _at_midnight(end, tz))


def periods(first: date, until: date, granularity: Granularity, tz: ZoneInfo) -> list[Period]:
    """The periods covering [first, until) (`until` exclusive), each clipped to that range."""
    lo, hi = _at_midnight(first, tz), _at_midnight(until, tz)
    out: list[Period] = []
    day = first
    while _at_midnight(day, tz) < hi:
        p = _period_of(day, granularity, tz)
        out.append(Period(p.label, max(p.start, lo), min(p.end, hi)))
        day = p.end.date()
    return out


def span(first: date, until: date, tz: ZoneInfo) -> Period:
    """[first 00:00, until 00:00) in the zone, as one period."""
    return Period(f"{first}/{until}", _at_midnight(first, tz), _at_midnight(until, tz))
