#!/usr/bin/env bash
# Create the benchmark's own DVC environment in bench/work/venv-dvc (ignored by git), so DVC and
# its dependencies can never disturb the versions datakeep is installed with in .venv.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/work/venv-dvc"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/dvc" ]; then
    mkdir -p "$here/work"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet "dvc>=3" "dvc-s3"
fi
"$venv/bin/dvc" --version
