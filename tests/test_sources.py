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
