"""A commit: message, author, time, parents, and the snapshot of every tracked dataset."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from datakeep.errors import CorruptObjectError
from datakeep.ids import ObjectId

FORMAT = "datakeep.commit"
VERSION = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class DatasetRef:
    snapshot: str  # logical content id
    manifest: ObjectId  # the stored manifest describing it


@dataclass(frozen=True, slots=True, kw_only=True)
class Commit:
    parents: tuple[ObjectId, ...]
    message: str
    author: str
    time: str  # ISO 8601 with UTC offset
    datasets: dict[str, DatasetRef]
    #: Per dataset, what changed against the first parent (rows, schema); read by `log --stat`.
    summary: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "parents": list(self.parents),
            "message": self.message,
            "author": self.author,
            "time": self.time,
            "datasets": {
                name: {"snapshot": ref.snapshot, "manifest": ref.manifest}
                for name, ref in sorted(self.datasets.items())
            },
            "summary": self.summary,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], oid: str = "?") -> Commit:
        if data.get("format") != FORMAT:
            raise CorruptObjectError(oid, f"not a commit (format {data.get('format')!r})")
        return cls(
            parents=tuple(ObjectId(p) for p in data["parents"]),
            message=data["message"],
            author=data["author"],
            time=data["time"],
            datasets={
                name: DatasetRef(snapshot=ref["snapshot"], manifest=ObjectId(ref["manifest"]))
                for name, ref in data["datasets"].items()
            },
            summary=data.get("summary") or {},
        )
