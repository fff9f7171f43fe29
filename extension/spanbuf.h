/* spanbuf: the bounded FIFO of encoded span payloads waiting for export. Each entry is one
 * serialized ExportTraceServiceRequest (see otlp.h) with its span count. When a push would pass
 * the span or byte limit, the oldest entries are dropped and counted; a push never blocks and
 * never fails for lack of room (an entry larger than the byte limit is itself dropped). */
#ifndef TB_SPANBUF_H
#define TB_SPANBUF_H

#include <stddef.h>
#include <stdint.h>

#include "extension/base/buf.h"

struct spanbuf;

struct spanbuf *spanbuf_new(size_t max_spans, size_t max_bytes);
void spanbuf_free(struct spanbuf *sb);

/* Copies the payload in. Returns the number of spans dropped to make room (0 normally). */
size_t spanbuf_push(struct spanbuf *sb, const void *data, size_t len, size_t n_spans);

/* Concatenates entries from the front into out, up to max_bytes of payload (at least one
 * entry when any exists), without removing them. Returns the number of entries taken, sets
 * *n_spans and *last_seq (the sequence number of the last entry taken). Once the export
 * succeeded, spanbuf_commit(sb, last_seq) removes every entry up to that sequence number that
 * is still there (entries dropped meanwhile for room are simply gone). */
size_t spanbuf_peek(struct spanbuf *sb, size_t max_bytes, struct buf *out, size_t *n_spans,
                    uint64_t *last_seq);
void spanbuf_commit(struct spanbuf *sb, uint64_t last_seq);

size_t spanbuf_spans(const struct spanbuf *sb);
size_t spanbuf_bytes(const struct spanbuf *sb);

/* Spans dropped since the last call; resets the counter. */
size_t spanbuf_take_dropped(struct spanbuf *sb);

#endif
