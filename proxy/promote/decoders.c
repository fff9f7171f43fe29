/* SPDX-License-Identifier: Apache-2.0 */
/* decoders: how the carriers that are not a plain string are read (DESIGN.md carriers 2 and
 * 5 to 9): documents inside strings (SNS envelopes, EventBridge events, durable payloads, base64
 * Kinesis data), Kafka header bytes in their JSON encodings, Datadog carriers, and the Step
 * Functions context object. All of them only read: nothing they look at is ever rewritten.
 * Every value is validated before it counts; anything unexpected is ignored (fail open). The
 * small values they take apart are scanned with promote_scan_leaf on the plan's leaf stack. */
#include "proxy/promote/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extension/base/base.h"

/* ---- documents inside strings ---- */

static bool starts_object(const char *raw, size_t n)
{
    size_t i = 0;

    while (i < n && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r'))
        i++;
    return i < n && raw[i] == '{';
}

/* The cheap filter: p[0..n) holds d->need (if set) and one of d->any (if any). */
static bool has_needles(const char *p, size_t n, const struct nested_doc *d)
{
    bool any = !d->any[0];

    if (d->need && !memmem(p, n, d->need, strlen(d->need)))
        return false;
    for (unsigned i = 0; i < ARRAY_LEN(d->any) && d->any[i] && !any; i++)
        any = memmem(p, n, d->any[i], strlen(d->any[i])) != NULL;
    return any;
}

/* The buffer a document of at most n bytes decoded at the current nesting level goes into
 * (n + 1 bytes: n <= PLAN_BODY_MAX), or NULL. It grows to the largest document of the event,
 * so the usual few-KB bodies never take a large allocation (and its page faults) per event. */
static char *doc_buf(struct actx *c, size_t n)
{
    struct plan *pl = c->pl;
    unsigned lv = c->nest;
    size_t cap;
    char *p;

    if (lv >= PLAN_NEST_MAX || n > PLAN_BODY_MAX)
        return NULL;
    if (pl->doc_cap[lv] > n)
        return pl->doc_buf[lv];
    cap = pl->doc_cap[lv] * 2 > n + 1 ? pl->doc_cap[lv] * 2 : n + 1;
    if (cap < 4096)
        cap = 4096;
    if (cap > PLAN_BODY_MAX + 1)
        cap = PLAN_BODY_MAX + 1;
    p = realloc(pl->doc_buf[lv], cap);
    if (!p)
        return NULL;
    pl->doc_buf[lv] = p;
    pl->doc_cap[lv] = cap;
    return p;
}

/* What the decoded document held joins tv; the values already in tv come first. */
static void tvals_merge(struct tvals *tv, const struct tvals *sub)
{
    if (!tv->tp_ok && sub->tp_ok) {
        tv->tp_ok = true;
        tv->tp = sub->tp;
    }
    if (!tv->xray_ok && sub->xray_ok) {
        tv->xray_ok = true;
        tv->xray = sub->xray;
    }
    if (!tv->ts.base)
        tv->ts = sub->ts;
    if (!tv->bg.base)
        tv->bg = sub->bg;
}

/* Scans doc[0..n) with d's grammar; what it finds counts only if all of it is valid JSON. */
static void scan_doc(struct actx *c, const struct nested_doc *d, const char *doc, size_t n,
                     struct tvals *tv)
{
    struct tvals sub;

    promote_tvals_reset(&sub);
    if (promote_scan_nested(c, doc, n, d->g, &sub) == 0)
        tvals_merge(tv, &sub);
}

void promote_read_doc_in_string(struct actx *c, const struct decoder *d, enum which w, size_t off,
                                size_t end, struct tvals *tv)
{
    const struct nested_doc *nd = d->arg;
    const char *raw = c->base + off + 1;
    size_t n = end - off - 2;
    char *buf;
    long l;

    (void)w;
    if (n > PLAN_BODY_MAX || !memchr(raw, '\\', n) || !starts_object(raw, n) ||
        !has_needles(raw, n, nd) || !(buf = doc_buf(c, n)))
        return;
    l = json_unescape(raw, n, buf, n + 1);
    if (l >= 0)
        scan_doc(c, nd, buf, (size_t)l, tv);
}

/* Kinesis data: base64 of anything. Only data that can be a JSON object is decoded ('e' is
 * the first base64 digit of every byte from 'x' to '{'). */
void promote_read_base64_doc(struct actx *c, const struct decoder *d, enum which w, size_t off,
                             size_t end, struct tvals *tv)
{
    const struct nested_doc *nd = d->arg;
    const char *raw = c->base + off + 1;
    size_t n = end - off - 2;
    size_t len;
    char *buf;

    (void)w;
    if (!n || raw[0] != 'e' || memchr(raw, '\\', n) || !(buf = doc_buf(c, base64_decoded_max(n))))
        return;
    if (base64_decode(raw, n, 0, (uint8_t *)buf, &len) < 0 || !len || buf[0] != '{' ||
        !has_needles(buf, len, nd))
        return;
    scan_doc(c, nd, buf, len, tv);
}

/* ---- named values of small objects ---- */

/* The names a leaf scan looks for, and the tokens it found (the first of each name). */
#define FIELDS_MAX 8

struct fields {
    const char *const *names; /* NULL-terminated, at most FIELDS_MAX */
    const char *doc;
    bool found[FIELDS_MAX];
    char type[FIELDS_MAX];
    struct brange tok[FIELDS_MAX]; /* offsets into doc */
};

static int name_index(const char *const *names, const char *k, size_t n)
{
    for (int i = 0; names[i]; i++)
        if (strlen(names[i]) == n && memcmp(names[i], k, n) == 0)
            return i;
    return -1;
}

/* Only the members of the root object are live: their values are taken whole. */
static void fields_key(struct jscan *s, struct jscan_frame *parent, const char *raw, size_t n,
                       bool esc, struct jnode *child)
{
    struct fields *fl = s->user;
    int i = esc || parent->node.seg != 0 ? -1 : name_index(fl->names, raw, n);

    memset(child, 0, sizeof(*child));
    child->seg = (uint8_t)(parent->node.seg + 1);
    if (i < 0)
        return;
    child->live = true;
    child->which = (uint8_t)i;
}

static void fields_elem(struct jscan *s, struct jscan_frame *parent, unsigned idx,
                        struct jnode *child)
{
    (void)s, (void)parent, (void)idx;
    memset(child, 0, sizeof(*child));
}

static void fields_value(struct jscan *s, struct jscan_frame *parent, const struct jnode *node,
                         char type, size_t off, size_t end, struct jscan_frame *f)
{
    struct fields *fl = s->user;

    (void)f;
    if (!parent || node->seg != 1 || fl->found[node->which])
        return;
    fl->found[node->which] = true;
    fl->type[node->which] = type;
    fl->tok[node->which].off = off;
    fl->tok[node->which].end = end;
}

static const struct jscan_hooks FIELDS_HOOKS = {fields_key, fields_elem, NULL, fields_value, 0};

/* Finds the members named fl->names of the object doc[0..n). false if it is not one. */
static bool fields_scan(struct actx *c, const char *doc, size_t n, struct fields *fl)
{
    fl->doc = doc;
    memset(fl->found, 0, sizeof(fl->found));
    return n && doc[0] == '{' && promote_scan_leaf(c, doc, n, &FIELDS_HOOKS, fl) == 0;
}

/* The JSON string field i, decoded into out (cap bytes incl. NUL); false if it is missing,
 * not a string, too long, or holds a control byte. */
static bool field_str(const struct fields *fl, int i, char *out, size_t cap, size_t *len)
{
    long l;

    if (!fl->found[i] || fl->type[i] != '"')
        return false;
    l = json_unescape(fl->doc + fl->tok[i].off + 1, fl->tok[i].end - fl->tok[i].off - 2, out, cap);
    if (l < 0)
        return false;
    for (long j = 0; j < l; j++)
        if ((unsigned char)out[j] < 0x20)
            return false;
    *len = (size_t)l;
    return true;
}

/* ---- trace headers by name ---- */

/* The headers a Kafka record or a Datadog carrier may hold. */
enum hdr { H_TP, H_TS, H_DD_TID, H_DD_PID, H_DD_PRIO, H_DD_TAGS, H_N };
static const char *const HDR_NAMES[H_N + 1] = {
    "traceparent",
    "tracestate",
    "x-datadog-trace-id",
    "x-datadog-parent-id",
    "x-datadog-sampling-priority",
    "x-datadog-tags",
    NULL,
};
#define HDR_MAX 512

struct hdrs {
    bool ok[H_N];
    size_t n[H_N];
    char v[H_N][HDR_MAX + 1];
};

/* Printable ASCII only: a trace header with anything else is not one. */
static bool ascii_ok(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e)
            return false;
    return true;
}

static void hdr_put(struct hdrs *h, int i, const char *v, size_t n)
{
    if (i < 0 || h->ok[i] || n > HDR_MAX || !ascii_ok(v, n))
        return;
    memcpy(h->v[i], v, n);
    h->v[i][n] = '\0';
    h->n[i] = n;
    h->ok[i] = true;
}

/* ---- Kafka header bytes ---- */
/* A Kafka record's headers: an array (or index-keyed object) of one-member objects, the
 * member's value the header's bytes as an array of numbers or decimal strings, an index-keyed
 * object of those, or a base64 string. Levels of the leaf scan, in jnode.seg: 0 the headers,
 * 1 one header object, 2 its value, 3 one byte. */
struct kafka_scan {
    struct hdrs *h;
    const char *doc;
    char bytes[HDR_MAX + 1];
    size_t len;
    bool bad;
};

/* A byte written as a JSON number or decimal string: -128..255, signed bytes taken mod 256. */
static bool byte_of(const char *p, size_t n, uint8_t *out)
{
    bool neg = n && p[0] == '-';
    unsigned v = 0;
    size_t i = neg;

    if (i >= n || n - i > 3)
        return false;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    if (neg ? v > 128 : v > 255)
        return false;
    *out = (uint8_t)(neg ? 256 - v : v);
    return true;
}

/* Is raw[0..n) the decimal index idx? (index-keyed objects must count 0, 1, 2, ...) */
static bool is_index(const char *raw, size_t n, unsigned idx)
{
    char d[16];
    int l = snprintf(d, sizeof(d), "%u", idx);

    return l > 0 && (size_t)l == n && memcmp(d, raw, n) == 0;
}

static void kafka_key(struct jscan *s, struct jscan_frame *parent, const char *raw, size_t n,
                      bool esc, struct jnode *child)
{
    struct kafka_scan *k = s->user;
    unsigned lvl = parent->node.seg;
    int i;

    memset(child, 0, sizeof(*child));
    child->seg = (uint8_t)(lvl + 1);
    if (lvl == 0 || lvl == 2) { /* index-keyed headers or bytes */
        child->live = !esc && is_index(raw, n, parent->count - 1);
        child->which = parent->node.which;
        if (lvl == 2 && !child->live)
            k->bad = true;
        return;
    }
    i = lvl == 1 && !esc ? name_index(HDR_NAMES, raw, n) : -1;
    child->live = i >= 0;
    child->which = (uint8_t)i;
}

static void kafka_elem(struct jscan *s, struct jscan_frame *parent, unsigned idx,
                       struct jnode *child)
{
    unsigned lvl = parent->node.seg;

    (void)s, (void)idx;
    memset(child, 0, sizeof(*child));
    child->seg = (uint8_t)(lvl + 1);
    child->live = lvl == 0 || lvl == 2;
    child->which = parent->node.which;
}

static void kafka_open(struct jscan *s, struct jscan_frame *parent, struct jscan_frame *f)
{
    struct kafka_scan *k = s->user;

    (void)parent;
    if (f->node.seg == 2) {
        k->len = 0;
        k->bad = false;
    }
}

/* A header value as a string: base64 of the bytes, or the text itself. */
static void kafka_string(struct kafka_scan *k, int which, const char *raw, size_t n)
{
    uint8_t b[HDR_MAX + 3];
    size_t len;

    if (memchr(raw, '\\', n))
        return;
    if (base64_decoded_max(n) <= sizeof(b) && base64_decode(raw, n, 0, b, &len) == 0 &&
        ascii_ok((const char *)b, len)) {
        hdr_put(k->h, which, (const char *)b, len);
        return;
    }
    hdr_put(k->h, which, raw, n);
}

static void kafka_value(struct jscan *s, struct jscan_frame *parent, const struct jnode *node,
                        char type, size_t off, size_t end, struct jscan_frame *f)
{
    struct kafka_scan *k = s->user;
    const char *p = k->doc + off;
    size_t n = end - off;
    uint8_t b;

    (void)parent, (void)f;
    if (node->seg == 3) { /* one byte: a number, or a decimal string */
        if (type == '"') {
            p++;
            n -= 2;
        }
        if ((type != 'n' && type != '"') || k->len == HDR_MAX || !byte_of(p, n, &b))
            k->bad = true;
        else
            k->bytes[k->len++] = (char)b;
    } else if (node->seg == 2 && type == '"') {
        kafka_string(k, node->which, p + 1, end - off - 2);
    } else if (node->seg == 2 && (type == '[' || type == '{') && !k->bad) {
        hdr_put(k->h, node->which, k->bytes, k->len);
    }
}

static const struct jscan_hooks KAFKA_HOOKS = {kafka_key, kafka_elem, kafka_open, kafka_value, 0};

/* Decodes the headers value [off, end) of c->base into h. false if it is not valid JSON. */
static bool kafka_headers(struct actx *c, size_t off, size_t end, struct hdrs *h)
{
    struct kafka_scan k;

    memset(h->ok, 0, sizeof(h->ok));
    k.h = h;
    k.doc = c->base + off;
    k.len = 0;
    k.bad = false;
    return promote_scan_leaf(c, c->base + off, end - off, &KAFKA_HOOKS, &k) == 0;
}

/* ---- Datadog ---- */

/* A 64-bit id in decimal: digits only, no sign, fits, not zero. */
static bool dd_id(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;

    if (!n || n > 20)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return v != 0;
}

/* The sampling priority: an integer, usually -1, 0, 1 or 2. */
static bool dd_priority(const char *s, size_t n, long *out)
{
    bool neg = n && s[0] == '-';
    uint64_t v;

    if (neg ? n == 1 : !n)
        return false;
    if (n - neg == 1 && s[neg] == '0') {
        *out = 0;
        return true;
    }
    if (!dd_id(s + neg, n - neg, &v) || v > 1000)
        return false;
    *out = neg ? -(long)v : (long)v;
    return true;
}

/* _dd.p.tid in x-datadog-tags ("k=v,k=v"): the upper 64 bits of the trace id, 16 lower-case
 * hex digits; absent is 0. false when present and malformed. */
static bool dd_tid_high(const struct hdrs *h, uint8_t hi[8])
{
    const char *p = h->v[H_DD_TAGS];
    const char *end;

    memset(hi, 0, 8);
    if (!h->ok[H_DD_TAGS])
        return true;
    end = p + h->n[H_DD_TAGS];
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        size_t n = comma ? (size_t)(comma - p) : (size_t)(end - p);
        if (n > 10 && memcmp(p, "_dd.p.tid=", 10) == 0)
            return n == 26 && hex_decode_lower(p + 10, 16, hi);
        p += n + 1;
    }
    return true;
}

static void put_u64(uint8_t *out, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        out[i] = (uint8_t)v;
}

/* A Datadog carrier as a W3C context: its traceparent, else its ids converted. */
static bool dd_ctx(const struct hdrs *h, struct trace_ctx *out)
{
    uint64_t tid, pid;
    long prio = 0;

    if (h->ok[H_TP] && traceparent_parse(h->v[H_TP], h->n[H_TP], out))
        return true;
    if (!h->ok[H_DD_TID] || !h->ok[H_DD_PID] || !dd_id(h->v[H_DD_TID], h->n[H_DD_TID], &tid) ||
        !dd_id(h->v[H_DD_PID], h->n[H_DD_PID], &pid) || !dd_tid_high(h, out->trace_id))
        return false;
    if (h->ok[H_DD_PRIO] && !dd_priority(h->v[H_DD_PRIO], h->n[H_DD_PRIO], &prio))
        return false;
    put_u64(out->trace_id + 8, tid);
    put_u64(out->span_id, pid);
    out->flags = prio > 0 ? 1 : 0;
    return true;
}

/* A converted context is a fallback in its carrier: it goes where X-Ray values go. */
static void put_converted(struct tvals *tv, const struct trace_ctx *t)
{
    if (!tv->xray_ok) {
        tv->xray_ok = true;
        tv->xray = *t;
    }
}

/* A Datadog JSON object doc[0..n): its string members by header name. */
static void dd_read_doc(struct actx *c, const char *doc, size_t n, struct tvals *tv)
{
    struct fields fl;
    struct hdrs h;
    struct trace_ctx t;
    char v[HDR_MAX + 1];
    size_t len;

    fl.names = HDR_NAMES;
    if (!fields_scan(c, doc, n, &fl))
        return;
    memset(h.ok, 0, sizeof(h.ok));
    for (int i = 0; i < H_N; i++)
        if (field_str(&fl, i, v, sizeof(v), &len))
            hdr_put(&h, i, v, len);
    if (dd_ctx(&h, &t))
        put_converted(tv, &t);
}

static void read_dd_object(struct actx *c, const struct decoder *d, enum which w, size_t off,
                           size_t end, struct tvals *tv)
{
    (void)d, (void)w;
    dd_read_doc(c, c->base + off, end - off, tv);
}

/* The Datadog JSON as a JSON string token [off, end) of doc, or base64 of it. */
static void dd_from_token(struct actx *c, const char *doc, struct brange tok, bool b64,
                          struct tvals *tv)
{
    const char *raw = doc + tok.off + 1;
    size_t n = tok.end - tok.off - 2;
    size_t len;
    long l;

    if (b64) {
        if (base64_decoded_max(n) > sizeof(c->pl->dd_buf) ||
            base64_decode(raw, n, 0, (uint8_t *)c->pl->dd_buf, &len) < 0)
            return;
    } else {
        l = json_unescape(raw, n, c->pl->dd_buf, sizeof(c->pl->dd_buf));
        if (l < 0)
            return;
        len = (size_t)l;
    }
    dd_read_doc(c, c->pl->dd_buf, len, tv);
}

static void read_dd_json_string(struct actx *c, const struct decoder *d, enum which w, size_t off,
                                size_t end, struct tvals *tv)
{
    struct brange tok = {off, end};

    (void)d, (void)w;
    dd_from_token(c, c->base, tok, false, tv);
}

/* An SQS message attribute ({"dataType","stringValue"|"binaryValue"}, either casing) or an SNS
 * one ({"Type","Value"}) named _datadog. */
enum { A_SV, A_SV2, A_BV, A_BV2, A_VALUE, A_TYPE };
static const char *const ATTR_NAMES[] = {"stringValue", "StringValue", "binaryValue", "BinaryValue",
                                         "Value",       "Type",        NULL};

static void read_dd_attribute(struct actx *c, const struct decoder *d, enum which w, size_t off,
                              size_t end, struct tvals *tv)
{
    struct fields fl;
    char type[8];
    size_t tl;

    (void)d, (void)w;
    fl.names = ATTR_NAMES;
    if (!fields_scan(c, c->base + off, end - off, &fl))
        return;
    for (int i = A_SV; i <= A_BV2; i++)
        if (fl.found[i] && fl.type[i] == '"') {
            dd_from_token(c, fl.doc, fl.tok[i], i >= A_BV, tv);
            return;
        }
    if (fl.found[A_VALUE] && fl.type[A_VALUE] == '"')
        dd_from_token(c, fl.doc, fl.tok[A_VALUE],
                      field_str(&fl, A_TYPE, type, sizeof(type), &tl) && tl == 6 &&
                          memcmp(type, "Binary", 6) == 0,
                      tv);
}

/* ---- Kafka ---- */

/* A tracestate header goes with the traceparent: kept as a JSON string token in the plan
 * (companions are tokens, copied when their record ends), validated like any other. */
static void kafka_tracestate(struct actx *c, const struct hdrs *h, struct tvals *tv)
{
    char *ts = c->pl->kafka_ts;
    const char *saved = c->base;
    size_t n = h->ok[H_TS] ? h->n[H_TS] : 0;

    if (!n || n > TRACESTATE_MAX || memchr(h->v[H_TS], '"', n) || memchr(h->v[H_TS], '\\', n))
        return;
    ts[0] = '"';
    memcpy(ts + 1, h->v[H_TS], n);
    ts[n + 1] = '"';
    c->base = ts;
    promote_tvals_put(c, tv, W_TS, ts + 1, n, 0, n + 2);
    c->base = saved;
}

static void read_kafka(struct actx *c, const struct decoder *d, enum which w, size_t off,
                       size_t end, struct tvals *tv)
{
    struct hdrs h;

    (void)d, (void)w;
    if (kafka_headers(c, off, end, &h) && h.ok[H_TP] &&
        promote_tvals_put(c, tv, W_TP, h.v[H_TP], h.n[H_TP], off, end))
        kafka_tracestate(c, &h, tv);
}

static void read_kafka_datadog(struct actx *c, const struct decoder *d, enum which w, size_t off,
                               size_t end, struct tvals *tv)
{
    struct hdrs h;
    struct trace_ctx t;

    (void)d, (void)w;
    if (!kafka_headers(c, off, end, &h))
        return;
    h.ok[H_TP] = false; /* a W3C header is the Kafka carrier's */
    if (dd_ctx(&h, &t))
        put_converted(tv, &t);
}

/* ---- Step Functions ---- */
/* The ids of one execution, derived so that anyone can compute them (README "Step Functions"):
 *   trace-id  = SHA-256(execution ARN)[0..16)
 *   parent-id = SHA-256(ARN "\n" state name "\n" entered time "\n" retry count)[0..8)
 * with the JSON strings as decoded (UTF-8) and the retry count in decimal as written; an
 * all-zero id gets its last bit flipped. Sampled. */
#define SFN_STR_MAX 1024

struct sfn {
    char arn[SFN_STR_MAX], name[SFN_STR_MAX], entered[64], retry[24];
    size_t arn_n, name_n, entered_n, retry_n;
};

/* RetryCount: a non-negative integer as written (digits, no sign, no leading zero). */
static bool sfn_retry(const struct fields *fl, int i, struct sfn *x)
{
    size_t n = fl->tok[i].end - fl->tok[i].off;
    const char *p = fl->doc + fl->tok[i].off;

    if (!fl->found[i] || fl->type[i] != 'n' || !n || n >= sizeof(x->retry) ||
        (p[0] == '0' && n > 1))
        return false;
    for (size_t j = 0; j < n; j++)
        if (p[j] < '0' || p[j] > '9')
            return false;
    memcpy(x->retry, p, n);
    x->retry_n = n;
    return true;
}

static bool sfn_state(struct actx *c, struct sfn *x)
{
    static const char *const names[] = {"Name", "EnteredTime", "RetryCount", NULL};
    struct brange st = c->pl->sfn_state;
    struct fields fl;

    fl.names = names;
    return st.end > st.off && fields_scan(c, c->base + st.off, st.end - st.off, &fl) &&
           field_str(&fl, 0, x->name, sizeof(x->name), &x->name_n) &&
           field_str(&fl, 1, x->entered, sizeof(x->entered), &x->entered_n) && sfn_retry(&fl, 2, x);
}

static void nonzero(uint8_t *id, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (id[i])
            return;
    id[n - 1] ^= 1;
}

static void sfn_derive(const struct sfn *x, struct trace_ctx *t)
{
    uint8_t d[SHA256_LEN];
    struct sha256 s;

    sha256(x->arn, x->arn_n, d);
    memcpy(t->trace_id, d, 16);
    nonzero(t->trace_id, 16);
    sha256_init(&s);
    sha256_update(&s, x->arn, x->arn_n);
    sha256_update(&s, "\n", 1);
    sha256_update(&s, x->name, x->name_n);
    sha256_update(&s, "\n", 1);
    sha256_update(&s, x->entered, x->entered_n);
    sha256_update(&s, "\n", 1);
    sha256_update(&s, x->retry, x->retry_n);
    sha256_final(&s, d);
    memcpy(t->span_id, d, 8);
    nonzero(t->span_id, 8);
    t->flags = 1;
}

/* The Execution object [off, end) of the event, with the State object beside it. */
static void read_step_functions(struct actx *c, const struct decoder *d, enum which w, size_t off,
                                size_t end, struct tvals *tv)
{
    static const char *const names[] = {"Id", NULL};
    struct fields fl;
    struct sfn x;
    struct trace_ctx t;

    (void)d, (void)w;
    fl.names = names;
    if (c->into || !fields_scan(c, c->base + off, end - off, &fl) ||
        !field_str(&fl, 0, x.arn, sizeof(x.arn), &x.arn_n) || x.arn_n < 16 ||
        memcmp(x.arn, "arn:", 4) != 0 || !strstr(x.arn, ":states:") || !sfn_state(c, &x))
        return;
    sfn_derive(&x, &t);
    put_converted(tv, &t);
}

/* ---- the decoders ---- */

const struct decoder KAFKA_HEADERS = {"kafka headers", 0, READ_NOW, read_kafka, NULL};
/* Datadog values are fallbacks: read when no W3C context is found in their record */
const struct decoder KAFKA_DATADOG_HEADERS = {"kafka x-datadog headers", 0, READ_LATER_FIRST,
                                              read_kafka_datadog, NULL};
const struct decoder DATADOG_ATTRIBUTE = {"datadog message attribute", '{', READ_LATER_FIRST,
                                          read_dd_attribute, NULL};
const struct decoder DATADOG_OBJECT = {"datadog object", '{', READ_LATER_FIRST, read_dd_object,
                                       NULL};
const struct decoder DATADOG_JSON_STRING = {"datadog json string", '"', READ_LATER_FIRST,
                                            read_dd_json_string, NULL};
const struct decoder STEP_FUNCTIONS = {"step functions context", '{', READ_LATER_LAST,
                                       read_step_functions, NULL};
