/* SPDX-License-Identifier: Apache-2.0 */
#include "extension/base/base.h"

#include <errno.h>

static bool is_continuation(uint8_t c)
{
    return (c & 0xc0) == 0x80;
}

size_t utf8_char_len(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    uint8_t lo = 0x80; /* the bounds of the second byte: tighter after E0, ED, F0 and F4 */
    uint8_t hi = 0xbf;
    size_t len;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) /* C0 and C1 could only start overlongs */
        len = 2;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3;
    else if (c >= 0xf0 && c <= 0xf4) /* F5 and up would be past U+10FFFF */
        len = 4;
    else
        return 0;
    if (c == 0xe0)
        lo = 0xa0; /* overlong below U+0800 */
    else if (c == 0xed)
        hi = 0x9f; /* surrogates U+D800..U+DFFF */
    else if (c == 0xf0)
        lo = 0x90; /* overlong below U+10000 */
    else if (c == 0xf4)
        hi = 0x8f; /* past U+10FFFF */
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++) {
        if (!is_continuation(p[i]))
            return 0;
    }
    return len;
}

bool utf8_valid(const char *s, size_t n)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0;

    while (i < n) {
        size_t len = utf8_char_len(p + i, n - i);
        if (!len)
            return false;
        i += len;
    }
    return true;
}

int utf8_append_sanitized(struct buf *b, const char *s, size_t n, size_t limit)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0;

    while (i < n) {
        size_t len = p[i] ? utf8_char_len(p + i, n - i) : 0;
        const char *src = len ? s + i : UTF8_REPLACEMENT;
        size_t out = len ? len : UTF8_REPLACEMENT_LEN;
        int rc;
        if (b->len + out > limit)
            return -E2BIG;
        rc = buf_append(b, src, out);
        if (rc < 0)
            return rc;
        i += len ? len : 1;
    }
    return 0;
}

/* Bytes copied as they are: printable ASCII other than the two that need a backslash. */
static bool json_plain(uint8_t c)
{
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

static int json_escape_ascii(struct buf *b, uint8_t c)
{
    char e[6] = {'\\', 'u', '0', '0'};

    switch (c) {
    case '"':
        return buf_append(b, "\\\"", 2);
    case '\\':
        return buf_append(b, "\\\\", 2);
    case '\b':
        return buf_append(b, "\\b", 2);
    case '\f':
        return buf_append(b, "\\f", 2);
    case '\n':
        return buf_append(b, "\\n", 2);
    case '\r':
        return buf_append(b, "\\r", 2);
    case '\t':
        return buf_append(b, "\\t", 2);
    default:
        hex_encode(&c, 1, e + 4);
        return buf_append(b, e, sizeof(e));
    }
}

int json_escape_append(struct buf *b, const char *s, size_t n)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0;
    int rc = 0;

    while (i < n && rc == 0) {
        size_t run = i;
        size_t len;
        while (run < n && json_plain(p[run]))
            run++;
        if (run > i) {
            rc = buf_append(b, s + i, run - i);
            i = run;
        } else if (p[i] < 0x80) {
            rc = json_escape_ascii(b, p[i++]);
        } else {
            len = utf8_char_len(p + i, n - i);
            rc = len ? buf_append(b, s + i, len)
                     : buf_append(b, UTF8_REPLACEMENT, UTF8_REPLACEMENT_LEN);
            i += len ? len : 1;
        }
    }
    return rc;
}
