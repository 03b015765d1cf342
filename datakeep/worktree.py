"""Tracking datasets in the working tree: add, rm, status."""

from __future__ import annotations

import collections
import dataclasses
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from datakeep.errors import DatakeepError, DatasetError, InputDataError, UnreadableFolderError, UsageError
from datakeep.ids import ObjectId
from datakeep.records.commit import Commit
from datakeep.records.index import Index, TrackedDataset
from datakeep.repo import DIRNAME, Repository
from datakeep.tracking import (
    EMPTY,
    MISSING,
    NAMES_ACCEPTED,
    cached_snapshot_id,
    dataset_files,
    default_name,
    located,
)

#: Letters and digits of any script (a file `données.parquet` gives the name `données`), then
#: also '.', '_' and '-'; never a path separator.
_NAME_RE = re.compile(r"[^\W_][\w.-]*")


def check_dataset_name(name: str) -> str:
    """``name`` in NFC, so a name typed with a composed or a decomposed accent is one name."""
    name = unicodedata.normalize("NFC", name)
    if not _NAME_RE.fullmatch(name) or ".." in name:
        raise DatasetError(
            f"'{name}' is not a valid dataset name",
            "use letters, digits, '.', '_' and '-' (no '/', no '..'), e.g. --name flights",
        )
    return name


def add(
    repo: Repository,
    path: str,
    *,
    name: str | None = None,
    key: tuple[str, ...] = (),
    entity: str | None = None,
    source: str | None = None,
) -> tuple[str, TrackedDataset]:
    """Track ``path`` (a Parquet file or folder) as dataset ``name`` (default: the file stem)."""
    return add_all(repo, [path], name=name, key=key, entity=entity, source=source)[0]


def add_all(
    repo: Repository,
    paths: Sequence[str],
    *,
    name: str | None = None,
    key: tuple[str, ...] = (),
    entity: str | None = None,
    source: str | None = None,
) -> list[tuple[str, TrackedDataset]]:
    """Track each of ``paths`` as a dataset named after its file or folder (``name`` only for a
    single path), all or none: every path is checked before the index changes, in one update."""
    if name is not None and len(paths) > 1:
        raise UsageError(
            f"--name names one dataset, and {len(paths)} paths were given",
            "leave --name out to name each after its file, or add the paths one by one" + _key_hint(key),
        )
    added = [_checked(repo, path, name, key, entity, source) for path in paths]
    twice = sorted(n for n, times in collections.Counter(name for name, _ in added).items() if times > 1)
    if twice:
        raise DatasetError(
            f"two paths would both be dataset '{twice[0]}'",
            "add them one by one with --name, or rename one of the files",
        )
    with repo.locked():
        index = repo.load_index()
        for dataset_name, tracked in added:
            for other, existing in index.datasets.items():
                if other != dataset_name and existing.path == tracked.path:
                    raise DatasetError(
                        f"{tracked.path} is already tracked as dataset '{other}'",
                        f"use --name {other}, or `datakeep rm {other}` first",
                    )
        for dataset_name, tracked in added:
            index.datasets[dataset_name] = tracked
            index.removed.discard(dataset_name)
        index.save()
    return added


def _key_hint(key: tuple[str, ...]) -> str:
    """With a key given, a word on `--key a b`: click takes ``b`` for one more path."""
    if not key:
        return ""
    return "; --key takes one column: repeat it (--key a --key b) or comma-separate them (--key a,b)"


def _checked(
    repo: Repository, path: str, name: str | None, key: tuple[str, ...], entity: str | None, source: str | None
) -> tuple[str, TrackedDataset]:
    """The dataset ``path`` would be, once it is known to be trackable as that."""
    absolute = Path(path).absolute()
    relpath = repo.relpath(absolute)
    if relpath == ".":
        raise DatasetError(
            f"cannot track {path}: it is the whole repository, its store included",
            "name a Parquet file, or a folder of Parquet files inside it",
        )
    if relpath == DIRNAME or relpath.startswith(f"{DIRNAME}/"):
        raise DatasetError(f"cannot track {path}: it is inside the store ({DIRNAME}/)", "name your own data")
    dataset_name = check_dataset_name(name if name is not None else default_name(absolute))
    tracked = TrackedDataset(path=relpath, key=tuple(key), entity=entity, source=source)
    if not absolute.exists():
        raise DatasetError(
            f"{path} does not exist", "check the path; it is relative to the current folder" + _key_hint(key)
        )
    declared: tuple[tuple[str, ...], ...] = ()
    if source is not None or entity is not None:
        # A misspelt or missing source is refused now, not at the first commit; the entity stays
        # unrecorded when not given, so commit follows whatever entity the mapping names then.
        declared = _declared_key(repo.root, entity, source)
    from datakeep.parquet_io import open_parquet
    from datakeep.unify import union_schema

    found = located(repo.root, tracked)
    if found[0] == EMPTY:
        raise DatasetError(
            f"folder {relpath} holds no Parquet files ({NAMES_ACCEPTED})",
            "put Parquet files in it, or track a file instead",
        )
    _, files = dataset_files(repo.root, tracked, dataset_name, found)
    schemas = []
    for inner, file in files:
        schema = open_parquet(file).schema_arrow
        missing = [k for k in key if k not in schema.names]
        if missing:
            raise DatasetError(
                f"{file}: key column(s) {', '.join(missing)} not found (columns: {', '.join(schema.names)})",
                "pass existing column names to --key",
            )
        schemas.append((inner, schema))
    # Files of one folder may differ in columns (the dataset has their union), not in how they
    # type one column: refused now rather than at the first commit.
    union_schema(schemas, f"dataset '{dataset_name}'")
    # Per key column, the raw name every file holds (a mapping may rename several onto it).
    chosen = [next((raw for raw in names if all(raw in s.names for _, s in schemas)), None) for names in declared]
    if not key and declared and all(chosen):
        # The schema names the key: without it every later diff matched whole rows, a changed
        # row showing as one removed and one added.
        tracked = dataclasses.replace(tracked, key=tuple(raw for raw in chosen if raw))
    return dataset_name, tracked


def _declared_key(root: Path, entity: str | None, source: str | None) -> tuple[tuple[str, ...], ...]:
    """The key the entity's schema declares, each column as the raw columns that may feed it
    when the data arrives through ``source`` (loading them also refuses a misspelt entity or
    source)."""
    from datakeep.schemas import load_entity, load_source

    if source is None:
        assert entity is not None
        return tuple((column,) for column in load_entity(root, entity).key)
    loaded, mapping = load_source(root, source, load_entity(root, entity) if entity else None)
    return tuple(mapping.sources_of(column) or (column,) for column in loaded.key)


def rm(repo: Repository, name: str) -> None:
    """Stop tracking ``name``: the next commit leaves it out (its history stays)."""
    with repo.locked():
        index = repo.load_index()
        head = repo.head()
        at_head = repo.commit_at(head).datasets if head else {}
        if name not in index.datasets and name not in index.elsewhere(at_head):
            raise DatasetError(f"no tracked dataset named '{name}'", "`datakeep status` lists tracked datasets")
        index.datasets.pop(name, None)
        if name in at_head:
            index.removed.add(name)
        index.save()


@dataclass(frozen=True, slots=True, kw_only=True)
class DatasetStatus:
    name: str
    path: str
    state: str  # unchanged | modified | new | missing | removed | elsewhere
    head: str | None  # snapshot id at HEAD
    working: str | None  # snapshot id of the working copy
    #: Why, when the state alone does not say: "no Parquet files" for a folder left empty.
    note: str = ""

    def to_dict(self) -> dict[str, str | None]:
        out = {
            "name": self.name,
            "path": self.path,
            "state": self.state,
            "head": self.head,
            "working": self.working,
        }
        if self.note:
            out["note"] = self.note  # only then: the documented keys stay the whole answer otherwise
        return out


def status(repo: Repository, index: Index | None = None, head_commit: Commit | None = None) -> list[DatasetStatus]:
    """Each tracked dataset against HEAD; files whose stat is cached are not read."""
    index = index or repo.load_index()
    if head_commit is None:
        head = repo.head()
        head_commit = repo.commit_at(head) if head else None
    head_sets = head_commit.datasets if head_commit else {}
    out: list[DatasetStatus] = []
    for name, tracked in sorted(index.datasets.items()):
        at_head = head_sets.get(name)
        head_id = at_head.snapshot if at_head else None
        try:
            found = located(repo.root, tracked)
        except UnreadableFolderError as exc:
            out.append(_unreadable(name, tracked, head_id, f"{exc.message}; {exc.hint}"))
            continue
        if found[0] in (MISSING, EMPTY):
            # A folder whose part files were all deleted is as gone as a deleted folder; saying so
            # for this dataset alone keeps the others' status readable.
            out.append(
                DatasetStatus(
                    name=name,
                    path=tracked.path,
                    state="missing",
                    head=head_id,
                    working=None,
                    note="no Parquet files" if found[0] == EMPTY else "",
                )
            )
            continue
        working = cached_snapshot_id(repo.root, name, tracked, index, found)
        note = ""
        if working is None:  # some file changed on disk: hash it (this is where pyarrow loads)
            from datakeep.snapshot import working_snapshot_id

            try:
                working = working_snapshot_id(repo, name, tracked, index, found)
            except InputDataError as exc:
                # A file cut short or damaged is this dataset's state, not the end of everyone's.
                note = f"unreadable: {exc.message}"
                if head_id is not None:
                    note += f"; `datakeep checkout HEAD --name {name} --force` restores the committed version"
            except OSError as exc:
                if not _inside(repo.root / tracked.path, exc.filename):
                    raise
                # A file it may not read (another user's, umask 077): its data may be sound, so
                # the advice is access, never a checkout that would overwrite it.
                note = f"unreadable: {exc.filename}: {exc.strerror}; give read access to it and run status again"
        state = "new" if head_id is None else "unchanged" if working == head_id else "modified"
        if state == "unchanged" and at_head is not None and not index.defined_as(name, at_head.manifest):
            redefined = _redefined(repo, tracked, at_head.manifest)
            if redefined:
                state, note = "modified", redefined
            elif repo.store.has(at_head.manifest):
                index.remember_defined(name, at_head.manifest)
        out.append(DatasetStatus(name=name, path=tracked.path, state=state, head=head_id, working=working, note=note))
    elsewhere = index.elsewhere(head_sets)
    for name, ref in sorted(head_sets.items()):
        if name not in index.datasets:
            state = "elsewhere" if name in elsewhere else "removed"
            # Where it was, for one `rm` stopped tracking (its manifest is here; a partial
            # clone's other datasets may have none).
            path = repo.manifest_at(ref.manifest).path if state == "removed" and repo.store.has(ref.manifest) else ""
            out.append(DatasetStatus(name=name, path=path, state=state, head=ref.snapshot, working=None))
    if index.dirty:
        _save_refreshed(repo, index)
    return out


def _unreadable(name: str, tracked: TrackedDataset, head_id: str | None, why: str) -> DatasetStatus:
    """The status of a dataset whose data cannot be read now: changed, as far as anyone can tell."""
    state = "new" if head_id is None else "modified"
    return DatasetStatus(
        name=name, path=tracked.path, state=state, head=head_id, working=None, note=f"unreadable: {why}"
    )


def _inside(path: Path, filename: object) -> bool:
    """Whether the file an OSError names is ``path`` or lies inside it (a dataset's own file)."""
    if not isinstance(filename, (str, Path)):
        return False
    failed = Path(filename).absolute()
    return failed == path.absolute() or path.absolute() in failed.parents


#: How a status note begins for a dataset tracked otherwise than HEAD holds it.
REDEFINED = "redefined:"


def _redefined(repo: Repository, tracked: TrackedDataset, manifest_oid: ObjectId) -> str:
    """What differs between how a dataset is tracked now and how HEAD holds it (another key,
    path, entity or source, which the next commit records), or "" when nothing does. A partial
    clone's manifest not fetched yet is not fetched for this: nothing is said then."""
    if not repo.store.has(manifest_oid):  # `has` answers from local objects only
        return ""
    try:
        # The manifest's own fields, without the file list (a large folder's pages are not read).
        held = repo.get_document(manifest_oid)
    except DatakeepError:
        return ""  # damaged: fsck says so, status need not
    held_key = tuple(held.get("key") or ())
    changes = []
    if held_key != tuple(tracked.key):
        changes.append(f"key {','.join(held_key) or '(none)'} → {','.join(tracked.key) or '(none)'}")
    if held.get("path") != tracked.path:
        changes.append(f"path {held.get('path')} → {tracked.path}")
    for what in ("entity", "source"):
        if held.get(what) != getattr(tracked, what):
            changes.append(f"{what} {held.get(what) or '(none)'} → {getattr(tracked, what) or '(none)'}")
    return f"{REDEFINED} " + ", ".join(changes) if changes else ""


def _save_refreshed(repo: Repository, index: Index) -> None:
    """Keep what status learnt (racy entries confirmed, touched files' new stats, definitions
    found equal to HEAD's) when nobody else
    holds the lock; a status never waits for, or fails because of, a commit running beside it.
    Only entries a commit did not replace meanwhile are updated."""
    from datakeep.errors import LockedError

    try:
        with repo.locked(timeout=0):
            current = repo.load_index()
            for relpath, cached in index.files.items():
                mine = current.files.get(relpath)
                if mine is not None and mine.entry == cached.entry:
                    current.files[relpath] = cached
            for name, found in index.defined.items():
                # Checked against the definition it was found for: one changed meanwhile does not match.
                current.defined.setdefault(name, found)
            current.save()
    except (LockedError, OSError):
        # Busy, or a repository this user may not write (a read-only mount, another user's):
        # the cache is not saved, the next status reads those files again. Never its answer lost.
        pass
