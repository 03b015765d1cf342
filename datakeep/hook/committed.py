"""The optional second hook: refuse a git commit of a data file whose datakeep dataset has
changes not yet committed to datakeep, so git history never points at data datakeep cannot
restore.

It reads the datakeep repository's own status, which compares each tracked dataset's working
copy with datakeep's HEAD; a file whose working copy differs from the git index is judged by its
staged version instead (what the git commit records). Files outside every tracked dataset pass.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from datakeep.errors import EXIT_NO, EXIT_OK, NotARepositoryError
from datakeep.hook import gitutil
from datakeep.hook.run import is_data_file

if TYPE_CHECKING:
    from datakeep.repo import Repository
    from datakeep.worktree import DatasetStatus

# Dataset states that mean "the working copy is not what datakeep last committed".
UNCOMMITTED_STATES = ("modified", "new")


@dataclass(frozen=True, slots=True, kw_only=True)
class UncommittedFile:
    """A staged file inside a tracked dataset whose working copy datakeep has not committed."""

    path: str  # as given to the hook
    dataset: str
    state: str  # "modified", "new" or STAGED_NOT_AT_HEAD


@dataclass(frozen=True, slots=True, kw_only=True)
class CommittedResult:
    """The staged data files checked and the ones that datakeep has not committed."""

    checked: int
    uncommitted: tuple[UncommittedFile, ...]

    @property
    def exit_code(self) -> int:
        return EXIT_NO if self.uncommitted else EXIT_OK


def check_committed(files: Iterable[str], root: str | Path = ".", *, staged_content: bool = True) -> CommittedResult:
    """Find staged data files whose datakeep dataset has uncommitted changes.

    Args:
        files: Staged paths, relative to the current folder.
        root: Any folder inside the datakeep repository.
        staged_content: Judge what the git commit records: a file whose working copy differs
            from the git index is judged by its staged version, which must be the version
            datakeep's HEAD holds (the working copy may be newer, or the older one).

    Returns:
        Every offending file; none when there is no datakeep repository at all.
    """
    data = [f for f in dict.fromkeys(files) if is_data_file(f)]
    if not data:
        return CommittedResult(checked=0, uncommitted=())
    # pyarrow loads only when there is data to ask about.
    from datakeep.repo import Repository
    from datakeep.worktree import status as dataset_status

    try:
        repo = Repository.discover(root)
    except NotARepositoryError:
        return CommittedResult(checked=len(data), uncommitted=())
    statuses = [s for s in dataset_status(repo) if s.path]
    where = gitutil.locate(repo.root, "index") if staged_content else None
    unstaged = gitutil.unstaged_paths(where[0]) if where else set()
    found = []
    for path in data:
        absolute = os.path.abspath(path)
        status = _dataset_of(repo.root, statuses, absolute)
        if status is None:
            continue
        top_path = PurePosixPath(Path(os.path.relpath(absolute, where[0]))).as_posix() if where else ""
        if top_path in unstaged:
            assert where is not None
            if not _staged_is_at_head(repo, status, absolute, where[0], top_path):
                found.append(UncommittedFile(path=path, dataset=status.name, state=STAGED_NOT_AT_HEAD))
        elif status.state in UNCOMMITTED_STATES:
            found.append(UncommittedFile(path=path, dataset=status.name, state=status.state))
    return CommittedResult(checked=len(data), uncommitted=tuple(found))


#: The state of a file whose staged version differs from its working copy and from datakeep's HEAD.
STAGED_NOT_AT_HEAD = "staged"


def _dataset_of(root: Path, statuses: list[DatasetStatus], absolute: str) -> DatasetStatus | None:
    """The tracked dataset a file belongs to: the file itself, or a folder holding it (hive
    partitions included)."""
    for status in statuses:
        dataset_path = os.path.abspath(root / status.path)
        if absolute == dataset_path or absolute.startswith(dataset_path + os.sep):
            return status
    return None


def _staged_is_at_head(repo: Repository, status: DatasetStatus, absolute: str, top: Path, top_path: str) -> bool:
    """True when the staged version of a dataset's file is the version datakeep's HEAD holds."""
    from datakeep.errors import InputDataError
    from datakeep.snapshot import hash_file

    head = repo.head()
    at_head = repo.commit_at(head).datasets.get(status.name) if head else None
    if at_head is None:
        return False
    dataset_path = os.path.abspath(repo.root / status.path)
    inner = os.path.basename(absolute) if absolute == dataset_path else os.path.relpath(absolute, dataset_path)
    inner = PurePosixPath(Path(inner)).as_posix()
    held = next((f.id for f in repo.manifest_at(at_head.manifest).files if f.path == inner), None)
    if held is None:
        return False
    with tempfile.TemporaryDirectory(prefix="datakeep-hook-") as tmp:
        copy = Path(tmp) / os.path.basename(absolute)
        gitutil.write_staged_copy(top, top_path, copy)
        try:
            staged_id, _, _ = hash_file(copy, repo.config.encoding)
        except InputDataError:
            return False  # not Parquet datakeep can read: certainly not what it committed
    return staged_id == held


def render_committed(result: CommittedResult) -> str:
    """One line per offending file and what to run; empty when all is well."""
    if not result.uncommitted:
        return ""
    lines = [
        f"UNCOMMITTED  {u.path}  (its staged version is not what datakeep's HEAD holds for dataset {u.dataset})"
        if u.state == STAGED_NOT_AT_HEAD
        else f"UNCOMMITTED  {u.path}  (dataset {u.dataset} is {u.state} in datakeep)"
        for u in result.uncommitted
    ]
    lines.append('commit the data to datakeep first: datakeep commit -m "..."')
    return "\n".join(lines)
