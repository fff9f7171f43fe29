/* kvlist: the "key=value,key2=value2" lists that OTel environment variables carry
 * (OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS: W3C Baggage members without
 * properties). Members are split at commas, keys and values trimmed of spaces and tabs, and
 * values percent-decoded by the caller with kvlist_decode, under the rules it needs. */
#ifndef TB_KVLIST_H
#define TB_KVLIST_H

#include <stddef.h>

#include "extension/base/buf.h"

struct kvlist_member {
    const char *key; /* trimmed, not decoded, not NUL-terminated */
    size_t key_len;
    const char *value; /* likewise */
    size_t value_len;
};

/* Called once per member; a non-zero return stops the walk and is returned by kvlist_each. */
typedef int (*kvlist_fn)(void *arg, const struct kvlist_member *m);

/* Calls fn for every member of s in order; empty members ("a=1,,b=2", blank ones) are skipped.
 * 0, -EINVAL at the first member without '=', or the first non-zero value fn returned. */
int kvlist_each(const char *s, kvlist_fn fn, void *arg);

/* kvlist_decode flags. */
#define KVLIST_STRICT_ESCAPES                                                                      \
    1u /* a '%' without two hex digits after it is an error (else it                               \
          stays as it is) */
#define KVLIST_NO_CONTROL                                                                          \
    2u /* control characters (0x00-0x1f, 0x7f), raw or decoded, are an                             \
          error: in a header value they would allow injection */

/* Appends the percent-decoding of [p, p+n) to out, which is then NUL-terminated (even when
 * nothing was appended). A decoded NUL is always an error. 0, -EINVAL, -E2BIG (past out's max)
 * or -ENOMEM; on error out is as it was. */
int kvlist_decode(const char *p, size_t n, unsigned flags, struct buf *out);

#endif
