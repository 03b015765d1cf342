"""`datakeep.diff` on real repositories: generated chains with known edits against a pandas oracle,
identity properties (hypothesis), NaN/null/-0.0 cells, tolerances (and the ones that cannot apply),
renames naming no column, duplicate keys, keyless diffs."""

from __future__ import annotations

import decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datakeep.api import Repo
from datakeep.diff import diff_files
from datakeep.diff.errors import DuplicateKeyError, KeyTypeChangedError
from datakeep.diff.rows import RowOptions, compare_rows
from datakeep.diff.schema import column_plan
from datakeep.diff.sources import FileSide
from datakeep.errors import UsageError
from tests.conftest import SMALL_CHUNKS, make_table, write


def commit_versions(root: Path, tables: list[pa.Table], key: tuple[str, ...] = ("id",)) -> Repo:
    """A repository at ``root`` with one commit (tagged v1, v2, ...) per table."""
    repo = Repo.init(root, chunk_bytes=SMALL_CHUNKS)
    path = root / "data.parquet"
    for number, table in enumerate(tables, start=1):
        pq.write_table(table, path)
        if number == 1:
            repo.add(path, name="data", key=key)
        repo.commit(message=f"v{number}")
        repo.tag(f"v{number}")
    return repo


def edit(table: pa.Table, rng: np.random.Generator, next_id: int) -> pa.Table:
    """Modify ~2% of rows (amount, region), delete ~1%, insert ~1% at random places."""
    df = table.to_pandas()
    n = len(df)
    changed = rng.choice(n, size=max(1, n // 50), replace=False)
    df.loc[changed[: len(changed) // 2], "amount"] += 1.5
    df.loc[changed[len(changed) // 2 :], "region"] = "moved"
    df = df.drop(index=rng.choice(n, size=max(1, n // 100), replace=False))
    new = make_table(max(1, n // 100), seed=int(rng.integers(1 << 30)), start_id=next_id).to_pandas()
    df = pd.concat([df, new]).sample(frac=1.0, random_state=int(rng.integers(1 << 30)))
    return pa.Table.from_pandas(df, schema=table.schema, preserve_index=False)


def oracle(old: pa.Table, new: pa.Table, key: str = "id") -> dict[str, object]:
    """Independent answer: an outer merge in pandas, cells compared with NaN == NaN."""
    a, b = old.to_pandas(), new.to_pandas()
    merged = a.merge(b, on=key, how="outer", suffixes=("_a", "_b"), indicator=True)
    both = merged[merged["_merge"] == "both"]
    cells = {}
    any_changed = np.zeros(len(both), dtype=bool)
    for column in a.columns:
        if column == key:
            continue
        x, y = both[f"{column}_a"], both[f"{column}_b"]
        same = (x == y) | (x.isna() & y.isna())
        cells[column] = int((~same).sum())
        any_changed |= ~same.to_numpy()
    return {
        "added": int((merged["_merge"] == "right_only").sum()),
        "removed": int((merged["_merge"] == "left_only").sum()),
        "modified": int(any_changed.sum()),
        "cells": cells,
    }


def answer(result_dataset) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {
        "added": result_dataset.rows.added,
        "removed": result_dataset.rows.removed,
        "modified": result_dataset.rows.modified,
        "cells": {c.name: c.modified for c in result_dataset.columns if c.name != "id"},
    }


def test_generated_chain_matches_pandas_oracle(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    tables = [make_table(6000, seed=1)]
    for step in range(3):
        tables.append(edit(tables[-1], rng, next_id=100_000 * (step + 1)))
    repo = commit_versions(tmp_path, tables)
    for old, new in ((1, 2), (2, 3), (1, 4), (4, 1)):
        result = repo.diff(f"v{old}", f"v{new}")
        dataset = result.dataset("data")
        assert answer(dataset) == oracle(tables[old - 1], tables[new - 1]), (old, new)
        assert dataset.rows.unchanged + dataset.rows.modified + dataset.rows.removed == tables[old - 1].num_rows
        assert result.changed
    # In a notebook the result shows as the HTML report.
    assert "Cells changed per column" in repo.diff("v1", "v2")._repr_html_()
    # print() shows the text report `datakeep diff` prints.
    assert str(repo.diff("v1", "v2")).startswith("diff v1 → v2\n\ndata: changed")


def test_shared_chunks_are_not_read(tmp_path: Path) -> None:
    base = make_table(40_000, seed=2)
    appended = pa.concat_tables([base, make_table(100, seed=3, start_id=10**6)])
    repo = commit_versions(tmp_path, [base, appended])
    dataset = repo.diff("v1", "v2").dataset("data")
    assert (dataset.rows.added, dataset.rows.removed, dataset.rows.modified) == (100, 0, 0)
    assert dataset.chunks["shared_rows"] > 30_000
    assert dataset.chunks["to_read"] < dataset.chunks["to_total"]


def test_identical_versions_answer_from_metadata(tmp_path: Path) -> None:
    repo = commit_versions(tmp_path, [make_table(500)])
    result = repo.diff("v1", "v1")
    dataset = result.dataset("data")
    assert dataset.identical and dataset.matched_by == "id" and not result.changed
    assert dataset.rows.unchanged == 500
    # The working tree equals HEAD: the stat cache answers, nothing is read.
    assert repo.diff().dataset("data").identical


def test_working_tree_against_head(tmp_path: Path) -> None:
    table = make_table(300)
    repo = commit_versions(tmp_path, [table])
    df = table.to_pandas()
    df.loc[0, "count"] = 123456
    pq.write_table(pa.Table.from_pandas(df, schema=table.schema, preserve_index=False), tmp_path / "data.parquet")
    dataset = repo.diff().dataset("data")
    assert dataset.rows.modified == 1 and dataset.column("count").modified == 1
    assert repo.diff("v1").dataset("data").rows.modified == 1


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    a=st.lists(st.tuples(st.integers(0, 30), st.integers(0, 3)), max_size=25, unique_by=lambda t: t[0]),
    b=st.lists(st.tuples(st.integers(0, 30), st.integers(0, 3)), max_size=25, unique_by=lambda t: t[0]),
)
def test_diff_is_empty_on_itself_and_mirrors(tmp_path_factory: pytest.TempPathFactory, a, b) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("mirror")

    def table(rows: list[tuple[int, int]]) -> pa.Table:
        return pa.table(
            {"id": pa.array([r[0] for r in rows], pa.int64()), "v": pa.array([r[1] for r in rows], pa.int64())}
        )

    pq.write_table(table(a), folder / "a.parquet")
    pq.write_table(table(b), folder / "b.parquet")
    same = diff_files(folder / "a.parquet", folder / "a.parquet", key="id").datasets[0]
    assert (same.rows.added, same.rows.removed, same.rows.modified) == (0, 0, 0)
    assert not same.changed
    forward = diff_files(folder / "a.parquet", folder / "b.parquet", key="id").datasets[0]
    backward = diff_files(folder / "b.parquet", folder / "a.parquet", key="id").datasets[0]
    assert (forward.rows.added, forward.rows.removed) == (backward.rows.removed, backward.rows.added)
    assert forward.rows.modified == backward.rows.modified
    assert forward.column("v").modified == backward.column("v").modified
    keyless = diff_files(folder / "a.parquet", folder / "b.parquet", key="").datasets[0]
    keyless_back = diff_files(folder / "b.parquet", folder / "a.parquet", key="").datasets[0]
    assert (keyless.rows.added, keyless.rows.removed) == (keyless_back.rows.removed, keyless_back.rows.added)
    assert keyless.rows.modified is None


def test_nan_null_and_negative_zero_cells(tmp_path: Path) -> None:
    old = pa.table({"id": [1, 2, 3, 4, 5], "x": pa.array([float("nan"), None, 0.0, 1.0, float("nan")], pa.float64())})
    new = pa.table({"id": [1, 2, 3, 4, 5], "x": pa.array([float("nan"), float("nan"), -0.0, 1.0, None], pa.float64())})
    pq.write_table(old, tmp_path / "a.parquet")
    pq.write_table(new, tmp_path / "b.parquet")
    dataset = diff_files(tmp_path / "a.parquet", tmp_path / "b.parquet", key="id").datasets[0]
    # NaN == NaN (unchanged); null → NaN, 0.0 → -0.0 and NaN → null are changes, as in snapshot identity.
    assert dataset.rows.modified == 3 and dataset.column("x").modified == 3
    assert dataset.rows.unchanged == 2
    changed = {s.key["id"] for s in dataset.samples if s.kind == "modified"}
    assert changed == {2, 3, 5}


def test_tolerance_loosens_one_float_column(tmp_path: Path) -> None:
    old = pa.table({"id": [1, 2, 3], "amount": [1.0, 2.0, 3.0], "other": [1.0, 1.0, 1.0]})
    new = pa.table({"id": [1, 2, 3], "amount": [1.005, 2.5, 3.0], "other": [1.001, 1.0, 1.0]})
    pq.write_table(old, tmp_path / "a.parquet")
    pq.write_table(new, tmp_path / "b.parquet")
    exact = diff_files(tmp_path / "a.parquet", tmp_path / "b.parquet", key="id").datasets[0]
    assert exact.column("amount").modified == 2 and exact.rows.modified == 2
    loose = diff_files(tmp_path / "a.parquet", tmp_path / "b.parquet", key="id", tolerance={"amount": 0.01})
    dataset = loose.datasets[0]
    assert dataset.column("amount").modified == 1 and dataset.column("other").modified == 1
    assert dataset.rows.modified == 2 and dataset.column("amount").tolerance == 0.01


def tolerance_files(root: Path) -> tuple[Path, Path]:
    """Every kind of column a tolerance may name; only price (and, by 5, qty) moves."""
    base = {
        "id": list(range(100)),
        "name": [f"n{i}" for i in range(100)],
        "ts": pa.array(list(range(100)), pa.timestamp("ms", tz="UTC")),
        "qty": pa.array(list(range(100)), pa.int32()),
        "cost": pa.array([decimal.Decimal("1.00")] * 100, pa.decimal128(6, 2)),
    }
    old = pa.table({**base, "price": [1.0] * 100})
    new = pa.table({**base, "price": [1.0] * 99 + [1.001]}).set_column(
        3, "qty", pa.array([*range(99), 104], pa.int32())
    )
    return write(root / "a.parquet", old), write(root / "b.parquet", new)


def test_tolerance_applies_to_numbers_with_or_without_stat(tmp_path: Path) -> None:
    a, b = tolerance_files(tmp_path)
    exact = diff_files(a, b, key="id").datasets[0]
    assert exact.rows.modified == 1 and exact.column("price").modified == 1 and exact.column("qty").modified == 1
    for stat in (False, True):
        loose = diff_files(a, b, key="id", tolerance={"price": 0.01, "qty": 5, "cost": 0.5}, stat=stat).datasets[0]
        assert loose.rows.modified == 0 and loose.rows.unchanged == 100 and loose.status == "unchanged"
        # --stat reads the rows whose hashes differ to honour the tolerance, and still reports counts only.
        assert loose.column("price").modified == (None if stat else 0)
        assert not loose.samples
    partly = diff_files(a, b, key="id", tolerance={"qty": 4.9}, stat=True).datasets[0]
    assert partly.rows.modified == 1


@pytest.mark.parametrize(
    ("tolerance", "message"),
    [
        ({"name": 1}, "--tolerance name=1: column 'name' of dataset 'b' is string, not a number"),
        ({"ts": 1}, "--tolerance ts=1: column 'ts' of dataset 'b' is timestamp[ms, tz=UTC], not a number"),
        ({"id": 1}, "--tolerance id=1: 'id' is a key column of dataset 'b', and keys are matched exactly"),
        ({"nope": 0.5}, "--tolerance nope=0.5: no compared dataset has a column 'nope' in either version"),
        ({"price": -1}, "--tolerance price=-1: a tolerance must be a number >= 0"),
    ],
)
def test_a_tolerance_that_cannot_apply_is_a_usage_error(
    tmp_path: Path, tolerance: dict[str, float], message: str
) -> None:
    a, b = tolerance_files(tmp_path)
    with pytest.raises(UsageError) as caught:
        diff_files(a, b, key="id", tolerance=tolerance)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)
    assert caught.value.exit_code == 2 and caught.value.hint


def test_tolerance_on_a_retyped_or_renamed_column(tmp_path: Path) -> None:
    old = pa.table({"id": [1, 2, 3], "amount": [1.0, 2.0, 3.0], "code": ["1", "2", "3"]})
    new = pa.table({"id": [1, 2, 3], "total": pa.array([1.004, 2.0, 3.5], pa.float32()), "code": [1, 2, 4]})
    a, b = write(tmp_path / "a.parquet", old), write(tmp_path / "b.parquet", new)
    for name in ("total", "amount"):  # the new name, or the old one of a declared rename
        dataset = diff_files(a, b, key="id", rename={"amount": "total"}, tolerance={name: 0.01}).datasets[0]
        assert dataset.column("total").modified == 1 and dataset.column("total").tolerance == 0.01
    with pytest.raises(UsageError, match="column 'code' of dataset 'b' is string in the old version, int64 in the new"):
        diff_files(a, b, key="id", tolerance={"code": 1})
    with pytest.raises(UsageError, match="is diffed without a key, so rows are matched by whole content"):
        diff_files(a, b, key="", rename={"amount": "total"}, tolerance={"total": 0.01})


def test_a_rename_naming_no_column_is_a_usage_error(tmp_path: Path) -> None:
    old = pa.table({"id": [1, 2], "amount": [1.0, 2.0]})
    new = pa.table({"id": [1, 2], "total": [1.0, 2.0]})
    a, b = write(tmp_path / "a.parquet", old), write(tmp_path / "b.parquet", new)
    with pytest.raises(UsageError, match=r"--rename nope=total: no compared dataset has a column 'nope' in the old"):
        diff_files(a, b, key="id", rename={"nope": "total"})
    with pytest.raises(UsageError, match=r"--rename amount=totl: .* column 'totl' in the new version") as caught:
        diff_files(a, b, key="id", rename={"amount": "totl"})
    assert caught.value.hint == "check the name (columns: id, total)"
    assert diff_files(a, b, key="id", rename={"amount": "total"}).datasets[0].rows.modified == 0


def test_duplicate_keys_are_refused_then_matched_as_multisets(tmp_path: Path) -> None:
    old = pa.table({"id": [1, 1, 2, 3, None], "v": [10, 11, 20, 30, 40]})
    new = pa.table({"id": [1, 1, 2, 4, None], "v": [10, 12, 20, 40, 40]})
    pq.write_table(old, tmp_path / "a.parquet")
    pq.write_table(new, tmp_path / "b.parquet")
    with pytest.raises(DuplicateKeyError) as caught:
        diff_files(tmp_path / "a.parquet", tmp_path / "b.parquet", key="id")
    message = str(caught.value)
    assert "1 duplicated key value(s) on 2 rows" in message and "1 row(s) with a null key" in message
    assert "--allow-duplicate-keys" in message
    result = diff_files(tmp_path / "a.parquet", tmp_path / "b.parquet", key="id", allow_duplicate_keys=True)
    dataset = result.datasets[0]
    # (1,10), (2,20) and (null,40) pair exactly; (1,11) → (1,12) is modified; 3 removed, 4 added.
    assert (dataset.rows.unchanged, dataset.rows.modified, dataset.rows.removed, dataset.rows.added) == (3, 1, 1, 1)
    assert {p.side for p in dataset.key_problems} == {"from", "to"}
    assert dataset.key_problems[0].duplicate_rows == 2 and dataset.key_problems[0].null_keys == 1


def test_composite_and_string_keys(tmp_path: Path) -> None:
    old = pa.table({"a": ["x", "x", "y"], "b": [1, 2, 1], "v": [1.0, 2.0, 3.0]})
    new = pa.table({"a": ["x", "y", "z"], "b": [2, 1, 1], "v": [2.0, 3.5, 9.0]})
    pq.write_table(old, tmp_path / "a.parquet")
    pq.write_table(new, tmp_path / "b.parquet")
    dataset = diff_files(tmp_path / "a.parquet", tmp_path / "b.parquet", key="a,b").datasets[0]
    assert (dataset.rows.added, dataset.rows.removed, dataset.rows.modified, dataset.rows.unchanged) == (1, 1, 1, 1)
    assert dataset.samples[0].key == {"a": "y", "b": 1}
    assert dataset.samples[0].changes == (("v", 3.0, 3.5),)


def test_keyless_diff_matches_whole_rows(tmp_path: Path) -> None:
    table = make_table(2000, seed=5)
    shuffled = table.take(pa.array(np.random.default_rng(1).permutation(2000)))
    repo = commit_versions(tmp_path, [table, shuffled.slice(10)], key=())
    dataset = repo.diff("v1", "v2").dataset("data")
    assert dataset.matched_by == "row"
    assert (dataset.rows.added, dataset.rows.removed, dataset.rows.modified) == (0, 10, None)
    assert any("no key" in note for note in dataset.notes)
    # Same rows in another order: not identical ids, yet nothing differs.
    repo2 = commit_versions(tmp_path / "other", [table, shuffled], key=())
    reordered = repo2.diff("v1", "v2").dataset("data")
    assert reordered.status == "unchanged" and not reordered.identical


def test_partitioned_join_gives_the_same_answer(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    old = make_table(5000, seed=4)
    new = edit(old, rng, next_id=50_000)
    pq.write_table(old, tmp_path / "a.parquet", row_group_size=700)
    pq.write_table(new, tmp_path / "b.parquet", row_group_size=900)
    a, b = FileSide([tmp_path / "a.parquet"], "a"), FileSide([tmp_path / "b.parquet"], "b")
    plan = column_plan(a.columns, b.columns)
    whole = compare_rows(a, b, RowOptions(dataset="d", key=("id",), plan=plan))
    parts = compare_rows(a, b, RowOptions(dataset="d", key=("id",), plan=plan, partition_rows=1200))
    assert parts.chunks["passes"] > 1
    assert whole.counts == parts.counts and whole.cells == parts.cells
    assert whole.counts.modified == oracle(old, new)["modified"]
    # Each pass reads every row group again; statistics still count every row once.
    for side, table in ((a, old), (b, new)):
        stats = side.stats()
        assert stats["id"]["count"] == table.num_rows
        assert stats["note"]["nulls"] == table.column("note").null_count


def test_key_type_change_is_a_clear_error(tmp_path: Path) -> None:
    pq.write_table(pa.table({"id": [1, 2], "v": [1, 2]}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"id": ["1", "2"], "v": [1, 2]}), tmp_path / "b.parquet")
    with pytest.raises(KeyTypeChangedError, match=r"key column 'id' changed type \(int64 → string\)"):
        diff_files(tmp_path / "a.parquet", tmp_path / "b.parquet", key="id")


@pytest.mark.parametrize("key", [["id"], ["id", "shop"]])
def test_keys_of_another_integer_width_match_by_value(tmp_path: Path, key: list[str]) -> None:
    """One engine writes the key as int64, another as int32 (or unsigned): the same keys."""
    shops = ["a", "b", "a", "c"]
    old = pa.table({"id": pa.array([1, -2, 3, 4], pa.int64()), "shop": shops, "v": [1.0, 2.0, 3.0, 4.0]})
    new = pa.table({"id": pa.array([1, -2, 3, 5], pa.int32()), "shop": shops, "v": [1.0, 2.5, 3.0, 5.0]})
    pq.write_table(old, tmp_path / "a.parquet")
    pq.write_table(new, tmp_path / "b.parquet")
    rows = diff_files(tmp_path / "a.parquet", tmp_path / "b.parquet", key=key).datasets[0].rows
    assert (rows.unchanged, rows.modified, rows.removed, rows.added) == (2, 1, 1, 1)
    unsigned = pa.table({"id": pa.array([1, 2, 3, 4], pa.uint8()), "shop": shops, "v": [1.0, 2.0, 3.0, 4.0]})
    pq.write_table(unsigned, tmp_path / "u.parquet")
    rows = diff_files(tmp_path / "a.parquet", tmp_path / "u.parquet", key=key).datasets[0].rows
    assert (rows.unchanged, rows.removed, rows.added) == (3, 1, 1)  # -2 is no uint8 key


def test_uint64_keys_beside_signed_ones_are_refused(tmp_path: Path) -> None:
    """Past 2**63 an unsigned key has no signed twin: matching them could pair different keys."""
    pq.write_table(pa.table({"id": pa.array([1, 2], pa.int64())}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"id": pa.array([1, 2**64 - 1], pa.uint64())}), tmp_path / "b.parquet")
    with pytest.raises(KeyTypeChangedError, match=r"int64 → uint64"):
        diff_files(tmp_path / "a.parquet", tmp_path / "b.parquet", key="id")


def test_drift_scores_come_from_stored_statistics(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 5000
    old = pa.table({"id": np.arange(n), "x": rng.normal(0, 1, n), "c": rng.choice(["a", "b", "c"], n)})
    new = pa.table({"id": np.arange(n), "x": rng.normal(1.5, 1, n), "c": rng.choice(["a", "b", "c"], n)})
    repo = commit_versions(tmp_path, [old, new])
    dataset = repo.diff("v1", "v2").dataset("data")
    assert dataset.column("x").drift_level == "major" and dataset.column("x").drift > 0.25
    assert dataset.column("c").drift_level == "none"
    assert dataset.column("x").distribution is not None


def test_drift_sees_times_that_moved_within_hours_and_not_a_change_of_unit(tmp_path: Path) -> None:
    # Epoch microseconds agree in their first ten digits over hours: a sample rounded to six
    # digits of each value saw one number and no drift. And the same instants written in another
    # unit (pandas' ns, polars' us) are no drift at all.
    n = 5000
    start = 1_700_000_000_000_000
    hour = 3_600_000_000
    first = np.arange(n) * (hour // n) + start
    old = pa.table({"id": np.arange(n), "t": pa.array(first, pa.timestamp("us"))})
    moved = pa.table({"id": np.arange(n), "t": pa.array(first + hour, pa.timestamp("us"))})
    in_ns = pa.table({"id": np.arange(n), "t": pa.array(first + hour, pa.timestamp("us")).cast(pa.timestamp("ns"))})
    repo = commit_versions(tmp_path, [old, moved, in_ns])
    sample = repo.manifest("data", "v1").stats["t"]["sample"]
    assert len(sample) >= 1000 and len(set(sample)) == len(sample)
    assert repo.diff("v1", "v2").dataset("data").column("t").drift_level == "major"
    assert repo.diff("v2", "v3").dataset("data").column("t").drift == 0.0


def test_nested_columns_are_compared_cell_by_cell(tmp_path: Path) -> None:
    """Struct, list and map columns span several Parquet leaf columns; changed rows are still
    read and compared per top-level column, between commits and between plain files."""
    n = 6000
    old = pa.table(
        {
            "id": np.arange(n),
            "st": pa.array([{"a": i, "b": f"s{i % 5}"} for i in range(n)]),
            "ls": pa.array([[i, i + 1] for i in range(n)]),
            "m": pa.array([[("k", i)] for i in range(n)], type=pa.map_(pa.string(), pa.int64())),
            "v": np.arange(n) * 1.5,
        }
    )
    st_values, ls_values, m_values = (
        old.column("st").to_pylist(),
        old.column("ls").to_pylist(),
        old.column("m").to_pylist(),
    )
    st_values[5] = {"a": -1, "b": "x"}
    ls_values[7] = [0]
    m_values[11] = [("k", -1), ("j", 2)]
    new = (
        old.set_column(1, "st", pa.array(st_values))
        .set_column(2, "ls", pa.array(ls_values))
        .set_column(3, "m", pa.array(m_values, type=old.schema.field("m").type))
    )
    expected = {"id": 0, "st": 1, "ls": 1, "m": 1, "v": 0}
    repo = commit_versions(tmp_path / "repo", [old, new])
    committed = repo.diff("v1", "v2").dataset("data")
    write_a, write_b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    pq.write_table(old, write_a, row_group_size=1000)
    pq.write_table(new, write_b, row_group_size=1500)
    files = diff_files(write_a, write_b, key="id").datasets[0]
    for dataset in (committed, files):
        assert dataset.rows.modified == 3
        assert {c.name: c.modified for c in dataset.columns} == expected
        changed = {s.key["id"]: s.changes[0][0] for s in dataset.samples if s.kind == "modified"}
        assert changed == {5: "st", 7: "ls", 11: "m"}


def test_folder_of_files_written_with_other_string_types(tmp_path: Path) -> None:
    """pandas and polars write large_string, pyarrow string: a folder may hold both, and a diff of
    it compares values, not encodings."""
    table = make_table(3000)
    large = pa.schema([pa.field(f.name, pa.large_string()) if f.type == pa.string() else f for f in table.schema])
    old, new = tmp_path / "old", tmp_path / "new"
    for folder in (old, new):
        folder.mkdir()
        pq.write_table(table.slice(0, 1500), folder / "a.parquet")
    pq.write_table(table.slice(1500).cast(large), old / "b.parquet")
    edited = table.slice(1500).to_pandas()
    edited.loc[edited.index[:10], "amount"] += 1.0
    pq.write_table(
        pa.Table.from_pandas(edited, schema=table.schema, preserve_index=False).cast(large), new / "b.parquet"
    )
    dataset = diff_files(old, new, key="id").datasets[0]
    assert (dataset.rows.added, dataset.rows.removed, dataset.rows.modified) == (0, 0, 10)
    assert {c.name: c.modified for c in dataset.columns}["amount"] == 10


def test_signalling_nans_commit_and_compare_without_warnings(tmp_path: Path) -> None:
    """A signalling NaN (quiet bit clear) makes numpy warn when cast to float64; the statistics
    and the cells a tolerance compares must treat it as the NaN it is (warnings are errors here)."""
    signalling32 = np.array([0x7FA00001], dtype=np.uint32).view(np.float32)[0]
    signalling16 = np.array([0x7D00], dtype=np.uint16).view(np.float16)[0]
    old = pa.table(
        {
            "id": [1, 2, 3],
            "x": np.array([signalling32, 1.0, 2.0], dtype=np.float32),
            "h": np.array([signalling16, 1.0, 2.0], dtype=np.float16),
            "n": [0, 0, 0],
        }
    )
    new = old.set_column(1, "x", pa.array(np.array([signalling32, 1.0, 2.5], dtype=np.float32)))
    new = new.set_column(3, "n", pa.array([1, 0, 0]))  # the row of NaNs changes too: its cells are compared
    repo = commit_versions(tmp_path, [old, new])
    for column in ("x", "h"):
        stats = repo.manifest("data", "v1").stats[column]
        assert (stats["nan"], stats["min"], stats["max"], stats["sample"]) == (1, 1.0, 2.0, [1.0, 2.0])
    dataset = repo.diff("v1", "v2", tolerance={"x": 0.1, "h": 0.1}).datasets[0]
    assert dataset.rows.modified == 2 and dataset.column("x").modified == 1 and dataset.column("h").modified == 0
