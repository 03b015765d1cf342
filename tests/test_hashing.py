"""Identity by logical content: encodings don't change the id, content always does."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datakeep.hashing import StreamHasher, canonical_type, content_id
from datakeep.snapshot import hash_file
from tests.conftest import make_table


def _parquet_roundtrip(table: pa.Table, **options: object) -> pa.Table:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, **options)  # type: ignore[arg-type]
    buffer.seek(0)
    return pq.read_table(buffer)


@pytest.mark.parametrize(
    "options",
    [
        {"compression": "snappy"},
        {"compression": "zstd"},
        {"compression": "gzip"},
        {"compression": "brotli"},
        {"compression": "none"},
        {"row_group_size": 7},
        {"row_group_size": 1},
        {"write_statistics": False},
        {"use_dictionary": False},
        {"write_page_index": True},
        {"data_page_size": 64},
    ],
)
def test_writer_options_do_not_change_the_id(options: dict[str, object]) -> None:
    table = make_table(300)
    assert content_id(_parquet_roundtrip(table, **options)) == content_id(table)


def test_pandas_and_pyarrow_writers_agree(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None], "c": [0.5, None, 2.0]})
    frame.to_parquet(tmp_path / "pandas.parquet", index=False)
    table = pa.table({"a": pa.array([1, 2, 3]), "b": pa.array(["x", "y", None]), "c": pa.array([0.5, None, 2.0])})
    pq.write_table(table, tmp_path / "arrow.parquet")
    assert hash_file(tmp_path / "pandas.parquet")[0] == hash_file(tmp_path / "arrow.parquet")[0]


def test_string_encodings_are_not_content() -> None:
    plain = pa.table({"s": pa.array(["a", None, "ccc"], type=pa.string())})
    large = pa.table({"s": pa.array(["a", None, "ccc"], type=pa.large_string())})
    dictionary = pa.table({"s": pa.array(["a", None, "ccc"]).dictionary_encode()})
    view = pa.table({"s": pa.array(["a", None, "ccc"], type=pa.string_view())})
    ids = {content_id(t) for t in (plain, large, dictionary, view)}
    assert len(ids) == 1
    assert canonical_type(pa.large_string()) == canonical_type(pa.string()) == "string"


def test_nan_payloads_and_null_slot_garbage_are_not_content() -> None:
    quiet = np.array([np.nan, 1.0])
    other_nan = quiet.copy()
    other_nan.view(np.uint64)[0] = 0x7FF8000000000001
    assert content_id(pa.table({"f": quiet})) == content_id(pa.table({"f": other_nan}))
    masked = pa.array([5, 6], mask=np.array([True, False]))
    clean = pa.array([None, 6], type=pa.int64())
    assert content_id(pa.table({"x": masked})) == content_id(pa.table({"x": clean}))


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (pa.table({"a": [1, 2], "b": [3, 4]}), pa.table({"b": [3, 4], "a": [1, 2]})),  # column order
        (pa.table({"a": pa.array([1, 2], pa.int64())}), pa.table({"a": pa.array([1, 2], pa.int32())})),  # type
        (pa.table({"a": [1, 2]}), pa.table({"a": [2, 1]})),  # row order
        (pa.table({"f": pa.array([None, 1.0])}), pa.table({"f": pa.array([np.nan, 1.0])})),  # null vs NaN
        (pa.table({"f": [0.0]}), pa.table({"f": [-0.0]})),  # signed zero
        (pa.table({"s": ["", None]}), pa.table({"s": [None, ""]})),  # empty vs null
        (pa.table({"s": ["ab", "c"]}), pa.table({"s": ["a", "bc"]})),  # string boundaries
        (pa.table({"l": [[1], [2, 3]]}), pa.table({"l": [[1, 2], [3]]})),  # list boundaries
        (pa.table({"a": [1]}), pa.table({"b": [1]})),  # column name
        (
            pa.table({"t": pa.array([1], pa.timestamp("us", tz="UTC"))}),
            pa.table({"t": pa.array([1], pa.timestamp("us"))}),
        ),  # time zone
    ],
)
def test_content_changes_the_id(left: pa.Table, right: pa.Table) -> None:
    assert content_id(left) != content_id(right)


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.text(max_size=12)), min_size=0, max_size=60),
    numbers=st.data(),
    splits=st.lists(st.integers(min_value=0, max_value=60), max_size=5),
)
def test_id_does_not_depend_on_how_rows_are_split(
    values: list[str | None], numbers: st.DataObject, splits: list[int]
) -> None:
    floats = numbers.draw(
        st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=len(values), max_size=len(values))
    )
    table = pa.table({"s": pa.array(values, pa.string()), "f": pa.array(floats, pa.float64())})
    hasher = StreamHasher(table.schema)
    cuts = sorted({min(s, len(values)) for s in splits} | {0, len(values)})
    for start, end in itertools.pairwise(cuts):
        hasher.update(table.slice(start, end - start))
    if len(cuts) == 1:
        hasher.update(table)
    assert hasher.hexdigest() == content_id(table)


def _reference_bytes_hash(value: bytes) -> int:
    """The row hash of one byte string, straight from its definition in ``rowhash``, in Python."""
    mask = 2**64 - 1

    def mix(x: int) -> int:
        x ^= x >> 30
        x = (x * 0xBF58476D1CE4E5B9) & mask
        x ^= x >> 27
        x = (x * 0x94D049BB133111EB) & mask
        return x ^ (x >> 31)

    golden = 0x9E3779B97F4A7C15
    total = 0
    for i in range(0, len(value), 8):
        word = int.from_bytes(value[i : i + 8].ljust(8, b"\0"), "little")
        total = (total + mix(word ^ ((i // 8) * golden & mask))) & mask
    return mix(total ^ ((len(value) * 0x94D049BB133111EB + golden) & mask))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.binary(max_size=40), st.binary(min_size=60, max_size=200)), max_size=30),
    st.integers(min_value=0, max_value=5),
)
def test_string_row_hashes_follow_their_definition(values: list[bytes | None], offset: int) -> None:
    """Short values are hashed word position by word position, long ones word by word; both must
    give every value the hash its definition says, wherever it sits in a (sliced) array."""
    from datakeep.rowhash import column_hashes

    array = pa.array([b"x"] * offset + values, type=pa.binary()).slice(offset)
    hashes = column_hashes(array)
    null_hash = int(column_hashes(pa.array([None], pa.binary()))[0])
    for value, got in zip(values, hashes, strict=True):
        assert int(got) == (null_hash if value is None else _reference_bytes_hash(value))
    as_strings = pa.array([v.hex() if v is not None else None for v in values], type=pa.large_string())
    assert list(column_hashes(as_strings)) == [
        null_hash if v is None else _reference_bytes_hash(v.hex().encode()) for v in values
    ]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.binary(max_size=30)), min_size=1, max_size=12),
    st.integers(min_value=4096, max_value=9000),
    st.integers(min_value=0, max_value=2**32 - 1),
)
def test_few_distinct_strings_hash_as_their_definition(palette: list[bytes | None], rows: int, seed: int) -> None:
    """A long column of few distinct values is hashed once per distinct value (through a
    dictionary); a dictionary-typed column is hashed from its dictionary. Every row must still get
    the hash its value's definition gives."""
    from datakeep.rowhash import column_hashes

    picks = np.random.default_rng(seed).integers(0, len(palette), rows)
    values = [palette[i] for i in picks]
    null_hash = int(column_hashes(pa.array([None], pa.binary()))[0])
    expected = {v: null_hash if v is None else _reference_bytes_hash(v) for v in palette}
    plain = pa.array(values, type=pa.binary())
    for array in (plain, plain.slice(3), plain.dictionary_encode(), pa.array(values, pa.large_binary())):
        got = column_hashes(array)
        start = 3 if len(array) == rows - 3 else 0
        assert [int(h) for h in got] == [expected[v] for v in values[start:]]


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(min_value=1, max_value=400), st.integers(min_value=4096, max_value=6000)),
        min_size=2,
        max_size=4,
    ),
    st.integers(min_value=0, max_value=2**32 - 1),
)
def test_a_dictionary_plan_shared_by_batches_changes_no_hash(batches: list[tuple[int, int]], seed: int) -> None:
    """A file's batches share what the first ones learnt about hashing a column through a
    dictionary, even when later batches have many more (or fewer) distinct values. (Only the
    numpy path, used where the C extension is not built, hashes through dictionaries.)"""
    from datakeep import native

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(native, "AVAILABLE", False)
        _shared_plan_hashes_as_fresh(batches, seed)


def _shared_plan_hashes_as_fresh(batches: list[tuple[int, int]], seed: int) -> None:
    from datakeep.rowhash import row_hashes

    rng = np.random.default_rng(seed)
    plan: dict[str, bool] = {}
    for distinct, rows in batches:
        words = [f"value-{i}" for i in rng.integers(0, distinct, rows)]
        batch = pa.record_batch({"s": words, "n": rng.integers(0, 9, rows)})
        assert (row_hashes(batch, plan=plan) == row_hashes(batch)).all()
    assert set(plan) == {"s"}


@settings(max_examples=50, deadline=None)
@given(st.lists(st.binary(min_size=70, max_size=400), min_size=1, max_size=25), st.integers(1, 60))
def test_long_values_hashed_a_few_at_a_time_keep_their_hashes(values: list[bytes], budget: int) -> None:
    """Long values are hashed in passes of a bounded number of words (one value per pass when it
    alone is over the budget): every value still gets its defined hash."""
    from datakeep import native, rowhash

    original = rowhash._LONG_WORDS_PER_PASS
    rowhash._LONG_WORDS_PER_PASS = budget
    native_was, native.AVAILABLE = native.AVAILABLE, False  # the passes are the numpy path's
    try:
        hashes = rowhash.column_hashes(pa.array(values, type=pa.binary()))
    finally:
        rowhash._LONG_WORDS_PER_PASS = original
        native.AVAILABLE = native_was
    assert [int(h) for h in hashes] == [_reference_bytes_hash(v) for v in values]


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=0, max_value=5),
    st.lists(st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1)), max_size=60),
    st.integers(min_value=1, max_value=7),
)
def test_fixed_size_lists_hash_as_lists_of_that_size(size: int, values: list[int | None], budget: int) -> None:
    """Fixed-size lists (embeddings) are hashed a block of rows at a time as a matrix; every row
    must still hash as the same list of variable size does."""
    from datakeep import rowhash

    rows = len(values) // size if size else len(values)
    items = values[: rows * size]
    fixed = pa.FixedSizeListArray.from_arrays(pa.array(items, pa.int32()), size) if size else None
    if fixed is None:
        fixed = pa.array([[]] * rows, pa.list_(pa.int32(), 0))
    variable = pa.array([items[i * size : (i + 1) * size] for i in range(rows)], pa.list_(pa.int32()))
    original = rowhash._FIXED_LIST_ELEMENTS_PER_PASS
    rowhash._FIXED_LIST_ELEMENTS_PER_PASS = budget
    try:
        assert list(rowhash.column_hashes(fixed)) == list(rowhash.column_hashes(variable))
    finally:
        rowhash._FIXED_LIST_ELEMENTS_PER_PASS = original


@settings(max_examples=60, deadline=None)
@given(
    names=st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=5, unique=True),
    rows=st.integers(0, 70_000),
    nullable=st.booleans(),
)
def test_an_encoding_2_id_hashes_the_canonical_json_of_its_document(
    names: list[str], rows: int, nullable: bool
) -> None:
    """The id document is written out around the columns' JSON, made once per schema: the same
    bytes as canonical_json of the document (names with quotes, backslashes, any characters)."""
    import xxhash

    from datakeep.serialize import canonical_json

    types = [pa.int64(), pa.string(), pa.timestamp("us", "UTC"), pa.list_(pa.float32()), pa.bool_()]
    schema = pa.schema([pa.field(n, types[i % len(types)], nullable=nullable) for i, n in enumerate(names)])
    hasher = StreamHasher(schema, 2)
    table = pa.table({n: pa.nulls(rows, schema.field(n).type) for n in names}, schema=schema)
    hasher.update(table)
    blocks = hasher.blocks + ([hasher._block_digest()] if hasher._block_rows else [])
    document = {
        "encoding": 2,
        "rows": rows,
        "columns": hasher.columns,
        "blocks": xxhash.xxh3_128_hexdigest(b"".join(blocks)),
    }
    assert hasher.hexdigest() == xxhash.xxh3_128_hexdigest(canonical_json(document))
