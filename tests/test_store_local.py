"""The local object store answers `has` from the file system, and a commit that takes a file's
chunks over from the stat cache still stores again a chunk the store lost."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datakeep.api import Repo
from datakeep.errors import InvalidIdError
from datakeep.store.local import LocalStore


def test_has_answers_for_stored_missing_and_unlike_ids(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "objects", durable=False)
    oid, _ = store.put(b"hello")
    missing = ("f" if oid[0] != "f" else "e") + oid[1:]
    assert store.has(oid) and not store.has(missing)
    (tmp_path / "objects" / missing[:2]).write_bytes(b"")  # a file where a fan-out folder goes
    assert not store.has(missing)
    for unlike in ("../" + oid[3:], oid.upper(), oid[:-1], ""):
        with pytest.raises(InvalidIdError):
            store.has(unlike)  # type: ignore[arg-type]
    store.delete(oid)
    assert not store.has(oid)


def test_a_file_whose_chunk_the_store_lost_is_read_again(tmp_path: Path) -> None:
    """The stat cache vouches for a file's content, not for its chunks still being stored."""
    folder = tmp_path / "events"
    folder.mkdir()
    for i in range(3):
        pq.write_table(pa.table({"id": [i, i + 10], "v": [float(i), 0.5]}), folder / f"p{i}.parquet")
    time.sleep(0.1)  # past the racy window: the stat cache vouches for the files from now on
    repo = Repo.init(tmp_path)
    repo.add(folder, name="events", key=["id"])
    repo.commit(message="three parts")
    pq.write_table(pa.table({"id": [2, 12], "v": [9.0, 0.5]}), folder / "p2.parquet")
    time.sleep(0.1)
    storage = repo.repository
    head = storage.head()
    assert head is not None
    manifest = storage.manifest_at(storage.commit_at(head).datasets["events"].manifest)
    storage.store.delete(manifest.files[0].chunks[0].object)
    written = repo.commit(message="one part changed").written
    assert (written["files_read"], written["files_cached"]) == (2, 1)
