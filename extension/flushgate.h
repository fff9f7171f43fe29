/* SPDX-License-Identifier: Apache-2.0 */
/* flushgate: when the extension calls /event/next after an INVOKE (TRACEBRIDGE_FLUSH). Pure and
 * clock-injected: the daemon tells it what happened and what it sees now, and it answers what to
 * do (start the flush, call /event/next) and when to ask again.
 *
 *   invoke    the flush of what earlier invocations left starts at INVOKE and overlaps the
 *             handler; next is called once it finished, or at most max_flush_ms after the
 *             invocation ended;
 *   end       when the invocation ended (response/error at the proxy), the flush starts; next
 *             is called when it finished or max_flush_ms later, whichever is first;
 *   adaptive  end while invocations are rare, invoke once they come back to back.
 * The wait happens only while the backend answers quickly (the daemon's `export_waits` fact): a
 * backend that is down, refusing or slow would otherwise cost every invocation max_flush_ms.
 * Nor is /event/next ever held into the function's deadline (less FLUSHGATE_DEADLINE_MARGIN_MS):
 * a late /event/next would make Lambda record a timeout for an invocation that succeeded.
 * An invocation the proxy has not seen FLUSHGATE_BYPASS_GRACE_MS after its INVOKE is presumed to
 * bypass the proxy (runtime ignores the wrapper) and counts as ended for this purpose. */
#ifndef TB_FLUSHGATE_H
#define TB_FLUSHGATE_H

#include <stdbool.h>
#include <stdint.h>

#include "extension/lifecycle/lifecycle.h"

#define FLUSHGATE_BYPASS_GRACE_MS    500
#define FLUSHGATE_DEADLINE_MARGIN_MS 50
/* Adaptive flush. Flushing at INVOKE saves each invocation the export time after its response,
 * but holds an invocation's spans until the next INVOKE: fine when that comes within a couple
 * of seconds, not when the sandbox may sit frozen for minutes. So INVOKEs count as frequent
 * when they come less than ADAPTIVE_FAST_MS apart (at most that much extra delay for the
 * spans), and the mode switches to INVOKE only after ADAPTIVE_FAST_COUNT such gaps in a row, so
 * that one quick retry or a pair of requests does not flip it; a single slow gap switches back
 * at once, since that is exactly when spans would otherwise wait. */
#define FLUSHGATE_ADAPTIVE_FAST_MS    2000
#define FLUSHGATE_ADAPTIVE_FAST_COUNT 3

enum flush_mode { FLUSH_INVOKE = 0, FLUSH_END, FLUSH_ADAPTIVE };
extern const char *const flush_mode_names[]; /* "invoke", "end", "adaptive", NULL */

/* The gate's state flags. */
enum {
    GATE_SETTLED = 1u << 0,       /* the current invocation ended, as far as flushing goes */
    GATE_FLUSH_STARTED = 1u << 1, /* this invocation's flush was started */
    GATE_INVOKE_MODE = 1u << 2,   /* effective mode of this invocation: flush at INVOKE */
    GATE_ADAPTIVE_FAST = 1u << 3, /* adaptive: invocations are back to back */
};

struct flushgate {
    enum flush_mode mode;
    uint64_t max_flush_ms;
    unsigned flags;
    char rid[REQUEST_ID_MAX];
    char last_ended[REQUEST_ID_MAX];
    uint64_t invoke_at;      /* all times: the daemon's loop clock, ms */
    uint64_t fn_deadline_at; /* the function's deadline */
    uint64_t settled_at;
    uint64_t last_invoke_at;
    int fast_streak;
};

/* What the daemon sees at a check. */
struct flushgate_facts {
    bool have_proxy;    /* the proxy runs (otherwise every invocation bypasses it) */
    bool seen_at_proxy; /* the proxy has seen the current request id */
    bool export_waits;  /* an export runs and the backend answers quickly: worth waiting for */
};

/* What to do now; wake_at: when to check again if nothing happens first (UINT64_MAX: never). */
enum { GATE_DO_FLUSH = 1u << 0, GATE_DO_NEXT = 1u << 1 };
struct flushgate_verdict {
    unsigned actions;
    uint64_t wake_at;
};

/* What flushgate_invoke reports besides GATE_DO_FLUSH, for the daemon's log. */
enum { GATE_NOW_FAST = 1u << 2, GATE_NOW_RARE = 1u << 3 };

void flushgate_init(struct flushgate *g, enum flush_mode mode, uint64_t max_flush_ms);
/* An INVOKE arrived. Returns GATE_DO_FLUSH when this invocation flushes at INVOKE (start it
 * now), plus GATE_NOW_FAST / GATE_NOW_RARE when the adaptive mode switched. */
unsigned flushgate_invoke(struct flushgate *g, const char *rid, uint64_t now,
                          uint64_t fn_deadline_at);
/* The proxy saw the response or error of rid. */
void flushgate_ended(struct flushgate *g, const char *rid);
/* Whether the invocation of the current INVOKE ended at the proxy. */
bool flushgate_rid_ended(const struct flushgate *g);
/* The decision at `now`. At most once per invocation it asks for the flush (end mode). */
struct flushgate_verdict flushgate_check(struct flushgate *g, uint64_t now,
                                         const struct flushgate_facts *f);

#endif
