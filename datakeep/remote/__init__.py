"""Remotes: push, pull and clone through any fsspec filesystem (a folder, S3, GCS, Azure).

Modules, bottom-up: ``refs`` (compare-and-swap of remote refs per backend), ``connect`` (a remote
opened: store, refs, marker), ``config`` (named remotes in `.datakeep/config.json`), ``transfer``
(verified parallel copies), ``graph`` (ancestry, how refs may move), then one module per verb:
``push`` (with ``delete``: refs removed by ``push --delete``), ``fetch`` (pull), ``clone``, ``lsfiles``.
"""

from __future__ import annotations

from datakeep.remote.clone import clone
from datakeep.remote.config import add_remote, list_remotes, open_remote, remove_remote
from datakeep.remote.fetch import FetchResult, pull
from datakeep.remote.lsfiles import ls_files
from datakeep.remote.push import PushResult, push

__all__ = [
    "FetchResult",
    "PushResult",
    "add_remote",
    "clone",
    "list_remotes",
    "ls_files",
    "open_remote",
    "pull",
    "push",
    "remove_remote",
]
