/* httpc: non-blocking HTTP client on the daemon's libuv loop, built on libcurl's multi socket
 * interface (curl tells us which sockets to watch and when to wake; uv_poll and one uv_timer do
 * the waiting). Used for the Extensions API (including the unbounded /event/next long-poll) and
 * for OTLP export. Nothing here ever blocks the loop:
 *   - loopback URLs (127.0.0.1, ::1, localhost) never go through HTTP(S)_PROXY, and "localhost"
 *     is pinned to 127.0.0.1 so no resolver runs for it;
 *   - other hosts use libcurl's asynchronous resolver;
 *   - HTTPS peers are verified (custom CA file optional). */
#ifndef TB_HTTPC_H
#define TB_HTTPC_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "extension/base/buf.h"
#include "extension/base/log.h"

struct httpc;
struct httpc_req;

struct httpc_opts {
    const char *method;         /* "GET" or "POST" */
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

#endif
