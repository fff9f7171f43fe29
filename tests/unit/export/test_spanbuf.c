/* SPDX-License-Identifier: Apache-2.0 */
/* spanbuf and span: the bounded FIFO (limits, drop-oldest accounting, peek/commit with drops in
 * between) and the span model's ownership rules (checked for leaks by the ASan build). */
#include <stdlib.h>
#include <string.h>

#include "extension/spans/spans.h"
#include "extension/export/export.h"
#include "tests/lib/tap.h"

static void push_str(struct spanbuf *sb, const char *s, size_t spans, size_t *dropped)
{
    *dropped = spanbuf_push(sb, s, strlen(s), spans);
}

static void test_limits(struct tap *t)
{
    struct spanbuf *sb = spanbuf_new(5, 100);
    size_t d;

    push_str(sb, "aaaa", 2, &d);
    is_int(t, d, 0, "first push drops nothing");
    push_str(sb, "bbbb", 2, &d);
    is_int(t, spanbuf_spans(sb), 4, "spans counted");
    is_int(t, spanbuf_bytes(sb), 8, "bytes counted");
    push_str(sb, "cccc", 2, &d);
    is_int(t, d, 2, "span limit drops the oldest entry");
    is_int(t, spanbuf_spans(sb), 4, "spans after drop");
    push_str(sb, "too many spans", 6, &d);
    is_int(t, d, 6, "an entry over the span limit is itself dropped");
    is_int(t, spanbuf_spans(sb), 4, "the rest is untouched");
    is_int(t, spanbuf_take_dropped(sb), 8, "drop counter accumulates");
    is_int(t, spanbuf_take_dropped(sb), 0, "and resets when taken");
    spanbuf_free(sb);

    sb = spanbuf_new(1000, 10);
    push_str(sb, "12345", 1, &d);
    push_str(sb, "67890", 1, &d);
    push_str(sb, "x", 1, &d);
    is_int(t, d, 1, "byte limit drops the oldest");
    is_int(t, spanbuf_bytes(sb), 6, "bytes within the limit");
    push_str(sb, "01234567890", 1, &d);
    is_int(t, d, 1, "an entry over the byte limit is dropped");
    spanbuf_free(sb);
}

static void test_peek_commit(struct tap *t)
{
    struct spanbuf *sb = spanbuf_new(100, 100);
    struct buf out;
    size_t n_spans, d;
    uint64_t seq;

    buf_init(&out, 1 << 20);
    is_int(t, spanbuf_peek(sb, 10, &out, &n_spans, &seq), 0, "peek on empty takes nothing");
    push_str(sb, "aaa", 1, &d);
    push_str(sb, "bbb", 2, &d);
    push_str(sb, "ccc", 3, &d);
    is_int(t, spanbuf_peek(sb, 6, &out, &n_spans, &seq), 2, "peek up to max_bytes");
    is_str(t, out.data, "aaabbb", "payloads concatenated in order");
    is_int(t, n_spans, 3, "span count of the peeked entries");
    is_int(t, spanbuf_spans(sb), 6, "peek removes nothing");
    spanbuf_commit(sb, seq);
    is_int(t, spanbuf_spans(sb), 3, "commit removes what was peeked");
    buf_reset(&out);
    is_int(t, spanbuf_peek(sb, 1, &out, &n_spans, &seq), 1, "at least one entry even if large");
    is_str(t, out.data, "ccc", "remaining entry");
    spanbuf_free(sb);

    /* Entries dropped for room while an export is in flight: commit must not remove newer
     * entries that were never sent. */
    sb = spanbuf_new(3, 1000);
    push_str(sb, "a", 1, &d);
    push_str(sb, "b", 1, &d);
    buf_reset(&out);
    spanbuf_peek(sb, 100, &out, &n_spans, &seq);
    push_str(sb, "c", 1, &d);
    push_str(sb, "d", 1, &d);
    is_int(t, d, 1, "oldest dropped while exporting");
    spanbuf_commit(sb, seq);
    buf_reset(&out);
    spanbuf_peek(sb, 100, &out, &n_spans, &seq);
    is_str(t, out.data, "cd", "unsent entries survive the commit");
    buf_free(&out);
    spanbuf_free(sb);
}

static void test_peek_out_limit(struct tap *t)
{
    struct spanbuf *sb = spanbuf_new(100, 100);
    struct buf out;
    size_t n_spans, d;
    uint64_t seq;

    buf_init(&out, 4);
    push_str(sb, "abc", 1, &d);
    push_str(sb, "def", 1, &d);
    is_int(t, spanbuf_peek(sb, 100, &out, &n_spans, &seq), 1, "stops at the out buffer's max");
    is_int(t, n_spans, 1, "count matches what was copied");
    buf_free(&out);
    spanbuf_free(sb);
}

static void test_span(struct tap *t)
{
    struct span s;
    struct trace_ctx c = {{1}, {2}, 1};
    struct span_event *e;
    struct span_link *l;
    const struct attr *a;

    span_init(&s);
    ok(t, span_set_name(&s, "process orders") == 0 && strcmp(s.name, "process orders") == 0,
       "name copied");
    ok(t, attr_list_add_str(&s.attrs, "faas.trigger", "pubsub") == 0, "string attribute");
    ok(t, attr_list_add_strn(&s.attrs, "k", "abcdef", 3) == 0, "bounded string attribute");
    ok(t, attr_list_add_int(&s.attrs, "n", -5) == 0, "int attribute");
    ok(t, attr_list_add_double(&s.attrs, "d", 0.5) == 0, "double attribute");
    ok(t, attr_list_add_bool(&s.attrs, "faas.coldstart", true) == 0, "bool attribute");
    a = attr_list_find(&s.attrs, "k");
    ok(t, a && a->type == ATTR_STRING && strcmp(a->v.s, "abc") == 0, "find string by key");
    a = attr_list_find(&s.attrs, "n");
    ok(t, a && a->type == ATTR_INT && a->v.i == -5, "find int by key");
    ok(t, attr_list_find(&s.attrs, "missing") == NULL, "absent key");
    for (int i = 0; i < 130; i++) {
        l = span_add_link(&s, &c, i % 2 ? "v=1" : NULL);
        if (!l || attr_list_add_str(&l->attrs, "messaging.message.id", "m") < 0)
            break;
    }
    is_int(t, s.n_links, 130, "130 links");
    ok(t, s.links[1].tracestate && strcmp(s.links[1].tracestate, "v=1") == 0, "link tracestate");
    ok(t, s.links[0].tracestate == NULL, "no tracestate when none");
    e = span_add_event(&s, "exception", 42);
    ok(t, e && e->time_ns == 42 && attr_list_add_str(&e->attrs, "exception.type", "E") == 0,
       "event with attributes");
    ok(t, span_set_status(&s, SPAN_STATUS_ERROR, "boom") == 0 && s.status == SPAN_STATUS_ERROR,
       "status");
    ok(t, span_set_status(&s, SPAN_STATUS_ERROR, NULL) == 0 && s.status_message == NULL,
       "status message cleared");
    ok(t, span_now_ns() > 1600000000ull * 1000000000ull, "wall clock in ns");
    span_free(&s);
    ok(t, s.n_links == 0 && s.name == NULL, "span_free leaves an empty span");
}

int main(void)
{
    struct tap t = TAP_INIT;

    test_limits(&t);
    test_peek_commit(&t);
    test_peek_out_limit(&t);
    test_span(&t);
    return tap_done(&t);
}
