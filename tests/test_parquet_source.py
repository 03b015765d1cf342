"""`ParquetSource` reads what ``pyarrow.parquet.ParquetFile`` reads, without importing it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datakeep.parquet_source import ParquetSource, read_metadata


@pytest.fixture
def nested_file(tmp_path: Path) -> Path:
    rows = 1_000
    table = pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "point": pa.array([{"x": float(i), "tag": {"name": f"n{i % 7}"}} for i in range(rows)]),
            "tags": pa.array([[i % 3] * (i % 4) for i in range(rows)], pa.list_(pa.int32())),
            "kind": pa.array([("a", "b")[i % 2] for i in range(rows)]).dictionary_encode(),
        }
    ).replace_schema_metadata({"pandas": "kept"})
    path = tmp_path / "t.parquet"
    pq.write_table(table, path, row_group_size=300)
    return path


@pytest.mark.parametrize(
    "columns",
    [None, ["id"], ["point"], ["point.tag"], ["point.tag.name", "id"], ["tags", "kind"], ["no such column"], []],
)
def test_columns_by_name_select_what_parquet_file_selects(nested_file: Path, columns: list[str] | None) -> None:
    ours, theirs = ParquetSource(nested_file), pq.ParquetFile(nested_file)
    assert ours.read(columns=columns).equals(theirs.read(columns=columns))
    assert ours.read_row_group(2, columns=columns).equals(theirs.read_row_group(2, columns=columns))
    mine = list(ours.iter_batches(128, row_groups=[1, 3], columns=columns, use_threads=False))
    pyarrows = list(theirs.iter_batches(128, row_groups=[1, 3], columns=columns, use_threads=False))
    assert [b.num_rows for b in mine] == [b.num_rows for b in pyarrows]
    for a, b in zip(mine, pyarrows, strict=True):
        assert a.equals(b) and a.schema.equals(b.schema, check_metadata=True)


def test_metadata_and_schemas_are_the_files(nested_file: Path) -> None:
    ours, theirs = ParquetSource(pa.BufferReader(nested_file.read_bytes())), pq.ParquetFile(nested_file)
    assert ours.metadata.equals(theirs.metadata) and read_metadata(nested_file).equals(theirs.metadata)
    assert ours.schema.equals(theirs.schema)
    assert ours.schema_arrow.equals(theirs.schema_arrow, check_metadata=True)
    again = ParquetSource(nested_file, metadata=ours.metadata, pre_buffer=False, buffer_size=4096)
    assert again.read().equals(theirs.read())


def test_a_bad_batch_size_is_refused(nested_file: Path) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        ParquetSource(nested_file).iter_batches(0)


def test_reading_imports_neither_pyarrow_parquet_nor_its_file_systems(nested_file: Path) -> None:
    code = (
        "import sys\nfrom datakeep.parquet_source import ParquetSource\n"
        f"ParquetSource({str(nested_file)!r}).read()\n"
        "print(sorted(m for m in ('pyarrow.parquet', 'pyarrow.fs') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_narrow_file_is_opened_once_and_a_wide_one_again_with_narrower_buffers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datakeep import parquet_io

    opened: list[tuple[int, bool]] = []
    original = parquet_io.ParquetSource

    def counting(*args: Any, **kwargs: Any) -> ParquetSource:
        opened.append((kwargs["buffer_size"], kwargs.get("metadata") is not None))
        return original(*args, **kwargs)

    monkeypatch.setattr(parquet_io, "ParquetSource", counting)
    narrow, wide = tmp_path / "narrow.parquet", tmp_path / "wide.parquet"
    pq.write_table(pa.table({"a": [1, 2]}), narrow)
    pq.write_table(pa.table({f"c{i}": [i] for i in range(700)}), wide)
    assert parquet_io.streaming_parquet(narrow).schema_arrow.names == ["a"]
    assert opened == [(parquet_io.READ_BUFFER_BYTES, False)]
    opened.clear()
    source = parquet_io.streaming_parquet(wide)
    assert opened == [(parquet_io.READ_BUFFER_BYTES, False), (parquet_io.read_buffer_bytes(700), True)]
    assert source.read().num_columns == 700
    assert source.schema_arrow is source.schema_arrow  # converted from the footer once
