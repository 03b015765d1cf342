"""Schema diff: columns added, removed, retyped, nullability changed, reordered, renamed.

Works on the canonical column lists stored in manifests ({name, type, nullable}), so it never
reads data. Candidate renames (a removed and an added column holding the same values) are found
from the stored statistics, which include a systematic sample of the values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from datakeep.diff.result import Rename, SchemaDiff, TypeChange

Columns = Sequence[Mapping[str, Any]]

# Statistics that must all be equal before two differently named columns count as the same values.
_RENAME_EVIDENCE = ("count", "nulls", "min", "max", "mean", "std", "distinct", "top", "quantiles", "sample")


@dataclass(frozen=True, slots=True, kw_only=True)
class ColumnPlan:
    """How one column of the new version lines up with the old one for row comparison."""

    old: str
    new: str
    old_type: str
    new_type: str

    @property
    def retyped(self) -> bool:
        return self.old_type != self.new_type


def schema_diff(
    old: Columns,
    new: Columns,
    *,
    renames: Mapping[str, str] | None = None,
    old_stats: Mapping[str, Any] | None = None,
    new_stats: Mapping[str, Any] | None = None,
) -> SchemaDiff:
    """Compare two column lists; ``renames`` maps old names to new names (explicit renames)."""
    old_by_name = {c["name"]: c for c in old}
    new_by_name = {c["name"]: c for c in new}
    pairs = _pairs(list(old_by_name), list(new_by_name), renames)
    explicit = {o: n for o, n in pairs.items() if o != n}
    added = [n for n in new_by_name if n not in set(pairs.values())]
    removed = [n for n in old_by_name if n not in pairs]
    type_changed: list[TypeChange] = []
    nullability: list[TypeChange] = []
    for name, column in old_by_name.items():
        target = new_by_name.get(pairs.get(name, ""))
        if target is None:
            continue
        if column["type"] != target["type"]:
            type_changed.append(TypeChange(column=target["name"], old=column["type"], new=target["type"]))
        if bool(column.get("nullable", True)) != bool(target.get("nullable", True)):
            nullability.append(
                TypeChange(
                    column=target["name"],
                    old="nullable" if column.get("nullable", True) else "not null",
                    new="nullable" if target.get("nullable", True) else "not null",
                )
            )
    common_old = [pairs[c["name"]] for c in old if c["name"] in pairs]
    common_new = [c["name"] for c in new if c["name"] in set(common_old)]
    found = [Rename(old=o, new=n, how="explicit") for o, n in explicit.items()]
    found += _candidates(removed, added, old_by_name, new_by_name, old_stats or {}, new_stats or {})
    return SchemaDiff(
        added=tuple(added),
        removed=tuple(removed),
        type_changed=tuple(type_changed),
        nullability_changed=tuple(nullability),
        renamed=tuple(found),
        reordered=common_old != common_new,
    )


def _candidates(
    removed: list[str],
    added: list[str],
    old_by_name: Mapping[str, Mapping[str, Any]],
    new_by_name: Mapping[str, Mapping[str, Any]],
    old_stats: Mapping[str, Any],
    new_stats: Mapping[str, Any],
) -> list[Rename]:
    out: list[Rename] = []
    taken: set[str] = set()
    for old_name in removed:
        before = old_stats.get(old_name)
        if not before or not before.get("count"):
            continue
        for new_name in added:
            after = new_stats.get(new_name)
            if new_name in taken or not after or old_by_name[old_name]["type"] != new_by_name[new_name]["type"]:
                continue
            if all(before.get(k) == after.get(k) for k in _RENAME_EVIDENCE):
                out.append(Rename(old=old_name, new=new_name, how="candidate"))
                taken.add(new_name)
                break
    return out


def _pairs(old: Sequence[str], new: Sequence[str], renames: Mapping[str, str] | None) -> dict[str, str]:
    """Old column name → the new column it is compared with. An explicit rename wins over a name
    both versions have: `--rename a=b --rename b=a` swaps two columns, and `--rename a=b` where
    the old version also had a `b` compares old `a` with new `b` (old `b` is then removed)."""
    explicit = {o: n for o, n in (renames or {}).items() if o in old and n in new}
    taken = set(explicit.values())
    pairs = dict(explicit)
    for name in old:
        if name not in pairs and name in new and name not in taken:
            pairs[name] = name
    return pairs


def column_plan(old: Columns, new: Columns, renames: Mapping[str, str] | None = None) -> list[ColumnPlan]:
    """The columns both versions have (after explicit renames), in the new version's order."""
    pairs = _pairs([c["name"] for c in old], [c["name"] for c in new], renames)
    by_name = {c["name"]: c for c in old}
    new_to_old = {target: by_name[name] for name, target in pairs.items()}
    plan = []
    for column in new:
        before = new_to_old.get(column["name"])
        if before is not None:
            plan.append(
                ColumnPlan(old=before["name"], new=column["name"], old_type=before["type"], new_type=column["type"])
            )
    return plan
