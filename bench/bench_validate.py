"""Benchmark `datakeep validate` (issue 4).

1. 1M rows x 10 columns, a mapping with renames, two value maps, one date cast and one unit scale,
   1% bad cells: `datakeep validate` through the CLI (a subprocess, start-up included) against
   pandera validating the already-canonical frame alone, in the same run. Bar: <= 1.5x.
   pandera alone is timed twice: in-process on a frame already in memory (validation only), and
   as a subprocess that imports pandera, reads the canonical Parquet file and validates it (the
   like-for-like comparison with a CLI run).
2. 1M rows of malformed dates, every one reported. Bar: <= 3 s.
3. Peak memory of `datakeep validate` on a 5M-row file. Bar: <= 1.5 GiB.

Every subprocess is timed twice: wall clock, and CPU time (user + system, from
``getrusage(RUSAGE_CHILDREN)``). On a shared, loaded machine wall time mostly measures the other
jobs; CPU time is the steadier figure for comparing runs (it does not show what using both cores
saves: datakeep maps the next batch on a second thread while pandera checks the current one).

Run: .venv/bin/python bench/bench_validate.py
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tools import compile_datakeep

ROWS = 1_000_000
BIG_ROWS = 5_000_000
DATAKEEP = [sys.executable, "-m", "datakeep"]

SCHEMA = """\
datakeep:
  key: [customer_id]
columns:
  customer_id: {dtype: int64, greater_than: 0}
  name: {dtype: str, str_length: {min_value: 1, max_value: 100}}
  email: {dtype: str, nullable: true, str_matches: '^[^@]+@[^@]+$'}
  country: {dtype: str, isin: [DE, FR, NL, ES]}
  gender: {dtype: str, nullable: true, isin: [male, female, diverse]}
  segment: {dtype: int64, isin: [1, 2, 3]}
  height_cm: {dtype: float64, in_range: {min_value: 50, max_value: 250}}
  signup_date: {dtype: 'datetime64[ns]'}
  revenue: {dtype: float64, greater_than_or_equal_to: 0}
  zip: {dtype: str, str_length: {min_value: 5, max_value: 5}}
strict: true
"""
SOURCE = """\
entity: customers
columns:
  kundennr: customer_id
  mail: email
  land:
    to: country
    values: {Deutschland: DE, Frankreich: FR, Niederlande: NL, Spanien: ES}
  geschlecht:
    to: gender
    values: {m: male, w: female, d: diverse}
  kundengruppe: segment
  groesse_mm: {to: height_cm, scale: 0.1}
  anmeldung: {to: signup_date, cast: {type: date, format: '%d/%m/%Y'}}
  umsatz: revenue
  plz: zip
"""


def raw_table(n: int, seed: int, *, bad: float = 0.01, all_dates_bad: bool = False) -> pa.Table:
    rng = np.random.default_rng(seed)
    ids = np.arange(1, n + 1) + seed * n
    days = rng.integers(0, 9000, n)
    dates = (np.datetime64("2000-01-01") + days).astype("datetime64[D]")
    text = np.datetime_as_string(dates)  # YYYY-MM-DD
    dmy = np.char.add(
        np.char.add(np.char.add(np.char.add(_vslice(text, 8, 10), "/"), _vslice(text, 5, 7)), "/"), _vslice(text, 0, 4)
    )
    land = rng.choice(np.array(["Deutschland", "Frankreich", "Niederlande", "Spanien"]), n)
    sex = rng.choice(np.array(["m", "w", "d"]), n)
    mm = rng.integers(1500, 2000, n)
    mail = np.char.add(np.char.add("p", ids.astype(str)), "@example.com")
    # 1% bad cells, spread over the columns the mapping touches and the checks cover
    k = int(n * bad / 5)
    for arr, value in ((land, "Schweiz"), (sex, "x"), (mail, "nobody")):
        arr[rng.choice(n, k, replace=False)] = value
    mm[rng.choice(n, k, replace=False)] = 9
    dmy = dmy.astype(object)
    if all_dates_bad:
        dmy = np.array([f"{i}-{i % 97}-xx" for i in range(n)], dtype=object)
    else:
        dmy[rng.choice(n, k, replace=False)] = "2020-13-45"
    return pa.table(
        {
            "kundennr": ids,
            "name": pa.array(np.char.add("Person ", (ids % 9973).astype(str))),
            "mail": pa.array(mail),
            "land": pa.array(land),
            "geschlecht": pa.array(sex),
            "kundengruppe": rng.integers(1, 4, n),
            "groesse_mm": mm,
            "anmeldung": pa.array(dmy, type=pa.string()),
            "umsatz": rng.gamma(2.0, 300.0, n).round(2),
            "plz": pa.array(rng.integers(10000, 99999, n).astype(str)),
        }
    )


def _vslice(text: np.ndarray, a: int, b: int) -> np.ndarray:
    # characters a..b of every YYYY-MM-DD string, without a Python loop
    raw = text.astype("S10").view("S1").reshape(len(text), 10)
    return raw[:, a:b].copy().view(f"S{b - a}").ravel().astype(str)


CPU: dict[str, float] = {}  # CPU seconds (user + system) of each timed subprocess, by label


def timed(cmd: list[str], cwd: Path, label: str = "") -> tuple[float, subprocess.CompletedProcess[str]]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU[label] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, done


def main() -> None:
    compile_datakeep(sys.executable)
    with tempfile.TemporaryDirectory(prefix="dk-bench-") as tmp:
        root = Path(tmp)
        (root / "schemas/sources").mkdir(parents=True)
        (root / "schemas/customers.yaml").write_text(SCHEMA)
        (root / "schemas/sources/bench.yaml").write_text(SOURCE)

        pq.write_table(raw_table(ROWS, 1), root / "raw.parquet")
        # the canonical file pandera alone gets: the same data, mapped by datakeep
        to_canonical = [*DATAKEEP, "map", "raw.parquet", "--source", "bench", "-o", "canonical.parquet"]
        t_map, done = timed(to_canonical, root, "map")
        assert done.returncode == 1, done.stderr

        t_cli, done = timed([*DATAKEEP, "validate", "raw.parquet", "--source", "bench"], root, "cli")
        assert done.returncode == 1, done.stderr
        summary = done.stdout.splitlines()[0]

        alone = textwrap.dedent(
            """
            import sys, time, yaml
            import pandera.pandas as pa, pyarrow.parquet as pq
            from pandera.io import pandas_io
            doc = yaml.safe_load(open("schemas/customers.yaml")); doc.pop("datakeep")
            schema = pandas_io.deserialize_schema(doc)
            frame = pq.read_table("canonical.parquet").to_pandas()
            start = time.perf_counter()
            try:
                schema.validate(frame, lazy=True)
            except pa.errors.SchemaErrors as exc:
                n = len(exc.failure_cases)
            print(time.perf_counter() - start, n)
            """
        )
        t_alone_proc, done = timed([sys.executable, "-c", alone], root, "alone")
        t_alone_validate, cases = done.stdout.split()

        pq.write_table(raw_table(ROWS, 2, all_dates_bad=True), root / "dates.parquet")
        t_dates, done = timed([*DATAKEEP, "validate", "dates.parquet", "--source", "bench", "--json"], root, "dates")
        import json

        report = json.loads(done.stdout)
        date_rows = sum(p["rows"] for p in report["problems"] if p["kind"] == "cast_failed")

        with pq.ParquetWriter(root / "big.parquet", raw_table(10, 0).schema) as writer:
            for part in range(BIG_ROWS // ROWS):
                writer.write_table(raw_table(ROWS, 10 + part))
        t_big, done = timed([*DATAKEEP, "validate", "big.parquet", "--source", "bench"], root, "big")
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # Linux: KiB
        big_summary = done.stdout.splitlines()[0]

    gib = peak / 2**30
    cpu = CPU
    print("(wall s / CPU s; CPU = user + system of the subprocess, the steadier figure on a shared machine)")
    print(f"1M rows x 10 cols, 1% bad: datakeep validate (CLI, start-up incl.) {t_cli:.2f} s / {cpu['cli']:.2f} s CPU")
    print(f"  {summary}")
    print(
        f"  pandera alone, in-process validate of canonical frame: {float(t_alone_validate):.2f} s ({cases} failure cases)"  # noqa: E501
    )
    print(
        f"  pandera alone, subprocess (import + read canonical + validate): {t_alone_proc:.2f} s / {cpu['alone']:.2f} s CPU"  # noqa: E501
    )
    print(
        f"  ratio vs pandera subprocess: {t_cli / t_alone_proc:.2f}x wall, "
        f"{cpu['cli'] / cpu['alone']:.2f}x CPU   (bar <= 1.5x)"
    )
    print(f"  ratio vs pandera in-process validate only: {t_cli / float(t_alone_validate):.2f}x")
    print(f"  (datakeep map of the same file: {t_map:.2f} s / {cpu['map']:.2f} s CPU)")
    print(f"1M malformed dates: {t_dates:.2f} s / {cpu['dates']:.2f} s CPU, {date_rows:,} rows reported   (bar <= 3 s)")
    print(f"5M rows: {t_big:.2f} s / {cpu['big']:.2f} s CPU, peak RSS {gib:.2f} GiB   (bar <= 1.5 GiB)")
    print(f"  {big_summary}")


if __name__ == "__main__":
    main()
