/* SPDX-License-Identifier: Apache-2.0 */
/* test_proxy: the Runtime API proxy over real loopback sockets, with a scripted fake upstream
 * and blocking clients (see proxy_harness.h). */
#include "tests/lib/proxy_harness.h"
#include "tests/lib/tap.h"

#define NEXT "/2018-06-01/runtime/invocation/next"

static struct upstream U;
static struct rig R;

static bool has(const struct buf *b, const char *s)
{
    return b->data && memmem(b->data, b->len, s, strlen(s)) != NULL;
}

static int hook_count(const char *kind)
{
    int i;
    int n = 0;

    pthread_mutex_lock(&R.mu);
    for (i = 0; i < R.nev; i++)
        n += strcmp(R.ev[i].kind, kind) == 0;
    pthread_mutex_unlock(&R.mu);
    return n;
}

static struct hook_event *last_hook(const char *kind)
{
    int i;

    for (i = R.nev - 1; i >= 0; i--)
        if (strcmp(R.ev[i].kind, kind) == 0)
            return &R.ev[i];
    return NULL;
}

static void test_keepalive(struct tap *t, int port)
{
    struct client c;
    struct resp r;
    int i;
    int good = 0;
    int before = U.nexts;

    upstream_set_next(&U, "{\"k\":1}", 7, false);
    client_open(&c, port);
    for (i = 0; i < 50; i++) {
        char path[128];

        if (client_get(&c, NEXT, &r) == 0 && r.status == 200 && has(&r.body, "{\"k\":1}"))
            good++;
        resp_free(&r);
        snprintf(path, sizeof(path), "/2018-06-01/runtime/invocation/req-%d/response", i);
        if (client_post(&c, path, "", "{\"ok\":true}", 11, &r) == 0 && r.status == 202)
            good++;
        resp_free(&r);
    }
    client_close(&c);
    is_int(t, good, 100, "keep-alive: 50 /next + 50 /response on one connection");
    is_int(t, U.nexts - before, 50, "exactly one upstream /next per runtime /next");
}

static void test_identity_bytes(struct tap *t, int port, bool chunked)
{
    struct client c;
    struct resp r;
    char body[5000];

    memset(body, 'a', sizeof(body));
    body[0] = '{';
    upstream_set_next(&U, body, sizeof(body), chunked);
    client_open(&c, port);
    client_get(&c, NEXT, &r);
    ok(t, r.status == 200 && r.body.len == sizeof(body), "identity /next %s: body intact",
       chunked ? "chunked" : "content-length");
    ok(t, has(&r.raw, "X-Utf8: caf\xc3\xa9\r\n"), "UTF-8 header bytes pass unchanged");
    ok(t, chunked ? r.chunked && !r.has_cl : r.has_cl && !r.chunked,
       "unchanged /next keeps the original framing");
    ok(t, has(&r.raw, chunked ? "3e8\r\naaa" : "Content-Length: 5000\r\n\r\n{aaa"),
       "unchanged /next is byte-identical to upstream");
    resp_free(&r);
    client_close(&c);
}

static void test_rewrite(struct tap *t, int port, bool chunked)
{
    struct client c;
    struct resp r;
    char want[64];
    char body[3000];

    memset(body, 'b', sizeof(body));
    upstream_set_next(&U, body, sizeof(body), chunked);
    R.rewrite = true;
    client_open(&c, port);
    client_get(&c, NEXT, &r);
    snprintf(want, sizeof(want), "{\"rewritten\":true,\"orig_len\":%zu}", sizeof(body));
    ok(t, r.status == 200 && r.body.len == strlen(want) && has(&r.body, want),
       "rewritten body from %s upstream", chunked ? "chunked" : "content-length");
    ok(t, r.has_cl && !r.chunked && !has(&r.raw, "Transfer-Encoding"),
       "fresh Content-Length, no Transfer-Encoding");
    ok(t,
       has(&r.raw, "x-tracebridge-test: 1\r\n") &&
           has(&r.raw, "Lambda-Runtime-Aws-Request-Id: req-"),
       "set header added, original headers kept");
    resp_free(&r);
    client_get(&c, NEXT, &r);
    ok(t, r.status == 200 && has(&r.body, want) && has(&r.raw, "x-tracebridge-test: 1\r\n"),
       "second rewrite on the same connection");
    resp_free(&r);
    R.rewrite = false;
    /* the connection must still be usable after a re-framed response */
    client_get(&c, NEXT, &r);
    ok(t, r.status == 200 && r.body.len == sizeof(body), "keep-alive after re-framing");
    resp_free(&r);
    client_close(&c);
}

/* A spliced event goes out as pieces of the original buffer and the inserted bytes, in one
 * writev: large enough here that the socket takes it in several writes. */
static void test_splice(struct tap *t, int port, bool chunked)
{
    size_t n = 3 * 1024 * 1024 + 7;
    char *body = malloc(n);
    struct buf want;
    struct client c;
    struct resp r;

    for (size_t i = 0; i < n; i++)
        body[i] = (char)('a' + i % 26);
    buf_init(&want, 2 * n);
    buf_append(&want, body, 1);
    buf_append_str(&want, "<tb>");
    buf_append(&want, body + 1, n / 2 - 1);
    buf_append_str(&want, "<mid>");
    buf_append(&want, body + n / 2 + 1, n - 1 - (n / 2 + 1));
    upstream_set_next(&U, body, n, chunked);
    R.splice = true;
    client_open(&c, port);
    client_get(&c, NEXT, &r);
    ok(t,
       r.status == 200 && r.has_cl && r.body.len == want.len &&
           memcmp(r.body.data, want.data, want.len) == 0,
       "spliced %s event: the original bytes with the pieces in place (%zu B)",
       chunked ? "chunked" : "content-length", r.body.len);
    resp_free(&r);
    client_get(&c, NEXT, &r);
    ok(t,
       r.status == 200 && r.body.len == want.len && memcmp(r.body.data, want.data, want.len) == 0,
       "a second spliced event on the same connection");
    resp_free(&r);
    R.splice = false;
    client_get(&c, NEXT, &r);
    ok(t, r.status == 200 && r.body.len == n && memcmp(r.body.data, body, n) == 0,
       "keep-alive after a spliced event, next one unchanged");
    resp_free(&r);
    client_close(&c);
    buf_free(&want);
    free(body);
}

static void test_go_chunked_trailers(struct tap *t, int port)
{
    static const char req[] = "POST /2018-06-01/runtime/invocation/go-1/response HTTP/1.1\r\n"
                              "Host: 127.0.0.1\r\nUser-Agent: Go-http-client/1.1\r\n"
                              "Transfer-Encoding: chunked\r\n"
                              "Trailer: Lambda-Runtime-Function-Error-Type\r\n"
                              "Trailer: Lambda-Runtime-Function-Error-Body\r\n"
                              "Accept-Encoding: gzip\r\n\r\n"
                              "b\r\n{\"go\":true}\r\n0\r\n\r\n";
    struct client c;
    struct resp r;

    client_open(&c, port);
    client_send(&c, req, sizeof(req) - 1);
    client_read(&c, &r);
    is_int(t, r.status, 202, "Go-style chunked POST answered");
    ok(t, U.last_req.len == sizeof(req) - 1 && memcmp(U.last_req.data, req, U.last_req.len) == 0,
       "chunked request with Trailer: header relayed byte-identically");
    resp_free(&r);
    rig_wait_events(&R, R.nev);
    client_close(&c);
}

static void test_streaming(struct tap *t, int port)
{
    static const char head[] = "POST /2018-06-01/runtime/invocation/s-1/response HTTP/1.1\r\n"
                               "Host: 127.0.0.1\r\n"
                               "Lambda-Runtime-Function-Response-Mode: streaming\r\n"
                               "Transfer-Encoding: chunked\r\n"
                               "Trailer: Lambda-Runtime-Function-Error-Type, "
                               "Lambda-Runtime-Function-Error-Body\r\n\r\n"
                               "6\r\nfirst!\r\n";
    static const char tail[] = "5\r\nsecnd\r\n0\r\n"
                               "Lambda-Runtime-Function-Error-Type: Function.Boom\r\n"
                               "Lambda-Runtime-Function-Error-Body: eyJlcnJvciI6MX0=\r\n\r\n";
    struct client c;
    struct resp r;
    size_t before;
    int nev = R.nev;
    struct hook_event *e;
    bool good;

    pthread_mutex_lock(&U.mu);
    before = U.body_bytes;
    pthread_mutex_unlock(&U.mu);
    client_open(&c, port);
    client_send(&c, head, sizeof(head) - 1);
    good = wait_until(&U, &U.body_bytes, before + 6, 3000) == 0;
    ok(t, good, "streamed first chunk reaches upstream before the client sends the rest");
    client_send(&c, tail, sizeof(tail) - 1);
    client_read(&c, &r);
    is_int(t, r.status, 202, "streaming response accepted");
    ok(t,
       U.last_req.len == sizeof(head) + sizeof(tail) - 2 &&
           memcmp(U.last_req.data + sizeof(head) - 1, tail, sizeof(tail) - 1) == 0,
       "mid-stream error trailers relayed byte-identically");
    rig_wait_events(&R, nev + 1);
    e = last_hook("response");
    ok(t, e && strcmp(e->rid, "s-1") == 0 && e->streaming && e->status == 202,
       "invocation_response hook: id, streaming, status");
    ok(t,
       e && strcmp(e->error_type, "Function.Boom") == 0 && e->b64 && e->error_body_len == 16 &&
           memcmp(e->error_body, "eyJlcnJvciI6MX0=", 16) == 0,
       "error trailers handed to the hook (base64 as given)");
    resp_free(&r);
    client_close(&c);
}

static void test_error_hooks(struct tap *t, int port)
{
    struct client c;
    struct resp r;
    struct hook_event *e;
    int nev = R.nev;

    client_open(&c, port);
    client_post(&c, "/2018-06-01/runtime/invocation/e-7/error",
                "Lambda-Runtime-Function-Error-Type: Runtime.Oops\r\n", "{\"errorMessage\":\"x\"}",
                20, &r);
    is_int(t, r.status, 202, "/error relayed");
    resp_free(&r);
    client_post(&c, "/2018-06-01/runtime/init/error",
                "Lambda-Runtime-Function-Error-Type: Runtime.InitFail\r\n", "{\"e\":1}", 7, &r);
    resp_free(&r);
    rig_wait_events(&R, nev + 2);
    e = last_hook("error");
    ok(t,
       e && strcmp(e->rid, "e-7") == 0 && strcmp(e->error_type, "Runtime.Oops") == 0 &&
           e->error_body_len == 20 && !e->b64 && e->status == 202,
       "invocation_error hook: id, type, body, status");
    e = last_hook("init_error");
    ok(t,
       e && e->rid[0] == '\0' && strcmp(e->error_type, "Runtime.InitFail") == 0 &&
           e->error_body_len == 7,
       "init_error hook");
    client_close(&c);
}

static void keep_bodies(bool on)
{
    pthread_mutex_lock(&R.mu);
    R.keep_bodies = on;
    pthread_mutex_unlock(&R.mu);
}

/* One /response of n bytes of JSON-ish filler; returns its hook event. */
static struct hook_event *post_response(struct client *c, const char *rid, size_t n)
{
    char path[128];
    char *body = malloc(n + 1);
    struct resp r;
    int nev = R.nev;

    memset(body, 'x', n);
    if (n >= 2) {
        body[0] = '{';
        body[n - 1] = '}';
    }
    snprintf(path, sizeof(path), "/2018-06-01/runtime/invocation/%s/response", rid);
    client_post(c, path, "", body, n, &r);
    resp_free(&r);
    rig_wait_events(&R, nev + 1);
    free(body);
    return last_hook("response");
}

/* A batch's partial failures are in its /response body: kept whole for the hook when it asks
 * (never a cut body), and only then; the bytes upstream are unchanged either way. */
static void test_response_body(struct tap *t, int port)
{
    static const char fail[] = "{\"batchItemFailures\":[{\"itemIdentifier\":\"m-1\"}]}";
    struct client c;
    struct resp r;
    struct hook_event *e;
    int nev;

    client_open(&c, port);
    e = post_response(&c, "b-0", 2000);
    ok(t, e && strcmp(e->rid, "b-0") == 0 && !e->body_kept, "not asked: no body in the report");
    keep_bodies(true);
    nev = R.nev;
    client_post(&c, "/2018-06-01/runtime/invocation/b-1/response", "", fail, sizeof(fail) - 1, &r);
    resp_free(&r);
    rig_wait_events(&R, nev + 1);
    e = last_hook("response");
    ok(t,
       e && e->body_kept && e->body_len == sizeof(fail) - 1 &&
           e->body_hash == fnv1a(fail, sizeof(fail) - 1),
       "asked: the whole body in the report");
    e = post_response(&c, "b-2", PROXY_RESPONSE_BODY_MAX);
    ok(t, e && e->body_kept && e->body_len == PROXY_RESPONSE_BODY_MAX,
       "a body of exactly PROXY_RESPONSE_BODY_MAX is kept");
    e = post_response(&c, "b-3", PROXY_RESPONSE_BODY_MAX + 1);
    ok(t, e && !e->body_kept, "a larger one is not (never a cut body)");
    ok(t, U.last_req.len > PROXY_RESPONSE_BODY_MAX + 1, "and still reached upstream whole");
    e = post_response(&c, "b-4", 10);
    ok(t, e && e->body_kept && e->body_len == 10, "the next one is kept again");
    keep_bodies(false);
    client_close(&c);
}

/* SnapStart: the runtime's GET /runtime/restore/next is relayed as is and reported once its
 * answer came (that answer is the restore). */
static void test_restore_hook(struct tap *t, int port)
{
    struct client c;
    struct resp r;
    struct hook_event *e;
    int nev = R.nev;

    client_open(&c, port);
    client_get(&c, "/2018-06-01/runtime/restore/next", &r);
    is_int(t, r.status, 202, "/restore/next relayed with upstream's status");
    resp_free(&r);
    rig_wait_events(&R, nev + 1);
    e = last_hook("restored");
    ok(t, e && e->status == 202 && R.nev == nev + 1, "restored hook once, with the status");
    client_get(&c, "/2018-06-01/runtime/restore/nextx", &r);
    resp_free(&r);
    client_get(&c, "/2018-06-01/runtime/invocation/restore/next", &r);
    resp_free(&r);
    ok(t, R.nev == nev + 1, "other paths are not taken for /restore/next");
    client_close(&c);
}

static void test_concurrent(struct tap *t, int port)
{
    struct client nx[4];
    struct client post;
    struct resp r;
    int i;
    int good = 0;
    int before = U.nexts;

    upstream_set_next(&U, "{\"c\":1}", 7, false);
    U.next_delay_ms = 50;
    for (i = 0; i < 4; i++) {
        client_open(&nx[i], port);
        client_send(&nx[i], "GET " NEXT " HTTP/1.1\r\nHost: x\r\n\r\n",
                    strlen("GET " NEXT " HTTP/1.1\r\nHost: x\r\n\r\n"));
    }
    client_open(&post, port);
    if (client_post(&post, "/2018-06-01/runtime/invocation/c/response", "", "{}", 2, &r) == 0 &&
        r.status == 202)
        good++;
    resp_free(&r);
    for (i = 0; i < 4; i++) {
        if (client_read(&nx[i], &r) == 0 && r.status == 200)
            good++;
        resp_free(&r);
        client_close(&nx[i]);
    }
    client_close(&post);
    U.next_delay_ms = 0;
    is_int(t, good, 5, "4 concurrent /next long-polls + 1 POST");
    is_int(t, U.nexts - before, 4, "one upstream /next each");
}

static void test_big_header(struct tap *t, int port)
{
    struct client c;
    struct resp r;
    size_t n = 1024 * 1024 - 100;
    char *v = malloc(n + 1);
    struct buf h;

    memset(v, 'x', n);
    v[n] = '\0';
    buf_init(&h, 2 * n);
    buf_appendf(&h, "Lambda-Runtime-Function-XRay-Error-Cause: %s\r\n", v);
    client_open(&c, port);
    client_post(&c, "/2018-06-01/runtime/invocation/h/error", h.data, "{}", 2, &r);
    is_int(t, r.status, 202, "1 MiB Lambda-Runtime-Function-XRay-Error-Cause header passes");
    ok(t, U.last_req.len > n, "the whole header reached upstream");
    resp_free(&r);
    client_close(&c);
    buf_reset(&h);
    free(v);
    n = 2 * 1024 * 1024;
    v = malloc(n + 1);
    memset(v, 'y', n);
    v[n] = '\0';
    buf_free(&h);
    buf_init(&h, 2 * n);
    buf_appendf(&h, "X-Huge: %s\r\n", v);
    client_open(&c, port);
    client_post(&c, "/2018-06-01/runtime/invocation/h/error", h.data, "{}", 2, &r);
    is_int(t, r.status, 431, "oversize head gets 431");
    ok(t, has(&r.body, "Runtime.ProxyRequestTooLarge"), "431 carries a JSON error");
    resp_free(&r);
    client_close(&c);
    buf_free(&h);
    free(v);
}

static void test_big_event(struct tap *t, int port, bool chunked)
{
    struct client c;
    struct resp r;
    size_t n = 6 * 1000 * 1000;
    char *body = malloc(n);
    size_t i;

    for (i = 0; i < n; i++)
        body[i] = (char)('a' + i % 26);
    upstream_set_next(&U, body, n, chunked);
    client_open(&c, port);
    client_get(&c, NEXT, &r);
    ok(t, r.status == 200 && r.body.len == n && memcmp(r.body.data, body, n) == 0,
       "6 MB event (%s) relayed intact", chunked ? "chunked" : "content-length");
    resp_free(&r);
    client_close(&c);
    free(body);
}

static void test_misc(struct tap *t, int port)
{
    struct client c;
    struct resp r;
    bool good;
    static const char two[] =
        "GET /2020-01-01/extension/a HTTP/1.1\r\nHost: x\r\n\r\n"
        "PUT /odd/path?q=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";

    client_open(&c, port);
    client_send(&c, two, sizeof(two) - 1);
    good = client_read(&c, &r) == 0 && r.status == 202;
    ok(t, good, "pipelined request 1");
    resp_free(&r);
    good = client_read(&c, &r) == 0 && r.status == 202;
    ok(t, good, "pipelined request 2 answered in order");
    ok(t, has(&U.last_req, "PUT /odd/path?q=1"), "unknown method and path relayed");
    resp_free(&r);
    client_send(&c, "HEAD /x HTTP/1.1\r\nHost: x\r\n\r\n", 30);
    c.head_req = true;
    good = client_read(&c, &r) == 0 && r.status == 200 && r.body.len == 0;
    ok(t, good, "HEAD response relayed without a body");
    resp_free(&r);
    client_close(&c);
    client_open(&c, port);
    client_post(&c, "/p/continue", "", "{}", 2, &r);
    ok(t, r.status == 100, "100 Continue relayed first");
    resp_free(&r);
    good = client_read(&c, &r) == 0 && r.status == 202;
    ok(t, good, "final response after 100");
    resp_free(&r);
    good = client_get(&c, "/p/close", &r) == 0 && has(&r.body, "bye");
    ok(t, good, "Connection: close response relayed");
    resp_free(&r);
    good = recv(c.fd, (char[1]){0}, 1, 0) == 0;
    ok(t, good, "downstream closed after Connection: close");
    client_close(&c);
}

static void test_upstream_down(struct tap *t)
{
    struct upstream u2 = {0};
    struct rig r2 = {0};
    struct client c;
    struct resp r;
    bool good;
    int port = test_free_port();

    rig_start(&r2, port, 6 * 1024 * 1024);
    client_open(&c, proxy_port(r2.proxy));
    client_get(&c, NEXT, &r);
    is_int(t, r.status, 502, "upstream down: 502");
    ok(t, has(&r.body, "Runtime.ProxyUpstreamError"), "502 JSON error body");
    resp_free(&r);
    upstream_start(&u2, port);
    upstream_set_next(&u2, "{}", 2, false);
    good = client_get(&c, NEXT, &r) == 0 && r.status == 200;
    ok(t, good, "recovers on the same connection once upstream is back");
    resp_free(&r);
    client_get(&c, "/x/reset", &r);
    is_int(t, r.status, 502, "upstream reset before a response: 502");
    resp_free(&r);
    good = client_get(&c, NEXT, &r) == 0 && r.status == 200;
    ok(t, good, "next request reconnects");
    resp_free(&r);
    good = rig_stats(&r2).upstream_failures == 2;
    ok(t, good, "upstream failures counted");
    client_close(&c);
    is_int(t, rig_stop(&r2), 0, "loop closes cleanly (no leaked handles)");
    upstream_stop(&u2);
    free(u2.next_body);
}

int main(void)
{
    struct tap t = TAP_INIT;
    struct proxy_stats st;
    int port;

    signal(SIGPIPE, SIG_IGN);
    upstream_start(&U, 0);
    rig_start(&R, U.port, 6 * 1024 * 1024 + 100);
    port = proxy_port(R.proxy);
    test_keepalive(&t, port);
    test_identity_bytes(&t, port, false);
    test_identity_bytes(&t, port, true);
    test_rewrite(&t, port, false);
    test_rewrite(&t, port, true);
    test_splice(&t, port, false);
    test_splice(&t, port, true);
    test_go_chunked_trailers(&t, port);
    test_streaming(&t, port);
    test_error_hooks(&t, port);
    test_response_body(&t, port);
    test_restore_hook(&t, port);
    test_concurrent(&t, port);
    test_big_header(&t, port);
    test_big_event(&t, port, false);
    test_big_event(&t, port, true);
    test_misc(&t, port);
    st = rig_stats(&R);
    ok(&t, st.rewrites == 8 && st.next_requests == (unsigned long)U.nexts,
       "stats: rewrites %lu, nexts %lu", st.rewrites, st.next_requests);
    ok(&t, hook_count("delivered") >= 60, "next_delivered fired per /next");
    is_int(&t, rig_stop(&R), 0, "proxy loop closes cleanly");
    upstream_stop(&U);
    free(U.next_body);
    test_upstream_down(&t);
    return tap_done(&t);
}
