"""Which columns of the Parquet datakeep writes get dictionary pages: those whose values repeat."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from datakeep.api import Repo
from datakeep.parquet_encoding import column_encodings, dictionary_columns
from tests.conftest import SMALL_CHUNKS, make_table, write


def _dictionary_encoded(parquet: pq.ParquetFile) -> dict[str, bool]:
    """Per Parquet leaf path: whether any of its pages is dictionary-encoded."""
    group = parquet.metadata.row_group(0)
    return {
        group.column(i).path_in_schema: "RLE_DICTIONARY" in group.column(i).encodings
        or "PLAIN_DICTIONARY" in group.column(i).encodings
        for i in range(group.num_columns)
    }


def test_repeating_columns_get_dictionary_pages_and_distinct_ones_do_not() -> None:
    rows = 20_000
    table = pa.table(
        {
            "id": np.arange(rows, dtype=np.int64),
            "email": [f"user{i}@example.com" for i in range(rows)],
            "country": ["DE", "FR", "NL", "PL"] * (rows // 4),
            "price": np.round(np.random.default_rng(0).random(rows) * 4, 0),
            "all_null": pa.nulls(rows, pa.string()),
            "tags": pa.array([[f"t{i}"] for i in range(rows)]),
            "point": pa.array([{"x": i, "label": "a"} for i in range(rows)]),
            "coded": pa.array([f"code{i}" for i in range(rows)]).dictionary_encode(),
        }
    )
    chosen = set(dictionary_columns(table))
    assert {"country", "price", "all_null"} <= chosen
    assert not {"id", "email"} & chosen
    # Nested leaves and dictionary-typed columns keep pyarrow's default: dictionary pages.
    assert {"tags.list.element", "point.x", "point.label", "coded"} <= chosen


def test_columns_without_dictionary_pages_get_delta_or_byte_stream_split_encoding() -> None:
    schema = pa.schema(
        [
            ("id", pa.int64()),
            ("small", pa.int8()),
            ("when", pa.timestamp("us", tz="UTC")),
            ("day", pa.date32()),
            ("took", pa.duration("ms")),
            ("code", pa.int32()),
            ("price", pa.float64()),
            ("ratio", pa.float32()),
            ("rate", pa.float64()),
            ("name", pa.string()),
            ("tags", pa.list_(pa.int64())),
        ]
    )
    assert column_encodings(schema, dictionary=["code", "rate", "tags.list.element"]) == {
        **{name: "DELTA_BINARY_PACKED" for name in ("id", "small", "when", "day", "took")},
        "price": "BYTE_STREAM_SPLIT",
        "ratio": "BYTE_STREAM_SPLIT",
    }


def test_sorted_data_is_judged_on_rows_spread_over_the_whole_table() -> None:
    # The first few thousand rows all hold one value; the rest are all distinct.
    values = ["same"] * 5_000 + [f"v{i}" for i in range(95_000)]
    assert dictionary_columns(pa.table({"s": values})) == []


def test_an_empty_table_keeps_the_defaults() -> None:
    table = pa.table({"a": pa.array([], pa.int64()), "b": pa.array([], pa.string())})
    assert dictionary_columns(table) == ["a", "b"]


def test_stored_chunks_and_restored_files_use_dictionary_pages_only_where_values_repeat(
    repo: Repo, project: Path
) -> None:
    table = make_table(30_000)
    write(project / "t.parquet", table)
    repo.add(project / "t.parquet", name="t", key=["id"])
    repo.commit(message="v1")
    chunk = repo.manifest("t").chunks[0]
    stored_file = pq.ParquetFile(repo.repository.store.path(chunk.object))
    stored = _dictionary_encoded(stored_file)
    assert stored["region"] and not stored["email"] and not stored["id"]
    # Integer and time columns without dictionary pages are delta-encoded, floats byte-stream-split;
    # strings are neither.
    group = stored_file.metadata.row_group(0)
    encodings = {group.column(i).path_in_schema: group.column(i).encodings for i in range(group.num_columns)}
    assert "DELTA_BINARY_PACKED" in encodings["id"] and "DELTA_BINARY_PACKED" in encodings["when"]
    assert "BYTE_STREAM_SPLIT" in encodings["amount"]
    assert "DELTA_BINARY_PACKED" not in encodings["email"] and "BYTE_STREAM_SPLIT" not in encodings["email"]

    restored = project / "restored.parquet"
    repo.checkout("HEAD", name="t", output=restored)
    written = _dictionary_encoded(pq.ParquetFile(restored))
    assert written["region"] and not written["email"] and not written["id"]
    assert pq.read_table(restored).equals(table)


def test_the_same_rows_get_the_same_objects_whichever_worker_stores_a_chunk_first(tmp_path: Path) -> None:
    """Chunks are stored by two worker threads in whatever order they finish; the encoding choice
    is made once per file, so the bytes (and object ids) never depend on that order."""
    table = make_table(40_000)
    # "count" repeats in some chunks and not in others (it is judged on the file's first batch).
    table = table.set_column(4, "count", pa.array(np.arange(40_000, dtype=np.int32) // 3))
    manifests = []
    for attempt in range(3):
        root = tmp_path / f"r{attempt}"
        repo = Repo.init(root, chunk_bytes=SMALL_CHUNKS)
        write(root / "t.parquet", table)
        repo.add(root / "t.parquet", name="t", key=["id"])
        repo.commit(message="v1")
        manifests.append(repo.manifest("t"))
    assert len(manifests[0].chunks) > 4
    assert manifests[0].chunks == manifests[1].chunks == manifests[2].chunks


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.integers(0, 50), max_size=30), min_size=1, max_size=6), st.integers(1, 40))
def test_the_probe_of_a_chunked_column_takes_the_rows_a_combined_one_would(chunks: list[list[int]], count: int) -> None:
    """The probe takes its rows chunk by chunk (no concatenation of the whole column first)."""
    from datakeep import parquet_encoding

    column = pa.chunked_array([pa.array(c, pa.int64()) for c in chunks])
    # Sorted, as the probe's rows are; repeated when there are fewer rows than probes.
    rows = np.linspace(0, len(column) - 1, num=count).astype(np.int64) if len(column) else np.zeros(0, np.int64)
    probed = parquet_encoding._probe(column, rows)
    assert probed.to_pylist() == column.combine_chunks().take(pa.array(rows, pa.int64())).to_pylist()
