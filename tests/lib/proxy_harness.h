/* SPDX-License-Identifier: Apache-2.0 */
/* proxy_harness.h: loopback test rig for the proxy tests. A scripted fake Runtime API upstream
 * (on tests/lib/test_server.h: one thread per connection), the proxy on its own libuv loop thread,
 * and blocking test clients. Included by test_proxy*.c only. */
#ifndef TB_TEST_PROXY_HARNESS_H
#define TB_TEST_PROXY_HARNESS_H

#include <arpa/inet.h>
#include <errno.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "extension/base/base.h"
#include "proxy/proxy.h"
#include "tests/lib/test_server.h"
#include "tests/lib/test_util.h"

#define BIG (64 * 1024 * 1024)

/* ---------------- fake upstream ---------------- */

struct upstream {
    struct test_server srv;
    int port;
    pthread_mutex_t mu; /* guards the script and the observations */
    /* script */
    char *next_body;
    size_t next_len;
    bool next_chunked;
    int next_delay_ms;
    int next_5xx;           /* the next this many /next get a 500 with a JSON error */
    int next_drops;         /* the next this many /next are cut after next_drop_after bytes */
    size_t next_drop_after; /* body bytes sent before the connection is dropped */
    int next_barrier;       /* answer /next only once this many are waiting (or after 5 s) */
    bool no_raw;            /* do not keep request bytes (huge streamed bodies) */
    pthread_cond_t cv;
    /* observations */
    int nexts;
    int requests;
    int waiting;
    int closed_conns;
    size_t body_bytes;    /* body bytes seen by the upstream so far (all requests) */
    double first_body_us; /* CLOCK_MONOTONIC time of the first body byte (0: none yet) */
    struct buf last_req;
};

static __attribute__((unused)) double mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

struct upc {
    struct test_conn base;
    struct upstream *u;
    struct buf raw;
    char url[512];
    size_t url_len;
};

static __attribute__((unused)) int up_on_url(http_parser *p, const char *at, size_t n)
{
    struct upc *c = p->data;

    if (c->url_len + n < sizeof(c->url)) {
        memcpy(c->url + c->url_len, at, n);
        c->url_len += n;
        c->url[c->url_len] = '\0';
    }
    return 0;
}

static __attribute__((unused)) int up_on_body(http_parser *p, const char *at, size_t n)
{
    struct upc *c = p->data;

    (void)at;
    pthread_mutex_lock(&c->u->mu);
    if (c->u->first_body_us == 0 && n > 0)
        c->u->first_body_us = mono_us();
    c->u->body_bytes += n;
    pthread_mutex_unlock(&c->u->mu);
    return 0;
}

static const http_parser_settings up_settings = {
    .on_url = up_on_url, .on_body = up_on_body, .on_message_complete = test_server_message_done};

/* Holds a /next until next_barrier of them wait (Managed Instances: many in flight). */
static __attribute__((unused)) void up_barrier(struct upstream *u)
{
    struct timespec dl;

    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 5;
    pthread_mutex_lock(&u->mu);
    u->waiting++;
    pthread_cond_broadcast(&u->cv);
    while (u->next_barrier && u->waiting < u->next_barrier &&
           pthread_cond_timedwait(&u->cv, &u->mu, &dl) == 0)
        ;
    pthread_mutex_unlock(&u->mu);
}

/* Takes one from a fault counter under the lock; true when this response gets the fault. */
static __attribute__((unused)) bool up_take(struct upstream *u, int *counter)
{
    bool hit;

    pthread_mutex_lock(&u->mu);
    hit = *counter > 0;
    if (hit)
        (*counter)--;
    pthread_mutex_unlock(&u->mu);
    return hit;
}

/* Returns false when the connection must be dropped. */
static __attribute__((unused)) bool up_send_next(struct upc *c, int n)
{
    static const char err500[] = "{\"errorMessage\":\"Internal error\","
                                 "\"errorType\":\"ServiceException\"}";
    struct upstream *u = c->u;
    struct buf b;
    size_t off;
    bool drop;

    if (u->next_delay_ms)
        usleep((useconds_t)u->next_delay_ms * 1000);
    if (u->next_barrier)
        up_barrier(u);
    if (up_take(u, &u->next_5xx)) {
        buf_init(&b, 1024);
        buf_appendf(&b,
                    "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                    "Content-Length: %zu\r\n\r\n%s",
                    strlen(err500), err500);
        test_send_all(c->base.fd, b.data, b.len);
        buf_free(&b);
        return true;
    }
    drop = up_take(u, &u->next_drops);
    buf_init(&b, BIG);
    buf_appendf(&b,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                "Lambda-Runtime-Aws-Request-Id: req-%d\r\n"
                "Lambda-Runtime-Deadline-Ms: 1700000000000\r\n"
                "X-Utf8: caf\xc3\xa9\r\n",
                n);
    if (!u->next_chunked) {
        buf_appendf(&b, "Content-Length: %zu\r\n\r\n", u->next_len);
        buf_append(&b, u->next_body, u->next_len);
    } else {
        buf_appendf(&b, "Transfer-Encoding: chunked\r\n\r\n");
        for (off = 0; off < u->next_len; off += 1000) {
            size_t k = u->next_len - off < 1000 ? u->next_len - off : 1000;
            buf_appendf(&b, "%zx\r\n", k);
            buf_append(&b, u->next_body + off, k);
            buf_append(&b, "\r\n", 2);
        }
        buf_appendf(&b, "0\r\n\r\n");
    }
    if (drop) {
        const char *body = memmem(b.data, b.len, "\r\n\r\n", 4);
        size_t head = (size_t)(body - b.data) + 4;

        test_send_all(
            c->base.fd, b.data,
            head + (u->next_drop_after < b.len - head ? u->next_drop_after : b.len - head - 1));
        buf_free(&b);
        return false;
    }
    test_send_all(c->base.fd, b.data, b.len); /* head and body in one send, like the real API */
    buf_free(&b);
    return true;
}

static __attribute__((unused)) bool up_respond(struct upc *c)
{
    struct upstream *u = c->u;
    static const char ok202[] = "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
                                "Content-Length: 16\r\n\r\n{\"status\":\"OK\"}\n";
    int n;

    pthread_mutex_lock(&u->mu);
    u->requests++;
    buf_reset(&u->last_req);
    buf_append(&u->last_req, c->raw.data, c->raw.len);
    n = c->base.parser.method == HTTP_GET && strstr(c->url, "/invocation/next") ? ++u->nexts : 0;
    pthread_mutex_unlock(&u->mu);
    if (n) {
        return up_send_next(c, n);
    } else if (c->base.parser.method == HTTP_HEAD) {
        test_send_all(c->base.fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 38);
    } else if (strstr(c->url, "/continue")) {
        test_send_all(c->base.fd, "HTTP/1.1 100 Continue\r\n\r\n", 25);
        test_send_all(c->base.fd, ok202, sizeof(ok202) - 1);
    } else if (strstr(c->url, "/close")) {
        test_send_all(c->base.fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbye", 41);
        return false;
    } else if (strstr(c->url, "/reset")) {
        return false;
    } else if (strstr(c->url, "/truncate")) {
        test_send_all(c->base.fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly-part", 48);
        return false;
    } else {
        test_send_all(c->base.fd, ok202, sizeof(ok202) - 1);
    }
    return true;
}

/* Answers one request and gets ready for the next; false drops the connection. */
static __attribute__((unused)) bool up_answer(struct test_conn *tc)
{
    struct upc *c = (struct upc *)tc;
    bool keep = up_respond(c);

    c->url_len = 0;
    buf_reset(&c->raw);
    return keep;
}

static __attribute__((unused)) void up_parsed(struct test_conn *tc, const char *p, size_t n)
{
    struct upc *c = (struct upc *)tc;

    if (!c->u->no_raw)
        buf_append(&c->raw, p, n);
}

static __attribute__((unused)) void up_conn_open(struct test_conn *tc)
{
    struct upc *c = (struct upc *)tc;

    c->u = tc->srv->arg;
    buf_init(&c->raw, BIG);
}

static __attribute__((unused)) void up_conn_close(struct test_conn *tc)
{
    struct upc *c = (struct upc *)tc;

    pthread_mutex_lock(&c->u->mu);
    c->u->closed_conns++;
    pthread_mutex_unlock(&c->u->mu);
    buf_free(&c->raw);
}

static const struct test_server_ops up_ops = {
    .settings = &up_settings,
    .conn_size = sizeof(struct upc),
    .conn_open = up_conn_open,
    .parsed = up_parsed,
    .answer = up_answer,
    .conn_close = up_conn_close,
};

/* Starts a fake upstream on `port` (0: any). */
static __attribute__((unused)) int upstream_start(struct upstream *u, int port)
{
    pthread_mutex_init(&u->mu, NULL);
    pthread_cond_init(&u->cv, NULL);
    buf_init(&u->last_req, BIG);
    if (test_server_start(&u->srv, port, &up_ops, u) < 0) {
        pthread_cond_destroy(&u->cv);
        pthread_mutex_destroy(&u->mu);
        return -1;
    }
    u->port = u->srv.port;
    return 0;
}

static __attribute__((unused)) void upstream_stop(struct upstream *u)
{
    test_server_stop(&u->srv);
    buf_free(&u->last_req);
    pthread_cond_destroy(&u->cv);
    pthread_mutex_destroy(&u->mu);
}

static __attribute__((unused)) void upstream_set_next(struct upstream *u, const char *body,
                                                      size_t len, bool chunked)
{
    pthread_mutex_lock(&u->mu);
    free(u->next_body);
    u->next_body = malloc(len + 1);
    memcpy(u->next_body, body, len);
    u->next_len = len;
    u->next_chunked = chunked;
    pthread_mutex_unlock(&u->mu);
}

/* ---------------- proxy on its own loop thread ---------------- */

#define MAX_EVENTS 512

struct hook_event {
    char kind[16];
    char rid[128];
    int status;
    bool streaming;
    char error_type[256];
    char error_body[1024];
    size_t error_body_len;
    bool b64;
    bool body_kept;     /* the report carried the /response body */
    size_t body_len;    /* its length */
    uint64_t body_hash; /* FNV-1a of it */
};

static __attribute__((unused)) uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;

    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

struct rig {
    uv_loop_t loop;
    uv_async_t async;
    pthread_t thr;
    struct proxy *proxy;
    struct log lg;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool want_stats;
    bool want_stop;
    bool have_stats;
    struct proxy_stats stats;
    bool rewrite;
    bool keep_bodies; /* wants_response_body says yes */
    bool splice;      /* h_next splices: "<tb>" at 1, the middle byte becomes "<mid>", last cut */
    struct hook_event ev[MAX_EVENTS];
    int nev;
    int delivered;
};

static __attribute__((unused)) void rig_push(struct rig *r, const char *kind,
                                             const struct proxy_report *rep, const char *rid)
{
    struct hook_event *e;

    pthread_mutex_lock(&r->mu);
    if (r->nev < MAX_EVENTS) {
        e = &r->ev[r->nev++];
        memset(e, 0, sizeof(*e));
        snprintf(e->kind, sizeof(e->kind), "%s", kind);
        snprintf(e->rid, sizeof(e->rid), "%s", rep ? rep->request_id : rid);
        if (rep) {
            e->status = rep->upstream_status;
            e->streaming = rep->streaming;
            snprintf(e->error_type, sizeof(e->error_type), "%s",
                     rep->error_type ? rep->error_type : "");
            memcpy(e->error_body, rep->error_body ? rep->error_body : "",
                   rep->error_body_len < sizeof(e->error_body) ? rep->error_body_len
                                                               : sizeof(e->error_body));
            e->error_body_len = rep->error_body_len;
            e->b64 = rep->error_body_base64;
            e->body_kept = rep->response_body != NULL;
            e->body_len = rep->response_body_len;
            e->body_hash =
                rep->response_body ? fnv1a(rep->response_body, rep->response_body_len) : 0;
        }
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static __attribute__((unused)) void h_next(void *arg, struct proxy_next *ev)
{
    struct rig *r = arg;
    struct buf b;

    if (r->splice && ev->body_len >= 4) {
        struct proxy_splice sp[3] = {
            {1, 0, "<tb>", 4}, {ev->body_len / 2, 1, "<mid>", 5}, {ev->body_len - 1, 1, NULL, 0}};
        (void)proxy_next_splice_body(ev, sp, 3);
    }
    if (!r->rewrite)
        return;
    buf_init(&b, 256);
    buf_appendf(&b, "{\"rewritten\":true,\"orig_len\":%zu}", ev->body_len);
    proxy_next_set_body(ev, &b);
    buf_free(&b);
    proxy_next_set_header(ev, "x-tracebridge-test", "1", 1);
}

static __attribute__((unused)) void h_delivered(void *arg, const char *rid)
{
    rig_push(arg, "delivered", NULL, rid);
}
static __attribute__((unused)) bool h_wants_body(void *arg, const char *rid)
{
    struct rig *r = arg;

    (void)rid;
    return r->keep_bodies;
}
static __attribute__((unused)) void h_resp(void *arg, const struct proxy_report *rep)
{
    rig_push(arg, "response", rep, NULL);
}
static __attribute__((unused)) void h_err(void *arg, const struct proxy_report *rep)
{
    rig_push(arg, "error", rep, NULL);
}
static __attribute__((unused)) void h_init(void *arg, const struct proxy_report *rep)
{
    rig_push(arg, "init_error", rep, NULL);
}
static __attribute__((unused)) void h_restored(void *arg, const struct proxy_report *rep)
{
    rig_push(arg, "restored", rep, NULL);
}

static __attribute__((unused)) void on_async(uv_async_t *a)
{
    struct rig *r = a->data;

    pthread_mutex_lock(&r->mu);
    if (r->want_stats) {
        proxy_get_stats(r->proxy, &r->stats);
        r->want_stats = false;
        r->have_stats = true;
    }
    if (r->want_stop) {
        proxy_free(r->proxy);
        uv_close((uv_handle_t *)&r->async, NULL);
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static __attribute__((unused)) void *rig_main(void *arg)
{
    struct rig *r = arg;

    uv_run(&r->loop, UV_RUN_DEFAULT);
    return NULL;
}

static __attribute__((unused)) int rig_start(struct rig *r, int upstream_port, size_t max_event)
{
    char up[64];
    struct proxy_conf conf = {"127.0.0.1", 0, up, max_event, 1024 * 1024 + 64 * 1024, 0};
    struct proxy_hooks hooks = {.arg = r,
                                .next_event = h_next,
                                .next_delivered = h_delivered,
                                .wants_response_body = h_wants_body,
                                .invocation_response = h_resp,
                                .invocation_error = h_err,
                                .init_error = h_init,
                                .restored = h_restored};
    int err = 0;

    snprintf(up, sizeof(up), "127.0.0.1:%d", upstream_port);
    log_init(&r->lg, LOG_ERROR);
    uv_loop_init(&r->loop);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->proxy = proxy_new(&r->loop, &conf, &hooks, &r->lg, &err);
    if (!r->proxy)
        return err;
    uv_async_init(&r->loop, &r->async, on_async);
    r->async.data = r;
    pthread_create(&r->thr, NULL, rig_main, r);
    return 0;
}

static __attribute__((unused)) struct proxy_stats rig_stats(struct rig *r)
{
    struct proxy_stats s;

    pthread_mutex_lock(&r->mu);
    r->want_stats = true;
    r->have_stats = false;
    uv_async_send(&r->async);
    while (!r->have_stats)
        pthread_cond_wait(&r->cv, &r->mu);
    s = r->stats;
    pthread_mutex_unlock(&r->mu);
    return s;
}

/* Waits until at least n hook events were recorded (or 5 s). */
static __attribute__((unused)) int rig_wait_events(struct rig *r, int n)
{
    struct timespec dl;
    int got;

    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 5;
    pthread_mutex_lock(&r->mu);
    while (r->nev < n && pthread_cond_timedwait(&r->cv, &r->mu, &dl) == 0)
        ;
    got = r->nev;
    pthread_mutex_unlock(&r->mu);
    return got;
}

static __attribute__((unused)) int rig_stop(struct rig *r)
{
    pthread_mutex_lock(&r->mu);
    r->want_stop = true;
    uv_async_send(&r->async);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thr, NULL);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    return uv_loop_close(&r->loop);
}

/* ---------------- blocking test client ---------------- */

struct resp {
    int status;
    struct buf raw;
    struct buf body;
    bool done;
    bool chunked;
    bool has_cl;
    char hname[64];
    size_t hname_len;
    bool in_value;
    bool skip_body;
};

static __attribute__((unused)) int cl_on_body(http_parser *p, const char *at, size_t n)
{
    buf_append(&((struct resp *)p->data)->body, at, n);
    return 0;
}

static __attribute__((unused)) int cl_on_field(http_parser *p, const char *at, size_t n)
{
    struct resp *r = p->data;

    if (r->in_value)
        r->hname_len = 0;
    r->in_value = false;
    if (r->hname_len + n < sizeof(r->hname)) {
        memcpy(r->hname + r->hname_len, at, n);
        r->hname_len += n;
        r->hname[r->hname_len] = '\0';
    }
    return 0;
}

static __attribute__((unused)) int cl_on_value(http_parser *p, const char *at, size_t n)
{
    struct resp *r = p->data;

    (void)at;
    (void)n;
    if (!r->in_value) {
        if (strcasecmp(r->hname, "content-length") == 0)
            r->has_cl = true;
        if (strcasecmp(r->hname, "transfer-encoding") == 0)
            r->chunked = true;
    }
    r->in_value = true;
    return 0;
}

static __attribute__((unused)) int cl_on_headers(http_parser *p)
{
    struct resp *r = p->data;

    return r->skip_body ? 1 : 0;
}

static __attribute__((unused)) int cl_on_done(http_parser *p)
{
    ((struct resp *)p->data)->done = true;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings cl_settings = {.on_header_field = cl_on_field,
                                                 .on_header_value = cl_on_value,
                                                 .on_body = cl_on_body,
                                                 .on_headers_complete = cl_on_headers,
                                                 .on_message_complete = cl_on_done};

struct client {
    int fd;
    http_parser p;
    char pend[65536]; /* bytes read past the previous response */
    size_t npend;
    bool head_req;
};

static __attribute__((unused)) int client_open(struct client *c, int port)
{
    struct sockaddr_in a = {0};
    int one = 1;
    struct timeval tv = {10, 0};

    memset(c, 0, sizeof(*c));
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    http_parser_init(&c->p, HTTP_RESPONSE);
    return connect(c->fd, (struct sockaddr *)&a, sizeof(a));
}

static __attribute__((unused)) void client_close(struct client *c)
{
    close(c->fd);
}

static __attribute__((unused)) void client_send(struct client *c, const void *p, size_t n)
{
    test_send_all(c->fd, p, n);
}

static __attribute__((unused)) size_t client_feed(struct client *c, struct resp *r, const char *d,
                                                  size_t n)
{
    size_t k = http_parser_execute(&c->p, &cl_settings, d, n);

    buf_append(&r->raw, d, k);
    if (HTTP_PARSER_ERRNO(&c->p) == HPE_PAUSED)
        http_parser_pause(&c->p, 0);
    return k;
}

/* Reads one response. Returns 0, or -1 on EOF/timeout/parse error (status may be set). */
static __attribute__((unused)) int client_read(struct client *c, struct resp *r)
{
    char tmp[65536];
    ssize_t n;
    size_t k;

    memset(r, 0, sizeof(*r));
    if (c->head_req)
        http_parser_init(&c->p, HTTP_RESPONSE); /* a fresh parser per HEAD response */
    buf_init(&r->raw, BIG);
    buf_init(&r->body, BIG);
    c->p.data = r;
    r->skip_body = c->head_req;
    c->head_req = false;
    if (c->npend) {
        k = client_feed(c, r, c->pend, c->npend);
        memmove(c->pend, c->pend + k, c->npend - k);
        c->npend -= k;
    }
    while (!r->done) {
        n = recv(c->fd, tmp, sizeof(tmp), 0);
        if (n <= 0) {
            if (n == 0)
                http_parser_execute(&c->p, &cl_settings, NULL, 0);
            break;
        }
        k = client_feed(c, r, tmp, (size_t)n);
        if (k < (size_t)n && r->done) {
            memcpy(c->pend, tmp + k, (size_t)n - k);
            c->npend = (size_t)n - k;
        } else if (k < (size_t)n) {
            break;
        }
    }
    r->status = c->p.status_code;
    return r->done ? 0 : -1;
}

static __attribute__((unused)) void resp_free(struct resp *r)
{
    buf_free(&r->raw);
    buf_free(&r->body);
}

static __attribute__((unused)) int client_get(struct client *c, const char *path, struct resp *r)
{
    char req[512];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);

    client_send(c, req, (size_t)n);
    return client_read(c, r);
}

static __attribute__((unused)) int client_post(struct client *c, const char *path, const char *hdrs,
                                               const char *body, size_t blen, struct resp *r)
{
    struct buf b;

    buf_init(&b, BIG);
    buf_appendf(&b, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Length: %zu\r\n\r\n", path,
                hdrs, blen);
    buf_append(&b, body, blen);
    client_send(c, b.data, b.len);
    buf_free(&b);
    return client_read(c, r);
}

static __attribute__((unused)) int wait_until(struct upstream *u, size_t *field, size_t want,
                                              int ms)
{
    size_t v = 0;

    for (; ms > 0; ms -= 2) {
        pthread_mutex_lock(&u->mu);
        v = *field;
        pthread_mutex_unlock(&u->mu);
        if (v >= want)
            return 0;
        usleep(2000);
    }
    return -1;
}

/* ---------------- proxyd as a separate process ---------------- */

struct proc {
    pid_t pid;
    int port;
    char log[64]; /* its stderr */
};

/* Starts build/tools/proxyd (found next to this test binary) with the given extra argument
 * (or NULL). 0 or -1. */
static __attribute__((unused)) int proxyd_start(struct proc *pr, int upstream_port,
                                                const char *extra)
{
    char exe[512];
    char tool[600];
    char up[64];
    char line[64] = {0};
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    int fds[2];
    int efd;
    FILE *f;

    if (n <= 0 || pipe(fds) < 0)
        return -1;
    exe[n] = '\0';
    if (tu_build_dir(exe, tool, sizeof(tool)) < 0)
        return -1;
    snprintf(tool + strlen(tool), sizeof(tool) - strlen(tool), "/tools/proxyd");
    snprintf(up, sizeof(up), "127.0.0.1:%d", upstream_port);
    snprintf(pr->log, sizeof(pr->log), "/tmp/proxyd-XXXXXX");
    efd = mkstemp(pr->log);
    pr->pid = fork();
    if (pr->pid == 0) {
        dup2(fds[1], 1);
        dup2(efd, 2);
        close(fds[0]);
        close(fds[1]);
        close(efd);
        execl(tool, tool, "--upstream", up, extra, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    close(efd);
    f = fdopen(fds[0], "r");
    if (pr->pid < 0 || !f || !fgets(line, sizeof(line), f) ||
        sscanf(line, "READY %d", &pr->port) != 1) {
        if (f)
            fclose(f);
        return -1;
    }
    fclose(f);
    return 0;
}

/* SIGTERM, then the exit status (the daemon's loop must close cleanly: 0). */
static __attribute__((unused)) int proxyd_stop(struct proc *pr)
{
    int st = 0;

    kill(pr->pid, SIGTERM);
    waitpid(pr->pid, &st, 0);
    unlink(pr->log);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Open descriptors of a process (/proc/PID/fd). */
static __attribute__((unused)) int count_fds(pid_t pid)
{
    char path[64];
    DIR *d;
    struct dirent *e;
    int n = 0;

    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    d = opendir(path);
    if (!d)
        return -1;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* "VmHWM" (peak RSS) or "VmRSS" of a process, in kB. */
static __attribute__((unused)) long proc_kb(pid_t pid, const char *field)
{
    char path[64];
    char line[256];
    long kb = -1;
    size_t flen = strlen(field);
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, field, flen) == 0 && line[flen] == ':')
            kb = strtol(line + flen + 1, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

#endif
