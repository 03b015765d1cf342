"""Copying objects between stores: verified, in parallel, counted, resumable.

Objects are immutable and named by the hash of their bytes, so a copy interrupted anywhere is
resumed simply by asking again which objects the other side lacks: what arrived is never re-sent.
Every object is hashed before it is written on the receiving side, so damaged bytes (at the
source, or in transit) are reported and never stored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from datakeep.digest import bytes_id
from datakeep.errors import CorruptObjectError, RemoteError, RemoteObjectDamagedError
from datakeep.ids import ObjectId
from datakeep.store.base import ObjectStore
from datakeep.store.fsspec_store import FsspecStore

#: Called after each object is stored: (object id, its size in bytes). An object passed as the
#: callback may also have a ``begin(total_objects)`` method, called once the count is known.
ProgressCallback = Callable[[ObjectId, int], None]


def announce(progress: ProgressCallback | None, total: int) -> None:
    """Tell a progress display how many objects are coming (when it wants to know)."""
    begin = getattr(progress, "begin", None)
    if callable(begin):
        begin(total)


#: Requests in flight: object stores answer slowly and in parallel; 8 keeps a 2-core machine busy.
WORKERS = 8


@dataclass(slots=True)
class TransferStats:
    """What a push or pull moved."""

    objects: int = 0
    bytes: int = 0

    def add(self, size: int) -> None:
        self.objects += 1
        self.bytes += size

    def to_dict(self) -> dict[str, int]:
        return {"objects": self.objects, "bytes": self.bytes}


class TransferInterruptedError(RemoteError):
    """Raised by the ``limit`` test hook: the copy stopped early, no ref was moved."""

    def __init__(self, sent: int) -> None:
        super().__init__(f"transfer stopped after {sent} object(s)", "run the command again to finish it")
        self.sent = sent


def copy_objects(
    source: ObjectStore,
    target: ObjectStore,
    groups: Sequence[Sequence[ObjectId]],
    *,
    stats: TransferStats | None = None,
    progress: ProgressCallback | None = None,
    limit: int | None = None,
    workers: int = WORKERS,
) -> TransferStats:
    """Copy ``groups`` of objects the target lacks, one group after the other.

    Groups give the order the safety argument needs (chunks, then manifests, then commits), so at
    any moment an object on the target only names objects already there.

    ``limit`` is a test hook: stop (raising TransferInterruptedError) after that many objects, as
    an interrupted network or a killed process would, so tests can check that a re-run resumes.
    """
    stats = stats if stats is not None else TransferStats()
    total = sum(len(group) for group in groups)
    sent = 0

    def one(oid: ObjectId) -> int:
        data = source.get(oid)
        if bytes_id(data) != oid:
            if isinstance(source, FsspecStore):
                raise RemoteObjectDamagedError(oid, _where(source), _url_of(source, oid))
            raise CorruptObjectError(oid, f"its bytes from {_where(source)} do not hash to its id; nothing stored")
        # The target was listed just before: the object is known to be missing, so skip `has`.
        target._put(oid, data)
        return len(data)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for group in groups:
            batch = list(group) if limit is None else list(group)[: max(0, limit - sent)]
            for oid, size in zip(batch, pool.map(one, batch), strict=True):
                sent += 1
                stats.add(size)
                if progress is not None:
                    progress(oid, size)
            if limit is not None and sent >= limit and sent < total:
                raise TransferInterruptedError(sent)
    return stats


def _url_of(store: ObjectStore, oid: ObjectId) -> str:
    url_of = getattr(store, "url_of", None)
    return str(url_of(oid)) if callable(url_of) else oid


def _where(store: ObjectStore) -> str:
    return str(getattr(store, "url", None) or getattr(store, "root", None) or "the source")
