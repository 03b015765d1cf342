"""Arrow values as validation reports show them: `datakeep.pyvalues` converts (values Python
cannot hold become text), and `jsonable` makes them what a JSON report carries."""

from __future__ import annotations

from typing import Any

from datakeep.pyvalues import as_python

__all__ = ["as_python", "jsonable"]


def jsonable(value: Any) -> Any:
    """A Python value as JSON can carry it: dates and times become ISO text, NaN null."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return None if value != value else value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
