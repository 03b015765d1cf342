"""Remotes through real storage: a folder, and the S3 API (moto server) via s3fs."""

# Fixtures are imported from the helper module, and pytest passes them by parameter name.
# ruff: noqa: F811

from __future__ import annotations

import sys
import threading
import uuid
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

# The helpers sit beside this file; pytest's import mode may not put this folder on sys.path.
sys.path.insert(0, str(Path(__file__).parent))
from test_remote_support import (  # noqa: F401
    Project,
    Recorder,
    folder_project,
    folder_url,
    project,
    remote_url,
    s3_endpoint,
    template,
)

from datakeep.api import Repo
from datakeep.errors import CorruptObjectError, ObjectNotFoundError, RemoteError
from datakeep.remote import clone, ls_files, pull, push
from datakeep.remote.config import open_remote
from datakeep.remote.graph import NonFastForwardError
from datakeep.remote.refs import RemoteRefMovedError
from datakeep.remote.transfer import TransferInterruptedError
from datakeep.repo import Repository
from datakeep.store.fallback import FallbackStore


def _local_objects(repo: Repository) -> set[str]:
    return set(repo.store.ids())


def test_push_clone_checkout_round_trip(project: Project, remote_url: str, tmp_path: Path) -> None:
    result = push(project.storage)
    assert result.sent.objects == len(_local_objects(project.storage))
    assert [(u.ref, u.status) for u in result.updates] == [("refs/heads/main", "new")]
    copy, fetched = clone(remote_url, tmp_path / "copy")
    assert fetched.received.objects == result.sent.objects
    assert fetched.received.bytes == result.sent.bytes
    assert pq.read_table(copy.root / "flights.parquet").equals(project.flights)
    theirs = Repo(copy)
    assert theirs.read("flights").equals(project.repo.read("flights"))
    assert theirs.read("weather").equals(project.repo.read("weather"))
    assert theirs.resolve("HEAD") == project.repo.resolve("HEAD")
    assert theirs.fsck().ok


def test_second_push_sends_nothing(project: Project) -> None:
    push(project.storage)
    again = push(project.storage)
    assert (again.sent.objects, again.sent.bytes) == (0, 0)
    assert again.updates[0].status == "up-to-date"


def test_push_after_append_sends_only_the_new_chunks(project: Project) -> None:
    push(project.storage)
    before = _local_objects(project.storage)
    project.append()
    new = _local_objects(project.storage) - before
    recorder = Recorder()
    result = push(project.storage, progress=recorder)
    assert set(recorder.objects) == new  # new chunk + its row hashes, the manifest, the commit
    assert recorder.total == len(new) == result.sent.objects
    assert result.sent.bytes == sum(project.storage.store.size(o) for o in new)
    assert result.updates[0].status == "fast-forward"


def test_non_fast_forward_is_refused_and_force_overrides(project: Project, remote_url: str, tmp_path: Path) -> None:
    push(project.storage)
    other, _ = clone(remote_url, tmp_path / "other")
    theirs = Project.open(other.root, project.flights)
    theirs.append(message="theirs")
    push(other)
    project.append(message="ours")
    with pytest.raises(NonFastForwardError, match=r"`datakeep pull` fetches their commits.*--force"):
        push(project.storage)
    remote = open_remote(project.storage, "origin")
    assert remote.refs.read("refs/heads/main")[0] == theirs.repo.resolve("HEAD")
    forced = push(project.storage, force=True)
    assert forced.updates[0].status == "forced"
    assert remote.refs.read("refs/heads/main")[0] == project.repo.resolve("HEAD")


def test_a_stale_swap_is_refused(project: Project) -> None:
    """The primitive under every push: a write with an outdated token never lands."""
    push(project.storage)
    refs = open_remote(project.storage, "origin").refs
    old, token = refs.read("refs/heads/main")
    first = project.append()
    refs.swap("refs/heads/main", first, token)  # the winner
    with pytest.raises(RemoteRefMovedError):
        refs.swap("refs/heads/main", old, token)  # the loser still holds the old version
    assert refs.read("refs/heads/main")[0] == first
    with pytest.raises(RemoteRefMovedError):
        refs.swap("refs/heads/new-branch", first, "stale")  # creating over an existing version
    refs.swap("refs/heads/new-branch", first, None)
    with pytest.raises(RemoteRefMovedError):
        refs.swap("refs/heads/new-branch", first, None)  # exclusive create


def test_racing_pushes_never_lose_a_commit(project: Project, remote_url: str, tmp_path: Path) -> None:
    push(project.storage)
    contenders = []
    for name in ("a", "b"):
        repo, _ = clone(remote_url, tmp_path / name)
        contender = Project.open(repo.root, project.flights)
        contender.append(rows=100 + len(contenders), message=name)
        contenders.append(contender)
    outcomes: dict[str, object] = {}

    def run(contender: Project) -> None:
        try:
            outcomes[contender.root.name] = push(contender.storage)
        except NonFastForwardError as exc:
            outcomes[contender.root.name] = exc

    threads = [threading.Thread(target=run, args=(c,)) for c in contenders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [c for c in contenders if not isinstance(outcomes[c.root.name], Exception)]
    losers = [c for c in contenders if isinstance(outcomes[c.root.name], NonFastForwardError)]
    assert len(winners) == 1 and len(losers) == 1  # siblings: exactly one can land, the other is told
    head = open_remote(project.storage, "origin").refs.read("refs/heads/main")[0]
    assert head == winners[0].repo.resolve("HEAD")


def test_corrupted_remote_object_is_detected_and_not_stored(project: Project, remote_url: str, tmp_path: Path) -> None:
    push(project.storage)
    chunk = project.repo.manifest("flights").chunks[0].object
    remote = open_remote(project.storage, "origin")
    data = bytearray(remote.store.get(chunk))
    data[len(data) // 2] ^= 0xFF
    remote.fs.pipe_file(remote.store.path(chunk), bytes(data))
    with pytest.raises(CorruptObjectError, match=chunk):
        clone(remote_url, tmp_path / "copy")
    copy = Repository(tmp_path / "copy")
    assert not copy.store.has(chunk)
    assert copy.head() is None  # no ref points at an incomplete snapshot


def test_interrupted_push_resumes_without_resending(project: Project) -> None:
    total = len(_local_objects(project.storage))
    first = Recorder()
    with pytest.raises(TransferInterruptedError):
        push(project.storage, progress=first, max_objects=3)
    assert len(first.objects) == 3
    remote = open_remote(project.storage, "origin")
    assert remote.refs.list() == {}  # objects first, refs last
    second = Recorder()
    result = push(project.storage, progress=second)
    assert not set(first.objects) & set(second.objects)
    assert result.sent.objects == total - 3 and result.already_there == 3
    assert remote.refs.read("refs/heads/main")[0] == project.repo.resolve("HEAD")


def test_interrupted_pull_resumes(folder_project: Project, tmp_path: Path) -> None:
    push(folder_project.storage)
    repo = Repository.initialize(tmp_path / "copy")
    from datakeep.remote import add_remote

    add_remote(repo, "origin", open_remote(folder_project.storage, "origin").url)
    with pytest.raises(TransferInterruptedError):
        pull(repo, max_objects=2, restore=False)
    assert repo.head() is None
    result = pull(repo, restore=False)
    assert result.received.objects == len(_local_objects(folder_project.storage)) - 2
    assert Repo(repo).read("flights").equals(folder_project.repo.read("flights"))


def test_partial_clone_fetches_one_dataset_then_the_rest_on_demand(
    project: Project, remote_url: str, tmp_path: Path
) -> None:
    push(project.storage)
    project.append()
    project.repo.tag("v2")
    push(project.storage, revs=["main", "v2"])
    copy, result = clone(remote_url, tmp_path / "copy", name="weather")
    flights = project.repo.manifest("flights").object_ids()
    weather = project.repo.manifest("weather").object_ids()
    local = _local_objects(copy)
    assert set(weather) <= local and not set(flights) & local
    assert result.commits == 2 and (copy.root / "weather.parquet").exists()
    assert not (copy.root / "flights.parquet").exists()
    assert copy.config.extra["partial"] == "origin"
    assert isinstance(copy.store, FallbackStore)
    before = _local_objects(copy)
    Repo(copy).checkout("v2", name="flights", output=tmp_path / "f.parquet")
    assert pq.read_table(tmp_path / "f.parquet").equals(project.flights)
    fetched = _local_objects(copy) - before  # the manifest and the chunk objects checkout read
    manifest = project.repo.manifest("flights", "v2")
    manifest_oid = Repo(copy).commit_info("v2")[1].datasets["flights"].manifest
    assert fetched <= {*manifest.object_ids(), manifest_oid}
    assert copy.store.fetched_objects == len(fetched) >= len(manifest.chunks) + 1


def test_a_diff_in_a_partial_clone_fetches_what_it_reads(project: Project, remote_url: str, tmp_path: Path) -> None:
    amount = pc.multiply(project.flights.column("amount"), 2)
    project.flights = project.flights.set_column(2, "amount", amount)
    pq.write_table(project.flights, project.root / "flights.parquet")
    project.repo.commit(message="doubled")
    push(project.storage)
    copy, _ = clone(remote_url, tmp_path / "copy", name="weather")
    for key in (["id"], []):
        expected = project.repo.diff("HEAD~1", "HEAD", name="flights", key=key).to_dict()
        assert Repo(copy).diff("HEAD~1", "HEAD", name="flights", key=key).to_dict() == expected
    assert copy.store.fetched_objects > 0


def test_partial_pull_of_one_dataset(folder_project: Project, tmp_path: Path) -> None:
    push(folder_project.storage)
    repo = Repository.initialize(tmp_path / "copy")
    from datakeep.remote import add_remote

    add_remote(repo, "origin", open_remote(folder_project.storage, "origin").url)
    result = pull(repo, name="flights", restore=False)
    flights = set(folder_project.repo.manifest("flights").object_ids())
    weather = set(folder_project.repo.manifest("weather").object_ids())
    assert flights <= _local_objects(repo) and not weather & _local_objects(repo)
    assert result.received.objects == len(flights) + 2  # + manifest + commit
    # As `clone --name`: the rest is promised by origin, fetched when read, and fsck is clean.
    assert result.partial and Repository(repo.root).config.extra["partial"] == "origin"
    assert Repo.open(repo.root).fsck().ok
    assert Repo.open(repo.root).read("weather").equals(folder_project.repo.read("weather"))


def test_pull_fast_forwards_and_updates_the_working_tree(
    folder_project: Project, folder_url: str, tmp_path: Path
) -> None:
    push(folder_project.storage)
    copy, _ = clone(folder_url, tmp_path / "copy")
    folder_project.append()
    push(folder_project.storage)
    result = pull(copy)
    assert [u.status for u in result.updates if u.ref == "refs/heads/main"] == ["fast-forward"]
    assert pq.read_table(copy.root / "flights.parquet").equals(folder_project.flights)
    assert Repo(copy).status()[0].state == "unchanged"
    assert pull(copy).received.objects == 0


def test_ls_files_urls_are_readable_by_duckdb(folder_project: Project, folder_url: str) -> None:
    duckdb = pytest.importorskip("duckdb")
    push(folder_project.storage)
    local = ls_files(folder_project.storage, "HEAD:flights")
    on_remote = ls_files(folder_project.storage, "HEAD:flights", remote="origin")
    assert [o.rows for o in local] == [o.rows for o in on_remote]
    assert sum(o.rows for o in local) == folder_project.flights.num_rows
    from datakeep.remote.lsfiles import sql_list

    for listing in (local, on_remote):
        got = duckdb.sql(f"select * from read_parquet({sql_list(listing)})").arrow()
        got = got.read_all() if hasattr(got, "read_all") else got
        assert got.sort_by("id").equals(folder_project.flights.sort_by("id"))


def test_tags_do_not_move_without_force(folder_project: Project) -> None:
    folder_project.repo.tag("v1")
    push(folder_project.storage, revs=["v1"])
    folder_project.append()
    folder_project.repo.tag("v1", force=True)
    with pytest.raises(RemoteError, match="tags do not move"):
        push(folder_project.storage, revs=["v1"])


def test_clone_refuses_what_is_not_a_datakeep_remote(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(RemoteError, match="not a datakeep remote"):
        clone(str(tmp_path / "empty"), tmp_path / "copy")


def test_remote_url_stays_out_of_git_files(folder_project: Project, folder_url: str) -> None:
    config = (folder_project.root / ".datakeep" / "config.json").read_text()
    assert folder_url in config or str(Path(folder_url).absolute()) in config
    assert (
        not (folder_project.root / "datakeep.yaml").exists()
        or folder_url not in (folder_project.root / "datakeep.yaml").read_text()
    )
    assert "testing" not in config  # credentials come from the environment, never stored


def test_missing_backend_names_the_extra(tmp_path: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("gcsfs") is not None:
        pytest.skip("gcsfs is installed here")
    from datakeep.store.fsspec_store import open_url

    with pytest.raises(RemoteError, match=r'pip install "datakeep\[gcs\]"'):
        open_url("gs://bucket/path")


def test_fsspec_store_contract_on_memory() -> None:
    import fsspec

    from datakeep.store.fsspec_store import FsspecStore

    store = FsspecStore(fsspec.filesystem("memory"), f"/contract-{uuid.uuid4().hex}")
    oid, new = store.put(b"hello")
    assert new and store.has(oid) and store.get(oid) == b"hello" and store.size(oid) == 5
    assert store.put(b"hello") == (oid, False)
    assert list(store.ids()) == [oid] and store.present([oid]) == {oid}
    assert store.read_prefix(oid, 2) == b"he"
    with pytest.raises(CorruptObjectError):
        store.put_verified(oid, b"other")
    store.delete(oid)
    assert not store.has(oid)
    with pytest.raises(ObjectNotFoundError):
        store.get(oid)


def test_a_partial_clone_commits_and_pushes_without_dropping_the_other_datasets(
    project: Project, remote_url: str, tmp_path: Path
) -> None:
    push(project.storage)
    copy, _ = clone(remote_url, tmp_path / "copy", name="weather")
    work = Repo(copy)
    assert {s.name: s.state for s in work.status()} == {"weather": "unchanged", "flights": "elsewhere"}
    assert not work.fsck().problems  # what was not fetched is promised by origin, not missing
    weather = pq.read_table(copy.root / "weather.parquet")
    pq.write_table(weather.slice(0, 100), copy.root / "weather.parquet")
    committed = work.commit(message="fewer weather rows")
    assert set(committed.commit.datasets) == {"flights", "weather"}
    assert committed.commit.datasets["flights"] == project.repo.commit_info()[1].datasets["flights"]
    push(copy)
    # A second remote gets everything the commit needs, fetched from origin on the way.
    backup = tmp_path / "backup"
    Repo(copy).repository.config.remotes["backup"] = str(backup)
    Repo(copy).repository.save_config()
    push(Repository(copy.root), "backup")
    full, _ = clone(str(backup), tmp_path / "full")
    assert Repo(full).read("flights").equals(project.flights)
    # Removing a dataset the clone never fetched is still a deliberate commit.
    work = Repo(Repository(copy.root))
    work.rm("flights")
    assert {s.name: s.state for s in work.status()}["flights"] == "removed"
    assert set(work.commit(message="drop flights").commit.datasets) == {"weather"}


def test_a_failed_clone_leaves_no_folder_behind(folder_project: Project, folder_url: str, tmp_path: Path) -> None:
    push(folder_project.storage)
    remote_objects = Path(folder_url) / "objects"
    victim = next(p for p in remote_objects.rglob("*") if p.is_file())
    victim.chmod(0o644)
    victim.unlink()  # the remote lost an object: the clone must fail
    with pytest.raises(ObjectNotFoundError):
        clone(folder_url, tmp_path / "broken")
    assert not (tmp_path / "broken").exists()


def test_an_unreachable_endpoint_is_a_remote_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s3fs = pytest.importorskip("s3fs")
    s3fs.S3FileSystem.clear_instance_cache()  # no file system cached by another test's endpoint
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    try:
        with pytest.raises(RemoteError, match="cannot reach the remote: EndpointConnectionError"):
            clone("s3://bucket/team", tmp_path / "nowhere")
    finally:
        s3fs.S3FileSystem.clear_instance_cache()  # nor one cached with this dead endpoint for the next
    assert not (tmp_path / "nowhere").exists()
