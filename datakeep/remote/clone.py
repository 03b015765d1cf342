"""clone: a new working repository from a remote, whole or partial (one dataset's data)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

from datakeep.errors import DatakeepError, RemoteError
from datakeep.ids import ObjectId
from datakeep.records.refs import HEADS
from datakeep.remote.config import DEFAULT_REMOTE, add_remote
from datakeep.remote.connect import Remote, connect, normalize_url, reports_unreachable
from datakeep.remote.fetch import FetchResult, pick_ref, pull
from datakeep.remote.transfer import ProgressCallback
from datakeep.repo import DIRNAME, Repository, half_made


def _unfinished_clone_of(folder: Path, url: str) -> bool:
    """Whether ``folder`` is a repository with ``url`` as its origin and no commit yet: what a
    clone killed outright (SIGKILL, a lost machine) leaves; any other stop removes it."""
    try:
        repo = Repository(folder)
        return repo.config.remotes.get(DEFAULT_REMOTE) == url and repo.head() is None
    except (DatakeepError, OSError, ValueError):
        return False


def default_directory(url: str) -> str:
    """``s3://bucket/team/flights`` → ``flights``, like git."""
    tail = url.rstrip("/").rsplit("/", 1)[-1]
    return tail.removesuffix(".datakeep") or "datakeep-clone"


@reports_unreachable
def clone(
    url: str,
    directory: str | os.PathLike[str] | None = None,
    *,
    name: str | None = None,
    branch: str | None = None,
    checkout: bool = True,
    progress: ProgressCallback | None = None,
) -> tuple[Repository, FetchResult]:
    """Make a new repository at ``directory`` from the remote at ``url`` (remembered as ``origin``).

    With ``name``, a partial clone: every commit, but only that dataset's data at the revision;
    whatever else is read later is fetched from ``origin`` on demand.
    """
    url = normalize_url(url)
    source = connect(url, name=DEFAULT_REMOTE)
    encoding = source.check()
    target = Path(directory if directory is not None else default_directory(url)).absolute()
    if target.exists() and any(target.iterdir()):
        if _unfinished_clone_of(target, url):
            raise RemoteError(
                f"{target} holds an unfinished clone of {url} (the clone was stopped before it checked out a commit)",
                f"run `datakeep pull` in {target} to finish it, or remove the folder and clone again",
            )
        if [entry.name for entry in target.iterdir()] == [DIRNAME] and half_made(target):
            # Stopped earlier still, while making .datakeep: no origin is recorded, so no pull
            # can finish it; nothing was stored, so removing it loses nothing.
            raise RemoteError(
                f"{target} holds an unfinished clone (it was stopped while making {target / DIRNAME}, "
                "before anything was stored)",
                f"remove the folder (`rm -r {target}`) and clone again",
            )
        raise RemoteError(f"{target} already exists and is not empty", "clone into a new folder")
    remote_refs, damaged = source.refs.scan()
    created = not target.exists()
    # The clone computes ids as the remote's commits were computed, or every dataset would differ.
    repo = Repository.initialize(target, encoding=encoding)
    try:
        with _terminate_as_interrupt():
            return _fill(
                repo,
                target,
                source,
                (remote_refs, damaged),
                url,
                name=name,
                branch=branch,
                checkout=checkout,
                progress=progress,
            )
    except BaseException:
        # A clone that failed half-way is no repository to keep (a re-run would find the folder
        # "not empty"): remove what this call made. A folder the user had was empty before.
        if created:
            shutil.rmtree(target, ignore_errors=True)
        else:
            for entry in target.iterdir():
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (`timeout`, a cancelled CI job, `kill PID`) stops a clone as Ctrl-C does: by an
    exception, so the half-made repository is removed instead of left to block a re-run."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set signal handlers
        return

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _fill(
    repo: Repository,
    target: Path,
    source: Remote,
    listing: tuple[dict[str, ObjectId], dict[str, bytes]],
    url: str,
    *,
    name: str | None,
    branch: str | None,
    checkout: bool,
    progress: ProgressCallback | None,
) -> tuple[Repository, FetchResult]:
    remote_refs, damaged = listing
    # The remote's HEAD is what a clone checks out unless told otherwise (the new repository's
    # own unborn branch must not decide it).
    head = source.refs.head_branch()
    if branch is None and head is not None and (f"{HEADS}/{head}" in remote_refs or f"{HEADS}/{head}" in damaged):
        branch = head
    ref = pick_ref(repo, source, remote_refs, branch, damaged=damaged)
    add_remote(repo, DEFAULT_REMOTE, url)
    if name is not None:
        # Recorded before anything is fetched: objects this clone lacks are promised by origin,
        # so reads fetch them on demand and fsck/gc must not call them missing.
        repo.config.extra["partial"] = DEFAULT_REMOTE
        repo.save_config()
    if ref.startswith(HEADS + "/"):
        repo.refs.set_head(branch=ref[len(HEADS) + 1 :])
    repo = Repository(target)  # re-open: the store of a partial clone falls back to origin
    result = pull(repo, DEFAULT_REMOTE, ref.split("/", 2)[2], name=name, restore=checkout, progress=progress)
    if not ref.startswith(HEADS + "/") and checkout:
        from datakeep.checkout import checkout as do_checkout

        result.restored = do_checkout(repo, result.commit, name=name, force=True).written
    return repo, result
