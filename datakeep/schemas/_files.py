"""Where schema, source and rules files live, and how they are read: `yaml.safe_load`, nothing else.

Every problem with a file becomes a `SchemaConfigError` naming the file, the place in it
(a dotted path such as ``columns.country.dtype``) and what is wrong, so `datakeep schema check`
and every command that loads a schema speak the same language.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from datakeep.errors import SchemaConfigError, UsageError

SCHEMAS_DIR = "schemas"
SOURCES_DIR = "sources"
RULES_FILE = "datakeep.yaml"

# Entity and source names become file names, so they must never carry a path.
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def check_name(kind: str, name: str) -> str:
    """Return ``name`` if it is a safe entity/source name, else raise `UsageError`."""
    if not isinstance(name, str) or not _NAME.match(name) or name.endswith(".yaml"):
        raise UsageError(
            f"'{name}' is not a valid {kind} name",
            f"use letters, digits, '_', '-' or '.'; the {kind} lives in a .yaml file of that name",
        )
    return name


def entity_path(root: str | Path, entity: str) -> Path:
    return Path(root) / SCHEMAS_DIR / f"{check_name('entity', entity)}.yaml"


def source_path(root: str | Path, source: str) -> Path:
    return Path(root) / SCHEMAS_DIR / SOURCES_DIR / f"{check_name('source', source)}.yaml"


def rules_path(root: str | Path) -> Path:
    return Path(root) / RULES_FILE


def project_root(start: str | Path = ".") -> Path:
    """The nearest folder from ``start`` upwards holding `datakeep.yaml` or `schemas/`, as git
    finds its work tree: run from `data/incoming`, the rules and schemas at the top still apply
    (looked for only in the current folder, every file there matched no rule, and passed).
    The search stops at the top of a git work tree: a `datakeep.yaml` above it belongs to
    another project. ``start`` itself when no folder holds either."""
    here = Path(start).absolute()
    for folder in (here, *here.parents):
        if (folder / RULES_FILE).is_file() or (folder / SCHEMAS_DIR).is_dir():
            return folder
        if (folder / ".git").exists():  # a folder (a clone) or a file (a worktree, a submodule)
            break
    return Path(start)


def display(path: Path) -> str:
    """A path as people should read it: relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def read_yaml(path: Path, *, what: str, hint: str = "") -> Any:
    """Load one YAML document safely, turning every failure into a `SchemaConfigError`."""
    return yaml_document(read_text(path, what=what, hint=hint), path)


def read_text(path: Path, *, what: str, hint: str = "") -> str:
    """The text of a YAML file, every failure to read it a `SchemaConfigError`."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SchemaConfigError(display(path), f"no such {what} file", hint or f"create {display(path)}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemaConfigError(display(path), f"cannot read the {what} file: {exc}") from None


def yaml_document(text: str, path: Path) -> Any:
    """The document ``text`` (read from ``path``) holds: a copy of its own to take apart."""
    parsed = _PARSED.get(text)
    if parsed is None:
        document = _parse(text, path)
        # Kept pickled: each caller gets its own copy (loaders take documents apart), and
        # unpickling copies plain data several times faster than copy.deepcopy.
        parsed = pickle.dumps(document, protocol=pickle.HIGHEST_PROTOCOL)
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.pop(next(iter(_PARSED)))
        _PARSED[text] = parsed
        return document
    return pickle.loads(parsed)  # bytes this process pickled itself, never read from outside


#: Parsed documents by their text. PyYAML parses in pure Python (about 7 ms for a schema), and
#: a hook run validating 250 files read the same schema and mapping 1,000 times. Keyed by the
#: text, not the file's stat, so an edit is never served stale.
_PARSED: dict[str, bytes] = {}
_PARSED_MAX = 64


def _parse(text: str, path: Path) -> Any:
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: nothing in the file is executed
    except _MisreadNumber as exc:
        assert exc.problem_mark is not None
        where = f"line {exc.problem_mark.line + 1}, column {exc.problem_mark.column + 1}"
        raise SchemaConfigError(display(path), f"{where}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SchemaConfigError(display(path), f"invalid YAML at {where}{problem}") from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """`yaml.safe_load`, refusing a key written twice in one mapping: YAML keeps the last one
    silently, so ``{M: male, M: female}`` or a column declared twice switched a rule off unseen."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *defaults`: merged keys may be overridden, as YAML means them to
            key = self.construct_object(key_node, deep=True)
            try:
                line = first_line.get(key)
            except TypeError:
                continue  # an unhashable key: the constructor below says so
            if line is not None:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"the key {key!r} appears twice in one mapping (first on line {line + 1}); "
                    "YAML would keep only the last, so remove or rename one",
                    key_node.start_mark,
                )
            first_line[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        """An integer, unless YAML 1.1 reads its digits as another number than they say.

        ``010`` is the octal 8 and ``1:30`` the base-60 90: a value-map key ``010`` matched raw
        ``8`` and never ``010``, with nothing to show for it. No schema means either, so both are
        refused with what to write instead. ``0x1F`` and ``0b101`` stay: their prefix says what
        they are, and none is written for decimal digits by chance.
        """
        value: int = super().construct_yaml_int(node)
        problem = _misread_number(node.value, value)
        if problem is not None:
            raise _MisreadNumber(None, None, problem, node.start_mark)
        return value

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        """A float, unless written in base 60 (``1:30.5`` is 90.5): see `construct_yaml_int`."""
        value: float = super().construct_yaml_float(node)
        problem = _misread_number(node.value, value)
        if problem is not None:
            raise _MisreadNumber(None, None, problem, node.start_mark)
        return value


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:int", _UniqueKeyLoader.construct_yaml_int)
_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:float", _UniqueKeyLoader.construct_yaml_float)

# YAML 1.1's octal integers: a 0 followed by more digits (or '_'), with an optional sign.
_OCTAL = re.compile(r"^[-+]?0[0-9_]+$")


class _MisreadNumber(yaml.constructor.ConstructorError):
    """Valid YAML whose number is not the one its digits say (see `_misread_number`)."""


def _misread_number(text: str, value: float) -> str | None:
    """Why YAML 1.1 read the unquoted scalar ``text`` as ``value``, a number other than its
    digits say; None when it did not."""
    if _OCTAL.match(text):
        sign = text[: len(text) - len(text.lstrip("+-"))]
        decimal = sign + (text.lstrip("+-").replace("_", "").lstrip("0") or "0")
        return (
            f"{text} has a leading zero, so YAML reads it as the octal number {value}; "
            f"quote it ('{text}') for the text, or write {decimal} for the number"
        )
    if ":" in text:
        return f"YAML reads {text} as the base-60 number {value}, not as a time; quote it ('{text}') for the text"
    return None


class Place:
    """Raises errors located at a dotted place inside one file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, place: str, detail: str, hint: str = "") -> SchemaConfigError:
        where = f"{place}: " if place else ""
        return SchemaConfigError(display(self.path), f"{where}{detail}", hint)

    def mapping(self, value: Any, place: str, *, allowed: set[str] | None = None) -> dict[str, Any]:
        """Require a mapping with string keys (and, if given, only the ``allowed`` keys)."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(place, f"expected a mapping, found {type(value).__name__}")
        for key in value:
            if not isinstance(key, str):
                raise self.fail(place, f"key {key!r} is not a string", "quote it in the YAML file")
            if allowed is not None and key not in allowed:
                raise self.fail(
                    join(place, key),
                    f"unknown key '{key}'",
                    f"expected one of: {', '.join(sorted(allowed))}",
                )
        return value

    def str_list(self, value: Any, place: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(place, "expected a list of column names")
        return tuple(value)

    def flag(self, value: Any, place: str) -> bool:
        """Require a YAML boolean. pandera takes any value for its flags and reads it as Python
        does: a quoted ``'no'`` or ``'false'`` is true, a null is false. Either would switch a
        check on or off against what the file says."""
        if not isinstance(value, bool):
            raise self.fail(place, f"expected true or false, found {value!r}", "write true or false, without quotes")
        return value

    def text(self, value: Any, place: str, *, required: bool = False) -> str | None:
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value:
            raise self.fail(place, "expected a non-empty string")
        return value


def join(place: str, key: str) -> str:
    return f"{place}.{key}" if place else key


class Problems:
    """The problems of one file, gathered part by part so `schema check` lists every one.

    A part that fails is skipped and the next one is looked at; `raise_any` then raises the
    first problem carrying all of them (`SchemaConfigError.problems`).
    """

    def __init__(self) -> None:
        self.found: list[SchemaConfigError] = []

    @contextmanager
    def part(self) -> Iterator[None]:
        try:
            yield
        except SchemaConfigError as exc:
            self.found.extend(exc.problems)

    def raise_any(self) -> None:
        if self.found:
            raise SchemaConfigError.every(self.found)
