/* SPDX-License-Identifier: Apache-2.0 */
/* next_event: the /next hook. Each event the proxy receives for the runtime is analysed (where
 * its context is), given a parent and a span id (sampled or not), rewritten (promote_apply),
 * and its invocation entry started (lifecycle.c owns the table and ends the spans). */
#include "extension/lifecycle/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extension/base/base.h"
#include "extension/spans/spans.h"

static void header_copy(const struct proxy_next *ev, const char *name, char *out, size_t cap)
{
    size_t n = 0;
    const char *v = proxy_next_header(ev, name, &n);

    out[0] = '\0';
    if (v && n < cap) {
        memcpy(out, v, n);
        out[n] = '\0';
    }
}

static uint64_t header_u64(const struct proxy_next *ev, const char *name)
{
    char tmp[32];

    header_copy(ev, name, tmp, sizeof(tmp));
    return tmp[0] ? strtoull(tmp, NULL, 10) : 0;
}

/* Chooses the trace, the sampling decision and the span id; fills lc->write with what the
 * handler must see as its parent (this span). Returns whether to write it into the event. */
static bool decide_context(struct lifecycle *lc, const struct promote_analysis *a,
                           struct trace_ctx *span_ctx, bool *sampled)
{
    const struct lifecycle_conf *c = lc->conf;
    struct trace_ctx_full *w = &lc->write;
    bool parent_sampled = a->found && (a->parent.ctx.flags & TRACE_FLAG_SAMPLED);

    /* the strings only: the struct is 8.7 KB, an invocation's whole L1 cache when cleared */
    w->tracestate[0] = w->baggage[0] = '\0';
    if (a->found) {
        memcpy(span_ctx->trace_id, a->parent.ctx.trace_id, 16);
        str_copy(w->tracestate, sizeof(w->tracestate), a->parent.tracestate);
        str_copy(w->baggage, sizeof(w->baggage), a->parent.baggage);
    } else {
        ids_trace_id(lc->ids, span_ctx->trace_id);
    }
    ids_span_id(lc->ids, span_ctx->span_id);
    *sampled = sampler_should_sample(&lc->sampler, span_ctx->trace_id, a->found, parent_sampled);
    span_ctx->flags = (uint8_t)((a->found ? a->parent.ctx.flags & ~TRACE_FLAG_SAMPLED : 0) |
                                (*sampled ? TRACE_FLAG_SAMPLED : 0));
    w->ctx = *span_ctx;
    if (c->sdk_disabled) {
        /* No span of ours: handlers nest directly under the caller. */
        w->ctx = a->parent.ctx;
        return a->found;
    }
    return a->found || c->root_inject;
}

/* A spliced body goes out as the original buffer and the inserted pieces (no copy of the
 * event); if the proxy cannot take the splices, the body stays as it was (fail open). */
static void set_spliced_body(struct proxy_next *ev, const struct promote_output *o)
{
    struct proxy_splice sp[PROMOTE_MAX_SPLICES];

    for (unsigned i = 0; i < o->nsplices; i++) {
        const struct promote_splice *s = &o->splices[i];
        /* a splice that only deletes inserts nothing, and ins may hold no memory at all */
        sp[i] = (struct proxy_splice){s->off, s->del, s->ins_len ? o->ins.data + s->ins_off : NULL,
                                      s->ins_len};
    }
    (void)proxy_next_splice_body(ev, sp, o->nsplices);
}

static void apply_output(struct lifecycle *lc, struct proxy_next *ev, struct promote_output *o)
{
    if (o->body_changed && o->nsplices)
        set_spliced_body(ev, o);
    else if (o->body_changed)
        proxy_next_set_body(ev, &o->body);
    if (o->client_context_changed)
        (void)proxy_next_set_header(ev, "Lambda-Runtime-Client-Context", o->client_context.data,
                                    o->client_context.len);
    if (o->trace_id_changed)
        (void)proxy_next_set_header(ev, "Lambda-Runtime-Trace-Id", o->trace_id.data,
                                    o->trace_id.len);
    if (o->body_changed || o->client_context_changed || o->trace_id_changed)
        lc->stats.rewrites++;
}

/* Event sources whose handlers may answer with batchItemFailures (ReportBatchItemFailures). */
static bool reports_partial_failures(enum promote_trigger t)
{
    return t == TRIGGER_SQS || t == TRIGGER_KINESIS || t == TRIGGER_DYNAMODB;
}

/* The inferred span of the time the batch's oldest message waited (TRACEBRIDGE_QUEUE_SPANS):
 * complete when the invocation starts, so it is handed off at once. */
static void queue_wait_span(struct lifecycle *lc, const struct inv *v,
                            const struct promote_analysis *a)
{
    struct span q;
    uint8_t id[8];

    ids_span_id(lc->ids, id);
    if (invspan_queue_wait(&q, &v->span, a, id) > 0)
        lifecycle_hand_off(lc, &q);
}

static void start_span(struct lifecycle *lc, struct inv *v, const struct promote_analysis *a,
                       const struct trace_ctx *ctx)
{
    struct invspan_facts f = {.request_id = v->rid,
                              .function_name = lc->conf->function_name,
                              .function_arn = v->arn,
                              .account_id = lc->account_id,
                              .coldstart = !(lc->flags & LC_F_COLDSTART_DONE)};

    lc->flags |= LC_F_COLDSTART_DONE;
    span_init(&v->span);
    v->span.ctx = *ctx;
    v->span.start_ns = span_now_ns();
    if (a->found) {
        v->span.has_parent = true;
        memcpy(v->span.parent_span_id, a->parent.ctx.span_id, 8);
        if (a->parent.tracestate[0])
            v->span.tracestate = strdup(a->parent.tracestate); /* NULL: just not kept */
    }
    if (invspan_describe(&v->span, a, &f) < 0)
        log_warn(lc->lg, "lifecycle", "span attributes incomplete (no memory)");
    v->flags |= INV_F_RECORDING;
    if (a->info.durable_execution_arn[0])
        v->flags |= INV_F_DURABLE;
    else if (reports_partial_failures(a->info.trigger)) {
        v->flags |= INV_F_BATCH;
        v->records = a->info.record_count;
    }
    if (lc->conf->queue_spans)
        queue_wait_span(lc, v, a);
}

/* Tenant isolation: the tenant the invocation runs for (Lambda-Runtime-Aws-Tenant-Id). */
static void add_tenant(struct inv *v, const struct proxy_next *ev)
{
    char tenant[257];

    header_copy(ev, "Lambda-Runtime-Aws-Tenant-Id", tenant, sizeof(tenant));
    if (tenant[0] && utf8_valid(tenant, strlen(tenant)))
        (void)attr_list_add_str(&v->span.attrs, "aws.lambda.tenant_id", tenant);
}

static void fill_input(const struct proxy_next *ev, struct promote_input *in)
{
    size_t n = 0;

    memset(in, 0, sizeof(*in));
    in->body = ev->body;
    in->body_len = ev->body_len;
    in->want_splices = PROMOTE_MAX_SPLICES <= PROXY_MAX_SPLICES;
    in->trace_id_header = proxy_next_header(ev, "Lambda-Runtime-Trace-Id", &n);
    in->trace_id_header_len = in->trace_id_header ? n : 0;
    in->client_context = proxy_next_header(ev, "Lambda-Runtime-Client-Context", &n);
    in->client_context_len = in->client_context ? n : 0;
}

static void record_next(struct lifecycle *lc, struct inv *v, const struct proxy_next *ev)
{
    v->flags |= INV_F_NEXT;
    v->started_ns = span_now_ns();
    if (!v->deadline_ms)
        v->deadline_ms = header_u64(ev, "Lambda-Runtime-Deadline-Ms");
    if (!v->arn[0])
        header_copy(ev, "Lambda-Runtime-Invoked-Function-Arn", v->arn, sizeof(v->arn));
    (void)lc;
}

/* What the debug line of one /next event reports besides the analysis. */
struct next_summary {
    const char *rid;
    size_t bytes_in;
    size_t bytes_out;
    unsigned targets; /* enum promote_target bits written */
    bool stripped;    /* reserved keys removed */
    bool sampled;
    bool recording;  /* our span exists */
    bool own_parent; /* the handler's parent-id is our span id (written or recorded) */
    int apply_rc;
};

static void targets_text(unsigned t, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s%s%s", t & PROMOTE_TARGET_HEADERS ? "headers," : "",
             t & PROMOTE_TARGET_CLIENT_CONTEXT ? "client_context," : "",
             t & PROMOTE_TARGET_XRAY ? "xray," : "", t ? "" : "none");
    if (t)
        out[strlen(out) - 1] = '\0';
}

/* Why no parent was found, when the analysis does not say. */
static const char *why_no_carrier(const struct promote_analysis *a)
{
    if (a->warning)
        return a->warning;
    return a->json_object ? "no trace context in the event" : "event is not a JSON object";
}

/* One debug line per invocation: what tracebridge found in the event and what it wrote. Trace
 * values come from parsed (valid) contexts, re-formatted; event text is never logged. */
static void log_next(const struct lifecycle *lc, const struct promote_analysis *a,
                     const struct trace_ctx *ctx, const struct next_summary *m)
{
    char parent[TRACEPARENT_LEN + 1] = "none";
    char span[17] = "none";
    char targets[64];
    char why[256] = "";

    if (!log_enabled(lc->lg, LOG_DEBUG))
        return;
    if (!a->found || a->warning)
        snprintf(why, sizeof(why), " why=\"%s\"", why_no_carrier(a));
    if (a->found)
        traceparent_format(&a->parent.ctx, parent);
    if (m->own_parent) {
        hex_encode(ctx->span_id, 8, span);
        span[16] = '\0';
    }
    targets_text(m->targets, targets, sizeof(targets));
    log_debug(lc->lg, "lifecycle",
              "next rid=%.128s trigger=%s carrier=%s parent=%s span=%s sampled=%d targets=%s%s "
              "links=%u%s bytes=%zu->%zu%s%s",
              m->rid[0] ? m->rid : "-", promote_trigger_name(a->info.trigger),
              promote_carrier_name(a->carrier), parent, span, m->sampled, targets,
              m->stripped ? " reserved_keys=stripped" : "",
              a->n_links + (a->lambda_xray_valid ? 1u : 0u),
              a->links_dropped ? " (some record links dropped)" : "", m->bytes_in, m->bytes_out,
              why, m->apply_rc < 0 ? " apply=failed" : "");
}

/* The caller put a "__traceparent__" into the event that is not a traceparent: stripped (the
 * handler never sees it), not used, and said once in a while: what was wrong, and never more of
 * the value than its safe prefix. */
static void warn_reserved_invalid(struct lifecycle *lc, const struct promote_analysis *a,
                                  const char *rid)
{
    unsigned long held = 0;
    char more[96] = "";

    if (!a->reserved_invalid || !ratelimit_hit(&lc->reserved_log, span_now_ns() / 1000000, &held))
        return;
    if (held)
        snprintf(more, sizeof(more), " (%lu more such invocations since the last warning)", held);
    log_warn(lc->lg, "lifecycle",
             "invocation %.128s: \"__traceparent__\" is not a valid traceparent (%s; starts "
             "\"%s\"): stripped from the event, not used as the parent%s",
             rid[0] ? rid : "-", a->reserved_invalid, a->reserved_prefix, more);
}

void lifecycle_next_event(void *arg, struct proxy_next *ev)
{
    struct lifecycle *lc = arg;
    struct promote_analysis *a = &lc->analysis;
    struct promote_input in;
    struct promote_output out;
    struct trace_ctx ctx;
    struct next_summary m = {.rid = ev->request_id, .bytes_in = ev->body_len};
    size_t held;
    bool write;
    struct inv *v =
        ev->request_id[0] ? lifecycle_find_or_add(lc, ev->request_id, span_now_ns()) : NULL;

    if (lc->hooks.next_event_begin)
        lc->hooks.next_event_begin(lc->hooks.arg);
    fill_input(ev, &in);
    promote_analyse(&lc->conf->promote, &in, a);
    warn_reserved_invalid(lc, a, ev->request_id);
    write = decide_context(lc, a, &ctx, &m.sampled);
    m.apply_rc = promote_apply(&lc->conf->promote, &in, a, write ? &lc->write : NULL, &out);
    m.bytes_out = m.apply_rc == 0 ? promote_output_body_len(&out, ev->body_len) : ev->body_len;
    /* Both are held while rewriting, unless the new body is the original with splices. */
    held = ev->body_len + (out.nsplices ? out.ins.len : m.bytes_out);
    if (held > lc->peak_event)
        lc->peak_event = held;
    m.targets = m.apply_rc == 0 ? out.targets_written : 0;
    m.stripped = m.apply_rc == 0 && out.reserved_stripped;
    if (m.apply_rc == 0)
        apply_output(lc, ev, &out);
    promote_output_free(&out);
    if (v && !(v->flags & INV_F_NEXT)) {
        record_next(lc, v, ev);
        if (m.sampled && !lc->conf->sdk_disabled)
            start_span(lc, v, a, &ctx);
        if (v->flags & INV_F_RECORDING)
            add_tenant(v, ev);
        m.recording = v->flags & INV_F_RECORDING;
    }
    m.own_parent = !lc->conf->sdk_disabled && (m.recording || m.targets);
    log_next(lc, a, &ctx, &m);
    promote_analysis_free(a);
}

void lifecycle_next_delivered(void *arg, const char *rid)
{
    struct lifecycle *lc = arg;
    struct inv *v = lifecycle_find(lc, rid);

    if (!v)
        return;
    v->started_ns = span_now_ns();
    if (v->flags & INV_F_RECORDING)
        v->span.start_ns = v->started_ns;
}
