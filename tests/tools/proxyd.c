/* SPDX-License-Identifier: Apache-2.0 */
/* proxyd: runs the Runtime API proxy alone on its own loop, for tests and benchmarks.
 *   proxyd --listen-port N --upstream host:port [--rewrite-test | --promote]
 *          [--max-event BYTES] [--max-header BYTES]
 * Prints "READY <port>" on stdout once listening. Identity hooks by default; --rewrite-test adds
 * the header "x-tracebridge-test: 1" and replaces each /next body with
 * {"rewritten":true,"orig_len":N}, so tests can see the re-framing. --promote runs the real
 * promote engine on every event (headers and client-context targets, a fixed span id), the
 * work the daemon does on the invocation path. SIGTERM/SIGINT stop it. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "proxy/promote/promote.h"
#include "proxy/proxy.h"

enum mode { MODE_IDENTITY, MODE_REWRITE_TEST, MODE_PROMOTE };

struct app {
    uv_loop_t *loop;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    struct proxy *proxy;
    struct promote_conf pconf;
    struct promote_analysis *analysis; /* large (links); allocated once */
};

static void rewrite_hook(void *arg, struct proxy_next *ev)
{
    struct buf b;

    (void)arg;
    buf_init(&b, 256);
    if (buf_appendf(&b, "{\"rewritten\":true,\"orig_len\":%zu}", ev->body_len) == 0)
        proxy_next_set_body(ev, &b);
    buf_free(&b);
    (void)proxy_next_set_header(ev, "x-tracebridge-test", "1", 1);
}

static void set_changed_header(struct proxy_next *ev, bool changed, const char *name,
                               const struct buf *v)
{
    if (changed && v->len > 0)
        (void)proxy_next_set_header(ev, name, v->data, v->len);
}

/* What the daemon's hook does: analyse, pick the write context (the parent's trace with our
 * span id), apply, hand the new body and headers to the proxy. Fail open throughout. */
static void promote_hook(void *arg, struct proxy_next *ev)
{
    static const uint8_t span[8] = {0x1a, 0x2b, 0x3c, 0x4d, 0x5e, 0x6f, 0x70, 0x81};
    struct app *a = arg;
    struct promote_input in = {ev->body, ev->body_len, NULL, 0, NULL, 0, false};
    struct promote_output out;
    struct trace_ctx_full w;

    in.trace_id_header = proxy_next_header(ev, "Lambda-Runtime-Trace-Id", &in.trace_id_header_len);
    in.client_context =
        proxy_next_header(ev, "Lambda-Runtime-Client-Context", &in.client_context_len);
    promote_analyse(&a->pconf, &in, a->analysis);
    if (a->analysis->found) {
        w.ctx = a->analysis->parent.ctx; /* as the daemon does: the strings, not 8.7 KB */
        str_copy(w.tracestate, sizeof(w.tracestate), a->analysis->parent.tracestate);
        str_copy(w.baggage, sizeof(w.baggage), a->analysis->parent.baggage);
        memcpy(w.ctx.span_id, span, sizeof(span));
    }
    if (promote_apply(&a->pconf, &in, a->analysis, a->analysis->found ? &w : NULL, &out) == 0) {
        if (out.body_changed)
            proxy_next_set_body(ev, &out.body);
        set_changed_header(ev, out.client_context_changed, "Lambda-Runtime-Client-Context",
                           &out.client_context);
        set_changed_header(ev, out.trace_id_changed, "Lambda-Runtime-Trace-Id", &out.trace_id);
        promote_output_free(&out);
    }
    promote_analysis_free(a->analysis);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct app *a = s->data;

    (void)signum;
    proxy_free(a->proxy);
    uv_close((uv_handle_t *)&a->sigterm, NULL);
    uv_close((uv_handle_t *)&a->sigint, NULL);
}

static int usage(void)
{
    fputs("usage: proxyd --listen-port N --upstream host:port [--rewrite-test | --promote]\n"
          "              [--max-event BYTES] [--max-header BYTES]\n",
          stderr);
    return 2;
}

static int parse_args(int argc, char **argv, struct proxy_conf *conf, enum mode *mode)
{
    int i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rewrite-test") == 0)
            *mode = MODE_REWRITE_TEST;
        else if (strcmp(argv[i], "--promote") == 0)
            *mode = MODE_PROMOTE;
        else if (i + 1 < argc && strcmp(argv[i], "--max-header") == 0)
            conf->max_header_bytes = (size_t)strtoull(argv[++i], NULL, 10);
        else if (i + 1 < argc && strcmp(argv[i], "--listen-port") == 0)
            conf->listen_port = (int)strtol(argv[++i], NULL, 10);
        else if (i + 1 < argc && strcmp(argv[i], "--upstream") == 0)
            conf->upstream = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--max-event") == 0)
            conf->max_event_bytes = (size_t)strtoull(argv[++i], NULL, 10);
        else
            return -1;
    }
    return conf->upstream ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct proxy_conf conf = {"127.0.0.1", 0, NULL, 7 * 1024 * 1024, 1024 * 1024 + 64 * 1024, 0};
    struct proxy_hooks hooks = {0};
    struct log lg;
    struct app a = {0};
    enum mode mode = MODE_IDENTITY;
    int err = 0;
    int rc;

    if (parse_args(argc, argv, &conf, &mode) < 0)
        return usage();
    signal(SIGPIPE, SIG_IGN);
    log_init(&lg, getenv("PROXYD_DEBUG") ? LOG_DEBUG : LOG_WARN);
    hooks.arg = &a;
    if (mode == MODE_REWRITE_TEST)
        hooks.next_event = rewrite_hook;
    if (mode == MODE_PROMOTE) {
        a.pconf.targets = PROMOTE_TARGET_HEADERS | PROMOTE_TARGET_CLIENT_CONTEXT;
        a.pconf.max_event_bytes = conf.max_event_bytes;
        a.analysis = calloc(1, sizeof(*a.analysis));
        if (!a.analysis)
            return 1;
        hooks.next_event = promote_hook;
    }
    a.loop = uv_default_loop();
    a.proxy = proxy_new(a.loop, &conf, &hooks, &lg, &err);
    if (!a.proxy) {
        fprintf(stderr, "proxyd: %s\n", uv_strerror(err));
        free(a.analysis);
        return 1;
    }
    a.sigterm.data = a.sigint.data = &a;
    uv_signal_init(a.loop, &a.sigterm);
    uv_signal_init(a.loop, &a.sigint);
    uv_signal_start(&a.sigterm, on_signal, SIGTERM);
    uv_signal_start(&a.sigint, on_signal, SIGINT);
    printf("READY %d\n", proxy_port(a.proxy));
    fflush(stdout);
    uv_run(a.loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(a.loop) == 0 ? 0 : 1;
    free(a.analysis);
    return rc;
}
