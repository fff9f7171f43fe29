/* SPDX-License-Identifier: Apache-2.0 */
/* test_util.h: small helpers several unit tests share (tap.h stays the TAP harness alone).
 * Included by tests only. */
#ifndef TB_TEST_UTIL_H
#define TB_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* Wall-clock milliseconds since the epoch: the clock of Lambda's deadlines. */
static __attribute__((unused)) uint64_t epoch_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The bytes of tests/fixtures/<name>, NUL-terminated, and their count in *n; free() them.
 * A missing fixture bails the whole test out (tests run from the repository root). */
static __attribute__((unused)) char *slurp(const char *name, size_t *n)
{
    char path[256];
    FILE *f;
    char *p;
    long len;

    snprintf(path, sizeof(path), "tests/fixtures/%s", name);
    f = fopen(path, "rb");
    if (!f) {
        printf("Bail out! cannot open %s (run from the repository root)\n", path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    p = malloc((size_t)len + 1);
    if (!p || fread(p, 1, (size_t)len, f) != (size_t)len)
        exit(1);
    p[len] = '\0';
    fclose(f);
    *n = (size_t)len;
    return p;
}

/* The build directory of this test program: the part of `exe` before its last "/tests/"
 * (build/tests/unit/proxy/test_x -> build), into out. 0, or -1 when exe has no "/tests/". */
static __attribute__((unused)) int tu_build_dir(const char *exe, char *out, size_t cap)
{
    const char *p = NULL;

    for (const char *q = strstr(exe, "/tests/"); q; q = strstr(q + 1, "/tests/"))
        p = q;
    if (!p)
        return -1;
    snprintf(out, cap, "%.*s", (int)(p - exe), exe);
    return 0;
}

#endif
