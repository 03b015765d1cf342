"""A repository: the `.datakeep/` folder found from the working directory, composed of an
object store, refs, config and the working-tree index."""

from __future__ import annotations

import contextlib
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datakeep.digest import ENCODINGS, NEWEST_ENCODING
from datakeep.errors import (
    CorruptObjectError,
    DatakeepError,
    NotARepositoryError,
    RepositoryExistsError,
    UsageError,
)
from datakeep.fsutil import FileLock, atomic_write, seconds_from_env, sync_files
from datakeep.ids import ObjectId
from datakeep.records.commit import Commit
from datakeep.records.config import Config
from datakeep.records.manifest import Manifest, PageRef
from datakeep.records.pages import held_pages, page_document, paged, read_manifest, split
from datakeep.records.refs import DEFAULT_BRANCH, HEADS, TAGS, Refs
from datakeep.serialize import canonical_json, compressed_json, load_json
from datakeep.store.local import LocalStore

if TYPE_CHECKING:
    from datakeep.records.index import Index, TrackedDataset

DIRNAME = ".datakeep"
#: Seconds a command waits for the repository lock (``DATAKEEP_LOCK_TIMEOUT``, default 10).
DEFAULT_LOCK_TIMEOUT = 10.0


def lock_timeout() -> float:
    """``DATAKEEP_LOCK_TIMEOUT``, read when a lock is taken."""
    return seconds_from_env("DATAKEEP_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT)


def half_made(folder: Path) -> bool:
    """Whether ``folder`` holds a `.datakeep` an `init` or `clone` was stopped while making:
    no config.json (`Repository.initialize` writes it last), and no object or ref (nothing was
    ever stored in it, so removing it loses nothing)."""
    dk = folder / DIRNAME
    if not dk.is_dir() or (dk / "config.json").exists():
        return False
    return not any(files for sub in ("objects", "refs") for _, _, files in os.walk(dk / sub))


class Repository:
    """The storage side of a repository. Operations live in their own modules; `datakeep.Repo`
    (in ``api``) is the user-facing facade."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.dk = self.root / DIRNAME
        self.refs = Refs(self.dk)
        self._config: Config | None = None
        self._config_stamp: tuple[int, int, int] | None = None
        # A str, stat'ed on every `config` and `store` access (fsck of 1,000 commits makes 20,000):
        # a pathlib join each time cost a fifth of its run.
        self._config_file = os.path.join(self.dk, "config.json")
        self._store: LocalStore | None = None
        self._root_text = str(self.root)
        # With one trailing separator; on a system whose paths are not posix text, pathlib answers.
        self._root_prefix = os.path.join(self._root_text, "") if os.sep == "/" else None

    @property
    def store(self) -> LocalStore:
        """The object store; in a partial clone (``config.extra["partial"]`` names a remote) it
        fetches objects promised by that remote on first read (see ``datakeep.store.fallback``)."""
        try:
            config: Config | None = self.config  # read again if the file changed
        except NotARepositoryError:
            config = None
        if self._store is None:
            # Objects skip the per-file fsync; commit syncs them all in one pass before moving a ref.
            objects = self.dk / "objects"
            partial = config.extra.get("partial") if config is not None else None
            url = config.remotes.get(partial) if config is not None and isinstance(partial, str) else None
            if url:
                from datakeep.store.fallback import FallbackStore

                self._store = FallbackStore(objects, remote_name=str(partial), remote_url=url, durable=False)
            else:
                self._store = LocalStore(objects, durable=False)
        return self._store

    # -- discovery ------------------------------------------------------------------------
    @classmethod
    def discover(cls, start: str | os.PathLike[str] = ".") -> Repository:
        here = Path(start).resolve()
        for folder in (here, *here.parents):
            if (folder / DIRNAME / "config.json").is_file():
                return cls(folder)
            if half_made(folder):
                # Walking on up would answer from another repository, or say "run init" to a
                # user whose clone was killed, which would not finish it.
                raise NotARepositoryError(str(folder), unfinished=True)
        raise NotARepositoryError(str(here))

    @classmethod
    def initialize(
        cls, root: str | os.PathLike[str] = ".", *, chunk_bytes: int | None = None, encoding: int | None = None
    ) -> Repository:
        """A new, empty repository at ``root``; ``encoding`` (the canonical encoding of its ids)
        is the newest unless given, as a clone takes its remote's."""
        _check_init_options(chunk_bytes, encoding)
        path = Path(root).resolve()
        if (path / DIRNAME / "config.json").exists():
            raise RepositoryExistsError(str(path / DIRNAME))
        blocking = next((p for p in (path / DIRNAME, path, *path.parents) if p.exists() and not p.is_dir()), None)
        if blocking is not None:
            # Checked before anything is made: mkdir would fail half-way with a bare NotADirectoryError.
            raise UsageError(
                f"cannot make a repository in {path}: {blocking} is a file, not a folder",
                "pass the project folder (or a new folder to create)",
            )
        repo = cls(path)
        for sub in ("objects", HEADS, TAGS):
            (repo.dk / sub).mkdir(parents=True, exist_ok=True)
        # Keeps the whole store out of git without touching the user's own .gitignore.
        atomic_write(repo.dk / ".gitignore", b"# created by datakeep: the data store stays out of git\n*\n")
        atomic_write(repo.dk / "HEAD", f"ref: {HEADS}/{DEFAULT_BRANCH}\n".encode())
        (repo.dk / "lock").touch()
        Config(
            encoding=NEWEST_ENCODING if encoding is None else encoding,
            extra={"chunk_bytes": chunk_bytes} if chunk_bytes else {},
        ).save(repo.dk / "config.json")
        return repo

    # -- parts ----------------------------------------------------------------------------
    @property
    def config(self) -> Config:
        """The repository's configuration as the file holds it now: read again whenever the file
        changed, so a long-lived Repo never writes back (or acts on) a copy another process has
        since changed (a remote added, a pull making the clone partial)."""
        try:
            st = os.stat(self._config_file)
        except FileNotFoundError:
            raise NotARepositoryError(str(self.root), gone=True) from None
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        if self._config is None or stamp != self._config_stamp:
            self._config, self._config_stamp = Config.load(Path(self._config_file)), stamp
            self._store = None  # a partial clone's store depends on it (see `store`)
        return self._config

    def check_exists(self) -> None:
        """NotARepositoryError when ``.datakeep/`` has gone since this repository was opened
        (deleted, or moved away): carrying on would read it as empty, and the next commit would
        write a store without config or HEAD there, which no command can open again."""
        if not (self.dk / "config.json").is_file():
            raise NotARepositoryError(str(self.root), gone=True)

    def save_config(self) -> None:
        self.config.save(self.dk / "config.json")

    def load_index(self) -> Index:
        # Imported here: reading history (log, show, diff of commits) never needs the index.
        from datakeep.records.index import Index

        self.check_exists()
        index = Index.load(self.dk / "index.json")
        if index.lost:
            index.datasets.update(self.tracked_at_head())
        return index

    def tracked_at_head(self) -> dict[str, TrackedDataset]:
        """HEAD's datasets whose path is in the working tree, tracked as HEAD's manifests record
        them (path, key, entity, source): what the index said at the last commit. A lost index
        thus costs a re-read of the files, not the tracking (status had them all "elsewhere",
        commit "nothing to commit", and checkout refused the data at their paths as untracked).
        A dataset whose path is gone, or whose manifest is not here (a partial clone's others),
        stays elsewhere, as in a clone that did not check it out."""
        from datakeep.records.index import TrackedDataset

        head = self.head()
        if head is None:
            return {}
        tracked = {}
        for name, ref in self.commit_at(head).datasets.items():
            if not self.store.has(ref.manifest):  # local objects only: nothing is fetched for this
                continue
            try:
                manifest = self.manifest_at(ref.manifest)
            except DatakeepError:
                continue  # damaged: fsck names it; this dataset stays elsewhere meanwhile
            if os.path.lexists(self.root / manifest.path):
                tracked[name] = TrackedDataset(
                    path=manifest.path, key=tuple(manifest.key), entity=manifest.entity, source=manifest.source
                )
        return tracked

    @contextlib.contextmanager
    def locked(self, timeout: float | None = None) -> Iterator[None]:
        """Hold the repository lock: commits, checkouts, tags and gc never interleave."""
        self.check_exists()  # before the lock file, which would otherwise re-create .datakeep/
        with FileLock(self.dk / "lock", timeout=lock_timeout() if timeout is None else timeout):
            yield

    @contextlib.contextmanager
    def receiving(self, *, gc: bool = False, timeout: float | None = None) -> Iterator[None]:
        """Hold the objects lock: shared while objects no ref names yet are written (a pull, a
        clone), which may take long and must not stop commits; exclusive (``gc``) while gc
        decides what no ref reaches, so it never deletes what a pull is about to name."""
        self.check_exists()
        busy = "the pull or clone receiving objects" if gc else "gc"
        wait = lock_timeout() if timeout is None else timeout
        with FileLock(self.dk / "objects.lock", timeout=wait, shared=not gc, busy=busy):
            yield

    def relpath(self, path: str | os.PathLike[str]) -> str:
        """``path`` (absolute or relative to the cwd) relative to the repository root, posix."""
        # As text: a commit asks this of each file of a folder, and pathlib's parsing and
        # `relative_to` cost 25 us a file (0.5 s at 20,000 files). abspath leaves no ``.``, ``..``
        # or doubled separator, so the text under the root is pathlib's relative path.
        absolute = os.path.abspath(path)
        if self._root_prefix is not None and absolute == self._root_text:
            return "."
        if self._root_prefix is not None and absolute.startswith(self._root_prefix):
            return absolute[len(self._root_prefix) :]
        try:
            return Path(absolute).relative_to(self.root).as_posix()
        except ValueError:
            raise DatakeepError(
                f"{path} is outside the repository at {self.root}",
                "move the data inside the project folder, or run `datakeep init` higher up",
            ) from None

    # -- documents ------------------------------------------------------------------------
    def put_document(self, document: dict[str, Any], *, durable: bool = True, compress: bool = False) -> ObjectId:
        return self.put_document_counted(document, durable=durable, compress=compress)[0]

    def put_document_counted(
        self, document: dict[str, Any], *, durable: bool = True, compress: bool = False
    ) -> tuple[ObjectId, int]:
        """`put_document`, and the bytes it added to the store (0 when the object was there)."""
        data = compressed_json(document) if compress else canonical_json(document)
        oid, new = self.store.put(data)
        if new and durable:
            sync_files([self.store.path(oid)])
        return oid, len(data) if new else 0

    def get_document(self, oid: ObjectId) -> dict[str, Any]:
        data = self.store.get(oid)
        try:
            document = load_json(data)
        except (ValueError, zlib.error):
            raise CorruptObjectError(oid, "not a valid JSON document") from None
        if not isinstance(document, dict):
            raise CorruptObjectError(oid, "not a JSON object")
        return document

    def commit_at(self, oid: ObjectId) -> Commit:
        return Commit.from_dict(self.get_document(oid), oid)

    def manifest_at(self, oid: ObjectId) -> Manifest:
        return read_manifest(self.get_document(oid), oid, lambda page: self.get_document(page.object))

    def put_manifest(self, manifest: Manifest, parent: Manifest | None = None) -> tuple[ObjectId, int]:
        """Store ``manifest`` (a large folder's file list in pages, `records.pages`); returns its
        id and the bytes it added to the store. A page that lists what a page of ``parent``
        lists is that page: neither written nor encoded again."""
        if not paged(manifest.files):
            return self.put_document_counted(manifest.to_dict(), compress=True)
        held = held_pages(parent) if parent is not None else {}
        refs: list[dict[str, Any]] = []
        added, new = 0, []
        for entries in split(manifest.files):
            same = held.get((entries[0].path, len(entries)))
            if same is not None and same[1] == tuple(entries) and self.store.has(same[0].object):
                refs.append(same[0].to_dict())
                continue
            page, written = self.put_document_counted(page_document(entries), durable=False, compress=True)
            refs.append(PageRef(object=page, files=len(entries), rows=sum(e.rows for e in entries)).to_dict())
            added += written
            new.extend([self.store.path(page)] if written else [])
        sync_files(new)  # in one go, before the manifest that names them
        oid, written = self.put_document_counted(manifest.to_dict(pages=refs), compress=True)
        return oid, added + written

    def head(self) -> ObjectId | None:
        return self.refs.head_target()[1]

    def ancestry(self, *starts: ObjectId | None) -> Iterator[tuple[ObjectId, Commit]]:
        """Commits reachable from ``starts``, newest first (first parent, then the others)."""
        seen: set[ObjectId] = set()
        queue = [start for start in starts if start]
        pending: list[tuple[str, ObjectId, Commit]] = []
        while queue or pending:
            for oid in queue:
                if oid not in seen:
                    seen.add(oid)
                    commit = self.commit_at(oid)
                    pending.append((commit.time, oid, commit))
            queue = []
            if not pending:
                break
            pending.sort(key=lambda item: item[0])
            _, oid, commit = pending.pop()
            yield oid, commit
            queue.extend(p for p in commit.parents if p not in seen)


def _check_init_options(chunk_bytes: int | None, encoding: int | None) -> None:
    if encoding is not None and (type(encoding) is not int or encoding not in ENCODINGS):
        known = ", ".join(map(str, ENCODINGS))
        raise UsageError(
            f"unknown canonical encoding {encoding!r} (known: {known})",
            f"leave it out for the newest ({NEWEST_ENCODING}), or pass 1 for the ids older repositories give",
        )
    if chunk_bytes is not None and (type(chunk_bytes) is not int or chunk_bytes <= 0):
        raise UsageError(f"chunk_bytes must be a positive number of bytes, not {chunk_bytes!r}", "e.g. 8_000_000")
