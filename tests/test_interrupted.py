"""Commands stopped part-way (a full disk, a kill) leave a repository the next run finishes, and
nothing a later commit would record by mistake: found by an operator's robustness sweep. A write
failure is injected where the disk would fail; everything else is real."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datakeep import restore
from datakeep.api import Repo
from datakeep.errors import DatasetError
from datakeep.records.index import Index


def fail_after(monkeypatch: pytest.MonkeyPatch, writes: int) -> None:
    """The disk fills after ``writes`` restored files."""
    real = restore.write_file_entry
    done = [0]

    def write(*args: object, **kwargs: object) -> object:
        if done[0] >= writes:
            raise OSError(errno.ENOSPC, "No space left on device")
        done[0] += 1
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(restore, "write_file_entry", write)


def parts(folder: Path, value: int, count: int = 4) -> None:
    for i in range(count):
        pq.write_table(pa.table({"id": [i], "v": [value]}), folder / f"p{i}.parquet")


def values(folder: Path) -> list[int]:
    return [pq.read_table(p).column("v")[0].as_py() for p in sorted(folder.glob("p*.parquet"))]


def test_a_folder_checkout_stopped_part_way_is_finished_by_running_it_again(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = repo.root / "parts"
    folder.mkdir()
    parts(folder, 0)
    repo.add(folder, name="parts")
    repo.commit(message="zeros")
    repo.tag("zeros")
    parts(folder, 1)
    repo.commit(message="ones")
    with monkeypatch.context() as patched:
        fail_after(patched, 2)
        with pytest.raises(OSError):
            repo.checkout("zeros")
    assert sorted(values(folder)) == [0, 0, 1, 1]  # a mix of the two versions, HEAD unmoved
    # Refused as "uncommitted changes" before: the mix was left for a commit to record.
    repo.checkout("zeros")
    assert values(folder) == [0, 0, 0, 0]
    assert [s.state for s in repo.status()] == ["unchanged"]


def test_a_merge_stopped_while_restoring_leaves_head_and_is_finished_by_running_it_again(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = repo.root / "d.parquet"
    pq.write_table(pa.table({"v": [1]}), path)
    repo.add(path, name="d")
    repo.commit(message="base")
    repo.branch("feature")
    repo.switch("feature")
    pq.write_table(pa.table({"v": [9]}), path)
    repo.commit(message="nine")
    repo.switch("main")
    before = repo.resolve("HEAD")
    with monkeypatch.context() as patched:
        fail_after(patched, 0)
        with pytest.raises(OSError):
            repo.merge("feature")
    # HEAD moved first, the next commit would have recorded v=1 again: a revert of the merge.
    assert repo.resolve("HEAD") == before
    repo.merge("feature")
    assert repo.resolve("HEAD") == repo.resolve("feature")
    assert pq.read_table(path).column("v").to_pylist() == [9]


def test_a_commit_whose_index_cannot_be_saved_still_stands_and_says_so(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = repo.root / "d.parquet"
    pq.write_table(pa.table({"v": [1]}), path)
    repo.add(path, name="d")

    def full(self: Index) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Index, "save", full)
    result = repo.commit(message="first")
    assert repo.resolve("HEAD") == result.id
    (warning,) = result.warnings
    assert "the commit is made" in warning and "No space left on device" in warning


def test_gc_removes_temp_files_interrupted_restores_left_beside_the_data(repo: Repo) -> None:
    path = repo.root / "d.parquet"
    pq.write_table(pa.table({"v": [1]}), path)
    folder = repo.root / "parts"
    folder.mkdir()
    parts(folder, 0, count=1)
    repo.add(path, name="d")
    repo.add(folder, name="parts")
    repo.commit(message="one")
    rows = repo.root / ".datakeep" / "cache" / "rows"  # a killed commit's row index, or its spare
    left = [
        repo.root / ".tmp-d.parquet-999999-1-0.parquet",
        folder / ".tmp-p0.parquet-999999-1-1.parquet",
        rows / ".tmp-0123456789ab-999999-1-2.arrow",
    ]
    for leftover in left:
        leftover.write_bytes(b"half a file")
    mine = repo.root / ".tmp-notes"
    mine.write_text("a user's own file")
    assert repo.gc(dry_run=True).temp_files == 3 and all(p.exists() for p in left)
    assert repo.gc().temp_files == 3
    assert not any(p.exists() for p in left) and mine.exists()


def test_a_file_name_that_is_not_utf8_is_refused_by_name(repo: Repo) -> None:
    folder = repo.root / "parts"
    folder.mkdir()
    parts(folder, 0, count=1)
    repo.add(folder, name="parts")
    pq.write_table(pa.table({"id": [5], "v": [5]}), folder / "latin.parquet")
    os.rename(folder / "latin.parquet", folder / os.fsdecode(b"p\xe9.parquet"))  # pyarrow takes UTF-8 paths only
    with pytest.raises(DatasetError, match=r"p\\xe9.parquet: the file name is not UTF-8"):
        repo.commit(message="latin-1 name")
