/* SPDX-License-Identifier: Apache-2.0 */
#include "extension/flushgate.h"

#include <stdio.h>
#include <string.h>

const char *const flush_mode_names[] = {"invoke", "end", "adaptive", NULL};

void flushgate_init(struct flushgate *g, enum flush_mode mode, uint64_t max_flush_ms)
{
    memset(g, 0, sizeof(*g));
    g->mode = mode;
    g->max_flush_ms = max_flush_ms;
}

/* Adaptive: counts back-to-back INVOKEs; reports a switch of the effective mode. */
static unsigned adapt(struct flushgate *g, uint64_t now)
{
    bool fast = g->flags & GATE_ADAPTIVE_FAST;

    if (g->last_invoke_at && now - g->last_invoke_at < FLUSHGATE_ADAPTIVE_FAST_MS)
        g->fast_streak++;
    else
        g->fast_streak = 0;
    if (!fast && g->fast_streak >= FLUSHGATE_ADAPTIVE_FAST_COUNT) {
        g->flags |= GATE_ADAPTIVE_FAST;
        return GATE_NOW_FAST;
    }
    if (fast && g->fast_streak == 0) {
        g->flags &= ~(unsigned)GATE_ADAPTIVE_FAST;
        return GATE_NOW_RARE;
    }
    return 0;
}

static bool invoke_mode(const struct flushgate *g)
{
    return g->mode == FLUSH_INVOKE ||
           (g->mode == FLUSH_ADAPTIVE && (g->flags & GATE_ADAPTIVE_FAST));
}

unsigned flushgate_invoke(struct flushgate *g, const char *rid, uint64_t now,
                          uint64_t fn_deadline_at)
{
    unsigned out = g->mode == FLUSH_ADAPTIVE ? adapt(g, now) : 0;

    snprintf(g->rid, sizeof(g->rid), "%s", rid);
    g->invoke_at = now;
    g->fn_deadline_at = fn_deadline_at;
    g->last_invoke_at = now;
    g->flags &= GATE_ADAPTIVE_FAST;
    if (invoke_mode(g)) {
        g->flags |= GATE_INVOKE_MODE | GATE_FLUSH_STARTED;
        out |= GATE_DO_FLUSH;
    }
    return out;
}

void flushgate_ended(struct flushgate *g, const char *rid)
{
    snprintf(g->last_ended, sizeof(g->last_ended), "%s", rid);
}

bool flushgate_rid_ended(const struct flushgate *g)
{
    return strcmp(g->last_ended, g->rid) == 0;
}

static void wake_by(uint64_t *wake, uint64_t at)
{
    if (at < *wake)
        *wake = at;
}

/* Has the current invocation ended, as far as flushing is concerned? */
static void settle(struct flushgate *g, uint64_t now, const struct flushgate_facts *f,
                   uint64_t *wake)
{
    uint64_t grace = g->invoke_at + FLUSHGATE_BYPASS_GRACE_MS;
    bool seen = f->seen_at_proxy || flushgate_rid_ended(g);

    if (g->flags & GATE_SETTLED)
        return;
    if (flushgate_rid_ended(g) || !f->have_proxy || now >= g->fn_deadline_at ||
        (!seen && now >= grace)) {
        g->flags |= GATE_SETTLED;
        g->settled_at = now;
        return;
    }
    if (!seen)
        wake_by(wake, grace);
    wake_by(wake, g->fn_deadline_at);
}

/* How long /event/next may wait for an export once the invocation settled: max_flush_ms, but
 * never into the function's deadline. */
static uint64_t hold_limit(const struct flushgate *g)
{
    uint64_t end = g->settled_at + g->max_flush_ms;
    uint64_t last = g->fn_deadline_at > FLUSHGATE_DEADLINE_MARGIN_MS
                        ? g->fn_deadline_at - FLUSHGATE_DEADLINE_MARGIN_MS
                        : 0;

    if (last < g->settled_at)
        last = g->settled_at;
    return end < last ? end : last;
}

struct flushgate_verdict flushgate_check(struct flushgate *g, uint64_t now,
                                         const struct flushgate_facts *f)
{
    struct flushgate_verdict v = {0, UINT64_MAX};
    bool settled, ready;
    uint64_t budget_end;

    settle(g, now, f, &v.wake_at);
    settled = g->flags & GATE_SETTLED;
    budget_end = hold_limit(g);
    if (settled && !(g->flags & GATE_FLUSH_STARTED)) {
        g->flags |= GATE_FLUSH_STARTED;
        v.actions |= GATE_DO_FLUSH;
    }
    if (g->flags & GATE_INVOKE_MODE)
        ready = !f->export_waits || (settled && now >= budget_end);
    else
        ready = settled && (!f->export_waits || now >= budget_end);
    if (ready) {
        v.actions |= GATE_DO_NEXT;
        v.wake_at = UINT64_MAX;
    } else if (settled) {
        wake_by(&v.wake_at, budget_end);
    }
    return v;
}
