/* SPDX-License-Identifier: Apache-2.0 */
/* kvlist, hex and token: splitting "k=v,k2=v2" lists, trimming, percent-decoding under each
 * rule; HTTP tokens and OWS. */
#include "extension/base/base.h"

#include <errno.h>
#include <stdint.h>

#include "tests/lib/tap.h"

/* Collects the members as "key|value;" so that one string shows splitting and trimming. */
static int collect(void *arg, const struct kvlist_member *m)
{
    struct buf *b = arg;

    return buf_appendf(b, "%.*s|%.*s;", (int)m->key_len, m->key, (int)m->value_len, m->value);
}

static int stop_at_b(void *arg, const struct kvlist_member *m)
{
    (void)arg;
    return m->key_len == 1 && m->key[0] == 'b' ? -ECANCELED : 0;
}

static const char *each(struct buf *b, const char *s, int *rc)
{
    buf_reset(b);
    *rc = kvlist_each(s, collect, b);
    return b->data ? b->data : "";
}

static void test_each(struct tap *t)
{
    struct buf b;
    int rc;

    buf_init(&b, 4096);
    is_str(t, each(&b, " a = 1 ,\tb=x y\t,, ,c=", &rc), "a|1;b|x y;c|;",
           "members trimmed, empty skipped");
    is_int(t, rc, 0, "each: 0");
    is_str(t, each(&b, "a=1=2", &rc), "a|1=2;", "only the first '=' splits");
    is_str(t, each(&b, "", &rc), "", "empty list: no member");
    is_int(t, rc, 0, "empty list: 0");
    is_str(t, each(&b, "a=1,novalue,c=3", &rc), "a|1;", "walk stops at a member without '='");
    is_int(t, rc, -EINVAL, "member without '=': -EINVAL");
    is_int(t, kvlist_each("a=1,b=2,c=3", stop_at_b, NULL), -ECANCELED,
           "callback's error is returned");
    buf_free(&b);
}

static const char *dec(struct buf *b, const char *s, unsigned flags, int *rc)
{
    buf_reset(b);
    *rc = kvlist_decode(s, strlen(s), flags, b);
    return b->data ? b->data : "(none)";
}

static void test_decode(struct tap *t)
{
    struct buf b;
    int rc;

    buf_init(&b, 8);
    is_str(t, dec(&b, "a%3Db%2c", 0, &rc), "a=b,", "escapes of either case decoded");
    is_str(t, dec(&b, "", 0, &rc), "", "empty value: empty string, NUL-terminated");
    is_int(t, rc, 0, "empty value: 0");
    is_str(t, dec(&b, "5%%zz%4", 0, &rc), "5%%zz%4", "lenient: stray '%%' kept as is");
    dec(&b, "%zz", KVLIST_STRICT_ESCAPES, &rc);
    is_int(t, rc, -EINVAL, "strict: non-hex escape");
    dec(&b, "a%4", KVLIST_STRICT_ESCAPES, &rc);
    is_int(t, rc, -EINVAL, "strict: truncated escape");
    dec(&b, "a%00", 0, &rc);
    is_int(t, rc, -EINVAL, "decoded NUL always refused");
    is_str(t, dec(&b, "a\tb%0A", 0, &rc), "a\tb\n", "control characters pass without NO_CONTROL");
    dec(&b, "a%0D%0AX: 1", KVLIST_NO_CONTROL, &rc);
    is_int(t, rc, -EINVAL, "NO_CONTROL: decoded CR LF refused");
    dec(&b, "a\tb", KVLIST_NO_CONTROL, &rc);
    is_int(t, rc, -EINVAL, "NO_CONTROL: raw tab refused");
    dec(&b, "%7f", KVLIST_NO_CONTROL, &rc);
    is_int(t, rc, -EINVAL, "NO_CONTROL: DEL refused");
    is_str(t, dec(&b, "12345678", 0, &rc), "12345678", "exactly max bytes fit");
    dec(&b, "123456789", 0, &rc);
    is_int(t, rc, -E2BIG, "past max: -E2BIG");

    buf_reset(&b);
    buf_append_str(&b, "k:");
    is_int(t, kvlist_decode("x%zz", 4, KVLIST_STRICT_ESCAPES, &b), -EINVAL, "append: error");
    is_str(t, b.data, "k:", "append: out as it was after an error");
    is_int(t, kvlist_decode("v%21", 4, 0, &b), 0, "append: ok");
    is_str(t, b.data, "k:v!", "append: appended after what was there");
    buf_free(&b);
}

static void test_hex(struct tap *t)
{
    uint8_t out[4] = {0};
    char enc[9] = {0};

    is_int(t, hex_digit('7') + hex_digit('a') + hex_digit('F'), 7 + 10 + 15,
           "hex_digit: both cases");
    is_int(t, hex_digit('g'), -1, "hex_digit: 'g'");
    is_int(t, hex_digit('/'), -1, "hex_digit: '/'");
    ok(t, hex_decode("00aBcD", 6, out) && out[0] == 0 && out[1] == 0xab && out[2] == 0xcd,
       "hex_decode: mixed case");
    ok(t, !hex_decode("abc", 3, out), "hex_decode: odd length");
    ok(t, !hex_decode("0x", 2, out), "hex_decode: non-hex");
    ok(t, hex_decode_lower("beef", 4, out) && out[0] == 0xbe && out[1] == 0xef,
       "hex_decode_lower: lower case");
    ok(t, !hex_decode_lower("BEEF", 4, out), "hex_decode_lower: upper case refused");
    hex_encode((const uint8_t *)"\x01\xab\xff\x10", 4, enc);
    is_str(t, enc, "01abff10", "hex_encode: lower case, two digits a byte");
}

/* tchar against RFC 9110's list, written out here byte by byte; tokens; OWS trimming. */
static void test_token(struct tap *t)
{
    static const char *const tchars = "!#$%&'*+-.^_`|~0123456789"
                                      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    unsigned wrong = 0;
    const char *s = " \t a b\t ";
    size_t n = strlen(s);

    for (unsigned c = 0; c < 256; c++)
        wrong += http_tchar((char)c) != (c != 0 && strchr(tchars, (int)c) != NULL);
    is_int(t, wrong, 0, "tchar: exactly RFC 9110's 77 characters, not NUL");
    ok(t, http_token("Content-Type", 12) && http_token("x~!", 3), "tokens");
    ok(t,
       !http_token("", 0) && !http_token("a b", 3) && !http_token("a:", 2) &&
           !http_token("a\0b", 3),
       "empty, space, colon, NUL: not tokens");
    http_trim_ows(&s, &n);
    ok(t, n == 3 && memcmp(s, "a b", 3) == 0, "OWS trimmed at both ends only");
    s = " \t";
    n = 2;
    http_trim_ows(&s, &n);
    is_int(t, (long)n, 0, "all OWS: empty");
}

int main(void)
{
    struct tap t = TAP_INIT;

    test_each(&t);
    test_decode(&t);
    test_hex(&t);
    test_token(&t);
    return tap_done(&t);
}
