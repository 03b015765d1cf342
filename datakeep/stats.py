"""Column statistics, computed while a snapshot streams past and stored in its manifest.

Everything here is mergeable (counts, min/max, mean and M2 by Chan's formula, top-value counts,
a systematic sample), so a folder dataset merges per-file statistics and never re-reads a file
that did not change. Drift (PSI) and `show` read these numbers, never the data.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from datakeep import kernels, native, numeric_summary
from datakeep.arrow_numpy import arrow_array, is_integer_like, primitive_view, valid_mask
from datakeep.hashing import canonical_type, decode
from datakeep.pyvalues import as_python
from datakeep.serialize import jsonable
from datakeep.temporal_text import time_order
from datakeep.top_values import TOP_VALUES, nan_last, top_values

#: Columns with more distinct values than this are treated as high-cardinality (no top list).
MAX_TRACKED_DISTINCT = 1000
#: Text or bytes longer than this on average are not counted (documents, blobs: no category
#: repeats them, and counting them held every distinct value: 10 MB strings made a commit fail
#: past 2 GiB). A range keeps this many characters (bytes) of its ends, and says it was cut.
LONG_VALUE = 256
SAMPLE_SIZE = 1024


def _kind(t: pa.DataType) -> str:
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "numeric"
    if pa.types.is_temporal(t):
        return "temporal"
    if canonical_type(t) == "string":
        return "string"
    if isinstance(t, pa.BaseExtensionType) and canonical_type(t.storage_type) == "string":
        return "string"  # JSON text and the like: counted as the strings they are stored as
    return "other"


class ColumnAccumulator:
    def __init__(self, data_type: pa.DataType) -> None:
        self.kind = _kind(data_type)
        self.count = 0
        self.nulls = 0
        self.min: Any = None
        self.max: Any = None
        self.mean = 0.0
        self.m2 = 0.0
        self.numeric_count = 0
        # Floating-point values outside the sample (it keeps finite ones): NaN, +inf, -inf.
        self.nan = 0
        self.posinf = 0
        self.neginf = 0
        self.counts: dict[Any, int] | None = {} if self.kind in ("string", "bool", "numeric", "temporal") else None
        # Value counts (Arrow's) of batches not yet added to ``counts``. A file of one batch (a
        # folder's small part file) then never turns its values into Python objects: `finish`
        # ranks them in Arrow. Integers, text and bytes stay in Arrow however many batches come
        # (`_merge_in_arrow`); other values are added to ``counts`` from the second batch on.
        self._unfolded: list[pa.StructArray] = []
        self.batch_distinct_max = 0
        self.distinct_rows = -1  # rows seen by the batch that counted batch_distinct_max, if all
        self.long_values = False  # text too long to count (`LONG_VALUE`): no distinct count
        # The sample: the finite values at rows whose position is a multiple of ``_stride``, a
        # power of two that grows with the rows seen. It depends on the rows alone, not on how
        # many follow, so a commit that resumes a file mid-way samples it alike.
        self.sample: list[float] = []
        self._sample_rows: list[int] = []
        self._stride = 1
        self._offset = 0

    def update(self, array: pa.Array | pa.ChunkedArray) -> None:
        try:
            self._update(array)
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, ValueError):
            # Statistics are a help, never a reason to refuse a commit: a type whose kernels
            # are missing, or values Python cannot hold that are not dates, timestamps or durations
            # (`temporal_text` writes those), keep counts only.
            self.kind = "other"
            self.counts = None

    def _update(self, array: pa.Array | pa.ChunkedArray) -> None:
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
        array = decode(array)
        n = len(array)
        if n == 0 or self.kind == "other" or array.null_count == n:
            self.count += n
            self.nulls += array.null_count
            self._offset += n
            return
        self.count += n
        self.nulls += array.null_count
        distinct = self._update_counts(array)
        if self.kind in ("numeric", "temporal") and not pa.types.is_decimal(array.type):
            self._update_numbers(array)
        else:
            self._update_range(array, distinct)
            if pa.types.is_decimal(array.type):
                self._update_decimal_sample(array)
        self._offset += n

    def _update_decimal_sample(self, array: pa.Array) -> None:
        """A decimal keeps exact bounds (`_update_range`) and a sample as floats, as a float
        column does: drift bins numbers by the sample (without one, amounts were scored as
        categories, and a column moved past its old maximum scored 0)."""
        floats = kernels.cast(array, pa.float64(), safe=False)
        self._update_sample(floats.to_numpy(zero_copy_only=False), valid_mask(array) if array.null_count else None)

    def _update_range(self, array: pa.Array, distinct: pa.Array | None) -> None:
        """Least and greatest of text, booleans and decimals."""
        # While a column's values are counted (at most MAX_TRACKED_DISTINCT of them), its range is
        # the range of those few values: no second pass over a batch of strings.
        ranged = distinct if distinct is not None and self.kind in ("string", "numeric") else array
        if self.kind == "string" and native.AVAILABLE and _has_offsets(ranged.type):
            # Arrow's kernel compares through a generic visitor; the C loop takes half the time
            # on a column of distinct strings (emails, notes), the statistics' largest cost, and
            # (no kernel call to set up) a third less on a small file's few counted values.
            lo, hi = native.string_min_max(ranged)
        else:
            lo, hi = kernels.min_max(ranged)
        self._widen(lo, hi)

    def _widen(self, lo: Any, hi: Any) -> None:
        if lo is not None:
            self.min = lo if self.min is None else min(self.min, lo)
            self.max = hi if self.max is None else max(self.max, hi)

    def _update_numbers(self, array: pa.Array) -> None:
        """Range, non-finite counts, moments (Chan's merge) and sample of numbers and times."""
        values = numeric_summary.numbers(array)
        summary = numeric_summary.summarize(array, values)
        lo: Any = summary.low
        hi: Any = summary.high
        if lo is not None and (pa.types.is_timestamp(array.type) or pa.types.is_date(array.type)):
            # As (integer, ISO text): ordered as the times are, and stored as the text of the
            # datetimes and dates Arrow gives (other times stay integers), or of a year past 9999
            # or before 1, which Python cannot hold (`temporal_text`). Through an array from a
            # buffer: pa.scalar converts an integer to a timestamp in 1.4 ms, and pa.array on a
            # list imports pandas.
            stored = np.array([lo, hi], dtype=values.dtype)
            low, high = as_python(pa.Array.from_buffers(array.type, 2, [None, pa.py_buffer(stored)]))
            lo, hi = (lo, jsonable(low)), (hi, jsonable(high))
        self._widen(lo, hi)
        self.nan += summary.nan
        self.posinf += summary.posinf
        self.neginf += summary.neginf
        n = summary.finite
        if n:
            mean = summary.total / n
            total = self.numeric_count + n
            delta = mean - self.mean
            self.mean += delta * n / total
            self.m2 += summary.squares + delta * delta * self.numeric_count * n / total
            self.numeric_count = total
        self._update_sample(values, valid_mask(array) if array.null_count else None)

    def _update_sample(self, values: np.ndarray, valid: np.ndarray | None) -> None:
        # The stride is the smallest power of two that samples at most 2 * SAMPLE_SIZE of the rows
        # seen so far; when it grows, the rows sampled before are thinned to the new stride.
        stride = self._stride
        while (self._offset + len(values)) > 2 * SAMPLE_SIZE * stride:
            stride *= 2
        if stride != self._stride:
            keep = [i for i, row in enumerate(self._sample_rows) if row % stride == 0]
            self.sample = [self.sample[i] for i in keep]
            self._sample_rows = [self._sample_rows[i] for i in keep]
            self._stride = stride
        first = (-self._offset) % stride
        if first >= len(values):
            return
        picked = values[first::stride]
        usable: np.ndarray | None
        if picked.dtype.kind == "f":
            with np.errstate(invalid="ignore"):  # a signalling NaN stays a NaN: nothing to warn about
                picked = picked.astype(np.float64)
            usable = np.isfinite(picked)
            if valid is not None:
                usable &= valid[first::stride]
        else:  # integers and times: every value is finite, only nulls are left out
            picked = picked.astype(np.float64)
            usable = valid[first::stride] if valid is not None else None
        start = self._offset + first
        if usable is None or usable.all():
            # Every row picked (a column of a small file, nearly always): no mask, no index array.
            self.sample.extend(picked.tolist())
            self._sample_rows.extend(range(start, start + len(picked) * stride, stride))
            return
        kept = np.flatnonzero(usable)
        self.sample.extend(picked[kept].tolist())
        self._sample_rows.extend((start + kept * stride).tolist())

    def state(self) -> dict[str, Any]:
        """Everything accumulated so far, as plain values (`restore` takes it back)."""
        self._fold()
        state = dict(vars(self))
        state["counts"] = dict(self.counts) if self.counts is not None else None
        state["_unfolded"] = []  # folded above; a list of its own, which later batches leave alone
        state["sample"] = list(self.sample)
        state["_sample_rows"] = list(self._sample_rows)
        return state

    def restore(self, state: dict[str, Any]) -> None:
        if set(state) != set(vars(self)):
            raise ValueError("statistics state of another layout")
        vars(self).update(state)
        self._unfolded = []  # a state is taken folded (None in records of earlier versions)
        if self.counts is not None:
            # NaN equals nothing, so ``counts`` finds it only as the one `_NAN` object, and a state
            # loaded from a resume record holds a NaN of its own: the NaN of the rows after the
            # resume point would be counted as another value.
            counts: dict[Any, int] = {}
            for value, count in self.counts.items():
                key = _NAN if value != value else value
                counts[key] = counts.get(key, 0) + count
            self.counts = counts

    def _update_counts(self, array: pa.Array) -> pa.Array | None:
        """Add this batch's value counts; returns its distinct values while they are tracked."""
        if self.counts is None:
            return None
        if self.kind == "bool":
            # Two counts instead of a hash table; the range of booleans is cheap either way.
            trues = array.true_count
            falses = len(array) - array.null_count - trues
            present = [(v, c) for v, c in ((False, falses), (True, trues), (None, array.null_count)) if c]
            self.batch_distinct_max = max(self.batch_distinct_max, len(present))
            self._add_counts([v for v, _ in present], [c for _, c in present])
            return None
        if self.kind == "string" and array.nbytes > LONG_VALUE * max(1, len(array) - array.null_count):
            self.long_values = True
            self.counts = None
            self._unfolded = []
            return None
        counted, held = self._value_counts(array)
        if counted is None:
            self.batch_distinct_max = max(self.batch_distinct_max, held - bool(array.null_count))
            # A first batch that turns out to hold every row (a file read in one batch) counts
            # the column exactly: remember how many rows it had seen.
            self.distinct_rows = self.count if self.count == len(array) else -1
            self.counts = None  # high cardinality: a top list would say nothing
            self._unfolded = []
            return None
        values = counted.field("values")
        if (not self.counts and not self._unfolded) or _counted_in_arrow(values.type):
            self.batch_distinct_max = max(self.batch_distinct_max, len(counted))
            self._unfolded.append(counted)
            if len(self._unfolded) >= FOLD_BATCHES and not self._merge_in_arrow():
                return None
            return values
        if not self._fold():
            return None
        self.batch_distinct_max = max(self.batch_distinct_max, len(counted))
        return values if self._add_counts(as_python(values), counted.field("counts").to_pylist()) else None

    def _merge_in_arrow(self) -> bool:
        """Merge the unfolded counts into one (value, summed count) array, in Arrow: adding 80
        integer columns' 1,000 values a batch to dicts, one by one, was a fifth of a 400-column
        table's commit. False (and counts no longer kept) once more than MAX_TRACKED_DISTINCT
        values are known, as `_add_counts` would have found."""
        if len(self._unfolded) > 1:
            self._unfolded = [_summed_counts(self._unfolded)]
        distinct = len(self._unfolded[0]) - self._unfolded[0].field("values").null_count if self._unfolded else 0
        if self.counts is None or distinct + len(self.counts) <= MAX_TRACKED_DISTINCT:
            return self.counts is not None
        if self.counts:
            return self._fold()  # values may be in both: only a union can tell
        self.counts = None
        self._unfolded = []
        return False

    def _value_counts(self, array: pa.Array) -> tuple[pa.StructArray | None, int]:
        """(``pc.value_counts`` of a batch, or None when it holds more than MAX_TRACKED_DISTINCT
        values; how many it holds, a null counting as one). Strings, integers and times are
        counted in C (`native.small_counts`), which stops early where a column has many values:
        Arrow's kernel took 9 ms to count a batch of distinct ids, only to learn they were many."""
        t = array.type
        if native.AVAILABLE and (_has_offsets(t) or pa.types.is_integer(t) or self.kind == "temporal"):
            found = native.small_counts(array, MAX_TRACKED_DISTINCT)
            if found is None:
                return None, native.distinct_count(array)
            first, counts = found
            values = kernels.take(array, arrow_array(first))
            return pa.StructArray.from_arrays([values, arrow_array(counts)], names=["values", "counts"]), len(first)
        counted = kernels.value_counts(array)
        return (counted if len(counted) <= MAX_TRACKED_DISTINCT else None), len(counted)

    def _fold(self) -> bool:
        """Add the unfolded counts to ``counts``; False once they are not kept."""
        unfolded, self._unfolded = self._unfolded, []
        if unfolded and self.counts is not None:
            merged = _summed_counts(unfolded) if len(unfolded) > 1 else unfolded[0]
            try:
                return self._add_counts(as_python(merged.field("values")), merged.field("counts").to_pylist())
            except (OverflowError, ValueError):  # values Python cannot hold: see `update`
                self.counts = None
        return self.counts is not None

    def _top(self) -> dict[str, Any] | None:
        """``distinct`` (exact) and ``top`` while the values are counted, else None."""
        if self._unfolded and not self.counts and self._merge_in_arrow():
            with contextlib.suppress(pa.ArrowException, OverflowError, ValueError):
                return _ranked(self._unfolded[0])
        if not self._fold():
            return None
        assert self.counts is not None
        order = time_order if self.kind == "temporal" else nan_last
        top = [[jsonable(k), self.counts[k]] for k in top_values(self.counts, order)]
        return {"distinct": len(self.counts), "distinct_exact": True, "top": top}

    def _add_counts(self, values: list[Any], counts: list[int]) -> bool:
        """Add counted values (None counts as a value but is not kept); False once too many."""
        assert self.counts is not None
        for value, count in zip(values, counts, strict=True):
            if value is None:
                continue
            key = _count_key(value)
            self.counts[key] = self.counts.get(key, 0) + count
            if len(self.counts) > MAX_TRACKED_DISTINCT:
                self.counts = None
                return False
        return True

    def finish(self, files: int = 1) -> dict[str, Any]:
        """The statistics as stored, for a file of a folder of ``files`` (or a dataset's own). In a
        folder of several a file keeps no quantiles (`merge` computes the folder's from the
        samples, and nothing reads a file's own: they were a third of every file's statistics on
        an 8-column table) and only its share of the sample, so that a manifest of thousands of
        files stays small (`file_sample_size`)."""
        out: dict[str, Any] = {"count": self.count, "nulls": self.nulls}
        out.update({name: n for name, n in (("nan", self.nan), ("inf", self.posinf), ("-inf", self.neginf)) if n})
        if self.min is not None:
            least, greatest = self.min, self.max
            if isinstance(least, tuple):  # a date or a timestamp: (its integer, its text)
                least, greatest = least[1], greatest[1]
            low, high = _cut(least), _cut(greatest)
            out["min"] = jsonable(low)
            out["max"] = jsonable(high)
            if low is not least or high is not greatest:
                out["range_cut"] = LONG_VALUE  # the ends' first characters (bytes) only
        if self.numeric_count and math.isfinite(self.m2) and math.isfinite(self.mean):
            # Moments overflow for values near the float limits; then they are left out.
            out["mean"] = self.mean
            out["std"] = math.sqrt(self.m2 / self.numeric_count)
            out["m2"] = self.m2
            out["numeric_count"] = self.numeric_count
        if self.sample:
            if files == 1:
                with np.errstate(all="ignore"):
                    qs = quantiles(np.asarray(self.sample), np.linspace(0, 1, 21))
                out["quantiles"] = [jsonable(float(q)) for q in qs]
            # Cut to size before rounding: rounding goes value by value.
            out["sample"] = _rounded_sample(_evenly(self.sample, file_sample_size(files)))
        top = self._top()
        if top is not None:
            out.update(top)
        elif self.kind != "other" and not self.long_values:
            # Otherwise the most one batch held: a floor.
            out["distinct"] = max(self.batch_distinct_max, 0)
            out["distinct_exact"] = self.distinct_rows == self.count
        return out


def _cut(value: Any) -> Any:
    """``value``, or its first `LONG_VALUE` characters (bytes) when it is longer text: a range
    kept whole repeated long values in every manifest, per file and for the dataset."""
    if isinstance(value, (str, bytes)) and len(value) > LONG_VALUE:
        return value[:LONG_VALUE]
    return value


#: Batches whose value counts wait, in Arrow, before they are merged into one (`_merge_in_arrow`).
FOLD_BATCHES = 16


def _counted_in_arrow(data_type: pa.DataType) -> bool:
    """Values that Arrow tells apart exactly when Python does, so their counts may be summed in
    Arrow: integers, text and bytes. (Not floats: Python takes -0.0 for 0.0 and every NaN for
    one; not times: Python's hold no nanoseconds.)"""
    return bool(pa.types.is_integer(data_type) or _has_offsets(data_type))


def _summed_counts(parts: list[pa.StructArray]) -> pa.StructArray:
    """The value counts of several batches as one: each non-null value once, its counts summed."""
    values = pa.concat_arrays([part.field("values") for part in parts])
    counts = pa.concat_arrays([part.field("counts") for part in parts])
    if values.null_count:
        present = kernels.is_valid(values)
        values, counts = kernels.keep(values, present), kernels.keep(counts, present)
    encoded = kernels.dictionary_encode(values)
    codes = primitive_view(encoded.indices, f"<i{encoded.indices.type.bit_width // 8}")
    summed = np.zeros(len(encoded.dictionary), dtype=np.int64)
    np.add.at(summed, codes, primitive_view(counts, "<i8"))
    return pa.StructArray.from_arrays([encoded.dictionary, arrow_array(summed)], names=["values", "counts"])


#: The one NaN that counts every NaN: NaN equals nothing, so a dict finds it only by identity.
_NAN = float("nan")


def _count_key(value: Any) -> Any:
    """A counted value as a key of the top list: dates and times as ISO text."""
    if value != value:
        return _NAN
    return value.isoformat() if hasattr(value, "isoformat") else value


def _has_offsets(data_type: pa.DataType) -> bool:
    """String or binary kept as offsets and bytes (not views, not fixed size)."""
    return bool(
        pa.types.is_string(data_type)
        or pa.types.is_large_string(data_type)
        or pa.types.is_binary(data_type)
        or pa.types.is_large_binary(data_type)
    )


def quantiles(values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """``np.quantile(values, at)`` (its default, linear method), bit for bit, without it:
    np.quantile calls np.unique, whose first call imports numpy.ma, 9 ms of every commit. Each
    step is numpy's own (numpy/lib/_function_base_impl.py, _quantile): the same bounds, the same
    partition (which of two equal values, 0.0 or -0.0, lands where depends on it) and _lerp."""
    arr = np.array(values, dtype=np.float64)
    n = len(arr)
    virtual = (n - 1) * at
    previous = np.floor(virtual)
    following = previous + 1
    above = virtual >= n - 1
    previous[above] = -1
    following[above] = -1
    below = virtual < 0
    previous[below] = 0
    following[below] = 0
    previous, following = previous.astype(np.intp), following.astype(np.intp)
    arr.partition(sorted({0, -1, *previous.tolist(), *following.tolist()}))
    a, b = arr[previous], arr[following]
    gamma = virtual - previous
    step = b - a
    result = a + step * gamma
    np.subtract(b, step * (1 - gamma), out=result, where=gamma >= 0.5)
    return result


def file_sample_size(files: int) -> int:
    """How many sampled values a file of a folder of ``files`` keeps: its share of the folder's
    `SAMPLE_SIZE`, and at least 16 (a dataset's own file keeps all of them)."""
    return SAMPLE_SIZE if files <= 1 else max(16, SAMPLE_SIZE // files)


#: Up to this many counted integers or strings are ranked in Python, which takes 3 us for 4 values
#: where Arrow's sort and takes take 16 us (a folder of 2,000 small files ranks 14,000 columns);
#: from about 120 values on, Arrow is faster.
RANK_IN_PYTHON = 64


def _ranked(counted: pa.StructArray) -> dict[str, Any]:
    """Distinct count and top values of one batch's ``pc.value_counts``, ranked in numpy or
    Arrow (`_top_rows`): only the top values become Python objects."""
    values, counts = counted.field("values"), counted.field("counts")
    if len(values) <= RANK_IN_PYTHON and _counted_in_arrow(values.type):
        # Python orders integers, and text by code point, as Arrow orders them (UTF-8 bytes).
        pairs = [(v, c) for v, c in zip(values.to_pylist(), counts.to_pylist(), strict=True) if v is not None]
        pairs.sort(key=lambda pair: pair[0])
        pairs.sort(key=lambda pair: pair[1], reverse=True)  # stable: equal counts stay in value order
        return {"distinct": len(pairs), "distinct_exact": True, "top": [[v, c] for v, c in pairs[:TOP_VALUES]]}
    numbers = primitive_view(counts, "<i8")
    ranked = _top_rows(values, numbers)
    if ranked is None:
        return _ranked_by_table_sort(values, counts)
    rows, keys = ranked
    top_counts = numbers[rows].tolist()
    t = values.type
    if keys is not None and (pa.types.is_integer(t) or (pa.types.is_floating(t) and t.bit_width >= 32)):
        # The numbers themselves: what to_pylist gives for integers and 32- and 64-bit floats.
        top_values = keys[rows].tolist()
    else:
        top_values = as_python(kernels.take(values, arrow_array(rows)))
    if not (pa.types.is_integer(t) or _is_text(t)):
        # (Integers and text are their own count keys and JSON: no NaN, no dates, no bytes.)
        top_values = [jsonable(_count_key(v)) for v in top_values]
    return {
        "distinct": len(values) - values.null_count,
        "distinct_exact": True,
        "top": [[v, c] for v, c in zip(top_values, top_counts, strict=True)],
    }


def _ranked_by_table_sort(values: pa.Array, counts: pa.Array) -> dict[str, Any]:
    """`_ranked` of values neither numbers, times nor text (decimals, intervals, ...): Arrow's
    sort of a (count, value) table."""
    if values.null_count:
        present = kernels.is_valid(values)
        values, counts = kernels.keep(values, present), kernels.keep(counts, present)
    order = kernels.sort_indices(
        pa.table({"count": counts, "value": values}), [("count", "descending"), ("value", "ascending")]
    )[:TOP_VALUES]
    top = zip(as_python(kernels.take(values, order)), kernels.take(counts, order).to_pylist(), strict=True)
    return {"distinct": len(values), "distinct_exact": True, "top": [[jsonable(_count_key(v)), c] for v, c in top]}


def _top_rows(values: pa.Array, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray | None] | None:
    """(The rows of the `TOP_VALUES` most frequent non-null ``values``, ranked as Arrow's stable
    sort on (count descending, value ascending) ranks them; the numbers ordered, when numpy
    ordered the values), for numbers, times, text and bytes; None for other values. ``values``
    are distinct, as counted, and ``counts`` theirs.

    Two stable sorts, by value then by count, give that order. Numbers and times are ordered in
    numpy as Arrow orders them (NaN after every number, -0.0 and 0.0 tied, so left in their
    order); text and bytes by Arrow's sort of the one column, or, when every value is counted
    alike (distinct emails, notes: nearly always), by its selection of the least values, which
    are then the top ones. A folder of 2,000 small files ranks 10,000 columns: the table sort
    and the takes around it were a fifth of their statistics."""
    keys = _order_keys(values)
    present = len(values) - values.null_count
    if keys is not None:
        if values.null_count:
            rows = np.flatnonzero(valid_mask(values))
            by_value = rows[np.argsort(keys[rows], kind="stable")]
        else:
            by_value = np.argsort(keys, kind="stable")
    elif _has_offsets(values.type):
        counted = counts[valid_mask(values)] if values.null_count else counts
        if present > TOP_VALUES and counted.min() == counted.max():
            # Distinct values, so no ties for the selection's order to leave unsettled.
            by_value = primitive_view(kernels.least(values, TOP_VALUES), "<u8")
        else:
            # Nulls sort last: the rows before them are the values.
            by_value = primitive_view(kernels.array_sort_indices(values), "<u8")[:present]
    else:
        return None
    return by_value[np.argsort(-counts[by_value], kind="stable")[:TOP_VALUES]], keys


def _order_keys(values: pa.Array) -> np.ndarray | None:
    """``values`` as numpy numbers that order as Arrow orders them (None for other types): integers
    and floats as themselves, times as their integers. Not float16, which Arrow does not sort: its
    error sends the column to be counted in Python (`_top`), as it always has."""
    t = values.type
    if pa.types.is_float16(t) or not (pa.types.is_integer(t) or pa.types.is_floating(t) or is_integer_like(t)):
        return None
    if pa.types.is_temporal(t) and t.bit_width not in (32, 64):
        return None
    return numeric_summary.numbers(values)


def _is_text(data_type: pa.DataType) -> bool:
    return bool(pa.types.is_string(data_type) or pa.types.is_large_string(data_type))


def _evenly(values: list[float], size: int) -> list[float]:
    """``size`` of ``values``, spread evenly over them (all of them when there are no more)."""
    if len(values) <= size:
        return values
    picked = np.arange(size, dtype=np.int64) * len(values) // size
    # Picked from the list: a folder's file keeps 16 of its (say) 500 values, which numpy took
    # longer to convert than to pick.
    return [float(values[i]) for i in picked.tolist()]


def _rounded_sample(sample: list[float]) -> list[float]:
    """The sample with six significant digits of its spread, which is plenty for drift and keeps
    manifests small. Six of each value's own would not do: epoch microseconds (1.7e15) within
    hours of each other, or large ids, all rounded to one number, and drift saw none."""
    values = np.asarray(sample, dtype=np.float64)
    if len(values) and bool(np.isfinite(values).all()):
        # numpy's figures, and the rounding below in C: value by value in Python this was 0.18 s
        # of a 400-column table's commit, on the thread its end waits on.
        spread = float(values.max()) - float(values.min())  # Python floats: inf, not a warning
        largest: float | None = float(np.abs(values).max())
    else:  # NaN orders nothing in numpy's max: Python's, as the sample has always been measured
        finite = [abs(v) for v in sample if math.isfinite(v)]
        spread = (max(sample) - min(sample)) if finite else 0.0
        largest = max(finite) if finite else None
    digits = 6
    if largest is not None and spread > 0 and math.isfinite(spread):
        digits += max(0, math.ceil(math.log10(largest / spread)))
    digits = min(digits, 17)
    if native.AVAILABLE:
        return native.rounded(values, digits).tolist()
    return [float(f"{v:.{digits}g}") for v in sample]


class TableStats:
    def __init__(self, schema: pa.Schema) -> None:
        self.names = schema.names
        self.columns = [ColumnAccumulator(f.type) for f in schema]

    def update(self, batch: pa.RecordBatch | pa.Table) -> None:
        for acc, column in zip(self.columns, batch.columns, strict=True):
            acc.update(column)

    def state(self) -> list[dict[str, Any]]:
        return [acc.state() for acc in self.columns]

    def restore(self, state: list[dict[str, Any]]) -> None:
        if len(state) != len(self.columns):
            raise ValueError("statistics state of another table")
        for acc, column_state in zip(self.columns, state, strict=True):
            acc.restore(column_state)

    def finish(self, files: int = 1) -> dict[str, Any]:
        """Every column's statistics (see `ColumnAccumulator.finish` for ``files``)."""
        return {name: acc.finish(files) for name, acc in zip(self.names, self.columns, strict=True)}


def _as_float(value: Any) -> Any:
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def absent(data_type: pa.DataType, rows: int) -> dict[str, Any]:
    """Statistics of a column of ``rows`` nulls: what a file without the column adds to the
    dataset's (its rows are null there when the files are read as one table)."""
    accumulator = ColumnAccumulator(data_type)
    accumulator.count = accumulator.nulls = rows
    return accumulator.finish()


#: Counts of floating-point values the sample leaves out, kept when not 0.
NONFINITE = ("nan", "inf", "-inf")


def merge(
    parts: list[dict[str, Any]], *, union: pa.Schema | None = None, rows: list[int] | None = None
) -> dict[str, Any]:
    """Merge per-file statistics into the dataset's (used for folder datasets). With ``union``
    (the dataset's columns) and each part's ``rows``, a file without a column counts as that many
    nulls in it, as the files read as one table show them."""
    if len(parts) == 1:
        return parts[0]
    if union is not None and rows is not None:
        # (A part with no statistics at all says nothing about its columns: left as it is.)
        parts = [
            {name: part[name] if name in part else absent(union.field(name).type, count) for name in union.names}
            if part
            else part
            for part, count in zip(parts, rows, strict=True)
        ]
    out: dict[str, Any] = {}
    for name in dict.fromkeys(n for part in parts for n in part):
        cols = [p[name] for p in parts if name in p]
        merged: dict[str, Any] = {
            "count": sum(c["count"] for c in cols),
            "nulls": sum(c["nulls"] for c in cols),
        }
        for nonfinite in NONFINITE:
            if any(nonfinite in c for c in cols):
                merged[nonfinite] = sum(c.get(nonfinite, 0) for c in cols)
        data_type = union.field(name).type if union is not None and name in union.names else None
        floating = data_type is not None and pa.types.is_floating(data_type)
        bound_order = _bound_order(data_type) or (_stored_number if floating else None)
        mins = [c["min"] for c in cols if "min" in c]
        if mins:
            with contextlib.suppress(TypeError):
                # Both or neither: a max that failed after a min was set crashed the commit.
                merged["min"], merged["max"] = (
                    min(mins, key=bound_order),
                    max((c["max"] for c in cols if "max" in c), key=bound_order),
                )
            if any("range_cut" in c for c in cols):
                merged["range_cut"] = LONG_VALUE
        moments = [c for c in cols if c.get("numeric_count")]
        if moments:
            n, mean, m2 = 0, 0.0, 0.0
            for c in moments:
                k = c["numeric_count"]
                delta = c["mean"] - mean
                total = n + k
                mean += delta * k / total
                m2 += c["m2"] + delta * delta * n * k / total
                n = total
            merged.update(mean=mean, m2=m2, numeric_count=n, std=math.sqrt(m2 / n))
        samples = [v for c in cols for v in c.get("sample", [])]
        if samples:
            step = max(1, math.ceil(len(samples) / SAMPLE_SIZE))
            merged["sample"] = samples[::step]
            merged["quantiles"] = [float(q) for q in quantiles(np.asarray(samples), np.linspace(0, 1, 21))]
        if floating and "min" in merged:
            # A float column some files hold as integers: float bounds, as one file gives.
            merged["min"], merged["max"] = (_as_float(merged["min"]), _as_float(merged["max"]))
        merged.update(_merge_counts(cols, data_type))
        out[name] = merged
    return out


def _merge_counts(cols: list[dict[str, Any]], data_type: pa.DataType | None) -> dict[str, Any]:
    """Distinct count and top values of one column over files.

    A file keeps its exact distinct count (up to `MAX_TRACKED_DISTINCT` values) but only its top
    `TOP_VALUES` counts. The dataset's distinct count is exact when the files' counts are exact
    and either each top list holds all its file's values (no more than `TOP_VALUES`: the lists
    together are every value with its count), or the files' value ranges do not overlap (no value
    is in two files: the counts add up, as a key or a date split into partitions). Otherwise only
    a lower bound is known (the most of one file, or the values the lists name) and it is never
    called exact.
    """
    counts: dict[Any, int] = {}
    # A float column's stored top values spell infinities and NaN as text: ranked as the numbers
    # they are, as one file ranks them, not all of them by their text.
    number = _stored_number if data_type is not None and pa.types.is_floating(data_type) else None
    for c in cols:
        for value, count in c.get("top") or ():
            value = number(value) if number is not None else value
            counts[value] = counts.get(value, 0) + count
    if all("top" in c and c.get("distinct_exact") for c in cols):
        ranked = top_values(counts, _bound_order(data_type) or nan_last)
        top = [[jsonable(k) if number is not None else k, counts[k]] for k in ranked]
        if all(c["distinct"] <= len(c["top"]) for c in cols):
            return {"top": top, "distinct": len(counts), "distinct_exact": True}
        if _disjoint(cols, data_type):
            # Every value lives in one file, so a value of the dataset's top list is in its file's.
            return {"top": top, "distinct": sum(c["distinct"] for c in cols), "distinct_exact": True}
        return {"top": top, "distinct": max(len(counts), *(c["distinct"] for c in cols)), "distinct_exact": False}
    if any("distinct" in c for c in cols):
        return {"distinct": max(len(counts), *(c.get("distinct", 0) for c in cols)), "distinct_exact": False}
    return {}


#: The one NaN a float column's merged counts hold: NaN equals nothing, itself included, so a dict
#: finds it again only as this very object.
_NAN = float("nan")


def _stored_number(value: Any) -> Any:
    """A float column's stored value as a number: non-finite ones are stored as 'inf', '-inf' and
    'nan' (`jsonable`)."""
    if isinstance(value, str):
        return _NAN if value == "nan" else float(value)
    return value


def _bound_order(data_type: pa.DataType | None) -> Callable[[Any], Any] | None:
    """How stored values of a column order, when not as themselves: dates and timestamps are ISO
    text, whose years past 9999 or before 1 carry a sign (`temporal_text`)."""
    if data_type is not None and (pa.types.is_date(data_type) or pa.types.is_timestamp(data_type)):
        return time_order
    return None


def _disjoint(cols: list[dict[str, Any]], data_type: pa.DataType | None) -> bool:
    """Whether the files' [min, max] ranges of a column overlap nowhere (files with only nulls
    hold no value and do not count). Only for types whose stored bounds order as the values do:
    integers, strings, and dates and times as ISO text (not floats: a NaN is a value outside
    every range; not decimals or durations, stored as text that does not order by value; not
    zoned timestamps, whose local ISO text repeats when clocks go back)."""
    if data_type is None or not (
        pa.types.is_integer(data_type)
        or _kind(data_type) == "string"
        or pa.types.is_date(data_type)
        or pa.types.is_time(data_type)
        or (pa.types.is_timestamp(data_type) and data_type.tz is None)
    ):
        return False
    holding = [c for c in cols if c.get("distinct")]
    if any("min" not in c or "max" not in c for c in holding):
        return False
    order = _bound_order(data_type) or (lambda value: value)
    ranges = sorted((order(c["min"]), order(c["max"])) for c in holding)
    # All bounds of one kind (a file's integer bounds beside another's text do not compare).
    if len({type(v) for r in ranges for v in r}) > 1:
        return False
    return all(before[1] < after[0] for before, after in itertools.pairwise(ranges))
