/* SPDX-License-Identifier: Apache-2.0 */
/* traceparent_parse on arbitrary bytes: a valid value round-trips through the formatter. */
#include <string.h>

#include "extension/base/base.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct trace_ctx c;
    struct trace_ctx c2;
    char out[TRACEPARENT_LEN + 1];

    if (!traceparent_parse((const char *)data, size, &c))
        return 0;
    FUZZ_ASSERT(!trace_id_is_zero(c.trace_id) && !span_id_is_zero(c.span_id));
    traceparent_format(&c, out);
    FUZZ_ASSERT(strlen(out) == TRACEPARENT_LEN);
    FUZZ_ASSERT(strspn(out, "0123456789abcdef-") == TRACEPARENT_LEN);
    FUZZ_ASSERT(traceparent_parse(out, TRACEPARENT_LEN, &c2));
    FUZZ_ASSERT(memcmp(&c, &c2, sizeof(c)) == 0);
    if (size == TRACEPARENT_LEN && data[0] == '0' && data[1] == '0')
        FUZZ_ASSERT(memcmp(out, data, size) == 0);
    return 0;
}
