"""A sample of a decimal column's values for drift, read from the data.

Drift bins numbers at the old version's deciles of the systematic sample stored with each
column's statistics. A decimal's statistics keep no sample (`datakeep.stats` counts decimals as
values only), so decimals were scored as categories: where amounts rarely repeat every value
fell in the "other" bin on both sides, and moving every amount past the old maximum scored 0.
Until commits store a sample for decimals, diff reads one: that column alone, unit by unit,
every k-th non-null value as a float, at most `SAMPLE_SIZE` of them — the values the stored
sample of a float column holds. A column whose statistics do keep one is not read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from datakeep import kernels
from datakeep.diff.sources import Side

#: As many values as the stored sample of a float column holds.
SAMPLE_SIZE = 1024


def with_samples(side: Side, stats: Mapping[str, Any], columns: Iterable[str]) -> dict[str, Any]:
    """``stats`` with a sample for each of ``columns`` that is a decimal whose statistics keep
    none (the rest as they are)."""
    out = dict(stats)
    names = set(side.schema.names)
    for name in columns:
        found = stats.get(name)
        if not found or "sample" in found or name not in names:
            continue
        if not pa.types.is_decimal(side.schema.field(name).type):
            continue
        values = int(found.get("count", 0)) - int(found.get("nulls", 0))
        if values > 0:
            sample = _sample(side, name, values)
            if sample is not None:
                out[name] = {**found, "sample": sample}
    return out


def _sample(side: Side, name: str, values: int) -> list[float] | None:
    """Every ``stride``-th non-null value of column ``name``, as floats; None when the column
    does not read as floats (then drift goes without, as it did)."""
    stride = max(1, math.ceil(values / SAMPLE_SIZE))
    picked: list[np.ndarray] = []
    seen = 0
    for index in range(len(side.units)):
        column = side.read(index, [name]).column(name)
        try:
            floats = kernels.cast(column, pa.float64(), safe=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        present = (kernels.keep(floats, kernels.is_valid(floats)) if floats.null_count else floats).to_numpy()
        # Counted over the whole version, so the sample does not depend on how rows fall in units.
        picked.append(present[(-seen) % stride :: stride])
        seen += len(present)
    sample = np.concatenate(picked) if picked else np.zeros(0)
    return [float(v) for v in sample[np.isfinite(sample)]]
