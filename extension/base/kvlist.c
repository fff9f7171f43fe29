/* SPDX-License-Identifier: Apache-2.0 */
#include "extension/base/base.h"

#include <errno.h>
#include <string.h>

/* One member, already trimmed and not empty. */
static int split_member(const char *p, size_t n, struct kvlist_member *m)
{
    const char *eq = memchr(p, '=', n);

    if (!eq)
        return -EINVAL;
    m->key = p;
    m->key_len = (size_t)(eq - p);
    m->value = eq + 1;
    m->value_len = n - m->key_len - 1;
    http_trim_ows(&m->key, &m->key_len);
    http_trim_ows(&m->value, &m->value_len);
    return 0;
}

int kvlist_each(const char *s, kvlist_fn fn, void *arg)
{
    int rc = 0;

    while (rc == 0 && *s) {
        size_t len = strcspn(s, ",");
        const char *p = s;
        size_t n = len;
        struct kvlist_member m;

        http_trim_ows(&p, &n);
        if (n > 0) {
            rc = split_member(p, n, &m);
            if (rc == 0)
                rc = fn(arg, &m);
        }
        s += len;
        if (*s == ',')
            s++;
    }
    return rc;
}

/* The byte a "%XY" at p[i] stands for, or -1 when p[i] does not start a whole escape. */
static int escape_at(const char *p, size_t n, size_t i)
{
    if (p[i] != '%' || i + 2 >= n || hex_digit(p[i + 1]) < 0 || hex_digit(p[i + 2]) < 0)
        return -1;
    return hex_digit(p[i + 1]) * 16 + hex_digit(p[i + 2]);
}

static int decode(const char *p, size_t n, unsigned flags, struct buf *out)
{
    int rc = buf_reserve(out, 0);

    for (size_t i = 0; rc == 0 && i < n; i++) {
        int e = escape_at(p, n, i);
        unsigned char c = (unsigned char)(e >= 0 ? e : p[i]);

        if (e >= 0)
            i += 2;
        else if (c == '%' && (flags & KVLIST_STRICT_ESCAPES))
            return -EINVAL;
        if (c == '\0' || ((flags & KVLIST_NO_CONTROL) && (c < 0x20 || c == 0x7f)))
            return -EINVAL;
        rc = buf_append_byte(out, (char)c);
    }
    return rc;
}

int kvlist_decode(const char *p, size_t n, unsigned flags, struct buf *out)
{
    size_t start = out->len;
    int rc = decode(p, n, flags, out);

    if (rc < 0 && out->data) {
        out->len = start;
        out->data[start] = '\0';
    }
    return rc;
}
