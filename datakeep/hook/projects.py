"""Which project a staged file belongs to, and what that project's configuration is as the
commit records it.

A file follows the nearest `datakeep.yaml` above it, up to the top of its git work tree (a
monorepo may hold several projects). Its rules, schemas and mappings are read as staged: an
unstaged edit that loosens a schema must not let staged data through. A staged change to them
brings in the tracked files they govern.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from datakeep.errors import UsageError
from datakeep.hook import gitutil
from datakeep.schemas import RULES_FILE, SCHEMAS_DIR, SOURCES_DIR, Rules


def is_config_file(relative: str) -> bool:
    """True for a project's rules, schema and mapping files (``relative`` to the project)."""
    if relative == RULES_FILE:
        return True
    parts = PurePosixPath(relative).parts
    return relative.endswith(".yaml") and (
        (len(parts) == 2 and parts[0] == SCHEMAS_DIR) or (len(parts) == 3 and parts[:2] == (SCHEMAS_DIR, SOURCES_DIR))
    )


def by_project(paths: list[str], top: Path | None) -> dict[Path | None, list[str]]:
    """The given paths grouped by their project: the nearest folder from each file's own up to
    the git top (the filesystem's root outside git) that holds `datakeep.yaml`."""
    found: dict[Path, Path | None] = {}
    groups: dict[Path | None, list[str]] = {}
    for path in paths:
        folder = Path(os.path.abspath(path)).parent
        if folder not in found:
            found[folder] = project_of(folder, top)
        groups.setdefault(found[folder], []).append(path)
    return groups


def project_of(folder: Path, top: Path | None) -> Path | None:
    for candidate in (folder, *folder.parents):
        if (candidate / RULES_FILE).is_file():
            return candidate
        if top is not None and candidate == top:
            return None  # a datakeep.yaml above the work tree belongs to something else
    return None


def refuse_without_rules(paths: list[str], top: Path | None) -> None:
    """No datakeep.yaml governs any of ``paths``: in a repository that has none anywhere, the
    hook would pass everything, silently. That is a setup mistake, said as one."""
    if top is not None and gitutil.any_file_named(top, RULES_FILE):
        return  # a monorepo: these files lie outside every project
    where = f"the top of the repository ({top})" if top is not None else "the project folder"
    misnamed = next((p for p in (top or Path(".")).glob("datakeep.y*ml") if p.name != RULES_FILE), None)
    hint = f"rename {misnamed.name} to {RULES_FILE}" if misnamed else f"write {RULES_FILE} at {where}"
    raise UsageError(
        f"no {RULES_FILE} names a schema for {paths[0]}"
        + (f" or {len(paths) - 1} other file(s)" if len(paths) > 1 else "")
        + ", so the hook cannot check them",
        f"{hint} (see docs/precommit.md), or remove the hook",
    )


def relative(root: Path, path: str) -> str | None:
    """``path`` relative to ``root`` in posix form, or None when it lies outside ``root``."""
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
    if rel == ".." or rel.startswith(".." + os.sep):
        return None
    return PurePosixPath(Path(rel)).as_posix()


def top_path(top: Path, path: str) -> str:
    """``path`` relative to the top of the work tree, in posix form (as git names it)."""
    return PurePosixPath(Path(os.path.relpath(os.path.abspath(path), top))).as_posix()


@contextmanager
def staged_configuration(
    project: Path, top: Path | None, unstaged: set[str], git_dir: Path | None
) -> Iterator[tuple[Path, list[str]]]:
    """(the folder to load rules, schemas and mappings from, the files read staged): ``project``
    itself, or a copy of its configuration holding the staged version of each file whose working
    copy differs (``unstaged``, top-relative), when one does."""
    if top is None or git_dir is None or not unstaged:
        yield project, []
        return
    prefix = top_path(top, str(project / RULES_FILE))[: -len(RULES_FILE)]
    differing = [p for p in unstaged if p.startswith(prefix) and is_config_file(p[len(prefix) :])]
    if not differing:
        yield project, []
        return
    # Inside the git folder, so an error in a staged schema names a path that says so.
    with tempfile.TemporaryDirectory(prefix="datakeep-staged-config-", dir=git_dir) as tmp:
        view = Path(tmp)
        if (project / RULES_FILE).is_file():
            shutil.copyfile(project / RULES_FILE, view / RULES_FILE)
        if (project / SCHEMAS_DIR).is_dir():
            shutil.copytree(project / SCHEMAS_DIR, view / SCHEMAS_DIR)
        staged = []
        for path in differing:
            dest = view / path[len(prefix) :]
            dest.parent.mkdir(parents=True, exist_ok=True)
            gitutil.write_staged_copy(top, path, dest)  # listed: so the index has it
            staged.append(os.path.relpath(top / path))
        yield view, staged


def governed(project: Path, top: Path | None, rules: Rules, paths: list[str]) -> list[str]:
    """The git-tracked files of ``project`` whose rules, schema or mapping is among ``paths``
    (a change to them can fail data the commit does not touch), relative to here."""
    changed = {rel for p in paths if (rel := relative(project, p)) is not None and is_config_file(rel)}
    if not changed or top is None:
        return []
    everything = RULES_FILE in changed
    entities = {PurePosixPath(c).stem for c in changed if c.count("/") == 1}
    sources = {PurePosixPath(c).stem for c in changed if c.count("/") == 2}
    found = []
    for tracked in gitutil.tracked_files(top):
        path = os.path.relpath(top / tracked)
        rel = relative(project, path)
        match = rules.match(rel) if rel is not None else None
        if match is not None and (everything or match[0] in entities or match[1] in sources):
            found.append(path)
    return found
