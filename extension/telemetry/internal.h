/* SPDX-License-Identifier: Apache-2.0 */
/* telemetry internals: the JSON reader the batch parser is built on, and the listener's
 * per-connection request handling. */
#ifndef TB_TELEMETRY_INTERNAL_H
#define TB_TELEMETRY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "extension/telemetry/telemetry.h"

/* ---- jread: a pull reader over one JSON text, in place -------------------------------- */
/* The reader walks the bytes once and never allocates: strings are decoded into the caller's
 * fixed buffers, skipped values are validated as they are skipped (RFC 8259 grammar, UTF-8 not
 * checked), nesting is bounded by JR_MAX_DEPTH. The first error sticks: every later call
 * fails, and jr.err says so. */
#define JR_MAX_DEPTH 32

enum jr_type { JR_NONE = 0, JR_OBJECT, JR_ARRAY, JR_STRING, JR_NUMBER, JR_TRUE, JR_FALSE, JR_NULL };

struct jr {
    const char *p;
    const char *end;
    int depth;
    bool err;
};

void jr_init(struct jr *r, const char *s, size_t n);

/* The type of the next value (whitespace skipped), JR_NONE at the end or on error. */
enum jr_type jr_peek(struct jr *r);

/* Skips one whole value. 0 or -EBADMSG. */
int jr_skip(struct jr *r);

/* Enters an object / array (the next value must be one). 0 or -EBADMSG. */
int jr_enter_object(struct jr *r);
int jr_enter_array(struct jr *r);

/* Next member of the object entered: 1 with its key decoded into key (cap bytes, NUL included;
 * a longer key is cut and *cut set, so it matches nothing) and the reader at its value; 0 at
 * the closing brace (consumed); -EBADMSG. The value must be read or skipped before the next
 * call. */
int jr_next_member(struct jr *r, bool first, char *key, size_t cap, bool *cut);

/* Next element of the array entered: 1 at an element, 0 at the closing bracket (consumed),
 * -EBADMSG. */
int jr_next_element(struct jr *r, bool first);

/* Reads a string value into out (cap bytes, NUL included, escapes decoded to UTF-8). 0,
 * -E2BIG (too long: consumed, out = ""), -EINVAL (the value is not a string: nothing
 * consumed, skip it), -EBADMSG (broken JSON: sticky). */
int jr_string(struct jr *r, char *out, size_t cap);

/* Reads a number value. 0, -EINVAL (not a number: nothing consumed) or -EBADMSG. */
int jr_number(struct jr *r, double *out);

/* Whether only whitespace is left. */
bool jr_at_end(struct jr *r);

/* ---- session: one listener connection, without sockets -------------------------------- */
#define TMS_MAX_HEAD (16 * 1024)
/* A batch is at most maxBytes (256 KiB) plus the event that crossed it; Lambda's own ceiling
 * for maxBytes is 1 MiB. */
#define TMS_MAX_BODY (1024 * 1024 + 64 * 1024)

struct tm_session;

/* What a complete request hands to its owner: the body of a POST (a batch). */
typedef void (*tms_batch_fn)(void *arg, const char *body, size_t len);

struct tm_session {
    struct http1 h;
    struct buf body;
    struct buf out; /* response bytes not yet taken */
    tms_batch_fn on_batch;
    void *arg;
    bool post;
    bool too_big;
    bool keepalive;
    bool closing;
};

void tms_init(struct tm_session *s, tms_batch_fn fn, void *arg);
void tms_free(struct tm_session *s);
void tms_feed(struct tm_session *s, const char *data, size_t len);
/* Response bytes to write (free() them), or NULL. */
char *tms_take_output(struct tm_session *s, size_t *len);
/* The connection must close once the output is written. */
bool tms_closing(const struct tm_session *s);

#endif
