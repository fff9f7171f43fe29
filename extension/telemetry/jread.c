/* SPDX-License-Identifier: Apache-2.0 */
/* jread: the in-place JSON pull reader of internal.h. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "extension/telemetry/internal.h"

static int fail(struct jr *r)
{
    r->err = true;
    return -EBADMSG;
}

static void skip_ws(struct jr *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

void jr_init(struct jr *r, const char *s, size_t n)
{
    r->p = s;
    r->end = s + n;
    r->depth = 0;
    r->err = false;
}

enum jr_type jr_peek(struct jr *r)
{
    if (r->err)
        return JR_NONE;
    skip_ws(r);
    if (r->p >= r->end)
        return JR_NONE;
    switch (*r->p) {
    case '{':
        return JR_OBJECT;
    case '[':
        return JR_ARRAY;
    case '"':
        return JR_STRING;
    case 't':
        return JR_TRUE;
    case 'f':
        return JR_FALSE;
    case 'n':
        return JR_NULL;
    default:
        return (*r->p == '-' || (*r->p >= '0' && *r->p <= '9')) ? JR_NUMBER : JR_NONE;
    }
}

bool jr_at_end(struct jr *r)
{
    skip_ws(r);
    return !r->err && r->p == r->end;
}

/* ---- strings ---- */

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;

    for (int i = 0; i < 4; i++) {
        int d = hex_digit(p[i]);
        if (d < 0)
            return -1;
        v = v << 4 | (unsigned)d;
    }
    *out = v;
    return 0;
}

/* Decodes \uXXXX (and a following low surrogate) at r->p (just after the 'u'). */
static int unicode_escape(struct jr *r, unsigned *cp)
{
    unsigned hi;
    unsigned lo;

    if (r->end - r->p < 4 || hex4(r->p, &hi) < 0)
        return -1;
    r->p += 4;
    if (hi >= 0xDC00 && hi <= 0xDFFF)
        return -1;
    if (hi < 0xD800 || hi > 0xDBFF) {
        *cp = hi;
        return 0;
    }
    if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u' || hex4(r->p + 2, &lo) < 0 ||
        lo < 0xDC00 || lo > 0xDFFF)
        return -1;
    r->p += 6;
    *cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
    return 0;
}

static size_t utf8_encode(unsigned cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* One escape after the backslash; its bytes into out[0..4). */
static int escape(struct jr *r, char out[4], size_t *n)
{
    static const char from[] = "\"\\/bfnrt";
    static const char to[] = "\"\\/\b\f\n\r\t";
    const char *hit;
    unsigned cp;

    if (r->p >= r->end)
        return -1;
    hit = strchr(from, *r->p);
    if (*r->p != '\0' && hit) {
        out[0] = to[hit - from];
        *n = 1;
        r->p++;
        return 0;
    }
    if (*r->p != 'u')
        return -1;
    r->p++;
    if (unicode_escape(r, &cp) < 0)
        return -1;
    *n = utf8_encode(cp, out);
    return 0;
}

#define ONES  0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Whether any byte of w is below 0x20, a quote or a backslash (8 bytes at a time: these runs
 * are most of what a batch is made of). */
static bool special_in(uint64_t w)
{
    uint64_t below = (w - ONES * 0x20) & ~w;
    uint64_t quote = w ^ (ONES * '"');
    uint64_t bslash = w ^ (ONES * '\\');

    quote = (quote - ONES) & ~quote;
    bslash = (bslash - ONES) & ~bslash;
    return ((below | quote | bslash) & HIGHS) != 0;
}

/* The length of the run of plain string bytes at p (no quote, backslash or control byte). */
static size_t plain_run(const char *p, const char *end)
{
    const char *q = p;
    uint64_t w;

    while (end - q >= 8) {
        memcpy(&w, q, 8);
        if (special_in(w))
            break;
        q += 8;
    }
    while (q < end && (unsigned char)*q >= 0x20 && *q != '"' && *q != '\\')
        q++;
    return (size_t)(q - p);
}

/* Appends n bytes to out (cap bytes, NUL included) at *len, or notes that they do not fit. */
static void put(char *out, size_t cap, size_t *len, const char *p, size_t n, bool *too_long)
{
    if (!out)
        return;
    if (*len + n < cap)
        memcpy(out + *len, p, n);
    else
        *too_long = true;
    *len += n;
}

/* Walks a string at r->p ('"'), writing up to cap - 1 decoded bytes when out is not NULL.
 * Sets *too_long when more would have been written. Plain runs are copied whole. */
static int walk_string(struct jr *r, char *out, size_t cap, bool *too_long)
{
    size_t len = 0;

    r->p++;
    for (;;) {
        size_t run = plain_run(r->p, r->end);
        char tmp[4];
        size_t n = 0;

        put(out, cap, &len, r->p, run, too_long);
        r->p += run;
        if (r->p >= r->end || (unsigned char)*r->p < 0x20)
            return fail(r);
        if (*r->p == '"')
            break;
        r->p++; /* the backslash */
        if (escape(r, tmp, &n) < 0)
            return fail(r);
        put(out, cap, &len, tmp, n, too_long);
    }
    r->p++;
    if (out && !*too_long)
        out[len] = '\0';
    return 0;
}

int jr_string(struct jr *r, char *out, size_t cap)
{
    bool too_long = false;

    if (r->err)
        return -EBADMSG;
    if (cap == 0 || jr_peek(r) != JR_STRING)
        return r->err ? -EBADMSG : -EINVAL;
    if (walk_string(r, out, cap, &too_long) < 0)
        return -EBADMSG;
    if (too_long) {
        out[0] = '\0';
        return -E2BIG;
    }
    return 0;
}

/* ---- numbers and literals ---- */

static void digits(struct jr *r)
{
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
        r->p++;
}

/* Validates a number at r->p per the JSON grammar and moves past it. */
static int scan_number(struct jr *r)
{
    const char *start;

    if (r->p < r->end && *r->p == '-')
        r->p++;
    if (r->p >= r->end || *r->p < '0' || *r->p > '9')
        return fail(r);
    start = r->p;
    digits(r);
    if (*start == '0' && r->p - start > 1)
        return fail(r);
    if (r->p < r->end && *r->p == '.') {
        r->p++;
        start = r->p;
        digits(r);
        if (r->p == start)
            return fail(r);
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
            r->p++;
        start = r->p;
        digits(r);
        if (r->p == start)
            return fail(r);
    }
    return 0;
}

int jr_number(struct jr *r, double *out)
{
    const char *start;
    char tmp[64];
    size_t n;

    if (r->err)
        return -EBADMSG;
    if (jr_peek(r) != JR_NUMBER)
        return r->err ? -EBADMSG : -EINVAL;
    start = r->p;
    if (scan_number(r) < 0)
        return -EBADMSG;
    n = (size_t)(r->p - start);
    if (n >= sizeof(tmp))
        return fail(r); /* no metric is written with 64 digits */
    memcpy(tmp, start, n);
    tmp[n] = '\0';
    *out = strtod(tmp, NULL);
    if (!isfinite(*out))
        return fail(r);
    return 0;
}

static int literal(struct jr *r, const char *word)
{
    size_t n = strlen(word);

    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
        return fail(r);
    r->p += n;
    return 0;
}

/* ---- structure ---- */

static int expect(struct jr *r, char c)
{
    skip_ws(r);
    if (r->p >= r->end || *r->p != c)
        return fail(r);
    r->p++;
    return 0;
}

int jr_enter_object(struct jr *r)
{
    if (jr_peek(r) != JR_OBJECT || r->depth >= JR_MAX_DEPTH)
        return fail(r);
    r->p++;
    r->depth++;
    return 0;
}

int jr_enter_array(struct jr *r)
{
    if (jr_peek(r) != JR_ARRAY || r->depth >= JR_MAX_DEPTH)
        return fail(r);
    r->p++;
    r->depth++;
    return 0;
}

/* At a closing `close` (after optional whitespace): consumes it. Else, unless first, a comma. */
static int next_item(struct jr *r, bool first, char close)
{
    if (r->err)
        return -EBADMSG;
    skip_ws(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
        r->depth--;
        return 0;
    }
    if (!first && expect(r, ',') < 0)
        return -EBADMSG;
    return 1;
}

int jr_next_member(struct jr *r, bool first, char *key, size_t cap, bool *cut)
{
    int rc = next_item(r, first, '}');

    if (rc <= 0)
        return rc;
    *cut = false;
    if (jr_peek(r) != JR_STRING)
        return fail(r);
    if (walk_string(r, key, cap, cut) < 0)
        return -EBADMSG;
    if (*cut)
        key[0] = '\0';
    return expect(r, ':') < 0 ? -EBADMSG : 1;
}

int jr_next_element(struct jr *r, bool first)
{
    int rc = next_item(r, first, ']');

    if (rc > 0 && jr_peek(r) == JR_NONE)
        return fail(r);
    return rc;
}

static int skip_object(struct jr *r)
{
    char key[1];
    bool cut;
    int rc;

    if (jr_enter_object(r) < 0)
        return -EBADMSG;
    for (bool first = true; (rc = jr_next_member(r, first, key, sizeof(key), &cut)) > 0;
         first = false) {
        if (jr_skip(r) < 0)
            return -EBADMSG;
    }
    return rc;
}

static int skip_array(struct jr *r)
{
    int rc;

    if (jr_enter_array(r) < 0)
        return -EBADMSG;
    for (bool first = true; (rc = jr_next_element(r, first)) > 0; first = false) {
        if (jr_skip(r) < 0)
            return -EBADMSG;
    }
    return rc;
}

int jr_skip(struct jr *r)
{
    bool too_long = false;

    switch (jr_peek(r)) {
    case JR_OBJECT:
        return skip_object(r);
    case JR_ARRAY:
        return skip_array(r);
    case JR_STRING:
        return walk_string(r, NULL, 0, &too_long);
    case JR_NUMBER:
        return scan_number(r);
    case JR_TRUE:
        return literal(r, "true");
    case JR_FALSE:
        return literal(r, "false");
    case JR_NULL:
        return literal(r, "null");
    default:
        return fail(r);
    }
}
