/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_receiver: arbitrary bytes as the request stream of one OTLP receiver connection
 * (rx_session, no sockets). The first byte picks the size of the pieces the stream is fed in,
 * so request boundaries fall everywhere. Invariants: every answer is an HTTP/1.1 response, the
 * span buffer only ever holds bytes that decode as ExportTraceServiceRequests with the counted
 * spans, and the shared body budget returns to zero. */
#include "extension/otlp/otlp.h"
#include "extension/receiver/internal.h"
#include "tests/fuzz/fuzz_common.h"

#define FUZZ_MAX_REQUEST (256 * 1024)

static void drain(struct rx_session *s, struct buf *all)
{
    char *o;
    size_t n;

    while ((o = rx_session_take_output(s, &n)) != NULL) {
        FUZZ_ASSERT(n >= 12 && memcmp(o, "HTTP/1.1 ", 9) == 0);
        FUZZ_ASSERT(buf_append(all, o, n) == 0);
        free(o);
        rx_session_resume(s);
    }
}

static void check_buffer(struct spanbuf *sb)
{
    struct buf b;
    size_t spans = 0;
    uint64_t seq = 0;

    buf_init(&b, 64 << 20);
    spanbuf_peek(sb, SIZE_MAX, &b, &spans, &seq);
    FUZZ_ASSERT(otlp_count_spans(b.data ? b.data : "", b.len) == (long)spans);
    buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rx_ctx ctx;
    struct rx_session s;
    struct buf all;
    size_t step;
    size_t off;

    if (size < 1)
        return 0;
    step = (size_t)data[0] % 64 == 0 ? size : (size_t)data[0] % 64;
    data++;
    size--;
    memset(&ctx, 0, sizeof(ctx));
    ctx.sb = spanbuf_new(100000, 16 << 20);
    ctx.max_request_bytes = FUZZ_MAX_REQUEST;
    ctx.body_budget = 2 * FUZZ_MAX_REQUEST;
    buf_init(&all, 64 << 20);
    rx_session_init(&s, &ctx);
    for (off = 0; off < size && !rx_session_closing(&s); off += step) {
        rx_session_feed(&s, (const char *)data + off, size - off < step ? size - off : step);
        drain(&s, &all);
    }
    rx_session_eof(&s);
    drain(&s, &all);
    rx_session_free(&s);
    FUZZ_ASSERT(ctx.body_in_use == 0);
    FUZZ_ASSERT(ctx.stats.bad_requests <= ctx.stats.requests);
    check_buffer(ctx.sb);
    spanbuf_free(ctx.sb);
    buf_free(&all);
    return 0;
}
