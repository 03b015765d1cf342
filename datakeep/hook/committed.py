"""The optional second hook: refuse a git commit of a data file whose datakeep dataset has
changes not yet committed to datakeep, so git history never points at data datakeep cannot
restore.

It reads the datakeep repository's own status (`datakeep.api`), which compares each tracked
dataset's working copy with datakeep's HEAD; files outside every tracked dataset pass.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from datakeep.errors import EXIT_NO, EXIT_OK, NotARepositoryError
from datakeep.hook.run import is_data_file

# Dataset states that mean "the working copy is not what datakeep last committed".
UNCOMMITTED_STATES = ("modified", "new")


@dataclass(frozen=True, slots=True, kw_only=True)
class UncommittedFile:
    """A staged file inside a tracked dataset whose working copy datakeep has not committed."""

    path: str  # as given to the hook
    dataset: str
    state: str  # "modified" or "new"


@dataclass(frozen=True, slots=True, kw_only=True)
class CommittedResult:
    """The staged data files checked and the ones that datakeep has not committed."""

    checked: int
    uncommitted: tuple[UncommittedFile, ...]

    @property
    def exit_code(self) -> int:
        return EXIT_NO if self.uncommitted else EXIT_OK


def check_committed(files: Iterable[str], root: str | Path = ".") -> CommittedResult:
    """Find staged data files whose datakeep dataset has uncommitted changes.

    Args:
        files: Staged paths, relative to the current folder.
        root: Any folder inside the datakeep repository.

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
    pending = [s for s in dataset_status(repo) if s.state in UNCOMMITTED_STATES and s.path]
    found = []
    for path in data:
        absolute = os.path.abspath(path)
        for status in pending:
            dataset_path = os.path.abspath(repo.root / status.path)
            # A dataset is a file or a folder of part files (hive partitions included).
            if absolute == dataset_path or absolute.startswith(dataset_path + os.sep):
                found.append(UncommittedFile(path=path, dataset=status.name, state=status.state))
                break
    return CommittedResult(checked=len(data), uncommitted=tuple(found))


def render_committed(result: CommittedResult) -> str:
    """One line per offending file and what to run; empty when all is well."""
    if not result.uncommitted:
        return ""
    lines = [f"UNCOMMITTED  {u.path}  (dataset {u.dataset} is {u.state} in datakeep)" for u in result.uncommitted]
    lines.append('commit the data to datakeep first: datakeep commit -m "..."')
    return "\n".join(lines)
