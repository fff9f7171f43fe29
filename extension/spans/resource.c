/* SPDX-License-Identifier: Apache-2.0 */
#include "extension/spans/spans.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "extension/base/base.h"

/* Bounds of one decoded member, so that a huge variable cannot make huge attributes. */
#define KEY_MAX   255
#define VALUE_MAX 4095

struct parse_ctx {
    struct attr_list *out;
    struct buf key;
    struct buf value;
};

/* One "key=value" member: both sides percent-decoded, strictly (OTel spec: any error discards
 * the whole variable). */
static int add_member(void *arg, const struct kvlist_member *m)
{
    struct parse_ctx *c = arg;

    buf_reset(&c->key);
    buf_reset(&c->value);
    if (kvlist_decode(m->key, m->key_len, KVLIST_STRICT_ESCAPES, &c->key) < 0 || c->key.len == 0)
        return -EINVAL;
    if (kvlist_decode(m->value, m->value_len, KVLIST_STRICT_ESCAPES, &c->value) < 0)
        return -EINVAL;
    return attr_list_add_str(c->out, c->key.data, c->value.data);
}

int resource_parse_env(const char *s, struct attr_list *out)
{
    struct attr_list tmp = {0};
    struct parse_ctx c = {.out = &tmp};
    int rc;

    buf_init(&c.key, KEY_MAX);
    buf_init(&c.value, VALUE_MAX);
    rc = kvlist_each(s, add_member, &c);
    for (size_t i = 0; rc == 0 && i < tmp.len; i++)
        rc = attr_list_add_str(out, tmp.items[i].key, tmp.items[i].v.s);
    attr_list_free(&tmp);
    buf_free(&c.key);
    buf_free(&c.value);
    return rc;
}

/* Adds key=val unless the key is already present (earlier sources win). */
static int add_if_absent(struct attr_list *l, const char *key, const char *val)
{
    if (!val || !val[0] || attr_list_find(l, key))
        return 0;
    return attr_list_add_str(l, key, val);
}

static int add_user(const struct resource_conf *c, struct attr_list *out, const struct log *lg)
{
    struct attr_list user = {0};
    int rc = 0;

    if (!c->resource_attributes[0])
        return 0;
    if (resource_parse_env(c->resource_attributes, &user) < 0) {
        log_warn(lg, "resource", "OTEL_RESOURCE_ATTRIBUTES is invalid; ignored as a whole");
        return 0;
    }
    for (size_t i = 0; rc == 0 && i < user.len; i++) {
        /* telemetry.sdk.* describe tracebridge itself, whatever the function's own SDK is. */
        if (strncmp(user.items[i].key, "telemetry.sdk.", 14) == 0)
            continue;
        rc = add_if_absent(out, user.items[i].key, user.items[i].v.s);
    }
    attr_list_free(&user);
    return rc;
}

static bool service_name_explicit(const struct resource_conf *c)
{
    return c->service_name[0] && strcmp(c->service_name, c->function_name) != 0 &&
           strcmp(c->service_name, "unknown_service") != 0;
}

static int add_detected(const struct resource_conf *c, const struct resource_facts *f,
                        struct attr_list *out)
{
    int rc = 0;

    rc |= add_if_absent(out, "service.name", c->service_name);
    rc |= add_if_absent(out, "cloud.provider", "aws");
    rc |= add_if_absent(out, "cloud.platform", "aws_lambda");
    rc |= add_if_absent(out, "cloud.region", c->region);
    rc |= add_if_absent(out, "cloud.account.id", f ? f->account_id : NULL);
    rc |= add_if_absent(out, "faas.name", c->function_name);
    rc |= add_if_absent(out, "faas.version", c->function_version);
    rc |= add_if_absent(out, "faas.instance", f ? f->log_stream : NULL);
    if (c->memory_mb > 0 && !attr_list_find(out, "faas.max_memory"))
        rc |= attr_list_add_int(out, "faas.max_memory", (int64_t)c->memory_mb * 1024 * 1024);
    return rc ? -ENOMEM : 0;
}

int resource_build(const struct resource_conf *c, const struct resource_facts *f,
                   struct attr_list *out, const struct log *lg)
{
    int rc = 0;

    /* No telemetry.sdk.language: its semantic-convention values name the OTel SDK languages
     * (cpp, dotnet, erlang, go, java, nodejs, php, python, ruby, rust, swift, webjs); C is not
     * one, and a made-up value would mislead backends that group by SDK language. */
    rc |= attr_list_add_str(out, "telemetry.sdk.name", "tracebridge");
    rc |= attr_list_add_str(out, "telemetry.sdk.version", TRACEBRIDGE_VERSION);
    if (service_name_explicit(c))
        rc |= attr_list_add_str(out, "service.name", c->service_name);
    if (rc == 0)
        rc = add_user(c, out, lg);
    if (rc == 0)
        rc = add_detected(c, f, out);
    return rc ? -ENOMEM : 0;
}
