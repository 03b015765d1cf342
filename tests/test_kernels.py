"""`datakeep.kernels` calls Arrow's kernels by name: each must give what pyarrow's own API gives."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datakeep import kernels

values = st.lists(st.one_of(st.none(), st.integers(-(2**40), 2**40)), max_size=60)
texts = st.lists(st.one_of(st.none(), st.text(max_size=6)), max_size=60)


@settings(max_examples=60, deadline=None)
@given(values, st.data())
def test_take_keep_and_is_valid_match_pyarrow(items: list[int | None], data: st.DataObject) -> None:
    array = pa.array(items, type=pa.int64())
    rows = data.draw(st.lists(st.integers(0, max(len(items) - 1, 0)), max_size=20)) if items else []
    flags = data.draw(st.lists(st.one_of(st.none(), st.booleans()), min_size=len(items), max_size=len(items)))
    mask = pa.array(flags, type=pa.bool_())
    assert kernels.take(array, pa.array(rows, type=pa.int64())).equals(array.take(pa.array(rows, type=pa.int64())))
    assert kernels.keep(array, mask).equals(array.filter(mask))
    assert kernels.is_valid(array).equals(array.is_valid())
    table = pa.table({"v": array, "s": pa.array([str(v) for v in items])})
    assert kernels.keep(table, mask).equals(table.filter(mask))
    assert kernels.take(table, pa.array(rows, type=pa.int64())).equals(table.take(pa.array(rows, type=pa.int64())))


@settings(max_examples=60, deadline=None)
@given(texts)
def test_counting_kernels_match_pyarrow(items: list[str | None]) -> None:
    array = pa.array(items, type=pa.string())
    assert kernels.value_counts(array).equals(array.value_counts())
    assert kernels.count_distinct(array) == pc.count_distinct(array).as_py()
    assert kernels.dictionary_encode(array).equals(array.dictionary_encode())
    assert kernels.min_max(array) == (pc.min_max(array)["min"].as_py(), pc.min_max(array)["max"].as_py())
    counted = array.value_counts()
    table = pa.table({"count": counted.field("counts"), "value": counted.field("values")})
    keys = [("count", "descending"), ("value", "ascending")]
    assert kernels.sort_indices(table, keys).equals(pc.sort_indices(table, sort_keys=keys))


def test_casts_match_pyarrow_and_refuse_what_it_refuses() -> None:
    small = pa.array([1, None, 3], type=pa.int32())
    assert kernels.cast(small, pa.int64()).equals(small.cast(pa.int64()))
    assert kernels.cast(pa.chunked_array([small]), pa.int64()).equals(pa.chunked_array([small]).cast(pa.int64()))
    with pytest.raises(pa.ArrowInvalid):
        kernels.cast(pa.array([2**40]), pa.int32())  # lossy: refused, as pyarrow's safe cast does
    table = pa.table({"a": small, "b": pa.array(["x", "y", None])})
    schema = pa.schema([("a", pa.int64()), ("b", pa.large_string())])
    assert kernels.cast_table(table, schema).equals(table.cast(schema))
    assert kernels.cast_table(table, table.schema) is table
    with pytest.raises(ValueError, match="cannot cast columns"):
        kernels.cast_table(table, pa.schema([("b", pa.string()), ("a", pa.int32())]))


def test_if_else_matches_pyarrow() -> None:
    condition = pa.array([True, False, None])
    yes, no = pa.array([1, 2, 3]), pa.array([10, 20, 30])
    assert kernels.if_else(condition, yes, no).equals(pc.if_else(condition, yes, no))


@settings(max_examples=150, deadline=None)
@given(
    texts=st.lists(st.one_of(st.none(), st.text(max_size=8)), max_size=40),
    numbers=st.lists(st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1)), max_size=40),
)
def test_arrays_built_from_buffers_equal_what_pa_array_builds(
    texts: list[str | None], numbers: list[int | None]
) -> None:
    """`arrow_numpy` builds these without `pa.array`, which imports pandas."""
    import numpy as np

    from datakeep.arrow_numpy import arrow_array, text_array

    built = text_array(texts)
    assert built.equals(pa.array(texts, pa.string())) and built.null_count == texts.count(None)
    built.validate(full=True)
    values = np.array([0 if n is None else n for n in numbers], dtype=np.int32)
    valid = np.array([n is not None for n in numbers], dtype=bool)
    ints = arrow_array(values, valid)
    assert ints.equals(pa.array(numbers, pa.int32())) and ints.null_count == numbers.count(None)
    ints.validate(full=True)
