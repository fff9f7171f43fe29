/* base64 (RFC 4648). Encoding writes the standard alphabet with '=' padding (what OTLP/JSON
 * bytes fields are). Decoding takes what the senders we meet write: the standard alphabet and
 * the URL-safe one, even mixed (proto3 JSON allows either), with padding or without; nothing
 * else, no whitespace either. Stray bits in the last character are not checked. */
#ifndef TB_BASE64_H
#define TB_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "extension/base/buf.h"

/* base64_decode flags. */
#define BASE64_LOOSE_PADDING                                                                       \
    1u /* one or two '=' are accepted after any text, even where they do not complete a            \
          group of four characters ("YQ=") */

/* The most bytes that n characters of base64 decode to. */
static inline size_t base64_decoded_max(size_t n)
{
    return (n + 3) / 4 * 3;
}

/* Decodes in[0..n) into out, which has room for base64_decoded_max(n) bytes, and sets *out_len.
 * 0, or -EINVAL for a character outside both alphabets, a last character that holds no whole
 * byte, more than two '=', or (without BASE64_LOOSE_PADDING) padding that does not complete
 * the last group of four; out may then be partly written. */
int base64_decode(const char *in, size_t n, unsigned flags, uint8_t *out, size_t *out_len);

/* base64_decode appending the bytes to b. 0, -EINVAL, -E2BIG (past b->max) or -ENOMEM; on
 * error some of the bytes may have been appended. */
int base64_decode_append(const char *in, size_t n, unsigned flags, struct buf *b);

/* Appends the standard, padded base64 of in[0..n) to b. 0, -E2BIG or -ENOMEM (b unchanged). */
int base64_encode_append(const uint8_t *in, size_t n, struct buf *b);

#endif
