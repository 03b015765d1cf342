"""push: send the commits a ref names, and only the objects the remote lacks; refs move last.

What the remote has is worked out in two steps, like git's negotiation:

1. every object reachable from a remote ref whose commit we also have is on the remote already
   (refs move only after their objects arrived), so it is not even asked about — nor read: the
   walk back from what is pushed stops where it meets the remote's history (`missing_commits`),
   and only the commits above that line, their new manifests and the manifests of the same
   datasets in the commits they build on are read, however long the history beneath;
2. the remaining candidates are checked by listing their fan-out prefixes (``objects/ab/``), one
   LIST per prefix rather than one HEAD per object — this also finds what an interrupted push
   left behind, so a re-run sends only the rest.

Those listings also come across the temp files of pushes killed mid-write on a folder remote
(``objects/ab/<name>.tmp-<hex>``), as the refs listing does for ref writes: the ones an hour old or
more are removed on the way out, which costs nothing when there are none. ``:NAME`` and ``delete``
remove refs instead (``delete.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from datakeep.errors import RemoteError, UsageError
from datakeep.history import MissingCommits, missing_commits
from datakeep.ids import ObjectId
from datakeep.maintenance import promised_by
from datakeep.records.refs import HEADS, TAGS
from datakeep.remote.config import open_remote
from datakeep.remote.connect import EncodingMismatchError, Remote, reports_unreachable
from datakeep.remote.delete import RefDeletion, delete_refs, split_refspecs
from datakeep.remote.graph import REMOTES, RefUpdate, classify
from datakeep.remote.refs import DamagedRefError, RemoteRefMovedError, damaged_ref_error, parse_ref
from datakeep.remote.transfer import ProgressCallback, TransferStats, announce, copy_objects
from datakeep.repo import Repository
from datakeep.store.fsspec_store import remove_stale

#: A swap lost to a concurrent push is re-read and re-checked this many times before giving up.
CAS_ATTEMPTS = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class PushPlan:
    """The objects to send, in the order they must arrive, and how many were already there."""

    groups: tuple[tuple[ObjectId, ...], ...]  # chunks, manifests, commits
    needed: int
    present: int

    @property
    def objects(self) -> int:
        return sum(len(g) for g in self.groups)


@dataclass(slots=True, kw_only=True)
class PushResult:
    remote: str
    url: str
    sent: TransferStats
    already_there: int
    updates: list[RefUpdate] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)  # other remote refs found damaged (not touched)
    deleted: list[RefDeletion] = field(default_factory=list)
    temp_files: int = 0  # leftovers of killed pushes removed from the remote
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "remote": self.remote,
            "url": self.url,
            "objects": self.sent.objects,
            "bytes": self.sent.bytes,
            "already_there": self.already_there,
            "refs": [u.to_dict() for u in self.updates] + [d.to_dict() for d in self.deleted],
            "damaged": self.damaged,
            "temp_files": self.temp_files,
            "warnings": self.warnings,
        }


def select_refs(repo: Repository, revs: Sequence[str], all_refs: bool) -> dict[str, ObjectId]:
    """Which local refs to push: named branches/tags, every ref (``--all``), or the current branch."""
    branches = {f"{HEADS}/{n}": o for n, o in repo.refs.list(HEADS).items()}
    tags = {f"{TAGS}/{n}": o for n, o in repo.refs.list(TAGS).items()}
    if all_refs:
        chosen = {**branches, **tags}
    elif revs:
        chosen = dict(_named_ref(rev, branches, tags) for rev in revs)
    else:
        branch, head = repo.refs.head_target()
        if branch is None:
            raise RemoteError("HEAD is detached", "name what to push: `datakeep push origin BRANCH`, or --all")
        if head is None:
            raise RemoteError(f"branch {branch} has no commits yet", "commit first: `datakeep commit -m ...`")
        chosen = {f"{HEADS}/{branch}": head}
    if not chosen:
        raise RemoteError("nothing to push", "commit first: `datakeep commit -m ...`")
    return chosen


def _named_ref(rev: str, branches: dict[str, ObjectId], tags: dict[str, ObjectId]) -> tuple[str, ObjectId]:
    """The local ref ``rev`` names: a branch, a tag, or either spelt in full (``refs/tags/rel``)."""
    if rev in branches or rev in tags:
        return rev, {**branches, **tags}[rev]
    as_branch, as_tag = f"{HEADS}/{rev}", f"{TAGS}/{rev}"
    if as_branch in branches and as_tag in tags:
        # Elsewhere 'rel' alone means the tag; a push changes a place others share, so it asks.
        raise RemoteError(
            f"'{rev}' names both a tag and a branch (refs/tags/{rev}, refs/heads/{rev})",
            f"name the one to push in full: `datakeep push REMOTE refs/tags/{rev}` or `refs/heads/{rev}`",
        )
    if as_branch in branches:
        return as_branch, branches[as_branch]
    if as_tag in tags:
        return as_tag, tags[as_tag]
    raise RemoteError(f"no local branch or tag named '{rev}'", "`datakeep branch` and `datakeep tag` list them")


def refuse_clashes(chosen: dict[str, ObjectId], remote_names: set[str], remote: str) -> None:
    """A ref cannot sit beside another that uses its name as a folder ('feature' and 'feature/x'):
    say which one is in the way, before anything is sent."""
    for ref in sorted(chosen):
        for other in sorted(remote_names):
            if other.startswith(ref + "/") or ref.startswith(other + "/"):
                mine, theirs = ref.split("/", 2)[2], other.split("/", 2)[2]
                raise RemoteError(
                    f"{remote} has {other}, so {ref} cannot exist there too ('{mine}' and '{theirs}' "
                    "would need the same name as a file and as a folder)",
                    f"rename yours (`datakeep branch {mine}-2 {mine}`, then push that), or delete {other} "
                    f"on {remote} if it is stale",
                )


def plan_push(repo: Repository, remote: Remote, targets: set[ObjectId], remote_refs: dict[str, ObjectId]) -> PushPlan:
    """The objects reachable from ``targets`` that the remote lacks.

    A partial clone pushing to a remote other than the one that promised what it has not
    fetched sends that too, fetched on the way: otherwise the remote's refs would name commits
    whose data it lacks. (To the promising remote, those objects are there already.)"""
    fetch_promised = promised_by(repo) not in (None, remote.name)
    known = {oid for oid in remote_refs.values() if repo.store.has(oid)}
    missing = missing_commits(repo, targets, known)
    manifests, data = _wanted_objects(repo, missing, fetch_promised=fetch_promised)
    candidates = [sorted(data), sorted(manifests), sorted(missing.commits)]
    present = remote.store.present(oid for group in candidates for oid in group)
    groups = tuple(tuple(oid for oid in group if oid not in present) for group in candidates)
    return PushPlan(groups=groups, needed=sum(len(g) for g in candidates), present=len(present))


def _wanted_objects(
    repo: Repository, missing: MissingCommits, *, fetch_promised: bool
) -> tuple[set[ObjectId], set[ObjectId]]:
    """(manifests, data objects) the ``missing`` commits name, less what the commits they build
    on name: those are on the remote with them. Only the manifests of datasets that changed are
    read, on both sides; anything older they share (a dataset put back as it was long ago) stays
    a candidate, which the remote's listing then finds there."""
    skip_promised = promised_by(repo) is not None and not fetch_promised
    held = {ref.manifest for commit in missing.boundary.values() for ref in commit.datasets.values()}
    manifests: set[ObjectId] = set()
    data: set[ObjectId] = set()
    changed: set[str] = set()
    for commit in missing.commits.values():
        for name, ref in commit.datasets.items():
            if ref.manifest in held or ref.manifest in manifests:
                continue
            manifests.add(ref.manifest)
            changed.add(name)
            if skip_promised and not repo.store.has(ref.manifest):
                continue  # promised by this very remote, with everything beneath it
            data.update(repo.manifest_at(ref.manifest).object_ids())
    # A partial clone's `has` asks only the local store: the remote's side is never fetched for this.
    beneath = {
        commit.datasets[name].manifest
        for commit in missing.boundary.values()
        for name in changed & set(commit.datasets)
    }
    for oid in beneath:
        if repo.store.has(oid):
            data.difference_update(repo.manifest_at(oid).object_ids())
    return manifests, data


@reports_unreachable
def push(
    repo: Repository,
    remote: str | None = None,
    revs: Sequence[str] = (),
    *,
    all_refs: bool = False,
    force: bool = False,
    progress: ProgressCallback | None = None,
    max_objects: int | None = None,
    delete: bool = False,
) -> PushResult:
    """Send commits and the objects they need to a remote; refs move last, by compare-and-swap.

    A remote in another canonical encoding than this repository's is refused before anything is
    sent (a new remote takes ours). ``max_objects`` is a test hook simulating an interruption
    after that many objects.

    With ``delete`` (or a rev spelt ``:NAME``, as in git) the named branches and tags are deleted
    on the remote instead (`delete_refs`); ``force`` then lets the branch the remote's HEAD names go.
    """
    revs, deletions = split_refspecs(revs, delete)
    if delete and not deletions:
        raise UsageError("nothing to delete", "name the branches or tags: `datakeep push REMOTE --delete NAME...`")
    if deletions:
        if all_refs:
            raise UsageError("--all and --delete do not go together", "name the branches or tags to delete")
        return _delete(repo, open_remote(repo, remote), deletions, force=force)
    target = open_remote(repo, remote)
    chosen = select_refs(repo, revs, all_refs)
    theirs = target.ensure(repo.config.encoding)
    if theirs != repo.config.encoding:
        raise EncodingMismatchError(
            target.label,
            theirs=theirs,
            ours=repo.config.encoding,
            hint="push to a new remote (it takes this repository's encoding), "
            f"or `datakeep clone {target.url}` and commit there",
        )
    remote_refs, damaged = target.refs.scan()
    refuse_clashes(chosen, set(remote_refs) | set(damaged), target.label)
    # Refuse a non-fast-forward before sending anything (re-checked at the swap, which is what counts).
    for ref, new in chosen.items():
        if ref in damaged:
            if not force:
                raise damaged_ref_error(ref, damaged[ref], target.label)
            continue
        classify(repo, ref, remote_refs.get(ref), new, force=force, remote=target.label)
    # --force trusts nothing the remote's refs imply: every object is looked for, so what is
    # missing there (deleted, or removed because it was damaged) is sent again.
    plan = plan_push(repo, target, set(chosen.values()), {} if force else remote_refs)
    announce(progress, plan.objects)
    sent = copy_objects(repo.store, target.store, plan.groups, progress=progress, limit=max_objects)
    updates = [_swap_ref(repo, target, ref, new, force=force) for ref, new in sorted(chosen.items())]
    _name_head(repo, target, [u.ref for u in updates if u.ref.startswith(HEADS + "/")])
    _record_tracking(repo, target, updates)
    return PushResult(
        remote=target.label,
        url=target.url,
        sent=sent,
        already_there=plan.present,
        updates=updates,
        damaged=sorted(set(damaged) - set(chosen)),
        temp_files=_tidy(target),
        warnings=list(target.refs.notes),
    )


def _delete(repo: Repository, target: Remote, names: list[str], *, force: bool) -> PushResult:
    deleted = delete_refs(repo, target, names, force=force)
    return PushResult(
        remote=target.label,
        url=target.url,
        sent=TransferStats(),
        already_there=0,
        deleted=deleted,
        temp_files=_tidy(target),
        warnings=list(target.refs.notes),
    )


def _tidy(remote: Remote) -> int:
    """Remove what killed pushes left on a folder remote and this push's listings came across:
    temp objects in the fan-out folders it listed, temp ref files in ``refs/``. Only those an
    hour old (another push may be writing one right now); the rest of the store is not listed
    for it, which on a large remote would cost more than the push."""
    return remote.store.remove_stale_temps() + remove_stale(remote.fs, remote.refs.leftovers)


def _name_head(repo: Repository, remote: Remote, branches: list[str]) -> None:
    """A new remote's HEAD names the branch `clone` checks out: the pusher's current branch when
    it was pushed, else the first one. An existing HEAD is never changed."""
    if not branches:
        return
    current = f"{HEADS}/{repo.refs.head_target()[0]}"
    head = current if current in branches else branches[0]
    remote.refs.create(f"{remote.root}/HEAD", f"ref: {head}\n".encode())


def _swap_ref(repo: Repository, remote: Remote, ref: str, new: ObjectId, *, force: bool) -> RefUpdate:
    for _ in range(CAS_ATTEMPTS):
        raw, token = remote.refs.read_raw(ref)
        try:
            old = parse_ref(ref, raw) if raw is not None else None
        except DamagedRefError:
            if not force:
                raise damaged_ref_error(ref, raw or b"", remote.label) from None
            old = None  # what it held is no commit: --force replaces it, which repairs it
            status = "repaired"
        else:
            status = classify(repo, ref, old, new, force=force, remote=remote.label)
        if status == "up-to-date":
            return RefUpdate(ref=ref, old=old, new=new, status=status)
        try:
            remote.refs.swap(ref, new, token)
        except RemoteRefMovedError:
            continue  # another push won: re-read, and re-check that we still only add commits
        return RefUpdate(ref=ref, old=old, new=new, status=status)
    raise RemoteError(f"{ref} on {remote.label} kept moving during the push", "run the command again")


def _record_tracking(repo: Repository, remote: Remote, updates: list[RefUpdate]) -> None:
    """Remember where the remote's branches are (``refs/remotes/<name>/<branch>``)."""
    if remote.name is None:
        return
    with repo.locked():
        for update in updates:
            if update.ref.startswith(HEADS + "/"):
                ref = f"{REMOTES}/{remote.name}/{update.ref[len(HEADS) + 1 :]}"
                repo.refs.update(ref, update.new, expected=repo.refs.get(ref))
