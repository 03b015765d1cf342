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
    for problem in ("columns.x: renames 'x' to 'aa'", "columns.y.scale: expected a non-zero", "defaults.zz: 'zz'"):
        assert f"error: schemas/sources/s.yaml: {problem}" in result.stderr
