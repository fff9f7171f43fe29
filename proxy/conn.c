#include "proxy/conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct wreq {
    uv_write_t req;
    struct side *s;
    size_t n;
    char *own[2];
    char data[];
};

static void proxy_maybe_free(struct proxy *p)
{
    if (p->closing && p->handles == 0)
        free(p);
}

static void conn_free(struct conn *c)
{
    struct proxy *p = c->p;

    relay_free(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        p->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    p->stats.downstream_conns--;
    free(c);
    p->handles--;
    proxy_maybe_free(p);
}

static void on_down_closed(uv_handle_t *h)
{
    struct conn *c = ((struct side *)h->data)->c;

    if (--c->handles == 0)
        conn_free(c);
}

static void on_up_closed(uv_handle_t *h)
{
    struct side *s = h->data;
    struct conn *c = s->c;

    free(s);
    c->p->stats.upstream_conns--;
    if (--c->handles == 0)
        conn_free(c);
}

void conn_up_detach(struct conn *c)
{
    struct side *s = c->up;

    if (!s)
        return;
    c->up = NULL;
    s->detached = true;
    uv_close((uv_handle_t *)&s->tcp, on_up_closed);
}

void conn_close(struct conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    relay_conn_closing(c);
    conn_up_detach(c);
    uv_close((uv_handle_t *)&c->down.tcp, on_down_closed);
}

void conn_close_when_drained(struct conn *c)
{
    c->close_when_drained = true;
    if (c->down.pending == 0)
        conn_close(c);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    struct side *s = h->data;

    (void)hint;
    /* Every read is fully consumed (copied where kept) before the next one, so one buffer per
     * proxy serves all connections. */
    b->base = s->c->p->readbuf;
    b->len = sizeof(s->c->p->readbuf);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    struct side *s = st->data;
    struct conn *c = s->c;

    if (nread == 0 || s->detached || c->closing)
        return;
    if (nread > 0) {
        if (s == &c->down)
            http1_feed(&c->req, b->base, (size_t)nread);
        else
            http1_feed(&c->resp, b->base, (size_t)nread);
    } else if (s == &c->down) {
        relay_downstream_eof(c);
    } else if (nread == UV_EOF) {
        relay_upstream_eof(c);
    } else {
        relay_upstream_failed(c, (int)nread);
    }
    if (!c->closing)
        conn_update_reads(c);
}

/* Hysteresis keeps a busy relay from toggling reads on every write. */
static bool over_limit(struct side *s)
{
    if (!s)
        return false;
    s->throttled =
        s->pending > PROXY_PENDING_HIGH || (s->throttled && s->pending > PROXY_PENDING_LOW);
    return s->throttled;
}

static void set_reading(struct side *s, bool want)
{
    if (want == s->reading)
        return;
    if (want && uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read) < 0)
        return;
    if (!want)
        uv_read_stop((uv_stream_t *)&s->tcp);
    s->reading = want;
}

void conn_update_reads(struct conn *c)
{
    bool up_full = over_limit(c->up);
    bool down_full = over_limit(&c->down);
    bool stop = c->closing || c->close_when_drained;

    /* A complete request blocks its parser until the response is relayed (no pipelining
     * upstream), so downstream reads pause too. */
    set_reading(&c->down, !stop && !up_full && !c->req.blocked && !c->req.stopped);
    if (c->up && c->up->connected)
        set_reading(c->up, !stop && !down_full);
}

static void write_done(struct conn *c, struct side *s, int status)
{
    if (status < 0 && !c->closing && !s->detached) {
        if (s == &c->down)
            conn_close(c);
        else
            relay_upstream_failed(c, status);
        return;
    }
    if (c->closing)
        return;
    if (s == &c->down && c->close_when_drained && s->pending == 0) {
        conn_close(c);
        return;
    }
    conn_update_reads(c);
}

static void on_write(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    struct side *s = w->s;
    struct conn *c = s->c;

    s->pending -= w->n;
    free(w->own[0]);
    free(w->own[1]);
    free(w);
    write_done(c, s, status);
}

/* Writes what the socket takes at once when nothing is queued (no copy on the fast path).
 * Returns the bytes written or -errno. */
static ssize_t try_now(struct side *s, uv_buf_t *bufs, unsigned nbufs)
{
    int r;

    if (!s->connected || s->pending > 0)
        return 0;
    r = uv_try_write((uv_stream_t *)&s->tcp, bufs, nbufs);
    if (r == UV_EAGAIN || r == UV_ENOSYS)
        return 0;
    return r;
}

static int submit(struct side *s, struct wreq *w, uv_buf_t *bufs, unsigned nbufs, size_t n)
{
    int rc;

    w->s = s;
    w->n = n;
    rc = uv_write(&w->req, (uv_stream_t *)&s->tcp, bufs, nbufs, on_write);
    if (rc < 0) {
        free(w->own[0]);
        free(w->own[1]);
        free(w);
        return rc;
    }
    s->pending += n;
    return 0;
}

int side_write(struct side *s, const char *p, size_t n)
{
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    ssize_t done;
    struct wreq *w;

    if (n == 0)
        return 0;
    done = try_now(s, &b, 1);
    if (done < 0)
        return (int)done;
    if ((size_t)done == n)
        return 0;
    w = malloc(sizeof(*w) + n - (size_t)done);
    if (!w)
        return -ENOMEM;
    w->own[0] = w->own[1] = NULL;
    memcpy(w->data, p + done, n - (size_t)done);
    b = uv_buf_init(w->data, (unsigned)(n - (size_t)done));
    return submit(s, w, &b, 1, b.len);
}

/* Drops the first `done` bytes from a pair of buffers. */
static unsigned advance(uv_buf_t *bufs, unsigned nbufs, size_t done)
{
    while (nbufs > 0 && done >= bufs[0].len) {
        done -= bufs[0].len;
        bufs[0] = bufs[1];
        nbufs--;
    }
    if (nbufs > 0) {
        bufs[0].base += done;
        bufs[0].len -= done;
    }
    return nbufs;
}

int side_write_take(struct side *s, char *a, size_t alen, char *b, size_t blen)
{
    uv_buf_t bufs[2] = {uv_buf_init(a, (unsigned)alen), uv_buf_init(b, (unsigned)blen)};
    unsigned nbufs = blen ? 2 : 1;
    ssize_t done = try_now(s, bufs, nbufs);
    struct wreq *w;

    if (done >= 0)
        nbufs = advance(bufs, nbufs, (size_t)done);
    if (done < 0 || nbufs == 0) {
        free(a);
        free(b);
        return done < 0 ? (int)done : 0;
    }
    w = malloc(sizeof(*w));
    if (!w) {
        free(a);
        free(b);
        return -ENOMEM;
    }
    w->own[0] = a;
    w->own[1] = b;
    return submit(s, w, bufs, nbufs, bufs[0].len + (nbufs > 1 ? bufs[1].len : 0));
}

static void on_connect(uv_connect_t *req, int status)
{
    struct side *s = req->data;
    struct conn *c = s->c;
    struct proxy *p = c->p;

    if (s->detached || c->closing)
        return;
    if (status < 0) {
        relay_upstream_failed(c, status);
        return;
    }
    s->connected = true;
    uv_tcp_nodelay(&s->tcp, 1);
    if (p->upstream_down) {
        p->upstream_down = false;
        log_info(p->lg, "proxy", "upstream Runtime API reachable again");
    }
    conn_update_reads(c);
}

int conn_up_ensure(struct conn *c)
{
    struct side *s;
    int rc;

    if (c->up)
        return 0;
    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    rc = uv_tcp_init(c->p->loop, &s->tcp);
    if (rc < 0) {
        free(s);
        return rc;
    }
    s->c = c;
    s->tcp.data = s;
    s->creq.data = s;
    c->up = s;
    c->handles++;
    c->p->stats.upstream_conns++;
    rc = uv_tcp_connect(&s->creq, &s->tcp, (const struct sockaddr *)&c->p->up_addr, on_connect);
    if (rc < 0) {
        conn_up_detach(c);
        return rc;
    }
    return 0;
}

int conn_accept(struct proxy *p)
{
    struct conn *c = calloc(1, sizeof(*c));
    int rc;

    if (!c)
        return -ENOMEM;
    c->p = p;
    c->down.c = c;
    c->down.connected = true;
    c->down.tcp.data = &c->down;
    rc = uv_tcp_init(p->loop, &c->down.tcp);
    if (rc < 0) {
        free(c);
        return rc;
    }
    c->down.tcp.data = &c->down;
    relay_init(c);
    c->handles = 1;
    c->next = p->conns;
    if (p->conns)
        p->conns->prev = c;
    p->conns = c;
    p->handles++;
    p->stats.downstream_conns++;
    rc = uv_accept((uv_stream_t *)&p->listener, (uv_stream_t *)&c->down.tcp);
    if (rc < 0) {
        conn_close(c);
        return rc;
    }
    uv_tcp_nodelay(&c->down.tcp, 1);
    conn_update_reads(c);
    return 0;
}
