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
from collections.abc import Iterator, Sequence
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


def shared_configuration(paths: list[str], top: Path) -> dict[Path, list[str]]:
    """Of ``paths`` (outside every project), the ones that are a project's configuration through
    a symlink (a schemas/ folder shared by projects), by project: a staged change to them is that
    project's schema change."""
    candidates = {top_path(top, os.path.realpath(p)): p for p in paths if p.endswith(".yaml")}
    if not candidates:
        return {}
    out: dict[Path, list[str]] = {}
    for rules_file in gitutil.files_named(top, RULES_FILE):
        project = rules_file.parent
        for real in configuration_files(project, top):
            if real in candidates:
                out.setdefault(project, []).append(candidates[real])
    return out


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


def deleted_configuration(top: Path) -> dict[Path, list[str]]:
    """Per project, its schema and mapping files the index deletes (relative to here). A commit
    deleting the last `datakeep.yaml` the index holds is refused: nothing would be checked from
    then on, silently (`--no-verify` commits it anyway)."""
    out: dict[Path, list[str]] = {}
    deletions = gitutil.staged_deletions(top)
    rules_kept = any(
        p == RULES_FILE or p.endswith("/" + RULES_FILE) for p in (gitutil.tracked_files(top) if deletions else ())
    )
    for deleted in deletions:
        path = top / deleted
        if path.name == RULES_FILE and not rules_kept:  # moved into a subfolder is fine: it still governs
            where = "the repository" if path.parent == top else os.path.relpath(path.parent)
            raise UsageError(
                f"this commit deletes {os.path.relpath(path)}: the hook would check nothing in {where} from then on",
                f"keep it (`git restore --staged --worktree {os.path.relpath(path)}`), or commit with "
                "--no-verify if datakeep should stop checking this project",
            )
        project = project_of(path.parent, top)
        rel = relative(project, str(path)) if project is not None else None
        if project is not None and rel is not None and is_config_file(rel):
            out.setdefault(project, []).append(os.path.relpath(path))
    return out


@contextmanager
def staged_configuration(
    project: Path, top: Path | None, unstaged: set[str], git_dir: Path | None, deleted: Sequence[str] = ()
) -> Iterator[tuple[Path, list[str]]]:
    """(the folder to load rules, schemas and mappings from, the files read staged): ``project``
    itself, or a copy of its configuration holding the staged version of each file whose working
    copy differs (``unstaged``, top-relative) and without those the index deletes (``deleted``,
    relative to here: a `git rm --cached` leaves the file on disk), when one does."""
    if top is None or git_dir is None or not (unstaged or deleted):
        yield project, []
        return
    # Each configuration file by where git keeps it: through a symlinked schemas/ (a shared
    # schema folder) the index holds the target's path, not the project's.
    differing = {rel: real for real, rel in configuration_files(project, top).items() if real in unstaged}
    if not differing and not deleted:
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
        for rel, real in differing.items():
            dest = view / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            gitutil.write_staged_copy(top, real, dest)  # listed: so the index has it
            staged.append(os.path.relpath(top / real))
        for path in deleted:
            gone = view / os.path.relpath(os.path.abspath(path), project)
            gone.unlink(missing_ok=True)
            staged.append(f"{path} (deleted)")
        yield view, staged


def configuration_files(project: Path, top: Path) -> dict[str, str]:
    """The project's rules, schema and mapping files: {the path git knows it by (top-relative,
    symlinks resolved), its path in the project}."""
    found = [project / RULES_FILE, *(project / SCHEMAS_DIR).glob("*.yaml")]
    found += (project / SCHEMAS_DIR / SOURCES_DIR).glob("*.yaml")
    out = {}
    real_top = top.resolve()
    for path in found:
        if not path.is_file():
            continue
        real = path.resolve()
        if real == real_top or real_top in real.parents:  # one kept outside the work tree: git has no say
            out[real.relative_to(real_top).as_posix()] = path.relative_to(project).as_posix()
    return out


def governed(project: Path, top: Path | None, rules: Rules, paths: list[str]) -> list[str]:
    """The git-tracked files of ``project`` whose rules, schema or mapping is among ``paths``
    (a change to them can fail data the commit does not touch), relative to here."""
    if top is None:
        return []
    through = configuration_files(project, top)  # a staged shared/schemas/x.yaml is this one's
    changed = {rel for p in paths if (rel := relative(project, p)) is not None and is_config_file(rel)}
    changed |= {through[real] for p in paths if (real := top_path(top, os.path.realpath(p))) in through}
    if not changed:
        return []
    everything = RULES_FILE in changed
    entities = {PurePosixPath(c).stem for c in changed if c.count("/") == 1}
    sources = {PurePosixPath(c).stem for c in changed if c.count("/") == 2}
    found = []
    owners: dict[Path, Path | None] = {}
    for tracked in gitutil.tracked_files(top):
        path = os.path.relpath(top / tracked)
        rel = relative(project, path)
        if rel is None:
            continue
        folder = Path(os.path.abspath(path)).parent
        if folder not in owners:
            owners[folder] = project_of(folder, top)
        if owners[folder] != project:
            continue  # a project nested inside this one governs its own files
        match = rules.match(rel)
        if match is not None and (everything or match[0] in entities or match[1] in sources):
            found.append(path)
    return found
