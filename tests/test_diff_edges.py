"""Diff answers found wrong by trying it on awkward data: tolerances computed exactly (nulls,
decimals, integers past 2**53), renames that swap or reuse names, a dataset named twice, drift
of columns that go null, NaN or past their old range, and two identical files."""

from __future__ import annotations

import decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from datakeep.api import Repo
from datakeep.cli import cli
from datakeep.diff import diff_files
from datakeep.diff.tolerance import numbers, within
from datakeep.errors import UsageError
from datakeep.render.diff_html import render_html


def pair(
    root: Path, old: dict[str, list[object]], new: dict[str, list[object]], **types: pa.DataType
) -> tuple[Path, Path]:
    """Two Parquet files in ``root``; ``types`` types some columns (e.g. a decimal)."""
    paths = []
    for name, columns in (("old", old), ("new", new)):
        table = pa.table({c: pa.array(v, type=types.get(c)) for c, v in columns.items()})
        pq.write_table(table, root / f"{name}.parquet")
        paths.append(root / f"{name}.parquet")
    return paths[0], paths[1]


# -- tolerances ---------------------------------------------------------------------------------


def test_a_null_never_equals_a_number_whatever_the_tolerance(tmp_path: Path) -> None:
    old, new = pair(tmp_path, {"id": [1, 2, 3], "x": [None, 1.0, None]}, {"id": [1, 2, 3], "x": [-np.inf, None, 4.0]})
    for tolerance in (0.001, float("inf")):
        dataset = diff_files(old, new, key="id", tolerance={"x": tolerance}).datasets[0]
        assert dataset.column("x").modified == 3, tolerance


def test_a_decimal_tolerance_is_decimal_arithmetic(tmp_path: Path) -> None:
    money = pa.decimal128(20, 2)
    values = [decimal.Decimal(v) for v in ("1.00", "1.00", "10000000000000000.00")]
    changed = [decimal.Decimal(v) for v in ("1.01", "0.99", "10000000000000000.50")]
    old, new = pair(tmp_path, {"id": [1, 2, 3], "d": values}, {"id": [1, 2, 3], "d": changed}, d=money)
    dataset = diff_files(old, new, key="id", tolerance={"d": 0.01}).datasets[0]
    # A difference of exactly the tolerance is within it; 0.50 on 10^16 is not lost to floats.
    assert dataset.column("d").modified == 1
    assert [s.key for s in dataset.samples] == [{"id": 3}]


@pytest.mark.parametrize("view", [pa.string_view(), pa.binary_view()])
def test_files_with_view_columns_diff_with_their_samples(tmp_path: Path, view: pa.DataType) -> None:
    """Arrow's take has no kernel for views: the changed rows' cells and keys are read widened."""
    values = ["a", "b", "c"] if view == pa.string_view() else [b"a", b"b", b"c"]
    changed = [values[0], values[2], values[2]]
    old, new = pair(tmp_path, {"k": values, "s": values}, {"k": values, "s": changed}, k=view, s=view)
    dataset = diff_files(old, new, key="k").datasets[0]
    assert dataset.column("s").modified == 1
    assert len(dataset.samples) == 1


def test_integers_beyond_float_precision_compare_exactly(tmp_path: Path) -> None:
    big = 2**60
    old, new = pair(tmp_path, {"id": [1, 2], "n": [big, -big]}, {"id": [1, 2], "n": [big + 100, -big - 3]})
    dataset = diff_files(old, new, key="id", tolerance={"n": 3}).datasets[0]
    assert dataset.column("n").modified == 1 and [s.key for s in dataset.samples] == [{"id": 1}]


int64s = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@given(st.lists(st.tuples(int64s, int64s), min_size=1, max_size=50), st.integers(min_value=0, max_value=2**64))
def test_integer_tolerance_is_exact_over_the_whole_int64_range(pairs: list[tuple[int, int]], tolerance: int) -> None:
    a = numbers(pa.array([x for x, _ in pairs], pa.int64()))
    b = numbers(pa.array([y for _, y in pairs], pa.int64()))
    assert within(a, b, float(tolerance)).tolist() == [abs(x - y) <= float(tolerance) for x, y in pairs]


# -- renames ------------------------------------------------------------------------------------


def test_renames_may_swap_columns_or_reuse_a_name(tmp_path: Path) -> None:
    old, new = pair(tmp_path, {"id": [1, 2], "a": [1, 2], "b": [3, 4]}, {"id": [1, 2], "a": [3, 4], "b": [1, 2]})
    swapped = diff_files(old, new, key="id", rename={"a": "b", "b": "a"}).datasets[0]
    assert swapped.rows.modified == 0 and swapped.rows.unchanged == 2
    assert {(r.old, r.new) for r in swapped.schema.renamed} == {("a", "b"), ("b", "a")}
    # Old a is compared with new b; old b, whose name new a now holds, is nobody's.
    onto = diff_files(old, new, key="id", rename={"a": "b"}).datasets[0]
    assert onto.schema.removed == ("b",) and onto.schema.added == ("a",)
    assert onto.column("b").modified == 0


def test_two_columns_renamed_to_one_name_is_refused(tmp_path: Path) -> None:
    old, new = pair(tmp_path, {"id": [1], "a": [1], "b": [2]}, {"id": [1], "c": [1]})
    with pytest.raises(UsageError, match="a and b are all renamed c"):
        diff_files(old, new, key="id", rename={"a": "c", "b": "c"})


# -- naming -------------------------------------------------------------------------------------


def test_a_dataset_named_twice_is_reported_once(repo: Repo) -> None:
    pq.write_table(pa.table({"id": [1, 2]}), repo.root / "t.parquet")
    repo.add(repo.root / "t.parquet", name="t", key=["id"])
    repo.commit(message="one")
    pq.write_table(pa.table({"id": [1, 3]}), repo.root / "t.parquet")
    repo.commit(message="two")
    for result in (repo.diff("HEAD~1:t", "HEAD:t"), repo.diff("HEAD~1", "HEAD", name=["t", "t"])):
        assert [d.name for d in result.datasets] == ["t"]


def test_a_file_against_itself_claims_no_difference(tmp_path: Path) -> None:
    old, _ = pair(tmp_path, {"id": [1, 2], "x": [1.0, 2.0]}, {"id": [1], "x": [1.0]})
    for other in (old, tmp_path / "copy.parquet"):
        (tmp_path / "copy.parquet").write_bytes(old.read_bytes())
        dataset = diff_files(old, other, key="id").datasets[0]
        assert dataset.status == "identical" and "snapshot ids differ" not in " ".join(dataset.notes)
    # The same rows in another file are unchanged, not identical: the bytes say nothing there.
    pq.write_table(pq.read_table(old), tmp_path / "rewritten.parquet", compression="zstd")
    assert diff_files(old, tmp_path / "rewritten.parquet", key="id").datasets[0].status == "unchanged"


def test_html_says_a_dataset_is_on_one_side_only(repo: Repo) -> None:
    pq.write_table(pa.table({"id": [1]}), repo.root / "gone.parquet")
    repo.add(repo.root / "gone.parquet", name="gone")
    repo.commit(message="one")
    repo.rm("gone")
    pq.write_table(pa.table({"id": [2]}), repo.root / "new.parquet")
    repo.add(repo.root / "new.parquet", name="fresh")
    repo.commit(message="two")
    page = render_html(repo.diff("HEAD~1", "HEAD"))
    assert "only in the old version" in page and "only in the new version" in page
    assert "same snapshot id" not in page


# -- drift --------------------------------------------------------------------------------------


def test_drift_sees_categories_replaced_when_the_top_lists_hold_every_value(tmp_path: Path) -> None:
    old, new = pair(
        tmp_path,
        {"id": list(range(100)), "country": ["DE", "FR"] * 50},
        {"id": list(range(100)), "country": ["US", "GB"] * 50},
    )
    drift = diff_files(old, new, key="id").datasets[0].column("country").drift
    assert drift is not None and drift >= 0.25


def drift_of(tmp_path: Path, old: list[object], new: list[object]) -> float | None:
    typed = pa.float64() if any(isinstance(v, float) for v in [*old, *new]) else None
    a, b = pair(tmp_path, {"id": list(range(len(old))), "x": old}, {"id": list(range(len(new))), "x": new}, x=typed)
    return diff_files(a, b, key="id").datasets[0].column("x").drift


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ([float(i % 50) for i in range(1000)], [None] * 1000),  # every value gone
        ([float(i % 50) for i in range(1000)], [float("nan")] * 900 + [float(i) for i in range(100)]),  # NaN
        ([1] * 1000, [1000] * 1000),  # past the old range upwards
        ([i % 2 for i in range(1000)], [0 if i % 2 else 7 for i in range(1000)]),  # a new, larger code
        ([float(i) for i in range(1000)], [float("inf")] * 500 + [float(i) for i in range(500)]),  # +inf
        ([None] * 1000, [float(i) for i in range(1000)]),  # values where there were none
    ],
    ids=["to-null", "to-nan", "up", "new-code", "to-inf", "from-null"],
)
def test_drift_sees_values_go_missing_or_leave_the_old_range(
    tmp_path: Path, old: list[object], new: list[object]
) -> None:
    drift = drift_of(tmp_path, old, new)
    assert drift is not None and drift >= 0.25


def test_an_unchanged_column_scores_no_drift(tmp_path: Path) -> None:
    values = [float(i % 97) for i in range(5000)]
    drift = drift_of(tmp_path, values, list(reversed(values)))
    assert drift is not None and drift < 0.02


def test_decimals_drift_as_numbers_in_files_and_commits(tmp_path: Path) -> None:
    """A decimal's statistics keep no sample, and it was scored as categories: amounts that
    rarely repeat all fell in "other" on both sides, and every amount moved past the old
    greatest scored 0.000 "none"."""
    money = pa.decimal128(10, 2)
    ids = list(range(1000))
    old = {"id": ids, "amount": [decimal.Decimal(i) for i in ids], "amount_f": [float(i) for i in ids]}
    new = {"id": ids, "amount": [decimal.Decimal(i + 500) for i in ids], "amount_f": [float(i + 500) for i in ids]}
    a, b = pair(tmp_path, old, new, amount=money)
    dataset = diff_files(a, b, key="id").datasets[0]
    assert dataset.column("amount").drift_level == "major"
    assert dataset.column("amount").drift == dataset.column("amount_f").drift  # as the float copy
    assert dataset.column("amount").distribution["labels"][-1] == "null"  # binned: no "(other)"
    code = CliRunner().invoke(cli, ["diff", str(a), str(b), "--key", "id", "--fail-on", "drift.amount"]).exit_code
    assert code == 1

    repo = Repo.init(tmp_path / "repo")
    path = tmp_path / "repo" / "t.parquet"
    for version, (columns, note) in enumerate(((old, "v1"), (new, "v2"), (new, "v3")), start=1):
        table = pa.table({c: pa.array(v, type=money if c == "amount" else None) for c, v in columns.items()})
        if version == 3:  # the same values, other rows edited: no drift
            table = table.set_column(2, "amount_f", pa.array([float(-i) for i in ids]))
        pq.write_table(table, path)
        if version == 1:
            repo.add(path, name="t", key=["id"])
        repo.commit(message=note)
        repo.tag(note)
    assert repo.diff("v1", "v2").dataset("t").column("amount").drift_level == "major"
    assert repo.diff("v2", "v3").dataset("t").column("amount").drift == 0.0


def test_text_whose_values_all_changed_is_not_called_stable(tmp_path: Path) -> None:
    """Top values plus "other" cannot see a column of distinct values: all-new emails scored a
    measured 0.000 "none". Such a score is now null, with the reason, unless it is drift anyway."""
    ids = list(range(500))
    old = {"id": ids, "email": [f"user{i}@old.example" for i in ids], "code": ["a", "b"] * 250}
    new = {"id": ids, "email": [f"user{i}@new.example" for i in ids], "code": ["a", "b"] * 250}
    a, b = pair(tmp_path, old, new)
    result = diff_files(a, b, key="id")
    email = result.datasets[0].column("email")
    assert email.drift is None and email.drift_level is None and email.distribution is None
    assert email.drift_reason is not None and "too many distinct values" in email.drift_reason
    assert result.datasets[0].column("code").drift == 0.0  # every value listed: a measured zero
    text = str(result)
    assert "n/a" in next(line for line in text.splitlines() if line.strip().startswith("email"))
    assert "drift not measured (n/a) for email" in text
    assert result.datasets[0].to_dict()["columns"]["email"]["drift_reason"] == email.drift_reason
    # A gate on it could never trip: an error (exit 2) that says why and what to gate on instead.
    run = CliRunner().invoke(cli, ["diff", str(a), str(b), "--key", "id", "--fail-on", "drift.email"])
    assert run.exit_code == 2, run.output
    assert "drift of email is not measured" in run.output and "cells.email" in run.output
    every = CliRunner().invoke(cli, ["diff", str(a), str(b), "--key", "id", "--fail-on", "drift.*"])
    assert every.exit_code == 0, every.output  # the largest measured score: code's 0

    # What the named bins do see still counts: half the emails going null is drift.
    half = {**new, "email": [None if i % 2 else e for i, e in enumerate(new["email"])]}
    a, b = pair(tmp_path, old, half)
    assert diff_files(a, b, key="id").datasets[0].column("email").drift_level == "major"

    # Past 1,000 distinct values no counts are stored at all: null, with its reason too.
    many = list(range(3000))
    a, b = pair(tmp_path, {"id": many, "s": [f"x{i}" for i in many]}, {"id": many, "s": [f"y{i}" for i in many]})
    column = diff_files(a, b, key="id").datasets[0].column("s")
    assert column.drift is None and "over 1,000" in (column.drift_reason or "")

    # Their null rate is still measured: every value going null is drift, unbinned values or not.
    gone = {"id": many, "s": [None] * len(many)}
    a, b = pair(tmp_path, {"id": many, "s": [f"x{i}" for i in many]}, gone)
    column = diff_files(a, b, key="id").datasets[0].column("s")
    assert column.drift_level == "major" and column.drift_reason is None
    assert column.distribution is not None and column.distribution["labels"] == ["(values)", "null"]
    tripped = CliRunner().invoke(cli, ["diff", str(a), str(b), "--key", "id", "--fail-on", "drift.s"])
    assert tripped.exit_code == 1, tripped.output
