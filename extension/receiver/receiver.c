/* SPDX-License-Identifier: Apache-2.0 */
/* receiver: sockets for the OTLP/HTTP receiver. Each connection owns an rx_session that does
 * the HTTP and OTLP work; this file only moves bytes, applies backpressure and closes. */
#include "extension/receiver/receiver.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "extension/net/net.h"
#include "extension/base/base.h"
#include "extension/receiver/internal.h"

#define RECV_READ_BUF 65536
/* Stop reading a connection while this many response bytes wait for the client to read. */
#define RECV_PENDING_HIGH (256 * 1024)
/* After a closing answer (413, broken request) the rest of the request is read and dropped for
 * this long, so the close does not reset the connection before the client reads the answer. */
#define RECV_LINGER_MS 1000
/* All connections together hold at most this many request bodies at once. */
#define RECV_BODY_BUDGET_REQUESTS 4
/* At most one "connection limit reached" warning per this period. */
#define RECV_FULL_WARN_EVERY_MS (60 * 1000)

struct rconn {
    struct receiver *r;
    struct tb_list link; /* in receiver.conns */
    uv_tcp_t tcp;
    uv_timer_t linger;
    uv_shutdown_t shut;
    struct rx_session sess;
    size_t pending;     /* bytes handed to uv_write and not completed */
    uint64_t last_used; /* receiver's use count when bytes last arrived: orders evictions */
    unsigned handles;
    bool reading;
    bool peer_eof;
    bool shutting; /* our FIN is sent; reading only to drop bytes until the peer's EOF */
    bool closing;
};

struct receiver {
    uv_loop_t *loop;
    uv_tcp_t listener;
    const struct log *lg;
    struct rx_ctx ctx;
    struct tb_list conns; /* every connection until its last handle closed */
    unsigned long open_conns;
    unsigned long closing_conns; /* open_conns whose close is under way */
    unsigned long handles;       /* listener + connections not yet freed */
    uint64_t uses;               /* reads so far: a clock for least-recently-used */
    struct ratelimit full_log;
    int port;
    bool closing;
    char readbuf[RECV_READ_BUF];
};

struct wreq {
    uv_write_t req;
    struct rconn *c;
    size_t n;
    char *data;
};

static void settle(struct rconn *c);

/* ---------------- lifetime ---------------- */

static void receiver_maybe_free(struct receiver *r)
{
    if (r->closing && r->handles == 0)
        free(r);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
    struct rconn *c = h->data;
    struct receiver *r = c->r;

    if (--c->handles > 0)
        return;
    rx_session_free(&c->sess);
    tb_list_remove(&c->link);
    r->open_conns--;
    r->closing_conns--;
    free(c);
    r->handles--;
    receiver_maybe_free(r);
}

static void conn_close(struct rconn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    c->r->closing_conns++;
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->linger, on_conn_handle_closed);
}

static void on_linger_timeout(uv_timer_t *t)
{
    conn_close(t->data);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct rconn *c = req->data;

    if (status < 0 && !c->closing)
        conn_close(c);
}

/* Sends FIN after the last answer and waits (bounded) for the client's EOF. */
static void begin_close(struct rconn *c)
{
    if (c->shutting || c->closing)
        return;
    c->shutting = true;
    if (c->peer_eof || uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shutdown) < 0 ||
        uv_timer_start(&c->linger, on_linger_timeout, RECV_LINGER_MS, 0) < 0)
        conn_close(c);
}

/* ---------------- reads ---------------- */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    struct rconn *c = h->data;

    (void)hint;
    /* Each read is consumed (copied where kept) before the next, so one buffer serves all. */
    b->base = c->r->readbuf;
    b->len = sizeof(c->r->readbuf);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    struct rconn *c = st->data;

    if (nread == 0 || c->closing)
        return;
    c->last_used = ++c->r->uses;
    if (nread < 0) {
        c->peer_eof = true;
        if (c->shutting || nread != UV_EOF) {
            conn_close(c);
            return;
        }
        rx_session_eof(&c->sess);
    } else if (!c->shutting) {
        rx_session_feed(&c->sess, b->base, (size_t)nread);
    }
    settle(c);
}

static void update_reads(struct rconn *c)
{
    const struct rx_session *s = &c->sess;
    bool want = !c->closing && !c->peer_eof &&
                (c->shutting || (!rx_session_closing(s) && !rx_session_blocked(s) &&
                                 c->pending < RECV_PENDING_HIGH));

    if (want == c->reading)
        return;
    if (want && uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0)
        return;
    if (!want)
        uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = want;
}

/* ---------------- writes ---------------- */

static void on_write(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    struct rconn *c = w->c;

    c->pending -= w->n;
    free(w->data);
    free(w);
    if (c->closing)
        return;
    if (status < 0)
        conn_close(c);
    else
        settle(c);
}

/* Writes the session's pending answers: at once when the socket takes them, else queued. */
static int write_output(struct rconn *c)
{
    size_t n;
    char *p = rx_session_take_output(&c->sess, &n);
    uv_buf_t b = uv_buf_init(p, (unsigned)n);
    struct wreq *w;
    int rc = 0;

    if (!p)
        return 0;
    if (c->pending == 0)
        rc = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (rc == UV_EAGAIN)
        rc = 0;
    if (rc < 0 || (size_t)rc == n) {
        free(p);
        return rc < 0 ? rc : 0;
    }
    b = uv_buf_init(p + rc, (unsigned)(n - (size_t)rc));
    w = malloc(sizeof(*w));
    if (w) {
        w->c = c;
        w->n = b.len;
        w->data = p;
        rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    }
    if (!w || rc < 0) {
        free(p);
        free(w);
        return w ? rc : -ENOMEM;
    }
    c->pending += b.len;
    return 0;
}

/* After any event: write answers, let a paused session go on, close when it is done. */
static void settle(struct rconn *c)
{
    struct rx_session *s = &c->sess;

    if (c->closing)
        return;
    do {
        if (write_output(c) < 0) {
            conn_close(c);
            return;
        }
        if (!rx_session_blocked(s) || c->pending >= RECV_PENDING_HIGH)
            break;
        rx_session_resume(s);
    } while (!c->closing);
    if (rx_session_closing(s) && c->pending == 0)
        begin_close(c);
    if (!c->closing)
        update_reads(c);
}

/* ---------------- accept ---------------- */

static void on_refused_closed(uv_handle_t *h)
{
    free(h);
}

/* Nothing in flight: no request begun, no answer waiting to be written, not closing. Closing
 * such a connection loses nothing; the client's pool opens a new one when it needs it. */
static bool conn_idle(const struct rconn *c)
{
    return !c->closing && !c->shutting && c->pending == 0 && rx_session_idle(&c->sess);
}

/* The idle connection that has waited longest since its last request, or NULL. */
static struct rconn *lru_idle(const struct receiver *r)
{
    struct rconn *best = NULL;
    const struct tb_list *it;

    tb_list_foreach(it, &r->conns) {
        struct rconn *c = tb_list_entry(it, struct rconn, link);
        if (conn_idle(c) && (!best || c->last_used < best->last_used))
            best = c;
    }
    return best;
}

static void warn_full(struct receiver *r)
{
    unsigned long held = 0;

    if (!ratelimit_hit(&r->full_log, uv_now(r->loop), &held))
        return;
    if (held)
        log_warn(r->lg, "receiver",
                 "%d connections open and none idle: still refusing new ones (%lu refused since "
                 "the last warning)",
                 RECEIVER_MAX_CONNS, held + 1);
    else
        log_warn(r->lg, "receiver", "%d connections open and none idle: refusing new ones",
                 RECEIVER_MAX_CONNS);
}

/* Over the connection limit with every connection busy: accept and close at once, so the
 * client sees a clear close. */
static void refuse(struct receiver *r)
{
    uv_tcp_t *t = malloc(sizeof(*t));

    r->ctx.stats.conns_refused++;
    warn_full(r);
    if (!t || uv_tcp_init(r->loop, t) < 0) {
        free(t);
        return;
    }
    (void)uv_accept((uv_stream_t *)&r->listener, (uv_stream_t *)t);
    uv_close((uv_handle_t *)t, on_refused_closed);
}

/* At the limit, an idle keep-alive connection makes room for the new one: SDK pools grow over
 * a long life (Managed Instances run many invocations at once) and mostly sit idle, so
 * refusing would fail live exports to keep dead ones. false when every connection is busy. */
static bool evict_idle(struct receiver *r)
{
    struct rconn *victim = lru_idle(r);

    if (!victim)
        return false;
    r->ctx.stats.conns_evicted++;
    log_debug(r->lg, "receiver", "connection limit %d: closed the least recently used idle one",
              RECEIVER_MAX_CONNS);
    conn_close(victim);
    return true;
}

static int conn_accept(struct receiver *r)
{
    struct rconn *c = calloc(1, sizeof(*c));
    int rc;

    if (!c)
        return -ENOMEM;
    rc = uv_tcp_init(r->loop, &c->tcp);
    if (rc < 0) {
        free(c);
        return rc;
    }
    (void)uv_timer_init(r->loop, &c->linger); /* only initialises fields; cannot fail */
    c->r = r;
    c->tcp.data = c;
    c->linger.data = c;
    c->handles = 2;
    rx_session_init(&c->sess, &r->ctx);
    c->last_used = ++r->uses;
    tb_list_insert_head(&r->conns, &c->link);
    r->open_conns++;
    r->handles++;
    rc = uv_accept((uv_stream_t *)&r->listener, (uv_stream_t *)&c->tcp);
    if (rc < 0) {
        conn_close(c);
        return rc;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    update_reads(c);
    return 0;
}

static void on_connection(uv_stream_t *server, int status)
{
    struct receiver *r = server->data;
    int rc;

    if (status < 0 || r->closing)
        return;
    if (r->open_conns - r->closing_conns >= RECEIVER_MAX_CONNS && !evict_idle(r)) {
        refuse(r);
        return;
    }
    rc = conn_accept(r);
    if (rc < 0)
        log_warn(r->lg, "receiver", "accept failed: %s", uv_strerror(rc));
}

/* ---------------- setup ---------------- */

static void on_listener_closed(uv_handle_t *h)
{
    struct receiver *r = h->data;

    r->handles--;
    receiver_maybe_free(r);
}

static void init_ctx(struct receiver *r, size_t max_request_bytes, struct spanbuf *sb,
                     const struct log *lg)
{
    r->lg = lg;
    r->ctx.sb = sb;
    r->ctx.lg = lg;
    r->ctx.max_request_bytes = max_request_bytes;
    r->ctx.body_budget = max_request_bytes * RECV_BODY_BUDGET_REQUESTS;
}

struct receiver *receiver_new(uv_loop_t *loop, const char *host, int port, size_t max_request_bytes,
                              struct spanbuf *sb, const struct log *lg, int *err)
{
    struct sockaddr_storage addr;
    struct receiver *r;
    int rc;

    if (!loop || !host || !sb || port < 0 || port > 65535 || max_request_bytes == 0 ||
        max_request_bytes > SIZE_MAX / (2 * RECV_BODY_BUDGET_REQUESTS)) {
        *err = -EINVAL;
        return NULL;
    }
    /* Loopback only: the receiver must never be reachable from outside the sandbox. */
    rc = loopback_addr(strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, port, &addr);
    r = rc == 0 ? calloc(1, sizeof(*r)) : NULL;
    if (rc == 0 && !r)
        rc = -ENOMEM;
    if (rc == 0)
        rc = uv_tcp_init(loop, &r->listener);
    if (rc < 0) {
        free(r);
        *err = rc;
        return NULL;
    }
    r->loop = loop;
    tb_list_init(&r->conns);
    r->listener.data = r;
    r->handles = 1;
    r->full_log = (struct ratelimit)RATELIMIT_INIT(RECV_FULL_WARN_EVERY_MS);
    init_ctx(r, max_request_bytes, sb, lg);
    rc = loopback_listen(&r->listener, &addr, on_connection, &r->port);
    if (rc < 0) {
        r->closing = true;
        uv_close((uv_handle_t *)&r->listener, on_listener_closed);
        *err = rc;
        return NULL;
    }
    log_info(lg, "receiver", "OTLP/HTTP receiver listening on %s:%d", host, r->port);
    return r;
}

int receiver_port(const struct receiver *r)
{
    return r->port;
}

void receiver_get_stats(const struct receiver *r, struct receiver_stats *out)
{
    *out = r->ctx.stats;
    out->open_conns = r->open_conns;
}

size_t receiver_take_peak_body(struct receiver *r)
{
    size_t p = r->ctx.body_peak;

    r->ctx.body_peak = r->ctx.body_in_use;
    return p;
}

void receiver_free(struct receiver *r)
{
    struct tb_list *it;

    if (!r || r->closing)
        return;
    r->closing = true;
    uv_close((uv_handle_t *)&r->listener, on_listener_closed);
    tb_list_foreach(it, &r->conns)
        conn_close(tb_list_entry(it, struct rconn, link)); /* unlinked later, when closed */
}
