"""Named remotes, kept in `.datakeep/config.json` (never in `datakeep.yaml`, which git tracks).

Only the URL is stored. Credentials and endpoint settings come from the environment or from
fsspec's own configuration, so nothing secret is ever written by datakeep.
"""

from __future__ import annotations

import re

from datakeep.errors import RemoteError
from datakeep.remote.connect import Remote, connect, normalize_url
from datakeep.repo import Repository

DEFAULT_REMOTE = "origin"
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_SECRET_RE = re.compile(r"://[^/@]*:[^/@]*@")


def check_remote_name(name: str) -> str:
    if not _NAME_RE.fullmatch(name) or ".." in name:
        raise RemoteError(f"'{name}' is not a valid remote name", "use letters, digits, '.', '_' and '-', e.g. origin")
    return name


def add_remote(repo: Repository, name: str, url: str) -> str:
    """Remember ``url`` as remote ``name``; returns the URL as stored."""
    check_remote_name(name)
    if _SECRET_RE.search(url):
        raise RemoteError(
            "the remote URL carries a password",
            "drop it from the URL; give credentials through the environment or fsspec's configuration",
        )
    stored = normalize_url(url)
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
    """Forget remote ``name``; returns its URL. A partial clone's source cannot be removed."""
    with repo.locked():
        url = repo.config.remotes.get(name)
        if url is None:
            raise RemoteError(f"no remote named '{name}'", "`datakeep remote list` shows them")
        if repo.config.extra.get("partial") == name:
            raise RemoteError(
                f"remote '{name}' holds the objects this partial clone has not fetched",
                f"fetch everything first with `datakeep pull {name}`",
            )
        del repo.config.remotes[name]
        repo.save_config()
    return url


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
                "add one with `datakeep remote add origin URL`, or name it: `datakeep push NAME`",
            )
    if name_or_url in remotes:
        return connect(remotes[name_or_url], name=name_or_url)
    if "://" in name_or_url or "/" in name_or_url or name_or_url.startswith("."):
        return connect(normalize_url(name_or_url))
    raise RemoteError(f"no remote named '{name_or_url}'", "`datakeep remote list` shows them")
