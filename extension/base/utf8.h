/* utf8: well-formed UTF-8 per RFC 3629 (no overlong forms, no surrogates, nothing past
 * U+10FFFF). OTLP strings must be UTF-8 and a collector rejects a whole request over one bad
 * string, while the text we forward (error bodies, handler spans) is whatever a handler wrote:
 * so it is checked character by character and ill-formed bytes become U+FFFD. */
#ifndef TB_UTF8_H
#define TB_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "extension/base/buf.h"

/* U+FFFD REPLACEMENT CHARACTER, encoded. */
#define UTF8_REPLACEMENT     "\xef\xbf\xbd"
#define UTF8_REPLACEMENT_LEN 3

/* Length (1 to 4) of the well-formed character that starts at p[0] (n > 0 bytes readable), or
 * 0 when the bytes there are not one: a stray continuation byte, an overlong form, a
 * surrogate, a value past U+10FFFF, or a sequence cut short by n. Every ASCII byte, NUL too,
 * is a character of length 1. */
size_t utf8_char_len(const uint8_t *p, size_t n);

/* Whether all of s[0..n) is well-formed UTF-8. */
bool utf8_valid(const char *s, size_t n);

/* Appends s[0..n) to b as well-formed UTF-8 without NUL (so the result stays one C string):
 * each byte that does not start a well-formed character, and each NUL, becomes U+FFFD. Stops
 * before the first character that would take b->len past limit, so a cut never splits a
 * character. 0 when all of s went in; -E2BIG when it was cut (at limit or at b->max); -ENOMEM.
 * What was appended before a cut stays. */
int utf8_append_sanitized(struct buf *b, const char *s, size_t n, size_t limit);

#endif
