"""datakeep: version Parquet datasets like code, and stop bad data at the door."""

from __future__ import annotations

from typing import Any

from datakeep.errors import DatakeepError

__version__ = "0.1.0"
__all__ = ["DatakeepError", "Repo", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy: `import datakeep` stays cheap for the CLI; pyarrow loads with the first real use.
    if name == "Repo":
        from datakeep.api import Repo

        return Repo
    raise AttributeError(name)
