/* SPDX-License-Identifier: Apache-2.0 */
/* otlp-convert: runs one OTLP conversion on stdin and writes the result to stdout, so shell
 * tests can put tracebridge's converters next to a real decoder.
 *   otlp-convert pb2json | json2pb | count      (input at most 16 MiB) */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "extension/otlp/otlp.h"

#define MAX_IO (16u << 20)

static int read_all(struct buf *in)
{
    char chunk[65536];
    size_t n;

    while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
        if (buf_append(in, chunk, n) < 0)
            return -E2BIG;
    return ferror(stdin) ? -EIO : 0;
}

static int convert(const char *mode, const struct buf *in, struct buf *out)
{
    long n;

    if (strcmp(mode, "pb2json") == 0)
        return otlp_protobuf_to_json(in->data, in->len, out);
    if (strcmp(mode, "json2pb") == 0)
        return otlp_json_to_protobuf(in->data, in->len, out);
    if (strcmp(mode, "count") == 0) {
        n = otlp_count_spans(in->data, in->len);
        return n < 0 ? (int)n : buf_appendf(out, "%ld\n", n);
    }
    return -EINVAL;
}

int main(int argc, char **argv)
{
    struct buf in;
    struct buf out;
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: otlp-convert pb2json|json2pb|count < input > output\n");
        return 2;
    }
    buf_init(&in, MAX_IO);
    buf_init(&out, 4 * MAX_IO);
    rc = read_all(&in);
    if (rc == 0)
        rc = convert(argv[1], &in, &out);
    if (rc == 0 && fwrite(out.data, 1, out.len, stdout) != out.len)
        rc = -EIO;
    if (rc != 0)
        fprintf(stderr, "otlp-convert %s: %s\n", argv[1], strerror(-rc));
    buf_free(&in);
    buf_free(&out);
    return rc == 0 ? 0 : 1;
}
