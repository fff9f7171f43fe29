/* SPDX-License-Identifier: Apache-2.0 */
/* cli: `tracebridge rewrite` — shows exactly what the handler would receive for one event, by
 * the same analyse/apply path the proxy uses, with the same fail-open behaviour. */
#include "proxy/promote/promote.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "extension/conf.h"

#define CLI_MIN_READ (8u * 1024 * 1024)

struct cli_args {
    const char *trace_id_header;
    const char *client_context;
    const char *span_id;
    const char *targets;
    const char *xray_header;
};

static int cli_usage(void)
{
    fputs("usage: tracebridge rewrite [--trace-id-header V] [--client-context JSON]\n"
          "                           [--span-id HEX16] [--targets headers,client-context,xray]\n"
          "                           [--xray-header auto|keep|rewrite]\n"
          "reads one event on stdin, writes the handler's bytes to stdout and one JSON line\n"
          "describing the promotion to stderr (trace_id_header: the Lambda-Runtime-Trace-Id the\n"
          "handler gets, null when it is left as it was); settings not given come from the\n"
          "TRACEBRIDGE_* environment like the extension's\n",
          stderr);
    return 2;
}

static int parse_args(int argc, char **argv, struct cli_args *a)
{
    memset(a, 0, sizeof(*a));
    for (int i = 1; i < argc; i++) {
        const char **dst = NULL;
        if (strcmp(argv[i], "--trace-id-header") == 0)
            dst = &a->trace_id_header;
        else if (strcmp(argv[i], "--client-context") == 0)
            dst = &a->client_context;
        else if (strcmp(argv[i], "--span-id") == 0)
            dst = &a->span_id;
        else if (strcmp(argv[i], "--targets") == 0)
            dst = &a->targets;
        else if (strcmp(argv[i], "--xray-header") == 0)
            dst = &a->xray_header;
        if (!dst || i + 1 >= argc)
            return -EINVAL;
        *dst = argv[++i];
    }
    return 0;
}

static int parse_xray_header(const char *s, enum promote_xray_header *out)
{
    for (int i = 0; promote_xray_header_names[i]; i++)
        if (strcmp(s, promote_xray_header_names[i]) == 0) {
            *out = (enum promote_xray_header)i;
            return 0;
        }
    return -EINVAL;
}

/* Reads stdin into b (bounded by b->max). 0, or -E2BIG when more input is waiting. */
static int read_all(struct buf *b)
{
    char chunk[65536];

    for (;;) {
        ssize_t r = read(0, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            return 0;
        if (buf_append(b, chunk, (size_t)r) < 0) {
            /* too big to hold: the handler would get it unchanged, so pass it through */
            fwrite(b->data, 1, b->len, stdout);
            fwrite(chunk, 1, (size_t)r, stdout);
            while ((r = read(0, chunk, sizeof(chunk))) > 0)
                fwrite(chunk, 1, (size_t)r, stdout);
            return -E2BIG;
        }
    }
}

static void json_str(FILE *f, const char *s, size_t n)
{
    struct buf b;
    int rc;

    buf_init(&b, 6 * n + 2); /* no byte takes more than 6 escaped */
    rc = buf_append_byte(&b, '"');
    if (rc == 0)
        rc = json_escape_append(&b, s, n);
    if (rc == 0)
        rc = buf_append_byte(&b, '"');
    if (rc == 0)
        fwrite(b.data, 1, b.len, f);
    else
        fputs("null", f);
    buf_free(&b);
}

static void json_opt(FILE *f, const char *key, const char *s, size_t n, bool present)
{
    fprintf(f, ",\"%s\":", key);
    if (present)
        json_str(f, s, n);
    else
        fputs("null", f);
}

static void report(const struct promote_analysis *a, const struct trace_ctx_full *w,
                   const struct promote_output *o, const char *warning)
{
    char tp[TRACEPARENT_LEN + 1];
    static const char *const tnames[] = {"headers", "client-context", "xray"};
    bool first = true;

    fprintf(stderr, "{\"carrier\":\"%s\",\"trigger\":\"%s\"", promote_carrier_name(a->carrier),
            promote_trigger_name(a->info.trigger));
    traceparent_format(&a->parent.ctx, tp);
    json_opt(stderr, "parent", tp, TRACEPARENT_LEN, a->found);
    if (w)
        traceparent_format(&w->ctx, tp);
    json_opt(stderr, "written", tp, TRACEPARENT_LEN, w && o->targets_written);
    fputs(",\"targets\":[", stderr);
    for (int i = 0; i < 3; i++) {
        if (!(o->targets_written & (1u << i)))
            continue;
        fprintf(stderr, "%s\"%s\"", first ? "" : ",", tnames[i]);
        first = false;
    }
    fprintf(stderr, "],\"reserved_stripped\":%s,\"links\":%u",
            o->reserved_stripped ? "true" : "false", a->n_links);
    json_opt(stderr, "client_context", o->client_context.data, o->client_context.len,
             o->client_context_changed);
    json_opt(stderr, "trace_id_header", o->trace_id.data, o->trace_id.len, o->trace_id_changed);
    json_opt(stderr, "warning", warning, warning ? strlen(warning) : 0, warning != NULL);
    fputs("}\n", stderr);
}

static bool span_hex_ok(const char *s)
{
    uint8_t id[8];
    return strlen(s) == 16 && hex_decode_lower(s, 16, id) && !span_id_is_zero(id);
}

/* The context the daemon would write: the parent's trace, a new span id. */
static int make_write(const struct promote_analysis *a, const char *span_hex,
                      struct trace_ctx_full *w)
{
    *w = a->parent;
    if (span_hex) /* validated up front by span_hex_ok() */
        return hex_decode_lower(span_hex, 16, w->ctx.span_id) ? 0 : -EINVAL;
    do {
        if (getrandom(w->ctx.span_id, sizeof(w->ctx.span_id), 0) != sizeof(w->ctx.span_id))
            return -EIO;
    } while (span_id_is_zero(w->ctx.span_id));
    return 0;
}

static int run(const struct cli_args *args, struct conf *c, struct buf *in_buf)
{
    struct promote_analysis *a = calloc(1, sizeof(*a));
    struct promote_input in = {in_buf->data,
                               in_buf->len,
                               args->trace_id_header,
                               args->trace_id_header ? strlen(args->trace_id_header) : 0,
                               args->client_context,
                               args->client_context ? strlen(args->client_context) : 0,
                               false};
    struct promote_output out;
    struct trace_ctx_full w;
    const char *warning;
    int rc;

    if (!a)
        return 1;
    promote_analyse(&c->lifecycle.promote, &in, a);
    warning = a->warning;
    if (a->found && make_write(a, args->span_id, &w) < 0) {
        /* no span id: like the proxy, hand the event over without promoting */
        a->found = false;
        warning = "no span id available; context not promoted";
    }
    rc = promote_apply(&c->lifecycle.promote, &in, a, a->found ? &w : NULL, &out);
    if (rc < 0)
        warning = "internal error while rewriting; event passed unchanged";
    if (out.body_changed)
        fwrite(out.body.data, 1, out.body.len, stdout);
    else
        fwrite(in.body, 1, in.body_len, stdout);
    fflush(stdout);
    report(a, a->found ? &w : NULL, &out, warning);
    promote_output_free(&out);
    promote_analysis_free(a);
    free(a);
    return 0;
}

int promote_cli_main(int argc, char **argv)
{
    struct cli_args args;
    struct conf *c = calloc(1, sizeof(*c));
    struct log lg;
    struct buf in;
    size_t cap;
    int rc;

    if (!c)
        return 1;
    if (parse_args(argc, argv, &args) < 0) {
        free(c);
        return cli_usage();
    }
    log_init(&lg, LOG_OFF);
    conf_load_env(c, &lg);
    if (args.span_id && !span_hex_ok(args.span_id)) {
        free(c);
        fputs("tracebridge rewrite: --span-id needs 16 lower-case hex digits, not all zero\n",
              stderr);
        return 2;
    }
    if ((args.targets && promote_targets_parse(args.targets, &c->lifecycle.promote.targets) < 0) ||
        (args.xray_header &&
         parse_xray_header(args.xray_header, &c->lifecycle.promote.xray_header) < 0)) {
        free(c);
        return cli_usage();
    }
    /* keep and rewrite force the xray target either way, as in conf_load() */
    if (c->lifecycle.promote.xray_header == PROMOTE_XRAY_KEEP)
        c->lifecycle.promote.targets &= ~(unsigned)PROMOTE_TARGET_XRAY;
    if (c->lifecycle.promote.xray_header == PROMOTE_XRAY_REWRITE)
        c->lifecycle.promote.targets |= PROMOTE_TARGET_XRAY;
    cap = c->lifecycle.promote.max_event_bytes > CLI_MIN_READ ? c->lifecycle.promote.max_event_bytes
                                                              : CLI_MIN_READ;
    buf_init(&in, cap + (1u << 20));
    rc = read_all(&in);
    if (rc == -E2BIG) {
        fputs("{\"carrier\":\"none\",\"trigger\":\"unknown\",\"parent\":null,\"written\":null,"
              "\"targets\":[],\"reserved_stripped\":false,\"links\":0,\"client_context\":null,"
              "\"trace_id_header\":null,\"warning\":\"event too large; passed unchanged\"}\n",
              stderr);
        rc = 0;
    } else if (rc == 0 && buf_append(&in, "", 0) == 0) {
        rc = run(&args, c, &in);
    } else {
        rc = 1;
    }
    buf_free(&in);
    free(c);
    return rc;
}
