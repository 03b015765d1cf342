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

/* The first `length` (< 8) bytes at `p` as a little-endian word, the rest zero. */
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

/* Buffers of one call, released together. */
typedef struct {
    Py_buffer views[4];
    int count;
} Buffers;

static int take(Buffers *held, PyObject *object, int writable, Py_buffer **view) {
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
    uint64_t *result = (uint64_t *)out->buf;
    const uint8_t *bytes = (const uint8_t *)data->buf;
    const uint8_t *limit = bytes + data->len;
    Py_BEGIN_ALLOW_THREADS;
    if (width == 4) {
        const uint8_t *o = (const uint8_t *)offsets->buf;
        uint32_t start;
        memcpy(&start, o, 4);
        start = LE32(start);
        for (Py_ssize_t i = 0; i < n; i++) {
            uint32_t end;
            memcpy(&end, o + 4 * (i + 1), 4);
            end = LE32(end);
            result[i] = value_hash(bytes + (int32_t)start, (Py_ssize_t)((int32_t)end - (int32_t)start), limit);
            start = end;
        }
    } else {
        const uint8_t *o = (const uint8_t *)offsets->buf;
        uint64_t start;
        memcpy(&start, o, 8);
        start = LE64(start);
        for (Py_ssize_t i = 0; i < n; i++) {
            uint64_t end;
            memcpy(&end, o + 8 * (i + 1), 8);
            end = LE64(end);
            result[i] = value_hash(bytes + (int64_t)start, (Py_ssize_t)((int64_t)end - (int64_t)start), limit);
            start = end;
        }
    }
    Py_END_ALLOW_THREADS;
    release(&held);
    Py_RETURN_NONE;
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
    uint64_t *result = (uint64_t *)out->buf;
    const uint8_t *p = (const uint8_t *)values->buf;
    uint64_t add = (uint64_t)width;
    Py_BEGIN_ALLOW_THREADS;
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
    uint64_t *h = (uint64_t *)into->buf;
    const uint64_t *c = (const uint64_t *)column->buf;
    uint64_t s = (uint64_t)salt;
    Py_BEGIN_ALLOW_THREADS;
    for (Py_ssize_t i = 0; i < n; i++) h[i] = mix64(h[i] ^ (c[i] + s));
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
    const uint64_t *b = (const uint64_t *)base->buf;
    const uint64_t *q = (const uint64_t *)new_->buf;
    int64_t *found = (int64_t *)source->buf;
    uint32_t *slots = (uint32_t *)table->buf; /* 1 + base row, 0 when empty */
    size_t capacity = 16;
    while (capacity < (size_t)base_rows * 2) capacity <<= 1;
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
    for (Py_ssize_t i = 0; i < new_rows; i++) {
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
    }
    Py_END_ALLOW_THREADS;
    release(&held);
    return PyBool_FromLong(repeated);
}

static PyMethodDef methods[] = {
    {"bytes_hashes", bytes_hashes, METH_VARARGS, "Hash each value of a string or binary array."},
    {"fixed_hashes", fixed_hashes, METH_VARARGS, "Hash each fixed-width little-endian value."},
    {"mix_in_place", mix_in_place, METH_VARARGS, "splitmix64's finaliser over a uint64 array, in place."},
    {"combine", combine, METH_VARARGS, "Fold one column's hashes into row hashes, in place."},
    {"first_matches", first_matches, METH_VARARGS, "Each new hash's first equal base row, or -1."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_native", "datakeep's per-row loops in C; see datakeep/native.py.", -1, methods,
};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
