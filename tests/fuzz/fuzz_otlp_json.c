/* SPDX-License-Identifier: Apache-2.0 */
/* otlp_json_to_protobuf on arbitrary text, then back. Invariants:
 *  - no crash, leak or unbounded recursion on any input; errors are -EBADMSG (or -E2BIG);
 *  - accepted JSON gives bytes that the strict walker accepts;
 *  - those bytes convert to JSON, and that JSON is a fixed point: converting it to protobuf and
 *    back gives the same text (the first pass normalises: invalid UTF-8 becomes U+FFFD, numbers
 *    take their shortest exact form). */
#include <errno.h>
#include <string.h>

#include "extension/otlp/otlp.h"
#include "tests/fuzz/fuzz_common.h"

#define MAX (64u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct buf pb;
    struct buf j1;
    struct buf pb2;
    struct buf j2;
    int rc;

    buf_init(&pb, MAX);
    buf_init(&j1, MAX);
    buf_init(&pb2, MAX);
    buf_init(&j2, MAX);
    rc = otlp_json_to_protobuf((const char *)data, size, &pb);
    FUZZ_ASSERT(rc == 0 || rc == -EBADMSG);
    if (rc == 0) {
        FUZZ_ASSERT(otlp_count_spans(pb.data, pb.len) >= 0);
        FUZZ_ASSERT(otlp_protobuf_to_json(pb.data, pb.len, &j1) == 0);
        FUZZ_ASSERT(otlp_json_to_protobuf(j1.data, j1.len, &pb2) == 0);
        FUZZ_ASSERT(otlp_protobuf_to_json(pb2.data, pb2.len, &j2) == 0);
        FUZZ_ASSERT(j1.len == j2.len && memcmp(j1.data, j2.data, j1.len) == 0);
    }
    buf_free(&pb);
    buf_free(&j1);
    buf_free(&pb2);
    buf_free(&j2);
    return 0;
}
