/* SPDX-License-Identifier: Apache-2.0 */
/* promote_analyse + promote_apply on arbitrary bytes. Invariants:
 *  - fail open: an event that is not a well-formed JSON object comes back byte for byte;
 *  - a changed body is itself a well-formed JSON object with no reserved keys left;
 *  - rewriting is idempotent: a second pass with the same context changes nothing more;
 *  - a changed client context is a well-formed JSON object;
 *  - with want_splices, the input with the splices applied is byte for byte the rendered body.
 * The first input byte picks the targets, the write context and the batch policy. */
#include <string.h>

#include "proxy/promote/promote.h"
#include "tests/fuzz/fuzz_common.h"

#define CC "{\"client\":{\"a\":1},\"custom\":{\"k\":\"v\"}}"

struct pass {
    struct promote_analysis a;
    struct promote_output o;
};

static void run(const struct promote_conf *c, const char *body, size_t n,
                const struct trace_ctx_full *w, struct pass *p)
{
    struct promote_input in = {body, n, NULL, 0, CC, strlen(CC), false};

    promote_analyse(c, &in, &p->a);
    if (promote_apply(c, &in, &p->a, w, &p->o) < 0)
        FUZZ_ASSERT(!p->o.body_changed && !p->o.client_context_changed);
}

/* The same apply with want_splices describes the same body as the rendered one in p. */
static void check_splices(const struct promote_conf *c, const char *body, size_t n,
                          const struct trace_ctx_full *w, const struct pass *p)
{
    struct promote_input in = {body, n, NULL, 0, CC, strlen(CC), true};
    static struct promote_output o;
    const char *want = p->o.body_changed ? p->o.body.data : body;
    size_t wlen = p->o.body_changed ? p->o.body.len : n;
    size_t pos = 0;
    size_t at = 0;

    FUZZ_ASSERT(promote_apply(c, &in, &p->a, w, &o) == 0 || !o.body_changed);
    FUZZ_ASSERT(o.body_changed == p->o.body_changed);
    FUZZ_ASSERT(promote_output_body_len(&o, n) == wlen);
    for (unsigned i = 0; o.body_changed && i < o.nsplices; i++) {
        const struct promote_splice *sp = &o.splices[i];
        FUZZ_ASSERT(sp->off >= pos && sp->off + sp->del <= n);
        FUZZ_ASSERT(memcmp(want + at, body + pos, sp->off - pos) == 0);
        at += sp->off - pos;
        FUZZ_ASSERT(!sp->ins_len || memcmp(want + at, o.ins.data + sp->ins_off, sp->ins_len) == 0);
        at += sp->ins_len;
        pos = sp->off + sp->del;
    }
    if (o.body_changed && o.nsplices)
        FUZZ_ASSERT(memcmp(want + at, body + pos, n - pos) == 0);
    else if (o.body_changed)
        FUZZ_ASSERT(o.body.len == wlen && memcmp(o.body.data, want, wlen) == 0);
    promote_output_free(&o);
}

static void check_json_object(const struct promote_conf *c, const char *p, size_t n)
{
    static struct pass chk;
    struct promote_input in = {p, n, NULL, 0, NULL, 0, false};

    promote_analyse(c, &in, &chk.a);
    FUZZ_ASSERT(chk.a.json_object);
    promote_analysis_free(&chk.a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct pass p1, p2;
    struct promote_conf c = {.targets = PROMOTE_TARGET_HEADERS,
                             .batch_parent = PROMOTE_BATCH_FIRST,
                             .max_event_bytes = 1u << 20};
    struct trace_ctx_full w;
    const struct trace_ctx_full *wp = &w;
    const char *body = (const char *)data + 1;
    size_t n;

    if (size < 1)
        return 0;
    n = size - 1;
    memset(&w, 0, sizeof(w));
    traceparent_parse("00-0af7651916cd43dd8448eb211c80319c-1111111111111111-01", 55, &w.ctx);
    if (data[0] & 1)
        memcpy(w.tracestate, "congo=t61rcWkgMzE", 18);
    if (data[0] & 2)
        memcpy(w.baggage, "userId=alice", 13);
    if (data[0] & 4)
        wp = NULL;
    if (data[0] & 8)
        c.targets |= PROMOTE_TARGET_CLIENT_CONTEXT;
    if (data[0] & 16)
        c.batch_parent = PROMOTE_BATCH_NONE;
    run(&c, body, n, wp, &p1);
    check_splices(&c, body, n, wp, &p1);
    if (!p1.a.json_object)
        FUZZ_ASSERT(!p1.o.body_changed);
    if (p1.o.client_context_changed)
        check_json_object(&c, p1.o.client_context.data, p1.o.client_context.len);
    if (p1.o.body_changed) {
        check_json_object(&c, p1.o.body.data, p1.o.body.len);
        run(&c, p1.o.body.data, p1.o.body.len, wp, &p2);
        FUZZ_ASSERT(!p2.o.reserved_stripped);
        if (p2.o.body_changed)
            FUZZ_ASSERT(p2.o.body.len == p1.o.body.len &&
                        memcmp(p2.o.body.data, p1.o.body.data, p1.o.body.len) == 0);
        promote_output_free(&p2.o);
        promote_analysis_free(&p2.a);
    }
    promote_output_free(&p1.o);
    promote_analysis_free(&p1.a);
    return 0;
}
