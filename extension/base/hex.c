/* SPDX-License-Identifier: Apache-2.0 */
#include "extension/base/base.h"

static const char HEX[] = "0123456789abcdef";

int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void hex_encode(const uint8_t *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = HEX[in[i] >> 4];
        out[2 * i + 1] = HEX[in[i] & 15];
    }
}

/* Digit values plus one (0: not a hex digit), by byte: one lookup per digit, as trace ids are
 * decoded for every event. */
#define DIGITS                                                                                     \
    ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8,        \
    ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16
static const uint8_t LOWER[256] = {DIGITS};
static const uint8_t ANY[256] = {
    DIGITS, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16};

static bool decode(const char *in, size_t n2, uint8_t *out, const uint8_t *val)
{
    if (n2 % 2)
        return false;
    for (size_t i = 0; i < n2; i += 2) {
        unsigned hi = val[(unsigned char)in[i]];
        unsigned lo = val[(unsigned char)in[i + 1]];
        if (!hi || !lo)
            return false;
        out[i / 2] = (uint8_t)((hi - 1) << 4 | (lo - 1));
    }
    return true;
}

bool hex_decode(const char *in, size_t n2, uint8_t *out)
{
    return decode(in, n2, out, ANY);
}

bool hex_decode_lower(const char *in, size_t n2, uint8_t *out)
{
    return decode(in, n2, out, LOWER);
}
