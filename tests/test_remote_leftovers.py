"""What a killed push leaves on a remote, and how the next push copes: temp objects and temp ref
files on a folder remote, the folder's flock, and lock objects on other backends. Real processes
are killed with SIGKILL; the remotes are real folders and fsspec's memory filesystem."""

# Fixtures are imported from the helper module, and pytest passes them by parameter name.
# ruff: noqa: F811

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from test_remote_support import Project, folder_project, folder_url, template  # noqa: F401

from datakeep.cli import cli
from datakeep.errors import RemoteError
from datakeep.fsutil import exclusive_write
from datakeep.remote import push
from datakeep.remote.config import open_remote
from datakeep.remote.refs import STALE_LOCK_AGE, RemoteLockHeldError


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def _temp_objects(remote: Path) -> list[Path]:
    return sorted(p for p in (remote / "objects").rglob("*") if ".tmp-" in p.name)


# A push killed while writing an object: its temp file is written, the rename never happens.
_KILLED_PUSH = """
import os, signal, sys
from fsspec.implementations.local import LocalFileSystem
from datakeep.remote import push
from datakeep.repo import Repository

def die(self, *args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

LocalFileSystem.mv = die
push(Repository.discover(sys.argv[1]))
"""


def _killed_push(proj: Project) -> None:
    killed = subprocess.run([sys.executable, "-c", _KILLED_PUSH, str(proj.root)], capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr


def test_a_killed_push_leaves_temp_objects_that_a_later_push_removes_once_an_hour_old(
    folder_project: Project, folder_url: str
) -> None:
    _killed_push(folder_project)
    remote = Path(folder_url)
    left = _temp_objects(remote)
    assert len(left) >= 1 and not (remote / "refs" / "heads" / "main").exists()

    # Run again at once: the temp file may be another push's, still being written. It stays.
    again = push(folder_project.storage)
    assert again.temp_files == 0 and _temp_objects(remote) == left
    assert again.updates[0].status == "new"

    # An hour later, a push that lists that folder (--force looks at every object's folder) removes it.
    for path in left:
        _age(path, 3601)
    young = left[0].with_name(left[0].name.split(".tmp-")[0] + ".tmp-" + uuid.uuid4().hex)
    young.write_bytes(b"a push writing right now")
    tidied = push(folder_project.storage, force=True)
    assert tidied.temp_files == len(left)
    assert _temp_objects(remote) == [young]
    assert open_remote(folder_project.storage, "origin").refs.read("refs/heads/main")[0] == (
        folder_project.repo.resolve("HEAD")
    )


def test_the_re_run_of_a_push_killed_an_hour_ago_removes_its_leftovers_and_says_so(
    folder_project: Project, folder_url: str
) -> None:
    _killed_push(folder_project)
    left = _temp_objects(Path(folder_url))
    for path in left:
        _age(path, 7200)
    code, out, _ = run("push")
    assert code == 0 and f"removed {len(left)} temp file(s) left on origin by interrupted pushes" in out
    assert _temp_objects(Path(folder_url)) == []
    code, out, _ = run("push", "--json")
    assert code == 0 and json.loads(out)["temp_files"] == 0


def test_temp_ref_files_of_a_killed_push_are_skipped_and_removed_when_old(
    folder_project: Project, folder_url: str
) -> None:
    push(folder_project.storage)
    heads = Path(folder_url) / "refs" / "heads"
    old = heads / f".tmp-main-{os.getpid()}-1-0"  # the name fsutil.atomic_write gives a ref being written
    young = heads / f".tmp-main-{os.getpid()}-1-1"
    old.write_text("half")
    young.write_text("half")
    _age(old, 3601)
    notes = heads / ".tmp-notes"  # not a name datakeep makes: never touched
    notes.write_text("mine")
    _age(notes, 7200)
    result = push(folder_project.storage)
    assert result.updates[0].status == "up-to-date" and result.temp_files == 1
    assert not old.exists() and young.exists() and notes.exists()
    assert set(open_remote(folder_project.storage, "origin").refs.list()) == {"refs/heads/main"}


# A push killed while it holds the folder remote's flock (inside the compare-and-swap).
_KILLED_HOLDING_THE_LOCK = """
import os, signal, sys
import datakeep.remote.refs as refs
from datakeep.remote import push
from datakeep.repo import Repository

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

refs.atomic_write = die
push(Repository.discover(sys.argv[1]))
"""

_HOLDS_THE_LOCK = """
import sys, time
from datakeep.remote.config import open_remote
from datakeep.repo import Repository

refs = open_remote(Repository.discover(sys.argv[1]), "origin").refs
with refs._locked():
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_push_killed_holding_the_folder_lock_blocks_nobody(
    folder_project: Project, folder_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_HOLDING_THE_LOCK, str(folder_project.root)], capture_output=True, text=True
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert (Path(folder_url) / "refs.lock").exists()  # the file stays; the flock died with its process
    monkeypatch.setenv("DATAKEEP_REMOTE_LOCK_TIMEOUT", "1")
    assert [u.status for u in push(folder_project.storage).updates] == ["new"]


def test_a_folder_lock_held_by_a_live_push_names_the_process_and_what_to_do(
    folder_project: Project, folder_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDS_THE_LOCK, str(folder_project.root)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        monkeypatch.setenv("DATAKEEP_REMOTE_LOCK_TIMEOUT", "0.3")
        with pytest.raises(RemoteLockHeldError) as caught:
            push(folder_project.storage)
        message = str(caught.value)
        assert f"locked by another push ({Path(folder_url) / 'refs.lock'}, held by process {holder.pid})" in message
        assert "DATAKEEP_REMOTE_LOCK_TIMEOUT" in message and "stop it there" in message
        code, _, err = run("push")
        assert code == 2 and err.startswith("error: the remote's refs are locked by another push")
    finally:
        holder.kill()
        holder.wait()
    assert [u.status for u in push(folder_project.storage).updates] == ["new"]


# -- lock objects (GCS, Azure, …; here fsspec's memory filesystem) -----------------------------
def _lock_object(url: str, proj: Project, body: bytes) -> None:
    remote = open_remote(proj.storage, url)
    remote.fs.pipe_file(f"{remote.root}/refs.lock", body)


def test_a_lock_object_left_by_a_killed_push_is_taken_over_and_reported(
    folder_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"memory://dk-{uuid.uuid4().hex[:12]}/remote"
    push(folder_project.storage, url, revs=["main"])
    left = json.dumps({"owner": "killed", "time": time.time() - STALE_LOCK_AGE - 5}).encode()
    _lock_object(url, folder_project, left)
    monkeypatch.setenv("DATAKEEP_REMOTE_LOCK_TIMEOUT", "0.5")
    folder_project.repo.branch("side")
    result = push(folder_project.storage, url, revs=["side"])
    assert [u.status for u in result.updates] == ["new"]
    assert len(result.warnings) == 1 and "took over" in result.warnings[0] and "did not finish" in result.warnings[0]
    remote = open_remote(folder_project.storage, url)
    assert not remote.fs.exists(f"{remote.root}/refs.lock")
    assert [p for p in remote.fs.find(remote.root) if ".stale-" in p] == []


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (json.dumps({"owner": "live", "time": time.time() + 3600}).encode(), "taken"),  # young (or a clock ahead)
        (b"torn", "age unknown"),
    ],
)
def test_a_lock_object_that_is_not_known_to_be_stale_is_waited_for_and_explained(
    folder_project: Project, monkeypatch: pytest.MonkeyPatch, body: bytes, said: str
) -> None:
    url = f"memory://dk-{uuid.uuid4().hex[:12]}/remote"
    push(folder_project.storage, url, revs=["main"])
    _lock_object(url, folder_project, body)
    monkeypatch.setenv("DATAKEEP_REMOTE_LOCK_TIMEOUT", "0.3")
    folder_project.repo.branch("side")
    with pytest.raises(RemoteError, match=rf"locked by another push \(.*refs.lock, {said}.*you may delete"):
        push(folder_project.storage, url, revs=["side"])
    assert set(open_remote(folder_project.storage, url).refs.list()) == {"refs/heads/main"}


def test_exclusive_write_makes_a_file_once_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "HEAD"
    assert exclusive_write(target, b"ref: refs/heads/main\n")
    assert not exclusive_write(target, b"ref: refs/heads/other\n")
    assert target.read_bytes() == b"ref: refs/heads/main\n"
    assert [p.name for p in tmp_path.iterdir()] == ["HEAD"]
