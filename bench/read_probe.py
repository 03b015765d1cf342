"""Time ``datakeep.Repo.open(repo).read(name, rev=rev)`` against ``pyarrow.parquet.read_table``.

Usage: ``python read_probe.py REPO NAME REV ORIGINAL.parquet REPEAT``; prints one JSON line with the
median seconds of each read and whether the two tables are equal. Runs in datakeep's interpreter so
the harness itself never imports datakeep. pyarrow's imports happen before the clock starts;
datakeep's lazy imports fall in its first read, which the median leaves out.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import pyarrow.dataset  # noqa: F401  # read_table's first call would import it (and pandas) on the clock
import pyarrow.parquet as pq

import datakeep


def main(argv: list[str]) -> int:
    repo_path, name, rev, original, repeat = argv
    repo = datakeep.Repo.open(Path(repo_path))
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(int(repeat)):
        start = time.perf_counter()
        table = repo.read(name, rev=rev)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        expected = pq.read_table(original)
        theirs.append(time.perf_counter() - start)
    result = {
        "repo_read": statistics.median(ours),
        "read_table": statistics.median(theirs),
        "equal": bool(table.equals(expected)),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
