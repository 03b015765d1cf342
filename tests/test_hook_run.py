"""`run_hook` and `datakeep hook run` against real git repositories and the real validator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner

from datakeep.cli import cli
from datakeep.hook import run_hook, staged_files
from datakeep.hook.cache import ResultCache
from datakeep.hook.render import render_hook_result
from datakeep.hook.run import default_cache_dir
from tests.test_hook_support import (
    crm_customers,
    customers,
    data_repo,
    git,
    isolate_git,
    write_parquet,
    write_project,
)


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(monkeypatch)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = data_repo(tmp_path / "repo")
    monkeypatch.chdir(root)  # git and pre-commit run hooks from the top of the work tree
    return root


def test_good_file_passes_and_bad_file_fails_with_its_problems(repo: Path) -> None:
    write_parquet(repo / "data/good.parquet", customers())
    write_parquet(repo / "data/bad.parquet", customers(bad=True))

    result = run_hook(["data/good.parquet", "data/bad.parquet"], repo)

    good, bad = result.files
    assert (good.status, good.entity, good.rows_checked) == ("ok", "customers", 5)
    assert bad.status == "failed" and bad.problem_count >= 2
    assert any("XX" in line for line in bad.problems)
    assert any("age" in line for line in bad.problems)
    assert result.exit_code == 1
    text = render_hook_result(result, width=200)
    assert "ok      data/good.parquet" in text
    assert "FAILED  data/bad.parquet" in text
    assert "full report (from the top of the repository): datakeep validate data/bad.parquet" in text


def test_source_rule_maps_raw_values_and_names_the_unmapped_one(repo: Path) -> None:
    write_parquet(repo / "incoming/crm/ok.parquet", crm_customers())
    write_parquet(repo / "incoming/crm/new.parquet", crm_customers(bad=True))

    ok, bad = run_hook(["incoming/crm/ok.parquet", "incoming/crm/new.parquet"], repo).files

    assert (ok.status, ok.source) == ("ok", "crm")
    assert bad.status == "failed"
    assert any("Atlantis" in line for line in bad.problems)


def test_output_fits_the_terminal(repo: Path) -> None:
    write_parquet(repo / "data/bad.parquet", customers(bad=True))
    result = run_hook(["data/bad.parquet"], repo)

    text = render_hook_result(result, width=40, max_problems=1)

    assert all(len(line) <= 40 for line in text.splitlines())
    assert "… and" in text  # the problems not shown are counted, not dropped silently


def test_unmatched_files_pass_unless_rules_say_fail(repo: Path) -> None:
    write_parquet(repo / "elsewhere/x.parquet", customers())
    (repo / "notes.txt").write_text("not data")

    passing = run_hook(["elsewhere/x.parquet", "notes.txt"], repo)
    assert passing.exit_code == 0
    assert [f.status for f in passing.files] == ["unmatched"]
    assert passing.ignored == 1  # a non-data file is not the hook's business at all

    with open(repo / "datakeep.yaml", "a") as f:
        f.write("unmatched: fail\n")
    git(repo, "add", "datakeep.yaml")  # the hook reads the rules the commit records
    failing = run_hook(["elsewhere/x.parquet", "notes.txt"], repo)
    assert failing.exit_code == 1
    assert "no rule in datakeep.yaml matches it" in failing.files[0].detail


def test_split_file_lists_give_the_same_verdicts(repo: Path) -> None:
    # pre-commit may call the hook several times per commit; no call may depend on another.
    files = []
    for i in range(4):
        table = customers(bad=(i == 2))
        files.append(str(write_parquet(repo / f"data/part{i}.parquet", table).relative_to(repo)))

    whole = run_hook(files, repo, use_cache=False)
    halves = [
        run_hook(files[:2], repo, use_cache=False),
        run_hook(files[2:], repo, use_cache=False),
    ]

    assert [f.status for f in whole.files] == [f.status for h in halves for f in h.files]
    assert [h.exit_code for h in halves] == [0, 1]


def test_second_run_is_answered_from_the_cache(repo: Path) -> None:
    write_parquet(repo / "data/good.parquet", customers())
    write_parquet(repo / "data/bad.parquet", customers(bad=True))
    files = ["data/good.parquet", "data/bad.parquet"]

    first = run_hook(files, repo)
    cache = ResultCache(default_cache_dir(repo))
    assert (first.validated, first.cache_hits) == (2, 0)
    assert first.cache_dir == repo / ".git" / "datakeep-hook-cache"
    assert len(cache.entries()) == 2

    second = run_hook(files, repo)
    assert (second.validated, second.cache_hits) == (0, 2)
    assert [f.cached for f in second.files] == [True, True]
    # A cached failure still explains itself.
    assert second.files[1].problems == first.files[1].problems
    assert second.exit_code == 1


def test_changed_file_or_schema_is_validated_again(repo: Path) -> None:
    write_parquet(repo / "data/good.parquet", customers())
    assert run_hook(["data/good.parquet"], repo).validated == 1

    write_parquet(repo / "data/good.parquet", customers(rows=6))
    assert run_hook(["data/good.parquet"], repo).validated == 1

    schema = repo / "schemas/customers.yaml"
    schema.write_text(schema.read_text().replace("max_value: 130", "max_value: 21"))
    git(repo, "add", "schemas/customers.yaml")
    after = run_hook(["data/good.parquet"], repo)
    assert (after.validated, after.files[0].status) == (1, "failed")


def test_cache_entries_are_complete_json_documents(repo: Path) -> None:
    write_parquet(repo / "data/good.parquet", customers())
    run_hook(["data/good.parquet"], repo)

    (entry,) = ResultCache(default_cache_dir(repo)).entries()
    doc = json.loads(entry.read_text())
    assert doc["format"] == "datakeep-hook-cache" and doc["status"] == "ok"
    assert not [p for p in entry.parent.iterdir() if p.name.startswith(".tmp-")]

    entry.write_text("{torn")  # a damaged entry is a miss, never an error
    assert run_hook(["data/good.parquet"], repo).validated == 1


def test_the_staged_version_is_checked_not_the_working_copy(repo: Path) -> None:
    path = write_parquet(repo / "data/c.parquet", customers(bad=True))
    git(repo, "add", "data/c.parquet")
    write_parquet(path, customers())  # fixed on disk, but the commit would record the bad one

    checked = run_hook(["data/c.parquet"], repo)
    (staged_bad,) = checked.files
    assert (staged_bad.status, staged_bad.staged_copy) == ("failed", True)
    # The hint reports on what was checked: the staged version, not the fixed working copy.
    hint = next(line for line in render_hook_result(checked, width=400).splitlines() if "full report" in line)
    command = hint.split("full report (from the top of the repository): ", 1)[1]
    assert command.startswith("git show ")
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    shown = subprocess.run(command, shell=True, cwd=repo, env=env, capture_output=True, text=True)
    assert shown.returncode == 1, shown.stderr
    assert (repo / "staged.parquet").exists()

    git(repo, "add", "data/c.parquet")
    write_parquet(path, customers(bad=True))
    (staged_good,) = run_hook(["data/c.parquet"], repo).files
    assert (staged_good.status, staged_good.staged_copy) == ("ok", True)


def test_staged_files_lists_added_modified_and_moved_not_deleted(repo: Path) -> None:
    write_parquet(repo / "data/a.parquet", customers())
    write_parquet(repo / "data/b.parquet", customers())
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "data")
    git(repo, "rm", "-q", "data/a.parquet")
    write_parquet(repo / "data/b.parquet", customers(rows=7))
    write_parquet(repo / "data/new file.parquet", customers())
    write_parquet(repo / "quarantine/q.parquet", customers(bad=True))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "more")
    # A file moved into a folder that a rule covers must be checked, though git sees a rename.
    git(repo, "mv", "quarantine/q.parquet", "data/q.parquet")
    write_parquet(repo / "data/b.parquet", customers(rows=8))
    git(repo, "add", "-A")

    assert sorted(staged_files(repo)) == ["data/b.parquet", "data/q.parquet"]


def test_outside_git_without_datakeep_folder_nothing_is_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_project(tmp_path / "plain")
    monkeypatch.chdir(root)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    write_parquet(root / "data/good.parquet", customers())

    result = run_hook(["data/good.parquet"], root)

    assert (result.exit_code, result.cache_dir) == (0, None)
    assert not (root / ".datakeep").exists()  # a cache must not make a folder look like a repo


def test_broken_schema_is_an_error_with_exit_code_2(repo: Path) -> None:
    write_parquet(repo / "data/good.parquet", customers())
    (repo / "schemas/customers.yaml").write_text("columns: [unclosed\n")
    git(repo, "add", "schemas/customers.yaml")

    result = run_hook(["data/good.parquet"], repo)

    assert result.exit_code == 2
    assert result.files[0].status == "error"
    assert "customers.yaml" in result.files[0].detail


# --- the CLI: parses, calls run_hook, prints -----------------------------------------------


def test_cli_run_exit_codes_and_messages(repo: Path) -> None:
    write_parquet(repo / "data/good.parquet", customers())
    write_parquet(repo / "data/bad.parquet", customers(bad=True))
    runner = CliRunner()

    ok = runner.invoke(cli, ["hook", "run", "data/good.parquet"])
    assert ok.exit_code == 0, ok.output
    assert "ok      data/good.parquet  (customers, 5 rows)" in ok.output

    bad = runner.invoke(cli, ["hook", "run", "data/good.parquet", "data/bad.parquet"])
    assert bad.exit_code == 1
    assert "FAILED  data/bad.parquet" in bad.output
    assert "datakeep validate data/bad.parquet" in bad.output
    assert "2 data files checked (1 from cache), 1 failed" in bad.output

    as_json = runner.invoke(cli, ["hook", "run", "--json", "--no-cache", "data/bad.parquet"])
    doc = json.loads(as_json.output)
    assert (as_json.exit_code, doc["validated"], doc["files"][0]["status"]) == (1, 1, "failed")


def test_cli_run_staged_and_config_error(repo: Path) -> None:
    write_parquet(repo / "data/bad.parquet", customers(bad=True))
    git(repo, "add", "data/bad.parquet")
    runner = CliRunner()

    staged = runner.invoke(cli, ["hook", "run", "--staged"])
    assert staged.exit_code == 1
    assert "FAILED  data/bad.parquet" in staged.output

    (repo / "datakeep.yaml").write_text("unmatched: sometimes\n")
    git(repo, "add", "datakeep.yaml")
    broken = runner.invoke(cli, ["hook", "run", "data/bad.parquet"])
    assert broken.exit_code == 2
    assert "error: datakeep.yaml: unmatched" in broken.output


def test_cli_run_with_nothing_to_check_is_silent(repo: Path) -> None:
    result = CliRunner().invoke(cli, ["hook", "run", "README.md"])
    assert (result.exit_code, result.output) == (0, "")


@pytest.mark.parametrize("args", [["hook"], ["hook", "run"], ["hook", "install"], ["hook", "uninstall"]])
def test_every_hook_command_has_help_with_an_example(args: list[str]) -> None:
    result = CliRunner().invoke(cli, [*args, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output


def test_cli_module_does_not_import_pandas_or_pyarrow() -> None:
    import subprocess
    import sys

    code = (
        "import sys, datakeep.cli.hook, datakeep.hook; "
        "print(sorted(m for m in ('pandas', 'pyarrow', 'pandera') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unreadable_cache_folder_does_not_fail_the_hook(repo: Path, tmp_path: Path) -> None:
    write_parquet(repo / "data/good.parquet", customers())
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be")

    result = run_hook(["data/good.parquet"], repo, cache_dir=blocked / "cache")

    assert result.exit_code == 0
    assert os.path.isfile(blocked)


def test_run_from_a_subfolder_uses_the_rules_at_the_top(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Looked for in the current folder only, datakeep.yaml was missed and every file passed.
    write_parquet(repo / "data/bad.parquet", customers(bad=True))
    git(repo, "add", "data/bad.parquet")
    monkeypatch.chdir(repo / "data")
    runner = CliRunner()
    for args in (["hook", "run", "--staged"], ["hook", "run", "bad.parquet"], ["validate", "bad.parquet"]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 1, (args, result.output)
        assert "bad.parquet" in result.output and "XX" in result.output


def test_captured_output_is_not_cut_to_a_width(repo: Path) -> None:
    # pre-commit captures the hook's output: a cut line lost the samples and the command to copy.
    write_parquet(repo / "data/bad.parquet", customers(bad=True))
    long = "x" * 150
    (repo / "data" / f"{long}.parquet").write_bytes((repo / "data/bad.parquet").read_bytes())
    result = CliRunner().invoke(cli, ["hook", "run", f"data/{long}.parquet"])
    assert result.exit_code == 1
    assert f"full report (from the top of the repository): datakeep validate data/{long}.parquet" in result.output


# --- what the commit records: staged files of any kind, staged configuration ------------------


def test_a_symlink_replaced_by_a_bad_file_is_checked(repo: Path) -> None:
    write_parquet(repo / "good.parquet", customers())
    (repo / "data").mkdir()
    (repo / "data/c.parquet").symlink_to("../good.parquet")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a link to good data")
    (repo / "data/c.parquet").unlink()
    write_parquet(repo / "data/c.parquet", customers(bad=True))
    git(repo, "add", "data/c.parquet")  # a type change (T), not a modification

    result = run_hook(staged_files(repo), repo)

    assert [(f.path, f.status) for f in result.files] == [("data/c.parquet", "failed")]


def test_an_unstaged_schema_edit_does_not_let_staged_data_through(repo: Path) -> None:
    write_parquet(repo / "data/bad.parquet", customers(bad=True))
    git(repo, "add", "data/bad.parquet")
    schema = repo / "schemas/customers.yaml"
    schema.write_text(schema.read_text().replace("isin: [DE, FR, US]", "isin: [DE, FR, US, XX]"))

    before = run_hook(["data/bad.parquet"])
    assert before.files[0].status == "failed" and any("XX" in p for p in before.files[0].problems)
    assert before.staged_config == ("schemas/customers.yaml",)
    assert "checked against the staged schemas/customers.yaml" in render_hook_result(before)

    git(repo, "add", "schemas/customers.yaml")  # now the commit records the looser schema
    after = run_hook(["data/bad.parquet"]).files[0]
    assert after.status == "failed" and not any("XX" in p for p in after.problems)  # age 200 still fails


def test_a_rule_names_files_of_any_suffix(repo: Path) -> None:
    with open(repo / "datakeep.yaml", "a") as f:
        f.write('  - glob: "exports/*.txt"\n    entity: customers\n')
        f.write('  - glob: "exports/*.csv.gz"\n    entity: customers\n')
    git(repo, "add", "datakeep.yaml")
    (repo / "exports").mkdir()
    (repo / "exports/customers.txt").write_text("id,country,age\n1,DE,30\n2,XX,31\n")
    (repo / "exports/more.csv.gz").write_bytes(b"\x1f\x8b not really")

    result = run_hook(["exports/customers.txt", "exports/more.csv.gz"])

    txt, gz = result.files
    assert txt.status == "failed" and any("XX" in p for p in txt.problems)
    assert gz.status == "error" and ".gz" in gz.detail
    assert result.exit_code == 2


def test_without_any_rules_file_the_hook_refuses_instead_of_passing_everything(repo: Path) -> None:
    from datakeep.errors import UsageError

    (repo / "datakeep.yaml").rename(repo / "datakeep.yml")
    write_parquet(repo / "data/bad.parquet", customers(bad=True))

    with pytest.raises(UsageError) as refused:
        run_hook(["data/bad.parquet"])
    assert "no datakeep.yaml names a schema for data/bad.parquet" in refused.value.message
    assert "rename datakeep.yml to datakeep.yaml" in refused.value.hint
    assert CliRunner().invoke(cli, ["hook", "run", "data/bad.parquet"]).exit_code == 2


def test_a_project_in_a_subfolder_of_a_monorepo_governs_its_own_files(repo: Path) -> None:
    (repo / "analytics").mkdir()
    for name in ("datakeep.yaml", "schemas"):
        (repo / name).rename(repo / "analytics" / name)
    write_parquet(repo / "analytics/data/bad.parquet", customers(bad=True))
    write_parquet(repo / "other/data/x.parquet", customers(bad=True))
    git(repo, "add", "-A")

    result = run_hook(staged_files(repo))

    by_path = {f.path: f for f in result.files}
    assert by_path["analytics/data/bad.parquet"].status == "failed"
    assert by_path["other/data/x.parquet"].status == "unmatched"  # outside every project
    text = render_hook_result(result, width=None)
    assert "full report (from the top of the repository): datakeep -C analytics validate data/bad.parquet" in text


def test_a_staged_schema_change_checks_the_tracked_data_it_governs(repo: Path) -> None:
    write_parquet(repo / "data/good.parquet", customers())  # ages 20-24
    write_parquet(repo / "incoming/crm/ok.parquet", crm_customers())  # age 30, another source
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "data")
    schema = repo / "schemas/customers.yaml"
    schema.write_text(schema.read_text().replace("max_value: 130", "max_value: 21"))
    git(repo, "add", "schemas/customers.yaml")

    result = run_hook(staged_files(repo))

    assert {f.path: f.status for f in result.files} == {
        "data/good.parquet": "failed",
        "incoming/crm/ok.parquet": "failed",  # crm feeds customers: its data follows the schema too
    }
    assert CliRunner().invoke(cli, ["hook", "run", "--staged"]).exit_code == 1


def test_run_all_checks_every_tracked_file(repo: Path) -> None:
    write_parquet(repo / "data/bad.parquet", customers(bad=True))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "bad data that skipped the hook")

    result = CliRunner().invoke(cli, ["hook", "run", "--all"])

    assert result.exit_code == 1
    assert "FAILED  data/bad.parquet" in result.output


# --- found by a second pass: deletions, nested projects, a shared schemas/ folder ----------------


def test_a_commit_deleting_a_schema_checks_the_data_it_governed(repo: Path) -> None:
    write_parquet(repo / "data/good.parquet", customers())
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "data")
    git(repo, "rm", "-q", "--cached", "schemas/customers.yaml")  # still on disk, gone from the commit

    result = CliRunner().invoke(cli, ["hook", "run", "--staged"])

    assert result.exit_code == 2, result.output  # the rules now name an entity the commit has no schema for
    assert "no schema file (staged) schemas/customers.yaml" in result.output
    assert "datakeep-staged-config" not in result.output  # the view's temporary folder is not named


def test_a_commit_deleting_the_rules_file_is_refused(repo: Path) -> None:
    git(repo, "rm", "-q", "datakeep.yaml")
    result = CliRunner().invoke(cli, ["hook", "run", "--staged"])
    assert result.exit_code == 2
    assert "this commit deletes datakeep.yaml" in result.output and "--no-verify" in result.output


def test_a_nested_project_governs_its_own_files_alone(repo: Path) -> None:
    inner = repo / "data/inner"  # under the outer rule data/**/*.parquet too
    write_project(inner)  # the same schema: ages 0-130
    schema = inner / "schemas/customers.yaml"
    schema.write_text(schema.read_text().replace("max_value: 130", "max_value: 500"))
    write_parquet(inner / "data/old.parquet", customers(bad=True).set_column(1, "country", pa.array(["DE"] * 5)))
    with open(repo / "schemas/customers.yaml", "a") as f:
        f.write("# the outer schema staged too: its data is checked again, the inner project's not\n")
    git(repo, "add", "-A")

    result = CliRunner().invoke(cli, ["hook", "run", "--staged"])

    # Age 200 fails the outer schema (≤ 130) but not the inner one (≤ 500), which alone governs it.
    assert result.exit_code == 0, result.output
    assert result.output.count("data/inner/data/old.parquet") == 1


def test_a_shared_schemas_folder_is_read_as_staged(repo: Path) -> None:
    (repo / "shared").mkdir()
    (repo / "schemas").rename(repo / "shared/schemas")
    (repo / "schemas").symlink_to("shared/schemas")
    write_parquet(repo / "data/c.parquet", customers())  # ages 20-24
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a schemas folder shared through a link")
    schema = repo / "shared/schemas/customers.yaml"
    schema.write_text(schema.read_text().replace("max_value: 130", "max_value: 21"))
    git(repo, "add", "shared/schemas/customers.yaml")  # staged through its real path

    tightened = run_hook(staged_files(repo))
    assert [(f.path, f.status) for f in tightened.files] == [("data/c.parquet", "failed")]

    schema.write_text(schema.read_text().replace("max_value: 21", "max_value: 130"))  # unstaged loosening
    still = run_hook(["data/c.parquet"])
    assert still.files[0].status == "failed" and still.staged_config == ("shared/schemas/customers.yaml",)
