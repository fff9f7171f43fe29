/* SPDX-License-Identifier: Apache-2.0 */
/* SnapStart restore, with the test build whose id pool starts from TRACEBRIDGE_TEST_IDS_SEED
 * (build/tracebridge-test-seeded): two processes given one seed start with the same pool, as
 * two sandboxes restored from one snapshot do. Without a restore they hand out the same span
 * ids (the model reproduces the problem); after the runtime's /restore/next went through the
 * proxy, the ids are fresh. */
#include "tests/lib/fake_lambda.h"
#include "tests/lib/tap.h"

static char bin[512];

/* The span id tracebridge wrote as the handler's parent into one SQS invocation, in a fresh
 * seeded daemon; restore: the runtime calls /restore/next first, as a SnapStart runtime does. */
static bool first_span_id(struct tap *t, const char *tag, bool restore, char *sid)
{
    const char *extra[] = {"TRACEBRIDGE_OTLP_LISTEN=off", "TRACEBRIDGE_TEST_IDS_SEED=20260101",
                           "AWS_LAMBDA_INITIALIZATION_TYPE=snap-start", NULL};
    struct fl_rig r;
    struct rt_resp resp;
    char tid[33] = "";
    bool got = false;
    int failed = t->failed;
    int fd;

    sid[0] = '\0';
    fl_rig_start(&r, bin, tag, NULL, extra);
    ok(t, fl_wait_ext_next(&r.fl, 1, 3000), "%s: registered", tag);
    fd = rt_connect(r.proxy_port);
    if (restore && fd >= 0) {
        ok(t,
           rt_call(fd, "GET", "/2018-06-01/runtime/restore/next", NULL, NULL, &resp) == 0 &&
               resp.status == 200 && r.fl.restores == 1,
           "%s: /restore/next relayed, answered 200", tag);
        buf_free(&resp.body);
    }
    fl_invoke(&r.fl, "r-1", FL_SQS_EVENT, epoch_ms() + 10000, true, true);
    if (fd >= 0 &&
        rt_call(fd, "GET", "/2018-06-01/runtime/invocation/next", NULL, NULL, &resp) == 0) {
        const char *p = resp.body.data ? strstr(resp.body.data, "\"traceparent\":\"00-") : NULL;
        got = p != NULL;
        if (got) {
            memcpy(tid, p + 18, 32);
            tid[32] = '\0';
            memcpy(sid, p + 51, 16);
            sid[16] = '\0';
        }
        buf_free(&resp.body);
        (void)rt_call(fd, "POST", "/2018-06-01/runtime/invocation/r-1/response", NULL, "\"ok\"",
                      &resp);
        buf_free(&resp.body);
    }
    ok(t, got && strcmp(tid, FL_TID) == 0, "%s: the handler's parent is a tracebridge span", tag);
    if (fd >= 0)
        close(fd);
    ok(t, fl_wait_ext_next(&r.fl, 2, 3000), "%s: invocation done", tag);
    ok(t, !restore || file_count_lines(r.log, "restored from a snapshot") == 1,
       "%s: the restore is logged once", tag);
    is_int(t, fl_rig_stop(&r, "spindown"), 0, "%s: exit 0", tag);
    fl_rig_done(t, &r, failed);
    return got;
}

int main(int argc, char **argv)
{
    struct tap t = TAP_INIT;
    char a[17], b[17], c[17], d[17];

    (void)argc;
    if (!fl_find_daemon(&t, argv[0], bin, sizeof(bin)))
        return tap_done(&t);
    snprintf(bin + strlen(bin), sizeof(bin) - strlen(bin), "-test-seeded");
    if (access(bin, X_OK) != 0) {
        ok(&t, 0, "seeded test build %s exists", bin);
        return tap_done(&t);
    }
    first_span_id(&t, "copy-a", false, a);
    first_span_id(&t, "copy-b", false, b);
    ok(&t, a[0] && strcmp(a, b) == 0,
       "no restore seen: two copies of one state hand out the same span id (%s)", a);
    first_span_id(&t, "restored-a", true, c);
    first_span_id(&t, "restored-b", true, d);
    ok(&t, c[0] && d[0] && strcmp(c, a) != 0 && strcmp(d, a) != 0 && strcmp(c, d) != 0,
       "after /restore/next: fresh ids (%s, %s), not the pooled %s", c, d, a);
    return tap_done(&t);
}
