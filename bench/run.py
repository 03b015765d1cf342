"""Entry point for ``make bench``: the core benchmark with its defaults (see bench/core.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from core import main

if __name__ == "__main__":
    sys.exit(main())
