"""The local store of a partial clone: objects missing here are fetched from the remote on demand.

A partial clone holds every commit but only some manifests and chunks; the rest are *promised* by
the remote it was cloned from. Reading a promised object fetches it once, verifies its bytes
against its id, and keeps it locally, so `checkout v3 --name flights -o f.parquet` just works.

``has``, ``ids`` and ``with_prefix`` stay local on purpose: they answer "what is stored here"
(dedup on write, gc, short-id lookup), and a network round-trip per call would make every commit
slow. Only reads of missing objects go to the remote.
"""

from __future__ import annotations

import threading
from pathlib import Path

from datakeep.digest import bytes_id
from datakeep.errors import ObjectNotFoundError, RemoteError, RemoteObjectDamagedError, RemoteObjectMissingError
from datakeep.ids import ObjectId, object_id
from datakeep.store.fsspec_store import FsspecStore, is_backend_failure
from datakeep.store.local import LocalStore


class FallbackStore(LocalStore):
    """A LocalStore that fetches missing objects from ``remote_url`` (the remote's root URL)."""

    def __init__(self, root: Path, *, remote_name: str, remote_url: str, durable: bool = True) -> None:
        super().__init__(root, durable=durable)
        self.remote_name = remote_name
        self.remote_url = remote_url.rstrip("/")
        self._remote: FsspecStore | None = None
        self._lock = threading.Lock()
        #: Objects and bytes fetched on demand by this process (reported by callers that care).
        self.fetched_objects = 0
        self.fetched_bytes = 0

    @property
    def remote(self) -> FsspecStore:
        with self._lock:
            if self._remote is None:
                self._remote = FsspecStore.from_url(self.remote_url + "/objects")
            return self._remote

    def fetch(self, oid: ObjectId) -> bytes:
        """Copy one promised object from the remote, verified, into the local store."""
        oid = object_id(oid)
        try:
            data = self.remote.get(oid)
        except ObjectNotFoundError:
            # A partial clone lacks it by design: the remote that promised it is what lost it.
            raise RemoteObjectMissingError(oid, f"'{self.remote_name}' ({self.remote_url})") from None
        except Exception as exc:
            # botocore's EndpointConnectionError and its kind are no OSError: ask by origin.
            if not is_backend_failure(exc):
                raise
            raise RemoteError(
                f"cannot fetch object {oid} from remote '{self.remote_name}' ({self.remote_url}): {exc}",
                "this is a partial clone: reading data not fetched yet needs the remote; "
                "check the connection or credentials, or `datakeep pull` while online",
            ) from None
        if bytes_id(data) != oid:  # reported as the remote's damage: nothing is stored here
            raise RemoteObjectDamagedError(oid, f"'{self.remote_name}' ({self.remote_url})", self.remote.url_of(oid))
        if not self.has(oid):
            self._put(oid, data)
        with self._lock:
            self.fetched_objects += 1
            self.fetched_bytes += len(data)
        return data

    def get(self, oid: ObjectId) -> bytes:
        try:
            return super().get(oid)
        except ObjectNotFoundError:
            return self.fetch(oid)

    def readable_path(self, oid: ObjectId) -> Path:
        try:
            return super().readable_path(oid)
        except ObjectNotFoundError:
            self.fetch(oid)
            return self.path(oid)

    def read_prefix(self, oid: ObjectId, length: int) -> bytes:
        try:
            return super().read_prefix(oid, length)
        except ObjectNotFoundError:
            return self.fetch(oid)[:length]

    def size(self, oid: ObjectId) -> int:
        try:
            return super().size(oid)
        except ObjectNotFoundError:
            return self.remote.size(oid)
