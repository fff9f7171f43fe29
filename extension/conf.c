/* SPDX-License-Identifier: Apache-2.0 */
#include "extension/conf.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "extension/base/base.h"
#include "extension/net/net.h"

#define MiB (1024 * 1024)
/* The most of the function's memory the span buffer, or one OTLP request to the receiver, may
 * take: a buffer sized for a large function must not run a small one out of memory. */
#define MEMORY_SHARE_DIVISOR 8
#define DEFAULT_PROXY_PORT   9011

struct conf_var;
typedef int (*conf_parse_fn)(struct conf *c, const struct conf_var *v, const char *val);

/* One environment variable. `value_doc` is what the README shows as allowed values. */
struct conf_var {
    const char *name;
    const char *def; /* default as text; NULL = unset by default */
    conf_parse_fn parse;
    size_t offset;              /* field in struct conf, for the generic parsers */
    long min, max;              /* range for numbers */
    const char *const *choices; /* NULL-terminated, for enums (index = value) */
    bool secret;                /* never echo the value */
    const char *doc;
};

#define FIELD(f) offsetof(struct conf, f)

static int parse_int(struct conf *c, const struct conf_var *v, const char *val)
{
    char *end;
    long n;

    errno = 0;
    n = strtol(val, &end, 10);
    if (errno || end == val || *end != '\0' || n < v->min || n > v->max)
        return -EINVAL;
    *(int *)((char *)c + v->offset) = (int)n;
    return 0;
}

static int parse_size(struct conf *c, const struct conf_var *v, const char *val)
{
    char *end;
    unsigned long long n;

    if (val[0] == '-')
        return -EINVAL;
    errno = 0;
    n = strtoull(val, &end, 10);
    if (errno || end == val || *end != '\0' || n < (unsigned long long)v->min ||
        n > (unsigned long long)v->max)
        return -EINVAL;
    *(size_t *)((char *)c + v->offset) = (size_t)n;
    return 0;
}

static int parse_str(struct conf *c, const struct conf_var *v, const char *val)
{
    char *dst = (char *)c + v->offset;
    size_t cap = (size_t)v->max;

    if (strlen(val) >= cap)
        return -E2BIG;
    memcpy(dst, val, strlen(val) + 1);
    return 0;
}

/* host:port of an address literal or localhost (the proxy resolves nothing), port 1-65535. */
static int parse_upstream(struct conf *c, const struct conf_var *v, const char *val)
{
    struct sockaddr_storage a;

    if (hostport_parse(val, &a) < 0 || hostport_port(&a) == 0)
        return -EINVAL;
    return parse_str(c, v, val);
}

/* The wrapper runs in another directory than the extension: only an absolute path names the
 * same file for both. */
static int parse_abs_path(struct conf *c, const struct conf_var *v, const char *val)
{
    if (val[0] != '/' || val[strlen(val) - 1] == '/')
        return -EINVAL;
    return parse_str(c, v, val);
}

static int parse_bool(struct conf *c, const struct conf_var *v, const char *val)
{
    static const char *const yes[] = {"on", "true", "1", "yes", NULL};
    static const char *const no[] = {"off", "false", "0", "no", NULL};
    bool *dst = (bool *)((char *)c + v->offset);

    for (int i = 0; yes[i]; i++) {
        if (strcasecmp(val, yes[i]) == 0) {
            *dst = true;
            return 0;
        }
        if (strcasecmp(val, no[i]) == 0) {
            *dst = false;
            return 0;
        }
    }
    return -EINVAL;
}

static int find_choice(const struct conf_var *v, const char *val)
{
    for (int i = 0; v->choices[i]; i++) {
        if (strcasecmp(val, v->choices[i]) == 0)
            return i;
    }
    return -EINVAL;
}

static int parse_enum(struct conf *c, const struct conf_var *v, const char *val)
{
    int i = find_choice(v, val);

    if (i < 0)
        return i;
    *(int *)((char *)c + v->offset) = i;
    return 0;
}

static int parse_targets(struct conf *c, const struct conf_var *v, const char *val)
{
    (void)v;
    return promote_targets_parse(val, &c->lifecycle.promote.targets);
}

static int parse_root_context(struct conf *c, const struct conf_var *v, const char *val)
{
    int i = find_choice(v, val);

    if (i < 0)
        return i;
    c->lifecycle.root_inject = i == 1;
    return 0;
}

static int parse_sampler_arg(struct conf *c, const struct conf_var *v, const char *val)
{
    char *end;
    double d;

    (void)v;
    errno = 0;
    d = strtod(val, &end);
    if (errno || end == val || *end != '\0' || !(d >= 0.0 && d <= 1.0))
        return -EINVAL;
    c->lifecycle.sampler_ratio = d;
    return 0;
}

static int parse_log_level(struct conf *c, const struct conf_var *v, const char *val)
{
    (void)v;
    return log_level_parse(val, &c->log_level);
}

static int parse_protocol(struct conf *c, const struct conf_var *v, const char *val)
{
    (void)v;
    for (int i = 0; otlp_protocol_names[i]; i++) {
        if (strcmp(val, otlp_protocol_names[i]) == 0) { /* exact, as the OTel spec spells them */
            c->exporter.protocol = (enum otlp_protocol)i;
            return 0;
        }
    }
    return -EINVAL; /* grpc is not supported: the default (http/protobuf) is used */
}

static int parse_compression(struct conf *c, const struct conf_var *v, const char *val)
{
    (void)v;
    if (strcmp(val, "gzip") == 0)
        c->exporter.gzip = true;
    else if (strcmp(val, "none") == 0)
        c->exporter.gzip = false;
    else
        return -EINVAL;
    return 0;
}

static int parse_listen(struct conf *c, const struct conf_var *v, const char *val)
{
    const char *colon = strrchr(val, ':');
    char *end;
    long port;

    (void)v;
    if (strcasecmp(val, "off") == 0) {
        c->receiver_enabled = false;
        return 0;
    }
    char host[sizeof(c->receiver_host)];
    struct sockaddr_storage a;

    if (!colon || (size_t)(colon - val) >= sizeof(c->receiver_host) || colon == val)
        return -EINVAL;
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (errno || *end != '\0' || end == colon + 1 || port < 0 || port > 65535)
        return -EINVAL;
    memcpy(host, val, (size_t)(colon - val));
    host[colon - val] = '\0';
    if (host[0] == '[' && colon - val > 2 && host[colon - val - 1] == ']') { /* [::1]:4318 */
        memmove(host, host + 1, (size_t)(colon - val) - 2);
        host[colon - val - 2] = '\0';
    }
    if (loopback_addr(host, (int)port, &a) < 0)
        return -EINVAL; /* the receiver listens on a loopback literal only */
    memcpy(c->receiver_host, host, sizeof(host));
    c->receiver_port = (int)port;
    c->receiver_enabled = true;
    return 0;
}

/* http:// or https:// and something after it: anything else can never be exported to. */
static bool url_like(const char *val)
{
    size_t skip = strncasecmp(val, "http://", 7) == 0    ? 7
                  : strncasecmp(val, "https://", 8) == 0 ? 8
                                                         : 0;

    return skip && val[skip] && val[skip] != '/' && !strpbrk(val, " \t\r\n");
}

/* Signal-specific endpoint: used exactly as given (OTel exporter spec). */
static int parse_traces_endpoint(struct conf *c, const struct conf_var *v, const char *val)
{
    (void)v;
    if (strlen(val) >= sizeof(c->exporter.traces_endpoint) || !url_like(val))
        return -EINVAL;
    memcpy(c->exporter.traces_endpoint, val, strlen(val) + 1);
    return 0;
}

/* Base endpoint: "/v1/traces" is appended, with exactly one slash between (OTel spec). */
static int parse_base_endpoint(struct conf *c, const struct conf_var *v, const char *val)
{
    size_t n = strlen(val);
    const char *sep;

    (void)v;
    if (!url_like(val))
        return -EINVAL;
    sep = val[n - 1] == '/' ? "" : "/";
    if (n + strlen(sep) + strlen("v1/traces") >= sizeof(c->exporter.traces_endpoint))
        return -E2BIG;
    /* Lengths were checked above; pieces are copied so the compiler sees no truncation. */
    memcpy(c->exporter.traces_endpoint, val, n);
    memcpy(c->exporter.traces_endpoint + n, sep, strlen(sep));
    memcpy(c->exporter.traces_endpoint + n + strlen(sep), "v1/traces", sizeof("v1/traces"));
    return 0;
}

static const char *const batch_choices[] = {"first", "none", NULL};
static const char *const root_choices[] = {"off", "inject", NULL};

/* Order matters where two variables set one field: each signal-specific OTEL variable comes
 * right before its generic twin, and the loader skips the twin when the specific one is set. */
static const struct conf_var vars[] = {
    {"TRACEBRIDGE_PROXY_PORT", "9011", parse_int, FIELD(proxy_port), 1, 65535, NULL, false,
     "Port of the local Runtime API proxy (127.0.0.1 only)."},
    {"TRACEBRIDGE_UPSTREAM", NULL, parse_upstream, FIELD(upstream), 0, CONF_STR_MAX, NULL, false,
     "host:port (an IP literal or localhost) the proxy forwards to. Default: "
     "AWS_LAMBDA_RUNTIME_API. Set it to chain behind another Runtime API proxy. If nothing "
     "accepts connections there at start-up, the proxy is not used (the runtime talks to Lambda "
     "directly)."},
    {"TRACEBRIDGE_READY_FILE", "/tmp/tracebridge.ready", parse_abs_path, FIELD(ready_file), 0,
     CONF_STR_MAX, NULL, false,
     "File (absolute path) the extension writes (with the proxy address) once the proxy "
     "listens; the wrapper points the runtime at the proxy only when it exists."},
    {"TRACEBRIDGE_MAX_EVENT_BYTES", "8388608", parse_size, FIELD(max_event_bytes), 1024, 64L * MiB,
     NULL, false, "Events larger than this are relayed unchanged."},
    {"TRACEBRIDGE_TARGETS", "headers,client-context,xray", parse_targets, 0, 0, 0, NULL, false,
     "Where the promoted context is written: any of headers, client-context, xray (the "
     "Lambda-Runtime-Trace-Id header, as TRACEBRIDGE_XRAY_HEADER says), or none."},
    {"TRACEBRIDGE_XRAY_HEADER", "auto", parse_enum, FIELD(lifecycle.promote.xray_header), 0, 0,
     promote_xray_header_names, false,
     "Rewriting Lambda-Runtime-Trace-Id to the X-Ray form of the promoted context (Lineage "
     "kept, Sampled from the W3C flags). auto: when a context was promoted and Lambda's own "
     "X-Ray tracing is not active for the invocation (no header, or not Sampled=1); keep: "
     "never; rewrite: always."},
    {"TRACEBRIDGE_XRAY_PARENT", "off", parse_bool, FIELD(lifecycle.promote.xray_parent), 0, 0, NULL,
     false,
     "on: use Lambda-Runtime-Trace-Id as the parent when the event carries no context "
     "(otherwise it is only a link)."},
    {"TRACEBRIDGE_ROOT_CONTEXT", "off", parse_root_context, 0, 0, 0, root_choices, false,
     "inject: when no context is found, write the tracebridge root span into the targets too."},
    {"TRACEBRIDGE_BATCH_PARENT", "first", parse_enum, FIELD(lifecycle.promote.batch_parent), 0, 0,
     batch_choices, false,
     "Parent of a batch whose records carry different traces: first record, or none (links "
     "only)."},
    {"TRACEBRIDGE_QUEUE_SPANS", "on", parse_bool, FIELD(lifecycle.queue_spans), 0, 0, NULL, false,
     "on: a messaging event's invocation gets an inferred \"wait <queue>\" span beside it, from "
     "the oldest message's send time to the invocation's start, under the producer; off: only "
     "the tracebridge.queue.wait_ms attribute."},
    {"TRACEBRIDGE_FLUSH", "invoke", parse_enum, FIELD(flush), 0, 0, flush_mode_names, false,
     "When spans are exported: invoke (at the next INVOKE, overlapping the handler), end (after "
     "the response, before /event/next), adaptive. Always at SHUTDOWN."},
    {"TRACEBRIDGE_BUFFER_SPANS", "4096", parse_size, FIELD(buffer_spans), 1, 1000000, NULL, false,
     "Span buffer limit (spans); the oldest are dropped and counted when full."},
    {"TRACEBRIDGE_BUFFER_BYTES", "8388608", parse_size, FIELD(buffer_bytes), 4096, 512L * MiB, NULL,
     false, "Span buffer limit (encoded bytes)."},
    {"TRACEBRIDGE_MAX_FLUSH_MS", "200", parse_int, FIELD(max_flush_ms), 1, 60000, NULL, false,
     "Most time an export may add to an invocation (end/adaptive flush)."},
    {"TRACEBRIDGE_OTLP_LISTEN", "127.0.0.1:4318", parse_listen, 0, 0, 0, NULL, false,
     "host:port of the local OTLP/HTTP receiver for the handler's own spans, or off."},
    {"TRACEBRIDGE_SDK_REDIRECT", "on", parse_bool, FIELD(sdk_redirect), 0, 0, NULL, false,
     "on: the wrapper points the handler's OTel SDK (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, runtime "
     "process only) at the local receiver, so its flush never waits for the backend; tracebridge "
     "itself exports to the configured endpoint. off: the SDK exports where it is configured."},
    {"TRACEBRIDGE_OTLP_MAX_REQUEST_BYTES", "4194304", parse_size, FIELD(receiver_max_request_bytes),
     1024, 64L * MiB, NULL, false,
     "Largest OTLP request the receiver accepts (decompressed); larger gets 413."},
    {"TRACEBRIDGE_TELEMETRY", "on", parse_bool, FIELD(telemetry.enabled), 0, 0, NULL, false,
     "on: subscribe to the Lambda Telemetry API for the platform's facts (cold-start init span, "
     "SnapStart restore span, runtimeDone outcome, billed duration, memory, tenant id) on the "
     "spans; off: no subscription."},
    {"TRACEBRIDGE_LOG_LEVEL", "info", parse_log_level, 0, 0, 0, NULL, false,
     "debug, info, warn, error or off."},
    {"OTEL_SDK_DISABLED", "false", parse_bool, FIELD(lifecycle.sdk_disabled), 0, 0, NULL, false,
     "true: make and export no spans (promotion still runs)."},
    {"OTEL_SERVICE_NAME", NULL, parse_str, FIELD(resource.service_name), 0, CONF_STR_MAX, NULL,
     false, "service.name. Default: the function name."},
    {"OTEL_RESOURCE_ATTRIBUTES", NULL, parse_str, FIELD(resource.resource_attributes), 0,
     CONF_STR_MAX * 4, NULL, false, "Extra resource attributes, k=v,k2=v2 (URL-encoded)."},
    {"OTEL_TRACES_SAMPLER", "parentbased_always_on", parse_enum, FIELD(lifecycle.sampler), 0, 0,
     sampler_names, false, "Sampler for tracebridge's own spans."},
    {"OTEL_TRACES_SAMPLER_ARG", "1.0", parse_sampler_arg, 0, 0, 0, NULL, false,
     "Ratio for traceidratio samplers (0..1)."},
    {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", NULL, parse_traces_endpoint, 0, 0, 0, NULL, false,
     "Full traces URL, used as is."},
    {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318", parse_base_endpoint, 0, 0, 0, NULL,
     false, "Base URL; /v1/traces is appended."},
    {"OTEL_EXPORTER_OTLP_TRACES_HEADERS", NULL, parse_str, FIELD(exporter.headers), 0,
     CONF_STR_MAX * 4, NULL, true, "Export headers k=v,k2=v2 (URL-encoded values). Never logged."},
    {"OTEL_EXPORTER_OTLP_HEADERS", NULL, parse_str, FIELD(exporter.headers), 0, CONF_STR_MAX * 4,
     NULL, true, "Export headers for every signal (the TRACES variant wins)."},
    {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", NULL, parse_int, FIELD(exporter.timeout_ms), 1, 600000,
     NULL, false, "Export request timeout, ms."},
    {"OTEL_EXPORTER_OTLP_TIMEOUT", "10000", parse_int, FIELD(exporter.timeout_ms), 1, 600000, NULL,
     false, "Export request timeout for every signal, ms."},
    {"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", NULL, parse_compression, 0, 0, 0, NULL, false,
     "gzip or none."},
    {"OTEL_EXPORTER_OTLP_COMPRESSION", "none", parse_compression, 0, 0, 0, NULL, false,
     "gzip or none, for every signal."},
    {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", NULL, parse_protocol, 0, 0, 0, NULL, false,
     "http/protobuf or http/json."},
    {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", parse_protocol, 0, 0, 0, NULL, false,
     "http/protobuf or http/json, for every signal."},
    {"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", NULL, parse_str, FIELD(exporter.certificate), 0,
     CONF_STR_MAX, NULL, false, "PEM file of CA certificates to verify the endpoint."},
    {"OTEL_EXPORTER_OTLP_CERTIFICATE", NULL, parse_str, FIELD(exporter.certificate), 0,
     CONF_STR_MAX, NULL, false, "PEM CA file for every signal."},
};

#define N_VARS (sizeof(vars) / sizeof(vars[0]))

/* Pairs "X_TRACES_Y" with the generic "X_Y" that follows it in the table. */
static bool is_generic_of(const char *specific, const char *generic)
{
    const char *t = strstr(specific, "_TRACES_");
    size_t head;

    if (!t)
        return false;
    head = (size_t)(t - specific);
    return strncmp(specific, generic, head) == 0 && strcmp(generic + head + 1, t + 8) == 0;
}

static void apply_var(struct conf *c, const struct conf_var *v, const char *val,
                      const struct log *lg)
{
    if (v->parse(c, v, val) >= 0)
        return;
    if (v->secret)
        log_warn(lg, "conf", "%s: invalid value ignored; using the default", v->name);
    else if (v->def)
        log_warn(lg, "conf", "%s=\"%.200s\" is invalid; using the default %s", v->name, val,
                 v->def);
    else
        log_warn(lg, "conf", "%s=\"%.200s\" is invalid; ignored (%s)", v->name, val, v->doc);
    if (v->def)
        v->parse(c, v, v->def);
}

/* Memory size in MB, or 0 when absent or not a plain number in Lambda's range (informational). */
static int parse_memory_mb(const char *s)
{
    char *end;
    long n;

    if (!s || !*s)
        return 0;
    errno = 0;
    n = strtol(s, &end, 10);
    return errno || *end != '\0' || n < 1 || n > 1024 * 1024 ? 0 : (int)n;
}

/* An empty platform variable counts as absent, as for the table above. */
static const char *fact(const char *(*get)(const char *, void *), void *arg, const char *name,
                        const char *def)
{
    const char *s = get(name, arg);

    return s && *s ? s : def;
}

static void load_lambda_facts(struct conf *c, const char *(*get)(const char *, void *), void *arg)
{
    snprintf(c->runtime_api, sizeof(c->runtime_api), "%s",
             fact(get, arg, "AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"));
    snprintf(c->resource.function_name, sizeof(c->resource.function_name), "%s",
             fact(get, arg, "AWS_LAMBDA_FUNCTION_NAME", ""));
    snprintf(c->resource.function_version, sizeof(c->resource.function_version), "%s",
             fact(get, arg, "AWS_LAMBDA_FUNCTION_VERSION", ""));
    snprintf(c->resource.region, sizeof(c->resource.region), "%s",
             fact(get, arg, "AWS_REGION", ""));
    c->resource.memory_mb = parse_memory_mb(get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", arg));
    snprintf(c->init_type, sizeof(c->init_type), "%s",
             fact(get, arg, "AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"));
    c->lifecycle.managed_instances = strcmp(c->init_type, "lambda-managed-instances") == 0;
    c->telemetry.managed_instances = c->lifecycle.managed_instances;
}

/* ---- values that are valid alone but would break the function together ---- */

/* Forwarding to our own proxy or receiver would loop every request back to us. */
static void check_upstream_loop(struct conf *c, const struct log *lg)
{
    struct sockaddr_storage a;
    bool proxy = false;
    bool recv = false;

    if (hostport_parse(c->upstream, &a) < 0)
        return;
    proxy = hostport_is_local_port(&a, c->proxy_port);
    recv = c->receiver_enabled && hostport_is_local_port(&a, c->receiver_port);
    if (!proxy && !recv)
        return;
    log_warn(lg, "conf",
             "TRACEBRIDGE_UPSTREAM=\"%.200s\" is tracebridge's own %s; forwarding to "
             "AWS_LAMBDA_RUNTIME_API (%s) instead",
             c->upstream, proxy ? "proxy" : "OTLP receiver", c->runtime_api);
    snprintf(c->upstream, sizeof(c->upstream), "%s", c->runtime_api);
}

/* The port the function's own web server takes (Lambda Web Adapter: AWS_LWA_PORT, else PORT):
 * if tracebridge took it first, the handler could not start. */
static int app_port(const char *(*get)(const char *, void *), void *arg)
{
    static const char *const names[] = {"AWS_LWA_PORT", "PORT"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *v = get(names[i], arg);
        char *end;
        long n;
        if (!v || !*v)
            continue;
        n = strtol(v, &end, 10);
        return *end == '\0' && n > 0 && n <= 65535 ? (int)n : 0;
    }
    return 0;
}

static void check_ports(struct conf *c, const char *(*get)(const char *, void *), void *arg,
                        const struct log *lg)
{
    int app = app_port(get, arg);

    if (app && c->proxy_port == app) {
        log_warn(lg, "conf",
                 "TRACEBRIDGE_PROXY_PORT=%d is the function's own port (AWS_LWA_PORT/PORT); "
                 "using %d",
                 app, app == DEFAULT_PROXY_PORT ? DEFAULT_PROXY_PORT + 1 : DEFAULT_PROXY_PORT);
        c->proxy_port = app == DEFAULT_PROXY_PORT ? DEFAULT_PROXY_PORT + 1 : DEFAULT_PROXY_PORT;
    }
    if (c->receiver_enabled && c->receiver_port != 0 &&
        (c->receiver_port == c->proxy_port || c->receiver_port == app)) {
        log_warn(
            lg, "conf", "TRACEBRIDGE_OTLP_LISTEN port %d is taken by %s; the OTLP receiver is off",
            c->receiver_port,
            c->receiver_port == c->proxy_port ? "the proxy" : "the function (AWS_LWA_PORT/PORT)");
        c->receiver_enabled = false;
    }
}

static void cap_to_memory(size_t *v, const char *name, int memory_mb, const struct log *lg)
{
    size_t cap = (size_t)memory_mb * MiB / MEMORY_SHARE_DIVISOR;

    if (memory_mb <= 0 || *v <= cap)
        return;
    log_warn(lg, "conf",
             "%s=%zu is more than 1/%d of the function's %d MB; using %zu so that tracebridge "
             "cannot run the function out of memory",
             name, *v, MEMORY_SHARE_DIVISOR, memory_mb, cap);
    *v = cap;
}

static void check_conflicts(struct conf *c, const char *(*get)(const char *, void *), void *arg,
                            const struct log *lg)
{
    check_ports(c, get, arg, lg);
    check_upstream_loop(c, lg);
    cap_to_memory(&c->buffer_bytes, "TRACEBRIDGE_BUFFER_BYTES", c->resource.memory_mb, lg);
    cap_to_memory(&c->receiver_max_request_bytes, "TRACEBRIDGE_OTLP_MAX_REQUEST_BYTES",
                  c->resource.memory_mb, lg);
}

static bool is_endpoint_var(const char *name)
{
    return strcmp(name, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == 0 ||
           strcmp(name, "OTEL_EXPORTER_OTLP_ENDPOINT") == 0;
}

void conf_load(struct conf *c, const char *(*get)(const char *, void *), void *arg,
               const struct log *lg)
{
    bool specific_set = false;

    memset(c, 0, sizeof(*c));
    c->receiver_enabled = true;
    for (size_t i = 0; i < N_VARS; i++) {
        const struct conf_var *v = &vars[i];
        const char *env = get(v->name, arg);
        bool given = env && *env;
        const char *val = given ? env : v->def;

        /* A signal-specific OTEL_EXPORTER_OTLP_TRACES_* variable wins over the generic one
         * that follows it in the table. */
        if (specific_set && i > 0 && is_generic_of(vars[i - 1].name, v->name)) {
            specific_set = false;
            continue;
        }
        specific_set = false;
        if (!val)
            continue;
        if (v->parse(c, v, val) < 0) {
            apply_var(c, v, val, lg);
            continue;
        }
        if (given && strstr(v->name, "_TRACES_"))
            specific_set = true;
        if (given && is_endpoint_var(v->name))
            c->endpoint_configured = true;
    }
    load_lambda_facts(c, get, arg);
    if (!c->upstream[0])
        snprintf(c->upstream, sizeof(c->upstream), "%s", c->runtime_api);
    check_conflicts(c, get, arg, lg);
    if (!c->resource.service_name[0])
        snprintf(c->resource.service_name, sizeof(c->resource.service_name), "%s",
                 c->resource.function_name[0] ? c->resource.function_name : "unknown_service");
    c->lifecycle.promote.max_event_bytes = c->max_event_bytes;
    /* keep and rewrite force the X-Ray target either way; auto follows TRACEBRIDGE_TARGETS */
    if (c->lifecycle.promote.xray_header == PROMOTE_XRAY_KEEP)
        c->lifecycle.promote.targets &= ~(unsigned)PROMOTE_TARGET_XRAY;
    if (c->lifecycle.promote.xray_header == PROMOTE_XRAY_REWRITE)
        c->lifecycle.promote.targets |= PROMOTE_TARGET_XRAY;
}

static const char *getenv_adapter(const char *name, void *arg)
{
    (void)arg;
    return getenv(name);
}

void conf_load_env(struct conf *c, const struct log *lg)
{
    conf_load(c, getenv_adapter, NULL, lg);
}

void conf_print_markdown(FILE *out)
{
    fprintf(out, "| variable | default | meaning |\n|---|---|---|\n");
    for (size_t i = 0; i < N_VARS; i++) {
        const struct conf_var *v = &vars[i];
        fprintf(out, "| `%s` | %s%s%s | %s", v->name, v->def ? "`" : "", v->def ? v->def : "-",
                v->def ? "`" : "", v->doc);
        if (v->choices) {
            fprintf(out, " One of:");
            for (int j = 0; v->choices[j]; j++)
                fprintf(out, " `%s`", v->choices[j]);
            fprintf(out, ".");
        }
        fprintf(out, " |\n");
    }
}
