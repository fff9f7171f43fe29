/* SPDX-License-Identifier: Apache-2.0 */
/* utf8: character lengths against a decoder written independently here (by code point, not by
 * byte ranges), over every lead and second byte with the boundary values of the rest; then
 * validation, U+FFFD replacement and cutting to a byte limit without splitting a character. */
#include "extension/base/base.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>

#include "tests/lib/tap.h"

/* The reference: decode by the bit patterns of RFC 3629 section 3, then refuse what its
 * table forbids by value (overlong, surrogate, past U+10FFFF). */
static size_t reference_len(const uint8_t *p, size_t n)
{
    static const uint32_t min_of_len[] = {0, 0, 0x80, 0x800, 0x10000};
    size_t len = p[0] < 0x80             ? 1
                 : (p[0] & 0xe0) == 0xc0 ? 2
                 : (p[0] & 0xf0) == 0xe0 ? 3
                 : (p[0] & 0xf8) == 0xf0 ? 4
                                         : 0;
    uint32_t cp;

    if (len <= 1)
        return len;
    if (n < len)
        return 0;
    cp = p[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if (cp < min_of_len[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static void test_against_reference(struct tap *t)
{
    static const uint8_t edges[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90,
                                    0x9f, 0xa0, 0xbf, 0xc0, 0xf4, 0xff};
    const size_t ne = sizeof(edges);
    unsigned long checked = 0, mismatches = 0, valid = 0;
    uint8_t p[4];

    for (unsigned b0 = 0; b0 < 256; b0++) {
        for (unsigned b1 = 0; b1 < 256; b1++) {
            for (size_t k = 0; k < ne * ne; k++) {
                size_t want;
                p[0] = (uint8_t)b0;
                p[1] = (uint8_t)b1;
                p[2] = edges[k / ne];
                p[3] = edges[k % ne];
                for (size_t n = 1; n <= 4; n++) {
                    want = reference_len(p, n);
                    mismatches += utf8_char_len(p, n) != want;
                    valid += n == 4 && want > 1;
                    checked++;
                }
            }
        }
    }
    is_int(t, mismatches, 0, "utf8_char_len agrees with the reference decoder (%lu cases)",
           checked);
    ok(t, valid > 100000, "the cases include many multi-byte characters (%lu)", valid);
}

static size_t len_of(const char *s, size_t n)
{
    return utf8_char_len((const uint8_t *)s, n);
}

static void test_char_len(struct tap *t)
{
    is_int(t, len_of("A", 1), 1, "ASCII: 1");
    is_int(t, len_of("", 1), 1, "NUL is an ASCII character: 1");
    is_int(t, len_of("\xc3\xa9", 2), 2, "U+00E9: 2");
    is_int(t, len_of("\xe2\x82\xac", 3), 3, "U+20AC: 3");
    is_int(t, len_of("\xf0\x9f\x98\x80", 4), 4, "U+1F600: 4");
    is_int(t, len_of("\xf4\x8f\xbf\xbf", 4), 4, "U+10FFFF, the last code point: 4");
    is_int(t, len_of("\xed\x9f\xbf", 3), 3, "U+D7FF, just below the surrogates: 3");
    is_int(t, len_of("\xee\x80\x80", 3), 3, "U+E000, just above the surrogates: 3");
    is_int(t, len_of("\x80", 1), 0, "a stray continuation byte: 0");
    is_int(t, len_of("\xc0\xaf", 2), 0, "overlong 2-byte '/': 0");
    is_int(t, len_of("\xc1\xbf", 2), 0, "overlong 2-byte U+007F: 0");
    is_int(t, len_of("\xe0\x9f\xbf", 3), 0, "overlong 3-byte U+07FF: 0");
    is_int(t, len_of("\xf0\x8f\xbf\xbf", 4), 0, "overlong 4-byte U+FFFF: 0");
    is_int(t, len_of("\xed\xa0\x80", 3), 0, "surrogate U+D800: 0");
    is_int(t, len_of("\xed\xbf\xbf", 3), 0, "surrogate U+DFFF: 0");
    is_int(t, len_of("\xf4\x90\x80\x80", 4), 0, "U+110000, past the last code point: 0");
    is_int(t, len_of("\xf5\x80\x80\x80", 4), 0, "lead byte F5: 0");
    is_int(t, len_of("\xff", 1), 0, "byte FF: 0");
    is_int(t, len_of("\xe2\x82\xac", 2), 0, "a 3-byte character cut to 2 bytes: 0");
    is_int(t, len_of("\xf0\x9f\x98\x80", 3), 0, "a 4-byte character cut to 3 bytes: 0");
    is_int(t, len_of("\xe2\x82\x41", 3), 0, "ASCII where the third byte should be: 0");
}

static void test_valid(struct tap *t)
{
    ok(t, utf8_valid("", 0), "empty is valid");
    ok(t, utf8_valid("caf\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x82\xac", 14), "mixed widths are valid");
    ok(t, utf8_valid("a\0b", 3), "an embedded NUL is valid UTF-8");
    ok(t, !utf8_valid("ab\xe2\x82", 4), "a character cut at the end is not");
    ok(t, !utf8_valid("\xed\xa0\x80", 3), "an encoded surrogate is not");
    ok(t, !utf8_valid("a\xc0\xaf", 3), "an overlong is not");
}

/* The sanitised text of s[0..n) appended to an empty buffer of max bytes, cut at limit. */
static const char *sanitized(struct buf *b, const char *s, size_t n, size_t limit, int *rc)
{
    buf_reset(b);
    *rc = utf8_append_sanitized(b, s, n, limit);
    (void)buf_append_byte(b, '\0');
    return b->data;
}

#define FFFD UTF8_REPLACEMENT

static void test_sanitize(struct tap *t)
{
    struct buf b;
    int rc;

    buf_init(&b, 256);
    is_str(t, sanitized(&b, "caf\xc3\xa9 \xf0\x9f\x98\x80", 10, 100, &rc),
           "caf\xc3\xa9 \xf0\x9f\x98\x80", "well-formed text is kept as it is");
    is_int(t, rc, 0, "all of it went in: 0");
    is_str(t, sanitized(&b, "x\xff\xfey", 4, 100, &rc), "x" FFFD FFFD "y",
           "each invalid byte becomes one U+FFFD");
    is_str(t, sanitized(&b, "\xed\xa0\x80", 3, 100, &rc), FFFD FFFD FFFD,
           "a surrogate: one U+FFFD per byte");
    is_str(t, sanitized(&b, "\xc0\xaf", 2, 100, &rc), FFFD FFFD, "an overlong: one per byte");
    is_str(t, sanitized(&b, "a\0b", 3, 100, &rc), "a" FFFD "b",
           "NUL becomes U+FFFD, so the text stays one C string");
    is_str(t, sanitized(&b, "ab\xe2\x82", 4, 100, &rc), "ab" FFFD FFFD,
           "a character cut short by the input's end: U+FFFD per byte");
    is_str(t, sanitized(&b, "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", 9, 8, &rc),
           "\xe2\x82\xac\xe2\x82\xac", "a limit inside a character cuts before it");
    is_int(t, rc, -E2BIG, "a cut: -E2BIG");
    is_str(t, sanitized(&b, "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", 9, 9, &rc),
           "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", "a limit on a boundary takes everything");
    is_int(t, rc, 0, "limit just reached: 0");
    is_str(t, sanitized(&b, "ab\xff", 3, 4, &rc), "ab", "a replacement that does not fit is cut");
    buf_reset(&b);
    (void)buf_append(&b, "12345", 5);
    rc = utf8_append_sanitized(&b, "\xc3\xa9\xc3\xa9", 4, 8);
    ok(t, rc == -E2BIG && b.len == 7 && memcmp(b.data, "12345\xc3\xa9", 7) == 0,
       "the limit counts what the buffer already holds");
    buf_free(&b);

    buf_init(&b, 4);
    rc = utf8_append_sanitized(&b, "ab\xe2\x82\xac", 5, 100);
    ok(t, rc == -E2BIG && b.len == 2, "the buffer's own max cuts too, at a character boundary");
    buf_free(&b);
}

static const char *escaped(struct buf *b, const char *s, size_t n, int *rc)
{
    buf_reset(b);
    *rc = json_escape_append(b, s, n);
    return b->data ? b->data : "";
}

static void test_json_escape(struct tap *t)
{
    struct buf b;
    int rc;

    buf_init(&b, 256);
    is_str(t, escaped(&b, "a\"b\\c/", 6, &rc), "a\\\"b\\\\c/",
           "quote and backslash get a backslash; '/' stays");
    is_str(t, escaped(&b, "\b\f\n\r\t", 5, &rc), "\\b\\f\\n\\r\\t", "short escapes");
    is_str(t, escaped(&b, "\0\x01\x1f", 3, &rc), "\\u0000\\u0001\\u001f",
           "other C0 controls, NUL too: \\u00xx");
    is_str(t, escaped(&b, " ~\x7f", 3, &rc), " ~\\u007f",
           "DEL is escaped (a control character; RFC 8259 allows it), 0x20 and 0x7e are not");
    is_str(t, escaped(&b, "caf\xc3\xa9 \xf0\x9f\x98\x80", 10, &rc), "caf\xc3\xa9 \xf0\x9f\x98\x80",
           "well-formed UTF-8 is copied");
    is_str(t, escaped(&b, "x\xff\xc0\xafy", 5, &rc), "x" FFFD FFFD FFFD "y",
           "each byte that starts no well-formed character becomes U+FFFD");
    is_int(t, rc, 0, "0 when everything went in");
    buf_free(&b);

    buf_init(&b, 9);
    (void)buf_append(&b, "ab", 2);
    rc = json_escape_append(&b, "c\n\x01", 3);
    ok(t, rc == -E2BIG && b.len == 5 && memcmp(b.data, "abc\\n", 5) == 0,
       "past max: -E2BIG, and what went in before stays, cut between characters");
    buf_free(&b);
}

/* Every byte value, between two letters, decodes back (by cJSON, an independent decoder) to
 * itself, or to U+FFFD for the bytes that cannot stand alone; the output holds no byte below
 * 0x20 and no DEL. */
static void test_json_escape_roundtrip(struct tap *t)
{
    unsigned bad_decode = 0, raw_control = 0;
    struct buf b;

    buf_init(&b, 256);
    for (unsigned c = 1; c < 256; c++) {
        char in[3] = {'a', (char)c, 'z'};
        char want[8];
        cJSON *j;
        buf_reset(&b);
        (void)buf_append(&b, "\"", 1);
        (void)json_escape_append(&b, in, 3);
        (void)buf_append(&b, "\"", 1);
        for (size_t i = 0; i < b.len; i++)
            raw_control += (uint8_t)b.data[i] < 0x20 || (uint8_t)b.data[i] == 0x7f;
        snprintf(want, sizeof(want), "a%sz", c < 0x80 ? (char[]){(char)c, 0} : FFFD);
        j = cJSON_ParseWithLength(b.data, b.len);
        bad_decode += !cJSON_IsString(j) || strcmp(j->valuestring, want) != 0;
        cJSON_Delete(j);
    }
    is_int(t, bad_decode, 0, "bytes 0x01..0xff each decode back to themselves (or U+FFFD)");
    is_int(t, raw_control, 0, "no raw control byte or DEL in any output");
    buf_free(&b);
}

int main(void)
{
    struct tap t = TAP_INIT;

    test_char_len(&t);
    test_against_reference(&t);
    test_valid(&t);
    test_sanitize(&t);
    test_json_escape(&t);
    test_json_escape_roundtrip(&t);
    return tap_done(&t);
}
