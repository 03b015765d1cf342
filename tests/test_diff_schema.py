"""Schema changes between real committed versions: renames (explicit and candidate), int → float,
string → timestamp, lossy and lossless type changes, dropped and added columns, nullability and order."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from datakeep.api import Repo
from datakeep.cli import cli
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


def test_a_column_of_only_nulls_that_gains_a_type_changes_only_the_cells_that_got_values(tmp_path: Path) -> None:
    """Written as type null while empty, as string once filled: null against null is no change,
    either way round (the cast back to null had called every cell lost)."""
    old = pa.table({"id": [1, 2, 3], "c": pa.nulls(3)})
    new = pa.table({"id": [1, 2, 3], "c": pa.array([None, "x", None])})
    repo = versions(tmp_path, old, new)
    for a, b in (("HEAD~1", "HEAD"), ("HEAD", "HEAD~1")):
        dataset = repo.diff(a, b).dataset("t")
        assert dataset.rows.modified == 1 and dataset.rows.unchanged == 2, (a, b)
        assert [s.key for s in dataset.samples] == [{"id": 2}]
    assert repo.log()[0][1].summary["t"]["rows"]["modified"] == 1


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


def lossy_retype(root: Path) -> Repo:
    """double → float32, timestamp[ns] → [us] (sub-microsecond part cut) and string → int64."""
    old = pa.table(
        {
            "id": [1, 2, 3],
            "price": pa.array([0.1, 0.2, 0.5], pa.float64()),
            "t": pa.array([1_000_000_001, 2_000_000_999, 3_000_000_000], pa.timestamp("ns")),
            "code": ["007", "1", "2"],
        }
    )
    new = pa.table(
        {
            "id": [1, 2, 3],
            "price": old["price"].cast(pa.float32()),
            "t": old["t"].cast(pa.timestamp("us"), safe=False),
            "code": pa.array([7, 1, 2], pa.int64()),
        }
    )
    return versions(root, old, new)


def test_a_lossy_type_change_counts_the_cells_it_altered(tmp_path: Path) -> None:
    repo = lossy_retype(tmp_path)
    dataset = repo.diff("HEAD~1", "HEAD").dataset("t")
    # 0.5 and 3 s are exact in the new types, and '2' is the canonical text of 2: row 3 is unchanged.
    assert {c.name: c.modified for c in dataset.columns} == {"id": 0, "price": 2, "t": 2, "code": 1}
    assert (dataset.rows.modified, dataset.rows.unchanged) == (2, 1)
    first = next(s for s in dataset.samples if s.key == {"id": 1})
    assert {column: (old, new) for column, old, new in first.changes}["code"] == ("007", 7)
    # The other way round too: the old value is now the one the new type holds exactly.
    back = repo.diff("HEAD", "HEAD~1").dataset("t")
    assert {c.name: c.modified for c in back.columns} == {"id": 0, "price": 2, "t": 2, "code": 1}
    # --stat (row hashes only) counts the same rows, and so does a diff without a key.
    assert repo.diff("HEAD~1", "HEAD", stat=True).dataset("t").rows.modified == 2
    keyless = repo.diff("HEAD~1", "HEAD", key="").dataset("t").rows
    assert (keyless.added, keyless.removed, keyless.unchanged) == (2, 2, 1)


def test_lossy_type_change_through_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lossy_retype(tmp_path)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(cli, ["diff", "HEAD~1", "HEAD", "--fail-on", "cells.price"], catch_exceptions=False)
    assert result.exit_code == 1
    assert "+0 added, -0 removed, ~2 modified, 1 unchanged" in result.stdout
    assert "✗ cells.price: holds for t" in result.stdout
    result = runner.invoke(cli, ["log", "--stat", "-n", "1"], catch_exceptions=False)
    assert "t: 3 → 3 rows, 0 added, 0 removed, 2 modified" in result.stdout


def test_lossless_widening_changes_no_cell_and_real_changes_still_count(tmp_path: Path) -> None:
    old = pa.table(
        {
            "id": [1, 2, 3],
            "n": pa.array([1, 2, None], pa.int32()),
            "x": pa.array([0.5, float("nan"), 0.1], pa.float32()),
            "d": pa.array([19000, 19001, 19002], pa.date32()),
        }
    )
    new = pa.table(
        {
            "id": [1, 2, 3],
            "n": pa.array([1, 2, None], pa.int64()),
            "x": pa.array([0.5, float("nan"), 0.25], pa.float64()),
            "d": old["d"].cast(pa.timestamp("ms")),
        }
    )
    dataset = versions(tmp_path, old, new).diff("HEAD~1", "HEAD").dataset("t")
    assert len(dataset.schema.type_changed) == 3
    assert {c.name: c.modified for c in dataset.columns} == {"id": 0, "n": 0, "x": 1, "d": 0}
    assert dataset.rows.modified == 1


def test_retyped_text_compares_by_canonical_text_with_numbers_by_instant_with_times(tmp_path: Path) -> None:
    old = pa.table(
        {
            "id": [1, 2, 3, 4, 5],
            "code": pa.array(["7", "007", "+7", None, "x"]),
            "coded": pa.array(["7", "007", "+7", None, "x"]).dictionary_encode(),  # values compared
            "at": pa.array([0, 1, 2, 3, 4], pa.int64()).cast(pa.timestamp("s")),
        }
    )
    new = pa.table(
        {
            "id": [1, 2, 3, 4, 5],
            "code": pa.array([7, 7, 7, None, 0], pa.int64()),
            "coded": pa.array([7, 7, 7, None, 0], pa.int64()),
            "at": ["1970-01-01T00:00:00", "1970-01-01 00:00:01", "1970-01-01 00:00:09", "bad", "1970-01-01 00:00:04"],
        }
    )
    dataset = versions(tmp_path, old, new).diff("HEAD~1", "HEAD").dataset("t")
    # code: '7' = 7 and null = null; '007', '+7' and 'x' are not 7 or 0. at: the instant, however
    # spelled; 00:00:09 is another instant and 'bad' none at all.
    assert {c.name: c.modified for c in dataset.columns} == {"id": 0, "code": 3, "coded": 3, "at": 2}
    assert dataset.rows.modified == 4
