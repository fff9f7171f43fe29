/* SPDX-License-Identifier: Apache-2.0 */
/* net: the I/O plumbing every room shares (no policy): loopback listeners, the http-parser
 * wrapper that keeps raw bytes (proxy and receiver), the libcurl-multi-on-libuv client (Extensions
 * API, exporter) and the CA bundle lookup. Includes only base/. */
#ifndef TB_NET_NET_H
#define TB_NET_NET_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "extension/base/base.h"

/* ---- loopback ----------------------------------------------------------------- */
/* loopback: listening sockets that only the sandbox can reach. The proxy and the OTLP
 * receiver take loopback literals only (127.0.0.0/8 or ::1; no name, so no DNS on the loop)
 * and report the port they got, which tests need when they ask for port 0. */
/* Fills out with the IPv4 or IPv6 literal host and port. 0, -EADDRNOTAVAIL for an address
 * that is not loopback, -EINVAL for anything that is not an address literal. */
int loopback_addr(const char *host, int port, struct sockaddr_storage *out);

/* Binds the initialised listener to addr, listens (backlog 128) with cb, and sets *port to the
 * port it got. 0 or a libuv error. */
int loopback_listen(uv_tcp_t *listener, const struct sockaddr_storage *addr, uv_connection_cb cb,
                    int *port);

/* ---- http1 ----------------------------------------------------------------------------- */
/* http1: a thin wrapper around http-parser 2.9.4 for a relay that forwards raw bytes.
 *
 * The wrapper never rewrites bytes. It buffers the raw head of a message until it is complete
 * (with the offsets of the start-line pieces and of every header, so nothing is copied twice),
 * then hands every further raw byte of the message to ops->raw as it is parsed, together with the
 * decoded body (ops->body) and trailers (ops->trailer). After a complete message the parser
 * blocks: later bytes are held (pipelining) until the owner calls http1_resume. */
/* Headers beyond this count are not indexed (lookups miss them; bytes still pass). */
#define HTTP1_MAX_INDEXED 512
/* Trailer values longer than this are cut for ops->trailer (bytes still pass unchanged). */
#define HTTP1_TRAILER_MAX (128 * 1024)

struct h1_header {
    uint32_t name_off;
    uint32_t name_len;
    uint32_t value_off;
    uint32_t value_len;
};

struct http1_ops {
    /* The head is complete; http1_header etc. work until the next message starts. */
    void (*head)(void *owner);
    /* Raw bytes of the message after its head (the head buffer holds the whole head). */
    void (*raw)(void *owner, const char *p, size_t n);
    /* Decoded body bytes (chunk framing removed). */
    void (*body)(void *owner, const char *p, size_t n);
    /* One complete trailer field; value cut at HTTP1_TRAILER_MAX. */
    void (*trailer)(void *owner, const char *name, size_t nlen, const char *val, size_t vlen);
    /* The message is complete; the parser now blocks until http1_resume. */
    void (*done)(void *owner);
    /* Parse error (http_errno, or HPE_HEADER_OVERFLOW for an oversize head). */
    void (*error)(void *owner, enum http_errno err);
};

/* The parser's state (struct http1.flags). */
enum {
    H1_F_IN_BODY = 1u << 0,    /* head done: header callbacks are now trailers */
    H1_F_IN_VALUE = 1u << 1,   /* the last header callback was a value */
    H1_F_SKIP_BODY = 1u << 2,  /* the owner's answer for a response to HEAD */
    H1_F_BLOCKED = 1u << 3,    /* a message completed; waiting for http1_resume */
    H1_F_IN_FEED = 1u << 4,    /* inside http1_feed */
    H1_F_ABORTED = 1u << 5,    /* reset from inside a callback: drop the rest of the chunk */
    H1_F_DISPATCHED = 1u << 6, /* the last execute call ended in a head/done event */
    H1_F_UNINDEXED = 1u << 7,  /* the header being parsed is past HTTP1_MAX_INDEXED */
    H1_F_STOPPED = 1u << 8,    /* http1_stop: nothing more is parsed */
    H1_F_LF_IN_HEAD = 1u << 9, /* the head's final LF was copied into head; raw skips it */
};

struct http1 {
    http_parser parser;
    const struct http1_ops *ops;
    void *owner;
    struct buf head; /* raw head of the current message */
    struct h1_header hdrs[HTTP1_MAX_INDEXED];
    size_t nhdrs;
    uint32_t url_off;
    uint32_t url_len;
    size_t base; /* head.len when the current execute call started */
    const char *chunk;
    unsigned flags; /* H1_F_* */
    int event;      /* set by parser callbacks, dispatched after execute returns */
    struct buf tname;
    struct buf tval;
    struct buf held; /* bytes that arrived while blocked */
};

/* Sets up a parser of `type` (HTTP_REQUEST or HTTP_RESPONSE) whose head may grow to
 * max_head bytes. Allocates nothing yet. */
void http1_init(struct http1 *h, enum http_parser_type type, size_t max_head,
                const struct http1_ops *ops, void *owner);
void http1_free(struct http1 *h);

/* Parses bytes, calling ops as it goes. After ops->error or http1_stop nothing more happens. */
void http1_feed(struct http1 *h, const char *data, size_t len);

/* Tells the parser the peer closed (completes read-until-EOF bodies). */
void http1_eof(struct http1 *h);

/* Unblocks after ops->done and parses any held bytes. */
void http1_resume(struct http1 *h);

/* Starts over for a new connection (safe inside a callback: the current chunk is dropped). */
void http1_reset(struct http1 *h);

/* Stops all further callbacks (the owner is closing). */
void http1_stop(struct http1 *h);

/* Head lookups, valid from ops->head until the next message starts. */
const char *http1_header(const struct http1 *h, const char *name, size_t *len);
size_t http1_status_line_len(const struct http1 *h);
bool http1_has_held(const struct http1 *h);
size_t http1_held_len(const struct http1 *h);

/* ---- httpc ------------------------------------------------------------------------- */
/* httpc: non-blocking HTTP client on the daemon's libuv loop, built on libcurl's multi socket
 * interface (curl tells us which sockets to watch and when to wake; uv_poll and one uv_timer do
 * the waiting). Used for the Extensions API (including the unbounded /event/next long-poll) and
 * for OTLP export. Nothing here ever blocks the loop:
 *   - loopback URLs (127.0.0.1, ::1, localhost) never go through HTTP(S)_PROXY, and "localhost"
 *     is pinned to 127.0.0.1 so no resolver runs for it;
 *   - other hosts use libcurl's asynchronous resolver;
 *   - HTTPS peers are verified (custom CA file optional). */
struct httpc;
struct httpc_req;

struct httpc_opts {
    const char *method;         /* "GET", "POST" or "PUT" */
    const char *url;            /* copied */
    const char *const *headers; /* "Name: value" strings, copied; NULL-terminated or NULL */
    struct buf *body;           /* POST body; its memory is taken (the buf is reset); or NULL */
    long timeout_ms;            /* whole request; 0 = none (the /event/next long-poll) */
    long connect_timeout_ms;    /* 0 = libcurl default */
    const char *ca_file;        /* PEM CA bundle, or NULL/"" for the system default */
    size_t max_response_bytes;  /* bodies larger than this fail with -E2BIG */
};

/* The outcome handed to the completion callback; valid only during the callback. */
struct httpc_result {
    int err;          /* 0 when an HTTP response arrived, else -errno (-ETIMEDOUT,
                       * -ECONNREFUSED, -EPROTO for TLS, -E2BIG, -EIO...) */
    long status;      /* HTTP status when err == 0 */
    const char *body; /* response body, NUL-terminated ("" when none) */
    size_t body_len;
    const char *error; /* libcurl's message when err != 0 (no secrets: URLs only) */
    bool reused;       /* the request went over a connection kept from an earlier one */
    const struct httpc_req *req;
};

typedef void (*httpc_done_fn)(void *arg, const struct httpc_result *r);

struct httpc *httpc_new(uv_loop_t *loop, const struct log *lg, int *err);

/* Cancels every request (their callbacks are not called), closes the handles; memory is
 * released once the loop has run the close callbacks. */
void httpc_free(struct httpc *h);

/* Starts a request. Returns a handle (valid until the callback returns or httpc_cancel), or NULL
 * with *err = -errno. The callback always runs later from the loop, never from inside this
 * call. */
struct httpc_req *httpc_start(struct httpc *h, const struct httpc_opts *o, httpc_done_fn cb,
                              void *arg, int *err);

/* Aborts a request; its callback is not called. */
void httpc_cancel(struct httpc_req *r);

/* A response header of the finished request (case-insensitive), or NULL; *len set. Only during
 * the completion callback. */
const char *httpc_header(const struct httpc_req *r, const char *name, size_t *len);

/* Requests in flight. */
size_t httpc_active(const struct httpc *h);

/* Host (IPv6 in brackets) and port (scheme default when absent) of a URL, per libcurl's
 * parser. 0 or -EINVAL. */
int httpc_url_host_port(const char *url, char *host, size_t cap, long *port);

/* true when the URL's host is a loopback name or literal. */
bool httpc_url_is_loopback(const char *url);

/* ---- cabundle ---------------------------------------------------------------------- */
/* cabundle: picks the CA certificate file libcurl verifies HTTPS OTLP endpoints with.
 * The static layer binary has no compiled-in CA path (libcurl is built without one, and Amazon
 * Linux keeps its bundle where Debian does not), and libcurl itself never reads SSL_CERT_FILE,
 * so the file is chosen at run time: call cabundle_find() once at startup and pass the result as
 * CURLOPT_CAINFO (httpc_opts.ca_file) for every HTTPS request. */
enum cabundle_source {
    CABUNDLE_NONE,       /* nothing found: HTTPS verification will fail */
    CABUNDLE_CONFIGURED, /* OTEL_EXPORTER_OTLP_[TRACES_]CERTIFICATE */
    CABUNDLE_ENV,        /* $SSL_CERT_FILE */
    CABUNDLE_SYSTEM,     /* the first readable file of CABUNDLE_CANDIDATES */
};

/* Well-known PEM bundle locations, most likely on Lambda first; NULL-terminated. */
extern const char *const CABUNDLE_CANDIDATES[];

/* The CA file to use: `configured` when non-empty (used as given, even if unreadable, so a
 * wrong setting fails loudly instead of silently trusting the system CAs); else `env_file` when
 * non-empty and readable; else the first readable entry of `candidates`; else NULL. The result
 * is one of the arguments or a candidate (nothing to free). `src` may be NULL. */
const char *cabundle_pick(const char *configured, const char *env_file,
                          const char *const *candidates, enum cabundle_source *src);

/* cabundle_pick(configured, getenv("SSL_CERT_FILE"), CABUNDLE_CANDIDATES, src). */
const char *cabundle_find(const char *configured, enum cabundle_source *src);

/* "configured", "SSL_CERT_FILE", "system" or "none", for the one startup log line. */
const char *cabundle_source_name(enum cabundle_source src);

/* ---- tcpprobe ---------------------------------------------------------------------- */
/* tcpprobe: is anything accepting connections at an address? Non-blocking TCP connects on the
 * loop, each bounded by the time left. A refused connect is tried again every TCPPROBE_RETRY_MS
 * until the budget is spent: Lambda starts extensions in parallel, so a Runtime API proxy we
 * chain behind may bind its port a moment after we look. The probe frees itself once its
 * handles are closed. */

#define TCPPROBE_RETRY_MS 50

struct tcpprobe;

/* status: 0 when a connect succeeded, else the libuv error of the last attempt
 * (UV_ECONNREFUSED, UV_ETIMEDOUT when the budget ran out mid-connect...). */
typedef void (*tcpprobe_done_fn)(void *arg, int status);

/* Starts probing; cb runs later from the loop, exactly once (unless cancelled). NULL when out
 * of memory. */
struct tcpprobe *tcpprobe_start(uv_loop_t *loop, const struct sockaddr_storage *addr,
                                uint64_t budget_ms, tcpprobe_done_fn cb, void *arg);

/* Stops a probe that has not reported yet; cb is not called. */
void tcpprobe_cancel(struct tcpprobe *p);

#endif
