/* SPDX-License-Identifier: Apache-2.0 */
/* proxy internals: connections, exchanges and the /next body buffer. Private to proxy/. */
#ifndef TB_PROXY_INTERNAL_H
#define TB_PROXY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <uv.h>

#include "extension/base/base.h"
#include "extension/net/net.h"
#include "proxy/proxy.h"

/* ---- nextbuf --------------------------------------------------------------------------- */
/* nextbuf: holds one /next 200 response (head + body), runs the next_event hook on it, and
 * produces the bytes for the runtime: the original bytes when nothing changed, else the original
 * status line and headers (minus framing headers, with set headers replaced or added), a fresh
 * Content-Length and the new body. */
#define NEXTBUF_MAX_SET 16
/* Pieces of a spliced body: each splice cuts one piece and inserts another, plus the tail. */
#define NB_OUT_SEGS (2 * PROXY_MAX_SPLICES + 1)

struct nb_set {
    char *name;
    char *value;
    size_t vlen;
};

/* A splice as nextbuf keeps it: the inserted bytes are in nextbuf.ins. */
struct nb_splice {
    size_t off;
    size_t del;
    size_t ins_off;
    size_t ins_len;
};

struct nb_seg {
    const char *p;
    size_t len;
};

struct nextbuf {
    const struct http1 *resp; /* the response parser holding the head */
    struct buf body;          /* decoded body, at most max_event_bytes */
    struct buf raw;           /* raw chunked body (empty for Content-Length bodies) */
    bool chunked;
    bool preallocated; /* body has room for the whole Content-Length */
    char *new_body;    /* set by the hook (owned) */
    size_t new_len;
    bool body_set;
    struct nb_splice sp[PROXY_MAX_SPLICES]; /* body_set by splices of body when nsp > 0 */
    size_t nsp;
    struct buf ins; /* their inserted bytes */
    struct nb_set set[NEXTBUF_MAX_SET];
    size_t nset;
    size_t keep_bytes; /* buffers larger than this are freed by nextbuf_finish; 0: kept */
};

/* The bytes to write in one go; memory owned by the caller after nextbuf_finish/flush: a then
 * b, or, when nseg > 0, a then the segments, which point into b and c (freed once written). */
struct nb_out {
    char *a;
    size_t alen;
    char *b;
    size_t blen;
    char *c;
    struct nb_seg seg[NB_OUT_SEGS];
    unsigned nseg;
    size_t bcap; /* b's allocated size: b is a /next buffer the writer may recycle (0: not) */
    bool changed;
};

void nextbuf_init(struct nextbuf *nb, size_t max_event);
void nextbuf_free(struct nextbuf *nb);

/* Starts buffering the response whose head `resp` holds. A Content-Length body that fits is
 * given its whole buffer now (one allocation, no growth copies). */
void nextbuf_start(struct nextbuf *nb, const struct http1 *resp);

/* Where the socket may read the next `remaining` body bytes of a Content-Length body directly
 * (no copy through the read buffer): returns the spot right after the bytes buffered so far
 * and sets *len, or NULL when the body is chunked or not preallocated. */
char *nextbuf_read_target(struct nextbuf *nb, size_t remaining, size_t *len);

/* Adds raw / decoded body bytes (bytes already read into the read target are only counted).
 * -E2BIG when the event is too large to buffer (or -ENOMEM). */
int nextbuf_raw(struct nextbuf *nb, const char *p, size_t n);
int nextbuf_body(struct nextbuf *nb, const char *p, size_t n);

/* Takes *spare (a /next buffer an earlier event left, see proxy.spare) as the body buffer when nb
 * has none and it holds more than `need` bytes; *spare is then NULL. */
void nextbuf_adopt(struct nextbuf *nb, char **spare, size_t *spare_cap, size_t need);

/* The original bytes received so far (head + body), for the oversize/failure path. */
int nextbuf_flush(struct nextbuf *nb, struct nb_out *out);

/* Runs hooks->next_event and builds the output. rid receives the request id. 0 or -errno. */
int nextbuf_finish(struct nextbuf *nb, const struct proxy_hooks *hooks, char *rid, size_t ridcap,
                   struct nb_out *out);

/* ---- conn ------------------------------------------------------------------------------ */
/* conn: private to the proxy. One downstream (runtime) connection paired with its own upstream
 * keep-alive connection, opened lazily and re-opened after upstream closes.
 *
 * Ownership: the proxy owns its conns (a list); a conn owns its downstream handle (embedded)
 * and its upstream side (allocated; a failed upstream is detached and freed in its close
 * callback). A conn is freed in the close callback of its last handle. An orphan (orphan.c) is
 * a conn whose downstream is gone while its /next is pending upstream: only the upstream side
 * lives on; a held orphan (its invocation complete, waiting for a runtime /next) keeps one
 * extra reference in `handles` instead of a socket. */
#define PROXY_READ_BUF (256 * 1024)
/* Backpressure: stop reading the other side above HIGH pending bytes, resume below LOW. */
#define PROXY_PENDING_HIGH (1024 * 1024)
#define PROXY_PENDING_LOW  (256 * 1024)
/* Output pieces gathered while one read is processed; more than this flushes early. */
#define SIDE_PIECES 16
/* Corked bytes that do not live in the read buffer are copied here (small heads); larger ones
 * get their own allocation. */
#define SIDE_STAGE_MAX (256 * 1024)
/* A runtime that sends more than this after a complete request (pipelining, which no Lambda
 * client does) is not read from until the exchange ends. Below it, reads stay on, so a
 * request/response cycle never toggles the socket's epoll registration. */
#define PROXY_HOLD_MAX (64 * 1024)
/* The WARNs about orphaned invocations (orphan.c): at most one line per this period each. */
#define PROXY_ORPHAN_LOG_MS 60000

struct conn;

struct proxy {
    uv_loop_t *loop;
    uv_tcp_t listener;
    struct proxy_hooks hooks;
    const struct log *lg;
    struct sockaddr_storage up_addr;
    size_t max_event_bytes;
    size_t keep_buffer_bytes;
    size_t max_header_bytes;
    int port;
    struct proxy_stats stats;
    struct tb_list conns;  /* conn.link */
    unsigned long handles; /* listener + conns not yet freed */
    bool closing;
    bool upstream_down;       /* an upstream failure was logged; log again only after a success */
    struct tb_list held;      /* conn.held_link: held orphans, oldest first (orphan.c) */
    struct ratelimit held_rl; /* the WARN for each invocation handed over */
    struct ratelimit lost_rl; /* the WARN for each invocation an orphan could not keep */
    /* One written /next buffer kept for the next event (at most keep_buffer_bytes, when that is
     * set), so that a steady stream of events does not allocate and fault in a buffer each. */
    char *spare;
    size_t spare_cap;
    size_t spare_max; /* the largest spare kept (0: any), keep_buffer_bytes unless raised */
    char readbuf[PROXY_READ_BUF];
};

enum piece_kind { PIECE_READBUF, PIECE_STAGE, PIECE_OWNED, PIECE_REF, PIECE_RECYCLE };

/* A corked output piece: bytes in the proxy's read buffer (valid until the read callback
 * returns), in the side's stage (by offset: the stage may move), an owned allocation, or bytes
 * inside an owned allocation queued after them (REF: written by reference; an owned piece is
 * freed only once every piece before it was written, so its REF pieces outlive no write), or an
 * owned /next buffer (RECYCLE, off = its capacity) that goes to proxy.spare once written. */
struct piece {
    enum piece_kind kind;
    char *base; /* READBUF, OWNED */
    size_t off; /* STAGE */
    size_t len;
};

/* One side's state (struct side.flags). */
enum {
    SIDE_F_READING = 1u << 0,   /* uv_read_start is on */
    SIDE_F_THROTTLED = 1u << 1, /* the other side stopped reading: this side's pending bytes */
    SIDE_F_CONNECTED = 1u << 2, /* the TCP connection is up */
    SIDE_F_DETACHED = 1u << 3,  /* no longer the conn's upstream; closing */
};

struct side {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_shutdown_t sreq; /* the FIN that ends an orphaned /next */
    struct conn *c;
    size_t pending; /* bytes handed to uv_write and not completed yet */
    unsigned flags; /* SIDE_F_* */
    struct piece out[SIDE_PIECES];
    unsigned nout;
    struct buf stage;
};

enum req_kind { REQ_OTHER, REQ_NEXT, REQ_RESPONSE, REQ_ERROR, REQ_INIT_ERROR, REQ_RESTORE_NEXT };
enum resp_mode { RESP_NONE, RESP_RELAY, RESP_NEXTBUF };

/* How far an exchange (one request and its response) got (struct exchange.flags). */
enum {
    EX_F_ACTIVE = 1u << 0,        /* a request head was seen */
    EX_F_FORWARDED = 1u << 1,     /* bytes of the request went upstream */
    EX_F_REQ_DONE = 1u << 2,      /* the whole request went upstream */
    EX_F_REQ_KEEPALIVE = 1u << 3, /* the request allows the connection to be kept */
    EX_F_RESP_HEAD = 1u << 4,     /* a final response head was seen */
    EX_F_RESP_STARTED = 1u << 5,  /* response bytes were written downstream */
    EX_F_RESP_DONE = 1u << 6,     /* the whole response was relayed */
    EX_F_REPORTED = 1u << 7,      /* the hooks were told how it ended */
    EX_F_HEAD = 1u << 8,          /* HEAD request: the response has no body */
    EX_F_RESP_BYTES = 1u << 9,    /* upstream sent bytes since this request started */
    EX_F_LOCAL = 1u << 10,        /* a /next the proxy answers itself (orphan.c): nothing went up */
    EX_F_PARKED = 1u << 11,       /* local, and waiting for an invocation arriving for an orphan */
    EX_F_STREAMING = 1u << 12,    /* a streamed response (Lambda-Runtime-Function-Response-Mode) */
    EX_F_ERR_B64 = 1u << 13,      /* the error body trailer is base64 */
    EX_F_KEEP_BODY = 1u << 14,    /* the /response body is kept for the report (resp_body) */
    EX_F_BODY_CUT = 1u << 15,     /* ... but it was larger than PROXY_RESPONSE_BODY_MAX */
};

/* The request/response exchange currently relayed on a conn. */
struct exchange {
    unsigned flags; /* EX_F_* */
    enum req_kind kind;
    enum resp_mode mode;
    int status;
    char rid[REQUEST_ID_MAX];
    struct buf err_type;
    struct buf err_body;
    struct buf resp_body; /* EX_F_KEEP_BODY */
};

/* A connection pair's state (struct conn.flags). */
enum {
    CONN_F_CLOSING = 1u << 0,       /* its handles are being closed */
    CONN_F_CLOSE_DRAINED = 1u << 1, /* close once the downstream writes drained */
    CONN_F_CORKED = 1u << 2, /* inside a read callback: writes are gathered, flushed at its end */
    CONN_F_ORPHAN = 1u << 3, /* the downstream side is gone (or never was): see orphan.c */
    CONN_F_HELD = 1u << 4,   /* an orphan whose complete /next response waits in the held list */
};

struct conn {
    struct proxy *p;
    struct tb_list link; /* in proxy.conns */
    struct side down;
    struct side *up;
    unsigned handles;
    struct http1 req;
    struct http1 resp;
    struct nextbuf nb;
    struct exchange ex;
    unsigned flags;           /* CONN_F_* */
    struct tb_list held_link; /* in proxy.held while CONN_F_HELD */
};

/* conn.c: sockets, writes, backpressure, lifecycle. */
int conn_accept(struct proxy *p);
void conn_close(struct conn *c);
int conn_up_ensure(struct conn *c);
void conn_up_detach(struct conn *c);
/* Writes bytes (copied unless they go out at once). Inside a read callback the bytes are only
 * queued and go out with everything else that callback wrote, in one writev: a head and the
 * first body bytes never leave as separate segments. 0 or -errno. */
int side_write(struct side *s, const char *p, size_t n);
/* Writes two malloc'd blocks (queued like side_write) and frees them afterwards (NULL blocks
 * allowed). The blocks are owned by the side from the call on, also on error. */
int side_write_take(struct side *s, char *a, size_t alen, char *b, size_t blen);
/* Writes o (nextbuf's output: head, then its body or its segments) the same way; o's blocks
 * are owned by the side from the call on, also on error. */
int side_write_out(struct side *s, struct nb_out *o);
void conn_update_reads(struct conn *c);
/* Writes what a read callback queued on both sides. */
void conn_flush(struct conn *c);
void conn_close_when_drained(struct conn *c);
/* Closes the downstream side only; the conn lives on as an orphan for its upstream side. */
void conn_orphan(struct conn *c);
/* Moves the upstream side (a /next awaiting its response) into a new orphan conn and sends it
 * the FIN there; c goes on without an upstream. 0, or -errno (the upstream side is then closed
 * instead). */
int conn_split_up(struct conn *c);
/* Sends upstream a FIN (what a closing runtime sends) and keeps reading. 0 or -errno. */
int conn_up_shutdown(struct conn *c);
/* Drops one reference (a handle, or a held invocation); frees the conn at the last one. */
void conn_unref(struct conn *c);
/* Frees the proxy itself (its handles are all closed). */
void proxy_destroy(struct proxy *p);

/* relay.c: the exchange state machine driven by the two parsers. */
void relay_init(struct conn *c);
void relay_free(struct conn *c);
void relay_upstream_failed(struct conn *c, int err);
void relay_upstream_eof(struct conn *c);
void relay_downstream_eof(struct conn *c);
void relay_conn_closing(struct conn *c);
/* Where the upstream socket may read directly (a /next body being buffered), or NULL. */
char *relay_read_target(struct conn *c, size_t *len);
/* Sends the current request's head upstream (its body follows as it is parsed). */
void relay_forward(struct conn *c);
/* Runs the next_event hook on src's complete /next response and writes the result to dst's
 * runtime (src == dst but for a hand-over). 0, or -1 when dst closed. */
int relay_deliver_next(struct conn *dst, struct conn *src);
/* dst's /next exchange was answered by the proxy itself (a held invocation); keepalive: what
 * the answer's head said. */
void relay_answered_locally(struct conn *dst, bool keepalive);

/* orphan.c: /next requests whose runtime left before the answer reached it. */
void orphan_begin(struct conn *c);
void orphan_response_done(struct conn *c);
void orphan_upstream_gone(struct conn *c);
void orphan_oversize(struct conn *c);
/* A runtime /next (on c, head just parsed; bodyless: all of it is in the head): true when the
 * proxy answers it (a held invocation), or parks it until an arriving one is complete. */
bool orphan_serve(struct conn *c, bool bodyless);
void orphan_unhold(struct conn *c);

#endif
