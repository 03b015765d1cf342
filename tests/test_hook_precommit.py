"""The pre-commit framework end to end: its manifest check, `try-repo`, and a user's
`.pre-commit-config.yaml` stopping a real `git commit`.

pre-commit clones the hook repository at a commit and pip-installs it into its own virtualenv,
so these tests hand it a committed copy of this project's working tree (uncommitted work
included) and pay for one environment per test: they are the slow ones.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_hook_support import (
    PROJECT_ROOT,
    customers,
    data_repo,
    git,
    init_repo,
    isolate_git,
    write_parquet,
)

PRE_COMMIT = str(Path(sys.executable).parent / "pre-commit")
# What pip needs to build and install datakeep; the rest of the tree is not the hook's business.
PACKAGE_FILES = ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml", "datakeep")


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A git repository holding this project as it is on disk now, and its commit id."""
    with pytest.MonkeyPatch.context() as mp:
        isolate_git(mp)
        root = init_repo(tmp_path_factory.mktemp("datakeep-src"))
        for name in PACKAGE_FILES:
            src = PROJECT_ROOT / name
            if src.is_dir():
                ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
                shutil.copytree(src, root / name, ignore=ignore)
            else:
                shutil.copy2(src, root / name)
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "datakeep as under test")
        yield root, git(root, "rev-parse", "HEAD").stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate_git(monkeypatch)
    # pre-commit's own store (cloned repos, virtualenvs) stays inside the test's folder.
    monkeypatch.setenv("PRE_COMMIT_HOME", str(tmp_path / "pre-commit-home"))
    monkeypatch.setenv("PRE_COMMIT_COLOR", "never")
    root = data_repo(tmp_path / "repo")
    write_parquet(root / "data/good.parquet", customers())
    write_parquet(root / "data/bad.parquet", customers(bad=True))
    return root


def pre_commit(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PRE_COMMIT, *args],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )


def test_manifest_is_valid() -> None:
    result = pre_commit(PROJECT_ROOT, "validate-manifest", ".pre-commit-hooks.yaml")
    assert result.returncode == 0, result.stdout


@pytest.mark.slow
def test_try_repo_passes_good_data_and_fails_bad(hook_repo: tuple[Path, str], repo: Path) -> None:
    source, _ = hook_repo

    good = pre_commit(repo, "try-repo", str(source), "datakeep-validate", "--files", "data/good.parquet")
    assert good.returncode == 0, good.stdout
    assert "datakeep validate" in good.stdout and "Passed" in good.stdout

    bad = pre_commit(repo, "try-repo", str(source), "datakeep-validate", "--files", "data/bad.parquet")
    assert bad.returncode == 1, bad.stdout
    assert "FAILED  data/bad.parquet" in bad.stdout
    assert "XX" in bad.stdout  # the offending value itself, not just "failed"
    assert "full report (from the top of the repository): datakeep validate data/bad.parquet" in bad.stdout


@pytest.mark.slow
def test_config_blocks_commit_of_bad_data(hook_repo: tuple[Path, str], repo: Path) -> None:
    source, rev = hook_repo
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {source}\n    rev: {rev}\n    hooks:\n      - id: datakeep-validate\n"
    )
    git(repo, "add", ".pre-commit-config.yaml")
    installed = pre_commit(repo, "install")
    assert installed.returncode == 0, installed.stdout

    git(repo, "add", "data/bad.parquet")
    blocked = git(repo, "commit", "-m", "bad data", check=False)
    assert blocked.returncode != 0
    assert "FAILED  data/bad.parquet" in blocked.stdout
    assert git(repo, "rev-list", "--count", "HEAD").stdout.strip() == "2"

    git(repo, "reset", "-q", "data/bad.parquet")
    git(repo, "add", "data/good.parquet")
    allowed = git(repo, "commit", "-m", "good data", check=False)
    assert allowed.returncode == 0, allowed.stdout
    assert "datakeep validate" in allowed.stdout and "Passed" in allowed.stdout
