/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_batch_failures: arbitrary bytes as a batch handler's /response body, read for its
 * partial failures ({"batchItemFailures":[{"itemIdentifier":..}]}) on a span with three record
 * links. Invariants: the answer is >= 0; a count > 0 is on the span as
 * tracebridge.batch.failed_count with status ERROR, and 0 changes neither; only record links
 * get marked, each at most once. */
#include <stdbool.h>

#include "extension/base/base.h"
#include "extension/spans/spans.h"
#include "tests/fuzz/fuzz_common.h"

static void add_record_link(struct span *s, const char *id, uint8_t tag)
{
    struct trace_ctx c = {.flags = 1};
    struct span_link *l;

    memset(c.trace_id, tag, 16);
    memset(c.span_id, tag, 8);
    l = span_add_link(s, &c, NULL);
    FUZZ_ASSERT(l && attr_list_add_str(&l->attrs, "messaging.message.id", id) == 0);
}

static size_t count_key(const struct attr_list *l, const char *key)
{
    size_t n = 0;

    for (size_t i = 0; i < l->len; i++)
        n += strcmp(l->items[i].key, key) == 0;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct span s;
    const struct attr *a;
    int rc;

    span_init(&s);
    add_record_link(&s, "m-1", 1);
    add_record_link(&s, "m-2", 2);
    add_record_link(&s, "49590338271490256608559692538361571095921575989136588898", 3);
    rc = invspan_mark_failures(&s, (const char *)data, size, 3);
    FUZZ_ASSERT(rc >= 0);
    a = attr_list_find(&s.attrs, "tracebridge.batch.failed_count");
    if (rc > 0) {
        FUZZ_ASSERT(a && a->type == ATTR_INT && a->v.i == rc);
        FUZZ_ASSERT(s.status == SPAN_STATUS_ERROR && s.status_message);
    } else {
        FUZZ_ASSERT(!a && s.status != SPAN_STATUS_ERROR);
    }
    for (size_t i = 0; i < s.n_links; i++)
        FUZZ_ASSERT(count_key(&s.links[i].attrs, "tracebridge.message.failed") <= 1);
    span_free(&s);
    return 0;
}
