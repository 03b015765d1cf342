"""The Python API: one method per user verb, the same verbs as the CLI.

>>> repo = datakeep.Repo.open(".")
>>> repo.commit(message="january load")
>>> table = repo.read("flights", rev="v1")      # a pyarrow.Table; .to_pandas() for pandas
>>> repo.add_remote("origin", "s3://bucket/team/datakeep"); repo.push()
>>> copy = datakeep.Repo.clone("s3://bucket/team/datakeep", "work")

Where the CLI takes a flag several times (``--key``, ``--fail-on``, ``--ours``), a method takes a
list, or a plain string for one item (``key`` also splits on commas, as ``--key a,b`` does).
A revision of None means HEAD.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datakeep import arguments
from datakeep.arguments import Names
from datakeep.errors import DatakeepError, DatasetError, UsageError
from datakeep.ids import ObjectId
from datakeep.records.refs import HEADS, TAGS
from datakeep.repo import Repository

if TYPE_CHECKING:
    import pyarrow as pa

    from datakeep.checkout import CheckoutResult
    from datakeep.history import CommitResult
    from datakeep.maintenance import FsckResult, GcResult
    from datakeep.merge import MergeResult
    from datakeep.progress import Progress
    from datakeep.records.commit import Commit
    from datakeep.records.index import TrackedDataset
    from datakeep.records.manifest import Manifest
    from datakeep.remote import FetchResult, PushResult
    from datakeep.remote.lsfiles import ListedObject
    from datakeep.remote.repair import RepairResult
    from datakeep.remote.transfer import ProgressCallback
    from datakeep.worktree import DatasetStatus


class Repo:
    """A datakeep repository and every verb that works on it."""

    def __init__(self, repository: Repository) -> None:
        self._repo = repository

    @property
    def root(self) -> Path:
        return self._repo.root

    @property
    def repository(self) -> Repository:
        return self._repo

    def __repr__(self) -> str:
        return f"<datakeep.Repo {self.root}, {self._where_head_is()}>"

    def _where_head_is(self) -> str:
        # Reads HEAD and the ref it names, no more: a notebook shows this for every cell ending in `repo`.
        if not self._repo.dk.is_dir():
            return "no repository there any more"
        try:
            branch, head = self._repo.refs.head_target()
        except DatakeepError:
            return "HEAD unreadable"
        if branch is None:
            return f"detached at {head[:10]}" if head else "detached"
        return f"branch {branch}" if head else f"branch {branch}, no commits yet"

    # -- opening ---------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike[str] = ".") -> Repo:
        """Open the repository containing ``path`` (searching upwards, like git)."""
        return cls(Repository.discover(path))

    @classmethod
    def init(
        cls, path: str | os.PathLike[str] = ".", *, chunk_bytes: int | None = None, encoding: int | None = None
    ) -> Repo:
        """Create an empty repository in ``path``; ``chunk_bytes`` overrides the chunk size new
        datasets aim for (uncompressed bytes; default ``chunking.TARGET_CHUNK_BYTES``);
        ``encoding`` is the canonical encoding of its ids (docs/hashing.md; default the newest,
        1 to get the ids a repository made before encoding 2 gives the same data)."""
        return cls(Repository.initialize(path, chunk_bytes=chunk_bytes, encoding=encoding))

    # -- tracking and committing -----------------------------------------------------------
    def add(
        self,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        key: Names | None = (),
        entity: str | None = None,
        source: str | None = None,
    ) -> str:
        """Track a Parquet file or folder as dataset ``name``, matched by ``key`` (a list of
        columns, or one string: ``"id"``, ``"a,b"``); returns the dataset name."""
        from datakeep.worktree import add

        dataset, _ = add(self._repo, str(path), name=name, key=arguments.key_columns(key), entity=entity, source=source)
        return dataset

    def add_all(
        self,
        paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
        *,
        name: str | None = None,
        key: Names | None = (),
        entity: str | None = None,
        source: str | None = None,
    ) -> list[str]:
        """Track each of ``paths`` as a dataset named after its file or folder (without its
        extension; ``name`` for a single path), all or none; returns the names."""
        from datakeep.worktree import add_all

        listed = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
        added = add_all(
            self._repo,
            [str(p) for p in listed],
            name=name,
            key=arguments.key_columns(key),
            entity=entity,
            source=source,
        )
        return [name for name, _ in added]

    def tracked(self) -> dict[str, TrackedDataset]:
        """The tracked datasets and their definitions (path, key, entity, source)."""
        return dict(self._repo.load_index().datasets)

    def rm(self, name: str) -> None:
        """Stop tracking dataset ``name`` (its history stays)."""
        from datakeep.worktree import rm

        rm(self._repo, name)

    def status(self) -> list[DatasetStatus]:
        """Each tracked dataset: unchanged, modified, new, missing or removed."""
        from datakeep.worktree import status

        return status(self._repo)

    def commit(
        self,
        *,
        message: str,
        author: str | None = None,
        allow_empty: bool = False,
        verify: bool = True,
        progress: Progress | None = None,
    ) -> CommitResult:
        """Snapshot every tracked dataset that changed; returns the new commit. ``progress``
        (`datakeep.progress.Progress`) hears how many bytes of each dataset's changed files
        have been read."""
        from datakeep.history import make_commit

        if not isinstance(message, str):
            raise UsageError(f"a commit needs a message (a string), not {message!r}", 'pass message="what changed"')
        return make_commit(
            self._repo, message=message, author=author, allow_empty=allow_empty, verify=verify, progress=progress
        )

    # -- history ---------------------------------------------------------------------------
    def resolve(self, rev: str | None = "HEAD") -> ObjectId:
        """The full commit id a revision names."""
        from datakeep.revisions import resolve

        self._repo.check_exists()  # else a missing HEAD file reads as a branch with no commits yet
        return resolve(self._repo, _revision(rev))

    def log(
        self, rev: str | None = None, *, limit: int | None = None, name: str | None = None
    ) -> list[tuple[ObjectId, Commit]]:
        """Commits reachable from ``rev`` (default HEAD), newest first; ``A..B``: those reachable
        from B and not from A, as in git; with ``name``, only those that changed that dataset."""
        from datakeep.history import log

        self._repo.check_exists()  # else a vanished store logs as an empty history
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise UsageError(f"limit is how many commits to list (an int >= 0), not {limit!r}", "e.g. limit=10")
        if rev is None and self._repo.head() is None:  # HEAD is not read for another rev: it may be damaged
            return []
        if rev is not None and "..." in rev:
            raise UsageError(
                f"log takes A..B (the commits of B that A lacks), not '{rev}'",
                f"`datakeep log {rev.replace('...', '..')}`; A...B is for diff",
            )
        if rev is not None and ".." in rev:
            a, b = self._range(rev)
            return log(self._repo, self.resolve(b), limit, dataset=name, exclude=self.resolve(a))
        start = self.resolve(rev) if rev else None
        return log(self._repo, start, limit, dataset=name)

    def merge_base(self, a: str, b: str) -> ObjectId | None:
        """The nearest commit the histories of ``a`` and ``b`` share (None when they share none):
        where ``datakeep diff A...B`` starts, as in git."""
        from datakeep.merge import merge_base

        return merge_base(self._repo, self.resolve(a), self.resolve(b))

    def commit_info(self, rev: str | None = "HEAD") -> tuple[ObjectId, Commit]:
        oid = self.resolve(rev)
        return oid, self._repo.commit_at(oid)

    def manifest(self, name: str, rev: str | None = "HEAD") -> Manifest:
        """The snapshot manifest of dataset ``name`` at ``rev``."""
        from datakeep.checkout import manifest_for

        oid = self.resolve(rev)
        return manifest_for(self._repo, self._repo.commit_at(oid), name, _revision(rev))

    def read(
        self, name: str, rev: str | None = "HEAD", *, columns: Names | None = None, partitions: bool = False
    ) -> pa.Table:
        """Dataset ``name`` as of ``rev``, as a pyarrow.Table (call .to_pandas() for pandas): the
        rows its files hold. ``columns`` picks columns (a list, or one name), in that order, and
        only they are decoded (as with ``pyarrow.parquet.read_table(columns=...)``; ``[]`` keeps
        the row count). With ``partitions``, a folder's hive partition values (``year=2024/``)
        are added as columns, as ``pyarrow.dataset(..., partitioning="hive")`` gives them."""
        from datakeep.restore import read_manifest

        manifest = self.manifest(name, rev)
        picked = None if columns is None else list(arguments.names(columns, "columns"))
        return read_manifest(self._repo.store, manifest, columns=picked, partitions=partitions)

    def validate(
        self,
        name: str,
        rev: str | None = "HEAD",
        *,
        entity: str | None = None,
        source: str | None = None,
        max_samples: int = 5,
    ) -> Any:
        """Validate dataset ``name`` as of ``rev`` against the schemas as they are now: through
        the source (or against the entity) it was committed with, unless ``entity`` or ``source``
        names another. For re-checking history after a schema or mapping changed. Returns the
        `ValidationReport`, labelled ``REV:NAME``."""
        import tempfile

        import pyarrow.parquet as pq

        from datakeep.restore import read_manifest
        from datakeep.validate import validate_file

        manifest = self.manifest(name, rev)
        if entity is None and source is None:
            entity, source = manifest.entity, manifest.source
        label = f"{_revision(rev)}:{name}"
        if entity is None and source is None:
            raise UsageError(
                f"{label} was committed with no entity or source, so no schema says what it should be",
                "name one: --entity E or --source S",
            )
        with tempfile.TemporaryDirectory(prefix="datakeep-validate-") as tmp:
            path = Path(tmp) / "data.parquet"
            pq.write_table(read_manifest(self._repo.store, manifest), path)
            return validate_file(
                path, entity=entity, source=source, root=self._repo.root, max_samples=max_samples, label=label
            )

    # -- restoring -------------------------------------------------------------------------
    def checkout(
        self,
        rev: str | None = "HEAD",
        *,
        name: str | None = None,
        output: str | os.PathLike[str] | None = None,
        force: bool = False,
    ) -> CheckoutResult | Path:
        """Restore ``rev``: one dataset to ``output``, or the tracked paths (moving HEAD). A branch
        wins over a tag of the same name, with or without ``output``, as in git."""
        from datakeep.checkout import checkout, restore_to
        from datakeep.revisions import split_dataset

        rev = _revision(rev)
        if output is not None:
            rev, inline = split_dataset(rev)
            dataset = name or inline
            if not dataset:
                raise DatasetError("-o needs a dataset", "name it with --name NAME or REV:NAME")
            return restore_to(self._repo, rev, dataset, output, force=force)
        return checkout(self._repo, rev, name=name, force=force)

    def merge(
        self,
        rev: str,
        *,
        message: str | None = None,
        author: str | None = None,
        ours: Names = (),
        theirs: Names = (),
    ) -> MergeResult:
        """Merge the commit ``rev`` names into HEAD, dataset by dataset (`datakeep.merge`):
        fast-forward when HEAD is behind it, else a merge commit; ``ours``/``theirs`` settle the
        datasets both sides changed."""
        from datakeep.merge import merge

        return merge(
            self._repo,
            _revision(rev),
            message=message,
            author=author,
            ours=arguments.names(ours, "ours"),
            theirs=arguments.names(theirs, "theirs"),
        )

    def switch(self, branch: str, *, force: bool = False) -> CheckoutResult:
        """Put HEAD on ``branch`` and restore its datasets."""
        from datakeep.checkout import checkout

        if self._repo.refs.get(f"{HEADS}/{branch}") is None:
            raise DatasetError(f"no branch named '{branch}'", f"create it with `datakeep branch {branch}`")
        return checkout(self._repo, branch, force=force)

    # -- names -----------------------------------------------------------------------------
    def tag(self, name: str, rev: str | None = "HEAD", *, force: bool = False) -> ObjectId:
        from datakeep.naming import create_ref

        return create_ref(self._repo, TAGS, name, _revision(rev), force=force)

    def branch(self, name: str, rev: str | None = "HEAD", *, force: bool = False) -> ObjectId:
        """Start branch ``name`` at ``rev``; with ``force`` move it. Moving the branch HEAD is on
        moves the working tree too (`move_current_branch`)."""
        from datakeep.naming import create_ref

        if force and name == self.current_branch() and name in self.branches():
            return self.move_current_branch(rev).commit
        return create_ref(self._repo, HEADS, name, _revision(rev), force=force)

    def move_current_branch(self, rev: str | None = "HEAD") -> CheckoutResult:
        """Move the branch HEAD is on to ``rev`` and restore its datasets, as git's `reset --keep`:
        refused over uncommitted changes. ``left_behind`` names the old tip if nothing else holds it."""
        from datakeep.checkout import move_current_branch

        branch = self.current_branch()
        if branch is None:
            raise UsageError(
                "HEAD is on no branch (detached)", "`datakeep switch BRANCH` first, or `datakeep checkout REV`"
            )
        return move_current_branch(self._repo, branch, _revision(rev))

    def delete_tag(self, name: str) -> ObjectId | None:
        from datakeep.naming import delete_ref

        return delete_ref(self._repo, TAGS, name)

    def delete_branch(self, name: str, *, force: bool = False) -> ObjectId | None:
        """Delete branch ``name``; refused, unless ``force``, when no other ref holds its commits.
        Returns the commit it named; None when its file was damaged (deleting it is a repair)."""
        from datakeep.naming import delete_ref

        return delete_ref(self._repo, HEADS, name, force=force)

    def tags(self) -> dict[str, ObjectId]:
        self._repo.check_exists()  # a vanished store would list no refs, as if it had none
        return self._repo.refs.list(TAGS)

    def branches(self) -> dict[str, ObjectId]:
        self._repo.check_exists()
        return self._repo.refs.list(HEADS)

    def labels(self) -> dict[ObjectId, list[str]]:
        """Names of branches and tags (``tag: NAME``) by the commit they point at, as `log`
        shows them; a damaged ref is left out, so the history can still be read to repair it."""
        self._repo.check_exists()
        labels: dict[ObjectId, list[str]] = {}
        for name, oid in self._repo.refs.list(HEADS, skip_damaged=True).items():
            labels.setdefault(oid, []).append(name)
        for name, oid in self._repo.refs.list(TAGS, skip_damaged=True).items():
            labels.setdefault(oid, []).append(f"tag: {name}")
        return labels

    def current_branch(self) -> str | None:
        self._repo.check_exists()
        return self._repo.refs.head_target()[0]

    # -- remotes (a folder, or any fsspec URL: s3://, gs://, az://) ----------------------
    def add_remote(self, name: str, url: str) -> str:
        """Remember ``url`` as remote ``name`` (`datakeep remote add`); returns the URL as stored."""
        from datakeep.remote import add_remote

        return add_remote(self._repo, name, url)

    def remove_remote(self, name: str) -> str:
        """Forget remote ``name`` and its tracking refs (`datakeep remote remove`); returns its URL."""
        from datakeep.remote import remove_remote

        return remove_remote(self._repo, name)

    def remotes(self) -> dict[str, str]:
        """Each remote's name and URL (`datakeep remote list`)."""
        from datakeep.remote import list_remotes

        return list_remotes(self._repo)

    def push(
        self,
        remote: str | None = None,
        revs: Names = (),
        *,
        all_refs: bool = False,
        force: bool = False,
        delete: bool = False,
        progress: ProgressCallback | None = None,
    ) -> PushResult:
        """Send commits and the objects they need to ``remote`` (a name or URL; default origin,
        or the only one) and move its refs (`datakeep push`): ``revs`` (default the current
        branch), or every branch and tag with ``all_refs`` (``--all``); ``force`` lets a ref
        drop commits the remote has. With ``delete`` (``--delete``; or a rev spelt ``":NAME"``),
        deletes the branches or tags ``revs`` names on the remote instead, and their
        remote-tracking refs here (``result.deleted``); ``force`` then lets the branch the
        remote's HEAD names go too."""
        from datakeep.remote import push

        return push(
            self._repo,
            remote,
            arguments.names(revs, "revs"),
            all_refs=all_refs,
            force=force,
            delete=delete,
            progress=progress,
        )

    def pull(
        self,
        remote: str | None = None,
        rev: str | None = None,
        *,
        name: str | None = None,
        checkout: bool = True,
        progress: ProgressCallback | None = None,
    ) -> FetchResult:
        """Fetch ``rev`` (a remote branch or tag; default the current branch) from ``remote`` and
        fast-forward the local branch of that name (`datakeep pull`); the working tree follows
        when HEAD is on it, unless ``checkout=False`` (``--no-checkout``). With ``name``, only
        that dataset's data is fetched (the rest on demand)."""
        from datakeep.remote import pull

        return pull(self._repo, remote, rev, name=name, restore=checkout, progress=progress)

    @classmethod
    def clone(
        cls,
        url: str,
        directory: str | os.PathLike[str] | None = None,
        *,
        name: str | None = None,
        branch: str | None = None,
        checkout: bool = True,
        progress: ProgressCallback | None = None,
    ) -> Repo:
        """A new repository at ``directory`` (default: the URL's last part) from the remote at
        ``url``, remembered as ``origin`` (`datakeep clone`): ``branch`` (a branch or tag; default
        the remote's HEAD) checked out unless ``checkout=False``; with ``name``, a partial clone
        holding only that dataset's data (the rest is fetched on demand)."""
        from datakeep.remote import clone

        repository, _ = clone(url, directory, name=name, branch=branch, checkout=checkout, progress=progress)
        return cls(repository)

    def ls_files(self, spec: str, *, remote: str | None = None) -> list[ListedObject]:
        """The Parquet objects holding ``REV:NAME``'s rows, in order (`datakeep ls-files`): local
        paths, or their URLs on ``remote``, for DuckDB, Spark or Dask to read directly."""
        from datakeep.remote import ls_files

        return ls_files(self._repo, spec, remote=remote)

    # -- maintenance -----------------------------------------------------------------------
    def gc(self, *, dry_run: bool = False) -> GcResult:
        from datakeep.maintenance import gc

        return gc(self._repo, dry_run=dry_run)

    def fsck(self, *, full: bool = False) -> FsckResult:
        from datakeep.maintenance import fsck

        self._repo.check_exists()  # else a vanished store checks as a healthy empty one
        return fsck(self._repo, full=full)

    def repair(self, remote: str | None = None, *, full: bool = False) -> RepairResult:
        """`fsck`, then every damaged or missing object replaced by a verified copy from
        ``remote`` (default: the only one, or ``origin``), then `fsck` again (``.check``)."""
        from datakeep.remote.repair import repair

        self._repo.check_exists()
        return repair(self._repo, remote, full=full)

    def diff(self, a: str | None = None, b: str | None = None, **options: Any) -> Any:
        """What changed between two versions (see `datakeep.diff`). ``a`` alone may be a range, as
        git reads them: ``A..B`` is A against B, ``A...B`` is B against the nearest commit both
        histories hold (a side left out is HEAD; no ref name holds '..').

        Options are the CLI's flags: ``key``, ``name``, ``fail_on`` (a list, or one string),
        ``tolerance`` ({column: number}, or ``"COL=NUMBER"`` strings), ``rename`` ({old: new}, or
        ``"OLD=NEW"`` strings), ``sample`` (an int), ``stat``, ``allow_duplicate_keys``."""
        from datakeep.diff import diff

        self._repo.check_exists()
        if a is not None and b is None and ".." in a:
            a, b = self._range(a)
        elif a is not None and b is None and not options.get("name") and self._only_a_dataset(a):
            # `diff flights`, as `git diff PATH`: that dataset's working copy against HEAD.
            a, options["name"] = None, [a]
        return diff(self._repo, a, b, **options)

    def _only_a_dataset(self, text: str) -> bool:
        """Whether ``text`` names a tracked dataset and no revision (a tag or branch of the same
        name wins, as a revision does in git)."""
        from datakeep.errors import RevisionError
        from datakeep.revisions import resolve

        if text not in self._repo.load_index().datasets:
            return False
        try:
            resolve(self._repo, text)
        except RevisionError:
            return True
        return False

    def _range(self, text: str) -> tuple[str, str]:
        symmetric = "..." in text
        a, b = (part or "HEAD" for part in text.split("..." if symmetric else "..", 1))
        if not symmetric:
            return a, b
        base = self.merge_base(a, b)
        if base is None:
            raise UsageError(f"{a} and {b} share no commit, so '{text}' has no start", f"compare them: {a} {b}")
        return base, b


def _revision(rev: str | None) -> str:
    """``rev`` as the revision functions take it: None is HEAD, as ``log`` reads it."""
    if rev is None:
        return "HEAD"
    if not isinstance(rev, str):
        raise UsageError(f"a revision is a string (an id, tag, branch or HEAD~N), not {rev!r}", "e.g. rev='v1'")
    return rev
