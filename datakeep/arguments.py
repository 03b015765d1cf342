"""Arguments as Python callers and the command line give them, read one way.

A string where a list goes is one item (iterating it would give its letters: `key="id"` was the
key ('i', 'd')); ``"NAME=VALUE"`` strings are read as the CLI's flags are; a number is a number.
Anything else is a `UsageError` naming the argument.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping

from datakeep.errors import UsageError

Names = str | Iterable[str]


def names(value: Names, what: str) -> tuple[str, ...]:
    """A list of names, or one as a plain string."""
    if isinstance(value, str):
        return (value,)
    try:
        items = tuple(value)
    except TypeError:
        raise UsageError(
            f"{what} takes a list of strings, or one string, not {value!r}", f"e.g. {what}=['a', 'b'] or {what}='a'"
        ) from None
    wrong = next((n for n in items if not isinstance(n, str)), None)
    if wrong is not None:
        raise UsageError(f"{what} takes strings; got {wrong!r} in {value!r}", f"e.g. {what}=['a', 'b']")
    return items


def key_columns(value: Names | None) -> tuple[str, ...]:
    """Key columns as ``--key`` takes them: each item may be comma-separated; None is no key."""
    parts = names(value, "key") if value is not None else ()
    columns = tuple(k.strip() for part in parts for k in part.split(",") if k.strip())
    repeated = sorted(c for c, times in collections.Counter(columns).items() if times > 1)
    if repeated:
        raise UsageError(
            f"key column(s) named twice: {', '.join(repeated)}", "name each key column once, e.g. --key id,date"
        )
    return columns


def pairs(value: Mapping[str, object] | Names, what: str) -> dict[str, object]:
    """A mapping as it is; ``"NAME=VALUE"`` strings (one, or a list) as a flag reads them."""
    if isinstance(value, Mapping):
        return dict(value)
    out: dict[str, object] = {}
    for text in names(value, what):
        left, sep, right = text.partition("=")
        if not sep or not left.strip() or not right.strip():
            raise UsageError(f"{what} expects NAME=VALUE, got {text!r}", f"e.g. {what} amount=0.01")
        out[left.strip()] = right.strip()
    return out


def number(value: object, what: str) -> float:
    """``value`` as a float; True is no number, though Python would take it for 1.0."""
    if not isinstance(value, bool):
        try:
            return float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            pass
    raise UsageError(f"{what}: {value!r} is not a number", "e.g. amount=0.01")
