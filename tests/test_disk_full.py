"""A full disk is said as what it is, naming the file being written: never "cannot reach the
remote", never pyarrow's "Error writing bytes to file" alone. The disk is a real tmpfs, filled
up, mounted in a mount namespace of the command's own (`unshare`), so nothing outside sees it."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from datakeep.api import Repo
from tests.conftest import write

#: The exit code of the wrapper script when the tmpfs could not be mounted.
_NO_MOUNT = 97


def on_a_full_disk(cwd: Path, disk: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``datakeep ARGS`` in ``cwd`` with a full 64 KiB tmpfs mounted at ``disk``."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("needs unshare(1) to mount a small tmpfs for this process alone")
    disk.mkdir()
    command = " ".join(shlex.quote(a) for a in (sys.executable, "-m", "datakeep", *args))
    script = (
        f"mount -t tmpfs -o size=64k tmpfs {shlex.quote(str(disk))} || exit {_NO_MOUNT}; "
        f"head -c 1M /dev/zero > {shlex.quote(str(disk / 'filler'))} 2>/dev/null; "
        f"exec {command}"
    )
    result = subprocess.run(
        [unshare, "--mount", "--map-root-user", "sh", "-c", script],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode == _NO_MOUNT:
        pytest.skip(f"cannot mount a tmpfs in a mount namespace here: {result.stderr.strip()}")
    return result


def tracked(repo: Repo) -> Repo:
    write(repo.root / "d.parquet", pa.table({"id": list(range(50_000)), "x": [i * 0.5 for i in range(50_000)]}))
    repo.add(repo.root / "d.parquet", name="d", key=["id"])
    repo.commit(message="v1")
    return repo


def test_a_first_push_onto_a_full_disk_says_the_disk_is_full(
    repo: Repo, tmp_path_factory: pytest.TempPathFactory
) -> None:
    disk = tmp_path_factory.mktemp("outside") / "full"  # a remote is never inside the repository
    tracked(repo).add_remote("origin", str(disk / "remote"))
    result = on_a_full_disk(repo.root, disk, "push")
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: cannot write to remote {disk / 'remote'}: No space left on device"), line
    assert f"(writing {disk / 'remote'}/config.json)" in line and "free disk space" in line
    assert "cannot reach" not in line and "credentials" not in line


def test_an_export_onto_a_full_disk_names_the_file(repo: Repo, tmp_path_factory: pytest.TempPathFactory) -> None:
    disk = tmp_path_factory.mktemp("outside") / "full"
    result = on_a_full_disk(tracked(repo).root, disk, "checkout", "HEAD", "--name", "d", "-o", str(disk / "d.parquet"))
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: No space left on device: {disk / 'd.parquet'} — "), line
    assert "Error writing bytes" not in line
