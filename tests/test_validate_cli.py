"""`datakeep validate`, `map` and `schema` through click: exit codes and messages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from datakeep.cli import cli

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(REPO / "schemas", tmp_path / "schemas")
    shutil.copytree(REPO / "sample_data/incoming", tmp_path / "sample_data/incoming")
    shutil.copy(REPO / "datakeep.yaml", tmp_path / "datakeep.yaml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


LEGACY = "sample_data/incoming/legacy_export.parquet"
CRM = "sample_data/incoming/crm_2024.csv"


def test_validate_sample_data_fails_with_report(project: Path) -> None:
    result = invoke("validate", CRM, LEGACY)
    assert result.exit_code == 1
    assert "FAIL  sample_data/incoming/legacy_export.parquet (entity=customers source=legacy)" in result.output
    assert (
        "unmapped_value source=legacy column=land values='Schweiz' ×2, 'Deutschland ' ×1 → country: no mapping, 3 rows"
        in result.output
    )
    assert "cast_failed source=crm column=signup value='2024-02-30' → signup_date" in result.output
    assert "duplicate_key source=crm column=id value=11 → customer_id" in result.output


def test_validate_clean_file_exits_0(project: Path) -> None:
    out = project / "canonical.parquet"
    invoke("map", LEGACY, "--source", "legacy", "-o", str(out))
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(out)
    keep = pc.fill_null(pc.invert(pc.is_null(table["country"])), False)
    table = table.filter(keep).filter(pc.fill_null(pc.is_valid(table.filter(keep)["customer_id"]), False))
    table = table.filter(pc.fill_null(pc.less(table["height_cm"], 250), True))
    table = table.filter(pc.is_valid(table["signup_date"]))
    pq.write_table(table, project / "clean.parquet")
    result = invoke("validate", "clean.parquet", "--entity", "customers")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok  clean.parquet (entity=customers)")


def test_validate_json_is_versioned(project: Path) -> None:
    result = invoke("validate", LEGACY, "--json", "--max-samples", "1")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert (data["format"], data["version"], data["ok"]) == ("datakeep.validation", 1, False)
    assert data["summary"]["rows_checked"] == 300
    assert all(len(p["samples"]) <= 1 for p in data["problems"])
    result = invoke("validate", LEGACY, CRM, "--json")
    assert json.loads(result.stdout)["format"] == "datakeep.validation-set"


def test_validate_bad_schema_exits_2_naming_file_and_place(project: Path) -> None:
    src = project / "schemas/sources/legacy.yaml"
    src.write_text(src.read_text().replace("to: country", "to: countri"))
    result = invoke("validate", LEGACY)
    assert result.exit_code == 2
    assert "error: schemas/sources/legacy.yaml: columns.land: renames 'land' to 'countri'" in result.stderr


def test_validate_unmatched_path(project: Path) -> None:
    shutil.copy(project / LEGACY, project / "stray.parquet")
    result = invoke("validate", "stray.parquet")
    assert result.exit_code == 0 and "skip  stray.parquet (no rule in datakeep.yaml)" in result.output
    (project / "datakeep.yaml").write_text(
        (project / "datakeep.yaml").read_text().replace("unmatched: pass", "unmatched: fail")
    )
    result = invoke("validate", "stray.parquet")
    assert result.exit_code == 2 and "error: stray.parquet: no rule in datakeep.yaml" in result.stderr


def test_validate_missing_file_and_unknown_type(project: Path) -> None:
    result = invoke("validate", "nope.parquet", "--entity", "customers")
    assert result.exit_code == 2 and "error: nope.parquet: no such file" in result.stderr
    (project / "x.json").write_text("{}")
    result = invoke("validate", "x.json", "--entity", "customers")
    assert result.exit_code == 2 and "cannot validate a '.json' file" in result.stderr


def test_map_writes_canonical_parquet(project: Path) -> None:
    result = invoke("map", LEGACY, "--source", "legacy", "-o", "out/canonical.parquet")
    assert result.exit_code == 1  # the sample has planted problems
    assert "wrote out/canonical.parquet (300 rows)" in result.output
    import pyarrow.parquet as pq

    assert pq.read_schema(project / "out/canonical.parquet").names[:2] == ["customer_id", "name"]


def test_schema_check_show_infer(project: Path) -> None:
    result = invoke("schema", "check")
    assert result.exit_code == 0 and "checked 4 file(s): ok" in result.output
    (project / "schemas/bad.yaml").write_text("columns:\n  a:\n    dtype: int64\n    is_even: true\n")
    result = invoke("schema", "check")
    assert result.exit_code == 2
    assert "error: schemas/bad.yaml: columns.a.is_even: unknown check 'is_even'" in result.stderr
    result = invoke("schema", "show", "customers")
    assert result.exit_code == 0 and "key: customer_id" in result.output and "sources: crm, legacy" in result.output
    result = invoke("schema", "infer", LEGACY, "--entity", "legacy_raw")
    assert result.exit_code == 0 and "key:\n  - kundennr" not in result.output
    (project / "schemas/legacy_raw.yaml").write_text(result.output)
    assert invoke("validate", LEGACY, "--entity", "legacy_raw").exit_code == 0
    result = invoke("schema", "show", "nobody")
    assert result.exit_code == 2 and "schemas/nobody.yaml: no such schema file" in result.stderr


@pytest.mark.parametrize(
    "args", [["validate"], ["map"], ["schema"], ["schema", "infer"], ["schema", "show"], ["schema", "check"]]
)
def test_every_command_has_help_with_example(args: list[str]) -> None:
    result = invoke(*args, "--help")
    assert result.exit_code == 0 and "Example:" in result.output


def test_cli_modules_import_no_heavy_libraries() -> None:
    import subprocess
    import sys

    code = "import sys, datakeep.cli.validate, datakeep.cli.schema; print(sorted(m for m in ('pandas','pyarrow','pandera') if m in sys.modules))"  # noqa: E501
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _orders(root: Path, source: str) -> None:
    (root / "schemas" / "sources").mkdir(parents=True)
    (root / "schemas" / "orders.yaml").write_text(
        "datakeep: {key: [order_id]}\ncolumns:\n  order_id: {dtype: str}\n  status: {dtype: str}\nstrict: true\n"
    )
    (root / "schemas" / "sources" / "shop.yaml").write_text(source)


def test_a_utf8_bom_keeps_the_first_column_as_raw_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _orders(tmp_path, "entity: orders\ncolumns:\n  OrderID: order_id\n  Status: status\n")
    # An Excel export: byte order mark, CRLF, and a code whose leading zeros are data.
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbfOrderID,Status\r\n007,open\r\n2,shipped\r\n")
    result = invoke("validate", "bom.csv", "--source", "shop")
    assert result.exit_code == 0, result.output
    assert "ok  bom.csv (entity=orders source=shop): 2 rows, no problems" in result.output
    mapped = invoke("map", "bom.csv", "--source", "shop", "-o", "out.parquet")
    assert mapped.exit_code == 0, mapped.output
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column_names == ["order_id", "status"]
    assert table.column("order_id").to_pylist() == ["007", "2"]


def _amounts(root: Path, cast: str, rows: str) -> None:
    (root / "schemas" / "sources").mkdir(parents=True)
    (root / "schemas" / "t.yaml").write_text("columns:\n  amount: {dtype: float64}\n")
    (root / "schemas" / "sources" / "s.yaml").write_text(f"entity: t\ncolumns:\n  a: {{to: amount, cast: {cast}}}\n")
    (root / "in.csv").write_text(f"a\n{rows}")


def test_a_csv_encoding_typo_is_a_configuration_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "schemas" / "sources").mkdir(parents=True)
    (tmp_path / "schemas" / "t.yaml").write_text("columns:\n  a: {dtype: str}\n")
    (tmp_path / "schemas" / "sources" / "s.yaml").write_text("entity: t\ncsv: {encoding: utf8-sig-typo}\n")
    (tmp_path / "in.csv").write_text("a\nx\n")
    message = "error: schemas/sources/s.yaml: csv.encoding: unknown encoding 'utf8-sig-typo'"
    checked = invoke("schema", "check")
    assert checked.exit_code == 2 and message in checked.stderr
    validated = invoke("validate", "in.csv", "--source", "s")
    assert validated.exit_code == 2 and message in validated.stderr


def test_one_character_for_decimal_and_thousands_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _amounts(tmp_path, "{type: number, decimal: ',', thousands: ','}", '"1,5"\n')
    message = "schemas/sources/s.yaml: columns.a.cast.thousands: decimal and thousands are both ','"
    checked = invoke("schema", "check")
    assert checked.exit_code == 2 and message in checked.stderr
    assert invoke("map", "in.csv", "--source", "s", "-o", "out.parquet").exit_code == 2
    assert not (tmp_path / "out.parquet").exists()


def test_thousands_separators_must_group_digits_in_threes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _amounts(
        tmp_path, "{type: number, decimal: ',', thousands: '.'}", '"1.234,5"\n1..0\n.5\n12.34\n"-1.234.567"\n"0,5"\n'
    )
    result = invoke("validate", "in.csv", "--source", "s")
    assert result.exit_code == 1
    assert "3 of 6 rows failing" in result.output
    assert "cast_failed source=s column=a values=" in result.output
    for bad in ("'1..0' ×1", "'.5' ×1", "'12.34' ×1"):
        assert bad in result.output
    (tmp_path / "good.csv").write_text('a\n"1.234,5"\n"-1.234.567"\n"0,5"\n1234\n')
    assert invoke("map", "good.csv", "--source", "s", "-o", "out.parquet").exit_code == 0
    assert pq.read_table(tmp_path / "out.parquet").column("amount").to_pylist() == [1234.5, -1234567.0, 0.5, 1234.0]


def test_schema_check_lists_every_problem_of_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "schemas" / "sources").mkdir(parents=True)
    (tmp_path / "schemas" / "t.yaml").write_text("columns:\n  a: {dtype: str}\n  b: {dtype: int64}\n")
    (tmp_path / "schemas" / "sources" / "s.yaml").write_text(
        "entity: t\ncolumns:\n  x: {to: aa}\n  y: {to: b, scale: abc}\ndefaults: {zz: 1}\n"
    )
    result = invoke("schema", "check")
    assert result.exit_code == 2
    assert "checked 2 file(s): 1 bad, 3 problem(s)" in result.output
    for problem in (
        "columns.x: renames 'x' to 'aa'",
        "columns.y.scale: expected a finite non-zero",
        "defaults.zz: 'zz'",
    ):
        assert f"error: schemas/sources/s.yaml: {problem}" in result.stderr


def _entity(root: Path, text: str) -> None:
    (root / "schemas" / "sources").mkdir(parents=True)
    (root / "schemas" / "t.yaml").write_text(text)


@pytest.mark.parametrize("header", ["id,name\n", "id,name", "id,name\r\n", "\ufeffid,name"])
def test_a_header_only_csv_has_zero_rows_with_or_without_a_newline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, header: str
) -> None:
    monkeypatch.chdir(tmp_path)
    _entity(tmp_path, "columns:\n  id: {dtype: int64}\n  name: {dtype: str, nullable: true}\n")
    (tmp_path / "h.csv").write_text(header, encoding="utf-8")
    result = invoke("validate", "h.csv", "--entity", "t")
    assert (result.exit_code, result.output) == (0, "ok  h.csv (entity=t): 0 rows, no problems\n")
    (tmp_path / "short.csv").write_text(header.replace(",name", ""), encoding="utf-8")
    result = invoke("validate", "short.csv", "--entity", "t")
    assert result.exit_code == 1
    assert "missing_column → name: no raw column provides 'name'" in result.output
    assert "FAIL  short.csv (entity=t): the file as a whole fails (0 rows checked); 1 problem" in result.output


def test_a_timestamp_past_the_year_9999_is_reported_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow as pa

    monkeypatch.chdir(tmp_path)
    _entity(tmp_path, "columns:\n  id: {dtype: int64}\n  t: {dtype: 'datetime64[ns]', nullable: true}\n")
    pq.write_table(pa.table({"id": [1, 2], "t": pa.array([0, 2**62], pa.timestamp("us"))}), tmp_path / "f.parquet")
    result = invoke("validate", "f.parquet", "--entity", "t")
    assert result.exit_code == 1, result.output
    assert (
        "cast_failed value='+148108-07-06T14:00:27.387904' → t: outside the range datetime64[ns] holds" in result.output
    )
    assert "1 of 2 rows failing" in result.output and ", 1 row, e.g. row 1" in result.output


def test_json_samples_give_the_raw_key_for_every_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`key` is the row's raw key values: duplicate_key gave the canonical ones ({'oid': 5})."""
    monkeypatch.chdir(tmp_path)
    _entity(
        tmp_path,
        "datakeep:\n  key: [oid]\ncolumns:\n  oid: {dtype: int64}\n  q: {dtype: int64, greater_than: 0}\n"
        "  mail: {dtype: str, unique: true}\n",
    )
    (tmp_path / "schemas" / "sources" / "s.yaml").write_text("entity: t\ncolumns:\n  id: oid\n")
    (tmp_path / "f.csv").write_text("id,q,mail\n5,0,a\n05,1,b\n7,1,a\n")
    result = invoke("validate", "f.csv", "--source", "s", "--json")
    assert result.exit_code == 1
    problems = {p["kind"]: p for p in json.loads(result.stdout)["problems"]}
    assert set(problems) == {"duplicate_key", "duplicate_value", "check_failed"}
    assert problems["check_failed"]["samples"] == [{"row": 0, "key": {"oid": "5"}}]
    assert problems["duplicate_key"]["samples"] == [{"row": 0, "key": {"oid": "5"}}, {"row": 1, "key": {"oid": "05"}}]
    assert problems["duplicate_key"]["values"] == [{"value": 5, "count": 2}]  # the canonical key
    assert problems["duplicate_value"]["samples"] == [{"row": 0, "key": {"oid": "5"}}, {"row": 2, "key": {"oid": "7"}}]


def _project(root: Path, schema: str, source: str | None = None, data: str = "id\n1\n") -> None:
    """Entity ``t`` with ``schema``, source ``s`` with ``source`` (if any), and ``f.csv``."""
    (root / "schemas" / "sources").mkdir(parents=True)
    (root / "schemas" / "t.yaml").write_text(schema)
    if source is not None:
        (root / "schemas" / "sources" / "s.yaml").write_text(source)
    (root / "f.csv").write_text(data)


def _refused(message: str, *command: str) -> None:
    """``schema check`` and ``command`` both exit 2 with ``message``, naming file, place, problem."""
    checked = invoke("schema", "check")
    assert checked.exit_code == 2, checked.output
    assert f"error: {message}" in checked.stderr
    result = invoke(*command)
    assert result.exit_code == 2, result.output
    assert f"error: {message}" in result.stderr


@pytest.mark.parametrize("scale", [".nan", ".inf", "-.inf"])
def test_a_scale_must_be_finite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scale: str) -> None:
    """nan or inf passed, then every value was mapped to null or an infinity."""
    monkeypatch.chdir(tmp_path)
    _project(
        tmp_path,
        "columns:\n  id: {dtype: int64}\n  w: {dtype: float64, nullable: true}\n",
        f"entity: t\ncolumns:\n  lb: {{to: w, scale: {scale}}}\n",
        "id,lb\n1,2\n2,0\n",
    )
    shown = {".nan": "nan", ".inf": "inf", "-.inf": "-inf"}[scale]
    message = (
        "schemas/sources/s.yaml: columns.lb.scale: expected a finite non-zero number (the factor raw → canonical), "
        f"not {shown}"
    )
    _refused(message, "validate", "f.csv", "--source", "s")
    assert invoke("map", "f.csv", "--source", "s", "-o", "out.parquet").exit_code == 2
    assert not (tmp_path / "out.parquet").exists()


@pytest.mark.parametrize(
    ("fmt", "problem"),
    [
        ("%Y-%Q-%d", "'%Q' in '%Y-%Q-%d' is not a strptime directive datakeep reads"),
        ("%Y-%m-%", "'%Y-%m-%' ends in a lone '%'"),
    ],
)
def test_a_date_format_with_a_bad_directive_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str, problem: str
) -> None:
    """It passed, and then every cell was cast_failed (exit 1): the data blamed for the mapping."""
    monkeypatch.chdir(tmp_path)
    _project(
        tmp_path,
        "columns:\n  id: {dtype: int64}\n  d: {dtype: 'datetime64[ns]'}\n",
        f"entity: t\ncolumns:\n  day: {{to: d, cast: {{type: date, format: '{fmt}'}}}}\n",
        "id,day\n1,2024-01-02\n",
    )
    _refused(f"schemas/sources/s.yaml: columns.day.cast.format: {problem}", "validate", "f.csv", "--source", "s")


def test_schema_level_unique_must_name_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A misspelt column switched the uniqueness check off: duplicate rows passed."""
    monkeypatch.chdir(tmp_path)
    _project(
        tmp_path,
        "columns:\n  id: {dtype: int64}\n  x: {dtype: int64}\nunique: [id, x, typo]\n",
        data="id,x\n1,1\n1,1\n",
    )
    _refused(
        "schemas/t.yaml: unique[2]: unique column 'typo' is not a column of the schema — columns of the schema: id, x",
        "validate",
        "f.csv",
        "--entity",
        "t",
    )


def test_flags_must_be_yaml_booleans(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A quoted 'no' or 'false' was true: the column became nullable, or unique."""
    monkeypatch.chdir(tmp_path)
    _project(
        tmp_path,
        "columns:\n  id: {dtype: int64, unique: 'false'}\n  x: {dtype: float64, nullable: 'no'}\n",
        data="id,x\n1,\n1,2\n",
    )
    _refused(
        "schemas/t.yaml: columns.id.unique: expected true or false, found 'false' "
        "— write true or false, without quotes",
        "validate",
        "f.csv",
        "--entity",
        "t",
    )
    checked = invoke("schema", "check")
    assert "error: schemas/t.yaml: columns.x.nullable: expected true or false, found 'no'" in checked.stderr
    assert "checked 1 file(s): 1 bad, 2 problem(s)" in checked.output


def test_a_check_argument_must_fit_the_column(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """greater_than: '5' on an int64 column failed every file with '0 of N rows failing' (exit 1)."""
    monkeypatch.chdir(tmp_path)
    _project(
        tmp_path,
        "columns:\n  id: {dtype: int64, greater_than: '5'}\n"
        "  s: {dtype: str, isin: [a, 1], str_length: {min_value: '1'}}\n",
        data="id,s\n1,a\n9,a\n",
    )
    _refused(
        "schemas/t.yaml: columns.id.greater_than: greater_than needs a number (the column's dtype is int64), "
        "not '5' — write a number without quotes",
        "validate",
        "f.csv",
        "--entity",
        "t",
    )
    checked = invoke("schema", "check")
    # The first problem of each column, as for every other problem of a column.
    assert "error: schemas/t.yaml: columns.s.isin[1]: isin needs text values (the column's dtype is str), not 1" in (
        checked.stderr
    )
    (tmp_path / "schemas" / "t.yaml").write_text(
        "columns:\n  id: {dtype: int64, greater_than: 5}\n"
        "  s: {dtype: str, isin: [a, '1'], str_length: {min_value: 1}}\n"
    )
    result = invoke("validate", "f.csv", "--entity", "t")
    assert result.exit_code == 1 and "1 of 2 rows failing" in result.output


def test_a_boolean_word_under_true_and_false_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """J under both true and false was accepted and read as True."""
    monkeypatch.chdir(tmp_path)
    _project(
        tmp_path,
        "columns:\n  id: {dtype: int64}\n  g: {dtype: bool}\n",
        "entity: t\ncolumns:\n  g: {cast: {type: boolean, true: [ja, J], false: [nein, J]}}\n",
        "id,g\n1,J\n",
    )
    _refused(
        "schemas/sources/s.yaml: columns.g.cast: 'J' is listed under both true and false",
        "validate",
        "f.csv",
        "--source",
        "s",
    )
    assert invoke("map", "f.csv", "--source", "s", "-o", "out.parquet").exit_code == 2
    assert not (tmp_path / "out.parquet").exists()


def test_a_csv_that_does_not_parse_points_at_the_csv_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The advice was "check the file": the usual cause is a delimiter or encoding not declared."""
    monkeypatch.chdir(tmp_path)
    _entity(tmp_path, "columns:\n  a: {dtype: str}\n")
    (tmp_path / "in.csv").write_text("a;b\n1;x,y\n")
    result = invoke("validate", "in.csv", "--entity", "t")
    assert result.exit_code == 2
    assert "error: in.csv: cannot read it as CSV: CSV parse error" in result.stderr
    assert "check csv.delimiter and csv.encoding in the source mapping" in result.stderr
