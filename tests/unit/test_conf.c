/* SPDX-License-Identifier: Apache-2.0 */
/* conf: defaults, the signal-specific variable winning over the generic one, /v1/traces on a
 * base endpoint, invalid values falling back to the default with one warning that names the
 * variable, and secrets never echoed. */
#include "extension/conf.c"

#include <stdlib.h>

#include "tests/lib/tap.h"
#include "tests/lib/test_util.h"

struct run {
    struct conf c;
    struct log lg;
    char *mem;
    size_t n;
};

static void load(struct run *r, const char *const *env)
{
    FILE *f = open_memstream(&r->mem, &r->n);

    log_init(&r->lg, LOG_INFO);
    r->lg.out = f;
    conf_load(&r->c, env_of, (void *)env, &r->lg);
    fclose(f);
}

static void done(struct run *r)
{
    free(r->mem);
    r->mem = NULL;
}

int main(void)
{
    struct tap t = TAP_INIT;
    struct run r = {0};

    static const char *const none[] = {NULL};
    load(&r, none);
    is_int(&t, r.c.proxy_port, 9011, "default proxy port");
    is_int(&t, r.c.exporter.timeout_ms, 10000, "default export timeout");
    is_int(&t, r.c.flush, FLUSH_INVOKE, "default flush mode");
    is_int(&t, (int)r.c.buffer_spans, 4096, "default buffer");
    is_int(&t, r.c.exporter.protocol, OTLP_PROTOBUF, "default protocol");
    is_str(&t, r.c.exporter.traces_endpoint, "http://localhost:4318/v1/traces", "default endpoint");
    is_int(&t, (int)r.n, 0, "no warning for an empty environment");
    is_int(&t, r.c.lifecycle.promote.targets, 7, "default targets: headers, client-context, xray");
    is_int(&t, r.c.lifecycle.promote.xray_header, PROMOTE_XRAY_AUTO,
           "default X-Ray header mode: auto");
    done(&r);

    static const char *const env2[] = {"OTEL_EXPORTER_OTLP_ENDPOINT",
                                       "https://otlp.example:4318/",
                                       "OTEL_EXPORTER_OTLP_TIMEOUT",
                                       "3000",
                                       "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
                                       "1500",
                                       "OTEL_EXPORTER_OTLP_PROTOCOL",
                                       "http/json",
                                       "TRACEBRIDGE_FLUSH",
                                       "ADAPTIVE",
                                       NULL};
    load(&r, env2);
    is_str(&t, r.c.exporter.traces_endpoint, "https://otlp.example:4318/v1/traces",
           "a base endpoint gets /v1/traces (one slash)");
    is_int(&t, r.c.exporter.timeout_ms, 1500, "the TRACES variant wins over the generic one");
    is_int(&t, r.c.exporter.protocol, OTLP_JSON, "http/json");
    is_int(&t, r.c.flush, FLUSH_ADAPTIVE, "enum values in any case");
    done(&r);

    static const char *const env3[] = {"TRACEBRIDGE_PROXY_PORT",
                                       "70000",
                                       "TRACEBRIDGE_BUFFER_SPANS",
                                       "-5",
                                       "OTEL_EXPORTER_OTLP_TIMEOUT",
                                       "12abc",
                                       NULL};
    load(&r, env3);
    is_int(&t, r.c.proxy_port, 9011, "out-of-range port falls back to the default");
    is_int(&t, (int)r.c.buffer_spans, 4096, "a negative size falls back to the default");
    is_int(&t, r.c.exporter.timeout_ms, 10000, "a number with trailing junk falls back");
    ok(&t,
       r.mem && strstr(r.mem, "TRACEBRIDGE_PROXY_PORT") &&
           strstr(r.mem, "TRACEBRIDGE_BUFFER_SPANS") && strstr(r.mem, "OTEL_EXPORTER_OTLP_TIMEOUT"),
       "each invalid value gets a warning naming its variable");
    done(&r);

    static const char *const env5[] = {"TRACEBRIDGE_TARGETS", "headers,client-context,xray",
                                       "TRACEBRIDGE_XRAY_HEADER", "rewrite", NULL};
    load(&r, env5);
    ok(&t, r.c.lifecycle.promote.targets & PROMOTE_TARGET_XRAY,
       "an explicit xray target is kept (was dropped)");
    is_int(&t, r.c.lifecycle.promote.xray_header, PROMOTE_XRAY_REWRITE, "rewrite");
    done(&r);
    static const char *const env6[] = {"TRACEBRIDGE_TARGETS", "headers", "TRACEBRIDGE_XRAY_HEADER",
                                       "rewrite", NULL};
    load(&r, env6);
    ok(&t, r.c.lifecycle.promote.targets & PROMOTE_TARGET_XRAY, "rewrite forces the X-Ray target");
    done(&r);
    static const char *const env7[] = {"TRACEBRIDGE_XRAY_HEADER", "keep", NULL};
    load(&r, env7);
    ok(&t, !(r.c.lifecycle.promote.targets & PROMOTE_TARGET_XRAY), "keep removes the X-Ray target");
    done(&r);

    static const char *const env4[] = {
        "OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20s3cr3t,bad",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-api-key=hunter2", NULL};
    load(&r, env4);
    is_str(&t, r.c.exporter.headers, "x-api-key=hunter2", "the TRACES headers win");
    ok(&t, !r.mem || (!strstr(r.mem, "hunter2") && !strstr(r.mem, "s3cr3t")),
       "header values never reach the log");
    done(&r);
    return tap_done(&t);
}
