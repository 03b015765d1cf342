"""The object store contract every backend (local folder, memory, fsspec remote) fulfils."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator

from datakeep.digest import bytes_id
from datakeep.errors import CorruptObjectError
from datakeep.ids import ObjectId, object_id


class ObjectStore(ABC):
    """Objects are immutable byte strings addressed by the xxh3-128 of their bytes."""

    @abstractmethod
    def has(self, oid: ObjectId) -> bool: ...

    @abstractmethod
    def get(self, oid: ObjectId) -> bytes:
        """The object's bytes; ObjectNotFoundError when it is missing."""

    @abstractmethod
    def _put(self, oid: ObjectId, data: bytes) -> None: ...

    @abstractmethod
    def ids(self) -> Iterator[ObjectId]:
        """Every object id in the store (order unspecified)."""

    @abstractmethod
    def delete(self, oid: ObjectId) -> None: ...

    @abstractmethod
    def size(self, oid: ObjectId) -> int: ...

    def put(self, data: bytes) -> tuple[ObjectId, bool]:
        """Store ``data`` under its own id; returns (id, whether new bytes were written)."""
        oid = ObjectId(bytes_id(data))
        if self.has(oid):
            return oid, False
        self._put(oid, data)
        return oid, True

    def put_verified(self, oid: str, data: bytes) -> bool:
        """Store bytes received from elsewhere, refusing them unless they hash to ``oid``."""
        oid = object_id(oid)
        if bytes_id(data) != oid:
            raise CorruptObjectError(oid, "its bytes do not hash to its id (damaged in transfer or at the source)")
        if self.has(oid):
            return False
        self._put(oid, data)
        return True

    def get_verified(self, oid: ObjectId) -> bytes:
        data = self.get(oid)
        if bytes_id(data) != oid:
            raise CorruptObjectError(oid, "its bytes do not hash to its id")
        return data

    def read_prefix(self, oid: ObjectId, length: int) -> bytes:
        return self.get(oid)[:length]

    def with_prefix(self, prefix: str) -> list[ObjectId]:
        return sorted(oid for oid in self.ids() if oid.startswith(prefix))


class VerifyingStore(ObjectStore):
    """``store`` read through `ObjectStore.get_verified`: every object read is checked against its
    id, so a byte damaged on disk is an error where it would otherwise be restored as data."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def has(self, oid: ObjectId) -> bool:
        return self.store.has(oid)

    def get(self, oid: ObjectId) -> bytes:
        return self.store.get_verified(oid)

    def get_verified(self, oid: ObjectId) -> bytes:
        return self.store.get_verified(oid)

    def _put(self, oid: ObjectId, data: bytes) -> None:
        self.store._put(oid, data)

    def ids(self) -> Iterator[ObjectId]:
        return self.store.ids()

    def delete(self, oid: ObjectId) -> None:
        self.store.delete(oid)

    def size(self, oid: ObjectId) -> int:
        return self.store.size(oid)
