/* SPDX-License-Identifier: Apache-2.0 */
/* hex: encode is lower case; decode takes either case; decode_lower refuses upper case; odd
 * lengths and non-digits fail. */
#include "extension/base/hex.c"

#include "tests/lib/tap.h"

int main(void)
{
    struct tap t = TAP_INIT;
    uint8_t in[4] = {0x00, 0x9f, 0xab, 0xff}, out[4] = {0};
    char s[9] = {0};

    hex_encode(in, 4, s);
    is_str(&t, s, "009fabff", "encode writes lower-case digits");
    ok(&t, hex_decode("009FABff", 8, out) && memcmp(out, in, 4) == 0, "decode takes either case");
    ok(&t, !hex_decode_lower("009FABff", 8, out), "decode_lower refuses upper case");
    ok(&t, hex_decode_lower("009fabff", 8, out) && memcmp(out, in, 4) == 0,
       "decode_lower takes lower case");
    ok(&t, !hex_decode("abc", 3, out), "odd length fails");
    ok(&t, !hex_decode("0g", 2, out), "a non-digit fails");
    ok(&t, !hex_decode("0 ", 2, out), "a space fails");
    is_int(&t, hex_digit('7'), 7, "digit 7");
    is_int(&t, hex_digit('F'), 15, "digit F");
    is_int(&t, hex_digit('f'), 15, "digit f");
    is_int(&t, hex_digit('g'), -1, "g is no digit");
    is_int(&t, hex_digit('\0'), -1, "NUL is no digit");
    for (int c = 0; c < 256; c++) {
        int want = (c >= '0' && c <= '9')   ? c - '0'
                   : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                   : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                            : -1;
        if (hex_digit((char)c) != want) {
            ok(&t, 0, "hex_digit(%d)", c);
            return tap_done(&t);
        }
    }
    ok(&t, 1, "hex_digit agrees with the grammar on all 256 bytes");
    return tap_done(&t);
}
