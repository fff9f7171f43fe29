/* conf: every setting tracebridge reads, as one table of environment variables. The loader,
 * the defaults and the README's table (`tracebridge env-doc`) all come from that table. */
#ifndef TB_CONF_H
#define TB_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "extension/base/log.h"
#include "promote/promote.h"

#define CONF_STR_MAX 1024

enum flush_mode { FLUSH_INVOKE = 0, FLUSH_END, FLUSH_ADAPTIVE };
enum otlp_protocol { OTLP_PROTOBUF = 0, OTLP_JSON };
enum sampler_kind {
    SAMPLER_PARENT_ALWAYS_ON = 0, /* parentbased_always_on (default) */
    SAMPLER_ALWAYS_ON,
    SAMPLER_ALWAYS_OFF,
    SAMPLER_TRACEIDRATIO,
    SAMPLER_PARENT_ALWAYS_OFF,
    SAMPLER_PARENT_TRACEIDRATIO,
};

struct conf {
    /* proxy */
    int proxy_port;
    char upstream[CONF_STR_MAX];    /* host:port; default AWS_LAMBDA_RUNTIME_API */
    char runtime_api[CONF_STR_MAX]; /* the real AWS_LAMBDA_RUNTIME_API (Extensions API) */
    char ready_file[CONF_STR_MAX];  /* written after the proxy listens; read by the wrapper */
    size_t max_event_bytes;
    /* promotion */
    struct promote_conf promote;
    bool root_inject; /* TRACEBRIDGE_ROOT_CONTEXT=inject */
    /* spans and export */
    bool sdk_disabled;
    enum sampler_kind sampler;
    double sampler_ratio;
    char service_name[CONF_STR_MAX];
    char resource_attributes[CONF_STR_MAX * 4];
    char traces_endpoint[CONF_STR_MAX]; /* full URL, /v1/traces already applied */
    bool endpoint_configured;
    char headers[CONF_STR_MAX * 4]; /* raw "k=v,k2=v2" (URL-encoded); secrets: never log */
    int timeout_ms;
    bool gzip;
    enum otlp_protocol protocol;
    char certificate[CONF_STR_MAX];
    enum flush_mode flush;
    size_t buffer_spans;
    size_t buffer_bytes;
    int max_flush_ms;
    /* OTLP receiver */
    bool receiver_enabled;
    bool sdk_redirect; /* the wrapper points the handler's SDK at the receiver */
    char receiver_host[64];
    int receiver_port;
    size_t receiver_max_request_bytes;
    /* logging */
    enum log_level log_level;
    /* Lambda facts (from the platform environment) */
    char function_name[CONF_STR_MAX];
    char function_version[CONF_STR_MAX];
    char region[64];
    int memory_mb;
    bool managed_instances; /* AWS_LAMBDA_INITIALIZATION_TYPE=lambda-managed-instances */
    char init_type[64];
};

/* Reads the table from the environment through `getenv_fn` (getenv in production, a fake in
 * tests). Invalid values fall back to the default with one warning each in `lg`, naming the
 * variable but never echoing values of secret settings. So do values that are valid alone but
 * would break the function: an upstream that is tracebridge's own proxy or receiver (the
 * Runtime API is used), a proxy or receiver port the function's web server needs
 * (AWS_LWA_PORT/PORT), buffer and request limits above 1/8 of the function's memory (capped).
 * Always succeeds. */
void conf_load(struct conf *c, const char *(*getenv_fn)(const char *name, void *arg), void *arg,
               const struct log *lg);

/* conf_load with the process environment. */
void conf_load_env(struct conf *c, const struct log *lg);

/* Prints the Markdown table of every variable (name, default, meaning). */
void conf_print_markdown(FILE *out);

#endif
