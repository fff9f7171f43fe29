/* SPDX-License-Identifier: Apache-2.0 */
/* promote: the analysis half. One jscan pass over the event marks the few containers that can
 * carry or receive context (Records[], headers, detail, ...); hooks capture carrier values,
 * validate them at once, and remember the byte spans promote_apply() may splice. */
#include "proxy/promote/promote.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/promote/internal.h"

/* A node is a kind (what the container/value is) and a `which` (enum which) for trace values. */
#define NODE(k, w) ((int)((k) << 4 | (w)))
#define NK(n)      ((n) >> 4)
#define NW(n)      ((enum which)((n)&15))

enum kind {
    K_ROOT = 1,
    K_RES,
    K_HEADERS,
    K_MVH,
    K_HDR,
    K_MVH_ARR,
    K_MVH_V,
    K_RECORDS,
    K_RECORD,
    K_REC_SOURCE,
    K_REC_ARN,
    K_REC_MSGID,
    K_MA,
    K_MA_ATTR,
    K_MA_V,
    K_ATTRS,
    K_AWSTRACE,
    K_BODY,
    K_SNS,
    K_SNS_TOPIC,
    K_SNS_MSGID,
    K_SA,
    K_SA_ATTR,
    K_SA_V,
    K_DETAIL_TYPE,
    K_SOURCE,
    K_DETAIL,
    K_DET_V,
    K_DET_RES,
    K_RESOURCES,
    K_RESOURCE0,
    K_HTTP_METHOD,
    K_RESOURCE,
    K_PATH,
    K_REQCTX,
    K_DOMAIN,
    K_ELB,
    K_RC_HTTP,
    K_RC_HTTP_METHOD,
    K_VERSION,
    K_ROUTE_KEY,
    K_RAW_PATH,
    K_ENV_ROOT,
    K_CC_ROOT,
    K_CUSTOM,
    K_CUSTOM_V,
};

struct actx {
    struct plan *pl;
    struct promote_analysis *a;
    struct mapset *ms;
    const char *base;
    unsigned rec_idx;
    char rc_method[16];
    char route_key[PROMOTE_NAME_MAX];
    char source[PROMOTE_NAME_MAX];
    char resource0[PROMOTE_NAME_MAX];
    char msgid0[PROMOTE_ID_MAX];
};

bool plan_key_ieq(const char *k, size_t n, const char *name)
{
    size_t l = strlen(name);

    if (n != l)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = k[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        if (c != name[i])
            return false;
    }
    return true;
}

static bool key_eq(const char *k, size_t n, const char *name)
{
    return n == strlen(name) && memcmp(k, name, n) == 0;
}

/* tp/ts/bg by name, case-insensitively; -1 when none. */
static int trio_ci(const char *k, size_t n)
{
    if (plan_key_ieq(k, n, "traceparent"))
        return W_TP;
    if (plan_key_ieq(k, n, "tracestate"))
        return W_TS;
    if (plan_key_ieq(k, n, "baggage"))
        return W_BG;
    return -1;
}

static int trio_exact(const char *k, size_t n)
{
    if (key_eq(k, n, "traceparent"))
        return W_TP;
    if (key_eq(k, n, "tracestate"))
        return W_TS;
    if (key_eq(k, n, "baggage"))
        return W_BG;
    return -1;
}

static int reserved(const char *k, size_t n)
{
    if (key_eq(k, n, "__traceparent__"))
        return W_RES_TP;
    if (key_eq(k, n, "__tracestate__"))
        return W_RES_TS;
    if (key_eq(k, n, "__baggage__"))
        return W_RES_BG;
    return -1;
}

/* ---- maps and members (the edit targets) ---- */

static int frame_map(const struct jscan_frame *f)
{
    return (f->user & 0xff) - 1;
}

static void open_map(struct jscan *s, struct jscan_frame *f, enum map_kind kind)
{
    struct actx *c = s->user;
    struct mapset *ms = c->ms;
    struct map *m;

    if (ms->n_maps == PLAN_MAX_MAPS) {
        s->abort = "too many header objects to edit safely";
        return;
    }
    m = &ms->maps[ms->n_maps++];
    memset(m, 0, sizeof(*m));
    m->kind = kind;
    m->open = f->off;
    f->user = (int)ms->n_maps;
}

static void add_member(struct jscan *s, struct jscan_frame *f, enum which w, bool exact,
                       size_t key_off)
{
    struct actx *c = s->user;
    struct mapset *ms = c->ms;
    int mi = frame_map(f);
    struct member *m;

    if (mi < 0)
        return;
    if (ms->n_mem == PLAN_MAX_MEMBERS) {
        s->abort = "too many trace members to edit safely";
        return;
    }
    m = &ms->mem[ms->n_mem];
    memset(m, 0, sizeof(*m));
    m->map = (unsigned)mi;
    m->idx = f->count - 1;
    m->which = w;
    m->exact_lower = exact;
    m->key_off = key_off;
    /* the member whose value comes next: remembered in the frame's spare bits */
    f->user = (f->user & 0xff) | (int)(ms->n_mem + 1) << 8;
    ms->n_mem++;
}

static struct member *pending_member(struct actx *c, struct jscan_frame *parent)
{
    int pm;

    if (!parent)
        return NULL;
    pm = (parent->user >> 8) - 1;
    if (pm < 0)
        return NULL;
    parent->user &= 0xff;
    return &c->ms->mem[pm];
}

/* ---- keys ---- */

static int key_root(struct jscan *s, struct jscan_frame *f, const char *k, size_t n, size_t off)
{
    int w = reserved(k, n);

    if (w >= 0) {
        add_member(s, f, (enum which)w, true, off);
        return NODE(K_RES, w);
    }
    if (key_eq(k, n, "headers")) {
        add_member(s, f, W_HEADERS, true, off);
        return NODE(K_HEADERS, 0);
    }
    if (key_eq(k, n, "multiValueHeaders")) {
        add_member(s, f, W_MVH, true, off);
        return NODE(K_MVH, 0);
    }
    static const struct {
        const char *name;
        int kind;
    } tab[] = {
        {"Records", K_RECORDS},        {"Messages", K_RECORDS},  {"detail-type", K_DETAIL_TYPE},
        {"source", K_SOURCE},          {"detail", K_DETAIL},     {"resources", K_RESOURCES},
        {"httpMethod", K_HTTP_METHOD}, {"resource", K_RESOURCE}, {"path", K_PATH},
        {"requestContext", K_REQCTX},  {"version", K_VERSION},   {"routeKey", K_ROUTE_KEY},
        {"rawPath", K_RAW_PATH},
    };
    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
        if (key_eq(k, n, tab[i].name))
            return NODE(tab[i].kind, 0);
    return 0;
}

static int key_record(const char *k, size_t n)
{
    if (key_eq(k, n, "eventSource") || key_eq(k, n, "EventSource"))
        return NODE(K_REC_SOURCE, 0);
    if (key_eq(k, n, "eventSourceARN"))
        return NODE(K_REC_ARN, 0);
    if (key_eq(k, n, "messageId") || key_eq(k, n, "MessageId"))
        return NODE(K_REC_MSGID, 0);
    if (key_eq(k, n, "messageAttributes") || key_eq(k, n, "MessageAttributes"))
        return NODE(K_MA, 0);
    if (key_eq(k, n, "attributes") || key_eq(k, n, "Attributes"))
        return NODE(K_ATTRS, 0);
    if (key_eq(k, n, "body") || key_eq(k, n, "Body"))
        return NODE(K_BODY, 0);
    if (key_eq(k, n, "Sns"))
        return NODE(K_SNS, 0);
    return 0;
}

static int key_misc(struct jscan *s, struct jscan_frame *f, const char *k, size_t n, size_t off)
{
    int w;

    switch (NK(f->node)) {
    case K_MA:
        w = trio_exact(k, n);
        return w < 0 ? 0 : NODE(K_MA_ATTR, w);
    case K_MA_ATTR:
        return key_eq(k, n, "stringValue") || key_eq(k, n, "StringValue")
                   ? NODE(K_MA_V, NW(f->node))
                   : 0;
    case K_ATTRS:
        return key_eq(k, n, "AWSTraceHeader") ? NODE(K_AWSTRACE, 0) : 0;
    case K_SNS:
    case K_ENV_ROOT:
        if (key_eq(k, n, "MessageAttributes"))
            return NODE(K_SA, 0);
        if (key_eq(k, n, "TopicArn"))
            return NODE(K_SNS_TOPIC, 0);
        return key_eq(k, n, "MessageId") ? NODE(K_SNS_MSGID, 0) : 0;
    case K_SA:
        w = trio_exact(k, n);
        return w < 0 ? 0 : NODE(K_SA_ATTR, w);
    case K_SA_ATTR:
        return key_eq(k, n, "Value") ? NODE(K_SA_V, NW(f->node)) : 0;
    case K_DETAIL:
        w = reserved(k, n);
        if (w >= 0) {
            add_member(s, f, (enum which)w, true, off);
            return NODE(K_DET_RES, w);
        }
        w = trio_exact(k, n);
        return w < 0 ? 0 : NODE(K_DET_V, w);
    case K_REQCTX:
        if (key_eq(k, n, "domainName"))
            return NODE(K_DOMAIN, 0);
        if (key_eq(k, n, "elb"))
            return NODE(K_ELB, 0);
        return key_eq(k, n, "http") ? NODE(K_RC_HTTP, 0) : 0;
    case K_RC_HTTP:
        return key_eq(k, n, "method") ? NODE(K_RC_HTTP_METHOD, 0) : 0;
    default:
        return 0;
    }
}

static int key_trio_map(struct jscan *s, struct jscan_frame *f, const char *k, size_t n, size_t off,
                        int kind)
{
    int w = trio_ci(k, n);

    if (w < 0) {
        if (kind == K_HDR && plan_key_ieq(k, n, "x-amzn-trace-id"))
            return NODE(K_HDR, W_XRAY);
        return 0;
    }
    add_member(s, f, (enum which)w, trio_exact(k, n) == w, off);
    return NODE(kind, w);
}

static int on_key(struct jscan *s, struct jscan_frame *f, const char *raw, size_t n, bool esc,
                  size_t off)
{
    struct actx *c = s->user;
    char kb[64];
    const char *k = raw;

    if (esc) {
        long l = json_unescape(raw, n, kb, sizeof(kb));
        if (l < 0)
            return 0; /* long escaped keys are never ones we look for */
        k = kb;
        n = (size_t)l;
    }
    switch (NK(f->node)) {
    case K_ROOT:
        return key_root(s, f, k, n, off);
    case K_RECORD:
        return key_record(k, n);
    case K_HEADERS:
        return key_trio_map(s, f, k, n, off, K_HDR);
    case K_MVH:
        return key_trio_map(s, f, k, n, off, K_MVH_ARR);
    case K_CC_ROOT:
        if (!key_eq(k, n, "custom"))
            return 0;
        add_member(s, f, W_CUSTOM, true, off);
        return NODE(K_CUSTOM, 0);
    case K_CUSTOM:
        return key_trio_map(s, f, k, n, off, K_CUSTOM_V);
    default:
        (void)c;
        return key_misc(s, f, k, n, off);
    }
}

static int on_elem(struct jscan *s, struct jscan_frame *f, unsigned idx)
{
    struct actx *c = s->user;

    switch (NK(f->node)) {
    case K_RECORDS:
        c->rec_idx = idx;
        return NODE(K_RECORD, 0);
    case K_MVH_ARR:
        return idx == 0 ? NODE(K_MVH_V, NW(f->node)) : 0;
    case K_RESOURCES:
        return idx == 0 ? NODE(K_RESOURCE0, 0) : 0;
    default:
        return 0;
    }
}

static void on_open(struct jscan *s, struct jscan_frame *parent, struct jscan_frame *f)
{
    (void)parent;
    if (!f->is_obj)
        return;
    switch (NK(f->node)) {
    case K_ROOT:
        open_map(s, f, MAP_ROOT);
        break;
    case K_DETAIL:
        open_map(s, f, MAP_DETAIL);
        break;
    case K_HEADERS:
        open_map(s, f, MAP_HEADERS);
        break;
    case K_MVH:
        open_map(s, f, MAP_MVH);
        break;
    case K_CC_ROOT:
        open_map(s, f, MAP_CC_ROOT);
        break;
    case K_CUSTOM:
        open_map(s, f, MAP_CUSTOM);
        break;
    default:
        break;
    }
}

/* ---- values ---- */

/* The decoded value of the string token [off, end): points into the event when it has no
 * escapes, else into pl->tmp. NULL when too long to be a trace value. */
static const char *str_value(struct actx *c, size_t off, size_t end, size_t *len)
{
    const char *raw = c->base + off + 1;
    size_t n = end - off - 2;
    long l;

    if (!memchr(raw, '\\', n)) {
        *len = n;
        return raw;
    }
    l = json_unescape(raw, n, c->pl->tmp, sizeof(c->pl->tmp));
    if (l < 0)
        return NULL;
    *len = (size_t)l;
    return c->pl->tmp;
}

/* Copies an informational string: truncated, control bytes dropped. */
static void copy_info(struct actx *c, size_t off, size_t end, char *dst, size_t cap)
{
    const char *raw = c->base + off + 1;
    size_t n = end - off - 2;
    size_t o = 0;
    char tmp[PROMOTE_NAME_MAX * 2];
    long l;

    if (n > sizeof(tmp) - 1)
        n = sizeof(tmp) - 1;
    /* a cut escape makes json_unescape fail: then fall back to the raw bytes */
    l = json_unescape(raw, n, tmp, sizeof(tmp));
    if (l >= 0) {
        raw = tmp;
        n = (size_t)l;
    }
    for (size_t i = 0; i < n && o + 1 < cap; i++)
        if ((unsigned char)raw[i] >= 0x20 && raw[i] != 0x7f)
            dst[o++] = raw[i];
    dst[o] = '\0';
}

/* A reserved traceparent that is stripped without being used: the first one is reported. */
static void note_reserved_invalid(struct actx *c, const char *v, size_t n)
{
    struct promote_analysis *a = c->a;

    if (a->reserved_invalid)
        return;
    a->reserved_invalid = v ? traceparent_problem(v, n) : "not a JSON string";
    traceparent_safe_prefix(v ? v : "", v ? n : 0, a->reserved_prefix);
}

/* Validates and keeps a carrier value (first valid one wins). true if it was valid. */
static bool capture(struct actx *c, struct tvals *tv, enum which w, size_t off, size_t end)
{
    size_t n;
    const char *v = str_value(c, off, end, &n);

    if (!v)
        return false;
    switch (w) {
    case W_TP:
    case W_RES_TP: {
        struct trace_ctx t;
        if (!traceparent_parse(v, n, &t)) {
            if (w == W_RES_TP)
                note_reserved_invalid(c, v, n);
            return false;
        }
        if (!tv->tp_ok) {
            tv->tp_ok = true;
            tv->tp = t;
        }
        return true;
    }
    case W_TS:
    case W_RES_TS:
        if (tv->ts[0])
            return true;
        return tracestate_sanitize(v, n, tv->ts, sizeof(tv->ts));
    case W_BG:
    case W_RES_BG:
        if (tv->bg[0])
            return true;
        return baggage_sanitize(v, n, tv->bg, sizeof(tv->bg));
    case W_XRAY: {
        struct trace_ctx t;
        if (!xray_parse(v, n, &t))
            return false;
        if (!tv->xray_ok) {
            tv->xray_ok = true;
            tv->xray = t;
        }
        return true;
    }
    default:
        return false;
    }
}

static void tv_reset(struct tvals *tv)
{
    tv->tp_ok = false;
    tv->xray_ok = false;
    tv->ts[0] = '\0';
    tv->bg[0] = '\0';
}

static void rec_reset(struct rec *r)
{
    tv_reset(&r->ma);
    tv_reset(&r->sa);
    tv_reset(&r->env);
    r->aws_ok = false;
    r->msgid[0] = '\0';
    r->has_body = false;
}

static void close_map(struct jscan_frame *f, struct actx *c, size_t end)
{
    int mi = frame_map(f);

    if (mi < 0)
        return;
    c->ms->maps[mi].close = end;
    c->ms->maps[mi].n_members = f->count;
    c->ms->maps[mi].closed = true;
}

static void header_value(struct actx *c, struct member *m, enum which w, char type, size_t off,
                         size_t end)
{
    struct plan *pl = c->pl;
    bool valid;

    if (type != '"')
        return;
    valid = capture(c, &pl->http, w, off, end);
    if (!m || w != W_TP || !m->exact_lower || !valid)
        return;
    m->valid = true;
    if (!pl->keep_ok) {
        size_t n;
        const char *v = str_value(c, off, end, &n);
        pl->keep_ok = v && traceparent_parse(v, n, &pl->keep);
    }
}

static void holder_value(struct actx *c, struct member *m, char type, size_t off, size_t end)
{
    struct mapset *ms = c->ms;

    (void)m;
    if (type == '0' && ms->n_nulls < PLAN_MAX_NULLS) {
        ms->nulls[ms->n_nulls].off = off;
        ms->nulls[ms->n_nulls].end = end;
        ms->n_nulls++;
    } else if (type != '{') {
        ms->other = true;
    }
}

static void add_link(struct actx *c, const struct trace_ctx *t, const char *ts, const char *msgid)
{
    struct promote_analysis *a = c->a;
    struct promote_link *l;

    if (a->n_links == PROMOTE_MAX_LINKS) {
        a->links_dropped++;
        return;
    }
    l = &a->links[a->n_links++];
    l->ctx = *t;
    memcpy(l->message_id, msgid, strlen(msgid) + 1);
    memcpy(l->tracestate, ts, strlen(ts) + 1);
}

static bool body_is_json_object(const char *raw, size_t n)
{
    size_t i = 0;

    while (i < n && (raw[i] == ' ' || raw[i] == '\t'))
        i++;
    return i < n && raw[i] == '{';
}

/* SNS -> SQS without raw delivery: the SQS body is the SNS envelope as a JSON string. */
static void try_envelope(struct jscan *outer, struct actx *c)
{
    struct plan *pl = c->pl;
    struct rec *r = &pl->rec;
    const char *raw = c->base + r->body_off + 1;
    size_t n = r->body_end - r->body_off - 2;
    struct jscan in;
    const char *why;
    const char *saved = c->base;
    long l;

    if (!r->body_esc || n > PLAN_BODY_MAX || !body_is_json_object(raw, n) ||
        !memmem(raw, n, "TopicArn", 8) || !memmem(raw, n, "MessageAttributes", 17))
        return;
    if (!pl->body_buf && !(pl->body_buf = malloc(PLAN_BODY_MAX + 1)))
        return;
    l = json_unescape(raw, n, pl->body_buf, PLAN_BODY_MAX + 1);
    if (l < 0)
        return;
    memset(&in, 0, sizeof(in));
    in.p = pl->body_buf;
    in.n = (size_t)l;
    in.h = outer->h;
    in.user = c;
    in.max_depth = PROMOTE_MAX_DEPTH;
    in.stack = pl->stack2;
    pl->sa_dst = &r->env;
    c->base = pl->body_buf;
    if (jscan_run(&in, NODE(K_ENV_ROOT, 0), &why) < 0)
        tv_reset(&r->env);
    c->base = saved;
    pl->sa_dst = &r->sa;
}

static void record_done(struct jscan *s, struct actx *c)
{
    struct plan *pl = c->pl;
    struct rec *r = &pl->rec;
    const struct tvals *tv = NULL;
    enum promote_carrier car = CARRIER_NONE;
    struct trace_ctx t;

    if (!r->ma.tp_ok && !r->sa.tp_ok && r->has_body)
        try_envelope(s, c);
    if (r->ma.tp_ok) {
        tv = &r->ma;
        car = CARRIER_SQS_ATTRIBUTES;
    } else if (r->sa.tp_ok) {
        tv = &r->sa;
        car = CARRIER_SNS;
    } else if (r->env.tp_ok) {
        tv = &r->env;
        car = CARRIER_SQS_SNS;
    } else if (r->aws_ok) {
        car = CARRIER_SQS_XRAY;
    }
    if (c->rec_idx == 0)
        memcpy(c->msgid0, r->msgid, sizeof(c->msgid0));
    if (car != CARRIER_NONE) {
        t = tv ? tv->tp : r->aws;
        add_link(c, &t, tv ? tv->ts : "", r->msgid);
        if (!pl->rec_found) {
            pl->rec_found = true;
            pl->first_ctx = t;
            memcpy(pl->first_ts, tv ? tv->ts : "", tv ? strlen(tv->ts) + 1 : 1);
            memcpy(pl->first_bg, tv ? tv->bg : "", tv ? strlen(tv->bg) + 1 : 1);
            pl->first_carrier = car;
        } else if (memcmp(t.trace_id, pl->first_ctx.trace_id, 16) != 0) {
            c->a->records_disagree = true;
        }
    }
    rec_reset(r);
}

static void record_value(struct jscan *s, struct actx *c, int node, char type, size_t off,
                         size_t end)
{
    struct plan *pl = c->pl;
    struct rec *r = &pl->rec;
    bool first = c->rec_idx == 0;

    if (NK(node) == K_RECORD) {
        if (type == '{')
            record_done(s, c);
        return;
    }
    if (type != '"')
        return; /* every record field we read is a string */
    switch (NK(node)) {
    case K_RECORD:
        record_done(s, c);
        break;
    case K_REC_SOURCE:
        if (first)
            copy_info(c, off, end, pl->rec0_source, sizeof(pl->rec0_source));
        break;
    case K_REC_ARN:
        if (first)
            copy_info(c, off, end, c->a->info.source_arn, sizeof(c->a->info.source_arn));
        break;
    case K_REC_MSGID:
        copy_info(c, off, end, r->msgid, sizeof(r->msgid));
        break;
    case K_SNS_MSGID:
        if (!r->msgid[0])
            copy_info(c, off, end, r->msgid, sizeof(r->msgid));
        break;
    case K_SNS_TOPIC:
        if (first && c->base != pl->body_buf)
            copy_info(c, off, end, c->a->info.source_arn, sizeof(c->a->info.source_arn));
        break;
    case K_MA_V:
        capture(c, &r->ma, NW(node), off, end);
        break;
    case K_SA_V:
        capture(c, pl->sa_dst, NW(node), off, end);
        break;
    case K_AWSTRACE: {
        size_t n;
        const char *v = str_value(c, off, end, &n);
        if (v && !r->aws_ok)
            r->aws_ok = xray_parse(v, n, &r->aws);
        break;
    }
    case K_BODY:
        r->has_body = true;
        r->body_off = off;
        r->body_end = end;
        r->body_esc = memchr(c->base + off, '\\', end - off) != NULL;
        break;
    default:
        break;
    }
}

static void shape_value(struct actx *c, int node, char type, size_t off, size_t end)
{
    struct plan *pl = c->pl;
    struct promote_event_info *info = &c->a->info;
    bool str = type == '"';

    switch (NK(node)) {
    case K_DETAIL_TYPE:
        pl->has_detail_type = true;
        break;
    case K_SOURCE:
        pl->has_source = str;
        if (str)
            copy_info(c, off, end, c->source, sizeof(c->source));
        break;
    case K_DETAIL:
        pl->has_detail = true;
        break;
    case K_RESOURCE0:
        if (str)
            copy_info(c, off, end, c->resource0, sizeof(c->resource0));
        break;
    case K_HTTP_METHOD:
        pl->has_http_method = str;
        if (str)
            copy_info(c, off, end, info->http_method, sizeof(info->http_method));
        break;
    case K_RESOURCE:
        pl->has_resource = str;
        if (str)
            copy_info(c, off, end, info->http_route, sizeof(info->http_route));
        break;
    case K_PATH:
        if (str)
            copy_info(c, off, end, pl->path, sizeof(pl->path));
        break;
    case K_REQCTX:
        pl->has_reqctx = type == '{';
        break;
    case K_DOMAIN: {
        char d[PROMOTE_NAME_MAX];
        if (str) {
            copy_info(c, off, end, d, sizeof(d));
            pl->lambda_url = strstr(d, ".lambda-url.") != NULL;
        }
        break;
    }
    case K_ELB:
        pl->elb = true;
        break;
    case K_RC_HTTP_METHOD:
        if (str)
            copy_info(c, off, end, c->rc_method, sizeof(c->rc_method));
        break;
    case K_VERSION:
        pl->version2 = str && end - off == 5 && memcmp(c->base + off, "\"2.0\"", 5) == 0;
        break;
    case K_ROUTE_KEY:
        pl->has_route_key = str;
        if (str)
            copy_info(c, off, end, c->route_key, sizeof(c->route_key));
        break;
    case K_RAW_PATH:
        if (str)
            copy_info(c, off, end, pl->raw_path, sizeof(pl->raw_path));
        break;
    default:
        break;
    }
}

static void on_value(struct jscan *s, struct jscan_frame *parent, int node, char type, size_t off,
                     size_t end, struct jscan_frame *f)
{
    struct actx *c = s->user;
    struct plan *pl = c->pl;
    struct member *m = pending_member(c, parent);

    if (m) {
        m->val_off = off;
        m->val_end = end;
        m->vtype = type;
    }
    if (f)
        close_map(f, c, end);
    switch (NK(node)) {
    case K_ROOT:
        c->a->json_object = type == '{';
        break;
    case K_RES:
        if (type == '"')
            capture(c, &pl->direct, NW(node), off, end);
        else if (NW(node) == W_RES_TP)
            note_reserved_invalid(c, NULL, 0);
        break;
    case K_DET_RES:
    case K_DET_V:
        if (type == '"')
            capture(c, &pl->detail, NW(node), off, end);
        else if (NK(node) == K_DET_RES && NW(node) == W_RES_TP)
            note_reserved_invalid(c, NULL, 0);
        break;
    case K_HEADERS:
    case K_CUSTOM:
        holder_value(c, m, type, off, end);
        break;
    case K_HDR:
    case K_CUSTOM_V:
        if (pl)
            header_value(c, m, NW(node), type, off, end);
        break;
    case K_MVH_V:
        if (type == '"')
            capture(c, &pl->http, NW(node), off, end);
        break;
    case K_RECORDS:
        c->a->info.record_count = f ? f->count : 0;
        break;
    default:
        if (!pl)
            break; /* client-context scan: only holders matter */
        if (NK(node) >= K_RECORD && NK(node) <= K_SA_V)
            record_value(s, c, node, type, off, end);
        else
            shape_value(c, node, type, off, end);
        break;
    }
}

static const struct jscan_hooks HOOKS = {on_key, on_elem, on_open, on_value};

/* ---- analysis result ---- */

static const char *last_colon_part(const char *s)
{
    const char *p = strrchr(s, ':');
    return p ? p + 1 : s;
}

static void set_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Queue / topic: last ARN part; Kinesis stream and DynamoDB table: the resource name. */
static void set_destination(enum promote_trigger t, struct promote_event_info *info)
{
    const char *arn = info->source_arn;
    const char *p = strstr(arn, t == TRIGGER_KINESIS ? ":stream/" : ":table/");
    size_t n;

    if (t == TRIGGER_SQS || t == TRIGGER_SNS) {
        set_str(info->destination, sizeof(info->destination), last_colon_part(arn));
        return;
    }
    if ((t != TRIGGER_KINESIS && t != TRIGGER_DYNAMODB) || !p)
        return;
    p = strchr(p, '/') + 1;
    n = strcspn(p, "/");
    if (n >= sizeof(info->destination))
        n = sizeof(info->destination) - 1;
    memcpy(info->destination, p, n);
    info->destination[n] = '\0';
}

static enum promote_trigger records_trigger(const char *src)
{
    static const struct {
        const char *name;
        enum promote_trigger t;
    } tab[] = {{"aws:sqs", TRIGGER_SQS},
               {"aws:sns", TRIGGER_SNS},
               {"aws:kinesis", TRIGGER_KINESIS},
               {"aws:dynamodb", TRIGGER_DYNAMODB},
               {"aws:s3", TRIGGER_S3}};
    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
        if (strcmp(src, tab[i].name) == 0)
            return tab[i].t;
    return TRIGGER_UNKNOWN;
}

static void decide_trigger(struct actx *c)
{
    struct plan *pl = c->pl;
    struct promote_event_info *info = &c->a->info;
    enum promote_trigger t = records_trigger(pl->rec0_source);
    char method[16];

    set_str(method, sizeof(method), info->http_method);
    info->http_method[0] = '\0';
    if (t == TRIGGER_UNKNOWN) {
        char route[PROMOTE_NAME_MAX];
        set_str(route, sizeof(route), info->http_route);
        info->http_route[0] = '\0';
        if (pl->has_detail_type && pl->has_source && pl->has_detail) {
            t = TRIGGER_EVENTBRIDGE;
            set_str(info->destination, sizeof(info->destination), c->source);
            set_str(info->source_arn, sizeof(info->source_arn), c->resource0);
        } else if (pl->lambda_url && pl->has_reqctx) {
            t = TRIGGER_FUNCTION_URL;
            set_str(info->http_method, sizeof(info->http_method), c->rc_method);
            set_str(info->http_route, sizeof(info->http_route), pl->raw_path);
        } else if (pl->elb && pl->has_reqctx) {
            t = TRIGGER_ALB;
            set_str(info->http_method, sizeof(info->http_method), method);
            set_str(info->http_route, sizeof(info->http_route), pl->path);
        } else if (pl->version2 && pl->has_route_key) {
            t = TRIGGER_APIGW_HTTP;
            set_str(info->http_method, sizeof(info->http_method), c->rc_method);
            set_str(info->http_route, sizeof(info->http_route), c->route_key);
        } else if (pl->has_http_method && pl->has_resource && pl->has_reqctx) {
            t = TRIGGER_APIGW_REST;
            set_str(info->http_method, sizeof(info->http_method), method);
            set_str(info->http_route, sizeof(info->http_route), route);
        } else if (c->a->json_object) {
            t = TRIGGER_DIRECT;
        }
    } else {
        info->http_route[0] = '\0';
        set_destination(t, info);
        if (info->record_count == 1)
            set_str(info->message_id, sizeof(info->message_id), c->msgid0);
    }
    info->trigger = t;
}

static void set_parent(struct promote_analysis *a, enum promote_carrier car,
                       const struct trace_ctx *t, const char *ts, const char *bg)
{
    a->found = true;
    a->carrier = car;
    a->parent.ctx = *t;
    set_str(a->parent.tracestate, sizeof(a->parent.tracestate), ts);
    set_str(a->parent.baggage, sizeof(a->parent.baggage), bg);
}

/* Carriers in the order of preference of DESIGN.md. */
static void decide_parent(const struct promote_conf *conf, struct plan *pl,
                          struct promote_analysis *a)
{
    if (pl->direct.tp_ok) {
        set_parent(a, CARRIER_DIRECT, &pl->direct.tp, pl->direct.ts, pl->direct.bg);
    } else if (pl->rec_found) {
        if (!a->records_disagree || conf->batch_parent == PROMOTE_BATCH_FIRST)
            set_parent(a, pl->first_carrier, &pl->first_ctx, pl->first_ts, pl->first_bg);
        return;
    } else if (pl->detail.tp_ok) {
        set_parent(a, CARRIER_EVENTBRIDGE, &pl->detail.tp, pl->detail.ts, pl->detail.bg);
    } else if (pl->http.tp_ok) {
        set_parent(a, CARRIER_HTTP, &pl->http.tp, pl->http.ts, pl->http.bg);
    } else if (pl->http.xray_ok) {
        set_parent(a, CARRIER_HTTP_XRAY, &pl->http.xray, "", "");
    }
}

static void analyse_body(const struct promote_conf *conf, const struct promote_input *in,
                         struct plan *pl, struct promote_analysis *a)
{
    struct actx c;
    struct jscan s;
    const char *why = NULL;

    memset(&c, 0, sizeof(c));
    c.pl = pl;
    c.a = a;
    c.ms = &pl->ms;
    c.base = in->body;
    pl->sa_dst = &pl->rec.sa;
    memset(&s, 0, sizeof(s));
    s.p = in->body;
    s.n = in->body_len;
    s.h = &HOOKS;
    s.user = &c;
    s.max_depth = PROMOTE_MAX_DEPTH;
    s.stack = pl->stack;
    if (jscan_run(&s, NODE(K_ROOT, 0), &why) < 0) {
        /* nothing found in a broken document is trusted; the body passes unchanged */
        a->json_object = false;
        a->n_links = 0;
        a->links_dropped = 0;
        a->records_disagree = false;
        memset(&a->info, 0, sizeof(a->info));
        a->warning = why;
        a->reserved_invalid = NULL; /* nothing is stripped from a broken document */
        return;
    }
    decide_trigger(&c);
    if (!a->json_object) {
        a->warning = "event is not a JSON object; passed unchanged";
        return;
    }
    if (pl->keep_ok)
        set_str(pl->keep_ts, sizeof(pl->keep_ts), pl->http.ts);
    decide_parent(conf, pl, a);
}

void plan_mapset_reset(struct mapset *ms)
{
    ms->n_maps = 0;
    ms->n_mem = 0;
    ms->n_nulls = 0;
    ms->other = false;
    ms->absent_ok = false;
}

/* A plan ready for one scan. Only what is read before it is written gets cleared (see
 * struct plan): zeroing all ~105 KB of it cost more than scanning a 1 KB event. */
static struct plan *plan_new(void)
{
    struct plan *pl = malloc(sizeof(*pl));

    if (!pl)
        return NULL;
    memset(pl, 0, offsetof(struct plan, ms));
    plan_mapset_reset(&pl->ms);
    tv_reset(&pl->direct);
    tv_reset(&pl->detail);
    tv_reset(&pl->http);
    rec_reset(&pl->rec);
    pl->keep_ts[0] = '\0';
    pl->first_ts[0] = '\0';
    pl->first_bg[0] = '\0';
    return pl;
}

/* Clears every field of the analysis, but not the link table past n_links nor the bytes
 * behind the parent's string terminators: those ~95 KB of zeroes were most of a small
 * event's cost. add_link() and set_parent() write everything they make meaningful. */
static void analysis_reset(struct promote_analysis *a)
{
    a->json_object = false;
    a->found = false;
    a->carrier = CARRIER_NONE;
    memset(&a->parent.ctx, 0, sizeof(a->parent.ctx));
    a->parent.tracestate[0] = '\0';
    a->parent.baggage[0] = '\0';
    a->lambda_xray_valid = false;
    memset(&a->lambda_xray, 0, sizeof(a->lambda_xray));
    a->records_disagree = false;
    a->n_links = 0;
    a->links_dropped = 0;
    memset(&a->info, 0, sizeof(a->info));
    a->warning = NULL;
    a->reserved_invalid = NULL;
    a->reserved_prefix[0] = '\0';
    a->plan = NULL;
}

void promote_analyse(const struct promote_conf *conf, const struct promote_input *in,
                     struct promote_analysis *a)
{
    struct plan *pl;

    analysis_reset(a);
    if (in->trace_id_header && in->trace_id_header_len)
        a->lambda_xray_valid =
            xray_parse(in->trace_id_header, in->trace_id_header_len, &a->lambda_xray);
    if (in->body_len > conf->max_event_bytes) {
        a->warning = "event larger than max_event_bytes; passed unchanged";
    } else if (!(pl = plan_new())) {
        a->warning = "out of memory; event passed unchanged";
    } else {
        a->plan = pl;
        analyse_body(conf, in, pl, a);
    }
    if (!a->found && conf->xray_parent && a->lambda_xray_valid)
        set_parent(a, CARRIER_LAMBDA_XRAY, &a->lambda_xray, "", "");
}

void promote_analysis_free(struct promote_analysis *a)
{
    struct plan *pl = a->plan;

    if (pl) {
        free(pl->body_buf);
        free(pl);
    }
    a->plan = NULL;
}

int plan_scan_cc(const char *p, size_t n, struct mapset *ms, struct jscan_frame *stack)
{
    struct actx c;
    struct jscan s;
    struct promote_analysis *dummy = NULL;
    const char *why;

    memset(&c, 0, sizeof(c));
    plan_mapset_reset(ms);
    c.ms = ms;
    c.a = dummy;
    c.base = p;
    memset(&s, 0, sizeof(s));
    s.p = p;
    s.n = n;
    s.h = &HOOKS;
    s.user = &c;
    s.max_depth = 64;
    s.stack = stack;
    return jscan_run(&s, NODE(K_CC_ROOT, 0), &why);
}

const char *promote_carrier_name(enum promote_carrier c)
{
    static const char *const names[] = {
        "none", "direct",      "sqs-attributes", "sqs-sns",   "sqs-xray",
        "sns",  "eventbridge", "http",           "http-xray", "lambda-xray",
    };
    return (unsigned)c < sizeof(names) / sizeof(names[0]) ? names[c] : "unknown";
}

const char *promote_trigger_name(enum promote_trigger t)
{
    static const char *const names[] = {
        "unknown",    "direct",       "sqs", "sns",     "eventbridge", "apigw-rest",
        "apigw-http", "function-url", "alb", "kinesis", "dynamodb",    "s3",
    };
    return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "unknown";
}
