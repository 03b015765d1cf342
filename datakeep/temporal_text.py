"""Dates, timestamps and durations beyond Python's range, as text.

Python's ``date`` and ``datetime`` hold the years 1 to 9999 and its ``timedelta`` ±999,999,999
days; Arrow's date32 and date64, its timestamps in s, ms and us and its durations in s and ms
reach far beyond (a typo year 20240, a sentinel of 2^31 days). `pyarrow.Array.to_pylist` raises
on such a value, and statistics, which name values in Python's terms, lost the whole column to
one of them. Here each is written as the text Python would write if its types reached that far:
a date or a timestamp in the ISO form of its neighbours, its year extended as ISO 8601 allows
(``+10001-01-01``, ``-0001-12-31T00:00:00``); a duration as ``str(timedelta)`` does
(``106751991167300 days, 15:30:07``).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pyarrow as pa

#: Days in 400 Gregorian years: after them the calendar, weekdays included, repeats.
CYCLE_DAYS = 146_097
#: 2040-01-01 in days since 1970: a value is shifted by whole cycles into the 400 years from it,
#: years whose time zone offsets are those of the zone's current rules (zone data lists the past
#: and the years to 2037, then one rule for every year after).
_CENTRE_DAYS = 25_567
_PER_DAY = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_YEAR = re.compile(r"[+-]?\d{4,}(?=-)")
_DURATION = re.compile(r"(-?\d+) days?, (\d+):(\d\d):(\d\d)(?:\.(\d{6}))?")
_MICROSECOND = dt.timedelta(microseconds=1)


def value_text(data_type: pa.DataType, value: int) -> str:
    """The text of one value of a date, timestamp or duration type, given as its integer."""
    if pa.types.is_duration(data_type):
        return _duration_text(value, _PER_SECOND[data_type.unit])
    per_day = 1 if pa.types.is_date32(data_type) else 86_400_000 if pa.types.is_date64(data_type) else None
    if per_day is None:
        per_day = _PER_DAY[data_type.unit]
    cycle = CYCLE_DAYS * per_day
    cycles = (value - _CENTRE_DAYS * per_day) // cycle
    # Shifted by whole 400-year cycles, the value is a day of the same date and weekday in the
    # years 2040 to 2439, which Arrow writes as it writes any (its zone's offset included).
    shifted = pa.array([value - cycles * cycle], pa.int64()).cast(pa.int32() if per_day == 1 else pa.int64())
    moment = shifted.view(data_type).to_pylist()[0]
    text: str = moment.isoformat()
    return extended_year(int(text[:4]) + 400 * cycles) + text[4:]


def extended_year(year: int) -> str:
    """Four digits for the years 0 to 9999, and a sign with at least four digits otherwise."""
    return f"{year:04d}" if 0 <= year <= 9999 else f"{year:+05d}"


def time_order(value: Any) -> tuple[int, Any]:
    """A sort key that orders ISO dates and timestamps with extended years (``+10001-…``,
    ``-0001-…``) as the times they name, and durations beside the text of those beyond
    ``timedelta`` as the spans they are; other values keep their own order."""
    if isinstance(value, dt.timedelta):
        return (0, value // _MICROSECOND)
    if isinstance(value, str):
        match = _YEAR.match(value)
        if match is not None:
            return (int(match.group()), value[match.end() :])
        spanned = _DURATION.fullmatch(value)
        if spanned is not None:
            days, hours, minutes, seconds, fraction = (int(part or 0) for part in spanned.groups())
            return (0, ((days * 24 + hours) * 60 + minutes) * 60_000_000 + seconds * 1_000_000 + fraction)
    return (0, value)


def _duration_text(value: int, per_second: int) -> str:
    """``str(timedelta(...))`` of a duration of ``value`` units, exactly, at any size."""
    microseconds = value * 1_000_000 // per_second
    days, rest = divmod(microseconds, 86_400_000_000)
    seconds, fraction = divmod(rest, 1_000_000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    text = f"{hour}:{minute:02d}:{second:02d}"
    if fraction:
        text += f".{fraction:06d}"
    if days:
        text = f"{days} day{'s' if abs(days) != 1 else ''}, {text}"
    return text
