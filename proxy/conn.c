/* SPDX-License-Identifier: Apache-2.0 */
#include "proxy/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct wreq {
    uv_write_t req;
    struct side *s;
    size_t n;
    char *own[SIDE_PIECES];
    size_t own_cap[SIDE_PIECES]; /* > 0: a /next buffer to recycle rather than free */
    unsigned nown;
    char data[];
};

static void drop_pieces(struct side *s);
static int side_flush(struct side *s);

void proxy_destroy(struct proxy *p)
{
    free(p->spare);
    free(p);
}

static void proxy_maybe_free(struct proxy *p)
{
    if (p->closing && p->handles == 0)
        proxy_destroy(p);
}

/* A written /next buffer: kept as the proxy's spare (the larger of the two, within
 * spare_max), else freed. */
static void recycle(struct proxy *p, char *block, size_t cap)
{
    if ((p->spare_max && cap > p->spare_max) || cap <= p->spare_cap) {
        free(block);
        return;
    }
    free(p->spare);
    p->spare = block;
    p->spare_cap = cap;
}

static void release_piece(struct side *s, struct piece *pc)
{
    if (pc->kind == PIECE_RECYCLE)
        recycle(s->c->p, pc->base, pc->off);
    else if (pc->kind == PIECE_OWNED)
        free(pc->base);
    pc->base = NULL;
}

static void conn_free(struct conn *c)
{
    struct proxy *p = c->p;

    relay_free(c);
    drop_pieces(&c->down);
    buf_free(&c->down.stage);
    tb_list_remove(&c->link);
    if (c->flags & CONN_F_ORPHAN)
        p->stats.orphans--;
    free(c);
    p->handles--;
    proxy_maybe_free(p);
}

void conn_unref(struct conn *c)
{
    if (--c->handles == 0)
        conn_free(c);
}

static void on_down_closed(uv_handle_t *h)
{
    struct conn *c = ((struct side *)h->data)->c;

    c->p->stats.downstream_conns--;
    conn_unref(c);
}

static void on_up_closed(uv_handle_t *h)
{
    struct side *s = h->data;
    struct conn *c = s->c;

    drop_pieces(s);
    buf_free(&s->stage);
    free(s);
    c->p->stats.upstream_conns--;
    conn_unref(c);
}

void conn_up_detach(struct conn *c)
{
    struct side *s = c->up;

    if (!s)
        return;
    c->up = NULL;
    s->flags |= SIDE_F_DETACHED;
    drop_pieces(s); /* nothing more goes to a dead upstream */
    uv_close((uv_handle_t *)&s->tcp, on_up_closed);
}

void conn_close(struct conn *c)
{
    if (c->flags & CONN_F_CLOSING)
        return;
    c->flags |= CONN_F_CLOSING;
    relay_conn_closing(c);
    conn_up_detach(c);
    if (!(c->flags & CONN_F_ORPHAN))
        uv_close((uv_handle_t *)&c->down.tcp, on_down_closed);
    if (c->flags & CONN_F_HELD)
        orphan_unhold(c); /* drops the held reference: c may be gone now */
}

void conn_orphan(struct conn *c)
{
    c->flags |= CONN_F_ORPHAN;
    c->down.flags |= SIDE_F_DETACHED; /* its cancelled writes must not close the conn */
    c->down.flags &= ~SIDE_F_READING;
    drop_pieces(&c->down);
    c->p->stats.orphans++;
    http1_stop(&c->req);
    uv_close((uv_handle_t *)&c->down.tcp, on_down_closed);
    conn_update_reads(c);
}

static void on_up_shutdown(uv_shutdown_t *req, int status)
{
    /* Nothing to do: a failed FIN shows up as a read error or EOF on the same socket. */
    (void)req;
    (void)status;
}

int conn_up_shutdown(struct conn *c)
{
    struct side *s = c->up;

    if (!s || !(s->flags & SIDE_F_CONNECTED))
        return -ENOTCONN; /* the request never reached upstream whole: closing is enough */
    s->sreq.data = s;
    return uv_shutdown(&s->sreq, (uv_stream_t *)&s->tcp, on_up_shutdown);
}

void conn_close_when_drained(struct conn *c)
{
    c->flags |= CONN_F_CLOSE_DRAINED;
    if (!(c->flags & CONN_F_CLOSING) &&
        side_flush(&c->down) < 0) { /* the last bytes may still be corked */
        conn_close(c);
        return;
    }
    if (c->down.pending == 0)
        conn_close(c);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    struct side *s = h->data;
    char *direct;
    size_t len;

    (void)hint;
    if (s == s->c->up && (direct = relay_read_target(s->c, &len)) != NULL) {
        b->base = direct;
        b->len = len;
        return;
    }
    /* Every read is fully consumed (copied where kept) before the next one, so one buffer per
     * proxy serves all connections. */
    b->base = s->c->p->readbuf;
    b->len = sizeof(s->c->p->readbuf);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    struct side *s = st->data;
    struct conn *c = s->c;

    if (nread == 0 || (s->flags & SIDE_F_DETACHED) || (c->flags & CONN_F_CLOSING))
        return;
    if (nread > 0) {
        c->flags |= CONN_F_CORKED;
        if (s == &c->down) {
            http1_feed(&c->req, b->base, (size_t)nread);
        } else {
            c->ex.flags |= EX_F_RESP_BYTES;
            http1_feed(&c->resp, b->base, (size_t)nread);
        }
        c->flags &= ~CONN_F_CORKED;
        conn_flush(c);
    } else if (s == &c->down) {
        relay_downstream_eof(c);
    } else if (nread == UV_EOF) {
        relay_upstream_eof(c);
    } else {
        relay_upstream_failed(c, (int)nread);
    }
    if (!(c->flags & CONN_F_CLOSING))
        conn_update_reads(c);
}

/* Hysteresis keeps a busy relay from toggling reads on every write. */
static bool over_limit(struct side *s)
{
    if (!s)
        return false;
    flags_put(&s->flags, SIDE_F_THROTTLED,
              s->pending > PROXY_PENDING_HIGH ||
                  ((s->flags & SIDE_F_THROTTLED) && s->pending > PROXY_PENDING_LOW));
    return (s->flags & SIDE_F_THROTTLED) != 0;
}

static void set_reading(struct side *s, bool want)
{
    if (want == !!(s->flags & SIDE_F_READING))
        return;
    if (want && uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read) < 0)
        return;
    if (!want)
        uv_read_stop((uv_stream_t *)&s->tcp);
    flags_put(&s->flags, SIDE_F_READING, want);
}

void conn_update_reads(struct conn *c)
{
    bool up_full = over_limit(c->up);
    bool down_full = !(c->flags & CONN_F_ORPHAN) && over_limit(&c->down);
    bool stop = c->flags & (CONN_F_CLOSING | CONN_F_CLOSE_DRAINED);

    /* A complete request blocks its parser until the response is relayed (no pipelining
     * upstream); bytes sent meanwhile are held, and reads pause only if they pile up. */
    bool hold_full = (c->req.flags & H1_F_BLOCKED) && http1_held_len(&c->req) > PROXY_HOLD_MAX;

    if (!(c->flags & CONN_F_ORPHAN))
        set_reading(&c->down, !stop && !up_full && !hold_full && !(c->req.flags & H1_F_STOPPED));
    if (c->up && (c->up->flags & SIDE_F_CONNECTED))
        set_reading(c->up, !stop && !down_full);
}

static void write_done(struct conn *c, struct side *s, int status)
{
    if (status < 0 && !(c->flags & CONN_F_CLOSING) && !(s->flags & SIDE_F_DETACHED)) {
        if (s == &c->down)
            conn_close(c);
        else
            relay_upstream_failed(c, status);
        return;
    }
    if (c->flags & CONN_F_CLOSING)
        return;
    if (s == &c->down && (c->flags & CONN_F_CLOSE_DRAINED) && s->pending == 0) {
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
    unsigned i;

    s->pending -= w->n;
    for (i = 0; i < w->nown; i++) {
        if (w->own_cap[i])
            recycle(c->p, w->own[i], w->own_cap[i]);
        else
            free(w->own[i]);
    }
    free(w);
    write_done(c, s, status);
}

/* Writes what the socket takes at once when nothing is queued (no copy on the fast path).
 * Returns the bytes written or -errno. */
static ssize_t try_now(struct side *s, uv_buf_t *bufs, unsigned nbufs)
{
    int r;

    if (!(s->flags & SIDE_F_CONNECTED) || s->pending > 0)
        return 0;
    r = uv_try_write((uv_stream_t *)&s->tcp, bufs, nbufs);
    if (r == UV_EAGAIN || r == UV_ENOSYS)
        return 0;
    return r;
}

static void drop_pieces(struct side *s)
{
    unsigned i;

    for (i = 0; i < s->nout; i++)
        if (s->out[i].kind == PIECE_OWNED || s->out[i].kind == PIECE_RECYCLE)
            free(s->out[i].base);
    s->nout = 0;
    buf_reset(&s->stage);
}

static char *piece_data(const struct side *s, const struct piece *pc)
{
    return pc->kind == PIECE_STAGE ? s->stage.data + pc->off : pc->base;
}

/* Hands what the socket did not take to uv_write: bytes in the read buffer or the stage are
 * copied into the request (they do not outlive this call), owned blocks are passed along. */
static int submit_rest(struct side *s, unsigned first, size_t skip)
{
    uv_buf_t bufs[SIDE_PIECES];
    size_t copy = 0;
    size_t total = 0;
    unsigned nb = 0;
    unsigned i;
    struct wreq *w;
    char *cur;
    int rc;

    for (i = first; i < s->nout; i++)
        if (s->out[i].kind == PIECE_READBUF || s->out[i].kind == PIECE_STAGE)
            copy += s->out[i].len - (i == first ? skip : 0);
    w = malloc(sizeof(*w) + copy);
    if (!w)
        return -ENOMEM;
    w->nown = 0;
    cur = w->data;
    for (i = first; i < s->nout; i++) {
        struct piece *pc = &s->out[i];
        size_t off = i == first ? skip : 0;
        char *src = piece_data(s, pc) + off;
        size_t len = pc->len - off;

        total += len;
        if (pc->kind != PIECE_READBUF && pc->kind != PIECE_STAGE) {
            if (pc->kind != PIECE_REF) {
                w->own_cap[w->nown] = pc->kind == PIECE_RECYCLE ? pc->off : 0;
                w->own[w->nown++] = pc->base;
            }
            pc->base = NULL; /* now owned by w */
            if (len > 0)
                bufs[nb++] = uv_buf_init(src, (unsigned)len);
            continue;
        }
        memcpy(cur, src, len);
        if (nb > 0 && bufs[nb - 1].base + bufs[nb - 1].len == cur)
            bufs[nb - 1].len += len; /* adjacent copies make one buffer */
        else
            bufs[nb++] = uv_buf_init(cur, (unsigned)len);
        cur += len;
    }
    w->s = s;
    w->n = total;
    rc = uv_write(&w->req, (uv_stream_t *)&s->tcp, bufs, nb, on_write);
    if (rc < 0) {
        for (i = 0; i < w->nown; i++)
            free(w->own[i]);
        free(w);
        return rc;
    }
    s->pending += total;
    return 0;
}

/* Writes every queued piece: as much as the socket takes in one writev, the rest queued in
 * libuv. 0 or -errno (the pieces are gone either way). */
static int side_flush(struct side *s)
{
    uv_buf_t bufs[SIDE_PIECES];
    unsigned i;
    ssize_t done;
    int rc = 0;

    if (s->nout == 0)
        return 0;
    for (i = 0; i < s->nout; i++)
        bufs[i] = uv_buf_init(piece_data(s, &s->out[i]), (unsigned)s->out[i].len);
    done = try_now(s, bufs, s->nout);
    if (done < 0) {
        drop_pieces(s);
        return (int)done;
    }
    for (i = 0; i < s->nout && (size_t)done >= s->out[i].len; i++) {
        done -= (ssize_t)s->out[i].len;
        release_piece(s, &s->out[i]);
    }
    if (i < s->nout)
        rc = submit_rest(s, i, (size_t)done);
    drop_pieces(s); /* frees only blocks not handed to a write request */
    return rc;
}

void conn_flush(struct conn *c)
{
    int rc;

    if (c->flags & CONN_F_CLOSING)
        return;
    if (c->up && (rc = side_flush(c->up)) < 0) {
        relay_upstream_failed(c, rc);
        if (c->flags & CONN_F_CLOSING)
            return;
    }
    if (side_flush(&c->down) < 0)
        conn_close(c);
}

static bool in_readbuf(const struct side *s, const char *p)
{
    const char *rb = s->c->p->readbuf;

    return p >= rb && p < rb + sizeof(s->c->p->readbuf);
}

static int queue_piece(struct side *s, enum piece_kind kind, char *p, size_t n)
{
    struct piece *pc;

    if (s->nout == SIDE_PIECES) {
        int rc = side_flush(s);

        if (rc < 0) {
            if (kind == PIECE_OWNED || kind == PIECE_RECYCLE)
                free(p);
            return rc;
        }
    }
    pc = &s->out[s->nout++];
    pc->kind = kind;
    pc->len = n;
    pc->base = kind == PIECE_STAGE ? NULL : p;
    pc->off = 0;
    if (kind == PIECE_STAGE) {
        pc->off = s->stage.len;
        if (buf_append(&s->stage, p, n) < 0) {
            s->nout--;
            return -ENOMEM;
        }
    }
    return 0;
}

/* Queues bytes that will not outlive the current callback: read-buffer bytes by reference,
 * small others in the stage, large others in their own copy. */
static int queue_bytes(struct side *s, const char *p, size_t n)
{
    char *copy;

    if (in_readbuf(s, p))
        return queue_piece(s, PIECE_READBUF, (char *)p, n);
    if (n <= SIDE_STAGE_MAX - s->stage.len && queue_piece(s, PIECE_STAGE, (char *)p, n) == 0)
        return 0;
    copy = malloc(n);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, p, n);
    return queue_piece(s, PIECE_OWNED, copy, n);
}

int side_write(struct side *s, const char *p, size_t n)
{
    int rc;

    if (n == 0)
        return 0;
    rc = queue_bytes(s, p, n);
    if (rc < 0 || (s->c->flags & CONN_F_CORKED))
        return rc;
    return side_flush(s);
}

int side_write_take(struct side *s, char *a, size_t alen, char *b, size_t blen)
{
    int rc = 0;

    if (alen > 0)
        rc = queue_piece(s, PIECE_OWNED, a, alen);
    else
        free(a);
    if (blen > 0 && rc == 0)
        rc = queue_piece(s, PIECE_OWNED, b, blen);
    else
        free(b);
    if (rc < 0 || (s->c->flags & CONN_F_CORKED))
        return rc;
    return side_flush(s);
}

/* The segments go by reference; the blocks they point into are queued after them as empty
 * owned pieces, so they are freed only once every segment was written. */
/* Queues a /next buffer that is recycled once written (see recycle). */
static int queue_recycle(struct side *s, char *p, size_t n, size_t cap)
{
    int rc = queue_piece(s, PIECE_RECYCLE, p, n);

    if (rc == 0)
        s->out[s->nout - 1].off = cap;
    return rc;
}

int side_write_out(struct side *s, struct nb_out *o)
{
    int rc = 0;
    unsigned i;

    if (o->nseg == 0 && (o->bcap == 0 || !o->b))
        return side_write_take(s, o->a, o->alen, o->b, o->blen); /* no c without segments */
    if (o->alen > 0)
        rc = queue_piece(s, PIECE_OWNED, o->a, o->alen);
    else
        free(o->a);
    for (i = 0; i < o->nseg && rc == 0; i++)
        rc = queue_piece(s, PIECE_REF, (char *)o->seg[i].p, o->seg[i].len);
    if (rc == 0)
        rc = queue_recycle(s, o->b, o->nseg ? 0 : o->blen, o->bcap);
    else
        free(o->b);
    if (rc == 0)
        rc = queue_piece(s, PIECE_OWNED, o->c, 0);
    else
        free(o->c);
    if (rc < 0 || (s->c->flags & CONN_F_CORKED))
        return rc;
    return side_flush(s);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct side *s = req->data;
    struct conn *c = s->c;
    struct proxy *p = c->p;

    if ((s->flags & SIDE_F_DETACHED) || (c->flags & CONN_F_CLOSING))
        return;
    if (status < 0) {
        relay_upstream_failed(c, status);
        return;
    }
    s->flags |= SIDE_F_CONNECTED;
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
    buf_init(&s->stage, SIDE_STAGE_MAX);
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

/* A conn in the proxy's list with no handle yet (handles == 0). */
static struct conn *conn_alloc(struct proxy *p)
{
    struct conn *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->p = p;
    c->down.c = c;
    buf_init(&c->down.stage, SIDE_STAGE_MAX);
    relay_init(c);
    tb_list_init(&c->held_link);
    tb_list_insert_head(&p->conns, &c->link);
    p->handles++;
    return c;
}

int conn_split_up(struct conn *c)
{
    struct side *s = c->up;
    struct conn *z;

    if (!s)
        return 0;
    if (!(s->flags & SIDE_F_CONNECTED)) { /* nothing reached upstream: closing is all it takes */
        conn_up_detach(c);
        return 0;
    }
    z = conn_alloc(c->p);
    if (!z) {
        conn_up_detach(c);
        return -ENOMEM;
    }
    c->up = NULL;
    c->handles--;
    s->c = z;
    z->up = s;
    z->handles = 1;
    z->flags |= CONN_F_ORPHAN;
    z->down.flags |= SIDE_F_DETACHED; /* it never had a downstream handle */
    z->ex.flags |= EX_F_ACTIVE | EX_F_FORWARDED | EX_F_REQ_DONE;
    z->ex.kind = REQ_NEXT;
    c->p->stats.orphans++;
    if (conn_up_shutdown(z) < 0) {
        conn_close(z);
        return 0;
    }
    conn_update_reads(z);
    return 0;
}

int conn_accept(struct proxy *p)
{
    struct conn *c = conn_alloc(p);
    int rc;

    if (!c)
        return -ENOMEM;
    c->down.flags |= SIDE_F_CONNECTED;
    rc = uv_tcp_init(p->loop, &c->down.tcp);
    if (rc < 0) {
        conn_free(c);
        return rc;
    }
    c->down.tcp.data = &c->down;
    c->handles = 1;
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
