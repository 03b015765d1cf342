"""`datakeep diff` through click's CliRunner: exit codes and messages, --fail-on gates, JSON
validated against docs/diff.schema.json, HTML, two plain files (and a mistyped one), tolerances
and renames that cannot apply, and `log --stat` summaries."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from datakeep.cli import cli
from datakeep.diff import conditions
from datakeep.diff.errors import ConditionError
from tests.conftest import make_table

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "docs" / "diff.schema.json").read_text())


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def two_versions(project: Path) -> Path:
    """A repository with tags v1 and v2 of `flights` (key id): rows added, removed and modified."""
    table = make_table(2000, seed=1)
    pq.write_table(table, project / "flights.parquet")
    assert invoke("init")[0] == 0
    assert invoke("add", "flights.parquet", "--key", "id")[0] == 0
    assert invoke("commit", "-m", "v1")[0] == 0
    assert invoke("tag", "v1")[0] == 0
    df = table.to_pandas()
    df.loc[[3, 4, 5], "amount"] = 0.5
    df = df.drop(index=range(100, 140))
    new = pa.concat_tables(
        [pa.Table.from_pandas(df, schema=table.schema, preserve_index=False), make_table(10, start_id=10**6)]
    )
    pq.write_table(new, project / "flights.parquet")
    assert invoke("commit", "-m", "v2")[0] == 0
    assert invoke("tag", "v2")[0] == 0
    return project


def test_text_report_and_exit_codes(two_versions: Path) -> None:
    code, out, _ = invoke("diff", "v1", "v2")
    assert code == 0
    assert "flights: changed (by key id)" in out
    assert "+10 added, -40 removed, ~3 modified, 1,957 unchanged" in out
    assert "amount: " in out and "→ 0.5" in out
    assert all(len(line) <= 80 for line in out.splitlines())
    assert invoke("diff", "v1", "v2", "--exit-code")[0] == 1
    assert invoke("diff", "v1", "v1", "--exit-code")[0] == 0
    code, out, _ = invoke("diff")  # working tree against HEAD: nothing changed
    assert code == 0 and "identical" in out


@pytest.mark.parametrize(
    ("condition", "fails"),
    [
        ("rows.removed > 1%", True),  # 40 of 2,000 = 2%
        ("rows.removed > 5%", False),
        ("rows.added >= 10", True),
        ("rows.modified == 3", True),
        ("cells.amount > 3", False),
        ("cells.* >= 3", True),
        ("schema.removed", False),
        ("drift.amount > 5", False),
    ],
)
def test_fail_on_conditions(two_versions: Path, condition: str, fails: bool) -> None:
    code, out, _ = invoke("diff", "v1", "v2", "--fail-on", condition)
    assert code == (1 if fails else 0)
    assert (f"✗ {condition}: holds for flights" in out) == fails


def test_fail_on_says_which_condition_held(two_versions: Path) -> None:
    code, out, err = invoke(
        "diff", "v1", "v2", "--json", "--fail-on", "rows.removed > 1%", "--fail-on", "schema.removed"
    )
    assert code == 1
    document = json.loads(out)
    assert document["failures"] == ["rows.removed > 1%: holds for flights (rows.removed = 2% (40 of 2,000))"]
    assert "failed: rows.removed > 1%" in err


def test_bad_condition_is_a_usage_error(two_versions: Path) -> None:
    code, _, err = invoke("diff", "v1", "v2", "--fail-on", "rows.deleted > 1")
    assert code == 2
    assert "bad --fail-on condition 'rows.deleted > 1': unknown rows metric 'deleted'" in err
    code, _, err = invoke("diff", "v1", "v2", "--fail-on", "drift.nosuch > 0.1")
    assert code == 2 and "no compared dataset has a column 'nosuch'" in err
    for text in ("rows.removed >", "import os", "schema.added > 1%", "__import__('os').system('x')"):
        with pytest.raises(ConditionError):
            conditions.parse(text)


def test_json_validates_against_the_published_schema(two_versions: Path) -> None:
    for args in (("v1", "v2"), ("v1", "v1"), ("v1", "v2", "--stat"), ("v1", "v2", "--key", "")):
        code, out, _ = invoke("diff", *args, "--json")
        assert code == 0
        document = json.loads(out)
        jsonschema.validate(document, SCHEMA)
        assert document["format"] == "datakeep.diff" and document["version"] == 1
    rows = json.loads(invoke("diff", "v1", "v2", "--json")[1])["datasets"][0]["rows"]
    assert rows == {"from": 2000, "to": 1970, "added": 10, "removed": 40, "modified": 3, "unchanged": 1957}


def test_html_report_is_self_contained(two_versions: Path) -> None:
    code, _, err = invoke("diff", "v1", "v2", "--html", "report.html")
    assert code == 0 and "wrote report.html" in err
    page = (two_versions / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "Cells changed per column" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page and "<script" not in page


def test_two_plain_files_need_no_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    pq.write_table(pa.table({"id": [1, 2, 3], "v": ["a", "b", "c"]}), "a.parquet")
    pq.write_table(pa.table({"id": [1, 2, 4], "v": ["a", "B", "d"]}), "b.parquet")
    code, out, _ = invoke("diff", "a.parquet", "b.parquet", "--key", "id")
    assert code == 0
    assert "+1 added, -1 removed, ~1 modified, 1 unchanged" in out
    assert "~ id=2  v: 'b' → 'B'" in out


def test_duplicate_keys_exit_2_with_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    pq.write_table(pa.table({"id": [1, 1, 2], "v": [1, 2, 3]}), "a.parquet")
    pq.write_table(pa.table({"id": [1, 2, 3], "v": [1, 3, 4]}), "b.parquet")
    code, _, err = invoke("diff", "a.parquet", "b.parquet", "--key", "id")
    assert code == 2
    assert "key (id) is not unique — from side: 1 duplicated key value(s) on 2 rows (e.g. {'id': 1})" in err
    code, out, _ = invoke("diff", "a.parquet", "b.parquet", "--key", "id", "--allow-duplicate-keys")
    assert code == 0 and "keys     from: 1 duplicated (2 rows), 0 null" in out


def test_usage_errors(two_versions: Path) -> None:
    code, _, err = invoke("diff", "v1", "v2", "--tolerance", "amount")
    assert code == 2 and "tolerance expects NAME=VALUE" in err
    code, _, err = invoke("diff", "v1", "nosuch")
    assert code == 2 and "bad revision 'nosuch'" in err
    code, _, err = invoke("diff", "v1", "v2", "--key", "nope")
    assert code == 2 and "key column 'nope' is not in the new version" in err


def test_tolerance_usage_errors_exit_2_with_one_line(two_versions: Path) -> None:
    for args, message in (
        (("--tolerance", "email=1"), "error: --tolerance email=1: column 'email' of dataset 'flights' is string,"),
        (("--tolerance", "when=1"), "column 'when' of dataset 'flights' is timestamp[us], not a number"),
        (("--tolerance", "id=1"), "'id' is a key column of dataset 'flights', and keys are matched exactly"),
        (("--tolerance", "typo=1"), "--tolerance typo=1: no compared dataset has a column 'typo' in either version"),
        (("--rename", "nope=zip"), "--rename nope=zip: no compared dataset has a column 'nope' in the old version"),
    ):
        code, out, err = invoke("diff", "v1", "v2", *args)
        assert code == 2 and message in err and out == ""
        assert len(err.strip().splitlines()) == 1 and " — " in err


def test_stat_honours_tolerance_so_a_gate_gives_one_answer(two_versions: Path) -> None:
    # v2 sets amount to 0.5 in three rows (from values near 100): within 1,000, never within 1.
    for tolerance, modified in (("amount=1000", 0), ("amount=1", 3)):
        for stat in ((), ("--stat",)):
            args = ("diff", "v1", "v2", "--tolerance", tolerance, "--fail-on", "rows.modified", "--json", *stat)
            code, out, _ = invoke(*args)
            assert code == (1 if modified else 0), (tolerance, stat)
            assert json.loads(out)["datasets"][0]["rows"]["modified"] == modified


def test_html_into_a_missing_folder_is_an_error(two_versions: Path) -> None:
    code, out, err = invoke("diff", "v1", "v2", "--html", "no/such/dir/r.html")
    assert code == 2 and out == ""
    assert err == (
        "error: --html no/such/dir/r.html: folder 'no/such/dir' does not exist"
        " — create it first, or write the report to an existing folder\n"
    )
    assert not (two_versions / "no").exists()
    (two_versions / "reports").mkdir()
    code, _, err = invoke("diff", "v1", "v2", "--html", "reports/r.html")
    assert code == 0 and (two_versions / "reports" / "r.html").is_file()


def test_a_mistyped_file_name_is_a_file_not_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    pq.write_table(pa.table({"id": [1]}), "jan.parquet")
    pq.write_table(pa.table({"id": [1]}), "data/jan.parquet")
    cases = {
        ("jan.parquet", "fbe.parquet"): "fbe.parquet",
        ("fbe.parquet", "jan.parquet"): "fbe.parquet",
        ("data", "data/fbe.parquet"): "data/fbe.parquet",  # a folder and a path
    }
    for args, missing in cases.items():
        code, _, err = invoke("diff", *args)  # outside a repository
        assert code == 2 and err.startswith(f"error: {missing}: file not found — check the path;")
    assert invoke("init")[0] == 0
    code, _, err = invoke("diff", "jan.parquet", "fbe.parquet")  # inside one: still not a revision
    assert code == 2 and err.startswith("error: fbe.parquet: file not found") and "revision" not in err


def test_revisions_with_a_slash_are_still_revisions(two_versions: Path) -> None:
    assert invoke("branch", "release/1", "v1")[0] == 0
    code, out, _ = invoke("diff", "release/1", "v2")
    assert code == 0 and "+10 added, -40 removed, ~3 modified" in out
    code, _, err = invoke("diff", "release/2", "v2")
    assert code == 2 and "bad revision 'release/2'" in err


def test_log_stat_shows_stored_row_changes(two_versions: Path) -> None:
    code, out, _ = invoke("log", "--stat")
    assert code == 0
    assert "flights: 2,000 → 1,970 rows, 10 added, 40 removed, 3 modified" in out
    assert "flights: new dataset, 2,000 rows, 8 columns, 1/1 chunks new" in out


def test_help_has_an_example() -> None:
    code, out, _ = invoke("diff", "--help")
    assert code == 0 and "Example:" in out and "--fail-on" in out


def test_installed_command_runs_without_pandas_at_start_up(tmp_path: Path) -> None:
    # The CLI module must not import pandas/pyarrow at import time (fast --help, lazy commands).
    probe = "import sys, datakeep.cli.diff; print('pandas' in sys.modules, 'pyarrow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_two_datasets_compare_as_one_with_rev_colon_name(two_versions: Path) -> None:
    """`diff REV1:A REV2:B` compares dataset A with dataset B (two sources of one entity), not
    each with itself: a gate on it must see their differences."""
    project = two_versions
    source = pq.read_table(project / "flights.parquet")
    copy = source.slice(0, source.num_rows - 10)  # the partner feed lacks the last 10 rows
    pq.write_table(copy, project / "partner.parquet")
    assert invoke("add", "partner.parquet", "--name", "partner", "--key", "id")[0] == 0
    assert invoke("commit", "-m", "partner feed")[0] == 0

    code, out, _ = invoke("diff", "HEAD:flights", "HEAD:partner", "--json")
    assert code == 0
    report = json.loads(out)
    jsonschema.validate(report, SCHEMA)
    (compared,) = report["datasets"]
    assert compared["name"] == "flights → partner"
    assert (report["from"], report["to"]) == ("HEAD:flights", "HEAD:partner")
    rows = compared["rows"]
    assert (rows["removed"], rows["added"], rows["modified"], rows["unchanged"]) == (10, 0, 0, source.num_rows - 10)
    assert invoke("diff", "HEAD:flights", "HEAD:partner", "--exit-code")[0] == 1
    # v1's flights against today's partner feed: rows of both versions' edits show up.
    code, out, _ = invoke("diff", "v1:flights", "HEAD:partner", "--stat")
    assert code == 0 and "flights → partner: changed (by key id)" in out

    pq.write_table(source, project / "partner.parquet")
    assert invoke("commit", "-m", "partner caught up")[0] == 0
    assert invoke("diff", "HEAD:flights", "HEAD:partner", "--exit-code")[0] == 0


def test_rev_colon_name_pairs_refuse_what_cannot_be_meant(two_versions: Path) -> None:
    code, _, err = invoke("diff", "HEAD:flights", "HEAD:nope")
    assert code == 2 and "no dataset named 'nope' in HEAD (it has: flights)" in err
    code, _, err = invoke("diff", "v1:flights", "v2:other", "--name", "flights")
    assert code == 2 and "--name cannot be combined with two different datasets" in err


def test_floats_that_print_alike_are_shown_in_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A unit scale leaves 9999 * 0.01 = 99.99000000000001: '99.99 → 99.99' would say nothing."""
    monkeypatch.chdir(tmp_path)
    pq.write_table(pa.table({"id": [1, 2], "eur": [99.99, 1.5]}), "shop.parquet")
    pq.write_table(pa.table({"id": [1, 2], "eur": [9999 * 0.01, 2.5]}), "partner.parquet")
    result = CliRunner().invoke(cli, ["diff", "shop.parquet", "partner.parquet", "--key", "id", "--html", "r.html"])
    assert result.exit_code == 0, result.output
    assert "eur: 99.99 → 99.99000000000001" in result.output
    assert "eur: 1.5 → 2.5" in result.output  # rounding that tells them apart is kept
    assert '99.99</code> → <b><code class="v">99.99000000000001</code></b>' in Path("r.html").read_text()


def test_long_values_cut_alike_are_shown_where_they_differ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Paths, URLs and UUIDs share long beginnings: the cut must not hide the difference."""
    monkeypatch.chdir(tmp_path)
    stem = "s3://warehouse/exports/2024/customers/part-"
    pq.write_table(pa.table({"id": [1, 2], "src": [stem + "0001.parquet", "a"]}), "old.parquet")
    pq.write_table(pa.table({"id": [1, 2], "src": [stem + "0002.parquet", "b"]}), "new.parquet")
    result = CliRunner().invoke(cli, ["diff", "old.parquet", "new.parquet", "--key", "id", "--html", "r.html"])
    assert result.exit_code == 0, result.output
    changed = next(line for line in result.output.splitlines() if "id=1" in line)
    old_text, new_text = changed.split("src: ")[1].split(" → ")
    # Cut from the left, a text keeps its opening quote too: '…part-0001.parquet'.
    assert "0001" in old_text and "0002" in new_text and old_text.startswith("'…") and old_text.endswith("'")
    assert "src: 'a' → 'b'" in result.output  # short values stay whole
    html = Path("r.html").read_text()
    assert "0001.parquet" in html and "0002.parquet" in html


def test_a_composite_key_may_be_given_as_add_takes_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--key repeated, as `add` takes it, or comma-separated: the same key (the last one alone
    was used when repeated)."""
    monkeypatch.chdir(tmp_path)
    pq.write_table(pa.table({"id": [1, 1, 2], "shop": ["a", "b", "a"], "v": [1, 2, 3]}), "old.parquet")
    pq.write_table(pa.table({"id": [1, 1, 2], "shop": ["a", "b", "a"], "v": [1, 5, 3]}), "new.parquet")
    reports = [
        json.loads(CliRunner().invoke(cli, ["diff", "old.parquet", "new.parquet", *args, "--json"]).output)
        for args in (["--key", "id", "--key", "shop"], ["--key", "id,shop"])
    ]
    for report in reports:
        (dataset,) = report["datasets"]
        assert dataset["key"] == ["id", "shop"] and dataset["rows"]["modified"] == 1


def test_a_dataset_name_alone_diffs_that_dataset_as_git_diff_takes_a_path(two_versions: Path) -> None:
    table = pq.read_table(two_versions / "flights.parquet")
    pq.write_table(table.slice(1), two_versions / "flights.parquet")
    code, out, _ = invoke("diff", "flights", "--json")
    assert code == 0
    (dataset,) = json.loads(out)["datasets"]
    assert dataset["name"] == "flights" and dataset["rows"]["removed"] == 1
    # Where a revision is wanted, the name gets a hint instead of "not a commit".
    for command in (["show", "flights"], ["log", "flights"]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 2
        assert "'flights' is a dataset" in result.output and "HEAD:flights" in result.output


def test_a_tag_named_like_a_dataset_is_still_the_tag(two_versions: Path) -> None:
    assert invoke("tag", "flights", "v1")[0] == 0
    code, out, _ = invoke("diff", "flights", "--json")
    assert code == 0
    assert json.loads(out)["from"] == "flights"


def test_odd_column_names_are_quoted_and_notes_wrapped_not_cut(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    pq.write_table(pa.table({"": [1, 2], " pad ": [3, 4], "a=b": [5, 6]}), "old.parquet")
    pq.write_table(pa.table({"": [1, 9], " pad ": [3, 4], "a=b": [5, 6]}), "new.parquet")
    code, out, _ = invoke("diff", "old.parquet", "new.parquet")
    assert code == 0
    assert "- ''=2, ' pad '=4, 'a=b'=6" in out
    note = out[out.index("note:") :]
    assert "…" not in note and "modified rows show as removed + added" in " ".join(note.split())
    assert all(len(line) <= 80 for line in out.splitlines())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--stat", "--fail-on", "cells.amount > 0"), "cells are not counted with --stat"),
        (("--key", "", "--fail-on", "rows.modified"), "rows.modified is not counted for flights"),
        (("--key", "", "--fail-on", "cells.* > 1%"), "cells are not counted for flights"),
    ],
)
def test_a_gate_on_what_the_diff_does_not_count_is_an_error(
    two_versions: Path, args: tuple[str, ...], message: str
) -> None:
    """Such a gate could never hold: a pipeline relying on it would pass whatever changed."""
    code, _, err = invoke("diff", "v1", "v2", *args)
    assert code == 2
    assert message in err and " — " in err


def test_a_gate_names_a_column_with_spaces_in_quotes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    pq.write_table(pa.table({"id": [1, 2], "unit price (€)": [1.0, 2.0]}), "a.parquet")
    pq.write_table(pa.table({"id": [1, 2], "unit price (€)": [1.0, 3.0]}), "b.parquet")
    for gate in ('cells."unit price (€)" > 0', "cells.'unit price (€)' >= 50%"):
        code, out, _ = invoke("diff", "a.parquet", "b.parquet", "--key", "id", "--fail-on", gate)
        assert code == 1 and f"✗ {gate}: holds for b" in out
        said = " ".join(line.strip() for line in out.split("failed conditions:")[1].splitlines())
        assert said.endswith("unit price (€)))") and all(len(line) <= 80 for line in out.splitlines())
    assert conditions.parse('drift."a < b"').name == "a < b"
    code, _, err = invoke("diff", "a.parquet", "b.parquet", "--key", "id", "--fail-on", "cells.unit price (€) > 0")
    assert code == 2 and "quote a column name with spaces" in err


def test_a_key_may_be_named_by_its_old_name_under_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    pq.write_table(pa.table({"cid": [1, 2, 3], "v": [1, 2, 3]}), "old.parquet")
    pq.write_table(pa.table({"customer_id": [1, 2, 4], "v": [1, 5, 3]}), "new.parquet")
    expected = invoke("diff", "old.parquet", "new.parquet", "--key", "customer_id", "--rename", "cid=customer_id")
    code, out, _ = invoke("diff", "old.parquet", "new.parquet", "--key", "cid", "--rename", "cid=customer_id")
    assert (code, out) == expected[:2]
    assert "+1 added, -1 removed, ~1 modified, 1 unchanged" in out


def test_long_column_names_stay_apart_and_samples_show_both_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    long = "customer_billing_address_postal_code_normalised_v2"
    old = {"id": [1, 2], **{f"customer_address_line_{i}": ["a", "b"] for i in (1, 2, 3)}, long: ["x" * 60, "y"]}
    new = {**old, "customer_address_line_2": ["a", "c"], long: ["x" * 59 + "z", "y"]}
    pq.write_table(pa.table(old), "a.parquet")
    pq.write_table(pa.table(new), "b.parquet")
    code, out, _ = invoke("diff", "a.parquet", "b.parquet", "--key", "id")
    assert code == 0
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines)
    names = [line.split()[0] for line in lines if line.startswith("  customer_")]
    assert len(names) == len(set(names)) == 4  # the three address lines told apart
    (sample,) = [line for line in lines if line.startswith("    ~ id=1")]
    assert "→" in sample and sample.endswith("xz'")
