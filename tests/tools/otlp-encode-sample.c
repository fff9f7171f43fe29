/* SPDX-License-Identifier: Apache-2.0 */
/* otlp-encode-sample: writes the sample invocation span (tests/lib/otlp_sample.h) as one
 * serialized ExportTraceServiceRequest to stdout, for the real-decoder checks in
 * tests/e2e/otlp_decode.sh.   usage: otlp-encode-sample [--json]
 * --json writes tracebridge's own OTLP/JSON conversion of the same bytes instead. */
#include <stdio.h>
#include <string.h>

#include "extension/otlp/otlp.h"
#include "tests/lib/otlp_sample.h"

int main(int argc, char **argv)
{
    struct otlp_resource *r = sample_resource();
    struct buf pb;
    struct buf json;
    struct span s;
    const struct buf *out = &pb;
    int rc = -1;

    buf_init(&pb, 1u << 20);
    buf_init(&json, 1u << 20);
    span_init(&s);
    if (r && sample_span(&s) == 0 && otlp_encode_span(r, &s, &pb) == 0)
        rc = 0;
    if (rc == 0 && argc > 1 && strcmp(argv[1], "--json") == 0) {
        rc = otlp_protobuf_to_json(pb.data, pb.len, &json);
        out = &json;
    }
    if (rc == 0 && fwrite(out->data, 1, out->len, stdout) != out->len)
        rc = -1;
    span_free(&s);
    otlp_resource_free(r);
    buf_free(&pb);
    buf_free(&json);
    if (rc != 0)
        fprintf(stderr, "otlp-encode-sample: failed (%d)\n", rc);
    return rc == 0 ? 0 : 1;
}
