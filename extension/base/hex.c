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

static int digit(char c, bool lower_only)
{
    if (lower_only && c >= 'A' && c <= 'F')
        return -1;
    return hex_digit(c);
}

static bool decode(const char *in, size_t n2, uint8_t *out, bool lower_only)
{
    if (n2 % 2)
        return false;
    for (size_t i = 0; i < n2; i += 2) {
        int hi = digit(in[i], lower_only);
        int lo = digit(in[i + 1], lower_only);
        if (hi < 0 || lo < 0)
            return false;
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

bool hex_decode(const char *in, size_t n2, uint8_t *out)
{
    return decode(in, n2, out, false);
}

bool hex_decode_lower(const char *in, size_t n2, uint8_t *out)
{
    return decode(in, n2, out, true);
}
