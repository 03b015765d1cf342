"""Arrow compute kernels called by name, for the paths a user times (commit, checkout, read).

``pyarrow.compute`` builds a Python wrapper and a docstring for each of its hundreds of kernels
when it is first imported: about 40 ms of Python holding the GIL, which a commit paid on one of its
worker threads while both cores were busy decoding. pyarrow's own ``Array.take``, ``filter`` and
``cast`` import it too. The kernels themselves live in ``pyarrow._compute``, whose
``call_function`` the public module re-exports; calling it directly gives the same results
without the wrappers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

import pyarrow as pa

try:
    from pyarrow._compute import ArraySortOptions, CastOptions, SelectKOptions, SortOptions, call_function
except ImportError:  # pragma: no cover - a pyarrow that moved them: the public module has them
    from pyarrow.compute import ArraySortOptions, CastOptions, SelectKOptions, SortOptions, call_function

Data: TypeAlias = pa.Array | pa.ChunkedArray | pa.Table | pa.RecordBatch


def take(data: Data, indices: pa.Array) -> Any:
    """``data.take(indices)``: rows at ``indices`` (bounds-checked)."""
    return call_function("take", [data, indices])


def keep(data: Data, mask: pa.Array) -> Any:
    """``data.filter(mask)``: rows where ``mask`` is true (a null drops the row)."""
    return call_function("filter", [data, mask])


def is_valid(data: pa.Array | pa.ChunkedArray) -> Any:
    """``data.is_valid()``: true where ``data`` holds a value."""
    return call_function("is_valid", [data])


def cast(data: pa.Array | pa.ChunkedArray, target: pa.DataType, *, safe: bool = True) -> Any:
    """``data.cast(target)``: ``safe`` refuses a lossy conversion (pyarrow's default), unsafe
    truncates and wraps."""
    return call_function("cast", [data], CastOptions.safe(target) if safe else CastOptions.unsafe(target))


def cast_table(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table.cast(schema)``: each column cast to its field's type, names from ``schema``."""
    if table.schema == schema:
        return table
    if table.schema.names != schema.names:
        raise ValueError(f"cannot cast columns {table.schema.names} to {schema.names}")
    columns = [
        column if column.type == field.type else cast(column, field.type)
        for column, field in zip(table.columns, schema, strict=True)
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def fill_null(data: pa.Array | pa.ChunkedArray, value: Any) -> Any:
    """``data.fill_null(value)``: nulls replaced by ``value`` (as a scalar of the data's type)."""
    return call_function("coalesce", [data, pa.scalar(value, type=data.type)])


def if_else(condition: pa.Array, yes: pa.Array, no: pa.Array) -> pa.Array:
    """``yes`` where ``condition`` is true, ``no`` where it is false, null where it is null."""
    return call_function("if_else", [condition, yes, no])


def list_value_length(data: pa.Array | pa.ChunkedArray) -> Any:
    """The length of each list of ``data`` (null for a null list)."""
    return call_function("list_value_length", [data])


def min_max(data: pa.Array | pa.ChunkedArray) -> tuple[Any, Any]:
    """Least and greatest non-null value as Python objects (None, None when there is none)."""
    found = call_function("min_max", [data])
    return found["min"].as_py(), found["max"].as_py()


def count_distinct(data: pa.Array | pa.ChunkedArray) -> int:
    """How many distinct non-null values ``data`` holds."""
    return int(call_function("count_distinct", [data]).as_py())


def value_counts(data: pa.Array | pa.ChunkedArray) -> pa.StructArray:
    """Each distinct value (nulls included) once, with its count, in order of first appearance."""
    return call_function("value_counts", [data])


def dictionary_encode(data: pa.Array) -> pa.DictionaryArray:
    return call_function("dictionary_encode", [data])


def sort_indices(table: pa.Table, sort_keys: Sequence[tuple[str, str]]) -> pa.Array:
    """Row order of ``table`` by ``sort_keys`` (column, "ascending" | "descending")."""
    return call_function("sort_indices", [table], SortOptions(sort_keys=list(sort_keys)))


_ASCENDING = ArraySortOptions("ascending")


def array_sort_indices(data: pa.Array) -> pa.Array:
    """Stable ascending order of ``data``'s rows (NaN after the numbers, nulls last)."""
    return call_function("array_sort_indices", [data], _ASCENDING)


def least(data: pa.Array, k: int) -> pa.Array:
    """The rows of ``data``'s ``k`` least values, least first (nulls after every value); in no
    settled order among equal values."""
    return call_function("select_k_unstable", [data], SelectKOptions(k, [("", "ascending")]))
