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
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from datakeep.errors import EXIT_ERROR, EXIT_NO, EXIT_OK, DatakeepError
from datakeep.hook import gitutil
from datakeep.hook.cache import ResultCache, cache_key, content_hash, datakeep_version

# The suffixes `datakeep validate` reads, less .txt (too common to mean data). Anything else a
# commit stages is not the hook's business: the native hook sees every staged file, README.md
# included, and must not fail on it. Kept in step with `.pre-commit-hooks.yaml`'s `files`.
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
            "files": [f.to_dict() for f in self.files],
        }


def is_data_file(path: str) -> bool:
    """True for the file types `datakeep validate` reads (by suffix, case-insensitive)."""
    return path.lower().endswith(DATA_SUFFIXES)


def staged_files(root: str | Path = ".") -> list[str]:
    """Files staged for the next commit (added, copied, modified), relative to ``root``."""
    root = Path(root)
    top = gitutil.toplevel(root)
    return [os.path.relpath(top / p, root.absolute()) for p in gitutil.staged_files(top)]


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
    root: str | Path = ".",
    *,
    use_cache: bool = True,
    cache_dir: Path | None = None,
    staged_content: bool = True,
    max_samples: int = 5,
) -> HookResult:
    """Validate the given data files against the schemas their `datakeep.yaml` rules name.

    Args:
        files: Paths as git or pre-commit pass them (relative to the current folder).
        root: The project folder holding `datakeep.yaml` and `schemas/`.
        use_cache: Reuse and store results keyed by content, schema fingerprint and version.
        cache_dir: Where results are cached (default: `default_cache_dir`).
        staged_content: Check the staged version of a file whose working copy differs from the
            index (what the commit records), not the working copy.
        max_samples: Sample rows kept per problem by the validator.

    Returns:
        One `FileResult` per data file, in the order given.

    Raises:
        SchemaConfigError: `datakeep.yaml` itself cannot be used.
    """
    from datakeep.schemas import load_rules  # the rules loader reads YAML only

    root = Path(root)
    rules = load_rules(root)
    paths = list(dict.fromkeys(files))  # a path given twice is checked once
    data = [p for p in paths if is_data_file(p)]
    where = gitutil.locate(root, CACHE_NAME) if data else None
    cache = None
    if use_cache and data:
        directory = cache_dir or (where[1] if where else _datakeep_cache_dir(root))
        cache = ResultCache(directory) if directory is not None else None
    checker = _Checker(root=root, cache=cache, max_samples=max_samples)
    unstaged = _unstaged(where[0], data) if staged_content and where else {}

    results: list[FileResult] = []
    for path in data:
        rel = _relative(root, path)
        match = rules.match(rel) if rel is not None else None
        if match is None:
            if rules.unmatched == "fail":
                detail = "no rule in datakeep.yaml matches it (unmatched: fail)"
                results.append(FileResult(path=path, status="failed", detail=detail))
            else:
                results.append(FileResult(path=path, status="unmatched"))
            continue
        entity, source = match
        results.append(checker.check(path, entity, source, staged=unstaged.get(path)))
    return HookResult(
        files=tuple(results),
        validated=checker.validated,
        cache_hits=checker.cache_hits,
        ignored=len(paths) - len(data),
        cache_dir=cache.directory if cache else None,
    )


def _relative(root: Path, path: str) -> str | None:
    """``path`` relative to ``root`` in posix form, or None when it lies outside ``root``."""
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
    if rel == ".." or rel.startswith(".." + os.sep):
        return None
    return PurePosixPath(Path(rel)).as_posix()


def _unstaged(top: Path, files: list[str]) -> dict[str, tuple[Path, str]]:
    """Map each given file whose working copy differs from the index to (git top, top path)."""
    differing = gitutil.unstaged_paths(top)
    if not differing:
        return {}
    out: dict[str, tuple[Path, str]] = {}
    for path in files:
        rel = os.path.relpath(os.path.abspath(path), top)
        top_path = PurePosixPath(Path(rel)).as_posix()
        if top_path in differing:
            out[path] = (top, top_path)
    return out


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
