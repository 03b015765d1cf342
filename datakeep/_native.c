/*
 * datakeep._native: the per-row loops of a commit, in C.
 *
 * Each function here computes exactly what a numpy reference in datakeep computes (rowhash.py,
 * patches.py): the same bits, so repositories written with or without this module agree, and
 * tests/test_native.py checks the two against each other on random data. numpy needs a handful
 * of full passes over 8-byte arrays for what is one pass here; on a 5M-row edit that was most
 * of a commit's CPU. Every loop runs without the GIL, so the reader, statistics and writer
 * threads of a commit keep both cores busy.
 *
 * Arguments are objects with the buffer protocol (numpy arrays, Arrow buffers, bytes); the
 * Python side (datakeep/native.py) checks their types and sizes, so this file trusts them.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <math.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define LE64(x) __builtin_bswap64(x)
#define LE32(x) __builtin_bswap32(x)
#define LE16(x) __builtin_bswap16(x)
#else
#define LE64(x) (x)
#define LE32(x) (x)
#define LE16(x) (x)
#endif

static const uint64_t M1 = 0xBF58476D1CE4E5B9ULL;
static const uint64_t M2 = 0x94D049BB133111EBULL;
static const uint64_t GOLDEN = 0x9E3779B97F4A7C15ULL;

/* splitmix64's finaliser (rowhash.mix). */
static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= M1;
    x ^= x >> 27;
    x *= M2;
    x ^= x >> 31;
    return x;
}

/* The first `length` (<= 8) bytes at `p` as a little-endian word, the rest zero. */
static inline uint64_t partial_word(const uint8_t *p, Py_ssize_t length) {
    uint64_t word = 0;
    memcpy(&word, p, (size_t)length);
    return LE64(word);
}

static inline uint64_t whole_word(const uint8_t *p) {
    uint64_t word;
    memcpy(&word, p, 8);
    return LE64(word);
}

/* rowhash._bytes_hashes of one value: mix(sum_i mix(word_i ^ i*GOLDEN) ^ (length*M2 + GOLDEN)).
 * `limit` is the end of the readable data: a last partial word is read whole and masked when
 * 8 bytes fit before it (a variable-length memcpy is a call, and most values end mid-word). */
static inline uint64_t value_hash(const uint8_t *p, Py_ssize_t length, const uint8_t *limit) {
    uint64_t sum = 0;
    uint64_t salt = 0;
    Py_ssize_t left = length;
    while (left >= 8) {
        sum += mix64(whole_word(p) ^ salt);
        p += 8;
        left -= 8;
        salt += GOLDEN;
    }
    if (left > 0) {
        uint64_t word = p + 8 <= limit ? whole_word(p) & ((1ULL << (8 * left)) - 1) : partial_word(p, left);
        sum += mix64(word ^ salt);
    }
    return mix64(sum ^ ((uint64_t)length * M2 + GOLDEN));
}

/* value_hash of a value of at most 32 bytes with 32 readable bytes from `p`: all four words
 * mixed and the ones past the value dropped by masks, not by a loop whose length varies with the
 * value (most text cells are this short, and the branch on their length is a coin toss). */
static inline uint64_t short_value_hash(const uint8_t *p, Py_ssize_t length) {
    uint64_t sum = 0;
    for (int i = 0; i < 4; i++) {
        Py_ssize_t have = length - 8 * i; /* the value's bytes in word i */
        uint64_t mask = have >= 8 ? ~0ULL : (have > 0 ? (1ULL << (8 * have)) - 1 : 0);
        uint64_t mixed = mix64((whole_word(p + 8 * i) & mask) ^ (GOLDEN * (uint64_t)i));
        sum += have > 0 ? mixed : 0;
    }
    return mix64(sum ^ ((uint64_t)length * M2 + GOLDEN));
}

/* Offset `i` of an Arrow string array's little-endian offsets, 4 or 8 bytes wide. */
static inline int64_t offset_at(const uint8_t *offsets, Py_ssize_t i, int width) {
    if (width == 4) {
        uint32_t value;
        memcpy(&value, offsets + 4 * i, 4);
        return (int32_t)LE32(value);
    }
    uint64_t value;
    memcpy(&value, offsets + 8 * i, 8);
    return (int64_t)LE64(value);
}

/* Whether row `i` holds a value, by Arrow's validity bitmap (NULL: every row does). */
#define VALID_AT(valid, offset, i) \
    ((valid) == NULL || (((valid)[((offset) + (i)) >> 3] >> (((offset) + (i)) & 7)) & 1))

/* Buffers of one call, released together. */
typedef struct {
    Py_buffer views[6];
    int count;
} Buffers;

static int take(Buffers *held, PyObject *object, int writable, Py_buffer **view) {
    if (held->count == (int)(sizeof(held->views) / sizeof(held->views[0]))) {
        PyErr_SetString(PyExc_RuntimeError, "datakeep._native: more buffers than one call holds");
        return -1;
    }
    int flags = writable ? PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS : PyBUF_C_CONTIGUOUS;
    if (PyObject_GetBuffer(object, &held->views[held->count], flags) < 0) {
        return -1;
    }
    *view = &held->views[held->count];
    held->count += 1;
    return 0;
}

static void release(Buffers *held) {
    for (int i = 0; i < held->count; i++) {
        PyBuffer_Release(&held->views[i]);
    }
    held->count = 0;
}

/* A size check the Python side already made, kept here so no call can read or write past a
 * buffer. */
static int too_small(Buffers *held, Py_ssize_t have, Py_ssize_t need, const char *what) {
    if (have >= need) {
        return 0;
    }
    release(held);
    PyErr_Format(PyExc_ValueError, "%s: %zd bytes where %zd are needed", what, have, need);
    return 1;
}

/* bytes_hashes(offsets, offset_width, data, out): out[i] = the hash of data[offsets[i]:offsets[i+1]]
 * for n = len(out) values; offsets are little-endian int32 (width 4) or int64 (width 8) and index
 * `data` directly (an Arrow string array's buffers with the array's offset applied). */
static PyObject *bytes_hashes(PyObject *self, PyObject *args) {
    PyObject *offsets_object, *data_object, *out_object;
    int width;
    if (!PyArg_ParseTuple(args, "OiOO", &offsets_object, &width, &data_object, &out_object)) {
        return NULL;
    }
    Buffers held = {.count = 0};
    Py_buffer *offsets, *data, *out;
    if (take(&held, offsets_object, 0, &offsets) < 0 || take(&held, data_object, 0, &data) < 0 ||
        take(&held, out_object, 1, &out) < 0) {
        release(&held);
        return NULL;
    }
    Py_ssize_t n = out->len / 8;
    if (width != 4 && width != 8) {
        release(&held);
        PyErr_SetString(PyExc_ValueError, "offsets: width must be 4 or 8");
        return NULL;
    }
    if (too_small(&held, offsets->len, (n + 1) * width, "offsets")) {
        return NULL;
    }
    uint64_t *result = (uint64_t *)out->buf;
    const uint8_t *bytes = (const uint8_t *)data->buf;
    const uint8_t *limit = bytes + data->len;
    const uint8_t *o = (const uint8_t *)offsets->buf;
    Py_BEGIN_ALLOW_THREADS;
    int64_t start = offset_at(o, 0, width);
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t end = offset_at(o, i + 1, width);
        Py_ssize_t length = (Py_ssize_t)(end - start);
        const uint8_t *p = bytes + start;
        result[i] = length <= 32 && p + 32 <= limit ? short_value_hash(p, length) : value_hash(p, length, limit);
        start = end;
    }
    Py_END_ALLOW_THREADS;
    release(&held);
    Py_RETURN_NONE;
}

/* Loops the compiler can vectorise get a second build for AVX-512 where it can make one (GCC on
 * x86-64 Linux with glibc, whose ifunc picks the build when the module loads): AVX-512DQ
 * multiplies eight 64-bit lanes at once, and mix64 is two multiplies. Integer arithmetic only, so
 * both builds give the same bits; other CPUs and compilers run the baseline build. On the bench
 * machine `combine` took 0.85 -> 0.41 ms and `fixed_hashes` 0.64-0.79 -> 0.11-0.23 ms a million
 * rows. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && defined(__GLIBC__)
/* x86-64-v4 (AVX-512F/BW/CD/DQ/VL), tested by feature: "arch=<cpu>" would be picked by CPU model
 * alone, and target_clones takes no bare AVX-512 feature name. Older GCC than the 12 checked here
 * build the baseline only. */
#define VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "default")))
#else
#define VECTOR_CLONES
#endif

VECTOR_CLONES static void fixed_hashes_loop(uint64_t *result, const uint8_t *p, Py_ssize_t n, int width) {
    uint64_t add = (uint64_t)width;
    switch (width) {
    case 1:
        for (Py_ssize_t i = 0; i < n; i++) result[i] = mix64((uint64_t)p[i] + add);
        break;
    case 2:
        for (Py_ssize_t i = 0; i < n; i++) {
            uint16_t v;
            memcpy(&v, p + 2 * i, 2);
            result[i] = mix64((uint64_t)LE16(v) + add);
        }
        break;
    case 4:
        for (Py_ssize_t i = 0; i < n; i++) {
            uint32_t v;
            memcpy(&v, p + 4 * i, 4);
            result[i] = mix64((uint64_t)LE32(v) + add);
        }
        break;
    default:
        for (Py_ssize_t i = 0; i < n; i++) result[i] = mix64(whole_word(p + 8 * i) + add);
        break;
    }
}

/* fixed_hashes(values, width, out): out[i] = mix(value_i + width), value_i the i-th little-endian
 * unsigned integer of `width` (1, 2, 4 or 8) bytes (rowhash._fixed_hashes). */
static PyObject *fixed_hashes(PyObject *self, PyObject *args) {
    PyObject *values_object, *out_object;
    int width;
    if (!PyArg_ParseTuple(args, "OiO", &values_object, &width, &out_object)) {
        return NULL;
    }
    Buffers held = {.count = 0};
    Py_buffer *values, *out;
    if (take(&held, values_object, 0, &values) < 0 || take(&held, out_object, 1, &out) < 0) {
        release(&held);
        return NULL;
    }
    Py_ssize_t n = out->len / 8;
    if (width != 1 && width != 2 && width != 4 && width != 8) {
        release(&held);
        PyErr_SetString(PyExc_ValueError, "values: width must be 1, 2, 4 or 8");
        return NULL;
    }
    if (too_small(&held, values->len, n * width, "values")) {
        return NULL;
    }
    uint64_t *result = (uint64_t *)out->buf;
    const uint8_t *p = (const uint8_t *)values->buf;
    Py_BEGIN_ALLOW_THREADS;
    fixed_hashes_loop(result, p, n, width);
    Py_END_ALLOW_THREADS;
    release(&held);
    Py_RETURN_NONE;
}

/* mix(values): rowhash.mix, in place, in one pass. */
static PyObject *mix_in_place(PyObject *self, PyObject *args) {
    PyObject *values_object;
    if (!PyArg_ParseTuple(args, "O", &values_object)) {
        return NULL;
    }
    Buffers held = {.count = 0};
    Py_buffer *values;
    if (take(&held, values_object, 1, &values) < 0) {
        return NULL;
    }
    Py_ssize_t n = values->len / 8;
    uint64_t *v = (uint64_t *)values->buf;
    Py_BEGIN_ALLOW_THREADS;
    for (Py_ssize_t i = 0; i < n; i++) v[i] = mix64(v[i]);
    Py_END_ALLOW_THREADS;
    release(&held);
    Py_RETURN_NONE;
}

/* combine(into, column, salt): into[i] = mix(into[i] ^ (column[i] + salt)), one column folded
 * into the row hashes (rowhash.combine_hashes). */
VECTOR_CLONES static void combine_loop(uint64_t *h, const uint64_t *c, Py_ssize_t n, uint64_t s) {
    for (Py_ssize_t i = 0; i < n; i++) h[i] = mix64(h[i] ^ (c[i] + s));
}

static PyObject *combine(PyObject *self, PyObject *args) {
    PyObject *into_object, *column_object;
    unsigned long long salt;
    if (!PyArg_ParseTuple(args, "OOK", &into_object, &column_object, &salt)) {
        return NULL;
    }
    Buffers held = {.count = 0};
    Py_buffer *into, *column;
    if (take(&held, into_object, 1, &into) < 0 || take(&held, column_object, 0, &column) < 0) {
        release(&held);
        return NULL;
    }
    Py_ssize_t n = into->len / 8;
    if (too_small(&held, column->len, n * 8, "column")) {
        return NULL;
    }
    uint64_t *h = (uint64_t *)into->buf;
    const uint64_t *c = (const uint64_t *)column->buf;
    uint64_t s = (uint64_t)salt;
    Py_BEGIN_ALLOW_THREADS;
    combine_loop(h, c, n, s);
    Py_END_ALLOW_THREADS;
    release(&held);
    Py_RETURN_NONE;
}

/* first_matches(base, new, source, table) -> repeated: source[i] = the first (lowest) row of
 * `base` whose hash equals new[i], or -1; returns whether `base` holds a hash twice
 * (patches._first_matches). An open-addressing table of base rows: linear time, where the numpy
 * reference sorts both sides. `table` is uint32 scratch of a power-of-two size of at least twice
 * the base rows, kept by the caller across calls: a fresh table's page faults cost more than
 * the lookups. */
static PyObject *first_matches(PyObject *self, PyObject *args) {
    PyObject *base_object, *new_object, *source_object, *table_object;
    if (!PyArg_ParseTuple(args, "OOOO", &base_object, &new_object, &source_object, &table_object)) {
        return NULL;
    }
    Buffers held = {.count = 0};
    Py_buffer *base, *new_, *source, *table;
    if (take(&held, base_object, 0, &base) < 0 || take(&held, new_object, 0, &new_) < 0 ||
        take(&held, source_object, 1, &source) < 0 || take(&held, table_object, 1, &table) < 0) {
        release(&held);
        return NULL;
    }
    Py_ssize_t base_rows = base->len / 8, new_rows = new_->len / 8;
    if (too_small(&held, source->len, new_rows * 8, "source")) {
        return NULL;
    }
    const uint64_t *b = (const uint64_t *)base->buf;
    const uint64_t *q = (const uint64_t *)new_->buf;
    int64_t *found = (int64_t *)source->buf;
    uint32_t *slots = (uint32_t *)table->buf; /* 1 + base row, 0 when empty */
    size_t capacity = 16;
    while (capacity < (size_t)base_rows * 2) capacity <<= 1;
    if ((size_t)table->len < capacity * sizeof(uint32_t) || (uint64_t)base_rows >= UINT32_MAX) {
        release(&held);
        PyErr_SetString(PyExc_ValueError, "first_matches: scratch table too small for the base rows");
        return NULL;
    }
    size_t mask = capacity - 1;
    int repeated = 0;
    Py_BEGIN_ALLOW_THREADS;
    memset(slots, 0, capacity * sizeof(uint32_t));
    for (Py_ssize_t i = 0; i < base_rows; i++) {
        /* Row hashes are well mixed already; the mix guards the low bits of unusual ones. */
        size_t slot = (size_t)mix64(b[i]) & mask;
        while (1) {
            uint32_t held_row = slots[slot];
            if (held_row == 0) {
                slots[slot] = (uint32_t)(i + 1);
                break;
            }
            if (b[held_row - 1] == b[i]) {
                repeated = 1; /* the first row stays */
                break;
            }
            slot = (slot + 1) & mask;
        }
    }
    /* Most new rows follow the base row the one before matched: with no hash twice in the base,
     * that row is the only match, found without the table's random access. */
    Py_ssize_t next = 0;
    for (Py_ssize_t i = 0; i < new_rows; i++) {
        if (!repeated && next < base_rows && b[next] == q[i]) {
            found[i] = next++;
            continue;
        }
        size_t slot = (size_t)mix64(q[i]) & mask;
        int64_t row = -1;
        while (1) {
            uint32_t held_row = slots[slot];
            if (held_row == 0) break;
            if (b[held_row - 1] == q[i]) {
                row = (int64_t)held_row - 1;
                break;
            }
            slot = (slot + 1) & mask;
        }
        found[i] = row;
        if (row >= 0) next = (Py_ssize_t)row + 1;
    }
    Py_END_ALLOW_THREADS;
    release(&held);
    return PyBool_FromLong(repeated);
}

/* patch_runs(source, ops, literal_rows) -> (op count, literal count): patches.align's runs, in
 * one pass over `source` (int64: each new row's base row, or -1 for a row the patch carries).
 * A run of base rows lasts while they follow one another; carried rows form runs of their own.
 * ops receives (0 = BASE, first base row, length) or (1 = LITERAL, index of its first carried
 * row, length) per run, int64, room for one per row; literal_rows the carried rows' positions. */
static PyObject *patch_runs(PyObject *self, PyObject *args) {
    PyObject *source_object, *ops_object, *rows_object;
    if (!PyArg_ParseTuple(args, "OOO", &source_object, &ops_object, &rows_object)) {
        return NULL;
    }
    Buffers held = {.count = 0};
    Py_buffer *source_view, *ops_view, *rows_view;
    if (take(&held, source_object, 0, &source_view) < 0 || take(&held, ops_object, 1, &ops_view) < 0 ||
        take(&held, rows_object, 1, &rows_view) < 0) {
        release(&held);
        return NULL;
    }
    Py_ssize_t n = source_view->len / 8;
    if (too_small(&held, ops_view->len, n * 24, "ops") || too_small(&held, rows_view->len, n * 8, "literal_rows")) {
        return NULL;
    }
    const int64_t *source = (const int64_t *)source_view->buf;
    int64_t *ops = (int64_t *)ops_view->buf, *rows = (int64_t *)rows_view->buf;
    Py_ssize_t op_count = 0, literal_count = 0;
    Py_BEGIN_ALLOW_THREADS;
    for (Py_ssize_t i = 0; i < n; i++) {
        int literal = source[i] < 0;
        int continues = i > 0 && (literal ? source[i - 1] < 0 : (source[i - 1] >= 0 && source[i] == source[i - 1] + 1));
        if (continues) {
            ops[3 * (op_count - 1) + 2] += 1;
        } else {
            ops[3 * op_count] = literal;
            ops[3 * op_count + 1] = literal ? literal_count : source[i];
            ops[3 * op_count + 2] = 1;
            op_count++;
        }
        if (literal) rows[literal_count++] = i;
    }
    Py_END_ALLOW_THREADS;
    release(&held);
    return Py_BuildValue("(nn)", op_count, literal_count);
}

/* dense_join(a, b, low, slots_a, slots_b, pairs_a, pairs_b) -> pairs, or -1 when a side repeats a
 * key: diff.matching.match_dense's join of unique integer keys by direct addressing. `slots_*` are
 * int32 scratch of the keys' span (max - min + 1, `low` the min); the pairs (rows of a, rows of
 * b, int32) come in key order, keys >= 0 before negative ones, as unsigned codes sort. */
static PyObject *dense_join(PyObject *self, PyObject *args) {
    PyObject *a_object, *b_object, *slots_a_object, *slots_b_object, *pairs_a_object, *pairs_b_object;
    long long low;
    if (!PyArg_ParseTuple(args, "OOLOOOO", &a_object, &b_object, &low, &slots_a_object, &slots_b_object,
                          &pairs_a_object, &pairs_b_object)) {
        return NULL;
    }
    Buffers held = {.count = 0};
    Py_buffer *a, *b, *slots_a, *slots_b, *pairs_a, *pairs_b;
    if (take(&held, a_object, 0, &a) < 0 || take(&held, b_object, 0, &b) < 0 ||
        take(&held, slots_a_object, 1, &slots_a) < 0 || take(&held, slots_b_object, 1, &slots_b) < 0 ||
        take(&held, pairs_a_object, 1, &pairs_a) < 0 || take(&held, pairs_b_object, 1, &pairs_b) < 0) {
        release(&held);
        return NULL;
    }
    Py_ssize_t rows_a = a->len / 8, rows_b = b->len / 8, span = slots_a->len / 4;
    Py_ssize_t most = rows_a < rows_b ? rows_a : rows_b;
    if (too_small(&held, slots_b->len, span * 4, "slots_b") || too_small(&held, pairs_a->len, most * 4, "pairs_a") ||
        too_small(&held, pairs_b->len, most * 4, "pairs_b")) {
        return NULL;
    }
    const int64_t *ka = (const int64_t *)a->buf, *kb = (const int64_t *)b->buf;
    int32_t *sa = (int32_t *)slots_a->buf, *sb = (int32_t *)slots_b->buf;
    int32_t *pa = (int32_t *)pairs_a->buf, *pb = (int32_t *)pairs_b->buf;
    Py_ssize_t found = 0;
    int outside = 0, repeated = 0;
    Py_BEGIN_ALLOW_THREADS;
    memset(sa, 0xFF, (size_t)span * 4);
    memset(sb, 0xFF, (size_t)span * 4);
    for (Py_ssize_t i = 0; i < rows_a && !repeated && !outside; i++) {
        uint64_t k = (uint64_t)ka[i] - (uint64_t)low;
        if (k >= (uint64_t)span) outside = 1;
        else if (sa[k] >= 0) repeated = 1;
        else sa[k] = (int32_t)i;
    }
    for (Py_ssize_t i = 0; i < rows_b && !repeated && !outside; i++) {
        uint64_t k = (uint64_t)kb[i] - (uint64_t)low;
        if (k >= (uint64_t)span) outside = 1;
        else if (sb[k] >= 0) repeated = 1;
        else sb[k] = (int32_t)i;
    }
    if (!repeated && !outside) {
        /* Keys >= 0 first: slot k holds key low + k, which is >= 0 from k = -low on. */
        /* How many slots hold negative keys, counted unsigned: -low overflows at INT64_MIN. */
        uint64_t below_zero = low < 0 ? (uint64_t)0 - (uint64_t)low : 0;
        Py_ssize_t zero = below_zero < (uint64_t)span ? (Py_ssize_t)below_zero : span;
        for (Py_ssize_t pass = 0; pass < 2; pass++) {
            Py_ssize_t from = pass == 0 ? zero : 0, to = pass == 0 ? span : zero;
            for (Py_ssize_t k = from; k < to; k++) {
                if (sa[k] >= 0 && sb[k] >= 0) {
                    pa[found] = sa[k];
                    pb[found] = sb[k];
                    found++;
                }
            }
        }
    }
    Py_END_ALLOW_THREADS;
    release(&held);
    if (outside) {
        PyErr_SetString(PyExc_ValueError, "dense_join: a key outside the span");
        return NULL;
    }
    return PyLong_FromSsize_t(repeated ? -1 : found);
}

/* dense_counts(a, hashes_a, b, hashes_b, low, slots) -> (matched, same), or None when a side
 * repeats a key: how many rows of b find a row of a with their key, and how many of those have its
 * row hash too (rows added, removed and modified, counted; see diff.summary). Keys are int64
 * within [low, low + span), `slots` int32 scratch of that span. A slot holds the a-row with its
 * key, or EMPTY, TAKEN (matched by a b-row) or B_ONLY (a b-row without an a-row). */
#define EMPTY (-1)
#define TAKEN (-2)
#define B_ONLY (-3)
static PyObject *dense_counts(PyObject *self, PyObject *args) {
    PyObject *a_object, *ha_object, *b_object, *hb_object, *slots_object;
    long long low;
    if (!PyArg_ParseTuple(args, "OOOOLO", &a_object, &ha_object, &b_object, &hb_object, &low, &slots_object)) {
        return NULL;
    }
    Buffers held = {.count = 0};
    Py_buffer *a, *ha, *b, *hb, *slots;
    if (take(&held, a_object, 0, &a) < 0 || take(&held, ha_object, 0, &ha) < 0 || take(&held, b_object, 0, &b) < 0 ||
        take(&held, hb_object, 0, &hb) < 0 || take(&held, slots_object, 1, &slots) < 0) {
        release(&held);
        return NULL;
    }
    Py_ssize_t rows_a = a->len / 8, rows_b = b->len / 8, span = slots->len / 4;
    if (too_small(&held, ha->len, rows_a * 8, "hashes_a") || too_small(&held, hb->len, rows_b * 8, "hashes_b")) {
        return NULL;
    }
    const int64_t *ka = (const int64_t *)a->buf, *kb = (const int64_t *)b->buf;
    const uint64_t *ra = (const uint64_t *)ha->buf, *rb = (const uint64_t *)hb->buf;
    int32_t *slot = (int32_t *)slots->buf;
    Py_ssize_t matched = 0, same = 0;
    int outside = 0, repeated = 0;
    Py_BEGIN_ALLOW_THREADS;
    memset(slot, 0xFF, (size_t)span * 4); /* EMPTY */
    for (Py_ssize_t i = 0; i < rows_a && !repeated && !outside; i++) {
        uint64_t k = (uint64_t)ka[i] - (uint64_t)low;
        if (k >= (uint64_t)span) outside = 1;
        else if (slot[k] != EMPTY) repeated = 1;
        else slot[k] = (int32_t)i;
    }
    for (Py_ssize_t i = 0; i < rows_b && !repeated && !outside; i++) {
        uint64_t k = (uint64_t)kb[i] - (uint64_t)low;
        if (k >= (uint64_t)span) {
            outside = 1;
            break;
        }
        int32_t held_row = slot[k];
        if (held_row >= 0) {
            matched++;
            same += ra[held_row] == rb[i];
            slot[k] = TAKEN;
        } else if (held_row == EMPTY) {
            slot[k] = B_ONLY;
        } else {
            repeated = 1;
        }
    }
    Py_END_ALLOW_THREADS;
    release(&held);
    if (outside) {
        PyErr_SetString(PyExc_ValueError, "dense_counts: a key outside the span");
        return NULL;
    }
    if (repeated) {
        Py_RETURN_NONE;
    }
    return Py_BuildValue("(nn)", matched, same);
}

static inline int compare_values(const uint8_t *a, Py_ssize_t a_len, const uint8_t *b, Py_ssize_t b_len) {
    int order = memcmp(a, b, (size_t)(a_len < b_len ? a_len : b_len));
    if (order != 0) return order;
    return a_len < b_len ? -1 : (a_len > b_len ? 1 : 0);
}

/* The first 8 bytes of a value as a big-endian number, zero-padded: two values whose prefixes
 * differ compare as their prefixes do (a zero pad sorts like the end of a shorter value), so
 * most comparisons need no memcmp. */
static inline uint64_t order_prefix(const uint8_t *p, Py_ssize_t length, const uint8_t *limit) {
    uint64_t word;
    if (length >= 8) {
        word = whole_word(p);
    } else if (p + 8 <= limit) {
        word = whole_word(p) & (length ? (~0ULL >> (64 - 8 * length)) : 0);
    } else {
        word = partial_word(p, length);
    }
    return __builtin_bswap64(word); /* the first byte most significant, as in the value order */
}

/* string_min_max(offsets, offset_width, data, validity, validity_offset, rows) -> (min row, max row),
 * (-1, -1) when every row is null: the byte-wise least and greatest values (pyarrow.compute.min_max
 * of a string or binary array gives the same values). `validity` is Arrow's bitmap (b"" when no
 * row is null), its first row at bit `validity_offset`. */
static PyObject *string_min_max(PyObject *self, PyObject *args) {
    PyObject *offsets_object, *data_object, *validity_object;
    int width;
    Py_ssize_t validity_offset, rows;
    if (!PyArg_ParseTuple(args, "OiOOnn", &offsets_object, &width, &data_object, &validity_object, &validity_offset,
                          &rows)) {
        return NULL;
    }
    Buffers held = {.count = 0};
    Py_buffer *offsets, *data, *validity;
    if (take(&held, offsets_object, 0, &offsets) < 0 || take(&held, data_object, 0, &data) < 0 ||
        take(&held, validity_object, 0, &validity) < 0) {
        release(&held);
        return NULL;
    }
    if (width != 4 && width != 8) {
        release(&held);
        PyErr_SetString(PyExc_ValueError, "offsets: width must be 4 or 8");
        return NULL;
    }
    if (too_small(&held, offsets->len, (rows + 1) * width, "offsets") ||
        (validity->len && too_small(&held, validity->len, (validity_offset + rows + 7) / 8, "validity"))) {
        return NULL;
    }
    const uint8_t *o = (const uint8_t *)offsets->buf, *bytes = (const uint8_t *)data->buf;
    const uint8_t *valid = validity->len ? (const uint8_t *)validity->buf : NULL;
    Py_ssize_t lo = -1, hi = -1;
    const uint8_t *lo_p = NULL, *hi_p = NULL;
    Py_ssize_t lo_len = 0, hi_len = 0;
    uint64_t lo_prefix = 0, hi_prefix = 0;
    const uint8_t *limit = bytes + data->len;
    Py_BEGIN_ALLOW_THREADS;
    for (Py_ssize_t i = 0; i < rows; i++) {
        if (valid != NULL) {
            Py_ssize_t bit = validity_offset + i;
            if (!((valid[bit >> 3] >> (bit & 7)) & 1)) continue;
        }
        int64_t start = offset_at(o, i, width), end = offset_at(o, i + 1, width);
        const uint8_t *p = bytes + start;
        Py_ssize_t length = (Py_ssize_t)(end - start);
        uint64_t prefix = order_prefix(p, length, limit);
        if (lo < 0) {
            lo = hi = i;
            lo_p = hi_p = p;
            lo_len = hi_len = length;
            lo_prefix = hi_prefix = prefix;
            continue;
        }
        if (prefix < lo_prefix || (prefix == lo_prefix && compare_values(p, length, lo_p, lo_len) < 0)) {
            lo = i;
            lo_p = p;
            lo_len = length;
            lo_prefix = prefix;
        } else if (prefix > hi_prefix || (prefix == hi_prefix && compare_values(p, length, hi_p, hi_len) > 0)) {
            hi = i;
            hi_p = p;
            hi_len = length;
            hi_prefix = prefix;
        }
    }
    Py_END_ALLOW_THREADS;
    release(&held);
    return Py_BuildValue("(nn)", lo, hi);
}

/* The `width` (1, 2, 4 or 8) bytes at `p` as a little-endian number: fixed-size copies, which
 * the compiler inlines (a copy of a variable size is a call). */
static inline uint64_t integer_bits(const uint8_t *p, int width) {
    switch (width) {
        case 1: return p[0];
        case 2: {
            uint16_t v;
            memcpy(&v, p, 2);
            return LE16(v);
        }
        case 4: {
            uint32_t v;
            memcpy(&v, p, 4);
            return LE32(v);
        }
        default: return whole_word(p);
    }
}

/* Whether the `length` bytes at `a` and `b` are equal; short values compared as one word where
 * 8 bytes can be read before `limit` (most category values are short). */
static inline int same_bytes(const uint8_t *a, const uint8_t *b, Py_ssize_t length, const uint8_t *limit) {
    if (length <= 16 && a + 16 <= limit && b + 16 <= limit) {
        if (length <= 8) {
            uint64_t mask = length ? (~0ULL >> (64 - 8 * length)) : 0;
            return ((whole_word(a) ^ whole_word(b)) & mask) == 0;
        }
        uint64_t mask = ~0ULL >> (128 - 8 * length);
        return whole_word(a) == whole_word(b) && ((whole_word(a + 8) ^ whole_word(b + 8)) & mask) == 0;
    }
    return memcmp(a, b, (size_t)length) == 0;
}

/* A hash of the `length` bytes at `p` for counting (not a row hash: nothing stores it). Values
 * of up to 16 bytes, read as two words where 16 bytes can be read before `limit`, cost one mix. */
static inline uint64_t count_hash(const uint8_t *p, Py_ssize_t length, const uint8_t *limit) {
    if (length > 16) {
        return value_hash(p, length, limit);
    }
    uint64_t low, high;
    if (p + 16 <= limit) {
        low = whole_word(p);
        high = whole_word(p + 8);
        if (length <= 8) {
            low &= length ? (~0ULL >> (64 - 8 * length)) : 0;
            high = 0;
        } else {
            high &= ~0ULL >> (128 - 8 * length);
        }
    } else { /* near the end of the data: the same words, copied byte by byte */
        low = partial_word(p, length < 8 ? length : 8);
        high = length > 8 ? partial_word(p + 8, length - 8) : 0;
    }
    return mix64(low ^ (high * M1) ^ ((uint64_t)length << 56));
}

/* small_counts keeps entry e as the value at row first[e], seen count[e] times; its slots hold
 * 1 + entry (0: empty), at least twice as many as the entries it may make. */
/* small_counts(kind, values, width, data, validity, validity_offset, rows, most, first, count) ->
 * entries, or -1 when there are more than `most` distinct values: the distinct values of a batch (a null is one) in
 * the order they first appear, each as its first row and how often it occurs, as
 * pyarrow.compute.value_counts gives them. kind 's': strings, `values` their offsets (`width` 4
 * or 8) into `data`; kind 'i': integers of `width` bytes in `values` (`data` unused). Rows whose
 * bit in `validity` (b"" when none is null, the first row at bit `validity_offset`) is clear
 * are nulls. The statistics count values with it: Arrow's generic hash kernel took 0.6 ms for
 * 65,536 short strings, and 9 ms to find 65,536 distinct integers. */
static PyObject *small_counts(PyObject *self, PyObject *args) {
    PyObject *values_object, *data_object, *validity_object, *first_object, *count_object;
    int kind, width;
    Py_ssize_t valid_offset, rows, most;
    if (!PyArg_ParseTuple(args, "COiOOnnnOO", &kind, &values_object, &width, &data_object, &validity_object,
                          &valid_offset, &rows, &most, &first_object, &count_object)) {
        return NULL;
    }
    if ((kind != 's' && kind != 'i') || (kind == 's' && width != 4 && width != 8) ||
        (kind == 'i' && width != 1 && width != 2 && width != 4 && width != 8) || most < 0 || most > INT32_MAX / 4 ||
        rows < 0) {
        PyErr_SetString(PyExc_ValueError, "small_counts: bad kind, width, row count or limit");
        return NULL;
    }
    Buffers held = {.count = 0};
    Py_buffer *values_view, *data, *validity, *first_view, *count_view;
    if (take(&held, values_object, 0, &values_view) < 0 || take(&held, data_object, 0, &data) < 0 ||
        take(&held, validity_object, 0, &validity) < 0 || take(&held, first_object, 1, &first_view) < 0 ||
        take(&held, count_object, 1, &count_view) < 0) {
        release(&held);
        return NULL;
    }
    Py_ssize_t values_needed = kind == 's' ? (rows + 1) * width : rows * width;
    if (too_small(&held, values_view->len, values_needed, "values") ||
        too_small(&held, first_view->len, most * 8, "first") || too_small(&held, count_view->len, most * 8, "count") ||
        (validity->len && too_small(&held, validity->len, (valid_offset + rows + 7) / 8, "validity"))) {
        return NULL;
    }
    size_t capacity = 16;
    while (capacity < (size_t)most * 2 + 2) capacity <<= 1;
    int32_t *slots = PyMem_RawCalloc(capacity, sizeof(int32_t));
    uint64_t *hashes = PyMem_RawMalloc(((size_t)most + 1) * sizeof(uint64_t));
    if (slots == NULL || hashes == NULL) {
        PyMem_RawFree(slots);
        PyMem_RawFree(hashes);
        release(&held);
        return PyErr_NoMemory();
    }
    size_t mask = capacity - 1;
    const uint8_t *values = (const uint8_t *)values_view->buf, *bytes = (const uint8_t *)data->buf;
    const uint8_t *limit = bytes + data->len;
    const uint8_t *valid = validity->len ? (const uint8_t *)validity->buf : NULL;
    int64_t *first = (int64_t *)first_view->buf, *count = (int64_t *)count_view->buf;
    Py_ssize_t entries = 0, null_entry = -1;
    int over = 0;
    Py_BEGIN_ALLOW_THREADS;
    for (Py_ssize_t i = 0; i < rows && !over; i++) {
        if (!VALID_AT(valid, valid_offset, i)) {
            if (null_entry >= 0) {
                count[null_entry]++;
                continue;
            }
            if (entries >= most) {
                over = 1;
                break;
            }
            null_entry = entries;
            first[entries] = i;
            count[entries++] = 1;
            continue;
        }
        uint64_t h;
        const uint8_t *p = NULL;
        Py_ssize_t length = 0;
        if (kind == 's') {
            int64_t start = offset_at(values, i, width);
            p = bytes + start;
            length = (Py_ssize_t)(offset_at(values, i + 1, width) - start);
            h = count_hash(p, length, limit);
        } else {
            h = mix64(integer_bits(values + i * width, width));
        }
        size_t slot = (size_t)h & mask;
        while (1) {
            int32_t entry = slots[slot] - 1;
            if (entry < 0) {
                if (entries >= most) {
                    over = 1;
                    break;
                }
                slots[slot] = (int32_t)entries + 1;
                hashes[entries] = h;
                first[entries] = i;
                count[entries++] = 1;
                break;
            }
            if (hashes[entry] == h) {
                /* Integers: mix64 is a bijection, so equal hashes are equal values. */
                int equal = 1;
                if (kind == 's') {
                    int64_t start = offset_at(values, (Py_ssize_t)first[entry], width);
                    Py_ssize_t other = (Py_ssize_t)(offset_at(values, (Py_ssize_t)first[entry] + 1, width) - start);
                    equal = other == length && same_bytes(bytes + start, p, length, limit);
                }
                if (equal) {
                    count[entry]++;
                    break;
                }
            }
            slot = (slot + 1) & mask;
        }
    }
    Py_END_ALLOW_THREADS;
    PyMem_RawFree(slots);
    PyMem_RawFree(hashes);
    release(&held);
    return PyLong_FromSsize_t(over ? -1 : entries);
}

/* A numeric column's summary, accumulated in one pass (numeric_summary). */
typedef struct {
    Py_ssize_t present, nan, posinf, neginf, finite;
    double lanes[8];
} Summary;

/* Sums as numeric_summary.lane_sum defines them: the i-th value summed goes to lane i % 8, each
 * lane a left-to-right sum from +0.0, the lanes added pairwise at the end. Eight lanes keep the
 * additions independent (fast) while fixing their order, so numpy can give the same bits. */
static inline double lanes_total(const double *lanes) {
    return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

/* Pass 1 over integers: range in the integer type, the sum of the values as doubles. */
#define INTEGER_PASS(CTYPE, FROM_LE, UCTYPE)                                                   \
    do {                                                                                       \
        const UCTYPE *v = (const UCTYPE *)values;                                              \
        for (Py_ssize_t i = 0; i < rows; i++) {                                                \
            if (!VALID_AT(valid, valid_offset, i)) continue;                                   \
            CTYPE x = (CTYPE)FROM_LE(v[i]);                                                     \
            if (s.present == 0 || x < lo_##CTYPE) lo_##CTYPE = x;                              \
            if (s.present == 0 || x > hi_##CTYPE) hi_##CTYPE = x;                              \
            s.lanes[s.present & 7] += (double)x;                                               \
            s.present++;                                                                       \
        }                                                                                      \
        s.finite = s.present;                                                                  \
    } while (0)

/* Pass 2 over integers: the sum of squared deviations from `mean`. */
#define INTEGER_SQUARES(CTYPE, FROM_LE, UCTYPE)                                                \
    do {                                                                                       \
        const UCTYPE *v = (const UCTYPE *)values;                                              \
        Py_ssize_t c = 0;                                                                      \
        for (Py_ssize_t i = 0; i < rows; i++) {                                                \
            if (!VALID_AT(valid, valid_offset, i)) continue;                                   \
            double d = (double)(CTYPE)FROM_LE(v[i]) - mean;                                     \
            squares[c & 7] += d * d;                                                           \
            c++;                                                                               \
        }                                                                                      \
    } while (0)

static inline uint8_t same8(uint8_t x) { return x; }

static inline double float_at(const uint8_t *values, Py_ssize_t i, int width) {
    if (width == 4) {
        uint32_t bits;
        memcpy(&bits, values + 4 * i, 4);
        bits = LE32(bits);
        float f;
        memcpy(&f, &bits, 4);
        return (double)f;
    }
    uint64_t bits;
    memcpy(&bits, values + 8 * i, 8);
    bits = LE64(bits);
    double d;
    memcpy(&d, &bits, 8);
    return d;
}

/* numeric_summary(values, code, validity, validity_offset, rows) -> (present, low, high, nan, posinf,
 * neginf, finite, total, squares): numeric_summary.reference, computed in two passes without the
 * GIL. `values` holds `rows` little-endian values of numpy type `code` (b h i l B H I L f d) from
 * its first byte; `validity` is Arrow's bitmap (b"" when no row is null), its first row at bit
 * `validity_offset`. low and high are None when no value is present (every row null or NaN). */
static PyObject *numeric_summary(PyObject *self, PyObject *args) {
    PyObject *values_object, *validity_object;
    int code;
    Py_ssize_t valid_offset, rows;
    if (!PyArg_ParseTuple(args, "OCOnn", &values_object, &code, &validity_object, &valid_offset, &rows)) {
        return NULL;
    }
    int width;
    switch (code) {
        case 'b': case 'B': width = 1; break;
        case 'h': case 'H': width = 2; break;
        case 'i': case 'I': case 'f': width = 4; break;
        case 'l': case 'L': case 'd': width = 8; break;
        default:
            PyErr_Format(PyExc_ValueError, "numeric_summary: unsupported type code %c", code);
            return NULL;
    }
    Buffers held = {.count = 0};
    Py_buffer *values_view, *validity;
    if (take(&held, values_object, 0, &values_view) < 0 || take(&held, validity_object, 0, &validity) < 0) {
        release(&held);
        return NULL;
    }
    if (rows < 0 || too_small(&held, values_view->len, rows * width, "values") ||
        (validity->len && too_small(&held, validity->len, (valid_offset + rows + 7) / 8, "validity"))) {
        if (rows < 0) {
            release(&held);
            PyErr_SetString(PyExc_ValueError, "numeric_summary: negative row count");
        }
        return NULL;
    }
    const uint8_t *values = (const uint8_t *)values_view->buf;
    const uint8_t *valid = validity->len ? (const uint8_t *)validity->buf : NULL;
    Summary s = {0};
    double squares[8] = {0};
    int8_t lo_int8_t = 0, hi_int8_t = 0;
    int16_t lo_int16_t = 0, hi_int16_t = 0;
    int32_t lo_int32_t = 0, hi_int32_t = 0;
    int64_t lo_int64_t = 0, hi_int64_t = 0;
    uint8_t lo_uint8_t = 0, hi_uint8_t = 0;
    uint16_t lo_uint16_t = 0, hi_uint16_t = 0;
    uint32_t lo_uint32_t = 0, hi_uint32_t = 0;
    uint64_t lo_uint64_t = 0, hi_uint64_t = 0;
    double lo_double = 0.0, hi_double = 0.0, mean = 0.0;
    Py_BEGIN_ALLOW_THREADS;
    switch (code) {
        case 'b': INTEGER_PASS(int8_t, same8, uint8_t); break;
        case 'h': INTEGER_PASS(int16_t, LE16, uint16_t); break;
        case 'i': INTEGER_PASS(int32_t, LE32, uint32_t); break;
        case 'l': INTEGER_PASS(int64_t, LE64, uint64_t); break;
        case 'B': INTEGER_PASS(uint8_t, same8, uint8_t); break;
        case 'H': INTEGER_PASS(uint16_t, LE16, uint16_t); break;
        case 'I': INTEGER_PASS(uint32_t, LE32, uint32_t); break;
        case 'L': INTEGER_PASS(uint64_t, LE64, uint64_t); break;
        default:
            for (Py_ssize_t i = 0; i < rows; i++) {
                if (!VALID_AT(valid, valid_offset, i)) continue;
                double x = float_at(values, i, width);
                if (x != x) {
                    s.nan++;
                    continue;
                }
                /* Of two zeros the least is -0.0 and the greatest +0.0, whichever came first. */
                if (s.present == 0 || x < lo_double || (x == lo_double && signbit(x) && !signbit(lo_double)))
                    lo_double = x;
                if (s.present == 0 || x > hi_double || (x == hi_double && !signbit(x) && signbit(hi_double)))
                    hi_double = x;
                s.present++;
                if (isinf(x)) {
                    if (x > 0) s.posinf++;
                    else s.neginf++;
                    continue;
                }
                s.lanes[s.finite & 7] += x;
                s.finite++;
            }
    }
    if (s.finite > 0) {
        mean = lanes_total(s.lanes) / (double)s.finite;
        switch (code) {
            case 'b': INTEGER_SQUARES(int8_t, same8, uint8_t); break;
            case 'h': INTEGER_SQUARES(int16_t, LE16, uint16_t); break;
            case 'i': INTEGER_SQUARES(int32_t, LE32, uint32_t); break;
            case 'l': INTEGER_SQUARES(int64_t, LE64, uint64_t); break;
            case 'B': INTEGER_SQUARES(uint8_t, same8, uint8_t); break;
            case 'H': INTEGER_SQUARES(uint16_t, LE16, uint16_t); break;
            case 'I': INTEGER_SQUARES(uint32_t, LE32, uint32_t); break;
            case 'L': INTEGER_SQUARES(uint64_t, LE64, uint64_t); break;
            default: {
                Py_ssize_t c = 0;
                for (Py_ssize_t i = 0; i < rows; i++) {
                    if (!VALID_AT(valid, valid_offset, i)) continue;
                    double x = float_at(values, i, width);
                    if (x != x || isinf(x)) continue;
                    double d = x - mean;
                    squares[c & 7] += d * d;
                    c++;
                }
            }
        }
    }
    Py_END_ALLOW_THREADS;
    release(&held);
    PyObject *low, *high;
    if (s.present == 0) {
        low = Py_NewRef(Py_None);
        high = Py_NewRef(Py_None);
    } else {
        switch (code) {
            case 'b': low = PyLong_FromLong(lo_int8_t); high = PyLong_FromLong(hi_int8_t); break;
            case 'h': low = PyLong_FromLong(lo_int16_t); high = PyLong_FromLong(hi_int16_t); break;
            case 'i': low = PyLong_FromLong(lo_int32_t); high = PyLong_FromLong(hi_int32_t); break;
            case 'l': low = PyLong_FromLongLong(lo_int64_t); high = PyLong_FromLongLong(hi_int64_t); break;
            case 'B': low = PyLong_FromUnsignedLong(lo_uint8_t); high = PyLong_FromUnsignedLong(hi_uint8_t); break;
            case 'H': low = PyLong_FromUnsignedLong(lo_uint16_t); high = PyLong_FromUnsignedLong(hi_uint16_t); break;
            case 'I': low = PyLong_FromUnsignedLong(lo_uint32_t); high = PyLong_FromUnsignedLong(hi_uint32_t); break;
            case 'L':
                low = PyLong_FromUnsignedLongLong(lo_uint64_t);
                high = PyLong_FromUnsignedLongLong(hi_uint64_t);
                break;
            default: low = PyFloat_FromDouble(lo_double); high = PyFloat_FromDouble(hi_double);
        }
    }
    if (low == NULL || high == NULL) {
        Py_XDECREF(low);
        Py_XDECREF(high);
        return NULL;
    }
    return Py_BuildValue("(nNNnnnndd)", s.present, low, high, s.nan, s.posinf, s.neginf, s.finite,
                         lanes_total(s.lanes), lanes_total(squares));
}

/* rounded(values, digits, out): out[i] = float(f"{values[i]:.{digits}g}"), values and out float64
 * arrays of one length: each value to `digits` significant digits, rounded as Python's formatter
 * rounds (the same conversion, to text and back; stats._rounded_sample). */
static PyObject *rounded(PyObject *self, PyObject *args) {
    PyObject *values_object, *out_object;
    int digits;
    if (!PyArg_ParseTuple(args, "OiO", &values_object, &digits, &out_object)) {
        return NULL;
    }
    if (digits < 1 || digits > 17) {
        PyErr_SetString(PyExc_ValueError, "digits: must be 1 to 17");
        return NULL;
    }
    Buffers held = {.count = 0};
    Py_buffer *values, *out;
    if (take(&held, values_object, 0, &values) < 0 || take(&held, out_object, 1, &out) < 0) {
        release(&held);
        return NULL;
    }
    Py_ssize_t n = out->len / 8;
    if (too_small(&held, values->len, n * 8, "values")) {
        return NULL;
    }
    const double *v = (const double *)values->buf;
    double *r = (double *)out->buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        char *text = PyOS_double_to_string(v[i], 'g', digits, 0, NULL);
        if (text == NULL) {
            release(&held);
            return NULL;
        }
        r[i] = PyOS_string_to_double(text, NULL, NULL);
        PyMem_Free(text);
        if (r[i] == -1.0 && PyErr_Occurred()) {
            release(&held);
            return NULL;
        }
    }
    release(&held);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"rounded", rounded, METH_VARARGS, "Each float to so many significant digits, as Python's 'g' format."},
    {"bytes_hashes", bytes_hashes, METH_VARARGS, "Hash each value of a string or binary array."},
    {"fixed_hashes", fixed_hashes, METH_VARARGS, "Hash each fixed-width little-endian value."},
    {"mix_in_place", mix_in_place, METH_VARARGS, "splitmix64's finaliser over a uint64 array, in place."},
    {"combine", combine, METH_VARARGS, "Fold one column's hashes into row hashes, in place."},
    {"patch_runs", patch_runs, METH_VARARGS, "A patch's runs of base rows and carried rows."},
    {"first_matches", first_matches, METH_VARARGS, "Each new hash's first equal base row, or -1."},
    {"string_min_max", string_min_max, METH_VARARGS, "Rows of the least and greatest string values."},
    {"dense_counts", dense_counts, METH_VARARGS, "Count keys both sides hold, and rows equal there."},
    {"small_counts", small_counts, METH_VARARGS, "Count the values of a batch with few distinct ones."},
    {"numeric_summary", numeric_summary, METH_VARARGS, "Range, non-finite counts and moments of numbers."},
    {"dense_join", dense_join, METH_VARARGS, "Join unique integer keys of a narrow range by direct addressing."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_native", "datakeep's per-row loops in C; see datakeep/native.py.", -1, methods,
};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
