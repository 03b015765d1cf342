"""Per-row 64-bit hashes, computed column-wise with numpy over Arrow buffers.

Row hashes place content-defined chunk boundaries (when a dataset has no key), let a diff join
small (key, row hash) columns instead of whole rows, and match rows by content when there is no
key. They are not ids: ids use the xxh3-128 stream hash in ``hashing``. They must still be stable
across machines and library versions, which is why they are defined here (little-endian words,
splitmix64 mixing) instead of borrowed from pandas, polars or DuckDB.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa

from datakeep import hashing, native
from datakeep.arrow_numpy import primitive_view, valid_mask

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_NULL = np.uint64(0x6A09E667F3BCC909)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


def mix(x: np.ndarray, scratch: np.ndarray | None = None) -> np.ndarray:
    """splitmix64's finaliser, applied in place to a uint64 array (and returned). Its shifted
    copies go to ``scratch`` (an array like ``x``) when given: a loop that mixes array after
    array then allocates nothing."""
    if native.AVAILABLE and x.dtype == np.uint64 and x.flags.c_contiguous and x.flags.writeable:
        return native.mix(x)
    if scratch is None:
        scratch = np.empty_like(x)
    np.right_shift(x, _S30, out=scratch)
    x ^= scratch
    x *= _M1
    np.right_shift(x, _S27, out=scratch)
    x ^= scratch
    x *= _M2
    np.right_shift(x, _S31, out=scratch)
    x ^= scratch
    return x


#: Per column name, whether hashing its distinct strings once paid off in an earlier batch of
#: the same file: judging it again batch after batch cost a 200-string-column table a fifth of
#: its row hashing. Only the speed depends on it, never a hash.
DictionaryPlan = dict[str, bool]


def column_hashes(array: pa.Array | pa.ChunkedArray, plan: DictionaryPlan | None = None, name: str = "") -> np.ndarray:
    """One uint64 per row of ``array``; ``plan`` remembers, under ``name``, how its strings hash
    fastest (see `DictionaryPlan`)."""
    if isinstance(array, pa.ChunkedArray):
        parts = [column_hashes(chunk, plan, name) for chunk in array.chunks]
        return np.concatenate(parts) if parts else np.zeros(0, np.uint64)
    if pa.types.is_dictionary(array.type) and hashing.is_string_like(array.dictionary.type):
        h = _dictionary_hashes(array)
        if h is not None:
            return h
    array = hashing.decode(array)
    t = array.type
    n = len(array)
    if pa.types.is_null(t):
        return np.full(n, _NULL, dtype=np.uint64)
    if pa.types.is_boolean(t):
        h = hashing.booleans(array).astype(np.uint64)
        h += _GOLDEN
        h = mix(h)
    elif hashing.is_string_like(t):
        h = _string_hashes(array, plan, name)
    elif pa.types.is_fixed_size_list(t):
        h = _fixed_list_hashes(hashing._fixed_list_children(array), n, t.list_size)
    elif hashing._is_variable_list(t) or pa.types.is_map(t):
        lengths = hashing.list_lengths(array)
        h = _segment_hashes(column_hashes(hashing.list_values(array)), lengths)
    elif pa.types.is_struct(t):
        h = np.full(n, _GOLDEN, dtype=np.uint64)
        for child in hashing.struct_children(array):
            h = mix(h ^ column_hashes(child))
    else:
        h = _fixed_hashes(hashing.fixed_width(array))
    if array.null_count:
        h[~valid_mask(array)] = _NULL
    return h


def row_hashes(
    table: pa.Table | pa.RecordBatch,
    columns: list[str] | None = None,
    plan: DictionaryPlan | None = None,
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Combine the column hashes of ``columns`` (all, in order, by default) into one per row;
    ``plan`` is shared by the batches of one file; ``out`` (uint64, one per row) receives them."""
    names = columns if columns is not None else table.schema.names
    if out is not None:
        out.fill(_GOLDEN)
    return combine_hashes((column_hashes(table.column(name), plan, name) for name in names), table.num_rows, into=out)


def combine_hashes(
    columns: Iterable[np.ndarray], rows: int, *, first: int = 0, into: np.ndarray | None = None
) -> np.ndarray:
    """Row hashes from per-column hashes, in column order (each array is updated in place).
    A diff that hashes recast columns combines them here, so its row hashes agree with
    `row_hashes` wherever the cells do. ``into``: the row hashes of the ``first`` columns before
    these, extended (in place) as if all had been combined at once."""
    h = np.full(rows, _GOLDEN, dtype=np.uint64) if into is None else into
    if native.AVAILABLE:
        for position, column_h in enumerate(columns, start=first):
            native.combine(h, column_h, (position + 1) * int(_GOLDEN))
        return h
    scratch = np.empty_like(h)
    for position, column_h in enumerate(columns, start=first):
        column_h += np.uint64((position + 1) * int(_GOLDEN) % 2**64)
        h ^= column_h
        mix(h, scratch)
    return h


#: Below this many rows a column is hashed value by value; above it, a sample decides whether
#: hashing each distinct value once (a category, a country code) is worth a dictionary encoding.
_DICTIONARY_MIN_ROWS = 4096
_PROBE_ROWS = 2048
#: At most this share of distinct values in the probe: worth it (the encoding costs about what
#: hashing a quarter of the values does).
_DICTIONARY_MAX_SHARE = 0.125


def _string_hashes(array: pa.Array, plan: DictionaryPlan | None, name: str) -> np.ndarray:
    """Hashes of string or binary values, each distinct value hashed once when few are distinct;
    the result is the same either way (null slots are overwritten by the caller). The C loop
    hashes a value in less time than Arrow's dictionary encoding looks it up, so with it every
    value is hashed."""
    n = len(array)
    if n >= _DICTIONARY_MIN_ROWS and not native.AVAILABLE:
        import pyarrow.compute as pc  # only here: rowhash is imported on light paths too

        worth = plan.get(name) if plan is not None else None
        if worth is None:
            probe = array.slice(0, _PROBE_ROWS)
            worth = pc.count_distinct(probe).as_py() <= _DICTIONARY_MAX_SHARE * len(probe)
        h = None
        if worth:
            encoded = pc.dictionary_encode(array)
            worth = len(encoded.dictionary) <= _DICTIONARY_MAX_SHARE * n
            h = _dictionary_hashes(encoded) if worth else None
        if plan is not None:
            plan[name] = worth
        if h is not None:
            return h
    return _value_hashes(array)


def _value_hashes(array: pa.Array) -> np.ndarray:
    """The hash of each string or binary value of ``array``; null slots hold arbitrary values,
    which the caller overwrites."""
    if not native.AVAILABLE:
        return _bytes_hashes(*hashing.string_parts(array))
    buffers = native.string_buffers(array)
    if buffers is None:
        return _bytes_hashes(np.zeros(len(array), dtype=np.int64), np.zeros(0, dtype=np.uint8))
    return native.bytes_hashes(*buffers)


def _dictionary_hashes(array: pa.DictionaryArray) -> np.ndarray | None:
    """Per-row hashes of a dictionary-encoded string column: the dictionary's values hashed once,
    then gathered by index. None when the dictionary itself holds nulls (the general path)."""
    dictionary = hashing.decode(array.dictionary)
    if dictionary.null_count:
        return None
    if len(dictionary) == 0:
        return np.full(len(array), _NULL, dtype=np.uint64)  # every row is null
    per_value = _value_hashes(dictionary)
    indices = array.indices
    width = indices.type.bit_width // 8
    # Null rows hold arbitrary index bytes (clipped into range); their hash is overwritten below.
    # (fill_null would build a Python scalar, which imports pandas.)
    raw = primitive_view(
        indices, f"<{'i' if pa.types.is_signed_integer(indices.type) else 'u'}{width}", allow_nulls=True
    )
    h = per_value[np.clip(raw, 0, len(per_value) - 1)] if indices.null_count else per_value[raw]
    if array.null_count:
        h[~valid_mask(array)] = _NULL
    return h


def _fixed_hashes(values: np.ndarray) -> np.ndarray:
    n, width = values.shape
    if width in (1, 2, 4, 8) and native.AVAILABLE:
        return native.fixed_hashes(values, width)
    if width in (1, 2, 4, 8):
        h = values.view(f"<u{width}").reshape(n).astype(np.uint64)
        h += np.uint64(width)
        return mix(h)
    padded_width = -(-width // 8) * 8
    if padded_width != width:
        padded = np.zeros((n, padded_width), dtype=np.uint8)
        padded[:, :width] = values
        values = padded
    words = np.ascontiguousarray(values).view("<u8").reshape(n, padded_width // 8)
    h = np.full(n, np.uint64(width), dtype=np.uint64)
    for j in range(words.shape[1]):
        h = mix(h ^ words[:, j])
    return h


#: Values up to this many 8-byte words are hashed word position by word position, across all
#: values at once; longer ones (rare) go through the general path, which expands every word.
_SHORT_WORDS = 8
#: Words of long values expanded at once (about 48 bytes each while they are hashed).
_LONG_WORDS_PER_PASS = 1 << 20


def _bytes_hashes(lengths: np.ndarray, data: np.ndarray) -> np.ndarray:
    """Hash variable-length byte strings 8 bytes at a time, without a Python loop per value.

    A value's hash is ``mix(sum_i mix(word_i ^ i*GOLDEN) ^ (length*M2 + GOLDEN))`` over its
    little-endian 8-byte words (the last one zero-padded), whichever path computes it.
    """
    n = len(lengths)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    words_per_value = (lengths + 7) // 8
    # Zero padding past the end: a word read at or beyond a value's end (masked off, or a word
    # position the value does not have) never needs its index clipped.
    padded = np.zeros(len(data) + 8 * (_SHORT_WORDS + 1), dtype=np.uint8)
    padded[: len(data)] = data
    # Every 8-byte window of the data, read unaligned: window i starts at byte i.
    windows = np.ndarray(shape=(len(padded) - 7,), dtype="<u8", buffer=padded, strides=(1,))
    sums = np.zeros(n, dtype=np.uint64)
    long = words_per_value > _SHORT_WORDS
    if long.any():
        rows = np.flatnonzero(long)
        # A few values at a time: every word of them is expanded into several arrays of 8 bytes
        # a word, so a batch of 256 KiB images took 2.5 GB at once.
        ends = np.cumsum(words_per_value[rows])
        start = 0
        while start < len(rows):
            budget = (int(ends[start - 1]) if start else 0) + _LONG_WORDS_PER_PASS
            stop = max(start + 1, int(np.searchsorted(ends, budget, side="right")))
            part = rows[start:stop]
            sums[part] = _word_sums_long(lengths[part], offsets[part], windows)
            start = stop
        short = np.flatnonzero(~long)
        sums[short] = _word_sums_short(lengths[short], offsets[short], windows)
    else:
        sums = _word_sums_short(lengths, offsets[:-1], windows)
    sums ^= lengths.astype(np.uint64) * _M2 + _GOLDEN
    return mix(sums)


#: ``_WORD_MASKS[r]`` keeps the first ``r`` bytes of a little-endian word (r = 0..8).
_WORD_MASKS = np.array([(1 << (8 * r)) - 1 for r in range(9)], dtype=np.uint64)


def _word_sums_short(lengths: np.ndarray, starts: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """Word sums of short values (at most ``_SHORT_WORDS`` words): one pass per word position,
    each over every value at once, into preallocated buffers.

    Two shortcuts keep a pass cheap. While every value still has a whole word at the position,
    no bytes are masked off. Once fewer than half the values reach the position, the pass runs
    over those values alone (the others are done). Before that, a value shorter than the position
    still goes through the pass (its masked word is 0); the constant ``mix(j*GOLDEN)`` it picks
    up there is subtracted once at the end, which is cheaper than leaving it out of each pass.
    """
    n = len(lengths)
    sums = np.zeros(n, dtype=np.uint64)
    word_count = int((lengths.max(initial=0) + 7) // 8)
    if word_count == 0:
        return sums
    lengths = lengths.astype(np.int64, copy=False)
    whole_passes = int(lengths.min()) // 8  # positions where every value has all 8 bytes
    position = starts.astype(np.int64, copy=True)
    remaining = lengths.copy()
    kept = np.empty(n, dtype=np.int64)
    scratch = np.empty(n, dtype=np.uint64)
    padding = np.zeros(word_count + 1, dtype=np.uint64)  # padding[j]: what a missing word j adds
    rows: np.ndarray | None = None  # the values still hashed, once the passes are narrowed
    padded_passes = word_count  # passes over every value, each adding padding to shorter ones
    for j in range(word_count):
        if rows is None and j >= whole_passes and 2 * int(np.count_nonzero(remaining > 0)) < n:
            rows = np.arange(n)
            padded_passes = j
        if rows is not None:
            going = remaining > 0
            rows, position, remaining = rows[going], position[going], remaining[going]
            kept, scratch = kept[: len(rows)], scratch[: len(rows)]
        # Fancy indexing, not np.take: take over this unaligned strided view is ten times slower.
        words = windows[position]
        if j >= whole_passes:
            np.clip(remaining, 0, 8, out=kept)
            words &= _WORD_MASKS[kept]
        salt = np.uint64(j * int(_GOLDEN) % 2**64)
        words ^= salt
        mix(words, scratch)
        if rows is None:
            sums += words
            padding[j] = mix(np.array([salt], dtype=np.uint64))[0]
        else:
            sums[rows] += words  # each row once: a plain scatter
        position += 8
        remaining -= 8
    # Value v has words_per_value[v] words; every later position it went through added
    # padding[j]: take it back (missing[k] = sum of padding[k:]).
    if padded_passes == 0:
        return sums
    missing = np.cumsum(padding[::-1], dtype=np.uint64)[::-1]
    sums -= missing[np.minimum((lengths + 7) // 8, padded_passes)] - missing[padded_passes]
    return sums


def _word_sums_long(lengths: np.ndarray, starts: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """Word sums of long values: every word of every value expanded into one flat array."""
    n = len(lengths)
    words_per_value = (lengths + 7) // 8
    total_words = int(words_per_value.sum())
    word_ends = np.cumsum(words_per_value)
    value_of_word = np.repeat(np.arange(n), words_per_value)
    index_in_value = np.arange(total_words) - np.repeat(word_ends - words_per_value, words_per_value)
    words = windows[starts[value_of_word] + index_in_value * 8]
    remaining = lengths[value_of_word] - index_in_value * 8
    partial = remaining < 8
    if partial.any():
        bits = (remaining[partial] * 8).astype(np.uint64)
        words[partial] &= (np.uint64(1) << bits) - np.uint64(1)
    words ^= index_in_value.astype(np.uint64) * _GOLDEN
    words = mix(words)
    totals = np.zeros(total_words + 1, dtype=np.uint64)
    np.cumsum(words, out=totals[1:])
    return totals[word_ends] - totals[word_ends - words_per_value]


#: Elements of fixed-size lists hashed at once (an embedding column: 768 floats a row).
_FIXED_LIST_ELEMENTS_PER_PASS = 1 << 20


def _fixed_list_hashes(children: pa.Array, n: int, size: int) -> np.ndarray:
    """`_segment_hashes` of lists that all have ``size`` elements (``children``, in order). A
    row's elements are a row of a matrix, so the sums need no positions, repeats or running
    total; and the elements are hashed a block of rows at a time, in buffers small enough to be
    reused: an embedding column (768 floats a row) spent 4 s faulting in its temporaries."""
    if n == 0 or size == 0:
        return _segment_hashes(np.zeros(0, dtype=np.uint64), np.full(n, size, dtype=np.int64))
    salts = np.arange(size, dtype=np.uint64) * _GOLDEN
    h = np.empty(n, dtype=np.uint64)
    step = max(1, _FIXED_LIST_ELEMENTS_PER_PASS // size)
    for start in range(0, n, step):
        stop = min(n, start + step)
        block = column_hashes(children.slice(start * size, (stop - start) * size)).reshape(stop - start, size)
        block ^= salts
        mix(block.reshape(-1))
        np.sum(block, axis=1, dtype=np.uint64, out=h[start:stop])  # wraps modulo 2**64, as cumsum
    h ^= np.uint64(size * int(_M1) % 2**64)
    return mix(h)


def _segment_hashes(child: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Hash of each list: an order-sensitive sum of its elements' hashes."""
    n = len(lengths)
    total = int(lengths.sum())
    ends = np.cumsum(lengths)
    position = np.arange(total) - np.repeat(ends - lengths, lengths)
    mixed = mix(child[:total] ^ (position.astype(np.uint64) * _GOLDEN))
    sums = np.zeros(total + 1, dtype=np.uint64)
    np.cumsum(mixed, out=sums[1:])
    h = sums[ends] - sums[ends - lengths] if n else np.zeros(0, np.uint64)
    h ^= lengths.astype(np.uint64) * _M1
    return mix(h)
