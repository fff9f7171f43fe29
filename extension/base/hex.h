/* hex: hexadecimal digits, both ways. W3C trace context and X-Ray values must be lower case
 * (hex_decode_lower); OTLP/JSON ids and percent-escapes may be either case (hex_decode,
 * hex_digit). */
#ifndef TB_HEX_H
#define TB_HEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The value of one hex digit of either case, or -1. */
int hex_digit(char c);

/* Writes the 2n lower-case hex digits of in[0..n) to out (no NUL). */
void hex_encode(const uint8_t *in, size_t n, char *out);

/* Decodes n2 hex digits into n2 / 2 bytes; false for an odd n2 or a non-hex digit (out may
 * then be partly written). */
bool hex_decode(const char *in, size_t n2, uint8_t *out);

/* hex_decode that also refuses upper-case digits. */
bool hex_decode_lower(const char *in, size_t n2, uint8_t *out);

#endif
