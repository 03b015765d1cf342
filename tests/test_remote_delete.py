"""Deleting branches and tags on a remote (`push --delete`, `push REMOTE :NAME`), on a real folder
remote, the S3 API (moto server on loopback) and fsspec's memory filesystem (lock-object refs)."""

# Fixtures are imported from the helper module, and pytest passes them by parameter name.
# ruff: noqa: F811

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from test_remote_support import (  # noqa: F401
    Project,
    folder_project,
    folder_url,
    fresh_remote,
    project,
    remote_url,
    s3_endpoint,
    template,
)

from datakeep.api import Repo
from datakeep.cli import cli
from datakeep.errors import RemoteError, UsageError
from datakeep.ids import ObjectId
from datakeep.remote import clone, push
from datakeep.remote.config import open_remote
from datakeep.remote.refs import RemoteRefMovedError, RemoteRefs
from datakeep.repo import Repository


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def _remote_names(proj: Project) -> set[str]:
    return set(open_remote(proj.storage, "origin").refs.list())


def test_deleting_a_branch_removes_it_there_and_its_tracking_ref_here_and_keeps_the_objects(
    project: Project, remote_url: str, tmp_path: Path
) -> None:
    project.repo.branch("feature")
    project.append(message="on main")
    push(project.storage, revs=["main", "feature"])
    assert project.repo.resolve("origin/feature")
    remote = open_remote(project.storage, "origin")
    objects = set(remote.store.ids())

    result = project.repo.push("origin", "feature", delete=True)

    assert [(d.ref, d.old, d.status) for d in result.deleted] == [
        ("refs/heads/feature", project.repo.resolve("feature"), "deleted")
    ]
    assert result.updates == [] and result.sent.objects == 0
    assert _remote_names(project) == {"refs/heads/main"}
    assert "feature" not in project.storage.refs.list("refs/remotes/origin")
    assert project.repo.resolve("feature")  # the local branch is not touched
    assert set(remote.store.ids()) == objects  # a remote has no gc: objects stay
    copy, fetched = clone(remote_url, tmp_path / "copy")
    assert fetched.ref == "refs/heads/main" and Repo(copy).branches().keys() == {"main"}


def test_a_tag_is_deleted_with_gits_colon_form_and_reported(folder_project: Project, folder_url: str) -> None:
    folder_project.repo.tag("v1")
    push(folder_project.storage, revs=["main", "v1"])
    commit = folder_project.repo.resolve("v1")
    code, out, _ = run("push", "origin", ":v1")
    assert code == 0, out
    assert out.splitlines() == ["deleted on origin: 1 ref(s)", f"  refs/tags/v1: {commit[:10]} → (deleted)"]
    assert _remote_names(folder_project) == {"refs/heads/main"}
    assert folder_project.repo.resolve("v1") == commit


def test_delete_flag_takes_several_names_and_json_lists_them(folder_project: Project) -> None:
    for name in ("a", "b"):
        folder_project.repo.branch(name)
    folder_project.repo.tag("v1")
    push(folder_project.storage, all_refs=True)
    code, out, _ = run("push", "origin", "-d", "a", "refs/tags/v1", "--json")
    assert code == 0
    document = json.loads(out)
    assert [(r["ref"], r["new"], r["status"]) for r in document["refs"]] == [
        ("refs/heads/a", None, "deleted"),
        ("refs/tags/v1", None, "deleted"),
    ]
    assert _remote_names(folder_project) == {"refs/heads/main", "refs/heads/b"}


def test_deleting_a_name_the_remote_lacks_exits_2_and_deletes_nothing(folder_project: Project) -> None:
    folder_project.repo.branch("feature")
    push(folder_project.storage, revs=["main", "feature"])
    code, out, err = run("push", "origin", "--delete", "feature", "nope")
    assert code == 2 and out == ""
    assert err.startswith("error: origin has no branch or tag 'nope' (it has: feature, main); nothing was deleted — ")
    assert _remote_names(folder_project) == {"refs/heads/main", "refs/heads/feature"}
    assert folder_project.repo.resolve("origin/feature")


def test_the_branch_the_remotes_head_names_goes_only_with_force(
    project: Project, remote_url: str, tmp_path: Path
) -> None:
    project.repo.branch("feature")
    push(project.storage, revs=["main", "feature"])
    remote = open_remote(project.storage, "origin")
    assert remote.refs.head_branch() == "main"
    with pytest.raises(RemoteError, match=r"refusing to delete refs/heads/main on origin: the remote's HEAD names it"):
        push(project.storage, revs=["main"], delete=True)
    assert _remote_names(project) == {"refs/heads/main", "refs/heads/feature"}

    result = push(project.storage, revs=["main"], delete=True, force=True)
    assert [(d.ref, d.head) for d in result.deleted] == [("refs/heads/main", True)]
    assert remote.refs.head_branch() is None
    copy, fetched = clone(remote_url, tmp_path / "copy")  # checks out a branch the remote has
    assert fetched.ref == "refs/heads/feature"
    push(copy)  # the next push of a branch names a new HEAD
    assert remote.refs.head_branch() == "feature"


def test_the_head_refusal_through_the_cli_says_how_to_go_on(folder_project: Project) -> None:
    push(folder_project.storage)
    code, _, err = run("push", "origin", ":main")
    assert code == 2
    assert "the remote's HEAD names it" in err and "`datakeep push origin --delete --force main`" in err
    code, out, _ = run("push", "origin", "--delete", "--force", "main")
    assert code == 0 and "origin's HEAD named it and was removed" in out


def test_a_ref_moved_by_another_push_while_deleting_is_not_deleted(
    project: Project, remote_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.repo.branch("feature")
    push(project.storage, revs=["main", "feature"])
    other, _ = clone(remote_url, tmp_path / "other", branch="feature")
    theirs = Project.open(other.root, project.flights)
    theirs.append(message="theirs, on feature")
    real_delete = type(open_remote(project.storage, "origin").refs).delete

    def after_a_colleagues_push(self: RemoteRefs, ref: str, token: Any) -> None:
        # The colleague's push lands between our read of the ref and our delete.
        monkeypatch.setattr(type(self), "delete", real_delete)
        push(other, revs=["feature"])
        real_delete(self, ref, token)

    monkeypatch.setattr(type(open_remote(project.storage, "origin").refs), "delete", after_a_colleagues_push)
    with pytest.raises(RemoteError, match=r"refs/heads/feature on origin moved to \w{10} while it was being deleted"):
        push(project.storage, revs=["feature"], delete=True)
    remote = open_remote(project.storage, "origin")
    assert remote.refs.read("refs/heads/feature")[0] == theirs.repo.resolve("HEAD")  # their commit stands
    assert project.repo.resolve("origin/feature")  # and we still remember where it was


@pytest.mark.parametrize("kind", ["folder", "s3", "memory"])
def test_a_delete_with_a_stale_token_never_lands(
    kind: str, template: Project, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The primitive under every delete, on each ref backend: S3 (If-Match on DELETE), a folder
    (flock), and lock objects (fsspec's memory filesystem)."""
    url = f"memory://dk-{uuid.uuid4().hex[:12]}/remote" if kind == "memory" else fresh_remote(kind, tmp_path, request)
    push(template.storage, url, revs=["main"])
    refs = open_remote(template.storage, url).refs
    head = template.repo.resolve("HEAD")
    moved = ObjectId("0" * 32)
    refs.swap("refs/heads/side", head, None)
    _, stale = refs.read("refs/heads/side")
    refs.swap("refs/heads/side", moved, stale)  # another push moves it after our read
    with pytest.raises(RemoteRefMovedError):
        refs.delete("refs/heads/side", stale)
    assert refs.read("refs/heads/side")[0] == moved
    _, fresh = refs.read("refs/heads/side")
    refs.delete("refs/heads/side", fresh)
    assert set(refs.list()) == {"refs/heads/main"}
    with pytest.raises(RemoteRefMovedError):
        refs.delete("refs/heads/side", fresh)  # gone already


def test_a_branch_in_a_folder_can_be_replaced_by_one_named_like_the_folder(
    project: Project, remote_url: str, tmp_path: Path
) -> None:
    project.repo.branch("feature/x")
    push(project.storage, revs=["main", "feature/x"])
    push(project.storage, revs=["feature/x"], delete=True)
    copy, _ = clone(remote_url, tmp_path / "b")
    Repo(copy).branch("feature")
    assert [u.status for u in push(copy, revs=["feature"]).updates] == ["new"]


def test_a_damaged_remote_ref_can_be_deleted(folder_project: Project) -> None:
    folder_project.repo.branch("side")
    push(folder_project.storage, revs=["main", "side"])
    remote = open_remote(folder_project.storage, "origin")
    remote.fs.pipe_file(remote.refs.path("refs/heads/side"), b"garbage\n")
    code, out, _ = run("push", "origin", "--delete", "side")
    assert code == 0 and "refs/heads/side: (damaged) → (deleted)" in out
    assert _remote_names(folder_project) == {"refs/heads/main"}


def test_a_name_that_is_both_a_tag_and_a_branch_there_must_be_spelt_in_full(folder_project: Project) -> None:
    folder_project.repo.tag("rel")
    folder_project.repo.branch("rel")
    push(folder_project.storage, revs=["main", "refs/tags/rel", "refs/heads/rel"])
    code, _, err = run("push", "origin", "-d", "rel")
    assert code == 2 and "'rel' names both a tag and a branch on origin" in err
    assert run("push", "origin", "-d", "refs/tags/rel")[0] == 0
    assert _remote_names(folder_project) == {"refs/heads/main", "refs/heads/rel"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["push", "origin", "main", ":old"], "to send (main) and to delete (old) at once"),
        (["push", "origin", "--all", "--delete", "old"], "--all and --delete do not go together"),
        (["push", "origin", "--delete"], "nothing to delete"),
        (["push", "origin", ":"], "':' alone names no ref"),
    ],
)
def test_what_push_delete_does_not_take_is_a_usage_error(
    folder_project: Project, args: list[str], message: str
) -> None:
    push(folder_project.storage)
    code, _, err = run(*args)
    assert code == 2 and message in err and err.count("\n") == 1
    assert _remote_names(folder_project) == {"refs/heads/main"}


def test_delete_on_a_folder_that_is_no_remote_is_refused(folder_project: Project, tmp_path: Path) -> None:
    with pytest.raises(RemoteError, match="nothing: the folder does not exist"):
        push(folder_project.storage, str(tmp_path / "nothing"), revs=["main"], delete=True)
    (tmp_path / "empty").mkdir()
    with pytest.raises(RemoteError, match="is not a datakeep remote"):
        push(folder_project.storage, str(tmp_path / "empty"), revs=["main"], delete=True)
    assert not (tmp_path / "empty" / "config.json").exists()  # delete never sets a remote up


def test_api_push_delete_takes_one_name_as_a_string(folder_project: Project) -> None:
    folder_project.repo.tag("v1")
    push(folder_project.storage, revs=["main", "v1"])
    assert [d.ref for d in folder_project.repo.push(revs=":v1").deleted] == ["refs/tags/v1"]
    with pytest.raises(UsageError):
        folder_project.repo.push(revs=[], delete=True)
    assert Repository(folder_project.root).refs.list("refs/tags") == {"v1": folder_project.repo.resolve("v1")}
