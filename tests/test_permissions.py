"""Files, folders and repositories datakeep may not read or write: a clear answer per dataset
for status, an error naming the path for commit. File permissions do not hold for root, so as
root each command runs without the capabilities that bypass them (setpriv)."""

from __future__ import annotations

import functools
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
