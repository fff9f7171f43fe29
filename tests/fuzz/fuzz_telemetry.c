/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_telemetry: arbitrary bytes as a Telemetry API batch (the body Lambda POSTs to the
 * listener), then through the facts, and as the HTTP request carrying it.
 * Invariants: the parser answers 0 or -EBADMSG and is deterministic; a well-formed batch counts
 * every element exactly once; every event handed on has a type we use, NUL-terminated strings,
 * a request id where its type needs one, finite non-negative metrics; the facts, fed those
 * events and a span, hold at most what they were given and release everything at ALL; the
 * listener session answers every complete request. */
// fuzz-deps: extension/telemetry/parse.c extension/telemetry/jread.c extension/telemetry/facts.c
// fuzz-deps: extension/telemetry/session.c extension/spans/span.c extension/spans/ids.c
#include <errno.h>
#include <math.h>

#include "extension/telemetry/internal.h"
#include "extension/telemetry/telemetry.h"
#include "tests/fuzz/fuzz_common.h"

static void check_str(const char *s, size_t cap)
{
    FUZZ_ASSERT(memchr(s, '\0', cap) != NULL);
}

static void check_event(const struct tm_event *e)
{
    FUZZ_ASSERT(e->type > TM_UNKNOWN && e->type <= TM_LOGS_DROPPED);
    FUZZ_ASSERT(e->type != TM_EXTENSION && e->type != TM_SUBSCRIPTION);
    FUZZ_ASSERT(e->status >= TM_ST_NONE && e->status <= TM_ST_FAILURE);
    check_str(e->request_id, sizeof(e->request_id));
    check_str(e->tenant_id, sizeof(e->tenant_id));
    check_str(e->error_type, sizeof(e->error_type));
    check_str(e->phase, sizeof(e->phase));
    check_str(e->init_type, sizeof(e->init_type));
    check_str(e->runtime_version, sizeof(e->runtime_version));
    check_str(e->runtime_version_arn, sizeof(e->runtime_version_arn));
    check_str(e->version, sizeof(e->version));
    if (e->type == TM_START || e->type == TM_RUNTIME_DONE || e->type == TM_REPORT)
        FUZZ_ASSERT(e->request_id[0] != '\0');
    if (e->type == TM_REPORT || e->type == TM_INIT_REPORT)
        FUZZ_ASSERT(e->have & TM_HAVE_DURATION);
    for (const double *d = &e->duration_ms; d <= &e->restore_ms; d++)
        FUZZ_ASSERT(isfinite(*d) && *d >= 0);
    FUZZ_ASSERT(e->max_memory_mb >= 0 && e->memory_mb >= 0 && e->produced_bytes >= 0);
}

struct run {
    struct tm_facts *f;
    unsigned events;
};

static void on_event(void *arg, const struct tm_event *e)
{
    struct run *r = arg;

    check_event(e);
    r->events++;
    if (r->f)
        tm_facts_event(r->f, e, r->events);
}

static void on_ready(void *arg, struct span *s)
{
    (*(unsigned *)arg)++;
    (void)s;
}

static void on_batch(void *arg, const char *body, size_t len)
{
    (*(unsigned *)arg)++;
    (void)body;
    (void)len;
}

static void facts_round(const uint8_t *data, size_t size)
{
    static struct tm_event scratch;
    struct tm_parse_stats st;
    struct ids ids;
    unsigned released = 0;
    struct tm_facts_hooks h = {.arg = &released, .span_ready = on_ready};
    struct run r = {0};
    struct span s;

    ids_init(&ids);
    r.f = tm_facts_new(&ids, &h, NULL);
    FUZZ_ASSERT(r.f);
    /* A span before and after the events, with request ids the events may name. */
    span_init(&s);
    (void)attr_list_add_str(&s.attrs, "faas.invocation_id", "r-1");
    tm_facts_span(r.f, &s, 0);
    (void)tm_parse_batch((const char *)data, size, &scratch, on_event, &r, &st);
    span_init(&s);
    (void)attr_list_add_str(&s.attrs, "faas.invocation_id", "r-2");
    s.start_ns = UINT64_MAX / 2;
    tm_facts_span(r.f, &s, 1);
    FUZZ_ASSERT(tm_facts_waiting(r.f) <= 2);
    tm_facts_point(r.f, TM_POINT_SETTLED, true, 2);
    tm_facts_point(r.f, TM_POINT_ALL, false, 3);
    FUZZ_ASSERT(tm_facts_waiting(r.f) == 0);
    FUZZ_ASSERT(released >= 2 && released <= 4); /* two spans, at most an init and a restore */
    tm_facts_free(r.f);
}

static void session_round(const uint8_t *data, size_t size)
{
    struct tm_session s;
    unsigned batches = 0;
    size_t n = 0;
    char *out;

    tms_init(&s, on_batch, &batches);
    tms_feed(&s, (const char *)data, size);
    out = tms_take_output(&s, &n);
    FUZZ_ASSERT(batches == 0 || (out && memcmp(out, "HTTP/1.1 ", 9) == 0));
    free(out);
    tms_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct tm_event scratch;
    struct tm_parse_stats a, b;
    struct run r1 = {0}, r2 = {0};
    int rc1 = tm_parse_batch((const char *)data, size, &scratch, on_event, &r1, &a);
    int rc2 = tm_parse_batch((const char *)data, size, &scratch, on_event, &r2, &b);

    FUZZ_ASSERT(rc1 == 0 || rc1 == -EBADMSG);
    FUZZ_ASSERT(rc1 == rc2 && r1.events == r2.events);
    FUZZ_ASSERT(a.events == b.events && a.used == b.used && a.malformed == b.malformed);
    FUZZ_ASSERT(a.used == r1.events);
    if (rc1 == 0)
        FUZZ_ASSERT(a.used + a.ignored + a.unknown + a.malformed == a.events);
    else
        FUZZ_ASSERT(a.used + a.ignored + a.unknown + a.malformed <= a.events);
    check_str(a.problem, sizeof(a.problem));
    facts_round(data, size);
    session_round(data, size);
    return 0;
}
