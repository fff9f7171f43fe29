/* SPDX-License-Identifier: Apache-2.0 */
/* cabundle: the CA bundle choice for HTTPS exports (configured > SSL_CERT_FILE > system list). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extension/net/net.h"
#include "tests/lib/tap.h"

struct files {
    char dir[64];
    char a[96]; /* exists */
    char b[96]; /* exists */
    char missing[96];
};

static int files_make(struct files *f)
{
    FILE *fp;

    snprintf(f->dir, sizeof(f->dir), "/tmp/tb-cabundle-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->a, sizeof(f->a), "%s/a.pem", f->dir);
    snprintf(f->b, sizeof(f->b), "%s/b.pem", f->dir);
    snprintf(f->missing, sizeof(f->missing), "%s/missing.pem", f->dir);
    fp = fopen(f->a, "w");
    if (fp == NULL || fclose(fp) != 0)
        return -1;
    fp = fopen(f->b, "w");
    if (fp == NULL || fclose(fp) != 0)
        return -1;
    return 0;
}

static void files_remove(const struct files *f)
{
    unlink(f->a);
    unlink(f->b);
    rmdir(f->dir);
}

static void test_pick_order(struct tap *t, const struct files *f)
{
    const char *const list[] = {f->missing, f->b, f->a, NULL};
    const char *const none[] = {f->missing, NULL};
    enum cabundle_source src = CABUNDLE_SYSTEM;

    is_str(t, cabundle_pick(f->missing, f->a, list, &src), f->missing,
           "configured file is used as given, even when missing");
    is_int(t, src, CABUNDLE_CONFIGURED, "source: configured");
    is_str(t, cabundle_pick(NULL, f->a, list, &src), f->a, "readable SSL_CERT_FILE beats the list");
    is_int(t, src, CABUNDLE_ENV, "source: SSL_CERT_FILE");
    is_str(t, cabundle_pick("", f->missing, list, &src), f->b,
           "empty configured and missing SSL_CERT_FILE: first readable candidate");
    is_int(t, src, CABUNDLE_SYSTEM, "source: system");
    ok(t, cabundle_pick(NULL, "", none, &src) == NULL, "nothing readable: NULL");
    is_int(t, src, CABUNDLE_NONE, "source: none");
    ok(t, cabundle_pick(NULL, NULL, NULL, NULL) == NULL, "no list and no src pointer: NULL");
}

static void test_find_reads_env(struct tap *t, const struct files *f)
{
    enum cabundle_source src = CABUNDLE_NONE;

    setenv("SSL_CERT_FILE", f->b, 1);
    is_str(t, cabundle_find(NULL, &src), f->b, "cabundle_find honours $SSL_CERT_FILE");
    is_int(t, src, CABUNDLE_ENV, "source: SSL_CERT_FILE");
    is_str(t, cabundle_find(f->a, &src), f->a, "a configured certificate beats $SSL_CERT_FILE");
    unsetenv("SSL_CERT_FILE");
}

static void test_candidates(struct tap *t)
{
    size_t i;
    int trust = 0;

    is_str(t, CABUNDLE_CANDIDATES[0], "/etc/pki/tls/certs/ca-bundle.crt",
           "Amazon Linux 2/2023 bundle is tried first");
    for (i = 0; CABUNDLE_CANDIDATES[i] != NULL; i++)
        trust |= strstr(CABUNDLE_CANDIDATES[i], "trust.crt") != NULL;
    ok(t, i >= 4 && !trust, "%zu candidates, none in OpenSSL TRUSTED CERTIFICATE format", i);
    is_str(t, cabundle_source_name(CABUNDLE_ENV), "SSL_CERT_FILE", "source name");
    is_str(t, cabundle_source_name(CABUNDLE_NONE), "none", "source name for none");
}

int main(void)
{
    struct tap t = TAP_INIT;
    struct files f;

    ok(&t, files_make(&f) == 0, "temporary bundle files");
    test_pick_order(&t, &f);
    test_find_reads_env(&t, &f);
    test_candidates(&t);
    files_remove(&f);
    return tap_done(&t);
}
