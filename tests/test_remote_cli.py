"""The remote commands through click (exit codes and messages), on a folder remote."""

# Fixtures are imported from the helper module, and pytest passes them by parameter name.
# ruff: noqa: F811

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from test_remote_support import Project, folder_project, folder_url, template  # noqa: F401

from datakeep.cli import cli


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_remote_add_list_remove(folder_project: Project, folder_url: str) -> None:
    code, out, _ = run("remote", "list")
    assert code == 0 and out.split() == ["origin", folder_url]
    assert run("remote", "add", "backup", "../elsewhere")[0] == 0
    code, out, _ = run("remote", "list", "--json")
    assert json.loads(out)["remotes"]["backup"] == str((folder_project.root / "../elsewhere").resolve())
    code, _, err = run("remote", "add", "backup", "/x")
    assert code == 2 and "already exists" in err
    assert run("remote", "remove", "backup")[0] == 0
    code, _, err = run("remote", "remove", "backup")
    assert code == 2 and "error: no remote named 'backup'" in err


def test_push_twice_then_clone(folder_project: Project, folder_url: str, tmp_path: Path) -> None:
    code, out, _ = run("push")
    assert code == 0 and "pushed to origin:" in out and "refs/heads/main: (none) →" in out
    code, out, _ = run("push")
    assert code == 0 and "0 object(s), 0 B sent" in out and "up to date" in out
    code, out, _ = run("clone", folder_url, str(tmp_path / "copy"))
    assert code == 0 and "restored flights: flights.parquet" in out
    assert (tmp_path / "copy" / "flights.parquet").exists()


def test_non_fast_forward_exits_2_with_what_to_do(folder_project: Project, folder_url: str, tmp_path: Path) -> None:
    run("push")
    assert run("clone", folder_url, str(tmp_path / "other"))[0] == 0
    Project.open(tmp_path / "other", folder_project.flights).append(message="theirs")
    assert run("-C", str(tmp_path / "other"), "push")[0] == 0
    folder_project.append(message="ours")
    code, _, err = run("-C", str(folder_project.root), "push")
    assert code == 2
    assert err.startswith("error: rejected: refs/heads/main on origin")
    assert "`datakeep pull` fetches their commits" in err and "--force" in err
    assert run("push", "--force")[0] == 0


def test_ls_files_sql_feeds_duckdb(folder_project: Project) -> None:
    duckdb = pytest.importorskip("duckdb")
    code, out, _ = run("ls-files", "HEAD:flights", "--sql")
    assert code == 0
    # The README's command: duckdb -c "select count(*) from read_parquet($(datakeep ls-files ... --sql))"
    rows = duckdb.sql(f"select count(*) from read_parquet({out.strip()})").fetchall()
    assert rows == [(folder_project.flights.num_rows,)]
    code, out, _ = run("ls-files", "HEAD", "--sql")
    assert code == 2


def test_missing_backend_names_the_extra(folder_project: Project) -> None:
    if importlib.util.find_spec("gcsfs") is not None:
        pytest.skip("gcsfs is installed here")
    run("remote", "add", "gcs", "gs://bucket/team")
    code, _, err = run("push", "gcs")
    assert code == 2 and 'pip install "datakeep[gcs]"' in err


def test_help_shows_examples() -> None:
    for command in (["remote"], ["push"], ["pull"], ["clone"], ["ls-files"], ["remote", "add"]):
        code, out, _ = run(*command, "--help")
        assert code == 0 and "Example:" in out


def test_pull_over_uncommitted_changes_says_how_to_go_on(
    folder_project: Project, folder_url: str, tmp_path: Path
) -> None:
    run("push")
    assert run("clone", folder_url, str(tmp_path / "other"))[0] == 0
    Project.open(tmp_path / "other", folder_project.flights).append(message="theirs")
    assert run("-C", str(tmp_path / "other"), "push")[0] == 0
    data = folder_project.root / "flights.parquet"
    pq.write_table(pq.read_table(data).slice(0, 5), data)  # an uncommitted edit
    code, _, err = run("-C", str(folder_project.root), "pull")
    assert code == 2
    assert "uncommitted changes in flights would be overwritten" in err
    assert "`datakeep checkout HEAD --force`" in err and "--no-checkout" in err
    assert "pass --force" not in err  # pull has no --force
    assert run("-C", str(folder_project.root), "checkout", "HEAD", "--force")[0] == 0
    code, out, _ = run("-C", str(folder_project.root), "pull")
    assert code == 0 and "restored flights" in out
