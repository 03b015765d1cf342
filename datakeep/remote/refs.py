"""Refs on a remote, moved only by compare-and-swap.

A ref file holds one commit id, exactly as in a local repository (``refs/heads/main``). Reading
one returns its value and a *token* naming that exact version; writing succeeds only while the
ref still has that version, so of two racing pushes exactly one wins and the other re-reads,
re-checks fast-forward and is refused or retries. No commit is ever overwritten unseen.

How the swap is made atomic depends on the backend:

* **S3** – conditional writes, done by the server: ``If-None-Match: *`` creates a ref only if it
  does not exist, ``If-Match: <ETag>`` replaces it only if it is still the version read. S3
  applies the condition and the write as one step, so the guarantee holds across machines.
* **a folder** – an ``flock`` on ``<remote>/refs.lock`` around read-compare-write; the ref itself
  is replaced by rename. Holds for every process on machines that share the folder with working
  POSIX locks (local disks; NFSv4).
* **other fsspec backends** (GCS, Azure, …) – a lock object ``refs.lock`` created exclusively
  (``pipe_file(mode="create")``) around read-compare-write. The guarantee is exactly that of the
  backend's exclusive create: gcsfs uses a generation precondition (atomic); a backend that only
  emulates it with exists-then-write leaves a window of one round-trip in which two pushes could
  both take the lock. A lock object older than ``STALE_LOCK_AGE`` was left by a killed push (a
  push holds it for one read-compare-write, well under a second) and is taken over; the push that
  took it over says so.

Deleting a ref is a swap to "absent" and is made atomic the same way: S3's conditional delete
(``If-Match: <ETag>`` on DELETE, checked to be honoured before the first delete), the folder's flock,
or the lock object. A ref that moved since it was read is never deleted.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from datakeep.errors import DatakeepError, LockedError, RemoteError
from datakeep.fsutil import (
    FileLock,
    atomic_write,
    exclusive_write,
    is_temp_name,
    remove_empty_parents,
    seconds_from_env,
)
from datakeep.ids import ObjectId, object_id
from datakeep.store.fsspec_store import protocol_of

REFS = "refs"
LOCK_NAME = "refs.lock"
#: Seconds a push waits for a remote's ref lock (``DATAKEEP_REMOTE_LOCK_TIMEOUT``).
DEFAULT_LOCK_WAIT = 30.0
#: A lock object this old (by the clock of the push that took it) was left by a killed push: it is
#: held for one read-compare-write, so ten minutes is far beyond any live holder, and beyond the
#: clock skew between machines that keep their time by NTP.
STALE_LOCK_AGE = 600.0


def lock_wait() -> float:
    return seconds_from_env("DATAKEEP_REMOTE_LOCK_TIMEOUT", DEFAULT_LOCK_WAIT)


class RemoteRefMovedError(DatakeepError):
    """The remote ref changed between our read and our write (another push won the race)."""

    def __init__(self, ref: str) -> None:
        super().__init__(f"remote ref {ref} moved while we pushed", "run the command again")
        self.ref = ref


class DamagedRefError(RemoteError):
    """A remote ref file that does not hold a commit id (truncated, overwritten by hand, …)."""

    def __init__(self, ref: str, raw: bytes, remote: str = "REMOTE") -> None:
        kind, short = ("tag", ref[len("refs/tags/") :]) if ref.startswith("refs/tags/") else ("branch", ref[11:])
        super().__init__(
            f"remote ref {ref} on {remote} is damaged: it holds {raw[:40]!r}, not a commit id",
            f"repair it from a repository that has the {kind}: `datakeep push --force {remote} {short}`",
        )
        self.ref = ref
        self.raw = raw


def damaged_ref_error(ref: str, raw: bytes, remote: str) -> DamagedRefError:
    return DamagedRefError(ref, raw, remote)


def parse_ref(ref: str, raw: bytes) -> ObjectId:
    """The commit id a remote ref file holds; DamagedRefError when it holds anything else."""
    try:
        return object_id(raw.decode().strip())
    except (UnicodeDecodeError, DatakeepError):
        raise DamagedRefError(ref, raw) from None


def _precondition_failed(exc: OSError) -> bool:
    # s3fs maps HTTP 412 (If-Match failed) to OSError(EINVAL); If-None-Match to FileExistsError.
    return isinstance(exc, FileExistsError) or exc.errno == errno.EINVAL or "Precondition" in str(exc)


class RemoteRefs(ABC):
    """Refs under ``<root>/refs/…`` and ``<root>/HEAD`` on a remote filesystem."""

    #: One line for `datakeep remote list -v` and the docs: what the swap relies on.
    guarantee = ""

    def __init__(self, fs: Any, root: str) -> None:
        self.fs = fs
        self.root = root
        #: Temp files of interrupted ref writes that the last `scan` saw (``refs/heads/.tmp-…``),
        #: for the caller to remove once they are old enough (`remove_stale`).
        self.leftovers: list[str] = []
        #: What this backend had to take over (a stale lock object), for the caller to report.
        self.notes: list[str] = []

    def path(self, ref: str) -> str:
        return f"{self.root}/{ref}"

    def _cat(self, path: str) -> bytes | None:
        try:
            return bytes(self.fs.cat_file(path))
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            # A folder where the ref would be ('feature' beside 'feature/x') holds no ref.
            return None

    @abstractmethod
    def read_raw(self, ref: str) -> tuple[bytes | None, Any]:
        """(the ref file's bytes or None, a token for ``swap`` naming that version of it)."""

    def read(self, ref: str) -> tuple[ObjectId | None, Any]:
        """(commit the ref names or None, a token for ``swap``); DamagedRefError when damaged."""
        raw, token = self.read_raw(ref)
        return (parse_ref(ref, raw) if raw is not None else None), token

    @abstractmethod
    def swap(self, ref: str, new: ObjectId, token: Any) -> None:
        """Write ``new`` if the ref is still at the version ``token`` names; else RemoteRefMovedError."""

    @abstractmethod
    def delete(self, ref: str, token: Any) -> None:
        """Remove the ref if it is still at the version ``token`` names; else RemoteRefMovedError
        (also when it is gone already)."""

    @abstractmethod
    def create(self, path: str, data: bytes) -> bool:
        """Write a small file only if absent (True when we created it)."""

    def forget_head(self, branch: str) -> bool:
        """Remove the remote's HEAD if it still names ``branch`` (True when removed), so that the
        next push of a branch names a new one. Nothing else rewrites an existing HEAD, so only
        another push deleting the same branch can race this, with the same outcome."""
        raw, token = self.read_raw("HEAD")
        if raw is None or raw.decode(errors="replace").strip() != f"ref: refs/heads/{branch}":
            return False
        try:
            self.delete("HEAD", token)
        except RemoteRefMovedError:
            return False
        return True

    def list(self) -> dict[str, ObjectId]:
        """Every readable ref: {"refs/heads/main": id, "refs/tags/v1": id}."""
        return self.scan()[0]

    def scan(self) -> tuple[dict[str, ObjectId], dict[str, bytes]]:
        """(every readable ref, every damaged one with its bytes): one damaged ref must not stop
        work on the others, and is reported by name."""
        invalidate = getattr(self.fs, "invalidate_cache", None)
        if invalidate is not None:
            invalidate(self.root)
        try:
            paths = self.fs.find(self.path(REFS))
        except FileNotFoundError:
            return {}, {}
        base = self.fs._strip_protocol(self.root).rstrip("/") + "/"
        out: dict[str, ObjectId] = {}
        damaged: dict[str, bytes] = {}
        self.leftovers = []
        for path in sorted(str(p) for p in paths):
            name = path[len(base) :] if path.startswith(base) else path
            if is_temp_name(name.rsplit("/", 1)[-1]):
                self.leftovers.append(path)  # a ref write killed before its rename
                continue
            if not name.startswith(("refs/heads/", "refs/tags/")) or ".tmp-" in name or name.endswith(".lock"):
                continue
            raw, _ = self.read_raw(name)
            if raw is None:
                continue
            try:
                out[name] = parse_ref(name, raw)
            except DamagedRefError:
                damaged[name] = raw
        return out, damaged

    def head_branch(self) -> str | None:
        raw = self._cat(self.path("HEAD"))
        if raw and raw.decode(errors="replace").startswith("ref: refs/heads/"):
            return raw.decode().strip()[len("ref: refs/heads/") :]
        return None


class S3Refs(RemoteRefs):
    guarantee = "S3 conditional writes (If-None-Match / If-Match): atomic on the server"

    def _split(self, path: str) -> tuple[str, str]:
        bucket, key, _ = self.fs.split_path(path)
        return bucket, key

    def read_raw(self, ref: str) -> tuple[bytes | None, Any]:
        path = self.path(ref)
        for _ in range(5):
            self.fs.invalidate_cache(path)
            try:
                # s3fs opens with a HEAD and then reads with If-Match on that ETag, so the value
                # and the token are of one and the same version of the ref (a write in between
                # fails the read with 412: read again).
                with self.fs.open(path, "rb") as handle:
                    raw = handle.read()
                    etag = handle.details.get("ETag")
            except FileNotFoundError:
                return None, None
            except OSError as exc:
                # Newer s3fs reports the failed If-Match read as FileExpired (EBUSY).
                if _precondition_failed(exc) or exc.errno == errno.EBUSY:
                    continue
                raise
            return raw, etag
        raise RemoteError(f"remote ref {ref} keeps changing while read", "run the command again")

    def swap(self, ref: str, new: ObjectId, token: Any) -> None:
        bucket, key = self._split(self.path(ref))
        condition = {"IfMatch": token} if token else {"IfNoneMatch": "*"}
        try:
            self.fs.call_s3("put_object", Bucket=bucket, Key=key, Body=(object_id(new) + "\n").encode(), **condition)
        except FileExistsError:
            raise RemoteRefMovedError(ref) from None
        except OSError as exc:
            if _precondition_failed(exc):
                raise RemoteRefMovedError(ref) from None
            if token and isinstance(exc, FileNotFoundError):
                raise RemoteRefMovedError(ref) from None  # deleted under us
            raise
        finally:
            self.fs.invalidate_cache(self.path(ref))

    def create(self, path: str, data: bytes) -> bool:
        try:
            self.fs.pipe_file(path, data, mode="create")
        except FileExistsError:
            return False
        return True

    _deletes_checked = False

    def delete(self, ref: str, token: Any) -> None:
        if not token:
            raise RemoteRefMovedError(ref)
        self._check_conditional_delete()
        bucket, key = self._split(self.path(ref))
        try:
            self.fs.call_s3("delete_object", Bucket=bucket, Key=key, IfMatch=token)
        except FileNotFoundError:
            raise RemoteRefMovedError(ref) from None  # deleted under us
        except OSError as exc:
            if _precondition_failed(exc):
                raise RemoteRefMovedError(ref) from None
            raise
        finally:
            self.fs.invalidate_cache(self.path(ref))

    def _check_conditional_delete(self) -> None:
        """Refuse an endpoint that ignores ``If-Match`` on DELETE: there a delete would remove a
        ref another push had just moved. Checked on a scratch object, once per connection."""
        if self._deletes_checked:
            return
        probe = f"{self.root}/refs.probe-{uuid.uuid4().hex}"
        bucket, key = self._split(probe)
        self.fs.pipe_file(probe, b"probe\n")
        try:
            self.fs.call_s3("delete_object", Bucket=bucket, Key=key, IfMatch='"' + "0" * 32 + '"')
        except OSError as exc:
            if not _precondition_failed(exc):
                raise RemoteError(
                    f"this S3 endpoint does not support conditional deletes (If-Match on DELETE): {exc}",
                    "delete the ref with the storage's own tools while nobody pushes, or use an endpoint "
                    "with conditional deletes (AWS S3, …)",
                ) from None
        else:
            raise RemoteError(
                "this S3 endpoint ignores conditional deletes (If-Match on DELETE), so a delete could "
                "remove a ref another push has just moved",
                "delete the ref with the storage's own tools while nobody pushes, or use an endpoint "
                "with conditional deletes (AWS S3, …)",
            )
        finally:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(probe)
        self._deletes_checked = True


class FolderRefs(RemoteRefs):
    guarantee = "flock on <remote>/refs.lock around read-compare-rename"

    def _local(self, relative: str) -> Path:
        return Path(self.fs._strip_protocol(self.root)) / relative

    def read_raw(self, ref: str) -> tuple[bytes | None, Any]:
        raw = self._cat(self.path(ref))
        return raw, raw  # the bytes themselves name the version (a damaged ref's too)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        path = self._local(LOCK_NAME)
        lock = FileLock(path, timeout=lock_wait())
        try:
            lock.acquire()
        except LockedError:
            raise RemoteLockHeldError(str(path), _holder(path), lock.timeout) from None
        try:
            yield
        finally:
            lock.release()

    def swap(self, ref: str, new: ObjectId, token: Any) -> None:
        with self._locked():
            if self._cat(self.path(ref)) != token:
                raise RemoteRefMovedError(ref)
            atomic_write(self._local(ref), (object_id(new) + "\n").encode())

    def delete(self, ref: str, token: Any) -> None:
        with self._locked():
            if token is None or self._cat(self.path(ref)) != token:
                raise RemoteRefMovedError(ref)
            path = self._local(ref)
            path.unlink()
            # The folders 'feature/x' needed go with it, or no branch could be named 'feature' again.
            refs = self._local(REFS)
            remove_empty_parents(path, {self._local(""), refs, refs / "heads", refs / "tags"})

    def create(self, path: str, data: bytes) -> bool:
        # Written aside and linked into place: a push killed mid-write must not leave a torn
        # config.json or HEAD that no later push would rewrite.
        return exclusive_write(Path(self.fs._strip_protocol(path)), data)


class RemoteLockHeldError(RemoteError):
    """A folder remote's ``refs.lock`` is held by a live process (flock: a killed one holds nothing)."""

    def __init__(self, path: str, holder: str, waited: float) -> None:
        super().__init__(
            f"the remote's refs are locked by another push ({path}, held by {holder}); waited {waited:g}s",
            "run the command again once that push is done (DATAKEEP_REMOTE_LOCK_TIMEOUT=SECONDS waits "
            "longer). The lock goes when its process ends, even a killed one; if it stays, that process "
            "still runs, hung, on this machine or one sharing the folder: stop it there",
        )
        self.path = path


def _holder(path: Path) -> str:
    """Who holds a flock'd lock file: the pid its holder wrote into it."""
    try:
        pid = path.read_text().strip()
    except OSError:
        pid = ""
    return f"process {pid}" if pid.isdigit() else "a process that has not said which"


class LockObjectRefs(RemoteRefs):
    guarantee = "a lock object created exclusively (pipe_file mode='create'); as atomic as the backend makes it"

    def read_raw(self, ref: str) -> tuple[bytes | None, Any]:
        raw = self._cat(self.path(ref))
        return raw, raw

    def create(self, path: str, data: bytes) -> bool:
        try:
            self.fs.pipe_file(path, data, mode="create")
        except FileExistsError:
            return False
        return True

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        lock = self.path(LOCK_NAME)
        body = json.dumps({"owner": uuid.uuid4().hex, "time": time.time()}).encode()
        deadline = time.monotonic() + lock_wait()
        while not self.create(lock, body):
            held = self._cat(lock)
            age = _lock_age(held)
            if held is not None and age is not None and age >= STALE_LOCK_AGE:
                self._take_over(lock, held, age)
                continue
            if time.monotonic() >= deadline:
                said = f"taken {max(age, 0.0):.0f}s ago" if age is not None else "age unknown"
                raise RemoteError(
                    f"the remote's refs are locked by another push ({lock}, {said})",
                    f"run the command again once that push is done; a lock older than {STALE_LOCK_AGE:.0f}s "
                    "is taken over by the next push, and if no push runs (one was killed) you may delete "
                    "that lock object now",
                )
            time.sleep(0.2)
        try:
            yield
        finally:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(lock)

    def _take_over(self, lock: str, held: bytes, age: float) -> None:
        """Remove a lock a killed push left. Of several pushes finding it at once, only the one that
        creates the marker named after that lock's bytes removes it, and only while it is still
        those bytes; the others go back to waiting for the lock."""
        marker = f"{lock}.stale-{hashlib.sha256(held).hexdigest()[:16]}"
        if not self.create(marker, json.dumps({"time": time.time()}).encode()):
            if (_lock_age(self._cat(marker)) or 0.0) >= STALE_LOCK_AGE:
                # The push taking it over was killed too: its marker must not block the rest.
                with contextlib.suppress(FileNotFoundError):
                    self.fs.rm_file(marker)
            time.sleep(0.2)
            return
        try:
            if self._cat(lock) == held:
                with contextlib.suppress(FileNotFoundError):
                    self.fs.rm_file(lock)
                self.notes.append(f"took over {lock}, left {age:.0f}s ago by a push that did not finish")
        finally:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(marker)

    def swap(self, ref: str, new: ObjectId, token: Any) -> None:
        with self._locked():
            if self._cat(self.path(ref)) != token:
                raise RemoteRefMovedError(ref)
            self.fs.pipe_file(self.path(ref), (object_id(new) + "\n").encode())

    def delete(self, ref: str, token: Any) -> None:
        with self._locked():
            if token is None or self._cat(self.path(ref)) != token:
                raise RemoteRefMovedError(ref)
            self.fs.rm_file(self.path(ref))


def _lock_age(raw: bytes | None) -> float | None:
    """Seconds since the lock object ``raw`` was taken, by its taker's clock; None when unknown."""
    try:
        return time.time() - float(json.loads(raw or b"{}")["time"])
    except (ValueError, KeyError, TypeError):
        return None


def refs_for(fs: Any, root: str) -> RemoteRefs:
    """The ref backend with the strongest swap this filesystem offers."""
    protocol = protocol_of(fs)
    if protocol in ("s3", "s3a"):
        return S3Refs(fs, root)
    if protocol in ("file", "local"):
        return FolderRefs(fs, root)
    return LockObjectRefs(fs, root)
