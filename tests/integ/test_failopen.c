/* SPDX-License-Identifier: Apache-2.0 */
/* daemon: the real build/tracebridge binary failing open on settings that would otherwise break
 * the function, against a fake Lambda and OTLP backend (fake_lambda.h):
 *   unreachable upstream   no ready file, one clear line, registered anyway, INVOKEs become
 *                          spans without blaming the runtime, /event/next not held;
 *   own proxy as upstream  forwarding goes to the Runtime API instead and works;
 *   proxy port taken       no ready file, one line, the runtime is not blamed;
 *   ready file unwritable  the same;
 *   max flush vs deadline  /event/next is never held into the function's deadline;
 *   silent backend         spans lost at SHUTDOWN are a WARN with the counts. */
#include "tests/lib/fake_lambda.h"
#include "tests/lib/tap.h"

static char bin[512];

static void start(struct fl_rig *r, const char *tag, const char *const *extra)
{
    const char *env[32] = {"TRACEBRIDGE_OTLP_LISTEN=off"};
    int n = 1;

    for (int i = 0; extra && extra[i] && n < 31; i++)
        env[n++] = extra[i];
    env[n] = NULL;
    fl_rig_start(r, bin, tag, NULL, env);
}

/* Wall-clock time of the extension's i-th /event/next call. */
static uint64_t wall_ms_of(const struct fl_rig *r, int i)
{
    return r->fl.ext_next_wall[i];
}

static int log_lines(struct fl_rig *r, const char *needle)
{
    return file_count_lines(r->log, needle);
}

/* An INVOKE the runtime serves without the proxy: the extension must be back in /event/next at
 * once (nothing to wait for at a proxy nobody uses). */
static void bypass_invocation(struct tap *t, struct fl_rig *r, const char *label)
{
    uint64_t t0 = fake_now_ms();

    fl_invoke(&r->fl, "b-1", "", epoch_ms() + 10000, true, false);
    ok(t, fl_wait_ext_next(&r->fl, 2, 3000), "%s: back in /event/next after the INVOKE", label);
    ok(t, r->fl.ext_next_at[1] - t0 < 400, "%s: not held for a proxy nobody uses (%llu ms)", label,
       (unsigned long long)(r->fl.ext_next_at[1] - t0));
}

static void finish(struct tap *t, struct fl_rig *r, const char *label, int failed)
{
    is_int(t, fl_rig_stop(r, "spindown"), 0, "%s: exit 0 after SHUTDOWN", label);
    is_int(t, log_lines(r, "AWS_LAMBDA_EXEC_WRAPPER"), 0,
           "%s: the runtime is not blamed for ignoring the wrapper", label);
    ok(t, fo_count_spans(&r->fo) >= 1, "%s: the invocation's span was exported", label);
    fl_rig_done(t, r, failed);
}

static void scenario_unreachable(struct tap *t)
{
    char up[64];
    const char *extra[] = {up, "TRACEBRIDGE_FLUSH=end", NULL};
    struct fl_rig r;
    int failed = t->failed;
    uint64_t t0 = fake_now_ms();

    snprintf(up, sizeof(up), "TRACEBRIDGE_UPSTREAM=127.0.0.1:%d", test_free_port());
    start(&r, "tb-unreach", extra);
    ok(t, fl_wait_ext_next(&r.fl, 1, 4000), "unreachable upstream: registered anyway");
    ok(t, fake_now_ms() - t0 < 3000, "unreachable upstream: within the probe budget (%llu ms)",
       (unsigned long long)(fake_now_ms() - t0));
    ok(t, !r.fl.ready_file_at_register && access(r.ready, F_OK) != 0,
       "unreachable upstream: no ready file (the wrapper leaves the runtime on Lambda)");
    is_int(t, log_lines(&r, "is not reachable"), 1, "unreachable upstream: one line says so");
    is_int(t, log_lines(&r, "TRACEBRIDGE_UPSTREAM"), 1, "... naming the setting");
    bypass_invocation(t, &r, "unreachable upstream");
    finish(t, &r, "unreachable upstream", failed);
}

static void scenario_self_upstream(struct tap *t)
{
    int port = test_free_port();
    char up[64], pp[64];
    const char *extra[] = {up, pp, NULL};
    struct fl_rig r;
    struct rt_resp resp;
    int failed = t->failed;
    int fd;

    snprintf(up, sizeof(up), "TRACEBRIDGE_UPSTREAM=127.0.0.1:%d", port);
    snprintf(pp, sizeof(pp), "TRACEBRIDGE_PROXY_PORT=%d", port);
    start(&r, "tb-selfup", extra);
    r.proxy_port = port; /* extra wins over the rig's own pick */
    ok(t, fl_wait_ext_next(&r.fl, 1, 3000) && r.fl.ready_file_at_register,
       "upstream = own proxy: registered, proxy offered");
    is_int(t, log_lines(&r, "own proxy"), 1, "upstream = own proxy: one line says so");
    fl_invoke(&r.fl, "s-1", FL_SQS_EVENT, epoch_ms() + 10000, true, true);
    fd = rt_connect(r.proxy_port);
    ok(t,
       fd >= 0 &&
           rt_call(fd, "GET", "/2018-06-01/runtime/invocation/next", NULL, NULL, &resp) == 0 &&
           resp.status == 200 && strstr(resp.head, "s-1"),
       "upstream = own proxy: the event comes from the Runtime API through the proxy");
    if (fd >= 0) {
        buf_free(&resp.body);
        (void)rt_call(fd, "POST", "/2018-06-01/runtime/invocation/s-1/response", NULL, "\"ok\"",
                      &resp);
        buf_free(&resp.body);
        close(fd);
    }
    ok(t, fl_wait_ext_next(&r.fl, 2, 3000), "upstream = own proxy: invocation done");
    finish(t, &r, "upstream = own proxy", failed);
}

static void scenario_port_taken(struct tap *t)
{
    int lfd = test_listen(0);
    char pp[64];
    const char *extra[] = {pp, "TRACEBRIDGE_FLUSH=end", NULL};
    struct fl_rig r;
    int failed = t->failed;

    snprintf(pp, sizeof(pp), "TRACEBRIDGE_PROXY_PORT=%d", test_sock_port(lfd));
    start(&r, "tb-taken", extra);
    ok(t, fl_wait_ext_next(&r.fl, 1, 3000), "proxy port taken: registered");
    ok(t, !r.fl.ready_file_at_register, "proxy port taken: no ready file");
    is_int(t, log_lines(&r, "proxy cannot listen"), 1, "proxy port taken: one line says so");
    bypass_invocation(t, &r, "proxy port taken");
    finish(t, &r, "proxy port taken", failed);
    close(lfd);
}

static void scenario_ready_unwritable(struct tap *t)
{
    const char *extra[] = {"TRACEBRIDGE_READY_FILE=/nonexistent-dir/tb.ready",
                           "TRACEBRIDGE_FLUSH=end", NULL};
    struct fl_rig r;
    int failed = t->failed;

    start(&r, "tb-unwritable", extra);
    ok(t, fl_wait_ext_next(&r.fl, 1, 3000), "ready file unwritable: registered");
    is_int(t, log_lines(&r, "cannot write /nonexistent-dir/tb.ready"), 1,
           "ready file unwritable: one line says so");
    bypass_invocation(t, &r, "ready file unwritable");
    finish(t, &r, "ready file unwritable", failed);
}

/* A backend that answers, slowly but within the (huge) flush budget: the wait for the export
 * must still end before the function's deadline. */
static void scenario_flush_deadline(struct tap *t)
{
    const char *extra[] = {"TRACEBRIDGE_FLUSH=end", "TRACEBRIDGE_MAX_FLUSH_MS=60000", NULL};
    struct fl_rig r;
    struct rt_resp resp;
    int failed = t->failed;
    uint64_t deadline;
    int fd;

    start(&r, "tb-deadline", extra);
    r.fo.delay_ms = 2500;
    ok(t, fl_wait_ext_next(&r.fl, 1, 3000), "deadline: registered");
    deadline = epoch_ms() + 700;
    fl_invoke(&r.fl, "d-1", FL_SQS_EVENT, deadline, true, true);
    fd = rt_connect(r.proxy_port);
    if (fd >= 0 &&
        rt_call(fd, "GET", "/2018-06-01/runtime/invocation/next", NULL, NULL, &resp) == 0) {
        buf_free(&resp.body);
        (void)rt_call(fd, "POST", "/2018-06-01/runtime/invocation/d-1/response", NULL, "\"ok\"",
                      &resp);
        buf_free(&resp.body);
    }
    if (fd >= 0)
        close(fd);
    ok(t, fl_wait_ext_next(&r.fl, 2, 5000), "deadline: /event/next called again");
    ok(t, wall_ms_of(&r, 1) < deadline,
       "deadline: /event/next before the function's deadline although the export ran longer "
       "(%lld ms before it)",
       (long long)deadline - (long long)wall_ms_of(&r, 1));
    is_int(t, fl_rig_stop(&r, "spindown"), 0, "deadline: exit 0");
    fl_rig_done(t, &r, failed);
}

static void scenario_silent_backend(struct tap *t)
{
    const char *extra[] = {"TRACEBRIDGE_FLUSH=invoke", NULL};
    struct fl_rig r;
    int failed = t->failed;
    int code;

    start(&r, "tb-silent", extra);
    r.fo.delay_ms = 3000; /* accepts, then answers nothing before the SHUTDOWN deadline */
    ok(t, fl_wait_ext_next(&r.fl, 1, 3000), "silent backend: registered");
    for (int i = 0; i < 3; i++) {
        char rid[16];
        snprintf(rid, sizeof(rid), "q-%d", i);
        fl_invoke(&r.fl, rid, "", epoch_ms() + 10000, true, false);
        fl_wait_ext_next(&r.fl, 2 + i, 3000);
    }
    fl_shutdown(&r.fl, "spindown", epoch_ms() + 600);
    code = wait_exit(r.pid, 4000);
    is_int(t, code, 0, "silent backend: exit 0 at the SHUTDOWN deadline");
    is_int(t, file_count_lines(r.log, "\"WARN\".*3 spans lost"), 1,
           "silent backend: one WARN with the number of spans lost");
    is_int(t, file_count_lines(r.log, "left unsent"), 0, "not an INFO line");
    fl_stop(&r.fl);
    fo_stop(&r.fo);
    fl_rig_done(t, &r, failed);
}

int main(int argc, char **argv)
{
    struct tap t = TAP_INIT;

    (void)argc;
    if (!fl_find_daemon(&t, argv[0], bin, sizeof(bin)))
        return tap_done(&t);
    scenario_unreachable(&t);
    scenario_self_upstream(&t);
    scenario_port_taken(&t);
    scenario_ready_unwritable(&t);
    scenario_flush_deadline(&t);
    scenario_silent_backend(&t);
    return tap_done(&t);
}
