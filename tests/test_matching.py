"""The metadata joins of a diff: the dense (direct-address) join must agree with the sort join."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from datakeep.diff import matching


def _as_codes(values: list[int]) -> np.ndarray:
    return np.array(values, dtype=np.int64).view(np.uint64)


@settings(max_examples=200, deadline=None)
@given(
    st.sets(st.integers(min_value=-50, max_value=400), max_size=120),
    st.sets(st.integers(min_value=-50, max_value=400), max_size=120),
    st.randoms(use_true_random=False),
)
def test_dense_join_pairs_the_same_rows_as_the_sort_join(a: set[int], b: set[int], rng: object) -> None:
    keys_a, keys_b = list(a), list(b)
    rng.shuffle(keys_a)  # type: ignore[attr-defined]
    rng.shuffle(keys_b)  # type: ignore[attr-defined]
    codes_a, codes_b = _as_codes(keys_a), _as_codes(keys_b)
    dense = matching.match_dense(codes_a, codes_b)
    if not keys_a or not keys_b:
        assert dense is None
        return
    assert dense is not None
    order_a, sorted_a = matching.sort(codes_a)
    order_b, sorted_b = matching.sort(codes_b)
    ia, ib = matching.match_sorted(order_a, sorted_a, order_b, sorted_b)
    assert np.array_equal(dense[0], ia) and np.array_equal(dense[1], ib)
    assert [keys_a[i] for i in dense[0]] == sorted(a & b, key=lambda k: k % 2**64)  # unsigned order


def test_dense_join_declines_duplicates_and_sparse_keys() -> None:
    assert matching.match_dense(_as_codes([1, 2, 2]), _as_codes([1, 2])) is None
    assert matching.match_dense(_as_codes([1, 2]), _as_codes([5, 5])) is None
    assert matching.match_dense(_as_codes([0, 10**12]), _as_codes([0])) is None
    random_hashes = np.random.default_rng(0).integers(0, 2**63, 1000, dtype=np.int64).view(np.uint64)
    assert matching.match_dense(random_hashes, random_hashes[::-1].copy()) is None


def _reference_multiset(a: list[tuple[int, ...]], b: list[tuple[int, ...]]) -> list[tuple[int, int]]:
    """The k-th row of each tuple in ``a`` paired with its k-th row in ``b``, in (tuple, k) order."""
    rows_a: dict[tuple[int, ...], list[int]] = {}
    rows_b: dict[tuple[int, ...], list[int]] = {}
    for i, value in enumerate(a):
        rows_a.setdefault(value, []).append(i)
    for j, value in enumerate(b):
        rows_b.setdefault(value, []).append(j)
    return [pair for value in sorted(rows_a) for pair in zip(rows_a[value], rows_b.get(value, []), strict=False)]


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=1, max_value=2),
    st.lists(st.tuples(st.integers(0, 4), st.integers(0, 2)), max_size=40),
    st.lists(st.tuples(st.integers(0, 4), st.integers(0, 2)), max_size=40),
)
def test_multiset_matching_pairs_kth_occurrences_in_order(
    width: int, a: list[tuple[int, int]], b: list[tuple[int, int]]
) -> None:
    """Repeated rows (no key) pair their k-th occurrences, one column or a tuple of columns."""
    a = [t[:width] for t in a]
    b = [t[:width] for t in b]
    columns_a = [np.array([t[i] for t in a], dtype=np.uint64) for i in range(width)]
    columns_b = [np.array([t[i] for t in b], dtype=np.uint64) for i in range(width)]
    ia, ib = matching.match_multiset(columns_a, columns_b)
    assert list(zip(ia.tolist(), ib.tolist(), strict=True)) == _reference_multiset(a, b)
