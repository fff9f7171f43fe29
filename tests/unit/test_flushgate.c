/* SPDX-License-Identifier: Apache-2.0 */
/* The /event/next gate, driven by a fake clock: each flush mode, the bypass grace, the deadline,
 * the budget, a backend that stops answering quickly, and the adaptive switch. */
#include "extension/flushgate.c"

#include "tests/lib/tap.h"

static const struct flushgate_facts seen_idle = {.have_proxy = true, .seen_at_proxy = true};
static const struct flushgate_facts seen_busy = {
    .have_proxy = true, .seen_at_proxy = true, .export_waits = true};
static const struct flushgate_facts unseen = {.have_proxy = true};

static void test_invoke_mode(struct tap *t)
{
    struct flushgate g;
    struct flushgate_verdict v;

    flushgate_init(&g, FLUSH_INVOKE, 200);
    is_int(t, flushgate_invoke(&g, "r1", 1000, 4000), GATE_DO_FLUSH,
           "invoke: flush starts at INVOKE");
    v = flushgate_check(&g, 1001, &seen_busy);
    ok(t, !(v.actions & GATE_DO_NEXT), "invoke: a running quick export holds /event/next");
    is_int(t, v.wake_at, 4000, "invoke: wakes at the function deadline at the latest");
    v = flushgate_check(&g, 1002, &seen_idle);
    is_int(t, v.actions, GATE_DO_NEXT, "invoke: export finished -> /event/next, no second flush");
    flushgate_invoke(&g, "r2", 2000, 5000);
    flushgate_ended(&g, "r2");
    v = flushgate_check(&g, 2100, &seen_busy);
    ok(t, !(v.actions & GATE_DO_NEXT), "invoke: ended, export running, inside the budget: wait");
    is_int(t, v.wake_at, 2300, "invoke: wakes when the budget after the end is spent");
    v = flushgate_check(&g, 2300, &seen_busy);
    is_int(t, v.actions, GATE_DO_NEXT, "invoke: budget spent -> /event/next");
}

static void test_end_mode(struct tap *t)
{
    struct flushgate g;
    struct flushgate_verdict v;

    flushgate_init(&g, FLUSH_END, 200);
    is_int(t, flushgate_invoke(&g, "r1", 1000, 9000), 0, "end: no flush at INVOKE");
    v = flushgate_check(&g, 1010, &seen_idle);
    is_int(t, v.actions, 0, "end: running invocation: nothing to do");
    is_int(t, v.wake_at, 9000, "end: wakes at the deadline");
    flushgate_ended(&g, "r1");
    v = flushgate_check(&g, 1500, &seen_idle);
    is_int(t, v.actions, GATE_DO_FLUSH | GATE_DO_NEXT,
           "end: ended with an idle exporter: flush asked, next");
    flushgate_invoke(&g, "r2", 2000, 9000);
    flushgate_ended(&g, "r2");
    v = flushgate_check(&g, 2050, &seen_idle);
    ok(t, v.actions & GATE_DO_FLUSH, "end: the flush is asked once per invocation");
    v = flushgate_check(&g, 2050, &seen_busy);
    is_int(t, v.actions, 0, "end: the flush it started runs: wait, not asked again");
    is_int(t, v.wake_at, 2250, "end: wakes at the end of the budget");
    v = flushgate_check(&g, 2250, &seen_busy);
    is_int(t, v.actions, GATE_DO_NEXT, "end: budget spent -> /event/next");
    flushgate_invoke(&g, "r3", 3000, 9000);
    flushgate_ended(&g, "r3");
    flushgate_check(&g, 3001, &seen_idle);
    v = flushgate_check(&g, 3001, &seen_idle);
    is_int(t, v.actions, GATE_DO_NEXT, "end: a slow or down backend (no waits fact) holds nothing");
}

static void test_bypass_and_deadline(struct tap *t)
{
    struct flushgate g;
    struct flushgate_verdict v;
    struct flushgate_facts noproxy = {0};

    flushgate_init(&g, FLUSH_END, 200);
    flushgate_invoke(&g, "r1", 1000, 9000);
    v = flushgate_check(&g, 1100, &unseen);
    is_int(t, v.wake_at, 1000 + FLUSHGATE_BYPASS_GRACE_MS,
           "unseen by the proxy: wakes at the grace end");
    v = flushgate_check(&g, 1000 + FLUSHGATE_BYPASS_GRACE_MS, &unseen);
    ok(t, v.actions & GATE_DO_NEXT, "unseen after the grace: presumed to bypass, settled");
    flushgate_invoke(&g, "r2", 2000, 9000);
    v = flushgate_check(&g, 2000, &noproxy);
    ok(t, v.actions & GATE_DO_NEXT, "no proxy: settled at once");
    flushgate_invoke(&g, "r3", 3000, 3500);
    v = flushgate_check(&g, 3100, &seen_idle);
    is_int(t, v.wake_at, 3500, "running: wakes at the deadline");
    v = flushgate_check(&g, 3500, &seen_idle);
    ok(t, v.actions & GATE_DO_NEXT, "deadline passed without a response: settled (timeout)");
    flushgate_invoke(&g, "r4", 4000, 9000);
    flushgate_ended(&g, "r3");
    ok(t, !flushgate_rid_ended(&g),
       "the end of an earlier request id does not settle the current one");
}

static void test_adaptive(struct tap *t)
{
    struct flushgate g;
    unsigned r = 0;
    uint64_t now = 1000;
    int i;

    flushgate_init(&g, FLUSH_ADAPTIVE, 200);
    is_int(t, flushgate_invoke(&g, "a", now, now + 900), 0, "adaptive: starts in end mode");
    for (i = 0; i < FLUSHGATE_ADAPTIVE_FAST_COUNT; i++) {
        now += FLUSHGATE_ADAPTIVE_FAST_MS - 1;
        r = flushgate_invoke(&g, "b", now, now + 900);
        if (i < FLUSHGATE_ADAPTIVE_FAST_COUNT - 1)
            ok(t, !(r & GATE_DO_FLUSH), "adaptive: %d fast gap(s) do not switch yet", i + 1);
    }
    is_int(t, r, GATE_DO_FLUSH | GATE_NOW_FAST,
           "adaptive: back to back -> flush at INVOKE, reported once");
    now += FLUSHGATE_ADAPTIVE_FAST_MS - 1;
    is_int(t, flushgate_invoke(&g, "c", now, now + 900), GATE_DO_FLUSH,
           "adaptive: stays in invoke mode");
    now += FLUSHGATE_ADAPTIVE_FAST_MS;
    is_int(t, flushgate_invoke(&g, "d", now, now + 900), GATE_NOW_RARE,
           "adaptive: one slow gap switches back");
}

/* A large flush budget never holds /event/next into the function's deadline: Lambda would
 * record a timeout for an invocation that answered. */
static void test_budget_vs_deadline(struct tap *t)
{
    struct flushgate g;
    struct flushgate_verdict v;

    flushgate_init(&g, FLUSH_END, 60000);
    flushgate_invoke(&g, "d1", 1000, 1700);
    flushgate_ended(&g, "d1");
    v = flushgate_check(&g, 1100, &seen_busy);
    ok(t, !(v.actions & GATE_DO_NEXT), "deadline: a quick export is waited for...");
    is_int(t, v.wake_at, 1700 - FLUSHGATE_DEADLINE_MARGIN_MS,
           "deadline: ... only until just before the deadline, not 60 s");
    v = flushgate_check(&g, 1700 - FLUSHGATE_DEADLINE_MARGIN_MS, &seen_busy);
    is_int(t, v.actions, GATE_DO_NEXT, "deadline: then /event/next");
    flushgate_invoke(&g, "d2", 2000, 2030);
    flushgate_ended(&g, "d2");
    v = flushgate_check(&g, 2010, &seen_busy);
    ok(t, v.actions & GATE_DO_NEXT, "deadline: ended inside the margin: /event/next at once");
}

int main(void)
{
    struct tap t = TAP_INIT;

    test_invoke_mode(&t);
    test_end_mode(&t);
    test_bypass_and_deadline(&t);
    test_adaptive(&t);
    test_budget_vs_deadline(&t);
    return tap_done(&t);
}
