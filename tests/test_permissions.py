"""Files, folders and repositories datakeep may not read or write: a clear answer per dataset
for status, an error naming the path for commit. File permissions do not hold for root, so as
root each command runs without the capabilities that bypass them (setpriv)."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from datakeep.api import Repo
from tests.conftest import write

#: The capabilities that let root read and write whatever the permissions say.
_BYPASS = "-dac_override,-dac_read_search,-fowner"


@functools.cache
def _unprivileged_prefix() -> tuple[str, ...] | None:
    """What to run a command under so that file permissions apply to it; None when that cannot be."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    prefix = (setpriv, f"--inh-caps={_BYPASS}", f"--bounding-set={_BYPASS}")
    probe = subprocess.run([*prefix, "true"], capture_output=True, check=False)
    return prefix if probe.returncode == 0 else None


def dk(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``datakeep ARGS`` in ``cwd``, with file permissions applying to it."""
    prefix = _unprivileged_prefix()
    if prefix is None:
        pytest.skip("running as root without a working setpriv: file permissions cannot be made to apply")
    command = [*prefix, sys.executable, "-m", "datakeep", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)


def table(value: int, rows: int = 100) -> pa.Table:
    return pa.table({"id": list(range(rows)), "x": [value] * rows})


def test_an_unreadable_subfolder_of_a_folder_dataset_is_never_taken_for_unchanged(repo: Repo) -> None:
    """A new partition another user wrote with umask 077: status said "unchanged" and commit
    "nothing to commit" while its Parquet file sat uncommitted."""
    folder = repo.root / "f"
    write(folder / "a.parquet", table(1))
    repo.add(folder, name="f")
    repo.commit(message="v1")
    write(folder / "late" / "b.parquet", table(2))
    (folder / "late").chmod(0)
    try:
        status = dk(repo.root, "status")
        assert status.returncode == 0, status.stderr
        (line,) = [line for line in status.stdout.splitlines() if " f " in line]
        assert line.startswith("  modified   f") and f"cannot read folder {folder / 'late'}" in line
        (row,) = json.loads(dk(repo.root, "status", "--json").stdout)
        assert row["state"] == "modified" and row["working"] is None and row["note"].startswith("unreadable: ")
        commit = dk(repo.root, "commit", "-m", "v2")
        assert commit.returncode == 2
        assert f"error: cannot read folder {folder / 'late'} (Permission denied)" in commit.stderr
        assert " — give read access to it" in commit.stderr
    finally:
        (folder / "late").chmod(0o755)
    assert dk(repo.root, "commit", "-m", "v2").returncode == 0


def test_one_unreadable_dataset_file_never_stops_the_others_status(repo: Repo) -> None:
    for name, value in (("a", 1), ("b", 2)):
        write(repo.root / f"{name}.parquet", table(value))
        repo.add(repo.root / f"{name}.parquet", name=name)
    repo.commit(message="v1")
    write(repo.root / "b.parquet", table(3))
    (repo.root / "a.parquet").chmod(0)
    status = dk(repo.root, "status")
    assert status.returncode == 0, status.stderr
    (line,) = [line for line in status.stdout.splitlines() if " a " in line]
    assert f"unreadable: {repo.root / 'a.parquet'}: Permission denied; give read access to it" in line
    assert "checkout" not in line  # the data may be sound: overwriting it is no advice
    assert "  modified   b" in status.stdout
    rows = {r["name"]: r for r in json.loads(dk(repo.root, "status", "--json").stdout)}
    assert rows["a"]["state"] == "modified" and rows["a"]["working"] is None
    assert rows["b"]["state"] == "modified" and rows["b"]["working"] is not None


def test_status_answers_on_a_repository_it_may_not_write(repo: Repo) -> None:
    """A stale stat cache (the files copied: new inodes, new times) is refreshed by status and
    saved when it can be; on a read-only repository it cannot, and status still answers."""
    data = repo.root / "d.parquet"
    write(data, table(1))
    repo.add(data, name="d")
    repo.commit(message="v1")
    shutil.copy(data, data.with_suffix(".tmp"))
    os.replace(data.with_suffix(".tmp"), data)  # same rows, another inode: the cache no longer vouches
    writable = [p for p in (repo.root / ".datakeep").rglob("*")] + [repo.root / ".datakeep", repo.root]
    modes = {p: p.stat().st_mode for p in writable}
    for path in writable:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        for args in (["status"], ["status", "--json"]):
            result = dk(repo.root, *args)
            assert result.returncode == 0, result.stderr
            assert "unchanged" in result.stdout
    finally:
        for path, mode in modes.items():
            path.chmod(mode)
