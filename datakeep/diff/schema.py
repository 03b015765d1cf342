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
    renames = dict(renames or {})
    old_by_name = {c["name"]: c for c in old}
    new_by_name = {c["name"]: c for c in new}
    explicit = {o: n for o, n in renames.items() if o in old_by_name and n in new_by_name and o not in new_by_name}
    matched_new = {explicit.get(n, n) for n in old_by_name}
    added = [n for n in new_by_name if n not in matched_new]
    removed = [n for n in old_by_name if explicit.get(n, n) not in new_by_name]
    type_changed: list[TypeChange] = []
    nullability: list[TypeChange] = []
    for name, column in old_by_name.items():
        target = new_by_name.get(explicit.get(name, name))
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
    common_old = [explicit.get(c["name"], c["name"]) for c in old if explicit.get(c["name"], c["name"]) in new_by_name]
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


def column_plan(old: Columns, new: Columns, renames: Mapping[str, str] | None = None) -> list[ColumnPlan]:
    """The columns both versions have (after explicit renames), in the new version's order."""
    renames = dict(renames or {})
    new_to_old = {}
    new_names = {c["name"] for c in new}
    for column in old:
        target = renames.get(column["name"], column["name"])
        if column["name"] in new_names and column["name"] != target:
            target = column["name"]  # a rename onto an existing name is ignored: the name still exists
        new_to_old[target] = column
    plan = []
    for column in new:
        before = new_to_old.get(column["name"])
        if before is not None:
            plan.append(
                ColumnPlan(old=before["name"], new=column["name"], old_type=before["type"], new_type=column["type"])
            )
    return plan


def same_layout(old: Columns, new: Columns) -> bool:
    """True when stored row hashes of the two versions are directly comparable."""
    return [(c["name"], c["type"]) for c in old] == [(c["name"], c["type"]) for c in new]
