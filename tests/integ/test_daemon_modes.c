/* SPDX-License-Identifier: Apache-2.0 */
/* daemon, more paths: the real build/tracebridge binary against the fake Lambda and OTLP backend
 * of fake_lambda.h (test_daemon.c covers the main flows). Here: adaptive flush switching both
 * ways, SIGTERM, streaming responses with error trailers, the OTLP receiver feeding the same
 * export byte for byte, the self-loop guard, and no span in two exports when exports outlive
 * /event/next. */
#include "extension/otlp/otlp.h"
#include "tests/lib/fake_lambda.h"
#include "tests/lib/tap.h"
#include "tests/lib/test_util.h"

static char bin[512];

static int runtime_next(struct fl_rig *r)
{
    struct rt_resp resp;
    int fd = rt_connect(r->proxy_port);

    if (fd < 0)
        return -1;
    if (rt_call(fd, "GET", "/2018-06-01/runtime/invocation/next", NULL, NULL, &resp) < 0 ||
        resp.status != 200) {
        buf_free(&resp.body);
        close(fd);
        return -1;
    }
    buf_free(&resp.body);
    return fd;
}

static int runtime_respond(int fd, const char *rid)
{
    struct rt_resp resp;
    char path[128];
    int st;

    snprintf(path, sizeof(path), "/2018-06-01/runtime/invocation/%s/response", rid);
    if (rt_call(fd, "POST", path, NULL, "\"ok\"", &resp) < 0)
        return -1;
    st = resp.status;
    buf_free(&resp.body);
    return st;
}

/* Sends raw request bytes and reads one response head (+ Content-Length body); its status. */
static int raw_call(int fd, const void *req, size_t n)
{
    char head[8192];
    size_t have = 0;
    char *end = NULL;
    const char *cl;
    long clen = 0;
    long got;

    test_send_all(fd, req, n);
    memset(head, 0, sizeof(head));
    while (!end) {
        ssize_t k = recv(fd, head + have, sizeof(head) - 1 - have, 0);
        if (k <= 0)
            return -1;
        have += (size_t)k;
        end = strstr(head, "\r\n\r\n");
    }
    cl = strcasestr(head, "\r\nContent-Length:");
    if (cl && cl < end)
        clen = strtol(cl + 17, NULL, 10);
    got = (long)(have - (size_t)(end + 4 - head));
    while (got < clen) {
        char tmp[4096];
        ssize_t k = recv(fd, tmp, sizeof(tmp), 0);
        if (k <= 0)
            break;
        got += k;
    }
    return atoi(head + 9);
}

/* Calls fn on every span the backend accepted, with the index of its request. */
static void each_span(struct fl_rig *r, void (*fn)(void *arg, int req, const fo_span *s), void *arg)
{
    for (int i = 0; i < r->fo.accepted; i++) {
        fo_request *q = fo_decode(&r->fo, i);
        for (size_t a = 0; q && a < q->n_resource_spans; a++) {
            for (size_t b = 0; b < q->resource_spans[a]->n_scope_spans; b++) {
                Opentelemetry__Proto__Trace__V1__ScopeSpans *ss =
                    q->resource_spans[a]->scope_spans[b];
                for (size_t c = 0; c < ss->n_spans; c++)
                    fn(arg, i, ss->spans[c]);
            }
        }
        if (q)
            fo_free(q);
    }
}

struct rid_count {
    char rid[16][16];
    int n[16];
    int req[16];
};

static void count_rid(void *arg, int req, const fo_span *s)
{
    struct rid_count *c = arg;
    const char *rid = fo_attr_str(s, "faas.invocation_id");

    for (int i = 0; rid && i < 16; i++) {
        if (strcmp(c->rid[i], rid) == 0) {
            c->n[i]++;
            c->req[i] = req;
        }
    }
}

/* ---- adaptive ---- */

/* One invocation: the handler takes handler_ms; returns whether /event/next (call number
 * next_no) came before the response (the invoke-mode behaviour) — or -1 on failure. */
static int one_invocation(struct fl_rig *r, const char *rid, int next_no, int handler_ms)
{
    int fd;
    uint64_t responded;
    int before;

    fl_invoke(&r->fl, rid, "{\"k\":1}", epoch_ms() + 10000, true, true);
    fd = runtime_next(r);
    if (fd < 0)
        return -1;
    usleep((useconds_t)handler_ms * 1000);
    responded = fake_now_ms();
    if (runtime_respond(fd, rid) != 202 || !fl_wait_ext_next(&r->fl, next_no, 3000)) {
        close(fd);
        return -1;
    }
    close(fd);
    pthread_mutex_lock(&r->fl.mu);
    before = r->fl.ext_next_at[next_no - 1] < responded;
    pthread_mutex_unlock(&r->fl.mu);
    return before;
}

static void scenario_adaptive(struct tap *t)
{
    const char *extra[] = {"TRACEBRIDGE_FLUSH=adaptive", "TRACEBRIDGE_OTLP_LISTEN=off", NULL};
    struct fl_rig r;
    int f0 = t->failed;
    int modes[8];
    char rid[16];

    fl_rig_start(&r, bin, "tb-test-modes", NULL, extra);
    ok(t, fl_wait_ext_next(&r.fl, 1, 3000), "adaptive: registered");
    /* Back to back: INVOKEs 2, 3 and 4 come < 2 s after the previous one; the 4th switches. */
    for (int i = 0; i < 6; i++) {
        snprintf(rid, sizeof(rid), "a-%d", i);
        modes[i] = one_invocation(&r, rid, i + 2, 150);
    }
    ok(t, modes[0] == 0 && modes[1] == 0 && modes[2] == 0,
       "adaptive: starts in end mode (next after the response: %d %d %d)", modes[0], modes[1],
       modes[2]);
    ok(t, modes[3] == 1 && modes[4] == 1 && modes[5] == 1,
       "adaptive: frequent invocations switch to invoke mode (next before the response: %d %d %d)",
       modes[3], modes[4], modes[5]);
    is_int(t, file_count_lines(r.log, "invocations are frequent"), 1,
           "adaptive: one log line for the switch");
    usleep(2200 * 1000);
    modes[6] = one_invocation(&r, "a-6", 8, 150);
    is_int(t, modes[6], 0, "adaptive: after a pause, back to end mode");
    is_int(t, file_count_lines(r.log, "invocations are rare"), 1,
           "adaptive: one log line for the switch back");
    is_int(t, fl_rig_stop(&r, "spindown"), 0, "adaptive: exit 0");
    {
        struct rid_count c;
        int once = 0;
        memset(&c, 0, sizeof(c));
        for (int i = 0; i < 7; i++)
            snprintf(c.rid[i], sizeof(c.rid[i]), "a-%d", i);
        each_span(&r, count_rid, &c);
        for (int i = 0; i < 7; i++)
            once += c.n[i] == 1;
        is_int(t, once, 7, "adaptive: every invocation's span exported exactly once");
    }
    fl_rig_done(t, &r, f0);
}

/* ---- SIGTERM ---- */

static void scenario_sigterm(struct tap *t)
{
    const char *extra[] = {"TRACEBRIDGE_FLUSH=invoke", "TRACEBRIDGE_OTLP_LISTEN=off", NULL};
    struct fl_rig r;
    int f0 = t->failed;
    int fd;
    uint64_t t0;
    int code;

    fl_rig_start(&r, bin, "tb-test-modes", NULL, extra);
    ok(t, fl_wait_ext_next(&r.fl, 1, 3000), "SIGTERM: registered");
    fl_invoke(&r.fl, "s-1", "{}", epoch_ms() + 10000, true, true);
    fd = runtime_next(&r);
    runtime_respond(fd, "s-1");
    close(fd);
    ok(t, fl_wait_ext_next(&r.fl, 2, 3000), "SIGTERM: back in /event/next");
    usleep(100 * 1000);
    is_int(t, r.fo.accepted, 0, "SIGTERM: invoke mode kept the span buffered");
    t0 = fake_now_ms();
    kill(r.pid, SIGTERM);
    code = wait_exit(r.pid, 3000);
    is_int(t, code, 0, "SIGTERM: exit 0");
    ok(t, fake_now_ms() - t0 < 1000, "SIGTERM: exited within %llu ms (budget 500 ms + slack)",
       (unsigned long long)(fake_now_ms() - t0));
    is_int(t, fo_count_spans(&r.fo), 1, "SIGTERM: the buffered span was flushed before exiting");
    ok(t, access(r.ready, F_OK) != 0, "SIGTERM: ready file removed");
    fl_stop(&r.fl);
    fo_stop(&r.fo);
    fl_rig_done(t, &r, f0);
}

/* ---- streaming with error trailers ---- */

struct exc_found {
    bool found;
    char type[64], msg[64];
    int status;
};

static void find_exc(void *arg, int req, const fo_span *s)
{
    struct exc_found *e = arg;
    const char *rid = fo_attr_str(s, "faas.invocation_id");

    (void)req;
    if (!rid || strcmp(rid, "st-1") != 0 || s->n_events != 1)
        return;
    e->found = true;
    e->status = s->status ? s->status->code : 0;
    for (size_t i = 0; i < s->events[0]->n_attributes; i++) {
        Opentelemetry__Proto__Common__V1__KeyValue *kv = s->events[0]->attributes[i];
        if (!strcmp(kv->key, "exception.type"))
            snprintf(e->type, sizeof(e->type), "%s", kv->value->string_value);
        if (!strcmp(kv->key, "exception.message"))
            snprintf(e->msg, sizeof(e->msg), "%s", kv->value->string_value);
    }
}

static void scenario_streaming_error(struct tap *t)
{
    const char *extra[] = {"TRACEBRIDGE_FLUSH=end", "TRACEBRIDGE_OTLP_LISTEN=off", NULL};
    /* base64 of {"errorMessage":"stream broke","errorType":"Error"} */
    const char *req =
        "POST /2018-06-01/runtime/invocation/st-1/response HTTP/1.1\r\nHost: x\r\n"
        "Lambda-Runtime-Function-Response-Mode: streaming\r\n"
        "Content-Type: application/vnd.awslambda.http-integration-response\r\n"
        "Transfer-Encoding: chunked\r\n"
        "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n"
        "5\r\nhello\r\n6\r\n world\r\n0\r\n"
        "Lambda-Runtime-Function-Error-Type: Runtime.StreamError\r\n"
        "Lambda-Runtime-Function-Error-Body: "
        "eyJlcnJvck1lc3NhZ2UiOiJzdHJlYW0gYnJva2UiLCJlcnJvclR5cGUiOiJFcnJvciJ9\r\n\r\n";
    struct fl_rig r;
    struct exc_found e;
    int f0 = t->failed;
    int fd;

    memset(&e, 0, sizeof(e));
    fl_rig_start(&r, bin, "tb-test-modes", NULL, extra);
    ok(t, fl_wait_ext_next(&r.fl, 1, 3000), "streaming: registered");
    fl_invoke(&r.fl, "st-1", "{}", epoch_ms() + 10000, true, true);
    fd = runtime_next(&r);
    is_int(t, raw_call(fd, req, strlen(req)), 202, "streaming: response with trailers relayed");
    close(fd);
    ok(t, fl_wait_ext_next(&r.fl, 2, 3000), "streaming: next after the stream ended");
    is_int(t, fl_rig_stop(&r, "spindown"), 0, "streaming: exit 0");
    is_int(t, r.fl.responses, 1, "streaming: the fake Lambda got the response");
    each_span(&r, find_exc, &e);
    ok(t, e.found && e.status == 2, "streaming: span ERROR with an exception event");
    is_str(t, e.type, "Runtime.StreamError",
           "streaming: exception.type from the Error-Type trailer");
    is_str(t, e.msg, "stream broke", "streaming: exception.message from the base64 Error-Body");
    fl_rig_done(t, &r, f0);
}

/* ---- the OTLP receiver ---- */

struct both {
    int own_req, handler_req;
};

static void find_both(void *arg, int req, const fo_span *s)
{
    struct both *b = arg;

    if (!strcmp(s->name, "handler-work"))
        b->handler_req = req;
    if (fo_attr_str(s, "faas.invocation_id") &&
        !strcmp(fo_attr_str(s, "faas.invocation_id"), "rc-1"))
        b->own_req = req;
}

/* An OTLP/HTTP protobuf request as a handler's SDK would send it. */
static void handler_payload(struct buf *out)
{
    struct attr_list attrs = {0};
    struct otlp_resource *res;
    struct span s;

    attr_list_add_str(&attrs, "service.name", "orders-handler");
    attr_list_add_str(&attrs, "telemetry.sdk.language", "nodejs");
    res = otlp_resource_new(&attrs, "@opentelemetry/instrumentation-aws-lambda", "0.50.0");
    attr_list_free(&attrs);
    span_init(&s);
    span_set_name(&s, "handler-work");
    memset(s.ctx.trace_id, 0x4b, 16);
    memset(s.ctx.span_id, 0x22, 8);
    s.kind = SPAN_KIND_INTERNAL;
    s.start_ns = 1700000000000000000ULL;
    s.end_ns = 1700000000100000000ULL;
    attr_list_add_int(&s.attrs, "big", 9007199254740993LL);
    otlp_encode_span(res, &s, out);
    span_free(&s);
    otlp_resource_free(res);
}

static void scenario_receiver(struct tap *t)
{
    char listen[64];
    const char *extra[] = {"TRACEBRIDGE_FLUSH=end", listen, NULL};
    struct fl_rig r;
    struct both b = {-1, -1};
    struct buf payload, req;
    int f0 = t->failed;
    int rport = test_free_port();
    int fd, cfd;

    snprintf(listen, sizeof(listen), "TRACEBRIDGE_OTLP_LISTEN=127.0.0.1:%d", rport);
    buf_init(&payload, 1 << 20);
    buf_init(&req, 1 << 20);
    handler_payload(&payload);
    buf_appendf(&req,
                "POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Type: application/x-protobuf\r\nContent-Length: %zu\r\n\r\n",
                payload.len);
    buf_append(&req, payload.data, payload.len);
    fl_rig_start(&r, bin, "tb-test-modes", NULL, extra);
    ok(t, fl_wait_ext_next(&r.fl, 1, 3000), "receiver: registered");
    fl_invoke(&r.fl, "rc-1", "{}", epoch_ms() + 10000, true, true);
    fd = runtime_next(&r);
    cfd = rt_connect(rport);
    ok(t, cfd >= 0, "receiver: listening on 127.0.0.1:%d", rport);
    is_int(t, cfd >= 0 ? raw_call(cfd, req.data, req.len) : -1, 200,
           "receiver: the handler's export is acknowledged");
    if (cfd >= 0)
        close(cfd);
    runtime_respond(fd, "rc-1");
    close(fd);
    ok(t, fl_wait_ext_next(&r.fl, 2, 3000), "receiver: next after the end flush");
    is_int(t, fl_rig_stop(&r, "spindown"), 0, "receiver: exit 0");
    each_span(&r, find_both, &b);
    ok(t, b.own_req >= 0 && b.own_req == b.handler_req,
       "receiver: the handler's span and tracebridge's own left in the same export (%d, %d)",
       b.own_req, b.handler_req);
    ok(t,
       b.handler_req >= 0 && memmem(r.fo.bodies[b.handler_req].data, r.fo.bodies[b.handler_req].len,
                                    payload.data, payload.len) != NULL,
       "receiver: the handler's request bytes reached the backend unchanged");
    is_int(t, fo_count_spans(&r.fo), 2, "receiver: two spans in all, nothing twice");
    buf_free(&payload);
    buf_free(&req);
    fl_rig_done(t, &r, f0);
}

static void scenario_self_loop(struct tap *t, const char *host)
{
    char listen[64], endpoint[96];
    const char *extra[] = {"TRACEBRIDGE_FLUSH=end", listen, NULL};
    struct fl_rig r;
    int f0 = t->failed;
    int rport = test_free_port();
    int fd;

    snprintf(listen, sizeof(listen), "TRACEBRIDGE_OTLP_LISTEN=127.0.0.1:%d", rport);
    snprintf(endpoint, sizeof(endpoint), "http://%s:%d", host, rport);
    fl_rig_start(&r, bin, "tb-test-modes", endpoint, extra);
    ok(t, fl_wait_ext_next(&r.fl, 1, 3000), "self-loop (%s): registered", host);
    fl_invoke(&r.fl, "sl-1", "{}", epoch_ms() + 10000, true, true);
    fd = runtime_next(&r);
    runtime_respond(fd, "sl-1");
    close(fd);
    ok(t, fl_wait_ext_next(&r.fl, 2, 3000), "self-loop (%s): the invocation completes", host);
    is_int(t, fl_rig_stop(&r, "spindown"), 0, "self-loop (%s): exit 0", host);
    is_int(t, file_count_lines(r.log, "own receiver"), 1, "self-loop (%s): one warning", host);
    is_int(t, file_count_lines(r.log, "shutdown: 0 spans exported, 1 left unsent"), 1,
           "self-loop (%s): the span was made but never sent to ourselves", host);
    fl_rig_done(t, &r, f0);
}

/* ---- exports that outlive /event/next ---- */

static void scenario_no_duplicates(struct tap *t)
{
    const char *extra[] = {"TRACEBRIDGE_FLUSH=end", "TRACEBRIDGE_MAX_FLUSH_MS=50",
                           "TRACEBRIDGE_OTLP_LISTEN=off", NULL};
    struct fl_rig r;
    struct rid_count c;
    int f0 = t->failed;
    int once = 0;
    bool serial = true;

    memset(&c, 0, sizeof(c));
    fl_rig_start(&r, bin, "tb-test-modes", NULL, extra);
    r.fo.delay_ms = 300; /* every export outlives the 50 ms wait before /event/next */
    ok(t, fl_wait_ext_next(&r.fl, 1, 3000), "overlap: registered");
    for (int i = 0; i < 6; i++) {
        snprintf(c.rid[i], sizeof(c.rid[i]), "o-%d", i);
        if (one_invocation(&r, c.rid[i], i + 2, 10) < 0)
            break;
    }
    ok(t, r.fl.n_ext_next >= 7, "overlap: six invocations done while exports were running");
    is_int(t, fl_rig_stop(&r, "spindown"), 0, "overlap: exit 0");
    each_span(&r, count_rid, &c);
    for (int i = 0; i < 6; i++)
        once += c.n[i] == 1;
    is_int(t, once, 6, "overlap: every span exported exactly once");
    for (int i = 1; i < r.fo.requests && i < FL_MAX; i++)
        serial = serial && r.fo.req_at[i] - r.fo.req_at[i - 1] >= 290;
    ok(t, serial, "overlap: one export request at a time (%d requests)", r.fo.requests);
    fl_rig_done(t, &r, f0);
}

int main(int argc, char **argv)
{
    struct tap t = TAP_INIT;

    (void)argc;
    if (!fl_find_daemon(&t, argv[0], bin, sizeof(bin)))
        return tap_done(&t);
    scenario_adaptive(&t);
    scenario_sigterm(&t);
    scenario_streaming_error(&t);
    scenario_receiver(&t);
    scenario_self_loop(&t, "127.0.0.1");
    scenario_self_loop(&t, "localhost");
    scenario_no_duplicates(&t);
    return tap_done(&t);
}
