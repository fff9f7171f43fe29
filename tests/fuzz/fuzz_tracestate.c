/* SPDX-License-Identifier: Apache-2.0 */
/* tracestate_sanitize on arbitrary bytes: output is bounded, safe to put in JSON and headers,
 * and a fixed point of the sanitizer. */
#include <string.h>

#include "extension/base/base.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[TRACESTATE_MAX + 1];
    char again[TRACESTATE_MAX + 1];
    size_t n;

    if (!tracestate_sanitize((const char *)data, size, out, sizeof(out))) {
        FUZZ_ASSERT(out[0] == '\0');
        return 0;
    }
    n = strlen(out);
    FUZZ_ASSERT(n <= TRACESTATE_MAX);
    for (size_t i = 0; i < n; i++)
        FUZZ_ASSERT(out[i] >= 0x20 && out[i] <= 0x7e && out[i] != '"' && out[i] != '\\');
    FUZZ_ASSERT(tracestate_sanitize(out, n, again, sizeof(again)));
    FUZZ_ASSERT(strcmp(out, again) == 0);
    return 0;
}
