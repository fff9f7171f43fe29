/* SPDX-License-Identifier: Apache-2.0 */
/* buf: the bound is hard (an append past max fails and changes nothing), growth keeps the bytes
 * and the NUL, reset keeps memory, take hands it over. */
#include "extension/base/buf.c"

#include <errno.h>
#include <stdlib.h>

#include "tests/lib/tap.h"

int main(void)
{
    struct tap t = TAP_INIT;
    struct buf b;
    size_t n;
    char *p;

    buf_init(&b, 16);
    ok(&t, b.data == NULL && b.len == 0, "init allocates nothing");
    is_int(&t, buf_append_str(&b, "0123456789"), 0, "append within max");
    is_str(&t, b.data, "0123456789", "bytes kept, NUL-terminated");
    is_int(&t, buf_append_str(&b, "abcdefg"), -E2BIG, "append past max fails");
    is_int(&t, (int)b.len, 10, "and leaves the buffer as it was");
    is_str(&t, b.data, "0123456789", "contents unchanged after the refused append");
    is_int(&t, buf_append(&b, "abcdef", 6), 0, "exactly max is allowed");
    is_int(&t, (int)b.len, 16, "len == max");
    is_int(&t, buf_append_byte(&b, 'x'), -E2BIG, "one byte past max fails");
    buf_reset(&b);
    ok(&t, b.len == 0 && b.data != NULL, "reset keeps the memory");
    is_int(&t, buf_appendf(&b, "%d-%s", 42, "ok"), 0, "appendf");
    is_str(&t, b.data, "42-ok", "appendf formats");
    is_int(&t, buf_appendf(&b, "%020d", 1), -E2BIG, "appendf past max fails");
    is_str(&t, b.data, "42-ok", "and leaves the buffer unchanged");
    p = buf_take(&b, &n);
    ok(&t, p && n == 5 && memcmp(p, "42-ok", 5) == 0, "take hands the bytes over");
    ok(&t, b.data == NULL && b.len == 0, "the buffer is empty after take");
    free(p);
    ok(&t, buf_take(&b, &n) == NULL, "take of a buffer that never allocated is NULL");
    buf_init(&b, 1u << 20);
    for (int i = 0; i < 1000; i++)
        buf_append(&b, "0123456789", 10);
    ok(&t, b.len == 10000 && b.data[9999] == '9' && b.data[10000] == '\0',
       "growth keeps bytes and NUL");
    is_int(&t, buf_reserve(&b, (1u << 20) + 1), -E2BIG, "reserve past max fails");
    buf_free(&b);
    ok(&t, b.data == NULL && b.max == 1u << 20, "free leaves an empty buffer with the same max");
    return tap_done(&t);
}
