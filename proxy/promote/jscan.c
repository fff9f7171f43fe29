/* SPDX-License-Identifier: Apache-2.0 */
/* jscan: strict single-pass JSON validation with hooks for the containers the caller marks.
 * Speed comes from classifying string bytes in blocks instead of one at a time (most of an SQS
 * batch is string bodies, often escape-dense JSON inside a string), and from calling no hook at
 * all in containers nobody asked about. Blocks are classified with SSE2 on x86_64 (AVX2, two
 * 32-byte halves per block, where the CPU has it: chosen per long string at run time) and with
 * portable word-at-a-time arithmetic (SWAR) elsewhere, e.g. on arm64; all give the same masks.
 * JSCAN_PORTABLE forces SWAR, JSCAN_NO_AVX2 keeps SSE2 (the tests build both). */
#include "proxy/promote/internal.h"

#include <errno.h>
#include <string.h>

#include "extension/base/base.h"

#if defined(__SSE2__) && !defined(JSCAN_PORTABLE)
#include <emmintrin.h>
#define JSCAN_SSE2 1
#else
#define JSCAN_SSE2 0
#endif
#if JSCAN_SSE2 && defined(__x86_64__) && defined(__GNUC__) && !defined(JSCAN_NO_AVX2)
#include <immintrin.h>
#define JSCAN_AVX2 1
#else
#define JSCAN_AVX2 0
#endif

#define EVEN_BITS 0x5555555555555555ull
#define ODD_BITS  0xaaaaaaaaaaaaaaaaull

static const uint8_t IS_WS[256] = {[' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1};

/* Characters allowed after a backslash ('u' also needs four hex digits). */
static const uint8_t ESC_OK[256] = {['"'] = 1, ['\\'] = 1, ['/'] = 1, ['b'] = 1, ['f'] = 1,
                                    ['n'] = 1, ['r'] = 1,  ['t'] = 1, ['u'] = 1};

/* Bit k of each mask describes byte k of a 64-byte block. */
struct block_masks {
    uint64_t quote;
    uint64_t bslash;
    uint64_t ctl; /* bytes < 0x20, never allowed raw in a string */
};

#if JSCAN_SSE2
/* 0xff in each of the 16 bytes at p that is a quote, a backslash or a control byte. */
static __m128i stop_bytes16(const uint8_t *p)
{
    const __m128i x = _mm_loadu_si128((const __m128i *)p);
    const __m128i c1f = _mm_set1_epi8(0x1f);
    __m128i hit =
        _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')), _mm_cmpeq_epi8(x, _mm_set1_epi8('\\')));

    return _mm_or_si128(hit, _mm_cmpeq_epi8(_mm_max_epu8(x, c1f), c1f));
}

/* Bit k set when byte k of the 16 at p is a quote, a backslash or a control byte. */
static unsigned stop_mask16(const uint8_t *p)
{
    return (unsigned)_mm_movemask_epi8(stop_bytes16(p));
}

/* True when none of the 64 bytes at p is a quote, a backslash or a control byte. */
static bool plain64(const uint8_t *p)
{
    __m128i hit = _mm_or_si128(_mm_or_si128(stop_bytes16(p), stop_bytes16(p + 16)),
                               _mm_or_si128(stop_bytes16(p + 32), stop_bytes16(p + 48)));

    return _mm_movemask_epi8(hit) == 0;
}

static void block_classify(const uint8_t *p, struct block_masks *m)
{
    const __m128i q = _mm_set1_epi8('"');
    const __m128i bs = _mm_set1_epi8('\\');
    const __m128i c1f = _mm_set1_epi8(0x1f);

    m->quote = 0;
    m->bslash = 0;
    m->ctl = 0;
    for (unsigned k = 0; k < 64; k += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(p + k));
        m->quote |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, q)) << k;
        m->bslash |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, bs)) << k;
        m->ctl |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(x, c1f), c1f))
                  << k;
    }
}

#if JSCAN_AVX2
#define AVX2 __attribute__((target("avx2")))

/* 0xff in each of the 32 bytes at p that is a quote, a backslash or a control byte. */
static inline AVX2 __m256i stop_bytes32(const uint8_t *p)
{
    const __m256i x = _mm256_loadu_si256((const __m256i *)p);
    const __m256i c1f = _mm256_set1_epi8(0x1f);
    __m256i hit = _mm256_or_si256(_mm256_cmpeq_epi8(x, _mm256_set1_epi8('"')),
                                  _mm256_cmpeq_epi8(x, _mm256_set1_epi8('\\')));

    return _mm256_or_si256(hit, _mm256_cmpeq_epi8(_mm256_max_epu8(x, c1f), c1f));
}

static inline AVX2 bool plain64_avx2(const uint8_t *p)
{
    return _mm256_testz_si256(_mm256_or_si256(stop_bytes32(p), stop_bytes32(p + 32)),
                              _mm256_set1_epi8(-1)) != 0;
}

static inline AVX2 uint64_t mask32(__m256i x, __m256i y)
{
    return (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(x, y));
}

static inline AVX2 void block_classify_avx2(const uint8_t *p, struct block_masks *m)
{
    const __m256i q = _mm256_set1_epi8('"');
    const __m256i bs = _mm256_set1_epi8('\\');
    const __m256i c1f = _mm256_set1_epi8(0x1f);
    const __m256i lo = _mm256_loadu_si256((const __m256i *)p);
    const __m256i hi = _mm256_loadu_si256((const __m256i *)(p + 32));

    m->quote = mask32(lo, q) | mask32(hi, q) << 32;
    m->bslash = mask32(lo, bs) | mask32(hi, bs) << 32;
    /* control bytes are rare: one test of both halves first */
    m->ctl = 0;
    if (mask32(_mm256_max_epu8(_mm256_min_epu8(lo, hi), c1f), c1f))
        m->ctl = mask32(_mm256_max_epu8(lo, c1f), c1f) | mask32(_mm256_max_epu8(hi, c1f), c1f)
                                                             << 32;
}
#endif

#define STOP_WIDTH 16
#define stop_mask  stop_mask16
#else
#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull
#define LOWS  0x7f7f7f7f7f7f7f7full

/* The 8 bytes at p as a word with p[k] in bits 8k..8k+7, whatever the host byte order. */
static uint64_t load_le64(const uint8_t *p)
{
    uint64_t w;

    memcpy(&w, p, sizeof(w)); /* unaligned access without UB */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

/* 0x80 in each byte of w that is zero, 0 elsewhere; exact (no carries between bytes). */
static uint64_t zero_bytes(uint64_t w)
{
    return ~(((w & LOWS) + LOWS) | w) & HIGHS;
}

/* Gathers the 0x80 bits of the 8 bytes into bits 0..7. */
static unsigned gather8(uint64_t highs)
{
    return (unsigned)(((highs >> 7) * 0x0102040810204080ull) >> 56);
}

static uint64_t quote_bytes(uint64_t w)
{
    return zero_bytes(w ^ (ONES * '"'));
}

static uint64_t bslash_bytes(uint64_t w)
{
    return zero_bytes(w ^ (ONES * '\\'));
}

static uint64_t ctl_bytes(uint64_t w)
{
    return zero_bytes(w & (ONES * 0xe0));
}

static uint64_t stop_bytes8(const uint8_t *p)
{
    uint64_t w = load_le64(p);

    return quote_bytes(w) | bslash_bytes(w) | ctl_bytes(w);
}

static unsigned stop_mask8(const uint8_t *p)
{
    return gather8(stop_bytes8(p));
}

static bool plain64(const uint8_t *p)
{
    uint64_t hit = 0;

    for (unsigned k = 0; k < 64; k += 8)
        hit |= stop_bytes8(p + k);
    return hit == 0;
}

static void block_classify(const uint8_t *p, struct block_masks *m)
{
    m->quote = 0;
    m->bslash = 0;
    m->ctl = 0;
    for (unsigned k = 0; k < 64; k += 8) {
        uint64_t w = load_le64(p + k);
        m->quote |= (uint64_t)gather8(quote_bytes(w)) << k;
        m->bslash |= (uint64_t)gather8(bslash_bytes(w)) << k;
        m->ctl |= (uint64_t)gather8(ctl_bytes(w)) << k;
    }
}

#define STOP_WIDTH 8
#define stop_mask  stop_mask8
#endif

static bool is_hex(uint8_t c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* p[pos] follows an escaping backslash: is it a valid escape (within p[0..n))? */
static bool escape_ok(const uint8_t *p, size_t pos, size_t n)
{
    if (pos >= n || !ESC_OK[p[pos]])
        return false;
    if (p[pos] != 'u')
        return true;
    return n - pos > 4 && is_hex(p[pos + 1]) && is_hex(p[pos + 2]) && is_hex(p[pos + 3]) &&
           is_hex(p[pos + 4]);
}

/* The bytes of a block that follow an escaping backslash. `carry` is 1 when the block's first
 * byte is escaped by a backslash at the end of the previous block, and is updated for the next
 * one. A run of backslashes escapes in pairs from its start: the subtraction below marks, for
 * each run, the bytes at an odd distance from where it starts (the simdjson technique). */
static uint64_t escaped_bytes(uint64_t bslash, uint64_t *carry)
{
    uint64_t starts = bslash & ~*carry;
    uint64_t code = (((starts << 1) | ODD_BITS) - starts) ^ ODD_BITS;
    uint64_t escaped = code ^ (bslash | *carry);

    *carry = (code & bslash) >> 63;
    return escaped;
}

/* Checks the escapes of a block before its closing quote; true when all are valid. `\"` and
 * `\\` (by far the most common) are valid by construction; the rest are looked at one by one. */
static bool block_escapes_ok(const uint8_t *p, size_t i, size_t n, uint64_t others)
{
    while (others) {
        if (!escape_ok(p, i + (size_t)__builtin_ctzll(others), n))
            return false;
        others &= others - 1;
    }
    return true;
}

typedef void (*classify_fn)(const uint8_t *p, struct block_masks *m);
typedef bool (*plain_fn)(const uint8_t *p);

/* Skips string bytes that are neither quotes, backslashes nor control bytes, 64 bytes at a
 * time while it can, then a word or vector at a time; stops at the first word holding one,
 * or where fewer than a word remain. Inlined with constant functions: one copy per width. */
static inline __attribute__((always_inline)) size_t skip_plain(const uint8_t *p, size_t i, size_t n,
                                                               plain_fn plain)
{
    while (n - i >= 64 && plain(p + i))
        i += 64;
    while (n - i >= STOP_WIDTH && !stop_mask(p + i))
        i += STOP_WIDTH;
    return i;
}

/* Where the string ends in the block at p[i] with masks m: the offset just past its closing
 * quote, BLOCK_MORE, or 0 (raw control byte or bad escape before it). `carry` is
 * escaped_bytes'; `bs` gathers the backslashes that are string content. */
#define BLOCK_MORE SIZE_MAX
static inline __attribute__((always_inline)) size_t block_end(const uint8_t *p, size_t i, size_t n,
                                                              const struct block_masks *m,
                                                              uint64_t *carry, uint64_t *bs)
{
    uint64_t escaped = escaped_bytes(m->bslash, carry);
    uint64_t close = m->quote & ~escaped;
    uint64_t before = (close ^ (close - 1)) & ~close; /* every bit when there is no close */
    uint64_t others;

    if (m->ctl & before)
        return 0;
    *bs |= m->bslash & before;
    others = escaped & ~m->quote & ~m->bslash & before;
    if (others && !block_escapes_ok(p, i, n, others)) /* \" and \\ need no check */
        return 0;
    return close ? i + (size_t)__builtin_ctzll(close) + 1 : BLOCK_MORE;
}

/* String content from p[i] to the closing quote, 64 bytes at a time. Returns the offset just
 * past the closing quote, or 0 (raw control byte, bad escape, unterminated). The last partial
 * block is classified from a padded copy, so no read goes past n. */
static inline __attribute__((always_inline)) size_t scan_blocks_with(const uint8_t *p, size_t i,
                                                                     size_t n, bool *esc,
                                                                     classify_fn classify,
                                                                     plain_fn plain)
{
    uint64_t carry = 0;
    uint64_t bs = 0;
    struct block_masks m;
    uint8_t tail[64];
    size_t r = BLOCK_MORE;

    while (n - i >= 64) {
        classify(p + i, &m);
        r = block_end(p, i, n, &m, &carry, &bs);
        if (r != BLOCK_MORE)
            break;
        i += 64;
        if (!(m.quote | m.bslash | m.ctl))
            i = skip_plain(p, i, n, plain); /* a long plain stretch, e.g. text in a body */
    }
    if (r == BLOCK_MORE && i < n) {
        memset(tail, 'x', sizeof(tail));
        memcpy(tail, p + i, n - i);
        classify(tail, &m);
        r = block_end(p, i, n, &m, &carry, &bs);
    }
    if (r == BLOCK_MORE)
        return 0; /* unterminated */
    if (bs)
        *esc = true;
    return r;
}

#if JSCAN_AVX2
static AVX2 size_t scan_blocks_avx2(const uint8_t *p, size_t i, size_t n, bool *esc)
{
    return scan_blocks_with(p, i, n, esc, block_classify_avx2, plain64_avx2);
}

/* The widest block scanner this CPU runs. */
static __attribute__((noinline)) size_t scan_blocks(const uint8_t *p, size_t i, size_t n, bool *esc)
{
    if (__builtin_cpu_supports("avx2"))
        return scan_blocks_avx2(p, i, n, esc);
    return scan_blocks_with(p, i, n, esc, block_classify, plain64);
}
#else
static __attribute__((noinline)) size_t scan_blocks(const uint8_t *p, size_t i, size_t n, bool *esc)
{
    return scan_blocks_with(p, i, n, esc, block_classify, plain64);
}
#endif

/* p[i] is the opening quote. Returns the offset just past the closing quote, or 0. Short and
 * plain strings (keys, ids) end within the first stop byte check; the rest go to blocks. */
static size_t scan_string(const uint8_t *p, size_t i, size_t n, bool *esc)
{
    i++;
    while (n - i >= STOP_WIDTH) {
        unsigned m = stop_mask(p + i);
        if (m) {
            i += (size_t)__builtin_ctz(m);
            if (p[i] == '"')
                return i + 1;
            break;
        }
        i += STOP_WIDTH;
    }
    return scan_blocks(p, i, n, esc);
}

static size_t digits(const uint8_t *p, size_t i, size_t n)
{
    while (i < n && p[i] >= '0' && p[i] <= '9')
        i++;
    return i;
}

/* RFC 8259 number at p[i]; returns the end offset or 0. */
static size_t scan_number(const uint8_t *p, size_t i, size_t n)
{
    size_t j;

    if (p[i] == '-')
        i++;
    if (i >= n)
        return 0;
    if (p[i] == '0')
        i++;
    else if (p[i] >= '1' && p[i] <= '9')
        i = digits(p, i + 1, n);
    else
        return 0;
    if (i < n && p[i] == '.') {
        j = digits(p, i + 1, n);
        if (j == i + 1)
            return 0;
        i = j;
    }
    if (i < n && (p[i] | 0x20) == 'e') {
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            i++;
        j = digits(p, i, n);
        if (j == i)
            return 0;
        i = j;
    }
    return i;
}

static size_t skip_ws(const uint8_t *p, size_t i, size_t n)
{
    while (i < n && IS_WS[p[i]])
        i++;
    return i;
}

static size_t scan_literal(const uint8_t *p, size_t i, size_t n, const char *lit, size_t len)
{
    if (n - i < len || memcmp(p + i, lit, len) != 0)
        return 0;
    return i + len;
}

/* A scalar at p[i]: returns the end offset or 0; *type gets its kind. */
static size_t scan_scalar(const uint8_t *p, size_t i, size_t n, char *type, bool *esc)
{
    switch (p[i]) {
    case '"':
        *type = '"';
        return scan_string(p, i, n, esc);
    case 't':
        *type = 't';
        return scan_literal(p, i, n, "true", 4);
    case 'f':
        *type = 'f';
        return scan_literal(p, i, n, "false", 5);
    case 'n':
        *type = '0';
        return scan_literal(p, i, n, "null", 4);
    default:
        *type = 'n';
        return scan_number(p, i, n);
    }
}

struct state {
    struct jscan *s;
    const uint8_t *p;
    size_t n;
    size_t i;
    unsigned depth;          /* frames in use */
    struct jscan_frame *top; /* stack[depth-1], the innermost container, or NULL */
};

static struct jscan_frame *top(struct state *st)
{
    return st->top;
}

static void pop(struct state *st)
{
    st->depth--;
    st->top = st->depth ? &st->s->stack[st->depth - 1] : NULL;
}

static int push(struct state *st, const struct jnode *node, bool is_obj)
{
    struct jscan *s = st->s;
    struct jscan_frame *parent = top(st);
    struct jscan_frame *f;

    if (st->depth >= s->max_depth)
        return -E2BIG;
    f = &s->stack[st->depth++];
    st->top = f;
    f->node = *node;
    f->is_obj = is_obj;
    f->count = 0;
    f->off = st->i;
    f->map = -1;
    f->member = -1;
    if (node->live && s->h->open)
        s->h->open(s, parent, f);
    return 0;
}

/* Does the key hook take the key k[0, n) of f? (JSCAN_F_KEY_BLOOM) */
static inline bool key_wanted(const struct jscan *s, const struct jscan_frame *f, const uint8_t *k,
                              size_t n, bool esc)
{
    if (!f->node.live || !s->h->key)
        return false;
    if (!(s->h->flags & JSCAN_F_KEY_BLOOM) || esc)
        return true;
    return n && (f->node.keys & KEY_BLOOM_OF(n, k[0], k[n - 1]));
}

/* Parses an object key at st->i and the ':' after it into *child (the value's node); 0 or -1. */
static inline __attribute__((always_inline)) int parse_key(struct state *st, struct jnode *child)
{
    struct jscan_frame *f = top(st);
    size_t k = st->i;
    bool esc = false;
    size_t end;

    if (k >= st->n || st->p[k] != '"')
        return -1;
    end = scan_string(st->p, k, st->n, &esc);
    if (!end)
        return -1;
    if (key_wanted(st->s, f, st->p + k + 1, end - k - 2, esc))
        st->s->h->key(st->s, f, (const char *)st->p + k + 1, end - k - 2, esc, child);
    else
        memset(child, 0, sizeof(*child));
    st->i = skip_ws(st->p, end, st->n);
    if (st->i >= st->n || st->p[st->i] != ':')
        return -1;
    st->i = skip_ws(st->p, st->i + 1, st->n);
    return 0;
}

/* The node of element idx of f. */
static void elem_node(struct state *st, struct jscan_frame *f, unsigned idx, struct jnode *node)
{
    if (f->node.live && st->s->h->elem)
        st->s->h->elem(st->s, f, idx, node);
    else
        memset(node, 0, sizeof(*node));
}

static void value_done(struct state *st, const struct jnode *node, char type, size_t off,
                       size_t end, struct jscan_frame *f)
{
    if (node->live && st->s->h->value)
        st->s->h->value(st->s, top(st), node, type, off, end, f);
}

/* After a value: handles ',' and closing brackets. Returns 1 when a new value must be parsed
 * (its node in *node), 0 at the end of the document, -1 on error. */
static int after_value(struct state *st, struct jnode *node)
{
    for (;;) {
        struct jscan_frame *f = top(st);
        uint8_t c;

        if (!f)
            return 0;
        st->i = skip_ws(st->p, st->i, st->n);
        if (st->i >= st->n)
            return -1;
        c = st->p[st->i];
        if (c == ',') {
            st->i = skip_ws(st->p, st->i + 1, st->n);
            f->count++;
            if (f->is_obj) {
                return parse_key(st, node) < 0 ? -1 : 1;
            }
            elem_node(st, f, f->count - 1, node);
            return 1;
        }
        if (c != (f->is_obj ? '}' : ']'))
            return -1;
        st->i++;
        {
            struct jscan_frame closed = *f;
            pop(st);
            value_done(st, &closed.node, closed.is_obj ? '{' : '[', closed.off, st->i, &closed);
        }
        if (st->s->abort)
            return -1;
    }
}

/* Opens a container at st->i; returns 1 if a value follows (node in *node), 2 if it was empty
 * and closed, -1 on error. */
static int open_container(struct state *st, struct jnode *node)
{
    bool is_obj = st->p[st->i] == '{';
    struct jscan_frame *f;

    if (push(st, node, is_obj) < 0)
        return -2;
    f = top(st);
    st->i = skip_ws(st->p, st->i + 1, st->n);
    if (st->i < st->n && st->p[st->i] == (is_obj ? '}' : ']')) {
        struct jscan_frame closed = *f;
        st->i++;
        pop(st);
        value_done(st, &closed.node, is_obj ? '{' : '[', closed.off, st->i, &closed);
        return 2;
    }
    f->count = 1;
    if (is_obj)
        return parse_key(st, node) < 0 ? -1 : 1;
    elem_node(st, f, 0, node);
    return 1;
}

static int scan_loop(struct state *st, struct jnode node)
{
    for (;;) {
        int r;
        if (st->s->abort)
            return -1;
        if (st->i >= st->n)
            return -1;
        if (st->p[st->i] == '{' || st->p[st->i] == '[') {
            r = open_container(st, &node);
            if (r < 0)
                return r;
            if (r == 1)
                continue;
        } else {
            char type;
            bool esc = false;
            size_t off = st->i;
            size_t end = scan_scalar(st->p, off, st->n, &type, &esc);
            if (!end)
                return -1;
            st->i = end;
            value_done(st, &node, type, off, end, NULL);
        }
        r = after_value(st, &node);
        if (r <= 0)
            return r;
    }
}

int jscan_run(struct jscan *s, struct jnode root, const char **why)
{
    struct state st = {s, (const uint8_t *)s->p, s->n, 0, 0, NULL};
    int r;

    s->abort = NULL;
    st.i = skip_ws(st.p, 0, st.n);
    r = scan_loop(&st, root);
    if (r == 0) {
        st.i = skip_ws(st.p, st.i, st.n);
        if (st.i == st.n)
            return 0;
        *why = "trailing bytes after the JSON value";
        return -EPROTO;
    }
    if (s->abort)
        *why = s->abort;
    else if (r == -2)
        *why = "JSON nesting too deep";
    else
        *why = "malformed JSON";
    return -EPROTO;
}

static long u4(const char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex_digit(p[i]);
        if (h < 0)
            return -1;
        v = v << 4 | h;
    }
    return v;
}

static size_t utf8_put(unsigned long cp, char *o)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* One escape at raw[*i] (a backslash); writes up to 4 bytes to o. Returns bytes or -1. */
static long unescape_one(const char *raw, size_t n, size_t *i, char *o)
{
    /* what each character after a backslash stands for (0: not a one-character escape) */
    static const char TO[256] = {['"'] = '"',  ['\\'] = '\\', ['/'] = '/',  ['b'] = '\b',
                                 ['f'] = '\f', ['n'] = '\n',  ['r'] = '\r', ['t'] = '\t'};
    long cp;
    long lo;

    if (*i + 1 >= n)
        return -1;
    if (raw[*i + 1] != 'u') {
        *o = TO[(unsigned char)raw[*i + 1]];
        if (!*o)
            return -1;
        *i += 2;
        return 1;
    }
    if (*i + 6 > n || (cp = u4(raw + *i + 2)) < 0)
        return -1;
    *i += 6;
    if (cp >= 0xd800 && cp < 0xdc00 && *i + 6 <= n && raw[*i] == '\\' && raw[*i + 1] == 'u' &&
        (lo = u4(raw + *i + 2)) >= 0xdc00 && lo < 0xe000) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        *i += 6;
    }
    return (long)utf8_put((unsigned long)cp, o);
}

/* A word with a byte equal to b, of the eight at p ("has zero byte" on p ^ b). */
static bool has_byte8(const char *p, uint8_t b)
{
    uint64_t w;

    memcpy(&w, p, sizeof(w));
    w ^= 0x0101010101010101ull * b;
    return ((w - 0x0101010101010101ull) & ~w & 0x8080808080808080ull) != 0;
}

/* json_unescape when out has room for n + 1 bytes: unescaped text is never longer than its
 * escaped form (2 -> 1, 6 -> at most 3, 12 -> 4 bytes), so no write needs a bound check, and
 * runs without a backslash go eight bytes at a time (escape-dense bodies, the SNS envelopes and
 * EventBridge events inside SQS bodies, have a backslash every few bytes). */
static long unescape_roomy(const char *raw, size_t n, char *out)
{
    size_t i = 0;
    size_t o = 0;
    long k;

    while (i < n) {
        while (i + 8 <= n && !has_byte8(raw + i, '\\')) {
            memcpy(out + o, raw + i, 8);
            i += 8;
            o += 8;
        }
        while (i < n && raw[i] != '\\')
            out[o++] = raw[i++];
        if (i == n)
            break;
        k = unescape_one(raw, n, &i, out + o);
        if (k < 0)
            return -1;
        o += (size_t)k;
    }
    out[o] = '\0';
    return (long)o;
}

long json_unescape(const char *raw, size_t n, char *out, size_t cap)
{
    size_t i = 0;
    size_t o = 0;
    char tmp[4];

    if (cap > n)
        return unescape_roomy(raw, n, out);
    while (i < n) {
        const char *bs = memchr(raw + i, '\\', n - i);
        size_t run = bs ? (size_t)(bs - raw) - i : n - i;
        long k;
        if (o + run >= cap)
            return -1;
        memcpy(out + o, raw + i, run);
        o += run;
        i += run;
        if (!bs)
            break;
        k = unescape_one(raw, n, &i, tmp);
        if (k < 0 || o + (size_t)k >= cap)
            return -1;
        memcpy(out + o, tmp, (size_t)k);
        o += (size_t)k;
    }
    if (o >= cap)
        return -1;
    out[o] = '\0';
    return (long)o;
}
