/* SPDX-License-Identifier: Apache-2.0 */
/* SHA-256 against the FIPS 180-4 examples (NIST CSRC "SHA256.pdf": "abc", the 448-bit
 * two-block message), the empty message, a million 'a's, and pieces fed in odd sizes. */
#include <string.h>

#include "extension/base/base.h"
#include "tests/lib/tap.h"

static void digest_hex(const void *p, size_t n, char out[65])
{
    uint8_t d[SHA256_LEN];

    sha256(p, n, d);
    hex_encode(d, sizeof(d), out);
    out[64] = '\0';
}

static void vectors(struct tap *t)
{
    char h[65];

    digest_hex("abc", 3, h);
    is_str(t, h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "\"abc\"");
    digest_hex("", 0, h);
    is_str(t, h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "\"\"");
    digest_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, h);
    is_str(t, h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
           "448-bit message (two blocks of padding)");
}

static void pieces(struct tap *t)
{
    static char a[1000];
    struct sha256 s;
    uint8_t d[SHA256_LEN];
    char h[65];

    memset(a, 'a', sizeof(a));
    sha256_init(&s);
    for (int i = 0; i < 1000; i++)
        sha256_update(&s, a, sizeof(a));
    sha256_final(&s, d);
    hex_encode(d, sizeof(d), h);
    h[64] = '\0';
    is_str(t, h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
           "one million 'a' in 1000-byte pieces");
    sha256_init(&s);
    for (const char *p = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"; *p; p += 1)
        sha256_update(&s, p, 1);
    sha256_final(&s, d);
    hex_encode(d, sizeof(d), h);
    h[64] = '\0';
    is_str(t, h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
           "byte by byte");
}

int main(void)
{
    struct tap t = TAP_INIT;

    vectors(&t);
    pieces(&t);
    return tap_done(&t);
}
