"""The C loops (datakeep/_native.c) give the bits their numpy references give.

Row hashes are stored in manifests and compared across commits, so a repository written where
the extension was built and one written where it was not must agree exactly. Every test here
computes the same thing both ways, on random data, and through a real commit.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from datakeep import native, numeric_summary, patches, rowhash


def test_the_extension_is_built_here() -> None:
    """Installs on a machine with a C compiler (every supported set-up) build it; a silent
    fallback would leave every commit several times slower."""
    assert native._native is not None, "datakeep._native was not built: reinstall with a C compiler (make test)"
    assert native.AVAILABLE


def _both_ways(monkeypatch: pytest.MonkeyPatch, compute: object) -> tuple[object, object]:
    assert callable(compute)
    with_c = compute()
    monkeypatch.setattr(native, "AVAILABLE", False)
    try:
        with_numpy = compute()
    finally:
        monkeypatch.setattr(native, "AVAILABLE", True)
    return with_c, with_numpy


_values = st.one_of(
    st.none(),
    st.binary(max_size=24),
    st.binary(min_size=60, max_size=150),
)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(
        [
            *(pa.int8(), pa.uint8(), pa.int16(), pa.uint16(), pa.int32(), pa.uint32(), pa.int64(), pa.uint64()),
            *(pa.float16(), pa.float32(), pa.float64(), pa.timestamp("us", tz="UTC"), pa.date32(), pa.duration("s")),
        ]
    ),
    st.binary(max_size=400),
    st.binary(max_size=60),
    st.integers(min_value=0, max_value=9),
)
@example(pa.float16(), b"\x00\x7d", b"", 0)  # a signalling NaN, whose cast numpy warns about
@example(pa.float32(), b"\x01\x00\xa0\x7f", b"", 0)
@example(pa.float64(), b"\x00" * 15 + b"\x60", b"", 0)  # 0 and 2**513: the square overflows
@example(pa.float64(), b"\xff\xff\xff\xff\xff\xff\xef\x7f" * 2, b"", 0)  # the sum overflows
def test_numeric_summaries_agree(kind: pa.DataType, values: bytes, validity: bytes, offset: int) -> None:
    """Any bit pattern (NaN with payloads, infinities, both zeros, the integer extremes, nulls
    over garbage) in a sliced array: range, counts and both sums give the same bits."""
    width = kind.bit_width // 8
    rows = len(values) // width
    rows = min(rows, len(validity) * 8) if validity else rows
    buffers = [pa.py_buffer(validity) if validity else None, pa.py_buffer(values)]
    column = pa.Array.from_buffers(kind, rows, buffers).slice(min(offset, rows))
    numbers = numeric_summary.numbers(column)
    with pytest.MonkeyPatch.context() as monkeypatch:
        with_c, with_numpy = _both_ways(monkeypatch, lambda: numeric_summary.summarize(column, numbers))
    assert repr(with_c) == repr(with_numpy)  # repr: NaN-free, and tells -0.0 from 0.0


_short_texts = st.sampled_from([b"", b"a", b"ab", b"abcdefgh", b"abcdefghi", b"x" * 17])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.none(), _short_texts), max_size=60),
    st.lists(st.one_of(st.none(), st.integers(min_value=-3, max_value=3)), max_size=60),
    st.integers(min_value=0, max_value=5),
    st.sampled_from([pa.string(), pa.large_binary(), pa.int8(), pa.uint16(), pa.int32(), pa.int64(), pa.date32()]),
    st.integers(min_value=0, max_value=8),
)
def test_small_counts_are_arrows_value_counts(
    texts: list[bytes | None], numbers: list[int | None], offset: int, kind: pa.DataType, most: int
) -> None:
    """The same values with the same counts, in the same order (a null is a value); values of
    every short length, ending at the very end of the data buffer; None past ``most``."""
    import pyarrow.compute as pc

    if pa.types.is_string(kind) or pa.types.is_large_binary(kind):
        values = [v.decode() if v is not None and pa.types.is_string(kind) else v for v in texts]
    else:
        values = [v if v is None or not pa.types.is_unsigned_integer(kind) else abs(v) for v in numbers]
    array = pa.array(values, type=kind).slice(min(offset, len(values)))
    counted = pc.value_counts(array)
    found = native.small_counts(array, most)
    if len(counted) > most:
        assert found is None
        return
    assert found is not None
    first, counts = found
    assert array.take(pa.array(first, pa.int64())).to_pylist() == counted.field("values").to_pylist()
    assert counts.tolist() == counted.field("counts").to_pylist()


def test_numeric_summaries_of_many_values_agree() -> None:
    """Long enough for every lane and a partial last row of them, with nulls."""
    rng = np.random.default_rng(11)
    values = rng.normal(1e6, 1e3, size=100_003)
    column = pa.array(values, mask=rng.random(len(values)) < 0.1)
    with pytest.MonkeyPatch.context() as monkeypatch:
        with_c, with_numpy = _both_ways(
            monkeypatch, lambda: numeric_summary.summarize(column, numeric_summary.numbers(column))
        )
    assert with_c == with_numpy
    kept = values[column.is_valid().to_numpy(zero_copy_only=False)]
    assert with_c.finite == len(kept)
    assert with_c.total / len(kept) == pytest.approx(kept.mean(), rel=1e-12)
    assert with_c.squares / len(kept) == pytest.approx(kept.var(), rel=1e-9)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(_values, max_size=40),
    st.integers(min_value=0, max_value=6),
    st.sampled_from([pa.binary(), pa.large_binary(), pa.string(), pa.large_string()]),
    st.booleans(),
)
def test_string_hashes_agree(values: list[bytes | None], offset: int, kind: pa.DataType, encoded: bool) -> None:
    """Sliced arrays, both offset widths, nulls, values that end at the very end of the data
    buffer (where the C loop must not read a whole word past it) and dictionaries."""
    text = pa.types.is_string(kind) or pa.types.is_large_string(kind)
    typed = [v.hex() if text and v is not None else v for v in values]
    array = pa.array([typed[0] if typed else None] * offset + typed, type=kind).slice(offset)
    if encoded:
        array = array.dictionary_encode()
    with pytest.MonkeyPatch.context() as monkeypatch:
        with_c, with_numpy = _both_ways(monkeypatch, lambda: rowhash.column_hashes(array))
    assert np.array_equal(with_c, with_numpy)


def test_many_rows_of_few_strings_agree() -> None:
    """Long columns, where the numpy path hashes each distinct value once through a dictionary."""
    rng = np.random.default_rng(7)
    palette = np.array(["", "a", "abcdefgh", "abcdefghi", "x" * 31, "naïve", "日本語テキスト"], dtype=object)
    values = palette[rng.integers(0, len(palette), 20_000)].tolist()
    values[::97] = [None] * len(values[::97])
    for array in (pa.array(values), pa.array(values, pa.large_string()), pa.array(values).slice(5)):
        with pytest.MonkeyPatch.context() as monkeypatch:
            with_c, with_numpy = _both_ways(monkeypatch, lambda a=array: rowhash.column_hashes(a))
        assert np.array_equal(with_c, with_numpy)


@settings(max_examples=80, deadline=None)
@given(
    st.sampled_from(
        [pa.int8(), pa.uint16(), pa.int32(), pa.float32(), pa.float64(), pa.int64(), pa.timestamp("ns"), pa.bool_()]
    ),
    st.binary(max_size=320),
    st.binary(max_size=40),
    st.integers(min_value=0, max_value=7),
)
def test_fixed_width_and_row_hashes_agree(kind: pa.DataType, values: bytes, validity: bytes, offset: int) -> None:
    """Any bit pattern (NaNs with payloads, -0.0, nulls over garbage), in a sliced array, folded
    into row hashes beside a string column."""
    width = max(kind.bit_width // 8, 1)
    rows = len(values) * 8 if kind == pa.bool_() else len(values) // width
    rows = min(rows, len(validity) * 8) if validity else rows
    buffers = [pa.py_buffer(validity) if validity else None, pa.py_buffer(values)]
    column = pa.Array.from_buffers(kind, rows, buffers).slice(min(offset, rows))
    table = pa.table({"x": column, "s": pa.array([str(i) for i in range(len(column))])})
    with pytest.MonkeyPatch.context() as monkeypatch:
        with_c, with_numpy = _both_ways(monkeypatch, lambda: rowhash.row_hashes(table))
    assert np.array_equal(with_c, with_numpy)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=2**64 - 1) | st.integers(0, 5), min_size=1, max_size=70),
    st.lists(st.integers(min_value=0, max_value=2**64 - 1) | st.integers(0, 7), max_size=70),
)
def test_first_matches_and_patches_agree(base: list[int], new: list[int]) -> None:
    base_hashes, new_hashes = np.array(base, np.uint64), np.array(new, np.uint64)
    with pytest.MonkeyPatch.context() as monkeypatch:
        (found, source, repeated), (found_np, source_np, repeated_np) = _both_ways(
            monkeypatch, lambda: patches._first_matches(base_hashes, new_hashes)
        )
        assert np.array_equal(source, source_np) and np.array_equal(found, found_np) and repeated == repeated_np
        with_c, with_numpy = _both_ways(monkeypatch, lambda: patches.align(base_hashes, new_hashes))
    assert (with_c is None) == (with_numpy is None)
    if with_c is not None:
        assert np.array_equal(with_c.ops, with_numpy.ops)
        assert np.array_equal(with_c.literal_rows, with_numpy.literal_rows)


def test_bad_offsets_are_refused_before_the_c_loop_reads() -> None:
    data = np.frombuffer(b"abcdef", dtype=np.uint8)
    for offsets in ([0, 7], [3, 2], [-1, 2]):
        with pytest.raises(ValueError, match="offsets"):
            native.bytes_hashes(np.array(offsets, dtype=np.int32), data)
    with pytest.raises(ValueError, match="offsets"):
        native.bytes_hashes(np.array([0, 2], dtype=np.int16), data)
    assert native.bytes_hashes(np.array([2, 2, 6], dtype=np.int64), data).shape == (2,)


def _commit(folder: Path, table: pa.Table, native_on: bool) -> list[str]:
    """Commit ``table`` twice (the second time edited) in a fresh repository; return the ids of
    the objects it stored, but for the commits (which hold the time)."""
    folder.mkdir()
    pq.write_table(table, folder / "t.parquet")
    env = {**os.environ, "DATAKEEP_NATIVE": "1" if native_on else "0"}

    def dk(*args: str) -> None:
        subprocess.run([sys.executable, "-m", "datakeep", *args], cwd=folder, env=env, check=True, capture_output=True)

    dk("init")
    dk("add", "t.parquet", "--name", "t", "--key", "id")
    dk("commit", "-m", "one")
    names = table.column("s").to_pylist()
    edited = table.set_column(2, "s", pa.array([f"edited-{i}" if i % 50 == 0 else v for i, v in enumerate(names)]))
    pq.write_table(edited, folder / "t.parquet")
    dk("commit", "-m", "two")
    stored = [p for p in (folder / ".datakeep" / "objects").rglob("*") if p.is_file()]
    kept = sorted(p.parent.name + p.name for p in stored if not p.read_bytes().startswith(b'{"author"'))
    assert len(kept) == len(stored) - 2
    return kept


def test_statistics_of_every_kind_of_column_are_the_same_with_and_without_the_extension(tmp_path: Path) -> None:
    """The manifests hold every column's statistics (range, moments, counts, sample): numbers of
    every width with NaN, infinities and both zeros, times, text and categories with nulls, in
    batches whose counted values come and go, must give the same manifest either way."""
    rng = np.random.default_rng(5)
    rows = 150_000  # three batches: the counts of later batches are merged, not just taken
    floats = rng.normal(size=rows)
    floats[rng.random(rows) < 0.01] = np.nan
    floats[:4] = [np.inf, -np.inf, -0.0, 0.0]
    table = pa.table(
        {
            "id": np.arange(rows),
            "f32": pa.array(floats.astype(np.float32), mask=rng.random(rows) < 0.05),
            "s": [f"name-{i % 977}" for i in range(rows)],
            "i8": pa.array(rng.integers(-128, 128, rows).astype(np.int8)),
            "u64": pa.array(rng.integers(0, 2**64 - 1, rows, dtype=np.uint64, endpoint=True)),
            "code": pa.array(rng.choice(["a", "bb", "ccc", None], rows).tolist()),
            "level": pa.array(rng.integers(0, 900 if rows else 1, rows), mask=rng.random(rows) < 0.1),
            "at": pa.array(rng.integers(0, 2**40, rows)).cast(pa.timestamp("us", tz="Europe/Paris")),
            "day": pa.array(rng.integers(0, 40, rows).astype(np.int32)).cast(pa.date32()),
            "kind": pa.array(rng.choice(["x", "y"], rows).tolist()).dictionary_encode(),
            "f16": pa.array(rng.normal(size=rows).astype(np.float16)),
        }
    )
    assert _commit(tmp_path / "c", table, True) == _commit(tmp_path / "numpy", table, False)


def test_a_commit_stores_the_same_objects_with_and_without_the_extension(tmp_path: Path) -> None:
    """Snapshot ids, row-hash sidecars and patches are all named by their content: the same
    names mean the same bytes, with the C loops or with numpy."""
    rng = np.random.default_rng(3)
    rows = 30_000
    table = pa.table(
        {
            "id": np.arange(rows),
            "x": rng.normal(size=rows),
            "s": [f"name-{i % 977}" for i in range(rows)],
            "c": pa.array(rng.choice(["a", "bb", None], rows).tolist()),
        }
    )
    assert _commit(tmp_path / "c", table, True) == _commit(tmp_path / "numpy", table, False)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=-40, max_value=60), max_size=60),
    st.lists(st.integers(min_value=-40, max_value=60), max_size=60),
    st.sampled_from([0, 2**40, -(2**62)]),
)
def test_dense_key_joins_agree(a: list[int], b: list[int], shift: int) -> None:
    """Keys on both sides of zero (negative ones pair last, as unsigned codes sort), repeated
    keys (no dense join), and ranges far from zero."""
    from datakeep.diff import matching

    codes_a = (np.array(a, dtype=np.int64) + shift).view(np.uint64)
    codes_b = (np.array(b, dtype=np.int64) + shift).view(np.uint64)
    with pytest.MonkeyPatch.context() as monkeypatch:
        with_c, with_numpy = _both_ways(monkeypatch, lambda: matching.match_dense(codes_a, codes_b))
    assert (with_c is None) == (with_numpy is None)
    if with_c is not None and with_numpy is not None:
        assert with_c[0].tolist() == with_numpy[0].tolist() and with_c[1].tolist() == with_numpy[1].tolist()
        assert with_c[0].dtype == with_numpy[0].dtype


@settings(max_examples=30, deadline=None)
@example(rows=1, key_type=pa.int64(), first=0, seed=362880, inserted="repeat")  # a commit of no change
@given(
    st.integers(min_value=1, max_value=400),
    st.sampled_from([pa.int64(), pa.int32(), pa.timestamp("us")]),
    st.integers(min_value=-300, max_value=10**6),
    st.integers(min_value=0, max_value=2**32 - 1),
    st.sampled_from(["dense", "far", "repeat"]),
)
def test_a_commits_row_counts_agree_with_the_general_join(
    tmp_path_factory: pytest.TempPathFactory, rows: int, key_type: pa.DataType, first: int, seed: int, inserted: str
) -> None:
    """The commit's one-pass count (unique dense integer keys) and the diff engine's join give
    the same added, removed and modified; keys that repeat or spread wide take the general join."""
    from datakeep import rowcache
    from datakeep.api import Repo
    from datakeep.diff.summary import _dense_counts, row_changes
    from datakeep.repo import Repository

    root = tmp_path_factory.mktemp("counts")
    rng = np.random.default_rng(seed)
    ids = np.arange(first, first + rows)
    values = rng.integers(0, 5, rows)
    path = root / "t.parquet"
    pq.write_table(pa.table({"id": pa.array(ids).cast(key_type), "v": values}), path)
    repo = Repo.init(root)
    repo.add(path, name="t", key=["id"])
    repo.commit(message="one")
    keep = rng.random(rows) > 0.2
    values = np.where(rng.random(rows) < 0.3, values + 1, values)
    top = ids.max() + np.arange(5)
    extra = {"dense": top + 1, "far": top + 10**8, "repeat": ids[:5]}[inserted]
    new_ids = np.concatenate([ids[keep], extra])
    new_values = np.concatenate([values[keep], np.zeros(len(extra), np.int64)])
    new = pa.table({"id": pa.array(new_ids).cast(key_type), "v": new_values})
    assume(not new.equals(pq.read_table(path)))  # one row dropped and put back as it was: no commit
    pq.write_table(new, path)
    stored = repo.commit(message="two").commit.summary["t"]["rows"]
    storage = Repository.discover(root)
    old_manifest, new_manifest = repo.manifest("t", "HEAD~1"), repo.manifest("t")
    old_rows, new_rows = rowcache.load(storage, old_manifest), rowcache.load(storage, new_manifest)
    assert old_rows is not None and new_rows is not None
    fast = _dense_counts(old_manifest, new_manifest, old_rows, new_rows)
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(native, "AVAILABLE", False)
        general = row_changes(storage, old_manifest, new_manifest, old_rows=old_rows, new_rows=new_rows)["rows"]
    assert stored == general
    if fast is not None:
        assert fast == general
    if inserted == "dense":
        assert fast is not None
    if inserted == "repeat" and keep[:5].any():
        assert fast is None  # a key twice in the new version


#: Values that are prefixes of one another, zero bytes included: where a comparison by the first
#: 8 bytes alone would go wrong.
_EDGE_BYTES = [b"", b"\x00", b"ab", b"ab\x00", b"ab\x00\x01", b"abcdefgh", b"abcdefgh\x00", b"abcdefghi"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.none() | st.binary(max_size=12) | st.sampled_from(_EDGE_BYTES), max_size=40),
    st.integers(min_value=0, max_value=5),
    st.sampled_from([pa.binary(), pa.large_binary(), pa.string(), pa.large_string()]),
)
def test_string_min_max_is_arrows(values: list[bytes | None], offset: int, kind: pa.DataType) -> None:
    """Byte-wise order (a value before its own extensions, zero bytes included), nulls skipped,
    sliced arrays, all-null arrays."""
    import pyarrow.compute as pc

    text = pa.types.is_string(kind) or pa.types.is_large_string(kind)
    typed = [v.hex() if text and v is not None else v for v in values]
    array = pa.array([None] * offset + typed, type=kind).slice(offset)
    expected = pc.min_max(array)
    assert native.string_min_max(array) == (expected["min"].as_py(), expected["max"].as_py())


@pytest.mark.parametrize("first", [-(2**63), -(2**63) + 5, 2**63 - 20])
def test_dense_joins_at_the_ends_of_int64_agree(first: int) -> None:
    """Keys from int64's least value on (uint64 keys from 2**63 read as int64): the C join once
    negated the least key, which overflows there, and read far outside its table."""
    from datakeep.diff import matching

    a = np.arange(first, first + 10, dtype=np.int64).view(np.uint64)
    b = np.arange(first + 2, first + 12, dtype=np.int64)[::-1].copy().view(np.uint64)
    with pytest.MonkeyPatch.context() as monkeypatch:
        with_c, with_numpy = _both_ways(monkeypatch, lambda: matching.match_dense(a, b))
    assert with_c is not None and with_numpy is not None
    assert with_c[0].tolist() == with_numpy[0].tolist() and with_c[1].tolist() == with_numpy[1].tolist()


def test_string_view_arrays_are_refused_not_misread() -> None:
    """The C loops read Arrow offsets; a view array's 16-byte views are not that."""
    if not hasattr(pa, "string_view"):
        pytest.skip("this pyarrow has no string_view")
    array = pa.array(["b", "", "a"], pa.string_view())
    with pytest.raises(ValueError, match="offsets"):
        native.string_min_max(array)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(width=64), min_size=0, max_size=40), st.integers(min_value=1, max_value=17))
@example([0.1, -0.0, 5e-324, 1.7976931348623157e308, 123456.5, float("nan"), float("inf")], 6)
def test_rounded_is_pythons_g_format_to_the_bit(values: list[float], digits: int) -> None:
    import struct

    got = native.rounded(np.array(values, dtype=np.float64), digits).tolist()
    expected = [float(f"{v:.{digits}g}") for v in values]
    assert [struct.pack("<d", v) for v in got] == [struct.pack("<d", v) for v in expected]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=1, max_size=60))
@example([1.7e15, 1.7e15 + 3.0, 1.7e15 + 7.0])  # epochs close together: more digits than six
def test_a_statistics_sample_rounds_alike_in_c_and_in_python(sample: list[float]) -> None:
    from datakeep import stats

    with_c = stats._rounded_sample(sample)
    original = native.AVAILABLE
    native.AVAILABLE = False
    try:
        in_python = stats._rounded_sample(sample)
    finally:
        native.AVAILABLE = original
    assert with_c == in_python
