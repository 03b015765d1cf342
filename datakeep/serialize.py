"""The one canonical JSON encoding of stored documents: the only form that is ever hashed."""

from __future__ import annotations

import json
from typing import Any


def canonical_json(document: Any) -> bytes:
    """Sorted keys, fixed separators, UTF-8, no NaN: the same value always gives the same bytes."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


def load_json(data: bytes | str) -> Any:
    return json.loads(data)


def pretty_json(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=False, ensure_ascii=False, default=str)
