/* http1: a thin wrapper around http-parser 2.9.4 for a relay that forwards raw bytes.
 *
 * The wrapper never rewrites bytes. It buffers the raw head of a message until it is complete
 * (with the offsets of the start-line pieces and of every header, so nothing is copied twice),
 * then hands every further raw byte of the message to ops->raw as it is parsed, together with the
 * decoded body (ops->body) and trailers (ops->trailer). After a complete message the parser
 * blocks: later bytes are held (pipelining) until the owner calls http1_resume. */
#ifndef TB_PROXY_HTTP1_H
#define TB_PROXY_HTTP1_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "extension/base/buf.h"

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
    bool in_body;   /* head done: header callbacks are now trailers */
    bool in_value;  /* the last header callback was a value */
    bool skip_body; /* the owner's answer for a response to HEAD */
    bool blocked;   /* a message completed; waiting for http1_resume */
    bool in_feed;
    bool aborted;    /* reset from inside a callback: drop the rest of the chunk */
    bool dispatched; /* the last execute call ended in a head/done event */
    bool unindexed;  /* the header being parsed is past HTTP1_MAX_INDEXED */
    bool stopped;
    bool lf_in_head; /* the head's final LF was copied into head; raw skips it */
    int event;       /* set by parser callbacks, dispatched after execute returns */
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

#endif
