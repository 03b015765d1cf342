"""Repository configuration (`.datakeep/config.json`): format, hash algorithm, canonical encoding,
remotes.

Remote URLs live here, inside `.datakeep/`, never in files meant for git; credentials are never
stored at all (they come from the environment or fsspec's own configuration).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datakeep.digest import ALGORITHM, declared_encoding, unknown_encoding
from datakeep.errors import DatakeepError
from datakeep.fsutil import atomic_write
from datakeep.serialize import load_json, pretty_json

FORMAT = "datakeep.config"
VERSION = 1


@dataclass(slots=True, kw_only=True)
class Config:
    hash: str = ALGORITHM
    encoding: int = 1
    remotes: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "hash": self.hash,
            "encoding": self.encoding,
            "remotes": dict(sorted(self.remotes.items())),
            **self.extra,
        }

    @classmethod
    def load(cls, path: Path) -> Config:
        try:
            data = load_json(path.read_bytes())
        except FileNotFoundError:
            raise DatakeepError(f"{path} is missing", "the repository is damaged; run `datakeep fsck`") from None
        except ValueError as exc:
            raise DatakeepError(f"{path} is not valid JSON ({exc})", "restore it or re-create the repository") from None
        if data.get("hash") != ALGORITHM:
            raise DatakeepError(
                f"repository uses hash {data.get('hash')!r}, this datakeep knows only {ALGORITHM}",
                "upgrade datakeep",
            )
        encoding = declared_encoding(data)
        if encoding is None:
            raise DatakeepError(f"repository uses {unknown_encoding(data)}", "upgrade datakeep")
        known = {"format", "version", "hash", "encoding", "remotes"}
        return cls(
            hash=data["hash"],
            encoding=encoding,
            remotes=dict(data.get("remotes") or {}),
            extra={k: v for k, v in data.items() if k not in known},
        )

    def save(self, path: Path) -> None:
        atomic_write(path, (pretty_json(self.to_dict()) + "\n").encode())
