"""Remotes when things go wrong: partial pulls, interrupted pulls and clones, damaged refs and
objects on the remote, clashing names, and the bookkeeping a remote leaves behind."""

# Fixtures are imported from the helper module, and pytest passes them by parameter name.
# ruff: noqa: F811

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from test_remote_support import (  # noqa: F401
    BUCKET,
    Project,
    folder_project,
    folder_url,
    project,
    remote_url,
    s3_endpoint,
    table,
    template,
)

from datakeep.api import Repo
from datakeep.cli import cli
from datakeep.errors import CorruptObjectError, RemoteError
from datakeep.remote import add_remote, clone, pull, push, remove_remote
from datakeep.remote.config import open_remote
from datakeep.remote.refs import DamagedRefError
from datakeep.repo import Repository
from datakeep.store.fallback import FallbackStore


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def _change_both(proj: Project, message: str = "both") -> None:
    """A colleague's commit changing both datasets."""
    proj.flights = pa.concat_tables([proj.flights, table(300, start=proj.flights.num_rows)])
    pq.write_table(proj.flights, proj.root / "flights.parquet")
    pq.write_table(table(600, seed=11), proj.root / "weather.parquet")
    proj.repo.commit(message=message)


# -- 1, 4: pull --name in a full repository; when a repository stops being partial -------------
def test_pull_name_into_an_empty_repository_promises_the_rest_until_a_full_pull(
    folder_project: Project, folder_url: str, tmp_path: Path
) -> None:
    push(folder_project.storage)
    repo = Repository.initialize(tmp_path / "fresh")
    add_remote(repo, "origin", folder_url)
    result = pull(repo, name="flights")
    assert result.partial
    fresh = Repo.open(repo.root)
    assert fresh.fsck().ok  # what it left out is promised by origin, not missing
    assert fresh.read("weather").equals(folder_project.repo.read("weather"))  # fetched on demand

    full = pull(Repository(repo.root))
    assert not full.partial  # every object its refs reach is here now
    assert "partial" not in Repository(repo.root).config.extra
    assert remove_remote(Repository(repo.root), "origin") == folder_url


def test_pull_name_in_a_full_clone_keeps_the_other_datasets_with_the_branch(
    folder_project: Project, folder_url: str, tmp_path: Path
) -> None:
    push(folder_project.storage)
    copy, _ = clone(folder_url, tmp_path / "bob")
    _change_both(folder_project)
    push(folder_project.storage)
    result = pull(copy, name="flights")
    # weather is held in this working tree: left at its old version, the next commit would undo theirs.
    assert set(result.restored) == {"flights", "weather"}
    bob = Repo.open(copy.root)
    assert {s.name: s.state for s in bob.status()} == {"flights": "unchanged", "weather": "unchanged"}
    assert bob.fsck().ok
    assert bob.read("weather").equals(folder_project.repo.read("weather"))
    code, out, _ = run("-C", str(copy.root), "pull")
    assert code == 0 and "refs/heads/main: up to date" in out


def test_a_partial_clone_can_drop_its_remote_once_a_full_pull_fetched_everything(
    folder_project: Project, folder_url: str, tmp_path: Path
) -> None:
    push(folder_project.storage)
    copy, _ = clone(folder_url, tmp_path / "p", name="weather")
    code, _, err = run("-C", str(copy.root), "remote", "remove", "origin")
    assert code == 2 and "holds objects this partial clone has not fetched (needed by refs/heads/main)" in err
    assert "`datakeep pull origin main --no-checkout`" in err
    assert run("-C", str(copy.root), "pull", "origin")[0] == 0
    code, out, _ = run("-C", str(copy.root), "remote", "remove", "origin")
    assert code == 0 and out.startswith("removed remote origin")
    repo = Repository(copy.root)
    assert "partial" not in repo.config.extra and repo.refs.list("refs/remotes") == {}
    assert Repo.open(copy.root).fsck().ok


# -- 2: an interrupted pull never sets up a commit that reverts the pulled data ----------------
_KILLED_PULL = """
import os, signal, sys
import datakeep.checkout as checkout_module
from datakeep.remote import pull
from datakeep.repo import Repository
from datakeep.store.fallback import FallbackStore

real = checkout_module.checkout
calls = []

def checkout_then_die(*args, **kwargs):
    result = real(*args, **kwargs)
    calls.append(1)
    if len(calls) == 1:  # one dataset restored, the other not: killed mid-restore
        os.kill(os.getpid(), signal.SIGKILL)
    return result

checkout_module.checkout = checkout_then_die
pull(Repository.discover(sys.argv[1]))
"""


def test_a_pull_killed_while_restoring_is_finished_by_running_it_again(
    folder_project: Project, folder_url: str, tmp_path: Path
) -> None:
    push(folder_project.storage)
    copy, _ = clone(folder_url, tmp_path / "bob")
    before = Repo.open(copy.root).resolve("HEAD")
    _change_both(folder_project, "alice's fix")
    push(folder_project.storage)
    killed = subprocess.run([sys.executable, "-c", _KILLED_PULL, str(copy.root)], capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    bob = Repo.open(copy.root)
    assert bob.resolve("HEAD") == before  # the branch moves only once the working tree is there
    # A commit made now can only record their data as a change, never undo it.
    assert bob.status()
    again = pull(Repository(copy.root))
    assert again.updates[-1].status == "fast-forward"
    bob = Repo.open(copy.root)
    assert bob.resolve("HEAD") == folder_project.repo.resolve("HEAD")
    assert {s.state for s in bob.status()} == {"unchanged"}
    assert pq.read_table(copy.root / "flights.parquet").equals(folder_project.flights)


def test_a_pull_refused_over_local_changes_moves_nothing(
    folder_project: Project, folder_url: str, tmp_path: Path
) -> None:
    push(folder_project.storage)
    copy, _ = clone(folder_url, tmp_path / "bob")
    before = Repo.open(copy.root).resolve("HEAD")
    _change_both(folder_project)
    push(folder_project.storage)
    pq.write_table(table(10, seed=3), copy.root / "weather.parquet")
    code, _, err = run("-C", str(copy.root), "pull")
    assert code == 2 and "uncommitted changes in weather" in err
    assert Repo.open(copy.root).resolve("HEAD") == before


# -- 3: a damaged ref on the remote --------------------------------------------------------
def _write_ref(proj: Project, ref: str, data: bytes) -> None:
    remote = open_remote(proj.storage, "origin")
    remote.fs.pipe_file(remote.refs.path(ref), data)


def test_a_damaged_remote_ref_is_repaired_by_force_and_blocks_no_other_ref(
    project: Project, remote_url: str, tmp_path: Path
) -> None:
    project.repo.branch("side")
    push(project.storage, revs=["main", "side"])
    _write_ref(project, "refs/heads/main", b"garbage\n")
    with pytest.raises(DamagedRefError, match=r"refs/heads/main on origin is damaged.*push --force origin main"):
        push(project.storage)
    repaired = push(project.storage, force=True)
    assert [(u.ref, u.status) for u in repaired.updates] == [("refs/heads/main", "repaired")]
    assert open_remote(project.storage, "origin").refs.read("refs/heads/main")[0] == project.repo.resolve("HEAD")

    _write_ref(project, "refs/heads/side", b"junk\n")
    assert push(project.storage, revs=["main"]).damaged == ["refs/heads/side"]
    copy, result = clone(remote_url, tmp_path / "copy", branch="main")
    assert result.damaged == ["refs/heads/side"] and Repo(copy).resolve("HEAD") == project.repo.resolve("HEAD")
    with pytest.raises(DamagedRefError, match="refs/heads/side"):
        pull(copy, "origin", "side")


# -- 5: a partial clone reading what it has not fetched while the endpoint is down ------------
def test_a_partial_clone_offline_says_so(
    template: Project, s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3fs = pytest.importorskip("s3fs")
    url = f"s3://{BUCKET}/{uuid.uuid4().hex[:12]}/datakeep"
    push(template.storage, url)  # by URL: the shared template gains no remote
    copy, _ = clone(url, tmp_path / "p", name="flights")
    s3fs.S3FileSystem.clear_instance_cache()
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    try:
        with pytest.raises(RemoteError, match=r"cannot fetch object .* from remote 'origin'.*partial clone"):
            Repo.open(copy.root).read("weather")
        code, _, err = run("-C", str(copy.root), "checkout", "HEAD", "--name", "weather", "-o", str(tmp_path / "w"))
        assert code == 2 and "this is a bug" not in err and "check the connection" in err
    finally:
        s3fs.S3FileSystem.clear_instance_cache()


# -- 6: SIGTERM during clone -----------------------------------------------------------------
_SLOW_CLONE = """
import sys, time
import datakeep.remote.fetch as fetch
from datakeep.remote import clone

real = fetch.copy_objects

def slow_copy(*args, **kwargs):
    print("copying", flush=True)
    time.sleep(30)
    return real(*args, **kwargs)

fetch.copy_objects = slow_copy
clone(sys.argv[1], sys.argv[2])
"""


def test_sigterm_during_clone_removes_what_it_made(folder_project: Project, folder_url: str, tmp_path: Path) -> None:
    push(folder_project.storage)
    target = tmp_path / "c"
    child = subprocess.Popen(
        [sys.executable, "-c", _SLOW_CLONE, folder_url, str(target)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "copying"
    assert (target / ".datakeep").is_dir()
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=30) == 128 + signal.SIGTERM
    assert not target.exists()
    clone(folder_url, target)  # a re-run is not refused


# -- 7: the remote's HEAD ----------------------------------------------------------------------
def test_clone_checks_out_the_remotes_head_and_push_all_names_the_current_branch(
    folder_project: Project, folder_url: str, tmp_path: Path
) -> None:
    folder_project.repo.branch("zeta")
    folder_project.repo.switch("zeta")
    folder_project.append(message="on zeta")
    folder_project.repo.branch("alpha")
    push(folder_project.storage, all_refs=True)
    assert (Path(folder_url) / "HEAD").read_text() == "ref: refs/heads/zeta\n"
    copy, result = clone(folder_url, tmp_path / "c")
    assert result.ref == "refs/heads/zeta" and copy.refs.head_target()[0] == "zeta"


# -- 8: a tag and a branch of the same name ------------------------------------------------------
def test_push_of_a_name_that_is_both_a_tag_and_a_branch_asks_which(folder_project: Project, folder_url: str) -> None:
    folder_project.repo.tag("rel")
    folder_project.append()
    folder_project.repo.branch("rel")
    code, _, err = run("push", "origin", "rel")
    assert code == 2 and "refs/tags/rel" in err and "refs/heads/rel" in err
    assert not (Path(folder_url) / "refs" / "heads" / "rel").exists()
    code, out, _ = run("push", "origin", "refs/tags/rel")
    assert code == 0 and "refs/tags/rel: (none) →" in out
    assert not (Path(folder_url) / "refs" / "heads" / "rel").exists()


# -- 9: remote URLs that are no place for a remote ------------------------------------------------
@pytest.mark.parametrize("url", ["", "  ", ".", "data/remote", ".datakeep"])
def test_remote_url_empty_or_inside_the_repository_is_refused(folder_project: Project, url: str) -> None:
    code, _, err = run("remote", "add", "mine", url)
    assert code == 2 and err.startswith("error: ") and ("empty" in err or "inside this repository" in err)
    assert "mine" not in Repository(folder_project.root).config.remotes


def test_push_to_a_folder_inside_the_repository_is_refused(folder_project: Project) -> None:
    code, _, err = run("push", "./sub")
    assert code == 2 and "inside this repository" in err
    assert not (folder_project.root / "sub").exists()


# -- 10: names that clash on the remote ------------------------------------------------------------
def test_a_branch_whose_name_is_a_folder_on_the_remote_is_explained(
    project: Project, remote_url: str, tmp_path: Path
) -> None:
    project.repo.branch("feature/x")
    push(project.storage, revs=["main", "feature/x"])
    copy, _ = clone(remote_url, tmp_path / "b")
    Repo(copy).branch("feature")
    for force in (False, True):
        with pytest.raises(RemoteError, match=r"origin has refs/heads/feature/x, so refs/heads/feature cannot"):
            push(copy, revs=["feature"], force=force)


def test_pushing_a_name_below_a_branch_says_there_is_no_such_branch(folder_project: Project) -> None:
    code, _, err = run("push", "origin", "main/typo")
    assert code == 2 and "no local branch or tag named 'main/typo'" in err


# -- 11: an object damaged on the remote ---------------------------------------------------------
def test_a_damaged_remote_object_is_named_and_repaired_by_push_force(
    folder_project: Project, folder_url: str, tmp_path: Path
) -> None:
    push(folder_project.storage)
    chunk = folder_project.repo.manifest("flights").chunks[0].object
    remote = open_remote(folder_project.storage, "origin")
    path = Path(remote.store.path(chunk))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.chmod(0o644)
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptObjectError) as caught:
        clone(folder_url, tmp_path / "c")
    message = str(caught.value)
    assert f"the copy of object {chunk} on {folder_url}/objects is damaged" in message
    assert "run `datakeep pull`" not in message and "push --force" in message and str(path) in message
    path.unlink()  # as the message says: delete it there, then push --force from a good repository
    assert push(folder_project.storage).sent.objects == 0  # a plain push trusts the remote's refs
    assert push(folder_project.storage, force=True).sent.objects == 1
    copy, _ = clone(folder_url, tmp_path / "c")
    assert Repo(copy).read("flights").equals(folder_project.flights)


# -- 12: remote remove ------------------------------------------------------------------------------
def test_remote_remove_deletes_its_remote_tracking_refs(folder_project: Project, tmp_path: Path) -> None:
    push(folder_project.storage)
    assert folder_project.repo.resolve("origin/main")
    remove_remote(folder_project.storage, "origin")
    add_remote(folder_project.storage, "origin", str(tmp_path / "other"))
    code, _, err = run("log", "origin/main")
    assert code == 2 and "origin/main" in err
    assert not (folder_project.root / ".datakeep" / "refs" / "remotes" / "origin").exists()


# -- 13: how a remote-tracking ref moved ------------------------------------------------------------
def test_pull_reports_a_moved_tracking_ref_as_a_fast_forward(
    folder_project: Project, folder_url: str, tmp_path: Path
) -> None:
    push(folder_project.storage)
    copy, _ = clone(folder_url, tmp_path / "b")
    folder_project.append()
    push(folder_project.storage)
    code, out, _ = run("-C", str(copy.root), "pull")
    assert code == 0 and "refs/remotes/origin/main:" in out
    tracking = next(line for line in out.splitlines() if "refs/remotes/origin/main" in line)
    assert tracking.endswith("(fast-forward)")


# -- 13: what `fsck --repair` mends, and the messages that send users there --------------------
def test_fsck_repair_replaces_damaged_and_missing_objects_from_the_remote(
    folder_project: Project, folder_url: str
) -> None:
    """`pull` cannot mend these: it asks the remote only for what its refs add."""
    push(folder_project.storage)
    store = folder_project.storage.store
    chunk = folder_project.repo.manifest("flights").chunks[0].object
    manifest = folder_project.repo.commit_info("HEAD")[1].datasets["weather"].manifest
    path = store.path(chunk)
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    store.path(manifest).unlink()
    code, out, _ = run("-C", str(folder_project.root), "fsck")
    assert code == 1
    assert f"{chunk}: content does not match its id (corrupted bytes) (needed by a chunk of dataset flights)" in out
    assert "`datakeep fsck --repair`" in out
    with pytest.raises(CorruptObjectError, match=r"run `datakeep fsck --repair`"):
        folder_project.repo.read("flights")
    assert pull(folder_project.storage).received.objects == 0  # what pull cannot do
    code, out, _ = run("-C", str(folder_project.root), "fsck", "--repair")
    assert code == 0, out
    assert "repaired 2 object(s) with good copies from origin" in out and "then checked" in out
    assert folder_project.repo.fsck(full=True).ok
    assert folder_project.repo.read("flights").equals(folder_project.flights)


def test_fsck_repair_says_what_the_remote_cannot_mend(folder_project: Project) -> None:
    push(folder_project.storage)
    chunk = folder_project.repo.manifest("flights").chunks[0].object
    folder_project.storage.store.path(chunk).unlink()
    remote = open_remote(folder_project.storage, "origin")
    Path(remote.store.path(chunk)).unlink()
    result = folder_project.repo.repair()
    assert not result.ok and result.unrepaired == {chunk: "the remote lacks it too"}
    code, _, _ = run("-C", str(folder_project.root), "fsck", "--remote", "origin")
    assert code == 2


def test_an_object_the_remote_lost_is_its_fault_in_the_message(
    folder_project: Project, folder_url: str, tmp_path: Path
) -> None:
    push(folder_project.storage)
    chunk = folder_project.repo.manifest("flights").chunks[0].object
    Path(open_remote(folder_project.storage, "origin").store.path(chunk)).unlink()
    code, _, err = run("clone", folder_url, str(tmp_path / "c"))
    assert code == 2
    assert f"object {chunk} is missing from the remote {folder_url}/objects" in err
    assert "push --force" in err and "fsck" not in err


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("s3://", "names no bucket"),
        ("s3:///team", "names no bucket"),
        ("s3://My_Bucket!/dk", "'My_Bucket!' is not a valid bucket name"),
        ("s3:/bucket/team", "is not a URL: 's3:' must be followed by two slashes"),
        ("memory://team/dk", "lives inside one process"),
    ],
)
def test_a_url_that_cannot_hold_a_remote_is_refused_when_added(folder_project: Project, url: str, says: str) -> None:
    code, _, err = run("-C", str(folder_project.root), "remote", "add", "x", url)
    assert code == 2 and says in err and err.count("\n") == 1
    assert "x" not in folder_project.storage.config.remotes


def test_a_clone_of_a_missing_bucket_says_so(s3_endpoint: str, tmp_path: Path) -> None:
    url = f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/team"
    code, _, err = run("clone", url, str(tmp_path / "c"))
    assert code == 2 and "the bucket 'no-such-bucket-" in err and "does not exist" in err


def test_a_push_that_sends_nothing_writes_nothing(folder_project: Project, folder_url: str) -> None:
    """A remote read-only to this user still answers a push with nothing to send."""
    push(folder_project.storage)
    marker = Path(folder_url) / "config.json"
    before = marker.stat().st_mtime_ns
    assert push(folder_project.storage).sent.objects == 0
    assert marker.stat().st_mtime_ns == before


def test_a_clone_killed_outright_is_named_on_the_next_clone(
    folder_project: Project, folder_url: str, tmp_path: Path
) -> None:
    push(folder_project.storage)
    target = tmp_path / "c"
    repo = Repository.initialize(target)  # what a SIGKILL between set-up and checkout leaves
    add_remote(repo, "origin", folder_url)
    code, _, err = run("clone", folder_url, str(target))
    assert code == 2 and "holds an unfinished clone of" in err and "`datakeep pull`" in err
    assert run("-C", str(target), "pull")[0] == 0
    assert Repo(Repository(target)).read("flights").equals(folder_project.flights)


def test_a_clone_killed_while_it_made_its_store_is_named_everywhere(
    folder_project: Project, folder_url: str, tmp_path: Path
) -> None:
    """Killed before config.json (the last file `init` writes): clone said "not empty — clone
    into a new folder", every command in it "not a repository — run `datakeep init`"."""
    push(folder_project.storage)
    target = tmp_path / "c"
    dk = target / ".datakeep"
    for sub in ("objects", "refs/heads", "refs/tags"):  # as `Repository.initialize` starts
        (dk / sub).mkdir(parents=True)
    (dk / "HEAD").write_text("ref: refs/heads/main\n")
    code, _, err = run("clone", folder_url, str(target))
    assert code == 2 and f"{target} holds an unfinished clone" in err
    assert f"remove the folder (`rm -r {target}`) and clone again" in err
    for command in (["status"], ["pull"], ["log"]):
        code, _, err = run("-C", str(target), *command)
        assert code == 2 and f"{target} holds a datakeep repository that was never finished" in err, err
        assert "remove the folder and clone again" in err and "run `datakeep init` in the project" not in err
    shutil.rmtree(target)  # the advice, followed
    assert run("clone", folder_url, str(target))[0] == 0
    assert Repo(Repository(target)).read("flights").equals(folder_project.flights)


def test_a_long_lived_repo_never_writes_back_a_stale_config(folder_project: Project, tmp_path: Path) -> None:
    """A notebook's Repo open while the CLI adds a remote, or pulls one dataset (which makes the
    clone partial): its next config write kept its old copy and dropped theirs."""
    mine = Repo.open(folder_project.root)
    assert set(mine.remotes()) == {"origin"}
    theirs = Repo.open(folder_project.root)
    theirs.add_remote("bee", str(tmp_path / "b"))
    mine.add_remote("ay", str(tmp_path / "a"))
    assert set(Repo.open(folder_project.root).remotes()) == {"origin", "ay", "bee"}
    assert set(mine.remotes()) == {"origin", "ay", "bee"}
    storage = Repository(folder_project.root)
    assert not isinstance(storage.store, FallbackStore)
    with storage.locked():  # what `pull --name` records, from another process
        other = Repository(folder_project.root)
        other.config.extra["partial"] = "bee"
        other.save_config()
    assert isinstance(storage.store, FallbackStore)  # the store follows the file
    mine.add_remote("sea", str(tmp_path / "c"))
    assert Repository(folder_project.root).config.extra["partial"] == "bee"


def test_gc_waits_for_a_pull_receiving_objects_no_ref_names_yet(
    folder_project: Project, folder_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # gc took what a pull had written, and no ref named yet, for garbage; the pull then moved
    # its branch to a commit the store no longer held.
    from datakeep.errors import LockedError
    from datakeep.maintenance import gc

    push(folder_project.storage)
    repo = Repository.initialize(tmp_path / "fresh")
    add_remote(repo, "origin", folder_url)
    monkeypatch.setenv("DATAKEEP_LOCK_TIMEOUT", "0.2")
    refused: list[str] = []

    def gc_meanwhile(_oid: str, _size: int) -> None:
        if not refused:
            with pytest.raises(LockedError) as locked:
                gc(Repository(repo.root))
            refused.append(locked.value.hint)

    pull(repo, progress=gc_meanwhile)

    assert refused and "the pull or clone receiving objects" in refused[0]
    pulled = Repo.open(repo.root)
    assert pulled.fsck().ok
    assert gc(Repository(repo.root)).removed == 0  # once the refs name them, nothing is garbage
    assert pulled.read("flights").equals(folder_project.repo.read("flights"))
