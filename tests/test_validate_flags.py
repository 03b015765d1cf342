"""pandera's schema and column flags: each one does in `datakeep validate` what it does in pandera,
or is refused when the schema loads. None is accepted and then ignored (fuzzing found several that
were: `ordered: true` passed columns in any order, `drop_invalid_rows: true` dropped nothing)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from datakeep.cli import cli


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "schemas" / "sources").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def schema(root: Path, text: str) -> None:
    (root / "schemas" / "t.yaml").write_text(text)


def validate(*args: str) -> tuple[int, dict[str, Any]]:
    """Exit code and JSON report of `datakeep validate ARGS --json`."""
    result = invoke("validate", *args, "--json")
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def problems(report: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    return [(p["kind"], p["column"], p["check"]) for p in report["problems"]]


def refused(message: str, *command: str) -> None:
    """`schema check` and ``command`` both exit 2 with ``message`` on stderr."""
    checked = invoke("schema", "check")
    assert checked.exit_code == 2, checked.output
    assert f"error: {message}" in checked.stderr, checked.stderr
    result = invoke(*command)
    assert result.exit_code == 2, result.output
    assert f"error: {message}" in result.stderr, result.stderr


# ordered ---------------------------------------------------------------------------------------


def test_ordered_true_fails_columns_out_of_the_schemas_order(root: Path) -> None:
    schema(root, "columns:\n  a: {dtype: int64}\n  b: {dtype: int64}\n  c: {dtype: int64}\nordered: true\n")
    (root / "good.csv").write_text("a,b,c\n1,2,3\n")
    (root / "bad.csv").write_text("b,a,c\n1,2,3\n")
    assert validate("good.csv", "--entity", "t")[0] == 0
    code, report = validate("bad.csv", "--entity", "t")
    assert code == 1
    # As pandera reports it: each column compared with the one the schema expects at its place.
    assert problems(report) == [("check_failed", "a", "column_ordered"), ("check_failed", "b", "column_ordered")]
    assert report["problems"][0]["detail"] == "out of order: the schema's order is a, b, c"
    text = invoke("validate", "bad.csv", "--entity", "t")
    assert "check_failed → b [column_ordered]: out of order: the schema's order is a, b, c" in text.output


def test_ordered_judges_canonical_names_and_ignores_other_columns(root: Path) -> None:
    """Raw columns are renamed first; a column the schema lacks (strict off) has no place."""
    schema(root, "columns:\n  a: {dtype: int64}\n  b: {dtype: int64}\nordered: true\n")
    (root / "schemas" / "sources" / "s.yaml").write_text("entity: t\ncolumns:\n  zz: a\n")
    (root / "f.csv").write_text("extra,zz,b\nx,1,2\n")
    assert validate("f.csv", "--source", "s")[0] == 0
    (root / "g.csv").write_text("b,extra,zz\n2,x,1\n")
    code, report = validate("g.csv", "--source", "s")
    assert code == 1
    assert [(p["column"], p["source_column"]) for p in report["problems"]] == [("a", "zz"), ("b", "b")]


def test_ordered_false_lets_columns_come_in_any_order(root: Path) -> None:
    schema(root, "columns:\n  a: {dtype: int64}\n  b: {dtype: int64}\nordered: false\n")
    (root / "f.csv").write_text("b,a\n1,2\n")
    assert validate("f.csv", "--entity", "t")[0] == 0


# unique_column_names ---------------------------------------------------------------------------


def test_unique_column_names_true_fails_a_repeated_column_name(root: Path) -> None:
    schema(root, "columns:\n  id: {dtype: int64}\n  x: {dtype: int64}\nunique_column_names: true\n")
    (root / "f.csv").write_text("id,x,x\n1,2,3\n")
    table = pa.Table.from_arrays([pa.array([1]), pa.array([2]), pa.array([-3])], names=["id", "x", "x"])
    pq.write_table(table, root / "f.parquet")
    for name in ("f.csv", "f.parquet"):
        code, report = validate(name, "--entity", "t")
        assert code == 1
        assert problems(report) == [("check_failed", "x", "dataframe_column_labels_unique")]
        assert report["problems"][0]["detail"] == "column 'x' appears 2 times; only the first was validated"
    # The first 'x' is still validated.
    (root / "g.csv").write_text("id,x,x\n1,a,3\n")
    code, report = validate("g.csv", "--entity", "t")
    assert ("cast_failed", "x", "int") in problems(report)


def test_without_unique_column_names_a_repeated_name_is_an_error(root: Path) -> None:
    """datakeep finds columns by name, so it cannot validate such a file (as before)."""
    schema(root, "columns:\n  id: {dtype: int64}\n  x: {dtype: int64}\n")
    (root / "f.csv").write_text("id,x,x\n1,2,3\n")
    result = invoke("validate", "f.csv", "--entity", "t")
    assert result.exit_code == 2
    assert "column 'x' appears 2 times" in result.stderr


# report_duplicates -----------------------------------------------------------------------------

UNIQUE_ROWS = "k,v\n1,a\n2,b\n1,c\n1,d\n3,e\n2,f\n"  # k=1 at rows 0, 2, 3; k=2 at rows 1, 5


@pytest.mark.parametrize(
    ("setting", "rows"),
    [("all", [0, 1, 2, 3, 5]), ("exclude_first", [2, 3, 5]), ("exclude_last", [0, 1, 2])],
)
@pytest.mark.parametrize("where", ["schema", "column"])
def test_report_duplicates_chooses_the_rows_reported(root: Path, setting: str, rows: list[int], where: str) -> None:
    if where == "schema":
        text = f"columns:\n  k: {{dtype: int64}}\n  v: {{dtype: str}}\nunique: [k]\nreport_duplicates: {setting}\n"
    else:
        text = f"columns:\n  k: {{dtype: int64, unique: true, report_duplicates: {setting}}}\n  v: {{dtype: str}}\n"
    schema(root, text)
    (root / "f.csv").write_text(UNIQUE_ROWS)
    code, report = validate("f.csv", "--entity", "t", "--max-samples", "10")
    assert code == 1
    (problem,) = report["problems"]
    assert (problem["kind"], problem["column"], problem["rows"]) == ("duplicate_value", "k", len(rows))
    assert [s["row"] for s in problem["samples"]] == rows
    assert report["summary"]["rows_failing"] == len(rows)
    assert problem["distinct_values"] == 2  # two values repeat, whichever rows are shown
    assert sum(v["count"] for v in problem["values"]) == len(rows)


def test_report_duplicates_applies_to_the_key_it_declares_unique(root: Path) -> None:
    schema(
        root,
        "datakeep: {key: [k]}\ncolumns:\n  k: {dtype: int64, unique: true, report_duplicates: exclude_first}\n"
        "  v: {dtype: str}\n",
    )
    (root / "f.csv").write_text(UNIQUE_ROWS)
    code, report = validate("f.csv", "--entity", "t")
    assert code == 1
    (problem,) = report["problems"]
    assert (problem["kind"], problem["rows"]) == ("duplicate_key", 3)


def test_report_duplicates_must_be_a_setting_pandera_knows(root: Path) -> None:
    schema(root, "columns:\n  k: {dtype: int64, unique: true, report_duplicates: exclude_second}\n")
    (root / "f.csv").write_text("k\n1\n")
    refused(
        "schemas/t.yaml: columns.k.report_duplicates: unknown setting 'exclude_second' "
        "— use all, exclude_first or exclude_last",
        "validate",
        "f.csv",
        "--entity",
        "t",
    )


# coerce ----------------------------------------------------------------------------------------


def write_typed(root: Path) -> None:
    pq.write_table(pa.table({"id": pa.array([1, 2]), "n": pa.array(["5", "6"])}), root / "f.parquet")


def test_without_coerce_false_values_are_converted_to_the_dtype(root: Path) -> None:
    write_typed(root)
    for flags in ("", "coerce: true\n"):
        schema(root, "columns:\n  id: {dtype: int64}\n  n: {dtype: int64, greater_than: 0}\n" + flags)
        assert validate("f.parquet", "--entity", "t")[0] == 0


@pytest.mark.parametrize(
    "text",
    [
        "columns:\n  id: {dtype: int64}\n  n: {dtype: int64, coerce: false}\n",
        "columns:\n  id: {dtype: int64}\n  n: {dtype: int64}\ncoerce: false\n",
    ],
)
def test_coerce_false_fails_a_column_of_another_type(root: Path, text: str) -> None:
    write_typed(root)
    schema(root, text)
    code, report = validate("f.parquet", "--entity", "t")
    assert code == 1
    assert problems(report) == [("check_failed", "n", "dtype")]
    assert report["problems"][0]["detail"] == (
        "the file's column is string, not int64, and coerce is false: values are not converted"
    )


def test_coerce_true_on_a_column_or_the_schema_wins_over_false(root: Path) -> None:
    """pandera converts a column when the schema or the column says coerce: true."""
    write_typed(root)
    schema(root, "columns:\n  id: {dtype: int64}\n  n: {dtype: int64, coerce: true}\ncoerce: false\n")
    assert validate("f.parquet", "--entity", "t")[0] == 0
    schema(root, "columns:\n  id: {dtype: int64}\n  n: {dtype: int64, coerce: false}\ncoerce: true\n")
    assert validate("f.parquet", "--entity", "t")[0] == 0


def test_coerce_false_passes_columns_of_the_dtype_and_a_mappings_declared_cast(root: Path) -> None:
    schema(root, "columns:\n  id: {dtype: int64}\n  d: {dtype: 'datetime64[ns]'}\n  s: {dtype: str}\ncoerce: false\n")
    table = pa.table({"id": pa.array([1], pa.int64()), "d": pa.array([0], pa.timestamp("ns")), "s": ["x"]})
    pq.write_table(table, root / "f.parquet")
    assert validate("f.parquet", "--entity", "t")[0] == 0
    # A cast the source mapping declares is a conversion asked for.
    pq.write_table(pa.table({"id": ["1"], "day": ["02/01/2024"], "s": ["x"]}), root / "g.parquet")
    (root / "schemas" / "sources" / "s.yaml").write_text(
        "entity: t\ncolumns:\n  id: {cast: {type: integer}}\n  day: {to: d, cast: {type: date, format: '%d/%m/%Y'}}\n"
    )
    assert validate("g.parquet", "--source", "s")[0] == 0


def test_coerce_false_reads_a_csv_files_text_into_the_dtype(root: Path) -> None:
    """A CSV file holds only text, which pandas' reader turns into numbers and times before
    pandera sees the frame: its cells are read into the dtype, coerce or not, and a cell that
    is not a value of it fails as it always does."""
    schema(root, "columns:\n  id: {dtype: int64}\n  d: {dtype: 'datetime64[ns]'}\n  s: {dtype: str}\ncoerce: false\n")
    (root / "g.csv").write_text("id,d,s\n1,2024-01-02,x\n")
    assert validate("g.csv", "--entity", "t")[0] == 0
    (root / "h.csv").write_text("id,d,s\none,2024-01-02,x\n")
    code, report = validate("h.csv", "--entity", "t")
    assert code == 1
    assert [p["kind"] for p in report["problems"]] == ["cast_failed"]


# add_missing_columns and default ---------------------------------------------------------------

MISSING = (
    "columns:\n"
    "  id: {dtype: int64}\n"
    "  segment: {dtype: str, default: retail, isin: [retail, vip]}\n"
    "  note: {dtype: str, nullable: true}\n"
)


def test_add_missing_columns_adds_a_column_with_its_default_or_nulls(root: Path) -> None:
    schema(root, MISSING + "add_missing_columns: true\n")
    (root / "f.csv").write_text("id\n1\n2\n")
    assert validate("f.csv", "--entity", "t")[0] == 0
    (root / "schemas" / "sources" / "s.yaml").write_text("entity: t\n")
    result = invoke("map", "f.csv", "--source", "s", "-o", "out.parquet")
    assert result.exit_code == 0, result.output
    table = pq.read_table(root / "out.parquet")
    assert table.column_names == ["id", "segment", "note"]
    assert table.to_pydict() == {"id": [1, 2], "segment": ["retail", "retail"], "note": [None, None]}


def test_add_missing_columns_cannot_add_a_column_with_no_default_that_must_have_values(root: Path) -> None:
    schema(root, MISSING + "  must: {dtype: int64}\nadd_missing_columns: true\n")
    (root / "f.csv").write_text("id\n1\n")
    code, report = validate("f.csv", "--entity", "t")
    assert code == 1
    assert problems(report) == [("missing_column", "must", None)]
    assert report["problems"][0]["detail"] == (
        "no raw column provides 'must' (expected 'must'), and add_missing_columns cannot add it: "
        "it has no default and is not nullable"
    )


def test_without_add_missing_columns_a_default_does_not_add_a_column(root: Path) -> None:
    schema(root, MISSING)
    (root / "f.csv").write_text("id\n1\n")
    code, report = validate("f.csv", "--entity", "t")
    assert code == 1
    assert problems(report) == [("missing_column", "note", None), ("missing_column", "segment", None)]


def test_a_columns_default_fills_its_null_cells(root: Path) -> None:
    schema(root, MISSING)
    (root / "f.csv").write_text("id,segment,note\n1,,\n2,vip,x\n")
    assert validate("f.csv", "--entity", "t")[0] == 0
    (root / "schemas" / "sources" / "s.yaml").write_text("entity: t\n")
    assert invoke("map", "f.csv", "--source", "s", "-o", "out.parquet").exit_code == 0
    assert pq.read_table(root / "out.parquet").column("segment").to_pylist() == ["retail", "vip"]
    # A NaN is null to pandera, and filled too.
    schema(root, "columns:\n  id: {dtype: int64}\n  w: {dtype: float64, default: 1.5}\n")
    pq.write_table(pa.table({"id": [1, 2], "w": [float("nan"), None]}), root / "w.parquet")
    assert validate("w.parquet", "--entity", "t")[0] == 0
    # The source mapping's default is the more particular one.
    schema(root, MISSING)
    (root / "schemas" / "sources" / "s.yaml").write_text("entity: t\ndefaults: {segment: vip}\n")
    assert invoke("map", "f.csv", "--source", "s", "-o", "out.parquet").exit_code == 0
    assert pq.read_table(root / "out.parquet").column("segment").to_pylist() == ["vip", "vip"]


def test_a_default_is_checked_like_any_value(root: Path) -> None:
    schema(root, "columns:\n  id: {dtype: int64}\n  s: {dtype: str, default: other, isin: [a, b]}\n")
    (root / "f.csv").write_text("id,s\n1,a\n2,\n")
    code, report = validate("f.csv", "--entity", "t")
    assert code == 1 and problems(report) == [("check_failed", "s", "isin")]


def test_a_default_must_be_a_value_of_the_columns_dtype(root: Path) -> None:
    schema(root, "columns:\n  id: {dtype: int64, default: soon}\n")
    (root / "f.csv").write_text("id\n1\n")
    refused(
        "schemas/t.yaml: columns.id.default: 'soon' is not a value of the column's dtype int64 "
        "— write a int64 value, or leave the default out",
        "validate",
        "f.csv",
        "--entity",
        "t",
    )


# drop_invalid_rows -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("columns:\n  id: {dtype: int64}\ndrop_invalid_rows: true\n", "drop_invalid_rows"),
        ("columns:\n  id: {dtype: int64, drop_invalid_rows: true}\n", "columns.id.drop_invalid_rows"),
    ],
)
def test_drop_invalid_rows_is_refused(root: Path, text: str, place: str) -> None:
    schema(root, text)
    (root / "f.csv").write_text("id\n1\n")
    refused(
        f"schemas/t.yaml: {place}: datakeep reports invalid rows and never drops them "
        "(a file is validated and committed as it is) — remove drop_invalid_rows; "
        "fix or filter the rows before the file is validated",
        "validate",
        "f.csv",
        "--entity",
        "t",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "columns:\n  'id_.*': {dtype: int64, regex: true}\n",
            "columns.id_.*.regex: columns named by a pattern are not supported: datakeep finds each column by "
            "its name — declare each column by its name, without regex",
        ),
        (
            "columns:\n  id: {dtype: int64}\ndtype: int64\n",
            "dtype: a dtype for the whole schema is not supported: each column is converted to its own dtype "
            "— give each column its dtype, and remove the schema's",
        ),
    ],
)
def test_what_datakeep_cannot_do_as_pandera_does_is_refused(root: Path, text: str, message: str) -> None:
    """A pattern for column names, or one dtype for every column: each made every file fail."""
    schema(root, text)
    (root / "f.csv").write_text("id\n1\n")
    refused(f"schemas/t.yaml: {message}", "validate", "f.csv", "--entity", "t")


def test_every_flag_at_its_pandera_default_loads(root: Path) -> None:
    schema(
        root,
        "columns:\n  id: {dtype: int64, coerce: false, drop_invalid_rows: false, report_duplicates: all,"
        " default: null}\n"
        "ordered: false\nunique_column_names: false\nadd_missing_columns: false\ndrop_invalid_rows: false\n"
        "report_duplicates: all\n",
    )
    (root / "f.csv").write_text("id\n1\n")
    result = invoke("schema", "check")
    assert result.exit_code == 0, result.stderr


# bounds ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "place", "problem"),
    [
        ("{dtype: int64, in_range: {min_value: 10, max_value: 1}}", "columns.x.in_range",
         "in_range has min_value 10 above max_value 1: no value can pass"),
        ("{dtype: str, str_length: {min_value: 5, max_value: 2}}", "columns.x.str_length",
         "str_length has min_value 5 above max_value 2: no value can pass"),
        ("{dtype: float64, checks: [{min_value: 2.5, max_value: 1, options: {check_name: between}}]}",
         "columns.x.checks[0]", "between has min_value 2.5 above max_value 1: no value can pass"),
        ("{dtype: 'datetime64[ns]', in_range: {min_value: 2030-01-01, max_value: '2020-01-01 00:00:00'}}",
         "columns.x.in_range",
         "in_range has min_value 2030-01-01 above max_value 2020-01-01 00:00:00: no value can pass"),
        ("{dtype: int64, in_range: {min_value: 3, max_value: 3, include_max: false}}", "columns.x.in_range",
         "in_range has min_value 3 equal to max_value 3 with a bound left out: no value can pass"),
    ],
)  # fmt: skip
def test_a_bounded_check_whose_min_is_above_its_max_is_refused(
    root: Path, column: str, place: str, problem: str
) -> None:
    schema(root, f"columns:\n  x: {column}\n")
    (root / "f.csv").write_text("x\n1\n")
    refused(
        f"schemas/t.yaml: {place}: {problem} — swap the bounds, or correct the one that is wrong",
        "validate",
        "f.csv",
        "--entity",
        "t",
    )


def test_equal_bounds_are_allowed(root: Path) -> None:
    schema(
        root,
        "columns:\n  x: {dtype: int64, in_range: {min_value: 3, max_value: 3}}\n"
        "  s: {dtype: str, str_length: {min_value: 2, max_value: 2}}\n",
    )
    (root / "f.csv").write_text("x,s\n3,ab\n")
    assert validate("f.csv", "--entity", "t")[0] == 0


@pytest.mark.parametrize("typed", [False, True], ids=["other-type", "the-dtype"])
def test_coerce_false_checks_the_column_types_of_a_file_without_rows(root: Path, typed: bool) -> None:
    """A file of no rows has no values to convert, but its columns still have types."""
    n = pa.array([], pa.int64() if typed else pa.string())
    pq.write_table(pa.table({"id": pa.array([], pa.int64()), "n": n}), root / "f.parquet")
    schema(root, "columns:\n  id: {dtype: int64}\n  n: {dtype: int64, coerce: false}\n")
    code, report = validate("f.parquet", "--entity", "t")
    assert (code, problems(report)) == ((0, []) if typed else (1, [("check_failed", "n", "dtype")]))
    assert report["summary"]["rows_checked"] == 0


def test_coerce_false_checks_the_column_types_of_an_empty_frame(root: Path) -> None:
    import pandas as pd

    from datakeep.validate import validate_frame

    schema(root, "columns:\n  id: {dtype: int64}\n  n: {dtype: int64, coerce: false}\n")
    frame = pd.DataFrame({"id": pd.Series([], dtype="int64"), "n": pd.Series([], dtype="object")})
    report = validate_frame(frame, entity="t", root=root)
    assert [(p.kind, p.column, p.check) for p in report.problems] == [("check_failed", "n", "dtype")]
