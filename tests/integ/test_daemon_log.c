/* SPDX-License-Identifier: Apache-2.0 */
/* daemon logs: the real build/tracebridge binary against fake_lambda.h, once at
 * TRACEBRIDGE_LOG_LEVEL=debug and once at info, with OTLP headers configured. At debug the log
 * answers "what did tracebridge do with this invocation?" (event analysis, what was written,
 * end, export, receiver requests, INVOKE); at info nothing is logged per invocation; at no level
 * does an OTLP header value appear. */
#include "extension/otlp/otlp.h"
#include "tests/lib/fake_lambda.h"
#include "tests/lib/tap.h"

/* Header values that must reach the backend and never the log. */
#define SECRET_AUTH "s3cr3t-Token-42"
#define SECRET_KEY  "k3y-Value-99"

static char bin[512];

struct run {
    struct buf log;       /* the daemon's whole stderr */
    char handler_sid[17]; /* the parent-id the handler saw for r-1 */
    char auth[64];        /* the Authorization header the backend received */
    int receiver_status;
    int exit_code;
};

/* ---- the runtime and the handler's SDK ---- */

static int runtime_next(struct fl_rig *r, struct rt_resp *resp)
{
    int fd = rt_connect(r->proxy_port);

    if (fd >= 0 &&
        rt_call(fd, "GET", "/2018-06-01/runtime/invocation/next", NULL, NULL, resp) < 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static void runtime_post(int fd, const char *rid, const char *what, const char *body)
{
    struct rt_resp resp;
    char path[128];

    snprintf(path, sizeof(path), "/2018-06-01/runtime/invocation/%s/%s", rid, what);
    if (rt_call(fd, "POST", path, NULL, body, &resp) == 0)
        buf_free(&resp.body);
}

/* The parent-id of "traceparent":"00-<trace>-<parent>-.." in the event the handler got. */
static void handler_parent(const struct rt_resp *resp, char *sid)
{
    const char *p = resp->body.data ? strstr(resp->body.data, "\"traceparent\":\"00-") : NULL;

    sid[0] = '\0';
    if (p) {
        memcpy(sid, p + strlen("\"traceparent\":\"00-") + 33, 16);
        sid[16] = '\0';
    }
}

/* Reads one response head; its status (the receiver's answers are small). */
static int read_status(int fd)
{
    char head[4096];
    size_t have = 0;

    memset(head, 0, sizeof(head));
    while (!strstr(head, "\r\n\r\n") && have < sizeof(head) - 1) {
        ssize_t k = recv(fd, head + have, sizeof(head) - 1 - have, 0);
        if (k <= 0)
            return -1;
        have += (size_t)k;
    }
    return strncmp(head, "HTTP/1.1 ", 9) == 0 ? atoi(head + 9) : -1;
}

/* One span as the handler's SDK would export it to the receiver; the HTTP status. */
static int sdk_export(int port)
{
    struct attr_list attrs = {0};
    struct otlp_resource *res;
    struct span s;
    struct buf body, req;
    int fd = rt_connect(port);
    int status = -1;

    attr_list_add_str(&attrs, "service.name", "orders-handler");
    res = otlp_resource_new(&attrs, "handler-scope", "1.0.0");
    attr_list_free(&attrs);
    span_init(&s);
    span_set_name(&s, "handler-work");
    memset(s.ctx.trace_id, 0x4b, 16);
    memset(s.ctx.span_id, 0x22, 8);
    s.start_ns = 1700000000000000000ULL;
    s.end_ns = 1700000000100000000ULL;
    buf_init(&body, 1 << 20);
    buf_init(&req, 1 << 20);
    otlp_encode_span(res, &s, &body);
    buf_appendf(&req,
                "POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                "application/x-protobuf\r\nContent-Length: %zu\r\n\r\n",
                body.len);
    buf_append(&req, body.data, body.len);
    if (fd >= 0) {
        test_send_all(fd, req.data, req.len);
        status = read_status(fd);
        close(fd);
    }
    buf_free(&body);
    buf_free(&req);
    span_free(&s);
    otlp_resource_free(res);
    return status;
}

static void read_file(const char *path, struct buf *out)
{
    char tmp[4096];
    size_t n;
    FILE *f = fopen(path, "r");

    buf_init(out, 16 << 20);
    while (f && (n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        buf_append(out, tmp, n);
    buf_append_byte(out, '\0');
    if (f)
        fclose(f);
}

/* ---- one daemon life: two invocations and one SDK export ---- */

static void wait_accepted(struct fl_rig *r, int n, int ms)
{
    uint64_t end = fake_now_ms() + (uint64_t)ms;

    while (r->fo.accepted < n && fake_now_ms() < end)
        usleep(5000);
}

/* r-1: an SQS event with a traceparent, answered; the handler's SDK exports to the receiver
 * meanwhile. r-2: an event that is not a JSON object, answered with an error. */
static void invocations(struct fl_rig *r, struct run *out, int rport)
{
    struct rt_resp resp;
    int fd;

    fl_invoke(&r->fl, "r-1", FL_SQS_EVENT, epoch_ms() + 10000, true, true);
    fd = runtime_next(r, &resp);
    if (fd >= 0) {
        handler_parent(&resp, out->handler_sid);
        buf_free(&resp.body);
        out->receiver_status = sdk_export(rport);
        runtime_post(fd, "r-1", "response", "\"ok\"");
        close(fd);
    }
    fl_wait_ext_next(&r->fl, 2, 3000);
    fl_invoke(&r->fl, "r-2", "\"just a string\"", epoch_ms() + 10000, true, true);
    fd = runtime_next(r, &resp);
    if (fd >= 0) {
        buf_free(&resp.body);
        runtime_post(fd, "r-2", "error",
                     "{\"errorMessage\":\"boom\",\"errorType\":\"Error\",\"stackTrace\":[]}");
        close(fd);
    }
    fl_wait_ext_next(&r->fl, 3, 3000);
    wait_accepted(r, 1, 3000);
}

static void run_daemon(const char *level, struct run *out)
{
    char listen[64], lvl[64];
    const char *extra[] = {lvl, listen, "TRACEBRIDGE_FLUSH=end",
                           "OTEL_EXPORTER_OTLP_HEADERS=authorization=Bearer%20" SECRET_AUTH
                           ",x-api-key=" SECRET_KEY,
                           NULL};
    struct fl_rig r;
    int rport = test_free_port();

    memset(out, 0, sizeof(*out));
    snprintf(lvl, sizeof(lvl), "TRACEBRIDGE_LOG_LEVEL=%s", level);
    snprintf(listen, sizeof(listen), "TRACEBRIDGE_OTLP_LISTEN=127.0.0.1:%d", rport);
    fl_rig_start(&r, bin, "tb-test-log", NULL, extra);
    if (fl_wait_ext_next(&r.fl, 1, 3000))
        invocations(&r, out, rport);
    out->exit_code = fl_rig_stop(&r, "spindown");
    snprintf(out->auth, sizeof(out->auth), "%s", r.fo.accepted > 0 ? r.fo.auth[0] : "");
    read_file(r.log, &out->log);
    fo_release(&r.fo);
    unlink(r.log);
}

/* ---- checks ---- */

static bool has(const struct run *w, const char *s)
{
    return strstr(w->log.data, s) != NULL;
}

/* The log line containing `key` that also contains each of the NULL-terminated `parts`. */
static bool line_has(const struct run *w, const char *key, const char *const *parts)
{
    const char *p = w->log.data;

    while ((p = strstr(p, key)) != NULL) {
        const char *start = p;
        const char *end = strchr(p, '\n');
        bool all = true;

        while (start > w->log.data && start[-1] != '\n')
            start--;
        for (int i = 0; parts[i] && all; i++) {
            const char *q = strstr(start, parts[i]);
            all = q && (!end || q < end);
        }
        if (all)
            return true;
        p += strlen(key);
    }
    return false;
}

static int count_of(const struct run *w, const char *s)
{
    int n = 0;

    for (const char *p = w->log.data; (p = strstr(p, s)) != NULL; p += strlen(s))
        n++;
    return n;
}

static int count_lines(const struct run *w)
{
    int n = 0;

    for (const char *p = w->log.data; *p; p++)
        n += *p == '\n';
    return n;
}

static void check_debug(struct tap *t, const struct run *w)
{
    char span[32];
    const char *r1[] = {
        "trigger=sqs", "carrier=sqs-attributes", "parent=" FL_SQS_TP, span, "sampled=1", "links=",
        NULL};
    const char *r2[] = {"carrier=none", "why=\\\"", NULL};
    const char *end1[] = {"outcome=success", "duration_ms=", NULL};
    const char *end2[] = {"outcome=error", NULL};
    const char *exp[] = {"spans=", "status=200", "ms=", NULL};
    const char *rx[] = {"encoding=protobuf", "spans=1", "rejected=0", NULL};
    const char *inv[] = {"deadline_in_ms=", "flush_at=end", NULL};
    const char *none[] = {NULL};

    snprintf(span, sizeof(span), "span=%s", w->handler_sid);
    is_int(t, w->exit_code, 0, "debug: daemon exits 0");
    ok(t, strlen(w->handler_sid) == 16, "debug: the handler saw a parent-id (%s)", w->handler_sid);
    ok(t, line_has(w, "next rid=r-1 ", r1),
       "debug: /next line for r-1: trigger, carrier, the producer's traceparent, our span id "
       "(the handler's parent)");
    ok(t,
       line_has(w, "next rid=r-1 ", (const char *[]){"targets=headers", NULL}) &&
           !line_has(w, "next rid=r-1 ", (const char *[]){"targets=none", NULL}),
       "debug: /next line names the targets written");
    ok(t, line_has(w, "next rid=r-2 ", r2), "debug: /next line for r-2 says why no carrier");
    ok(t, line_has(w, "end rid=r-1 ", end1), "debug: end of r-1 with outcome and duration");
    ok(t, line_has(w, "end rid=r-2 ", end2), "debug: end of r-2 as an error");
    ok(t, line_has(w, "\"export attempt=1 ", exp), "debug: export line with spans, status, time");
    ok(t, line_has(w, "\"request ", rx), "debug: receiver request line: spans accepted, rejected");
    is_int(t, w->receiver_status, 200, "debug: the SDK's export was acknowledged");
    ok(t, line_has(w, "INVOKE rid=r-1 ", inv), "debug: INVOKE line");
    ok(t, line_has(w, "event/next rid=r-1 ", none), "debug: /event/next line after r-1");
    ok(t, line_has(w, "\"config ", (const char *[]){"otlp_headers=set (values not logged)", NULL}),
       "debug: config line says headers are set, not what they are");
    is_str(t, w->auth, "Bearer " SECRET_AUTH, "debug: the backend got the Authorization header");
    ok(t, !has(w, SECRET_AUTH) && !has(w, SECRET_KEY), "debug: no OTLP header value in the log");
    ok(t, !has(w, "just a string") && !has(w, "m-1\\\""), "debug: no event text in the log");
}

static void check_info(struct tap *t, const struct run *w)
{
    is_int(t, w->exit_code, 0, "info: daemon exits 0");
    is_str(t, w->auth, "Bearer " SECRET_AUTH, "info: the export happened");
    ok(t, !has(w, "DEBUG"), "info: no debug line");
    ok(t, !has(w, "r-1") && !has(w, "r-2"), "info: nothing logged per invocation");
    /* listening x2, registered, started (exec to registered), the Telemetry API's silence
     * (this fake accepts the subscription and sends nothing), SHUTDOWN, shutdown */
    ok(t, count_lines(w) <= 7, "info: only lifecycle lines (%d)", count_lines(w));
    ok(t, has(w, "registered as") && has(w, "SHUTDOWN"), "info: start and stop are logged");
    ok(t, !has(w, SECRET_AUTH) && !has(w, SECRET_KEY), "info: no OTLP header value in the log");
}

/* ---- a backend that stays down ---- */

#define DOWN_INVOKES 8

/* The backend refuses every connection and the buffer holds 2 spans: from the third
 * invocation on every flush fails and every invocation span drops one. Each of those is one
 * warning the first time, then nothing until the period ends (60 s), and the drops not logged
 * yet are said at SHUTDOWN: the log does not grow with the invocations. */
static void run_backend_down(struct tap *t)
{
    char dead[64];
    const char *extra[] = {"TRACEBRIDGE_LOG_LEVEL=info", "TRACEBRIDGE_FLUSH=end",
                           "TRACEBRIDGE_BUFFER_SPANS=2", NULL};
    struct fl_rig r;
    struct run w;
    char rid[16];
    int done = 0;
    unsigned long dropped = 0;

    memset(&w, 0, sizeof(w));
    snprintf(dead, sizeof(dead), "http://127.0.0.1:%d", test_free_port());
    fl_rig_start(&r, bin, "tb-test-log-down", dead, extra);
    for (int i = 1; i <= DOWN_INVOKES && fl_wait_ext_next(&r.fl, i, 5000); i++) {
        struct rt_resp resp;
        int fd;

        snprintf(rid, sizeof(rid), "d-%d", i);
        fl_invoke(&r.fl, rid, FL_SQS_EVENT, epoch_ms() + 10000, true, true);
        fd = runtime_next(&r, &resp);
        if (fd < 0)
            break;
        buf_free(&resp.body);
        runtime_post(fd, rid, "response", "\"ok\"");
        close(fd);
        done++;
    }
    fl_wait_ext_next(&r.fl, DOWN_INVOKES + 1, 5000);
    w.exit_code = fl_rig_stop(&r, "spindown");
    read_file(r.log, &w.log);
    is_int(t, done, DOWN_INVOKES, "down: %d invocations answered", DOWN_INVOKES);
    is_int(t, w.exit_code, 0, "down: daemon exits 0");
    is_int(t, count_of(&w, "export failed"), 1,
           "down: one export-failure line for %d failed flushes", DOWN_INVOKES);
    is_int(t, count_of(&w, "spans dropped"), 2,
           "down: one drop line when the buffer fills, one at SHUTDOWN for the rest");
    for (const char *p = w.log.data; (p = strstr(p, "\"msg\":\"")) != NULL; p++) {
        unsigned long n;
        if (sscanf(p, "\"msg\":\"%lu spans dropped", &n) == 1)
            dropped += n;
    }
    ok(t, dropped >= DOWN_INVOKES - 2, "down: the drop lines count every span dropped (%lu)",
       dropped);
    ok(t, line_has(&w, "spans dropped", (const char *[]){"since the last warning", NULL}),
       "down: the SHUTDOWN line says the drops were held back");
    if (t->failed || getenv("TB_SHOW_LOG"))
        printf("# backend-down log:\n%s", w.log.data);
    buf_free(&w.log);
    fo_release(&r.fo);
    unlink(r.log);
}

int main(int argc, char **argv)
{
    struct tap t = TAP_INIT;
    struct run w;

    (void)argc;
    if (!fl_find_daemon(&t, argv[0], bin, sizeof(bin)))
        return tap_done(&t);
    run_daemon("debug", &w);
    check_debug(&t, &w);
    if (t.failed || getenv("TB_SHOW_LOG"))
        printf("# debug log:\n%s", w.log.data);
    buf_free(&w.log);
    run_daemon("info", &w);
    check_info(&t, &w);
    if (t.failed || getenv("TB_SHOW_LOG"))
        printf("# info log:\n%s", w.log.data);
    buf_free(&w.log);
    run_backend_down(&t);
    return tap_done(&t);
}
