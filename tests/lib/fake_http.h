/* SPDX-License-Identifier: Apache-2.0 */
/* fake_http.h: a scripted loopback HTTP/1.1 server for the extension tests (fake Extensions
 * API, fake Runtime API, fake OTLP backend) on tests/lib/test_server.h: one thread per
 * connection, so a handler may sleep or block (long-poll) without stopping the others.
 * Keep-alive; request bodies with Content-Length or chunked. Included by tests only. */
#ifndef TB_TEST_FAKE_HTTP_H
#define TB_TEST_FAKE_HTTP_H

#include <arpa/inet.h>
#include <errno.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "extension/base/base.h"
#include "tests/lib/test_server.h"

struct fake_req {
    char method[16];
    char url[1024];
    struct buf head; /* "Name: value\r\n" lines */
    struct buf body;
    char last_field[256];
    unsigned conn_no; /* 1 for the server's first connection, 2 for the next... */
    unsigned req_no;  /* 1 for the connection's first request */
};

struct fake_resp {
    int status;
    struct buf headers; /* extra "Name: value\r\n" lines */
    struct buf body;
    bool close; /* close the connection without answering */
    bool reset; /* send `raw` (if any), then abort the connection with a TCP RST */
    const char *raw;
};

typedef void (*fake_handler)(void *arg, const struct fake_req *rq, struct fake_resp *rs);

struct fake_http {
    struct test_server srv;
    int port;
    fake_handler handler;
    void *arg;
    unsigned conns; /* connections accepted so far (guarded by srv.mu) */
};

struct fake_conn {
    struct test_conn base;
    struct fake_req rq;
    bool in_value;
};

static __attribute__((unused)) uint64_t fake_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static __attribute__((unused)) const char *fake_req_header(const struct fake_req *rq,
                                                           const char *name, size_t *len)
{
    size_t nlen = strlen(name);
    const char *p = rq->head.data;
    const char *end = p ? p + rq->head.len : NULL;

    while (p && p < end) {
        const char *eol = strstr(p, "\r\n");
        if (!eol)
            break;
        if ((size_t)(eol - p) > nlen + 1 && p[nlen] == ':' && strncasecmp(p, name, nlen) == 0) {
            *len = (size_t)(eol - p) - nlen - 2;
            return p + nlen + 2;
        }
        p = eol + 2;
    }
    return NULL;
}

/* Copies header `name` of rq into out (cap bytes incl. NUL; "" when absent). */
static __attribute__((unused)) void fake_req_copy_header(const struct fake_req *rq,
                                                         const char *name, char *out, size_t cap)
{
    size_t n = 0;
    const char *v = fake_req_header(rq, name, &n);

    snprintf(out, cap, "%.*s", v ? (int)(n < cap ? n : cap - 1) : 0, v ? v : "");
}

/* Appends rq's body to out, gunzipped when it came with Content-Encoding: gzip. */
static __attribute__((unused)) void fake_req_body_decoded(const struct fake_req *rq,
                                                          struct buf *out)
{
    char enc[32];
    z_stream zs;
    char tmp[65536];
    int rc;

    fake_req_copy_header(rq, "Content-Encoding", enc, sizeof(enc));
    if (strcmp(enc, "gzip") != 0) {
        buf_append(out, rq->body.data, rq->body.len);
        return;
    }
    memset(&zs, 0, sizeof(zs));
    inflateInit2(&zs, 15 + 16);
    zs.next_in = (Bytef *)rq->body.data;
    zs.avail_in = (uInt)rq->body.len;
    do {
        zs.next_out = (Bytef *)tmp;
        zs.avail_out = sizeof(tmp);
        rc = inflate(&zs, Z_NO_FLUSH);
        buf_append(out, tmp, sizeof(tmp) - zs.avail_out);
    } while (rc == Z_OK);
    inflateEnd(&zs);
}

static int fake_on_url(http_parser *p, const char *at, size_t n)
{
    struct fake_conn *c = p->data;
    size_t have = strlen(c->rq.url);

    if (have + n < sizeof(c->rq.url)) {
        memcpy(c->rq.url + have, at, n);
        c->rq.url[have + n] = '\0';
    }
    return 0;
}

static int fake_on_field(http_parser *p, const char *at, size_t n)
{
    struct fake_conn *c = p->data;

    if (c->in_value)
        buf_append(&c->rq.head, "\r\n", 2);
    c->in_value = false;
    buf_append(&c->rq.head, at, n);
    return 0;
}

static int fake_on_value(http_parser *p, const char *at, size_t n)
{
    struct fake_conn *c = p->data;

    if (!c->in_value)
        buf_append(&c->rq.head, ": ", 2);
    c->in_value = true;
    buf_append(&c->rq.head, at, n);
    return 0;
}

static int fake_on_headers_done(http_parser *p)
{
    struct fake_conn *c = p->data;

    if (c->in_value)
        buf_append(&c->rq.head, "\r\n", 2);
    c->in_value = false;
    snprintf(c->rq.method, sizeof(c->rq.method), "%s", http_method_str(p->method));
    return 0;
}

static int fake_on_body(http_parser *p, const char *at, size_t n)
{
    struct fake_conn *c = p->data;

    buf_append(&c->rq.body, at, n);
    return 0;
}

static const http_parser_settings fake_settings = {
    .on_url = fake_on_url,
    .on_header_field = fake_on_field,
    .on_header_value = fake_on_value,
    .on_headers_complete = fake_on_headers_done,
    .on_body = fake_on_body,
    .on_message_complete = test_server_message_done,
};

static void fake_req_reset(struct fake_req *rq)
{
    rq->url[0] = '\0';
    rq->method[0] = '\0';
    buf_reset(&rq->head);
    buf_reset(&rq->body);
}

static bool fake_answer(struct test_conn *tc)
{
    struct fake_conn *c = (struct fake_conn *)tc;
    struct fake_http *f = tc->srv->arg;
    struct fake_resp rs;
    struct buf out;

    memset(&rs, 0, sizeof(rs));
    c->rq.req_no++;
    rs.status = 200;
    buf_init(&rs.headers, 1 << 20);
    buf_init(&rs.body, 64 << 20);
    f->handler(f->arg, &c->rq, &rs);
    fake_req_reset(&c->rq);
    if (rs.reset) {
        /* connect(AF_UNSPEC) disconnects a TCP socket with a RST, without closing the fd
         * (the server closes it when it stops). */
        struct sockaddr unspec = {.sa_family = AF_UNSPEC};
        if (rs.raw)
            test_send_all(tc->fd, rs.raw, strlen(rs.raw));
        (void)connect(tc->fd, &unspec, sizeof(unspec));
        rs.close = true;
    }
    if (rs.close) {
        buf_free(&rs.headers);
        buf_free(&rs.body);
        return false;
    }
    buf_init(&out, 65 << 20);
    buf_appendf(&out, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n", rs.status, rs.body.len);
    if (rs.headers.len)
        buf_append(&out, rs.headers.data, rs.headers.len);
    buf_append(&out, "\r\n", 2);
    if (rs.body.len)
        buf_append(&out, rs.body.data, rs.body.len);
    test_send_all(tc->fd, out.data, out.len);
    buf_free(&out);
    buf_free(&rs.headers);
    buf_free(&rs.body);
    return true;
}

static void fake_conn_open(struct test_conn *tc)
{
    struct fake_conn *c = (struct fake_conn *)tc;
    struct fake_http *f = tc->srv->arg;

    pthread_mutex_lock(&tc->srv->mu);
    c->rq.conn_no = ++f->conns;
    pthread_mutex_unlock(&tc->srv->mu);
    buf_init(&c->rq.head, 1 << 22);
    buf_init(&c->rq.body, 64 << 20);
}

static void fake_conn_close(struct test_conn *tc)
{
    struct fake_conn *c = (struct fake_conn *)tc;

    buf_free(&c->rq.head);
    buf_free(&c->rq.body);
}

static const struct test_server_ops fake_ops = {
    .settings = &fake_settings,
    .conn_size = sizeof(struct fake_conn),
    .conn_open = fake_conn_open,
    .answer = fake_answer,
    .conn_close = fake_conn_close,
};

/* Listens on 127.0.0.1 (port 0 = any free port). */
static __attribute__((unused)) struct fake_http *fake_http_start(int port, fake_handler h,
                                                                 void *arg)
{
    struct fake_http *f = calloc(1, sizeof(*f));

    f->handler = h;
    f->arg = arg;
    if (test_server_start(&f->srv, port, &fake_ops, f) < 0) {
        free(f);
        return NULL;
    }
    f->port = f->srv.port;
    return f;
}

/* Stops accepting, shuts every connection down and joins the threads. Handlers blocked in a
 * long-poll must be released by the test first. */
static __attribute__((unused)) void fake_http_stop(struct fake_http *f)
{
    test_server_stop(&f->srv);
    free(f);
}

#endif
