/* buf: the one bounded byte buffer every module builds text and bytes with.
 *
 * A buf never grows past `max` bytes: appends beyond it fail with -E2BIG and leave the
 * buffer as it was, so no outside input can make memory grow without bound. */
#ifndef TB_BUF_H
#define TB_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data; /* NUL-terminated when len < cap (appends keep one spare byte) */
    size_t len;
    size_t cap;
    size_t max; /* hard limit on len */
};

/* Initialises an empty buffer that may hold at most `max` bytes. Allocates nothing. */
void buf_init(struct buf *b, size_t max);

/* Frees the memory and leaves an empty buffer with the same max. */
void buf_free(struct buf *b);

/* Empties the buffer but keeps its memory for reuse. */
void buf_reset(struct buf *b);

/* Makes room for `extra` more bytes. 0, -E2BIG (past max) or -ENOMEM. */
int buf_reserve(struct buf *b, size_t extra);

/* Appends bytes. 0, -E2BIG or -ENOMEM; on error the buffer is unchanged. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_append_byte(struct buf *b, char c);
int buf_appendf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vappendf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Drops the first n bytes (n <= len), moving the rest to the front. */
void buf_consume(struct buf *b, size_t n);

/* Hands the bytes to the caller, who frees them with free(); the buffer is reset to empty.
 * Returns NULL for an empty buffer that never allocated. */
char *buf_take(struct buf *b, size_t *len);

#endif
