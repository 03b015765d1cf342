"""The few git plumbing calls the hook needs, each one `git` process with its exit status checked.

Every call inherits the environment on purpose: inside a hook git sets ``GIT_INDEX_FILE`` (a
temporary index for `git commit -a` or `git commit PATH`), and the staged files are only right
when read through that index.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from datakeep.errors import DatakeepError


class GitCommandError(DatakeepError):
    """A git command the hook needs failed, or git is not installed (exit 2)."""

    def __init__(self, args: list[str], detail: str) -> None:
        super().__init__(
            f"`git {' '.join(args)}` failed: {detail}",
            "run the hook inside a git work tree, with git on PATH",
        )
        self.args_ = args
        self.detail = detail


def git(root: Path, *args: str) -> bytes:
    """Run ``git ARGS`` in ``root`` and return its standard output."""
    try:
        proc = subprocess.run(["git", *args], cwd=root, capture_output=True, check=False)
    except FileNotFoundError as exc:
        raise GitCommandError(list(args), "git is not installed") from exc
    if proc.returncode != 0:
        detail = proc.stderr.decode(errors="replace").strip() or f"exit status {proc.returncode}"
        raise GitCommandError(list(args), detail)
    return proc.stdout


def locate(root: Path, name: str) -> tuple[Path, Path] | None:
    """(top of the work tree, absolute ``--git-path NAME``), or None outside a work tree.

    One `git rev-parse` for both answers: the hook runs on every commit, and each git process
    costs a few milliseconds.
    """
    args = ["git", "rev-parse", "--is-inside-work-tree", "--show-toplevel", "--git-path", name]
    try:
        proc = subprocess.run(args, cwd=root, capture_output=True, check=False)
    except FileNotFoundError:
        return None
    lines = proc.stdout.decode(errors="surrogateescape").splitlines()
    if proc.returncode != 0 or len(lines) != 3 or lines[0] != "true":
        return None
    return Path(lines[1]), (root / lines[2]).absolute()


def toplevel(root: Path) -> Path:
    """The top folder of the work tree that holds ``root``."""
    return Path(os.fsdecode(git(root, "rev-parse", "--show-toplevel").rstrip(b"\n")))


def git_path(root: Path, name: str) -> Path:
    """Absolute ``$(git rev-parse --git-path NAME)``; honours ``core.hooksPath`` for "hooks"."""
    out = os.fsdecode(git(root, "rev-parse", "--git-path", name).rstrip(b"\n"))
    # git prints the path relative to the folder it ran in unless it is absolute.
    return (root / out).absolute()


def _nul_list(out: bytes) -> list[str]:
    return [os.fsdecode(item) for item in out.split(b"\0") if item]


def staged_files(root: Path) -> list[str]:
    """Files added, copied, modified or changed in type (a symlink replaced by a file) in the
    index, relative to the top of the work tree."""
    # --no-renames: a renamed file then counts as added, so a file moved (and perhaps edited)
    # into a folder whose rule names a schema is still checked; `R` would otherwise hide it.
    args = ("diff", "--cached", "--name-only", "--diff-filter=ACMT", "--no-renames", "-z")
    return _nul_list(git(root, *args))


def staged_deletions(root: Path) -> list[str]:
    """Files the index deletes (relative to the top of the work tree): a schema a commit removes
    changes what the data it governed is checked against."""
    return _nul_list(git(root, "diff", "--cached", "--name-only", "--diff-filter=D", "--no-renames", "-z"))


def tracked_files(root: Path) -> list[str]:
    """Every file in the index, relative to the top of the work tree."""
    return _nul_list(git(root, "ls-files", "--cached", "-z"))


def files_named(root: Path, name: str) -> list[Path]:
    """Every file called ``name`` in the work tree, tracked or not (ignored files aside)."""
    out = git(root, "ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", name, f"*/{name}")
    # The index may still list a file deleted or renamed in the work tree.
    return [root / path for path in dict.fromkeys(_nul_list(out)) if (root / path).is_file()]


def any_file_named(root: Path, name: str) -> bool:
    """True when a file called ``name`` exists anywhere in the work tree, tracked or not."""
    return bool(files_named(root, name))


def unstaged_paths(root: Path) -> set[str]:
    """Tracked files whose working copy differs from the index (top-relative paths)."""
    # One walk of the index (stat checks; content only for changed stats) beats one call per file.
    return set(_nul_list(git(root, "diff", "--name-only", "--no-renames", "-z")))


def write_staged_copy(top: Path, path: str, dest: Path) -> None:
    """Write the staged content of ``path`` to ``dest``, through the work tree's filters.

    ``--filters`` applies smudge filters and end-of-line conversion, so a Git LFS file or a CSV
    under ``core.autocrlf`` reads the way it would be checked out, not as a pointer or raw blob.
    """
    with open(dest, "wb") as out:
        try:
            proc = subprocess.run(
                ["git", "cat-file", "--filters", f":{path}"],
                cwd=top,
                stdout=out,
                stderr=subprocess.PIPE,
                check=False,
            )
        except FileNotFoundError as exc:
            raise GitCommandError(["cat-file"], "git is not installed") from exc
    if proc.returncode != 0:
        raise GitCommandError(["cat-file", "--filters", f":{path}"], proc.stderr.decode(errors="replace").strip())
