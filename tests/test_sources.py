"""Datasets fed by sources of one entity: two sources compare as the entity's rows, each side
through its own mapping (`datakeep.diff.across_sources`); a dataset takes the key its entity
declares; a committed version is validated again against today's schemas."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from datakeep.api import Repo
from datakeep.cli import cli
from tests.test_hook_support import crm_customers, customers, write_project


@pytest.fixture
def two_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    """`canon` holds customers as the entity has them; `crm` as the crm source sends them
    (column `land`, German country names)."""
    write_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    pq.write_table(customers(6), tmp_path / "canon.parquet")  # ids 1-6, DE FR US DE FR US, ages 20-25
    crm = crm_customers(5)  # ids 1-5, Deutschland Frankreich …, age 30
    pq.write_table(crm, tmp_path / "crm.parquet")
    repo = Repo.init(tmp_path)
    repo.add(tmp_path / "canon.parquet", name="canon", entity="customers")
    repo.add(tmp_path / "crm.parquet", name="crm", source="crm")
    repo.commit(message="two sources")
    return repo


def test_two_sources_compare_through_their_mappings(two_sources: Repo) -> None:
    result = CliRunner().invoke(cli, ["diff", "HEAD:canon", "HEAD:crm", "--key", "id", "--json"])
    assert result.exit_code == 0, result.output
    (compared,) = json.loads(result.output)["datasets"]
    # crm's `land` arrived as the entity's `country`: no column is added or removed.
    assert (compared["schema"]["added"], compared["schema"]["removed"]) == ([], [])
    rows = compared["rows"]
    assert (rows["added"], rows["removed"], rows["modified"], rows["unchanged"]) == (0, 1, 5, 0)
    # Rows 1-5: DE FR US DE FR against Deutschland Frankreich Deutschland Frankreich Deutschland,
    # mapped to DE FR DE FR DE: rows 3, 4 and 5 differ in country; every age differs (20-24 vs 30).
    assert compared["columns"]["country"]["modified"] == 3
    assert compared["columns"]["age"]["modified"] == 5
    assert any("each side through its source's mapping" in note for note in compared["notes"])


def test_a_mapping_problem_is_said_and_its_cells_are_null(two_sources: Repo, tmp_path: Path) -> None:
    pq.write_table(crm_customers(5, bad=True), tmp_path / "crm.parquet")  # 'Atlantis': no mapping
    two_sources.commit(message="a load validation would refuse", verify=False)
    result = CliRunner().invoke(cli, ["diff", "HEAD:canon", "HEAD:crm", "--key", "id", "--json"])
    assert result.exit_code == 0, result.output
    (compared,) = json.loads(result.output)["datasets"]
    assert any("mapping crm met 1 problem(s) in 1 row(s)" in note for note in compared["notes"])
    changed = {s["key"]["id"]: {c["column"]: c["to"] for c in s["changes"]} for s in compared["samples"]}
    assert changed[2]["country"] is None  # row 2's Atlantis: null, as `datakeep map` writes it


def test_the_same_source_compares_raw_columns_as_they_are(two_sources: Repo, tmp_path: Path) -> None:
    pq.write_table(pa.table({"id": [1], "land": ["Frankreich"], "age": [30]}), tmp_path / "more.parquet")
    two_sources.add(tmp_path / "more.parquet", name="more", source="crm")
    two_sources.commit(message="another crm load")
    compared = two_sources.diff("HEAD:crm", "HEAD:more", key=["id"]).datasets[0]
    assert not any("mapping" in note for note in compared.notes)
    assert compared.rows.removed == 4 and compared.rows.unchanged == 0 and compared.rows.modified == 1


def test_add_takes_the_key_the_entity_declares(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --key a dataset was tracked keyless although its schema names the key: every
    later diff then matched whole rows. Through a source, the key is the raw column feeding it."""
    import shutil

    root = Path(__file__).resolve().parents[1]
    shutil.copytree(root / "schemas", tmp_path / "schemas")
    shutil.copy(root / "sample_data/incoming/legacy_export.parquet", tmp_path / "legacy.parquet")
    monkeypatch.chdir(tmp_path)
    repo = Repo.init(tmp_path)
    mapping = (tmp_path / "schemas/sources/legacy.yaml").read_text()
    raw_key = next(line.split(":")[0].strip() for line in mapping.splitlines() if "customer_id" in line)
    repo.add(tmp_path / "legacy.parquet", name="legacy", source="legacy")
    canonical = tmp_path / "canonical.parquet"
    from datakeep.validate import map_file

    map_file(tmp_path / "legacy.parquet", source="legacy", root=tmp_path, output=canonical)
    repo.add(canonical, name="canon", entity="customers")
    tracked = repo._repo.load_index().datasets
    assert tracked["legacy"].key == (raw_key,)
    assert tracked["canon"].key == ("customer_id",)


def test_a_committed_version_is_validated_against_todays_schema(two_sources: Repo, tmp_path: Path) -> None:
    assert CliRunner().invoke(cli, ["validate", "HEAD:crm"]).exit_code == 0
    schema = tmp_path / "schemas/customers.yaml"
    schema.write_text(schema.read_text().replace("max_value: 130", "max_value: 21"))  # crm's ages are 30

    result = CliRunner().invoke(cli, ["validate", "HEAD:crm", "HEAD:canon"])

    assert result.exit_code == 1, result.output
    assert "FAIL  HEAD:crm (entity=customers source=crm): 5 of 5 rows failing" in result.output
    assert "FAIL  HEAD:canon (entity=customers): 4 of 6 rows failing" in result.output  # ages 22-25
    report = two_sources.validate("crm", "HEAD")
    assert (report.path, report.source, report.rows_failing) == ("HEAD:crm", "crm", 5)


def test_two_datasets_tracked_by_source_alone_compare_by_the_entitys_key(two_sources: Repo, tmp_path: Path) -> None:
    pq.write_table(crm_customers(5).set_column(2, "age", pa.array([31, 30, 30, 30, 30])), tmp_path / "other.parquet")
    two_sources.add(tmp_path / "other.parquet", name="other", source="crm")
    write_project(tmp_path)  # the test schema has no key header: give the entity one
    schema = tmp_path / "schemas/customers.yaml"
    schema.write_text("datakeep:\n  key: [id]\n" + schema.read_text())
    two_sources.commit(message="another source's load")
    (tmp_path / "schemas/sources/other.yaml").write_text((tmp_path / "schemas/sources/crm.yaml").read_text())
    index = two_sources.repository.load_index()
    index.datasets["other"].source = "other"
    index.save()
    two_sources.commit(message="other follows its own source")
    compared = two_sources.diff("HEAD:crm", "HEAD:other").datasets[0]
    assert compared.key == ("id",) and compared.rows.modified == 1 and compared.rows.added == 0
    assert any("entity customers" in note for note in compared.notes)


# -- a source that renamed columns between exports ---------------------------------------------

KEYED_SCHEMA = """\
datakeep:
  key: [id]
schema_type: dataframe
columns:
  id: {dtype: int64, nullable: false, unique: true}
  country: {dtype: str, nullable: false, checks: {isin: [DE, FR, US]}}
  age: {dtype: int64, nullable: true}
"""

RENAMED_SOURCE = """\
entity: customers
columns:
  kundennr: id             # the old exports
  customer_no: id          # since the partner's new system
  land:
    to: country
    values: {Deutschland: DE, Frankreich: FR}
  country_code:
    to: country
    values: {D: DE, F: FR}
"""


@pytest.fixture
def renamed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "schemas" / "sources").mkdir(parents=True)
    (tmp_path / "schemas" / "customers.yaml").write_text(KEYED_SCHEMA)
    (tmp_path / "schemas" / "sources" / "partner.yaml").write_text(RENAMED_SOURCE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_mapping_may_rename_several_old_names_onto_one_column(renamed: Path) -> None:
    """Each export holds one of the names; each is read through its own value map."""
    from datakeep.validate.engine import validate_file

    pq.write_table(
        pa.table({"kundennr": [1, 2], "land": ["Deutschland", "Frankreich"], "age": [30, 40]}), renamed / "old.parquet"
    )
    pq.write_table(pa.table({"customer_no": [3, 4], "country_code": ["D", "F"], "age": [50, None]}), "new.parquet")
    for name in ("old.parquet", "new.parquet"):
        report = validate_file(renamed / name, source="partner", root=renamed)
        assert report.ok, report.problems
    repo = Repo.init(renamed)
    repo.add(renamed / "new.parquet", name="partner", source="partner")
    repo.commit(message="new export")
    assert repo.manifest("partner").key == ("customer_no",)  # the schema's key, as this file names it


def test_a_file_holding_two_names_of_one_column_is_refused_naming_both(renamed: Path) -> None:
    from datakeep.validate.engine import validate_file

    pq.write_table(pa.table({"kundennr": [1], "customer_no": [1], "land": ["Deutschland"]}), renamed / "both.parquet")
    report = validate_file(renamed / "both.parquet", source="partner", root=renamed)
    (problem,) = [p for p in report.problems if p.kind == "unexpected_column"]
    assert problem.column == "id" and problem.source_column == "customer_no"
    assert "'kundennr' and 'customer_no' both map onto 'id'; a file may hold only one" in problem.detail


def test_a_missing_column_names_every_raw_name_that_would_feed_it(renamed: Path) -> None:
    from datakeep.validate.engine import validate_file

    pq.write_table(pa.table({"land": ["Deutschland"]}), renamed / "keyless.parquet")
    report = validate_file(renamed / "keyless.parquet", source="partner", root=renamed)
    (problem,) = [p for p in report.problems if p.kind == "missing_column" and p.column == "id"]
    assert "expected 'kundennr' or 'customer_no'" in problem.detail
