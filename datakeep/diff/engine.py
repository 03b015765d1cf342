"""`diff`: which versions to compare, dataset by dataset, and the `DiffResult` that says how.

A revision names a commit (optionally ``REV:NAME`` for one dataset); ``None`` names the working
tree. Equal snapshot ids answer at once from metadata; otherwise the schema is compared from
the manifests, rows through `rows.compare_rows`, and drift from the stored statistics.
"""

from __future__ import annotations

import dataclasses
import filecmp
import functools
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datakeep import arguments
from datakeep.diff.result import ColumnDiff, DatasetDiff, DiffResult, RowCounts, SchemaDiff
from datakeep.errors import DatasetError, InputDataError, UsageError
from datakeep.repo import Repository
from datakeep.tracking import default_name

if TYPE_CHECKING:
    from datakeep.diff.schema import ColumnPlan
    from datakeep.diff.sources import Side
    from datakeep.records.index import TrackedDataset

# numpy and pyarrow (rows, sources, drift) and the --fail-on language are imported only when
# needed: two identical versions are answered from JSON documents alone, in well under 0.2 s.

DEFAULT_SAMPLE = 5
_PRIVATE_STATS = ("sample", "m2", "numeric_count")


@dataclass(frozen=True, slots=True, kw_only=True)
class DiffOptions:
    """Everything `diff` can be asked, with the CLI's flag names."""

    key: tuple[str, ...] | None = None  # None: the dataset's declared key; (): match whole rows
    tolerance: Mapping[str, float] | None = None
    rename: Mapping[str, str] | None = None
    sample: int = DEFAULT_SAMPLE
    allow_duplicate_keys: bool = False
    stat: bool = False
    fail_on: Sequence[str] = ()


@dataclass(slots=True)
class _Entry:
    """One dataset on one side: its snapshot id (if known without reading) and how to open it."""

    snapshot_id: str | None
    open: Callable[[], Side]
    manifest: Callable[[], Any] | None = None  # a committed snapshot's manifest (metadata only)
    #: (source, entity) it is tracked with, and how to write its rows as one Parquet file: for
    #: comparing two sources of one entity (`across_sources`).
    tracked_as: Callable[[], tuple[str | None, str | None]] | None = None
    write: Callable[[Path], None] | None = None
    _side: Side | None = None

    def side(self) -> Side:
        """The opened side, opened once (checking option names may have opened it already)."""
        if self._side is None:
            self._side = self.open()
        return self._side

    def column_names(self) -> list[str]:
        columns = self.manifest().columns if self.manifest is not None else self.side().columns
        return [c["name"] for c in columns]


def diff(repo: Repository, a: str | None = None, b: str | None = None, **options: Any) -> DiffResult:
    """What changed between two versions: ``a`` → ``b`` (None: HEAD → working tree, or a → working tree).

    Keyword options are those of `DiffOptions`, plus ``name`` (one dataset name or a list).
    """
    names = _names(options.pop("name", None))
    opts = _options(options)
    old_rev, old_name = _split(a if a is not None else "HEAD")
    new_rev, new_name = _split(b) if b is not None else (None, None)
    old_entries = _revision_entries(repo, old_rev)
    new_entries = _revision_entries(repo, new_rev) if new_rev is not None else _working_entries(repo)
    if old_name and new_name and old_name != new_name:
        return _across(repo, old_rev, old_name, old_entries, new_rev, new_name, new_entries, names, opts)
    names = names or list(dict.fromkeys(n for n in (old_name, new_name) if n))
    wanted = names or sorted(set(old_entries) | set(new_entries))
    for name in wanted:
        if name not in old_entries and name not in new_entries:
            raise DatasetError(f"no dataset named '{name}' in either version", "`datakeep status` lists datasets")
    _check_names(opts, [(old_entries.get(name), new_entries.get(name)) for name in wanted])
    datasets = tuple(_dataset(name, old_entries.get(name), new_entries.get(name), opts) for name in wanted)
    return _finish(old_rev, new_rev or "working tree", datasets, opts)


def _across(
    repo: Repository,
    old_rev: str,
    old_name: str,
    old_entries: dict[str, _Entry],
    new_rev: str | None,
    new_name: str,
    new_entries: dict[str, _Entry],
    names: list[str],
    opts: DiffOptions,
) -> DiffResult:
    """``REV1:A REV2:B``: dataset A as of REV1 against dataset B as of REV2, as one comparison (two
    sources of one entity, a copy against its original), reported under the name ``A → B``."""
    if names:
        raise UsageError(
            f"--name cannot be combined with two different datasets ({old_name}, {new_name})",
            "drop --name: REV1:A REV2:B already names what to compare",
        )
    sides = ((old_name, old_entries, old_rev), (new_name, new_entries, new_rev or "the working tree"))
    for name, entries, rev in sides:
        if name not in entries:
            known = ", ".join(sorted(entries)) or "none"
            raise DatasetError(
                f"no dataset named '{name}' in {rev} (it has: {known})", "`datakeep show REV` lists them"
            )
    pair = (old_entries[old_name], new_entries[new_name])
    labels = (f"{old_rev}:{old_name}", f"{new_rev or 'working tree'}:{new_name}")
    name = f"{old_name} → {new_name}"
    sourced = _sourced(pair, labels)
    if sourced is not None:
        compared = _across_sources(repo, name, sourced, opts)
    else:
        _check_names(opts, [pair])
        compared = _dataset(name, *pair, opts)
    return _finish(labels[0], labels[1], (compared,), opts)


def _sourced(pair: tuple[_Entry, _Entry], labels: tuple[str, str]) -> tuple[Any, Any] | None:
    """Both sides as `across_sources.SourcedSide` when they follow different sources (a side
    with none being canonical data), else None: the same source's raw columns line up."""
    from datakeep.diff.across_sources import SourcedSide

    if any(entry.tracked_as is None or entry.write is None for entry in pair):
        return None
    sides = []
    for entry, label in zip(pair, labels, strict=True):
        assert entry.tracked_as is not None and entry.write is not None
        source, entity = entry.tracked_as()
        sides.append(SourcedSide(label=label, source=source, entity=entity, write=entry.write))
    old, new = sides
    if old.source == new.source or not (old.source or new.source):
        return None
    return old, new


def _across_sources(repo: Repository, name: str, sides: tuple[Any, Any], opts: DiffOptions) -> DatasetDiff:
    from datakeep.diff import across_sources
    from datakeep.diff.sources import FileSide

    def compare_files(old: Path, new: Path, key: tuple[str, ...]) -> DatasetDiff:
        entries = [
            _Entry(snapshot_id=None, open=functools.partial(FileSide, [path], str(path), key)) for path in (old, new)
        ]
        keyed = dataclasses.replace(opts, key=key)
        _check_names(keyed, [(entries[0], entries[1])])
        return _dataset(name, entries[0], entries[1], keyed, labels=(sides[0].label, sides[1].label))

    return across_sources.compare(repo.root, name, sides[0], sides[1], opts.key, compare_files)


def diff_files(old: str | os.PathLike[str], new: str | os.PathLike[str], **options: Any) -> DiffResult:
    """Compare two Parquet files (or folders of Parquet files) directly; no repository needed."""
    for path in (old, new):
        if not Path(path).exists():
            raise InputDataError(
                str(path),
                "file not found",
                "check the path; diffing two files compares two existing Parquet files or folders",
            )
    name = options.pop("name", None) or default_name(Path(new))
    opts = _options(options)
    key = opts.key or ()
    from datakeep.diff.sources import FileSide

    def side(path: str | os.PathLike[str]) -> Side:
        files, names = _parquet_files(path)
        return FileSide(files, str(path), key, names=names)

    old_entry = _Entry(snapshot_id=None, open=lambda: side(old))
    new_entry = _Entry(snapshot_id=None, open=lambda: side(new))
    _check_names(opts, [(old_entry, new_entry)])
    dataset = _dataset(str(name), old_entry, new_entry, opts, labels=(str(old), str(new)))
    if dataset.status == "unchanged" and _same_bytes(Path(old), Path(new)):
        # The same file (or a byte-for-byte copy) is the same snapshot, whatever a key says.
        dataset = dataclasses.replace(dataset, status="identical", notes=("the same bytes: identical content",))
    return _finish(str(old), str(new), (dataset,), opts)


def _same_bytes(old: Path, new: Path) -> bool:
    """Whether two files hold the same bytes (read until the first difference)."""
    if not (old.is_file() and new.is_file()):
        return False
    return old.samefile(new) or (old.stat().st_size == new.stat().st_size and filecmp.cmp(old, new, shallow=False))


def _options(options: dict[str, Any]) -> DiffOptions:
    """The options as `DiffOptions`, taken as the CLI's flags are: a string where a list goes is
    one item, ``"COL=VALUE"`` strings are tolerances and renames; or a `UsageError`."""
    unknown = set(options) - set(DiffOptions.__dataclass_fields__)
    if unknown:
        raise UsageError(f"unknown diff option(s): {', '.join(sorted(unknown))}")
    if options.get("key") is not None:
        options["key"] = arguments.key_columns(options["key"])
    options["fail_on"] = arguments.names(options.get("fail_on") or (), "fail_on")
    if options.get("tolerance") is not None:
        tolerance = arguments.pairs(options["tolerance"], "tolerance")
        options["tolerance"] = {c: arguments.number(v, f"tolerance {c}") for c, v in tolerance.items()}
    if options.get("rename") is not None:
        options["rename"] = {old: str(new) for old, new in arguments.pairs(options["rename"], "rename").items()}
    sample = options.get("sample", DEFAULT_SAMPLE)
    if type(sample) is not int or sample < 0:
        raise UsageError(f"sample is how many changed rows to show (an int >= 0), not {sample!r}", "e.g. sample=5")
    opts = DiffOptions(**options)
    if opts.fail_on:
        from datakeep.diff import conditions as conds

        for text in opts.fail_on:
            # Fail fast: a typo in a gate must not cost a whole diff first.
            conds.refuse_before_diff(conds.parse(text), stat=opts.stat)
    return opts


def _check_names(opts: DiffOptions, pairs: Sequence[tuple[_Entry | None, _Entry | None]]) -> None:
    """Fail fast on a --tolerance or --rename column that no compared dataset has: a typo would
    otherwise be ignored, and the diff would silently answer another question than the one asked."""
    if not opts.tolerance and not opts.rename:
        return
    old_names = list(dict.fromkeys(n for entry, _ in pairs if entry is not None for n in entry.column_names()))
    new_names = list(dict.fromkeys(n for _, entry in pairs if entry is not None for n in entry.column_names()))

    def missing(flag: str, column: str, where: str, names: list[str]) -> UsageError:
        shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
        return UsageError(
            f"{flag}: no compared dataset has a column '{column}' in {where}",
            f"check the name (columns: {shown})" if names else "check the name",
        )

    for column, value in (opts.tolerance or {}).items():
        if column not in old_names and column not in new_names:
            both = list(dict.fromkeys([*new_names, *old_names]))
            raise missing(f"--tolerance {column}={value:g}", column, "either version", both)
    for old_name, new_name in (opts.rename or {}).items():
        if old_name not in old_names:
            raise missing(f"--rename {old_name}={new_name}", old_name, "the old version", old_names)
        if new_name not in new_names:
            raise missing(f"--rename {old_name}={new_name}", new_name, "the new version", new_names)
    targets = list((opts.rename or {}).values())
    for new_name in dict.fromkeys(t for t in targets if targets.count(t) > 1):
        sources = [o for o, n in (opts.rename or {}).items() if n == new_name]
        raise UsageError(
            f"--rename: {' and '.join(sources)} are all renamed {new_name}",
            "one old column per new name: drop all but one of these renames",
        )


def _tolerances(
    name: str, opts: DiffOptions, plan: Sequence[ColumnPlan], key: Sequence[str], old: Side, new: Side
) -> dict[str, float]:
    """The tolerances that apply to this dataset, by new column name (an old name of a renamed
    column is accepted too). A tolerance that cannot apply is an error rather than ignored."""
    import pyarrow as pa

    out: dict[str, float] = {}
    by_old = {p.old: p for p in plan}
    by_new = {p.new: p for p in plan}
    for column, value in (opts.tolerance or {}).items():
        p = by_new.get(column) or by_old.get(column)
        if p is None:
            continue  # on one side only (added or removed) or in another dataset: nothing to compare
        flag = f"--tolerance {column}={value:g}"
        if p.new in key:
            raise UsageError(
                f"{flag}: '{p.new}' is a key column of dataset '{name}', and keys are matched exactly",
                "drop the tolerance, or match rows by other columns with --key",
            )
        if not key:
            raise UsageError(
                f"{flag}: dataset '{name}' is diffed without a key, so rows are matched by whole content"
                " and a tolerance cannot apply",
                "name the key column(s) with --key",
            )
        types = (old.schema.field(p.old).type, new.schema.field(p.new).type)
        if not all(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) for t in types):
            what = p.new_type if not p.retyped else f"{p.old_type} in the old version, {p.new_type} in the new"
            raise UsageError(
                f"{flag}: column '{p.new}' of dataset '{name}' is {what}, not a number",
                "tolerances apply to integer, floating-point and decimal columns only; drop this one",
            )
        if value < 0 or value != value:
            raise UsageError(f"{flag}: a tolerance must be a number >= 0", f"e.g. --tolerance {column}=0.01")
        out[p.new] = value
    return out


def _names(name: str | Sequence[str] | None) -> list[str]:
    if name is None:
        return []
    # A dataset named twice (`--name t --name t`, `v1:t v2:t --name t`) is reported once.
    return [name] if isinstance(name, str) else list(dict.fromkeys(name))


def _split(spec: str) -> tuple[str, str | None]:
    from datakeep.revisions import split_dataset

    return split_dataset(spec)


def _finish(old: str, new: str, datasets: tuple[DatasetDiff, ...], opts: DiffOptions) -> DiffResult:
    failures: list[Any] = []
    if opts.fail_on:
        from datakeep.diff import conditions as conds

        conditions = [conds.parse(text) for text in opts.fail_on]
        failures = conds.evaluate(conditions, datasets, cells_counted=not opts.stat)
    return DiffResult(old=old, new=new, datasets=datasets, failures=tuple(failures))


def _parquet_files(path: str | os.PathLike[str]) -> tuple[list[Path], list[str]]:
    """The Parquet files of a file or folder argument, and their names inside it."""
    from datakeep.tracking import NAMES_ACCEPTED, folder_files

    p = Path(path)
    if p.is_dir():
        # The same files a folder dataset is made of, so a diff of two exports sees what a commit would.
        files = folder_files(p)
        if not files:
            raise DatasetError(
                f"{p} holds no Parquet files ({NAMES_ACCEPTED})", "pass Parquet files or folders of them"
            )
        return [f for _, f in files], [inner for inner, _ in files]
    return [p], [p.name]


def _revision_entries(repo: Repository, rev: str) -> dict[str, _Entry]:
    from datakeep.revisions import resolve

    commit = repo.commit_at(resolve(repo, rev))
    out: dict[str, _Entry] = {}
    for name, ref in commit.datasets.items():
        out[name] = _snapshot_entry(repo, ref.snapshot, ref.manifest, rev)
    return out


def _snapshot_entry(repo: Repository, snapshot: str, manifest_oid: Any, rev: str) -> _Entry:
    cache: dict[str, Any] = {}

    def manifest() -> Any:
        if "m" not in cache:
            cache["m"] = repo.manifest_at(manifest_oid)
        return cache["m"]

    def side() -> Side:
        from datakeep import rowcache
        from datakeep.diff.sources import SnapshotSide

        # A recent snapshot's cached row index spares reading its key columns and rebuilding
        # the row hashes of patched chunks; without one, the store answers the same, slower.
        return SnapshotSide(repo.store, manifest(), rev, rows=rowcache.load(repo, manifest()))

    def tracked_as() -> tuple[str | None, str | None]:
        return manifest().source, manifest().entity

    def write(path: Path) -> None:
        import pyarrow.parquet as pq

        from datakeep.restore import read_manifest

        pq.write_table(read_manifest(repo.store, manifest()), path)

    return _Entry(snapshot_id=snapshot, open=side, manifest=manifest, tracked_as=tracked_as, write=write)


def _working_entries(repo: Repository) -> dict[str, _Entry]:
    from datakeep.snapshot import working_snapshot_id
    from datakeep.tracking import EMPTY, MISSING, located

    index = repo.load_index()
    out: dict[str, _Entry] = {}
    for name, tracked in index.datasets.items():
        found = located(repo.root, tracked)
        if found[0] in (MISSING, EMPTY):
            continue  # no data in the working tree (as `status` says: missing): compared as removed
        snapshot = working_snapshot_id(repo, name, tracked, index, found)
        out[name] = _Entry(
            snapshot_id=snapshot,
            open=functools.partial(_file_side, found[1], tracked),
            tracked_as=functools.partial(lambda t: (t.source, t.entity), tracked),
            write=functools.partial(_write_files, [p for _, p in found[1]]),
        )
    return out


def _write_files(files: list[Path], path: Path) -> None:
    """The rows of a working copy's files, in order, as one Parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = [pq.read_table(f) for f in files]
    pq.write_table(pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0], path)


def _file_side(files: list[tuple[str, Path]], tracked: TrackedDataset) -> Side:
    from datakeep.diff.sources import FileSide

    return FileSide([p for _, p in files], tracked.path, tracked.key, names=[inner for inner, _ in files])


def _dataset(
    name: str,
    old: _Entry | None,
    new: _Entry | None,
    opts: DiffOptions,
    labels: tuple[str, str] | None = None,
) -> DatasetDiff:
    if old is None or new is None:
        return _one_sided(name, old, new)
    if old.snapshot_id is not None and old.snapshot_id == new.snapshot_id:
        return _identical(name, old)
    from datakeep.diff.rows import RowOptions, compare_rows
    from datakeep.diff.schema import column_plan, schema_diff

    old_side, new_side = old.side(), new.side()
    renames = dict(opts.rename or {})
    plan = column_plan(old_side.columns, new_side.columns, renames)
    key = opts.key if opts.key is not None else (new_side.key or old_side.key)
    # A key may be named as in the old version when --rename says what it became, as a tolerance may.
    new_names = {c["name"] for c in new_side.columns}
    key = tuple(renames[c] if c not in new_names and c in renames else c for c in key)
    tolerance = _tolerances(name, opts, plan, key, old_side, new_side)
    outcome = compare_rows(
        old_side,
        new_side,
        RowOptions(
            dataset=name,
            key=tuple(key),
            plan=plan,
            renamed=any(p.old != p.new for p in plan),
            detail=not opts.stat,
            tolerance=tolerance,
            sample=0 if opts.stat else opts.sample,
            allow_duplicates=opts.allow_duplicate_keys,
        ),
    )
    old_stats, new_stats = old_side.stats(), new_side.stats()
    schema = schema_diff(old_side.columns, new_side.columns, renames=renames, old_stats=old_stats, new_stats=new_stats)
    old_of = {p.new: p.old for p in plan}
    old_types = {c["name"]: c["type"] for c in old_side.columns}
    columns = []
    for column in new_side.columns:
        column_name = column["name"]
        before = old_stats.get(old_of.get(column_name, ""), {}) if column_name in old_of else {}
        modified = outcome.cells.get(column_name) if outcome.cells is not None else None
        if column_name in key and outcome.cells is not None:
            modified = 0
        columns.append(
            _column(
                column_name,
                column["type"],
                before,
                new_stats.get(column_name, {}),
                modified,
                tolerance.get(column_name),
                # A key names rows rather than measures them: new ids past the old greatest would
                # score as drift on every load.
                column_name in old_of and column_name not in key,
                old_types.get(old_of.get(column_name, "")),
            )
        )
    for column in old_side.columns:
        if column["name"] not in old_of.values():
            columns.append(
                _column(column["name"], column["type"], old_stats.get(column["name"], {}), {}, None, None, False)
            )
    rows = outcome.counts
    # Within a folder whose files differ, a file can change its own columns (retype one the union
    # already has, reorder, drop one that was null) while the union's rows stay the same: still
    # a change of content, and the snapshot ids say so.
    notes = [] if old_side.uniform and new_side.uniform else _file_changes(old_side, new_side)
    found = bool(rows.added or rows.removed or rows.modified or schema.changed or notes)
    unmeasured = [c.name for c in columns if c.drift_reason is not None]
    if unmeasured and found:
        # Said once, not only as a blank: a blank score reads as "no drift".
        names = ", ".join(unmeasured[:_FILE_NOTES]) + (
            f" and {len(unmeasured) - _FILE_NOTES} more" if len(unmeasured) > _FILE_NOTES else ""
        )
        notes.append(f"drift not measured (n/a) for {names}: too many distinct values to bin")
    if not key:
        notes.append("rows matched by whole-row content (no key): modified rows show as removed + added")
    if not found and old_side.snapshot_id is not None and new_side.snapshot_id is not None:
        # (Two files on disk have no snapshot ids: nothing is known to differ.)
        notes.append(
            "no row or schema differences under this comparison, yet the snapshot ids differ"
            " (row order or physical encoding)"
        )
    return DatasetDiff(
        name=name,
        old=old_side.snapshot_id or (labels[0] if labels else old_side.label),
        new=new_side.snapshot_id or (labels[1] if labels else new_side.label),
        status="changed" if found else "unchanged",
        key=tuple(key),
        matched_by="key" if key else "row",
        schema=schema,
        rows=rows,
        columns=tuple(columns),
        samples=tuple(outcome.samples),
        key_problems=tuple(outcome.key_problems),
        chunks=outcome.chunks,
        notes=tuple(notes),
    )


#: Files named one by one in a diff's notes; past this, how many more.
_FILE_NOTES = 5


def _file_changes(old: Side, new: Side) -> list[str]:
    """One note per file present on both sides whose own columns changed."""
    notes = []
    for path, before in old.file_columns.items():
        after = new.file_columns.get(path)
        if after is None or after == before:
            continue
        was, now = dict(before), dict(after)
        parts = [f"+{n}" for n in now if n not in was] + [f"-{n}" for n in was if n not in now]
        parts += [f"{n} {was[n]} → {now[n]}" for n in now if n in was and was[n] != now[n]]
        if [n for n in was if n in now] != [n for n in now if n in was]:
            parts.append("columns reordered")
        notes.append(f"file {path}: {', '.join(parts)}")
    if len(notes) > _FILE_NOTES:
        notes = [*notes[:_FILE_NOTES], f"... and {len(notes) - _FILE_NOTES} more files whose own columns changed"]
    return notes


def _column(
    name: str,
    type_name: str,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    modified: int | None,
    tolerance: float | None,
    scored: bool,
    old_type: str | None = None,
) -> ColumnDiff:
    from datakeep.diff import drift

    dist, score, reason = drift.score(type_name, before, after, old_type=old_type) if scored else (None, None, None)
    return ColumnDiff(
        name=name,
        type=type_name,
        modified=modified,
        drift=score,
        drift_level=drift.level(score),
        tolerance=tolerance,
        stats_from=_public(before),
        stats_to=_public(after),
        distribution=None
        if dist is None
        else {"labels": list(dist.labels), "from": list(dist.old), "to": list(dist.new)},
        drift_reason=reason,
    )


def _public(stats: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in stats.items() if k not in _PRIVATE_STATS}


def _identical(name: str, entry: _Entry) -> DatasetDiff:
    columns: list[ColumnDiff] = []
    rows = 0
    if entry.manifest is not None:
        manifest = entry.manifest()
        rows = manifest.rows
        for column in manifest.columns:
            s = _public(manifest.stats.get(column["name"], {}))
            columns.append(
                ColumnDiff(
                    name=column["name"],
                    type=column["type"],
                    modified=0,
                    drift=0.0,
                    drift_level="none",
                    stats_from=s,
                    stats_to=s,
                )
            )
    return DatasetDiff(
        name=name,
        old=entry.snapshot_id,
        new=entry.snapshot_id,
        status="identical",
        matched_by="id",
        rows=RowCounts(old=rows, new=rows, unchanged=rows, modified=0),
        columns=tuple(columns),
        notes=("same snapshot id: identical content, answered from metadata",),
    )


def _one_sided(name: str, old: _Entry | None, new: _Entry | None) -> DatasetDiff:
    entry = old or new
    assert entry is not None
    side = entry.side()
    stats = side.stats()
    columns = tuple(
        ColumnDiff(
            name=c["name"],
            type=c["type"],
            stats_from=_public(stats.get(c["name"], {})) if old else {},
            stats_to=_public(stats.get(c["name"], {})) if new else {},
        )
        for c in side.columns
    )
    names = tuple(c["name"] for c in side.columns)
    return DatasetDiff(
        name=name,
        old=side.snapshot_id if old else None,
        new=side.snapshot_id if new else None,
        status="added" if new else "removed",
        matched_by="id",
        schema=SchemaDiff(added=names) if new else SchemaDiff(removed=names),
        rows=RowCounts(
            old=0 if new else side.rows,
            new=side.rows if new else 0,
            added=side.rows if new else 0,
            removed=0 if new else side.rows,
            modified=0,
        ),
        columns=columns,
    )
