/* SPDX-License-Identifier: Apache-2.0 */
/* lifecycle: correlation of the proxy's /next responses with INVOKE events in either order, many
 * invocations in flight (Managed Instances), the table bound (257 in flight fails open), timeout
 * and crash finalisation at the next INVOKE and at SHUTDOWN, bypass spans, errors. The /next
 * responses go through the proxy's real parser and nextbuf, exactly as the relay hands them to
 * the hooks, so the event the runtime would receive is checked too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "extension/conf.h"
#include "extension/lifecycle/lifecycle.h"
#include "proxy/internal.h"
#include "tests/lib/tap.h"
#include "tests/lib/test_util.h"

#define TID   "4bf92f3577b34da6a3ce929d0e0e4736"
#define PSPAN "00f067aa0ba902b7"
#define TP    "00-" TID "-" PSPAN "-01"
#define XRAY  "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"
#define MAXS  600

struct seen {
    char rid[160];
    char name[64];
    char outcome[16];
    char sid[17];
    char tid[33];
    bool bypass;
    int status;
    uint64_t start_ns, end_ns;
    long long dropped;
    char exc_type[64];
    char exc_msg[64];
};

struct rec {
    struct seen s[MAXS];
    int n;
    int ended;
};

static void hexs(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

static void on_span(void *arg, struct span *sp)
{
    struct rec *r = arg;
    struct seen *s;
    const struct attr *a;

    if (r->n >= MAXS)
        return;
    s = &r->s[r->n++];
    memset(s, 0, sizeof(*s));
    a = attr_list_find(&sp->attrs, "faas.invocation_id");
    snprintf(s->rid, sizeof(s->rid), "%s", a ? a->v.s : "");
    snprintf(s->name, sizeof(s->name), "%s", sp->name ? sp->name : "");
    a = attr_list_find(&sp->attrs, "tracebridge.invocation.outcome");
    snprintf(s->outcome, sizeof(s->outcome), "%s", a ? a->v.s : "");
    s->bypass = attr_list_find(&sp->attrs, "tracebridge.bypass") != NULL;
    a = attr_list_find(&sp->attrs, "tracebridge.dropped_spans");
    s->dropped = a ? (long long)a->v.i : 0;
    s->status = sp->status;
    s->start_ns = sp->start_ns;
    s->end_ns = sp->end_ns;
    hexs(sp->ctx.span_id, 8, s->sid);
    hexs(sp->ctx.trace_id, 16, s->tid);
    if (sp->n_events == 1) {
        a = attr_list_find(&sp->events[0].attrs, "exception.type");
        snprintf(s->exc_type, sizeof(s->exc_type), "%s", a ? a->v.s : "");
        a = attr_list_find(&sp->events[0].attrs, "exception.message");
        snprintf(s->exc_msg, sizeof(s->exc_msg), "%s", a ? a->v.s : "");
    }
}

static void on_end(void *arg, const char *rid)
{
    struct rec *r = arg;

    (void)rid;
    r->ended++;
}

static const struct seen *find(const struct rec *r, const char *rid)
{
    for (int i = 0; i < r->n; i++) {
        if (strcmp(r->s[i].rid, rid) == 0)
            return &r->s[i];
    }
    return NULL;
}

static int count(const struct rec *r, const char *rid)
{
    int n = 0;

    for (int i = 0; i < r->n; i++)
        n += strcmp(r->s[i].rid, rid) == 0;
    return n;
}

/* ---- a lifecycle with its conf ---- */

struct rig {
    struct conf c;
    struct ids ids;
    struct rec rec;
    struct lifecycle *lc;
    struct proxy_hooks ph;
    struct log lg;
    char log_path[96];
};

static struct rig *rig_new(const char *const *env)
{
    struct rig *g = calloc(1, sizeof(*g));
    struct lifecycle_hooks h = {.arg = &g->rec, .span_done = on_span, .invocation_end = on_end};

    snprintf(g->log_path, sizeof(g->log_path), "/tmp/tb-test-lifecycle-%d.log", (int)getpid());
    log_init(&g->lg, LOG_DEBUG);
    g->lg.out = fopen(g->log_path, "w");
    conf_load(&g->c, env_of, (void *)env, &g->lg);
    ids_init(&g->ids);
    g->c.lifecycle.function_name = g->c.resource.function_name;
    g->lc = lifecycle_new(&g->c.lifecycle, &g->ids, &h, &g->lg);
    lifecycle_set_account_id(g->lc, "123456789012");
    lifecycle_set_proxy_offered(g->lc, true); /* the daemon wrote the ready file */
    g->ph = lifecycle_proxy_hooks(g->lc);
    return g;
}

static void rig_free(struct rig *g)
{
    lifecycle_free(g->lc);
    fclose(g->lg.out);
    free(g);
}

static int log_count(struct rig *g, const char *needle)
{
    fflush(g->lg.out);
    return file_count_lines(g->log_path, needle);
}

/* ---- the proxy side: a /next 200 response through http1 + nextbuf + the hooks ---- */

struct nx {
    struct nextbuf nb;
    struct http1 *h;
    bool done, failed;
};

/* As the relay does: the body is buffered from the moment the head is complete. */
static void nx_head(void *o)
{
    struct nx *x = o;

    nextbuf_start(&x->nb, x->h);
}
static void nx_raw(void *o, const char *p, size_t n)
{
    struct nx *x = o;
    if (nextbuf_raw(&x->nb, p, n) < 0)
        x->failed = true;
}
static void nx_body(void *o, const char *p, size_t n)
{
    struct nx *x = o;
    if (nextbuf_body(&x->nb, p, n) < 0)
        x->failed = true;
}
static void nx_done(void *o)
{
    ((struct nx *)o)->done = true;
}
static void nx_error(void *o, enum http_errno e)
{
    (void)e;
    ((struct nx *)o)->failed = true;
}

/* The body the runtime gets from out (re-framed: b, or the spliced segments), NUL-terminated,
 * truncated to cap. */
static void seen_copy(const struct nb_out *out, char *seen, size_t cap)
{
    const char *b = out->changed ? out->b : strstr(out->a, "\r\n\r\n") + 4;
    size_t bl = out->changed ? out->blen : out->alen - (size_t)(b - out->a);
    size_t n = 0;

    if (out->nseg == 0) {
        snprintf(seen, cap, "%.*s", (int)bl, b ? b : "");
        return;
    }
    for (unsigned i = 0; i < out->nseg && n + 1 < cap; i++) {
        size_t k = out->seg[i].len < cap - 1 - n ? out->seg[i].len : cap - 1 - n;
        memcpy(seen + n, out->seg[i].p, k);
        n += k;
    }
    seen[n] = '\0';
}

/* Delivers an event for rid (deadline in epoch ms) to the runtime through the hooks; the body
 * the runtime gets is copied into seen_body (when not NULL). Then next_delivered. */
static void next_event(struct rig *g, const char *rid, const char *body, uint64_t deadline,
                       char *seen_body, size_t cap)
{
    static const struct http1_ops ops = {.head = nx_head,
                                         .raw = nx_raw,
                                         .body = nx_body,
                                         .trailer = NULL,
                                         .done = nx_done,
                                         .error = nx_error};
    struct http1 h;
    struct nx x;
    struct nb_out out;
    char resp[16384];
    char ridout[256];
    int n;

    memset(&x, 0, sizeof(x));
    n = snprintf(resp, sizeof(resp),
                 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 "Lambda-Runtime-Aws-Request-Id: %s\r\nLambda-Runtime-Deadline-Ms: %llu\r\n"
                 "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:eu-west-1:123456789012:"
                 "function:fn\r\nLambda-Runtime-Trace-Id: " XRAY "\r\n"
                 "Content-Length: %zu\r\n\r\n%s",
                 rid, (unsigned long long)deadline, strlen(body), body);
    nextbuf_init(&x.nb, 1 << 20);
    x.h = &h;
    http1_init(&h, HTTP_RESPONSE, 64 * 1024, &ops, &x);
    http1_feed(&h, resp, (size_t)n);
    if (x.done && !x.failed && nextbuf_finish(&x.nb, &g->ph, ridout, sizeof(ridout), &out) == 0) {
        if (seen_body)
            seen_copy(&out, seen_body, cap);
        free(out.a);
        free(out.b);
        free(out.c);
        g->ph.next_delivered(g->ph.arg, ridout);
    } else if (seen_body) {
        snprintf(seen_body, cap, "(relay failed)");
    }
    nextbuf_free(&x.nb);
    http1_free(&h);
}

static void respond(struct rig *g, const char *rid)
{
    struct proxy_report r = {.request_id = rid, .upstream_status = 202};

    g->ph.invocation_response(g->ph.arg, &r);
}

static void invoke(struct rig *g, const char *rid, uint64_t deadline)
{
    struct extapi_event ev = {.type = EXTAPI_INVOKE, .deadline_ms = deadline};

    snprintf(ev.request_id, sizeof(ev.request_id), "%s", rid);
    snprintf(ev.function_arn, sizeof(ev.function_arn),
             "arn:aws:lambda:eu-west-1:123456789012:function:fn");
    snprintf(ev.tracing_value, sizeof(ev.tracing_value), XRAY);
    lifecycle_on_invoke(g->lc, &ev, span_now_ns());
}

static void shutdown_ev(struct rig *g, const char *reason)
{
    struct extapi_event ev = {.type = EXTAPI_SHUTDOWN, .deadline_ms = epoch_ms() + 2000};

    snprintf(ev.shutdown_reason, sizeof(ev.shutdown_reason), "%s", reason);
    lifecycle_on_shutdown(g->lc, &ev, span_now_ns());
}

static unsigned long inflight(struct rig *g)
{
    struct lifecycle_stats st;

    lifecycle_get_stats(g->lc, &st);
    return st.inflight;
}

/* ---- scenarios ---- */

static const char *const env_default[] = {"AWS_LAMBDA_FUNCTION_NAME", "fn", NULL};
static const char *const env_lmi[] = {"AWS_LAMBDA_FUNCTION_NAME", "fn",
                                      "AWS_LAMBDA_INITIALIZATION_TYPE", "lambda-managed-instances",
                                      NULL};

static void test_both_orders(struct tap *t)
{
    struct rig *g = rig_new(env_default);
    char body[4096];
    char rid[32];
    int parent_ok = 0, spans_ok = 0;
    uint64_t far = epoch_ms() + 60000;
    const char *ev = "{\"__traceparent__\":\"" TP "\",\"n\":1}";

    /* r-0 .. r-39, alternating: /next before INVOKE, INVOKE before /next. */
    for (int i = 0; i < 40; i++) {
        snprintf(rid, sizeof(rid), "r-%d", i);
        if (i % 2 == 0) {
            next_event(g, rid, ev, far, body, sizeof(body));
            if (lifecycle_state(g->lc, rid) != INV_RUNNING)
                printf("# %s not running after /next\n", rid);
            invoke(g, rid, far);
        } else {
            invoke(g, rid, far);
            if (lifecycle_state(g->lc, rid) != INV_UNKNOWN)
                printf("# %s known before /next\n", rid);
            next_event(g, rid, ev, far, body, sizeof(body));
        }
        respond(g, rid);
        {
            const struct seen *s = find(&g->rec, rid);
            char want[80];
            spans_ok += s && count(&g->rec, rid) == 1 && strcmp(s->tid, TID) == 0 &&
                        s->status == SPAN_STATUS_UNSET && !s->outcome[0];
            snprintf(want, sizeof(want), "\"traceparent\":\"00-" TID "-%s-01\"", s ? s->sid : "x");
            parent_ok += s && strstr(body, want) != NULL && !strstr(body, "__traceparent__");
        }
    }
    is_int(t, spans_ok, 40, "both orders: one span per invocation, in the caller's trace");
    is_int(t, parent_ok, 40, "both orders: the handler's parent-id is that span");
    is_int(t, g->rec.ended, 40, "invocation_end once per invocation");
    ok(t, inflight(g) <= 1, "entries retire once both sides are seen (%lu left)", inflight(g));

    /* /next first, response, INVOKE last: ENDED until the INVOKE retires it. */
    next_event(g, "late", "{}", far, NULL, 0);
    respond(g, "late");
    is_int(t, lifecycle_state(g->lc, "late"), INV_ENDED, "response before INVOKE: ENDED");
    invoke(g, "late", far);
    is_int(t, lifecycle_state(g->lc, "late"), INV_UNKNOWN, "the late INVOKE retires the entry");
    is_int(t, count(&g->rec, "late"), 1, "and makes no second span (not a bypass)");
    respond(g, "late");
    is_int(t, count(&g->rec, "late"), 1, "a repeated response is ignored");
    rig_free(g);
}

static void test_many_in_flight(struct tap *t)
{
    struct rig *g = rig_new(env_lmi);
    uint64_t far = epoch_ms() + 60000;
    char rid[32];
    int good = 0;

    for (int i = 0; i < 200; i++) {
        snprintf(rid, sizeof(rid), "m-%d", i);
        next_event(g, rid, "{\"x\":1}", far, NULL, 0);
    }
    is_int(t, inflight(g), 200, "LMI: 200 invocations in flight");
    for (int i = 199; i >= 0; i--) {
        snprintf(rid, sizeof(rid), "m-%d", i);
        respond(g, rid);
    }
    for (int i = 0; i < 200; i++) {
        snprintf(rid, sizeof(rid), "m-%d", i);
        good += count(&g->rec, rid) == 1 && !find(&g->rec, rid)->outcome[0];
    }
    is_int(t, good, 200, "LMI: answered in reverse order, each span matched to its request");
    is_int(t, inflight(g), 0, "LMI: the table empties without INVOKE events");
    rig_free(g);
}

static void test_table_bound(struct tap *t)
{
    struct rig *g = rig_new(env_lmi);
    uint64_t far = epoch_ms() + 60000;
    char rid[32];
    char body[4096];
    int good = 0;
    const struct seen *lost;
    char longrid[200];

    for (int i = 0; i <= LIFECYCLE_MAX_INFLIGHT; i++) {
        snprintf(rid, sizeof(rid), "b-%d", i);
        next_event(g, rid, "{\"__traceparent__\":\"" TP "\"}", far, body, sizeof(body));
    }
    is_int(t, inflight(g), LIFECYCLE_MAX_INFLIGHT, "257 in flight: the table stays at 256");
    ok(t, strstr(body, "\"traceparent\":\"00-" TID "-") != NULL,
       "the 257th event is still promoted (fail open)");
    lost = find(&g->rec, "b-0");
    ok(t, lost && !strcmp(lost->outcome, "lost") && lost->status == SPAN_STATUS_ERROR,
       "the oldest is given up: ended as lost, status ERROR");
    is_int(t, log_count(g, "table full"), 1, "one warning for the full table");
    for (int i = 0; i <= LIFECYCLE_MAX_INFLIGHT; i++) {
        snprintf(rid, sizeof(rid), "b-%d", i);
        respond(g, rid);
    }
    for (int i = 1; i <= LIFECYCLE_MAX_INFLIGHT; i++) {
        snprintf(rid, sizeof(rid), "b-%d", i);
        good += count(&g->rec, rid) == 1 && !find(&g->rec, rid)->outcome[0];
    }
    is_int(t, good, LIFECYCLE_MAX_INFLIGHT, "the other 256 end normally");
    is_int(t, count(&g->rec, "b-0"), 1, "the evicted one's late response is ignored");
    is_int(t, inflight(g), 0, "table empty again");

    memset(longrid, 'x', sizeof(longrid) - 1);
    longrid[sizeof(longrid) - 1] = '\0';
    next_event(g, longrid, "{\"__traceparent__\":\"" TP "\"}", far, body, sizeof(body));
    respond(g, longrid);
    ok(t, strstr(body, "\"traceparent\":\"00-" TID "-") && !find(&g->rec, longrid),
       "an over-long request id: event still promoted, no span, no crash");
    rig_free(g);
}

/* A full table gives up the oldest invocation by when it was made, not by where it sits: slots
 * freed early and taken again hold the newest ones. */
static void test_eviction_order(struct tap *t)
{
    struct rig *g = rig_new(env_lmi);
    uint64_t far = epoch_ms() + 60000;
    char rid[32];
    const struct seen *s;

    for (int i = 0; i < LIFECYCLE_MAX_INFLIGHT; i++) {
        snprintf(rid, sizeof(rid), "a-%d", i);
        next_event(g, rid, "{\"x\":1}", far, NULL, 0);
    }
    for (int i = 0; i < 10; i++) { /* the first ten end: their slots are free again */
        snprintf(rid, sizeof(rid), "a-%d", i);
        respond(g, rid);
    }
    for (int i = 0; i < 10; i++) {
        snprintf(rid, sizeof(rid), "c-%d", i);
        next_event(g, rid, "{\"x\":1}", far, NULL, 0);
    }
    next_event(g, "d-0", "{\"x\":1}", far, NULL, 0);
    next_event(g, "d-1", "{\"x\":1}", far, NULL, 0);
    s = find(&g->rec, "a-10");
    ok(t,
       s && !strcmp(s->outcome, "lost") && find(&g->rec, "a-11") &&
           !strcmp(find(&g->rec, "a-11")->outcome, "lost"),
       "full table: the two oldest in flight (a-10, a-11) are given up");
    ok(t, !find(&g->rec, "c-0") && !find(&g->rec, "a-12"),
       "full table: not the newer ones in the freed slots, nor the next oldest");
    is_int(t, inflight(g), LIFECYCLE_MAX_INFLIGHT, "full table: still 256 in flight");
    rig_free(g);
}

/* A flood past the table: one warning, not one per eviction; the count comes at SHUTDOWN. */
static void test_eviction_log(struct tap *t)
{
    struct rig *g = rig_new(env_lmi);
    uint64_t far = epoch_ms() + 60000;
    char rid[32];
    char body[4096];

    for (int i = 0; i < LIFECYCLE_MAX_INFLIGHT + 41; i++) {
        snprintf(rid, sizeof(rid), "f-%d", i);
        next_event(g, rid, "{\"__traceparent__\":\"" TP "\"}", far, body, sizeof(body));
    }
    is_int(t, find(&g->rec, "f-40") != NULL && find(&g->rec, "f-41") == NULL, 1,
           "flood: the 41 oldest were given up");
    is_int(t, log_count(g, "giving up on"), 1, "flood: 41 evictions, one warning");
    is_int(t, log_count(g, "giving up on f-0\""), 1, "flood: the warning names the first");
    is_int(t, log_count(g, "gave up on"), 0, "flood: no summary before SHUTDOWN");
    shutdown_ev(g, "spindown");
    is_int(t, log_count(g, "gave up on 40 more invocations"), 1,
           "SHUTDOWN: one line counts the 40 evictions not logged");
    rig_free(g);
}

static void test_timeout_crash(struct tap *t)
{
    struct rig *g = rig_new(env_default);
    uint64_t far = epoch_ms() + 60000;
    uint64_t soon = epoch_ms() + 30;
    const struct seen *s;

    invoke(g, "t-1", soon);
    next_event(g, "t-1", "{}", soon, NULL, 0);
    usleep(60 * 1000);
    invoke(g, "t-2", far);
    s = find(&g->rec, "t-1");
    ok(t, s && !strcmp(s->outcome, "timeout") && s->status == SPAN_STATUS_ERROR,
       "no response by the deadline: timeout at the next INVOKE");
    ok(t, s && s->end_ns == soon * 1000000ULL, "a timed-out span ends at its deadline");

    next_event(g, "t-2", "{}", far, NULL, 0);
    invoke(g, "t-3", far);
    s = find(&g->rec, "t-2");
    ok(t, s && !strcmp(s->outcome, "crash") && s->status == SPAN_STATUS_ERROR,
       "no response, deadline not passed: crash at the next INVOKE");

    next_event(g, "t-3", "{}", far, NULL, 0);
    shutdown_ev(g, "timeout");
    s = find(&g->rec, "t-3");
    ok(t, s && !strcmp(s->outcome, "timeout"), "SHUTDOWN reason timeout: timeout");

    rig_free(g);
    g = rig_new(env_default);
    invoke(g, "t-4", far);
    next_event(g, "t-4", "{}", far, NULL, 0);
    shutdown_ev(g, "failure");
    s = find(&g->rec, "t-4");
    ok(t, s && !strcmp(s->outcome, "crash"), "SHUTDOWN reason failure: crash");
    {
        struct lifecycle_stats st;
        lifecycle_get_stats(g->lc, &st);
        ok(t, st.crashes == 1 && st.inflight == 0, "stats: crash counted, table empty");
    }
    rig_free(g);
}

static void test_bypass(struct tap *t)
{
    struct rig *g = rig_new(env_default);
    uint64_t far = epoch_ms() + 60000;
    const struct seen *s;
    struct lifecycle_stats st;

    invoke(g, "y-1", far);
    usleep(5000);
    invoke(g, "y-2", far);
    s = find(&g->rec, "y-1");
    ok(t, s && s->bypass && s->end_ns > s->start_ns && !strcmp(s->name, "fn"),
       "INVOKE never seen at the proxy: bypass span from INVOKE to the next INVOKE");
    shutdown_ev(g, "spindown");
    ok(t, find(&g->rec, "y-2") && find(&g->rec, "y-2")->bypass, "and at SHUTDOWN");
    lifecycle_get_stats(g->lc, &st);
    is_int(t, st.bypassed, 2, "bypassed counted");
    is_int(t, log_count(g, "never reached the proxy"), 1, "one warning, not one per invocation");
    rig_free(g);

    /* The proxy was never offered (it could not listen, the ready file could not be written,
     * the upstream was unreachable): the runtime is not to blame, the daemon said why. */
    g = rig_new(env_default);
    lifecycle_set_proxy_offered(g->lc, false);
    invoke(g, "z-1", far);
    shutdown_ev(g, "spindown");
    ok(t, find(&g->rec, "z-1") && find(&g->rec, "z-1")->bypass, "proxy not offered: bypass span");
    is_int(t, log_count(g, "AWS_LAMBDA_EXEC_WRAPPER"), 0,
           "proxy not offered: the runtime is not blamed for ignoring the wrapper");
    rig_free(g);
}

static void test_errors_and_drops(struct tap *t)
{
    struct rig *g = rig_new(env_lmi);
    uint64_t far = epoch_ms() + 60000;
    const struct seen *s;
    struct proxy_report r;

    next_event(g, "e-1", "{}", far, NULL, 0);
    memset(&r, 0, sizeof(r));
    r.request_id = "e-1";
    r.upstream_status = 202;
    r.error_type = "Runtime.UserError";
    r.error_body = "{\"errorMessage\":\"bad\",\"errorType\":\"Error\"}";
    r.error_body_len = strlen(r.error_body);
    g->ph.invocation_error(g->ph.arg, &r);
    s = find(&g->rec, "e-1");
    ok(t,
       s && s->status == SPAN_STATUS_ERROR && !strcmp(s->exc_type, "Runtime.UserError") &&
           !strcmp(s->exc_msg, "bad"),
       "/error: status ERROR and the exception event");

    /* Streaming response whose trailers say it failed. */
    next_event(g, "e-2", "{}", far, NULL, 0);
    memset(&r, 0, sizeof(r));
    r.request_id = "e-2";
    r.upstream_status = 202;
    r.streaming = true;
    r.error_type = "Runtime.StreamError";
    r.error_body = "eyJlcnJvck1lc3NhZ2UiOiJjdXQifQ=="; /* {"errorMessage":"cut"} */
    r.error_body_len = strlen(r.error_body);
    r.error_body_base64 = true;
    g->ph.invocation_response(g->ph.arg, &r);
    s = find(&g->rec, "e-2");
    ok(t,
       s && s->status == SPAN_STATUS_ERROR && !strcmp(s->exc_type, "Runtime.StreamError") &&
           !strcmp(s->exc_msg, "cut"),
       "streaming error trailers: exception from the base64 Error-Body");

    next_event(g, "e-3", "{}", far, NULL, 0);
    memset(&r, 0, sizeof(r));
    r.request_id = "e-3";
    r.upstream_status = 413;
    g->ph.invocation_response(g->ph.arg, &r);
    s = find(&g->rec, "e-3");
    ok(t, s && s->status == SPAN_STATUS_ERROR, "a response Lambda refused (413): status ERROR");

    lifecycle_add_dropped(g->lc, 5);
    next_event(g, "e-4", "{}", far, NULL, 0);
    respond(g, "e-4");
    next_event(g, "e-5", "{}", far, NULL, 0);
    respond(g, "e-5");
    ok(t,
       find(&g->rec, "e-4") && find(&g->rec, "e-4")->dropped == 5 &&
           find(&g->rec, "e-5")->dropped == 0,
       "dropped spans reported once, on the next span");
    rig_free(g);
}

static void test_sdk_disabled(struct tap *t)
{
    const char *env[] = {"AWS_LAMBDA_FUNCTION_NAME", "fn", "OTEL_SDK_DISABLED", "true", NULL};
    struct rig *g = rig_new(env);
    char body[4096];
    uint64_t far = epoch_ms() + 60000;

    invoke(g, "d-1", far);
    next_event(g, "d-1", "{\"__traceparent__\":\"" TP "\"}", far, body, sizeof(body));
    respond(g, "d-1");
    shutdown_ev(g, "spindown");
    is_int(t, g->rec.n, 0, "OTEL_SDK_DISABLED: no spans");
    ok(t, strstr(body, "\"traceparent\":\"" TP "\"") != NULL,
       "OTEL_SDK_DISABLED: the handler still gets the caller's context as is");
    rig_free(g);
}

/* An invalid reserved __traceparent__: stripped, not the parent, one WARN saying what was wrong
 * with only a safe prefix of the value, and rate-limited. */
static void test_reserved_invalid(struct tap *t)
{
    struct rig *g = rig_new(env_default);
    uint64_t far = epoch_ms() + 60000;
    char seen[4096];
    const struct seen *s;

    invoke(g, "v-1", far);
    next_event(g, "v-1",
               "{\"__traceparent__\":\"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01\","
               "\"a\":1}",
               far, seen, sizeof(seen));
    ok(t, !strstr(seen, "__traceparent__") && strstr(seen, "\"a\":1"), "invalid value stripped");
    is_int(t, log_count(g, "is not a valid traceparent (trace-id is not 32 lower-case hex"), 1,
           "one WARN saying what was wrong");
    is_int(t, log_count(g, "starts .*00-4BF92F357[^0-9A-Fa-f]*): stripped"), 1,
           "with a short prefix of the value");
    is_int(t, log_count(g, "4BF92F3577B34"), 0, "never the value itself");
    invoke(g, "v-2", far);
    next_event(g, "v-2", "{\"__traceparent__\":42}", far, seen, sizeof(seen));
    invoke(g, "v-3", far);
    next_event(g, "v-3", "{\"__traceparent__\":\"\\u0000\\\"<script>\"}", far, seen, sizeof(seen));
    is_int(t, log_count(g, "is not a valid traceparent"), 1,
           "rate-limited: no line per invocation");
    shutdown_ev(g, "spindown");
    s = find(&g->rec, "v-1");
    ok(t, s && s->tid[0] && strcmp(s->tid, "4bf92f3577b34da6a3ce929d0e0e4736") != 0,
       "the invalid value is not the parent (a new trace)");
    rig_free(g);
}

int main(void)
{
    struct tap t = TAP_INIT;

    test_both_orders(&t);
    test_many_in_flight(&t);
    test_table_bound(&t);
    test_eviction_order(&t);
    test_eviction_log(&t);
    test_timeout_crash(&t);
    test_bypass(&t);
    test_errors_and_drops(&t);
    test_sdk_disabled(&t);
    test_reserved_invalid(&t);
    return tap_done(&t);
}
