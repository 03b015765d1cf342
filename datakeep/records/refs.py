"""Refs: HEAD, branches and tags, each a small file naming a commit.

Refs change only while the repository lock is held, and only by compare-and-swap: the caller
says what it expects the ref to name now, so a concurrent writer is detected, never overwritten.
"""

from __future__ import annotations

import re
from pathlib import Path

from datakeep.errors import DamagedLocalRefError, DatakeepError, InvalidIdError, RefConflictError
from datakeep.fsutil import atomic_write, remove_empty_parents
from datakeep.ids import ObjectId, object_id

HEADS = "refs/heads"
TAGS = "refs/tags"
REMOTES = "refs/remotes"
DEFAULT_BRANCH = "main"
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")


def check_ref_name(name: str, what: str = "branch") -> str:
    bad = (
        not _NAME_RE.fullmatch(name)
        or ".." in name
        or "//" in name
        or name.endswith((".", "/", ".lock"))
        or name in ("HEAD",)
    )
    if bad:
        raise DatakeepError(
            f"'{name}' is not a valid {what} name",
            "use letters, digits, '.', '_', '-' and '/' (no '..', no leading '-')",
        )
    return name


class Refs:
    def __init__(self, root: Path) -> None:
        self.root = root  # the .datakeep folder

    # -- reading --------------------------------------------------------------------------
    def _read(self, relative: str) -> str | None:
        """The text of the ref file ``relative``, None when there is none; a file that is not
        text, or a folder where the file should be, is damaged (never "no commits yet")."""
        path = self.root / relative
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise DamagedLocalRefError(path, "is a folder, not a ref file", _repair_hint(relative)) from None
        try:
            return raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise DamagedLocalRefError(path, f"holds {raw[:40]!r}, not a commit id", _repair_hint(relative)) from None

    def _commit_id(self, relative: str, value: str) -> ObjectId:
        """``value``, read from the ref file ``relative``, as a commit id; a clear error naming
        the file when it holds anything else (truncated, emptied, overwritten by hand). An empty
        file is damage too: taken for a branch without commits, the next commit would start a
        new history over the old one, and gc then delete it."""
        try:
            return object_id(value)
        except InvalidIdError:
            raise DamagedLocalRefError(
                self.root / relative, f"holds {value[:40]!r}, not a commit id", _repair_hint(relative)
            ) from None

    def head_target(self) -> tuple[str | None, ObjectId | None]:
        """(branch HEAD is attached to or None when detached, the commit HEAD names or None)."""
        raw = self._read("HEAD")
        if raw is None:
            # A clone stopped before it wrote one; but beside another branch, HEAD may have been on
            # it, and taking main would put the next commit on the wrong line.
            if any(name != DEFAULT_BRANCH for name in self.list(HEADS, skip_damaged=True)):
                raise DamagedLocalRefError(self.root / "HEAD", "is missing", _repair_hint("HEAD"))
            raw = f"ref: {HEADS}/{DEFAULT_BRANCH}"
        if not raw:
            # Written whole, HEAD is never empty: emptied, the branch it was on is not known.
            raise DamagedLocalRefError(self.root / "HEAD", "is empty", _repair_hint("HEAD"))
        if raw.startswith("ref: "):
            ref = raw[5:]
            branch = ref[len(HEADS) + 1 :]
            if not ref.startswith(HEADS + "/") or not _NAME_RE.fullmatch(branch) or ".." in branch:
                raise DamagedLocalRefError(
                    self.root / "HEAD", f"holds {raw[:60]!r}, not a branch or a commit id", _repair_hint("HEAD")
                )
            value = self._read(ref)
            return branch, self._commit_id(ref, value) if value is not None else None
        return None, self._commit_id("HEAD", raw)

    def get(self, ref: str) -> ObjectId | None:
        try:
            value = self._read(ref)
            return self._commit_id(ref, value) if value is not None else None
        except DamagedLocalRefError:
            if ref.startswith(REMOTES + "/"):
                # A remote branch only remembers what the remote said: damaged, it is as good as
                # absent, and the next pull or push writes it again (fsck still lists it).
                return None
            raise

    def branch(self, name: str) -> ObjectId | None:
        return self.get(f"{HEADS}/{name}")

    def tag(self, name: str) -> ObjectId | None:
        return self.get(f"{TAGS}/{name}")

    def list(self, kind: str, *, skip_damaged: bool = False) -> dict[str, ObjectId]:
        """The refs of ``kind`` (branches, tags, remote branches) by name; a damaged one raises,
        or with ``skip_damaged`` is left out (labels in `log`, which must work to repair it)."""
        folder = self.root / kind
        out: dict[str, ObjectId] = {}
        if folder.is_dir():
            for path in sorted(folder.rglob("*")):
                if path.is_file() and not path.name.startswith(".tmp-"):
                    name = path.relative_to(folder).as_posix()
                    try:
                        out[name] = self._commit_id(f"{kind}/{name}", self._read(f"{kind}/{name}") or "")
                    except DamagedLocalRefError:
                        if not skip_damaged and kind != REMOTES:  # see `get`
                            raise
        return out

    def damaged(self) -> tuple[DamagedLocalRefError, ...]:
        """Every damaged ref (HEAD, branches, tags, remote branches), each with its repair."""
        found = []
        try:
            self.head_target()
        except DamagedLocalRefError as exc:
            found.append(exc)
        for kind in (HEADS, TAGS, REMOTES):
            folder = self.root / kind
            if not folder.is_dir():
                continue
            for path in sorted(folder.rglob("*")):
                if path.is_file() and not path.name.startswith(".tmp-"):
                    relative = f"{kind}/{path.relative_to(folder).as_posix()}"
                    try:
                        self._commit_id(relative, self._read(relative) or "")
                    except DamagedLocalRefError as exc:
                        found.append(exc)
        return tuple(found)

    def all_targets(self) -> set[ObjectId]:
        """Every commit any ref names: the roots that gc keeps."""
        targets = set(self.list(HEADS).values()) | set(self.list(TAGS).values()) | set(self.list(REMOTES).values())
        _, head = self.head_target()
        if head:
            targets.add(head)
        return targets

    # -- writing (caller holds the repository lock) -----------------------------------------
    def update(self, ref: str, new: ObjectId, *, expected: ObjectId | None) -> None:
        current = self.get(ref)
        if current != expected:
            raise RefConflictError(ref, expected, current)
        path = self.root / ref
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()  # left by a deleted 'feature/x' before deletes tidied up after themselves
        atomic_write(path, (object_id(new) + "\n").encode())

    def delete(self, ref: str) -> None:
        path = self.root / ref
        path.unlink(missing_ok=True)
        # The folders 'feature/x' needed go with it, or no ref could be named 'feature' again.
        remove_empty_parents(path, {self.root, self.root / HEADS, self.root / TAGS, self.root / REMOTES})

    def set_head(self, *, branch: str | None = None, commit: ObjectId | None = None) -> None:
        if branch is not None:
            atomic_write(self.root / "HEAD", f"ref: {HEADS}/{branch}\n".encode())
        elif commit is not None:
            atomic_write(self.root / "HEAD", (object_id(commit) + "\n").encode())

    def advance_head(self, new: ObjectId, *, expected: ObjectId | None) -> None:
        """Move the branch HEAD is on (or HEAD itself when detached) from ``expected`` to ``new``."""
        branch, current = self.head_target()
        if current != expected:
            raise RefConflictError("HEAD", expected, current)
        if branch is None:
            self.set_head(commit=new)
        else:
            self.update(f"{HEADS}/{branch}", new, expected=expected)


def _repair_hint(relative: str) -> str:
    """How to mend a damaged ref, by its kind."""
    if relative == "HEAD":
        return f"write `ref: {HEADS}/{DEFAULT_BRANCH}` into it (or the branch you were on: `ls .datakeep/{HEADS}`)"
    if relative.startswith(TAGS + "/"):
        name = relative[len(TAGS) + 1 :]
        return (
            "write the commit id it named into it (`datakeep fsck` lists commits no ref names), "
            f"or `datakeep tag -d {name}`"
        )
    if relative.startswith(REMOTES + "/"):
        remote = relative[len(REMOTES) + 1 :].split("/", 1)[0]
        return f"`datakeep pull {remote}` writes it again, or delete the file"
    return (
        "write the commit id it named into it (`datakeep fsck` lists commits no ref names, newest first; "
        "`datakeep log TAG` shows the ids of a tag's history), or delete it to leave that branch without commits"
    )
