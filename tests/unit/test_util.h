/* test_util.h: small helpers several unit tests share (tap.h stays the TAP harness alone).
 * Included by tests only. */
#ifndef TB_TEST_UTIL_H
#define TB_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A conf_load getenv over a NULL-terminated {"NAME", "value", ...} array (NULL: empty). */
static __attribute__((unused)) const char *env_of(const char *name, void *arg)
{
    const char *const *kv = arg;

    for (int i = 0; kv && kv[i]; i += 2) {
        if (strcmp(kv[i], name) == 0)
            return kv[i + 1];
    }
    return NULL;
}

/* How many lines of the file at path contain needle (grep -c; no quote in needle). */
static __attribute__((unused)) int file_count_lines(const char *path, const char *needle)
{
    char cmd[512];
    char out[32] = "0";
    FILE *p;

    snprintf(cmd, sizeof(cmd), "grep -c '%s' %s", needle, path);
    p = popen(cmd, "r");
    if (p) {
        if (!fgets(out, sizeof(out), p))
            out[0] = '\0';
        pclose(p);
    }
    return atoi(out);
}

#endif
