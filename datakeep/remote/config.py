"""Named remotes, kept in `.datakeep/config.json` (never in `datakeep.yaml`, which git tracks).

Only the URL is stored. Credentials and endpoint settings come from the environment or from
fsspec's own configuration, so nothing secret is ever written by datakeep.
"""

from __future__ import annotations

import re
from pathlib import Path

from datakeep.errors import RemoteError
from datakeep.records.refs import REMOTES
from datakeep.remote.connect import Remote, connect, normalize_url
from datakeep.remote.partial import PARTIAL, first_incomplete_ref, promised_by, short_ref
from datakeep.repo import Repository

DEFAULT_REMOTE = "origin"
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_SECRET_RE = re.compile(r"://[^/@]*:[^/@]*@")


def check_remote_name(name: str) -> str:
    if not _NAME_RE.fullmatch(name) or ".." in name:
        raise RemoteError(f"'{name}' is not a valid remote name", "use letters, digits, '.', '_' and '-', e.g. origin")
    return name


def check_remote_url(repo: Repository, url: str) -> str:
    """``url`` normalised; refused when empty, or a folder inside this repository (its working
    tree or its store), where a push would write a remote's files among the user's own."""
    if not url.strip():
        raise RemoteError("the remote URL is empty", "give a folder path or a URL, e.g. s3://bucket/team/datakeep")
    stored = normalize_url(url)
    if "://" not in stored:
        folder = Path(stored).resolve()
        if folder == repo.root or folder.is_relative_to(repo.root):
            raise RemoteError(
                f"{url} is inside this repository ({repo.root}): a push there would write the remote's "
                "objects and refs among your files",
                "use a folder outside the repository, e.g. ../team-remote",
            )
    return stored


def add_remote(repo: Repository, name: str, url: str) -> str:
    """Remember ``url`` as remote ``name``; returns the URL as stored."""
    check_remote_name(name)
    if _SECRET_RE.search(url):
        raise RemoteError(
            "the remote URL carries a password",
            "drop it from the URL; give credentials through the environment or fsspec's configuration",
        )
    stored = check_remote_url(repo, url)
    with repo.locked():
        if name in repo.config.remotes:
            raise RemoteError(
                f"remote '{name}' already exists ({repo.config.remotes[name]})",
                f"remove it first with `datakeep remote remove {name}`",
            )
        repo.config.remotes[name] = stored
        repo.save_config()
    return stored


def remove_remote(repo: Repository, name: str) -> str:
    """Forget remote ``name`` and its remote-tracking refs (``refs/remotes/NAME/*``), as git does;
    returns its URL. A partial clone's source cannot be removed while it still promises objects."""
    url = repo.config.remotes.get(name)
    if url is None:
        raise RemoteError(f"no remote named '{name}'", "`datakeep remote list` shows them")
    if promised_by(repo) == name:
        incomplete = first_incomplete_ref(repo)
        if incomplete is not None:
            raise RemoteError(
                f"remote '{name}' holds objects this partial clone has not fetched (needed by {incomplete})",
                _fetch_hint(name, incomplete),
            )
    with repo.locked():
        if promised_by(repo) == name:
            repo.config.extra.pop(PARTIAL, None)  # everything is here: nothing is promised any more
        del repo.config.remotes[name]
        repo.save_config()
        # Left behind, they would still resolve (`NAME/main`), keep objects from gc, and pass for
        # the branches of the next remote given this name.
        for branch in repo.refs.list(f"{REMOTES}/{name}"):
            repo.refs.delete(f"{REMOTES}/{name}/{branch}")
    return url


def _fetch_hint(remote: str, ref: str) -> str:
    if ref == "HEAD":
        return f"fetch them first with `datakeep pull {remote}` on a branch, or `datakeep checkout` a branch"
    return f"fetch them first with `datakeep pull {remote} {short_ref(ref)} --no-checkout`"


def list_remotes(repo: Repository) -> dict[str, str]:
    return dict(sorted(repo.config.remotes.items()))


def open_remote(repo: Repository, name_or_url: str | None) -> Remote:
    """A remote by name (default: the only one, or ``origin``), or by URL."""
    remotes = repo.config.remotes
    if name_or_url is None:
        if DEFAULT_REMOTE in remotes:
            name_or_url = DEFAULT_REMOTE
        elif len(remotes) == 1:
            name_or_url = next(iter(remotes))
        else:
            raise RemoteError(
                "no remote given and no default one",
                "add one with `datakeep remote add origin URL`, or name one after the command "
                "(`datakeep push NAME`, `datakeep pull NAME`)",
            )
    if name_or_url in remotes:
        return connect(remotes[name_or_url], name=name_or_url)
    if "://" in name_or_url or "/" in name_or_url or name_or_url.startswith("."):
        return connect(check_remote_url(repo, name_or_url))
    raise RemoteError(f"no remote named '{name_or_url}'", "`datakeep remote list` shows them")
