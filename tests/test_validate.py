"""`validate_file` / `validate_frame` / `map_file`: planted problems found exactly, nothing more."""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datakeep.errors import SchemaConfigError, UsageError
from datakeep.schemas import identity_mapping, load_entity, load_source
from datakeep.validate import (
    ValidationReport,
    map_file,
    render_text,
    validate_file,
    validate_frame,
)
from datakeep.validate.engine import run

REPO = Path(__file__).resolve().parents[1]


def write_parquet(frame, path: Path) -> None:  # type: ignore[no-untyped-def]
    # pandas' own to_parquet is not used: the venv's pandas/pyarrow pairing breaks it.
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)


LAND = {"DE": "Deutschland", "FR": "Frankreich", "NL": "Niederlande", "ES": "Spanien"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "schemas", tmp_path / "schemas")
    shutil.copy(REPO / "datakeep.yaml", tmp_path / "datakeep.yaml")
    return tmp_path


def legacy_frame(n: int, seed: int = 1) -> pd.DataFrame:
    """Clean legacy-source rows: every cell maps and passes every check."""
    rng = random.Random(seed)
    return pd.DataFrame(
        {
            "kundennr": pd.array(range(1, n + 1), dtype="Int64"),
            "name": [f"Person {i}" for i in range(n)],
            "mail": [f"p{i}@example.com" for i in range(n)],
            "land": [rng.choice(list(LAND.values())) for _ in range(n)],
            "geschlecht": [rng.choice(["m", "w", "d", None]) for _ in range(n)],
            "kundengruppe": [rng.choice([1, 2, 3]) for _ in range(n)],
            "groesse_mm": [rng.randrange(1500, 2000) for _ in range(n)],
            "anmeldung": [f"{rng.randrange(1, 29):02d}/{rng.randrange(1, 13):02d}/20{rng.randrange(10, 24)}" for _ in range(n)],  # noqa: E501
            "altes_feld": ["x"] * n,
        }
    )  # fmt: skip


def plant(frame: pd.DataFrame, rows: dict[str, list[int]]) -> set[tuple[str, str, int]]:
    """Spoil cells; return the (kind, canonical column, row) each one must be reported as."""
    expected: set[tuple[str, str, int]] = set()
    for row in rows.get("land", []):
        frame.loc[row, "land"] = "Schweiz"
        expected.add(("unmapped_value", "country", row))
    for row in rows.get("date", []):
        frame.loc[row, "anmeldung"] = "2021-03-14"
        expected.add(("cast_failed", "signup_date", row))
    for row in rows.get("height", []):
        frame.loc[row, "groesse_mm"] = 30
        expected.add(("check_failed", "height_cm", row))
    for row in rows.get("email", []):
        frame.loc[row, "mail"] = "nobody"
        expected.add(("check_failed", "email", row))
    for row in rows.get("null_key", []):
        frame.loc[row, "kundennr"] = pd.NA
        expected.add(("null_key", "customer_id", row))
    for a, b in rows.get("dup", []):
        frame.loc[b, "kundennr"] = frame.loc[a, "kundennr"]
        expected |= {("duplicate_key", "customer_id", a), ("duplicate_key", "customer_id", b)}
    return expected


def reported(report: ValidationReport) -> set[tuple[str, str, int]]:
    found = set()
    for problem in report.problems:
        assert len(problem.samples) == problem.rows, "max_samples must cover every row here"
        found |= {(problem.kind, problem.column, s.row) for s in problem.samples}
    return found


def score(report: ValidationReport, expected: set[tuple[str, str, int]]) -> None:
    found = reported(report)
    assert expected - found == set(), "recall below 100%: planted problems not reported"
    assert found - expected == set(), "precision below 100%: clean cells reported"
    assert report.rows_failing == len({row for _, _, row in expected})


PLANTS = {
    "land": [3, 50, 51],
    "date": [7, 120],
    "height": [9],
    "email": [11, 150],
    "null_key": [20],
    "dup": [(5, 140), (60, 61)],
}


def test_clean_parquet_is_ok(project: Path) -> None:
    write_parquet(legacy_frame(200), project / "legacy.parquet")
    report = validate_file(project / "legacy.parquet", source="legacy", root=project)
    assert report.ok, render_text(report)
    assert report.rows_checked == 200 and report.rows_failing == 0
    assert report.entity == "customers" and report.source == "legacy"
    assert str(report) == render_text(report)  # print(report) shows what the CLI prints


def test_planted_problems_parquet_scored_both_ways(project: Path) -> None:
    frame = legacy_frame(200)
    expected = plant(frame, PLANTS)
    write_parquet(frame, project / "legacy.parquet")
    report = validate_file(project / "legacy.parquet", source="legacy", root=project, max_samples=100)
    score(report, expected)


def test_planted_problems_csv_scored_both_ways(project: Path) -> None:
    frame = legacy_frame(200)
    expected = plant(frame, PLANTS)
    frame.to_csv(project / "legacy.csv", index=False)
    report = validate_file(project / "legacy.csv", source="legacy", root=project, max_samples=100)
    score(report, expected)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    picks=st.lists(
        st.tuples(st.sampled_from(["land", "date", "height", "email", "null_key"]), st.integers(0, 79)),
        max_size=12,
        unique_by=lambda t: t[1],
    ),
    batch=st.integers(3, 80),
)
def test_planted_problems_any_rows_any_batches(project: Path, picks: list[tuple[str, int]], batch: int) -> None:
    frame = legacy_frame(80)
    rows: dict[str, list[int]] = {}
    for kind, row in picks:
        rows.setdefault(kind, []).append(row)
    expected = plant(frame, rows)
    entity, mapping = load_source(project, "legacy")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    report = run(
        table.to_batches(max_chunksize=batch), table.column_names, entity, mapping,
        label=None, root=project, max_samples=100,
    )  # fmt: skip
    score(report, expected)


def test_duplicates_found_across_batches(project: Path) -> None:
    frame = legacy_frame(100)
    expected = plant(frame, {"dup": [(0, 99), (10, 55), (30, 31)]})
    frame.loc[77, "kundennr"] = frame.loc[0, "kundennr"]  # a third copy of key 1
    expected.add(("duplicate_key", "customer_id", 77))
    entity, mapping = load_source(project, "legacy")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    report = run(
        table.to_batches(max_chunksize=7), table.column_names, entity, mapping,
        label=None, root=project, max_samples=100,
    )  # fmt: skip
    score(report, expected)
    (dup,) = report.problems
    assert dup.distinct_values == 3
    assert dup.values[0].value == 1 and dup.values[0].count == 3


def test_report_names_source_raw_column_and_raw_value(project: Path) -> None:
    frame = legacy_frame(50)
    plant(frame, {"land": [3, 4], "date": [7]})
    write_parquet(frame, project / "legacy.parquet")
    report = validate_file(project / "legacy.parquet", source="legacy", root=project)
    by_kind = {p.kind: p for p in report.problems}
    land = by_kind["unmapped_value"]
    assert (land.source_column, land.column, land.rows) == ("land", "country", 2)
    assert [(v.value, v.count) for v in land.values] == [("Schweiz", 2)]
    assert [s.key for s in land.samples] == [{"customer_id": 4}, {"customer_id": 5}]
    date = by_kind["cast_failed"]
    assert date.values[0].value == "2021-03-14" and date.check == "date"
    text = render_text(report)
    assert (
        "unmapped_value source=legacy column=land value='Schweiz' → country: no mapping, 2 rows, e.g. customer_id 4, 5"
        in text
    )


def test_pandera_reason_codes_and_raw_values(project: Path) -> None:
    frame = legacy_frame(30)
    plant(frame, {"height": [2]})
    write_parquet(frame, project / "legacy.parquet")
    report = validate_file(project / "legacy.parquet", source="legacy", root=project)
    (problem,) = report.problems
    assert problem.check == "in_range" and problem.source_column == "groesse_mm"
    assert problem.values[0].value == 30  # the raw millimetres, not the scaled 3.0 cm


def test_structure_missing_and_unexpected_columns(project: Path) -> None:
    frame = legacy_frame(20).drop(columns=["land", "mail"]).assign(extra=1)
    write_parquet(frame, project / "legacy.parquet")
    report = validate_file(project / "legacy.parquet", source="legacy", root=project)
    kinds = {(p.kind, p.source_column, p.column) for p in report.problems}
    assert ("missing_column", "land", "country") in kinds  # required raw column, and required canonical
    assert ("unexpected_column", "extra", None) in kinds
    assert ("missing_column", "mail", "email") in kinds  # canonical column required by pandera


def test_unmapped_policies_null_and_keep(project: Path) -> None:
    frame = legacy_frame(20)
    frame.loc[4, "geschlecht"] = "x"  # legacy maps gender with unmapped: null → fine (gender nullable)
    write_parquet(frame, project / "legacy.parquet")
    assert validate_file(project / "legacy.parquet", source="legacy", root=project).ok
    src = project / "schemas/sources/legacy.yaml"
    src.write_text(src.read_text().replace("unmapped: 'null'", "unmapped: keep"))
    report = validate_file(project / "legacy.parquet", source="legacy", root=project)
    (problem,) = report.problems
    assert (problem.kind, problem.check, problem.values[0].value) == ("check_failed", "isin", "x")


def test_defaults_fill_missing_column(project: Path) -> None:
    frame = legacy_frame(10).drop(columns=["kundengruppe"])
    write_parquet(frame, project / "legacy.parquet")
    out = project / "canonical.parquet"
    report = map_file(project / "legacy.parquet", source="legacy", root=project, output=out)
    assert report.ok, render_text(report)
    table = pq.read_table(out).to_pandas()
    assert list(table.columns) == list(report_columns(project))
    assert set(table["segment"]) == {"retail"}
    assert table["height_cm"].between(150, 200).all()
    assert str(table["signup_date"].dtype).startswith("datetime64")


def report_columns(project: Path) -> tuple[str, ...]:
    return load_source(project, "legacy")[0].columns


def test_map_file_writes_nulls_for_unmappable_cells(project: Path) -> None:
    frame = legacy_frame(10)
    plant(frame, {"land": [1], "date": [2]})
    write_parquet(frame, project / "legacy.parquet")
    out = project / "out" / "canonical.parquet"
    report = map_file(project / "legacy.parquet", source="legacy", root=project, output=out)
    assert not report.ok
    table = pq.read_table(out).to_pandas()
    assert pd.isna(table.loc[1, "country"]) and pd.isna(table.loc[2, "signup_date"])
    assert list(out.parent.iterdir()) == [out]  # no temp file left behind


def test_validate_frame_canonical_and_mapped(project: Path) -> None:
    frame = legacy_frame(10)
    plant(frame, {"email": [3]})
    report = validate_frame(frame, entity="customers", source="legacy", root=project)
    assert [(p.kind, p.column) for p in report.problems] == [("check_failed", "email")]
    canonical = pd.DataFrame(
        {
            "customer_id": [1, 2],
            "name": ["a", "b"],
            "email": ["a@b.de", None],
            "country": ["DE", "XX"],
            "gender": ["male", None],
            "segment": ["vip", "retail"],
            "height_cm": [170.0, None],
            "signup_date": pd.to_datetime(["2020-01-01", "2021-01-01"]),
        }
    )
    report = validate_frame(canonical, entity="customers", root=project)
    assert [(p.kind, p.column, p.samples[0].row) for p in report.problems] == [("check_failed", "country", 1)]


def test_entity_from_rules(project: Path) -> None:
    target = project / "sample_data/incoming/legacy_x.parquet"
    target.parent.mkdir(parents=True)
    write_parquet(legacy_frame(5), target)
    report = validate_file(target, root=project)
    assert report.ok and report.source == "legacy"
    other = project / "other.parquet"
    write_parquet(legacy_frame(5), other)
    with pytest.raises(UsageError, match=r"no rule in datakeep\.yaml"):
        validate_file(other, root=project)


def test_bad_mapping_is_a_config_error(project: Path) -> None:
    write_parquet(legacy_frame(5), project / "legacy.parquet")
    src = project / "schemas/sources/legacy.yaml"
    src.write_text(src.read_text().replace("to: country", "to: countr"))
    with pytest.raises(SchemaConfigError, match=r"columns\.land: renames 'land' to 'countr'"):
        validate_file(project / "legacy.parquet", source="legacy", root=project)


def test_ints_and_dates_parse_vectorised_without_guessing(project: Path) -> None:
    frame = legacy_frame(6).astype({"kundennr": "str", "groesse_mm": "str"})
    frame.loc[0, "kundennr"] = "12a"
    frame.loc[1, "groesse_mm"] = "1.7k"
    frame.loc[2, "anmeldung"] = "31/02/2020"  # impossible, not rolled over to March
    frame.loc[3, "anmeldung"] = "1/2/2020"  # unpadded is still day/month/year
    frame.loc[4, "anmeldung"] = " 01/02/2020"
    frame.to_csv(project / "legacy.csv", index=False)
    report = validate_file(project / "legacy.csv", source="legacy", root=project, max_samples=10)
    found = {(p.kind, p.column, s.row) for p in report.problems for s in p.samples}
    assert found == {
        ("cast_failed", "customer_id", 0),
        ("cast_failed", "height_cm", 1),
        ("cast_failed", "signup_date", 2),
        ("cast_failed", "signup_date", 4),
    }


def test_many_distinct_bad_values_are_capped(project: Path) -> None:
    frame = legacy_frame(12_000)
    frame["anmeldung"] = [f"bad-{i}" for i in range(12_000)]
    write_parquet(frame, project / "legacy.parquet")
    report = validate_file(project / "legacy.parquet", source="legacy", root=project)
    (problem,) = report.problems
    assert problem.rows == 12_000 and not problem.values_exact
    assert len(problem.values) == 10 and len(problem.samples) == 5


def test_report_json_round_trip_and_schema(project: Path) -> None:
    import jsonschema

    frame = legacy_frame(200)
    plant(frame, PLANTS)
    write_parquet(frame, project / "legacy.parquet")
    report = validate_file(project / "legacy.parquet", source="legacy", root=project)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["format"] == "datakeep.validation" and data["version"] == 1
    assert ValidationReport.from_dict(data) == report
    schema = json.loads((REPO / "docs/validation-report.schema.json").read_text())
    jsonschema.validate(data, schema)


def test_short_form_for_hooks(project: Path) -> None:
    frame = legacy_frame(200)
    plant(frame, PLANTS)
    write_parquet(frame, project / "legacy.parquet")
    report = validate_file(project / "legacy.parquet", source="legacy", root=project)
    short = render_text(report, max_problems=2)
    assert len(short.splitlines()) == 4
    assert f"and {len(report.problems) - 2} more" in short


def write_schema(root: Path, entity: str, columns: str) -> None:
    (root / "schemas").mkdir(exist_ok=True)
    (root / "schemas" / f"{entity}.yaml").write_text(f"columns:\n{columns}")


def test_integers_the_dtype_cannot_hold_fail_alone(tmp_path: Path) -> None:
    write_schema(
        tmp_path, "n", "  small: {dtype: int8}\n  big: {dtype: uint64}\n  text: {dtype: Int64, nullable: true}\n"
    )
    table = pa.table(
        {
            "small": pa.array([300, -1, 5], pa.int64()),  # numpy's astype would read 300 as 44
            "big": pa.array([2**64 - 1, 0, 1], pa.uint64()),  # past int64: once failed the whole column
            "text": pa.array(["+5", "9223372036854775807", "9223372036854775808"]),
        }
    )
    pq.write_table(table, tmp_path / "n.parquet")
    report = validate_file(tmp_path / "n.parquet", entity="n", root=tmp_path)
    found = {(p.kind, p.column, s.row) for p in report.problems for s in p.samples}
    assert found == {("cast_failed", "small", 0), ("cast_failed", "text", 2)}


def test_inf_and_nan_text_are_numbers(tmp_path: Path) -> None:
    write_schema(tmp_path, "f", "  x: {dtype: float64, nullable: true}\n  n: {dtype: int64}\n")
    (tmp_path / "f.csv").write_text("x,n\ninf,1\n-Infinity,2\nNaN,3\nnan1,inf\n")
    report = validate_file(tmp_path / "f.csv", entity="f", root=tmp_path)
    found = {(p.kind, p.column, s.row) for p in report.problems for s in p.samples}
    assert found == {("cast_failed", "x", 3), ("cast_failed", "n", 3)}


def test_object_columns_are_passed_as_they_are(tmp_path: Path) -> None:
    # pandas calls object a string dtype; converting to text would turn a list into its repr.
    write_schema(tmp_path, "o", "  tags: {dtype: object, nullable: true}\n  n: {dtype: object}\n")
    table = pa.table({"tags": pa.array([["a"], None, []], pa.list_(pa.string())), "n": [1, 2, 3]})
    pq.write_table(table, tmp_path / "o.parquet")
    assert validate_file(tmp_path / "o.parquet", entity="o", root=tmp_path).ok


def test_nested_values_in_a_report_are_json_text(tmp_path: Path) -> None:
    write_schema(tmp_path, "l", "  tags: {dtype: str}\n  meta: {dtype: object}\n")
    table = pa.table(
        {
            "tags": pa.array([["a", "b"], ["a", "b"], [], None], pa.list_(pa.string())),
            "meta": pa.array([{"k": 1}, None, {"k": 2}, {"k": 2}], pa.struct([("k", pa.int64())])),
        }
    )
    pq.write_table(table, tmp_path / "l.parquet")
    report = validate_file(tmp_path / "l.parquet", entity="l", root=tmp_path)
    problems = {(p.kind, p.column, p.check): p for p in report.problems}
    assert set(problems) == {
        ("cast_failed", "tags", "string"),
        ("check_failed", "tags", "not_nullable"),
        ("check_failed", "meta", "not_nullable"),
    }
    cast = problems["cast_failed", "tags", "string"]
    assert [(v.value, v.count) for v in cast.values] == [('["a", "b"]', 2), ("[]", 1)]
    assert "cast_failed values='[\"a\", \"b\"]' ×2, '[]' ×1 → tags: cannot be read as string" in render_text(report)


def test_times_become_the_zone_of_a_zoned_dtype(tmp_path: Path) -> None:
    """Naive timestamps and dates are local times in the schema's zone, as text is; zoned ones
    keep their instant; a local time the zone skips or repeats fails alone."""
    write_schema(tmp_path, "z", "  at: {dtype: 'datetime64[ns, Europe/Berlin]', nullable: true}\n")
    berlin = "Europe/Berlin"
    naive = pa.array(
        [dt.datetime(2024, 2, 1, 10), dt.datetime(2024, 3, 31, 2, 30), dt.datetime(2024, 10, 27, 2, 30), None],
        pa.timestamp("us"),
    )
    zoned = pa.array([0, 3_600_000_000, None, None], pa.timestamp("us", tz="America/New_York"))
    dates = pa.array([dt.date(2024, 1, 1), None, None, None])
    text = pa.array(["2024-02-01T10:00:00", None, None, None])
    for name, column in {"naive": naive, "zoned": zoned, "dates": dates, "text": text}.items():
        pq.write_table(pa.table({"at": column}), tmp_path / f"{name}.parquet")
    (tmp_path / "schemas" / "sources").mkdir()
    (tmp_path / "schemas" / "sources" / "feed.yaml").write_text("entity: z\n")
    canonical = tmp_path / "out.parquet"

    report = map_file(tmp_path / "naive.parquet", source="feed", output=canonical, root=tmp_path)
    assert {(p.kind, s.row) for p in report.problems for s in p.samples} == {("cast_failed", 1), ("cast_failed", 2)}
    assert pq.read_table(canonical).column("at").to_pylist()[0] == pd.Timestamp("2024-02-01 10:00", tz=berlin)
    for name, first in {
        "zoned": pd.Timestamp("1970-01-01 00:00", tz="UTC"),
        "dates": pd.Timestamp("2024-01-01 00:00", tz=berlin),
        "text": pd.Timestamp("2024-02-01 10:00", tz=berlin),
    }.items():
        report = map_file(tmp_path / f"{name}.parquet", source="feed", output=canonical, root=tmp_path)
        assert report.ok, (name, render_text(report))
        assert pq.read_table(canonical).column("at").to_pylist()[0] == first, name


def test_a_zoned_dtype_reads_text_with_the_mappings_format_never_a_guess(tmp_path: Path) -> None:
    """01.04.2024 with '%d.%m.%Y' is April 1st (pandas' own reading made it January 4th); a
    local time Berlin skips or repeats fails alone; an offset (%z) keeps its instant."""
    write_schema(
        tmp_path,
        "o",
        "  at: {dtype: 'datetime64[ns, Europe/Berlin]', nullable: true}\n"
        "  utc: {dtype: 'datetime64[ns]', nullable: true}\n"
        "  paid: {dtype: bool, nullable: true}\n",
    )
    (tmp_path / "schemas" / "sources").mkdir()
    (tmp_path / "schemas" / "sources" / "shop.yaml").write_text(
        "entity: o\ncsv: {delimiter: ';'}\ncolumns:\n"
        "  Zeit: {to: at, cast: {type: datetime, format: '%d.%m.%Y %H:%M'}}\n"
        "  Stempel: {to: utc, cast: {type: datetime, format: '%Y-%m-%d %H:%M%z'}}\n"
        # As the docs write it: YAML reads the unquoted keys, and yes/no, as booleans.
        "  Bezahlt: {to: paid, cast: {type: boolean, true: [ja, yes], false: [nein, no]}}\n"
    )
    (tmp_path / "o.csv").write_text(
        "Zeit;Stempel;Bezahlt\n"
        "01.04.2024 10:00;2024-04-01 10:00+02:00;ja\n"
        "31.03.2024 02:30;2024-02-30 10:00+01:00;yes\n"
        "27.10.2024 02:30;2024-04-01 10:00+0000;no\n"
    )
    canonical = tmp_path / "out.parquet"
    report = map_file(tmp_path / "o.csv", source="shop", output=canonical, root=tmp_path)
    failed = {(p.column, s.row) for p in report.problems for s in p.samples}
    assert failed == {("at", 1), ("at", 2), ("utc", 1)}, render_text(report)
    out = pq.read_table(canonical).to_pydict()
    assert out["at"][0] == pd.Timestamp("2024-04-01 10:00", tz="Europe/Berlin")
    assert out["utc"][0] == pd.Timestamp("2024-04-01 08:00") and out["utc"][2] == pd.Timestamp("2024-04-01 10:00")
    assert out["paid"] == [True, True, False]


# --- typed values the canonical dtype cannot hold ------------------------------------------------

NS_RANGE = "outside the range datetime64[ns] holds (1677-09-21 to 2262-04-11)"


def cells(report: ValidationReport) -> set[tuple[str, str | None, str | None, int]]:
    """Every reported cell as (kind, canonical column, check, row)."""
    return {(p.kind, p.column, p.check, s.row) for p in report.problems for s in p.samples}


@pytest.mark.parametrize("arrow_type", [pa.date32(), pa.timestamp("ms"), pa.timestamp("s", tz="UTC")])
def test_a_typed_date_the_dtype_cannot_hold_fails_alone(tmp_path: Path, arrow_type: pa.DataType) -> None:
    """One 9999-12-31 among a thousand dates of 2024 once failed all 1,001 rows as 'not an ISO date'."""
    write_schema(tmp_path, "t", "  id: {dtype: int64}\n  t: {dtype: 'datetime64[ns]', nullable: true}\n")
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(1000)] + [dt.date(9999, 12, 31)]
    moments = days if pa.types.is_date(arrow_type) else [dt.datetime(d.year, d.month, d.day) for d in days]
    table = pa.table({"id": range(1001), "t": pa.array(moments, arrow_type)})
    pq.write_table(table, tmp_path / "f.parquet")
    report = validate_file(tmp_path / "f.parquet", entity="t", root=tmp_path)
    (problem,) = report.problems
    assert (problem.kind, problem.column, problem.check, problem.rows) == ("cast_failed", "t", "range", 1)
    assert [s.row for s in problem.samples] == [1000] and report.rows_failing == 1
    assert problem.detail.startswith(NS_RANGE), problem.detail
    assert "correct the value" in problem.detail  # and says what to do
    assert [v.value for v in problem.values] == (
        ["9999-12-31"]
        if pa.types.is_date(arrow_type)
        else ["9999-12-31T00:00:00" + ("+00:00" if arrow_type.tz else "")]
    )
    (tmp_path / "schemas" / "sources").mkdir()
    (tmp_path / "schemas" / "sources" / "s.yaml").write_text("entity: t\n")
    map_file(tmp_path / "f.parquet", source="s", root=tmp_path, output=tmp_path / "out.parquet")
    written = pq.read_table(tmp_path / "out.parquet").column("t").to_pylist()
    assert written[:2] == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-02")] and written[1000] is None


# One value in each unit (days for dates), as a multiple of a nanosecond.
NANOS = {"date32": 86_400 * 10**9, "s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}


@st.composite
def typed_times(draw: st.DrawFn) -> tuple[str, list[int | None]]:
    """A unit and values in it: near the edges of datetime64[ns], inside it, anywhere at all."""
    unit = draw(st.sampled_from(sorted(NANOS)))
    factor = NANOS[unit]
    lowest, highest = (-(2**31), 2**31 - 1) if unit == "date32" else (-(2**63), 2**63 - 1)
    if unit == "s":  # Parquet has no seconds: they are written as milliseconds
        lowest, highest = -(2**63) // 1000 + 1, (2**63 - 1) // 1000
    edges = [-(2**63) // factor + d for d in (-1, 0, 1, 2)] + [(2**63 - 1) // factor + d for d in (-1, 0, 1)]
    value = st.one_of(
        st.sampled_from([e for e in edges if lowest <= e <= highest]),
        st.integers(-(2**63) // factor, (2**63 - 1) // factor),
        st.integers(lowest, highest),
        st.none(),
    )
    return unit, draw(st.lists(value, min_size=1, max_size=12))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=typed_times())
def test_typed_times_fail_exactly_where_datetime64_ns_cannot_hold_them(
    tmp_path: Path, case: tuple[str, list[int | None]]
) -> None:
    unit, values = case
    arrow_type = pa.date32() if unit == "date32" else pa.timestamp(unit)
    write_schema(tmp_path, "t", "  t: {dtype: 'datetime64[ns]', nullable: true}\n")
    (tmp_path / "schemas" / "sources").mkdir(exist_ok=True)
    (tmp_path / "schemas" / "sources" / "s.yaml").write_text("entity: t\n")
    pq.write_table(pa.table({"t": pa.array(values, arrow_type)}), tmp_path / "f.parquet")
    report = map_file(tmp_path / "f.parquet", source="s", root=tmp_path, output=tmp_path / "o.parquet", max_samples=20)
    nanos = [None if v is None else v * NANOS[unit] for v in values]
    # int64's smallest is numpy's NaT, so datetime64[ns] starts one nanosecond later.
    outside = {row for row, n in enumerate(nanos) if n is not None and not -(2**63) < n < 2**63}
    assert cells(report) == {("cast_failed", "t", "range", row) for row in outside}
    assert all(p.detail.startswith(NS_RANGE) for p in report.problems)
    written = pq.read_table(tmp_path / "o.parquet").column("t").cast(pa.int64()).to_pylist()
    assert written == [None if row in outside else n for row, n in enumerate(nanos)]


def test_a_zoned_dtype_fails_a_time_outside_it_apart_from_a_clock_change(tmp_path: Path) -> None:
    write_schema(tmp_path, "z", "  at: {dtype: 'datetime64[ns, Europe/Berlin]', nullable: true}\n")
    moments = [dt.datetime(2024, 7, 1, 12), dt.datetime(2024, 3, 31, 2, 30), dt.datetime(9999, 12, 31), None]
    pq.write_table(pa.table({"at": pa.array(moments, pa.timestamp("us"))}), tmp_path / "naive.parquet")
    zoned = pa.array([0, 2**62, 10**12, None], pa.timestamp("us", tz="UTC"))
    pq.write_table(pa.table({"at": zoned}), tmp_path / "zoned.parquet")
    naive = validate_file(tmp_path / "naive.parquet", entity="z", root=tmp_path)
    assert cells(naive) == {("cast_failed", "at", "clock_change", 1), ("cast_failed", "at", "range", 2)}
    by_check = {p.check: p.detail for p in naive.problems}
    assert "Europe/Berlin skips or repeats at a clock change" in by_check["clock_change"]
    assert by_check["range"].startswith("outside the range datetime64[ns, Europe/Berlin] holds"), by_check["range"]
    assert cells(validate_file(tmp_path / "zoned.parquet", entity="z", root=tmp_path)) == {
        ("cast_failed", "at", "range", 1)
    }


def test_typed_numbers_fail_only_where_the_dtype_cannot_hold_them(tmp_path: Path) -> None:
    """A float32 column cannot hold 1e300 (it became inf, silently); an integer past 2**53 is a
    float64 like any other (it failed the whole column); a decimal goes to an integer exactly."""
    write_schema(
        tmp_path,
        "n",
        "  single: {dtype: float32, nullable: true}\n  double: {dtype: float64}\n"
        "  whole: {dtype: int64, nullable: true}\n  span: {dtype: 'timedelta64[ns]', nullable: true}\n",
    )
    table = pa.table(
        {
            "single": pa.array([1.5, 1e300, -1e300, float("inf"), 3.0e38]),
            "double": pa.array([1, 2**53 + 1, 2**63 - 1, -5, 0], pa.int64()),
            "whole": pa.array([1, 2**53 + 1, 10**30, None, -7], pa.decimal128(38, 0)),
            "span": pa.array([1, 2**40, None, -(2**40), 0], pa.duration("s")),
        }
    )
    pq.write_table(table, tmp_path / "n.parquet")
    (tmp_path / "schemas" / "sources").mkdir()
    (tmp_path / "schemas" / "sources" / "s.yaml").write_text("entity: n\n")
    report = map_file(tmp_path / "n.parquet", source="s", root=tmp_path, output=tmp_path / "o.parquet")
    assert cells(report) == {
        ("cast_failed", "single", "range", 1),
        ("cast_failed", "single", "range", 2),
        ("cast_failed", "whole", "int", 2),
        ("cast_failed", "span", "range", 1),
        ("cast_failed", "span", "range", 3),
    }, render_text(report)
    details = {p.column: p.detail for p in report.problems}
    assert details["single"].startswith("outside the range float32 holds"), details["single"]
    assert details["span"].startswith("outside the range timedelta64[ns] holds"), details["span"]
    out = pq.read_table(tmp_path / "o.parquet").to_pydict()
    assert out["single"] == [1.5, None, None, float("inf"), pytest.approx(3.0e38, rel=1e-6)]
    assert out["double"] == [1.0, 2.0**53, 2.0**63, -5.0, 0.0]
    assert out["whole"] == [1, 2**53 + 1, None, None, -7]
    assert out["span"] == [dt.timedelta(seconds=1), None, None, None, dt.timedelta(0)]


def test_text_outside_datetime64_ns_is_said_to_be_outside_it(tmp_path: Path) -> None:
    write_schema(
        tmp_path, "t", "  t: {dtype: 'datetime64[ns]', nullable: true}\n  x: {dtype: float32, nullable: true}\n"
    )
    (tmp_path / "t.csv").write_text("t,x\n2262-04-11,1e39\n2300-01-01,abc\n1677-09-21,1.5\n31/12/2024,\n")
    report = validate_file(tmp_path / "t.csv", entity="t", root=tmp_path)
    assert cells(report) == {
        ("cast_failed", "t", "range", 1),
        ("cast_failed", "t", "range", 2),
        ("cast_failed", "t", "datetime", 3),
        ("cast_failed", "x", "range", 0),
        ("cast_failed", "x", "float", 1),
    }, render_text(report)
    details = {(p.column, p.check): p.detail for p in report.problems}
    assert details["t", "range"].startswith(NS_RANGE)
    assert details["t", "datetime"].startswith("not an ISO date")
    assert details["x", "float"] == "not a number"


# --- values Python cannot hold, in reports ------------------------------------------------------

FAR = 2**62  # microseconds: in the year 148108, past Python's datetime (and datetime64[ns])
FAR_TEXT = "+148108-07-06T14:00:27.387904"


def test_values_python_cannot_hold_are_reported_as_iso_text(tmp_path: Path) -> None:
    """A timestamp after the year 9999 once crashed `validate` with an OverflowError while its
    values, keys and nested values were turned into Python objects for the report."""
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "t.yaml").write_text(
        "datakeep: {key: [k]}\ncolumns:\n  k: {dtype: str}\n  t: {dtype: 'datetime64[ns]', nullable: true}\n"
        "  tags: {dtype: str, nullable: true}\n  x: {dtype: int64, greater_than: 0}\n"
    )
    table = pa.table(
        {
            "k": pa.array([FAR, FAR, 0], pa.timestamp("us")),
            "t": pa.array([FAR, 0, -FAR], pa.timestamp("us")),
            "tags": pa.array([[FAR, None], [], None], pa.list_(pa.timestamp("us"))),
            "x": [0, 1, 1],
        }
    )
    pq.write_table(table, tmp_path / "f.parquet")
    report = validate_file(tmp_path / "f.parquet", entity="t", root=tmp_path)
    problems = {(p.kind, p.column): p for p in report.problems}
    assert set(problems) == {
        ("cast_failed", "t"),
        ("cast_failed", "tags"),
        ("duplicate_key", "k"),
        ("check_failed", "x"),
    }, render_text(report)
    far = problems["cast_failed", "t"]
    assert {v.value for v in far.values} == {FAR_TEXT, "-144169-06-28T09:59:32.612096"}
    assert [s.key for s in far.samples] == [{"k": FAR_TEXT}, {"k": "1970-01-01T00:00:00"}]
    nested = problems["cast_failed", "tags"]
    assert [(v.value, v.count) for v in nested.values] == [(f'["{FAR_TEXT}", null]', 1), ("[]", 1)]
    assert [s.key for s in problems["check_failed", "x"].samples] == [{"k": FAR_TEXT}]
    assert [s.key for s in problems["duplicate_key", "k"].samples] == [{"k": FAR_TEXT}, {"k": FAR_TEXT}]
    json.dumps(report.to_dict())  # every value is plain JSON
    assert f"'{FAR_TEXT}' ×1" in render_text(report)


def test_an_object_key_of_dates_python_cannot_hold_is_reported(tmp_path: Path) -> None:
    """pandas keeps such a column in Arrow; its duplicate values crashed the report."""
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "t.yaml").write_text(
        "datakeep: {key: [k]}\ncolumns:\n  k: {dtype: object}\n  x: {dtype: int64, greater_than: 0}\n"
    )
    days = pa.array([0, 3_000_000, 3_000_000], pa.date32())  # 3,000,000 days: the year 10183
    pq.write_table(pa.table({"k": days, "x": [0, 1, 2]}), tmp_path / "f.parquet")
    report = validate_file(tmp_path / "f.parquet", entity="t", root=tmp_path)
    problems = {(p.kind, p.column): p for p in report.problems}
    duplicate = problems["duplicate_key", "k"]
    assert [(v.value, v.count) for v in duplicate.values] == [("+10183-09-21", 2)]
    assert [s.key for s in duplicate.samples] == [{"k": "+10183-09-21"}] * 2
    assert [s.key for s in problems["check_failed", "x"].samples] == [{"k": "1970-01-01"}]


ARROW_TIMES = [
    pa.timestamp("s"),
    pa.timestamp("ms"),
    pa.timestamp("us"),
    pa.timestamp("ns"),
    pa.timestamp("us", tz="Europe/Berlin"),
    pa.date32(),
    pa.date64(),
    pa.duration("s"),
    pa.duration("us"),
    pa.time32("s"),
    pa.time64("us"),
]


@settings(max_examples=60, deadline=None)
@given(
    arrow_type=st.sampled_from(ARROW_TIMES), values=st.lists(st.none() | st.integers(-(2**63), 2**63 - 1), max_size=8)
)
def test_report_values_of_any_time_never_raise(arrow_type: pa.DataType, values: list[int | None]) -> None:
    from datakeep.validate.pyvalues import as_python

    bits = 32 if arrow_type in (pa.date32(), pa.time32("s")) else 64
    values = [v if v is None else (v + 2 ** (bits - 1)) % 2**bits - 2 ** (bits - 1) for v in values]
    if arrow_type == pa.date64():
        # Whole days, rounded towards zero so that they stay in int64.
        values = [v if v is None else (1 if v >= 0 else -1) * (abs(v) // 86_400_000 * 86_400_000) for v in values]
    arr = pa.array(values, pa.int64() if bits == 64 else pa.int32()).view(arrow_type)
    for nested in (arr, pa.ListArray.from_arrays([0, len(arr)], arr), pa.StructArray.from_arrays([arr], ["v"])):
        shown = as_python(nested)
        assert len(shown) == len(nested)
        json.dumps(shown, default=str)
    shown = as_python(arr)
    for i in range(len(values)):
        try:
            expected = arr[i].as_py()
        except (OverflowError, ValueError):
            assert isinstance(shown[i], str), shown[i]
            continue
        assert shown[i] is expected or shown[i] == expected  # pd.NaT is not equal to itself


@pytest.mark.parametrize(
    ("bad", "batch"), [(10_000, 30_000), (10_001, 30_000), (20_000, 30_000), (10_001, 3_000), (20_000, 7_001)]
)
def test_distinct_values_past_the_cap_stay_a_lower_bound(tmp_path: Path, bad: int, batch: int) -> None:
    """Past 10,000 distinct values only the most frequent are kept; the count said once 1,000
    (what was kept), below the 10,001 already seen."""
    write_schema(tmp_path, "t", "  id: {dtype: int64}\n  g: {dtype: str, isin: [a, b]}\n")
    n = 30_000
    table = pa.table({"id": range(n), "g": [f"bad{i}" for i in range(bad)] + ["a"] * (n - bad)})
    report = run(
        table.to_batches(max_chunksize=batch), table.column_names, load_entity(tmp_path, "t"), identity_mapping("t"),
        label=None, root=tmp_path, max_samples=1,
    )  # fmt: skip
    (problem,) = report.problems
    assert problem.rows == bad and len(problem.values) == 10
    if bad <= 10_000:
        assert (problem.distinct_values, problem.values_exact) == (bad, True)
    else:
        assert 10_000 < problem.distinct_values <= bad and not problem.values_exact
    more = problem.distinct_values - 3
    suffix = "" if problem.values_exact else "+"
    assert f" +{more:,}{suffix} more → g [isin]" in render_text(report)
