"""How diff samples show cells: values Python cannot hold (dates past the year 9999, durations at
the int64 limits)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from click.testing import CliRunner

from datakeep.api import Repo
from datakeep.cli import cli
from datakeep.diff import diff_files
from datakeep.render.diff_html import render_html
from datakeep.render.diff_text import render_text
from datakeep.serialize import pretty_json

#: 10000-12-31 and date32's least value (2**31 days before 1970): valid Arrow, no Python date.
FAR_DAYS = [2932897 + 365, -(2**31)]


def far_table(v: list[int]) -> pa.Table:
    """Three rows whose first two hold times Python cannot hold, in every temporal family."""
    return pa.table(
        {
            "id": [1, 2, 3],
            "d": pa.array([*FAR_DAYS, 0], pa.int32()).cast(pa.date32()),
            "ts": pa.array([10**15, -(10**15), 0], pa.timestamp("ms", tz="UTC")),
            "us": pa.array([253402300800 * 10**6, -62135596801 * 10**6, 0], pa.timestamp("us")),
            "dur": pa.array([2**63 - 1, -(2**63) + 1, 0], pa.duration("s")),
            "v": v,
        }
    )


def commit_two(root: Path, old: pa.Table, new: pa.Table, key: str) -> Repo:
    repo = Repo.init(root)
    path = root / "t.parquet"
    pq.write_table(old, path)
    repo.add(path, name="t", key=[key])
    repo.commit(message="v1")
    pq.write_table(new, path)
    repo.commit(message="v2")
    return repo


def test_samples_of_rows_holding_times_python_cannot_hold_are_shown(tmp_path: Path) -> None:
    """One such cell in a sampled row made every diff of the dataset exit 2 (OverflowError)."""
    repo = commit_two(tmp_path, far_table([1, 2, 3]), far_table([10, 20, 3]), "id")
    result = repo.diff("HEAD~1", "HEAD")
    dataset = result.dataset("t")
    assert (dataset.rows.modified, dataset.rows.unchanged) == (2, 1)
    assert [(s.key, s.changes) for s in dataset.samples] == [({"id": 1}, (("v", 1, 10),)), ({"id": 2}, (("v", 2, 20),))]
    # Every report renders; the JSON parses.
    assert "v: 1 → 10" in render_text(result)
    assert "datakeep diff" in render_html(result)
    assert json.loads(pretty_json(result.to_dict()))["datasets"][0]["rows"]["modified"] == 2


def test_times_python_cannot_hold_are_shown_as_text_and_still_match_as_keys(tmp_path: Path) -> None:
    old = far_table([1, 2, 3])
    new = far_table([1, 2, 3]).set_column(5, "v", pa.array([1, 20, 30]))
    # Keyed by the far date: rows 2 (the least date32) and 3 changed, row 1 did not.
    dataset = commit_two(tmp_path, old, new, "d").diff("HEAD~1", "HEAD").dataset("t")
    assert (dataset.rows.modified, dataset.rows.unchanged, dataset.rows.added, dataset.rows.removed) == (2, 1, 0, 0)
    keys = {s.key["d"] for s in dataset.samples}
    assert keys == {"-5877641-06-23", "1970-01-01"}  # ISO-like, with a year past four digits
    # A changed cell that holds such a value is written the same way, in any family of times.
    changed = far_table([1, 2, 3])
    changed = changed.set_column(1, "d", pa.array([FAR_DAYS[0] + 1, *FAR_DAYS[1:], 0], pa.int32()).cast(pa.date32()))
    changed = changed.set_column(4, "dur", pa.array([2**63 - 2, -(2**63) + 1, 0], pa.duration("s")))
    changed = changed.set_column(2, "ts", pa.array([10**15 + 1, -(10**15), 0], pa.timestamp("ms", tz="UTC")))
    pq.write_table(far_table([1, 2, 3]), tmp_path / "a.parquet")
    pq.write_table(changed, tmp_path / "b.parquet")
    sample = diff_files(tmp_path / "a.parquet", tmp_path / "b.parquet", key="id").datasets[0].samples[0]
    assert dict((c, (a, b)) for c, a, b in sample.changes) == {
        "d": ("10000-12-31", "10001-01-01"),
        "ts": ("33658-09-27T01:46:40+00:00", "33658-09-27T01:46:40.001+00:00"),
        "dur": (f"{2**63 - 1} s", f"{2**63 - 2} s"),
    }


def test_the_cli_reports_rows_with_far_times_in_every_form(tmp_path: Path) -> None:
    pq.write_table(far_table([1, 2, 3]), tmp_path / "a.parquet")
    pq.write_table(far_table([10, 2, 3]), tmp_path / "b.parquet")
    for form in ([], ["--json"], ["--html", str(tmp_path / "r.html")]):
        args = ["diff", str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet"), "--key", "id", *form]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
    assert "v: 1 → 10" in render_text(diff_files(tmp_path / "a.parquet", tmp_path / "b.parquet", key="id"))
