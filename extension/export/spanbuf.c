/* SPDX-License-Identifier: Apache-2.0 */
#include "extension/export/export.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* One pushed payload, linked oldest first in spanbuf.entries; the payload follows the header
 * in the same allocation, so a push is one malloc and one memcpy. */
struct entry {
    struct tb_list link;
    uint64_t seq;
    size_t len;
    size_t n_spans;
    unsigned char data[];
};

struct spanbuf {
    struct tb_list entries; /* oldest first */
    size_t max_spans;
    size_t max_bytes;
    size_t spans;
    size_t bytes;
    size_t dropped; /* since the last spanbuf_take_dropped */
    uint64_t next_seq;
};

struct spanbuf *spanbuf_new(size_t max_spans, size_t max_bytes)
{
    struct spanbuf *sb = calloc(1, sizeof(*sb));

    if (!sb)
        return NULL;
    tb_list_init(&sb->entries);
    sb->max_spans = max_spans;
    sb->max_bytes = max_bytes;
    sb->next_seq = 1;
    return sb;
}

/* The oldest entry, or NULL. */
static struct entry *oldest(const struct spanbuf *sb)
{
    return tb_list_empty(&sb->entries) ? NULL : tb_list_entry(sb->entries.next, struct entry, link);
}

static void drop_oldest(struct spanbuf *sb)
{
    struct entry *e = oldest(sb);

    tb_list_remove(&e->link);
    sb->spans -= e->n_spans;
    sb->bytes -= e->len;
    free(e);
}

void spanbuf_free(struct spanbuf *sb)
{
    if (!sb)
        return;
    while (oldest(sb))
        drop_oldest(sb);
    free(sb);
}

static bool fits(const struct spanbuf *sb, size_t len, size_t n_spans)
{
    return sb->bytes + len <= sb->max_bytes && sb->spans + n_spans <= sb->max_spans;
}

size_t spanbuf_push(struct spanbuf *sb, const void *data, size_t len, size_t n_spans)
{
    size_t dropped = 0;
    struct entry *e;

    /* Larger than the whole buffer: keeping it would mean dropping everything else. */
    if (len > sb->max_bytes || n_spans > sb->max_spans) {
        sb->dropped += n_spans;
        return n_spans;
    }
    while (oldest(sb) && !fits(sb, len, n_spans)) {
        dropped += oldest(sb)->n_spans;
        drop_oldest(sb);
    }
    e = malloc(sizeof(*e) + len);
    if (!e) {
        /* Out of memory counts as a drop of the new spans: a push never fails. */
        sb->dropped += dropped + n_spans;
        return dropped + n_spans;
    }
    e->seq = sb->next_seq++;
    e->len = len;
    e->n_spans = n_spans;
    memcpy(e->data, data, len);
    tb_list_insert_tail(&sb->entries, &e->link);
    sb->spans += n_spans;
    sb->bytes += len;
    sb->dropped += dropped;
    return dropped;
}

size_t spanbuf_peek(struct spanbuf *sb, size_t max_bytes, struct buf *out, size_t *n_spans,
                    uint64_t *last_seq)
{
    size_t taken = 0;
    size_t bytes = 0;
    const struct tb_list *it;

    *n_spans = 0;
    *last_seq = 0;
    tb_list_foreach(it, &sb->entries) {
        const struct entry *e = tb_list_entry(it, const struct entry, link);
        if (taken > 0 && bytes + e->len > max_bytes)
            break;
        if (buf_append(out, e->data, e->len) < 0)
            break;
        bytes += e->len;
        *n_spans += e->n_spans;
        *last_seq = e->seq;
        taken++;
    }
    return taken;
}

void spanbuf_commit(struct spanbuf *sb, uint64_t last_seq)
{
    while (oldest(sb) && oldest(sb)->seq <= last_seq)
        drop_oldest(sb);
}

size_t spanbuf_spans(const struct spanbuf *sb)
{
    return sb->spans;
}

size_t spanbuf_bytes(const struct spanbuf *sb)
{
    return sb->bytes;
}

size_t spanbuf_take_dropped(struct spanbuf *sb)
{
    size_t n = sb->dropped;

    sb->dropped = 0;
    return n;
}

int spanbuf_push_span(struct spanbuf *sb, const struct otlp_resource *res, const struct span *s)
{
    struct buf out;
    int rc;

    buf_init(&out, SPANBUF_SPAN_MAX);
    rc = otlp_encode_span(res, s, &out);
    if (rc == 0)
        spanbuf_push(sb, out.data, out.len, 1);
    buf_free(&out);
    return rc;
}
