/* nextbuf: holds one /next 200 response (head + body), runs the next_event hook on it, and
 * produces the bytes for the runtime: the original bytes when nothing changed, else the original
 * status line and headers (minus framing headers, with set headers replaced or added), a fresh
 * Content-Length and the new body. */
#ifndef TB_PROXY_NEXTBUF_H
#define TB_PROXY_NEXTBUF_H

#include <stdbool.h>
#include <stddef.h>

#include "extension/base/buf.h"
#include "proxy/http1.h"
#include "proxy/proxy.h"

#define NEXTBUF_MAX_SET 16

struct nb_set {
    char *name;
    char *value;
    size_t vlen;
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
    struct nb_set set[NEXTBUF_MAX_SET];
    size_t nset;
    size_t keep_bytes; /* buffers larger than this are freed by nextbuf_finish; 0: kept */
};

/* The bytes to write in one go; memory owned by the caller after nextbuf_finish/flush. */
struct nb_out {
    char *a;
    size_t alen;
    char *b;
    size_t blen;
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

/* The original bytes received so far (head + body), for the oversize/failure path. */
int nextbuf_flush(struct nextbuf *nb, struct nb_out *out);

/* Runs hooks->next_event and builds the output. rid receives the request id. 0 or -errno. */
int nextbuf_finish(struct nextbuf *nb, const struct proxy_hooks *hooks, char *rid, size_t ridcap,
                   struct nb_out *out);

#endif
