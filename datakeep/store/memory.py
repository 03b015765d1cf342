"""An in-memory store: for tests of the contract and for scratch work."""

from __future__ import annotations

from collections.abc import Iterator

from datakeep.errors import ObjectNotFoundError
from datakeep.ids import ObjectId, object_id
from datakeep.store.base import ObjectStore


class MemoryStore(ObjectStore):
    def __init__(self) -> None:
        self._objects: dict[ObjectId, bytes] = {}

    def has(self, oid: ObjectId) -> bool:
        return object_id(oid) in self._objects

    def get(self, oid: ObjectId) -> bytes:
        try:
            return self._objects[object_id(oid)]
        except KeyError:
            raise ObjectNotFoundError(oid, "memory") from None

    def _put(self, oid: ObjectId, data: bytes) -> None:
        self._objects[oid] = bytes(data)

    def size(self, oid: ObjectId) -> int:
        return len(self.get(oid))

    def delete(self, oid: ObjectId) -> None:
        self._objects.pop(object_id(oid), None)

    def ids(self) -> Iterator[ObjectId]:
        yield from list(self._objects)
