/* SPDX-License-Identifier: Apache-2.0 */
#include "extension/lifecycle/lifecycle.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define API_PREFIX        "/2020-01-01/extension"
#define REGISTER_ATTEMPTS 5
#define RETRY_MIN_MS      50
#define RETRY_MAX_MS      1000

struct extapi {
    uv_loop_t *loop;
    struct httpc *http;
    struct extapi_hooks hooks;
    const struct log *lg;
    char base[512]; /* http://host:port/2020-01-01/extension */
    char name[256];
    bool shutdown_only;
    struct extapi_registration reg;
    bool registered;
    struct httpc_req *next_req;
    struct httpc_req *reg_req;
    uv_timer_t retry; /* backs off failed register / next calls */
    int attempts;
    unsigned retry_ms;
    bool want_next; /* the retry timer re-issues /event/next */
};

/* ---- parsing ---- */

static int copy_str(const cJSON *obj, const char *key, char *out, size_t cap, bool required)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    out[0] = '\0';
    if (!v)
        return required ? -EBADMSG : 0;
    if (!cJSON_IsString(v) || !v->valuestring || strlen(v->valuestring) >= cap)
        return -EBADMSG;
    memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
    return 0;
}

static int parse_deadline(const cJSON *root, uint64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "deadlineMs");

    *out = 0;
    if (!v)
        return 0;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > 1e15)
        return -EBADMSG;
    *out = (uint64_t)v->valuedouble;
    return 0;
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

static int parse_invoke(const cJSON *root, struct extapi_event *ev)
{
    const cJSON *tracing = cJSON_GetObjectItemCaseSensitive(root, "tracing");

    if (copy_str(root, "requestId", ev->request_id, sizeof(ev->request_id), true) < 0 ||
        !ev->request_id[0])
        return -EBADMSG;
    if (copy_str(root, "invokedFunctionArn", ev->function_arn, sizeof(ev->function_arn), false) < 0)
        return -EBADMSG;
    /* A malformed tracing member only loses the X-Ray link, not the event. */
    if (cJSON_IsObject(tracing) &&
        copy_str(tracing, "value", ev->tracing_value, sizeof(ev->tracing_value), false) < 0)
        ev->tracing_value[0] = '\0';
    return 0;
}

int extapi_parse_event(const char *json, size_t len, struct extapi_event *ev)
{
    cJSON *root;
    char type[32];
    int rc = -EBADMSG;

    memset(ev, 0, sizeof(*ev));
    if (len > EXTAPI_EVENT_MAX)
        return -EBADMSG;
    root = cJSON_ParseWithLength(json, len);
    if (!cJSON_IsObject(root))
        goto out;
    if (copy_str(root, "eventType", type, sizeof(type), true) < 0 ||
        parse_deadline(root, &ev->deadline_ms) < 0)
        goto out;
    if (strcmp(type, "INVOKE") == 0) {
        ev->type = EXTAPI_INVOKE;
        rc = parse_invoke(root, ev);
    } else if (strcmp(type, "SHUTDOWN") == 0) {
        ev->type = EXTAPI_SHUTDOWN;
        rc = copy_str(root, "shutdownReason", ev->shutdown_reason, sizeof(ev->shutdown_reason),
                      false);
        lower(ev->shutdown_reason); /* docs say TIMEOUT, RAPID sends timeout */
    }
out:
    cJSON_Delete(root);
    if (rc < 0)
        memset(ev, 0, sizeof(*ev));
    return rc;
}

int extapi_parse_register(const char *json, size_t len, struct extapi_registration *reg)
{
    cJSON *root;
    int rc = -EBADMSG;

    if (len > EXTAPI_EVENT_MAX)
        return -EBADMSG;
    root = cJSON_ParseWithLength(json, len);
    if (cJSON_IsObject(root) &&
        copy_str(root, "functionName", reg->function_name, sizeof(reg->function_name), false) ==
            0 &&
        copy_str(root, "functionVersion", reg->function_version, sizeof(reg->function_version),
                 false) == 0 &&
        copy_str(root, "handler", reg->handler, sizeof(reg->handler), false) == 0 &&
        copy_str(root, "accountId", reg->account_id, sizeof(reg->account_id), false) == 0)
        rc = 0;
    cJSON_Delete(root);
    return rc;
}

/* ---- requests ---- */

#define URL_MAX 600

/* Options for a request to path (under the API prefix), written into url (URL_MAX bytes).
 * No timeout: /event/next blocks until the next event comes, however long that is. */
static struct httpc_opts api_opts(const struct extapi *e, const char *method, const char *path,
                                  char *url, const char *const *hdrs)
{
    snprintf(url, URL_MAX, "%s%s", e->base, path);
    return (struct httpc_opts){.method = method,
                               .url = url,
                               .headers = hdrs,
                               .timeout_ms = 0,
                               .max_response_bytes = EXTAPI_EVENT_MAX};
}

static void identifier_header(const struct extapi *e, char *out, size_t cap)
{
    snprintf(out, cap, "Lambda-Extension-Identifier: %s", e->reg.extension_id);
}

static unsigned next_backoff(struct extapi *e)
{
    unsigned ms = e->retry_ms ? e->retry_ms : RETRY_MIN_MS;

    e->retry_ms = ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : ms * 2;
    return ms;
}

static int start_register(struct extapi *e);
static int start_next(struct extapi *e);

static void on_retry(uv_timer_t *t)
{
    struct extapi *e = t->data;

    if (!e->registered) {
        if (start_register(e) < 0 && e->hooks.registered)
            e->hooks.registered(e->hooks.arg, -ENOMEM, NULL);
    } else if (e->want_next && start_next(e) < 0) {
        uv_timer_start(&e->retry, on_retry, next_backoff(e), 0);
    }
}

static void copy_identifier(struct extapi *e, const struct httpc_result *r)
{
    size_t n = 0;
    const char *id = httpc_header(r->req, "Lambda-Extension-Identifier", &n);

    if (id && n < sizeof(e->reg.extension_id)) {
        memcpy(e->reg.extension_id, id, n);
        e->reg.extension_id[n] = '\0';
    }
}

static void register_failed(struct extapi *e, int err, const struct httpc_result *r)
{
    if (err != -EACCES && ++e->attempts < REGISTER_ATTEMPTS) {
        log_warn(e->lg, "extapi", "register failed (%s); retrying",
                 r->error ? r->error : "bad response");
        uv_timer_start(&e->retry, on_retry, next_backoff(e), 0);
        return;
    }
    log_error(e->lg, "extapi", "register failed: status %ld: %.300s", r->status,
              r->err ? (r->error ? r->error : "") : r->body);
    if (e->hooks.registered)
        e->hooks.registered(e->hooks.arg, err, NULL);
}

static void on_registered(void *arg, const struct httpc_result *r)
{
    struct extapi *e = arg;
    int err = r->err;

    e->reg_req = NULL;
    if (!err && (r->status < 200 || r->status > 299))
        err = r->status >= 400 && r->status < 500 ? -EACCES : -EIO;
    if (!err) {
        copy_identifier(e, r);
        if (!e->reg.extension_id[0] || extapi_parse_register(r->body, r->body_len, &e->reg) < 0)
            err = -EBADMSG;
    }
    if (err) {
        register_failed(e, err, r);
        return;
    }
    e->registered = true;
    e->retry_ms = 0;
    log_info(e->lg, "extapi", "registered as %s for %s", e->name,
             e->shutdown_only ? "SHUTDOWN" : "INVOKE, SHUTDOWN");
    if (e->hooks.registered)
        e->hooks.registered(e->hooks.arg, 0, &e->reg);
}

static int start_register(struct extapi *e)
{
    char url[URL_MAX];
    char name_hdr[300];
    const char *hdrs[] = {name_hdr, "Lambda-Extension-Accept-Feature: accountId",
                          "Content-Type: application/json", NULL};
    struct buf body;
    struct httpc_opts o = api_opts(e, "POST", "/register", url, hdrs);
    int err;

    o.body = &body;
    snprintf(name_hdr, sizeof(name_hdr), "Lambda-Extension-Name: %s", e->name);
    buf_init(&body, 256);
    buf_append_str(&body, e->shutdown_only ? "{\"events\":[\"SHUTDOWN\"]}"
                                           : "{\"events\":[\"INVOKE\",\"SHUTDOWN\"]}");
    e->reg_req = httpc_start(e->http, &o, on_registered, e, &err);
    buf_free(&body);
    return e->reg_req ? 0 : err;
}

static void on_event(void *arg, const struct httpc_result *r)
{
    struct extapi *e = arg;
    struct extapi_event ev;

    e->next_req = NULL;
    if (r->err || r->status != 200 || extapi_parse_event(r->body, r->body_len, &ev) < 0) {
        log_warn(e->lg, "extapi", "/event/next failed (%s, status %ld); retrying",
                 r->err ? r->error : "bad event", r->status);
        uv_timer_start(&e->retry, on_retry, next_backoff(e), 0);
        return;
    }
    e->want_next = false;
    e->retry_ms = 0;
    if (e->hooks.event)
        e->hooks.event(e->hooks.arg, &ev);
}

static int start_next(struct extapi *e)
{
    char url[URL_MAX];
    char id_hdr[200];
    const char *hdrs[] = {id_hdr, NULL};
    struct httpc_opts o = api_opts(e, "GET", "/event/next", url, hdrs);
    int err;

    identifier_header(e, id_hdr, sizeof(id_hdr));
    e->next_req = httpc_start(e->http, &o, on_event, e, &err);
    return e->next_req ? 0 : err;
}

int extapi_register(struct extapi *e)
{
    e->attempts = 0;
    return start_register(e);
}

int extapi_next(struct extapi *e)
{
    if (!e->registered)
        return -ENOTCONN;
    if (e->want_next)
        return -EALREADY;
    e->want_next = true;
    if (start_next(e) < 0)
        uv_timer_start(&e->retry, on_retry, next_backoff(e), 0);
    return 0;
}

/* ---- lifetime ---- */

static void basename_of(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');

    snprintf(out, cap, "%s", slash ? slash + 1 : path);
}

struct extapi *extapi_new(uv_loop_t *loop, struct httpc *h, const struct extapi_conf *c,
                          const struct extapi_hooks *hooks, const struct log *lg, int *err)
{
    struct extapi *e = calloc(1, sizeof(*e));

    if (!e) {
        *err = -ENOMEM;
        return NULL;
    }
    e->loop = loop;
    e->http = h;
    e->hooks = *hooks;
    e->lg = lg;
    e->shutdown_only = c->shutdown_only;
    snprintf(e->base, sizeof(e->base), "http://%s" API_PREFIX, c->runtime_api);
    basename_of(c->name, e->name, sizeof(e->name));
    uv_timer_init(loop, &e->retry);
    e->retry.data = e;
    *err = 0;
    return e;
}

static void on_closed(uv_handle_t *handle)
{
    free(handle->data);
}

void extapi_free(struct extapi *e)
{
    if (!e)
        return;
    httpc_cancel(e->next_req);
    httpc_cancel(e->reg_req);
    uv_close((uv_handle_t *)&e->retry, on_closed);
}
