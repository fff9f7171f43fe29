/* SPDX-License-Identifier: Apache-2.0 */
/* httpc: libcurl multi on libuv against a loopback fake server. */
#include "extension/net/net.h"

#include <stdlib.h>

#include "tests/lib/fake_http.h"
#include "tests/lib/tap.h"

struct srv_state {
    pthread_mutex_t mu;
    int hits;
    char last_ct[128];
    size_t last_body;
};

static void handler(void *arg, const struct fake_req *rq, struct fake_resp *rs)
{
    struct srv_state *st = arg;
    size_t n = 0;
    const char *ct = fake_req_header(rq, "Content-Type", &n);

    pthread_mutex_lock(&st->mu);
    st->hits++;
    if (ct && n < sizeof(st->last_ct)) {
        memcpy(st->last_ct, ct, n);
        st->last_ct[n] = '\0';
    }
    st->last_body = rq->body.len;
    pthread_mutex_unlock(&st->mu);
    if (strcmp(rq->url, "/ok") == 0) {
        buf_append_str(&rs->headers, "X-Test: value  \r\nRetry-After: 7\r\n");
        buf_append_str(&rs->body, "hello");
    } else if (strcmp(rq->url, "/slow") == 0) {
        usleep(300 * 1000);
        buf_append_str(&rs->body, "late");
    } else if (strcmp(rq->url, "/big") == 0) {
        for (int i = 0; i < 2 * 1024 * 1024; i++)
            buf_append_byte(&rs->body, (char)('a' + i % 26));
    } else if (strcmp(rq->url, "/status503") == 0) {
        rs->status = 503;
    } else {
        rs->status = 404;
    }
}

struct outcome {
    bool called;
    int err;
    long status;
    char body[64];
    char xtest[64];
    int *pending;
};

static void on_done(void *arg, const struct httpc_result *r)
{
    struct outcome *o = arg;
    size_t n = 0;
    const char *v;

    o->called = true;
    o->err = r->err;
    o->status = r->status;
    snprintf(o->body, sizeof(o->body), "%.*s", (int)(r->body_len < 63 ? r->body_len : 63), r->body);
    v = httpc_header(r->req, "x-test", &n);
    if (v)
        snprintf(o->xtest, sizeof(o->xtest), "%.*s", (int)n, v);
    (*o->pending)--;
}

static void run_until(uv_loop_t *loop, int *pending)
{
    uint64_t end = fake_now_ms() + 5000;

    while (*pending > 0 && fake_now_ms() < end)
        uv_run(loop, UV_RUN_ONCE);
}

static struct httpc_req *get(struct httpc *h, const char *url, long timeout, size_t maxb,
                             struct outcome *o, int *pending)
{
    struct httpc_opts opts = {
        .method = "GET", .url = url, .timeout_ms = timeout, .max_response_bytes = maxb};
    int err;
    struct httpc_req *r;

    memset(o, 0, sizeof(*o));
    o->pending = pending;
    (*pending)++;
    r = httpc_start(h, &opts, on_done, o, &err);
    if (!r)
        (*pending)--;
    return r;
}

int main(void)
{
    struct tap t = TAP_INIT;
    struct srv_state st = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct fake_http *f = fake_http_start(0, handler, &st);
    uv_loop_t loop;
    struct httpc *h;
    int err;
    int pending = 0;
    char url[256];
    struct outcome o[24];
    struct buf body;
    uint64_t t0;

    /* A proxy that does not exist: loopback requests must never try it. */
    setenv("http_proxy", "http://192.0.2.1:9", 1);
    setenv("HTTP_PROXY", "http://192.0.2.1:9", 1);
    setenv("ALL_PROXY", "http://192.0.2.1:9", 1);
    uv_loop_init(&loop);
    h = httpc_new(&loop, NULL, &err);
    ok(&t, h && err == 0, "httpc_new");

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/ok", f->port);
    get(h, url, 2000, 0, &o[0], &pending);
    ok(&t, !o[0].called, "callback never runs inside httpc_start");
    run_until(&loop, &pending);
    ok(&t, o[0].called && o[0].err == 0 && o[0].status == 200, "GET 200 (proxy env ignored)");
    is_str(&t, o[0].body, "hello", "body");
    is_str(&t, o[0].xtest, "value", "header lookup is case-insensitive and trimmed");

    snprintf(url, sizeof(url), "http://localhost:%d/ok", f->port);
    get(h, url, 2000, 0, &o[1], &pending);
    run_until(&loop, &pending);
    ok(&t, o[1].err == 0 && o[1].status == 200, "localhost is pinned to 127.0.0.1, no proxy");

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/slow", f->port);
    t0 = fake_now_ms();
    get(h, url, 100, 0, &o[2], &pending);
    run_until(&loop, &pending);
    is_int(&t, o[2].err, -ETIMEDOUT, "timeout -> -ETIMEDOUT");
    ok(&t, fake_now_ms() - t0 < 280, "timed out near 100 ms (%llu ms)",
       (unsigned long long)(fake_now_ms() - t0));

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/big", f->port);
    get(h, url, 2000, 1024 * 1024, &o[3], &pending);
    run_until(&loop, &pending);
    is_int(&t, o[3].err, -E2BIG, "response over max_response_bytes -> -E2BIG");

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/ok", test_free_port());
    get(h, url, 2000, 0, &o[4], &pending);
    run_until(&loop, &pending);
    is_int(&t, o[4].err, -ECONNREFUSED, "closed port -> -ECONNREFUSED");

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/status503", f->port);
    get(h, url, 2000, 0, &o[5], &pending);
    run_until(&loop, &pending);
    ok(&t, o[5].err == 0 && o[5].status == 503, "HTTP errors are responses, not transport errors");

    /* POST with a body and headers. */
    {
        const char *hdrs[] = {"Content-Type: application/x-protobuf", NULL};
        struct httpc_opts po = {.method = "POST", .headers = hdrs, .timeout_ms = 2000};
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/ok", f->port);
        po.url = url;
        buf_init(&body, 1 << 24);
        for (int i = 0; i < 300000; i++)
            buf_append_byte(&body, (char)('a' + i % 26));
        po.body = &body;
        memset(&o[6], 0, sizeof(o[6]));
        o[6].pending = &pending;
        pending++;
        httpc_start(h, &po, on_done, &o[6], &err);
        ok(&t, body.len == 0 && body.data == NULL, "POST takes the body buffer");
        run_until(&loop, &pending);
        ok(&t, o[6].err == 0 && o[6].status == 200, "POST 200");
        is_int(&t, st.last_body, 300000, "server got the whole body");
        is_str(&t, st.last_ct, "application/x-protobuf", "request header sent");
    }

    /* Concurrency: 10 slow requests at once finish in about one delay, and a cancelled one
     * never calls back. */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/slow", f->port);
    t0 = fake_now_ms();
    for (int i = 0; i < 10; i++)
        get(h, url, 3000, 0, &o[8 + i], &pending);
    {
        struct httpc_req *c = get(h, url, 3000, 0, &o[20], &pending);
        httpc_cancel(c);
        pending--;
    }
    is_int(&t, httpc_active(h), 10, "10 requests in flight after one cancel");
    run_until(&loop, &pending);
    {
        int good = 0;
        for (int i = 0; i < 10; i++)
            good += o[8 + i].err == 0 && o[8 + i].status == 200;
        is_int(&t, good, 10, "10 concurrent slow requests all succeed");
    }
    ok(&t, fake_now_ms() - t0 < 1500, "they overlapped (%llu ms for 10 x 300 ms)",
       (unsigned long long)(fake_now_ms() - t0));
    ok(&t, !o[20].called, "cancelled request never called back");

    ok(&t, httpc_url_is_loopback("http://[::1]:4318/v1/traces"), "::1 is loopback");
    ok(&t, httpc_url_is_loopback("http://LOCALHOST/x"), "localhost is loopback");
    ok(&t, !httpc_url_is_loopback("https://otlp.example.com/v1/traces"), "remote is not");

    /* Free with a request in flight: no callback, every handle closed. */
    get(h, url, 3000, 0, &o[21], &pending);
    uv_run(&loop, UV_RUN_NOWAIT);
    httpc_free(h);
    uv_run(&loop, UV_RUN_DEFAULT);
    ok(&t, !o[21].called, "in-flight request dropped silently by httpc_free");
    is_int(&t, uv_loop_close(&loop), 0, "loop closes: no handle leaked");
    fake_http_stop(f);
    return tap_done(&t);
}
