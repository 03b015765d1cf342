"""Crashes, races and bit rot never leave the store inconsistent, and fsck names what broke."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datakeep.api import Repo
from datakeep.errors import CorruptObjectError, InputDataError
from datakeep.fsutil import FileLock
from tests.conftest import make_table, write

DATAKEEP = [sys.executable, "-m", "datakeep"]


def _dk(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DATAKEEP, *args], cwd=cwd, capture_output=True, text=True, check=False, env=env)


@pytest.fixture
def tracked(repo: Repo, project: Path) -> Repo:
    write(project / "t.parquet", make_table(120_000))
    repo.add(project / "t.parquet", name="t", key=["id"])
    repo.commit(message="base")
    return repo


@pytest.mark.parametrize("delay", [0.2, 0.6, 1.2])
def test_commit_killed_at_any_moment_leaves_a_sound_repository(tracked: Repo, project: Path, delay: float) -> None:
    expected = make_table(150_000, seed=9)
    write(project / "t.parquet", expected)
    child = subprocess.Popen(
        [*DATAKEEP, "commit", "-m", "killed"], cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    child.wait()
    check = _dk(project, "fsck")
    assert check.returncode == 0, check.stdout + check.stderr
    finished = _dk(project, "commit", "-m", "after the crash")
    assert finished.returncode in (0, 1), finished.stderr  # 1: the killed commit had already landed
    assert Repo.open(project).read("t").equals(pq.read_table(project / "t.parquet"))
    assert _dk(project, "fsck").returncode == 0


def test_a_second_writer_gets_a_clear_locked_error(tracked: Repo, project: Path) -> None:
    write(project / "t.parquet", make_table(10, seed=4))
    with FileLock(project / ".datakeep" / "lock"):
        env = {**os.environ, "DATAKEEP_LOCK_TIMEOUT": "0.3"}
        blocked = _dk(project, "commit", "-m", "blocked", env=env)
    assert blocked.returncode == 2
    assert "locked by another datakeep process" in blocked.stderr
    assert len(tracked.log()) == 1
    assert _dk(project, "commit", "-m", "now").returncode == 0


def _wait_until_it_holds(child: subprocess.Popen[str], path: Path, seconds: float = 30.0) -> None:
    """Until ``child`` has ``path`` open (a command waiting for the lock has opened its file)."""
    fds = Path(f"/proc/{child.pid}/fd")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert child.poll() is None, child.communicate()
        try:
            if any(os.path.realpath(fd) == str(path) for fd in fds.iterdir()):
                return
        except OSError:  # a descriptor closed while listed
            pass
        time.sleep(0.02)
    raise AssertionError(f"the command never opened {path}")


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to see the child open the lock file")
@pytest.mark.parametrize("command", [["commit", "-m", "stopped"], ["checkout", "HEAD", "--name", "t", "--force"]])
def test_ctrl_c_is_an_interrupted_error_never_the_answer_no(tracked: Repo, project: Path, command: list[str]) -> None:
    """Ctrl-C gave click's "Aborted!" and exit 1, which scripts read as "the answer is no" (fsck
    found damage, diff found changes, nothing to commit). It is one error line and exit 130,
    the store untouched, and the command runs again as if never started."""
    write(project / "t.parquet", make_table(1000, seed=3))
    lock = (project / ".datakeep" / "lock").resolve()
    env = {**os.environ, "DATAKEEP_LOCK_TIMEOUT": "60"}
    with FileLock(lock):  # the command waits for it: a moment known to be inside its work
        child = subprocess.Popen(
            [*DATAKEEP, *command], cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        _wait_until_it_holds(child, lock)
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=60)
    assert child.returncode == 130, stderr
    assert stderr.splitlines() == [
        "error: interrupted — nothing was left half-written; run the command again to finish it "
        "(`datakeep status` shows where things stand)"
    ]
    assert "Aborted" not in stderr
    assert len(tracked.log()) == 1
    assert not [p for p in project.rglob("*") if ".tmp-" in p.name]
    assert _dk(project, "fsck").returncode == 0
    again = _dk(project, *command)
    assert again.returncode == 0, again.stderr


def test_two_commits_at_once_never_lose_or_corrupt(tracked: Repo, project: Path) -> None:
    write(project / "u.parquet", make_table(50_000, seed=5))
    tracked.add(project / "u.parquet", name="u")
    write(project / "t.parquet", make_table(60_000, seed=6))
    children = [
        subprocess.Popen(
            [*DATAKEEP, "commit", "-m", f"racer {i}"],
            cwd=project,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    codes = sorted(child.wait() for child in children)
    assert codes in ([0, 0], [0, 1])  # the later one commits (or finds nothing left to commit)
    history = tracked.log()
    assert len(history) == 1 + codes.count(0)
    assert all(len(commit.parents) == 1 for _, commit in history[:-1])  # one straight line
    assert _dk(project, "fsck").returncode == 0
    assert tracked.read("u").num_rows == 50_000 and tracked.read("t").num_rows == 60_000


def test_fsck_finds_a_single_flipped_byte_in_any_object(tracked: Repo, project: Path) -> None:
    objects = sorted(p for p in (project / ".datakeep" / "objects").rglob("*") if p.is_file())
    for victim in (objects[0], objects[len(objects) // 2], objects[-1]):
        original = victim.read_bytes()
        os.chmod(victim, 0o644)
        damaged = bytearray(original)
        damaged[len(damaged) // 3] ^= 0x01
        victim.write_bytes(bytes(damaged))
        result = _dk(project, "fsck")
        assert result.returncode == 1
        assert victim.parent.name + victim.name in result.stdout
        assert "corrupted" in result.stdout
        victim.write_bytes(original)
    assert _dk(project, "fsck").returncode == 0


@pytest.mark.parametrize("patched", [False, True])
def test_a_flipped_byte_in_a_stored_chunk_is_an_error_not_restored_data(
    tracked: Repo, project: Path, patched: bool
) -> None:
    """A byte damaged on disk could still decode (a flipped digit in a value): checkout and read
    check each object they read against its id, the bases of a patch too, and say which."""
    table = pq.read_table(project / "t.parquet")
    if patched:  # the damaged object is then the base a patch is rebuilt on
        amounts = table.column("amount").to_numpy().copy()
        amounts[::500] += 1
        write(
            project / "t.parquet", table.set_column(table.schema.get_field_index("amount"), "amount", pa.array(amounts))
        )
        tracked.commit(message="edit")
    chunk = tracked.manifest("t").chunks[0]
    victim = tracked.repository.store.path(chunk.bases[0] if patched else chunk.object)
    assert (chunk.depth > 0) == patched
    os.chmod(victim, 0o644)
    damaged = bytearray(victim.read_bytes())
    damaged[len(damaged) // 2] ^= 0x01
    victim.write_bytes(bytes(damaged))
    result = _dk(project, "checkout", "HEAD", "--name", "t", "-o", "back.parquet")
    assert result.returncode == 2
    assert f"object {victim.parent.name + victim.name} is corrupt: its bytes do not hash to its id" in result.stderr
    assert "datakeep fsck" in result.stderr
    assert not (project / "back.parquet").exists()
    with pytest.raises(CorruptObjectError):
        tracked.read("t")


@pytest.mark.parametrize("damage", ["truncated", "emptied"])
def test_diff_over_a_chunk_cut_short_names_the_object_and_its_repair(tracked: Repo, project: Path, damage: str) -> None:
    """diff opens stored chunks by path: one cut short or emptied is the damaged object it is,
    named with `fsck --repair` as checkout names it, not pyarrow's error taken for a bug."""
    tracked.tag("v1")
    table = pq.read_table(project / "t.parquet")
    amounts = table.column("amount").to_numpy().copy()
    amounts[::50] = 0.0
    write(project / "t.parquet", table.set_column(table.schema.get_field_index("amount"), "amount", pa.array(amounts)))
    tracked.commit(message="edit")
    oid = tracked.manifest("t", "v1").chunks[0].object
    victim = tracked.repository.store.path(oid)
    os.chmod(victim, 0o644)
    with open(victim, "r+b") as handle:
        handle.truncate(victim.stat().st_size // 2 if damage == "truncated" else 0)
    result = _dk(project, "diff", "v1", "HEAD")
    assert result.returncode == 2
    assert f"error: object {oid} is corrupt: not a readable Parquet chunk" in result.stderr
    assert "datakeep fsck --repair" in result.stderr
    assert "this is a bug" not in result.stderr


def test_gc_keeps_what_refs_reach_and_removes_the_rest(tracked: Repo, project: Path) -> None:
    from datakeep.errors import DatakeepError
    from datakeep.maintenance import reachable

    tracked.tag("v1")
    tracked.branch("exp")
    tracked.switch("exp")
    write(project / "t.parquet", make_table(30_000, seed=7))
    doomed = tracked.commit(message="experiment").id
    tracked.switch("main")
    assert tracked.gc().removed == 0  # the branch still reaches it
    tracked.delete_branch("exp", force=True)  # its commit is dropped on purpose
    before = set(tracked.repository.store.ids())
    result = tracked.gc()
    after = set(tracked.repository.store.ids())
    commits, manifests, data = reachable(tracked.repository)
    assert after == commits | manifests | data
    assert result.removed == len(before - after) > 0
    assert tracked.fsck(full=True).ok
    assert tracked.read("t", rev="v1").num_rows == 120_000
    with pytest.raises(DatakeepError):
        tracked.read("t", rev=doomed)


def test_a_write_skips_a_temp_name_a_killed_writer_left(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Temp names are pid, thread and a counter: a killed process of the same pid may have left
    the next one. The write takes another name and leaves that file for gc."""
    import itertools
    import threading

    from datakeep import fsutil

    target = tmp_path / "objects" / "ab" / "cdef"
    monkeypatch.setattr(fsutil, "_temp_serial", itertools.count(7))
    target.parent.mkdir(parents=True)
    stale = target.parent / f"{fsutil.TEMP_PREFIX}cdef-{os.getpid()}-{threading.get_ident()}-7"
    stale.write_bytes(b"half an object")
    fsutil.atomic_write(target, b"whole", mode=0o444)
    assert target.read_bytes() == b"whole" and stale.read_bytes() == b"half an object"
    with fsutil.atomic_output(tmp_path / "new" / "out.parquet") as temp:
        assert temp.suffix == ".parquet" and temp.name.startswith(fsutil.TEMP_PREFIX)  # writers that look at the suffix
        temp.write_bytes(b"streamed")
    assert (tmp_path / "new" / "out.parquet").read_bytes() == b"streamed"
    assert sorted(p.name for p in target.parent.iterdir()) == sorted([stale.name, "cdef"])


class _RewriteMidway:
    """A progress listener that, once the file is being read, has another version written over
    it in place: what a writer that is still exporting does to a commit started too early."""

    def __init__(self, path: Path, replacement: bytes) -> None:
        self.path, self.replacement, self.done = path, replacement, False

    def begin(self, label: str, total: int) -> None:
        pass

    def advance(self, amount: int) -> None:
        if not self.done:
            self.done = True
            with open(self.path, "r+b") as handle:  # in place: same inode, new size and mtime
                handle.write(self.replacement)
                handle.truncate()

    def end(self) -> None:
        pass


def test_a_file_written_to_while_it_is_committed_is_refused(tracked: Repo, project: Path) -> None:
    path = project / "t.parquet"
    write(project / "other.parquet", make_table(150_000, seed=7))
    head = tracked.resolve()
    write(path, make_table(130_000))
    listener = _RewriteMidway(path, (project / "other.parquet").read_bytes())
    with pytest.raises(InputDataError, match="changed while it was being read"):
        tracked.commit(message="torn", progress=listener)
    assert listener.done and tracked.resolve() == head
    assert tracked.fsck().ok
    # Once the writer is done, the commit takes the file as it now is.
    tracked.commit(message="whole")
    assert tracked.read("t").equals(pq.read_table(path))


def test_early_sync_syncs_files_as_given_and_reports_what_failed(tmp_path: Path) -> None:
    """Files handed over while a commit runs are synced by then; one that vanished is left out,
    and an fsync that fails is raised when the synced files are asked for, so a commit stops
    short of its ref."""
    from datakeep.fsutil import EarlySync, sync_files

    files = [tmp_path / f"object-{i}" for i in range(4)]
    for path in files:
        path.write_bytes(b"x" * 1000)
    files[2].unlink()  # a commit given up removes its objects
    early = EarlySync(most=3)
    for path in files:
        early.add(path)
    early.stop()
    synced = early.synced_files()
    assert synced == files[:2]  # the vanished one skipped, the fourth past the limit
    sync_files([files[0], files[1], files[3]], synced=synced)  # the rest, and every folder

    blocked = tmp_path / "a-file"
    blocked.write_bytes(b"")
    failing = EarlySync()
    failing.add(blocked / "below-a-file")  # NotADirectoryError, not a vanished file
    failing.stop()
    with pytest.raises(NotADirectoryError):
        failing.synced_files()


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc, a folder that takes no new file")
def test_a_checkout_to_a_folder_that_takes_no_file_is_an_error_not_a_spin(tracked: Repo, project: Path) -> None:
    """Creating a file in /proc fails with 'no such file' although the folder exists; making the
    folder and trying again forever held a core at 100%."""
    result = subprocess.run(
        [*DATAKEEP, "checkout", "HEAD", "--name", "t", "-o", "/proc/datakeep-out.parquet"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 2
    assert "No such file or directory" in result.stderr and "Traceback" not in result.stderr


def _read_ahead_threads() -> list[str]:
    import threading

    return [t.name for t in threading.enumerate() if t.name.startswith("datakeep-read-ahead")]


def test_a_file_damaged_past_its_first_rows_is_an_error_and_leaves_no_reader(tracked: Repo, project: Path) -> None:
    """A commit starts decoding before it knows where to read from; when the file turns out
    damaged further in, the commit is an error that names the file, HEAD stays, and no decoding
    thread outlives it."""
    head = tracked.resolve("HEAD")
    path = project / "t.parquet"
    write(path, make_table(300_000, seed=3), row_group_size=50_000)
    data = bytearray(path.read_bytes())
    middle = len(data) * 3 // 4
    data[middle : middle + 65536] = bytes(65536)  # page headers and data of a late row group, zeroed
    path.write_bytes(bytes(data))
    with pytest.raises(InputDataError, match=r"t\.parquet"):
        tracked.commit(message="damaged")
    assert tracked.resolve("HEAD") == head
    assert _read_ahead_threads() == []


def test_an_emptied_branch_ref_is_damage_not_a_branch_without_commits(tracked: Repo, project: Path) -> None:
    # Read as "no commits yet", the next commit started a new history over the old one and gc
    # then deleted every earlier version.
    first = tracked.log()[0][0]
    (project / ".datakeep/refs/heads/main").write_bytes(b"")
    write(project / "t.parquet", make_table(10, seed=3))
    for args in (["status"], ["log"], ["commit", "-m", "over it"], ["gc"]):
        refused = _dk(project, *args)
        assert refused.returncode == 2, (args, refused.stdout)
        assert "refs/heads/main is damaged: it holds ''" in refused.stderr
    check = _dk(project, "fsck")
    assert check.returncode == 1
    assert f"commits no ref names, newest first: {first}" in check.stdout  # what to write back
    (project / ".datakeep/refs/heads/main").write_text(first + "\n")
    assert _dk(project, "fsck").returncode == 0 and tracked.log()[0][0] == first


@pytest.mark.parametrize(
    ("ref", "content", "said"),
    [
        ("HEAD", b"\x00\xffgarbage", "HEAD is damaged: it holds b'\\x00\\xffgarbage'"),
        ("HEAD", b"ref: refs/\n", "HEAD is damaged: it holds 'ref: refs/', not a branch"),
        ("HEAD", b"", "HEAD is damaged: it is empty"),
        ("refs/tags/t0", b"\xff\xfe", "refs/tags/t0 is damaged"),
    ],
)
def test_a_damaged_ref_is_named_with_its_repair(
    tracked: Repo, project: Path, ref: str, content: bytes, said: str
) -> None:
    tracked.tag("t0")
    (project / ".datakeep" / ref).write_bytes(content)
    for args in (["status"], ["log"]) if ref == "HEAD" else (["log", "t0"],):
        failed = _dk(project, *args)
        assert failed.returncode == 2 and said in failed.stderr, (args, failed.stderr)
        assert "unexpected" not in failed.stderr
    check = _dk(project, "fsck")
    assert check.returncode == 1 and said.split(" is damaged")[0].rsplit("/", 1)[-1] in check.stdout
    if ref.startswith("refs/tags/"):
        deleted = _dk(project, "tag", "-d", "t0")  # deleting is one of the repairs offered
        assert (deleted.returncode, deleted.stdout.strip()) == (0, "deleted tag t0 (was damaged)")
        assert _dk(project, "fsck").returncode == 0


def test_fsck_checks_what_remote_branches_name(tracked: Repo, project: Path) -> None:
    tracking = project / ".datakeep/refs/remotes/origin/main"
    tracking.parent.mkdir(parents=True)
    tracking.write_text("1694ee22" * 4 + "\n")  # a commit the store does not hold
    check = _dk(project, "fsck")
    assert check.returncode == 1
    assert "missing (needed by refs/remotes/origin/main)" in check.stdout


def test_the_branch_head_is_on_cannot_be_deleted_damaged_and_a_lost_one_blocks_gc(tracked: Repo, project: Path) -> None:
    first = tracked.log()[0][0]
    main = project / ".datakeep/refs/heads/main"
    main.write_bytes(b"")
    refused = _dk(project, "branch", "-D", "main")
    assert refused.returncode == 2 and "HEAD is on it" in refused.stderr
    main.unlink()  # lost outright: main reads as a branch without commits
    check = _dk(project, "fsck")
    assert check.returncode == 1 and f"newest first: {first}" in check.stdout
    gc = _dk(project, "gc")
    assert gc.returncode == 2 and "names no commit" in gc.stderr
    assert tracked.repository.store.has(first)
    main.write_text(first + "\n")  # the id fsck printed, whole, is the repair
    assert _dk(project, "fsck").returncode == 0


def test_a_missing_head_beside_another_branch_is_damage(tracked: Repo, project: Path) -> None:
    tracked.branch("feat")
    tracked.checkout("feat")
    (project / ".datakeep/HEAD").unlink()
    refused = _dk(project, "commit", "-m", "meant for feat", "--allow-empty")
    assert refused.returncode == 2 and "HEAD is damaged: it is missing" in refused.stderr


def test_a_damaged_remote_branch_is_written_again_by_the_next_pull(
    tracked: Repo, project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tracked.add_remote("origin", str(tmp_path_factory.mktemp("remote") / "origin"))
    tracked.push()
    (project / ".datakeep/refs/remotes/origin/main").write_text("junk\n")
    assert _dk(project, "fsck").returncode == 1  # still said
    pulled = _dk(project, "pull", "origin")
    assert pulled.returncode == 0, pulled.stderr
    assert _dk(project, "fsck").returncode == 0
