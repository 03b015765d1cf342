"""Colour that respects NO_COLOR and only appears on terminals."""

from __future__ import annotations

import os
import sys

_CODES = {"green": "32", "red": "31", "yellow": "33", "bold": "1", "dim": "2", "cyan": "36"}


def use_color(stream: object = None) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


def paint(text: str, color: str, enabled: bool) -> str:
    return f"\x1b[{_CODES[color]}m{text}\x1b[0m" if enabled else text


def human_bytes(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def count(n: int) -> str:
    return f"{n:,}"


def told_apart(old: object, new: object, shown: tuple[str, str]) -> tuple[str, str]:
    """``shown`` (a changed cell's old and new value as printed), or the two floats in full when
    rounding printed them alike: 99.99 against 99.99000000000001, as a unit scale leaves it."""
    if shown[0] == shown[1] and isinstance(old, float) and isinstance(new, float) and old != new:
        return repr(old), repr(new)
    return shown
