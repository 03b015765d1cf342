"""What a push reads: only the commits the remote lacks and their manifests, however long the
history; what it sends stays exactly what the remote lacks."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_remote_support import Recorder

from datakeep.api import Repo
from datakeep.history import missing_commits
from datakeep.ids import ObjectId
from datakeep.records.commit import Commit
from datakeep.remote import push
from datakeep.repo import Repository
from datakeep.store.local import LocalStore

HISTORY = 24


class CountingStore(LocalStore):
    """The repository's own store, remembering every object read."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, durable=False)
        self.reads: list[ObjectId] = []

    def get(self, oid: ObjectId) -> bytes:
        self.reads.append(oid)
        return super().get(oid)


def counting(repo: Repository) -> CountingStore:
    assert repo.config  # read now: a config read later (unchanged) keeps the store set here
    store = CountingStore(repo.dk / "objects")
    repo._store = store
    return store


class Line:
    """A repository with one small dataset ``t`` and a history of commits that each change it."""

    def __init__(self, root: Path) -> None:
        root.mkdir()
        self.root = root
        self.repo = Repo(Repository.initialize(root))
        self.version = 0
        self.write()
        self.repo.add(root / "t.parquet", name="t", key="id")
        self.repo.commit(message="c0")
        self.repo.add_remote("origin", str(root.parent / "remote"))

    def write(self, version: int | None = None) -> None:
        version = self.version if version is None else version
        pq.write_table(pa.table({"id": list(range(50)), "v": [version] * 50}), self.root / "t.parquet")

    def change(self, message: str = "change") -> ObjectId:
        self.version += 1
        self.write()
        return self.repo.commit(message=message).id

    @property
    def storage(self) -> Repository:
        return self.repo.repository

    def objects(self) -> set[ObjectId]:
        return set(self.storage.store.ids())


@pytest.fixture
def line(tmp_path: Path) -> Line:
    made = Line(tmp_path / "project")
    for i in range(HISTORY):
        made.change(message=f"c{i + 1}")
    push(made.storage)
    return made


def test_pushing_new_commits_reads_nothing_beneath_the_remotes_tip(line: Line) -> None:
    tip = line.repo.resolve("HEAD")
    under_tip = line.repo.commit_info()[1].datasets["t"].manifest
    before = line.objects()
    for _ in range(3):
        line.change()
    new = line.objects() - before
    store = counting(line.storage)
    recorder = Recorder()
    result = push(line.storage, progress=recorder)
    assert set(recorder.objects) == new and result.sent.objects == len(new)
    # Of the history already on the remote, only the commit the new ones build on and its
    # manifest of the dataset they changed are read: not the other 24 commits and manifests.
    assert {oid for oid in store.reads if oid in before} == {tip, under_tip}
    assert result.updates[0].status == "fast-forward"


def test_a_push_with_nothing_new_reads_no_object(line: Line) -> None:
    line.repo.tag("v1", "HEAD~3")
    line.repo.branch("side", "HEAD~7")
    push(line.storage, all_refs=True)
    store = counting(line.storage)
    assert push(line.storage).sent.objects == 0
    assert push(line.storage, all_refs=True).sent.objects == 0
    assert store.reads == []


def test_a_branch_from_deep_in_history_reads_down_to_where_it_forked(line: Line) -> None:
    fork = line.repo.resolve("HEAD~10")
    older = {oid for oid, _ in line.storage.ancestry(fork)} - {fork}
    line.repo.branch("side", fork)
    line.repo.switch("side")
    before = line.objects()
    line.version = 1000
    line.change(message="side")
    new = line.objects() - before
    store = counting(line.storage)
    recorder = Recorder()
    push(line.storage, revs=["side"], progress=recorder)
    assert set(recorder.objects) == new
    assert not set(store.reads) & older  # the remote's main is walked down to the fork, no further


def test_a_version_put_back_from_long_ago_is_found_on_the_remote_not_sent(line: Line) -> None:
    """A commit naming a manifest only deep history names (as `branch -f` back and forth, or a
    tool writing commits, can make): the walk does not read that far, the remote's listing does."""
    head, tip = line.repo.commit_info()
    old = line.repo.commit_info("HEAD~20")[1].datasets["t"]
    put_back = Commit(parents=(head,), message="put back", author="t <t@x>", time=tip.time, datasets={"t": old})
    oid = line.storage.put_document(put_back.to_dict())
    line.storage.refs.update("refs/heads/main", oid, expected=head)
    result = push(line.storage)
    assert result.sent.objects == 1  # the commit: its manifest and chunks are listed there, not sent
    assert result.already_there == 1 + len(line.storage.manifest_at(old.manifest).object_ids())


def test_force_still_looks_for_every_object_of_the_history(line: Line) -> None:
    """--force does not trust the remote's refs: what the remote lost deep in history goes again."""
    deep = line.repo.manifest("t", "HEAD~15").chunks[0].object
    lost = Path(line.root.parent / "remote" / "objects" / deep[:2] / deep[2:])
    lost.chmod(0o644)
    lost.unlink()
    assert push(line.storage).sent.objects == 0  # a plain push trusts the remote's refs
    assert push(line.storage, force=True).sent.objects == 1


# -- the walk itself, on hand-made graphs (times out of order included) ----------------------------
def _graph(repo: Repository, edges: dict[str, tuple[str, ...]], times: dict[str, int]) -> dict[str, ObjectId]:
    """Store commits named in ``edges`` (name → parent names, parents first in the dict) with the
    given times in seconds; returns name → id."""
    ids: dict[str, ObjectId] = {}
    for name, parents in edges.items():
        commit = Commit(
            parents=tuple(ids[p] for p in parents),
            message=name,
            author="t <t@x>",
            time=f"2024-01-01T00:{times[name] // 60:02d}:{times[name] % 60:02d}+00:00",
            datasets={},
        )
        ids[name] = repo.put_document(commit.to_dict())
    return ids


def _ancestors(repo: Repository, roots: set[ObjectId]) -> set[ObjectId]:
    seen: set[ObjectId] = set()
    stack = list(roots)
    while stack:
        oid = stack.pop()
        if oid not in seen:
            seen.add(oid)
            stack.extend(repo.commit_at(oid).parents)
    return seen


# a - b - c - d - e   (main, on the remote: e)
#      \       \
#       x - y - m     (ours: m merges d)
EDGES = {"a": (), "b": ("a",), "c": ("b",), "d": ("c",), "e": ("d",), "x": ("b",), "y": ("x",), "m": ("y", "d")}


@pytest.mark.parametrize(
    "times",
    [
        {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "x": 6, "y": 7, "m": 8},  # in order
        {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "x": 0, "y": 9, "m": 3},  # clocks that disagree
        {"a": 9, "b": 8, "c": 7, "d": 6, "e": 5, "x": 4, "y": 3, "m": 2},  # every time backwards
    ],
)
def test_the_walk_finds_every_missing_commit_and_paints_only_what_the_remote_holds(
    tmp_path: Path, times: dict[str, int]
) -> None:
    repo = Repository.initialize(tmp_path / "r")
    ids = _graph(repo, EDGES, times)
    wants, haves = {ids["m"]}, {ids["e"]}
    found = missing_commits(repo, wants, haves)
    held = _ancestors(repo, haves)
    assert set(found.commits) >= _ancestors(repo, wants) - held  # nothing the remote lacks is left out
    assert set(found.boundary) <= held  # only commits the remote's refs reach count as there
    if times["m"] == 8:
        assert set(found.commits) == {ids["x"], ids["y"], ids["m"]}
        assert set(found.boundary) == {ids["b"], ids["d"]}


def test_the_walk_of_wants_the_remote_holds_reads_nothing(tmp_path: Path) -> None:
    repo = Repository.initialize(tmp_path / "r")
    ids = _graph(repo, EDGES, {name: i for i, name in enumerate(EDGES)})
    store = counting(repo)
    found = missing_commits(repo, {ids["e"]}, {ids["e"], ids["m"]})
    assert (found.commits, found.boundary, store.reads) == ({}, {}, [])


def test_log_of_a_range_reads_only_as_far_back_as_the_range(line: Line) -> None:
    """`log A..B` took the whole of A's history to leave out (4,000 commits: seconds); it now
    reads back only to where the two meet, as a push does (`missing_commits`)."""
    history = [oid for oid, _ in line.repo.log()]
    store = counting(line.storage)
    ranged = line.repo.log(f"{history[3]}..{history[0]}")
    assert [oid for oid, _ in ranged] == history[:3]
    assert len(set(store.reads)) <= 6  # the three listed, the one they meet at, and a step beyond
    assert len(history) > HISTORY  # the history beneath was there to read
    assert [oid for oid, _ in line.repo.log(f"{history[0]}..{history[3]}")] == []
