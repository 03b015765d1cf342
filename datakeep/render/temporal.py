"""Statistics of temporal columns as people read them.

The stored statistics keep a time of day, a duration and every mean as the column's integers (a
mean timestamp is microseconds since 1970): exact, and what drift is computed on. Shown to a
person, they are written in the column's own terms: ``09:30:00``, ``2:00:00``, ``2024-01-01T12:00:00``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

_PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}
_UNIT_TYPE = re.compile(r"(timestamp|time32|time64|duration)\[(s|ms|us|ns)(?:, tz=(.+))?\]$")
_EPOCH = dt.datetime(1970, 1, 1)
_MS_PER_DAY = 86_400_000
_OFFSET = re.compile(r"([+-])(\d\d):?(\d\d)$")


def temporal_value(type_name: str, value: Any) -> str | None:
    """A statistic of a column of canonical type ``type_name`` (a min, a max, a mean) written
    as a value of that type; None when the type is not temporal or the value is not a number."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
        return None
    if type_name.startswith("date"):
        days = value / _MS_PER_DAY if type_name.startswith("date64") else value  # date64 counts ms
        return _shown(lambda: (_EPOCH + dt.timedelta(days=round(days))).date().isoformat())
    match = _UNIT_TYPE.match(type_name)
    if match is None:
        return None
    kind, unit, zone = match.groups()
    per_second = _PER_SECOND[unit]
    if kind == "timestamp":
        return _shown(lambda: _timestamp_text(value / per_second, zone))
    if kind == "duration":
        return _duration_text(value, per_second)
    return _clock_text(value, per_second)


def temporal_spread(type_name: str, value: Any) -> str | None:
    """A standard deviation of such a column, as a duration; None when not temporal."""
    if not isinstance(value, (int, float)) or value != value:
        return None
    if type_name.startswith("date"):
        days = value / _MS_PER_DAY if type_name.startswith("date64") else value
        return f"{days:.3g} days"
    match = _UNIT_TYPE.match(type_name)
    if match is None:
        return None
    per_second = _PER_SECOND[match.group(2)]
    if abs(value) >= 60 * per_second:  # a spread of minutes or more: its microseconds are noise
        value = round(value / per_second) * per_second
    return _duration_text(value, per_second)


def _shown(render: Any) -> str | None:
    try:
        return str(render())
    except (OverflowError, ValueError):  # beyond Python's datetime (years 1..9999)
        return None


def _timestamp_text(seconds: float, zone: str | None) -> str:
    moment = _EPOCH + dt.timedelta(seconds=seconds)
    if zone is None:
        return moment.isoformat()
    aware = moment.replace(tzinfo=dt.timezone.utc)
    offset = _OFFSET.match(zone)
    if offset:  # Arrow also takes a fixed offset ("+05:30") as a time zone
        sign, hours, minutes = offset.groups()
        delta = dt.timedelta(hours=int(hours), minutes=int(minutes))
        return aware.astimezone(dt.timezone(-delta if sign == "-" else delta)).isoformat()
    try:
        from zoneinfo import ZoneInfo

        return aware.astimezone(ZoneInfo(zone)).isoformat()
    except (ValueError, KeyError, OSError):  # a zone this machine lacks: the instant in UTC
        return aware.isoformat()


def _clock_text(value: float, per_second: int) -> str:
    """A time of day: whole seconds as HH:MM:SS, the rest in the unit's own digits."""
    ticks = round(value)
    seconds, fraction = divmod(ticks, per_second)
    hours, rest = divmod(seconds, 3600)
    text = f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    if fraction:
        digits = len(str(per_second)) - 1
        text += "." + f"{fraction:0{digits}d}".rstrip("0")
    return text


def _duration_text(value: float, per_second: int) -> str:
    negative = value < 0
    text = _clock_text(abs(value), per_second)
    hours, rest = text.split(":", 1)
    days, hour = divmod(int(hours), 24)
    text = f"{days}d {hour:02d}:{rest}" if days else f"{hour}:{rest}"
    return "-" + text if negative else text
