/* TRACEBRIDGE_TARGETS and TRACEBRIDGE_XRAY_HEADER together: `xray` in the target list means
 * "as TRACEBRIDGE_XRAY_HEADER says" (default auto), a list without it means never, and no
 * setting silently drops what another one asked for. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extension/conf.h"
#include "tests/unit/tap.h"
#include "tests/unit/test_util.h"

#define ALL (PROMOTE_TARGET_HEADERS | PROMOTE_TARGET_CLIENT_CONTEXT | PROMOTE_TARGET_XRAY)

struct got {
    unsigned targets;
    enum promote_xray_header mode;
    int warnings;
};

static struct got load(const char *const *env)
{
    struct conf *c = calloc(1, sizeof(*c));
    struct log lg;
    char *text = NULL;
    size_t len = 0;
    struct got g;

    log_init(&lg, LOG_WARN);
    lg.out = open_memstream(&text, &len);
    conf_load(c, env_of, (void *)env, &lg);
    fclose(lg.out);
    g.targets = c->lifecycle.promote.targets;
    g.mode = c->lifecycle.promote.xray_header;
    g.warnings = 0;
    for (const char *p = text; p && (p = strstr(p, "\"level\":\"WARN\"")); p++)
        g.warnings++;
    free(text);
    free(c);
    return g;
}

static void check(struct tap *t, const char *const *env, unsigned targets,
                  enum promote_xray_header mode, int warnings, const char *name)
{
    struct got g = load(env);

    ok(t, g.targets == targets && g.mode == mode && g.warnings == warnings,
       "%s (targets %u mode %d warnings %d)", name, g.targets, (int)g.mode, g.warnings);
}

int main(void)
{
    struct tap t = TAP_INIT;
    const char *const dflt[] = {NULL};
    const char *const listed[] = {"TRACEBRIDGE_TARGETS", "headers,client-context,xray", NULL};
    const char *const without[] = {"TRACEBRIDGE_TARGETS", "headers,client-context", NULL};
    const char *const rewrite_without[] = {"TRACEBRIDGE_TARGETS", "headers",
                                           "TRACEBRIDGE_XRAY_HEADER", "rewrite", NULL};
    const char *const keep[] = {"TRACEBRIDGE_XRAY_HEADER", "keep", NULL};
    const char *const rewrite[] = {"TRACEBRIDGE_XRAY_HEADER", "rewrite", NULL};
    const char *const only_xray[] = {"TRACEBRIDGE_TARGETS", " xray", NULL};
    const char *const none[] = {"TRACEBRIDGE_TARGETS", "none", NULL};
    const char *const bad_mode[] = {"TRACEBRIDGE_XRAY_HEADER", "sometimes", NULL};
    const char *const bad_list[] = {"TRACEBRIDGE_TARGETS", "headers,x-ray", NULL};

    check(&t, dflt, ALL, PROMOTE_XRAY_AUTO, 0, "default: every target, the X-Ray header in auto");
    check(&t, listed, ALL, PROMOTE_XRAY_AUTO, 0,
          "TARGETS=headers,client-context,xray: xray kept (it used to be dropped)");
    check(&t, without, PROMOTE_TARGET_HEADERS | PROMOTE_TARGET_CLIENT_CONTEXT, PROMOTE_XRAY_AUTO, 0,
          "TARGETS without xray: the header is never written");
    check(&t, rewrite_without, PROMOTE_TARGET_HEADERS, PROMOTE_XRAY_REWRITE, 0,
          "XRAY_HEADER=rewrite does not add xray to an explicit TARGETS");
    check(&t, keep, ALL, PROMOTE_XRAY_KEEP, 0, "XRAY_HEADER=keep");
    check(&t, rewrite, ALL, PROMOTE_XRAY_REWRITE, 0, "XRAY_HEADER=rewrite");
    check(&t, only_xray, PROMOTE_TARGET_XRAY, PROMOTE_XRAY_AUTO, 0, "TARGETS=xray alone");
    check(&t, none, 0, PROMOTE_XRAY_AUTO, 0, "TARGETS=none");
    check(&t, bad_mode, ALL, PROMOTE_XRAY_AUTO, 1, "invalid XRAY_HEADER: default, one warning");
    check(&t, bad_list, ALL, PROMOTE_XRAY_AUTO, 1, "invalid TARGETS: default, one warning");
    return tap_done(&t);
}
