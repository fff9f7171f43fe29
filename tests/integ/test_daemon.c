/* SPDX-License-Identifier: Apache-2.0 */
/* daemon: the real build/tracebridge binary against a fake Lambda (Runtime + Extensions API on
 * one port) and a fake OTLP backend whose requests are decoded with protobuf-c's generated code.
 * The test plays the runtime, talking to the proxy like aws-lambda-ric would. */
#include "tests/lib/fake_lambda.h"
#include "tests/lib/tap.h"

static char bin[512];

/* The receiver stays off here: test_daemon_modes.c covers it. */
static void rig_start(struct fl_rig *r, const char *const *extra)
{
    const char *env[32] = {"TRACEBRIDGE_OTLP_LISTEN=off"};
    int n = 1;

    for (int i = 0; extra && extra[i] && n < 31; i++)
        env[n++] = extra[i];
    env[n] = NULL;
    fl_rig_start(r, bin, "tb-test", NULL, env);
}

static bool rig_registered(struct fl_rig *r)
{
    return fl_wait_ext_next(&r->fl, 1, 3000);
}

/* The runtime's part of one invocation: GET /next through the proxy. */
static int runtime_next(struct fl_rig *r, struct rt_resp *resp)
{
    int fd = rt_connect(r->proxy_port);

    if (fd < 0)
        return -1;
    if (rt_call(fd, "GET", "/2018-06-01/runtime/invocation/next", NULL, NULL, resp) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int runtime_post(int fd, const char *path, const char *hdrs, const char *body)
{
    struct rt_resp resp;
    int st;

    if (rt_call(fd, "POST", path, hdrs, body, &resp) < 0)
        return -1;
    st = resp.status;
    buf_free(&resp.body);
    return st;
}

/* "traceparent":"00-..." inside the event the handler saw: copies the parent-id. */
static bool handler_parent(const struct rt_resp *resp, char *tid, char *sid)
{
    const char *p = resp->body.data ? strstr(resp->body.data, "\"traceparent\":\"00-") : NULL;

    if (!p)
        return false;
    p += strlen("\"traceparent\":\"00-");
    memcpy(tid, p, 32);
    tid[32] = '\0';
    memcpy(sid, p + 33, 16);
    sid[16] = '\0';
    return true;
}

static void hex(const ProtobufCBinaryData *b, char *out)
{
    for (size_t i = 0; i < b->len; i++)
        snprintf(out + 2 * i, 3, "%02x", b->data[i]);
    out[2 * b->len] = '\0';
}

static void wait_accepted(struct fl_rig *r, int n, int ms)
{
    uint64_t end = fake_now_ms() + (uint64_t)ms;

    while (r->fo.accepted < n && fake_now_ms() < end)
        usleep(5000);
}

/* ---- scenarios ---- */

static void check_sqs_span(struct tap *t, struct fl_rig *r, const char *our_sid)
{
    fo_request *req = NULL;
    const fo_span *s = fo_find(&r->fo, "process orders", &req);
    char tid[33], sid[17], psid[17];
    const Opentelemetry__Proto__Common__V1__AnyValue *cold;

    ok(t, s != NULL, "span \"process orders\" exported");
    if (!s)
        return;
    hex(&s->trace_id, tid);
    hex(&s->span_id, sid);
    hex(&s->parent_span_id, psid);
    is_str(t, tid, FL_TID, "span continues the producer's trace");
    is_str(t, psid, FL_PSPAN, "parent = the producer's span");
    is_str(t, sid, our_sid, "the handler's parent-id is this span");
    is_int(t, s->kind, 5, "kind CONSUMER");
    is_str(t, fo_attr_str(s, "messaging.system"), "aws_sqs", "messaging.system");
    is_str(t, fo_attr_str(s, "messaging.destination.name"), "orders", "messaging.destination.name");
    is_str(t, fo_attr_str(s, "messaging.message.id"), "m-1", "single record: messaging.message.id");
    is_str(t, fo_attr_str(s, "faas.invocation_id"), "r-1", "faas.invocation_id");
    is_str(t, fo_attr_str(s, "faas.trigger"), "pubsub", "faas.trigger");
    is_str(t, fo_attr_str(s, "cloud.account.id"), "123456789012", "cloud.account.id from register");
    cold = fo_attr(s, "faas.coldstart");
    ok(t, cold && cold->bool_value, "faas.coldstart on the first invocation");
    ok(t, s->n_links >= 1, "links: record context and Lambda X-Ray (%zu)", s->n_links);
    ok(t, s->end_time_unix_nano >= s->start_time_unix_nano && s->start_time_unix_nano > 0,
       "start and end times");
    {
        const char *svc = NULL;
        Opentelemetry__Proto__Resource__V1__Resource *res = req->resource_spans[0]->resource;
        for (size_t i = 0; res && i < res->n_attributes; i++) {
            if (strcmp(res->attributes[i]->key, "service.name") == 0)
                svc = res->attributes[i]->value->string_value;
        }
        is_str(t, svc, "orders", "resource service.name = function name");
    }
    fo_free(req);
}

static void scenario_end_mode(struct tap *t)
{
    const char *extra[] = {"TRACEBRIDGE_FLUSH=end", NULL};
    struct fl_rig r;
    struct rt_resp resp;
    char tid[33] = "", sid[17] = "";
    char line[64] = "";
    uint64_t responded;
    int fd;
    FILE *f;

    rig_start(&r, extra);
    ok(t, rig_registered(&r), "end mode: registered and waiting in /event/next");
    ok(t, r.fl.ready_file_at_register, "the ready file existed before register (proxy listening)");
    is_str(t, r.fl.reg_events, "{\"events\":[\"INVOKE\",\"SHUTDOWN\"]}", "INVOKE and SHUTDOWN");
    f = fopen(r.ready, "r");
    if (f) {
        if (!fgets(line, sizeof(line), f))
            line[0] = '\0';
        fclose(f);
    }
    {
        char want[64];
        snprintf(want, sizeof(want), "127.0.0.1:%d\n", r.proxy_port);
        is_str(t, line, want, "ready file names the proxy");
    }
    fl_invoke(&r.fl, "r-1", FL_SQS_EVENT, epoch_ms() + 10000, true, true);
    fd = runtime_next(&r, &resp);
    ok(t, fd >= 0 && resp.status == 200, "runtime got the event through the proxy");
    ok(t, handler_parent(&resp, tid, sid), "handler event carries headers.traceparent");
    is_str(t, tid, FL_TID, "handler sees the producer's trace id");
    ok(t, strcmp(sid, FL_PSPAN) != 0,
       "handler's parent-id is tracebridge's span, not the producer");
    buf_free(&resp.body);
    responded = fake_now_ms();
    is_int(t, runtime_post(fd, "/2018-06-01/runtime/invocation/r-1/response", NULL, "\"ok\""), 202,
           "response relayed");
    ok(t, fl_wait_ext_next(&r.fl, 2, 3000), "extension called /event/next again");
    ok(t, r.fo.accepted >= 1 && r.fo.req_at[0] <= r.fl.ext_next_at[1],
       "end mode: exported before calling /event/next");
    ok(t, r.fl.ext_next_at[1] - responded < 1000, "next called %llu ms after the response",
       (unsigned long long)(r.fl.ext_next_at[1] - responded));
    is_str(t, r.fo.ctype[0], "application/x-protobuf", "protobuf content type");
    check_sqs_span(t, &r, sid);
    close(fd);
    is_int(t, fl_rig_stop(&r, "spindown"), 0, "exit 0 after SHUTDOWN");
    ok(t, access(r.ready, F_OK) != 0, "ready file removed at exit");
    fl_rig_done(t, &r, 0);
}

static void scenario_error_timeout_bypass(struct tap *t)
{
    const char *extra[] = {"TRACEBRIDGE_FLUSH=invoke", NULL};
    struct fl_rig r;
    struct rt_resp resp;
    int fd;
    fo_request *req = NULL;
    const fo_span *s;

    rig_start(&r, extra);
    ok(t, rig_registered(&r), "invoke mode: registered");
    /* r-2: the runtime's /next arrives first, INVOKE later (either order). */
    fl_invoke(&r.fl, "r-2", "{\"__traceparent__\":\"" FL_SQS_TP "\",\"x\":1}", epoch_ms() + 10000,
              false, true);
    fd = runtime_next(&r, &resp);
    ok(t, fd >= 0 && resp.body.data && !strstr(resp.body.data, "__traceparent__"),
       "direct invoke: reserved key stripped");
    buf_free(&resp.body);
    fl_invoke(&r.fl, "r-2", "", epoch_ms() + 10000, true, false);
    is_int(t,
           runtime_post(fd, "/2018-06-01/runtime/invocation/r-2/error",
                        "Lambda-Runtime-Function-Error-Type: Runtime.TypeError\r\n",
                        "{\"errorMessage\":\"boom\",\"errorType\":\"TypeError\","
                        "\"stackTrace\":[\"at a (x.js:1)\",\"at b (x.js:2)\"]}"),
           202, "error relayed");
    close(fd);
    ok(t, fl_wait_ext_next(&r.fl, 2, 3000), "next after r-2");
    /* r-3: the runtime takes it and never answers (timeout). */
    fl_invoke(&r.fl, "r-3", "{\"a\":1}", epoch_ms() + 300, true, true);
    fd = runtime_next(&r, &resp);
    buf_free(&resp.body);
    ok(t, fl_wait_ext_next(&r.fl, 3, 3000),
       "invoke mode: next called without waiting for the "
       "response");
    /* r-4: the runtime bypasses the proxy (INVOKE only). */
    usleep(400 * 1000);
    fl_invoke(&r.fl, "r-4", "", epoch_ms() + 10000, true, false);
    ok(t, fl_wait_ext_next(&r.fl, 4, 3000), "next after the bypassed INVOKE");
    close(fd);
    is_int(t, fl_rig_stop(&r, "spindown"), 0, "exit 0");

    s = fo_find(&r.fo, "orders", &req);
    (void)s;
    if (req)
        fo_free(req);
    is_int(t, fo_count_spans(&r.fo), 3, "three spans: error, timeout, bypass");
    {
        int errors = 0, timeouts = 0, bypass = 0;
        for (int i = 0; i < r.fo.accepted; i++) {
            fo_request *q = fo_decode(&r.fo, i);
            for (size_t a = 0; q && a < q->n_resource_spans; a++) {
                Opentelemetry__Proto__Trace__V1__ScopeSpans *ss =
                    q->resource_spans[a]->scope_spans[0];
                for (size_t c = 0; c < ss->n_spans; c++) {
                    const fo_span *x = ss->spans[c];
                    const char *rid = fo_attr_str(x, "faas.invocation_id");
                    const char *outcome = fo_attr_str(x, "tracebridge.invocation.outcome");
                    if (rid && strcmp(rid, "r-2") == 0 && x->status && x->status->code == 2 &&
                        x->n_events == 1 && strcmp(x->events[0]->name, "exception") == 0)
                        errors++;
                    if (rid && strcmp(rid, "r-2") == 0 && x->n_events == 1) {
                        const char *et = NULL, *em = NULL, *st = NULL;
                        for (size_t e = 0; e < x->events[0]->n_attributes; e++) {
                            Opentelemetry__Proto__Common__V1__KeyValue *kv =
                                x->events[0]->attributes[e];
                            if (!strcmp(kv->key, "exception.type"))
                                et = kv->value->string_value;
                            if (!strcmp(kv->key, "exception.message"))
                                em = kv->value->string_value;
                            if (!strcmp(kv->key, "exception.stacktrace"))
                                st = kv->value->string_value;
                        }
                        is_str(t, et, "Runtime.TypeError", "exception.type from the header");
                        is_str(t, em, "boom", "exception.message");
                        is_str(t, st, "at a (x.js:1)\nat b (x.js:2)", "exception.stacktrace");
                    }
                    if (rid && strcmp(rid, "r-3") == 0 && outcome && !strcmp(outcome, "timeout") &&
                        x->status && x->status->code == 2)
                        timeouts++;
                    if (rid && strcmp(rid, "r-4") == 0 && fo_attr(x, "tracebridge.bypass"))
                        bypass++;
                }
            }
            if (q)
                fo_free(q);
        }
        is_int(t, errors, 1, "r-2: status ERROR with an exception event");
        is_int(t, timeouts, 1, "r-3: finalised as timeout at the next INVOKE");
        is_int(t, bypass, 1, "r-4: bypass span from the INVOKE event");
    }
    fl_rig_done(t, &r, 0);
}

static void scenario_backend_faults(struct tap *t)
{
    const char *extra[] = {"TRACEBRIDGE_FLUSH=end", "TRACEBRIDGE_MAX_FLUSH_MS=200",
                           "OTEL_EXPORTER_OTLP_COMPRESSION=gzip",
                           "OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20s3cret", NULL};
    struct fl_rig r;
    struct rt_resp resp;
    uint64_t responded;
    int fd;
    char cmd[256];

    rig_start(&r, extra);
    r.fo.statuses[0] = 503; /* first export: 503 with Retry-After: 1 */
    r.fo.retry_after = 1;
    ok(t, rig_registered(&r), "faults: registered");
    fl_invoke(&r.fl, "r-1", FL_SQS_EVENT, epoch_ms() + 10000, true, true);
    fd = runtime_next(&r, &resp);
    buf_free(&resp.body);
    responded = fake_now_ms();
    runtime_post(fd, "/2018-06-01/runtime/invocation/r-1/response", NULL, "1");
    ok(t, fl_wait_ext_next(&r.fl, 2, 3000), "next called despite a failing backend");
    ok(t, r.fl.ext_next_at[1] - responded < 450,
       "503 + Retry-After: 1 s did not hold /event/next past max flush (%llu ms)",
       (unsigned long long)(r.fl.ext_next_at[1] - responded));
    is_int(t, r.fo.accepted, 0, "nothing accepted yet");
    close(fd);
    is_int(t, fl_rig_stop(&r, "spindown"), 0, "exit 0");
    is_int(t, r.fo.accepted, 1, "the span stayed buffered and went out at SHUTDOWN");
    ok(t, r.fo.accepted >= 1 && r.fo.req_at[1] - r.fo.req_at[0] >= 990,
       "the retry honoured Retry-After (%llu ms)",
       (unsigned long long)(r.fo.req_at[1] - r.fo.req_at[0]));
    is_str(t, r.fo.cenc[0], "gzip", "gzip content encoding");
    is_str(t, r.fo.auth[0], "Bearer s3cret", "header URL-decoded");
    is_int(t, fo_count_spans(&r.fo), 1, "gzip body decodes to the span");
    snprintf(cmd, sizeof(cmd), "grep -q s3cret %s", r.log);
    ok(t, system(cmd) != 0, "the header value never appears in the log");
    fl_rig_done(t, &r, 0);
}

static void scenario_slow_backend_json(struct tap *t)
{
    const char *extra[] = {"TRACEBRIDGE_FLUSH=end", "TRACEBRIDGE_MAX_FLUSH_MS=100",
                           "OTEL_EXPORTER_OTLP_PROTOCOL=http/json", NULL};
    struct fl_rig r;
    struct rt_resp resp;
    uint64_t responded;
    int fd;

    rig_start(&r, extra);
    r.fo.delay_ms = 1500;
    ok(t, rig_registered(&r), "slow backend: registered");
    fl_invoke(&r.fl, "r-1", "{\"k\":\"v\"}", epoch_ms() + 10000, true, true);
    fd = runtime_next(&r, &resp);
    buf_free(&resp.body);
    responded = fake_now_ms();
    runtime_post(fd, "/2018-06-01/runtime/invocation/r-1/response", NULL, "1");
    ok(t, fl_wait_ext_next(&r.fl, 2, 3000), "next called");
    ok(t, r.fl.ext_next_at[1] - responded < 350,
       "a 1.5 s backend held /event/next at most ~max flush (%llu ms)",
       (unsigned long long)(r.fl.ext_next_at[1] - responded));
    close(fd);
    is_int(t, fl_rig_stop(&r, "spindown"), 0, "exit 0");
    is_int(t, r.fo.accepted, 1, "the slow request completed");
    is_str(t, r.fo.ctype[0], "application/json", "JSON content type");
    ok(t, r.fo.accepted && r.fo.bodies[0].data && strstr(r.fo.bodies[0].data, "\"resourceSpans\""),
       "OTLP/JSON body");
    fl_rig_done(t, &r, 0);
}

static void scenario_managed_instances(struct tap *t)
{
    const char *extra[] = {"AWS_LAMBDA_INITIALIZATION_TYPE=lambda-managed-instances", NULL};
    struct fl_rig r;
    struct rt_resp resp;
    int fd1, fd2;

    rig_start(&r, extra);
    ok(t, rig_registered(&r), "LMI: registered");
    is_str(t, r.fl.reg_events, "{\"events\":[\"SHUTDOWN\"]}", "LMI: SHUTDOWN only");
    fl_invoke(&r.fl, "a-1", "{\"n\":1}", epoch_ms() + 10000, false, true);
    fl_invoke(&r.fl, "a-2", "{\"n\":2}", epoch_ms() + 10000, false, true);
    fd1 = runtime_next(&r, &resp);
    buf_free(&resp.body);
    fd2 = runtime_next(&r, &resp);
    buf_free(&resp.body);
    runtime_post(fd2, "/2018-06-01/runtime/invocation/a-2/response", NULL, "2");
    runtime_post(fd1, "/2018-06-01/runtime/invocation/a-1/response", NULL, "1");
    wait_accepted(&r, 1, 2500);
    ok(t, r.fo.accepted >= 1, "LMI: spans exported without INVOKE events (periodic flush)");
    close(fd1);
    close(fd2);
    is_int(t, fl_rig_stop(&r, "spindown"), 0, "exit 0");
    is_int(t, fo_count_spans(&r.fo), 2, "LMI: two concurrent invocations, two spans");
    fl_rig_done(t, &r, 0);
}

int main(int argc, char **argv)
{
    struct tap t = TAP_INIT;

    (void)argc;
    if (!fl_find_daemon(&t, argv[0], bin, sizeof(bin)))
        return tap_done(&t);
    scenario_end_mode(&t);
    scenario_error_timeout_bypass(&t);
    scenario_backend_faults(&t);
    scenario_slow_backend_json(&t);
    scenario_managed_instances(&t);
    return tap_done(&t);
}
