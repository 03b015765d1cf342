"""Column statistics: the same numbers however a file's rows arrive in batches, top values ranked
by count then value, and a folder file's share of the sample."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from decimal import Decimal

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datakeep import stats

COUNTED = ("count", "nulls", "min", "max", "distinct", "distinct_exact", "top")


def _stats(table: pa.Table, cuts: list[int], files: int = 1) -> dict[str, dict[str, object]]:
    """Statistics of ``table`` fed as batches cut at ``cuts`` (sorted row positions)."""
    acc = stats.TableStats(table.schema)
    bounds = [0, *sorted(set(cuts)), table.num_rows]
    for start, end in itertools.pairwise(bounds):
        if end > start:
            acc.update(table.slice(start, end - start))
    return acc.finish(files=files)


@settings(max_examples=60, deadline=None)
@given(
    ints=st.lists(st.one_of(st.none(), st.integers(-5, 40)), min_size=1, max_size=300),
    words=st.data(),
    cuts=st.lists(st.integers(0, 300), max_size=4),
)
def test_counts_and_top_values_do_not_depend_on_the_batches(
    ints: list[int | None], words: st.DataObject, cuts: list[int]
) -> None:
    """One batch is ranked in Arrow, several are added up in Python: both give the same answer."""
    text = words.draw(
        st.lists(
            st.one_of(st.none(), st.sampled_from(["b", "a", "ab", "", "zz", "é"])),
            min_size=len(ints),
            max_size=len(ints),
        )
    )
    table = pa.table({"n": pa.array(ints, pa.int64()), "s": pa.array(text, pa.string())})
    whole, batched = _stats(table, []), _stats(table, [c for c in cuts if c < len(ints)])
    for column in ("n", "s"):
        assert {k: whole[column].get(k) for k in COUNTED} == {k: batched[column].get(k) for k in COUNTED}


def _counted(values: list[object]) -> dict[str, object]:
    """The top list and distinct count a plain Counter gives (nulls not counted)."""
    counter = Counter(v for v in values if v is not None)
    ranked = sorted(counter.items(), key=lambda item: (-item[1], item[0]))[: stats.TOP_VALUES]
    return {"distinct": len(counter), "distinct_exact": True, "top": [[v, c] for v, c in ranked]}


@settings(max_examples=40, deadline=None)
@given(
    ints=st.lists(st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1), st.integers(0, 30)), max_size=400),
    words=st.data(),
    cuts=st.lists(st.integers(0, 400), min_size=stats.FOLD_BATCHES, max_size=3 * stats.FOLD_BATCHES),
    resume_at=st.integers(0, 400),
)
def test_counts_of_many_batches_are_merged_exactly(
    ints: list[int | None], words: st.DataObject, cuts: list[int], resume_at: int
) -> None:
    """Integers and text are summed in Arrow every `FOLD_BATCHES` batches: the counts equal a
    Counter's, also when a resumed commit restores the state taken part-way."""
    text = words.draw(st.lists(st.one_of(st.none(), st.text(max_size=3)), min_size=len(ints), max_size=len(ints)))
    table = pa.table({"n": pa.array(ints, pa.int64()), "s": pa.array(text, pa.large_string())})
    bounds = [0, *sorted({c for c in cuts if c < len(ints)}), len(ints)]
    acc = stats.TableStats(table.schema)
    for start, end in itertools.pairwise(bounds):
        if end > start:
            acc.update(table.slice(start, end - start))
            if start <= resume_at < end:
                restored = stats.TableStats(table.schema)
                restored.restore(acc.state())
                acc = restored
    out = acc.finish()
    for name, values in (("n", ints), ("s", text)):
        expected = _counted(values)
        expected["top"] = [[stats.jsonable(v), c] for v, c in expected["top"]]  # type: ignore[union-attr]
        assert {k: out[name].get(k) for k in expected} == expected


@settings(max_examples=80, deadline=None)
@given(
    ints=st.lists(st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1), st.integers(-3, 3)), max_size=300),
    text=st.lists(st.one_of(st.none(), st.text(max_size=2)), max_size=300),
)
def test_few_values_rank_in_python_as_in_arrow(ints: list[int | None], text: list[str | None]) -> None:
    """Up to `RANK_IN_PYTHON` counted values are ranked in Python: the same top list as Arrow's
    sort (count descending, then value; text by UTF-8 bytes, which is code point order)."""
    import pyarrow.compute as pc

    for array in (pa.array(ints, pa.int64()), pa.array(text, pa.string())):
        counted = pc.value_counts(array)
        in_python = stats._ranked(counted)
        with pytest.MonkeyPatch.context() as patched:
            patched.setattr(stats, "RANK_IN_PYTHON", -1)
            assert stats._ranked(counted) == in_python


def test_values_past_the_limit_over_many_batches_drop_the_top_list() -> None:
    """Every batch holds few enough values to count, all of them together too many: as when they
    were added up batch by batch, no top list and the most one batch held as a floor."""
    per_batch = 300
    values = list(range(per_batch * 4))  # 1,200 distinct over 4 * FOLD_BATCHES batches
    table = pa.table({"n": pa.array(values * stats.FOLD_BATCHES, pa.int64())})
    out = _stats(table, list(range(per_batch, table.num_rows, per_batch)))["n"]
    assert "top" not in out
    assert (out["distinct"], out["distinct_exact"]) == (per_batch, False)


def test_top_values_rank_by_count_then_by_value() -> None:
    table = pa.table({"n": pa.array([10, 9, 2, 2, 9, 100], pa.int64())})
    for cuts in ([], [1, 3]):
        assert _stats(table, cuts)["n"]["top"] == [[2, 2], [9, 2], [10, 1], [100, 1]]


def test_a_column_of_more_distinct_values_than_tracked_keeps_no_top_list() -> None:
    """Its distinct count is exact when one batch held every row (nulls not counted), and
    otherwise the most one batch held: a floor."""
    values = [*range(stats.MAX_TRACKED_DISTINCT + 1), None]
    table = pa.table({"n": pa.array(values, pa.int64())})
    whole = _stats(table, [])["n"]
    assert "top" not in whole and (whole["distinct"], whole["distinct_exact"]) == (len(values) - 1, True)
    split = _stats(table, [600])["n"]
    assert "top" not in split and split["distinct_exact"] is False and split["distinct"] < len(values) - 1


def test_nan_counts_once_and_ranks_after_the_numbers() -> None:
    nan = float("nan")
    table = pa.table({"x": pa.array([nan, 1.0, nan, 2.0, 2.0], pa.float64())})
    for cuts in ([], [1, 2, 4]):
        out = _stats(table, cuts)["x"]
        assert out["distinct"] == 3
        assert [count for _, count in out["top"]] == [2, 2, 1]
        assert out["top"][0][0] == 2.0 and out["top"][2][0] == 1.0


def test_a_folder_file_keeps_its_share_of_the_sample_and_no_quantiles() -> None:
    table = pa.table({"x": pa.array([float(v) for v in range(5000)])})
    alone = _stats(table, [])["x"]
    assert len(alone["sample"]) == stats.SAMPLE_SIZE and len(alone["quantiles"]) == 21
    in_folder = _stats(table, [], files=100)["x"]
    assert "quantiles" not in in_folder
    assert len(in_folder["sample"]) == stats.file_sample_size(100) == 16
    # Spread over the file, not its first rows.
    assert min(in_folder["sample"]) < 500 and max(in_folder["sample"]) > 4000


def test_the_state_of_a_first_batch_carries_its_counts() -> None:
    """A resumed commit restores the statistics state taken after the first batch: its value
    counts must be in it, not only in Arrow arrays the state leaves out."""
    table = pa.table({"s": pa.array(["a", "b", "a", "c"])})
    first = stats.TableStats(table.schema)
    first.update(table.slice(0, 2))
    resumed = stats.TableStats(table.schema)
    resumed.restore(first.state())
    resumed.update(table.slice(2))
    assert resumed.finish()["s"]["top"] == _stats(table, [])["s"]["top"] == [["a", 2], ["b", 1], ["c", 1]]


def test_every_temporal_type_gets_a_range_and_a_mean() -> None:
    """time32 too: Arrow casts no 32-bit time to int64, and that once cost it its statistics."""
    table = pa.table(
        {
            "t32": pa.array([dt.time(9, 30), dt.time(17, 0), None], pa.time32("ms")),
            "t64": pa.array([dt.time(9, 30), dt.time(17, 0), None], pa.time64("us")),
            "day": pa.array([dt.date(2024, 1, 1), dt.date(2024, 3, 1), None]),
            "dur": pa.array([90_000, 7_200_000, None], pa.duration("ms")),
        }
    )
    result = _stats(table, [])
    assert (result["t32"]["min"], result["t32"]["max"], result["t32"]["mean"]) == (34_200_000, 61_200_000, 47_700_000)
    assert (result["t64"]["min"], result["t64"]["max"]) == (34_200_000_000, 61_200_000_000)
    assert result["day"]["mean"] == 19_753  # days since 1970: 2024-01-31
    assert (result["dur"]["min"], result["dur"]["max"]) == (90_000, 7_200_000)
    assert all(result[name]["nulls"] == 1 for name in table.column_names)


def test_json_text_is_counted_as_strings() -> None:
    table = pa.table({"j": pa.array(['{"a": 1}', '{"a": 1}', "[]"], pa.json_())})
    result = _stats(table, [])
    assert result["j"]["distinct"] == 2
    assert (result["j"]["min"], result["j"]["max"]) == ("[]", '{"a": 1}')


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.floats(allow_nan=False, allow_infinity=False, width=64) | st.integers(-5, 5).map(float),
        min_size=1,
        max_size=120,
    )
)
def test_quantiles_are_numpys_bit_for_bit(values: list[float]) -> None:
    """The statistics' own quantiles (numpy's linear method, without np.quantile's import of
    numpy.ma) give exactly what np.quantile gives."""
    import numpy as np

    from datakeep.stats import quantiles

    at = np.linspace(0, 1, 21)
    with np.errstate(all="ignore"):
        expected = np.quantile(np.asarray(values), at)
        got = quantiles(np.asarray(values), at)
    assert got.tobytes() == expected.tobytes()


def test_long_text_is_not_counted_and_its_range_keeps_only_its_ends_beginnings() -> None:
    """10 MB strings were all counted (a commit failed past 2 GiB of them) and every manifest
    kept them whole as min, max and top values, per file and for the dataset."""
    long = ["b" * 5000, "a" * 3000 + "z", "c" * 400, None, "b" * 5000]
    column = _stats(pa.table({"doc": pa.array(long)}), [2])["doc"]
    assert column["min"] == "a" * stats.LONG_VALUE and column["max"] == "c" * stats.LONG_VALUE
    assert column["range_cut"] == stats.LONG_VALUE
    assert "top" not in column and "distinct" not in column
    assert (column["count"], column["nulls"]) == (5, 1)
    short = _stats(pa.table({"code": pa.array(["x", "y", "x"])}), [])["code"]
    assert short["top"] == [["x", 2], ["y", 1]] and "range_cut" not in short
    merged = stats.merge([{"doc": column}, {"doc": short}])
    assert merged["doc"]["range_cut"] == stats.LONG_VALUE


def test_times_beyond_pythons_datetime_are_counted_alike_however_batched() -> None:
    """Ranked in Arrow (one batch) or counted in Python (several), values Python cannot hold
    are the same text, with ties in time order."""
    table = pa.table(
        {
            "day": pa.array([2_933_263, 19_723, -800_000, 2_933_263, None, 0, 19_723], pa.date32()),
            "at": pa.array([10**15, 5, -(10**15), None, 0, 10**15, 5], pa.timestamp("ms", tz="Europe/Berlin")),
            "took": pa.array([2**62, 864_000, 2**62, -(2**62), 172_800, None, 7], pa.duration("s")),
        }
    )
    whole = _stats(table, [])
    assert whole["day"]["top"] == [["2024-01-01", 2], ["+10001-01-01", 2], ["-0221-09-04", 1], ["1970-01-01", 1]]
    assert (whole["at"]["min"], whole["at"]["max"]) == ("-29719-04-06T00:13:20+02:00", "+33658-09-27T03:46:40+02:00")
    far, near = "53375995583650 days, 7:45:04", "-53375995583651 days, 16:14:56"
    assert whole["took"]["top"] == [
        [far, 2],
        [near, 1],
        ["0:00:07", 1],
        ["2 days, 0:00:00", 1],
        ["10 days, 0:00:00", 1],
    ]
    for cuts in ([1], [2, 4], [1, 2, 3, 4, 5, 6]):
        batched = _stats(table, cuts)
        for name in table.column_names:
            assert {k: batched[name].get(k) for k in COUNTED} == {k: whole[name].get(k) for k in COUNTED}, (name, cuts)


def test_a_decimal_column_keeps_a_sample_for_drift_and_exact_bounds() -> None:
    from decimal import Decimal

    from datakeep.stats import ColumnAccumulator

    values = [Decimal(f"{i}.25") if i % 10 else None for i in range(5_000)]
    acc = ColumnAccumulator(pa.decimal128(12, 2))
    acc.update(pa.array(values[:2_500], pa.decimal128(12, 2)))
    acc.update(pa.array(values[2_500:], pa.decimal128(12, 2)))
    out = acc.finish()
    assert (out["min"], out["max"]) == ("1.25", "4999.25")  # exact, as text
    assert out["sample"] and all(v % 1 == 0.25 for v in out["sample"])  # floats, nulls left out
    assert (
        out["quantiles"] == sorted(out["quantiles"]) and 1.25 <= out["quantiles"][0] < out["quantiles"][-1] <= 4999.25
    )


finite_or_not = st.one_of(
    st.none(), st.sampled_from([float("inf"), float("-inf"), float("nan")]), st.integers(-3, 3).map(float)
)  # (not -0.0: one file counts it apart from 0.0, the merge of files as 0.0)


@settings(max_examples=150, deadline=None)
@given(parts=st.lists(st.lists(finite_or_not, min_size=1, max_size=12), min_size=2, max_size=5))
def test_a_folders_float_bounds_and_top_values_are_those_of_its_rows_with_infinities_and_nan(
    parts: list[list[float | None]],
) -> None:
    """Infinities and NaN are stored as text ('inf', 'nan'); merged over files they lost the
    folder its min and max (a max that failed after a min crashed the commit: KeyError 'max'),
    and ranked the top values by their text. Few values a file: the top lists hold them all, so
    the folder's statistics must be those of its rows read as one file."""
    schema = pa.schema([pa.field("v", pa.float64())])
    files = [_stats(pa.table({"v": pa.array(part, pa.float64())}), [], files=len(parts)) for part in parts]
    merged = stats.merge(files, union=schema, rows=[len(part) for part in parts])["v"]
    whole = _stats(pa.table({"v": pa.array([v for part in parts for v in part], pa.float64())}), [])["v"]
    for key in ("min", "max", "top", "distinct", "nan", "inf", "-inf"):
        assert merged.get(key) == whole.get(key), key


def _reference_ranking(counted: pa.StructArray) -> dict[str, object]:
    """`stats._ranked` as it was before numpy ranked numbers: Arrow's sort of a (count, value)
    table, the reference the faster ranking must agree with."""
    import pyarrow.compute as pc

    values, counts = counted.field("values"), counted.field("counts")
    if values.null_count:
        present = pc.is_valid(values)
        values, counts = values.filter(present), counts.filter(present)
    order = pc.sort_indices(
        pa.table({"count": counts, "value": values}), [("count", "descending"), ("value", "ascending")]
    )[: stats.TOP_VALUES]
    top = zip(stats.as_python(values.take(order)), counts.take(order).to_pylist(), strict=True)
    return {
        "distinct": len(values),
        "distinct_exact": True,
        "top": [[stats.jsonable(stats._count_key(v)), c] for v, c in top],
    }


_FLOATS = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.5, -1.5, float("nan")]),
)


@settings(max_examples=150, deadline=None)
@given(
    ints=st.lists(st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1), st.integers(-3, 3)), max_size=200),
    floats=st.lists(_FLOATS, max_size=200),
    text=st.lists(st.one_of(st.none(), st.text(max_size=3), st.sampled_from(["a", "b", "é", ""])), max_size=200),
    raw=st.lists(st.one_of(st.none(), st.binary(max_size=3)), max_size=200),
    small=st.lists(st.one_of(st.none(), st.integers(0, 255)), max_size=200),
)
def test_ranking_agrees_with_arrows_table_sort(
    ints: list[int | None],
    floats: list[float | None],
    text: list[str | None],
    raw: list[bytes | None],
    small: list[int | None],
) -> None:
    """Top values ranked in numpy (numbers, times) or by one column's sort (text, bytes) are
    Arrow's (count, value) table sort's: ties by value, NaN after the numbers, -0.0 and 0.0 in
    their order of appearance, nulls left out."""
    import pyarrow.compute as pc

    day = dt.datetime(2024, 1, 1)
    arrays = [
        pa.array(ints, pa.int64()),
        pa.array([None if v is None else v % 2**64 for v in ints], pa.uint64()),
        pa.array(small, pa.uint8()),
        pa.array(small, pa.int16()),
        pa.array(floats, pa.float64()),
        pa.array(floats, pa.float32()),
        pa.array(small, pa.int32()),
        pa.array([None if v is None else day + dt.timedelta(seconds=v) for v in small], pa.timestamp("us")),
        pa.array([None if v is None else day + dt.timedelta(seconds=v) for v in small], pa.timestamp("ms", "UTC")),
        pa.array([None if v is None else dt.date(2024, 1, 1) + dt.timedelta(days=v) for v in small], pa.date32()),
        pa.array([None if v is None else v * 1000 for v in small], pa.duration("ms")),
        pa.array(text, pa.string()),
        pa.array(text, pa.large_string()),
        pa.array(list(dict.fromkeys(text)), pa.string()),  # each value once: the least are the top
        pa.array([*dict.fromkeys(text), None, *dict.fromkeys(text)], pa.large_string()),  # each twice
        pa.array(raw, pa.binary()),
        pa.array(list(dict.fromkeys(raw)), pa.large_binary()),
        pa.array([None if v is None else Decimal(v) / 100 for v in small], pa.decimal128(6, 2)),
    ]
    for array in arrays:
        counted = pc.value_counts(array)
        expected = _reference_ranking(counted)
        with pytest.MonkeyPatch.context() as patched:
            patched.setattr(stats, "RANK_IN_PYTHON", -1)
            assert stats._ranked(counted) == expected, array.type
        if not (pa.types.is_binary(array.type) or pa.types.is_large_binary(array.type)):  # (few: kept as bytes)
            assert stats._ranked(counted) == expected, array.type


def test_float16_values_are_not_ranked_in_arrow() -> None:
    """Arrow sorts no float16: ranking raises as its table sort did, and the column is counted
    in Python instead (`_top`)."""
    import numpy as np
    import pyarrow.compute as pc

    array = pa.array(np.array([1.5, -0.0, 0.0, np.nan, 2.0, 1.5, np.nan, -3.0], dtype=np.float16))
    with pytest.raises(pa.ArrowException):
        _reference_ranking(pc.value_counts(array))
    with pytest.raises(pa.ArrowException):
        stats._ranked(pc.value_counts(array))


def _old_update_sample(self: stats.ColumnAccumulator, values: object, valid: object) -> None:
    """`ColumnAccumulator._update_sample` before it spared small files their masks: the
    reference the sample must still agree with."""
    import numpy as np

    assert isinstance(values, np.ndarray)
    stride = self._stride
    while (self._offset + len(values)) > 2 * stats.SAMPLE_SIZE * stride:
        stride *= 2
    if stride != self._stride:
        keep = [i for i, row in enumerate(self._sample_rows) if row % stride == 0]
        self.sample = [self.sample[i] for i in keep]
        self._sample_rows = [self._sample_rows[i] for i in keep]
        self._stride = stride
    first = (-self._offset) % stride
    if first >= len(values):
        return
    with np.errstate(invalid="ignore"):
        picked = values[first::stride].astype(np.float64)
    usable = np.isfinite(picked)
    if valid is not None:
        usable &= valid[first::stride]  # type: ignore[index]
    kept = np.flatnonzero(usable)
    self.sample.extend(picked[kept].tolist())
    self._sample_rows.extend((self._offset + first + kept * stride).tolist())


@settings(max_examples=120, deadline=None)
@given(
    ints=st.lists(st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1), st.integers(-3, 3)), max_size=3000),
    floats=st.lists(_FLOATS, max_size=3000),
    cuts=st.lists(st.integers(0, 3000), max_size=4),
    files=st.sampled_from([1, 2, 7, 2000]),
)
def test_samples_agree_with_the_masked_sampling(
    ints: list[int | None], floats: list[float | None], cuts: list[int], files: int
) -> None:
    """The sample (values, rows, stride) and what a file keeps of it are what the masked
    sampling gave, for integers, times and floats with nulls, NaN and infinities, in any batches."""
    columns = {
        "i": pa.array(ints, pa.int64()),
        "u": pa.array([None if v is None else v % 2**64 for v in ints], pa.uint64()),
        "t": pa.array(ints, pa.int64()).cast(pa.timestamp("ns")),
        "f": pa.array(floats, pa.float64()),
        "g": pa.array(floats, pa.float32()) if all(v is None or abs(v) < 1e38 for v in floats) else pa.nulls(1),
    }
    for name, array in columns.items():
        table = pa.table({name: array})
        ours = _stats(table, [c for c in cuts if c <= len(array)], files)
        with pytest.MonkeyPatch.context() as patched:
            patched.setattr(stats.ColumnAccumulator, "_update_sample", _old_update_sample)
            theirs = _stats(table, [c for c in cuts if c <= len(array)], files)
        assert repr(ours) == repr(theirs), name  # repr: NaN equals nothing, and -0.0 == 0.0
