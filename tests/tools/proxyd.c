/* proxyd: runs the Runtime API proxy alone on its own loop, for tests and benchmarks.
 *   proxyd --listen-port N --upstream host:port [--rewrite-test] [--max-event BYTES]
 * Prints "READY <port>" on stdout once listening. Identity hooks by default; --rewrite-test adds
 * the header "x-tracebridge-test: 1" and replaces each /next body with
 * {"rewritten":true,"orig_len":N}, so tests can see the re-framing. SIGTERM/SIGINT stop it. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "proxy/proxy.h"

struct app {
    uv_loop_t *loop;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    struct proxy *proxy;
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
    fputs("usage: proxyd --listen-port N --upstream host:port [--rewrite-test] "
          "[--max-event BYTES]\n",
          stderr);
    return 2;
}

static int parse_args(int argc, char **argv, struct proxy_conf *conf, bool *rewrite)
{
    int i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rewrite-test") == 0)
            *rewrite = true;
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
    struct proxy_conf conf = {"127.0.0.1", 0, NULL, 7 * 1024 * 1024, 1024 * 1024 + 64 * 1024};
    struct proxy_hooks hooks = {0};
    struct log lg;
    struct app a = {0};
    bool rewrite = false;
    int err = 0;

    if (parse_args(argc, argv, &conf, &rewrite) < 0)
        return usage();
    signal(SIGPIPE, SIG_IGN);
    log_init(&lg, getenv("PROXYD_DEBUG") ? LOG_DEBUG : LOG_WARN);
    if (rewrite)
        hooks.next_event = rewrite_hook;
    a.loop = uv_default_loop();
    a.proxy = proxy_new(a.loop, &conf, &hooks, &lg, &err);
    if (!a.proxy) {
        fprintf(stderr, "proxyd: %s\n", uv_strerror(err));
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
    return uv_loop_close(a.loop) == 0 ? 0 : 1;
}
