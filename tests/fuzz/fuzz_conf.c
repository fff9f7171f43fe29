/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_conf: the config loader with a fake getenv fed from the fuzz bytes. The input is a list
 * of records separated by '\n'; a record's first byte picks the variable (every variable of the
 * table, taken from conf_print_markdown so new ones are fuzzed too, plus the Lambda platform
 * variables) and the rest is its value. Invariants: every field is inside its documented range
 * or enum, strings are terminated and non-empty where the daemon needs them, and the value of a
 * secret variable (OTLP headers) never reaches the log. */
#include <errno.h>
#include <stdbool.h>

#include "extension/conf.h"
#include "tests/fuzz/fuzz_common.h"

#define MAX_NAMES   64
#define MAX_RECORDS 128

static const char *const platform_vars[] = {"AWS_LAMBDA_RUNTIME_API",
                                            "AWS_LAMBDA_FUNCTION_NAME",
                                            "AWS_LAMBDA_FUNCTION_VERSION",
                                            "AWS_REGION",
                                            "AWS_LAMBDA_INITIALIZATION_TYPE",
                                            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                                            NULL};

struct env {
    char names[MAX_NAMES][64];
    int n_names;
    const char *name[MAX_RECORDS];
    const char *value[MAX_RECORDS];
    int n;
};

/* Variable names from the README table: lines "| `NAME` | ...". */
static void load_names(struct env *e)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    const char *p;

    conf_print_markdown(f);
    fclose(f);
    for (p = text; p && (p = strstr(p, "\n| `")) != NULL && e->n_names < MAX_NAMES; p++) {
        const char *start = p + 4;
        const char *end = strchr(start, '`');
        if (end && end - start < 64) {
            memcpy(e->names[e->n_names], start, (size_t)(end - start));
            e->names[e->n_names++][end - start] = '\0';
        }
    }
    free(text);
    for (int i = 0; platform_vars[i] && e->n_names < MAX_NAMES; i++)
        snprintf(e->names[e->n_names++], 64, "%s", platform_vars[i]);
}

/* Later records win, as a real environment has one value per name. */
static const char *fake_getenv(const char *name, void *arg)
{
    const struct env *e = arg;

    for (int i = e->n - 1; i >= 0; i--) {
        if (strcmp(e->name[i], name) == 0)
            return e->value[i];
    }
    return NULL;
}

static bool terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

static void check_ranges(const struct conf *c)
{
    FUZZ_ASSERT(c->proxy_port >= 1 && c->proxy_port <= 65535);
    FUZZ_ASSERT(c->max_event_bytes >= 1024 && c->max_event_bytes <= 64u << 20);
    FUZZ_ASSERT(c->lifecycle.promote.max_event_bytes == c->max_event_bytes);
    FUZZ_ASSERT((c->lifecycle.promote.targets &
                 ~(unsigned)(PROMOTE_TARGET_HEADERS | PROMOTE_TARGET_CLIENT_CONTEXT |
                             PROMOTE_TARGET_XRAY)) == 0);
    FUZZ_ASSERT((int)c->lifecycle.promote.batch_parent >= 0 &&
                (int)c->lifecycle.promote.batch_parent <= 1);
    FUZZ_ASSERT((int)c->lifecycle.promote.xray_header >= 0 &&
                (int)c->lifecycle.promote.xray_header <= PROMOTE_XRAY_REWRITE);
    FUZZ_ASSERT((int)c->lifecycle.sampler >= 0 &&
                (int)c->lifecycle.sampler <= SAMPLER_PARENT_TRACEIDRATIO);
    FUZZ_ASSERT(c->lifecycle.sampler_ratio >= 0.0 && c->lifecycle.sampler_ratio <= 1.0);
    FUZZ_ASSERT(c->exporter.timeout_ms >= 1 && c->exporter.timeout_ms <= 600000);
    FUZZ_ASSERT((int)c->exporter.protocol >= 0 && (int)c->exporter.protocol <= OTLP_JSON);
    FUZZ_ASSERT((int)c->flush >= 0 && (int)c->flush <= FLUSH_ADAPTIVE);
    FUZZ_ASSERT(c->buffer_spans >= 1 && c->buffer_spans <= 1000000);
    FUZZ_ASSERT(c->buffer_bytes >= 4096 && c->buffer_bytes <= 512u << 20);
    FUZZ_ASSERT(c->max_flush_ms >= 1 && c->max_flush_ms <= 60000);
    FUZZ_ASSERT(c->receiver_max_request_bytes >= 1024 &&
                c->receiver_max_request_bytes <= 64u << 20);
    FUZZ_ASSERT((int)c->log_level >= LOG_DEBUG && (int)c->log_level <= LOG_OFF);
    FUZZ_ASSERT(c->resource.memory_mb >= 0);
    if (c->receiver_enabled) {
        FUZZ_ASSERT(terminated(c->receiver_host, sizeof(c->receiver_host)));
        FUZZ_ASSERT(c->receiver_host[0] != '\0');
        FUZZ_ASSERT(c->receiver_port >= 0 && c->receiver_port <= 65535);
    }
}

static void check_strings(const struct conf *c)
{
    FUZZ_ASSERT(terminated(c->upstream, sizeof(c->upstream)) && c->upstream[0]);
    FUZZ_ASSERT(terminated(c->runtime_api, sizeof(c->runtime_api)) && c->runtime_api[0]);
    FUZZ_ASSERT(terminated(c->ready_file, sizeof(c->ready_file)) && c->ready_file[0]);
    FUZZ_ASSERT(terminated(c->resource.service_name, sizeof(c->resource.service_name)) &&
                c->resource.service_name[0]);
    FUZZ_ASSERT(terminated(c->exporter.traces_endpoint, sizeof(c->exporter.traces_endpoint)) &&
                c->exporter.traces_endpoint[0]);
    FUZZ_ASSERT(
        terminated(c->resource.resource_attributes, sizeof(c->resource.resource_attributes)));
    FUZZ_ASSERT(terminated(c->exporter.headers, sizeof(c->exporter.headers)));
    FUZZ_ASSERT(terminated(c->exporter.certificate, sizeof(c->exporter.certificate)));
    FUZZ_ASSERT(terminated(c->resource.function_name, sizeof(c->resource.function_name)));
    FUZZ_ASSERT(terminated(c->resource.function_version, sizeof(c->resource.function_version)));
    FUZZ_ASSERT(terminated(c->resource.region, sizeof(c->resource.region)));
    FUZZ_ASSERT(terminated(c->init_type, sizeof(c->init_type)));
    FUZZ_ASSERT(c->lifecycle.managed_instances ==
                (strcmp(c->init_type, "lambda-managed-instances") == 0));
}

/* Loads the configuration from e, returning what was logged (caller frees). */
static char *load_logged(struct conf *c, struct env *e)
{
    char *text = NULL;
    size_t len = 0;
    struct log lg;

    log_init(&lg, LOG_DEBUG);
    lg.out = open_memstream(&text, &len);
    conf_load(c, fake_getenv, e, &lg);
    fclose(lg.out);
    return text;
}

/* Secret values never reach the log: loading again with every *_HEADERS value replaced by other
 * bytes of the same length (same validity) must log exactly the same text. */
static void check_secret(const struct env *e, const char *log_text)
{
    struct env *alt = malloc(sizeof(*alt));
    struct conf *c = malloc(sizeof(*c));
    char *owned[MAX_RECORDS] = {0};
    char *alt_log;

    *alt = *e;
    for (int i = 0; i < e->n; i++) {
        size_t n = strlen(e->value[i]);
        if (!strstr(e->name[i], "_HEADERS"))
            continue;
        owned[i] = malloc(n + 1);
        for (size_t k = 0; k < n; k++)
            owned[i][k] = e->value[i][k] == 'x' ? 'y' : 'x';
        owned[i][n] = '\0';
        alt->value[i] = owned[i];
    }
    alt_log = load_logged(c, alt);
    FUZZ_ASSERT(strcmp(log_text ? log_text : "", alt_log ? alt_log : "") == 0);
    free(alt_log);
    for (int i = 0; i < e->n; i++)
        free(owned[i]);
    free(c);
    free(alt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct env *e = calloc(1, sizeof(*e));
    char *copy = malloc(size + 1);
    struct conf *c = malloc(sizeof(*c));
    char *log_text;
    char *p;

    memcpy(copy, data, size);
    copy[size] = '\0';
    load_names(e);
    FUZZ_ASSERT(e->n_names > 30);
    for (p = copy; p < copy + size && e->n < MAX_RECORDS;) {
        char *nl = memchr(p, '\n', (size_t)(copy + size - p));
        char *end = nl ? nl : copy + size;
        if (nl)
            *nl = '\0';
        if (p < end) {
            e->name[e->n] = e->names[(unsigned char)*p % (unsigned)e->n_names];
            e->value[e->n++] = p + 1;
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    log_text = load_logged(c, e);
    check_ranges(c);
    check_strings(c);
    check_secret(e, log_text);
    free(log_text);
    free(c);
    free(copy);
    free(e);
    return 0;
}
