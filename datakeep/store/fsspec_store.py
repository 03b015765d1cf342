"""Objects under ``<root>/ab/cdef…`` on any fsspec filesystem: a folder, S3, GCS, Azure, memory.

The layout is the local store's, so a remote is itself a readable datakeep store, and every chunk
is a plain Parquet object that DuckDB, Spark or Dask can open by URL.
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from datakeep.errors import RemoteError, RemoteObjectMissingError
from datakeep.fsutil import naming
from datakeep.ids import ObjectId, is_id_prefix, is_object_id, object_id
from datakeep.store.base import ObjectStore

#: Backends whose single PUT is atomic (readers see all bytes or none): objects are written in
#: place. Elsewhere (a folder, SFTP, …) a write goes to a temp name and is renamed over the target.
ATOMIC_PUT_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "memory"})

#: The name `_put` writes an object under before renaming it: the object's name (the id past its
#: fan-out folder), ``.tmp-`` and a random hex tag.
_TEMP_OBJECT = re.compile(r"[0-9a-f]{30}\.tmp-[0-9a-f]{32}")

#: A temp file this old (seconds since it was last written) was left by a killed write: another
#: push may be writing one right now, so younger ones are left alone (as `rowcache` treats its own).
STALE_TEMP_AGE = 3600.0

#: Which extra to install for a protocol whose fsspec backend is missing.
EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "az": "azure", "abfs": "azure", "abfss": "azure"}


#: Packages whose exceptions mean a remote's service could not be used (network, endpoint,
#: credentials): operational errors for the user to fix, not bugs in datakeep.
BACKEND_PACKAGES = frozenset({"botocore", "aiobotocore", "aiohttp", "s3fs", "gcsfs", "adlfs", "google", "azure"})


def is_backend_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is a storage backend failing to reach its service (not a datakeep bug)."""
    modules = {kind.__module__.split(".")[0] for kind in type(exc).__mro__}
    return bool(modules & BACKEND_PACKAGES) or isinstance(exc, (OSError, ConnectionError, TimeoutError))


def protocol_of(fs: Any) -> str:
    proto = fs.protocol
    return proto if isinstance(proto, str) else proto[0]


def open_url(url: str, **storage_options: Any) -> tuple[Any, str]:
    """(fsspec filesystem, root path inside it) for ``url``; a clear error when a backend is missing.

    Storage options and credentials are never passed from datakeep's files: they come from the
    environment (``AWS_ENDPOINT_URL``, ``AWS_PROFILE``…) or fsspec's own configuration
    (``FSSPEC_S3_ENDPOINT_URL``, ``~/.config/fsspec/*.json``).
    """
    try:
        import fsspec.core
    except ImportError:  # pragma: no cover - fsspec is a hard dependency
        raise RemoteError("fsspec is not installed", 'pip install "datakeep"') from None
    protocol = url.split("://", 1)[0] if "://" in url else "file"
    try:
        fs, root = fsspec.core.url_to_fs(url, **storage_options)
    except ImportError as exc:
        extra = EXTRAS.get(protocol)
        hint = f'pip install "datakeep[{extra}]"' if extra else f"install the fsspec backend for {protocol}://"
        raise RemoteError(f"no storage backend for {protocol}:// URLs ({exc})", hint) from None
    except ValueError as exc:
        raise RemoteError(f"cannot use remote URL {url!r}: {exc}", "use a folder path or an fsspec URL") from None
    return fs, root.rstrip("/")


class FsspecStore(ObjectStore):
    """An object store over an fsspec filesystem and a root path inside it."""

    def __init__(self, fs: Any, root: str, *, url: str | None = None) -> None:
        self.fs = fs
        self.root = root.rstrip("/")
        self.url = url or self.root
        self.atomic_put = protocol_of(fs) in ATOMIC_PUT_PROTOCOLS
        # s3fs would HEAD every object first to decide on ranged parallel reads; objects are
        # already fetched many at a time, so one plain GET each is cheaper.
        self._read_options: dict[str, Any] = {"max_concurrency": 1} if protocol_of(fs) in ("s3", "s3a") else {}
        #: Temp files of interrupted writes that listings came across, for `remove_stale_temps`.
        self.leftovers: set[str] = set()

    @classmethod
    def from_url(cls, url: str) -> FsspecStore:
        fs, root = open_url(url)
        return cls(fs, root, url=url)

    def path(self, oid: str) -> str:
        oid = object_id(oid)
        return f"{self.root}/{oid[:2]}/{oid[2:]}"

    def url_of(self, oid: str) -> str:
        """The object's URL as other engines spell it (``s3://bucket/…``, or a local path)."""
        path = self.path(oid)
        unstrip = getattr(self.fs, "unstrip_protocol", None)
        if protocol_of(self.fs) in ("file", "local"):
            return path
        return unstrip(path) if unstrip else path

    def has(self, oid: ObjectId) -> bool:
        return bool(self.fs.exists(self.path(oid)))

    def get(self, oid: ObjectId) -> bytes:
        try:
            return bytes(self.fs.cat_file(self.path(oid), **self._read_options))
        except FileNotFoundError:
            raise RemoteObjectMissingError(oid, self.url) from None

    def read_prefix(self, oid: ObjectId, length: int) -> bytes:
        try:
            return bytes(self.fs.cat_file(self.path(oid), start=0, end=length))
        except FileNotFoundError:
            raise RemoteObjectMissingError(oid, self.url) from None

    def _put(self, oid: ObjectId, data: bytes) -> None:
        target = self.path(oid)
        if self.atomic_put:
            self.fs.pipe_file(target, data)
            return
        # A reader (or an interrupted push re-run) must never see a torn object under its final
        # name: `has` would then skip it forever. Write aside, then rename (atomic on a folder).
        self.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        temp = f"{target}.tmp-{uuid.uuid4().hex}"
        try:
            with naming(target):  # a full disk under a folder remote names the object's file
                self.fs.pipe_file(temp, data)
            self.fs.mv(temp, target)
        except BaseException:
            with contextlib.suppress(OSError, FileNotFoundError):
                self.fs.rm_file(temp)
            raise

    def size(self, oid: ObjectId) -> int:
        try:
            return int(self.fs.size(self.path(oid)))
        except FileNotFoundError:
            raise RemoteObjectMissingError(oid, self.url) from None

    def delete(self, oid: ObjectId) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self.path(oid))

    def _refresh(self) -> None:
        # s3fs and friends cache listings; a listing must show what is there now.
        invalidate = getattr(self.fs, "invalidate_cache", None)
        if invalidate is not None:
            invalidate(self.root)

    def listing(self, fan: str) -> set[ObjectId]:
        """Ids stored under one fan-out prefix (``ab``): one LIST request instead of a HEAD per object."""
        if len(fan) != 2 or not is_id_prefix(fan.ljust(4, "0")):
            raise ValueError(f"bad fan-out prefix {fan!r}")
        try:
            # `find` is one flat, paginated listing on object stores and answers [] for a prefix
            # with nothing under it (`ls` would probe the parent to tell "missing" from "empty").
            names = self.fs.find(f"{self.root}/{fan}")
        except FileNotFoundError:
            return set()
        out: set[ObjectId] = set()
        for name in names:
            base = str(name).rstrip("/").rsplit("/", 1)[-1]
            candidate = fan + base
            if is_object_id(candidate):  # temp files of interrupted writes are never counted
                out.add(ObjectId(candidate))
            elif _TEMP_OBJECT.fullmatch(base):
                self.leftovers.add(str(name))  # noted on the way: finding them costs no request
        return out

    def remove_stale_temps(self, max_age: float = STALE_TEMP_AGE) -> int:
        """Delete the temp files listings came across that are ``max_age`` seconds old or more
        (an interrupted push's); returns how many. Only the fan-out folders a push listed anyway
        are looked at, so this costs one request per file found and none when there are none."""
        found, self.leftovers = sorted(self.leftovers), set()
        return remove_stale(self.fs, found, max_age)

    def present(self, oids: Iterable[ObjectId], *, workers: int = 8) -> set[ObjectId]:
        """Which of ``oids`` the store holds, listing each fan-out prefix involved once.

        A LIST returns up to 1,000 names, so for a store under ~256k objects this costs one request
        per distinct prefix: never more requests than one HEAD per object, usually far fewer.
        """
        wanted = set(oids)
        fans = sorted({oid[:2] for oid in wanted})
        if not fans:
            return set()
        self._refresh()
        from concurrent.futures import ThreadPoolExecutor

        found: set[ObjectId] = set()
        with ThreadPoolExecutor(max_workers=min(workers, len(fans))) as pool:
            for ids in pool.map(self.listing, fans):
                found |= ids
        return found & wanted

    def ids(self) -> Iterator[ObjectId]:
        self._refresh()
        try:
            paths = self.fs.find(self.root)
        except FileNotFoundError:
            return
        prefix = self.fs._strip_protocol(self.root).rstrip("/") + "/"
        for path in paths:
            rest = str(path)[len(prefix) :] if str(path).startswith(prefix) else str(path)
            candidate = rest.replace("/", "")
            if rest.count("/") == 1 and is_object_id(candidate):
                yield ObjectId(candidate)


def remove_stale(fs: Any, paths: Iterable[str], max_age: float = STALE_TEMP_AGE) -> int:
    """Delete those of ``paths`` last written ``max_age`` seconds ago or more; returns how many.
    Tidying up never fails the work it follows: a file that cannot be judged or removed (gone
    meanwhile, no permission, a backend without modification times) is left."""
    removed = 0
    now = time.time()
    for path in paths:
        try:
            age = now - fs.modified(path).timestamp()
        except (NotImplementedError, OSError, AttributeError, TypeError, ValueError):
            continue
        if age < max_age:
            continue
        try:
            fs.rm_file(path)
        except OSError:
            continue
        removed += 1
    return removed
