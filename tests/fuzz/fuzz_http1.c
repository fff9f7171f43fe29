/* SPDX-License-Identifier: Apache-2.0 */
/* The proxy's HTTP relay (proxy/relay.c, orphan.c, nextbuf.c, http1.c) on arbitrary byte streams,
 * without sockets: the conn layer (proxy/conn.c) is replaced by the stubs below, which record what
 * the relay writes to each side. Both the runtime side (requests) and the upstream side (responses)
 * are fed from the input, in any interleaving, with EOFs and upstream failures in between.
 *
 * Input: one flags byte, then records of [op byte][3-byte little-endian length][bytes].
 *   flags bit 0  a next_event hook that rewrites every /next event (re-framing path; odd-length
 *                bodies are spliced: the writev-of-pieces path)
 *         bit 1  small max event (4 KiB): the oversize pass-through path
 *         bit 2  small max header (2 KiB): the 431 / overflow paths
 *         bit 3  upstream unreachable: every connect fails (502 path)
 *   op bits 0-1  0 runtime sends, 1 upstream sends, 2 upstream EOF, 3 runtime EOF
 *      bit 2     the upstream connection fails (reset) after the record
 *      bit 3     upstream bytes arrive in 7-byte reads instead of one
 * Invariants checked besides memory safety and leaks:
 *   - what goes upstream is always a prefix of what the runtime sent (requests pass verbatim),
 *     and nothing goes upstream after the FIN that ends an orphaned /next;
 *   - without rewrites, failures or warnings, what the runtime receives is a prefix of what
 *     upstream sent (responses, /next included, pass verbatim);
 *   - what the runtime receives always parses as HTTP responses (re-framed events included),
 *     unless a HEAD request made a body-less response legal. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/internal.h"
#include "tests/fuzz/fuzz_common.h"

#define BUF_MAX_FUZZ (64u * 1024 * 1024)

struct fuzz_run {
    struct buf down_in;  /* runtime -> proxy */
    struct buf up_in;    /* upstream -> proxy */
    struct buf down_out; /* proxy -> runtime */
    struct buf up_out;   /* proxy -> upstream */
    bool connect_fails;
    bool up_detached; /* upstream bytes may have been dropped */
    bool had_head;
    bool fin; /* the upstream side got its FIN (an orphaned /next) */
};

/* The stubs have no other way to reach the run than through the conn's proxy. */
struct fuzz_proxy {
    struct proxy p;
    struct fuzz_run *run;
};

static struct fuzz_run *run_of(struct conn *c)
{
    return ((struct fuzz_proxy *)c->p)->run;
}

/* ---- conn.c stand-ins ---- */

int conn_up_ensure(struct conn *c)
{
    struct side *s;

    FUZZ_ASSERT(!(c->flags &
                  CONN_F_CLOSING)); /* a closing conn must not open an upstream (it would leak) */
    if (c->up)
        return 0;
    if (run_of(c)->connect_fails)
        return -ECONNREFUSED;
    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->c = c;
    s->flags |= SIDE_F_CONNECTED;
    c->up = s;
    return 0;
}

void conn_up_detach(struct conn *c)
{
    if (!c->up)
        return;
    run_of(c)->up_detached = true;
    free(c->up); /* freed at once: any later use of the side shows up under ASan */
    c->up = NULL;
}

void conn_close(struct conn *c)
{
    if (c->flags & CONN_F_CLOSING)
        return;
    c->flags |= CONN_F_CLOSING;
    relay_conn_closing(c);
    conn_up_detach(c);
}

void conn_close_when_drained(struct conn *c)
{
    c->flags |= CONN_F_CLOSE_DRAINED;
    conn_close(c); /* nothing is ever pending here */
}

void conn_update_reads(struct conn *c)
{
    (void)c;
}

void conn_orphan(struct conn *c)
{
    FUZZ_ASSERT(!(c->flags & CONN_F_ORPHAN) && !(c->flags & CONN_F_CLOSING));
    c->flags |= CONN_F_ORPHAN;
    c->down.flags |= SIDE_F_DETACHED;
    c->p->stats.orphans++;
    http1_stop(&c->req);
}

int conn_up_shutdown(struct conn *c)
{
    if (!c->up)
        return -ENOTCONN;
    run_of(c)->fin = true;
    return 0;
}

int conn_split_up(struct conn *c)
{
    conn_up_detach(c); /* one conn only: never reached (no other conn waits) */
    return 0;
}

void conn_unref(struct conn *c)
{
    FUZZ_ASSERT(c->handles > 0);
    c->handles--; /* the run frees the conn itself */
}

void conn_flush(struct conn *c)
{
    (void)c;
}

int side_write(struct side *s, const char *p, size_t n)
{
    struct fuzz_run *r = run_of(s->c);

    FUZZ_ASSERT(s == &s->c->down || s == s->c->up);
    FUZZ_ASSERT(s == &s->c->down ? !(s->c->flags & CONN_F_ORPHAN)
                                 : !r->fin); /* a closed side gets nothing */
    return buf_append(s == &s->c->down ? &r->down_out : &r->up_out, p, n);
}

int side_write_take(struct side *s, char *a, size_t alen, char *b, size_t blen)
{
    int rc = side_write(s, a, alen);

    if (rc == 0)
        rc = side_write(s, b, blen);
    free(a);
    free(b);
    return rc;
}

int side_write_out(struct side *s, struct nb_out *o)
{
    int rc = side_write(s, o->a, o->alen);

    for (unsigned i = 0; rc == 0 && i < o->nseg; i++)
        rc = side_write(s, o->seg[i].p, o->seg[i].len);
    if (rc == 0 && o->nseg == 0)
        rc = side_write(s, o->b, o->blen);
    free(o->a);
    free(o->b);
    free(o->c);
    return rc;
}

/* ---- the hook ---- */

static void rewrite_hook(void *arg, struct proxy_next *ev)
{
    struct buf b;
    size_t len = 0;

    (void)arg;
    buf_init(&b, 256);
    (void)proxy_next_header(ev, "Lambda-Runtime-Aws-Request-Id", &len);
    if (buf_appendf(&b, "{\"len\":%zu,\"rid\":%zu}", ev->body_len, len) == 0)
        proxy_next_set_body(ev, &b);
    buf_free(&b);
    if (ev->body_len % 2) {
        /* Odd bodies go out spliced instead: a piece inserted at 1, their last byte cut. */
        struct proxy_splice sp[2] = {{1, 0, "<ins>", 5}, {ev->body_len - 1, 1, NULL, 0}};

        FUZZ_ASSERT(proxy_next_splice_body(ev, sp, ev->body_len > 1 ? 2 : 1) == 0);
        sp[0].off = ev->body_len + 1;
        FUZZ_ASSERT(proxy_next_splice_body(ev, sp, 1) == -EINVAL);
    }
    (void)proxy_next_set_header(ev, "x-tracebridge-test", "1", 1);
    FUZZ_ASSERT(proxy_next_set_header(ev, "Content-Length", "1", 1) == -EINVAL);
    FUZZ_ASSERT(proxy_next_set_header(ev, "x-bad", "a\r\nb", 4) == -EINVAL);
}

/* ---- driving ---- */

/* Upstream bytes reach the parser like on_read hands them over: into the /next event buffer
 * when the relay offers one (the direct-read path), else from the shared read buffer. */
static void feed_up(struct conn *c, const char *d, size_t n, size_t step)
{
    while (n > 0 && c->up && !(c->flags & CONN_F_CLOSING)) {
        size_t room = 0;
        char *target = relay_read_target(c, &room);
        size_t k = n < step ? n : step;
        char *src = c->p->readbuf;

        if (target) {
            k = k < room ? k : room;
            src = target;
        } else if (k > sizeof(c->p->readbuf)) {
            k = sizeof(c->p->readbuf);
        }
        memcpy(src, d, k);
        http1_feed(&c->resp, src, k);
        d += k;
        n -= k;
    }
}

static void feed_down(struct conn *c, struct fuzz_run *r, const char *d, size_t n)
{
    while (n > 0 && !(c->flags & CONN_F_CLOSING)) {
        size_t k = n < sizeof(c->p->readbuf) ? n : sizeof(c->p->readbuf);

        memcpy(c->p->readbuf, d, k);
        http1_feed(&c->req, c->p->readbuf, k);
        r->had_head |= (c->ex.flags & EX_F_HEAD);
        d += k;
        n -= k;
    }
}

static void apply(struct conn *c, struct fuzz_run *r, unsigned op, const char *d, size_t n)
{
    switch (op & 3) {
    case 0:
        (void)buf_append(&r->down_in, d, n);
        feed_down(c, r, d, n);
        break;
    case 1:
        if (c->up) { /* a closed upstream sends nothing */
            (void)buf_append(&r->up_in, d, n);
            feed_up(c, d, n, op & 8 ? 7 : n);
        }
        break;
    case 2:
        if (c->up)
            relay_upstream_eof(c);
        break;
    default:
        relay_downstream_eof(c);
        break;
    }
    if ((op & 4) && c->up && !(c->flags & CONN_F_CLOSING))
        relay_upstream_failed(c, UV_ECONNRESET);
}

static bool is_prefix(const struct buf *a, const struct buf *of)
{
    return a->len <= of->len && (a->len == 0 || memcmp(a->data, of->data, a->len) == 0);
}

static int noop_cb(http_parser *p)
{
    (void)p;
    return 0;
}

/* The runtime's view must be well-formed HTTP (maybe cut short). FUZZ_DEBUG=1 shows where it
 * is not. */
static void check_parses(const struct buf *out)
{
    http_parser_settings st = {.on_message_complete = noop_cb};
    http_parser hp;
    size_t k;

    if (out->len == 0)
        return;
    http_parser_init(&hp, HTTP_RESPONSE);
    k = http_parser_execute(&hp, &st, out->data, out->len);
    if (HTTP_PARSER_ERRNO(&hp) != HPE_OK && getenv("FUZZ_DEBUG"))
        fprintf(stderr, "runtime view breaks at %zu of %zu (%s):\n%.*s\n", k, out->len,
                http_errno_name(HTTP_PARSER_ERRNO(&hp)), (int)(out->len < 4096 ? out->len : 4096),
                out->data);
    FUZZ_ASSERT(HTTP_PARSER_ERRNO(&hp) == HPE_OK);
}

static void check(const struct fuzz_run *r, bool rewrite, bool warned)
{
    FUZZ_ASSERT(is_prefix(&r->up_out, &r->down_in));
    if (!rewrite && !warned && !r->up_detached)
        FUZZ_ASSERT(is_prefix(&r->down_out, &r->up_in));
    if (!r->had_head)
        check_parses(&r->down_out);
}

static struct conn *conn_make(struct fuzz_proxy *fp, unsigned flags, const struct log *lg)
{
    struct proxy *p = &fp->p;
    struct conn *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    p->lg = lg;
    p->loop = uv_default_loop(); /* orphan.c reads its clock for rate-limited warnings */
    p->max_event_bytes = flags & 2 ? 4096 : 7 * 1024 * 1024;
    p->max_header_bytes = flags & 4 ? 2048 : 1024 * 1024 + 64 * 1024;
    if (flags & 1)
        p->hooks.next_event = rewrite_hook;
    http_parser_set_max_header_size((uint32_t)p->max_header_bytes);
    c->p = p;
    c->down.c = c;
    c->down.flags |= SIDE_F_CONNECTED;
    relay_init(c);
    tb_list_init(&p->conns);
    tb_list_init(&p->held);                   /* as proxy_new does: an empty held list */
    tb_list_insert_head(&p->conns, &c->link); /* orphan.c looks through the proxy's conns */
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_proxy *fp;
    struct fuzz_run r = {0};
    struct conn *c;
    struct log lg;
    char *logbuf = NULL;
    size_t loglen = 0;
    unsigned flags;

    if (size < 1)
        return 0;
    flags = data[0];
    data++;
    size--;
    fp = calloc(1, sizeof(*fp));
    FUZZ_ASSERT(fp);
    log_init(&lg, LOG_WARN);
    lg.out = open_memstream(&logbuf, &loglen);
    FUZZ_ASSERT(lg.out);
    fp->run = &r;
    r.connect_fails = flags & 8;
    buf_init(&r.down_in, BUF_MAX_FUZZ);
    buf_init(&r.up_in, BUF_MAX_FUZZ);
    buf_init(&r.down_out, BUF_MAX_FUZZ);
    buf_init(&r.up_out, BUF_MAX_FUZZ);
    c = conn_make(fp, flags, &lg);
    FUZZ_ASSERT(c);
    while (size >= 4 && !(c->flags & CONN_F_CLOSING)) {
        unsigned op = data[0];
        size_t n = (size_t)data[1] | (size_t)data[2] << 8 | (size_t)data[3] << 16;

        data += 4;
        size -= 4;
        n = n < size ? n : size;
        apply(c, &r, op, (const char *)data, n);
        data += n;
        size -= n;
    }
    conn_close(c);
    fflush(lg.out);
    check(&r, flags & 1, loglen > 0);
    fclose(lg.out);
    free(logbuf);
    relay_free(c);
    free(c);
    free(fp);
    buf_free(&r.down_in);
    buf_free(&r.up_in);
    buf_free(&r.down_out);
    buf_free(&r.up_out);
    return 0;
}
