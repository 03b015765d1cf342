"""Hive partition values are the same whether each file's path is read on its own or each folder
once, and a diff side labels each file's partition as it always did."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pyarrow as pa
from hypothesis import example, given, settings
from hypothesis import strategies as st

from datakeep import partitions
from datakeep.diff.sources import _partition_labels


def _path_by_path(paths: list[str]) -> dict[str, pa.Array]:
    """`partitions.file_partitions` as it read every path's segments and every value."""
    found = []
    for path in paths:
        values: dict[str, str | None] = {}
        for segment in path.split("/")[:-1]:
            key, equals, value = segment.partition("=")
            if equals and key:
                decoded = unquote(value)
                values[unquote(key)] = None if decoded == partitions.NULL_VALUE else decoded
        found.append(values)
    keys = dict.fromkeys(key for values in found for key in values)
    typed = {}
    for key in keys:
        column = [values.get(key) for values in found]
        present = [v for v in column if v is not None]
        if present and all(re.fullmatch(r"[+-]?\d+", v) and -(2**31) <= int(v) < 2**31 for v in present):
            typed[key] = pa.array([None if v is None else int(v) for v in column], pa.int32())
        else:
            typed[key] = pa.array(column, pa.string())
    return typed


_VALUE = st.sampled_from(
    ["1", "01", "-7", "+3", "2147483647", "2147483648", "x", "a%20b", "__HIVE_DEFAULT_PARTITION__", "", "=", "%3D"]
)
_SEGMENT = st.one_of(
    st.builds(lambda k, v: f"{k}={v}", st.sampled_from(["year", "month", "k%2Fk", "", "r"]), _VALUE),
    st.sampled_from(["plain", "", "a=b=c"]),
)
_PATH = st.builds(
    lambda segments, name: "/".join([*segments, name]), st.lists(_SEGMENT, max_size=3), st.just("p.parquet")
)


@settings(max_examples=200, deadline=None)
@given(paths=st.lists(_PATH, max_size=30))
@example(paths=["year=2024/m=1/a.parquet", "year=2024/m=1/b.parquet", "year=2024/m=2/a.parquet", "top.parquet"])
@example(paths=["/k=1/a.parquet", "k=1//a.parquet", "k=x/a.parquet", "k=1/b.parquet"])
def test_folder_by_folder_gives_every_path_s_values(paths: list[str]) -> None:
    got = partitions.file_partitions(paths)
    expected = _path_by_path(paths)
    assert list(got) == list(expected)
    for key, values in expected.items():
        assert got[key].type == values.type and got[key].to_pylist() == values.to_pylist()
    assert partitions.file_partitions(paths, held=["year"]).keys() == expected.keys() - {"year"}


@settings(max_examples=100, deadline=None)
@given(paths=st.lists(_PATH, min_size=1, max_size=20))
def test_a_file_s_partition_label_is_its_values_as_python_gives_them(paths: list[str]) -> None:
    found = partitions.file_partitions(paths)
    expected = ["".join(f"/{name}={values[f].as_py()!r}" for name, values in found.items()) for f in range(len(paths))]
    assert _partition_labels(found, len(paths)) == expected
