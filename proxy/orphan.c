/* SPDX-License-Identifier: Apache-2.0 */
/* orphan: a runtime /next whose runtime connection closed before any byte of the answer reached
 * it (a runtime worker that died or was restarted, on Managed Instances one of several; a client
 * that opens several /next and closes the idle ones).
 *
 * Lambda hands each invocation to one waiting /next. A /next kept open upstream for a runtime
 * that is gone would take the next invocation, which then never runs. So:
 * - Nothing of the answer arrived yet: the close is mirrored at once. Upstream gets a FIN, which
 *   is what the runtime's own close would have been (an HTTP server takes it as the client gone
 *   and drops the waiting /next), and the proxy keeps reading: an invocation Lambda sent before
 *   it saw the FIN (the race) still arrives and is kept as below; upstream's EOF ends the
 *   connection. An upstream connection still connecting is simply closed (no request reached it).
 * - Some or all of the answer arrived: upstream is left alone (a server that sees a FIN in the
 *   middle of an answer may cut it); the answer is read to its end, bounded by max_event_bytes
 *   like any /next, and held.
 * - A held invocation goes to the next runtime /next, byte for byte as it came, through the
 *   next_event hook like any /next, and no upstream /next is sent for that request. When a
 *   runtime /next already waits upstream with nothing received, it gets the invocation at once
 *   and its own upstream /next ends the same way (FIN, read on): Lambda keeps exactly as many
 *   /next as the runtime waits on. Held invocations go out oldest first.
 * - A runtime /next that comes while an answer is still arriving for an orphan (and no other
 *   /next waits for that one already) is parked: it waits for that invocation instead of asking
 *   upstream, where Lambda, for which the invocation is running, would refuse a second /next
 *   (403) outside Managed Instances. If the answer ends without an invocation, the parked /next
 *   goes upstream then. A /next after an orphan with nothing arriving goes upstream at once:
 *   Lambda may see it before the FIN of the old one, exactly as without a proxy.
 * - Not kept (stats.orphan_lost, a rate-limited WARN; the invocation times out, as it would
 *   without the proxy): an answer larger than max_event_bytes, or one upstream cut short. A
 *   non-200 answer (no invocation) is dropped quietly.
 * A runtime that closes while an answer is being written to it (bytes already handed to its
 * socket) got the invocation as far as the proxy can tell: it is not delivered again, which could
 * run it twice (Lambda itself delivers at most once). */
#include <stdio.h>
#include <string.h>

#include "proxy/internal.h"

#define RID_HDR "Lambda-Runtime-Aws-Request-Id"

static void request_id(const struct conn *c, char *rid, size_t cap)
{
    size_t len = 0;
    const char *v = (c->ex.flags & EX_F_RESP_HEAD) ? http1_header(&c->resp, RID_HDR, &len) : NULL;

    if (!v || len >= cap) {
        snprintf(rid, cap, "(unknown)");
        return;
    }
    memcpy(rid, v, len);
    rid[len] = '\0';
}

static void lost(struct conn *c, const char *why)
{
    struct proxy *p = c->p;
    char rid[REQUEST_ID_MAX];
    unsigned long more = 0;

    p->stats.orphan_lost++;
    if (!ratelimit_hit(&p->lost_rl, uv_now(p->loop), &more))
        return;
    request_id(c, rid, sizeof(rid));
    log_warn(p->lg, "proxy",
             "invocation %s arrived for a /next the runtime had closed and could not be kept "
             "(%s); it will time out (%lu more since the last such line)",
             rid, why, more);
}

void orphan_begin(struct conn *c)
{
    bool arriving = (c->ex.flags & EX_F_RESP_BYTES);

    c->p->stats.orphaned_next++;
    conn_orphan(c);
    if (arriving) {
        log_debug(c->p->lg, "proxy", "runtime closed a /next whose answer is arriving: kept");
        return;
    }
    log_debug(c->p->lg, "proxy", "runtime closed a waiting /next: upstream /next ended too");
    if (conn_up_shutdown(c) < 0)
        conn_close(c);
}

/* Orphans whose answer is arriving, less the runtime /next parked for them (negative: parked
 * /next that nothing will answer any more). */
static int unclaimed_arrivals(const struct proxy *p)
{
    const struct tb_list *it;
    int n = 0;

    tb_list_foreach(it, &p->conns) {
        const struct conn *c = tb_list_entry(it, struct conn, link);

        if (c->flags & CONN_F_CLOSING)
            continue;
        if ((c->flags & CONN_F_ORPHAN) && !(c->flags & CONN_F_HELD) &&
            (c->ex.flags & EX_F_RESP_BYTES) && c->ex.mode != RESP_RELAY)
            n++;
        else if (c->ex.flags & EX_F_PARKED)
            n--;
    }
    return n;
}

static struct conn *first_parked(struct proxy *p)
{
    struct tb_list *it;

    tb_list_foreach(it, &p->conns) {
        struct conn *c = tb_list_entry(it, struct conn, link);

        if ((c->ex.flags & EX_F_PARKED) && !(c->flags & CONN_F_CLOSING))
            return c;
    }
    return NULL;
}

/* An arriving answer ended without an invocation: parked /next it no longer covers go upstream. */
static void release_parked(struct proxy *p)
{
    struct conn *c;

    while (!p->closing && unclaimed_arrivals(p) < 0 && (c = first_parked(p)) != NULL) {
        c->ex.flags &= ~(EX_F_PARKED | EX_F_LOCAL);
        relay_forward(c);
    }
}

static void held_remove(struct conn *c)
{
    c->flags &= ~CONN_F_HELD;
    tb_list_remove(&c->held_link);
}

/* The oldest held orphan, or NULL. */
static struct conn *first_held(struct proxy *p)
{
    return tb_list_empty(&p->held) ? NULL : tb_list_entry(p->held.next, struct conn, held_link);
}

void orphan_unhold(struct conn *c)
{
    held_remove(c);
    conn_unref(c);
}

/* Gives held orphan h's invocation to the runtime of t (a /next that sent nothing upstream, or
 * no longer waits there), then lets h go. */
static void hand(struct conn *h, struct conn *t)
{
    bool keep = http_should_keep_alive(&h->resp.parser);

    held_remove(h);
    t->ex.flags |= EX_F_LOCAL;
    t->ex.flags &= ~EX_F_PARKED;
    h->p->stats.handed_over++;
    if (relay_deliver_next(t, h) == 0)
        relay_answered_locally(t, keep);
    conn_close(h);
    conn_unref(h); /* the held reference */
}

bool orphan_serve(struct conn *c, bool bodyless)
{
    struct proxy *p = c->p;

    if (c->flags & CONN_F_CLOSING)
        return false;
    if (first_held(p)) {
        hand(first_held(p), c);
        return true;
    }
    if (!bodyless || unclaimed_arrivals(p) <= 0)
        return false;
    c->ex.flags |= EX_F_LOCAL | EX_F_PARKED;
    log_debug(p->lg, "proxy", "runtime /next waits for an invocation arriving for a closed one");
    return true;
}

/* A runtime /next parked for an arriving invocation, else one that waits upstream with nothing
 * received yet. */
static struct conn *waiting_next(struct proxy *p)
{
    struct conn *c = first_parked(p);
    struct tb_list *it;

    if (c)
        return c;
    tb_list_foreach(it, &p->conns) {
        const struct exchange *ex;

        c = tb_list_entry(it, struct conn, link);
        ex = &c->ex;
        if (!(c->flags & (CONN_F_ORPHAN | CONN_F_CLOSING | CONN_F_CLOSE_DRAINED)) && c->up &&
            ex->kind == REQ_NEXT && ex->mode == RESP_NONE &&
            flags_are(ex->flags, EX_F_ACTIVE | EX_F_REQ_DONE, EX_F_LOCAL | EX_F_RESP_BYTES))
            return c;
    }
    return NULL;
}

static void dispatch(struct proxy *p)
{
    struct conn *t;

    while (first_held(p) && (t = waiting_next(p)) != NULL) {
        if (!(t->ex.flags & EX_F_PARKED)) {
            /* Its upstream /next becomes an orphan of its own: what it may bring is kept. */
            p->stats.orphaned_next++;
            (void)conn_split_up(t);
            http1_reset(&t->resp);
        }
        hand(first_held(p), t);
    }
}

static void hold(struct conn *c)
{
    struct proxy *p = c->p;
    char rid[REQUEST_ID_MAX];
    unsigned long more = 0;

    c->flags |= CONN_F_HELD;
    c->handles++; /* the held invocation keeps the conn */
    tb_list_insert_tail(&p->held, &c->held_link);
    conn_up_detach(c); /* its exchange is over: that connection is never reused */
    if (!ratelimit_hit(&p->held_rl, uv_now(p->loop), &more))
        return;
    request_id(c, rid, sizeof(rid));
    log_warn(p->lg, "proxy",
             "runtime closed its /next while invocation %s was arriving: handed to the next "
             "/next (%lu more since the last such line)",
             rid, more);
}

void orphan_response_done(struct conn *c)
{
    struct proxy *p = c->p;

    if (c->ex.mode != RESP_NEXTBUF) {
        log_debug(p->lg, "proxy", "upstream answered an orphaned /next with %d: dropped",
                  c->ex.status);
        conn_close(c);
        release_parked(p);
        return;
    }
    hold(c);
    dispatch(p);
}

void orphan_upstream_gone(struct conn *c)
{
    struct proxy *p = c->p;

    if ((c->ex.flags & EX_F_RESP_BYTES) && c->ex.mode != RESP_RELAY)
        lost(c, "upstream closed before the answer was complete");
    conn_close(c);
    release_parked(p);
}

void orphan_oversize(struct conn *c)
{
    struct proxy *p = c->p;

    lost(c, "larger than the event limit");
    conn_close(c);
    release_parked(p);
}
