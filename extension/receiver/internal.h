/* SPDX-License-Identifier: Apache-2.0 */
/* rx_session: one OTLP/HTTP receiver connection's request handling, without sockets. Bytes go
 * in (rx_session_feed), response bytes come out (rx_session_take_output), so the HTTP framing,
 * the limits and the OTLP answers are testable and fuzzable on their own; receiver.c only moves
 * bytes between a socket and a session. See receiver.h for the protocol behaviour.
 *
 * Memory per session is bounded: the request head (RX_MAX_HEAD), the request body
 * (max_request_bytes, inflated size for gzip), and the pending output (the session stops
 * parsing, rx_session_blocked, once RX_OUT_SOFT bytes wait to be written). */
#ifndef TB_RECEIVER_INTERNAL_H
#define TB_RECEIVER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <zlib.h>

#include "extension/base/base.h"
#include "extension/receiver/receiver.h"
#include "extension/export/export.h"
#include "extension/net/net.h"

/* Request line plus headers; OTel SDKs send well under 2 KiB. Over it: 431 and close. */
#define RX_MAX_HEAD (32 * 1024)
/* Parsing pauses while this much response output waits to be written (pipelining clients). */
#define RX_OUT_SOFT (64 * 1024)

/* What every session of one receiver shares: where spans go and the counters. */
struct rx_ctx {
    struct spanbuf *sb;
    const struct log *lg;
    size_t max_request_bytes;
    /* Request bodies held by all sessions together stay under body_budget (503 beyond), so
     * many connections cannot multiply the per-request limit. */
    size_t body_budget;
    size_t body_in_use;
    size_t body_peak; /* most of body_in_use since receiver_take_peak_body */
    struct receiver_stats stats;
};

enum rx_encoding { RX_ENC_NONE, RX_ENC_PROTOBUF, RX_ENC_JSON };

/* Where the current request is: reading its body into `body`, or reading and discarding it
 * because the answer (an error) is already decided, or finished with the connection. */
enum rx_state { RX_HEAD, RX_BODY, RX_DISCARD, RX_CLOSING };

/* A session's state besides rx_state (struct rx_session.flags). */
enum {
    RX_F_GZIP = 1u << 0,    /* the current request's body is gzip */
    RX_F_Z_READY = 1u << 1, /* inflateInit2 done for this session (reused with inflateReset) */
    RX_F_Z_ENDED = 1u << 2, /* the gzip stream reached its end */
    RX_F_BLOCKED = 1u << 3, /* a response is parked in `out`; parsing waits for rx_session_resume */
    RX_F_KEEPALIVE = 1u << 4, /* of the current request */
    RX_F_HEAD = 1u << 5,      /* the current request is HEAD: answer without a body */
};

struct rx_session {
    struct rx_ctx *ctx;
    struct http1 h;
    enum rx_state state;
    enum rx_encoding enc;
    unsigned flags; /* RX_F_* */
    int err_status; /* the answer decided at the head (RX_DISCARD) */
    const char *err_msg;
    size_t wire_bytes; /* body bytes as received (compressed size for gzip) */
    z_stream z;
    struct buf body; /* decoded request body */
    struct buf out;  /* response bytes not yet taken by the owner */
};

/* Sets up a session for a new connection. Allocates nothing until bytes arrive. */
void rx_session_init(struct rx_session *s, struct rx_ctx *ctx);
void rx_session_free(struct rx_session *s);

/* Parses request bytes and answers complete requests into the output. */
void rx_session_feed(struct rx_session *s, const char *data, size_t len);

/* The peer closed its side: nothing more will come. */
void rx_session_eof(struct rx_session *s);

/* Hands the pending response bytes to the caller (free() them); NULL when there are none. */
char *rx_session_take_output(struct rx_session *s, size_t *len);

/* True while parsing is paused until the output is taken (then call rx_session_resume). */
bool rx_session_blocked(const struct rx_session *s);
void rx_session_resume(struct rx_session *s);

/* True between requests: no byte of a next request received, no answer waiting to be taken. */
bool rx_session_idle(const struct rx_session *s);

/* True once the connection must close after the pending output is written. */
bool rx_session_closing(const struct rx_session *s);

#endif
