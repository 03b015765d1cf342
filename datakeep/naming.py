"""Tags and branches: names for commits."""

from __future__ import annotations

from datakeep.errors import DatakeepError
from datakeep.ids import ObjectId
from datakeep.records.refs import HEADS, TAGS, check_ref_name
from datakeep.repo import Repository
from datakeep.revisions import resolve


def create_ref(repo: Repository, kind: str, name: str, rev: str = "HEAD", *, force: bool = False) -> ObjectId:
    what = "tag" if kind == TAGS else "branch"
    check_ref_name(name, what)
    with repo.locked():
        target = resolve(repo, rev)
        ref = f"{kind}/{name}"
        current = repo.refs.get(ref)
        if current is not None and not force:
            raise DatakeepError(
                f"{what} '{name}' already exists (at {current[:10]})",
                "pick another name, or pass --force to move it",
            )
        repo.refs.update(ref, target, expected=current)
    return target


def delete_ref(repo: Repository, kind: str, name: str) -> ObjectId:
    what = "tag" if kind == TAGS else "branch"
    with repo.locked():
        ref = f"{kind}/{name}"
        current = repo.refs.get(ref)
        if current is None:
            raise DatakeepError(f"no {what} named '{name}'", f"`datakeep {what}` lists them")
        if kind == HEADS and repo.refs.head_target()[0] == name:
            raise DatakeepError(f"cannot delete branch '{name}': HEAD is on it", "switch to another branch first")
        repo.refs.delete(ref)
    return current
