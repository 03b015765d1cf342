#!/usr/bin/env bash
# Render a `datakeep diff --html` report in headless Chromium and save a screenshot.
#
# Builds a small demo repository in a temporary folder (two versions of an `orders` dataset: rows
# added, removed and modified, a dropped and an added column, an int → float column, a drifted
# `amount`), writes the HTML report, and screenshots it. Nothing is fetched from the network: the
# report is one self-contained file, and Chromium runs with background networking disabled.
#
# Usage:  bench/screenshot_diff.sh [OUTPUT.png]      (default: docs/diff-report.png)
# Needs:  /usr/bin/chromium (Debian: apt-get install -y chromium), the project venv in .venv.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$(realpath -m "${1:-$ROOT/docs/diff-report.png}")"
PY="$ROOT/.venv/bin/python"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

cd "$WORK"
"$PY" - <<'PYTHON'
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from datakeep.api import Repo

rng = np.random.default_rng(7)
n = 50_000
ids = np.arange(n)
regions = np.array(["north", "south", "east", "west"])
v1 = pa.table({
    "order_id": ids,
    "region": regions[rng.integers(0, 4, n)],
    "amount": rng.gamma(2.0, 40.0, n),
    "quantity": rng.integers(1, 20, n).astype(np.int64),
    "legacy_code": rng.integers(0, 9, n),
})
pq.write_table(v1, "orders.parquet")
repo = Repo.init(".")
repo.add("orders.parquet", key=["order_id"])
repo.commit(message="v1")
repo.tag("v1")

keep = rng.random(n) > 0.02                                  # 2% removed
v2 = v1.filter(pa.array(keep))
m = v2.num_rows
amount = v2.column("amount").to_numpy().copy()
changed = rng.random(m) < 0.60                               # a price change: amount drifts up
amount[changed] *= rng.uniform(1.5, 2.5, changed.sum())
region = v2.column("region").to_numpy(zero_copy_only=False).copy()
moved = rng.random(m) < 0.01
region[moved] = "central"
v2 = pa.table({
    "order_id": v2.column("order_id"),
    "region": region,
    "amount": amount,
    "quantity": v2.column("quantity").cast(pa.float64()),    # int64 → double, same values
    "channel": np.where(rng.random(m) < 0.5, "web", "store"),  # new column
})
new_ids = np.arange(n, n + 1500)
extra = pa.table({
    "order_id": new_ids,
    "region": regions[rng.integers(0, 4, len(new_ids))],
    "amount": rng.gamma(2.0, 40.0, len(new_ids)),
    "quantity": rng.integers(1, 20, len(new_ids)).astype(np.float64),
    "channel": np.full(len(new_ids), "web"),
})
pq.write_table(pa.concat_tables([v2, extra]), "orders.parquet")
repo.commit(message="v2")
repo.tag("v2")
PYTHON

"$ROOT/.venv/bin/datakeep" diff v1 v2 --html report.html --fail-on "drift.amount > 0.2" >/dev/null || true
mkdir -p "$(dirname "$OUT")"
"$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run \
    --hide-scrollbars --user-data-dir="$WORK/chromium" --screenshot="$OUT" --window-size=1200,1600 \
    "file://$WORK/report.html" 2>/dev/null
echo "wrote $OUT"
