"""Content-addressed object stores: write-once, atomic, ids validated before they become paths."""

from datakeep.store.base import ObjectStore
from datakeep.store.local import LocalStore
from datakeep.store.memory import MemoryStore

__all__ = ["LocalStore", "MemoryStore", "ObjectStore"]
