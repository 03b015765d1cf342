"""Drift between two versions of a column, from the statistics stored at commit (no data read).

The score is the population stability index, PSI = Σ (q − p) · ln(q / p) over bins, where p and q
are the old and new share of rows in each bin. Numbers (and times) are binned at the old
version's ventiles, using each version's stored systematic sample; categories use the stored
top values plus an "other" bin. Nulls are a bin of their own in both, so a jump in the null rate
is drift too. Conventional reading: < 0.1 stable, 0.1–0.25 moderate, > 0.25 major.
Categories whose named bins see too little of the values (`SEEN_LEAST`) are not measured:
`score` gives None and why, rather than a zero that would read as "stable".
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

MODERATE = 0.1
MAJOR = 0.25
#: Share given to an empty bin, so ln(q / p) stays finite (a common PSI convention).
_FLOOR = 1e-4

_NUMERIC_PREFIXES = ("int", "uint", "float", "double", "halffloat", "decimal", "timestamp", "date", "time", "duration")


@dataclass(frozen=True, slots=True, kw_only=True)
class Distribution:
    """Bin labels with each version's share of rows: what the HTML report draws side by side."""

    labels: tuple[str, ...]
    old: tuple[float, ...]
    new: tuple[float, ...]
    #: The least share, of the two versions, of non-null values in bins that name values (1 for
    #: numbers): below `SEEN_LEAST` most values sit in "other", where no change shows.
    seen: float = 1.0


#: Categories whose named bins hold less than this share of a version's values are not measured
#: unless they already score as drift (a coarser binning only lowers PSI, so a score it gives is
#: one the column at least has): all-new emails (user1@old → user1@new) scored 0.000 "none".
SEEN_LEAST = 0.5


def score(
    type_name: str, old: Mapping[str, Any], new: Mapping[str, Any], *, old_type: str | None = None
) -> tuple[Distribution | None, float | None, str | None]:
    """The binned shares, the PSI and, when there is no score, why not (None when the stored
    statistics say nothing to explain, as for a version with no rows)."""
    dist = distributions(type_name, old, new, old_type=old_type)
    value = psi(dist)
    reason = None
    if dist is not None and value is not None and dist.seen < SEEN_LEAST and value < MODERATE:
        reason = (
            f"too many distinct values: the most frequent ones stored at commit hold {dist.seen:.0%} "
            "of a version's values, and a change among the rest would not show"
        )
    counted = "distinct" in old or "distinct" in new  # text, booleans, numbers: not nested types
    uncounted = "top" not in old or "top" not in new
    if dist is None and old.get("count") and new.get("count") and counted and uncounted:
        reason = "too many distinct values (over 1,000, or text too long to count) to bin"
    if reason is None:
        return dist, value, None
    # The values cannot be binned, but their null rate can: values and nulls are the coarsest
    # binning, so its PSI is drift the column at least has (a column whose values all go null).
    nulls = _null_bins(old, new)
    floor = psi(nulls)
    if nulls is not None and floor is not None and floor >= MODERATE:
        return nulls, floor, None
    return None, None, reason


def _null_bins(old: Mapping[str, Any], new: Mapping[str, Any]) -> Distribution | None:
    """Each version's shares of values and of nulls."""
    if not old.get("count") or not new.get("count"):
        return None
    p, q = _null_share(old), _null_share(new)
    return Distribution(labels=("(values)", "null"), old=(1 - p, p), new=(1 - q, q))


def level(score: float | None, moderate: float = MODERATE, major: float = MAJOR) -> str | None:
    if score is None:
        return None
    return "major" if score >= major else "moderate" if score >= moderate else "none"


def is_numeric(type_name: str) -> bool:
    return type_name.startswith(_NUMERIC_PREFIXES)


def distributions(
    type_name: str, old: Mapping[str, Any], new: Mapping[str, Any], *, old_type: str | None = None
) -> Distribution | None:
    """Both versions' shares per bin, or None when the stored statistics cannot say.
    ``old_type`` is the old version's type when it differs (a time unit that changed)."""
    if not old.get("count") or not new.get("count"):
        return None
    if is_numeric(type_name) and (old.get("sample") or new.get("sample")) and _all_counted(old) and _all_counted(new):
        # One side may have no sample: every value null (or NaN) there, which is drift too.
        return _numeric(old, new, _seconds_per_unit(old_type or type_name), _seconds_per_unit(type_name))
    if old.get("top") is not None and new.get("top") is not None and "top" in old and "top" in new:
        return _categorical(old, new)
    return None


def psi(dist: Distribution | None) -> float | None:
    if dist is None:
        return None
    p = np.maximum(np.asarray(dist.old, dtype=np.float64), _FLOOR)
    q = np.maximum(np.asarray(dist.new, dtype=np.float64), _FLOOR)
    score = float(np.sum((q - p) * np.log(q / p)))
    return round(score, 6) if math.isfinite(score) else None


def _complete(stats: Mapping[str, Any]) -> bool:
    """Whether the stored top values are all of the version's values (an exact distinct count
    no larger than the list)."""
    return bool(stats.get("distinct_exact")) and int(stats.get("distinct", 1 << 62)) <= len(stats.get("top") or ())


def _null_share(stats: Mapping[str, Any]) -> float:
    return stats.get("nulls", 0) / stats["count"] if stats.get("count") else 0.0


#: Time types whose stored samples count a unit (see ``stats``), and that unit in seconds.
_TIME_UNIT = re.compile(r"^(?:timestamp|time32|time64|duration)\[(s|ms|us|ns)")
_SECONDS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


def _seconds_per_unit(type_name: str) -> float:
    """What one unit of a stored sample is worth, so the same instants written in another unit
    (pandas' ns, polars' us) are not drift; 1 for plain numbers."""
    if type_name.startswith("date32"):
        return 86400.0
    if type_name.startswith("date64"):
        return 1e-3
    unit = _TIME_UNIT.match(type_name)
    return _SECONDS[unit.group(1)] if unit else 1.0


def _all_counted(stats: Mapping[str, Any]) -> bool:
    """Whether the sample stands for every value not counted apart (null, NaN, ±inf): a column
    with values but no sample (a decimal's, which keeps none) cannot be binned."""
    return bool(stats.get("sample")) or _finite_count(stats) == 0


def _finite_count(stats: Mapping[str, Any]) -> int:
    return int(stats.get("count", 0)) - sum(int(stats.get(k, 0)) for k in ("nulls", "nan", "inf", "-inf"))


def _numeric(old: Mapping[str, Any], new: Mapping[str, Any], old_scale: float, new_scale: float) -> Distribution:
    """Bins at the old version's deciles (the new one's when the old has no values), plus one
    below its least value and one above its greatest: a column that moves past the old range
    (a constant 1 becoming 1000, codes {0, 1} becoming {0, 7}) lands in a bin of its own instead
    of the open-ended top decile. NaN, when either version has it, is a bin; -inf and +inf count
    in the outer bins; nulls are a bin."""
    before = np.asarray(old.get("sample") or [], dtype=np.float64) * old_scale
    after = np.asarray(new.get("sample") or [], dtype=np.float64) * new_scale
    reference = before if len(before) else after
    lo, hi = float(reference.min()), float(reference.max())
    deciles = np.quantile(reference, np.linspace(0, 1, 11))[1:-1]
    edges = np.unique([lo, *deciles, np.nextafter(hi, np.inf)])
    labels = _edge_labels(edges, hi)
    with_nan = bool(old.get("nan") or new.get("nan"))
    shares = []
    for values, stats in ((before, old), (after, new)):
        total = stats["count"]
        bins = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1).astype(np.float64)
        bins *= _finite_count(stats) / total / max(len(values), 1)
        bins[0] += stats.get("-inf", 0) / total
        bins[-1] += stats.get("inf", 0) / total
        nan = [stats.get("nan", 0) / total] if with_nan else []
        shares.append([*bins, *nan, _null_share(stats)])
    names = (*labels, *(["NaN"] if with_nan else []), "null")
    return Distribution(labels=names, old=tuple(shares[0]), new=tuple(shares[1]))


def _edge_labels(edges: np.ndarray, greatest: float) -> list[str]:
    """Labels of the bins `searchsorted` makes of ``edges``, whose last is just above
    ``greatest`` (shown as the value itself)."""
    shown = [*edges[:-1], greatest]
    labels = [f"< {shown[0]:.4g}"]
    for low, high in itertools.pairwise(shown):
        labels.append(f"{low:.4g}" if f"{low:.4g}" == f"{high:.4g}" else f"{low:.4g} – {high:.4g}")
    labels.append(f"> {greatest:.4g}")
    return labels


def _categorical(old: Mapping[str, Any], new: Mapping[str, Any]) -> Distribution:
    top_old = {str(v): c for v, c in old["top"]}
    top_new = {str(v): c for v, c in new["top"]}
    # A value gets a bin where both versions' counts of it are known: listed on both sides, or
    # listed on one while the other's list holds all its values (then it has none of it). A
    # value missing from an incomplete list may still be in that version's tail, and counting it
    # as 0 there would invent drift; leaving out a known 0 hid DE/FR becoming US/GB entirely.
    known = [
        label
        for label in dict.fromkeys([*top_old, *top_new])
        if (label in top_old or _complete(old)) and (label in top_new or _complete(new))
    ]
    labels = sorted(known, key=lambda label: -(top_old.get(label, 0) + top_new.get(label, 0)))[:30]
    shares = []
    seen = 1.0
    for top, stats in ((top_old, old), (top_new, new)):
        total = stats["count"]
        counts = [top.get(label, 0) for label in labels]
        values = total - stats.get("nulls", 0)
        other = max(values - sum(counts), 0)
        if values > 0:
            seen = min(seen, 1 - other / values)
        shares.append([*(c / total for c in counts), other / total, _null_share(stats)])
    return Distribution(labels=(*labels, "(other)", "null"), old=tuple(shares[0]), new=tuple(shares[1]), seen=seen)
