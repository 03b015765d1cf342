"""Hive partition values (`year=2024/region=EU/part-0.parquet`) as the columns readers expect.

A folder dataset hashes each file's path with its content, so partition values are part of its
identity; `Repo.read` adds them to the table as `pyarrow.dataset(..., partitioning="hive")` does:
a column per key, in first-seen order, its values percent-decoded, ``__HIVE_DEFAULT_PARTITION__``
and a file outside a key's folders null, typed int32 when every value is a 32-bit integer and
string otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from urllib.parse import unquote

import numpy as np
import pyarrow as pa

from datakeep.arrow_numpy import arrow_array, text_array

#: Spark's and Hive's name for a null partition value.
NULL_VALUE = "__HIVE_DEFAULT_PARTITION__"
_INTEGER = re.compile(r"[+-]?\d+")


def hive_values(paths: Sequence[str]) -> dict[str, list[str | None]]:
    """Per partition key (first-seen order), each path's value (None: null, or no such folder)."""
    found: list[dict[str, str | None]] = []
    # The files of a folder share their folders (20,000 files, 2,000 days): each read once.
    by_folder: dict[str, dict[str, str | None]] = {}
    for path in paths:
        folder = path.rpartition("/")[0]
        values = by_folder.get(folder)
        if values is None:
            values = by_folder[folder] = _folder_values(folder)
        found.append(values)
    keys = dict.fromkeys(key for values in found for key in values)
    return {key: [values.get(key) for values in found] for key in keys}


def _folder_values(folder: str) -> dict[str, str | None]:
    """The partition values a folder's path (``year=2024/region=EU``) names, by key."""
    values: dict[str, str | None] = {}
    for segment in folder.split("/") if folder else ():
        key, equals, value = segment.partition("=")
        if equals and key:
            decoded = unquote(value)
            values[unquote(key)] = None if decoded == NULL_VALUE else decoded
    return values


def file_partitions(paths: Sequence[str], held: Collection[str] = ()) -> dict[str, pa.Array]:
    """Per partition key, one value per path, typed; keys in ``held`` (columns the files hold
    themselves, which win) are left out: for every file, also those without such a column of
    their own, which read null there like any column only some files hold (docs/format.md)."""
    return {key: _typed(values) for key, values in hive_values(paths).items() if key not in held}


def partition_columns(paths: Sequence[str], rows: Sequence[int]) -> dict[str, pa.Array]:
    """The partition columns of files at ``paths`` holding ``rows`` rows each, concatenated in
    that order."""
    file_of_row = arrow_array(np.repeat(np.arange(len(paths), dtype=np.int32), np.asarray(rows, dtype=np.int64)))
    return {key: values.take(file_of_row) for key, values in file_partitions(paths).items()}


def _typed(values: list[str | None]) -> pa.Array:
    # Each distinct value is looked at once: a partition key holds few, repeated over the files.
    present = dict.fromkeys(v for v in values if v is not None)
    if present and all(_INTEGER.fullmatch(v) and -(2**31) <= int(v) < 2**31 for v in present):
        numbers = {v: int(v) for v in present}
        found = np.fromiter((0 if v is None else numbers[v] for v in values), dtype=np.int32, count=len(values))
        return arrow_array(found, np.fromiter((v is not None for v in values), dtype=bool, count=len(values)))
    return text_array(values)
