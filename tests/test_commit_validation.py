"""A dataset tracked with an entity is validated at commit: bad data changes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from datakeep.api import Repo
from datakeep.cli import cli
from datakeep.errors import InputDataError
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
    # What to do comes on a line of its own, not at the end of the report's last problem.
    assert refused.output.rstrip().splitlines()[-1].startswith("— fix the data")
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


def _orders_project(project: Path) -> Repo:
    sources = project / "schemas" / "sources"
    sources.mkdir(parents=True)
    (project / "schemas" / "orders.yaml").write_text(
        "datakeep: {key: [order_id]}\ncolumns:\n  order_id: {dtype: int64}\n  status: {dtype: str, isin: [open]}\n"
    )
    (sources / "shop.yaml").write_text(
        "entity: orders\ncolumns:\n  id: order_id\n  st: {to: status, values: {O: open}, unmapped: error}\n"
    )
    return Repo.init(project)


def test_a_source_alone_implies_its_entity_at_commit(project: Path) -> None:
    repo = _orders_project(project)
    pq.write_table(pa.table({"id": [1, 2], "st": ["O", "X"]}), project / "o.parquet")
    added = CliRunner().invoke(cli, ["add", "o.parquet", "--name", "o", "--source", "shop"])
    assert added.exit_code == 0, added.output
    refused = CliRunner().invoke(cli, ["commit", "-m", "bad"])
    assert refused.exit_code == 1, refused.output
    assert "failed validation against entity 'orders'" in refused.output
    pq.write_table(pa.table({"id": [1, 2], "st": ["O", "O"]}), project / "o.parquet")
    committed = CliRunner().invoke(cli, ["commit", "-m", "good"])
    assert committed.exit_code == 0, committed.output
    validated = repo.manifest("o").validated
    assert validated is not None and validated["entity"] == "orders" and validated["source"] == "shop"


def test_add_refuses_a_source_that_does_not_exist(project: Path) -> None:
    repo = _orders_project(project)
    pq.write_table(pa.table({"id": [1], "st": ["O"]}), project / "o.parquet")
    result = CliRunner().invoke(cli, ["add", "o.parquet", "--name", "o", "--source", "does_not_exist"])
    assert result.exit_code == 2
    assert "schemas/sources/does_not_exist.yaml: no such source mapping file" in result.output
    assert repo.tracked() == {}


def test_commit_fails_when_the_tracked_source_is_gone(project: Path) -> None:
    repo = _orders_project(project)
    pq.write_table(pa.table({"id": [1], "st": ["O"]}), project / "o.parquet")
    assert CliRunner().invoke(cli, ["add", "o.parquet", "--name", "o", "--source", "shop"]).exit_code == 0
    (project / "schemas" / "sources" / "shop.yaml").unlink()
    result = CliRunner().invoke(cli, ["commit", "-m", "no mapping"])
    assert result.exit_code == 2
    assert "schemas/sources/shop.yaml: no such source mapping file" in result.output
    assert repo.repository.head() is None


def test_data_written_after_validation_is_not_committed_as_validated(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer that replaces the file between its validation and its snapshot must not get its
    unvalidated rows committed under the validation's name."""
    from datakeep import history

    repo = _project(project)
    good = pq.read_table(LEGACY).slice(0, 5)
    path = project / "customers.parquet"
    pq.write_table(good, path)
    repo.add(path, name="customers", entity="customers", source="legacy")
    validate_for_real = history._validate

    def validate_then_a_writer_replaces_the_file(*args: object) -> dict[str, str]:
        verdict = validate_for_real(*args)
        pq.write_table(pq.read_table(LEGACY), project / "incoming.parquet")  # with bad rows
        (project / "incoming.parquet").replace(path)
        return verdict

    monkeypatch.setattr(history, "_validate", validate_then_a_writer_replaces_the_file)
    with pytest.raises(InputDataError, match="changed while it was being validated"):
        repo.commit(message="five good rows")
    assert repo.repository.head() is None
