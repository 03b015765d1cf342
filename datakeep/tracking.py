"""Which files make up a tracked dataset, and what the stat cache already knows about them.

Kept free of pyarrow and numpy on purpose: `status` and `commit` of unchanged data answer from
here alone, so they start and finish in a fraction of a second whatever the dataset's size.
"""

from __future__ import annotations

import os
from pathlib import Path

from datakeep.digest import combine
from datakeep.errors import DatasetError, UnreadableFolderError
from datakeep.fsutil import file_signature
from datakeep.records.index import Index, TrackedDataset

#: Name endings of Parquet part files, compared case-insensitively: pandas and pyarrow write
#: ``.parquet``, other tools ``.pq`` or ``.parq``, and Windows tools upper case.
PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
MAGIC = b"PAR1"
#: How error messages name the files a folder dataset is made of.
NAMES_ACCEPTED = "*.parquet, *.pq, *.parq, or Hive part files such as 000000_0"
#: What `located` reports for a path that holds no dataset: it does not exist, or it is a folder
#: with no Parquet file in it (every part file deleted).
MISSING = "missing"
EMPTY = "empty"


def default_name(path: Path) -> str:
    """The dataset name a path gets when none is given: a file's name without its Parquet
    extension (`flights.v2.parquet` is `flights.v2`, not `flights`), a folder's name whole."""
    name = path.name
    lowered = name.lower()
    for suffix in PARQUET_SUFFIXES:
        if lowered.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def starts_with_magic(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` starts with the Parquet magic: how a part file without an extension is told."""
    try:
        with open(path, "rb") as handle:
            return handle.read(4) == MAGIC
    except OSError:
        return False  # unreadable: not something we can track either way


def folder_files(folder: Path) -> list[tuple[str, Path]]:
    """The Parquet files of a dataset folder as (path inside it, absolute path), sorted by path.
    Raises UnreadableFolderError for a folder in it that cannot be listed."""
    # Walked as text: pathlib's joins and `relative_to` took 0.8 s of a 20,000-file folder's commit.
    files = [(inside, Path(absolute)) for inside, absolute in sorted(_part_files(os.fspath(folder), ""))]
    for _, path in files:
        refuse_undecodable_name(path)
    return files


def _part_files(folder: str, inside: str) -> list[tuple[str, str]]:
    """(path inside the dataset, absolute path) of each Parquet file under ``folder``, which is
    at ``inside`` in the dataset ("" for the dataset's folder, else ending in "/").

    Walked as ``rglob("*")`` walks (so the same files, hence the same ids): symlinked folders are
    not entered. Unlike rglob, a folder that cannot be listed is an error, not silently nothing:
    a new partition another user wrote with umask 077 would otherwise leave status "unchanged"
    over data never committed.

    Hidden and ``_``-prefixed names (``_SUCCESS``, ``_metadata``, ``.part-0.crc``,
    ``_temporary/``) are bookkeeping of the writing engine, never data, and such folders are not
    entered, readable or not.
    """
    try:
        with os.scandir(folder) as listing:
            entries = list(listing)
    except PermissionError as exc:
        raise UnreadableFolderError(folder, exc.strerror or "permission denied") from None
    except (FileNotFoundError, NotADirectoryError):
        return []  # removed or replaced while walked: as rglob, nothing there
    found: list[tuple[str, str]] = []
    for entry in entries:
        name = entry.name
        if name.startswith((".", "_")):
            continue
        if entry.is_dir(follow_symlinks=False):
            found.extend(_part_files(entry.path, inside + name + "/"))
        elif _is_part_file(entry):
            found.append((inside + name, entry.path))
    return found


def _is_part_file(entry: os.DirEntry[str]) -> bool:
    """Whether a (not hidden) entry of a dataset folder is one of its Parquet files. A name
    without any extension is read for the Parquet magic: Hive and some Spark jobs name part
    files ``000000_0``."""
    name = entry.name
    if name.lower().endswith(PARQUET_SUFFIXES):
        return _is_file(entry)
    if "." in name or not _is_file(entry):
        return False  # README.md, part-0.crc, data.csv: another format
    return starts_with_magic(entry.path)


def _is_file(entry: os.DirEntry[str]) -> bool:
    """``Path.is_file`` of the entry: a file, or a link to one. Told from the listing itself
    unless it is a link, which is followed as pathlib follows it (a loop or a dangling link is
    no file)."""
    return Path(entry.path).is_file() if entry.is_symlink() else entry.is_file()


def refuse_undecodable_name(path: Path) -> None:
    """A file name that is no UTF-8 (Latin-1 from an old export) cannot be written in a manifest,
    whose paths are JSON text: refused by name, before anything is read or written."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(path).decode("utf-8", errors="backslashreplace")
        raise DatasetError(
            f"{shown}: the file name is not UTF-8, so it cannot be recorded",
            "rename the file (e.g. `convmv -f latin1 -t utf8`), or move it out of the dataset",
        ) from None


def located(root: Path, tracked: TrackedDataset) -> tuple[str, list[tuple[str, Path]]]:
    """(kind, files) of a tracked path as it is now: kind is ``file`` or ``folder`` with its files,
    or `MISSING` / `EMPTY` with none."""
    path = root / tracked.path
    if path.is_file():
        refuse_undecodable_name(path)
        return "file", [(path.name, path)]
    if path.is_dir():
        files = folder_files(path)
        return ("folder", files) if files else (EMPTY, [])
    return MISSING, []


def dataset_files(
    root: Path,
    tracked: TrackedDataset,
    name: str,
    found: tuple[str, list[tuple[str, Path]]] | None = None,
    *,
    committed: bool = True,
) -> tuple[str, list[tuple[str, Path]]]:
    """(kind, [(path inside the dataset, absolute path)]) in the dataset's canonical order;
    ``found`` is what `located` already said. Raises DatasetError when there is no data, whose
    advice restores HEAD's version only when HEAD has one (``committed``): a dataset added and
    deleted before any commit of it has nothing to check out."""
    kind, files = found or located(root, tracked)
    if kind == EMPTY:
        restore = (
            f" (`datakeep checkout HEAD --name {name}` restores the committed ones)"
            if committed
            else " (it was never committed: no version of it can be checked out)"
        )
        raise DatasetError(
            f"dataset '{name}': folder {tracked.path} holds no Parquet files ({NAMES_ACCEPTED})",
            f"put Parquet files back in it{restore}, or stop tracking it with `datakeep rm {name}`",
        )
    if kind == MISSING and (root / tracked.path).exists():
        # A pipe, a device, a socket (or a link to one): there, but nothing datakeep can read.
        raise DatasetError(
            f"dataset '{name}': {tracked.path} is neither a file nor a folder (a pipe or a device?)",
            "point it at a Parquet file or folder: datakeep reads no pipes or devices",
        )
    if kind == MISSING:
        restore = (
            f"restore it with `datakeep checkout HEAD --name {name}`"
            if committed
            else f"put the file back at {tracked.path} (it was never committed: no version of it can be checked out)"
        )
        raise DatasetError(
            f"dataset '{name}': {tracked.path} does not exist",
            f"{restore}, or stop tracking it with `datakeep rm {name}`",
        )
    return kind, files


def folder_id(entries: list[tuple[str, str]]) -> str:
    """Snapshot id of a folder dataset from its files' (path, content id), in order."""
    return combine(["folder", *(f"{path}\t{file_id}" for path, file_id in entries)])


def snapshot_id_of(kind: str, entries: list[tuple[str, str]]) -> str:
    return entries[0][1] if kind == "file" else folder_id(entries)


def cached_snapshot_id(
    root: Path,
    name: str,
    tracked: TrackedDataset,
    index: Index,
    found: tuple[str, list[tuple[str, Path]]] | None = None,
) -> str | None:
    """The working copy's snapshot id if the stat cache knows every file; None if one must be read."""
    kind, files = dataset_files(root, tracked, name, found)
    entries: list[tuple[str, str]] = []
    for inner, absolute in files:
        cached = index.lookup(project_path(root, absolute), file_signature(absolute))
        if cached is None:
            return None
        entries.append((inner, cached["id"]))
    return snapshot_id_of(kind, entries)


def project_path(root: Path, absolute: Path) -> str:
    """``absolute.relative_to(root).as_posix()``, from the text when ``absolute`` lies under
    ``root``: a clean `status` asks it of every file of a folder, and pathlib's parsing took 0.4 s
    of it at 20,000 files. Both are pathlib's normalised text, so what follows the root and
    one separator is the relative path."""
    text, prefix = os.fspath(absolute), os.path.join(os.fspath(root), "")
    if os.sep == "/" and text.startswith(prefix):
        return text[len(prefix) :]
    return absolute.relative_to(root).as_posix()
