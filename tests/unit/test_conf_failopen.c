/* SPDX-License-Identifier: Apache-2.0 */
/* conf: every class of setting falls back to a safe default with one clear log line when its
 * value could break the function: out-of-range numbers, unknown choices, malformed addresses and
 * URLs, a relative ready file, a non-loopback receiver, values that are fine alone but not
 * together (tracebridge's own proxy or receiver as the upstream, the function's own port, limits
 * beyond the function's memory). Secret values are never echoed. */
#include "extension/conf.h"

#include <unistd.h>

#include "tests/lib/tap.h"
#include "tests/lib/test_util.h"

struct rig {
    struct conf c;
    struct log lg;
    char path[96];
};

/* Loads kv ({"NAME","value",...,NULL}) on top of a Lambda-like environment. */
static void load(struct rig *r, const char *const *kv)
{
    const char *env[64];
    int n = 0;

    for (int i = 0; kv && kv[i]; i++)
        env[n++] = kv[i];
    env[n++] = "AWS_LAMBDA_RUNTIME_API";
    env[n++] = "127.0.0.1:9001";
    env[n++] = "AWS_LAMBDA_FUNCTION_NAME";
    env[n++] = "orders";
    env[n] = NULL;
    snprintf(r->path, sizeof(r->path), "/tmp/tb-test-conf-%d.log", (int)getpid());
    log_init(&r->lg, LOG_DEBUG);
    r->lg.out = fopen(r->path, "w");
    conf_load(&r->c, env_of, env, &r->lg);
    fclose(r->lg.out);
}

static int lines(struct rig *r, const char *needle)
{
    return file_count_lines(r->path, needle);
}

static int all_lines(struct rig *r)
{
    return file_count_lines(r->path, "\"level\"");
}

static void test_defaults(struct tap *t)
{
    struct rig r;

    load(&r, NULL);
    is_int(t, all_lines(&r), 0, "defaults: no log line");
    is_int(t, r.c.proxy_port, 9011, "proxy port 9011");
    is_str(t, r.c.upstream, "127.0.0.1:9001", "upstream = AWS_LAMBDA_RUNTIME_API");
    is_str(t, r.c.ready_file, "/tmp/tracebridge.ready", "ready file");
    ok(t, r.c.receiver_enabled && r.c.receiver_port == 4318, "receiver on 4318");
    is_str(t, r.c.exporter.traces_endpoint, "http://localhost:4318/v1/traces", "endpoint");
}

/* One invalid value: the field gets the default and exactly one WARN names the variable. */
static void invalid(struct tap *t, const char *name, const char *value, const char *what)
{
    const char *kv[] = {name, value, NULL};
    struct rig r;
    struct rig d;
    char needle[128];

    load(&d, NULL);
    load(&r, kv);
    snprintf(needle, sizeof(needle), "\"WARN\".*%s", name);
    ok(t, lines(&r, needle) == 1 && all_lines(&r) == 1, "%s=%s (%s): one WARN naming it", name,
       value, what);
    ok(t,
       r.c.proxy_port == d.c.proxy_port && strcmp(r.c.upstream, d.c.upstream) == 0 &&
           strcmp(r.c.ready_file, d.c.ready_file) == 0 &&
           r.c.receiver_enabled == d.c.receiver_enabled &&
           strcmp(r.c.receiver_host, d.c.receiver_host) == 0 &&
           r.c.receiver_port == d.c.receiver_port &&
           strcmp(r.c.exporter.traces_endpoint, d.c.exporter.traces_endpoint) == 0 &&
           r.c.max_flush_ms == d.c.max_flush_ms && r.c.buffer_bytes == d.c.buffer_bytes &&
           r.c.flush == d.c.flush && r.c.lifecycle.sampler_ratio == d.c.lifecycle.sampler_ratio &&
           r.c.exporter.timeout_ms == d.c.exporter.timeout_ms,
       "%s=%s: the default is used", name, value);
}

static void test_invalid_values(struct tap *t)
{
    invalid(t, "TRACEBRIDGE_PROXY_PORT", "0", "out of range");
    invalid(t, "TRACEBRIDGE_PROXY_PORT", "9011x", "not a number");
    invalid(t, "TRACEBRIDGE_MAX_FLUSH_MS", "-5", "negative");
    invalid(t, "TRACEBRIDGE_BUFFER_BYTES", "12", "below the minimum");
    invalid(t, "TRACEBRIDGE_FLUSH", "sometimes", "unknown choice");
    invalid(t, "OTEL_TRACES_SAMPLER_ARG", "1.5", "ratio above 1");
    invalid(t, "OTEL_EXPORTER_OTLP_TIMEOUT", "0", "zero timeout");
    invalid(t, "TRACEBRIDGE_UPSTREAM", "runtime.internal:9001", "a name (nothing is resolved)");
    invalid(t, "TRACEBRIDGE_UPSTREAM", "127.0.0.1", "no port");
    invalid(t, "TRACEBRIDGE_UPSTREAM", "127.0.0.1:0", "port 0");
    invalid(t, "TRACEBRIDGE_READY_FILE", "tracebridge.ready", "relative path");
    invalid(t, "TRACEBRIDGE_READY_FILE", "/tmp/", "a directory");
    invalid(t, "TRACEBRIDGE_OTLP_LISTEN", "0.0.0.0:4318", "not loopback");
    invalid(t, "TRACEBRIDGE_OTLP_LISTEN", "localhost:4318", "a name");
    invalid(t, "TRACEBRIDGE_OTLP_LISTEN", "127.0.0.1:", "no port");
    invalid(t, "OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318", "no scheme");
    invalid(t, "OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://collector", "not http(s)");
    invalid(t, "OTEL_EXPORTER_OTLP_ENDPOINT", "http://", "no host");
}

static void test_valid_values(struct tap *t)
{
    const char *kv[] = {"TRACEBRIDGE_UPSTREAM",
                        "[::1]:9009",
                        "TRACEBRIDGE_READY_FILE",
                        "/tmp/x/tb.ready",
                        "TRACEBRIDGE_OTLP_LISTEN",
                        "[::1]:4319",
                        "OTEL_EXPORTER_OTLP_ENDPOINT",
                        "HTTPS://api.example.com/otlp",
                        NULL};
    struct rig r;

    load(&r, kv);
    is_int(t, all_lines(&r), 0, "valid values: no log line");
    ok(t,
       strcmp(r.c.upstream, "[::1]:9009") == 0 && strcmp(r.c.ready_file, "/tmp/x/tb.ready") == 0 &&
           strcmp(r.c.receiver_host, "::1") == 0 && r.c.receiver_port == 4319 &&
           strcmp(r.c.exporter.traces_endpoint, "HTTPS://api.example.com/otlp/v1/traces") == 0,
       "valid values are kept");
}

/* Values that are fine alone but would break the function together. */
static void test_conflicts(struct tap *t)
{
    struct rig r;

    {
        const char *kv[] = {"TRACEBRIDGE_UPSTREAM", "127.0.0.1:9011", NULL};
        load(&r, kv);
        ok(t, strcmp(r.c.upstream, "127.0.0.1:9001") == 0 && lines(&r, "own proxy") == 1,
           "upstream = our proxy: the Runtime API instead, one line");
    }
    {
        const char *kv[] = {"TRACEBRIDGE_UPSTREAM", "localhost:4318", NULL};
        load(&r, kv);
        ok(t, strcmp(r.c.upstream, "127.0.0.1:9001") == 0 && lines(&r, "own OTLP receiver") == 1,
           "upstream = our receiver: the Runtime API instead, one line");
    }
    {
        const char *kv[] = {"TRACEBRIDGE_UPSTREAM", "0.0.0.0:9011", NULL};
        load(&r, kv);
        ok(t, strcmp(r.c.upstream, "127.0.0.1:9001") == 0, "0.0.0.0 on our port is ourselves too");
    }
    {
        const char *kv[] = {"TRACEBRIDGE_UPSTREAM", "127.0.0.1:9009", "TRACEBRIDGE_OTLP_LISTEN",
                            "off", NULL};
        load(&r, kv);
        ok(t, strcmp(r.c.upstream, "127.0.0.1:9009") == 0 && all_lines(&r) == 0,
           "another proxy's port is kept");
    }
    {
        const char *kv[] = {"TRACEBRIDGE_PROXY_PORT", "8080", "AWS_LWA_PORT", "8080", NULL};
        load(&r, kv);
        ok(t, r.c.proxy_port == 9011 && lines(&r, "own port (AWS_LWA_PORT") == 1,
           "proxy port = the web adapter's port: 9011 instead, one line");
    }
    {
        const char *kv[] = {"PORT", "9011", NULL};
        load(&r, kv);
        ok(t, r.c.proxy_port == 9012, "the default proxy port is the function's PORT: 9012");
    }
    {
        const char *kv[] = {"TRACEBRIDGE_OTLP_LISTEN", "127.0.0.1:9011", NULL};
        load(&r, kv);
        ok(t, !r.c.receiver_enabled && lines(&r, "taken by the proxy") == 1,
           "receiver port = proxy port: receiver off, one line");
    }
    {
        const char *kv[] = {"TRACEBRIDGE_BUFFER_BYTES",
                            "536870912",
                            "TRACEBRIDGE_OTLP_MAX_REQUEST_BYTES",
                            "67108864",
                            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                            "128",
                            NULL};
        load(&r, kv);
        ok(t,
           r.c.buffer_bytes == 16u * 1024 * 1024 &&
               r.c.receiver_max_request_bytes == 16u * 1024 * 1024,
           "limits above 1/8 of a 128 MB function are capped at 16 MiB");
        is_int(t, lines(&r, "cannot run the function out of memory"), 2,
               "one line per capped limit");
    }
    {
        const char *kv[] = {"TRACEBRIDGE_BUFFER_BYTES", "536870912", NULL};
        load(&r, kv);
        ok(t, r.c.buffer_bytes == 536870912u && all_lines(&r) == 0,
           "memory size unknown: the limit is kept");
    }
}

static void test_secrets(struct tap *t)
{
    const char *kv[] = {"OTEL_EXPORTER_OTLP_HEADERS", "", NULL};
    char big[CONF_STR_MAX * 5];
    struct rig r;

    memset(big, 'k', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memcpy(big, "x-api-key=", 10);
    kv[1] = big;
    load(&r, kv);
    ok(t, lines(&r, "OTEL_EXPORTER_OTLP_HEADERS") == 1 && lines(&r, "kkkkkkkk") == 0,
       "an invalid secret is named, its value never echoed");
}

int main(void)
{
    struct tap t = TAP_INIT;

    test_defaults(&t);
    test_invalid_values(&t);
    test_valid_values(&t);
    test_conflicts(&t);
    test_secrets(&t);
    return tap_done(&t);
}
