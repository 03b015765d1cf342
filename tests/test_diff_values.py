"""How diff samples show cells: values Python cannot hold (dates past the year 9999, durations at
the int64 limits), a float NaN beside the text 'nan', and text changes that print alike (a
trailing space, a newline, a composed accent, a zero-width space) in the text and HTML reports."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pyarrow as pa
import pyarrow.parquet as pq
from click.testing import CliRunner

from datakeep.api import Repo
from datakeep.cli import cli
from datakeep.diff import diff_files
from datakeep.render.diff_html import render_html
from datakeep.render.diff_text import render_text
from datakeep.serialize import pretty_json
from tests.test_diff_cli import SCHEMA

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
        # As `show` stores them (temporal_text): ISO 8601 expanded years, durations as timedelta.
        "d": ("+10000-12-31", "+10001-01-01"),
        "ts": ("+33658-09-27T01:46:40+00:00", "+33658-09-27T01:46:40.001000+00:00"),
        "dur": ("106751991167300 days, 15:30:07", "106751991167300 days, 15:30:06"),
    }


def test_a_float_nan_is_not_the_text_nan(tmp_path: Path) -> None:
    pq.write_table(pa.table({"id": [1, 2], "x": [float("nan"), 1.0], "s": ["a", "nan"]}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"id": [1, 2], "x": [None, 1.0], "s": ["a", None]}), tmp_path / "b.parquet")
    result = diff_files(tmp_path / "a.parquet", tmp_path / "b.parquet", key="id")
    text = render_text(result)
    assert "x: NaN → null" in text and "s: 'nan' → null" in text
    document = json.loads(pretty_json(result.to_dict()))
    jsonschema.validate(document, SCHEMA)
    samples = document["datasets"][0]["samples"]
    # JSON has no NaN: the text 'nan' as before, and the change says which side is a float's.
    assert samples[0]["changes"] == [{"column": "x", "from": "nan", "to": None, "non_finite": ["from"]}]
    assert samples[1]["changes"] == [{"column": "s", "from": "nan", "to": None}]
    assert "NaN</code>" in render_html(result)


def test_text_changes_that_print_alike_are_told_apart_in_text_and_html(tmp_path: Path) -> None:
    old = ["c", "a b", "café", "x", "a  b"]
    new = ["c ", "a\nb", "cafe\u0301", "x\u200b", "a b"]
    pq.write_table(pa.table({"id": [1, 2, 3, 4, 5], "s": old}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"id": [1, 2, 3, 4, 5], "s": new}), tmp_path / "b.parquet")
    result = diff_files(tmp_path / "a.parquet", tmp_path / "b.parquet", key="id")
    shown = {
        "s: 'c' → 'c '",
        "s: 'a b' → 'a\\nb'",
        "s: 'caf\\xe9' → 'cafe\\u0301'",  # precomposed against a combining accent
        "s: 'x' → 'x\\u200b'",
        "s: 'a  b' → 'a b'",
    }
    text = render_text(result)
    assert all(line in text for line in shown), text
    html = render_html(result)
    # Quoted, escaped, and in a cell that keeps spaces (white-space: pre-wrap), as the text says.
    assert "code.v{white-space:pre-wrap" in html
    for before, after in (("&#x27;c&#x27;", "&#x27;c &#x27;"), ("&#x27;caf\\xe9&#x27;", "&#x27;cafe\\u0301&#x27;")):
        assert f'<code class="v">{before}</code> → <b><code class="v">{after}</code></b>' in html
    assert '<code class="v">&#x27;a  b&#x27;</code>' in html and "x\\u200b" in html and "a\\nb" in html


def test_the_cli_reports_rows_with_far_times_in_every_form(tmp_path: Path) -> None:
    pq.write_table(far_table([1, 2, 3]), tmp_path / "a.parquet")
    pq.write_table(far_table([10, 2, 3]), tmp_path / "b.parquet")
    for form in ([], ["--json"], ["--html", str(tmp_path / "r.html")]):
        args = ["diff", str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet"), "--key", "id", *form]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
    assert '<code class="v">1</code> → <b><code class="v">10</code></b>' in (tmp_path / "r.html").read_text()
