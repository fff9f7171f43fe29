/* SPDX-License-Identifier: Apache-2.0 */
/* xray_parse / xray_rewrite on arbitrary bytes: a rewritten header never carries unsafe bytes
 * and parses back to exactly the context written into it. */
#include <string.h>

#include "extension/base/base.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct trace_ctx c;
    struct trace_ctx w = {
        {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, {1, 2, 3, 4, 5, 6, 7, 8}, 1};
    struct trace_ctx back;
    char out[XRAY_HEADER_MAX * 2];
    size_t n;

    if (xray_parse((const char *)data, size, &c))
        FUZZ_ASSERT(!trace_id_is_zero(c.trace_id) && !span_id_is_zero(c.span_id));
    if (!xray_rewrite((const char *)data, size, &w, out, sizeof(out)))
        return 0;
    n = strlen(out);
    for (size_t i = 0; i < n; i++)
        FUZZ_ASSERT(out[i] >= 0x20 && out[i] <= 0x7e && out[i] != '"' && out[i] != '\\');
    FUZZ_ASSERT(xray_parse(out, n, &back));
    FUZZ_ASSERT(memcmp(&back, &w, sizeof(w)) == 0);
    return 0;
}
