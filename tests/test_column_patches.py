"""Column patches: a column added, dropped, retyped or rewritten costs that column, not a copy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datakeep import column_patches, patches
from datakeep.api import Repo
from datakeep.errors import CorruptObjectError
from datakeep.hashing import content_id
from tests.conftest import make_table, write

ROWS = 20_000


def _chunk_objects_bytes(repo: Repo, rev: str) -> int:
    store = repo.repository.store
    return sum(store.size(oid) for c in repo.manifest("t", rev).chunks for oid in c.objects() if oid == c.object)


def _score(rows: int, seed: int = 0) -> pa.Array:
    return pa.array(np.random.default_rng(seed).normal(size=rows))


def _commit_with_score(repo: Repo, project: Path, table: pa.Table) -> pa.Table:
    """Commit ``table`` with a new float column, ``score``: the version most tests patch on."""
    added = table.append_column("score", _score(ROWS))
    write(project / "t.parquet", added)
    repo.commit(message="add score")
    return added


@pytest.fixture
def keyed(repo: Repo, project: Path) -> tuple[Repo, pa.Table]:
    table = make_table(ROWS)
    write(project / "t.parquet", table)
    repo.add(project / "t.parquet", name="t", key=["id"])
    repo.commit(message="v1")
    return repo, table


def test_an_added_column_is_stored_alone_and_every_version_restores(
    keyed: tuple[Repo, pa.Table], project: Path
) -> None:
    repo, v1 = keyed
    whole = _chunk_objects_bytes(repo, "HEAD")
    versions = [(repo.resolve("HEAD"), v1)]
    v2 = v1.append_column("score", _score(ROWS))
    write(project / "t.parquet", v2)
    added = repo.commit(message="add score")
    chunks = repo.manifest("t").chunks
    assert {c.depth for c in chunks} == {1} and added.written["chunks_patched"] == len(chunks)
    # The new column is 8 random bytes a row, which compress little; the rest is the base's.
    assert 0.9 * 8 * ROWS <= added.written["new_bytes"] < 8 * ROWS + 0.1 * whole
    versions.append((added.id, v2))
    v3 = v2.drop_columns(["email"])
    write(project / "t.parquet", v3)
    dropped = repo.commit(message="drop email")
    assert dropped.written["new_bytes"] < 0.02 * whole
    versions.append((dropped.id, v3))
    v4 = v3.set_column(v3.schema.get_field_index("count"), "count", pc.cast(v3.column("count"), pa.int64()))
    write(project / "t.parquet", v4)
    retyped = repo.commit(message="count as int64")
    assert retyped.written["new_bytes"] < 0.5 * whole
    versions.append((retyped.id, v4))
    for rev, expected in versions:
        back = repo.read("t", rev=rev)
        assert back.equals(expected)
        assert content_id(back) == repo.manifest("t", rev).id
        names = ["score", "id"] if "score" in expected.column_names else ["id", "amount"]
        assert repo.read("t", rev=rev, columns=names).equals(expected.select(names))
    assert repo.fsck(full=True).ok
    repo.checkout(versions[2][0], name="t", output=project / "back.parquet")
    assert pq.read_table(project / "back.parquet").equals(v3)


def test_a_column_patchs_row_hashes_are_rebuilt_as_the_commit_computed_them(
    keyed: tuple[Repo, pa.Table], project: Path
) -> None:
    """It keeps no sidecar: the hashes rebuilt from it must be those of its rows, or a row patch
    on it would align nothing (and a diff would see every row changed)."""
    from datakeep.rowhash import row_hashes

    repo, v1 = keyed
    v2 = _commit_with_score(repo, project, v1)
    start = 0
    for chunk in repo.manifest("t").chunks:
        assert chunk.hashes == ""
        rebuilt = patches._rebuild_hashes(repo.repository.store, chunk.object, chunk.hashes)
        assert np.array_equal(rebuilt, row_hashes(v2.slice(start, chunk.rows)))
        start += chunk.rows


def test_kept_columns_are_proven_unchanged_without_decoding_them(
    keyed: tuple[Repo, pa.Table], project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Row hashes combined in the base's order, from the kept columns' values and the few base
    columns dropped or retyped (decoded), equal the base's: the kept columns are not read from the
    base (nor its first rows, which are read first whenever that proof fails). When a kept column
    changed too, the base is read to tell which."""
    repo, v1 = keyed
    reads: list[int] = []
    real = patches.head_rows
    monkeypatch.setattr(patches, "head_rows", lambda *a, **k: reads.append(1) or real(*a, **k))
    added = v1.append_column("score", _score(ROWS))
    dropped = added.drop_columns(["email"])
    count = dropped.schema.get_field_index("count")
    retyped = dropped.set_column(count, "count", pc.cast(dropped.column("count"), pa.int64()))
    for depth, table in enumerate((added, dropped, retyped), start=1):
        write(project / "t.parquet", table)
        repo.commit(message=f"v{depth + 1}")
        assert reads == [] and {c.depth for c in repo.manifest("t").chunks} == {depth}
        assert repo.read("t").equals(table)
    rewritten = retyped.set_column(retyped.schema.get_field_index("amount"), "amount", _score(ROWS, seed=4))
    write(project / "t.parquet", rewritten)
    repo.commit(message="rewrite amount")
    assert reads and {c.depth for c in repo.manifest("t").chunks} == {4}
    assert repo.read("t").equals(rewritten)


def test_row_edits_on_a_column_patch_are_row_patches_and_restore(keyed: tuple[Repo, pa.Table], project: Path) -> None:
    repo, v1 = keyed
    v2 = _commit_with_score(repo, project, v1)
    amounts = v2.column("amount").to_numpy().copy()
    amounts[::97] += 1.0
    v3 = v2.set_column(v2.schema.get_field_index("amount"), "amount", pa.array(amounts)).slice(5)
    write(project / "t.parquet", v3)
    edited = repo.commit(message="edit rows")
    assert {c.depth for c in repo.manifest("t").chunks} == {2}
    assert edited.written["new_bytes"] < 0.2 * _chunk_objects_bytes(repo, edited.id) + 8 * ROWS
    assert repo.read("t").equals(v3)
    assert repo.read("t", rev="HEAD~1").equals(v2)
    assert repo.fsck(full=True).ok
    # Row hashes of the column patch were never stored: a commit in a new process, without the
    # row index the last one left, rebuilds them through the chain.
    shutil.rmtree(project / ".datakeep" / "cache")
    v4 = v3.slice(0, v3.num_rows - 3)
    write(project / "t.parquet", v4)
    committed = subprocess.run(
        [sys.executable, "-m", "datakeep", "commit", "-m", "drop rows"], cwd=project, capture_output=True, text=True
    )
    assert committed.returncode == 0, committed.stderr
    assert {c.depth for c in repo.manifest("t").chunks} == {2, 3}  # the last chunk changed
    assert repo.read("t").equals(v4)


def test_a_rewritten_column_of_the_same_type_is_a_column_patch(keyed: tuple[Repo, pa.Table], project: Path) -> None:
    """Every row changes (a row patch would copy none), but only one column did."""
    repo, v1 = keyed
    whole = _chunk_objects_bytes(repo, "HEAD")
    v2 = v1.set_column(v1.schema.get_field_index("amount"), "amount", _score(ROWS, seed=5))
    write(project / "t.parquet", v2)
    result = repo.commit(message="recompute amount")
    assert {c.depth for c in repo.manifest("t").chunks} == {1}
    assert result.written["new_bytes"] < 8 * ROWS + 0.1 * whole
    assert repo.read("t").equals(v2)


def test_a_negative_zero_or_a_nan_payload_is_not_taken_from_the_base(repo: Repo, project: Path) -> None:
    """Columns are compared by content hash, which tells -0.0 from 0.0, as the chunk's id does."""
    ids = np.arange(4000)
    values = np.zeros(4000)
    v1 = pa.table({"id": ids, "x": values, "y": ids.astype(np.float64)})
    write(project / "t.parquet", v1)
    repo.add(project / "t.parquet", name="t", key=["id"])
    repo.commit(message="v1")
    flipped = values.copy()
    flipped[::2] = -0.0
    v2 = pa.table({"id": ids, "x": flipped, "y": ids.astype(np.float64), "z": ids})
    write(project / "t.parquet", v2)
    repo.commit(message="v2")
    back = repo.read("t")
    assert back.equals(v2) and np.signbit(back.column("x").to_numpy()[::2]).all()
    assert repo.fsck(full=True).ok


def test_a_dictionary_column_is_taken_from_the_base_only_with_the_base_dictionary(repo: Repo, project: Path) -> None:
    """The content hash does not see a dictionary, but a read gives it back: the same values under
    another dictionary are stored, or the read would carry the old one (Table.equals False)."""
    rows = 2000
    ids = pa.array(np.arange(rows))
    first = pa.DictionaryArray.from_arrays(pa.array([0, 1] * (rows // 2), pa.int32()), pa.array(["b", "a"]))
    again = pa.DictionaryArray.from_arrays(pa.array([1, 0] * (rows // 2), pa.int32()), pa.array(["a", "b"]))
    assert again.to_pylist() == first.to_pylist()
    bulk = pa.array(np.random.default_rng(0).random(rows))
    write(project / "t.parquet", pa.table({"id": ids, "c": first, "bulk": bulk}))
    repo.add(project / "t.parquet", name="t", key=["id"])
    repo.commit(message="v1")
    write(
        project / "t.parquet", pa.table({"id": ids, "c": again, "bulk": bulk, "n": pa.array(np.zeros(rows, np.int8))})
    )
    repo.commit(message="same values, another dictionary, a new column")
    assert {c.depth for c in repo.manifest("t").chunks} == {1}  # still a column patch, `c` stored in it
    assert repo.read("t").equals(pq.read_table(project / "t.parquet"))


def test_an_unkeyed_dataset_with_a_new_column_is_stored_whole(repo: Repo, project: Path) -> None:
    """Without a key, chunks are cut where row hashes say, and a new column moves every cut."""
    table = make_table(ROWS)
    write(project / "t.parquet", table)
    repo.add(project / "t.parquet", name="t")
    repo.commit(message="v1")
    v2 = table.append_column("score", _score(ROWS))
    write(project / "t.parquet", v2)
    repo.commit(message="v2")
    assert {c.depth for c in repo.manifest("t").chunks} == {0}
    assert repo.read("t").equals(v2)


def test_a_damaged_column_patch_is_a_clear_error_and_fsck_names_it(keyed: tuple[Repo, pa.Table], project: Path) -> None:
    repo, v1 = keyed
    write(project / "t.parquet", v1.append_column("score", _score(ROWS)))
    repo.commit(message="v2")
    store = repo.repository.store
    chunk = repo.manifest("t").chunks[0]
    data = store.get(chunk.object)
    assert column_patches.is_column_patch(data)
    patch = column_patches.parse(chunk.object, data)
    forged_header = data.replace(b'"columns":[[0,0]', b'"columns":[[0,99]', 1)
    assert forged_header != data
    oid, _ = store.put(forged_header)
    with pytest.raises(CorruptObjectError, match="column patch"):
        patches.rebuild_table(store, oid)
    assert patch.rows == chunk.rows
    path = store.path(chunk.object)
    os.chmod(path, 0o644)
    damaged = bytearray(path.read_bytes())
    damaged[-20] ^= 0xFF  # inside the stored column's IPC bytes
    path.write_bytes(bytes(damaged))
    result = subprocess.run(
        [sys.executable, "-m", "datakeep", "fsck"], cwd=project, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1 and chunk.object in result.stdout


def test_gc_keeps_the_base_a_column_patch_needs(keyed: tuple[Repo, pa.Table], project: Path) -> None:
    repo, v1 = keyed
    v2 = _commit_with_score(repo, project, v1)
    head = repo.resolve("HEAD")
    commit = repo.repository.commit_at(head)
    orphan = repo.repository.put_document(replace(commit, parents=()).to_dict())
    repo.repository.refs.update("refs/heads/main", orphan, expected=head)
    assert repo.gc().removed > 0
    assert repo.fsck(full=True).ok
    assert repo.read("t").equals(v2)


def test_push_and_clone_carry_a_column_patch_and_its_base(keyed: tuple[Repo, pa.Table], project: Path) -> None:
    repo, v1 = keyed
    v2 = _commit_with_score(repo, project, v1)
    remote = project.parent / f"{project.name}-remote"
    repo.add_remote("origin", str(remote))
    repo.push("origin", ["main"])
    copy = Repo.clone(str(remote), project.parent / f"{project.name}-clone")
    assert copy.read("t").equals(v2)
    assert copy.read("t", rev="HEAD~1").equals(v1)
    assert copy.fsck(full=True).ok


def test_a_diff_across_an_added_column_reads_the_patch(keyed: tuple[Repo, pa.Table], project: Path) -> None:
    repo, v1 = keyed
    amounts = v1.column("amount").to_numpy().copy()
    amounts[:3] += 1
    v2 = v1.set_column(v1.schema.get_field_index("amount"), "amount", pa.array(amounts))
    write(project / "t.parquet", v2.append_column("score", _score(ROWS)))
    repo.commit(message="v2")
    result = repo.diff("HEAD~1", "HEAD")
    document = result.to_dict() if hasattr(result, "to_dict") else result
    text = str(document)
    assert "score" in text
    assert repo.read("t", rev="HEAD", columns=["amount"]).equals(v2.select(["amount"]))


OPS = st.sampled_from(["add", "drop", "rewrite", "retype", "reorder", "edit_rows"])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(OPS, st.integers(0, 10**6)), min_size=1, max_size=6))
def test_random_column_changes_restore_every_version_exactly(tmp_path_factory, steps) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("columns")
    repo = Repo.init(root, chunk_bytes=32 * 1024)
    table = make_table(3000)
    write(root / "t.parquet", table)
    repo.add(root / "t.parquet", name="t", key=["id"])
    versions = [(repo.commit(message="v1").id, table)]
    for number, (op, seed) in enumerate(steps):
        rng = np.random.default_rng(seed)
        others = [n for n in table.column_names if n != "id"]
        if op == "add" or not others:
            table = table.append_column(f"c{number}", pa.array(rng.integers(-5, 5, table.num_rows)))
        elif op == "drop":
            table = table.drop_columns([others[seed % len(others)]])
        elif op == "rewrite":
            name = others[seed % len(others)]
            table = table.set_column(
                table.schema.get_field_index(name),
                name,
                table.column(name).take(pa.array(rng.permutation(table.num_rows))),
            )
        elif op == "retype":
            name = others[seed % len(others)]
            column = table.column(name)
            as_text = pc.cast(column, pa.string()) if not pa.types.is_string(column.type) else column
            table = table.set_column(table.schema.get_field_index(name), name, as_text)
        elif op == "reorder":
            table = table.select(["id", *reversed(others)])
        else:
            keep = rng.random(table.num_rows) > 0.01
            table = table.filter(pa.array(keep))
        write(root / "t.parquet", table)
        result = repo.commit(message=f"v{number + 2}", allow_empty=True)
        if op == "add" or not others:  # every chunk changed, and only by the new column
            assert result.written["chunks_patched"] == result.written["chunks_written"] > 0
        versions.append((result.id, table))
    for rev, expected in versions:
        back = repo.read("t", rev=rev)
        assert back.equals(expected)
        assert content_id(back) == repo.manifest("t", rev).id
    assert repo.fsck(full=True).ok
