/* SPDX-License-Identifier: Apache-2.0 */
/* promote_apply: turns the plan into splices and writes the targets.
 *
 * Target rules for an object that holds headers (event `headers`, `multiValueHeaders`, and the
 * client context's `custom`), so the handler ends with exactly one valid lower-case traceparent:
 *  - all keys matching "traceparent" in any case are considered; the first exact lower-case
 *    one (a valid one preferred) has its value replaced in place, every other one is deleted
 *    (Node reads only the lower-case key, Python's CIDict and Java lower-case and may pick any
 *    of the variants: leaving an "Traceparent" with an old value could win there);
 *  - when none is lower-case, the variants are deleted and a lower-case key is inserted first;
 *  - tracestate follows traceparent: it is written when we have one and, when we replaced an
 *    invalid traceparent and have none, the stale variants are deleted (a tracestate belongs
 *    to the traceparent next to it); baggage is only replaced when we have one to write;
 *  - keep mode: when `headers` already holds a VALID lower-case traceparent, its trace-id,
 *    flags and tracestate stay; only the parent-id becomes write's span id (the value is
 *    re-emitted in canonical form, which for a version-00 value differs only there).
 * Member deletion takes the comma with it: the one after the member when another member
 * follows, else the one before it. */
#include "proxy/promote/promote.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proxy/promote/internal.h"

#define MAX_EDITS (PLAN_MAX_MEMBERS + 2 * PLAN_MAX_MAPS + PLAN_MAX_NULLS + 4)
#define CC_MAX    (256 * 1024)

struct edit {
    size_t off;
    size_t del;
    size_t ins_off; /* into editor.text */
    size_t ins_len;
    int order; /* at one offset: inserts before deletions */
};

struct editor {
    const char *src;
    size_t n;
    struct edit e[MAX_EDITS];
    unsigned count;
    struct buf text;
    int err;
};

/* What to write: JSON string contents (already validated, no escaping needed), NULL = none. */
struct wvals {
    const char *v[3]; /* W_TP, W_TS, W_BG */
    bool ts_delete;   /* delete stale tracestate variants when v[W_TS] is NULL */
};

static void ed_add(struct editor *ed, size_t off, size_t del, const char *ins, size_t len,
                   int order)
{
    struct edit *e;

    if (ed->err)
        return;
    if (ed->count == MAX_EDITS) {
        ed->err = -E2BIG;
        return;
    }
    e = &ed->e[ed->count++];
    e->off = off;
    e->del = del;
    e->ins_off = ed->text.len;
    e->ins_len = len;
    e->order = order;
    if (len && buf_append(&ed->text, ins, len) < 0)
        ed->err = -ENOMEM;
}

static size_t ws_fwd(const char *p, size_t i, size_t n)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    return i;
}

static size_t ws_back(const char *p, size_t i)
{
    while (i > 0 && (p[i - 1] == ' ' || p[i - 1] == '\t' || p[i - 1] == '\n' || p[i - 1] == '\r'))
        i--;
    return i;
}

/* Deletes members first..last (consecutive in their object) with the right comma. */
static void delete_run(struct editor *ed, const struct member *first, const struct member *last)
{
    size_t after = ws_fwd(ed->src, last->val_end, ed->n);
    size_t before;

    if (after < ed->n && ed->src[after] == ',') {
        size_t next = ws_fwd(ed->src, after + 1, ed->n);
        ed_add(ed, first->key_off, next - first->key_off, NULL, 0, 1);
    } else if (first->idx > 0) {
        before = ws_back(ed->src, first->key_off);
        if (before == 0 || ed->src[before - 1] != ',') {
            ed->err = -EPROTO;
            return;
        }
        ed_add(ed, before - 1, last->val_end - (before - 1), NULL, 0, 1);
    } else {
        ed_add(ed, first->key_off, last->val_end - first->key_off, NULL, 0, 1);
    }
}

/* Emits the deletions of map mi (members marked del) and returns how many were deleted. */
static unsigned delete_marked(struct editor *ed, struct mapset *ms, unsigned mi)
{
    const struct member *first = NULL;
    const struct member *last = NULL;
    unsigned deleted = 0;

    for (unsigned i = 0; i < ms->n_mem; i++) {
        const struct member *m = &ms->mem[i];
        if (m->map != mi || !m->del)
            continue;
        deleted++;
        if (last && m->idx == last->idx + 1) {
            last = m;
            continue;
        }
        if (first)
            delete_run(ed, first, last);
        first = last = m;
    }
    if (first)
        delete_run(ed, first, last);
    return deleted;
}

static const char *const NAMES[3] = {"traceparent", "tracestate", "baggage"};

/* Appends "s" to b; s needs no escaping (names, validated values). Plain appends rather than
 * buf_appendf: formatting was half of a small event's apply time. */
static int put_quoted(struct buf *b, const char *s)
{
    int rc = buf_append_byte(b, '"');

    if (rc == 0)
        rc = buf_append_str(b, s);
    return rc ? rc : buf_append_byte(b, '"');
}

/* Appends "name": to b. */
static int put_key(struct buf *b, const char *name)
{
    int rc = put_quoted(b, name);

    return rc ? rc : buf_append_byte(b, ':');
}

/* Appends "value" or ["value"] to b. */
static int put_token(struct buf *b, const char *v, bool array)
{
    int rc = array ? buf_append_byte(b, '[') : 0;

    if (rc == 0)
        rc = put_quoted(b, v);
    return rc || !array ? rc : buf_append_byte(b, ']');
}

/* The object body {"traceparent":...} for a new or null holder. */
static int put_object(struct buf *b, const struct wvals *w)
{
    int rc = buf_append_byte(b, '{');
    bool any = false;

    for (int i = 0; i < 3 && rc == 0; i++) {
        if (!w->v[i])
            continue;
        if (any)
            rc = buf_append_byte(b, ',');
        if (rc == 0)
            rc = put_key(b, NAMES[i]);
        if (rc == 0)
            rc = put_quoted(b, w->v[i]);
        any = true;
    }
    return rc ? rc : buf_append_byte(b, '}');
}

/* Applies the set semantics (see the top comment) for one name in map mi; returns true when
 * the name must be inserted. */
static bool set_name(struct editor *ed, struct mapset *ms, unsigned mi, enum which w,
                     const struct wvals *wv, bool array, struct buf *tok)
{
    struct member *keep = NULL;

    if (!wv->v[w] && !(w == W_TS && wv->ts_delete))
        return false;
    for (unsigned i = 0; i < ms->n_mem; i++) {
        struct member *m = &ms->mem[i];
        if (m->map != mi || m->which != w || !m->exact_lower)
            continue;
        if (!keep || (m->valid && !keep->valid))
            keep = m;
    }
    if (!wv->v[w])
        keep = NULL;
    for (unsigned i = 0; i < ms->n_mem; i++) {
        struct member *m = &ms->mem[i];
        if (m->map == mi && m->which == w && m != keep)
            m->del = true;
    }
    if (!keep)
        return wv->v[w] != NULL;
    buf_reset(tok);
    if (put_token(tok, wv->v[w], array) < 0) {
        ed->err = -ENOMEM;
        return false;
    }
    ed_add(ed, keep->val_off, keep->val_end - keep->val_off, tok->data, tok->len, 1);
    return false;
}

/* Edits one holder object (headers / multiValueHeaders / custom). */
static void edit_holder(struct editor *ed, struct mapset *ms, unsigned mi, const struct wvals *wv,
                        bool array)
{
    struct buf ins;
    struct buf tok;
    unsigned deleted;

    buf_init(&ins, 16384);
    buf_init(&tok, 16384);
    for (int w = 0; w < 3; w++) {
        if (!set_name(ed, ms, mi, (enum which)w, wv, array, &tok))
            continue;
        if (ins.len && buf_append_byte(&ins, ',') < 0)
            ed->err = -ENOMEM;
        if (put_key(&ins, NAMES[w]) < 0 || put_token(&ins, wv->v[w], array) < 0)
            ed->err = -ENOMEM;
    }
    deleted = delete_marked(ed, ms, mi);
    if (ins.len) {
        if (ms->maps[mi].n_members > deleted && buf_append_byte(&ins, ',') < 0)
            ed->err = -ENOMEM;
        ed_add(ed, ms->maps[mi].open + 1, 0, ins.data, ins.len, 0);
    }
    buf_free(&ins);
    buf_free(&tok);
}

static bool map_has(const struct mapset *ms, unsigned mi, enum which w)
{
    for (unsigned i = 0; i < ms->n_mem; i++)
        if (ms->mem[i].map == mi && ms->mem[i].which == w)
            return true;
    return false;
}

/* Root-level object (event root or client context root): strips reserved members and adds a
 * holder member (`name`) when none exists. */
static void edit_root(struct editor *ed, struct mapset *ms, unsigned mi, const char *name,
                      enum which holder, const struct wvals *wv)
{
    unsigned deleted;
    struct buf ins;

    for (unsigned i = 0; i < ms->n_mem; i++) {
        struct member *m = &ms->mem[i];
        if (m->map == mi && m->which >= W_RES_TP && m->which <= W_RES_BG)
            m->del = true;
    }
    deleted = delete_marked(ed, ms, mi);
    if (!wv || map_has(ms, mi, holder))
        return;
    buf_init(&ins, 16384 * 2);
    if (put_key(&ins, name) < 0 || put_object(&ins, wv) < 0 ||
        (ms->maps[mi].n_members > deleted && buf_append_byte(&ins, ',') < 0))
        ed->err = -ENOMEM;
    ed_add(ed, ms->maps[mi].open + 1, 0, ins.data, ins.len, 0);
    buf_free(&ins);
}

static void edit_nulls(struct editor *ed, const struct mapset *ms, const struct wvals *wv)
{
    struct buf obj;

    buf_init(&obj, 16384 * 2);
    if (put_object(&obj, wv) < 0)
        ed->err = -ENOMEM;
    for (unsigned i = 0; i < ms->n_nulls; i++)
        ed_add(ed, ms->nulls[i].off, ms->nulls[i].end - ms->nulls[i].off, obj.data, obj.len, 1);
    buf_free(&obj);
}

/* Edits every map of the set: reserved keys always, holders when wv is set. */
static void edit_all(struct editor *ed, struct mapset *ms, const struct wvals *wv)
{
    for (unsigned mi = 0; mi < ms->n_maps; mi++) {
        if (!ms->maps[mi].closed)
            continue;
        switch (ms->maps[mi].kind) {
        case MAP_ROOT:
            edit_root(ed, ms, mi, "headers", W_HEADERS, wv);
            break;
        case MAP_CC_ROOT:
            edit_root(ed, ms, mi, "custom", W_CUSTOM, wv);
            break;
        case MAP_DETAIL:
            edit_root(ed, ms, mi, NULL, W_HEADERS, NULL);
            break;
        case MAP_HEADERS:
        case MAP_CUSTOM:
            if (wv)
                edit_holder(ed, ms, mi, wv, false);
            break;
        case MAP_MVH:
            if (wv)
                edit_holder(ed, ms, mi, wv, true);
            break;
        }
    }
    if (wv)
        edit_nulls(ed, ms, wv);
}

static int cmp_edit(const void *x, const void *y)
{
    const struct edit *a = x;
    const struct edit *b = y;

    if (a->off != b->off)
        return a->off < b->off ? -1 : 1;
    return a->order - b->order;
}

/* Writes src with the edits applied into out (initialised by the caller). */
static int ed_render(struct editor *ed, struct buf *out)
{
    size_t pos = 0;
    int rc;

    if (ed->err)
        return ed->err;
    qsort(ed->e, ed->count, sizeof(ed->e[0]), cmp_edit);
    rc = buf_reserve(out, ed->n + ed->text.len + 1);
    for (unsigned i = 0; i < ed->count && rc == 0; i++) {
        const struct edit *e = &ed->e[i];
        if (e->off < pos || e->off + e->del > ed->n)
            return -EPROTO; /* overlapping splices: a bug, so fail open */
        rc = buf_append(out, ed->src + pos, e->off - pos);
        if (rc == 0 && e->ins_len)
            rc = buf_append(out, ed->text.data + e->ins_off, e->ins_len);
        pos = e->off + e->del;
    }
    if (rc == 0)
        rc = buf_append(out, ed->src + pos, ed->n - pos);
    return rc;
}

/* Describes the new body by the edits themselves (sorted, checked like ed_render) and hands the
 * inserted text over: nothing of the input is copied. 0 or -errno. */
static int ed_splices(struct editor *ed, struct promote_output *out)
{
    size_t pos = 0;

    if (ed->err)
        return ed->err;
    qsort(ed->e, ed->count, sizeof(ed->e[0]), cmp_edit);
    for (unsigned i = 0; i < ed->count; i++) {
        const struct edit *e = &ed->e[i];
        struct promote_splice *sp = &out->splices[i];

        if (e->off < pos || e->off + e->del > ed->n)
            return -EPROTO; /* overlapping splices: a bug, so fail open */
        sp->off = e->off;
        sp->del = e->del;
        sp->ins_off = e->ins_off;
        sp->ins_len = e->ins_len;
        pos = e->off + e->del;
    }
    buf_free(&out->ins);
    out->ins = ed->text; /* moved: the editor forgets it */
    buf_init(&ed->text, 0);
    out->nsplices = ed->count;
    return 0;
}

/* The edit table is filled from count up, so it is not cleared. */
static struct editor *ed_new(const char *src, size_t n)
{
    struct editor *ed = malloc(sizeof(*ed));

    if (!ed)
        return NULL;
    ed->src = src;
    ed->n = n;
    ed->count = 0;
    ed->err = 0;
    buf_init(&ed->text, 1u << 20);
    return ed;
}

static void ed_free(struct editor *ed)
{
    if (!ed)
        return;
    buf_free(&ed->text);
    free(ed);
}

/* Context values to write, re-validated: `write` comes from the caller. */
struct wctx {
    char tp[TRACEPARENT_LEN + 1];
    char ts[TRACESTATE_MAX + 1];
    char bg[BAGGAGE_MAX + 1];
};

static bool wctx_make(struct wctx *w, const struct trace_ctx *ctx, const char *ts, const char *bg)
{
    if (trace_id_is_zero(ctx->trace_id) || span_id_is_zero(ctx->span_id))
        return false;
    traceparent_format(ctx, w->tp);
    if (!ts || !tracestate_sanitize(ts, strlen(ts), w->ts, sizeof(w->ts)))
        w->ts[0] = '\0';
    if (!bg || !baggage_sanitize(bg, strlen(bg), w->bg, sizeof(w->bg)))
        w->bg[0] = '\0';
    return true;
}

static void wvals_from(struct wvals *v, const struct wctx *w, bool ts_delete)
{
    v->v[W_TP] = w->tp;
    v->v[W_TS] = w->ts[0] ? w->ts : NULL;
    v->v[W_BG] = w->bg[0] ? w->bg : NULL;
    v->ts_delete = ts_delete;
}

static int apply_body(const struct promote_conf *conf, const struct promote_input *in,
                      const struct promote_analysis *a, const struct trace_ctx_full *write,
                      struct promote_output *out)
{
    struct plan *pl = a->plan;
    struct editor *ed;
    struct wctx wc;
    struct wvals wv;
    bool headers = write && (conf->targets & PROMOTE_TARGET_HEADERS);
    int rc;

    if (!pl || !a->json_object)
        return 0;
    if (headers && pl->keep_ok) {
        struct trace_ctx k = pl->keep;
        memcpy(k.span_id, write->ctx.span_id, sizeof(k.span_id));
        headers = wctx_make(&wc, &k, pl->keep_ts, write->baggage);
        wvals_from(&wv, &wc, false);
    } else if (headers) {
        headers = wctx_make(&wc, &write->ctx, write->tracestate, write->baggage);
        wvals_from(&wv, &wc, true);
    }
    if (!(ed = ed_new(in->body, in->body_len)))
        return -ENOMEM;
    edit_all(ed, &pl->ms, headers ? &wv : NULL);
    if (ed->count == 0) {
        ed_free(ed);
        return 0;
    }
    if (in->want_splices && ed->count <= PROMOTE_MAX_SPLICES)
        rc = ed_splices(ed, out);
    else
        rc = ed_render(ed, &out->body);
    if (rc == 0) {
        out->body_changed = true;
        for (unsigned i = 0; i < pl->ms.n_mem; i++)
            if (pl->ms.mem[i].which >= W_RES_TP && pl->ms.mem[i].which <= W_RES_BG)
                out->reserved_stripped = true;
        if (headers)
            out->targets_written |= PROMOTE_TARGET_HEADERS;
    }
    ed_free(ed);
    return rc;
}

static bool all_ws(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
            return false;
    return true;
}

/* Client Context custom.traceparent: edited with the same splicer, so the other members keep
 * their bytes; an invalid or non-object header is left alone. */
/* What a client-context scan needs, allocated per apply: the members and the scanner stack. */
struct cc_scan {
    struct mapset ms;
    struct jscan_frame stack[PROMOTE_MAX_DEPTH];
};

static int apply_cc(const struct promote_input *in, const struct trace_ctx_full *write,
                    struct promote_output *out)
{
    struct cc_scan *cs = NULL;
    struct mapset *ms;
    struct editor *ed = NULL;
    struct wctx wc;
    struct wvals wv;
    const char *cc = in->client_context;
    size_t n = cc ? in->client_context_len : 0;
    int rc = 0;

    if (!wctx_make(&wc, &write->ctx, write->tracestate, write->baggage))
        return 0;
    wvals_from(&wv, &wc, true);
    if (n == 0 || all_ws(cc, n)) {
        rc = buf_append_str(&out->client_context, "{\"custom\":");
        if (rc == 0)
            rc = put_object(&out->client_context, &wv);
        if (rc == 0)
            rc = buf_append_byte(&out->client_context, '}');
        goto out_done;
    }
    if (n > CC_MAX || !(cs = malloc(sizeof(*cs))))
        return 0;
    ms = &cs->ms;
    if (plan_scan_cc(cc, n, ms, cs->stack) < 0 || ms->n_maps == 0 ||
        ms->maps[0].kind != MAP_CC_ROOT)
        goto out_free;
    if (!(ed = ed_new(cc, n))) {
        rc = -ENOMEM;
        goto out_free;
    }
    edit_all(ed, ms, &wv);
    rc = ed_render(ed, &out->client_context);
out_done:
    if (rc == 0)
        out->client_context_changed = true;
    if (rc == 0)
        out->targets_written |= PROMOTE_TARGET_CLIENT_CONTEXT;
out_free:
    ed_free(ed);
    free(cs);
    return rc;
}

const char *const promote_xray_header_names[] = {"auto", "keep", "rewrite", NULL};

int promote_targets_parse(const char *s, unsigned *out)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"headers", PROMOTE_TARGET_HEADERS},
                 {"client-context", PROMOTE_TARGET_CLIENT_CONTEXT},
                 {"xray", PROMOTE_TARGET_XRAY},
                 {"none", 0}};
    unsigned bits = 0;

    while (*s) {
        size_t n = strcspn(s, ","), i, k = n;
        const char *p = s;

        while (k > 0 && *p == ' ')
            p++, k--;
        while (k > 0 && p[k - 1] == ' ')
            k--;
        for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            if (strlen(names[i].name) == k && strncasecmp(p, names[i].name, k) == 0)
                break;
        }
        if (i == sizeof(names) / sizeof(names[0]))
            return -EINVAL;
        bits |= names[i].bit;
        s += n + (s[n] == ',');
    }
    *out = bits;
    return 0;
}

/* Lambda's own X-Ray tracing is active for this invocation: its header says Sampled=1. */
static bool xray_active(const char *h, size_t n)
{
    while (n > 0) {
        size_t f = 0;

        while (f < n && h[f] != ';')
            f++;
        if (f == 9 && memcmp(h, "Sampled=1", 9) == 0)
            return true;
        h += f + (f < n);
        n -= f + (f < n);
    }
    return false;
}

/* Whether the X-Ray header is rewritten for this event (the context is promoted). */
static bool xray_wanted(const struct promote_conf *conf, const struct promote_input *in)
{
    if (!(conf->targets & PROMOTE_TARGET_XRAY) || conf->xray_header == PROMOTE_XRAY_KEEP)
        return false;
    return conf->xray_header == PROMOTE_XRAY_REWRITE ||
           !xray_active(in->trace_id_header, in->trace_id_header ? in->trace_id_header_len : 0);
}

static int apply_xray(const struct promote_input *in, const struct trace_ctx_full *write,
                      struct promote_output *out)
{
    char x[XRAY_HEADER_MAX * 2];
    int rc;

    if (trace_id_is_zero(write->ctx.trace_id) || span_id_is_zero(write->ctx.span_id))
        return 0;
    if (!xray_rewrite(in->trace_id_header, in->trace_id_header ? in->trace_id_header_len : 0,
                      &write->ctx, x, sizeof(x)))
        return 0;
    rc = buf_append_str(&out->trace_id, x);
    if (rc == 0) {
        out->trace_id_changed = true;
        out->targets_written |= PROMOTE_TARGET_XRAY;
    }
    return rc;
}

static void output_init(struct promote_output *out, const struct promote_input *in)
{
    memset(out, 0, sizeof(*out));
    buf_init(&out->body, in->body_len + (1u << 20));
    buf_init(&out->ins, 1u << 20);
    buf_init(&out->client_context, CC_MAX + (1u << 16));
    buf_init(&out->trace_id, XRAY_HEADER_MAX * 2);
}

/* Undoes one part so `out` says nothing changed there (fail open per part). */
static void fail_part(struct buf *b, bool *changed)
{
    buf_free(b);
    *changed = false;
}

int promote_apply(const struct promote_conf *conf, const struct promote_input *in,
                  const struct promote_analysis *a, const struct trace_ctx_full *write,
                  struct promote_output *out)
{
    int rc;
    int first_err = 0;

    output_init(out, in);
    rc = apply_body(conf, in, a, write, out);
    if (rc < 0) {
        first_err = rc;
        fail_part(&out->body, &out->body_changed);
        out->nsplices = 0;
        out->targets_written &= ~(unsigned)PROMOTE_TARGET_HEADERS;
        out->reserved_stripped = false;
    }
    if (write && (conf->targets & PROMOTE_TARGET_CLIENT_CONTEXT)) {
        rc = apply_cc(in, write, out);
        if (rc < 0) {
            first_err = first_err ? first_err : rc;
            fail_part(&out->client_context, &out->client_context_changed);
            out->targets_written &= ~(unsigned)PROMOTE_TARGET_CLIENT_CONTEXT;
        }
    }
    if (write && xray_wanted(conf, in)) {
        rc = apply_xray(in, write, out);
        if (rc < 0) {
            first_err = first_err ? first_err : rc;
            fail_part(&out->trace_id, &out->trace_id_changed);
            out->targets_written &= ~(unsigned)PROMOTE_TARGET_XRAY;
        }
    }
    if (first_err) {
        /* the contract: on failure `out` says nothing changed at all */
        fail_part(&out->body, &out->body_changed);
        buf_free(&out->ins);
        out->nsplices = 0;
        fail_part(&out->client_context, &out->client_context_changed);
        fail_part(&out->trace_id, &out->trace_id_changed);
        out->targets_written = 0;
        out->reserved_stripped = false;
    }
    return first_err;
}

void promote_output_free(struct promote_output *out)
{
    buf_free(&out->body);
    buf_free(&out->ins);
    out->nsplices = 0;
    buf_free(&out->client_context);
    buf_free(&out->trace_id);
    out->body_changed = false;
    out->client_context_changed = false;
    out->trace_id_changed = false;
}

size_t promote_output_body_len(const struct promote_output *out, size_t in_len)
{
    size_t n = in_len;

    if (!out->body_changed)
        return in_len;
    if (out->nsplices == 0)
        return out->body.len;
    for (unsigned i = 0; i < out->nsplices; i++)
        n = n - out->splices[i].del + out->splices[i].ins_len;
    return n;
}
