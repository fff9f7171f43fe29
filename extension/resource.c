#include "extension/resource.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define PAIR_MAX 4096

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void trim(const char **p, size_t *n)
{
    while (*n > 0 && (**p == ' ' || **p == '\t')) {
        (*p)++;
        (*n)--;
    }
    while (*n > 0 && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
        (*n)--;
}

/* Trims spaces and tabs, then percent-decodes [p, p+n) into out (cap bytes incl. NUL). A
 * truncated or non-hex escape is an error, as is a decoded NUL. */
static int decode(const char *p, size_t n, char *out, size_t cap)
{
    size_t o = 0;

    trim(&p, &n);
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '%') {
            if (i + 2 >= n)
                return -EINVAL;
            if (hexval(p[i + 1]) < 0 || hexval(p[i + 2]) < 0)
                return -EINVAL;
            c = (char)(hexval(p[i + 1]) * 16 + hexval(p[i + 2]));
            i += 2;
        }
        if (c == '\0' || o + 1 >= cap)
            return -EINVAL;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

/* One "key=value" member. */
static int parse_pair(const char *p, size_t n, struct attr_list *tmp)
{
    const char *eq = memchr(p, '=', n);
    char key[256];
    char val[PAIR_MAX];

    if (!eq)
        return -EINVAL;
    if (decode(p, (size_t)(eq - p), key, sizeof(key)) < 0 || key[0] == '\0')
        return -EINVAL;
    if (decode(eq + 1, n - (size_t)(eq - p) - 1, val, sizeof(val)) < 0)
        return -EINVAL;
    return attr_list_add_str(tmp, key, val);
}

int resource_parse_env(const char *s, struct attr_list *out)
{
    struct attr_list tmp = {0};
    const char *p = s;
    int rc = 0;

    while (rc == 0 && *p) {
        size_t n = strcspn(p, ",");
        const char *q = p;
        size_t m = n;

        trim(&q, &m);
        if (m > 0)
            rc = parse_pair(q, m, &tmp);
        p += n;
        if (*p == ',')
            p++;
    }
    for (size_t i = 0; rc == 0 && i < tmp.len; i++)
        rc = attr_list_add_str(out, tmp.items[i].key, tmp.items[i].v.s);
    attr_list_free(&tmp);
    return rc;
}

/* Adds key=val unless the key is already present (earlier sources win). */
static int add_if_absent(struct attr_list *l, const char *key, const char *val)
{
    if (!val || !val[0] || attr_list_find(l, key))
        return 0;
    return attr_list_add_str(l, key, val);
}

static int add_user(const struct conf *c, struct attr_list *out, const struct log *lg)
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

static bool service_name_explicit(const struct conf *c)
{
    return c->service_name[0] && strcmp(c->service_name, c->function_name) != 0 &&
           strcmp(c->service_name, "unknown_service") != 0;
}

static int add_detected(const struct conf *c, const struct resource_facts *f, struct attr_list *out)
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

int resource_build(const struct conf *c, const struct resource_facts *f, struct attr_list *out,
                   const struct log *lg)
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
