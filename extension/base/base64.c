/* SPDX-License-Identifier: Apache-2.0 */
#include "extension/base/base.h"

#include <errno.h>

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The value of one character of either alphabet ('-' and '_' are URL-safe 62 and 63), or -1. */
static int value_of(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Sets *n to the length without the padding and checks what the padding allows. */
static int strip_padding(const char *in, size_t *n, unsigned flags)
{
    size_t pad = 0;

    while (*n > 0 && in[*n - 1] == '=') {
        (*n)--;
        pad++;
    }
    /* One leftover character carries 6 bits: no whole byte, so it is not base64. */
    if (pad > 2 || *n % 4 == 1)
        return -EINVAL;
    if (pad && !(flags & BASE64_LOOSE_PADDING) && (*n + pad) % 4 != 0)
        return -EINVAL;
    return 0;
}

/* Decodes n characters (no padding, n % 4 != 1) into out; *out_len gets the count. */
static int decode_chars(const char *in, size_t n, uint8_t *out, size_t *out_len)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t len = 0;

    for (size_t i = 0; i < n; i++) {
        int v = value_of(in[i]);
        if (v < 0)
            return -EINVAL;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[len++] = (uint8_t)(acc >> bits);
        }
    }
    *out_len = len;
    return 0;
}

int base64_decode(const char *in, size_t n, unsigned flags, uint8_t *out, size_t *out_len)
{
    int rc = strip_padding(in, &n, flags);

    return rc < 0 ? rc : decode_chars(in, n, out, out_len);
}

int base64_decode_append(const char *in, size_t n, unsigned flags, struct buf *b)
{
    enum { CHARS = 256 }; /* a multiple of 4: each chunk decodes on its own */
    uint8_t chunk[CHARS / 4 * 3];
    int rc = strip_padding(in, &n, flags);

    for (size_t i = 0; rc == 0 && i < n; i += CHARS) {
        size_t len;
        rc = decode_chars(in + i, n - i < CHARS ? n - i : CHARS, chunk, &len);
        if (rc == 0)
            rc = buf_append(b, chunk, len);
    }
    return rc;
}

int base64_encode_append(const uint8_t *in, size_t n, struct buf *b)
{
    /* Room for all of it first, so the appends below cannot fail half way. */
    int rc = buf_reserve(b, (n + 2) / 3 * 4);

    for (size_t i = 0; rc == 0 && i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        char q[4];
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        q[0] = ALPHABET[v >> 18];
        q[1] = ALPHABET[(v >> 12) & 63];
        q[2] = i + 1 < n ? ALPHABET[(v >> 6) & 63] : '=';
        q[3] = i + 2 < n ? ALPHABET[v & 63] : '=';
        rc = buf_append(b, q, 4);
    }
    return rc;
}
