"""The working-tree index (`.datakeep/index.json`): what is tracked, and a stat cache.

Like git's index, the stat cache remembers each data file's (size, mtime_ns, inode, ctime_ns) with the
file entry it hashed to, so `status` and `commit` do not read a file that has not changed.
A file modified within ``RACY_NS`` of being recorded is not trusted (git's "racy" rule): its mtime
could still equal the cached one after a second write in the same clock tick.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datakeep.errors import IndexDamagedError
from datakeep.fsutil import Signature, atomic_write
from datakeep.serialize import canonical_json, load_json

FORMAT = "datakeep.index"
VERSION = 1
RACY_NS = 50_000_000


@dataclass(slots=True, kw_only=True)
class TrackedDataset:
    path: str  # relative to the repository root, posix
    key: tuple[str, ...] = ()
    entity: str | None = None
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "key": list(self.key),
            "entity": self.entity,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrackedDataset:
        return cls(
            path=data["path"],
            key=tuple(data.get("key") or ()),
            entity=data.get("entity"),
            source=data.get("source"),
        )


@dataclass(slots=True, kw_only=True)
class CachedFile:
    signature: Signature
    recorded_ns: int
    entry: dict[str, Any]  # a FileEntry document


@dataclass(slots=True, kw_only=True)
class Index:
    path: Path
    datasets: dict[str, TrackedDataset] = field(default_factory=dict)
    files: dict[str, CachedFile] = field(default_factory=dict)
    #: Datasets `rm` stopped tracking since the last commit: the next commit leaves them out. A
    #: dataset at HEAD that is neither tracked nor here is *elsewhere* (a partial clone's other
    #: datasets, never checked out): commits carry it on unchanged.
    removed: set[str] = field(default_factory=set)
    #: Per dataset, a manifest whose definition (path, key, entity, source) was found equal to
    #: the tracked one, with that tracked definition: `status` then need not load the manifest,
    #: which lists every part file of a folder with its statistics (5,000 files: 100 MB and 1.7 s).
    defined: dict[str, dict[str, Any]] = field(default_factory=dict)
    dirty: bool = False  # entries were confirmed and are worth saving
    #: No index was found (never written, lost, or emptied by a crash): the repository tracks
    #: HEAD's datasets again from their manifests (`Repository.load_index`).
    lost: bool = False

    @classmethod
    def load(cls, path: Path) -> Index:
        # The index is a cache plus the tracked list; HEAD's manifests hold the tracked list as
        # of the last commit, so a lost or damaged one costs re-reads, never data.
        damaged = IndexDamagedError(str(path))
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return cls(path=path, lost=True)
        if not raw.strip():  # written without fsync: a crash may leave it empty
            return cls(path=path, lost=True)
        try:
            data = load_json(raw)
        except ValueError:
            raise damaged from None
        try:  # JSON of another shape (a list, a field of the wrong type) is as damaged
            return cls(
                path=path,
                datasets={n: TrackedDataset.from_dict(d) for n, d in data.get("datasets", {}).items()},
                files={
                    # Entries written before statistics left the index still hold them: dropped here,
                    # so the next save writes the lean form (see `remember`).
                    p: CachedFile(signature=tuple(f["sig"]), recorded_ns=f["at"], entry=_lean(f["entry"]))
                    for p, f in data.get("files", {}).items()
                },
                removed=set(data.get("removed", ())),
                defined={n: dict(d) for n, d in data.get("defined", {}).items()},
            )
        except (AttributeError, KeyError, TypeError, ValueError):
            raise damaged from None

    def save(self) -> None:
        document = {
            "format": FORMAT,
            "version": VERSION,
            "datasets": {n: d.to_dict() for n, d in sorted(self.datasets.items())},
            "removed": sorted(self.removed),
            "defined": {n: d for n, d in sorted(self.defined.items()) if n in self.datasets},
            "files": {
                p: {"sig": list(f.signature), "at": f.recorded_ns, "entry": f.entry}
                for p, f in sorted(self.files.items())
            },
        }
        atomic_write(self.path, canonical_json(document), durable=False)

    def defined_as(self, name: str, manifest: str) -> bool:
        """Whether ``manifest`` was found to define dataset ``name`` as it is tracked now."""
        found = self.defined.get(name)
        tracked = self.datasets.get(name)
        return bool(found and tracked and found.get("manifest") == manifest and found.get("as") == tracked.to_dict())

    def remember_defined(self, name: str, manifest: str) -> None:
        self.defined[name] = {"manifest": manifest, "as": self.datasets[name].to_dict()}
        self.dirty = True

    def elsewhere(self, at_head: Iterable[str]) -> set[str]:
        """The datasets of ``at_head`` (HEAD's) this working tree neither tracks nor removed."""
        return set(at_head) - set(self.datasets) - self.removed

    def lookup(self, relpath: str, signature: Signature) -> dict[str, Any] | None:
        cached = self.files.get(relpath)
        if cached is None or cached.signature != signature:
            return None
        if signature[1] + RACY_NS >= cached.recorded_ns:
            return None
        return cached.entry

    def racy(self, relpath: str, signature: Signature) -> dict[str, Any] | None:
        """The entry whose stat matches but which was recorded too soon after the file's last
        write to be trusted; re-hash the file and, if it still matches, ``confirm`` it."""
        cached = self.files.get(relpath)
        if cached is None or cached.signature != signature or signature[1] + RACY_NS < cached.recorded_ns:
            return None
        return cached.entry

    def confirm(self, relpath: str, recorded_ns: int) -> None:
        """The file was re-hashed at ``recorded_ns`` (taken before reading it) and still matches:
        trust the entry from now on, as git refreshes racily clean index entries."""
        cached = self.files[relpath]
        self.files[relpath] = CachedFile(signature=cached.signature, recorded_ns=recorded_ns, entry=cached.entry)
        self.dirty = True

    def refresh(self, relpath: str, signature: Signature, file_id: str, schema: str, recorded_ns: int) -> None:
        """The file's stat changed (touched, copied, checked out by git) but it was re-hashed at
        ``recorded_ns`` and holds what its entry describes (same content id and schema): trust
        the new stat, as `git status` refreshes its index, so the next status does not read it."""
        cached = self.files.get(relpath)
        if cached is None or cached.entry.get("id") != file_id or cached.entry.get("schema") != schema:
            return
        self.files[relpath] = CachedFile(signature=signature, recorded_ns=recorded_ns, entry=cached.entry)
        self.dirty = True

    def remember(
        self,
        relpath: str,
        signature: Signature,
        entry: dict[str, Any],
        recorded_ns: int | None = None,
    ) -> None:
        """Cache ``entry`` (a FileEntry document) for the file at ``relpath`` with this stat. Its
        statistics are left out: they were most of the index (6 KB a file on an 8-column table,
        parsed by every `status`), and a commit takes an unchanged file's from its parent's
        manifest instead (`snapshot._cached_entry`)."""
        self.files[relpath] = CachedFile(
            signature=signature, recorded_ns=recorded_ns or time.time_ns(), entry=_lean(entry)
        )

    def forget_under(self, relpath: str) -> None:
        prefix = relpath.rstrip("/") + "/"
        for key in [k for k in self.files if k == relpath or k.startswith(prefix)]:
            del self.files[key]


def _lean(entry: dict[str, Any]) -> dict[str, Any]:
    """A cached file entry without its statistics."""
    return {k: v for k, v in entry.items() if k != "stats"} if "stats" in entry else entry
