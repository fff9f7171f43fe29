/* SPDX-License-Identifier: Apache-2.0 */
/* receiverd: runs the OTLP/HTTP receiver alone on its own loop, for tests and benchmarks.
 *   receiverd --out FILE [--port N] [--spans N] [--max-request BYTES] [--buffer-spans N]
 * Prints "READY <port>" on stdout once listening. On SIGTERM/SIGINT, or once N spans are
 * buffered (--spans), writes every buffered payload concatenated (one valid
 * ExportTraceServiceRequest, exactly as the exporter would send it) to FILE, prints
 * "WROTE <spans> <bytes> <requests> <rejected>" and exits 0. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "extension/receiver/receiver.h"
#include "extension/export/export.h"

struct app {
    uv_loop_t *loop;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    uv_timer_t poll;
    struct spanbuf *sb;
    struct receiver *r;
    const char *out;
    size_t want_spans;
    int rc;
    bool done;
};

static int write_buffered(struct app *a)
{
    struct buf b;
    struct receiver_stats st;
    size_t spans = 0;
    uint64_t seq = 0;
    FILE *f;
    int rc = 0;

    buf_init(&b, (size_t)1 << 31);
    spanbuf_peek(a->sb, (size_t)1 << 31, &b, &spans, &seq);
    f = fopen(a->out, "wb");
    if (!f || (b.len > 0 && fwrite(b.data, 1, b.len, f) != b.len))
        rc = -EIO;
    if (f && fclose(f) != 0)
        rc = -EIO;
    receiver_get_stats(a->r, &st);
    printf("WROTE %zu %zu %lu %lu\n", spans, b.len, st.requests, st.spans_rejected);
    fflush(stdout);
    buf_free(&b);
    return rc;
}

static void finish(struct app *a)
{
    if (a->done)
        return;
    a->done = true;
    a->rc = write_buffered(a) < 0 ? 1 : 0;
    receiver_free(a->r);
    uv_close((uv_handle_t *)&a->sigterm, NULL);
    uv_close((uv_handle_t *)&a->sigint, NULL);
    uv_close((uv_handle_t *)&a->poll, NULL);
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    finish(s->data);
}

static void on_poll(uv_timer_t *t)
{
    struct app *a = t->data;

    if (a->want_spans > 0 && spanbuf_spans(a->sb) >= a->want_spans)
        finish(a);
}

static int usage(void)
{
    fputs("usage: receiverd --out FILE [--port N] [--spans N] [--max-request BYTES] "
          "[--buffer-spans N]\n",
          stderr);
    return 2;
}

int main(int argc, char **argv)
{
    struct app a;
    long port = 0;
    size_t max_request = 4 << 20;
    size_t buffer_spans = 1000000;
    int err = 0;
    int i;

    memset(&a, 0, sizeof(a));
    for (i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--out") == 0)
            a.out = argv[i + 1];
        else if (strcmp(argv[i], "--port") == 0)
            port = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--spans") == 0)
            a.want_spans = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--max-request") == 0)
            max_request = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--buffer-spans") == 0)
            buffer_spans = strtoul(argv[i + 1], NULL, 10);
        else
            return usage();
    }
    if (!a.out || i != argc)
        return usage();
    signal(SIGPIPE, SIG_IGN);
    a.loop = uv_default_loop();
    a.sb = spanbuf_new(buffer_spans, (size_t)1 << 30);
    a.r = receiver_new(a.loop, "127.0.0.1", (int)port, max_request, a.sb, NULL, &err);
    if (!a.r) {
        fprintf(stderr, "receiverd: cannot listen on 127.0.0.1:%ld: %s\n", port, uv_strerror(err));
        return 1;
    }
    uv_signal_init(a.loop, &a.sigterm);
    uv_signal_init(a.loop, &a.sigint);
    uv_timer_init(a.loop, &a.poll);
    a.sigterm.data = a.sigint.data = a.poll.data = &a;
    uv_signal_start(&a.sigterm, on_signal, SIGTERM);
    uv_signal_start(&a.sigint, on_signal, SIGINT);
    uv_timer_start(&a.poll, on_poll, 10, 10);
    printf("READY %d\n", receiver_port(a.r));
    fflush(stdout);
    uv_run(a.loop, UV_RUN_DEFAULT);
    uv_loop_close(a.loop);
    spanbuf_free(a.sb);
    return a.rc;
}
