"""A column's top values are the same list however they are picked: only the values that can
reach the top are ordered, and that gives what sorting every counted value gave."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from datakeep import top_values as ranking
from datakeep.temporal_text import time_order

NAN = float("nan")


def _sorting_all(counts: dict[Any, int], order: Callable[[Any], Any] = ranking.nan_last) -> list[Any]:
    """The top values as they were always ranked: every value sorted by ``order``, then stably by
    count (values that do not compare, by their text)."""
    try:
        ordered = sorted(counts, key=order)
    except TypeError:
        ordered = sorted(counts, key=str)
    return sorted(ordered, key=counts.__getitem__, reverse=True)[: ranking.TOP_VALUES]


def _counted(pairs: list[tuple[Any, int]]) -> dict[Any, int]:
    """Counts added up as `stats._merge_counts` adds them (each NaN read is its own key)."""
    counts: dict[Any, int] = {}
    for value, count in pairs:
        counts[value] = counts.get(value, 0) + count
    return counts


def _same(counts: dict[Any, int], order: Callable[[Any], Any] = ranking.nan_last) -> None:
    expected = _sorting_all(counts, order)
    # Picking first is tried on every size of counts, not only past SORT_ALL_UP_TO.
    for sort_all_up_to in (ranking.SORT_ALL_UP_TO, 0):
        with pytest.MonkeyPatch.context() as patched:
            patched.setattr(ranking, "SORT_ALL_UP_TO", sort_all_up_to)
            got = ranking.top_values(counts, order)
        # NaNs compare to nothing: the same objects, in the same places.
        assert [id(v) for v in got] == [id(v) for v in expected]


# Few distinct counts, so ties at the cut are the rule; -0.0 beside 0 and True beside 1 fold
# into one key as they do in a dict; every NaN drawn is a new float object, a key of its own.
_COUNT = st.integers(1, 4)
_NUMBER = st.one_of(
    st.integers(-30, 30), st.booleans(), st.floats(allow_nan=True, allow_infinity=True), st.just(0.0), st.just(-0.0)
)
_TEXT = st.text(alphabet="ab\u00e9\U0001f600 1", max_size=3)


@settings(max_examples=150, deadline=None)
@given(pairs=st.lists(st.tuples(st.integers(-40, 40), _COUNT), max_size=300))
def test_integers_rank_as_sorting_all(pairs: list[tuple[int, int]]) -> None:
    _same(_counted(pairs))


@settings(max_examples=150, deadline=None)
@given(pairs=st.lists(st.tuples(_NUMBER, _COUNT), max_size=300))
@example(pairs=[(NAN, 1)] * 30 + [(float(i), 1) for i in range(5)])
@example(pairs=[(float("nan"), 2) for _ in range(25)] + [(1, 1), (2.5, 3)])
def test_numbers_with_nans_rank_as_sorting_all(pairs: list[tuple[Any, int]]) -> None:
    _same(_counted([(float("nan") if isinstance(v, float) and v != v else v, c) for v, c in pairs]))


@settings(max_examples=150, deadline=None)
@given(pairs=st.lists(st.tuples(_TEXT, _COUNT), max_size=300))
def test_text_ranks_as_sorting_all(pairs: list[tuple[str, int]]) -> None:
    _same(_counted(pairs))


@settings(max_examples=100, deadline=None)
@given(pairs=st.lists(st.tuples(st.one_of(_NUMBER, _TEXT, st.none()), _COUNT), max_size=200))
def test_mixed_kinds_rank_as_sorting_all(pairs: list[tuple[Any, int]]) -> None:
    """Text beside numbers (or None) does not compare: ordered by its text, as always."""
    _same(_counted(pairs))


def test_many_values_counted_once_rank_the_least_first() -> None:
    """A folder's unique values (400,000 ids of 20,000 files): all tied at 1, the smallest win."""
    counts = dict.fromkeys(range(5_000, 0, -1), 1) | {7: 3, 9_999: 2}
    assert ranking.top_values(counts) == [7, 9_999, *(i for i in range(1, 20) if i != 7)]
    floats = {float(i) / 7: 1 for i in range(300, -1, -1)} | {NAN: 1}
    assert ranking.top_values(floats) == [float(i) / 7 for i in range(20)]
    few = {NAN: 1, 2.0: 1}
    assert [id(v) for v in ranking.top_values(few)] == [id(v) for v in (2.0, NAN)]


def test_dates_keep_their_own_order() -> None:
    counts = {f"{year:04d}-01-01": 1 for year in range(1900, 2000)} | {"+10000-01-01": 1, "-0001-01-01": 1}
    _same(counts, time_order)
    assert ranking.top_values(counts, time_order)[0] == "-0001-01-01"
