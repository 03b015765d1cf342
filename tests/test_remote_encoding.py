"""Remotes and canonical encodings: a remote keeps the encoding of the repository that made it,
a clone takes it, and push and pull refuse to mix two (the same table has different ids in each).
Real repositories and real folder remotes throughout; commands through click where the exit code
and the message are the behaviour."""

# Fixtures are imported from the helper module, and pytest passes them by parameter name.
# ruff: noqa: F811

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from test_remote_support import Project, template  # noqa: F401

from datakeep.api import Repo
from datakeep.cli import cli
from datakeep.errors import RemoteError
from datakeep.remote import add_remote, clone, pull, push
from datakeep.remote.connect import EncodingMismatchError
from datakeep.repo import Repository

#: The marker exactly as datakeep wrote it before repositories had a choice of encoding.
MARKER_BEFORE_ENCODINGS = b'{"format": "datakeep.remote", "hash": "xxh3_128", "version": 1}\n'


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes: equal before and after means nothing was touched."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def project_in(root: Path, encoding: int | None) -> Project:
    root.mkdir()
    return Project(root, encoding=encoding)


def remote_made_by(
    tmp_path: Path, encoding: int | None, *, marker_before_encodings: bool = False
) -> tuple[str, Project]:
    """A folder remote set up by the first push of a repository in ``encoding``; optionally with
    its marker rewritten as a remote made before encodings has it (no "encoding" field)."""
    maker = project_in(tmp_path / f"maker-{encoding}", encoding)
    url = str(tmp_path / f"remote-{encoding}")
    push(maker.storage, url)
    if marker_before_encodings:
        (Path(url) / "config.json").write_bytes(MARKER_BEFORE_ENCODINGS)
    return url, maker


@pytest.mark.parametrize(("encoding", "recorded"), [(None, 2), (1, 1)], ids=["new-repository", "encoding-1"])
def test_a_new_remote_records_the_encoding_of_the_repository_that_made_it(
    tmp_path: Path, encoding: int | None, recorded: int
) -> None:
    url, maker = remote_made_by(tmp_path, encoding)
    assert maker.storage.config.encoding == recorded
    marker = json.loads((Path(url) / "config.json").read_bytes())
    assert marker == {"format": "datakeep.remote", "version": 1, "hash": "xxh3_128", "encoding": recorded}


@pytest.mark.parametrize("marker_before_encodings", [True, False], ids=["marker-without-encoding", "marker-encoding-1"])
def test_a_clone_of_an_encoding_1_remote_is_encoding_1_and_sees_its_data_unchanged(
    tmp_path: Path, template: Project, marker_before_encodings: bool
) -> None:
    url, maker = remote_made_by(tmp_path, 1, marker_before_encodings=marker_before_encodings)
    # The same tables committed in encoding 2 have other ids: a clone computing encoding 2 would
    # call every dataset modified. (The template holds the same tables, in encoding 2.)
    assert template.storage.config.encoding == 2
    in_1 = maker.repo.commit_info()[1].datasets
    in_2 = template.repo.commit_info()[1].datasets
    assert in_1.keys() == in_2.keys() and all(in_1[n].snapshot != in_2[n].snapshot for n in in_1)
    marker = (Path(url) / "config.json").read_bytes()

    copy, _ = clone(url, tmp_path / "copy")
    assert json.loads((copy.dk / "config.json").read_bytes())["encoding"] == 1
    work = Repo(Repository(copy.root))
    assert work.repository.config.encoding == 1
    assert work.resolve("HEAD") == maker.repo.resolve("HEAD")
    assert {s.name: s.state for s in work.status()} == {"flights": "unchanged", "weather": "unchanged"}

    # The clone keeps working with its remote, whose marker is read and never rewritten.
    new_head = Project.open(copy.root, maker.flights).append()
    push(copy)
    assert (Path(url) / "refs" / "heads" / "main").read_text().strip() == new_head
    assert (Path(url) / "config.json").read_bytes() == marker


@pytest.mark.parametrize(("ours", "theirs"), [(2, 1), (1, 2)])
def test_push_to_a_remote_in_another_encoding_is_refused_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ours: int, theirs: int
) -> None:
    url, _ = remote_made_by(tmp_path, theirs)
    project = project_in(tmp_path / "project", ours)
    add_remote(project.storage, "origin", url)
    before = files(Path(url))
    monkeypatch.chdir(project.root)
    for args in (["push"], ["push", "--all", "--force"]):
        code, out, err = run(*args)
        assert (code, out) == (2, "")
        assert err.startswith(
            f"error: origin holds ids in canonical encoding {theirs}, this repository computes encoding {ours} — "
            f"push to a new remote (it takes this repository's encoding), or `datakeep clone {url}` and commit there"
        )
        assert err.count("\n") == 1  # one line
    assert files(Path(url)) == before
    assert project.storage.refs.get("refs/remotes/origin/main") is None
    with pytest.raises(EncodingMismatchError) as raised:
        push(project.storage)
    assert (raised.value.theirs, raised.value.ours, raised.value.exit_code) == (theirs, ours, 2)


@pytest.mark.parametrize("options", [[], ["--no-checkout"], ["--name", "flights"]], ids=["pull", "fetch", "partial"])
def test_pull_from_a_remote_in_another_encoding_is_refused_and_fetches_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: list[str]
) -> None:
    url, _ = remote_made_by(tmp_path, 1)
    repo = Repository.initialize(tmp_path / "work")  # a new repository: encoding 2
    add_remote(repo, "origin", url)
    before = files(repo.root)
    monkeypatch.chdir(repo.root)
    code, out, err = run("pull", *options)
    assert (code, out) == (2, "")
    assert err.startswith(
        "error: origin holds ids in canonical encoding 1, this repository computes encoding 2 — "
        f"`datakeep clone {url}` into a new folder instead: a clone takes the remote's encoding"
    )
    assert files(repo.root) == before  # no object, no ref, no restored file
    with pytest.raises(EncodingMismatchError):
        pull(repo, restore=False)


def test_pull_in_an_encoding_2_repository_from_an_encoding_2_remote_still_works(tmp_path: Path) -> None:
    url, maker = remote_made_by(tmp_path, 2)
    repo = Repository.initialize(tmp_path / "work")
    add_remote(repo, "origin", url)
    pull(repo)
    assert Repo(repo).resolve("HEAD") == maker.repo.resolve("HEAD")
    assert {s.name: s.state for s in Repo(repo).status()} == {"flights": "unchanged", "weather": "unchanged"}


def test_a_remote_in_an_encoding_this_datakeep_does_not_know_is_refused(tmp_path: Path) -> None:
    url, _ = remote_made_by(tmp_path, 2)
    marker = Path(url) / "config.json"
    marker.write_text(json.dumps({**json.loads(marker.read_text()), "encoding": 3}))
    with pytest.raises(RemoteError, match=r"holds ids in canonical encoding 3; this datakeep knows 1, 2 — upgrade"):
        clone(url, tmp_path / "copy")
    assert not (tmp_path / "copy").exists()
