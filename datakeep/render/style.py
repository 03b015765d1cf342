"""Colour that respects NO_COLOR and only appears on terminals; numbers, names and cells cut to fit."""

from __future__ import annotations

import os
import sys
import unicodedata
from collections.abc import Callable, Sequence

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


#: Past this many, a list of names (datasets, files) is told as a count and the first few of them.
HANDFUL = 5


def a_few(names: Sequence[str], *, shown: int = 3, width: int = 60) -> str:
    """The first ``shown`` of ``names`` (each cut to ``width``), then how many more: a list of
    thousands stays one short line."""
    listed = ", ".join(cut_middle(name, width) for name in names[:shown])
    rest = len(names) - shown
    return f"{listed}, … and {count(rest)} more" if rest > 0 else listed


def cut_middle(text: str, width: int) -> str:
    """``text`` in ``width`` characters, cut in the middle: names of one family share their
    beginning (customer_address_line_1, _2, _3) and differ at the end."""
    if len(text) <= width:
        return text
    tail = (width - 1) // 2
    return text[: width - 1 - tail] + "…" + text[len(text) - tail :]


def cell_text(value: object, width: int | None = None) -> str:
    """A sample's cell as the reports write it: text quoted, with escapes for what would not show
    (a newline, a zero-width space); a float NaN as NaN, bare, so it is not the text 'nan'; null
    as null. Cut to ``width`` characters, except numbers; None writes it whole."""
    if value is None:
        return "null"
    if isinstance(value, float):
        if value != value:
            return "NaN"
        return repr(value) if width is None else f"{value:.10g}"
    text = repr(value) if isinstance(value, str) else str(value)
    if width is None or len(text) <= width:
        return text
    if isinstance(value, str):  # keep the closing quote: the value goes on past the cut
        return text[: width - 2] + "…" + text[-1]
    return text[: width - 1] + "…"


def told_apart(
    old: object, new: object, shown: tuple[str, str], full: Callable[[object], str] = str
) -> tuple[str, str]:
    """``shown`` (a changed cell's old and new value as printed), or what tells them apart when
    they printed alike: two floats in full (99.99 against 99.99000000000001, as a unit scale
    leaves it); two long values cut short, from a little before their first difference (UUIDs,
    paths and URLs share long beginnings); two texts that print alike in full (café written
    precomposed and with a combining accent) with every character past ASCII escaped. ``full``
    writes a whole value."""
    if not _alike(*shown) or old == new:
        return shown
    if isinstance(old, float) and isinstance(new, float):
        return repr(old), repr(new)
    texts = full(old), full(new)
    if _alike(*texts) and isinstance(old, str) and isinstance(new, str):
        texts = ascii(old), ascii(new)
    if _alike(*texts):
        return shown
    old_text, new_text = texts
    shared = min(len(old_text), len(new_text))
    first = next((i for i in range(shared) if old_text[i] != new_text[i]), shared)
    width = max(len(shown[0]), 12)
    if all(len(t) <= width for t in texts):
        return texts
    start = max(0, first - width // 3)
    return _window(texts[0], start, width), _window(texts[1], start, width)


def _alike(a: str, b: str) -> bool:
    """Whether two printed values look the same: equal, or equal once composed (an accent
    written as its own combining character prints as the precomposed letter)."""
    return a == b or unicodedata.normalize("NFC", a) == unicodedata.normalize("NFC", b)


def _window(text: str, start: int, width: int) -> str:
    """``text`` from ``start``, cut to ``width`` characters, each cut marked with an ellipsis;
    a quoted text keeps both its quotes, so a cut value still reads as text."""
    quote = text[0] if len(text) >= 2 and text[0] in "'\"" and text[-1] == text[0] else ""
    if quote:
        return quote + _window(text[1:-1], max(start - 1, 0), max(width - 2, 3)) + quote
    prefix = "…" if start else ""
    piece = text[start:]
    room = width - len(prefix)
    return prefix + (piece if len(piece) <= room else piece[: room - 1] + "…")
