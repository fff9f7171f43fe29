/* SPDX-License-Identifier: Apache-2.0 */
/* extapi: event parsing, and register / next against a fake Extensions API. */
#include "extension/lifecycle/lifecycle.h"

#include "tests/lib/fake_http.h"
#include "tests/lib/tap.h"

struct api {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char reg_name[128];
    char reg_feature[128];
    char reg_body[256];
    char next_id[128];
    const char *events[8];
    int n_events;
    int served;
    int fail_next; /* answer the first N /event/next calls with 500 */
    int nexts;
};

static void hdr_copy(const struct fake_req *rq, const char *name, char *out, size_t cap)
{
    size_t n = 0;
    const char *v = fake_req_header(rq, name, &n);

    snprintf(out, cap, "%.*s", v ? (int)n : 0, v ? v : "");
}

static void handler(void *arg, const struct fake_req *rq, struct fake_resp *rs)
{
    struct api *a = arg;

    pthread_mutex_lock(&a->mu);
    if (strstr(rq->url, "/register")) {
        hdr_copy(rq, "Lambda-Extension-Name", a->reg_name, sizeof(a->reg_name));
        hdr_copy(rq, "Lambda-Extension-Accept-Feature", a->reg_feature, sizeof(a->reg_feature));
        snprintf(a->reg_body, sizeof(a->reg_body), "%.*s", (int)rq->body.len, rq->body.data);
        buf_append_str(&rs->headers, "Lambda-Extension-Identifier: ext-1234\r\n");
        buf_append_str(&rs->body, "{\"functionName\":\"fn\",\"functionVersion\":\"$LATEST\","
                                  "\"handler\":\"index.handler\",\"accountId\":\"123456789012\"}");
    } else if (strstr(rq->url, "/event/next")) {
        hdr_copy(rq, "Lambda-Extension-Identifier", a->next_id, sizeof(a->next_id));
        a->nexts++;
        if (a->fail_next > 0) {
            a->fail_next--;
            rs->status = 500;
        } else {
            while (a->served >= a->n_events)
                pthread_cond_wait(&a->cv, &a->mu);
            buf_append_str(&rs->body, a->events[a->served++]);
        }
    }
    pthread_mutex_unlock(&a->mu);
}

struct obs {
    int registered;
    int reg_err;
    struct extapi_registration reg;
    int n_events;
    struct extapi_event ev[8];
};

static void on_registered(void *arg, int err, const struct extapi_registration *reg)
{
    struct obs *o = arg;

    o->registered++;
    o->reg_err = err;
    if (reg)
        o->reg = *reg;
}

static void on_event(void *arg, const struct extapi_event *ev)
{
    struct obs *o = arg;

    if (o->n_events < 8)
        o->ev[o->n_events++] = *ev;
}

static void run_until(uv_loop_t *loop, const int *counter, int want)
{
    uint64_t end = fake_now_ms() + 5000;

    while (*counter < want && fake_now_ms() < end)
        uv_run(loop, UV_RUN_ONCE);
}

static void parse_tests(struct tap *t)
{
    struct extapi_event ev;
    const char *inv = "{\"eventType\":\"INVOKE\",\"deadlineMs\":1700000000123,\"requestId\":"
                      "\"r-1\",\"invokedFunctionArn\":\"arn:aws:lambda:eu-west-1:1:function:f\","
                      "\"tracing\":{\"type\":\"X-Amzn-Trace-Id\",\"value\":\"Root=1-5759e988-"
                      "bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1\"}}";

    is_int(t, extapi_parse_event(inv, strlen(inv), &ev), 0, "INVOKE parses");
    ok(t, ev.type == EXTAPI_INVOKE && ev.deadline_ms == 1700000000123ULL, "type and deadline");
    is_str(t, ev.request_id, "r-1", "requestId");
    is_str(t, ev.function_arn, "arn:aws:lambda:eu-west-1:1:function:f", "invokedFunctionArn");
    ok(t, strncmp(ev.tracing_value, "Root=1-5759e988", 15) == 0, "tracing.value");
    inv =
        "{\"eventType\":\"SHUTDOWN\",\"deadlineMs\":1700000002000,\"shutdownReason\":\"TIMEOUT\"}";
    is_int(t, extapi_parse_event(inv, strlen(inv), &ev), 0, "SHUTDOWN parses");
    is_str(t, ev.shutdown_reason, "timeout", "reason lower-cased");
    inv = "{\"eventType\":\"INVOKE\",\"deadlineMs\":1}";
    is_int(t, extapi_parse_event(inv, strlen(inv), &ev), -EBADMSG, "INVOKE without requestId");
    inv = "{\"eventType\":\"INVOKE\",\"requestId\":7}";
    is_int(t, extapi_parse_event(inv, strlen(inv), &ev), -EBADMSG, "non-string requestId");
    inv = "{\"eventType\":\"RESTART\"}";
    is_int(t, extapi_parse_event(inv, strlen(inv), &ev), -EBADMSG, "unknown eventType");
    inv = "{\"eventType\":\"INVOKE\",\"requestId\":\"r\"";
    is_int(t, extapi_parse_event(inv, strlen(inv), &ev), -EBADMSG, "truncated JSON");
    inv = "{\"eventType\":\"INVOKE\",\"requestId\":\"r\",\"deadlineMs\":\"soon\"}";
    is_int(t, extapi_parse_event(inv, strlen(inv), &ev), -EBADMSG, "string deadline");
    inv = "{\"eventType\":\"INVOKE\",\"requestId\":\"r\",\"tracing\":{\"value\":5}}";
    ok(t, extapi_parse_event(inv, strlen(inv), &ev) == 0 && ev.tracing_value[0] == '\0',
       "a bad tracing member only drops the trace value");
    {
        char big[600];
        memset(big, 'a', sizeof(big));
        snprintf(big, sizeof(big), "{\"eventType\":\"INVOKE\",\"requestId\":\"%0200d\"}", 1);
        is_int(t, extapi_parse_event(big, strlen(big), &ev), -EBADMSG, "overlong requestId");
    }
}

int main(void)
{
    struct tap t = TAP_INIT;
    struct api a = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    struct fake_http *f;
    uv_loop_t loop;
    struct httpc *h;
    struct extapi *e;
    struct obs o = {0};
    char api[64];
    int err;
    struct extapi_hooks hooks = {.arg = &o, .registered = on_registered, .event = on_event};
    struct extapi_conf c = {.runtime_api = api, .name = "/opt/extensions/tracebridge"};

    parse_tests(&t);
    f = fake_http_start(0, handler, &a);
    snprintf(api, sizeof(api), "127.0.0.1:%d", f->port);
    uv_loop_init(&loop);
    h = httpc_new(&loop, NULL, &err);
    e = extapi_new(&loop, h, &c, &hooks, NULL, &err);
    is_int(&t, extapi_next(e), -ENOTCONN, "next before register is refused");
    is_int(&t, extapi_register(e), 0, "register started");
    run_until(&loop, &o.registered, 1);
    is_int(&t, o.reg_err, 0, "registered");
    is_str(&t, o.reg.extension_id, "ext-1234", "identifier kept");
    is_str(&t, o.reg.account_id, "123456789012", "accountId from the response");
    is_str(&t, o.reg.handler, "index.handler", "handler");
    is_str(&t, a.reg_name, "tracebridge", "Lambda-Extension-Name is the basename");
    is_str(&t, a.reg_feature, "accountId", "accountId feature requested");
    is_str(&t, a.reg_body, "{\"events\":[\"INVOKE\",\"SHUTDOWN\"]}", "INVOKE and SHUTDOWN");

    /* /event/next: first call fails (500), the client retries by itself. */
    pthread_mutex_lock(&a.mu);
    a.fail_next = 1;
    a.events[a.n_events++] = "{\"eventType\":\"INVOKE\",\"requestId\":\"r-1\",\"deadlineMs\":5}";
    pthread_cond_broadcast(&a.cv);
    pthread_mutex_unlock(&a.mu);
    is_int(&t, extapi_next(e), 0, "next started");
    is_int(&t, extapi_next(e), -EALREADY, "only one next at a time");
    run_until(&loop, &o.n_events, 1);
    ok(&t, o.n_events == 1 && strcmp(o.ev[0].request_id, "r-1") == 0, "INVOKE after a retry");
    is_int(&t, a.nexts, 2, "two /event/next calls (one failed)");
    is_str(&t, a.next_id, "ext-1234", "identifier sent with /event/next");

    /* A pending long-poll is cancelled by extapi_free. */
    extapi_next(e);
    uv_run(&loop, UV_RUN_NOWAIT);
    extapi_free(e);
    httpc_free(h);
    uv_run(&loop, UV_RUN_DEFAULT);
    is_int(&t, uv_loop_close(&loop), 0, "no handles leaked");
    pthread_mutex_lock(&a.mu);
    a.events[a.n_events++] = "{\"eventType\":\"SHUTDOWN\"}";
    pthread_cond_broadcast(&a.cv);
    pthread_mutex_unlock(&a.mu);
    fake_http_stop(f);

    /* Managed Instances: SHUTDOWN only. */
    {
        struct api a2 = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
        struct obs o2 = {0};
        struct extapi_hooks h2 = {.arg = &o2, .registered = on_registered, .event = on_event};
        f = fake_http_start(0, handler, &a2);
        snprintf(api, sizeof(api), "127.0.0.1:%d", f->port);
        c.shutdown_only = true;
        uv_loop_init(&loop);
        h = httpc_new(&loop, NULL, &err);
        e = extapi_new(&loop, h, &c, &h2, NULL, &err);
        extapi_register(e);
        run_until(&loop, &o2.registered, 1);
        is_str(&t, a2.reg_body, "{\"events\":[\"SHUTDOWN\"]}", "Managed Instances: SHUTDOWN only");
        extapi_free(e);
        httpc_free(h);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        fake_http_stop(f);
    }
    return tap_done(&t);
}
