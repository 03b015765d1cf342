"""`run_hook`: validate the staged data files a commit is about to record.

The hook is called with file names only. Each data file is matched against the rules in
`datakeep.yaml` (glob → entity and source), validated unless an identical result is cached, and
summed up in a `HookResult` that the CLI renders to fit a terminal. pre-commit may split one
commit's files over several calls, so nothing here assumes it sees every file: each file's verdict
depends on that file, the rules and its schema alone.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from datakeep.errors import EXIT_ERROR, EXIT_NO, EXIT_OK, DatakeepError
from datakeep.hook import gitutil, projects
from datakeep.hook.cache import ResultCache, cache_key, content_hash, datakeep_version
from datakeep.schemas import RULES_FILE

# The suffixes that mark a file as data when no rule names it (`unmatched: fail` refuses those,
# `pass` lists them). A file a rule names is checked whatever its suffix (a `.txt` export). Other
# files are not the hook's business: it sees every staged file, README.md included.
DATA_SUFFIXES = (".parquet", ".pq", ".parq", ".csv", ".tsv")
# Problem lines kept per cached result: more than any terminal summary shows.
STORED_PROBLEMS = 20
CACHE_NAME = "datakeep-hook-cache"

Status = Literal["ok", "failed", "error", "unmatched"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FileResult:
    """The verdict on one file."""

    path: str  # as given to the hook
    status: Status  # "unmatched": no rule matched and `unmatched: pass` let it through
    entity: str | None = None
    source: str | None = None
    rows_checked: int = 0
    rows_failing: int = 0
    problem_count: int = 0
    problems: tuple[str, ...] = ()  # one line per problem, worst first, at most STORED_PROBLEMS
    detail: str = ""  # why a file failed without a report, or the error message
    cached: bool = False
    staged_copy: bool = False  # the staged version was checked; the working copy differs
    project: str = ""  # the folder of its datakeep.yaml, relative to where the hook ran ("" there)

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "unmatched")

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "status": self.status,
            "entity": self.entity,
            "source": self.source,
            "rows_checked": self.rows_checked,
            "rows_failing": self.rows_failing,
            "problem_count": self.problem_count,
            "problems": list(self.problems),
            "detail": self.detail,
            "cached": self.cached,
            "staged_copy": self.staged_copy,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class HookResult:
    """Every file's verdict, plus what the run cost (validations run, cache hits)."""

    files: tuple[FileResult, ...]
    validated: int  # files actually read and validated in this run
    cache_hits: int
    ignored: int  # staged files that are not data files
    cache_dir: Path | None = field(default=None, compare=False)
    at_top: bool = field(default=False, compare=False)  # ran at the top of a git work tree, as hooks do
    # Rules, schema and mapping files read in their staged version, the working copy differing.
    staged_config: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.files)

    @property
    def exit_code(self) -> int:
        """0 every file passed, 1 a file failed, 2 a file could not be checked at all."""
        if any(f.status == "error" for f in self.files):
            return EXIT_ERROR
        return EXIT_OK if self.ok else EXIT_NO

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "datakeep-hook-result",
            "version": 1,
            "ok": self.ok,
            "exit_code": self.exit_code,
            "validated": self.validated,
            "cache_hits": self.cache_hits,
            "ignored": self.ignored,
            "staged_config": list(self.staged_config),
            "files": [f.to_dict() for f in self.files],
        }


def is_data_file(path: str) -> bool:
    """True for the file types `datakeep validate` reads (by suffix, case-insensitive)."""
    return path.lower().endswith(DATA_SUFFIXES)


def staged_files(root: str | Path = ".") -> list[str]:
    """Files staged for the next commit (added, copied, modified, type changed), relative to
    ``root``."""
    root = Path(root)
    top = gitutil.toplevel(root)
    return [os.path.relpath(top / p, root.absolute()) for p in gitutil.staged_files(top)]


def tracked_files(root: str | Path = ".") -> list[str]:
    """Every file in the git index (what the next commit records), relative to ``root``."""
    root = Path(root)
    top = gitutil.toplevel(root)
    return [os.path.relpath(top / p, root.absolute()) for p in gitutil.tracked_files(top)]


def default_cache_dir(root: Path) -> Path | None:
    """``$(git rev-parse --git-path datakeep-hook-cache)``; outside git, ``.datakeep/hook-cache``
    if the project is a datakeep repository, else None (no cache).

    Under the git folder the cache is private to the clone and never shows up in `git status`.
    A `.datakeep/` folder is never created just for the cache: it would make the folder look like
    a datakeep repository.
    """
    where = gitutil.locate(root, CACHE_NAME)
    return where[1] if where else _datakeep_cache_dir(root)


def _datakeep_cache_dir(root: Path) -> Path | None:
    return root / ".datakeep" / "hook-cache" if (root / ".datakeep").is_dir() else None


def run_hook(
    files: Iterable[str],
    root: str | Path | None = None,
    *,
    use_cache: bool = True,
    cache_dir: Path | None = None,
    staged_content: bool = True,
    max_samples: int = 5,
) -> HookResult:
    """Validate the given files that the rules of their `datakeep.yaml` name.

    A file is checked when a rule names it, whatever its suffix; a Parquet or CSV file no rule
    names is ``unmatched`` (or ``failed`` under ``unmatched: fail``); anything else is ignored.
    A schema, mapping or rules file among ``files`` brings in every git-tracked file it governs,
    so a commit that tightens a schema is refused while data it already holds fails it.

    Args:
        files: Paths as git or pre-commit pass them (relative to the current folder).
        root: The project folder holding `datakeep.yaml` and `schemas/`. None: each file's
            own, the nearest folder above it holding `datakeep.yaml`, within its git work tree
            (a monorepo may hold several projects).
        use_cache: Reuse and store results keyed by content, schema fingerprint and version.
        cache_dir: Where results are cached (default: `default_cache_dir`).
        staged_content: Check what the commit records: the staged version of a file whose
            working copy differs from the index, against the staged rules, schemas and
            mappings (an unstaged edit to a schema must not let staged data through).
        max_samples: Sample rows kept per problem by the validator.

    Returns:
        One `FileResult` per data file, in the order given, then the files a staged schema
        change brought in.

    Raises:
        SchemaConfigError: `datakeep.yaml` itself cannot be used.
        UsageError: No `datakeep.yaml` governs a data file, and none exists in the repository.
    """
    paths = list(dict.fromkeys(files))  # a path given twice is checked once
    here = Path(root) if root is not None else Path(".")
    where = gitutil.locate(here, CACHE_NAME)
    top = where[0] if where else None
    # Schemas, mappings and rules the commit deletes: the data they governed is checked again.
    deleted = projects.deleted_configuration(top) if staged_content and top is not None else {}
    if not paths and not deleted:
        return HookResult(files=(), validated=0, cache_hits=0, ignored=0)
    groups: dict[Path | None, list[str]] = (
        {here.absolute(): paths} if root is not None else projects.by_project(paths, top)
    )
    for governing in deleted:
        groups.setdefault(governing, [])
    outside = groups.pop(None, [])
    if outside and top is not None:
        for governing, shared in projects.shared_configuration(outside, top).items():
            groups.setdefault(governing, []).extend(shared)
            outside = [p for p in outside if p not in shared]
    if outside and not groups and any(is_data_file(p) for p in outside):
        projects.refuse_without_rules(outside, top)
    cache = None
    if use_cache:
        directory = cache_dir or (where[1] if where else _datakeep_cache_dir(here))
        cache = ResultCache(directory) if directory is not None else None
    unstaged = gitutil.unstaged_paths(top) if staged_content and top is not None else set()
    git_dir = where[1].parent if where else None
    run = _Run(cache=cache, max_samples=max_samples, top=top, unstaged=unstaged, git_dir=git_dir, deleted=deleted)
    for path in outside:
        run.skip(path, detail=f"no {RULES_FILE} above it")
    for project, group in groups.items():
        assert project is not None
        run.project(project, group)
    order = {path: i for i, path in enumerate(paths)}
    return HookResult(
        files=tuple(sorted(run.results, key=lambda f: order.get(f.path, len(order)))),
        validated=run.validated,
        cache_hits=run.cache_hits,
        ignored=run.ignored,
        cache_dir=cache.directory if cache else None,
        at_top=top is not None and Path.cwd().resolve() == top.resolve(),
        staged_config=tuple(sorted(run.staged_config)),
    )


@dataclass(kw_only=True)
class _Run:
    """One hook run over its projects: the results so far and what they cost."""

    cache: ResultCache | None
    max_samples: int
    top: Path | None
    unstaged: set[str]  # top-relative paths whose working copy differs from the index
    git_dir: Path | None
    deleted: dict[Path, list[str]]  # per project, the configuration files the index deletes
    results: list[FileResult] = field(default_factory=list)
    staged_config: list[str] = field(default_factory=list)
    validated: int = 0
    cache_hits: int = 0
    ignored: int = 0

    def skip(self, path: str, *, detail: str) -> None:
        if is_data_file(path):
            self.results.append(FileResult(path=path, status="unmatched", detail=detail))
        else:
            self.ignored += 1

    def project(self, project: Path, paths: list[str]) -> None:
        """Check ``paths``, all under ``project``, against its (staged) configuration."""
        gone = self.deleted.get(project, [])
        view = projects.staged_configuration(project, self.top, self.unstaged, self.git_dir, gone)
        with view as (config, staged_config):
            self.staged_config.extend(staged_config)
            first = len(self.results)
            try:
                self._check(project, config, paths + gone)
            except DatakeepError as exc:
                raise _named_as_staged(exc, config, project) from None
            for at in range(first, len(self.results)):
                found = self.results[at]
                if found.detail:
                    detail = _named_as_staged(DatakeepError(found.detail), config, project).message
                    self.results[at] = replace(found, detail=detail)

    def _check(self, project: Path, config: Path, paths: list[str]) -> None:
        """`project` against ``config``: the project itself, or its staged view."""
        from datakeep.schemas import load_rules  # the rules loader reads YAML only

        rules = load_rules(config)
        given = {os.path.abspath(p) for p in paths}
        governed = projects.governed(project, self.top, rules, paths)
        paths = paths + [p for p in governed if os.path.abspath(p) not in given]
        checker = _Checker(root=config, cache=self.cache, max_samples=self.max_samples)
        shown = os.path.relpath(project)
        rules_file = os.path.normpath(os.path.join(shown, RULES_FILE))
        for path in paths:
            rel = projects.relative(project, path)
            match = rules.match(rel) if rel is not None else None
            if match is None:
                if rules.unmatched == "fail" and is_data_file(path):
                    detail = f"no rule in {rules_file} matches it (unmatched: fail)"
                    self.results.append(FileResult(path=path, status="failed", detail=detail))
                else:
                    self.skip(path, detail=f"no rule in {rules_file} names it")
                continue
            result = checker.check(path, *match, staged=self._staged(path))
            self.results.append(replace(result, project="" if shown == "." else shown))
        self.validated += checker.validated
        self.cache_hits += checker.cache_hits

    def _staged(self, path: str) -> tuple[Path, str] | None:
        """(git top, top path) when the working copy differs from what the commit records."""
        if self.top is None or not self.unstaged:
            return None
        top_path = projects.top_path(self.top, path)
        return (self.top, top_path) if top_path in self.unstaged else None


class _Checker:
    """Validates one file at a time, through the cache; counts the work it really did."""

    def __init__(self, *, root: Path, cache: ResultCache | None, max_samples: int) -> None:
        self.root = root
        self.cache = cache
        self.max_samples = max_samples
        self.validated = 0
        self.cache_hits = 0
        self._fingerprints: dict[tuple[str, str | None], str] = {}
        self._version = datakeep_version()

    def check(self, path: str, entity: str, source: str | None, *, staged: tuple[Path, str] | None) -> FileResult:
        base = FileResult(path=path, status="error", entity=entity, source=source, staged_copy=staged is not None)
        try:
            if staged is None:
                return self._check_file(Path(path), base)
            # The commit records the index, so the index version is what must pass.
            with tempfile.TemporaryDirectory(prefix="datakeep-hook-") as tmp:
                copy = Path(tmp) / Path(path).name
                gitutil.write_staged_copy(staged[0], staged[1], copy)
                return self._check_file(copy, base)
        except DatakeepError as exc:
            return replace(base, status="error", detail=str(exc))
        except OSError as exc:
            return replace(base, status="error", detail=f"cannot read {path}: {exc.strerror}")

    def _fingerprint(self, entity: str, source: str | None) -> str:
        from datakeep.schemas import fingerprint

        key = (entity, source)
        if key not in self._fingerprints:
            self._fingerprints[key] = fingerprint(self.root, entity, source)
        return self._fingerprints[key]

    def _check_file(self, data_path: Path, base: FileResult) -> FileResult:
        assert base.entity is not None
        key = None
        if self.cache is not None:
            key = cache_key(
                content=content_hash(data_path),
                fingerprint=self._fingerprint(base.entity, base.source),
                entity=base.entity,
                source=base.source,
                version=self._version,
            )
            hit = self.cache.get(key)
            if hit is not None:
                self.cache_hits += 1
                return _from_entry(base, hit)
        result = self._validate(data_path, base)
        if self.cache is not None and key is not None:
            self.cache.put(key, _to_entry(result))
        return result

    def _validate(self, data_path: Path, base: FileResult) -> FileResult:
        # Imported here so a run answered from the cache never pays for pandas and pandera.
        from datakeep.validate import validate_file

        self.validated += 1
        report = validate_file(
            data_path,
            entity=base.entity,
            source=base.source,
            root=self.root,
            max_samples=self.max_samples,
        )
        lines = problem_lines(report, STORED_PROBLEMS)
        return replace(
            base,
            status="ok" if report.ok else "failed",
            rows_checked=int(report.rows_checked),
            rows_failing=int(report.rows_failing),
            problem_count=len(report.problems),
            problems=lines,
        )


def problem_lines(report: Any, limit: int) -> tuple[str, ...]:
    """One line per problem, worst first, worded exactly as `datakeep validate` words them.

    ``render_text`` puts a header line first and each problem on an indented line of its own;
    the header (which names the file, here perhaps a temporary staged copy) is the hook's job.
    """
    from datakeep.validate import render_text

    lines = render_text(report, max_problems=limit).splitlines()[1:]
    problems = [line.strip() for line in lines if line.startswith("  ")]
    return tuple(line for line in problems if not line.startswith("…"))


def _to_entry(result: FileResult) -> dict[str, Any]:
    return {
        "status": result.status,
        "rows_checked": result.rows_checked,
        "rows_failing": result.rows_failing,
        "problem_count": result.problem_count,
        "problems": list(result.problems),
        "entity": result.entity,
        "source": result.source,
    }


def _from_entry(base: FileResult, entry: dict[str, Any]) -> FileResult:
    status: Status = "ok" if entry.get("status") == "ok" else "failed"
    return replace(
        base,
        status=status,
        rows_checked=int(entry.get("rows_checked", 0)),
        rows_failing=int(entry.get("rows_failing", 0)),
        problem_count=int(entry.get("problem_count", 0)),
        problems=tuple(str(p) for p in entry.get("problems", [])),
        cached=True,
    )


def _named_as_staged(exc: DatakeepError, view: Path, project: Path) -> DatakeepError:
    """``exc`` with the staged view's temporary folder written as what it holds: the project's
    files as staged (``(staged) schemas/people.yaml``), not `.git/datakeep-staged-config-x1y2/…`."""
    if view == project:
        return exc
    where = os.path.relpath(project)
    staged = "(staged) " + ("" if where == "." else where + "/")
    for shown in {str(view) + "/", os.path.relpath(view) + "/"}:
        exc.message = exc.message.replace(shown, staged)
        exc.hint = exc.hint.replace(shown, staged)
    return exc
