/* SPDX-License-Identifier: Apache-2.0 */
/* test_proxy_orphan: runtime /next connections that close while their /next waits upstream
 * (proxy/orphan.c). The proxy runs on its own loop (proxy_harness.h) in front of a fake Runtime
 * API that hands out invocations like Lambda (queue_upstream.h): a waiting /next whose
 * connection closes is dropped, an invocation written to a closed one is lost. For each case:
 * the upstream keeps exactly the /next the runtime waits on, every following invocation is
 * delivered and answered, and an invocation that had started arriving for a closed /next reaches
 * the next one, byte for byte. */
#include <stddef.h>

#include "tests/lib/proxy_harness.h"
#include "tests/lib/queue_upstream.h"
#include "tests/lib/tap.h"

#define NEXT     "/2018-06-01/runtime/invocation/next"
#define MAX_EV   (6 * 1024 * 1024 + 100)
#define WAIT_MS  2000
#define MAX_CONC 64

static struct queue_upstream Q;
static struct rig R;
static FILE *LOG;

static bool has_str(const struct buf *b, const char *s)
{
    return b->data && memmem(b->data, b->len, s, strlen(s)) != NULL;
}

static void set_ignore_fin(bool on)
{
    pthread_mutex_lock(&Q.mu);
    Q.ignore_fin = on;
    pthread_mutex_unlock(&Q.mu);
}

static double now_ms(void)
{
    return mono_us() / 1000.0;
}

/* A fresh fake Lambda and a fresh proxy in front of it (so every group's stats start at 0).
 * The proxy logs WARN and above into LOG. */
static int start(void)
{
    if (qu_start(&Q) < 0)
        return -1;
    memset(&R, 0, sizeof(R));
    if (rig_start(&R, Q.port, MAX_EV) < 0)
        return -1;
    LOG = tmpfile();
    R.lg.level = LOG_WARN;
    R.lg.out = LOG;
    return proxy_port(R.proxy);
}

static int stop(void)
{
    int rc = rig_stop(&R);

    qu_stop(&Q);
    fclose(LOG);
    return rc;
}

/* Log lines that contain s. */
static int log_lines(const char *s)
{
    char line[2048];
    int n = 0;

    fflush(LOG);
    rewind(LOG);
    while (fgets(line, sizeof(line), LOG))
        n += strstr(line, s) != NULL;
    fseek(LOG, 0, SEEK_END);
    return n;
}

/* Polls the proxy's stats until *field (an offset into them) is want; the last value. */
static unsigned long stat_wait(size_t off, unsigned long want, int ms)
{
    struct proxy_stats s;
    unsigned long v = 0;

    for (; ms > 0; ms -= 2) {
        s = rig_stats(&R);
        memcpy(&v, (char *)&s + off, sizeof(v));
        if (v == want)
            break;
        usleep(2000);
    }
    return v;
}
#define STAT_WAIT(field, want) stat_wait(offsetof(struct proxy_stats, field), (want), WAIT_MS)

static char *make_event(size_t n, char seed)
{
    char *e = malloc(n);
    size_t i;

    for (i = 0; i < n; i++)
        e[i] = (char)('a' + (i * 7 + (size_t)seed) % 26);
    e[0] = '{';
    return e;
}

static void send_next(struct client *c)
{
    static const char req[] = "GET " NEXT " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

    client_send(c, req, sizeof(req) - 1);
}

/* Reads a /next answer: true when it is invocation i's (its request id and body). */
static bool read_inv(struct client *c, int i, const char *body, size_t len)
{
    char want[80];
    struct resp r;
    bool good;

    snprintf(want, sizeof(want), "Lambda-Runtime-Aws-Request-Id: %s\r\n", Q.inv[i].rid);
    good = client_read(c, &r) == 0 && r.status == 200 && r.body.len == len &&
           memcmp(r.body.data, body, len) == 0 && memmem(r.raw.data, r.raw.len, want, strlen(want));
    resp_free(&r);
    return good;
}

static bool responded(int i)
{
    bool found = false;
    int k;

    pthread_mutex_lock(&Q.mu);
    for (k = 0; k < Q.responses && !found; k++)
        found = strcmp(Q.resp_rid[k], Q.inv[i].rid) == 0;
    pthread_mutex_unlock(&Q.mu);
    return found;
}

/* Posts invocation i's response on c: true when upstream got it and answered 202. */
static bool respond(struct client *c, int i)
{
    char path[160];
    struct resp r;
    bool good;

    snprintf(path, sizeof(path), "/2018-06-01/runtime/invocation/%s/response", Q.inv[i].rid);
    good = client_post(c, path, "", "{\"ok\":true}", 11, &r) == 0 && r.status == 202;
    resp_free(&r);
    return good && responded(i);
}

/* One invocation through a runtime worker whose /next is already sent: queued, delivered,
 * answered, and the worker waits on its next /next. */
static bool cycle(struct client *c, size_t len, char seed)
{
    char *body = make_event(len, seed);
    int i = qu_queue(&Q, body, len, (len & 1) != 0, 0);
    bool good = read_inv(c, i, body, len) && respond(c, i);

    send_next(c);
    free(body);
    return good;
}

/* ---- the runtime closes idle /next ---- */

/* n concurrent /next; the runtime closes all but `keep` (0 or 1), then invocations follow. */
static void test_close_idle(struct tap *t, int n, int keep)
{
    struct client *cl = calloc((size_t)n, sizeof(*cl));
    int port = start();
    int good = 0;
    double t0;
    int i;

    for (i = 0; i < n; i++) {
        client_open(&cl[i], port);
        send_next(&cl[i]);
    }
    ok(t, qu_wait_int(&Q, &Q.waiting, n, WAIT_MS), "%d concurrent /next reach upstream", n);
    t0 = now_ms();
    for (i = keep; i < n; i++)
        client_close(&cl[i]);
    ok(t, qu_wait_int(&Q, &Q.waiting, keep, WAIT_MS),
       "%d /next, runtime closes %d: upstream keeps %d waiting /next (%.1f ms)", n, n - keep, keep,
       now_ms() - t0);
    is_int(t, qu_get(&Q, &Q.dropped), n - keep, "upstream saw %d /next closed", n - keep);
    is_int(t, STAT_WAIT(orphans, 0), 0, "no orphaned upstream /next left in the proxy");
    is_int(t, STAT_WAIT(upstream_conns, (unsigned long)keep), keep,
           "proxy holds %d upstream connection(s)", keep);
    if (keep == 0) {
        client_open(&cl[0], port);
        send_next(&cl[0]);
        qu_wait_int(&Q, &Q.waiting, 1, WAIT_MS);
    }
    for (i = 0; i < 8; i++)
        good += cycle(&cl[0], 200 + (size_t)i * 700, (char)i);
    is_int(t, good, 8, "%d /next, %d closed: the 8 following invocations delivered and answered", n,
           n - keep);
    is_int(t, qu_get(&Q, &Q.lost), 0, "no invocation lost upstream");
    is_int(t, (int)rig_stats(&R).orphaned_next, n - keep, "stats: %d orphaned /next", n - keep);
    client_close(&cl[0]);
    ok(t, qu_wait_int(&Q, &Q.waiting, 0, WAIT_MS), "the last /next closes upstream too");
    is_int(t, stop(), 0, "proxy loop closes cleanly");
    free(cl);
}

/* ---- an answer that had started arriving ---- */

/* The upstream sends part of the answer, the runtime closes, the rest follows: the next runtime
 * /next gets exactly those bytes (through the hook), with no upstream /next of its own. */
static void test_partial(struct tap *t, bool chunked, bool rewrite)
{
    const char *how = chunked ? "chunked" : "Content-Length";
    char *body = make_event(20000, 3);
    struct client a;
    struct client b;
    struct resp r;
    int port = start();
    int i;
    int nexts;
    bool good;

    R.rewrite = rewrite;
    client_open(&a, port);
    send_next(&a);
    qu_wait_int(&Q, &Q.waiting, 1, WAIT_MS);
    i = qu_queue(&Q, body, 20000, chunked, 7000);
    ok(t, qu_wait_flag(&Q, &Q.inv[i].stalled, WAIT_MS), "%s: upstream sent 7000 of 20000 bytes",
       how);
    usleep(100 * 1000); /* the proxy reads them */
    client_close(&a);
    is_int(t, STAT_WAIT(orphaned_next, 1), 1, "%s: the runtime closed its /next (orphaned)", how);
    usleep(50 * 1000);
    qu_release(&Q, i, false);
    ok(t, qu_wait_flag(&Q, &Q.inv[i].sent, WAIT_MS), "%s: the rest of the answer followed", how);
    nexts = qu_get(&Q, &Q.nexts);
    client_open(&b, port);
    good = client_get(&b, NEXT, &r) == 0 && r.status == 200;
    if (!rewrite)
        good = good && r.raw.len == Q.inv[i].raw.len &&
               memcmp(r.raw.data, Q.inv[i].raw.data, r.raw.len) == 0;
    else
        good = good && has_str(&r.body, "{\"rewritten\":true,\"orig_len\":20000}") &&
               has_str(&r.raw, "x-tracebridge-test: 1\r\n") && r.has_cl && !r.chunked;
    ok(t, good, "%s: the next runtime /next gets that invocation %s", how,
       rewrite ? "rewritten by the hook" : "byte for byte");
    resp_free(&r);
    is_int(t, qu_get(&Q, &Q.nexts), nexts, "%s: and no upstream /next was sent for it", how);
    ok(t, respond(&b, i), "%s: its response reaches upstream", how);
    ok(t, !Q.inv[i].fin_in_stall, "%s: upstream got no FIN while the answer was arriving", how);
    is_int(t, (int)rig_stats(&R).handed_over, 1, "%s: stats: 1 handed over", how);
    is_int(t, STAT_WAIT(orphans, 0), 0, "%s: no orphan left", how);
    is_int(t, log_lines("invocation inv-0 was arriving: handed to the next /next"), 1,
           "%s: one WARN line with the request id", how);
    R.rewrite = false; /* cycle() compares bodies */
    send_next(&b);
    ok(t, cycle(&b, 3000, 9) && qu_wait_int(&Q, &Q.nexts, nexts + 2, WAIT_MS),
       "%s: the following invocation goes upstream as usual", how);
    client_close(&b);
    is_int(t, stop(), 0, "proxy loop closes cleanly");
    free(body);
}

/* A held invocation and a runtime /next already waiting upstream: that /next gets it at once,
 * and its upstream /next ends (upstream keeps none). */
static void test_waiting_gets_it(struct tap *t)
{
    char *body = make_event(5000, 1);
    struct client a;
    struct client b;
    int port = start();
    int i;

    client_open(&a, port);
    send_next(&a);
    qu_wait_int(&Q, &Q.waiting, 1, WAIT_MS);
    i = qu_queue(&Q, body, 5000, false, 100);
    qu_wait_flag(&Q, &Q.inv[i].stalled, WAIT_MS);
    client_open(&b, port);
    send_next(&b);
    ok(t, qu_wait_int(&Q, &Q.waiting, 1, WAIT_MS), "a second worker waits on /next");
    usleep(100 * 1000);
    client_close(&a);
    STAT_WAIT(orphaned_next, 1);
    qu_release(&Q, i, false);
    ok(t, read_inv(&b, i, body, 5000), "the waiting worker gets the held invocation");
    ok(t, qu_wait_int(&Q, &Q.waiting, 0, WAIT_MS) && qu_get(&Q, &Q.dropped) == 1,
       "its own upstream /next is ended (upstream keeps none)");
    ok(t, respond(&b, i), "its response reaches upstream");
    send_next(&b);
    ok(t, cycle(&b, 800, 2), "the next invocation goes to it as usual");
    is_int(t, STAT_WAIT(orphans, 0), 0, "no orphan left");
    client_close(&b);
    is_int(t, stop(), 0, "proxy loop closes cleanly");
    free(body);
}

/* A runtime /next that comes while an answer is still arriving for a closed one waits for it
 * (upstream, where the invocation runs, would refuse a second /next); if that answer is cut
 * short instead, the waiting /next goes upstream then. */
static void test_parked(struct tap *t, bool cut)
{
    const char *how = cut ? "answer cut" : "answer whole";
    char *body = make_event(30000, 6);
    struct client a;
    struct client b;
    int port = start();
    int nexts;
    int i;

    client_open(&a, port);
    send_next(&a);
    qu_wait_int(&Q, &Q.waiting, 1, WAIT_MS);
    i = qu_queue(&Q, body, 30000, true, 10000);
    qu_wait_flag(&Q, &Q.inv[i].stalled, WAIT_MS);
    usleep(100 * 1000);
    client_close(&a);
    STAT_WAIT(orphaned_next, 1);
    nexts = qu_get(&Q, &Q.nexts);
    client_open(&b, port);
    send_next(&b);
    usleep(100 * 1000);
    ok(t, qu_get(&Q, &Q.nexts) == nexts && qu_get(&Q, &Q.waiting) == 0,
       "%s: a /next during the arrival does not go upstream (parked)", how);
    qu_release(&Q, i, cut);
    if (!cut) {
        ok(t, read_inv(&b, i, body, 30000) && respond(&b, i),
           "%s: it gets the arriving invocation, answered", how);
        send_next(&b);
    } else {
        is_int(t, STAT_WAIT(orphan_lost, 1), 1, "%s: the cut answer is counted lost", how);
        ok(t, qu_wait_int(&Q, &Q.waiting, 1, WAIT_MS), "%s: the parked /next goes upstream then",
           how);
    }
    ok(t, cycle(&b, 2200, 1), "%s: the following invocation is delivered and answered", how);
    is_int(t, STAT_WAIT(orphans, 0), 0, "%s: no orphan left", how);
    client_close(&b);
    is_int(t, stop(), 0, "proxy loop closes cleanly");
    free(body);
}

/* Two answers arriving for two closed /next: one goes to the worker waiting upstream, the other
 * to the next /next; one WARN line for both (rate-limited). */
static void test_two_orphans(struct tap *t)
{
    char *e1 = make_event(4000, 4);
    char *e2 = make_event(9000, 5);
    struct client a;
    struct client b;
    struct client c;
    int port = start();
    int i1;
    int i2;
    int nexts;

    client_open(&a, port);
    send_next(&a);
    qu_wait_int(&Q, &Q.waiting, 1, WAIT_MS);
    i1 = qu_queue(&Q, e1, 4000, false, 1000);
    qu_wait_flag(&Q, &Q.inv[i1].stalled, WAIT_MS);
    client_open(&b, port);
    send_next(&b);
    qu_wait_int(&Q, &Q.waiting, 1, WAIT_MS);
    i2 = qu_queue(&Q, e2, 9000, true, 2500);
    qu_wait_flag(&Q, &Q.inv[i2].stalled, WAIT_MS);
    client_open(&c, port);
    send_next(&c);
    qu_wait_int(&Q, &Q.waiting, 1, WAIT_MS);
    usleep(100 * 1000);
    client_close(&a);
    client_close(&b);
    is_int(t, STAT_WAIT(orphaned_next, 2), 2, "two orphaned /next with answers arriving");
    qu_release(&Q, i1, false);
    ok(t, read_inv(&c, i1, e1, 4000) && respond(&c, i1),
       "the first goes to the waiting worker and is answered");
    qu_release(&Q, i2, false);
    qu_wait_flag(&Q, &Q.inv[i2].sent, WAIT_MS);
    ok(t, qu_wait_int(&Q, &Q.waiting, 0, WAIT_MS), "upstream keeps no /next");
    nexts = qu_get(&Q, &Q.nexts);
    send_next(&c);
    ok(t, read_inv(&c, i2, e2, 9000) && respond(&c, i2),
       "the second goes to the next /next and is answered");
    is_int(t, qu_get(&Q, &Q.nexts), nexts, "with no upstream /next for it");
    is_int(t, (int)rig_stats(&R).handed_over, 2, "stats: 2 handed over");
    is_int(t, log_lines("was arriving: handed to the next /next"), 1,
           "one WARN line for both (rate-limited)");
    send_next(&c);
    ok(t, cycle(&c, 1200, 6), "invocations go on as usual");
    client_close(&c);
    is_int(t, stop(), 0, "proxy loop closes cleanly");
    free(e1);
    free(e2);
}

/* An upstream that ignores the FIN and still delivers to the closed /next: the proxy reads it
 * and hands it over instead of losing it. */
static void test_fin_ignored(struct tap *t)
{
    char *body = make_event(2500, 7);
    struct client a;
    struct client b;
    int port = start();
    int i;

    set_ignore_fin(true);
    client_open(&a, port);
    send_next(&a);
    qu_wait_int(&Q, &Q.waiting, 1, WAIT_MS);
    client_close(&a);
    STAT_WAIT(orphaned_next, 1);
    usleep(50 * 1000);
    is_int(t, qu_get(&Q, &Q.waiting), 1, "an upstream that ignores the FIN keeps its /next");
    i = qu_queue(&Q, body, 2500, true, 0);
    ok(t, qu_wait_flag(&Q, &Q.inv[i].sent, WAIT_MS), "and delivers the next invocation to it");
    client_open(&b, port);
    send_next(&b);
    ok(t, read_inv(&b, i, body, 2500) && respond(&b, i),
       "the proxy kept it: the next runtime /next gets it and answers");
    is_int(t, qu_get(&Q, &Q.lost), 0, "nothing lost");
    set_ignore_fin(false);
    send_next(&b);
    ok(t, cycle(&b, 700, 8), "invocations go on");
    client_close(&b);
    is_int(t, stop(), 0, "proxy loop closes cleanly");
    free(body);
}

/* Lost on purpose: an answer arriving for a closed /next that is larger than the event limit
 * cannot be held; it is counted, and the next /next gets the next invocation. */
static void test_oversize_orphan(struct tap *t)
{
    size_t big = MAX_EV + 1000;
    char *body = make_event(big, 1);
    struct client a;
    struct client b;
    int port = start();
    int i;

    client_open(&a, port);
    send_next(&a);
    qu_wait_int(&Q, &Q.waiting, 1, WAIT_MS);
    i = qu_queue(&Q, body, big, false, 1000);
    qu_wait_flag(&Q, &Q.inv[i].stalled, WAIT_MS);
    usleep(100 * 1000);
    client_close(&a);
    STAT_WAIT(orphaned_next, 1);
    qu_release(&Q, i, false);
    is_int(t, STAT_WAIT(orphan_lost, 1), 1,
           "an oversize answer for a closed /next is counted lost");
    is_int(t, log_lines("invocation inv-0 arrived for a /next the runtime had closed"), 1,
           "one WARN line with its request id");
    client_open(&b, port);
    send_next(&b);
    ok(t, cycle(&b, 900, 3), "the next /next gets the next invocation");
    is_int(t, (int)rig_stats(&R).handed_over, 0, "nothing handed over");
    client_close(&b);
    is_int(t, stop(), 0, "proxy loop closes cleanly");
    free(body);
}

/* The runtime closes while a large answer is being written to it: delivered as far as the proxy
 * can tell, so it is not handed to anyone again. */
static void test_close_during_write(struct tap *t)
{
    size_t big = 4 * 1024 * 1024;
    char *body = make_event(big, 2);
    char tmp[1000];
    struct client a;
    struct client b;
    int port = start();
    int i;

    client_open(&a, port);
    send_next(&a);
    qu_wait_int(&Q, &Q.waiting, 1, WAIT_MS);
    i = qu_queue(&Q, body, big, true, 0);
    ok(t, recv(a.fd, tmp, sizeof(tmp), MSG_WAITALL) == (ssize_t)sizeof(tmp),
       "the runtime reads the start of a 4 MB event");
    client_close(&a);
    ok(t, qu_wait_flag(&Q, &Q.inv[i].sent, WAIT_MS), "upstream sent it whole");
    client_open(&b, port);
    send_next(&b);
    ok(t, cycle(&b, 600, 4), "the next /next gets the next invocation, not that one again");
    is_int(t, (int)rig_stats(&R).handed_over, 0, "nothing handed over");
    is_int(t, (int)rig_stats(&R).orphaned_next, 0, "and it was not an orphan");
    client_close(&b);
    is_int(t, stop(), 0, "proxy loop closes cleanly");
    (void)i;
    free(body);
}

int main(void)
{
    struct tap t = TAP_INIT;
    static const int conc[] = {1, 4, MAX_CONC};
    size_t k;

    signal(SIGPIPE, SIG_IGN);
    for (k = 0; k < sizeof(conc) / sizeof(conc[0]); k++) {
        if (conc[k] > 1)
            test_close_idle(&t, conc[k], 1);
        test_close_idle(&t, conc[k], 0);
    }
    test_partial(&t, false, false);
    test_partial(&t, true, false);
    test_partial(&t, true, true);
    test_waiting_gets_it(&t);
    test_parked(&t, false);
    test_parked(&t, true);
    test_two_orphans(&t);
    test_fin_ignored(&t);
    test_oversize_orphan(&t);
    test_close_during_write(&t);
    return tap_done(&t);
}
