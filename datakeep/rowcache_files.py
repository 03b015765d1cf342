"""The files of the row-index cache (`rowcache`): their names, how many are kept, and spares.

No numpy or pyarrow here: a commit calls `start_spare` before it imports them.

A save writes 80 MB at 5M rows. Written over a pruned index (`rowcache.save`), that is 9-11 ms;
into a new file it is 16 ms where the system hands out page-cache pages it has just had back, and
up to 180-200 ms where it hands out pages not touched for a while, as on a virtual machine whose
host takes free memory back (the benchmark's machine: the first fresh 80 MB a process wrote took
181 ms, the next 16 ms). Until a dataset has `KEEP` indexes there is no pruned one, and those
commits waited for that save at their very end. So a commit that will need a new file starts one
as it begins (`start_spare`): a thread fills it with zeros, the size of the parent's index, while
the main thread imports numpy and pyarrow (about 100 ms with the second core idle); the save then
writes over those pages as it would over a pruned index.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from pathlib import Path

from datakeep.digest import bytes_id
from datakeep.fsutil import TEMP_PREFIX, temp_name

#: Row indexes kept per dataset: a commit needs its parent's, a diff usually the last few (a diff
#: of two versions without one reads keys and hashes from the store: as fast, 7% more memory at 1M
#: rows). Counted per dataset, so a commit of many datasets, or of one that changes rarely, does not
#: push another dataset's parent out (and its next commit onto the slow path).
KEEP = 4
#: Smaller parent indexes get no spare: a new file that small costs a millisecond or two.
MIN_SPARE_BYTES = 4 * 1024 * 1024
#: Zeros written at a time into a spare.
_FILL_BYTES = 1024 * 1024

#: Files named by snapshot id alone: the layout before indexes were kept per dataset.
_UNTAGGED = re.compile(r"[0-9a-f]{32}\.arrow")


def folder(dk: Path) -> Path:
    """Where the row indexes of the repository whose ``.datakeep`` is ``dk`` are kept."""
    return dk / "cache" / "rows"


def dataset_tag(name: str) -> str:
    """A file-name-safe stand-in for a dataset name (names may hold any character but ``/``)."""
    return bytes_id(name.encode())[:16]


def index_path(dk: Path, dataset: str, snapshot: str) -> Path:
    """The row index of ``dataset``'s snapshot ``snapshot``."""
    return folder(dk) / f"{dataset_tag(dataset)}-{snapshot}.arrow"


def prune(where: Path, tag: str, keep: int = KEEP) -> str | None:
    """Keep the newest ``keep`` indexes of the dataset tagged ``tag``; drop untagged ones, and
    temporary files an interrupted save left an hour ago or more. Younger temporary files are left
    alone: another dataset's save may be writing one right now. Returns the oldest index beyond
    ``keep``, left for the caller to rewrite or unlink, or None."""
    mine = []
    stale_before = time.time_ns() - 3600 * 10**9
    for entry in os.scandir(where):
        with contextlib.suppress(OSError):
            if _UNTAGGED.fullmatch(entry.name) or (
                entry.name.startswith(TEMP_PREFIX) and entry.stat().st_mtime_ns < stale_before
            ):
                os.unlink(entry.path)
            elif _is_index_of(entry.name, tag):
                mine.append((entry.stat().st_mtime_ns, entry.path))
    surplus = [path for _, path in sorted(mine, reverse=True)[keep:]]
    for path in surplus[:-1]:
        with contextlib.suppress(OSError):
            os.unlink(path)
    return surplus[-1] if surplus else None


def _is_index_of(name: str, tag: str) -> bool:
    return name.startswith(f"{tag}-") and name.endswith(".arrow")


class Spare:
    """A temporary file being filled with zeros on a thread, for a save to write its index over
    (see the module notes). Claimed by that save or discarded; either way it is gone by the end of
    the commit, and a file left by a killed process goes with `prune`'s stale temporary files."""

    def __init__(self, path: Path, size: int) -> None:
        self.path = path
        self._failed = False
        self._thread = threading.Thread(target=self._fill, args=(size,), name="datakeep-spare", daemon=True)
        self._thread.start()

    def _fill(self, size: int) -> None:
        zeros = bytes(_FILL_BYTES)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        except OSError:
            self._failed = True
            return
        try:
            written = 0
            while written < size:
                written += os.write(fd, zeros[: min(_FILL_BYTES, size - written)])
        except OSError:  # a full disk: the save writes a new file as it would have
            self._failed = True
        finally:
            os.close(fd)

    def claim(self) -> Path | None:
        """The filled file, now the caller's to write over (or remove); None when it could not be
        filled, and then it is removed here."""
        self._thread.join()
        if self._failed:
            self.discard()
            return None
        return self.path

    def discard(self) -> None:
        """Remove the file (once the thread is done with it)."""
        self._thread.join()
        with contextlib.suppress(OSError):
            os.unlink(self.path)


def start_spare(dk: Path, dataset: str, parent_snapshot: str) -> Spare | None:
    """A spare for the row index a commit of ``dataset`` on top of ``parent_snapshot`` will save,
    sized as the parent's; None when that save will have a pruned index to write over (the
    dataset already has `KEEP`), or the parent has no index here, or a small one."""
    where = folder(dk)
    tag = dataset_tag(dataset)
    try:
        size = index_path(dk, dataset, parent_snapshot).stat().st_size
        if size < MIN_SPARE_BYTES:
            return None  # checked first: a commit of many small datasets scans no folder
        held = sum(1 for entry in os.scandir(where) if _is_index_of(entry.name, tag))
    except OSError:
        return None
    if held >= KEEP:
        return None
    return Spare(temp_name(where / f"{tag}-spare", ".arrow"), size)
