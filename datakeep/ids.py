"""Typed ids, and the check every id passes before it becomes part of a path."""

from __future__ import annotations

import os
import re
from typing import NewType

from datakeep.errors import InvalidIdError

#: Content address of a stored object: xxh3-128 of its bytes, 32 lowercase hex digits.
ObjectId = NewType("ObjectId", str)
#: Logical content hash of a table or chunk (independent of how it is encoded on disk).
ContentId = NewType("ContentId", str)

ID_LENGTH = 32
_ID_RE = re.compile(r"[0-9a-f]{32}")
#: Short ids as in git, but from 2 digits: the fan-out folder is then enough to list candidates.
_PREFIX_RE = re.compile(r"[0-9a-f]{2,32}")


def is_object_id(value: str) -> bool:
    return bool(_ID_RE.fullmatch(value))


def object_id(value: str) -> ObjectId:
    """Return ``value`` as an ObjectId, or raise if it could smuggle a path (`../`, `/`, ...)."""
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        raise InvalidIdError(str(value))
    return ObjectId(value)


#: The folder a repository keeps its objects in, each at ``ab/cdef…`` under it (`LocalStore`).
OBJECTS_FOLDER = "objects"


def stored_object_at(path: str | os.PathLike[str]) -> ObjectId | None:
    """The id of the object whose file ``path`` is, when it lies in an object store's layout
    (``objects/ab/cdef…``), else None: a reader handed a path alone can then name the damaged
    object (and its repair) rather than a file the user never wrote."""
    parts = os.path.normpath(os.fspath(path)).split(os.sep)
    if len(parts) < 3 or parts[-3] != OBJECTS_FOLDER or len(parts[-2]) != 2:
        return None
    oid = parts[-2] + parts[-1]
    return ObjectId(oid) if is_object_id(oid) else None


def is_id_prefix(value: str) -> bool:
    return bool(_PREFIX_RE.fullmatch(value))


def short(value: str, length: int = 10) -> str:
    return value[:length]


def shown_revision(rev: str) -> str:
    """A revision as a report's header names it: a whole object id (a merge base, an id
    pasted in) in its short form, as `log` prints it; any other name as given."""
    return short(rev) if _ID_RE.fullmatch(rev) else rev
