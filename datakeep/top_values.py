"""The most frequent values of a column's counts, as its statistics keep them (`stats`).

A folder's top values are ranked from every file's counts merged: 20,000 files of 20 rows give
400,000 counted values a column, where sorting them all in value order through a Python key
function took 0.3 s a column of a 20,000-file commit. Only the values that can reach the top
need ordering, and values of one kind order without a key as `nan_last` orders them.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any

TOP_VALUES = 20
#: Counts of up to this many values are ranked by sorting them all: picking first costs more.
SORT_ALL_UP_TO = 64

_NUMBERS = frozenset({int, bool, float})
_TEXT = frozenset({str})


def nan_last(value: Any) -> tuple[bool, Any]:
    return (value != value, value)  # only NaN differs from itself


def top_values(counts: dict[Any, int], order: Callable[[Any], Any] = nan_last) -> list[Any]:
    """The `TOP_VALUES` most frequent values, ties in value order (NaN last; dates and times, as
    ISO text, by ``order=time_order``), as `stats._ranked` ranks them.

    When ``order`` is `nan_last` and the values are all numbers or all text, only the values
    with the ``TOP_VALUES``-th count or more are ordered, which gives the same list: sorting all
    by value and then (stably) by count puts first every value counted more than that count
    (fewer than ``TOP_VALUES``, in value order), then the values counted exactly that, in value
    order. Those kinds order without a key as `nan_last` orders them (no two distinct values
    compare equal, and NaNs, which compare to nothing, come last in the order they were counted,
    as a stable sort keeps them), and never raise the TypeError that has other mixes ordered by
    their text."""
    if order is not nan_last or len(counts) <= SORT_ALL_UP_TO:
        return _sorted_top(counts, order)
    kinds = frozenset(map(type, counts))
    if not (kinds <= _NUMBERS or kinds <= _TEXT):
        return _sorted_top(counts, order)
    cut = heapq.nlargest(TOP_VALUES, counts.values())[-1]
    above: list[Any] = []
    at_cut: list[Any] = []
    for value, count in counts.items():
        if count > cut:
            above.append(value)
        elif count == cut:
            at_cut.append(value)
    # Fewer than TOP_VALUES are counted more than ``cut``: sorted as the whole list sorts them.
    ranked = sorted(sorted(above, key=nan_last), key=counts.__getitem__, reverse=True)
    wanted = TOP_VALUES - len(ranked)
    if float in kinds:
        numbers = [v for v in at_cut if v == v]
        nans = [v for v in at_cut if v != v] if len(numbers) < wanted else []
        return ranked + heapq.nsmallest(wanted, numbers) + nans[: wanted - len(numbers)]
    return ranked + heapq.nsmallest(wanted, at_cut)


def _sorted_top(counts: dict[Any, int], order: Callable[[Any], Any]) -> list[Any]:
    """`top_values` by sorting every value: by ``order``, then stably by count."""
    try:
        ordered = sorted(counts, key=order)
    except TypeError:  # values that do not compare (a column typed two ways over a folder's files)
        ordered = sorted(counts, key=str)
    return sorted(ordered, key=counts.__getitem__, reverse=True)[:TOP_VALUES]
