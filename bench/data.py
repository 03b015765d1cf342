"""Deterministic benchmark data: one base table and two 10-version chains derived from it.

The base table mixes the column kinds real datasets have (an int64 key, high- and low-cardinality
strings, floats, ints, timestamps, booleans and a nullable string) and is written with pyarrow's
defaults (snappy), so 5M rows come to roughly 215 MB.

Two chains start from the same base (version 1):

* ``edit``: each new version modifies 1% of the rows in place (a few columns), deletes 0.5% and
  inserts 0.5% new rows at random positions, with ids above the current maximum;
* ``append``: each new version appends 1% of the base's row count at the end.

Every random draw comes from a generator seeded by ``(seed, chain, version)``, so a version's bytes
depend only on those three numbers. Only one version is held in memory at a time; each is written to
disk and derived from its predecessor, which keeps a 5M-row chain well under 2 GiB.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

# Bump when the generator changes, so cached files from an older generator are not reused.
GENERATOR_VERSION = 1
CHAINS = ("edit", "append")
VERSIONS = 10

FIRST_NAMES = np.array(
    [
        "anna",
        "ben",
        "carla",
        "dmitri",
        "elena",
        "farid",
        "grace",
        "hugo",
        "ines",
        "jonas",
        "kenji",
        "lena",
        "marco",
        "nadia",
        "oscar",
        "priya",
        "quinn",
        "rosa",
        "sven",
        "tariq",
        "ulla",
        "victor",
        "wen",
        "xavier",
        "yara",
        "zoe",
        "amir",
        "bea",
        "chen",
        "dara",
    ]
)
LAST_NAMES = np.array(
    [
        "smith",
        "garcia",
        "muller",
        "rossi",
        "kowalski",
        "tanaka",
        "nguyen",
        "silva",
        "dubois",
        "jensen",
        "novak",
        "haddad",
        "okafor",
        "larsen",
        "petrov",
        "kim",
        "santos",
        "weber",
        "moreau",
        "khan",
        "olsen",
        "ivanova",
        "lopez",
        "fischer",
        "bauer",
        "costa",
        "meyer",
    ]
)
DOMAINS = np.array(["example.com", "mail.test", "corp.example", "post.example", "inbox.test", "web.example"])
CATEGORIES = np.array(
    [
        "books",
        "music",
        "garden",
        "toys",
        "grocery",
        "health",
        "beauty",
        "sports",
        "outdoor",
        "automotive",
        "baby",
        "pets",
        "office",
        "tools",
        "kitchen",
        "electronics",
        "jewelry",
        "shoes",
        "clothing",
        "furniture",
    ]
)
NOTES = np.array(
    [
        "gift wrap",
        "leave at door",
        "call on arrival",
        "fragile",
        "express",
        "second attempt",
        "customer returned item",
        "address corrected",
        "price matched",
        "bulk order",
    ]
)
TS_START_US = 1_672_531_200_000_000  # 2023-01-01T00:00:00Z
TS_SPAN_US = 365 * 24 * 3600 * 1_000_000
NULL_NOTE_RATE = 0.10


@dataclass(frozen=True, slots=True, kw_only=True)
class Version:
    """One generated version of a chain, on disk."""

    chain: str
    number: int
    path: Path
    rows: int
    bytes: int


def rng_for(seed: int, chain: str, version: int) -> np.random.Generator:
    """The generator for one version; the base (version 1) is shared by both chains."""
    chain_code = 0 if version == 1 else CHAINS.index(chain) + 1
    return np.random.default_rng([seed, chain_code, version])


def _strings(values: np.ndarray) -> pa.Array:
    return pa.array(values.astype(object), type=pa.string())


def _emails(rng: np.random.Generator, ids: np.ndarray) -> pa.Array:
    """High cardinality: a name, the row's id and a random suffix, so nearly every value differs."""
    n = len(ids)
    first = pa.array(FIRST_NAMES).take(pa.array(rng.integers(0, len(FIRST_NAMES), n)))
    last = pa.array(LAST_NAMES).take(pa.array(rng.integers(0, len(LAST_NAMES), n)))
    domain = pa.array(DOMAINS).take(pa.array(rng.integers(0, len(DOMAINS), n)))
    number = pc.cast(pa.array(ids * 7 + rng.integers(0, 7, n)), pa.string())
    return pc.binary_join_element_wise(first, ".", last, number, "@", domain, "")


def _notes(rng: np.random.Generator, n: int) -> pa.Array:
    """A nullable string: about 10% nulls, the rest a short phrase plus an order number."""
    phrase = pa.array(NOTES).take(pa.array(rng.integers(0, len(NOTES), n)))
    order = pc.cast(pa.array(rng.integers(0, 1_000_000_000, n)), pa.string())
    joined = pc.binary_join_element_wise(phrase, " #", order, "")
    nulls = pa.array(rng.random(n) < NULL_NOTE_RATE)
    return pc.if_else(nulls, pa.scalar(None, pa.string()), joined)


def make_rows(rng: np.random.Generator, ids: np.ndarray) -> pa.Table:
    """Fresh rows for the given ids (the base table, inserts and appends all come from here)."""
    n = len(ids)
    # Event times grow with the id plus jitter, like a log: sorted-ish timestamps are common.
    spread = max(int(ids.max(initial=0)) + 1, 1)
    ts = TS_START_US + (ids * (TS_SPAN_US // max(spread, 1))) + rng.integers(0, 60_000_000, n)
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "email": _emails(rng, ids),
            "category": pa.array(CATEGORIES).take(pa.array(rng.integers(0, len(CATEGORIES), n))),
            "amount": pa.array(rng.gamma(2.0, 40.0, n), pa.float64()),
            "quantity": pa.array(rng.integers(1, 50, n, dtype=np.int32), pa.int32()),
            "created_at": pa.array(ts, pa.timestamp("us")),
            "active": pa.array(rng.random(n) < 0.8, pa.bool_()),
            "note": _notes(rng, n),
        }
    )


def base_table(rows: int, seed: int) -> pa.Table:
    """Version 1 of both chains: ``rows`` rows with ids 0..rows-1 in order."""
    return make_rows(rng_for(seed, "edit", 1), np.arange(rows, dtype=np.int64))


def _replace(column: pa.ChunkedArray, mask: pa.Array, values: pa.Array) -> pa.Array:
    return pc.replace_with_mask(column.combine_chunks(), mask, values)


def modify_rows(table: pa.Table, rng: np.random.Generator, fraction: float) -> pa.Table:
    """Change ``amount``, ``quantity`` and ``category`` of a random ``fraction`` of rows."""
    n = table.num_rows
    picked = rng.choice(n, size=max(1, int(n * fraction)), replace=False)
    picked.sort()
    mask_np = np.zeros(n, dtype=bool)
    mask_np[picked] = True
    mask = pa.array(mask_np)
    k = len(picked)
    new_values = {
        "amount": pa.array(rng.gamma(2.0, 40.0, k), pa.float64()),
        "quantity": pa.array(rng.integers(1, 50, k, dtype=np.int32), pa.int32()),
        "category": pa.array(CATEGORIES).take(pa.array(rng.integers(0, len(CATEGORIES), k))),
    }
    for name, values in new_values.items():
        index = table.schema.get_field_index(name)
        table = table.set_column(index, name, _replace(table.column(name), mask, values))
    return table


def delete_rows(table: pa.Table, rng: np.random.Generator, fraction: float) -> pa.Table:
    """Drop a random ``fraction`` of rows."""
    n = table.num_rows
    keep = np.ones(n, dtype=bool)
    keep[rng.choice(n, size=max(1, int(n * fraction)), replace=False)] = False
    return table.filter(pa.array(keep))


def insert_rows(table: pa.Table, rng: np.random.Generator, count: int) -> pa.Table:
    """Insert ``count`` new rows (ids above the current maximum) at random positions."""
    next_id = int(pc.max(table.column("id")).as_py()) + 1
    new = make_rows(rng, np.arange(next_id, next_id + count, dtype=np.int64))
    total = table.num_rows + count
    new_positions = np.sort(rng.choice(total, size=count, replace=False))
    order = np.empty(total, dtype=np.int64)
    is_new = np.zeros(total, dtype=bool)
    is_new[new_positions] = True
    order[~is_new] = np.arange(table.num_rows)
    order[is_new] = table.num_rows + np.arange(count)
    combined = pa.concat_tables([table, new]).combine_chunks()
    return combined.take(pa.array(order))


def append_rows(table: pa.Table, rng: np.random.Generator, count: int) -> pa.Table:
    """Append ``count`` new rows (ids above the current maximum) at the end."""
    next_id = int(pc.max(table.column("id")).as_py()) + 1
    new = make_rows(rng, np.arange(next_id, next_id + count, dtype=np.int64))
    return pa.concat_tables([table, new]).combine_chunks()


def next_version(table: pa.Table, chain: str, number: int, base_rows: int, seed: int) -> pa.Table:
    """Derive version ``number`` (2..10) of ``chain`` from version ``number - 1``."""
    rng = rng_for(seed, chain, number)
    if chain == "edit":
        table = modify_rows(table, rng, 0.01)
        table = delete_rows(table, rng, 0.005)
        return insert_rows(table, rng, max(1, int(base_rows * 0.005)))
    if chain == "append":
        return append_rows(table, rng, max(1, int(base_rows * 0.01)))
    raise ValueError(f"unknown chain {chain!r}; expected one of {', '.join(CHAINS)}")


def chain_dir(root: Path, rows: int, seed: int, chain: str) -> Path:
    """Where one chain's files are cached."""
    return root / f"g{GENERATOR_VERSION}-rows{rows}-seed{seed}" / chain


def _write(table: pa.Table, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp)  # pyarrow defaults: snappy, default row-group size
    tmp.replace(path)


def generate_chain(root: Path, rows: int, chain: str, *, seed: int = 0, versions: int = VERSIONS) -> Iterator[Version]:
    """Yield the versions of one chain, writing each to ``root`` unless already cached there.

    Cached files are reused only when the whole chain is present (the marker is written last), so
    an interrupted generation starts over rather than mixing generators.
    """
    folder = chain_dir(root, rows, seed, chain)
    paths = [folder / f"v{number:02d}.parquet" for number in range(1, versions + 1)]
    done = folder / "complete"
    if not done.exists():
        folder.mkdir(parents=True, exist_ok=True)
        table = base_table(rows, seed)
        for number, path in enumerate(paths, start=1):
            if number > 1:
                table = next_version(table, chain, number, rows, seed)
            _write(table, path)
        del table
        done.write_text("ok\n")
    for number, path in enumerate(paths, start=1):
        meta = pq.read_metadata(path)
        yield Version(chain=chain, number=number, path=path, rows=meta.num_rows, bytes=path.stat().st_size)


def main(argv: list[str] | None = None) -> int:
    """Generate (or reuse) the chains and print one line per version."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--chain", choices=[*CHAINS, "both"], default="both")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--root", type=Path, default=Path(__file__).parent / "work" / "data")
    args = parser.parse_args(argv)
    chains = CHAINS if args.chain == "both" else (args.chain,)
    for chain in chains:
        for version in generate_chain(args.root, args.rows, chain, seed=args.seed):
            print(f"{chain:6} v{version.number:02d} {version.rows:>9} rows {version.bytes:>12} B")
    return 0


if __name__ == "__main__":
    sys.exit(main())
