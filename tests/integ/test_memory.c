/* SPDX-License-Identifier: Apache-2.0 */
/* daemon memory after large events: the real build/tracebridge relays 5 MB SQS events (each
 * rewritten, so about 10 MB held at once) for a function of 128 MB, where that is a large share
 * of the memory. After a one-off large event its RSS is back near the idle level (memtrim.h, and
 * the proxy frees its large /next buffers); large events in a row keep the proxy's buffer for the
 * next one (handing it back would only fault the same pages in again), until the first
 * invocation with small work, after which RSS is back near idle. The same events in a 3008 MB
 * function, where the memory is always kept for reuse, show that those checks can fail. Skipped
 * under sanitizers (their allocators keep freed memory). */
#include "tests/lib/fake_lambda.h"
#include "tests/lib/tap.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif

#define EVENT_BYTES (5 * 1024 * 1024)
#define EVENTS      4

static char bin[512];

static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    long kb = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    }
    if (f)
        fclose(f);
    return kb;
}

/* An SQS batch of about EVENT_BYTES whose first record carries a traceparent (so the event is
 * rewritten: original and new body are held together). */
static char *big_event(void)
{
    struct buf b;
    int i = 0;

    buf_init(&b, EVENT_BYTES + 8192);
    buf_append_str(&b, "{\"Records\":[");
    while (b.len < EVENT_BYTES - 4096) {
        buf_appendf(&b,
                    "%s{\"messageId\":\"m-%d\",\"body\":\"%0900d\",\"messageAttributes\":{"
                    "\"traceparent\":{\"stringValue\":\"" FL_SQS_TP "\",\"dataType\":\"String\"}},"
                    "\"eventSource\":\"aws:sqs\",\"eventSourceARN\":\"arn:aws:sqs:eu-west-1:"
                    "123456789012:orders\"}",
                    i ? "," : "", i, i);
        i++;
    }
    buf_append_str(&b, "]}");
    return b.data;
}

/* One invocation on the runtime connection fd: the large event when big, else a small SQS
 * event. n counts the invocations so far (the extension's /event/next calls follow them). */
static void invoke(struct tap *t, struct fl_rig *r, int fd, const char *memory_mb, const char *big,
                   int n)
{
    char rid[16], path[96];
    struct rt_resp resp;

    snprintf(rid, sizeof(rid), "inv-%d", n);
    fl_invoke(&r->fl, rid, big ? "" : FL_SQS_EVENT, epoch_ms() + 10000, true, true);
    pthread_mutex_lock(&r->fl.mu);
    r->fl.inv[r->fl.n_inv - 1].big_body = big;
    pthread_mutex_unlock(&r->fl.mu);
    if (rt_call(fd, "GET", "/2018-06-01/runtime/invocation/next", NULL, NULL, &resp) < 0) {
        ok(t, 0, "%s MB: invocation %d delivered", memory_mb, n);
        return;
    }
    if (big)
        ok(t, resp.body.len > EVENT_BYTES - 8192 && strstr(resp.body.data, "\"headers\""),
           "%s MB: event %d rewritten and delivered (%zu bytes)", memory_mb, n, resp.body.len);
    buf_free(&resp.body);
    snprintf(path, sizeof(path), "/2018-06-01/runtime/invocation/%s/response", rid);
    (void)rt_call(fd, "POST", path, NULL, "\"ok\"", &resp);
    buf_free(&resp.body);
    fl_wait_ext_next(&r->fl, 2 + n, 3000);
}

/* RSS over idle (KiB) in a function of memory_mb: rss[0] after `large` large invocations in a
 * row, rss[1] after one small invocation more. */
static void growth(struct tap *t, const char *memory_mb, const char *event, int large, long rss[2])
{
    char mem[64];
    const char *extra[] = {"TRACEBRIDGE_OTLP_LISTEN=off", mem, "TRACEBRIDGE_FLUSH=invoke", NULL};
    struct fl_rig r;
    int failed = t->failed;
    long idle;
    int fd;

    rss[0] = rss[1] = -1;
    snprintf(mem, sizeof(mem), "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%s", memory_mb);
    fl_rig_start(&r, bin, "tb-memory", NULL, extra);
    ok(t, fl_wait_ext_next(&r.fl, 1, 3000), "%s MB: registered", memory_mb);
    usleep(100000);
    idle = rss_kb(r.pid);
    fd = rt_connect(r.proxy_port);
    for (int i = 0; i < large && fd >= 0; i++)
        invoke(t, &r, fd, memory_mb, event, i);
    usleep(200000);
    rss[0] = rss_kb(r.pid) - idle;
    if (fd >= 0)
        invoke(t, &r, fd, memory_mb, NULL, large);
    usleep(200000);
    rss[1] = rss_kb(r.pid) - idle;
    t->n++;
    printf("ok %d - %s MB: idle RSS %ld KiB; +%ld KiB after %d events of 5 MB, +%ld KiB after one "
           "small one more\n",
           t->n, memory_mb, idle, rss[0], large, rss[1]);
    if (fd >= 0)
        close(fd);
    is_int(t, fl_rig_stop(&r, "spindown"), 0, "%s MB: exit 0", memory_mb);
    fl_rig_done(t, &r, failed);
    if (idle <= 0)
        rss[0] = rss[1] = -1;
}

#ifdef UNDER_SANITIZER
int main(void)
{
    (void)bin;
    (void)growth;
    (void)invoke;
    (void)big_event;
    printf("ok 1 - # SKIP RSS is not meaningful under the sanitizers' allocators\n1..1\n");
    return 0;
}
#else
int main(int argc, char **argv)
{
    struct tap t = TAP_INIT;
    char *event;
    long once[2], row[2], big[2];

    (void)argc;
    if (!fl_find_daemon(&t, argv[0], bin, sizeof(bin)))
        return tap_done(&t);
    event = big_event();
    growth(&t, "128", event, 1, once);
    growth(&t, "128", event, EVENTS, row);
    growth(&t, "3008", event, EVENTS, big);
    ok(&t, once[0] >= 0 && once[0] < 3 * 1024,
       "128 MB function: RSS back near idle after a one-off large event (+%ld KiB)", once[0]);
    ok(&t, row[0] > 4 * 1024,
       "128 MB function: large events in a row keep their buffer for the next (+%ld KiB)", row[0]);
    ok(&t, row[1] >= 0 && row[1] < 3 * 1024,
       "128 MB function: back near idle after the first small invocation (+%ld KiB)", row[1]);
    ok(&t, big[1] > row[1] + 2 * 1024,
       "3008 MB function: the memory is kept for reuse (+%ld KiB): the checks above can fail",
       big[1]);
    free(event);
    return tap_done(&t);
}
#endif
