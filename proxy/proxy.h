/* SPDX-License-Identifier: Apache-2.0 */
/* proxy: the transparent HTTP/1.1 relay between the runtime and the real Runtime API.
 *
 * Each runtime (downstream) connection is paired with its own upstream connection, so
 * keep-alive, concurrency and "exactly one upstream /next per runtime /next" follow from the
 * pairing. Bytes are relayed as they arrive (framing, chunk sizes and trailers untouched),
 * except a 200 response to GET /2018-06-01/runtime/invocation/next, which is buffered (up to
 * conf.max_event_bytes), handed to hooks.next_event, and re-framed with a fresh Content-Length
 * when the hook changed it. A runtime connection that closes while its /next waits upstream
 * closes the upstream side too, so Lambda never delivers an invocation to it; one that was
 * already arriving is kept and handed to the next runtime /next (orphan.c). All work runs on
 * the caller's libuv loop; nothing blocks. */
#ifndef TB_PROXY_PROXY_H
#define TB_PROXY_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "extension/base/base.h"

struct proxy;

/* A complete /next 200 response, as the hook sees it. Pointers are valid only during the
 * hook call. */
struct proxy_next {
    const char *request_id; /* Lambda-Runtime-Aws-Request-Id, NUL-terminated, "" if absent */
    const char *body;
    size_t body_len;
    void *priv; /* proxy-internal; used by proxy_next_header/proxy_next_set_* */
};

/* Looks up a response header (case-insensitive). Returns a pointer to its value (not
 * NUL-terminated) and sets *len, or NULL. */
const char *proxy_next_header(const struct proxy_next *ev, const char *name, size_t *len);

/* Replaces the body handed to the runtime. The proxy takes the buf's memory (the caller's buf is
 * reset). The response is re-framed with Content-Length and without Transfer-Encoding. */
void proxy_next_set_body(struct proxy_next *ev, struct buf *body);

/* A change of the body that leaves the rest of it where it is: `del` bytes at `off` replaced by
 * `ins_len` bytes at `ins`. */
#define PROXY_MAX_SPLICES 8
struct proxy_splice {
    size_t off;
    size_t del;
    const char *ins;
    size_t ins_len;
};

/* Replaces the body handed to the runtime by the original body with n splices applied (sorted
 * by off, not overlapping, within the body; n <= PROXY_MAX_SPLICES). The runtime gets the
 * original buffer's bytes and the inserted ones in one writev, without a copy of the event;
 * the inserted bytes are copied here. 0, or -EINVAL / -ENOMEM (the body then stays as it was).
 * Re-framed like proxy_next_set_body; a later call of either replaces this one. */
int proxy_next_splice_body(struct proxy_next *ev, const struct proxy_splice *sp, size_t n);

/* Sets (adds or replaces) a response header. The value must already be validated: it is
 * written as is. The proxy copies name and value. 0 or -errno (the response then goes out
 * unchanged). */
int proxy_next_set_header(struct proxy_next *ev, const char *name, const char *value, size_t len);

/* What the runtime reported for an invocation. Strings are copies bounded by the proxy
 * (error bodies to PROXY_ERROR_BODY_MAX); valid only during the hook call. */
#define PROXY_ERROR_BODY_MAX    (64 * 1024)
#define PROXY_RESPONSE_BODY_MAX (1024 * 1024)
struct proxy_report {
    const char *request_id; /* "" for /runtime/init/error */
    int upstream_status;    /* status upstream answered, 0 if none (connection failed) */
    bool streaming;         /* Lambda-Runtime-Function-Response-Mode: streaming */
    const char *error_type; /* Lambda-Runtime-Function-Error-Type header or trailer, or NULL */
    const char *error_body; /* /error body, or decoded Error-Body trailer, or NULL */
    size_t error_body_len;
    bool error_body_base64; /* error_body came from the Error-Body trailer (base64) */
    /* The /response body, when hooks.wants_response_body asked for it and it fitted
     * PROXY_RESPONSE_BODY_MAX whole (never a cut one), else NULL. */
    const char *response_body;
    size_t response_body_len;
};

struct proxy_hooks {
    void *arg;
    /* The /next event is about to go to the runtime; may change body and headers. */
    void (*next_event)(void *arg, struct proxy_next *ev);
    /* The /next event was written to the runtime (the invocation starts now). */
    void (*next_delivered)(void *arg, const char *request_id);
    /* A buffered /response for request_id starts: whether its body should be kept for the
     * report (a batch's partial failures); NULL: never. */
    bool (*wants_response_body)(void *arg, const char *request_id);
    /* The whole /response request (buffered or streamed) reached upstream, with trailers. */
    void (*invocation_response)(void *arg, const struct proxy_report *r);
    /* The whole /error request reached upstream. */
    void (*invocation_error)(void *arg, const struct proxy_report *r);
    /* POST /runtime/init/error reached upstream. */
    void (*init_error)(void *arg, const struct proxy_report *r);
    /* GET /runtime/restore/next was answered (SnapStart: a 200 means this sandbox was just
     * restored from its snapshot), or failed (upstream_status 0). */
    void (*restored)(void *arg, const struct proxy_report *r);
};

struct proxy_conf {
    const char *listen_host; /* "127.0.0.1" */
    int listen_port;         /* 0 picks a free port (tests) */
    const char *upstream;    /* "host:port" of the real Runtime API */
    size_t max_event_bytes;  /* larger /next bodies are relayed unchanged */
    size_t max_header_bytes; /* request/response head limit (>= 1 MiB + slack) */
    /* A /next buffer larger than this is freed once its event went out, so that a large event
     * does not hold its memory for the connection's life; 0 keeps every buffer for reuse. */
    size_t keep_buffer_bytes;
};

/* Binds and listens. Returns a proxy or NULL with *err = -errno. Hooks may be NULL members.
 * listen_host must be a loopback literal (else -EADDRNOTAVAIL); upstream must be an IP literal
 * or "localhost" (no DNS on the loop). After a bind failure, run the loop once so the closed
 * listener is freed. */
struct proxy *proxy_new(uv_loop_t *loop, const struct proxy_conf *conf,
                        const struct proxy_hooks *hooks, const struct log *lg, int *err);

/* The port actually bound. */
int proxy_port(const struct proxy *p);

/* The largest written /next buffer kept for the next event, which then neither allocates nor
 * faults its pages in: keep_buffer_bytes at first; the daemon raises it while large events
 * come one after another and sets it back with 0 (a larger buffer kept then is freed). */
void proxy_set_spare_max(struct proxy *p, size_t max);

/* Stops listening, closes every connection, and frees the proxy once all handles are closed
 * (run the loop afterwards). */
void proxy_free(struct proxy *p);

/* Counters for tests and logs. */
struct proxy_stats {
    unsigned long downstream_conns; /* currently open */
    unsigned long upstream_conns;
    unsigned long next_requests;
    unsigned long rewrites;
    unsigned long passthrough_oversize;
    unsigned long upstream_failures;
    /* Upstream /next ended because no runtime waits for it any more: its runtime connection
     * closed first, or its runtime got a held invocation instead. */
    unsigned long orphaned_next;
    unsigned long orphans;     /* orphaned upstream /next still open or held now */
    unsigned long handed_over; /* invocations that arrived for an orphan, given to another /next */
    unsigned long orphan_lost; /* such invocations that could not be kept (see orphan.c) */
};
void proxy_get_stats(const struct proxy *p, struct proxy_stats *out);

#endif
