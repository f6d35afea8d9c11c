/* fuzz_model_struct.c — structure-aware libFuzzer target for the model
 * reader of libdeepscratch.so.
 *
 * fuzz_model flips bytes; a flipped byte almost always lands where the
 * checksum, a length or a count catches it, and "resealing" (size and
 * checksum recomputed) still never yields a file whose structure is
 * consistent but whose numbers are hostile: a layer list that chains on a
 * 65536 x 65536 x 65536 input, a tensor directory that matches it, a q8z
 * tensor that inflates to gigabytes. This target mutates the *structure*:
 *
 * - LLVMFuzzerCustomMutator parses the input as a .dsm file (sections, META
 *   entries, TDIR entries, the tensors' bytes), applies one to four
 *   structural mutations (below), writes a consistent file again (sections
 *   8-aligned, the directory's offsets 64-aligned inside TDAT, every count
 *   and length recomputed unless a mutation set it on purpose) and reseals
 *   it (declared size, XXH64). The corpus therefore holds real model files,
 *   and a crash input is a model file that `dsc inspect` or a test can load
 *   as it is. An input that does not parse (rare: the seeds and every
 *   mutation parse) gets libFuzzer's byte mutations, resealed.
 * - LLVMFuzzerCustomCrossOver splices parts of two parsed files (the layer
 *   list, the input shape, the class labels, the tensor directory, one
 *   metadata entry) and reseals.
 *
 * Mutations: a number in a `model.layers` string set to a value near a
 * limit (0, 1, 2^16, 2^20, 2^28, 2^31 - 1, 2^32, 2^48, 2^63 - 1, negative,
 * past 2^64, not a number); a layer's kind changed; layers inserted (with
 * numbers that chain with the shape before them), deleted, swapped,
 * duplicated; every layer's input numbers re-chained to the input shape (so
 * a hostile number propagates consistently, as in the 312-byte file that
 * made dense 2^48 -> 1 on a 65536^3 input); `model.input_shape` values and
 * length; the class labels (count, contents); the tensor directory rebuilt
 * from the layers (names and shapes the layers imply, any dtype, the bytes
 * present when they fit, a deflated q8z stream otherwise); a tensor's name,
 * dtype, rank, dimensions, offset, length, bytes (a zlib bomb among them);
 * tensors deleted, duplicated, added; a metadata entry's type, key, value
 * (std and mean NaN, 0, -1, infinity; numbers inside strings such as
 * `train.config.arch`); entries deleted, duplicated, added; the META and
 * TDIR count fields, a section's length, flags and tag, sections added,
 * removed, swapped, the section count; the header's version, header size
 * and reserved fields.
 *
 * What counts as a finding (abort), as in fuzz_model.c: a sanitizer report,
 * a Swift trap, a leak, or a broken contract of deepscratch.h: a failed load
 * that is not DS_ERR_BAD_MODEL, leaves the output set or gives no message;
 * a getter that fails on a loaded model; a classification (one image, and a
 * batch of three) that fails, gives a class out of range, or finite
 * probabilities outside [0, 1] or not summing to 1 (non-finite ones follow
 * from non-finite weights and are not the reader's business). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "deepscratch.h"
#include "xxh64.h"
#include "model_checks.h"

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

/* ------------------------------------------------------------------ */
/* Random numbers (deterministic from libFuzzer's seed)               */
/* ------------------------------------------------------------------ */

static uint64_t rng_state;
static uint64_t rnd(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static size_t below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }
static int chance(int one_in) { return below((size_t)one_in) == 0; }

/* ------------------------------------------------------------------ */
/* Byte buffers                                                       */
/* ------------------------------------------------------------------ */

typedef struct { uint8_t *p; size_t n, cap; } buf;

static void reserve(buf *b, size_t more) {
    if (b->n + more <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + more) cap *= 2;
    b->p = realloc(b->p, cap);
    if (b->p == NULL) abort();
    b->cap = cap;
}
static void put(buf *b, const void *src, size_t n) { reserve(b, n); if (n) memcpy(b->p + b->n, src, n); b->n += n; }
static void put8(buf *b, uint8_t v) { put(b, &v, 1); }
static void putle(buf *b, uint64_t v, int bytes) { for (int i = 0; i < bytes; i++) put8(b, (uint8_t)(v >> (8 * i))); }
static void pad(buf *b, size_t align) { while (b->n % align) put8(b, 0); }
static void setle(uint8_t *p, uint64_t v, int bytes) { for (int i = 0; i < bytes; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static uint64_t getle(const uint8_t *p, int bytes) { uint64_t v = 0; for (int i = bytes - 1; i >= 0; i--) v = v << 8 | p[i]; return v; }

/* An owned byte string. */
typedef struct { uint8_t *p; size_t n; } bytes;
static bytes bdup(const void *src, size_t n) {
    bytes b = { malloc(n ? n : 1), n };
    if (b.p == NULL) abort();
    if (n) memcpy(b.p, src, n);
    return b;
}
static bytes bstr(const char *s) { return bdup(s, strlen(s)); }
static void bfree(bytes *b) { free(b->p); b->p = NULL; b->n = 0; }
static int beq(bytes b, const char *s) { return b.n == strlen(s) && memcmp(b.p, s, b.n) == 0; }

/* ------------------------------------------------------------------ */
/* The parsed file                                                    */
/* ------------------------------------------------------------------ */

enum { M_INT = 1, M_F64 = 2, M_STR = 3, M_INTS = 4, M_F64S = 5, M_STRS = 6 };
enum { S_RAW, S_META, S_TDIR, S_TDAT };
enum { MAX_SECTIONS = 64, MAX_ENTRIES = 4096, MAX_RANK = 6 };

typedef struct {
    bytes key;
    uint8_t type;          /* M_*, or anything for a mutated type: then `raw` is the value */
    uint64_t scalar;       /* M_INT, M_F64 */
    bytes str;             /* M_STR, or the raw value bytes of an unknown type */
    size_t count;          /* M_INTS, M_F64S, M_STRS */
    uint64_t *nums;
    bytes *strs;
} entry;

typedef struct {
    bytes name;
    uint8_t dtype, rank;
    uint32_t dims[MAX_RANK];
    bytes data;            /* the tensor's bytes, placed at a 64-aligned offset on writing */
    int raw;               /* 1: write `offset` and `length` as they are (and no bytes) */
    uint64_t offset, length;
} tensor;

typedef struct {
    uint8_t tag[4];
    uint32_t flags;
    int kind;              /* S_* */
    bytes payload;         /* S_RAW only */
    int lies;              /* 1: write `length` instead of the payload's length */
    uint64_t length;
} section;

typedef struct {
    uint16_t major, minor;
    uint32_t header_size, reserved;
    int64_t section_count_delta, meta_count_delta, tdir_count_delta;
    section sec[MAX_SECTIONS];
    size_t nsec;
    entry *meta;
    size_t nmeta;
    tensor *ten;
    size_t nten;
} model;

static void free_entry(entry *e) {
    bfree(&e->key);
    bfree(&e->str);
    free(e->nums);
    e->nums = NULL;
    if (e->strs) for (size_t i = 0; i < e->count; i++) bfree(&e->strs[i]);
    free(e->strs);
    e->strs = NULL;
}
static void free_tensor(tensor *t) { bfree(&t->name); bfree(&t->data); }
static void free_model(model *m) {
    for (size_t i = 0; i < m->nsec; i++) bfree(&m->sec[i].payload);
    for (size_t i = 0; i < m->nmeta; i++) free_entry(&m->meta[i]);
    for (size_t i = 0; i < m->nten; i++) free_tensor(&m->ten[i]);
    free(m->meta);
    free(m->ten);
    memset(m, 0, sizeof *m);
}

static entry copy_entry(const entry *e) {
    entry c = *e;
    c.key = bdup(e->key.p, e->key.n);
    c.str = bdup(e->str.p, e->str.n);
    c.nums = NULL;
    c.strs = NULL;
    if (e->nums) { c.nums = malloc(e->count * 8 + 8); memcpy(c.nums, e->nums, e->count * 8); }
    if (e->strs) {
        c.strs = malloc((e->count + 1) * sizeof *c.strs);
        for (size_t i = 0; i < e->count; i++) c.strs[i] = bdup(e->strs[i].p, e->strs[i].n);
    }
    return c;
}
static tensor copy_tensor(const tensor *t) {
    tensor c = *t;
    c.name = bdup(t->name.p, t->name.n);
    c.data = bdup(t->data.p, t->data.n);
    return c;
}

/* A reader over [p, p + n) that fails instead of reading past the end. */
typedef struct { const uint8_t *p; size_t at, end; int bad; } reader;
static uint64_t rd(reader *r, int bytes) {
    if (r->bad || r->end - r->at < (size_t)bytes) { r->bad = 1; return 0; }
    uint64_t v = getle(r->p + r->at, bytes);
    r->at += (size_t)bytes;
    return v;
}
static bytes rdbytes(reader *r, uint64_t n) {
    if (r->bad || n > r->end - r->at) { r->bad = 1; return bdup("", 0); }
    bytes b = bdup(r->p + r->at, (size_t)n);
    r->at += (size_t)n;
    return b;
}

static int parse_meta(model *m, const uint8_t *p, size_t from, size_t to) {
    reader r = { p, from, to, 0 };
    uint64_t count = rd(&r, 4);
    if (r.bad || count > MAX_ENTRIES) return 0;
    m->meta = calloc(count + 1, sizeof *m->meta);
    for (uint64_t i = 0; i < count && !r.bad; i++) {
        entry *e = &m->meta[m->nmeta++];
        e->key = rdbytes(&r, rd(&r, 2));
        e->type = (uint8_t)rd(&r, 1);
        switch (e->type) {
        case M_INT: case M_F64: e->scalar = rd(&r, 8); break;
        case M_STR: e->str = rdbytes(&r, rd(&r, 4)); break;
        case M_INTS: case M_F64S: {
            uint64_t n = rd(&r, 4);
            if (n > (r.end - r.at) / 8) { r.bad = 1; break; }
            e->count = (size_t)n;
            e->nums = malloc(n * 8 + 8);
            for (uint64_t k = 0; k < n; k++) e->nums[k] = rd(&r, 8);
            break;
        }
        case M_STRS: {
            uint64_t n = rd(&r, 4);
            if (n > (r.end - r.at) / 4) { r.bad = 1; break; }
            e->strs = calloc(n + 1, sizeof *e->strs);
            for (uint64_t k = 0; k < n && !r.bad; k++) { e->strs[k] = rdbytes(&r, rd(&r, 4)); e->count++; }
            break;
        }
        default: r.bad = 1;
        }
    }
    return !r.bad;
}

static int parse_tdir(model *m, const uint8_t *p, size_t from, size_t to, size_t data_from, size_t data_to) {
    reader r = { p, from, to, 0 };
    uint64_t count = rd(&r, 4);
    if (r.bad || count > MAX_ENTRIES) return 0;
    m->ten = calloc(count + 1, sizeof *m->ten);
    for (uint64_t i = 0; i < count && !r.bad; i++) {
        tensor *t = &m->ten[m->nten++];
        t->name = rdbytes(&r, rd(&r, 2));
        t->dtype = (uint8_t)rd(&r, 1);
        t->rank = (uint8_t)rd(&r, 1);
        if (t->rank > MAX_RANK) { r.bad = 1; break; }
        for (int k = 0; k < t->rank; k++) t->dims[k] = (uint32_t)rd(&r, 4);
        t->offset = rd(&r, 8);
        t->length = rd(&r, 8);
        if (t->offset >= data_from && t->offset <= data_to && t->length <= data_to - t->offset && t->offset % 64 == 0) {
            t->data = bdup(p + t->offset, (size_t)t->length);
        } else {
            t->raw = 1;
            t->data = bdup("", 0);
        }
    }
    return !r.bad;
}

static int parse_model(model *m, const uint8_t *p, size_t n) {
    static const uint8_t magic[8] = { 0x89, 0x44, 0x53, 0x4D, 0x0D, 0x0A, 0x1A, 0x0A };
    memset(m, 0, sizeof *m);
    if (n < 40 || memcmp(p, magic, 8) != 0) return 0;
    m->major = (uint16_t)getle(p + 8, 2);
    m->minor = (uint16_t)getle(p + 10, 2);
    m->header_size = (uint32_t)getle(p + 12, 4);
    m->reserved = (uint32_t)getle(p + 28, 4);
    uint64_t count = getle(p + 24, 4);
    if (count > MAX_SECTIONS) return 0;
    size_t body_end = n - 8, at = 32;
    size_t range[3][2] = { { 0, 0 }, { 0, 0 }, { 0, 0 } };
    for (uint64_t k = 0; k < count; k++) {
        if (at > body_end || body_end - at < 16) return 0;
        section *s = &m->sec[m->nsec++];
        memcpy(s->tag, p + at, 4);
        s->flags = (uint32_t)getle(p + at + 4, 4);
        uint64_t length = getle(p + at + 8, 8);
        size_t start = at + 16;
        if (length > body_end - start) return 0;
        s->kind = !memcmp(s->tag, "META", 4) ? S_META : !memcmp(s->tag, "TDIR", 4) ? S_TDIR
                : !memcmp(s->tag, "TDAT", 4) ? S_TDAT : S_RAW;
        if (s->kind != S_RAW) {
            if (range[s->kind - 1][1] != 0) s->kind = S_RAW; /* a second copy: kept as raw bytes */
            else { range[s->kind - 1][0] = start; range[s->kind - 1][1] = start + (size_t)length; }
        }
        s->payload = s->kind == S_RAW ? bdup(p + start, (size_t)length) : bdup("", 0);
        at = (start + (size_t)length + 7) / 8 * 8;
    }
    if (!range[0][1] || !range[1][1] || !range[2][1]) return 0;
    return parse_meta(m, p, range[0][0], range[0][1])
        && parse_tdir(m, p, range[1][0], range[1][1], range[2][0], range[2][1]);
}

/* ------------------------------------------------------------------ */
/* Writing                                                            */
/* ------------------------------------------------------------------ */

static void write_meta(const model *m, buf *b) {
    putle(b, (uint64_t)((int64_t)m->nmeta + m->meta_count_delta), 4);
    for (size_t i = 0; i < m->nmeta; i++) {
        const entry *e = &m->meta[i];
        putle(b, e->key.n, 2);
        put(b, e->key.p, e->key.n);
        put8(b, e->type);
        switch (e->type) {
        case M_INT: case M_F64: putle(b, e->scalar, 8); break;
        case M_STR: putle(b, e->str.n, 4); put(b, e->str.p, e->str.n); break;
        case M_INTS: case M_F64S:
            putle(b, e->count, 4);
            for (size_t k = 0; k < e->count; k++) putle(b, e->nums[k], 8);
            break;
        case M_STRS:
            putle(b, e->count, 4);
            for (size_t k = 0; k < e->count; k++) { putle(b, e->strs[k].n, 4); put(b, e->strs[k].p, e->strs[k].n); }
            break;
        default: put(b, e->str.p, e->str.n); /* a mutated type: whatever bytes it had */
        }
    }
}

static void write_tdir(const model *m, const uint64_t *offsets, buf *b) {
    putle(b, (uint64_t)((int64_t)m->nten + m->tdir_count_delta), 4);
    for (size_t i = 0; i < m->nten; i++) {
        const tensor *t = &m->ten[i];
        putle(b, t->name.n, 2);
        put(b, t->name.p, t->name.n);
        put8(b, t->dtype);
        put8(b, t->rank);
        for (int k = 0; k < t->rank && k < MAX_RANK; k++) putle(b, t->dims[k], 4);
        putle(b, t->raw ? t->offset : offsets[i], 8);
        putle(b, t->raw ? t->length : t->data.n, 8);
    }
}

/* The file bytes of `m`, sealed: sections in order, the tensors' bytes at
 * 64-aligned offsets inside TDAT, then the declared size and XXH64. */
static void write_model(const model *m, buf *out) {
    static const uint8_t magic[8] = { 0x89, 0x44, 0x53, 0x4D, 0x0D, 0x0A, 0x1A, 0x0A };
    uint64_t *offsets = calloc(m->nten + 1, sizeof *offsets);
    buf meta = { 0 }, tdir = { 0 };
    write_meta(m, &meta);
    write_tdir(m, offsets, &tdir); /* its size does not depend on the offsets */
    /* Where each payload starts: the header, then per section 16 bytes, the payload, padding to 8. */
    size_t at = 32;
    for (size_t i = 0; i < m->nsec; i++) {
        const section *s = &m->sec[i];
        size_t start = at + 16, length;
        if (s->kind == S_TDAT) {
            size_t pos = start;
            for (size_t k = 0; k < m->nten; k++) {
                if (m->ten[k].raw) continue;
                pos = (pos + 63) / 64 * 64;
                offsets[k] = pos;
                pos += m->ten[k].data.n;
            }
            length = pos - start;
        } else {
            length = s->kind == S_META ? meta.n : s->kind == S_TDIR ? tdir.n : s->payload.n;
        }
        at = (start + length + 7) / 8 * 8;
    }
    tdir.n = 0;
    write_tdir(m, offsets, &tdir);
    put(out, magic, 8);
    putle(out, m->major, 2);
    putle(out, m->minor, 2);
    putle(out, m->header_size, 4);
    putle(out, 0, 8); /* file size, set below */
    putle(out, (uint64_t)((int64_t)m->nsec + m->section_count_delta), 4);
    putle(out, m->reserved, 4);
    for (size_t i = 0; i < m->nsec; i++) {
        const section *s = &m->sec[i];
        put(out, s->tag, 4);
        putle(out, s->flags, 4);
        size_t length_at = out->n;
        putle(out, 0, 8);
        size_t start = out->n;
        if (s->kind == S_META) put(out, meta.p, meta.n);
        else if (s->kind == S_TDIR) put(out, tdir.p, tdir.n);
        else if (s->kind == S_RAW) put(out, s->payload.p, s->payload.n);
        else {
            for (size_t k = 0; k < m->nten; k++) { /* zeros up to each 64-aligned offset, then the bytes */
                if (m->ten[k].raw) continue;
                while (out->n < offsets[k]) put8(out, 0);
                put(out, m->ten[k].data.p, m->ten[k].data.n);
            }
        }
        setle(out->p + length_at, s->lies ? s->length : out->n - start, 8);
        pad(out, 8);
    }
    putle(out, 0, 8);
    setle(out->p + 16, out->n, 8);
    setle(out->p + out->n - 8, xxh64(out->p, out->n - 8), 8);
    free(offsets);
    free(meta.p);
    free(tdir.p);
}

/* Declared size and checksum made to match (fuzz_model's fix-up). */
static void reseal(uint8_t *p, size_t n) {
    if (n < 40) return;
    setle(p + 16, n, 8);
    setle(p + n - 8, xxh64(p, n - 8), 8);
}

/* ------------------------------------------------------------------ */
/* Numbers near the limits                                            */
/* ------------------------------------------------------------------ */

static const char *const interesting_text[] = {
    "0", "1", "2", "3", "4", "5", "7", "8", "10", "14", "15", "16", "17", "27", "28", "29", "32", "255", "256",
    "784", "1024", "4095", "4096", "4097", "65535", "65536", "65537", "1048575", "1048576", "1048577",
    "16777216", "268435455", "268435456", "268435457", "2147483647", "2147483648", "4294967295", "4294967296",
    "281474976710656", "9223372036854775807", "9223372036854775808", "18446744073709551616", "-1", "-9223372036854775808",
    "00", "+5", "1e3", "0x10", " ", "",
};
static const uint64_t interesting[] = {
    0, 1, 2, 3, 4, 5, 7, 8, 10, 15, 16, 28, 32, 255, 256, 784, 1024, 4095, 4096, 4097, 65535, 65536, 65537,
    1ULL << 20, (1ULL << 20) + 1, 1ULL << 24, 1ULL << 28, (1ULL << 28) + 1, (1ULL << 31) - 1, 1ULL << 31,
    (1ULL << 32) - 1, 1ULL << 32, 1ULL << 48, (1ULL << 63) - 1, 1ULL << 63, UINT64_MAX - 63, UINT64_MAX,
};
#define COUNT(a) (sizeof(a) / sizeof *(a))
static uint64_t pick_number(void) {
    if (chance(3)) return below(20);
    return interesting[below(COUNT(interesting))];
}
static const char *const kinds[] = {
    "dense", "conv", "maxpool", "avgpool", "batchnorm", "relu", "leaky-relu", "tanh", "sigmoid", "softmax",
    "dropout", "Dense", "pool", "",
};
static const char *const activations[] = { "relu", "leaky-relu", "tanh", "sigmoid" };

/* ------------------------------------------------------------------ */
/* Layers                                                             */
/* ------------------------------------------------------------------ */

static entry *find(model *m, const char *key) {
    for (size_t i = 0; i < m->nmeta; i++) if (beq(m->meta[i].key, key)) return &m->meta[i];
    return NULL;
}

/* Splits a layer string into at most 8 words (kind, numbers). */
typedef struct { char w[8][48]; int n; } words;
static words split(bytes s) {
    words w;
    memset(&w, 0, sizeof w);
    size_t i = 0;
    while (i < s.n && w.n < 8) {
        while (i < s.n && s.p[i] == ' ') i++;
        if (i >= s.n) break;
        int k = 0;
        while (i < s.n && s.p[i] != ' ') { if (k < 47) w.w[w.n][k++] = (char)s.p[i]; i++; }
        w.n++;
    }
    return w;
}
static bytes join(const words *w) {
    char text[8 * 49] = "";
    for (int i = 0; i < w->n; i++) { if (i) strcat(text, " "); strcat(text, w->w[i]); }
    return bstr(text);
}
static int64_t number(const char *s, int64_t otherwise) {
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    return (end && *end == 0 && end != s) ? (int64_t)v : otherwise;
}
static int64_t mul_sat(int64_t a, int64_t b) {
    int64_t r;
    return __builtin_mul_overflow(a, b, &r) ? INT64_MAX : r;
}

/* The shape (channels, height, width) flowing between layers, as the layer
 * strings describe it (saturating, never validated: that is the library's job). */
typedef struct { int64_t c, h, w; } shape;
static int64_t count_of(shape s) { return mul_sat(mul_sat(s.c, s.h), s.w); }
static shape input_shape(model *m) {
    shape s = { 1, 28, 28 };
    entry *e = find(m, "model.input_shape");
    if (e && e->type == M_INTS && e->count == 3) {
        s.h = (int64_t)e->nums[0];
        s.w = (int64_t)e->nums[1];
        s.c = (int64_t)e->nums[2];
    }
    return s;
}
static int64_t window(int64_t n, int64_t k, int64_t s, int64_t p) {
    if (k < 1 || s < 1 || p < 0 || n > INT64_MAX / 4 || n + 2 * p < k) return 1;
    return (n + 2 * p - k) / s + 1;
}
/* Rewrites `w` so its input numbers (dense IN, conv IN_CHANNELS, batchnorm
 * C) chain with `in`, and returns the shape after it. */
static shape chain(words *w, shape in) {
    shape out = in;
    if (w->n == 0) return out;
    const char *k = w->w[0];
    if (!strcmp(k, "dense") && w->n >= 3) {
        snprintf(w->w[1], 48, "%lld", (long long)count_of(in));
        out = (shape){ number(w->w[2], 1), 1, 1 };
    } else if (!strcmp(k, "conv") && w->n >= 6) {
        snprintf(w->w[1], 48, "%lld", (long long)in.c);
        int64_t f = number(w->w[2], 1), kk = number(w->w[3], 1), s = number(w->w[4], 1), p = number(w->w[5], 0);
        out = (shape){ f, window(in.h, kk, s, p), window(in.w, kk, s, p) };
    } else if ((!strcmp(k, "maxpool") || !strcmp(k, "avgpool")) && w->n >= 3) {
        int64_t kk = number(w->w[1], 1), s = number(w->w[2], 1);
        out = (shape){ in.c, window(in.h, kk, s, 0), window(in.w, kk, s, 0) };
    } else if (!strcmp(k, "batchnorm") && w->n >= 2) {
        snprintf(w->w[1], 48, "%lld", (long long)in.c);
    }
    return out;
}

/* A new layer that fits after `in` (mostly; its numbers may be hostile). */
static bytes new_layer(shape in) {
    char text[256];
    switch (below(6)) {
    case 0: snprintf(text, sizeof text, "dense %lld %llu", (long long)count_of(in), (unsigned long long)(chance(2) ? 1 + below(16) : pick_number())); break;
    case 1: {
        uint64_t k = chance(2) ? 1 + below(5) : pick_number();
        snprintf(text, sizeof text, "conv %lld %llu %llu %llu %llu", (long long)in.c, (unsigned long long)(chance(2) ? 1 + below(8) : pick_number()),
                 (unsigned long long)k, (unsigned long long)(chance(2) ? 1 : pick_number()),
                 (unsigned long long)(chance(2) ? 0 : k > 0 && k < 16 ? below(k) : pick_number()));
        break;
    }
    case 2: snprintf(text, sizeof text, "%s %llu %llu", chance(2) ? "maxpool" : "avgpool",
                     (unsigned long long)(chance(2) ? 2 : pick_number()), (unsigned long long)(chance(2) ? 2 : pick_number())); break;
    case 3: snprintf(text, sizeof text, "batchnorm %lld", (long long)in.c); break;
    default: snprintf(text, sizeof text, "%s", activations[below(COUNT(activations))]);
    }
    return bstr(text);
}

/* The layer list entry (an array of strings), or NULL. */
static entry *layers_of(model *m) {
    entry *e = find(m, "model.layers");
    return e && e->type == M_STRS ? e : NULL;
}

/* Re-chains every layer to the input shape; returns the final shape. */
static shape rechain(model *m) {
    entry *e = layers_of(m);
    shape s = input_shape(m);
    if (!e) return s;
    for (size_t i = 0; i < e->count; i++) {
        words w = split(e->strs[i]);
        s = chain(&w, s);
        bfree(&e->strs[i]);
        e->strs[i] = join(&w);
    }
    return s;
}

/* The shape before layer `index`. */
static shape shape_before(model *m, size_t index) {
    entry *e = layers_of(m);
    shape s = input_shape(m);
    for (size_t i = 0; e && i < index && i < e->count; i++) {
        words w = split(e->strs[i]);
        s = chain(&w, s);
    }
    return s;
}

static void insert_string(entry *e, size_t at, bytes s) {
    e->strs = realloc(e->strs, (e->count + 2) * sizeof *e->strs);
    memmove(e->strs + at + 1, e->strs + at, (e->count - at) * sizeof *e->strs);
    e->strs[at] = s;
    e->count++;
}
static void remove_string(entry *e, size_t at) {
    bfree(&e->strs[at]);
    memmove(e->strs + at, e->strs + at + 1, (e->count - at - 1) * sizeof *e->strs);
    e->count--;
}

static void mutate_layers(model *m) {
    entry *e = layers_of(m);
    if (!e || e->count == 0) return;
    /* Convolution, pooling and batch normalization need format 1.1; most of
     * the seeds are fully connected 1.0 files. */
    if (!chance(8)) m->minor = 1;
    size_t i = below(e->count);
    switch (below(9)) {
    case 0: case 1: { /* a number near a limit */
        words w = split(e->strs[i]);
        if (w.n < 2) break;
        int k = 1 + (int)below((size_t)w.n - 1);
        snprintf(w.w[k], 48, "%s", interesting_text[below(COUNT(interesting_text))]);
        bfree(&e->strs[i]);
        e->strs[i] = join(&w);
        if (chance(2)) rechain(m);
        break;
    }
    case 2: { /* another kind, same numbers */
        words w = split(e->strs[i]);
        if (w.n == 0) w.n = 1;
        snprintf(w.w[0], 48, "%s", kinds[below(COUNT(kinds))]);
        bfree(&e->strs[i]);
        e->strs[i] = join(&w);
        break;
    }
    case 3: insert_string(e, i, new_layer(shape_before(m, i))); if (chance(2)) rechain(m); break;
    case 4: if (e->count > 1) remove_string(e, i); if (chance(2)) rechain(m); break;
    case 5: { size_t j = below(e->count); bytes t = e->strs[i]; e->strs[i] = e->strs[j]; e->strs[j] = t; rechain(m); break; }
    case 6: insert_string(e, i, bdup(e->strs[i].p, e->strs[i].n)); rechain(m); break;
    case 7: rechain(m); break;
    default: { /* a word added or removed */
        words w = split(e->strs[i]);
        if (w.n > 1 && chance(2)) w.n--;
        else if (w.n < 8) snprintf(w.w[w.n++], 48, "%s", interesting_text[below(COUNT(interesting_text))]);
        bfree(&e->strs[i]);
        e->strs[i] = join(&w);
    }
    }
}

static void mutate_input_shape(model *m) {
    entry *e = find(m, "model.input_shape");
    if (!e || e->type != M_INTS) return;
    if (chance(5) || e->count == 0) {
        size_t n = below(6);
        e->nums = realloc(e->nums, (n + 1) * 8);
        for (size_t k = e->count; k < n; k++) e->nums[k] = pick_number();
        e->count = n;
    } else if (chance(3)) {
        for (size_t k = 0; k < e->count; k++) e->nums[k] = chance(2) ? 65536 : pick_number();
    } else {
        e->nums[below(e->count)] = pick_number();
    }
    if (chance(2)) rechain(m);
}

/* Class labels: as many as the last dense layer's outputs (when few), or some other count. */
static void mutate_classes(model *m) {
    entry *e = find(m, "model.classes");
    if (!e || e->type != M_STRS) return;
    entry *layers = layers_of(m);
    shape last = shape_before(m, layers ? layers->count : 0);
    size_t want = chance(2) && last.c >= 0 && last.c <= 4096 ? (size_t)last.c : below(20);
    while (e->count > want) remove_string(e, e->count - 1);
    while (e->count < want) {
        char label[32];
        snprintf(label, sizeof label, chance(8) ? "\xff\xfe%zu" : "%zu", e->count);
        insert_string(e, e->count, bstr(label));
    }
}

/* ------------------------------------------------------------------ */
/* Tensors                                                            */
/* ------------------------------------------------------------------ */

/* Bytes of `values` values of dtype for rows x cols (as the format gives them). */
static uint64_t byte_length(uint8_t dtype, uint64_t rows, uint64_t cols) {
    uint64_t n;
    if (__builtin_mul_overflow(rows, cols, &n)) return UINT64_MAX;
    switch (dtype) {
    case 1: return n > UINT64_MAX / 4 ? UINT64_MAX : 4 * n;
    case 2: return n > UINT64_MAX / 2 ? UINT64_MAX : 2 * n;
    default: { /* q8: a 4-byte scale per row, then a byte per value */
        uint64_t scales;
        if (__builtin_mul_overflow(rows, 4, &scales) || __builtin_add_overflow(n, scales, &n)) return UINT64_MAX;
        return n;
    }
    }
}

/* A zlib stream of `n` zero bytes (n up to a few MiB). */
static bytes deflated_zeros(size_t n) {
    uint8_t *zeros = calloc(n + 1, 1);
    uLongf length = compressBound((uLong)n);
    bytes out = { malloc(length + 1), 0 };
    if (!zeros || !out.p || compress2(out.p, &length, zeros, (uLong)n, 9) != Z_OK) abort();
    out.n = length;
    free(zeros);
    return out;
}

/* Bytes for a tensor of dtype, rows x cols: present when small, a q8z stream when it inflates
 * to at most 8 MiB, else none (the entry keeps the length the shape needs, as a raw entry). */
static void fill(tensor *t, uint64_t rows, uint64_t cols) {
    bfree(&t->data);
    uint64_t need = byte_length(t->dtype == 4 ? 3 : t->dtype, rows, cols);
    t->raw = 0;
    if (t->dtype == 4 && need <= (8u << 20)) { t->data = deflated_zeros((size_t)need); return; }
    if (t->dtype != 4 && need <= (256u << 10)) {
        t->data = bdup("", 0);
        t->data.p = realloc(t->data.p, (size_t)need + 1);
        t->data.n = (size_t)need;
        for (size_t k = 0; k < t->data.n; k++) t->data.p[k] = t->dtype == 1 && k % 4 == 3 ? 0x3c : (uint8_t)rnd();
        return;
    }
    t->data = bdup("", 0);
    t->raw = 1;
    t->offset = 0;
    t->length = need;
}

static void add_tensor(model *m, const char *name, int rank, const int64_t *dims) {
    if (m->nten >= MAX_ENTRIES) return;
    m->ten = realloc(m->ten, (m->nten + 2) * sizeof *m->ten);
    tensor *t = &m->ten[m->nten++];
    memset(t, 0, sizeof *t);
    t->name = bstr(name);
    t->dtype = chance(4) ? (uint8_t)(1 + below(4)) : 1;
    t->rank = (uint8_t)rank;
    for (int k = 0; k < rank; k++) t->dims[k] = (uint32_t)dims[k]; /* a number past 2^32 wraps: a mismatch */
    uint64_t rows = (uint64_t)(dims[0] < 0 ? 0 : dims[0]), cols = 1;
    for (int k = 1; k < rank; k++) cols = (uint64_t)mul_sat((int64_t)cols, dims[k] < 0 ? 0 : dims[k]);
    fill(t, rows, cols);
}

/* The tensors the layer strings imply (names, shapes), replacing the directory. */
static void rebuild_directory(model *m) {
    entry *e = layers_of(m);
    if (!e) return;
    for (size_t i = 0; i < m->nten; i++) free_tensor(&m->ten[i]);
    m->nten = 0;
    shape s = input_shape(m);
    int weighted = 0, norms = 0;
    char name[32];
    for (size_t i = 0; i < e->count; i++) {
        words w = split(e->strs[i]);
        shape out = chain(&w, s);
        int next_is_norm = i + 1 < e->count && split(e->strs[i + 1]).n > 0 && !strcmp(split(e->strs[i + 1]).w[0], "batchnorm");
        if (w.n >= 3 && !strcmp(w.w[0], "dense")) {
            weighted++;
            int64_t d[2] = { number(w.w[2], 1), number(w.w[1], 1) };
            snprintf(name, sizeof name, "W%d", weighted); add_tensor(m, name, 2, d);
            if (!next_is_norm || chance(8)) { snprintf(name, sizeof name, "b%d", weighted); add_tensor(m, name, 1, d); }
        } else if (w.n >= 6 && !strcmp(w.w[0], "conv")) {
            weighted++;
            int64_t d[4] = { number(w.w[2], 1), number(w.w[1], 1), number(w.w[3], 1), number(w.w[3], 1) };
            snprintf(name, sizeof name, "W%d", weighted); add_tensor(m, name, 4, d);
            if (!next_is_norm || chance(8)) { snprintf(name, sizeof name, "b%d", weighted); add_tensor(m, name, 1, d); }
        } else if (w.n >= 2 && !strcmp(w.w[0], "batchnorm")) {
            norms++;
            int64_t d[1] = { number(w.w[1], 1) };
            static const char *const stats[] = { "gamma", "beta", "mean", "var" };
            for (int k = 0; k < 4; k++) { snprintf(name, sizeof name, "%s%d", stats[k], norms); add_tensor(m, name, 1, d); }
        }
        s = out;
    }
}

static void mutate_tensor(model *m) {
    if (m->nten == 0) { rebuild_directory(m); return; }
    tensor *t = &m->ten[below(m->nten)];
    switch (below(12)) {
    case 0: { /* rename: another digit, another family, an optimizer moment */
        static const char *const names[] = { "W1", "W2", "W3", "b1", "b2", "gamma1", "mean1", "var1", "beta1", "opt.v.W1", "opt.s.b1", "W0", "W", "w1" };
        bfree(&t->name);
        t->name = bstr(names[below(COUNT(names))]);
        break;
    }
    case 1: t->dtype = (uint8_t)(chance(3) ? below(256) : 1 + below(4)); break;
    case 2: { /* rank, keeping the values of the dimensions that stay */
        uint8_t r = (uint8_t)below(MAX_RANK + 1);
        for (int k = t->rank; k < r; k++) t->dims[k] = 1;
        t->rank = r;
        break;
    }
    case 3: case 4: if (t->rank) t->dims[below(t->rank)] = (uint32_t)pick_number(); break;
    case 5: { /* the same values in another shape */
        if (t->rank >= 2) { uint32_t d = t->dims[0]; t->dims[0] = t->dims[1]; t->dims[1] = d; }
        break;
    }
    case 6: t->raw = 1; t->offset = chance(2) ? t->offset + 64 * (uint64_t)(below(3)) - 64 : pick_number(); t->length = t->data.n; break;
    case 7: t->raw = 1; t->length = chance(2) ? t->data.n + below(3) - 1 : pick_number(); t->offset = t->offset ? t->offset : 64; break;
    case 8: { /* bytes cut or extended */
        size_t n = chance(2) && t->data.n ? below(t->data.n) : t->data.n + 1 + below(64);
        t->data.p = realloc(t->data.p, n + 1);
        for (size_t k = t->data.n; k < n; k++) t->data.p[k] = (uint8_t)rnd();
        t->data.n = n;
        t->raw = 0;
        break;
    }
    case 9: { /* a q8z stream that inflates to the size the shape needs, one more, or far more */
        uint64_t rows = t->rank ? t->dims[0] : 1, cols = 1;
        for (int k = 1; k < t->rank; k++) cols *= t->dims[k];
        uint64_t need = byte_length(3, rows, cols);
        static const uint64_t sizes[] = { 0, 1, 1u << 20, 1u << 23 };
        uint64_t n = chance(2) ? need + below(2) : sizes[below(COUNT(sizes))];
        if (n > (8u << 20)) n = 8u << 20;
        t->dtype = 4;
        bfree(&t->data);
        t->data = deflated_zeros((size_t)n);
        t->raw = 0;
        break;
    }
    case 10: { /* the bytes the shape needs in this dtype */
        uint64_t rows = t->rank ? t->dims[0] : 1, cols = 1;
        for (int k = 1; k < t->rank; k++) cols = (uint64_t)mul_sat((int64_t)cols, t->dims[k]);
        fill(t, rows, cols);
        break;
    }
    default: { /* the bytes hold NaN, infinity, huge values */
        static const uint32_t specials[] = { 0x7fc00000u, 0x7f800000u, 0xff800000u, 0x7f7fffffu, 0x00000001u };
        if (t->dtype == 1) for (size_t k = 0; k + 4 <= t->data.n; k += 4) if (chance(4)) setle(t->data.p + k, specials[below(5)], 4);
    }
    }
}

static void mutate_directory(model *m) {
    switch (below(5)) {
    case 0: case 1: rebuild_directory(m); break;
    case 2: if (m->nten) { size_t i = below(m->nten); free_tensor(&m->ten[i]); m->ten[i] = m->ten[--m->nten]; } break;
    case 3: if (m->nten && m->nten < MAX_ENTRIES) { m->ten = realloc(m->ten, (m->nten + 2) * sizeof *m->ten); m->ten[m->nten] = copy_tensor(&m->ten[below(m->nten)]); m->nten++; } break;
    default: { int64_t d[2] = { (int64_t)pick_number(), (int64_t)pick_number() }; add_tensor(m, chance(2) ? "opt.v.W1" : "extra", 1 + (int)below(2), d); }
    }
}

/* ------------------------------------------------------------------ */
/* Metadata, sections, header                                         */
/* ------------------------------------------------------------------ */

static void mutate_meta(model *m) {
    if (m->nmeta == 0) return;
    entry *e = &m->meta[below(m->nmeta)];
    switch (below(8)) {
    case 0: { /* another type: scalars and arrays swap their readings */
        static const uint8_t swaps[] = { M_INT, M_F64, M_INTS, M_F64S };
        if (e->type == M_INT || e->type == M_F64) e->type = swaps[below(2)];
        else if (e->type == M_INTS || e->type == M_F64S) e->type = swaps[2 + below(2)];
        else if (e->type == M_STRS && e->count) { /* a list becomes its first string */
            bytes first = bdup(e->strs[0].p, e->strs[0].n);
            for (size_t k = 0; k < e->count; k++) bfree(&e->strs[k]);
            free(e->strs); e->strs = NULL; e->count = 0;
            bfree(&e->str); e->str = first; e->type = M_STR;
        } else if (e->type == M_STR) { /* a string becomes a list of one */
            e->strs = calloc(2, sizeof *e->strs); e->strs[0] = bdup(e->str.p, e->str.n); e->count = 1; e->type = M_STRS;
        }
        break;
    }
    case 1: { /* special numbers */
        static const double specials[] = { NAN, INFINITY, -INFINITY, 0.0, -0.0, -1.0, 1e-300, 1e300, 0.5 };
        double d = specials[below(COUNT(specials))];
        uint64_t bits;
        memcpy(&bits, &d, 8);
        if (e->type == M_F64) e->scalar = bits;
        else if (e->type == M_INT) e->scalar = pick_number();
        else if ((e->type == M_INTS || e->type == M_F64S) && e->count) e->nums[below(e->count)] = e->type == M_F64S ? bits : pick_number();
        break;
    }
    case 2: { /* a number inside a string (train.config.arch, a label, the polarity) */
        bytes *s = e->type == M_STR ? &e->str : e->type == M_STRS && e->count ? &e->strs[below(e->count)] : NULL;
        if (!s) break;
        char text[512];
        size_t n = s->n < 255 ? s->n : 255, at = below(n + 1), out = 0;
        memcpy(text, s->p, n);
        text[n] = 0;
        while (at < n && (text[at] < '0' || text[at] > '9')) at++;
        size_t end = at;
        while (end < n && text[end] >= '0' && text[end] <= '9') end++;
        char result[512];
        const char *value = interesting_text[below(COUNT(interesting_text))];
        out = (size_t)snprintf(result, sizeof result, "%.*s%s%s", (int)at, text, value, text + end);
        bfree(s);
        *s = bdup(result, out < sizeof result ? out : sizeof result - 1);
        break;
    }
    case 3: if (m->nmeta > 1) { free_entry(e); *e = m->meta[--m->nmeta]; } break;
    case 4: { /* duplicated (copied before the array moves) */
        entry c = copy_entry(e);
        m->meta = realloc(m->meta, (m->nmeta + 2) * sizeof *m->meta);
        m->meta[m->nmeta++] = c;
        break;
    }
    case 5: { /* key renamed */
        static const char *const keys[] = { "model.layers", "model.input_shape", "model.classes", "input.std", "input.mean",
                                            "input.polarity", "checkpoint.epochs_done", "train.config.arch", "x" };
        bfree(&e->key);
        e->key = bstr(keys[below(COUNT(keys))]);
        break;
    }
    case 6: { /* polarity */
        entry *p = find(m, "input.polarity");
        if (p && p->type == M_STR) { bfree(&p->str); p->str = bstr(chance(2) ? "dark-on-light" : "light-on-dark"); }
        break;
    }
    default: { /* an array's length */
        if ((e->type == M_INTS || e->type == M_F64S)) {
            size_t n = below(8);
            e->nums = realloc(e->nums, (n + 1) * 8);
            for (size_t k = e->count; k < n; k++) e->nums[k] = pick_number();
            e->count = n;
        }
    }
    }
}

static void mutate_frame(model *m) {
    switch (below(10)) {
    case 0: m->meta_count_delta = chance(2) ? (int64_t)below(3) - 1 : (int64_t)pick_number(); break;
    case 1: m->tdir_count_delta = chance(2) ? (int64_t)below(3) - 1 : (int64_t)pick_number(); break;
    case 2: m->section_count_delta = (int64_t)below(3) - 1; break;
    case 3: if (m->nsec) { section *s = &m->sec[below(m->nsec)]; s->lies = 1; s->length = pick_number(); } break;
    case 4: if (m->nsec) m->sec[below(m->nsec)].flags ^= 1u << below(3); break;
    case 5: if (m->nsec > 1) { size_t i = below(m->nsec), j = below(m->nsec); section t = m->sec[i]; m->sec[i] = m->sec[j]; m->sec[j] = t; } break;
    case 6: if (m->nsec < MAX_SECTIONS) { /* an unknown section, optional or required */
        section *s = &m->sec[m->nsec++];
        memset(s, 0, sizeof *s);
        memcpy(s->tag, chance(2) ? "XTRA" : "TDAT", 4);
        s->flags = (uint32_t)below(2);
        s->kind = S_RAW;
        s->payload = bdup("future", 6);
        break;
    }
    case 7: if (m->nsec) { size_t i = below(m->nsec); bfree(&m->sec[i].payload); m->sec[i] = m->sec[--m->nsec]; } break;
    case 8: m->minor = (uint16_t)below(3); if (chance(4)) m->major = (uint16_t)below(3); break;
    default: if (chance(2)) m->header_size = (uint32_t)pick_number(); else m->reserved = (uint32_t)rnd();
    }
}

static void mutate(model *m) {
    int n = 1 + (int)below(4);
    for (int k = 0; k < n; k++) {
        switch (below(16)) {
        case 0: case 1: case 2: case 3: mutate_layers(m); break;
        case 4: case 5: mutate_input_shape(m); break;
        case 6: mutate_classes(m); break;
        case 7: case 8: case 9: mutate_tensor(m); break;
        case 10: case 11: mutate_directory(m); break;
        case 12: case 13: mutate_meta(m); break;
        default: mutate_frame(m);
        }
    }
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed) {
    rng_state = seed;
    model m;
    memset(&m, 0, sizeof m);
    int parsed = !chance(20) && parse_model(&m, data, size);
    if (!parsed) {
        free_model(&m); /* parse_model may have allocated before failing */
        size = LLVMFuzzerMutate(data, size, max_size);
        reseal(data, size);
        return size;
    }
    mutate(&m);
    buf out = { 0 };
    write_model(&m, &out);
    free_model(&m);
    if (out.n > max_size) { /* too big for libFuzzer's buffer: a byte mutation instead */
        free(out.p);
        size = LLVMFuzzerMutate(data, size, max_size);
        reseal(data, size);
        return size;
    }
    memcpy(data, out.p, out.n);
    free(out.p);
    return out.n;
}

size_t LLVMFuzzerCustomCrossOver(const uint8_t *data1, size_t size1, const uint8_t *data2, size_t size2,
                                 uint8_t *out, size_t max_out_size, unsigned int seed) {
    rng_state = seed;
    model a, b;
    int ok = parse_model(&a, data1, size1);
    int okb = parse_model(&b, data2, size2);
    size_t result = 0;
    if (ok && okb) {
        static const char *const keys[] = { "model.layers", "model.input_shape", "model.classes", "input.std", "train.config.arch" };
        const char *key = keys[below(COUNT(keys))];
        entry *ea = find(&a, key), *eb = find(&b, key);
        if (chance(3)) { /* b's directory and tensors */
            for (size_t i = 0; i < a.nten; i++) free_tensor(&a.ten[i]);
            free(a.ten);
            a.ten = b.ten; a.nten = b.nten;
            b.ten = NULL; b.nten = 0;
        } else if (ea && eb) {
            free_entry(ea);
            *ea = copy_entry(eb);
        }
        buf w = { 0 };
        write_model(&a, &w);
        if (w.n <= max_out_size) { memcpy(out, w.p, w.n); result = w.n; }
        free(w.p);
    }
    free_model(&a);
    free_model(&b);
    return result;
}

/* ------------------------------------------------------------------ */
/* The target                                                         */
/* ------------------------------------------------------------------ */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    try_load(data, size);
    return 0;
}
