"""Revision syntax, as in git: full or short id, tag, branch, HEAD, REV~N, and REV:dataset."""

from __future__ import annotations

import re
import unicodedata

from datakeep.errors import RevisionError
from datakeep.ids import ObjectId, is_id_prefix, is_object_id
from datakeep.records.refs import HEADS, REMOTES, TAGS
from datakeep.repo import Repository

_ANCESTOR_RE = re.compile(r"^(?P<base>.*?)(?P<suffix>(?:~\d*|\^)*)$")


def split_dataset(spec: str) -> tuple[str, str | None]:
    """``"v1:flights"`` → ("v1", "flights"); ``"v1"`` → ("v1", None). The name in NFC, as
    dataset names are stored."""
    if ":" in spec:
        rev, name = spec.rsplit(":", 1)
        return rev or "HEAD", unicodedata.normalize("NFC", name)
    return spec, None


def resolve(repo: Repository, rev: str) -> ObjectId:
    """The commit id ``rev`` names, or RevisionError saying why not."""
    match = _ANCESTOR_RE.match(rev.strip())
    assert match is not None
    base, suffix = match.group("base"), match.group("suffix")
    oid = _resolve_base(repo, base, rev)
    for step in re.findall(r"~\d*|\^", suffix):
        count = 1 if step in ("~", "^") else int(step[1:])
        for _ in range(count):
            parents = repo.commit_at(oid).parents
            if not parents:
                raise RevisionError(rev, "goes back further than the first commit")
            oid = parents[0]
    return oid


def _resolve_base(repo: Repository, base: str, rev: str) -> ObjectId:
    if base in ("HEAD", "@", ""):
        head = repo.head()
        if head is None:
            raise RevisionError(rev, "HEAD has no commits yet (make one with `datakeep commit`)")
        return head
    for ref in (f"{TAGS}/{base}", f"{HEADS}/{base}", f"{REMOTES}/{base}"):  # origin/main too, as in git
        target = repo.refs.get(ref) if _safe_ref(base) else None
        if target:
            return target
    if is_object_id(base):
        if repo.store.has(ObjectId(base)) and _is_commit(repo, ObjectId(base)):
            return ObjectId(base)
        raise RevisionError(rev, "no commit with that id")
    if is_id_prefix(base.lower()):
        candidates = [c for c in repo.store.with_prefix(base.lower()) if _is_commit(repo, c)]
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1:
            listing = ", ".join(c[:12] for c in candidates[:10])
            raise RevisionError(rev, f"ambiguous: {len(candidates)} commits start with it ({listing})", candidates)
    if base in repo.load_index().datasets:
        # `datakeep show flights`, `log flights`: a dataset where a revision goes.
        raise RevisionError(
            rev,
            f"not a commit id, tag or branch, but '{base}' is a dataset",
            hint=f"name a dataset's version as REV:{base} (e.g. HEAD:{base}); `log --name {base}` lists its commits",
        )
    raise RevisionError(rev, "not a commit id, tag or branch")


def _safe_ref(name: str) -> bool:
    return ".." not in name and not name.startswith("/")


def _is_commit(repo: Repository, oid: ObjectId) -> bool:
    # Chunks are Parquet ("PAR1..."), commits are plain JSON: peek before reading a whole object.
    if repo.store.read_prefix(oid, 1) != b"{":
        return False
    try:
        return repo.get_document(oid).get("format") == "datakeep.commit"
    except Exception:
        return False
