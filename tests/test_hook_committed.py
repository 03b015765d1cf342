"""The optional second hook: a git commit of data datakeep has not committed is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from datakeep.api import Repo
from datakeep.cli import cli
from datakeep.hook.committed import check_committed
from tests.test_hook_support import customers, data_repo, git, isolate_git, write_parquet


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(monkeypatch)


def test_staged_file_with_uncommitted_dataset_changes_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = data_repo(tmp_path / "repo")
    monkeypatch.chdir(root)
    write_parquet(root / "data/customers.parquet", customers())
    write_parquet(root / "data/untracked.parquet", customers())
    repo = Repo.init(root)
    repo.add("data/customers.parquet", name="customers")
    repo.commit(message="first load")
    files = ["data/customers.parquet", "data/untracked.parquet"]

    assert check_committed(files, root).exit_code == 0

    write_parquet(root / "data/customers.parquet", customers(rows=7))
    git(root, "add", *files)
    refused = CliRunner().invoke(cli, ["hook", "check-committed", "--staged"])
    assert refused.exit_code == 1
    assert "UNCOMMITTED  data/customers.parquet  (dataset customers is modified" in refused.output
    assert "untracked.parquet" not in refused.output  # not datakeep's, so not its business

    repo.commit(message="second load")
    allowed = CliRunner().invoke(cli, ["hook", "check-committed", "--staged"])
    assert (allowed.exit_code, allowed.output) == (0, "")


def test_no_datakeep_repository_means_nothing_to_refuse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = data_repo(tmp_path / "repo")
    monkeypatch.chdir(root)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    write_parquet(root / "data/customers.parquet", customers())

    result = check_committed(["data/customers.parquet"], root)

    assert (result.exit_code, result.checked) == (0, 1)


def test_the_staged_version_is_judged_not_the_working_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = data_repo(tmp_path / "repo")
    monkeypatch.chdir(root)
    data = write_parquet(root / "data/c.parquet", customers())
    repo = Repo.init(root)
    repo.add("data/c.parquet", name="c")
    repo.commit(message="10 rows")

    # Staged: a version datakeep never committed; on disk: the committed one again.
    write_parquet(data, customers(rows=30))
    git(root, "add", "data/c.parquet")
    write_parquet(data, customers())
    refused = CliRunner().invoke(cli, ["hook", "check-committed", "--staged"])
    assert refused.exit_code == 1, refused.output
    assert "its staged version is not what datakeep's HEAD holds for dataset c" in refused.output

    # Staged: the committed version; on disk: newer work datakeep has not committed yet.
    git(root, "add", "data/c.parquet")
    write_parquet(data, customers(rows=12))
    allowed = CliRunner().invoke(cli, ["hook", "check-committed", "--staged"])
    assert (allowed.exit_code, allowed.output) == (0, "")
