/* SPDX-License-Identifier: Apache-2.0 */
/* conf: every setting tracebridge reads, as one table of environment variables. The loader,
 * the defaults and the README's table (`tracebridge env-doc`) all come from that table. */
#ifndef TB_CONF_H
#define TB_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "extension/base/base.h"
#include "extension/export/export.h"
#include "extension/flushgate.h"
#include "extension/lifecycle/lifecycle.h"
#include "extension/spans/spans.h"
#include "extension/telemetry/telemetry.h"

#define CONF_STR_MAX 1024

/* Each room's settings live in that room's own struct (lifecycle_conf, resource_conf,
 * exporter_conf), so a module takes only what it uses; the table in conf.c fills them all. */
struct conf {
    /* proxy */
    int proxy_port;
    char upstream[CONF_STR_MAX];    /* host:port; default AWS_LAMBDA_RUNTIME_API */
    char runtime_api[CONF_STR_MAX]; /* the real AWS_LAMBDA_RUNTIME_API (Extensions API) */
    char ready_file[CONF_STR_MAX];  /* written after the proxy listens; read by the wrapper */
    size_t max_event_bytes;
    /* promotion, sampling, invocation spans */
    struct lifecycle_conf lifecycle;
    /* resource (service.name, cloud.*, faas.*) and the Lambda facts it is made of */
    struct resource_conf resource;
    /* export */
    struct exporter_conf exporter;
    bool endpoint_configured;
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
    /* Telemetry API (the daemon points runtime_api at runtime_api above) */
    struct telemetry_conf telemetry;
    /* logging */
    enum log_level log_level;
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
