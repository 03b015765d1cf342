"""The fast paths of validation answer exactly what the slow ones would (bench/bench_validate.py).

- strict date parsing compares text with parsed fields in numpy, strftime only for the rest;
- nulls are found while mapping, so pandera never builds a failure case per null cell;
- an ``isin`` every value-map target passes is not run at all;
- batches are mapped on a worker thread, one ahead, and findings still arrive in file order.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datakeep.schemas import load_source
from datakeep.validate import ValidationReport, validate_file
from datakeep.validate.collect import Collector
from datakeep.validate.engine import run
from datakeep.validate.plan import make_plan
from datakeep.validate.times import _strict_strptime, _unpad

REPO = Path(__file__).resolve().parents[1]


def strict_by_strftime(text: pa.Array, fmt: str) -> pa.Array:
    """The reference: every parsed cell printed back with strftime and compared."""
    parsed = pc.strptime(text, format=fmt, unit="us", error_is_null=True)
    # At second resolution, so %S prints "05" and not "05.000000".
    printed = pc.strftime(pc.cast(parsed, pa.timestamp("s"), safe=False), format=fmt)
    same = pc.or_(
        pc.fill_null(pc.equal(printed, text), False),
        pc.fill_null(pc.equal(_unpad(printed), _unpad(text)), False),
    )
    return pc.if_else(same, parsed, pa.scalar(None, parsed.type))


FORMATS = ["%d/%m/%Y", "%Y-%m-%d", "%Y%m%d", "%d.%m.%Y %H:%M", "%Y-%m-%d %H:%M:%S", "%b %d %Y", "%%%Y"]
TRICKY = [
    "05/01/2020", "5/1/2020", "30/02/2020", "29/02/2021", "29/02/2020", "1/13/2020", "05/01/20",
    "05/01/0999", "05/01/12020", "+5/01/2020", "05/01/2020 ", "", "00/01/2020", "2020-01-05",
    "2020-1-5", "2020-02-30", "20200105", "202015", "05.01.2020 10:07", "05.01.2020 24:00",
    "5.1.2020 1:7", "2020-01-05 10:00:05", "Jan 05 2020", "%2020", None,
]  # fmt: skip


@pytest.mark.parametrize("fmt", FORMATS)
def test_strict_dates_match_strftime_reference(fmt: str) -> None:
    for text in (pa.array(TRICKY, pa.string()), pa.array(["x", *TRICKY], pa.string())[1:]):
        assert _strict_strptime(text, fmt).equals(strict_by_strftime(text, fmt))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 40), st.integers(0, 14), st.integers(0, 12000), st.booleans(), st.booleans()),
        min_size=1,
        max_size=60,
    ),
    st.sampled_from(["%d/%m/%Y", "%Y-%m-%d", "%d.%m.%Y"]),
)
def test_strict_dates_match_strftime_on_generated_text(cells: list[tuple[int, int, int, bool, bool]], fmt: str) -> None:
    sep = fmt[2]
    texts = []
    for day, month, year, padded, short_year in cells:
        d, m = (f"{day:02d}", f"{month:02d}") if padded else (str(day), str(month))
        y = f"{year % 100:02d}" if short_year else f"{year:04d}"
        texts.append(f"{y}-{m}-{d}" if sep == "-" else f"{d}{sep}{m}{sep}{y}")
    text = pa.array(texts, pa.string())
    assert _strict_strptime(text, fmt).equals(strict_by_strftime(text, fmt))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "schemas/sources").mkdir(parents=True)
    (tmp_path / "schemas/thing.yaml").write_text(
        """
datakeep:
  key: [id]
columns:
  id: {dtype: int64}
  f: {dtype: float64, in_range: {min_value: 0, max_value: 10}}
  s: {dtype: str, str_length: {min_value: 1, max_value: 3}}
  d: {dtype: 'datetime64[ns]'}
  c: {dtype: str, isin: [A, B]}
  c2: {dtype: str, isin: [A, B]}
  c3: {dtype: str, isin: [A, B]}
strict: true
"""
    )
    (tmp_path / "schemas/sources/src.yaml").write_text(
        """
entity: thing
columns:
  d: {to: d, cast: {type: date, format: '%d/%m/%Y'}}
  c: {to: c, values: {x: A, y: B}}
  c2: {to: c2, values: {x: A, y: C}}
  c3: {to: c3, values: {x: A, y: B}, unmapped: keep}
"""
    )
    return tmp_path


def thing_table() -> pa.Table:
    return pa.table(
        {
            "id": pa.array([1, 2, 3, 4, 5, 6], pa.int64()),
            "f": pa.array([1.0, float("nan"), None, 11.0, 2.0, 3.0], pa.float64()),
            "s": pa.array(["ab", None, "abcd", "a", "", "b"], pa.string()),
            "d": pa.array(["01/02/2020", "31/02/2020", None, "1/2/2020", "2020-02-01", "01/02/2020"], pa.string()),
            "c": pa.array(["x", "y", "z", None, "x", "y"], pa.string()),
            "c2": pa.array(["x", "y", "x", "x", None, "x"], pa.string()),
            "c3": pa.array(["x", "z", "y", "x", "x", "x"], pa.string()),
        }
    )


def problems(report: ValidationReport) -> dict[tuple[str, str | None, str | None], list[int]]:
    return {(p.kind, p.column, p.check): [s.row for s in p.samples] for p in report.problems}


def test_nulls_reported_once_by_datakeep_and_pandera_never_sees_them(project: Path) -> None:
    entity, mapping = load_source(project, "src")
    plan = make_plan(entity, mapping, thing_table().column_names, Collector())
    assert all(column.nullable for column in plan.schema.columns.values())
    pq.write_table(thing_table(), project / "t.parquet")
    found = problems(validate_file(project / "t.parquet", source="src", root=project, max_samples=10))
    # NaN is null to pandera, so it is to datakeep; a failed cast is a cast failure, not a null too
    assert found[("check_failed", "f", "not_nullable")] == [1, 2]
    assert found[("check_failed", "s", "not_nullable")] == [1]
    assert found[("cast_failed", "d", "date")] == [1, 4]
    assert found[("check_failed", "d", "not_nullable")] == [2]
    assert found[("unmapped_value", "c", None)] == [2]
    assert found[("check_failed", "c", "not_nullable")] == [3]
    assert found[("check_failed", "f", "in_range")] == [3]
    assert found[("check_failed", "s", "str_length")] == [2, 4]


def test_isin_skipped_only_where_every_target_passes(project: Path) -> None:
    entity, mapping = load_source(project, "src")
    plan = make_plan(entity, mapping, thing_table().column_names, Collector())
    names = {name: [check.name for check in column.checks] for name, column in plan.schema.columns.items()}
    assert names["c"] == []  # x → A, y → B, both allowed; unmapped values are reported, not kept
    assert names["c2"] == ["isin"]  # C is not allowed
    assert names["c3"] == ["isin"]  # unmapped values are kept as they are
    pq.write_table(thing_table(), project / "t.parquet")
    found = problems(validate_file(project / "t.parquet", source="src", root=project, max_samples=10))
    assert found[("check_failed", "c2", "isin")] == [1]
    assert found[("check_failed", "c3", "isin")] == [1]


@pytest.mark.parametrize("size", [1, 2, 4, 6])
def test_report_is_the_same_whatever_the_batches(project: Path, size: int) -> None:
    entity, mapping = load_source(project, "src")
    table = thing_table()
    whole = run(table.to_batches(), table.column_names, entity, mapping, label=None, root=project, max_samples=3)
    parts = run(
        table.to_batches(max_chunksize=size), table.column_names, entity, mapping,
        label=None, root=project, max_samples=3,
    )  # fmt: skip
    assert parts.to_dict() == whole.to_dict()


def test_sample_data_reports_unchanged_by_batching(tmp_path: Path) -> None:
    shutil.copytree(REPO / "schemas", tmp_path / "schemas")
    entity, mapping = load_source(tmp_path, "legacy")
    table = pq.read_table(REPO / "sample_data/incoming/legacy_export.parquet")
    runs = [
        run(
            table.to_batches(max_chunksize=n),
            table.column_names,
            entity,
            mapping,
            label=None,
            root=tmp_path,
            max_samples=5,
        )
        for n in (7, 64, len(table))
    ]
    assert not runs[0].ok
    assert all(r.to_dict() == runs[-1].to_dict() for r in runs)


def test_a_read_error_on_the_worker_thread_reaches_the_caller(project: Path) -> None:
    entity, mapping = load_source(project, "src")
    table = thing_table()

    def batches() -> Iterator[pa.RecordBatch]:
        yield table.to_batches()[0]
        raise OSError("disk went away")

    with pytest.raises(OSError, match="disk went away"):
        run(batches(), table.column_names, entity, mapping, label=None, root=project, max_samples=3)


def test_converting_each_distinct_value_once_changes_nothing(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datakeep.validate.apply as apply

    rng = np.random.default_rng(3)
    picks = rng.integers(0, 6, 400)
    table = pa.table({name: column.take(pa.array(picks % len(column))) for name, column in zip(
        thing_table().column_names, thing_table().columns, strict=True
    )})  # fmt: skip
    table = table.set_column(0, "id", pa.array(np.arange(len(table)), pa.int64()))
    pq.write_table(table, project / "t.parquet")

    def report() -> dict[str, object]:
        return validate_file(project / "t.parquet", source="src", root=project, max_samples=50).to_dict()

    monkeypatch.setattr(apply, "_PROBE", 10**9)  # every column converted cell by cell
    by_cell = report()
    monkeypatch.setattr(apply, "_PROBE", 8)  # every repeating text column converted per value
    assert report() == by_cell
    assert by_cell["problems"]


@pytest.mark.parametrize(
    ("fmt", "good", "bad"),
    [
        ("%Y-%m-%d %H:%M:%S", "2020-01-05 10:00:05", "2020-01-05 25:00:05"),
        ("%d/%m/%Y %H:%M:%S", "05/01/2020 23:59:59", "31/02/2020 10:00:00"),
        ("%Y-%m-%dT%H:%M:%S", "2024-02-29T00:00:00", "2023-02-29T00:00:00"),
    ],
)
def test_formats_with_seconds_accept_good_text_and_refuse_impossible(fmt: str, good: str, bad: str) -> None:
    parsed = _strict_strptime(pa.array([good, bad, None]), fmt)
    assert parsed.is_valid().to_pylist() == [True, False, False]
