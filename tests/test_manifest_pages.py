"""A large folder's file list in pages (`records.pages`): a commit stores only the pages around
what changed, every version reads back whole, ids stay what an unpaged manifest gives, and gc,
fsck, push, pull and clone treat pages as the objects they are. Real Parquet files, real
repositories and a real folder remote in tmp_path; the paging thresholds are lowered for speed
(one test keeps the real ones)."""

from __future__ import annotations

import dataclasses
import json
import zlib
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datakeep.api import Repo
from datakeep.errors import CorruptObjectError, NewerFormatError
from datakeep.records import pages
from datakeep.records.manifest import FileEntry
from datakeep.serialize import load_json
from tests.conftest import objects_size, write


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages from 8 files on, 4 files a page on average: a few dozen files exercise them."""
    monkeypatch.setattr(pages, "PAGED_FROM", 8)
    monkeypatch.setattr(pages, "MEAN_PAGE_FILES", 4)
    monkeypatch.setattr(pages, "MAX_PAGE_FILES", 16)


def part(folder: Path, number: int, rows: int = 3, shift: float = 0.0) -> Path:
    ids = list(range(number * rows, (number + 1) * rows))
    table = pa.table({"id": ids, "v": [i * 0.5 + shift for i in ids], "tag": [f"t{i % 3}" for i in ids]})
    return write(folder / f"day={number // 10:03d}" / f"part-{number:05d}.parquet", table)


def folder_of(root: Path, files: int) -> Path:
    folder = root / "events"
    for number in range(files):
        part(folder, number)
    return folder


def document(repo: Repo, oid: str) -> dict:
    data = (repo.root / ".datakeep" / "objects" / oid[:2] / oid[2:]).read_bytes()
    return load_json(data)


def manifest_document(repo: Repo, rev: str = "HEAD", name: str = "events") -> dict:
    return document(repo, repo.commit_info(rev)[1].datasets[name].manifest)


def page_ids(repo: Repo, rev: str = "HEAD") -> list[str]:
    return [page["object"] for page in manifest_document(repo, rev)["pages"]]


def read_folder(folder: Path) -> dict[str, pa.Table]:
    return {p.relative_to(folder).as_posix(): pq.read_table(p) for p in sorted(folder.rglob("*.parquet"))}


@pytest.fixture
def paged_repo(project: Path, small_pages: None) -> Iterator[Repo]:
    repo = Repo.init(project)
    repo.add(folder_of(project, 40), name="events", key=["id"])
    repo.commit(message="v1")
    yield repo


# -- cutting a list into pages -------------------------------------------------------------------

paths = st.lists(st.text("abcdef/=-_0123456789", min_size=1, max_size=12), min_size=0, max_size=120, unique=True)


def entries(names: list[str]) -> list[FileEntry]:
    return [FileEntry(path=name, id=f"{i:032x}", rows=i, schema="", chunks=()) for i, name in enumerate(sorted(names))]


@settings(max_examples=200, deadline=None)
@given(paths)
def test_pages_hold_every_file_once_in_order_and_none_is_too_long(names: list[str]) -> None:
    files = entries(names)
    cut = pages.split(files)
    assert [entry for page in cut for entry in page] == files
    assert all(0 < len(page) <= pages.MAX_PAGE_FILES for page in cut)


@settings(max_examples=200, deadline=None)
@given(paths, st.data())
def test_one_file_edited_added_or_removed_changes_at_most_the_pages_around_it(
    names: list[str], data: st.DataObject
) -> None:
    """Cuts follow the paths, so the pages away from a change are the very same lists."""
    files = entries(names)
    action = data.draw(st.sampled_from(["edit", "add", "remove"] if files else ["add"]))
    if action == "add":
        new = data.draw(st.text("abcdef/=-_0123456789", min_size=1, max_size=12).filter(lambda n: n not in names))
        edited = [FileEntry(path=p, id="", rows=0, schema="", chunks=()) for p in sorted([*names, new])]
        files = [FileEntry(path=p, id="", rows=0, schema="", chunks=()) for p in sorted(names)]
    else:
        at = data.draw(st.integers(0, len(files) - 1))
        edited = list(files)
        if action == "edit":
            edited[at] = FileEntry(path=files[at].path, id="f" * 32, rows=files[at].rows, schema="", chunks=())
        else:
            del edited[at]

    def listed(files: list[FileEntry]) -> set[tuple[tuple[str, str], ...]]:
        return {tuple((entry.path, entry.id) for entry in page) for page in pages.split(files)}

    before, after = listed(files), listed(edited)
    assert len(after - before) <= 2 and len(before - after) <= 2
    if action == "edit":
        assert len(after - before) == 1


# -- commit, read back, identity -----------------------------------------------------------------


def test_a_large_folder_keeps_its_file_list_in_pages_and_reads_back_whole(paged_repo: Repo, project: Path) -> None:
    folder = project / "events"
    doc = manifest_document(paged_repo)
    assert doc["version"] == 2 and "files" not in doc
    listed = [document(paged_repo, oid) for oid in page_ids(paged_repo)]
    assert all(page["format"] == "datakeep.files" for page in listed)
    assert sum(len(page["files"]) for page in listed) == 40 == sum(p["files"] for p in doc["pages"])
    assert len(listed) > 1
    manifest = paged_repo.manifest("events")
    assert [f.path for f in manifest.files] == sorted(read_folder(folder))
    assert paged_repo.read("events").equals(pa.concat_tables(read_folder(folder).values()))
    original = read_folder(folder)
    paged_repo.checkout("HEAD", name="events", output=project / "copy")
    assert read_folder(project / "copy") == original
    assert paged_repo.fsck(full=True).ok


def test_an_edit_of_one_file_stores_one_page_and_every_version_comes_back(paged_repo: Repo, project: Path) -> None:
    folder = project / "events"
    v1 = read_folder(folder)
    v1_pages = page_ids(paged_repo)
    part(folder, 17, shift=1.0)
    paged_repo.commit(message="v2")
    v2 = read_folder(folder)
    v2_pages = page_ids(paged_repo)
    assert len(set(v2_pages) - set(v1_pages)) == 1
    assert len(v2_pages) == len(v1_pages)
    part(folder, 40)  # a new file: only the page it falls in (and perhaps its neighbour) is new
    paged_repo.commit(message="v3")
    assert len(set(page_ids(paged_repo)) - set(v2_pages)) <= 2
    paged_repo.checkout("HEAD~2", name="events", output=project / "old")
    assert read_folder(project / "old") == v1
    paged_repo.checkout("HEAD~1", name="events", output=project / "mid")
    assert read_folder(project / "mid") == v2


def test_pages_change_no_id_and_no_statistic(project: Path, small_pages: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The snapshot is what the files hold: kept in pages or listed in the manifest, the same."""
    paged = Repo.init(project / "paged")
    paged.add(folder_of(project / "paged", 30), name="events", key=["id"])
    paged.commit(message="v1")
    monkeypatch.setattr(pages, "PAGED_FROM", 10_000)
    listed = Repo.init(project / "listed")
    listed.add(folder_of(project / "listed", 30), name="events", key=["id"])
    listed.commit(message="v1")
    assert "files" in manifest_document(listed) and "pages" in manifest_document(paged)
    assert paged.manifest("events") == listed.manifest("events")  # id, files, statistics: all of it
    assert paged.manifest("events").id == listed.manifest("events").id


def test_a_small_folder_keeps_the_manifest_format_older_datakeep_reads(project: Path) -> None:
    repo = Repo.init(project)
    repo.add(folder_of(project, 12), name="events", key=["id"])
    repo.commit(message="v1")
    doc = manifest_document(repo)
    assert doc["version"] == 1 and len(doc["files"]) == 12 and "pages" not in doc


def test_the_real_thresholds_page_a_folder_of_many_files_and_an_edit_costs_little(project: Path) -> None:
    folder = folder_of(project, pages.PAGED_FROM + 88)
    repo = Repo.init(project)
    repo.add(folder, name="events", key=["id"])
    repo.commit(message="v1")
    first = page_ids(repo)
    assert len(first) > 3
    before = objects_size(project)
    part(folder, 300, shift=2.0)
    repo.commit(message="v2")
    # One Parquet chunk, its row hashes, one page and the manifest; the whole list is ~10x that.
    whole_list = sum(len(zlib.compress(json.dumps(document(repo, oid)).encode(), 1)) for oid in first)
    assert objects_size(project) - before < whole_list / 3
    assert len(set(page_ids(repo)) - set(first)) == 1


# -- gc, fsck, remotes ---------------------------------------------------------------------------


def test_gc_keeps_the_pages_of_kept_versions_and_drops_the_others(paged_repo: Repo, project: Path) -> None:
    folder = project / "events"
    v1 = read_folder(folder)
    paged_repo.tag("v1")
    part(folder, 5, shift=3.0)
    paged_repo.commit(message="v2")
    part(folder, 5, shift=4.0)
    paged_repo.commit(message="v3")
    v2_only = set(page_ids(paged_repo, "HEAD~1")) - set(page_ids(paged_repo, "HEAD")) - set(page_ids(paged_repo, "v1"))
    assert v2_only
    # Only v1 and the branch tip stay reachable once v2 leaves history.
    paged_repo.branch("main", "v1", force=True)
    part(folder, 5, shift=4.0)
    paged_repo.commit(message="v3 again")
    paged_repo.gc()
    store = project / ".datakeep" / "objects"
    assert not any((store / oid[:2] / oid[2:]).exists() for oid in v2_only)
    assert paged_repo.fsck(full=True).ok
    paged_repo.checkout("v1", name="events", output=project / "old")
    assert read_folder(project / "old") == v1


def test_fsck_names_a_missing_page_and_a_damaged_one(paged_repo: Repo, project: Path) -> None:
    store = project / ".datakeep" / "objects"
    first, second = page_ids(paged_repo)[:2]
    (store / first[:2] / first[2:]).unlink()
    damaged = store / second[:2] / second[2:]
    damaged.chmod(0o644)
    damaged.write_bytes(zlib.compress(b'{"format": "datakeep.files", "version": 1, "files": []}'))
    result = paged_repo.fsck()
    problems = {p["object"]: p["problem"] for p in result.problems}
    assert problems[first] == "missing (page of the file list of refs/heads/main dataset events)"
    assert problems[second].startswith("content does not match its id")
    assert set(result.damaged) == {first, second}
    with pytest.raises(Exception, match=first):
        paged_repo.read("events")


def test_a_page_that_disagrees_with_its_manifest_is_corrupt(paged_repo: Repo) -> None:
    page = pages.PageRef(object="0" * 32, files=3, rows=9)
    with pytest.raises(CorruptObjectError, match="holds 0 file"):
        pages.page_entries({"format": "datakeep.files", "version": 1, "files": []}, page)
    with pytest.raises(NewerFormatError, match="newer than this datakeep understands"):
        pages.page_entries({"format": "datakeep.files", "version": 9, "files": []}, page)
    with pytest.raises(CorruptObjectError, match="not a page"):
        pages.page_entries({"format": "datakeep.snapshot"}, page)
    with pytest.raises(CorruptObjectError, match="named wrongly"):
        pages.manifest_pages({"pages": [{"object": "../../etc", "files": 1, "rows": 1}]}, "m")


def test_push_clone_pull_and_repair_move_pages(
    paged_repo: Repo, project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp_path = tmp_path_factory.mktemp("elsewhere")
    remote = str(tmp_path / "remote")
    folder = project / "events"
    paged_repo.push(remote)
    copy = Repo.clone(remote, tmp_path / "copy")
    assert read_folder(tmp_path / "copy" / "events") == read_folder(folder)
    assert copy.fsck(full=True).ok
    part(folder, 33, shift=5.0)
    paged_repo.commit(message="v2")
    paged_repo.push(remote)
    received = copy.pull()
    # The edited file's chunk (a patch: no row hashes of its own), one page, the manifest, the commit.
    assert received.received.objects == 4
    assert read_folder(tmp_path / "copy" / "events") == read_folder(folder)
    assert copy.fsck(full=True).ok
    lost = page_ids(copy)[0]
    (tmp_path / "copy" / ".datakeep" / "objects" / lost[:2] / lost[2:]).unlink()
    assert lost in copy.fsck().damaged
    assert copy.repair().ok
    assert copy.fsck(full=True).ok


def test_a_newer_manifest_is_no_damage_and_fsck_sends_no_one_to_repair_it(paged_repo: Repo, project: Path) -> None:
    """A teammate's newer datakeep wrote it: fetching the same bytes again mends nothing."""
    store = paged_repo._repo
    head, commit = paged_repo.commit_info("HEAD")
    oid = store.put_document({**manifest_document(paged_repo), "version": 99}, compress=True)
    datasets = {**commit.datasets, "events": dataclasses.replace(commit.datasets["events"], manifest=oid)}
    newer = dataclasses.replace(commit, parents=(head,), datasets=datasets, message="by a newer datakeep")
    store.refs.advance_head(store.put_document(newer.to_dict()), expected=head)
    with pytest.raises(NewerFormatError, match="upgrade datakeep"):
        paged_repo.read("events")
    result = paged_repo.fsck()
    (problem,) = [p for p in result.problems if p["object"] == oid]
    assert "format version 99, newer than this datakeep understands" in problem["problem"]
    assert oid not in result.damaged  # so `fsck --repair` leaves it be


def test_a_partial_clone_whose_read_stopped_before_the_pages_is_consistent_offline(
    paged_repo: Repo, project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Reading a promised manifest stores it before its pages are fetched: a read stopped there
    leaves pages promised, as chunks are; fsck does not call them missing, gc does not fetch."""
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    write(project / "small.parquet", pa.table({"id": [1, 2]}))
    paged_repo.add(project / "small.parquet", name="small")
    paged_repo.commit(message="and a small one")
    paged_repo.push(str(elsewhere / "remote"))
    copy = Repo.clone(str(elsewhere / "remote"), elsewhere / "copy", name="small")
    manifest = copy.commit_info("HEAD")[1].datasets["events"].manifest
    copy._repo.store.get(manifest)  # the manifest arrives; its pages would come next
    (elsewhere / "remote").rename(elsewhere / "offline")
    assert copy.fsck().ok
    assert copy.gc().removed == 0
    assert (elsewhere / "copy" / ".datakeep" / "objects" / manifest[:2] / manifest[2:]).exists()
    (elsewhere / "offline").rename(elsewhere / "remote")
    assert copy.read("events").equals(paged_repo.read("events"))
