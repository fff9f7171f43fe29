/* SPDX-License-Identifier: Apache-2.0 */
/* resource: OTEL_RESOURCE_ATTRIBUTES decoding and precedence. */
#include "extension/conf.h"
#include "extension/spans/spans.h"

#include <errno.h>
#include <stdlib.h>

#include "tests/lib/tap.h"
#include "tests/lib/test_util.h"

static const char *str(const struct attr_list *l, const char *k)
{
    const struct attr *a = attr_list_find(l, k);

    return a && a->type == ATTR_STRING ? a->v.s : NULL;
}

int main(void)
{
    struct tap t = TAP_INIT;
    struct attr_list l = {0};
    struct conf c;
    struct resource_facts f = {.account_id = "123456789012",
                               .log_stream = "2024/01/01/[$LATEST]ab"};
    const char *env1[] = {
        "AWS_LAMBDA_FUNCTION_NAME",
        "orders",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "$LATEST",
        "AWS_REGION",
        "eu-west-1",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "512",
        "OTEL_RESOURCE_ATTRIBUTES",
        " deployment.environment = prod%20eu , team=a%2Cb%3Dc,,service.name=svc-from-attrs,"
        "cloud.region=override,telemetry.sdk.language=c,telemetry.sdk.name=fake",
        NULL};
    const char *env2[] = {"AWS_LAMBDA_FUNCTION_NAME",
                          "orders",
                          "OTEL_SERVICE_NAME",
                          "explicit",
                          "OTEL_RESOURCE_ATTRIBUTES",
                          "service.name=x,bad=%zz",
                          NULL};

    is_int(&t, resource_parse_env("a=1,b=%41%42", &l), 0, "parse ok");
    is_str(&t, str(&l, "b"), "AB", "percent-decoded value");
    attr_list_free(&l);
    is_int(&t, resource_parse_env("a=1,b", &l), -EINVAL, "member without '=' rejects all");
    is_int(&t, (int)l.len, 0, "nothing added on error");
    is_int(&t, resource_parse_env("a=%4", &l), -EINVAL, "truncated escape");
    is_int(&t, resource_parse_env("=v", &l), -EINVAL, "empty key");
    is_int(&t, resource_parse_env("a=%00", &l), -EINVAL, "decoded NUL");
    is_int(&t, resource_parse_env("", &l), 0, "empty value is fine");

    conf_load(&c, env_of, (void *)env1, NULL);
    is_int(&t, resource_build(&c.resource, &f, &l, NULL), 0, "build");
    is_str(&t, str(&l, "service.name"), "svc-from-attrs",
           "service.name from attributes beats the function-name default");
    is_str(&t, str(&l, "deployment.environment"), "prod eu", "trimmed, decoded");
    is_str(&t, str(&l, "team"), "a,b=c", "escaped comma and equals");
    is_str(&t, str(&l, "cloud.region"), "override", "user attributes win over detected ones");
    is_str(&t, str(&l, "cloud.provider"), "aws", "cloud.provider");
    is_str(&t, str(&l, "cloud.platform"), "aws_lambda", "cloud.platform");
    is_str(&t, str(&l, "cloud.account.id"), "123456789012", "cloud.account.id");
    is_str(&t, str(&l, "faas.name"), "orders", "faas.name");
    is_str(&t, str(&l, "faas.version"), "$LATEST", "faas.version");
    is_str(&t, str(&l, "faas.instance"), "2024/01/01/[$LATEST]ab", "faas.instance");
    ok(&t,
       attr_list_find(&l, "faas.max_memory") &&
           attr_list_find(&l, "faas.max_memory")->v.i == 512LL * 1024 * 1024,
       "faas.max_memory in bytes");
    is_str(&t, str(&l, "telemetry.sdk.name"), "tracebridge", "telemetry.sdk.name");
    is_str(&t, str(&l, "telemetry.sdk.version"), TRACEBRIDGE_VERSION, "telemetry.sdk.version");
    ok(&t, !attr_list_find(&l, "telemetry.sdk.language"),
       "no telemetry.sdk.language (semconv has no value for C), not even from the user");
    attr_list_free(&l);

    conf_load(&c, env_of, (void *)env2, NULL);
    resource_build(&c.resource, NULL, &l, NULL);
    is_str(&t, str(&l, "service.name"), "explicit", "OTEL_SERVICE_NAME wins");
    ok(&t, !attr_list_find(&l, "bad") && !attr_list_find(&l, "cloud.account.id"),
       "invalid OTEL_RESOURCE_ATTRIBUTES dropped as a whole; no account id without register");
    {
        int n = 0;
        for (size_t i = 0; i < l.len; i++)
            n += strcmp(l.items[i].key, "service.name") == 0;
        is_int(&t, n, 1, "no duplicate keys");
    }
    attr_list_free(&l);
    return tap_done(&t);
}
