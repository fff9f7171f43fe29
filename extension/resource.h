/* resource: the OTel resource of tracebridge's own spans.
 *   service.name        OTEL_SERVICE_NAME, else service.name from OTEL_RESOURCE_ATTRIBUTES,
 *                       else the function name (conf already defaults it to the function name,
 *                       so an explicit OTEL_SERVICE_NAME equal to the function name is treated
 *                       as the default);
 *   OTEL_RESOURCE_ATTRIBUTES  k=v pairs, comma-separated, keys and values trimmed and
 *                       percent-decoded; per the OTel spec any error discards the whole value;
 *   cloud.provider=aws, cloud.platform=aws_lambda, cloud.region, cloud.account.id (from the
 *   register response), faas.name, faas.version, faas.max_memory (bytes), faas.instance (the
 *   log stream name, when the environment has it), telemetry.sdk.{name,version} (no
 *   .language: the semantic conventions define no value for C).
 * User attributes win over detected ones; telemetry.sdk.* are always tracebridge's (user
 * values for them are ignored). */
#ifndef TB_RESOURCE_H
#define TB_RESOURCE_H

#include "extension/base/log.h"
#include "extension/conf.h"
#include "extension/span.h"

#define TRACEBRIDGE_VERSION "0.1.0"
#define TRACEBRIDGE_SCOPE   "tracebridge"

struct resource_facts {
    const char *account_id; /* from register (accountId feature), or NULL */
    const char *log_stream; /* AWS_LAMBDA_LOG_STREAM_NAME if visible, or NULL */
};

/* Appends the resource attributes to out (which the caller owns). 0 or -ENOMEM. An invalid
 * OTEL_RESOURCE_ATTRIBUTES is logged once and ignored. */
int resource_build(const struct conf *c, const struct resource_facts *f, struct attr_list *out,
                   const struct log *lg);

/* Parses OTEL_RESOURCE_ATTRIBUTES into out (appended). 0, -EINVAL (out unchanged) or -ENOMEM. */
int resource_parse_env(const char *s, struct attr_list *out);

#endif
