"""`datakeep schema check`: load every schema, source and rules file and list every problem."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from datakeep.errors import DatakeepError, SchemaConfigError
from datakeep.schemas._files import SCHEMAS_DIR, SOURCES_DIR, display
from datakeep.schemas.entity import load_entity
from datakeep.schemas.mapping import check_source_alone, load_source
from datakeep.schemas.rules import load_rules


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResult:
    """What `check_all` looked at, and every problem of each file that failed."""

    checked: tuple[str, ...]
    errors: tuple[str, ...]  # one message per problem, a file's problems together
    failed: tuple[str, ...] = ()  # the files with a problem

    @property
    def ok(self) -> bool:
        return not self.errors


def check_all(root: str | Path = ".") -> CheckResult:
    """Load every `schemas/*.yaml`, `schemas/sources/*.yaml` and `datakeep.yaml`.

    Args:
        root: The project folder.

    Returns:
        The files checked and one message per problem found (nothing stops at the first).
    """
    root = Path(root)
    checked: list[str] = []
    errors: list[str] = []
    failed: list[str] = []

    def attempt(path: Path, load: Callable[[], object]) -> None:
        checked.append(display(path))
        try:
            load()
        except SchemaConfigError as exc:
            # A source loads its entity: that file's problems, listed already, are not its own.
            own = [str(problem) for problem in exc.problems if str(problem) not in errors]
            if own:
                failed.append(display(path))
                errors.extend(own)
        except DatakeepError as exc:
            failed.append(display(path))
            errors.append(str(exc))

    schemas = root / SCHEMAS_DIR
    for path in sorted(schemas.glob("*.yaml")):
        attempt(path, functools.partial(load_entity, root, path.stem))
    for path in sorted((schemas / SOURCES_DIR).glob("*.yaml")):
        attempt(path, functools.partial(_load_source, root, path.stem))
    if (root / "datakeep.yaml").exists():
        attempt(root / "datakeep.yaml", lambda: load_rules(root))
    return CheckResult(checked=tuple(checked), errors=tuple(errors), failed=tuple(failed))


def _load_source(root: Path, source: str) -> None:
    """Load a source with its entity; when the entity fails, the source's own problems join
    the entity's, so one run lists both (the entity's are dropped as already listed)."""
    try:
        load_source(root, source)
    except SchemaConfigError as exc:
        problems = list(exc.problems)
        try:
            check_source_alone(root, source)
        except SchemaConfigError as own:
            problems.extend(p for p in own.problems if str(p) not in {str(q) for q in problems})
        raise SchemaConfigError.every(problems) from None
