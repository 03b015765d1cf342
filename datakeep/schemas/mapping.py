"""Source mappings: `schemas/sources/<source>.yaml`, how one source's files map onto an entity.

A mapping is declarative data only. Per raw column it may rename (``to``), translate coded values
(``values`` with an ``unmapped`` policy), parse with an explicit format (``cast``) and scale units
(``scale``); beside that it lists raw columns that must be present (``required``), raw columns to
drop (``drop``) and canonical defaults (``defaults``). Raw columns it does not mention pass through
under their own name. See docs/validation.md for the full format.
"""

from __future__ import annotations

import codecs
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datakeep.schemas._checks import vet_default, vet_targets
from datakeep.schemas._files import Place, Problems, join, read_yaml, source_path
from datakeep.schemas.entity import EntitySchema, load_entity

UNMAPPED_POLICIES = ("error", "null", "keep")
CAST_TYPES = ("date", "datetime", "number", "integer", "boolean", "string")
_TOP_KEYS = {"entity", "description", "columns", "required", "drop", "defaults", "csv"}
_COLUMN_KEYS = {"to", "values", "unmapped", "ignore_case", "cast", "scale"}
_CAST_KEYS = {"type", "format", "decimal", "thousands", "true", "false"}
_CSV_KEYS = {"delimiter", "null_values", "encoding"}
TRUE_VALUES = ("true", "1", "yes", "y", "t")
FALSE_VALUES = ("false", "0", "no", "n", "f")


@dataclass(frozen=True, slots=True, kw_only=True)
class Cast:
    """How to parse a raw column; the format is always the mapping's decision, never guessed."""

    type: str
    format: str | None = None  # strptime format for date/datetime
    decimal: str = "."
    thousands: str | None = None
    true_values: tuple[str, ...] = TRUE_VALUES
    false_values: tuple[str, ...] = FALSE_VALUES


@dataclass(frozen=True, slots=True, kw_only=True)
class ColumnMap:
    """What happens to one raw column on its way to its canonical column."""

    source: str  # raw column name in the source's files
    target: str  # canonical column name
    values: Mapping[Any, Any] | None = None
    unmapped: str = "error"
    #: Raw text matches the value map's keys whatever its letter case (de, De, DE → DE).
    ignore_case: bool = False
    cast: Cast | None = None
    scale: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CsvOptions:
    delimiter: str = ","
    null_values: tuple[str, ...] = ("",)
    encoding: str = "utf-8"


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceMapping:
    """One source's mapping onto its entity."""

    name: str
    path: Path | None
    entity: str
    description: str | None = None
    columns: tuple[ColumnMap, ...] = ()
    required: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    csv: CsvOptions = field(default_factory=CsvOptions)

    def column(self, raw: str) -> ColumnMap | None:
        for col in self.columns:
            if col.source == raw:
                return col
        return None

    def target_of(self, raw: str) -> str:
        col = self.column(raw)
        return col.target if col else raw

    def source_of(self, canonical: str) -> str | None:
        """The (first) raw column the mapping renames onto ``canonical``."""
        sources = self.sources_of(canonical)
        return sources[0] if sources else None

    def sources_of(self, canonical: str) -> tuple[str, ...]:
        """Every raw column the mapping renames onto ``canonical``: a source that renamed a
        column between exports (`cust_id`, later `customer_no`) maps each old name onto it."""
        return tuple(col.source for col in self.columns if col.target == canonical)


def identity_mapping(entity: str) -> SourceMapping:
    """The mapping used when data is validated against an entity with no source: none at all."""
    return SourceMapping(name="", path=None, entity=entity)


def source_entity(root: str | Path, source: str) -> str:
    """The entity a source feeds, read from its file without loading the entity."""
    path = source_path(root, source)
    at = Place(path)
    doc = at.mapping(read_yaml(path, what="source mapping"), "")
    entity = at.text(doc.get("entity"), "entity", required=True)
    assert entity is not None
    return entity


def source_csv(root: str | Path, source: str) -> CsvOptions:
    """How a source's CSV files are read (its ``csv:`` block), without loading its entity: what
    `schema infer` needs before the entity's schema exists.

    Raises:
        SchemaConfigError: The mapping file is missing or invalid on its own.
    """
    path = source_path(root, source)
    return parse_source(source, path, read_yaml(path, what="source mapping"), None).csv


def load_source(
    root: str | Path, source: str, entity: EntitySchema | None = None
) -> tuple[EntitySchema, SourceMapping]:
    """Load `schemas/sources/<source>.yaml` and vet it against its entity.

    Args:
        root: The project folder holding `schemas/`.
        source: The source name (file name without `.yaml`).
        entity: The entity, if already loaded; otherwise the one the mapping names is loaded.

    Returns:
        The entity schema and the source mapping.

    Raises:
        SchemaConfigError: The file is missing, invalid, or refers to columns the entity lacks.
    """
    path = source_path(root, source)
    doc = read_yaml(path, what="source mapping")
    at = Place(path)
    doc = at.mapping(doc, "", allowed=_TOP_KEYS)
    entity_name = at.text(doc.get("entity"), "entity", required=True)
    assert entity_name is not None
    if entity is None:
        entity = load_entity(root, entity_name)
    elif entity.name != entity_name:
        raise at.fail(
            "entity",
            f"source '{source}' feeds entity '{entity_name}', not '{entity.name}'",
            f"validate with --entity {entity_name}, or pass --source alone",
        )
    return entity, parse_source(source, path, doc, entity)


def check_source_alone(root: str | Path, source: str) -> None:
    """Vet a source mapping whose entity does not load: every problem it has on its own.

    What needs the entity (target columns, their types) waits until the entity loads; the
    rest (layout, value maps, casts, scales, csv options) is checked now, so `schema check`
    lists a source's problems in the same run as its entity's.

    Raises:
        SchemaConfigError: The first problem found, carrying every one found.
    """
    path = source_path(root, source)
    parse_source(source, path, read_yaml(path, what="source mapping"), None)


def parse_source(name: str, path: Path, doc: Any, entity: EntitySchema | None) -> SourceMapping:
    """Build a `SourceMapping` from a loaded YAML document, checked against ``entity``
    (None: the entity could not be loaded, and nothing is checked against it).

    Raises:
        SchemaConfigError: The first problem found, carrying every problem in the file.
    """
    at = Place(path)
    problems = Problems()
    doc = at.mapping(doc, "", allowed=_TOP_KEYS)
    entity_name = entity.name if entity is not None else str(doc.get("entity"))
    columns: list[ColumnMap] = []
    raw_columns: dict[str, Any] = {}
    with problems.part():
        raw_columns = at.mapping(doc.get("columns"), "columns")
    for raw, spec in raw_columns.items():
        with problems.part():
            place = join("columns", raw)
            col = _parse_column(at, place, raw, spec, entity)
            if entity is not None and col.target not in entity.columns:
                detail = (
                    f"renames '{raw}' to '{col.target}', which entity '{entity.name}' does not have"
                    if col.target != raw
                    else f"'{raw}' is not a column of entity '{entity.name}' (add `to:` to rename it)"
                )
                raise at.fail(place, detail, f"columns of {entity.name}: {', '.join(entity.columns)}")
            columns.append(col)

    defaults: dict[str, Any] = {}
    with problems.part():
        defaults = dict(at.mapping(doc.get("defaults"), "defaults"))
    for column, value in defaults.items():
        if entity is None:
            break  # what a default may be depends on its column's type
        with problems.part():
            if column not in entity.columns:
                raise at.fail(
                    join("defaults", column),
                    f"'{column}' is not a column of entity '{entity.name}'",
                )
            dtype = entity.schema.columns[column].dtype
            vet_default(at, join("defaults", column), value, dtype.type if dtype is not None else None, dtype)
    csv = CsvOptions()
    with problems.part():
        csv = _parse_csv(at, doc.get("csv"), problems)
    drop: tuple[str, ...] = ()
    with problems.part():
        drop = at.str_list(doc.get("drop"), "drop")
    for raw in drop:
        if raw in {c.source for c in columns}:
            with problems.part():
                raise at.fail("drop", f"'{raw}' is both mapped under columns and dropped")
    required: tuple[str, ...] = ()
    with problems.part():
        required = at.str_list(doc.get("required"), "required")
    description = None
    with problems.part():
        description = at.text(doc.get("description"), "description")
    problems.raise_any()
    return SourceMapping(
        name=name,
        path=path,
        entity=entity_name,
        description=description,
        columns=tuple(columns),
        required=required,
        drop=drop,
        defaults=defaults,
        csv=csv,
    )


def _parse_csv(at: Place, spec: Any, problems: Problems) -> CsvOptions:
    csv_doc = at.mapping(spec, "csv", allowed=_CSV_KEYS)
    delimiter = csv_doc.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        delimiter = ","  # reported; the default only lets the other keys be looked at
        with problems.part():
            raise at.fail("csv.delimiter", "expected one character")
    null_values = csv_doc.get("null_values", [""])
    if not isinstance(null_values, list) or not all(isinstance(v, str) for v in null_values):
        null_values = [""]
        with problems.part():
            raise at.fail("csv.null_values", "expected a list of strings")
    encoding = "utf-8"
    with problems.part():
        encoding = at.text(csv_doc.get("encoding", "utf-8"), "csv.encoding") or "utf-8"
        try:
            # Checked here, so a misspelt encoding is a configuration error, not a crash mid-read.
            codecs.lookup(encoding)
        except LookupError:
            raise at.fail(
                "csv.encoding", f"unknown encoding {encoding!r}", "e.g. utf-8, utf-8-sig, cp1252, latin-1"
            ) from None
    return CsvOptions(delimiter=delimiter, null_values=tuple(null_values), encoding=encoding)


def _parse_column(at: Place, place: str, raw: str, spec: Any, entity: EntitySchema | None) -> ColumnMap:
    if isinstance(spec, str):  # shorthand: `land: country` is a rename
        spec = {"to": spec}
    spec = at.mapping(spec, place, allowed=_COLUMN_KEYS)
    target = at.text(spec.get("to", raw), join(place, "to")) or raw
    values = spec.get("values")
    if values is not None:
        if not isinstance(values, dict) or not values:
            raise at.fail(join(place, "values"), "expected a mapping of raw value to canonical value")
        for key in values:
            # YAML 1.1 reads yes/no/on/off as booleans; a silent True key would never match.
            if isinstance(key, bool) or key is None:
                raise at.fail(
                    join(place, "values"),
                    f"key {key!r} is a YAML {'null' if key is None else 'boolean'}",
                    "quote raw values in value maps, e.g. 'yes': true",
                )
    ignore_case = spec.get("ignore_case", False)
    if not isinstance(ignore_case, bool):
        raise at.fail(join(place, "ignore_case"), f"expected true or false, not {ignore_case!r}")
    if ignore_case and values is None:
        raise at.fail(join(place, "ignore_case"), "applies to a value map, and this column has none", "add values:")
    if ignore_case and values is not None:
        folded: dict[str, Any] = {}
        for key, canonical in values.items():
            fold = str(key).lower()  # as the mapping applies it (Arrow's utf8_lower)
            if fold in folded and folded[fold] != canonical:
                raise at.fail(
                    join(place, "values"),
                    f"keys that differ only in letter case map to different values under ignore_case ({key!r})",
                    "map them to one value, or leave ignore_case out",
                )
            folded[fold] = canonical
    unmapped = spec.get("unmapped", "error")
    if unmapped is None and "unmapped" in spec:
        unmapped = "null"  # `unmapped: null` unquoted, as people write it, is YAML's null
    if unmapped not in UNMAPPED_POLICIES:
        raise at.fail(
            join(place, "unmapped"),
            f"unknown policy {unmapped!r}",
            f"expected one of: {', '.join(UNMAPPED_POLICIES)}",
        )
    scale = spec.get("scale")
    if scale is not None and not _is_factor(scale):
        # nan or inf (YAML's .nan, .inf) would make every value null or infinite, silently.
        raise at.fail(
            join(place, "scale"), f"expected a finite non-zero number (the factor raw → canonical), not {scale!r}"
        )
    cast = _parse_cast(at, join(place, "cast"), spec.get("cast"))
    if entity is not None and target in entity.columns:
        dtype = entity.schema.columns[target].dtype
        _vet_against_dtype(at, place, cast, scale, dtype)
        if values is not None and dtype is not None:
            vet_targets(at, join(place, "values"), values, cast, scale, dtype.type, dtype)
    return ColumnMap(
        source=raw,
        target=target,
        values=values,
        unmapped=unmapped,
        ignore_case=ignore_case,
        cast=cast,
        scale=float(scale) if scale is not None else None,
    )


def _is_factor(scale: Any) -> bool:
    if isinstance(scale, bool) or not isinstance(scale, int | float):
        return False
    try:
        return scale != 0 and math.isfinite(scale)
    except OverflowError:  # an integer past any float
        return False


#: The words YAML 1.1 reads as a boolean when unquoted (PyYAML, in any of three cases).
_YAML_BOOLEAN_WORDS = {True: ("true", "yes", "on"), False: ("false", "no", "off")}


def _boolean_words(at: Place, place: str, raw: Any, *, meaning: bool) -> tuple[str, ...]:
    """The raw words a boolean cast reads as ``meaning``. An unquoted yes/on/true among the
    true words arrives as YAML's True: it stands for all three (each means true anyway)."""
    if raw is None:
        return ()
    if raw == []:
        # An empty list would mean the default words, silently: not what a list of none says.
        raise at.fail(place, "an empty list of words", "list the raw words, or leave the key out for the defaults")
    items = raw if isinstance(raw, list) else [raw]
    words: list[str] = []
    for item in items:
        if isinstance(item, bool) and item == meaning:
            words.extend(_YAML_BOOLEAN_WORDS[meaning])
        elif isinstance(item, (str, int)) and not isinstance(item, bool):
            words.append(str(item))
        else:
            raise at.fail(
                place,
                f"{item!r} is not a word the data holds",
                "list the raw words as strings; quote yes/no/on/off, which YAML reads as booleans",
            )
    return tuple(words)


def _parse_cast(at: Place, place: str, spec: Any) -> Cast | None:
    if spec is None:
        return None
    if isinstance(spec, str):
        spec = {"type": spec}
    if isinstance(spec, dict):
        # YAML reads the documented `true:` and `false:` keys, unquoted, as booleans.
        spec = {(str(key).lower() if isinstance(key, bool) else key): value for key, value in spec.items()}
    spec = at.mapping(spec, place, allowed=_CAST_KEYS)
    kind = spec.get("type")
    if kind not in CAST_TYPES:
        raise at.fail(
            join(place, "type"),
            f"unknown cast type {kind!r}",
            f"expected one of: {', '.join(CAST_TYPES)}",
        )
    fmt = spec.get("format")
    if kind in ("date", "datetime"):
        if not isinstance(fmt, str) or "%" not in fmt:
            raise at.fail(
                join(place, "format"),
                f"a {kind} cast needs an explicit strptime format",
                "e.g. format: '%d/%m/%Y'; datakeep never guesses ambiguous dates",
            )
        from datakeep.validate.times import format_problem  # what the cast code reads

        problem = format_problem(fmt)
        if problem is not None:
            raise at.fail(join(place, "format"), *problem)
    elif fmt is not None:
        raise at.fail(
            join(place, "format"),
            f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} cast takes no format",
            "a format is read by date and datetime casts only (from text, or an integer's digits such as 20240131)",
        )
    decimal = spec.get("decimal", ".")
    thousands = spec.get("thousands")
    for key, value in (("decimal", decimal), ("thousands", thousands)):
        if value is not None and (not isinstance(value, str) or len(value) != 1):
            raise at.fail(join(place, key), "expected one character")
    if thousands == decimal:
        # One character cannot be both: '1,5' would silently read as 15.
        raise at.fail(
            join(place, "thousands"),
            f"decimal and thousands are both {decimal!r}",
            "give them different characters, e.g. decimal: ',' and thousands: '.'",
        )
    given_true = _boolean_words(at, join(place, "true"), spec.get("true"), meaning=True)
    given_false = _boolean_words(at, join(place, "false"), spec.get("false"), meaning=False)
    _vet_boolean_words(at, place, given_true, given_false)
    return Cast(
        type=kind,
        format=fmt,
        decimal=decimal,
        thousands=thousands,
        true_values=tuple(v.lower() for v in given_true or TRUE_VALUES),
        false_values=tuple(v.lower() for v in given_false or FALSE_VALUES),
    )


def _vet_boolean_words(at: Place, place: str, given_true: tuple[str, ...], given_false: tuple[str, ...]) -> None:
    """A raw word read as both true and false would silently be true (the true words are looked
    up first). Words are matched in any letter case, and a list left out is the default one."""
    true_words = {word.lower(): word for word in given_true or TRUE_VALUES}
    for word in given_false or FALSE_VALUES:
        if word.lower() not in true_words:
            continue
        if given_true and given_false:
            case = "" if true_words[word.lower()] == word else f" (as {true_words[word.lower()]!r}; case is ignored)"
            raise at.fail(
                place,
                f"{word!r} is listed under both true and false{case}",
                "a raw value reads as one boolean: keep it under one of them",
            )
        if given_true:
            raise at.fail(
                place,
                f"{true_words[word.lower()]!r} is listed under true and is one of the default false words "
                f"({', '.join(FALSE_VALUES)})",
                "list the false words too, e.g. false: [nein, 'no']",
            )
        raise at.fail(
            place,
            f"{word!r} is listed under false and is one of the default true words ({', '.join(TRUE_VALUES)})",
            "list the true words too, e.g. true: [ja, 'yes']",
        )


def _vet_against_dtype(at: Place, place: str, cast: Cast | None, scale: float | None, dtype: Any) -> None:
    """A date cast into an integer column, or a scale on text, is a mapping mistake."""
    if dtype is None:
        return
    import pandas as pd

    target = dtype.type
    numeric = pd.api.types.is_numeric_dtype(target) and not pd.api.types.is_bool_dtype(target)
    is_datetime = pd.api.types.is_datetime64_any_dtype(target)
    if scale is not None and not numeric:
        raise at.fail(join(place, "scale"), f"scale needs a numeric column, not {dtype}")
    if cast is None:
        return
    ok = {
        "date": is_datetime,
        "datetime": is_datetime,
        "number": numeric,
        "integer": numeric,
        "boolean": pd.api.types.is_bool_dtype(target),
        "string": pd.api.types.is_string_dtype(target) or pd.api.types.is_object_dtype(target),
    }[cast.type]
    if not ok:
        raise at.fail(f"{place}.cast.type", f"a {cast.type} cast cannot produce the column's dtype {dtype}")
