/* SPDX-License-Identifier: Apache-2.0 */
/* base64: the RFC 4648 test vectors both ways, both alphabets, what each padding rule accepts,
 * the characters refused, output bounds, and a round trip of every byte value across the
 * decoder's internal chunks. */
#include "extension/base/base.h"

#include <errno.h>
#include <string.h>

#include "tests/lib/tap.h"

/* RFC 4648 section 10. */
static const char *const PLAIN[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
static const char *const CODED[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};

/* Decodes s (flags) to a C string in b; NULL on error, *rc gets the code. */
static const char *decoded(struct buf *b, const char *s, unsigned flags, int *rc)
{
    buf_reset(b);
    *rc = base64_decode_append(s, strlen(s), flags, b);
    return *rc == 0 && buf_append_byte(b, '\0') == 0 ? b->data : NULL;
}

static void test_vectors(struct tap *t)
{
    struct buf b;
    int rc;
    int bad_enc = 0, bad_dec = 0;

    buf_init(&b, 64);
    for (size_t i = 0; i < sizeof(PLAIN) / sizeof(PLAIN[0]); i++) {
        buf_reset(&b);
        rc = base64_encode_append((const uint8_t *)PLAIN[i], strlen(PLAIN[i]), &b);
        bad_enc +=
            rc != 0 || b.len != strlen(CODED[i]) || memcmp(b.data ? b.data : "", CODED[i], b.len);
        bad_dec += !decoded(&b, CODED[i], 0, &rc) || strcmp(b.data, PLAIN[i]) != 0;
    }
    is_int(t, bad_enc, 0, "encode: RFC 4648 vectors");
    is_int(t, bad_dec, 0, "decode: RFC 4648 vectors");
    is_str(t, decoded(&b, "Zm9vYg", 0, &rc), "foob", "decode: padding may be left out");
    is_str(t, decoded(&b, "Zm9vYmE", 0, &rc), "fooba", "decode: padding may be left out (2)");
    is_str(t, decoded(&b, "-_-_", 0, &rc), "\xfb\xff\xbf", "decode: URL-safe alphabet");
    is_str(t, decoded(&b, "+/-_", 0, &rc), "\xfb\xff\xbf", "decode: alphabets may be mixed");
    buf_free(&b);
}

static void test_padding(struct tap *t)
{
    struct buf b;
    int rc;

    buf_init(&b, 64);
    ok(t, !decoded(&b, "YQ=", 0, &rc) && rc == -EINVAL,
       "strict: one '=' where a group needs two is -EINVAL");
    ok(t, !decoded(&b, "YWJj=", 0, &rc) && rc == -EINVAL,
       "strict: '=' after a whole group is -EINVAL");
    is_str(t, decoded(&b, "YQ=", BASE64_LOOSE_PADDING, &rc), "a", "loose: 'YQ=' is 'a'");
    is_str(t, decoded(&b, "YWJj=", BASE64_LOOSE_PADDING, &rc), "abc", "loose: 'YWJj=' is 'abc'");
    ok(t, !decoded(&b, "YQ===", BASE64_LOOSE_PADDING, &rc) && rc == -EINVAL,
       "loose: three '=' are still -EINVAL");
    ok(t, !decoded(&b, "YQ===", 0, &rc) && rc == -EINVAL, "strict: three '=' are -EINVAL");
    ok(t, !decoded(&b, "====", BASE64_LOOSE_PADDING, &rc) && rc == -EINVAL,
       "padding alone is -EINVAL");
    ok(t, !decoded(&b, "YW=j", 0, &rc) && rc == -EINVAL, "'=' inside the text is -EINVAL");
    buf_free(&b);
}

static void test_refused(struct tap *t)
{
    struct buf b;
    uint8_t out[16];
    size_t len = 99;
    int rc;

    buf_init(&b, 64);
    ok(t, !decoded(&b, "YW Jj", 0, &rc) && rc == -EINVAL, "whitespace is -EINVAL");
    ok(t, !decoded(&b, "YWJj\n", 0, &rc) && rc == -EINVAL, "a newline is -EINVAL");
    ok(t, !decoded(&b, "YWJjZ", 0, &rc) && rc == -EINVAL, "a dangling sixth of a byte is -EINVAL");
    ok(t, !decoded(&b, "AA*A", BASE64_LOOSE_PADDING, &rc) && rc == -EINVAL,
       "a character of neither alphabet is -EINVAL");
    ok(t, !decoded(&b, "YWJj.", 0, &rc) && rc == -EINVAL, "'.' is -EINVAL");
    buf_free(&b);

    buf_init(&b, 4);
    ok(t, !decoded(&b, "YWJjZGVmZ2hpams=", 0, &rc) && rc == -E2BIG,
       "decode past the buffer's max is -E2BIG");
    buf_reset(&b);
    rc = base64_encode_append((const uint8_t *)"abcd", 4, &b);
    ok(t, rc == -E2BIG && b.len == 0, "encode past the buffer's max is -E2BIG, buffer unchanged");
    buf_free(&b);

    is_int(t, base64_decode("Zm9vYmFy", 8, 0, out, &len), 0, "decode into an array: 0");
    ok(t, len == 6 && memcmp(out, "foobar", 6) == 0, "decode into an array: the bytes");
    is_int(t, base64_decoded_max(8), 6, "decoded_max(8) is 6");
    is_int(t, base64_decoded_max(7), 6, "decoded_max(7) is 6 (unpadded input)");
}

/* Every byte value, in a text long enough to cross the decoder's chunks many times. */
static void test_round_trip(struct tap *t)
{
    uint8_t in[3000];
    struct buf enc, dec;
    int rc_enc, rc_dec;

    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (uint8_t)(i * 7 + i / 256);
    buf_init(&enc, 8192);
    buf_init(&dec, 8192);
    for (size_t n = 2990; n <= sizeof(in); n++) {
        buf_reset(&enc);
        buf_reset(&dec);
        rc_enc = base64_encode_append(in, n, &enc);
        rc_dec = base64_decode_append(enc.data, enc.len, 0, &dec);
        if (rc_enc || rc_dec || dec.len != n || memcmp(dec.data, in, n) != 0)
            break;
    }
    ok(t, rc_enc == 0 && rc_dec == 0 && dec.len == sizeof(in) && memcmp(dec.data, in, dec.len) == 0,
       "round trip of %zu bytes (every value, every tail length)", sizeof(in));
    buf_free(&enc);
    buf_free(&dec);
}

int main(void)
{
    struct tap t = TAP_INIT;

    test_vectors(&t);
    test_padding(&t);
    test_refused(&t);
    test_round_trip(&t);
    return tap_done(&t);
}
