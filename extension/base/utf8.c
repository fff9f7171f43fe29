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
