"""A remote opened for work: its object store, its refs, and the marker saying it is datakeep's.

Layout under the remote URL (the same as inside `.datakeep/`, so a remote is itself readable)::

    config.json            {"format": "datakeep.remote", "version": 1, "hash": "xxh3_128", "encoding": 2}
    HEAD                   ref: refs/heads/main
    objects/ab/cdef…       content-addressed, write-once (chunks are plain Parquet)
    refs/heads/<branch>    one commit id
    refs/tags/<tag>        one commit id

A remote holds ids in one canonical encoding (docs/hashing.md), that of the repository whose first
push made it; a marker without "encoding" was made before there was a choice, so it means 1.
"""

from __future__ import annotations

import errno
import functools
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from datakeep.digest import ALGORITHM, declared_encoding, unknown_encoding
from datakeep.errors import DatakeepError, RemoteError
from datakeep.remote.refs import RemoteRefs, refs_for
from datakeep.serialize import load_json
from datakeep.store.fsspec_store import BACKEND_PACKAGES, FsspecStore, open_url, protocol_of

_Call = TypeVar("_Call", bound=Callable[..., Any])


def reports_unreachable(operation: _Call) -> _Call:
    """Turn a storage backend's failure to reach its service into a one-line RemoteError."""

    @functools.wraps(operation)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return operation(*args, **kwargs)
        except DatakeepError:
            raise
        except Exception as exc:
            modules = {kind.__module__.split(".")[0] for kind in type(exc).__mro__}
            if not (modules & BACKEND_PACKAGES or isinstance(exc, (ConnectionError, TimeoutError))):
                raise
            raise RemoteError(
                f"cannot reach the remote: {type(exc).__name__}: {exc}",
                "check the URL, the endpoint (AWS_ENDPOINT_URL) and the credentials (AWS_PROFILE or "
                "AWS_ACCESS_KEY_ID), then run the command again",
            ) from exc

    return cast(_Call, wrapper)


class EncodingMismatchError(RemoteError):
    """The remote holds ids in another canonical encoding than this repository computes: the same
    table has different ids in each, so mixing them would make every dataset look modified."""

    def __init__(self, remote: str, *, theirs: int, ours: int, hint: str) -> None:
        super().__init__(
            f"{remote} holds ids in canonical encoding {theirs}, this repository computes encoding {ours}", hint
        )
        self.remote = remote
        self.theirs = theirs
        self.ours = ours


MARKER = "config.json"
FORMAT = "datakeep.remote"
VERSION = 1


#: Protocols whose URL begins with a bucket (or container) name.
_BUCKET_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"})
#: Filesystems that live inside one process: a remote there outlives no command (tests use it).
IN_PROCESS = frozenset({"memory"})
#: Bucket names as the S3 API accepts them (AWS itself is stricter; other servers are not).
_BUCKET = re.compile(r"^[A-Za-z0-9._-]{1,255}$")
#: A protocol name and a colon without the two slashes of a URL ('s3:/bucket'), which would
#: otherwise be taken for a folder of that name. Two letters at least: 'C:' is a drive.
_SLASHES_MISSING = re.compile(r"^(?P<protocol>[A-Za-z][A-Za-z0-9+.-]+):(?!//)")
_KNOWN_PROTOCOLS = _BUCKET_PROTOCOLS | IN_PROCESS | {"file", "http", "https", "ssh", "sftp", "hdfs"}


def refuse_in_process(url: str) -> None:
    """Refuse a URL whose filesystem ends with the process (``memory://``): from the command line,
    a push there would report objects sent that are gone when it returns."""
    protocol = url.split("://", 1)[0].lower() if "://" in url else ""
    if protocol in IN_PROCESS:
        raise RemoteError(
            f"{url}: a {protocol}:// filesystem lives inside one process, so nothing pushed there outlives the command",
            "use a folder or an object store URL, e.g. s3://bucket/team/datakeep",
        )


def normalize_url(url: str) -> str:
    """Folder paths become absolute (the config must not depend on the cwd); URLs stay as given.
    A URL that cannot name a remote (no bucket, an invalid one, 's3:' without its slashes) is
    refused here, before anything is tried on it."""
    if "://" in url:
        protocol, rest = url.split("://", 1)
        protocol = protocol.lower()
        if protocol in _BUCKET_PROTOCOLS:
            bucket = rest.split("/", 1)[0]
            if not bucket:
                raise RemoteError(
                    f"{url} names no bucket", f"write {protocol}://BUCKET/path, e.g. {protocol}://team-data/datakeep"
                )
            if not _BUCKET.match(bucket):
                raise RemoteError(
                    f"{url}: '{bucket}' is not a valid bucket name",
                    "bucket names are made of letters, digits, '.', '-' and '_'",
                )
        return url.rstrip("/")
    malformed = _SLASHES_MISSING.match(url)
    if malformed and malformed.group("protocol").lower() in _KNOWN_PROTOCOLS:
        protocol = malformed.group("protocol")
        raise RemoteError(
            f"{url} is not a URL: '{protocol}:' must be followed by two slashes", f"write {protocol}://..."
        )
    return os.path.abspath(os.path.expanduser(url))


@dataclass(slots=True)
class Remote:
    """One remote: ``name`` (None for a bare URL), ``url``, its store (``objects/``) and refs."""

    name: str | None
    url: str
    fs: Any
    root: str
    store: FsspecStore
    refs: RemoteRefs

    @property
    def label(self) -> str:
        return self.name or self.url

    def _marker_document(self, encoding: int) -> bytes:
        import json

        document = {"format": FORMAT, "version": VERSION, "hash": ALGORITHM, "encoding": encoding}
        return (json.dumps(document, sort_keys=True) + "\n").encode()

    def _marker(self) -> bytes | None:
        """The remote's marker, or None when it has none."""
        try:
            return bytes(self.fs.cat_file(f"{self.root}/{MARKER}"))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _access_error(self.url, exc, writing=False, path=f"{self.root}/{MARKER}") from None

    def check(self) -> int:
        """Refuse anything that is not a datakeep remote made with our hash algorithm and an
        encoding we know; returns the remote's canonical encoding."""
        raw = self._marker()
        if raw is None:
            raise self._missing()
        return self._encoding(raw)

    def _missing(self) -> RemoteError:
        """What to say of a remote without a marker: its bucket or folder may not exist at all."""
        bucket = protocol_of(self.fs) in _BUCKET_PROTOCOLS
        top = self.root.split("/", 1)[0] if bucket else self.root
        try:
            exists = bool(self.fs.exists(top))
        except Exception:  # the backend's own failure: only the wording depends on it
            exists = True
        if not exists:
            what = f"bucket '{top}'" if bucket else "folder"
            return RemoteError(
                f"{self.url}: the {what} does not exist",
                "check the URL (and the endpoint and credentials); a new remote is set up by the first "
                "`datakeep push`, into an existing bucket"
                if bucket
                else "check the URL",
            )
        return RemoteError(
            f"{self.url} is not a datakeep remote (no {MARKER} there)",
            "check the URL; a new remote is set up by the first `datakeep push`",
        )

    def _encoding(self, raw: bytes) -> int:
        try:
            document = load_json(raw)
        except ValueError:
            raise RemoteError(f"{self.url}/{MARKER} is not valid JSON", "the remote is damaged") from None
        if document.get("format") != FORMAT or document.get("hash") != ALGORITHM:
            raise RemoteError(
                f"{self.url} is not a datakeep remote this version understands "
                f"(format {document.get('format')!r}, hash {document.get('hash')!r})",
                "upgrade datakeep",
            )
        encoding = declared_encoding(document)
        if encoding is None:
            raise RemoteError(f"{self.url} holds ids in {unknown_encoding(document)}", "upgrade datakeep")
        return encoding

    def ensure(self, encoding: int) -> int:
        """Set up an empty remote on first push, in the pushing repository's ``encoding``; on S3,
        check the server honours conditional writes. Returns the remote's encoding (an existing
        remote keeps its own: compare it before sending anything)."""
        existing = self._marker()
        if existing is not None:
            return self._encoding(existing)  # set up already: nothing is written (a read-only remote pulls)
        marker = f"{self.root}/{MARKER}"
        document = self._marker_document(encoding)
        try:
            created = self.refs.create(marker, document)
        except OSError as exc:
            raise _access_error(self.url, exc, path=marker) from None
        if created and protocol_of(self.fs) in ("s3", "s3a") and self.refs.create(marker, document):
            # A second exclusive create of the same key succeeded: this endpoint ignores
            # If-None-Match, so no ref could be moved safely. Say so instead of racing silently.
            raise RemoteError(
                f"{self.url}: this S3 endpoint ignores conditional writes (If-None-Match)",
                "use AWS S3 or an S3-compatible server with conditional writes (MinIO, R2, …)",
            )
        return self.check()


#: Failures of the disk under a folder remote: said as what they are, never "cannot reach".
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


def _access_error(url: str, exc: OSError, *, writing: bool = True, path: str | None = None) -> RemoteError:
    """What to say when the remote at ``url`` failed with ``exc`` (on ``path``, when the
    backend's error does not name it)."""
    path = exc.filename or path
    if exc.errno in _DISK_FULL:
        return RemoteError(
            f"cannot write to remote {url}: {exc.strerror}" + (f" (writing {path})" if path else ""),
            "free disk space there (or push to another remote), then run the command again: "
            "what was sent is kept, the rest follows",
        )
    refused = isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
    if refused and writing:
        return RemoteError(
            f"cannot write to remote {url}: {exc}",
            "it can be read but not written with these permissions or credentials: push to a remote you may "
            "write to, or ask for write access",
        )
    if exc.errno is not None and "://" not in url:
        # A folder: there is no network or credentials to check, only the path and its disk.
        return RemoteError(
            f"cannot use remote {url}: {exc.strerror}" + (f" ({path})" if path else ""),
            "check the path, its permissions and the free disk space, then run the command again",
        )
    return RemoteError(
        f"cannot reach remote {url}: {exc}",
        "check the URL, the network and the credentials (from the environment or fsspec's configuration)",
    )


def connect(url: str, name: str | None = None) -> Remote:
    """Open the remote at ``url`` (no I/O beyond what the backend does on creation)."""
    fs, root = open_url(url)
    return Remote(
        name=name,
        url=url,
        fs=fs,
        root=root,
        store=FsspecStore(fs, f"{root}/objects", url=f"{url.rstrip('/')}/objects"),
        refs=refs_for(fs, root),
    )
