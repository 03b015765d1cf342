"""The checks of a canonical schema, vetted before pandera builds them: their names and arguments.

pandera silently ignores a column key that is not a check, and hands a check's arguments to
pandas as they are: ``greater_than: '5'`` on an int64 column raises inside pandas at every batch,
which reads as a data failure of no rows at all, and a quoted ``ignore_na: 'false'`` is true. So
each argument is held against what the check does with it and against the column's dtype here,
and a mistake is a configuration error naming its place in the file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from typing import Any

from datakeep.schemas._files import Place, join

# What a check's argument is: a value of the column (compared with its cells), a list of such
# values, a number of characters, a regular expression, a piece of text, or a flag.
_VALUE, _VALUES, _LENGTH, _PATTERN, _TEXT, _FLAG = "value", "values", "length", "pattern", "text", "flag"

_BOUND_RANGE = {"min_value": _VALUE, "max_value": _VALUE, "include_min": _FLAG, "include_max": _FLAG}

#: pandera's built-in checks: the parameter a lone argument stands for (``greater_than: 5`` is
#: min_value; None where pandera needs more than one), and the role of each parameter. A check
#: registered with pandera.extensions is not here: its arguments are its own.
_PARAMETERS: dict[str, tuple[str | None, dict[str, str]]] = {
    **dict.fromkeys(("equal_to", "eq", "not_equal_to", "ne"), ("value", {"value": _VALUE})),
    **dict.fromkeys(("greater_than", "gt", "greater_than_or_equal_to", "ge"), ("min_value", {"min_value": _VALUE})),
    **dict.fromkeys(("less_than", "lt", "less_than_or_equal_to", "le"), ("max_value", {"max_value": _VALUE})),
    **dict.fromkeys(("in_range", "between"), (None, _BOUND_RANGE)),
    "isin": ("allowed_values", {"allowed_values": _VALUES}),
    "notin": ("forbidden_values", {"forbidden_values": _VALUES}),
    "unique_values_eq": ("values", {"values": _VALUES}),
    **dict.fromkeys(("str_matches", "str_contains"), ("pattern", {"pattern": _PATTERN})),
    **dict.fromkeys(("str_startswith", "str_endswith"), ("string", {"string": _TEXT})),
    # A lone str_length argument is the exact length, as pandera reads it.
    "str_length": ("exact_value", dict.fromkeys(("exact_value", "min_value", "max_value"), _LENGTH)),
}

#: Checks with a lower and an upper bound (pandera's min_value and max_value).
_BOUNDED = frozenset({"in_range", "between", "str_length"})
#: Checks that read their column as text (through pandas' ``.str``).
_TEXT_CHECKS = frozenset({"str_matches", "str_contains", "str_startswith", "str_endswith", "str_length"})
#: Kinds of column (see `datakeep.validate.coerce.target_kind`) that never hold text.
_NOT_TEXT = frozenset({"int", "float", "bool", "datetime", "zoned"})

#: pandera's options of every check that are flags, written beside its arguments or under
#: ``options:`` (in a ``checks:`` list).
_OPTION_FLAGS = ("ignore_na", "raise_warning", "element_wise")
# No lone argument: the check's arguments are named.
_NOTHING = object()

# What a value of a column of each kind is, alone and several, and how to write one.
_ONE = {"int": "a number", "float": "a number", "bool": "true or false", "string": "text"}
_MANY = {"int": "numbers", "float": "numbers", "bool": "true or false values", "string": "text values"}
_TIME_ONE, _TIME_MANY = "a date and time", "dates and times"
_HINTS = {
    "int": "write a number without quotes",
    "float": "write a number without quotes (1.0e+3, not 1e3, which YAML reads as text)",
    "bool": "write true or false without quotes",
    "string": "quote it in the YAML file: unquoted, 01 is a number and yes/no/on/off are booleans",
    "datetime": "write a date and time without an offset, e.g. 2024-01-01 00:00:00",
    "zoned": "write a date and time with its offset, e.g. 2024-01-01 00:00:00+00:00",
}


def vet_column_checks(at: Place, place: str, column: dict[str, Any], dtype: Any) -> None:
    """Vet the checks of one column: its check keys (``isin: [...]``) and its ``checks:``.

    Args:
        at: The file.
        place: Where the column is (``columns.country``).
        column: The column's mapping as loaded.
        dtype: The column's pandas dtype, or None when it declares none (or an unknown one).
    """
    from pandera.io._flat_checks import COMPONENT_RESERVED_KEYS

    for key, argument in column.items():
        if key not in COMPONENT_RESERVED_KEYS:
            _vet_check(
                at,
                join(place, key),
                key,
                argument,
                dtype,
                hint="use a built-in pandera check (isin, in_range, str_matches, ...) "
                "or one registered with pandera.extensions",
            )
    vet_check_list(at, join(place, "checks"), column.get("checks"), dtype)


def vet_check_list(at: Place, place: str, checks: Any, dtype: Any) -> None:
    """Vet a ``checks:`` block, as a mapping (``{isin: [...]}``) or a list of entries naming their
    check in ``options.check_name``. ``dtype`` is the column's, or None for the schema's checks,
    which see every column."""
    if checks is None:
        return
    if isinstance(checks, dict):
        for name, argument in checks.items():
            _vet_check(at, join(place, str(name)), name, argument, dtype)
    elif isinstance(checks, list):
        for i, entry in enumerate(checks):
            options = entry.get("options") if isinstance(entry, dict) else None
            name = options.get("check_name") if isinstance(options, dict) else None
            if not isinstance(name, str):
                raise at.fail(f"{place}[{i}]", "a check needs options.check_name")
            assert isinstance(entry, dict)
            _vet_check(at, f"{place}[{i}]", name, entry, dtype)
    else:
        raise at.fail(place, "expected a mapping or a list of checks")


def _vet_check(at: Place, place: str, name: Any, argument: Any, dtype: Any, *, hint: str = "") -> None:
    from pandera.api.checks import Check

    if not isinstance(name, str) or not callable(getattr(Check, name, None)):
        raise at.fail(place, f"unknown check '{name}'", hint)
    if name in _TEXT_CHECKS and _kind(dtype) in _NOT_TEXT:
        raise at.fail(
            place,
            f"{name} checks text, but the column's dtype is {dtype}",
            "declare the column as str, or use a check for its dtype (in_range, isin, ...)",
        )
    single, given = _arguments(at, place, argument)
    lone, roles = _PARAMETERS.get(name, (None, {}))
    if single is not _NOTHING:
        if lone is not None:
            _vet_argument(at, place, name, roles[lone], single, dtype)
        return
    for parameter, value in given.items():
        role = roles.get(parameter)
        if role is not None:  # an unknown parameter is pandera's to name
            _vet_argument(at, join(place, parameter), name, role, value, dtype)
    if name in _BOUNDED:
        _vet_bounds(at, place, name, given, dtype)


def _vet_bounds(at: Place, place: str, name: str, given: dict[str, Any], dtype: Any) -> None:
    """Refuse bounds no value lies between: a minimum above the maximum is a typo or swapped
    bounds, and the check would fail every row of every file (pandera builds it all the same)."""
    low, high = given.get("min_value"), given.get("max_value")
    if low is None or high is None:
        return
    order = _compare(low, high, dtype)
    if order is None or order < 0:
        return
    # in_range/between leave a bound out with include_min/include_max: false (str_length has none).
    open_bound = given.get("include_min") is False or given.get("include_max") is False
    if order > 0:
        problem = f"{name} has min_value {low} above max_value {high}: no value can pass"
    elif open_bound:
        problem = f"{name} has min_value {low} equal to max_value {high} with a bound left out: no value can pass"
    else:
        return  # equal bounds: exactly one value passes, which may well be meant
    raise at.fail(place, problem, "swap the bounds, or correct the one that is wrong")


def _compare(low: Any, high: Any, dtype: Any) -> int | None:
    """-1, 0 or 1 as ``low`` is below, equal to or above ``high``, compared as the column's
    values are (times as pandas reads them); None when they cannot be compared."""
    if _kind(dtype) in ("datetime", "zoned"):
        import pandas as pd

        try:
            low, high = pd.Timestamp(low), pd.Timestamp(high)
        except (TypeError, ValueError):
            return None
    try:
        return -1 if low < high else (1 if low > high else 0)
    except TypeError:  # e.g. a naive and a zoned time: their own argument checks name it
        return None


def vet_default(at: Place, place: str, value: Any, dtype: Any, shown: Any) -> None:
    """A default the column cannot hold would be dropped at every file, its cells left null
    (and a column that must have values failing with no word about the default): refuse it.

    Args:
        at: The file.
        place: Where the default is.
        value: The default as loaded.
        dtype: The column's pandas dtype, or None.
        shown: The dtype as the message names it.
    """
    if value is None or dtype is None:
        return
    import pyarrow as pa

    from datakeep.validate.coerce import one_cell, parse  # read as a cell of the source is: same rules

    try:
        parsed, failed = parse(one_cell(value), None, dtype)
        held = not failed.any() and parsed[0].is_valid
    except (pa.ArrowException, ValueError, TypeError, OverflowError):
        held = False
    if held and isinstance(value, bool) and _kind(dtype) == "string":
        words = "yes, on or true" if value else "no, off or false"
        raise at.fail(
            place,
            f"{str(value).lower()} is a boolean, not text for the column's dtype {shown}: "
            f"YAML reads an unquoted {words} (in any letter case) as a boolean",
            "quote the value, e.g. 'NO' or 'yes'",
        )
    if not held:
        raise at.fail(
            place,
            f"{value!r} is not a value of the column's dtype {shown}",
            f"write a {shown} value, or leave the default out",
        )


def vet_targets(at: Place, place: str, values: dict[Any, Any], cast: Any, scale: Any, dtype: Any, shown: Any) -> None:
    """A value map's targets go through the column's cast (and scale) and into its dtype, as a
    raw value does: one that cannot would fail every cell mapped to it, and a boolean read from
    an unquoted NO (Norway) went into a text column as the text 'False'. Refuse either.

    Args:
        at: The file.
        place: Where the value map is (``columns.land.values``).
        values: The value map as loaded.
        cast: The column's `Cast`, or None.
        scale: The column's scale factor, or None.
        dtype: The canonical column's pandas dtype, or None.
        shown: The dtype as the message names it.
    """
    if dtype is None:
        return
    import numpy as np
    import pyarrow as pa

    from datakeep.validate.apply import target_array  # the targets as the mapping reads them
    from datakeep.validate.coerce import parse, target_kind

    if target_kind(dtype) == "string":
        for key, value in values.items():
            if isinstance(value, bool):
                words = "yes, on or true" if value else "no, off or false"
                raise at.fail(
                    join(place, str(key)),
                    f"{key!r} maps to the boolean {str(value).lower()}, not to text for the column's dtype {shown}: "
                    f"YAML reads an unquoted {words} (in any letter case) as a boolean",
                    "quote the value, e.g. 'NO' or 'yes'",
                )
    targets = target_array(list(values.values()))
    try:
        _, failed = parse(targets, cast, np.dtype("float64") if scale is not None else dtype)
    except (pa.ArrowException, ValueError, TypeError, OverflowError):
        failed = np.ones(len(targets), dtype=bool)
    for (key, value), bad in zip(values.items(), failed, strict=True):
        if bad and value is not None:
            read = " as its cast reads it" if cast is not None else ""
            raise at.fail(
                join(place, str(key)),
                f"{key!r} maps to {value!r}, which is not a value of the column's dtype {shown}{read}",
                "a target goes through the column's cast and dtype as a raw value does: write one that does",
            )


def _arguments(at: Place, place: str, argument: Any) -> tuple[Any, dict[str, Any]]:
    """A check's argument as written: a lone value (``greater_than: 5``, ``{value: 5}``) as the
    first item, else its named parameters. Option flags beside them or under ``options:`` are
    vetted on the way."""
    if not isinstance(argument, dict):
        return argument, {}
    options = argument.get("options")
    if isinstance(options, dict):
        _vet_options(at, join(place, "options"), options)
    given = {key: value for key, value in argument.items() if key != "options"}
    _vet_options(at, place, given)
    parameters = {key: value for key, value in given.items() if key not in _OPTION_FLAGS}
    if set(parameters) == {"value"}:
        return parameters["value"], {}
    return _NOTHING, parameters


def _vet_options(at: Place, place: str, options: dict[str, Any]) -> None:
    for key in _OPTION_FLAGS:
        if key in options:
            at.flag(options[key], join(place, key))


def _vet_argument(at: Place, place: str, name: str, role: str, value: Any, dtype: Any) -> None:
    if role == _FLAG:
        at.flag(value, place)
    elif role == _VALUE:
        if value is not None and not _fits(value, dtype):  # a missing bound is pandera's to name
            raise at.fail(place, f"{name} needs {_describe(dtype, many=False)}, not {value!r}", _hint(dtype))
    elif role == _VALUES:
        if not isinstance(value, list):
            # `isin: DE` is a set of letters to pandera: 'D' would pass and 'DE' fail.
            raise at.fail(place, f"{name} needs a list of values, not {value!r}", f"write {name}: [{value}]")
        for i, item in enumerate(value):
            if item is not None and not _fits(item, dtype):
                raise at.fail(
                    f"{place}[{i}]", f"{name} needs {_describe(dtype, many=True)}, not {item!r}", _hint(dtype)
                )
    elif role == _LENGTH:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise at.fail(
                place,
                f"{name} needs a whole number of characters, not {value!r}",
                f"e.g. {name}: {{min_value: 1, max_value: 50}}, or {name}: 2 for exactly two",
            )
    elif role == _PATTERN:
        if not isinstance(value, str):
            raise at.fail(place, f"{name} needs a regular expression, not {value!r}", "quote it in the YAML file")
        try:
            re.compile(value)
        except re.error as exc:
            raise at.fail(place, f"{value!r} is not a regular expression: {exc}") from None
    elif role == _TEXT and not isinstance(value, str):
        raise at.fail(place, f"{name} needs text, not {value!r}", "quote it in the YAML file")


def _kind(dtype: Any) -> str:
    from datakeep.validate.coerce import target_kind  # the families the cast code converts to

    return target_kind(dtype)


def _fits(value: Any, dtype: Any) -> bool:
    """Whether a check can hold ``value`` against the cells of a ``dtype`` column."""
    kind = _kind(dtype)
    if kind in ("int", "float"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind in ("datetime", "zoned"):
        return _comparable_time(value, dtype)
    return True  # object, category, timedelta, no dtype: anything may be compared


def _comparable_time(value: Any, dtype: Any) -> bool:
    """Whether pandas can compare a time column with ``value``: a naive date and time with a naive
    column, one with an offset with a zoned column, or text pandas reads as one of those."""
    import pandas as pd

    if not isinstance(value, str | dt.date):
        return False
    with contextlib.suppress(TypeError, ValueError):
        # As pandera reads a bound of a time column before it compares (`_deserialize_check_stats`).
        value = pd.to_datetime(value, format="%Y-%m-%d %H:%M:%S")
    sample = pd.Series([pd.Timestamp("2000-01-01", tz=getattr(dtype, "tz", None))]).astype(dtype)
    try:
        sample < value  # noqa: B015 -- whether pandas raises is the question
    except (TypeError, ValueError):
        return False
    return True


def _describe(dtype: Any, *, many: bool) -> str:
    kind = _kind(dtype)
    times = kind in ("datetime", "zoned")
    what = (_TIME_MANY if times else _MANY[kind]) if many else (_TIME_ONE if times else _ONE[kind])
    return f"{what} (the column's dtype is {dtype})"


def _hint(dtype: Any) -> str:
    return _HINTS.get(_kind(dtype), "")
