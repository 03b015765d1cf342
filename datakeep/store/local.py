"""Objects as read-only files under ``objects/ab/cdef…`` in a local folder."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path

from datakeep.errors import ObjectNotFoundError
from datakeep.fsutil import TEMP_PREFIX, atomic_write
from datakeep.ids import ObjectId, is_id_prefix, is_object_id, object_id
from datakeep.store.base import ObjectStore

#: What `Path.exists` takes for "not there" (any other failure to stat is raised).
_ABSENT = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP})


class LocalStore(ObjectStore):
    def __init__(self, root: Path, *, durable: bool = True) -> None:
        self.root = root
        self.durable = durable
        self._prefix = os.path.join(root, "")  # `has` joins text: see there

    def path(self, oid: str) -> Path:
        oid = object_id(oid)
        return self.root / oid[:2] / oid[2:]

    def has(self, oid: ObjectId) -> bool:
        # Text, not a Path: a commit asks this of both objects of every chunk it takes over from
        # the stat cache (40,000 for a folder of 20,000 files), and pathlib cost 18 us each.
        oid = object_id(oid)
        try:
            os.stat(f"{self._prefix}{oid[:2]}{os.sep}{oid[2:]}")
        except OSError as exc:
            if exc.errno in _ABSENT:
                return False
            raise
        return True

    def readable_path(self, oid: ObjectId) -> Path:
        """The file of a stored object, to be opened by path (a reader that seeks); raises
        ObjectNotFoundError when it is not here."""
        path = self.path(oid)
        if not path.exists():
            raise ObjectNotFoundError(oid)
        return path

    def get(self, oid: ObjectId) -> bytes:
        try:
            return self.path(oid).read_bytes()
        except FileNotFoundError:
            raise ObjectNotFoundError(oid) from None

    def read_prefix(self, oid: ObjectId, length: int) -> bytes:
        try:
            with open(self.path(oid), "rb") as handle:
                return handle.read(length)
        except FileNotFoundError:
            raise ObjectNotFoundError(oid) from None

    def _put(self, oid: ObjectId, data: bytes) -> None:
        atomic_write(self.path(oid), data, mode=0o444, durable=self.durable)

    def size(self, oid: ObjectId) -> int:
        try:
            return self.path(oid).stat().st_size
        except FileNotFoundError:
            raise ObjectNotFoundError(oid) from None

    def delete(self, oid: ObjectId) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(oid).unlink()

    def ids(self) -> Iterator[ObjectId]:
        if not self.root.is_dir():
            return
        for fan in sorted(os.listdir(self.root)):
            folder = self.root / fan
            if len(fan) != 2 or not folder.is_dir():
                continue
            for rest in sorted(os.listdir(folder)):
                if is_object_id(fan + rest):
                    yield ObjectId(fan + rest)

    def with_prefix(self, prefix: str) -> list[ObjectId]:
        # Only the one fan-out folder is listed, so short ids resolve fast in big stores.
        if len(prefix) < 2 or not is_id_prefix(prefix.ljust(4, "0")):
            return super().with_prefix(prefix)
        folder = self.root / prefix[:2]
        if not folder.is_dir():
            return []
        return sorted(
            ObjectId(prefix[:2] + rest)
            for rest in os.listdir(folder)
            if rest.startswith(prefix[2:]) and is_object_id(prefix[:2] + rest)
        )

    def temp_files(self) -> Iterator[Path]:
        """Leftovers of writes that were killed half-way (removed by gc)."""
        if not self.root.is_dir():
            return
        for folder in self.root.iterdir():
            if folder.is_dir():
                yield from folder.glob(TEMP_PREFIX + "*")
