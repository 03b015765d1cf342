"""Rules in `datakeep.yaml`: which entity and source a data file belongs to, by path glob.

A pre-commit hook gets file names only; the rules turn each into (entity, source) or nothing.
Globs match the path relative to the project root with '/' separators: ``*`` stays within one
folder, ``**`` crosses folders, ``?`` is one character. The first matching rule wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from datakeep.schemas._files import Place, check_name, display, entity_path, read_yaml, rules_path
from datakeep.schemas.mapping import source_entity

UNMATCHED = ("pass", "fail")
_RULE_KEYS = {"glob", "entity", "source"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    glob: str
    entity: str
    source: str | None = None

    def matches(self, relative_path: str) -> bool:
        return _glob_regex(self.glob).fullmatch(relative_path) is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class Rules:
    """The rules of one project; empty (and ``unmatched="pass"``) when there is no datakeep.yaml."""

    path: Path | None
    rules: tuple[Rule, ...] = ()
    unmatched: str = "pass"

    def match(self, relative_path: str | Path) -> tuple[str, str | None] | None:
        """Return ``(entity, source)`` of the first rule whose glob matches, else None."""
        rel = PurePosixPath(Path(relative_path).as_posix()).as_posix()
        rel = rel.removeprefix("./")
        for rule in self.rules:
            if rule.matches(rel):
                return rule.entity, rule.source
        return None


def load_rules(root: str | Path = ".") -> Rules:
    """Load the validation rules from `<root>/datakeep.yaml`.

    Args:
        root: The project folder.

    Returns:
        The rules; an empty set when the file does not exist. Keys other than ``rules`` and
        ``unmatched`` belong to other parts of datakeep and are left alone.

    Raises:
        SchemaConfigError: The file is invalid, or a rule is malformed.
    """
    path = rules_path(root)
    if not path.exists():
        return Rules(path=None)
    at = Place(path)
    doc = at.mapping(read_yaml(path, what="rules"), "")
    unmatched = doc.get("unmatched", "pass")
    if unmatched not in UNMATCHED:
        raise at.fail("unmatched", f"expected pass or fail, found {unmatched!r}")
    raw_rules = doc.get("rules") or []
    if not isinstance(raw_rules, list):
        raise at.fail("rules", "expected a list of {glob, entity, source} rules")
    rules = []
    for i, raw in enumerate(raw_rules):
        place = f"rules[{i}]"
        raw = at.mapping(raw, place, allowed=_RULE_KEYS)
        glob = at.text(raw.get("glob"), f"{place}.glob", required=True)
        entity = at.text(raw.get("entity"), f"{place}.entity")
        source = at.text(raw.get("source"), f"{place}.source")
        if entity is None and source is None:
            raise at.fail(place, "a rule needs an entity, a source, or both")
        if entity is None:
            assert source is not None
            entity = source_entity(root, check_name("source", source))
        else:
            _check_entity(at, root, place, entity, source)
        assert glob is not None
        rules.append(Rule(glob=glob, entity=check_name("entity", entity), source=source))
    return Rules(path=path, rules=tuple(rules), unmatched=unmatched)


def _check_entity(at: Place, root: str | Path, place: str, entity: str, source: str | None) -> None:
    """Refuse a rule whose entity has no schema file, or whose source feeds another entity: every
    file it matches would fail to validate, and the error would blame the file read last."""
    schema = entity_path(root, check_name("entity", entity))
    if not schema.is_file():
        raise at.fail(
            f"{place}.entity",
            f"no schema file {display(schema)} for entity '{entity}'",
            f"write it (`datakeep schema infer FILE --entity {entity}`), or correct the name",
        )
    if source is None:
        return
    fed = source_entity(root, check_name("source", source))
    if fed != entity:
        raise at.fail(
            place,
            f"source '{source}' feeds entity '{fed}', not '{entity}'",
            f"write entity: {fed}, or leave the entity out (the source names it)",
        )


def _glob_regex(glob: str) -> re.Pattern[str]:
    out = []
    i = 0
    glob = glob.removeprefix("./")
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return re.compile("".join(out))
