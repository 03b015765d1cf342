"""Files that cannot half-exist, and the repository lock.

Writes go to a temp file in the target folder, are fsynced, then renamed over the target, so a
reader sees the old bytes or the new bytes and never a torn file, whatever is killed when.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import os
import re
import sys
import threading
import time
from collections.abc import Collection, Iterator
from pathlib import Path

from datakeep.errors import LockedError, UsageError

TEMP_PREFIX = ".tmp-"


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    # The rename is durable only once the folder entry is on disk too.
    with contextlib.suppress(OSError):
        _fsync(path)


#: From this many files on, one syncfs(2) of their file system replaces an fsync of each: a
#: folder of 2,000 small part files wrote 4,000 objects, and eight threads opening, syncing and
#: closing them spent more time handing the GIL to each other than the disk took.
SYNCFS_MIN_FILES = 256


def _syncfs_all(paths: list[Path]) -> bool:
    """syncfs(2) the file system holding ``paths`` (and their folders); False where that is not
    possible (not Linux, or the files on more than one file system), for the caller to fsync."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        syncfs = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return False
    folders = {p.parent for p in paths}
    try:
        if len({os.stat(folder).st_dev for folder in folders}) != 1:
            return False
        fd = os.open(next(iter(folders)), os.O_RDONLY)
    except OSError:
        return False
    try:
        return bool(syncfs(fd) == 0)
    finally:
        os.close(fd)


def sync_files(paths: list[Path], synced: Collection[Path] = ()) -> None:
    """fsync many freshly written files (and their folders) in parallel, but those in ``synced``:
    an `EarlySync` made them and their folder entries durable already.

    Objects are written without a per-file fsync (0.7 ms each adds up over thousands of chunks);
    one parallel pass makes them durable before a ref can point at them.
    """
    if not paths:
        return
    if len(paths) >= SYNCFS_MIN_FILES and _syncfs_all(paths):
        return
    from concurrent.futures import ThreadPoolExecutor

    def sync(path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            _fsync(path)

    done = set(synced)
    left = [p for p in paths if p not in done]
    if not left:
        return  # (each fsync, even of a clean folder, costs the disk a cache flush)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(sync, left))
        list(pool.map(fsync_dir, {p.parent for p in left}))


class EarlySync:
    """fsyncs files one by one as they are written, on a thread of its own, so that the last
    step of a commit (every object durable before a ref names it) finds them done. A commit
    decodes and hashes on both cores meanwhile; the disk, and this thread, would otherwise wait
    for the end: 15-30 ms of a 5M-row edit's commit. Only the first ``most`` files are taken:
    past that many, one syncfs at the end does better (`SYNCFS_MIN_FILES`)."""

    def __init__(self, most: int = SYNCFS_MIN_FILES - 1) -> None:
        import queue

        self._queue: queue.SimpleQueue[Path | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._taken = 0
        self._most = most
        self._synced: list[Path] = []
        self._error: OSError | None = None

    def add(self, path: Path) -> None:
        """Sync ``path`` soon (callers hold one lock: this is not thread-safe by itself)."""
        if self._taken >= self._most:
            return
        self._taken += 1
        if self._thread is None:
            # A daemon: a commit given up before `stop` must not keep the process alive.
            self._thread = threading.Thread(target=self._run, name="datakeep-sync", daemon=True)
            self._thread.start()
        self._queue.put(path)

    def _run(self) -> None:
        while (path := self._queue.get()) is not None:
            if self._error is not None:
                continue
            try:
                _fsync(path)
                # Its folder too, after it: every entry made before then is durable, so the
                # final pass need not sync folders whose files were all synced here.
                fsync_dir(path.parent)
            except FileNotFoundError:
                continue  # removed meanwhile (a commit given up): nothing to make durable
            except OSError as exc:
                self._error = exc  # raised by `synced_files`: the commit must not land
                continue
            self._synced.append(path)

    def stop(self) -> None:
        """Wait for the files given so far to be synced (or to fail), and end the thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def synced_files(self) -> list[Path]:
        """The files synced with their folder entries, once `stop` has waited for them; raises
        what an fsync raised."""
        if self._error is not None:
            raise self._error
        return self._synced


_temp_serial = itertools.count()


#: The names `_create_temp` gives: prefix, up to 12 characters of the target's name, pid, thread, serial.
_TEMP_NAME = re.compile(re.escape(TEMP_PREFIX) + r".{1,12}-\d+-\d+-\d+(\.\w+)?")


def is_temp_name(name: str) -> bool:
    """Whether ``name`` is one datakeep gives its temp files (not a user's own `.tmp-notes`)."""
    return _TEMP_NAME.fullmatch(name) is not None


def temp_name(path: Path, suffix: str = "") -> Path:
    """A temp path beside ``path`` no other write of this process is using (not created)."""
    serial = next(_temp_serial)
    return path.parent / f"{TEMP_PREFIX}{path.name[:12]}-{os.getpid()}-{threading.get_ident()}-{serial}{suffix}"


def _create_temp(path: Path, suffix: str = "") -> tuple[int, Path]:
    """A new temp file beside ``path``, named for this process, thread and write: cheaper than
    tempfile.mkstemp's random names (a tenth of storing a small object, and importing tempfile
    costs a commit 20 ms). The folder is made only when missing, which spares a syscall per
    object; a name left by a killed process whose pid came round again is skipped."""
    made_folder = False
    while True:
        tmp = temp_name(path, suffix)
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), tmp
        except FileNotFoundError:
            if made_folder:
                # The folder exists and still takes no new file (/proc does this): asking again
                # would spin forever.
                raise
            path.parent.mkdir(parents=True, exist_ok=True)
            made_folder = True
        except FileExistsError:
            continue


@contextlib.contextmanager
def naming(path: Path | str) -> Iterator[None]:
    """Re-raise an OSError that names no file (pyarrow's writers; a write or fsync through a
    descriptor) as the same error naming ``path``, the file being written: "No space left on
    device" alone leaves the user to guess which disk is full."""
    try:
        yield
    except OSError as exc:
        if exc.filename is not None or not exc.errno:
            raise
        # pyarrow's text is "Error writing bytes to file. Detail: [errno 28] ...": the
        # system's own words for the errno say it once. The subclass follows the errno.
        raise OSError(exc.errno, os.strerror(exc.errno), str(path)) from exc


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644, durable: bool = True) -> None:
    """Write ``data`` to ``path`` via temp file + fsync + rename."""
    fd, tmp = _create_temp(path)
    try:
        with naming(path), os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        fsync_dir(path.parent)


def exclusive_write(path: Path, data: bytes, *, mode: int = 0o644) -> bool:
    """Write ``path`` only if it does not exist (True when this call made it), never half: the
    bytes go to a temp file that is hard-linked into place (the link fails if ``path`` exists).
    Where hard links are not supported, an exclusive create written in place."""
    fd, tmp = _create_temp(path)
    try:
        with naming(path), os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                raise
            return _create_in_place(path, data, mode)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    fsync_dir(path.parent)
    return True


def _create_in_place(path: Path, data: bytes, mode: int) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return False
    with naming(path), os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return True


@contextlib.contextmanager
def atomic_output(path: Path, *, durable: bool = True) -> Iterator[Path]:
    """Yield a temp path beside ``path``; on success it replaces ``path`` (for streamed writers)."""
    fd, tmp_path = _create_temp(path, path.suffix)
    os.close(fd)
    try:
        with naming(path):  # a streamed writer's disk-full error, pyarrow's too, names the file
            yield tmp_path
            if durable:
                with open(tmp_path, "rb+") as handle:
                    os.fsync(handle.fileno())
        os.chmod(tmp_path, 0o644)
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise
    if durable:
        fsync_dir(path.parent)


class FileLock:
    """An advisory lock (flock) on a file: exclusive, or ``shared`` with other shared holders.

    flock is released by the kernel when its holder dies, so a commit killed with SIGKILL never
    leaves a stale lock behind (a pid file would).
    """

    def __init__(self, path: Path, *, timeout: float = 10.0, shared: bool = False, busy: str = "") -> None:
        self.path = path
        self.timeout = timeout
        self.shared = shared
        self.busy = busy  # what holds the lock when it is busy, for the error; LockedError's default
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.timeout
        try:
            while True:
                try:
                    fcntl.flock(fd, (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    if time.monotonic() >= deadline:
                        raise LockedError(str(self.path), self.timeout, self.busy) from None
                    time.sleep(0.05)
        except BaseException:  # Ctrl-C while waiting too: no descriptor left open behind us
            os.close(fd)
            raise
        if not self.shared:  # shared holders would overwrite each other's pid
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def remove_empty_parents(path: Path, stops: Collection[Path]) -> None:
    """Remove the folders above ``path`` that are left empty, up to the first of ``stops`` (kept),
    as git does when it deletes a file: a folder kept only for what was removed misleads."""
    parent = path.parent
    while parent not in stops and parent.is_dir() and not any(parent.iterdir()):
        parent.rmdir()
        parent = parent.parent


#: (size, mtime_ns, inode, ctime_ns): what the stat cache compares, like git's index.
Signature = tuple[int, int, int, int]


def file_signature(path: Path) -> Signature:
    """The file's `Signature`. The change time is in it as in git's index: a file rewritten in
    place to the same size with its mtime restored (`cp -p`, `rsync -a --inplace`, `touch -r`,
    a backup restored) keeps size, mtime and inode, and was trusted as unchanged, so its new
    content was never committed. Setting the mtime back sets the change time forward."""
    st = path.stat()
    return (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)


def still_matches(path: Path, signature: Signature) -> bool:
    """Whether ``path`` still has ``signature``: not written to, replaced or removed since."""
    try:
        return file_signature(path) == signature
    except FileNotFoundError:
        return False


def seconds_from_env(variable: str, default: float) -> float:
    """A number of seconds from environment ``variable`` (``default`` when unset), read when it
    is needed, so a mistyped value is an error that says so (read at import, it was "unexpected
    ValueError ... a bug")."""
    text = os.environ.get(variable)
    if text is None:
        return default
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:  # also NaN
        raise UsageError(
            f"{variable}={text!r} is not a number of seconds",
            f"set it to a number such as 30, or unset it for the default of {default:g}",
        )
    return seconds
