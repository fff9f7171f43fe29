/* SPDX-License-Identifier: Apache-2.0 */
/* tracectx: strict W3C traceparent/tracestate/baggage and X-Ray header parsing. Everything here
 * is pure (no allocation, no globals) so the fuzz targets can hammer it directly. */
#include "extension/base/base.h"

#include <string.h>

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

bool trace_id_is_zero(const uint8_t id[16])
{
    return all_zero(id, 16);
}

bool span_id_is_zero(const uint8_t id[8])
{
    return all_zero(id, 8);
}

bool traceparent_parse(const char *s, size_t n, struct trace_ctx *out)
{
    uint8_t ver;
    struct trace_ctx c;

    http_trim_ows(&s, &n);
    if (n < TRACEPARENT_LEN || !hex_decode_lower(s, 2, &ver) || ver == 0xff)
        return false;
    /* Version 00 is exactly 55 chars; future versions may append "-..." which is ignored. */
    if (ver == 0 && n != TRACEPARENT_LEN)
        return false;
    if (n > TRACEPARENT_LEN && s[TRACEPARENT_LEN] != '-')
        return false;
    if (s[2] != '-' || s[35] != '-' || s[52] != '-')
        return false;
    if (!hex_decode_lower(s + 3, 32, c.trace_id) || !hex_decode_lower(s + 36, 16, c.span_id) ||
        !hex_decode_lower(s + 53, 2, &c.flags))
        return false;
    if (trace_id_is_zero(c.trace_id) || span_id_is_zero(c.span_id))
        return false;
    /* Unknown trailing bytes of a future version still must not smuggle anything odd. */
    for (size_t i = TRACEPARENT_LEN; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e || s[i] == '"' || s[i] == '\\')
            return false;
    *out = c;
    return true;
}

/* The same checks as traceparent_parse, in its order, each with a reason. */
const char *traceparent_problem(const char *s, size_t n)
{
    struct trace_ctx c;
    uint8_t ver;

    if (traceparent_parse(s, n, &c))
        return NULL;
    http_trim_ows(&s, &n);
    if (n < TRACEPARENT_LEN)
        return "shorter than 55 characters";
    if (!hex_decode_lower(s, 2, &ver))
        return "version is not 2 lower-case hex digits";
    if (ver == 0xff)
        return "version ff is invalid";
    if (ver == 0 && n != TRACEPARENT_LEN)
        return "longer than 55 characters (version 00)";
    if (s[2] != '-' || s[35] != '-' || s[52] != '-' || (n > TRACEPARENT_LEN && s[55] != '-'))
        return "the dashes are not between the fields";
    if (!hex_decode_lower(s + 3, 32, c.trace_id))
        return "trace-id is not 32 lower-case hex digits";
    if (!hex_decode_lower(s + 36, 16, c.span_id))
        return "parent-id is not 16 lower-case hex digits";
    if (!hex_decode_lower(s + 53, 2, &c.flags))
        return "trace-flags are not 2 lower-case hex digits";
    if (trace_id_is_zero(c.trace_id))
        return "trace-id is all zeros";
    if (span_id_is_zero(c.span_id))
        return "parent-id is all zeros";
    return "characters that are not allowed after the flags";
}

void traceparent_safe_prefix(const char *s, size_t n, char out[TRACEPARENT_PREFIX_MAX + 1])
{
    size_t i;

    for (i = 0; i < n && i < TRACEPARENT_PREFIX_MAX; i++) {
        char ch = s[i];
        bool ok = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
                  (ch >= 'A' && ch <= 'F') || ch == '-';
        out[i] = ok ? ch : '?';
    }
    out[i] = '\0';
}

void traceparent_format(const struct trace_ctx *c, char *out)
{
    memcpy(out, "00-", 3);
    hex_encode(c->trace_id, 16, out + 3);
    out[35] = '-';
    hex_encode(c->span_id, 8, out + 36);
    out[52] = '-';
    hex_encode(&c->flags, 1, out + 53);
    out[55] = '\0';
}

/* ---- tracestate ---- */

static bool ts_keychar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*' ||
           c == '/' || c == '@';
}

/* Validates one list-member (already trimmed, non-empty). Quotes and backslashes are legal
 * W3C value chars but are refused here: these values get written into JSON unescaped. */
static bool ts_member_ok(const char *m, size_t n, size_t *keylen)
{
    const char *eq = memchr(m, '=', n);
    size_t kl;
    size_t vl;

    if (!eq)
        return false;
    kl = (size_t)(eq - m);
    vl = n - kl - 1;
    if (kl == 0 || kl > 256 || vl == 0 || vl > 256)
        return false;
    if (!((m[0] >= 'a' && m[0] <= 'z') || (m[0] >= '0' && m[0] <= '9')))
        return false;
    for (size_t i = 0; i < kl; i++)
        if (!ts_keychar(m[i]))
            return false;
    for (size_t i = kl + 1; i < n; i++) {
        unsigned char c = (unsigned char)m[i];
        if (c < 0x20 || c > 0x7e || c == ',' || c == '=' || c == '"' || c == '\\')
            return false;
    }
    if (m[n - 1] == ' ')
        return false;
    *keylen = kl;
    return true;
}

struct ts_member {
    const char *p;
    size_t n;
    size_t kl;
};

static bool ts_dup(const struct ts_member *ms, size_t count, const char *k, size_t kl)
{
    for (size_t i = 0; i < count; i++)
        if (ms[i].kl == kl && memcmp(ms[i].p, k, kl) == 0)
            return true;
    return false;
}

/* Splits the list into validated members; false on any invalid member, duplicate or > 32. */
static bool ts_split(const char *s, size_t n, struct ts_member *ms, size_t *count)
{
    size_t i = 0;

    *count = 0;
    while (i <= n) {
        const char *comma = memchr(s + i, ',', n - i);
        size_t end = comma ? (size_t)(comma - s) : n;
        const char *m = s + i;
        size_t ml = end - i;
        size_t kl;

        http_trim_ows(&m, &ml);
        if (ml) {
            if (*count == 32 || !ts_member_ok(m, ml, &kl) || ts_dup(ms, *count, m, kl))
                return false;
            ms[*count].p = m;
            ms[*count].n = ml;
            ms[*count].kl = kl;
            (*count)++;
        }
        if (!comma)
            break;
        i = end + 1;
    }
    return true;
}

bool tracestate_sanitize(const char *s, size_t n, char *out, size_t cap)
{
    struct ts_member ms[32];
    size_t count;
    size_t len = 0;
    size_t limit = cap ? cap - 1 : 0;

    if (cap)
        out[0] = '\0';
    if (!cap || n > 32 * 520 || !ts_split(s, n, ms, &count))
        return false;
    /* Whole members only: drop the ones that do not fit (long ones first by W3C advice, but
     * keeping order is simpler and still within spec: truncation removes from the end). */
    for (size_t i = 0; i < count; i++) {
        size_t need = ms[i].n + (len ? 1 : 0);
        if (len + need > limit || len + need > TRACESTATE_MAX)
            continue;
        if (len)
            out[len++] = ',';
        memcpy(out + len, ms[i].p, ms[i].n);
        len += ms[i].n;
    }
    out[len] = '\0';
    return true;
}

/* ---- baggage ---- */

static bool baggage_octet(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) ||
           (c >= 0x3c && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

/* key OWS "=" OWS value (value may be empty); for properties the "=" part is optional. */
static bool bg_kv(const char *p, size_t n, bool value_required)
{
    size_t i = 0;
    size_t k0;

    http_trim_ows(&p, &n);
    k0 = i;
    while (i < n && http_tchar(p[i]))
        i++;
    if (i == k0)
        return false;
    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    if (i == n)
        return !value_required;
    if (p[i++] != '=')
        return false;
    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    for (; i < n; i++)
        if (!baggage_octet((unsigned char)p[i]))
            return false;
    return true;
}

static bool bg_member(const char *m, size_t n)
{
    size_t i = 0;
    bool first = true;

    while (i <= n) {
        const char *semi = memchr(m + i, ';', n - i);
        size_t end = semi ? (size_t)(semi - m) : n;
        if (!bg_kv(m + i, end - i, first))
            return false;
        first = false;
        if (!semi)
            break;
        i = end + 1;
    }
    return true;
}

bool baggage_sanitize(const char *s, size_t n, char *out, size_t cap)
{
    size_t i = 0;
    unsigned members = 0;

    if (cap)
        out[0] = '\0';
    if (!cap || n == 0 || n > BAGGAGE_MAX || n > cap - 1)
        return false;
    while (i <= n) {
        const char *comma = memchr(s + i, ',', n - i);
        size_t end = comma ? (size_t)(comma - s) : n;
        if (++members > 180 || !bg_member(s + i, end - i))
            return false;
        if (!comma)
            break;
        i = end + 1;
    }
    memcpy(out, s, n);
    out[n] = '\0';
    return true;
}

/* ---- X-Ray ---- */

struct xray_field {
    const char *k;
    size_t kl;
    const char *v;
    size_t vl;
};

/* Calls fn for every "k=v" field; false if the header holds bytes we never copy or a field
 * lacks "=". */
static bool xray_fields(const char *s, size_t n, bool (*fn)(const struct xray_field *, void *),
                        void *arg)
{
    size_t i = 0;

    if (n > XRAY_HEADER_MAX)
        return false;
    for (size_t j = 0; j < n; j++) {
        unsigned char c = (unsigned char)s[j];
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == ',')
            return false;
    }
    while (i < n) {
        const char *semi = memchr(s + i, ';', n - i);
        size_t end = semi ? (size_t)(semi - s) : n;
        const char *f = s + i;
        size_t fl = end - i;
        const char *eq;
        struct xray_field xf;

        http_trim_ows(&f, &fl);
        i = end + 1;
        if (!fl)
            continue; /* tolerate a trailing ";" like the Go propagator */
        eq = memchr(f, '=', fl);
        if (!eq || eq == f)
            return false;
        xf.k = f;
        xf.kl = (size_t)(eq - f);
        xf.v = eq + 1;
        xf.vl = fl - xf.kl - 1;
        if (!fn(&xf, arg))
            return false;
    }
    return true;
}

static bool key_is(const struct xray_field *f, const char *k)
{
    return f->kl == strlen(k) && memcmp(f->k, k, f->kl) == 0;
}

struct xray_acc {
    struct trace_ctx c;
    bool root;
    bool parent;
};

static bool xray_collect(const struct xray_field *f, void *arg)
{
    struct xray_acc *a = arg;

    if (key_is(f, "Root")) {
        if (a->root || f->vl != 35 || f->v[0] != '1' || f->v[1] != '-' || f->v[10] != '-')
            return false;
        if (!hex_decode_lower(f->v + 2, 8, a->c.trace_id) ||
            !hex_decode_lower(f->v + 11, 24, a->c.trace_id + 4))
            return false;
        a->root = true;
    } else if (key_is(f, "Parent")) {
        if (a->parent || f->vl != 16 || !hex_decode_lower(f->v, 16, a->c.span_id))
            return false;
        a->parent = true;
    } else if (key_is(f, "Sampled")) {
        if (f->vl != 1 || !strchr("01?", f->v[0]))
            return false;
        a->c.flags = f->v[0] == '1' ? TRACE_FLAG_SAMPLED : 0;
    }
    return true;
}

bool xray_parse(const char *s, size_t n, struct trace_ctx *out)
{
    struct xray_acc a;

    memset(&a, 0, sizeof(a));
    if (!xray_fields(s, n, xray_collect, &a) || !a.root || !a.parent)
        return false;
    if (trace_id_is_zero(a.c.trace_id) || span_id_is_zero(a.c.span_id))
        return false;
    *out = a.c;
    return true;
}

struct xray_out {
    char *out;
    size_t cap;
    size_t len;
    bool overflow;
};

static void xo_put(struct xray_out *o, const char *p, size_t n)
{
    if (o->len + n + 1 > o->cap) {
        o->overflow = true;
        return;
    }
    memcpy(o->out + o->len, p, n);
    o->len += n;
}

static bool xray_keep_other(const struct xray_field *f, void *arg)
{
    struct xray_out *o = arg;

    if (key_is(f, "Root") || key_is(f, "Parent") || key_is(f, "Sampled"))
        return true;
    for (size_t i = 0; i < f->kl; i++)
        if (f->k[i] == ' ' || f->k[i] == '=')
            return true; /* odd field: dropped rather than copied */
    /* the result stays a header every parser accepts (<= XRAY_HEADER_MAX): extra fields that
     * do not fit are dropped, never cut */
    if (o->len + f->kl + f->vl + 2 > XRAY_HEADER_MAX)
        return true;
    xo_put(o, ";", 1);
    xo_put(o, f->k, f->kl);
    xo_put(o, "=", 1);
    xo_put(o, f->v, f->vl);
    return true;
}

static bool xray_noop(const struct xray_field *f, void *arg)
{
    (void)f;
    (void)arg;
    return true;
}

bool xray_rewrite(const char *orig, size_t n, const struct trace_ctx *ctx, char *out, size_t cap)
{
    struct xray_out o = {out, cap, 0, false};
    char hex[32];

    if (cap)
        out[0] = '\0';
    xo_put(&o, "Root=1-", 7);
    hex_encode(ctx->trace_id, 16, hex);
    xo_put(&o, hex, 8);
    xo_put(&o, "-", 1);
    xo_put(&o, hex + 8, 24);
    xo_put(&o, ";Parent=", 8);
    hex_encode(ctx->span_id, 8, hex);
    xo_put(&o, hex, 16);
    xo_put(&o, (ctx->flags & TRACE_FLAG_SAMPLED) ? ";Sampled=1" : ";Sampled=0", 10);
    /* Other fields (Lineage, Self, ...) only from a header that passes the byte checks. */
    if (orig && n && xray_fields(orig, n, xray_noop, NULL))
        xray_fields(orig, n, xray_keep_other, &o);
    if (o.overflow || !cap)
        return false;
    out[o.len] = '\0';
    return true;
}
