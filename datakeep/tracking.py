"""Which files make up a tracked dataset, and what the stat cache already knows about them.

Kept free of pyarrow and numpy on purpose: `status` and `commit` of unchanged data answer from
here alone, so they start and finish in a fraction of a second whatever the dataset's size.
"""

from __future__ import annotations

from pathlib import Path

from datakeep.digest import combine
from datakeep.errors import DatasetError
from datakeep.fsutil import file_signature
from datakeep.records.index import Index, TrackedDataset


def dataset_files(root: Path, tracked: TrackedDataset, name: str) -> tuple[str, list[tuple[str, Path]]]:
    """(kind, [(path inside the dataset, absolute path)]) in the dataset's canonical order."""
    path = root / tracked.path
    if path.is_file():
        return "file", [(path.name, path)]
    if path.is_dir():
        files = sorted(
            (p.relative_to(path).as_posix(), p)
            for p in path.rglob("*.parquet")
            if p.is_file() and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)
        )
        if not files:
            raise DatasetError(
                f"dataset '{name}': folder {tracked.path} holds no .parquet files",
                "put Parquet files in it, or track a file instead",
            )
        return "folder", files
    raise DatasetError(
        f"dataset '{name}': {tracked.path} does not exist",
        f"restore it with `datakeep checkout HEAD --name {name}`, or stop tracking it with `datakeep rm {name}`",
    )


def folder_id(entries: list[tuple[str, str]]) -> str:
    """Snapshot id of a folder dataset from its files' (path, content id), in order."""
    return combine(["folder", *(f"{path}\t{file_id}" for path, file_id in entries)])


def snapshot_id_of(kind: str, entries: list[tuple[str, str]]) -> str:
    return entries[0][1] if kind == "file" else folder_id(entries)


def cached_snapshot_id(root: Path, name: str, tracked: TrackedDataset, index: Index) -> str | None:
    """The working copy's snapshot id if the stat cache knows every file; None if one must be read."""
    kind, files = dataset_files(root, tracked, name)
    entries: list[tuple[str, str]] = []
    for inner, absolute in files:
        cached = index.lookup(absolute.relative_to(root).as_posix(), file_signature(absolute))
        if cached is None:
            return None
        entries.append((inner, cached["id"]))
    return snapshot_id_of(kind, entries)
