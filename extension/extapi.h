/* extapi: the Lambda Extensions API client (2020-01-01) on the daemon's loop, through httpc.
 *   register     POST /extension/register, Lambda-Extension-Name = the executable's basename,
 *                events INVOKE+SHUTDOWN (SHUTDOWN only on Managed Instances), and
 *                Lambda-Extension-Accept-Feature: accountId; keeps Lambda-Extension-Identifier.
 *   next         GET /extension/event/next with no timeout (Lambda freezes us inside it);
 *                transport failures are retried with a short backoff, never given up.
 *   init/error, exit/error   POST with Lambda-Extension-Function-Error-Type and a JSON body.
 * Event bodies are parsed strictly with cJSON, size-bounded; unknown fields are ignored. */
#ifndef TB_EXTAPI_H
#define TB_EXTAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "extension/base/log.h"
#include "extension/httpc.h"

#define EXTAPI_EVENT_MAX   (64 * 1024) /* larger event bodies are rejected */
#define EXTAPI_ID_MAX      128
#define EXTAPI_ARN_MAX     512
#define EXTAPI_TRACING_MAX 512

enum extapi_event_type { EXTAPI_INVOKE = 1, EXTAPI_SHUTDOWN };

struct extapi_event {
    enum extapi_event_type type;
    uint64_t deadline_ms; /* epoch ms */
    char request_id[EXTAPI_ID_MAX];
    char function_arn[EXTAPI_ARN_MAX];
    char tracing_value[EXTAPI_TRACING_MAX]; /* X-Amzn-Trace-Id value, "" when absent */
    char shutdown_reason[32];               /* lower-cased: spindown, timeout, failure, ... */
};

struct extapi_registration {
    char extension_id[EXTAPI_ID_MAX]; /* Lambda-Extension-Identifier */
    char function_name[256];
    char function_version[64];
    char handler[256];
    char account_id[32]; /* "" unless the accountId feature was granted */
};

/* Parses an /event/next body. 0, or -EBADMSG when it is not a valid INVOKE/SHUTDOWN event
 * (missing eventType, INVOKE without requestId, wrong types, oversize strings). */
int extapi_parse_event(const char *json, size_t len, struct extapi_event *ev);

/* Parses a register response body into reg (extension_id untouched). 0 or -EBADMSG. */
int extapi_parse_register(const char *json, size_t len, struct extapi_registration *reg);

struct extapi_hooks {
    void *arg;
    /* Registration finished: err 0 and reg, or -errno (-EACCES for a 4xx answer). */
    void (*registered)(void *arg, int err, const struct extapi_registration *reg);
    /* An event arrived (after extapi_next). */
    void (*event)(void *arg, const struct extapi_event *ev);
};

struct extapi_conf {
    const char *runtime_api; /* host:port of the real API */
    const char *name;        /* extension name (basename of argv[0]) */
    bool shutdown_only;      /* Managed Instances: INVOKE may not be subscribed */
};

struct extapi;

struct extapi *extapi_new(uv_loop_t *loop, struct httpc *h, const struct extapi_conf *c,
                          const struct extapi_hooks *hooks, const struct log *lg, int *err);
void extapi_free(struct extapi *e);

/* Starts registration (retried a few times on transport errors). 0 or -errno. */
int extapi_register(struct extapi *e);

/* Starts the /event/next long-poll; the event hook fires once per call. -EALREADY when one is
 * already outstanding, -ENOTCONN before registration. */
int extapi_next(struct extapi *e);
bool extapi_next_pending(const struct extapi *e);

/* Reports an error (init = true: /extension/init/error, else /extension/exit/error). The
 * optional done callback runs when the request finished either way. 0 or -errno. */
int extapi_report_error(struct extapi *e, bool init, const char *error_type, const char *message,
                        void (*done)(void *arg), void *arg);

#endif
