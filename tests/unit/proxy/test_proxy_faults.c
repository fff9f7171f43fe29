/* SPDX-License-Identifier: Apache-2.0 */
/* test_proxy_faults: the proxy under faults and load, as its own process (build/tools/proxyd)
 * between blocking clients and a scripted fake Runtime API (proxy_harness.h). For each fault:
 * invocations keep succeeding with correct bytes, proxyd does not crash, its descriptors come
 * back to where they were, and its memory stays bounded. */
#include "tests/lib/proxy_harness.h"
#include "tests/lib/tap.h"

#define NEXT      "/2018-06-01/runtime/invocation/next"
#define STREAM_MB 200
/* ASan's quarantine keeps freed write buffers resident (256 MB by default): the ASan proxyd runs
 * with a small quarantine, and its shadow memory gets some room. */
#ifdef __SANITIZE_ADDRESS__
#define RSS_MAX_KB (48 * 1024)
#else
#define RSS_MAX_KB (20 * 1024)
#endif

static bool has(const struct buf *b, const char *s)
{
    return b->data && memmem(b->data, b->len, s, strlen(s)) != NULL;
}

static char *make_event(size_t n)
{
    char *e = malloc(n);
    size_t i;

    for (i = 0; i < n; i++)
        e[i] = (char)('a' + (i * 7) % 26);
    e[0] = '{';
    return e;
}

/* One invocation as the runtime clients do it; true when /next brought exactly `event`. */
static bool invoke(struct client *next, struct client *post, const char *event, size_t len)
{
    char path[160];
    struct resp r;
    size_t rlen = 0;
    bool good;
    char rid[64] = "";

    good = client_get(next, NEXT, &r) == 0 && r.status == 200 && r.body.len == len &&
           memcmp(r.body.data, event, len) == 0;
    if (good && r.raw.data) {
        const char *v = strstr(r.raw.data, "Lambda-Runtime-Aws-Request-Id: ");

        if (v && sscanf(v + 31, "%63[^\r]", rid) == 1)
            rlen = strlen(rid);
    }
    resp_free(&r);
    if (!good || rlen == 0)
        return false;
    snprintf(path, sizeof(path), "/2018-06-01/runtime/invocation/%s/response", rid);
    good = client_post(post, path, "", "{\"ok\":true}", 11, &r) == 0 && r.status == 202;
    resp_free(&r);
    return good;
}

static bool invoke_fresh(int port, const char *event, size_t len)
{
    struct client a;
    struct client b;
    bool good;

    client_open(&a, port);
    client_open(&b, port);
    good = invoke(&a, &b, event, len);
    client_close(&a);
    client_close(&b);
    return good;
}

/* ---- listening address ---- */

static void test_loopback_only(struct tap *t, const struct proc *pr)
{
    char line[512];
    char want[32];
    FILE *f = fopen("/proc/net/tcp", "r");
    bool found = false;
    bool other = false;
    struct proxy_conf conf = {"0.0.0.0", 0, "127.0.0.1:9001", 1024, 1024 * 1024, 0};
    uv_loop_t loop;
    int err = 0;

    snprintf(want, sizeof(want), ":%04X", pr->port);
    while (f && fgets(line, sizeof(line), f)) {
        char local[64];
        unsigned st;

        if (sscanf(line, " %*d: %63s %*s %x", local, &st) != 2 || st != 0x0A)
            continue; /* 0A: LISTEN */
        if (strstr(local, want) && strlen(local) == strlen("0100007F") + strlen(want)) {
            found |= strncmp(local, "0100007F", 8) == 0;
            other |= strncmp(local, "0100007F", 8) != 0;
        }
    }
    if (f)
        fclose(f);
    ok(t, found && !other, "proxyd listens on 127.0.0.1:%d only (/proc/net/tcp)", pr->port);
    uv_loop_init(&loop);
    ok(t, proxy_new(&loop, &conf, NULL, NULL, &err) == NULL && err == -EADDRNOTAVAIL,
       "a non-loopback listen address is refused");
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
}

/* ---- load ---- */

static void test_sequential(struct tap *t, struct upstream *u, int port)
{
    struct client next;
    struct client post;
    char *ev = make_event(1400);
    int before = u->nexts;
    int good = 0;
    int i;

    upstream_set_next(u, ev, 1400, false);
    client_open(&next, port);
    client_open(&post, port);
    for (i = 0; i < 1000; i++)
        good += invoke(&next, &post, ev, 1400);
    client_close(&next);
    client_close(&post);
    is_int(t, good, 1000, "1000 sequential invocations, every event byte-identical, every 202");
    is_int(t, u->nexts - before, 1000, "exactly 1000 upstream /next");
    free(ev);
}

struct mi_worker {
    pthread_t thr;
    int port;
    const char *event;
    size_t len;
    bool good;
    char rid[64];
};

static void *mi_main(void *arg)
{
    struct mi_worker *w = arg;
    struct client c;
    struct resp r;
    const char *v;

    client_open(&c, w->port);
    w->good = client_get(&c, NEXT, &r) == 0 && r.status == 200 && r.body.len == w->len &&
              memcmp(r.body.data, w->event, w->len) == 0;
    v = r.raw.data ? strstr(r.raw.data, "Lambda-Runtime-Aws-Request-Id: ") : NULL;
    if (!v || sscanf(v + 31, "%63[^\r]", w->rid) != 1)
        w->good = false;
    resp_free(&r);
    if (w->good) {
        char path[160];

        snprintf(path, sizeof(path), "/2018-06-01/runtime/invocation/%s/response", w->rid);
        w->good = client_post(&c, path, "", "{}", 2, &r) == 0 && r.status == 202;
        resp_free(&r);
    }
    client_close(&c);
    return NULL;
}

/* Lambda Managed Instances: 64 /next in flight at once. The upstream answers none of them
 * until all 64 wait, so passing proves they were concurrent. */
static void test_concurrent(struct tap *t, struct upstream *u, int port)
{
    enum { N = 64 };
    struct mi_worker w[N];
    char *ev = make_event(3000);
    int good = 0;
    int distinct = 0;
    int i;
    int j;

    upstream_set_next(u, ev, 3000, false);
    pthread_mutex_lock(&u->mu);
    u->waiting = 0;
    u->next_barrier = N;
    pthread_mutex_unlock(&u->mu);
    for (i = 0; i < N; i++) {
        w[i] = (struct mi_worker){.port = port, .event = ev, .len = 3000};
        pthread_create(&w[i].thr, NULL, mi_main, &w[i]);
    }
    for (i = 0; i < N; i++)
        pthread_join(w[i].thr, NULL);
    for (i = 0; i < N; i++) {
        bool dup = false;

        good += w[i].good;
        for (j = 0; j < i; j++)
            dup |= strcmp(w[i].rid, w[j].rid) == 0;
        distinct += !dup && w[i].rid[0];
    }
    pthread_mutex_lock(&u->mu);
    is_int(t, u->waiting, N, "64 /next reached upstream together (Managed Instances)");
    u->next_barrier = 0;
    pthread_mutex_unlock(&u->mu);
    is_int(t, good, N, "64 concurrent invocations: correct events and 202s");
    is_int(t, distinct, N, "each got its own request id");
    free(ev);
}

static void test_big_events(struct tap *t, struct upstream *u, int port, int rw_port)
{
    size_t n = 6 * 1024 * 1024;
    char *ev = make_event(n);
    struct client c;
    struct resp r;

    upstream_set_next(u, ev, n, false);
    ok(t, invoke_fresh(port, ev, n), "6 MB event through proxyd, byte-identical");
    upstream_set_next(u, ev, n, true);
    ok(t, invoke_fresh(port, ev, n), "6 MB chunked event through proxyd, byte-identical");
    client_open(&c, rw_port);
    client_get(&c, NEXT, &r);
    ok(t, r.status == 200 && has(&r.body, "\"orig_len\":6291456") && r.has_cl && !r.chunked,
       "6 MB chunked event re-framed by the rewrite hook");
    resp_free(&r);
    client_close(&c);
    free(ev);
}

/* ---- upstream faults ---- */

static void test_upstream_drops(struct tap *t, struct upstream *u, int port)
{
    char *ev = make_event(5000);
    struct client c;
    struct resp r;

    upstream_set_next(u, ev, 5000, false);
    pthread_mutex_lock(&u->mu);
    u->next_drops = 1;
    u->next_drop_after = 1000;
    pthread_mutex_unlock(&u->mu);
    client_open(&c, port);
    client_get(&c, NEXT, &r);
    ok(t, r.status == 502 && has(&r.body, "Runtime.ProxyUpstreamError"),
       "upstream drops mid-event: the runtime gets a 502 with a JSON error");
    resp_free(&r);
    client_close(&c);
    client_open(&c, port);
    ok(t, client_get(&c, "/2018-06-01/runtime/truncate", &r) < 0,
       "upstream drops a relayed response mid-body: the runtime sees it cut short");
    resp_free(&r);
    client_close(&c);
    ok(t, invoke_fresh(port, ev, 5000), "next invocation after the drops succeeds");
    free(ev);
}

struct slow_next {
    pthread_t thr;
    int port;
    bool good;
    double took_ms;
};

static void *slow_main(void *arg)
{
    struct slow_next *s = arg;
    struct client c;
    struct resp r;
    double t0 = mono_us();

    client_open(&c, s->port);
    s->good = client_get(&c, NEXT, &r) == 0 && r.status == 200 && r.body.len == 2000;
    s->took_ms = (mono_us() - t0) / 1000;
    resp_free(&r);
    client_close(&c);
    return NULL;
}

static void test_upstream_slow(struct tap *t, struct upstream *u, int port)
{
    char *ev = make_event(2000);
    struct slow_next s = {.port = port};
    struct client c;
    struct resp r;
    double t0;
    double post_ms;

    upstream_set_next(u, ev, 2000, false);
    u->next_delay_ms = 400;
    pthread_create(&s.thr, NULL, slow_main, &s);
    usleep(50 * 1000);
    client_open(&c, port);
    t0 = mono_us();
    client_post(&c, "/2018-06-01/runtime/invocation/req-slow/response", "", "{}", 2, &r);
    post_ms = (mono_us() - t0) / 1000;
    ok(t, r.status == 202 && post_ms < 200,
       "a slow upstream /next does not hold up other connections (POST in %.1f ms)", post_ms);
    resp_free(&r);
    client_close(&c);
    pthread_join(s.thr, NULL);
    u->next_delay_ms = 0;
    ok(t, s.good && s.took_ms >= 390, "the slow /next arrives whole (%.0f ms)", s.took_ms);
    ok(t, invoke_fresh(port, ev, 2000), "invocations continue at full speed");
    free(ev);
}

static void test_upstream_5xx(struct tap *t, struct upstream *u, int port)
{
    char *ev = make_event(1500);
    struct client c;
    struct resp r;

    upstream_set_next(u, ev, 1500, false);
    u->next_5xx = 1;
    client_open(&c, port);
    client_get(&c, NEXT, &r);
    ok(t,
       r.status == 500 && r.body.data &&
           strcmp(r.body.data, "{\"errorMessage\":\"Internal error\","
                               "\"errorType\":\"ServiceException\"}") == 0,
       "upstream 500 relayed with its error body unchanged");
    resp_free(&r);
    client_get(&c, NEXT, &r);
    ok(t, r.status == 200 && r.body.len == 1500 && memcmp(r.body.data, ev, 1500) == 0,
       "the same connection then gets the next event");
    resp_free(&r);
    client_close(&c);
    free(ev);
}

/* ---- the runtime going away ---- */

static void test_client_disconnect(struct tap *t, struct upstream *u, int port)
{
    static const char head[] = "POST /2018-06-01/runtime/invocation/req-gone/response HTTP/1.1\r\n"
                               "Host: 127.0.0.1\r\n"
                               "Lambda-Runtime-Function-Response-Mode: streaming\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n";
    char *ev = make_event(1200);
    struct client c;
    int closed;
    int i;

    pthread_mutex_lock(&u->mu);
    closed = u->closed_conns;
    pthread_mutex_unlock(&u->mu);
    client_open(&c, port);
    client_send(&c, head, sizeof(head) - 1);
    for (i = 0; i < 20; i++)
        client_send(&c, "400\r\n", 5), client_send(&c, ev, 1024), client_send(&c, "\r\n", 2);
    usleep(50 * 1000);
    client_close(&c); /* mid-stream: no last chunk */
    for (i = 0; i < 250; i++) {
        pthread_mutex_lock(&u->mu);
        bool gone = u->closed_conns > closed;
        pthread_mutex_unlock(&u->mu);
        if (gone)
            break;
        usleep(10 * 1000);
    }
    ok(t, i < 250, "runtime gone mid-stream: proxyd closes the upstream connection too");
    upstream_set_next(u, ev, 1200, false);
    ok(t, invoke_fresh(port, ev, 1200), "invocations continue after the disconnect");
    free(ev);
}

/* ---- 200 MB streamed response ---- */

struct streamer {
    int port;
    size_t total;
    double t_first_sent;
    bool good;
};

static void stream_response(struct streamer *st)
{
    static const char head[] = "POST /2018-06-01/runtime/invocation/req-big/response HTTP/1.1\r\n"
                               "Host: 127.0.0.1\r\n"
                               "Lambda-Runtime-Function-Response-Mode: streaming\r\n"
                               "Content-Type: application/octet-stream\r\n"
                               "Transfer-Encoding: chunked\r\n"
                               "Trailer: Lambda-Runtime-Function-Error-Type\r\n\r\n";
    size_t chunk = 64 * 1024;
    char *data = malloc(chunk + 16);
    struct client c;
    struct resp r;
    size_t sent;
    int hl = snprintf(data, 16, "%zx\r\n", chunk);

    memset(data + hl, 'z', chunk);
    memcpy(data + hl + chunk, "\r\n", 2);
    client_open(&c, st->port);
    client_send(&c, head, sizeof(head) - 1);
    st->t_first_sent = mono_us();
    for (sent = 0; sent < st->total; sent += chunk)
        client_send(&c, data, (size_t)hl + chunk + 2);
    client_send(&c, "0\r\n\r\n", 5);
    st->good = client_read(&c, &r) == 0 && r.status == 202;
    resp_free(&r);
    client_close(&c);
    free(data);
}

static void test_stream_200mb(struct tap *t, struct upstream *u)
{
    struct proc pr;
    struct streamer st = {0};
    double t0;
    double ttfb_ms;
    long hwm;

#ifdef __SANITIZE_ADDRESS__
    setenv("ASAN_OPTIONS", "quarantine_size_mb=4", 1);
#endif
    if (proxyd_start(&pr, u->port, NULL) < 0) {
        ok(t, false, "fresh proxyd for the streaming test");
        return;
    }
    pthread_mutex_lock(&u->mu);
    u->no_raw = true;
    u->body_bytes = 0;
    u->first_body_us = 0;
    pthread_mutex_unlock(&u->mu);
    st.port = pr.port;
    st.total = (size_t)STREAM_MB * 1024 * 1024;
    t0 = mono_us();
    stream_response(&st);
    ttfb_ms = (u->first_body_us - st.t_first_sent) / 1000;
    hwm = proc_kb(pr.pid, "VmHWM");
    ok(t, st.good && u->body_bytes == st.total, "%d MB streamed response relayed whole in %.0f ms",
       STREAM_MB, (mono_us() - t0) / 1000);
    ok(t, u->first_body_us > 0 && ttfb_ms < 100,
       "first bytes reach upstream %.2f ms after the runtime sent them (no buffering)", ttfb_ms);
    ok(t, hwm > 0 && hwm < RSS_MAX_KB, "proxyd peak RSS %ld kB stays under %d kB while relaying",
       hwm, RSS_MAX_KB);
    u->no_raw = false;
    is_int(t, proxyd_stop(&pr), 0, "that proxyd exits cleanly");
}

/* ---- headers ---- */

static bool log_has(const struct proc *pr, const char *s)
{
    FILE *f = fopen(pr->log, "r");
    char line[4096];
    bool found = false;

    while (f && !found && fgets(line, sizeof(line), f))
        found = strstr(line, s) != NULL;
    if (f)
        fclose(f);
    return found;
}

static void test_headers(struct tap *t, struct upstream *u, const struct proc *pr)
{
    size_t big = 1024 * 1024;
    char *v = malloc(big + 300 * 1024);
    struct buf h;
    struct client c;
    struct resp r;

    memset(v, 'c', big + 300 * 1024);
    buf_init(&h, BIG);
    buf_appendf(&h, "Lambda-Runtime-Function-XRay-Error-Cause: %.*s\r\n", (int)big, v);
    client_open(&c, pr->port);
    client_post(&c, "/2018-06-01/runtime/invocation/req-h/error", h.data, "{}", 2, &r);
    ok(t, r.status == 202 && u->last_req.len > big, "1 MiB header passes through proxyd");
    resp_free(&r);
    client_close(&c);
    buf_reset(&h);
    buf_appendf(&h, "X-Huge: %.*s\r\n", (int)(big + 200 * 1024), v);
    client_open(&c, pr->port);
    client_post(&c, "/2018-06-01/runtime/invocation/req-h/error", h.data, "{}", 2, &r);
    ok(t, r.status == 431 && has(&r.body, "Runtime.ProxyRequestTooLarge"),
       "over-limit header: 431 with a JSON error");
    resp_free(&r);
    client_close(&c);
    ok(t, log_has(pr, "request head larger than"), "and one log line saying why");
    buf_free(&h);
    free(v);
}

/* ---- upstream unreachable, then back ---- */

struct inflight {
    pthread_t thr;
    int port;
    int status;
    bool body_ok;
};

static void *inflight_main(void *arg)
{
    struct inflight *f = arg;
    struct client c;
    struct resp r;

    client_open(&c, f->port);
    client_get(&c, NEXT, &r);
    f->status = r.status;
    f->body_ok = has(&r.body, "Runtime.ProxyUpstreamError");
    resp_free(&r);
    client_close(&c);
    return NULL;
}

/* The upstream goes away while a /next long-poll is open (the runtime waits for an event). */
static void test_dies_in_flight(struct tap *t, struct upstream *u, int port, const char *ev)
{
    struct inflight f = {.port = port};

    (void)ev;
    u->next_delay_ms = 300;
    pthread_create(&f.thr, NULL, inflight_main, &f);
    usleep(100 * 1000);
    upstream_stop(u);
    pthread_join(f.thr, NULL);
    u->next_delay_ms = 0;
    ok(t, f.status == 502 && f.body_ok,
       "upstream dies with a /next open: that /next gets a 502 (got %d)", f.status);
}

static void test_recovery(struct tap *t, struct upstream *u, int port)
{
    char *ev = make_event(1300);
    int up_port = u->port;
    struct client c;
    struct client w;
    struct resp r;
    int rc;

    upstream_set_next(u, ev, 1300, false);
    client_open(&w, port);
    client_get(&w, NEXT, &r); /* a keep-alive upstream connection exists now */
    resp_free(&r);
    upstream_stop(u);
    client_get(&w, NEXT, &r);
    ok(t, r.status == 502 && has(&r.body, "Runtime.ProxyUpstreamError"),
       "upstream gone: /next on a kept-alive connection gets a 502");
    resp_free(&r);
    client_open(&c, port);
    client_get(&c, NEXT, &r);
    ok(t, r.status == 502, "upstream unreachable: a new connection's /next gets a 502");
    resp_free(&r);
    client_close(&c);
    rc = upstream_start(u, up_port);
    upstream_set_next(u, ev, 1300, false);
    ok(t, rc == 0 && invoke_fresh(port, ev, 1300),
       "upstream back on the same port: invocations succeed again");
    test_dies_in_flight(t, u, port, ev);
    rc = upstream_start(u, up_port);
    upstream_set_next(u, ev, 1300, false);
    ok(t, rc == 0 && invoke_fresh(port, ev, 1300), "and again after it died with a /next open");
    client_get(&w, NEXT, &r);
    ok(t, r.status == 200 && r.body.len == 1300, "the runtime's old connection recovers too");
    resp_free(&r);
    client_close(&w);
    free(ev);
}

static int settle_fds(pid_t pid, int want)
{
    int n = -1;
    int i;

    for (i = 0; i < 200; i++) { /* proxyd closes upstream sides once it sees the EOFs */
        n = count_fds(pid);
        if (n <= want)
            break;
        usleep(10 * 1000);
    }
    return n;
}

int main(void)
{
    struct tap t = TAP_INIT;
    struct upstream u = {0};
    struct proc pr;
    struct proc rw;
    int fds0;

    signal(SIGPIPE, SIG_IGN);
    /* The fake upstream parses with http-parser too; its head limit is process-wide. */
    http_parser_set_max_header_size(2 * 1024 * 1024);
    if (upstream_start(&u, 0) < 0 || proxyd_start(&pr, u.port, NULL) < 0 ||
        proxyd_start(&rw, u.port, "--rewrite-test") < 0) {
        ok(&t, false, "start upstream and proxyd");
        return tap_done(&t);
    }
    fds0 = count_fds(pr.pid);
    test_loopback_only(&t, &pr);
    test_sequential(&t, &u, pr.port);
    test_concurrent(&t, &u, pr.port);
    test_big_events(&t, &u, pr.port, rw.port);
    test_upstream_drops(&t, &u, pr.port);
    test_upstream_slow(&t, &u, pr.port);
    test_upstream_5xx(&t, &u, pr.port);
    test_client_disconnect(&t, &u, pr.port);
    test_headers(&t, &u, &pr);
    test_recovery(&t, &u, pr.port);
    test_stream_200mb(&t, &u);
    is_int(&t, settle_fds(pr.pid, fds0), fds0, "no descriptor leaked in proxyd (%d open)", fds0);
    ok(&t, kill(pr.pid, 0) == 0, "proxyd survived every fault");
    is_int(&t, proxyd_stop(&pr), 0, "proxyd exits cleanly (every handle closed)");
    is_int(&t, proxyd_stop(&rw), 0, "rewrite proxyd exits cleanly");
    upstream_stop(&u);
    free(u.next_body);
    return tap_done(&t);
}
