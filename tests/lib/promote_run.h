/* SPDX-License-Identifier: Apache-2.0 */
/* promote_run.h: one analyse + apply of an event, as the lifecycle does it, for the promotion
 * engine's unit tests. The parent found is written back with span id RUN_SPAN (1111...), so
 * expected outputs can be spelled out. */
#ifndef TB_TESTS_PROMOTE_RUN_H
#define TB_TESTS_PROMOTE_RUN_H

#include <stdlib.h>
#include <string.h>

#include "extension/base/base.h"
#include "proxy/promote/promote.h"

#define RUN_SPAN "1111111111111111"

struct run {
    struct promote_analysis a;
    struct promote_output o;
    struct trace_ctx_full w;
    int rc; /* promote_apply's */
    const char *in;
    size_t n;
};

/* The daemon's defaults: headers and client context, the first record's batch parent. */
static __attribute__((unused)) struct promote_conf conf_default(void)
{
    struct promote_conf c = {.targets = PROMOTE_TARGET_HEADERS | PROMOTE_TARGET_CLIENT_CONTEXT,
                             .batch_parent = PROMOTE_BATCH_FIRST,
                             .max_event_bytes = 8u << 20};
    return c;
}

/* Analyses and applies in[0, n) with the Lambda-Runtime-Trace-Id xray and client context cc
 * (NULL: none); fallback (a traceparent, or NULL) is written when no parent is found, as
 * TRACEBRIDGE_ROOT_CONTEXT=inject does. Free with done(). */
static __attribute__((unused)) struct run *go(const struct promote_conf *c, const char *in,
                                              size_t n, const char *xray, const char *cc,
                                              const char *fallback)
{
    struct run *r = calloc(1, sizeof(*r));
    struct promote_input pi = {.body = in,
                               .body_len = n,
                               .trace_id_header = xray,
                               .trace_id_header_len = xray ? strlen(xray) : 0,
                               .client_context = cc,
                               .client_context_len = cc ? strlen(cc) : 0};
    const struct trace_ctx_full *w = NULL;

    r->in = in;
    r->n = n;
    promote_analyse(c, &pi, &r->a);
    if (r->a.found) {
        r->w = r->a.parent;
        hex_decode_lower(RUN_SPAN, 16, r->w.ctx.span_id);
        w = &r->w;
    } else if (fallback) {
        traceparent_parse(fallback, strlen(fallback), &r->w.ctx);
        w = &r->w;
    }
    r->rc = promote_apply(c, &pi, &r->a, w, &r->o);
    return r;
}

static __attribute__((unused)) void done(struct run *r)
{
    promote_output_free(&r->o);
    promote_analysis_free(&r->a);
    free(r);
}

#endif
