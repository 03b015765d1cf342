"""Row-level patches: scattered edits cost what changed, and every version still comes back."""

from __future__ import annotations

import decimal
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datakeep import patches
from datakeep.api import Repo
from datakeep.errors import CorruptObjectError
from datakeep.hashing import content_id
from datakeep.ids import ObjectId
from datakeep.records.manifest import ChunkRef
from datakeep.snapshot import hash_file
from tests.conftest import make_table, write

ROWS = 20_000


def _edit(table: pa.Table, rng: np.random.Generator, next_id: int) -> pa.Table:
    """Modify 1% of rows, delete 0.5%, insert 0.5% at random places."""
    n = table.num_rows
    amounts = table.column("amount").to_numpy().copy()
    amounts[rng.choice(n, n // 100, replace=False)] += 1.0
    table = table.set_column(table.schema.get_field_index("amount"), "amount", pa.array(amounts))
    keep = np.ones(n, dtype=bool)
    keep[rng.choice(n, n // 200, replace=False)] = False
    table = table.filter(pa.array(keep))
    for position in sorted(rng.choice(table.num_rows, n // 200, replace=False), reverse=True):
        new = make_table(1, seed=int(next_id), start_id=int(next_id))
        next_id += 1
        table = pa.concat_tables([table.slice(0, position), new, table.slice(position)])
    return table.combine_chunks()


@pytest.mark.parametrize("key", [["id"], []])
def test_edit_chain_stores_what_changed_and_restores_every_version(repo: Repo, project: Path, key: list[str]) -> None:
    rng = np.random.default_rng(1)
    path = project / "t.parquet"
    table = make_table(ROWS)
    write(path, table)
    repo.add(path, name="t", key=key)
    first = repo.commit(message="v1")
    one_version = sum(c.bytes for c in repo.manifest("t").chunks)
    versions = [(first.id, table)]
    for step in range(5):
        table = _edit(table, rng, 10**6 + step * 1000)
        write(path, table)
        result = repo.commit(message=f"v{step + 2}")
        assert result.written["chunks_patched"] > 0
        versions.append((result.id, table))
    manifest = repo.manifest("t")
    # Five patched versions in a skip chain: version 5 (0b101) is patched against version 4,
    # itself patched against the whole chunk: two levels, not five.
    assert {(c.seq, c.depth) for c in manifest.chunks if c.depth} == {(5, 2)}
    store = repo.repository.store
    chunk_objects = {
        oid for commit_id, _ in versions for c in repo.manifest("t", commit_id).chunks for oid in c.objects()
    }
    stored = sum(store.size(oid) for oid in chunk_objects)
    hash_bytes = 8 * ROWS
    # Five versions, each editing ~2% of the rows, cost far less than five copies.
    assert stored < 1.35 * (one_version + hash_bytes)
    for commit_id, expected in versions:
        back = repo.read("t", rev=commit_id)
        assert back.equals(expected)
        # A projection decodes only its columns, through the same chains.
        picked = repo.read("t", rev=commit_id, columns=["amount", "id"])
        assert picked.equals(expected.select(["amount", "id"]))
        assert content_id(back) == repo.manifest("t", commit_id).id
    assert repo.fsck(full=True).ok


def _edited_versions(repo: Repo, project: Path, count: int, seed: int) -> list[tuple[str, pa.Table]]:
    """Commit a 5,000-row table, then ``count`` scattered edits of it: (commit id, table) each."""
    rng = np.random.default_rng(seed)
    path = project / "t.parquet"
    table = make_table(5000)
    write(path, table)
    repo.add(path, name="t", key=["id"])
    versions = [(repo.commit(message="v0").id, table)]
    for step in range(count):
        table = _edit(table, rng, 10**7 * seed + step * 100)
        write(path, table)
        versions.append((repo.commit(message=f"v{step + 1}").id, table))
    return versions


def test_chains_are_bounded(repo: Repo, project: Path) -> None:
    versions = _edited_versions(repo, project, patches.MAX_DEPTH + 3, seed=2)
    for commit_id, _ in versions:
        assert max(c.depth for c in repo.manifest("t", commit_id).chunks) <= patches.MAX_DEPTH
    assert repo.read("t").equals(versions[-1][1])


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    edits=st.lists(
        st.tuples(st.sampled_from(["insert", "delete", "edit"]), st.floats(0, 1), st.integers(1, 40)),
        min_size=1,
        max_size=6,
    )
)
def test_random_edit_sequences_restore_exactly(
    tmp_path_factory: pytest.TempPathFactory, edits: list[tuple[str, float, int]]
) -> None:
    root = tmp_path_factory.mktemp("patch")
    repo = Repo.init(root)
    table = make_table(6000)
    write(root / "t.parquet", table)
    repo.add(root / "t.parquet", name="t", key=["id"])
    history = [(repo.commit(message="base").id, table)]
    next_id = 10**6
    for kind, where, count in edits:
        position = int(where * (table.num_rows - 1))
        if kind == "insert":
            table = pa.concat_tables(
                [table.slice(0, position), make_table(count, seed=count, start_id=next_id), table.slice(position)]
            )
            next_id += count
        elif kind == "delete":
            table = pa.concat_tables([table.slice(0, position), table.slice(position + count)])
        else:
            values = table.column("count").to_numpy().copy()
            values[position : position + count] += 7
            table = table.set_column(table.schema.get_field_index("count"), "count", pa.array(values, pa.int32()))
        table = table.combine_chunks()
        write(root / "t.parquet", table)
        result = repo.commit(message=kind, allow_empty=True)
        history.append((result.id, table))
    plain = Repo.init(root / "plain")  # a store that never saw the earlier versions: no patches
    write(root / "plain" / "t.parquet", table)
    plain.add(root / "plain" / "t.parquet", name="t", key=["id"])
    plain.commit(message="only the last")
    assert plain.manifest("t").id == repo.manifest("t").id == hash_file(root / "t.parquet")[0]
    for commit_id, expected in history:
        assert repo.read("t", rev=commit_id).equals(expected)


@pytest.fixture
def patched(repo: Repo, project: Path) -> Repo:
    rng = np.random.default_rng(3)
    table = make_table(ROWS)
    write(project / "t.parquet", table)
    repo.add(project / "t.parquet", name="t", key=["id"])
    repo.commit(message="v1")
    repo.tag("v1")
    write(project / "t.parquet", _edit(table, rng, 10**6))
    repo.commit(message="v2")
    return repo


def _flip(path: Path) -> None:
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("which", ["base", "patch"])
def test_fsck_detects_a_corrupted_base_or_patch(patched: Repo, project: Path, which: str) -> None:
    chunk = next(c for c in patched.manifest("t").chunks if c.depth)
    victim = chunk.bases[0] if which == "base" else chunk.object
    _flip(patched.repository.store.path(victim))
    result = subprocess.run(
        [sys.executable, "-m", "datakeep", "fsck"], cwd=project, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert victim in result.stdout


def test_patch_ops_that_point_past_their_rows_are_a_clear_error(patched: Repo) -> None:
    """A patch whose bytes are whole but whose ops copy rows its base does not have (written by
    a buggy or foreign tool) is refused as corrupt, naming the object, not read as wrong rows."""
    store = patched.repository.store
    chunk = next(c for c in patched.manifest("t").chunks if c.depth)
    _, ops, ipc = patches._parse(chunk.object, store.get(chunk.object))
    bad_ops = ops.copy()
    bad_ops[-1, 2] += 1_000_000  # the last run claims rows that do not exist
    data = store.get(chunk.object)
    blob = patches._pack(bad_ops)
    header_bytes = data[12 : 12 + int.from_bytes(data[8:12], "little")]
    forged = b"".join(
        [
            patches.MAGIC,
            len(header_bytes).to_bytes(4, "little"),
            header_bytes,
            len(blob).to_bytes(4, "little"),
            blob,
            bytes(ipc),
        ]
    )
    oid, _ = store.put(forged)
    with pytest.raises(CorruptObjectError, match="patch ops point outside"):
        patches.rebuild_table(store, oid)
    with pytest.raises(CorruptObjectError, match="patch ops point outside"):
        patches.rebuild_hashes(store, oid, "")


def test_gc_keeps_the_bases_that_kept_patches_need(patched: Repo, project: Path) -> None:
    patched.delete_tag("v1")
    # Rewrite history so only v2 is reachable: its patches still need v1's chunks as bases.
    head = patched.resolve("HEAD")
    commit = patched.repository.commit_at(head)
    from dataclasses import replace

    orphan = patched.repository.put_document(replace(commit, parents=()).to_dict())
    patched.repository.refs.update("refs/heads/main", orphan, expected=head)
    expected = patched.read("t", rev=orphan)
    result = patched.gc()
    assert result.removed > 0  # the old commit and manifest went
    assert patched.fsck(full=True).ok
    assert patched.read("t").equals(expected)
    assert pq.read_table(project / "t.parquet").equals(expected)


def test_take_rows_through_a_chain_equals_rebuild_then_take(patched: Repo, project: Path) -> None:
    rng = np.random.default_rng(11)
    table = pq.read_table(project / "t.parquet")
    for step in range(3):
        table = _edit(table, rng, 10**7 + step * 1000)
        write(project / "t.parquet", table)
        patched.commit(message=f"more {step}")
    store = patched.repository.store
    for chunk in patched.manifest("t").chunks:
        if not chunk.depth:
            continue
        rows = rng.choice(chunk.rows, min(50, chunk.rows), replace=False)
        whole = patches.rebuild_table(store, chunk.object, [0, 3])
        assert patches.take_rows(store, chunk.object, rows, [0, 3]).equals(whole.take(pa.array(rows)))


def test_ls_files_of_a_patched_version_reads_right_in_duckdb(patched: Repo, project: Path) -> None:
    import duckdb

    from datakeep.remote.lsfiles import ls_files, sql_list

    assert any(c.depth for c in patched.manifest("t").chunks)
    listing = ls_files(patched.repository, "HEAD:t")
    expected = pq.read_table(project / "t.parquet")
    got = duckdb.sql(f"select * from read_parquet({sql_list(listing)})").arrow()
    got = got.read_all() if hasattr(got, "read_all") else got
    assert got.num_rows == expected.num_rows
    assert got.column("id").to_pylist() == expected.column("id").to_pylist()
    assert got.column("amount").to_pylist() == expected.column("amount").to_pylist()


def test_an_unchanged_patched_dataset_beside_a_changed_one(patched: Repo, project: Path) -> None:
    import time

    from datakeep.history import NothingToCommitError

    # Touch the file and let a commit re-record it past the stat cache's racy window, so the
    # next commit trusts the cached (patched) entry instead of reading the file.
    time.sleep(0.1)
    os.utime(project / "t.parquet")
    time.sleep(0.1)
    with pytest.raises(NothingToCommitError):
        patched.commit(message="nothing")
    write(project / "other.parquet", make_table(100, seed=5))
    patched.add(project / "other.parquet", name="other")
    result = patched.commit(message="another dataset")
    assert result.changed == ("other",)
    assert patched.read("t").equals(pq.read_table(project / "t.parquet"))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=12), min_size=1, max_size=80),
    st.lists(st.integers(min_value=0, max_value=15), min_size=1, max_size=80),
)
def test_align_rebuilds_the_rows_even_when_rows_repeat(base: list[int], new: list[int]) -> None:
    """Rows repeat (hashes drawn from a few values): the ops must still rebuild ``new`` exactly
    from ``[base | literal rows]``, and the same input always gives the same patch."""
    base_hashes = np.array(base, dtype=np.uint64)
    new_hashes = np.array(new, dtype=np.uint64)
    patch = patches.align(base_hashes, new_hashes)
    if patch is None:
        assert np.isin(new_hashes, base_hashes, invert=True).sum() > patches.MAX_LITERAL_SHARE * len(new)
        return
    sources = np.concatenate([base_hashes, patch.literal_hashes])
    assert (sources[patches._gather_index(patch.ops, len(base_hashes))] == new_hashes).all()
    again = patches.align(base_hashes.copy(), new_hashes.copy())
    assert again is not None and np.array_equal(again.ops, patch.ops)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=2**64 - 1) | st.integers(0, 6), min_size=1, max_size=60),
    st.lists(st.integers(min_value=0, max_value=2**64 - 1) | st.integers(0, 8), min_size=1, max_size=60),
)
def test_each_new_row_finds_its_first_equal_base_row(base: list[int], new: list[int]) -> None:
    """The lookup behind every patch: a new row's source is the first base row with its hash
    (whatever the hash table does with repeats), -1 when there is none."""
    found, source, repeated = patches._first_matches(np.array(base, np.uint64), np.array(new, np.uint64))
    expected = [base.index(h) if h in base else -1 for h in new]
    assert source.tolist() == expected
    assert found.tolist() == [e >= 0 for e in expected]
    assert repeated == (len(set(base)) < len(base))


@pytest.mark.parametrize("distinct", [3, 30, 1000])
def test_a_small_edit_of_a_table_of_few_distinct_rows_is_a_small_patch(distinct: int) -> None:
    """A table of few distinct rows (no key) edited in two places: the patch is a handful of
    runs, not one op per row (as when every row pointed at the first equal base row)."""
    rng = np.random.default_rng(distinct)
    base = rng.integers(0, distinct, 50_000).astype(np.uint64)
    new = np.concatenate(
        [base[:10_000], base[10_050:30_000], rng.integers(0, distinct, 40).astype(np.uint64), base[30_000:]]
    )
    patch = patches.align(base, new)
    assert patch is not None
    assert (np.concatenate([base, patch.literal_hashes])[patches._gather_index(patch.ops, len(base))] == new).all()
    assert len(patch.ops) <= 100


def _ref(name: str, depth: int = 0, seq: int | None = None, bases: tuple[str, ...] = ()) -> ChunkRef:
    return ChunkRef(
        id=name,
        object=ObjectId(name),
        hashes=ObjectId("" if depth else name + "-hashes"),
        rows=10,
        bytes=10,
        bases=tuple(ObjectId(b) for b in bases),
        depth=depth,
        seq=seq,
    )


def _shape(ref: ChunkRef) -> tuple[object, ...]:
    """What a patch base must get right: where its rows are and where it sits in its chain."""
    return ref.object, ref.hashes, ref.bases, ref.depth, ref.seq


def _base(ref: ChunkRef) -> tuple[tuple[object, ...], int | None]:
    base, seq = patches.patch_base(ref)
    return _shape(base), seq


def test_patch_bases_form_a_skip_chain() -> None:
    whole = _ref("w")
    v1 = _ref("v1", 1, 1, ("w", "w-hashes"))
    v2 = _ref("v2", 1, 2, ("w", "w-hashes"))
    v3 = _ref("v3", 2, 3, ("v2", "w", "w-hashes"))
    v4 = _ref("v4", 1, 4, ("w", "w-hashes"))
    v5 = _ref("v5", 2, 5, ("v4", "w", "w-hashes"))
    v6 = _ref("v6", 2, 6, ("v4", "w", "w-hashes"))
    v7 = _ref("v7", 3, 7, ("v6", "v4", "w", "w-hashes"))
    assert _base(whole) == (_shape(whole), 1)
    assert _base(v1) == (_shape(whole), 2)  # version 2 goes back to the whole chunk
    assert _base(v2) == (_shape(v2), 3)
    assert _base(v3) == (_shape(whole), 4)
    assert _base(v4) == (_shape(v4), 5)
    assert _base(v5) == (_shape(v4), 6)
    assert _base(v6) == (_shape(v6), 7)
    assert _base(v7) == (_shape(whole), 8)
    # A chain written before skip chains (no seq) goes on as a plain chain.
    plain = _ref("p3", 3, None, ("p2", "p1", "w", "w-hashes"))
    assert _base(plain) == (_shape(plain), None)


def test_every_version_of_a_long_skip_chain_restores_and_the_newest_is_shallow(repo: Repo, project: Path) -> None:
    versions = _edited_versions(repo, project, 9, seed=3)
    for chunk in repo.manifest("t").chunks:
        if chunk.depth:
            assert chunk.seq is not None and chunk.depth == chunk.seq.bit_count()
    assert max(c.depth for c in repo.manifest("t").chunks) < 9
    for commit_id, expected in versions:
        assert repo.read("t", rev=commit_id).equals(expected)
    assert repo.fsck(full=True).ok


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 10**6), st.integers(1, 10**5)), min_size=1, max_size=200))
def test_ops_read_back_from_zstd_and_from_the_zlib_written_before(runs: list[tuple[bool, int, int]]) -> None:
    """Ops are written zstd-compressed; patches written earlier carry them zlib-compressed, and
    both read back as the same runs."""
    import zlib

    ops = np.array([[int(literal), start, length] for literal, start, length in runs], dtype=np.int64)
    blob = patches._pack(ops)
    assert blob.startswith(patches._ZSTD_OPS)
    again = patches._unpack(blob)
    assert np.array_equal(again, ops)
    raw = pa.Codec("zstd").decompress(blob[8:], decompressed_size=int.from_bytes(blob[4:8], "little"))
    assert np.array_equal(patches._unpack(zlib.compress(raw.to_pybytes(), 6)), ops)


def _struct(names: tuple[str, str]) -> pa.DataType:
    return pa.struct([(names[0], pa.string()), (names[1], pa.string())])


_ROWS_RETYPED = 3000
_raw = np.arange(_ROWS_RETYPED, dtype=np.int64) * 1000 + 7
_texts = [f"z{i % 50}" for i in range(_ROWS_RETYPED)]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # The same stored integers under another unit or scale: equal row hashes, other values.
        (pa.array(_raw, pa.duration("s")), pa.array(_raw, pa.duration("ms"))),
        (pa.array(_raw, pa.time64("us")), pa.array(_raw, pa.time64("ns"))),
        (pa.array(_raw, pa.timestamp("ns")), pa.array(_raw, pa.timestamp("us"))),  # the cast back loses data
        (pa.array(_raw).cast(pa.decimal128(20, 1)), pa.array(_raw).cast(pa.decimal128(20, 1)).cast(pa.string())),
        (
            pa.array([decimal.Decimal(int(v)).scaleb(-1) for v in _raw], pa.decimal128(20, 1)),
            pa.array([decimal.Decimal(int(v)).scaleb(-2) for v in _raw], pa.decimal128(20, 2)),
        ),
        (
            pa.array([[int(v)] for v in _raw], pa.list_(pa.duration("s"))),
            pa.array([[int(v)] for v in _raw], pa.list_(pa.duration("ms"))),
        ),
        # One old value no int64 holds, in a row that changed: casting the old chunk failed.
        (pa.array([2**63, *_raw[1:].tolist()], pa.uint64()), pa.array([5, *_raw[1:].tolist()], pa.int64())),
        (
            pa.array(np.arange(_ROWS_RETYPED, dtype=np.int16)),
            pa.array(np.arange(_ROWS_RETYPED, dtype=np.int16).view(np.float16)),
        ),
        # A struct field renamed or reordered: the same cells by position, under other names.
        (
            pa.array([{"zip": t, "city": "Paris"} for t in _texts], _struct(("zip", "city"))),
            pa.array([{"postcode": t, "city": "Paris"} for t in _texts], _struct(("postcode", "city"))),
        ),
        (
            pa.array([{"a": t, "b": "x"} for t in _texts], _struct(("a", "b"))),
            pa.array([{"b": t, "a": "x"} for t in _texts], _struct(("b", "a"))),
        ),
    ],
    ids=[
        "duration",
        "time",
        "timestamp",
        "decimal-text",
        "decimal-scale",
        "list",
        "uint64",
        "float16",
        "rename",
        "order",
    ],
)
def test_a_retyped_column_restores_the_new_values_not_the_old_ones_recast(
    repo: Repo, project: Path, old: pa.Array, new: pa.Array
) -> None:
    """Row hashes see bits, not types: a patch against the old chunks would copy each row whose
    hash did not change and cast it (7 s became 7000 ms, a renamed struct field null)."""
    path = project / "t.parquet"
    ids = np.arange(_ROWS_RETYPED)
    write(path, pa.table({"id": ids, "c": old}))
    repo.add(path, name="t", key=("id",))
    repo.commit(message="old type")
    expected = pa.table({"id": ids, "c": new})
    write(path, expected)
    commit = repo.commit(message="new type")
    assert repo.read("t", rev=commit.id).equals(expected)
    repo.checkout(commit.id, name="t", output=project / "out.parquet")
    assert pq.read_table(project / "out.parquet").equals(expected)
    assert repo.fsck(full=True).ok
    assert repo.read("t", rev="HEAD~1").equals(pa.table({"id": ids, "c": old}))
