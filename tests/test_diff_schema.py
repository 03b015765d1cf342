"""Schema changes between real committed versions: renames (explicit and candidate), int → float,
string → timestamp, dropped and added columns, nullability and order."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from datakeep.api import Repo
from datakeep.diff.schema import schema_diff


def versions(root: Path, old: pa.Table, new: pa.Table) -> Repo:
    repo = Repo.init(root)
    path = root / "t.parquet"
    pq.write_table(old, path)
    repo.add(path, name="t", key=["id"])
    repo.commit(message="v1")
    pq.write_table(new, path)
    repo.commit(message="v2")
    return repo


def test_int_to_float_with_equal_values_changes_no_cell(tmp_path: Path) -> None:
    old = pa.table({"id": [1, 2, 3], "n": pa.array([1, 2, 3], pa.int64())})
    new = pa.table({"id": [1, 2, 3], "n": pa.array([1.0, 2.0, 3.5], pa.float64())})
    dataset = versions(tmp_path, old, new).diff("HEAD~1", "HEAD").dataset("t")
    assert [t.to_dict() for t in dataset.schema.type_changed] == [{"column": "n", "from": "int64", "to": "double"}]
    assert dataset.column("n").modified == 1 and dataset.rows.modified == 1


def test_string_to_timestamp(tmp_path: Path) -> None:
    old = pa.table({"id": [1, 2], "at": ["2024-01-01 00:00:00", "2024-01-02 00:00:00"]})
    new = pa.table({"id": [1, 2], "at": pa.array([0, 0], pa.int64()).cast(pa.timestamp("us"))})
    new = new.set_column(1, "at", pa.array(["2024-01-01 00:00:00", "2024-03-01 00:00:00"]).cast(pa.timestamp("us")))
    dataset = versions(tmp_path, old, new).diff("HEAD~1", "HEAD").dataset("t")
    assert dataset.schema.type_changed[0].old == "string" and dataset.schema.type_changed[0].new == "timestamp[us]"
    assert dataset.column("at").modified == 1


def test_dropped_and_added_columns_compare_the_common_ones(tmp_path: Path) -> None:
    old = pa.table({"id": [1, 2, 3], "a": [1, 2, 3], "gone": ["x", "y", "z"]})
    new = pa.table({"id": [1, 2, 3], "a": [1, 2, 30], "fresh": [True, False, True]})
    dataset = versions(tmp_path, old, new).diff("HEAD~1", "HEAD").dataset("t")
    assert dataset.schema.removed == ("gone",) and dataset.schema.added == ("fresh",)
    assert dataset.rows.modified == 1 and dataset.rows.unchanged == 2
    assert dataset.column("fresh").modified is None


def test_rename_explicit_and_candidate(tmp_path: Path) -> None:
    old = pa.table({"id": [1, 2, 3], "amount": [1.5, 2.5, 3.5], "v": [1, 2, 3]})
    new = pa.table({"id": [1, 2, 3], "total": [1.5, 2.5, 9.0], "value": [1, 2, 3]})
    repo = versions(tmp_path, old, new)
    guessed = repo.diff("HEAD~1", "HEAD").dataset("t")
    # Same values under another name: only a candidate until the user says so.
    assert [(r.old, r.new, r.how) for r in guessed.schema.renamed] == [("v", "value", "candidate")]
    assert set(guessed.schema.removed) == {"amount", "v"}
    told = repo.diff("HEAD~1", "HEAD", rename={"amount": "total", "v": "value"}).dataset("t")
    assert {(r.old, r.new, r.how) for r in told.schema.renamed} == {
        ("amount", "total", "explicit"),
        ("v", "value", "explicit"),
    }
    assert told.schema.removed == () and told.schema.added == ()
    assert told.column("total").modified == 1 and told.column("value").modified == 0
    assert told.rows.modified == 1


def test_nullability_and_order() -> None:
    old = [{"name": "a", "type": "int64", "nullable": True}, {"name": "b", "type": "string", "nullable": True}]
    new = [{"name": "b", "type": "string", "nullable": False}, {"name": "a", "type": "int64", "nullable": True}]
    diff = schema_diff(old, new)
    assert diff.reordered and diff.changed
    assert [t.to_dict() for t in diff.nullability_changed] == [{"column": "b", "from": "nullable", "to": "not null"}]
    assert not schema_diff(old, old).changed
