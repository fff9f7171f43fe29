/* SPDX-License-Identifier: Apache-2.0 */
/* baggage_sanitize on arbitrary bytes: output is bounded, safe in JSON, and re-validates. */
#include <string.h>

#include "extension/base/base.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char out[BAGGAGE_MAX + 1];
    static char again[BAGGAGE_MAX + 1];
    size_t n;

    if (!baggage_sanitize((const char *)data, size, out, sizeof(out)))
        return 0;
    n = strlen(out);
    FUZZ_ASSERT(n == size && n <= BAGGAGE_MAX);
    for (size_t i = 0; i < n; i++)
        FUZZ_ASSERT(out[i] >= 0x09 && out[i] <= 0x7e && out[i] != '"' && out[i] != '\\' &&
                    out[i] != '\r' && out[i] != '\n');
    FUZZ_ASSERT(baggage_sanitize(out, n, again, sizeof(again)));
    return 0;
}
