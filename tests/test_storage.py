"""Storage grows by what changed: content-defined chunks are shared between versions."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datakeep import hash_objects
from datakeep.api import Repo
from datakeep.errors import CorruptObjectError
from datakeep.history import NothingToCommitError
from datakeep.ids import ObjectId
from datakeep.restore import read_chunk
from datakeep.rowhash import row_hashes
from datakeep.snapshot import BATCH_ROWS, decode_schema
from tests.conftest import make_table, objects_size, write

ROWS = 60_000


@pytest.fixture
def committed(repo: Repo, project: Path) -> tuple[Repo, Path, pa.Table]:
    table = make_table(ROWS)
    write(project / "t.parquet", table)
    repo.add(project / "t.parquet", name="t", key=["id"])
    repo.commit(message="v1")
    return repo, project / "t.parquet", table


def test_recommitting_identical_content_stores_nothing(committed: tuple[Repo, Path, pa.Table]) -> None:
    repo, path, table = committed
    before = objects_size(repo.root)
    pq.write_table(table, path, compression="zstd", row_group_size=999)  # same rows, other bytes
    with pytest.raises(NothingToCommitError):
        repo.commit(message="same again")
    assert objects_size(repo.root) == before
    assert [s.state for s in repo.status()] == ["unchanged"]


def test_append_stores_about_the_new_rows(committed: tuple[Repo, Path, pa.Table]) -> None:
    repo, path, table = committed
    old = repo.manifest("t")
    extra = make_table(ROWS // 100, seed=1, start_id=ROWS)
    pq.write_table(pa.concat_tables([table, extra]), path)
    repo.commit(message="append 1%")
    new = repo.manifest("t")
    old_ids = {c.id for c in old.chunks}
    rewritten_rows = sum(c.rows for c in new.chunks if c.id not in old_ids)
    # Only the new rows, plus the chunk that used to end the file (its end was not a boundary).
    assert rewritten_rows <= ROWS // 100 + old.chunks[-1].rows
    assert [c.id for c in new.chunks[: len(old.chunks) - 1]] == [c.id for c in old.chunks[:-1]]


def test_insert_in_the_middle_rewrites_only_nearby_chunks(committed: tuple[Repo, Path, pa.Table]) -> None:
    repo, path, table = committed
    middle = ROWS // 2
    inserted = make_table(50, seed=2, start_id=10 * ROWS)
    pq.write_table(pa.concat_tables([table.slice(0, middle), inserted, table.slice(middle)]), path)
    result = repo.commit(message="insert")
    assert result.written["chunks_written"] <= 3
    assert result.written["chunks_reused"] >= 3


def test_delete_in_the_middle_rewrites_only_nearby_chunks(committed: tuple[Repo, Path, pa.Table]) -> None:
    repo, path, table = committed
    pq.write_table(pa.concat_tables([table.slice(0, 20_000), table.slice(20_100)]), path)
    result = repo.commit(message="delete")
    assert result.written["chunks_written"] <= 2


def test_every_version_comes_back(committed: tuple[Repo, Path, pa.Table]) -> None:
    repo, path, table = committed
    versions = [table]
    for step in range(3):
        table = pa.concat_tables([table.slice(100), make_table(200, seed=step + 5, start_id=ROWS * (step + 2))])
        pq.write_table(table, path)
        repo.commit(message=f"v{step + 2}")
        versions.append(table)
    for back, expected in enumerate(reversed(versions)):
        assert repo.read("t", rev=f"HEAD~{back}").equals(expected)


def test_the_stat_cache_sees_a_rewrite_that_restored_its_mtime(committed: tuple[Repo, Path, pa.Table]) -> None:
    repo, path, _ = committed
    # Let the cache entry age past the "racy" window (a file modified in the same clock tick as
    # it was recorded is never trusted), then record it again.
    time.sleep(0.1)
    os.utime(path)
    time.sleep(0.1)
    with pytest.raises(NothingToCommitError):
        repo.commit(message="nothing")
    stat = path.stat()
    # Same size, same mtime, same inode, different bytes (`cp -p`, `rsync -a --inplace`, a backup
    # restored): the change time moved, as setting the mtime back moves it, so the cache, like
    # git's index, does not vouch for the file, and the change is seen.
    time.sleep(0.01)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    with open(path, "r+b") as handle:
        handle.write(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_mtime_ns == stat.st_mtime_ns and path.stat().st_size == stat.st_size
    assert [s.state for s in repo.status()] != ["unchanged"]


def test_status_sees_a_real_change(committed: tuple[Repo, Path, pa.Table]) -> None:
    repo, path, table = committed
    pq.write_table(table.slice(1), path)
    assert [s.state for s in repo.status()] == ["modified"]


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files `status` reads (hashes), in order: the real reads, only recorded."""
    import datakeep.snapshot as snapshot

    seen: list[Path] = []
    real_hash_file = snapshot.hash_file

    def hash_file_and_count(file: Path, *args: Any) -> tuple[str, pa.Schema, int]:
        seen.append(file)
        return real_hash_file(file, *args)

    monkeypatch.setattr(snapshot, "hash_file", hash_file_and_count)
    return seen


def test_status_confirms_a_racily_clean_entry_once(repo: Repo, project: Path, reads: list[Path]) -> None:
    path = project / "t.parquet"
    write(path, make_table(2000))
    repo.add(path, name="t")
    repo.commit(message="written and committed in the same instant")  # the entry is racy
    time.sleep(0.1)
    reads.clear()
    assert [s.state for s in repo.status()] == ["unchanged"]
    assert [s.state for s in repo.status()] == ["unchanged"]
    assert reads == [path]  # the first status re-read the file and confirmed it; the second did not


def test_status_refreshes_the_stat_of_a_touched_file_once(
    committed: tuple[Repo, Path, pa.Table], reads: list[Path]
) -> None:
    # A file touched (or copied, or checked out by git) with the same content is read by the
    # next status once, as git refreshes its index; after that the stat cache answers again.
    repo, path, table = committed
    time.sleep(0.1)
    os.utime(path)
    time.sleep(0.1)
    reads.clear()
    assert [s.state for s in repo.status()] == ["unchanged"]
    assert [s.state for s in repo.status()] == ["unchanged"]
    assert reads == [path]
    # Same rows in another encoding: the same snapshot, but the cached entry's schema would no
    # longer describe the file, so its stat is not trusted in its place.
    large = table.cast(
        pa.schema([f.with_type(pa.large_string()) if f.type == pa.string() else f for f in table.schema])
    )
    pq.write_table(large, path)
    time.sleep(0.1)
    reads.clear()
    assert [s.state for s in repo.status()] == ["unchanged"]
    assert [s.state for s in repo.status()] == ["unchanged"]
    assert reads == [path, path]


def test_read_ahead_hands_over_every_batch_in_order_and_stops_cleanly(tmp_path: Path) -> None:
    import threading

    from datakeep.errors import InputDataError
    from datakeep.parquet_io import iter_batches, open_parquet

    path = write(tmp_path / "t.parquet", make_table(10_000), row_group_size=1_000)
    plain = [b.column("id").to_pylist() for b in iter_batches(open_parquet(path), path, 700)]
    ahead = [b.column("id").to_pylist() for b in iter_batches(open_parquet(path), path, 700, read_ahead=2)]
    assert ahead == plain and sum(map(len, ahead)) == 10_000

    before = threading.active_count()
    for _ in iter_batches(open_parquet(path), path, 700, read_ahead=1):
        break  # a consumer that stops early must not leave the reader thread behind
    assert threading.active_count() == before

    damaged = tmp_path / "damaged.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 4096] = b"\xff" * 4096  # inside the column data
    damaged.write_bytes(bytes(data))
    with pytest.raises(InputDataError, match="damaged"):
        for _ in iter_batches(open_parquet(damaged), damaged, 700, read_ahead=2):
            pass
    assert threading.active_count() == before


def test_a_table_of_few_distinct_rows_costs_what_changed(repo: Repo, project: Path) -> None:
    """No key and only 30 distinct rows: each version deletes 1,000 rows and inserts 1,500. The
    row-hash sidecars compress (few distinct hashes) and patches follow runs of equal rows, so
    seven versions cost under three and a half files (each version stored whole: seven; before
    both fixes this table took twenty; about 3.0 with skip chains, whose patches repeat some
    versions' changes); every version still comes back exactly."""
    rng = np.random.default_rng(0)

    def rows(count: int) -> pa.Table:
        return pa.table(
            {
                "a": rng.integers(0, 5, count),
                "b": pa.array(rng.choice(["x", "y"], count)),
                "c": rng.integers(0, 3, count).astype(float),
            }
        )

    versions = [rows(300_000)]
    path = write(project / "d.parquet", versions[0])
    repo.add(path, name="d")
    repo.commit(message="v1")
    for number in range(2, 8):
        table = versions[-1]
        keep = np.ones(table.num_rows, dtype=bool)
        keep[rng.choice(table.num_rows, 1_000, replace=False)] = False
        table = table.filter(pa.array(keep))
        middle = table.num_rows // 3
        table = pa.concat_tables([table.slice(0, middle), rows(1_500), table.slice(middle)]).combine_chunks()
        versions.append(table)
        write(path, table)
        repo.commit(message=f"v{number}")
    assert objects_size(project) <= 3.5 * path.stat().st_size
    for back, expected in enumerate(reversed(versions)):
        assert repo.read("d", rev=f"HEAD~{back}").equals(expected)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=5_000), st.integers(min_value=1, max_value=2**64 - 1), st.integers(0, 2**32))
def test_row_hash_sidecars_round_trip(rows: int, distinct: int, seed: int) -> None:
    """Whichever form a sidecar takes (raw, or compressed when few hashes are distinct), it
    gives back exactly the hashes it was made from."""
    rng = np.random.default_rng(seed)
    palette = rng.integers(0, 2**64, size=min(distinct, 10_000), dtype=np.uint64)
    hashes = palette[rng.integers(0, len(palette), rows)]
    encoded = hash_objects.encode(hashes)
    assert len(encoded) <= 8 * rows or encoded.startswith(hash_objects.MAGIC)
    assert np.array_equal(hash_objects.decode(ObjectId("0" * 32), encoded), hashes)


def test_a_raw_sidecar_never_looks_compressed() -> None:
    """Random hashes whose first one spells the marker are stored compressed, so a reader never
    takes raw bytes for a compressed sidecar."""
    hashes = np.random.default_rng(1).integers(0, 2**64, size=100, dtype=np.uint64)
    hashes[0] = np.frombuffer(hash_objects.MAGIC, dtype="<u8")[0]
    encoded = hash_objects.encode(hashes)
    assert encoded.startswith(hash_objects.MAGIC) and len(encoded) > 8 * len(hashes)
    assert np.array_equal(hash_objects.decode(ObjectId("0" * 32), encoded), hashes)


def test_a_damaged_compressed_sidecar_is_a_clear_error() -> None:
    encoded = hash_objects.encode(np.zeros(10_000, dtype=np.uint64))
    assert encoded.startswith(hash_objects.MAGIC)
    with pytest.raises(CorruptObjectError, match="damaged compressed row hashes"):
        hash_objects.decode(ObjectId("ab" * 16), encoded[:-5])
    with pytest.raises(CorruptObjectError, match="not a whole number of hashes"):
        hash_objects.decode(ObjectId("ab" * 16), b"\x01" * 12)


def test_stored_row_hashes_are_those_of_the_chunk_rows_also_across_batches(repo: Repo, project: Path) -> None:
    """With a key, whole-row hashes are computed per decoded batch and cut per chunk: a chunk that
    spans two batches (65,536 rows each) must still get exactly its own rows' hashes."""
    table = make_table(2 * BATCH_ROWS + 5_000)
    write(project / "t.parquet", table)
    repo.add(project / "t.parquet", name="t", key=["id"])
    repo.commit(message="v1")
    manifest = repo.manifest("t")
    schema = decode_schema(manifest.files[0].schema)
    store = repo.repository.store
    starts = np.cumsum([0] + [c.rows for c in manifest.chunks])
    spanning = [
        (start + c.rows - 1) // BATCH_ROWS > start // BATCH_ROWS
        for start, c in zip(starts[:-1], manifest.chunks, strict=True)
    ]
    assert sum(spanning) >= 2
    for chunk in manifest.chunks:
        stored = hash_objects.decode(ObjectId(chunk.hashes), store.get(ObjectId(chunk.hashes)))
        assert np.array_equal(stored, row_hashes(read_chunk(store, chunk, schema)))


def _aged(path: Path) -> None:
    """Date a file's last write back, so the index trusts its stat (not racy)."""
    past = path.stat().st_mtime - 10
    os.utime(path, (past, past))


def test_the_index_keeps_no_statistics_and_unchanged_files_get_their_parents(repo: Repo, project: Path) -> None:
    """Statistics made most of the index, which `status` parses whole; a commit takes an
    unchanged file's from its parent's manifest, and they match what reading it gives."""
    folder = project / "events"
    parts = [
        write(folder / f"day={day}" / "part.parquet", make_table(300, seed=day, start_id=day * 1000))
        for day in range(4)
    ]
    for part in parts:
        _aged(part)
    repo.add(folder, name="events", key=["id"])
    repo.commit(message="four days")
    write(parts[2], make_table(320, seed=9, start_id=2000))
    result = repo.commit(message="day 2 again")
    assert result.written["files_cached"] == 3 and result.written["files_read"] == 1
    index = json.loads((project / ".datakeep" / "index.json").read_text())
    assert index["files"] and all("stats" not in f["entry"] for f in index["files"].values())

    scratch = Repo.init(project / "scratch")
    shutil.copytree(folder, project / "scratch" / "events")
    scratch.add(project / "scratch" / "events", name="events", key=["id"])
    scratch.commit(message="read whole")
    assert repo.manifest("events").stats == scratch.manifest("events").stats
    assert repo.manifest("events").to_dict()["files"] == scratch.manifest("events").to_dict()["files"]


def test_a_new_definition_after_a_checkout_keeps_the_statistics(repo: Repo, project: Path) -> None:
    """`checkout` an older version, then `add` it again with a key: the unchanged file's
    statistics come from that version (they were once committed empty)."""
    path = write(project / "t.parquet", make_table(1_000))
    repo.add(path, name="t")
    first = repo.commit(message="one").id
    write(path, make_table(1_100))
    repo.commit(message="two")
    repo.checkout(first)
    old_stats = repo.manifest("t", rev=first).stats
    repo.add(path, name="t", key=["id"])
    repo.commit(message="keyed")
    assert repo.manifest("t").key == ("id",)
    assert repo.manifest("t").stats == old_stats and old_stats


def test_a_wide_table_is_read_in_fewer_rows_per_batch() -> None:
    from datakeep.snapshot import BATCH_BYTES, batch_rows_for

    narrow = make_table(10).schema
    assert batch_rows_for(narrow) == BATCH_ROWS
    wide = pa.schema(
        [pa.field(f"s{i}", pa.string()) for i in range(200)] + [pa.field(f"f{i}", pa.float64()) for i in range(200)]
    )
    rows = batch_rows_for(wide)
    assert rows == 8192 and rows * (200 * 32 + 200 * 8) <= BATCH_BYTES
    assert BATCH_ROWS % rows == 0  # batches still end on the hash blocks' bounds
    huge = pa.schema([pa.field(f"c{i}", pa.int64()) for i in range(100_000)])
    assert batch_rows_for(huge) == 1024


def test_a_wide_table_keeps_its_id_and_comes_back(repo: Repo, project: Path) -> None:
    """Batches of a wide table are cut shorter; its id is still the whole table's content id."""
    from datakeep.hashing import content_id

    columns = {f"c{i}": pa.array(np.arange(20_000, dtype=np.int64) * i) for i in range(300)}
    columns.update({f"s{i}": pa.array([f"v{j % 97}-{i}" for j in range(20_000)]) for i in range(40)})
    table = pa.table(columns)
    write(project / "wide.parquet", table, row_group_size=7_000)
    repo.add("wide.parquet", name="wide")
    repo.commit(message="wide")
    assert repo.manifest("wide").id == str(content_id(table))
    assert repo.read("wide").equals(table)


@given(st.integers(min_value=1, max_value=20_000))
def test_read_buffers_of_a_wide_file_stay_within_their_budget(columns: int) -> None:
    """Every column of a streamed file keeps its own read buffer: narrow files get 1 MiB each,
    wide ones share a fixed budget, down to a floor."""
    from datakeep import parquet_io

    size = parquet_io.read_buffer_bytes(columns)
    assert parquet_io.MIN_READ_BUFFER_BYTES <= size <= parquet_io.READ_BUFFER_BYTES
    assert columns * size <= parquet_io.READ_BUFFERS_BUDGET or size == parquet_io.MIN_READ_BUFFER_BYTES
    if columns <= 64:
        assert size == parquet_io.READ_BUFFER_BYTES


def test_a_wide_file_streams_and_restores_exactly(repo: Repo, project: Path) -> None:
    table = pa.table({f"c{i}": pa.array([f"{i}-{r}" for r in range(300)]) for i in range(700)})
    pq.write_table(table, project / "wide.parquet")
    repo.add(project / "wide.parquet", name="wide")
    repo.commit(message="wide")
    repo.checkout("HEAD", name="wide", output=project / "back.parquet")
    assert pq.read_table(project / "back.parquet").equals(table)


def test_a_column_of_large_values_is_cut_and_restored_in_bounded_pieces(repo: Repo, project: Path) -> None:
    """Images or documents in a column (here 64 KiB a row): batches, chunks and restored row
    groups are sized by bytes, not held 1,024 rows (or a million) at a time."""
    from datakeep import restore, snapshot
    from datakeep.chunking import ChunkParams

    rng = np.random.default_rng(5)
    blobs = [rng.bytes(64 * 1024) for _ in range(600)]
    table = pa.table({"id": np.arange(600), "blob": pa.array(blobs, pa.binary())})
    pq.write_table(table, project / "blobs.parquet", row_group_size=200)
    metadata = pq.read_metadata(project / "blobs.parquet")
    assert snapshot.batch_rows_for(table.schema, metadata) * 64 * 1024 <= snapshot.BATCH_BYTES
    assert snapshot.batch_rows_for(table.schema) == snapshot.BATCH_ROWS  # types alone: no cap
    assert ChunkParams.for_row_width(64 * 1024).avg_rows == 256  # 16 MiB, not 1,024 rows
    assert ChunkParams.for_row_width(43) == ChunkParams.for_row_width(43.0)  # narrow rows as before
    assert ChunkParams.for_row_width(2500).avg_rows == 4096  # 400 columns: 10 MiB, not 2,048 rows
    repo.add(project / "blobs.parquet", name="blobs", key=["id"])
    repo.commit(message="blobs")
    assert repo.read("blobs").equals(table)
    monkey = restore.RESTORE_ROW_GROUP_BYTES
    restore.RESTORE_ROW_GROUP_BYTES = 1024 * 1024  # every chunk (4 MiB and more) ends a row group
    try:
        repo.checkout("HEAD", name="blobs", output=project / "back.parquet")
    finally:
        restore.RESTORE_ROW_GROUP_BYTES = monkey
    assert pq.read_table(project / "back.parquet").equals(table)
    assert pq.read_metadata(project / "back.parquet").num_row_groups > 1
