"""`datakeep schema check`: load every schema, source and rules file and list every problem."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from datakeep.errors import DatakeepError
from datakeep.schemas._files import SCHEMAS_DIR, SOURCES_DIR, display
from datakeep.schemas.entity import load_entity
from datakeep.schemas.mapping import load_source
from datakeep.schemas.rules import load_rules


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResult:
    """What `check_all` looked at, and the error of each file that failed."""

    checked: tuple[str, ...]
    errors: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


def check_all(root: str | Path = ".") -> CheckResult:
    """Load every `schemas/*.yaml`, `schemas/sources/*.yaml` and `datakeep.yaml`.

    Args:
        root: The project folder.

    Returns:
        The files checked and one message per file that failed (nothing stops at the first).
    """
    root = Path(root)
    checked: list[str] = []
    errors: list[str] = []

    def attempt(path: Path, load: Callable[[], object]) -> None:
        checked.append(display(path))
        try:
            load()
        except DatakeepError as exc:
            errors.append(str(exc))

    schemas = root / SCHEMAS_DIR
    for path in sorted(schemas.glob("*.yaml")):
        attempt(path, functools.partial(load_entity, root, path.stem))
    for path in sorted((schemas / SOURCES_DIR).glob("*.yaml")):
        attempt(path, functools.partial(load_source, root, path.stem))
    if (root / "datakeep.yaml").exists():
        attempt(root / "datakeep.yaml", lambda: load_rules(root))
    return CheckResult(checked=tuple(checked), errors=tuple(errors))
