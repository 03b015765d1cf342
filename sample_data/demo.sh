#!/usr/bin/env bash
# The main job on sample_data/: version a dataset through two loads, look at the history, get the
# old version back, and check incoming files against the central schema. Run by `make demo`.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
work="$here/demo-work"
rm -rf "$work"
mkdir -p "$work/data"
cp -r "$here/schemas" "$work/schemas"
cp "$here/datakeep.yaml" "$work/datakeep.yaml" 2>/dev/null || true
mkdir -p "$work/sample_data"
cp -r "$here/sample_data/incoming" "$work/sample_data/incoming"
cd "$work"
export DATAKEEP_AUTHOR="demo <demo@example.com>"

# Print a command as a user would type it (quoting arguments with spaces), then run it.
show() {
    local line="" arg
    for arg in "$@"; do
        if [[ "$arg" == *" "* ]]; then line+=" \"$arg\""; else line+=" $arg"; fi
    done
    printf '\n$%s\n' "$line"
}
run() {
    show "$@"
    "$@"
}
# For commands whose "no" (exit 1) is the point of the demo.
run_expect_no() {
    show "$@"
    set +e
    "$@"
    local code=$?
    set -e
    printf '(exit %s)\n' "$code"
    [ "$code" -le 1 ]
}

mkdir -p flights && cp "$here"/sample_data/flights/*.parquet flights/
run cp flights/2024-01.parquet data/flights.parquet
run datakeep init
run datakeep add data/flights.parquet --name flights --key flight_id
run datakeep status
run datakeep commit -m "january load"
run datakeep tag v1

run cp flights/2024-02.parquet data/flights.parquet
run datakeep status
run datakeep commit -m "february load"
run datakeep log --stat
run datakeep show v1:flights
run_expect_no datakeep diff v1 HEAD --exit-code
run datakeep checkout v1 --name flights -o flights-january.parquet
run datakeep status
run_expect_no datakeep validate sample_data/incoming/crm_2024.csv sample_data/incoming/legacy_export.parquet --max-samples 3
run datakeep fsck
