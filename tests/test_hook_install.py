"""The native git hook: `datakeep hook install` / `uninstall`, exercised by real `git commit`s."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from datakeep.cli import cli
from datakeep.errors import DatakeepError
from datakeep.hook import install, uninstall
from datakeep.hook.install import is_datakeep_hook, render_script
from tests.test_hook_support import customers, data_repo, git, isolate_git, write_parquet

LEGACY = """\
#!/bin/sh
echo "legacy hook ran" >> legacy.log
exit "${LEGACY_EXIT:-0}"
"""


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(monkeypatch)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = data_repo(tmp_path / "repo")
    monkeypatch.chdir(root)
    return root


def commit(repo: Path, message: str) -> subprocess.CompletedProcess[str]:
    return git(repo, "commit", "-m", message, check=False)


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file in a folder with its bytes and mode: what "restored exactly" compares."""
    if not folder.exists():
        return {}
    return {p.name: (p.read_bytes(), p.stat().st_mode) for p in sorted(folder.iterdir())}


def test_installed_hook_blocks_bad_data_and_lets_good_data_through(repo: Path) -> None:
    done = install(repo)
    assert done.hook == repo / ".git/hooks/pre-commit"
    assert os.access(done.hook, os.X_OK)

    write_parquet(repo / "data/bad.parquet", customers(bad=True))
    git(repo, "add", "data/bad.parquet")
    blocked = commit(repo, "bad data")
    assert blocked.returncode != 0
    assert "FAILED  data/bad.parquet" in blocked.stdout
    assert "XX" in blocked.stdout
    assert "datakeep validate data/bad.parquet" in blocked.stdout
    assert git(repo, "rev-list", "--count", "HEAD").stdout.strip() == "2"  # nothing committed

    write_parquet(repo / "data/bad.parquet", customers())
    git(repo, "add", "data/bad.parquet")
    allowed = commit(repo, "fixed data")
    assert allowed.returncode == 0, allowed.stdout
    assert "ok      data/bad.parquet" in allowed.stdout


def test_core_hooks_path_is_honoured(repo: Path) -> None:
    git(repo, "config", "core.hooksPath", "githooks")
    before = snapshot(repo / ".git/hooks")

    done = install(repo)

    assert done.hook == repo / "githooks/pre-commit"
    assert snapshot(repo / ".git/hooks") == before
    write_parquet(repo / "data/bad.parquet", customers(bad=True))
    git(repo, "add", "data/bad.parquet")
    assert commit(repo, "bad").returncode != 0

    uninstall(repo)
    assert not (repo / "githooks").exists()  # install made the folder, so uninstall removes it


def test_existing_hook_is_kept_as_legacy_and_runs_first(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hooks = repo / ".git/hooks"
    (hooks / "pre-commit").write_text(LEGACY)
    (hooks / "pre-commit").chmod(0o755)
    before = snapshot(hooks)

    done = install(repo)
    assert done.legacy == (hooks / "pre-commit.legacy",)
    assert (hooks / "pre-commit.legacy").read_text() == LEGACY

    write_parquet(repo / "data/good.parquet", customers())
    git(repo, "add", "data/good.parquet")
    monkeypatch.setenv("LEGACY_EXIT", "3")
    refused = commit(repo, "legacy says no")
    monkeypatch.delenv("LEGACY_EXIT")
    assert refused.returncode != 0
    assert "ok      data/good.parquet" not in refused.stdout  # stopped before datakeep ran
    assert (repo / "legacy.log").read_text() == "legacy hook ran\n"

    allowed = commit(repo, "both say yes")
    assert allowed.returncode == 0, allowed.stdout
    assert (repo / "legacy.log").read_text() == "legacy hook ran\n" * 2
    assert "ok      data/good.parquet" in allowed.stdout

    uninstall(repo)
    assert snapshot(hooks) == before


def test_install_twice_is_harmless_and_uninstall_restores_exactly(repo: Path) -> None:
    hooks = repo / ".git/hooks"
    (hooks / "pre-commit").write_text(LEGACY)
    (hooks / "pre-commit").chmod(0o750)
    before = snapshot(hooks)

    first = install(repo)
    after_first = snapshot(hooks)
    second = install(repo)

    assert (first.changed, second.changed) == (True, False)
    assert snapshot(hooks) == after_first  # the legacy hook was not wrapped a second time
    assert uninstall(repo).restored == (hooks / "pre-commit",)
    assert snapshot(hooks) == before
    assert uninstall(repo).removed is False  # nothing left to remove; nothing touched
    assert snapshot(hooks) == before


def test_reinstall_with_another_interpreter_updates_the_hook(repo: Path) -> None:
    install(repo, python="/opt/old/python")
    done = install(repo)
    assert done.changed
    assert sys.executable in done.hook.read_text()
    assert not (done.hook.parent / "pre-commit.legacy").exists()


def test_foreign_hook_and_legacy_together_are_refused(repo: Path) -> None:
    hooks = repo / ".git/hooks"
    (hooks / "pre-commit").write_text(LEGACY)
    (hooks / "pre-commit.legacy").write_text(LEGACY)
    before = snapshot(hooks)

    with pytest.raises(DatakeepError, match="already exists"):
        install(repo)
    assert snapshot(hooks) == before


def test_pre_commit_framework_hook_is_not_displaced(repo: Path) -> None:
    hook = repo / ".git/hooks/pre-commit"
    hook.write_text("#!/usr/bin/env bash\n# File generated by pre-commit: https://pre-commit.com\n")

    with pytest.raises(DatakeepError, match="pre-commit framework"):
        install(repo)
    assert not is_datakeep_hook(hook)


def test_missing_interpreter_gives_a_clear_message(repo: Path) -> None:
    hook = repo / ".git/hooks/pre-commit"
    hook.write_text(render_script(str(repo / "gone/bin/python")))
    hook.chmod(0o755)
    write_parquet(repo / "data/good.parquet", customers())
    git(repo, "add", "data/good.parquet")

    refused = commit(repo, "no datakeep")

    assert refused.returncode != 0
    assert "cannot run datakeep with" in refused.stdout
    assert "datakeep hook install" in refused.stdout


def test_cli_install_and_uninstall_through_the_installed_command(repo: Path) -> None:
    # A real subprocess: the same entry point a user types.
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "datakeep", "hook", *args],
            cwd=repo,
            capture_output=True,
            text=True,
            check=False,
        )

    installed = run("install")
    assert installed.returncode == 0, installed.stderr
    assert "installed datakeep pre-commit hook" in installed.stdout
    assert "already installed" in run("install").stdout
    assert "removed datakeep's hooks" in run("uninstall").stdout
    assert "nothing changed" in run("uninstall").stdout


def test_cli_install_outside_git_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))

    result = CliRunner().invoke(cli, ["hook", "install"])

    assert result.exit_code == 2
    assert "error: `git rev-parse --show-toplevel` failed" in result.output


def test_script_is_posix_sh_with_the_interpreter_quoted(tmp_path: Path) -> None:
    script = render_script("/path with space/bin/python")
    assert script.startswith("#!/bin/sh\n")
    assert "DATAKEEP_PYTHON='/path with space/bin/python'" in script
    path = tmp_path / "hook"
    path.write_text(script)
    assert subprocess.run(["sh", "-n", str(path)], check=False).returncode == 0
    assert stat.S_IMODE(path.stat().st_mode) & 0o111 == 0  # render only; install sets the mode


def test_a_merge_bringing_bad_data_is_refused_by_the_pre_merge_commit_hook(repo: Path) -> None:
    done = install(repo)
    assert [p.name for p in done.hooks] == ["pre-commit", "pre-merge-commit"]
    git(repo, "checkout", "-q", "-b", "feature")
    write_parquet(repo / "data/bad.parquet", customers(bad=True))
    git(repo, "add", "data/bad.parquet")
    git(repo, "commit", "-q", "--no-verify", "-m", "bad data that skipped the hook")
    git(repo, "checkout", "-q", "main")
    git(repo, "commit", "-q", "--allow-empty", "-m", "main moves on")  # so the merge makes a commit

    merged = git(repo, "merge", "--no-edit", "feature", check=False)

    assert merged.returncode != 0
    assert "FAILED  data/bad.parquet" in merged.stdout
    assert git(repo, "rev-list", "--count", "HEAD").stdout.strip() == "3"  # no merge commit
    uninstall(repo)
    assert not (repo / ".git/hooks/pre-merge-commit").exists()
