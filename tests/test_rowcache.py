"""The row-index cache: commits read the parent's row hashes and keys from it instead of rebuilding
them through patch chains. It may only ever change speed, never an answer."""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from datakeep import rowcache, rowcache_files
from datakeep.api import Repo
from datakeep.cli import cli
from datakeep.repo import Repository
from tests.conftest import SMALL_CHUNKS, make_table

ROWS = 30_000


def edited(table: pa.Table, seed: int) -> tuple[pa.Table, dict[str, int]]:
    """Scattered edits: 2% of rows modified, 1% deleted, 1% inserted at random places."""
    rng = np.random.default_rng(seed)
    n = table.num_rows
    modify = rng.choice(n, n // 50, replace=False)
    amount = table.column("amount").to_numpy().copy()
    amount[modify] += 1.0
    table = table.set_column(table.schema.get_field_index("amount"), "amount", pa.array(amount))
    keep = np.ones(n, dtype=bool)
    deleted = rng.choice(np.setdiff1d(np.arange(n), modify), n // 100, replace=False)
    keep[deleted] = False
    table = table.filter(pa.array(keep))
    new_rows = make_table(n // 100, seed=seed, start_id=10**7 * seed)
    for row in sorted(rng.choice(table.num_rows, new_rows.num_rows, replace=False), reverse=True):
        position = int(row)
        table = pa.concat_tables([table.slice(0, position), new_rows.slice(0, 1), table.slice(position)])
        new_rows = new_rows.slice(1)
    expected = {"added": n // 100, "removed": n // 100, "modified": n // 50}
    return table.combine_chunks(), expected


def chain(
    root: Path, *, drop_cache: bool = False, damage_cache: bool = False, shift_cache: str | None = None
) -> tuple[Repo, list[dict[str, Any]]]:
    """Commit v1 and three edited versions; returns the per-commit summaries of dataset ``d``.
    ``damage_cache`` truncates each cached index before a commit; ``shift_cache`` moves one of its
    columns down a row, every other byte of the file (metadata included) as the commit wrote it."""
    repo = Repo.init(root, chunk_bytes=SMALL_CHUNKS)
    path = root / "d.parquet"
    table = make_table(ROWS)
    pq.write_table(table, path)
    repo.add(path, name="d", key=["id"])
    summaries = [repo.commit(message="v1").commit.summary["d"]]
    for seed in (1, 2, 3):
        table, _ = edited(table, seed)
        pq.write_table(table, path)
        cache = root / ".datakeep" / "cache" / "rows"
        if drop_cache:
            shutil.rmtree(cache, ignore_errors=True)
        if damage_cache:
            for file in cache.iterdir():
                file.write_bytes(file.read_bytes()[:100])
        if shift_cache:
            for file in cache.iterdir():
                _shift(file, shift_cache)
        summaries.append(repo.commit(message=f"v{seed + 1}").commit.summary["d"])
    return repo, summaries


def _shift(file: Path, column: str) -> None:
    table = pa.ipc.open_file(pa.py_buffer(file.read_bytes())).read_all()
    at = table.schema.get_field_index(column)
    shifted = pa.array(np.roll(table.column(at).to_numpy(), 1))
    table = table.set_column(at, table.schema.field(at), shifted)
    file.chmod(0o644)
    with pa.ipc.new_file(str(file), table.schema) as writer:
        writer.write_table(table)


def test_summary_counts_scattered_edits_exactly(tmp_path: Path) -> None:
    table = make_table(ROWS)
    _, summaries = chain(tmp_path)
    for seed, summary in zip((1, 2, 3), summaries[1:], strict=True):
        table, expected = edited(table, seed)
        assert summary["rows"] == expected


def test_cache_changes_nothing_but_time(tmp_path: Path) -> None:
    cached, with_cache = chain(tmp_path / "cached")
    uncached, without_cache = chain(tmp_path / "uncached", drop_cache=True)
    damaged, with_damage = chain(tmp_path / "damaged", damage_cache=True)
    assert with_cache == without_cache == with_damage
    manifests = [r.manifest("d") for r in (cached, uncached, damaged)]
    assert len({m.id for m in manifests}) == 1
    assert manifests[0].chunks == manifests[1].chunks == manifests[2].chunks
    for repo in (cached, uncached, damaged):
        assert repo.fsck().ok


@pytest.mark.parametrize("column", [rowcache.HASH_COLUMN, "id"])
def test_an_index_whose_contents_were_damaged_is_ignored(tmp_path: Path, column: str) -> None:
    """Row hashes a row out of place, under intact metadata (a torn rewrite leaves such a file),
    would align changed rows with the wrong old ones: the patches would store wrong rows. Keys
    out of place would miscount the summary."""
    cached, with_cache = chain(tmp_path / "cached")
    shifted, with_shift = chain(tmp_path / "shifted", shift_cache=column)
    assert with_shift == with_cache
    assert shifted.manifest("d").chunks == cached.manifest("d").chunks
    for rev in ("HEAD~2", "HEAD~1", "HEAD"):
        assert shifted.read("d", rev=rev).equals(cached.read("d", rev=rev))
    assert shifted.fsck(full=True).ok


def test_a_dataset_too_big_for_an_index_gets_none_and_the_same_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ``MAX_ROWS`` no index is built, kept or read (it would make memory grow with the
    dataset), and a commit's summary leaves out the row counts (``datakeep diff`` gives them);
    everything else in the summaries, the stored chunks and a diff stay exactly the same."""
    cached, with_cache = chain(tmp_path / "cached")
    monkeypatch.setattr(rowcache, "MAX_ROWS", ROWS // 3)
    big, without_index = chain(tmp_path / "big")
    assert not list((tmp_path / "big" / ".datakeep" / "cache" / "rows").glob("*.arrow"))
    assert all("rows" not in summary for summary in without_index[1:])
    assert [{k: v for k, v in summary.items() if k != "rows"} for summary in with_cache[1:]] == without_index[1:]
    assert cached.manifest("d").chunks == big.manifest("d").chunks
    runner = CliRunner()
    answers = [
        runner.invoke(cli, ["-C", str(tmp_path / name), "diff", "HEAD~3", "HEAD", "--json"])
        for name in ("cached", "big")
    ]
    assert answers[0].exit_code == answers[1].exit_code == 0
    assert '"changed": true' in answers[0].output
    assert answers[0].output == answers[1].output
    assert big.fsck().ok


def test_an_index_builder_stops_keeping_rows_past_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rowcache, "MAX_ROWS", 10)
    builder = rowcache.RowIndexBuilder(("id",))
    builder.add(pa.table({"id": list(range(8))}), np.arange(8, dtype=np.uint64))
    assert builder.collecting
    builder.add(pa.table({"id": list(range(8, 16))}), np.arange(8, dtype=np.uint64))
    assert not builder.collecting and not builder._parts


def test_cache_matches_what_the_store_rebuilds(tmp_path: Path) -> None:
    repo, _ = chain(tmp_path)
    _, manifest, index = _cached_head(tmp_path)
    assert any(chunk.depth for chunk in manifest.chunks)  # the chain really is patched
    table = repo.read("d")
    from datakeep.rowhash import row_hashes

    assert np.array_equal(index.hashes, row_hashes(table))
    assert index.keys.column("id").equals(table.column("id"))


def test_only_recent_indexes_are_kept(tmp_path: Path) -> None:
    repo = Repo.init(tmp_path, chunk_bytes=SMALL_CHUNKS)
    path = tmp_path / "d.parquet"
    for version in range(rowcache.KEEP + 3):
        table = make_table(2_000 + version)
        pq.write_table(table, path)
        if version == 0:
            repo.add(path, name="d", key=["id"])
        repo.commit(message=f"v{version}")
    assert len(list((tmp_path / ".datakeep" / "cache" / "rows").iterdir())) == rowcache.KEEP


def test_indexes_are_kept_per_dataset(tmp_path: Path) -> None:
    """A dataset that changes rarely keeps its index while another commits again and again, and
    indexes of the layout before (named by snapshot id alone) are dropped."""
    repo = Repo.init(tmp_path, chunk_bytes=SMALL_CHUNKS)
    folder = tmp_path / ".datakeep" / "cache" / "rows"
    for name in ("busy", "quiet"):
        pq.write_table(make_table(1_000), tmp_path / f"{name}.parquet")
        repo.add(tmp_path / f"{name}.parquet", name=name, key=["id"])
    repo.commit(message="both")
    legacy = folder / f"{'0' * 32}.arrow"
    legacy.write_bytes(b"an index of the old layout")
    for version in range(rowcache.KEEP + 3):
        pq.write_table(make_table(1_100 + version), tmp_path / "busy.parquet")
        repo.commit(message=f"busy v{version}")
    storage = Repository.discover(tmp_path)
    assert rowcache.load(storage, storage.manifest_at(_manifest_oid(storage, "HEAD", "quiet"))) is not None
    assert rowcache.load(storage, storage.manifest_at(_manifest_oid(storage, "HEAD", "busy"))) is not None
    assert not legacy.exists()
    assert len(list(folder.iterdir())) == rowcache.KEEP + 1


def test_index_for_another_manifest_is_refused(tmp_path: Path) -> None:
    repo, _ = chain(tmp_path)
    storage, manifest, _ = _cached_head(tmp_path)
    # Same snapshot id, other key: the cached keys do not fit, so the cache is not used.
    other = type(manifest).from_dict({**manifest.to_dict(), "key": ["email"]})
    assert rowcache.load(storage, other) is None
    fewer = type(manifest).from_dict({**manifest.to_dict(), "rows": manifest.rows - 1})
    assert rowcache.load(storage, fewer) is None
    del repo


def test_unkeyed_dataset_gets_an_index_too(tmp_path: Path) -> None:
    repo = Repo.init(tmp_path, chunk_bytes=SMALL_CHUNKS)
    path = tmp_path / "d.parquet"
    table = make_table(ROWS)
    pq.write_table(table, path)
    repo.add(path, name="d")
    repo.commit(message="v1")
    pq.write_table(table.filter(pc.not_equal(pc.bit_wise_and(table.column("id"), 63), 0)), path)
    summary = repo.commit(message="v2").commit.summary["d"]
    assert summary["rows"] == {"added": 0, "removed": ROWS // 64 + (1 if ROWS % 64 else 0)}
    storage = Repository.discover(tmp_path)
    manifest = storage.manifest_at(_manifest_oid(storage, "HEAD"))
    index = rowcache.load(storage, manifest)
    assert index is not None and index.keys.num_columns == 0 and len(index.hashes) == manifest.rows


def test_init_chunk_bytes_sets_the_chunk_size(tmp_path: Path) -> None:
    table = make_table(ROWS)
    counts = []
    for name, args in (("small", ["--chunk-bytes", "65536"]), ("default", [])):
        root = tmp_path / name
        root.mkdir()
        result = CliRunner().invoke(cli, ["init", str(root), *args])
        assert result.exit_code == 0, result.output
        pq.write_table(table, root / "d.parquet")
        repo = Repo.open(root)
        repo.add(root / "d.parquet", name="d")
        repo.commit(message="v1")
        counts.append(len(repo.manifest("d").chunks))
    assert counts[0] > 4 * counts[1]
    refused = CliRunner().invoke(cli, ["init", str(tmp_path / "tiny"), "--chunk-bytes", "10"])
    assert refused.exit_code == 2


def test_diff_answers_the_same_from_the_cache_as_from_the_store(tmp_path: Path) -> None:
    repo, _ = chain(tmp_path)
    storage = Repository.discover(tmp_path)
    for rev in ("HEAD", "HEAD~3"):
        assert rowcache.load(storage, storage.manifest_at(_manifest_oid(storage, rev))) is not None
    cached = repo.diff("HEAD~3", "HEAD").to_dict()
    shutil.rmtree(tmp_path / ".datakeep" / "cache" / "rows")
    from_store = repo.diff("HEAD~3", "HEAD").to_dict()
    assert cached == from_store
    rows = cached["datasets"][0]["rows"]
    assert rows["modified"] > 0 and rows["added"] > 0 and rows["removed"] > 0


def test_partitioned_join_of_an_indexed_and_a_plain_side(tmp_path: Path) -> None:
    from datakeep.diff.rows import RowOptions, compare_rows
    from datakeep.diff.schema import column_plan
    from datakeep.diff.sources import SnapshotSide

    chain(tmp_path)
    storage = Repository.discover(tmp_path)
    old_manifest = storage.manifest_at(_manifest_oid(storage, "HEAD~3"))
    new_manifest = storage.manifest_at(_manifest_oid(storage, "HEAD"))
    index = rowcache.load(storage, new_manifest)
    assert index is not None
    outcomes = []
    for indexed, partition_rows in ((False, 10**9), (True, 10**9), (True, 7_000)):
        old = SnapshotSide(storage.store, old_manifest, "old")
        new = SnapshotSide(storage.store, new_manifest, "new", rows=index if indexed else None)
        options = RowOptions(
            dataset="d", key=("id",), plan=column_plan(old.columns, new.columns), partition_rows=partition_rows
        )
        outcomes.append(compare_rows(old, new, options))
    assert outcomes[2].chunks["passes"] > 1
    first = outcomes[0]
    for other in outcomes[1:]:
        assert (other.counts, other.cells, other.samples) == (first.counts, first.cells, first.samples)


def _manifest_oid(storage: Repository, rev: str, name: str = "d") -> Any:
    from datakeep.revisions import resolve

    return storage.commit_at(resolve(storage, rev)).datasets[name].manifest


@pytest.mark.parametrize(
    "key",
    [("region", "count"), (), ("note",)],
    ids=["composite-with-duplicates", "keyless", "nullable-string-with-duplicates"],
)
def test_diff_from_the_cache_equals_the_store_for_any_key(tmp_path: Path, key: tuple[str, ...]) -> None:
    repo = Repo.init(tmp_path, chunk_bytes=SMALL_CHUNKS)
    path = tmp_path / "d.parquet"
    table = make_table(6_000)
    pq.write_table(table, path)
    repo.add(path, name="d", key=list(key))
    repo.commit(message="v1")
    pq.write_table(edited(table, 1)[0], path)
    repo.commit(message="v2")
    cached = repo.diff("HEAD~1", "HEAD", allow_duplicate_keys=True).to_dict()
    shutil.rmtree(tmp_path / ".datakeep" / "cache" / "rows")
    assert repo.diff("HEAD~1", "HEAD", allow_duplicate_keys=True).to_dict() == cached
    rows = cached["datasets"][0]["rows"]
    assert rows["added"] > 0 and rows["removed"] > 0


def _cached_head(root: Path) -> tuple[Repository, Any, rowcache.RowIndex]:
    """The repository at ``root``, HEAD's manifest of ``d`` and its cached row index (asserted)."""
    storage = Repository.discover(root)
    manifest = storage.manifest_at(_manifest_oid(storage, "HEAD"))
    index = rowcache.load(storage, manifest)
    assert index is not None
    return storage, manifest, index


def test_a_key_named_like_the_hash_column_gets_no_index_and_still_commits(tmp_path: Path) -> None:
    repo = Repo.init(tmp_path)
    path = tmp_path / "a.parquet"
    pq.write_table(pa.table({rowcache.HASH_COLUMN: np.arange(100), "v": np.ones(100, np.int64)}), path)
    repo.add(path, name="a", key=(rowcache.HASH_COLUMN,))
    repo.commit(message="v1")
    pq.write_table(pa.table({rowcache.HASH_COLUMN: np.arange(100), "v": np.full(100, 2, np.int64)}), path)
    repo.commit(message="v2")
    assert not list((tmp_path / ".datakeep" / "cache" / "rows").glob("*.arrow"))
    assert repo.diff("HEAD~1", "HEAD").dataset("a").rows.modified == 100


def test_a_new_key_on_unchanged_data_commits(tmp_path: Path) -> None:
    """`add` again with a key, data untouched: the file is taken over unread, and the parent's
    index holds no key columns to give it; the commit must still go through (it once failed
    with a KeyError), and the next commit and diff by that key answer right."""
    repo = Repo.init(tmp_path, chunk_bytes=SMALL_CHUNKS)
    path = tmp_path / "d.parquet"
    table = make_table(3_000)
    pq.write_table(table, path)
    repo.add(path, name="d")
    repo.commit(message="no key")
    repo.add(path, name="d", key=["id"])
    keyed = repo.commit(message="keyed")
    assert keyed.changed == ("d",) and repo.manifest("d").key == ("id",)
    pq.write_table(table.slice(0, 2_990), path)
    repo.commit(message="ten fewer")
    rows = repo.diff("HEAD~1", "HEAD").to_dict()["datasets"][0]["rows"]
    assert (rows["removed"], rows["added"], rows["modified"]) == (10, 0, 0)


def test_bases_older_than_the_parent_come_from_their_cached_indexes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Patches form a skip chain: the third version of a chunk is patched against the first, not
    against its parent. The first version's hashes come from its cached row index, not from its
    sidecar or its patches; without that index they are read the slow way, to the same chunks."""
    from datakeep import patches

    def commit_three(root: Path, keep_older: bool) -> tuple[Repo, list[str]]:
        repo = Repo.init(root, chunk_bytes=SMALL_CHUNKS)
        path = root / "d.parquet"
        table = make_table(ROWS)
        pq.write_table(table, path)
        repo.add(path, name="d", key=["id"])
        repo.commit(message="v1")
        rebuilt: list[str] = []
        for seed in (1, 2):
            table, _ = edited(table, seed)
            pq.write_table(table, path)
            if seed == 2:
                cache = root / ".datakeep" / "cache" / "rows"
                if not keep_older:  # only the parent's index is left
                    parent = repo.manifest("d").id
                    for file in cache.iterdir():
                        if parent not in file.name:
                            file.unlink()
                # A new process knows no hashes but those on disk.
                monkeypatch.setattr(patches, "_HASHES", patches._Memo(patches._HASHES.limit))

                def spy(
                    store: Any, oid: Any, hashes_oid: str, depth: int = 0, original: Any = patches._rebuild_hashes
                ) -> np.ndarray:
                    rebuilt.append(oid)
                    return original(store, oid, hashes_oid, depth)  # type: ignore[no-any-return]

                monkeypatch.setattr(patches, "_rebuild_hashes", spy)
            repo.commit(message=f"v{seed + 1}")
        monkeypatch.undo()
        return repo, rebuilt

    repo, rebuilt = commit_three(tmp_path / "kept", keep_older=True)
    first = {c.object for c in repo.manifest("d", "HEAD~2").chunks}
    patched_on_first = [c for c in repo.manifest("d").chunks if c.depth == 1 and c.bases[0] in first]
    assert patched_on_first, "the third version should patch against the first"
    assert rebuilt == []
    slow, rebuilt_slowly = commit_three(tmp_path / "pruned", keep_older=False)
    assert rebuilt_slowly
    assert slow.manifest("d").chunks == repo.manifest("d").chunks


def _indexes(root: Path) -> dict[str, os.stat_result]:
    return {file.name: file.stat() for file in (root / ".datakeep" / "cache" / "rows").iterdir()}


def _commit_versions(root: Path, sizes: list[int]) -> Repo:
    """Commit a keyed dataset once per size (rows), each version a table of that many rows."""
    repo = Repo.init(root, chunk_bytes=SMALL_CHUNKS)
    path = root / "d.parquet"
    for version, rows in enumerate(sizes):
        pq.write_table(make_table(rows, seed=version), path)
        if version == 0:
            repo.add(path, name="d", key=["id"])
        repo.commit(message=f"v{version}")
    return repo


def _manifest_named(storage: Repository, file_name: str) -> Any:
    """The manifest of ``d`` whose cached index is the file ``file_name``, walking back from HEAD."""
    from datakeep.revisions import resolve

    commit = storage.commit_at(resolve(storage, "HEAD"))
    while True:
        manifest = storage.manifest_at(commit.datasets["d"].manifest)
        if manifest.id in file_name:
            return manifest
        commit = storage.commit_at(commit.parents[0])


@pytest.mark.parametrize("shrinking", [True, False], ids=["smaller-than-the-dropped", "larger"])
def test_a_save_writes_over_the_index_it_drops(tmp_path: Path, shrinking: bool) -> None:
    """Past `KEEP` indexes, a commit's index is written into the file of the one it drops (whose
    pages the system already holds), cut to its own length, and loads as the store rebuilds it."""
    sizes = [3_000 - 100 * v if shrinking else 2_000 + 100 * v for v in range(rowcache.KEEP + 1)]
    repo = _commit_versions(tmp_path, sizes[:-1])
    before = _indexes(tmp_path)
    dropped = min(before, key=lambda name: before[name].st_mtime_ns)
    pq.write_table(make_table(sizes[-1], seed=99), tmp_path / "d.parquet")
    repo.commit(message="one more")
    after = _indexes(tmp_path)
    (new,) = set(after) - set(before)
    assert set(before) - set(after) == {dropped}
    assert after[new].st_ino == before[dropped].st_ino
    _, _, index = _cached_head(tmp_path)
    from datakeep.rowhash import row_hashes

    table = repo.read("d")
    assert np.array_equal(index.hashes, row_hashes(table))
    assert index.keys.column("id").equals(table.column("id"))
    assert not [name for name in after if name.startswith(".tmp-")]


def test_an_index_a_reader_has_mapped_is_never_written_over(tmp_path: Path) -> None:
    """A reader (a diff of old versions, in this process or another) holds the index it mapped:
    the save unlinks that one instead, and the reader's rows stay what they were."""
    repo = _commit_versions(tmp_path, [2_000 + 100 * v for v in range(rowcache.KEEP)])
    before = _indexes(tmp_path)
    dropped = min(before, key=lambda name: before[name].st_mtime_ns)
    storage = Repository.discover(tmp_path)
    held = rowcache.load(storage, _manifest_named(storage, dropped))
    assert held is not None
    hashes, keys = held.hashes.copy(), held.keys.column("id").to_pylist()
    pq.write_table(make_table(2_500, seed=99), tmp_path / "d.parquet")
    repo.commit(message="one more")
    after = _indexes(tmp_path)
    (new,) = set(after) - set(before)
    assert dropped not in after
    assert after[new].st_ino != before[dropped].st_ino
    assert np.array_equal(held.hashes, hashes)
    assert held.keys.column("id").to_pylist() == keys
    _, _, index = _cached_head(tmp_path)
    assert index.hashes.size == 2_500
    del held


def test_an_index_being_rewritten_is_not_read(tmp_path: Path) -> None:
    """While a save holds an index exclusively (rewriting it) a reader takes it as missing."""
    _commit_versions(tmp_path, [2_000])
    storage, manifest, index = _cached_head(tmp_path)
    del index  # its mapping holds the file shared, as readers do
    (name,) = _indexes(tmp_path)
    fd = os.open(tmp_path / ".datakeep" / "cache" / "rows" / name, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert rowcache.load(storage, manifest) is None
    finally:
        os.close(fd)
    assert rowcache.load(storage, manifest) is not None


@pytest.mark.parametrize("key", [["id"], []], ids=["keyed", "unkeyed"])
def test_the_index_holds_every_row_hash_after_an_append_and_edits(tmp_path: Path, key: list[str]) -> None:
    """A commit hashes the file's rows into the index's own array; the rows it does not read (a
    resumed append's first blocks), and chunks it finds unchanged, are filled in from the
    parent's index. Either way the index is every row's hash, in order."""
    from datakeep.rowhash import row_hashes

    repo = Repo.init(tmp_path, chunk_bytes=SMALL_CHUNKS)
    path = tmp_path / "d.parquet"
    table = make_table(150_000)
    appended = pa.concat_tables([table, make_table(3_000, seed=1, start_id=150_000)])
    amount = appended.column("amount").to_numpy().copy()
    amount[70_000:70_050] += 1.0  # edits in one place: the chunks elsewhere stay as they were
    local_edit = appended.set_column(appended.schema.get_field_index("amount"), "amount", pa.array(amount))
    versions = [table, appended, local_edit]
    for number, version in enumerate(versions):
        pq.write_table(version, path, row_group_size=70_000)
        # Written a second ago: a commit keeps no resume record of a file written just now.
        modified = path.stat().st_mtime_ns - 1_000_000_000
        os.utime(path, ns=(modified, modified))
        if number == 0:
            repo.add(path, name="d", key=key or None)
        written = repo.commit(message=f"v{number}").written
        if number == 1:
            assert written["rows_resumed"] > 0
        if number == 2:
            assert written["chunks_reused"] > 0 and written["chunks_patched"] > 0
        storage = Repository.discover(tmp_path)
        index = rowcache.load(storage, storage.manifest_at(_manifest_oid(storage, "HEAD")))
        assert index is not None
        assert np.array_equal(index.hashes, row_hashes(repo.read("d")))


@pytest.mark.parametrize("key", ["id", "stamp", "small", "email", "nullable"])
def test_the_index_keys_are_the_key_column_whatever_its_type(tmp_path: Path, key: str) -> None:
    """One fixed-width key column (ids, times, narrow integers) is copied into one array as the
    chunks are cut; text and a column with a null are joined at the end. Either way the index
    holds the data's key column, with its type, after a first commit and after an edit."""
    table = make_table(40_000)
    ids = table.column("id").to_numpy()
    nullable = pa.array(np.where(ids == 123, 0, ids), mask=ids == 123)
    table = table.append_column("stamp", pa.array(ids.astype("datetime64[ms]"))).append_column(
        "small", pa.array(ids.astype(np.int32))
    )
    table = table.append_column("nullable", nullable)
    repo = Repo.init(tmp_path, chunk_bytes=SMALL_CHUNKS)
    path = tmp_path / "d.parquet"
    amount = table.column("amount").to_numpy().copy()
    amount[::53] += 1.0
    edit = table.set_column(3, "amount", pa.array(amount)).filter(pa.array(ids % 97 != 5))
    for number, version in enumerate([table, edit]):
        pq.write_table(version, path)
        if number == 0:
            repo.add(path, name="d", key=[key])
        repo.commit(message=f"v{number}")
        storage = Repository.discover(tmp_path)
        index = rowcache.load(storage, storage.manifest_at(_manifest_oid(storage, "HEAD")))
        assert index is not None
        assert index.keys.equals(repo.read("d").select([key]))


def test_an_index_another_process_has_mapped_is_never_written_over(tmp_path: Path) -> None:
    """The lock is the file's, not the process's: a `datakeep diff` running beside a commit keeps
    the rows it mapped while that commit's save drops the index."""
    import json
    import subprocess
    import sys
    import textwrap

    repo = _commit_versions(tmp_path, [2_000 + 100 * v for v in range(rowcache.KEEP)])
    before = _indexes(tmp_path)
    dropped = min(before, key=lambda name: before[name].st_mtime_ns)
    storage = Repository.discover(tmp_path)
    manifest = _manifest_named(storage, dropped)
    reader = textwrap.dedent(
        f"""
        import json
        import sys
        import numpy as np
        from datakeep import rowcache, rowcache_files
        from datakeep.records.manifest import Manifest
        from datakeep.repo import Repository
        storage = Repository.discover({str(tmp_path)!r})
        manifest = Manifest.from_dict(json.loads(sys.stdin.readline()))
        index = rowcache.load(storage, manifest)
        before = index.hashes.copy()
        print("mapped", flush=True)
        sys.stdin.readline()  # the commit is done
        print("same" if np.array_equal(index.hashes, before) else "changed", flush=True)
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", reader], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(json.dumps(manifest.to_dict()) + "\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "mapped"
        pq.write_table(make_table(2_500, seed=99), tmp_path / "d.parquet")
        repo.commit(message="one more")
        after = _indexes(tmp_path)
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "same"
    (new,) = set(after) - set(before)
    assert dropped not in after and after[new].st_ino != before[dropped].st_ino


# -- spares: files filled early for the indexes of a dataset's first KEEP commits ----------------


def _folder(root: Path) -> Path:
    return root / ".datakeep" / "cache" / "rows"


def test_commits_write_their_indexes_over_spares(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With spares for indexes of any size, every commit of a dataset that has fewer than KEEP
    indexes writes its own over one; no spare outlives the commit and each index is the one the
    store rebuilds."""
    monkeypatch.setattr(rowcache_files, "MIN_SPARE_BYTES", 0)
    claimed: list[int] = []
    real_claim = rowcache_files.Spare.claim

    def recording_claim(self: rowcache_files.Spare) -> Path | None:
        path = real_claim(self)
        claimed.append(path.stat().st_ino if path is not None else -1)
        return path

    monkeypatch.setattr(rowcache_files.Spare, "claim", recording_claim)
    repo, _ = chain(tmp_path)  # v1 and three edits: the edits' commits find 1, 2 and 3 indexes
    assert len(claimed) == 3 and -1 not in claimed
    inodes = {f.stat().st_ino for f in _folder(tmp_path).glob("*.arrow")}
    assert len(inodes) == 4 and set(claimed) <= inodes
    assert not [f.name for f in _folder(tmp_path).iterdir() if f.name.startswith(".tmp-")]
    _, _, index = _cached_head(tmp_path)
    from datakeep.rowhash import row_hashes

    table = repo.read("d")
    assert np.array_equal(index.hashes, row_hashes(table))
    assert index.keys.column("id").equals(table.column("id"))
    table, _ = edited(table, 4)  # KEEP indexes now: the pruned one is written over, no spare
    pq.write_table(table, tmp_path / "d.parquet")
    repo.commit(message="v5")
    assert len(claimed) == 3


def test_a_save_writes_over_the_spare_it_is_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rowcache_files, "MIN_SPARE_BYTES", 0)
    chain(tmp_path)
    storage, manifest, index = _cached_head(tmp_path)
    path = rowcache_files.index_path(storage.dk, "d", manifest.id)
    for other in _folder(tmp_path).glob("*.arrow"):  # HEAD's index alone: room for more, so a spare
        if other != path:
            other.unlink()
    spare = rowcache_files.start_spare(storage.dk, "d", manifest.id)
    assert spare is not None
    filled = spare.claim()
    assert filled is not None and filled.read_bytes() == bytes(path.stat().st_size)
    inode = filled.stat().st_ino
    path.unlink()
    rowcache.save(storage, manifest, index, spare)
    assert path.stat().st_ino == inode  # the spare's pages, under the index's name
    assert not filled.exists()
    loaded = rowcache.load(storage, manifest)
    assert loaded is not None and np.array_equal(loaded.hashes, index.hashes)


def test_a_spare_that_could_not_be_filled_is_not_used(tmp_path: Path) -> None:
    spare = rowcache_files.Spare(tmp_path / "no such folder" / "spare.arrow", 1000)
    assert spare.claim() is None


def test_an_unchanged_dataset_gets_no_spare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rowcache_files, "MIN_SPARE_BYTES", 0)
    repo = Repo.init(tmp_path, chunk_bytes=SMALL_CHUNKS)
    for name in ("busy", "quiet"):
        pq.write_table(make_table(1_000), tmp_path / f"{name}.parquet")
        os.utime(tmp_path / f"{name}.parquet", ns=(1_600_000_000 * 10**9,) * 2)  # settled: the stat cache vouches
        repo.add(tmp_path / f"{name}.parquet", name=name, key=["id"])
    repo.commit(message="both")
    asked: list[str] = []
    real_start = rowcache_files.start_spare

    def recording_start(dk: Path, dataset: str, parent_snapshot: str) -> rowcache_files.Spare | None:
        asked.append(dataset)
        return real_start(dk, dataset, parent_snapshot)

    monkeypatch.setattr("datakeep.history.start_spare", recording_start)
    pq.write_table(make_table(1_100), tmp_path / "busy.parquet")
    repo.commit(message="busy again")
    assert asked == ["busy"]
    assert not [f.name for f in _folder(tmp_path).iterdir() if f.name.startswith(".tmp-")]


def test_an_index_larger_than_the_bound_is_not_saved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Wide text keys made indexes larger than the data they index, four of them kept."""
    monkeypatch.setattr(rowcache, "MAX_BYTES", 10_000)
    repo = Repo.init(tmp_path)
    table = pa.table({"k": [f"{i:0>200}" for i in range(2_000)], "v": list(range(2_000))})
    pq.write_table(table, tmp_path / "d.parquet")
    repo.add(tmp_path / "d.parquet", name="d", key=["k"])
    result = repo.commit(message="one")
    assert not list((tmp_path / ".datakeep" / "cache" / "rows").glob("*.arrow"))
    assert repo.read("d").equals(table) and "d" in result.commit.summary


def test_a_folder_s_index_takes_the_unread_files_over_from_its_parent(tmp_path: Path) -> None:
    """Files the stat cache vouches for get their keys and hashes from the parent's index, in
    runs between the files read: the index is still every row's, in order."""
    import time

    from datakeep.rowhash import row_hashes

    folder = tmp_path / "d"
    folder.mkdir()
    for i in range(6):
        pq.write_table(make_table(40, seed=i, start_id=1000 * i), folder / f"p{i}.parquet")
    time.sleep(0.1)  # past the racy window: the stat cache vouches for the files
    repo = Repo.init(tmp_path)
    repo.add(folder, name="d", key=["id"])
    repo.commit(message="v1")
    for i in (1, 4):
        pq.write_table(make_table(40, seed=10 + i, start_id=1000 * i), folder / f"p{i}.parquet")
    pq.write_table(make_table(40, seed=6, start_id=6000), folder / "p6.parquet")
    time.sleep(0.1)
    assert repo.commit(message="v2").written["files_cached"] == 4
    _, _, index = _cached_head(tmp_path)
    table = repo.read("d")
    assert np.array_equal(index.hashes, row_hashes(table))
    assert index.keys.column("id").equals(table.column("id"))
