/* SPDX-License-Identifier: Apache-2.0 */
/* queue_upstream.h: a fake Runtime API that hands out invocations the way Lambda does, for the
 * proxy's orphan tests (tests/unit/proxy/test_proxy_orphan.c). Invocations are queued by the test;
 * each waiting GET /next (one thread per connection, on tests/unit/test_server.h) takes the oldest
 * one. A waiting /next whose connection closes (FIN or reset) is dropped and never gets an
 * invocation; an invocation whose write fails is lost, never queued again (Lambda then times it
 * out). An invocation can stall after part of its body (the answer "starts arriving"), until
 * released. Included by tests only. */
#ifndef TB_TEST_QUEUE_UPSTREAM_H
#define TB_TEST_QUEUE_UPSTREAM_H

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "extension/base/base.h"
#include "tests/lib/test_server.h"

#define QU_MAX 512

struct qu_inv {
    char rid[64];
    struct buf raw;     /* the exact bytes of the /next answer */
    size_t stall_after; /* > 0: body bytes sent before stalling until `release` */
    bool stalled;       /* the first part is out */
    bool release;
    bool cut;          /* on release, the connection is dropped instead of the rest being sent */
    bool fin_in_stall; /* the proxy's side closed (FIN) while the answer stalled */
    bool sent;         /* written whole */
    bool lost;         /* the write failed */
};

struct queue_upstream {
    struct test_server srv;
    int port;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool ignore_fin; /* a server that does not notice a closed waiting /next */
    bool stopping;
    struct qu_inv inv[QU_MAX];
    int n_inv;      /* queued so far */
    int taken;      /* handed to a /next so far */
    int nexts;      /* GET /next received */
    int waiting;    /* /next waiting now */
    int dropped;    /* waiting /next dropped because their connection closed */
    int sent, lost; /* invocations written whole / lost */
    int responses;
    char resp_rid[QU_MAX][64];
};

struct quc {
    struct test_conn base;
    struct queue_upstream *q;
    char url[256];
    size_t url_len;
};

static int qu_on_url(http_parser *p, const char *at, size_t n)
{
    struct quc *c = p->data;

    if (c->url_len + n < sizeof(c->url)) {
        memcpy(c->url + c->url_len, at, n);
        c->url_len += n;
        c->url[c->url_len] = '\0';
    }
    return 0;
}

static const http_parser_settings qu_settings = {.on_url = qu_on_url,
                                                 .on_message_complete = test_server_message_done};

/* The peer closed its side (FIN) or the connection is gone. */
static bool qu_peer_closed(int fd)
{
    struct pollfd pf = {.fd = fd, .events = POLLIN | POLLRDHUP};
    char ch;

    if (poll(&pf, 1, 0) <= 0)
        return false;
    if (pf.revents & (POLLRDHUP | POLLHUP | POLLERR))
        return true;
    return recv(fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

static void qu_wait_step(struct queue_upstream *q)
{
    struct timespec dl;

    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_nsec += 2 * 1000 * 1000;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&q->cv, &q->mu, &dl);
}

/* Waits for an invocation; NULL when the connection closed first (the waiter is dropped). */
static struct qu_inv *qu_take(struct quc *c)
{
    struct queue_upstream *q = c->q;
    struct qu_inv *iv = NULL;

    pthread_mutex_lock(&q->mu);
    q->nexts++;
    q->waiting++;
    pthread_cond_broadcast(&q->cv);
    while (!iv) {
        if (q->taken < q->n_inv) {
            iv = &q->inv[q->taken++];
            break;
        }
        if (q->stopping || (!q->ignore_fin && qu_peer_closed(c->base.fd))) {
            q->dropped += !q->stopping;
            break;
        }
        qu_wait_step(q);
    }
    q->waiting--;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return iv;
}

/* Sends the first part, then waits until the test releases the rest. */
static int qu_stall(struct quc *c, struct qu_inv *iv, size_t first)
{
    struct queue_upstream *q = c->q;
    int rc = test_send_all(c->base.fd, iv->raw.data, first);

    pthread_mutex_lock(&q->mu);
    iv->stalled = true;
    pthread_cond_broadcast(&q->cv);
    while (!iv->release && !q->stopping) {
        if (!iv->fin_in_stall && qu_peer_closed(c->base.fd))
            iv->fin_in_stall = true;
        qu_wait_step(q);
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

static bool qu_send_next(struct quc *c)
{
    struct queue_upstream *q = c->q;
    struct qu_inv *iv = qu_take(c);
    const char *body;
    size_t first = 0;
    int rc = 0;

    if (!iv)
        return false;
    body = memmem(iv->raw.data, iv->raw.len, "\r\n\r\n", 4);
    if (iv->stall_after > 0 && body)
        first = (size_t)(body - iv->raw.data) + 4 + iv->stall_after;
    if (first > 0 && first < iv->raw.len)
        rc = qu_stall(c, iv, first);
    else
        first = 0;
    if (iv->cut)
        rc = -EPIPE;
    else if (rc == 0)
        rc = test_send_all(c->base.fd, iv->raw.data + first, iv->raw.len - first);
    pthread_mutex_lock(&q->mu);
    iv->sent = rc == 0;
    iv->lost = rc != 0;
    q->sent += rc == 0;
    q->lost += rc != 0;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return rc == 0;
}

static bool qu_answer(struct test_conn *tc)
{
    static const char ok202[] = "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
                                "Content-Length: 16\r\n\r\n{\"status\":\"OK\"}\n";
    struct quc *c = (struct quc *)tc;
    struct queue_upstream *q = c->q;
    const char *m;
    bool keep = true;

    if (tc->parser.method == HTTP_GET && strstr(c->url, "/invocation/next")) {
        keep = qu_send_next(c);
    } else {
        m = strstr(c->url, "/invocation/");
        pthread_mutex_lock(&q->mu);
        if (m && strstr(c->url, "/response") && q->responses < QU_MAX)
            sscanf(m + 12, "%63[^/]", q->resp_rid[q->responses++]);
        pthread_cond_broadcast(&q->cv);
        pthread_mutex_unlock(&q->mu);
        test_send_all(tc->fd, ok202, sizeof(ok202) - 1);
    }
    c->url_len = 0;
    return keep;
}

static void qu_conn_open(struct test_conn *tc)
{
    ((struct quc *)tc)->q = tc->srv->arg;
}

static void qu_conn_close(struct test_conn *tc)
{
    (void)tc;
}

static const struct test_server_ops qu_ops = {
    .settings = &qu_settings,
    .conn_size = sizeof(struct quc),
    .conn_open = qu_conn_open,
    .answer = qu_answer,
    .conn_close = qu_conn_close,
};

static __attribute__((unused)) int qu_start(struct queue_upstream *q)
{
    memset(q, 0, sizeof(*q));
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    if (test_server_start(&q->srv, 0, &qu_ops, q) < 0)
        return -1;
    q->port = q->srv.port;
    return 0;
}

static __attribute__((unused)) void qu_stop(struct queue_upstream *q)
{
    int i;

    pthread_mutex_lock(&q->mu);
    q->stopping = true;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    test_server_stop(&q->srv);
    for (i = 0; i < q->n_inv; i++)
        buf_free(&q->inv[i].raw);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
}

/* Queues an invocation with `len` body bytes (chunked in 1000-byte chunks or Content-Length);
 * stall_after > 0 stalls it after that many body bytes. Returns its index. */
static __attribute__((unused)) int qu_queue(struct queue_upstream *q, const char *body, size_t len,
                                            bool chunked, size_t stall_after)
{
    struct qu_inv *iv;
    size_t off;
    int i;

    pthread_mutex_lock(&q->mu);
    i = q->n_inv;
    iv = &q->inv[i];
    memset(iv, 0, sizeof(*iv));
    snprintf(iv->rid, sizeof(iv->rid), "inv-%d", i);
    iv->stall_after = stall_after;
    buf_init(&iv->raw, len * 2 + 4096);
    buf_appendf(
        &iv->raw,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        "Lambda-Runtime-Aws-Request-Id: %s\r\nLambda-Runtime-Deadline-Ms: 1700000000000\r\n",
        iv->rid);
    if (!chunked) {
        buf_appendf(&iv->raw, "Content-Length: %zu\r\n\r\n", len);
        buf_append(&iv->raw, body, len);
    } else {
        buf_appendf(&iv->raw, "Transfer-Encoding: chunked\r\n\r\n");
        for (off = 0; off < len; off += 1000) {
            size_t k = len - off < 1000 ? len - off : 1000;
            buf_appendf(&iv->raw, "%zx\r\n", k);
            buf_append(&iv->raw, body + off, k);
            buf_append(&iv->raw, "\r\n", 2);
        }
        buf_appendf(&iv->raw, "0\r\n\r\n");
    }
    q->n_inv++;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return i;
}

/* Lets a stalled invocation go on: the rest of it, or (cut) a dropped connection. */
static __attribute__((unused)) void qu_release(struct queue_upstream *q, int i, bool cut)
{
    pthread_mutex_lock(&q->mu);
    q->inv[i].cut = cut;
    q->inv[i].release = true;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

/* Waits until *field (an int of q, read under its lock) equals want; false after ms. */
static __attribute__((unused)) bool qu_wait_int(struct queue_upstream *q, const int *field,
                                                int want, int ms)
{
    struct timespec dl;
    bool got;

    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += ms / 1000;
    dl.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&q->mu);
    while (*field != want && pthread_cond_timedwait(&q->cv, &q->mu, &dl) == 0)
        ;
    got = *field == want;
    pthread_mutex_unlock(&q->mu);
    return got;
}

static __attribute__((unused)) bool qu_wait_flag(struct queue_upstream *q, const bool *flag, int ms)
{
    int i;
    bool v = false;

    for (i = 0; i < ms && !v; i++) {
        pthread_mutex_lock(&q->mu);
        v = *flag;
        pthread_mutex_unlock(&q->mu);
        if (!v)
            usleep(1000);
    }
    return v;
}

static __attribute__((unused)) int qu_get(struct queue_upstream *q, const int *field)
{
    int v;

    pthread_mutex_lock(&q->mu);
    v = *field;
    pthread_mutex_unlock(&q->mu);
    return v;
}

#endif
