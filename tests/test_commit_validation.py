"""A dataset tracked with an entity is validated at commit: bad data changes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
from click.testing import CliRunner

from datakeep.api import Repo
from datakeep.cli import cli
from datakeep.schemas import fingerprint
from datakeep.validate import validate_file

ROOT = Path(__file__).resolve().parent.parent
LEGACY = ROOT / "sample_data" / "incoming" / "legacy_export.parquet"


def _project(project: Path) -> Repo:
    shutil.copytree(ROOT / "schemas", project / "schemas")
    shutil.copy(ROOT / "datakeep.yaml", project / "datakeep.yaml")
    return Repo.init(project)


def _objects(project: Path) -> set[str]:
    return {p.name for p in (project / ".datakeep" / "objects").rglob("*") if p.is_file()}


def test_bad_data_refuses_the_commit_and_changes_nothing(project: Path) -> None:
    repo = _project(project)
    shutil.copy(LEGACY, project / "customers.parquet")
    result = CliRunner().invoke(
        cli, ["add", "customers.parquet", "--name", "customers", "--entity", "customers", "--source", "legacy"]
    )
    assert result.exit_code == 0, result.output
    before = _objects(project)
    refused = CliRunner().invoke(cli, ["commit", "-m", "legacy load"])
    assert refused.exit_code == 1
    assert "failed validation against entity 'customers'" in refused.output
    assert "Schweiz" in refused.output  # the report names the raw value
    assert repo.repository.head() is None
    assert _objects(project) == before
    forced = CliRunner().invoke(cli, ["commit", "-m", "legacy load", "--no-verify"])
    assert forced.exit_code == 0
    assert repo.manifest("customers").validated is None


def test_good_data_commits_and_records_what_it_was_validated_against(project: Path) -> None:
    repo = _project(project)
    good = pq.read_table(LEGACY).slice(0, 5)
    pq.write_table(good, project / "customers.parquet")
    assert validate_file(project / "customers.parquet", source="legacy", root=project).ok
    repo.add(project / "customers.parquet", name="customers", entity="customers", source="legacy")
    repo.commit(message="five good rows")
    validated = repo.manifest("customers").validated
    assert validated == {
        "entity": "customers",
        "source": "legacy",
        "fingerprint": fingerprint(project, "customers", "legacy"),
    }
