/* SPDX-License-Identifier: Apache-2.0 */
/* cabundle: see cabundle.h. Only regular PEM bundles are listed: the "*.trust.crt" files next to
 * them hold OpenSSL "TRUSTED CERTIFICATE" blocks that other TLS libraries cannot read. */
#include "extension/net/net.h"

#include <stdlib.h>
#include <unistd.h>

const char *const CABUNDLE_CANDIDATES[] = {
    /* Amazon Linux 2 and 2023 (every Lambda runtime image), Fedora, RHEL. */
    "/etc/pki/tls/certs/ca-bundle.crt",
    /* Debian, Ubuntu, Alpine: container-image functions built on those. */
    "/etc/ssl/certs/ca-certificates.crt",
    /* Amazon Linux's compatibility symlink and the file it points to. */
    "/etc/ssl/certs/ca-bundle.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    /* openSUSE; then Alpine's and the BSDs' cert.pem. */
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
    NULL,
};

static int is_set(const char *s)
{
    return s != NULL && s[0] != '\0';
}

static int readable(const char *path)
{
    return access(path, R_OK) == 0;
}

static const char *picked(const char *path, enum cabundle_source what, enum cabundle_source *src)
{
    if (src != NULL)
        *src = what;
    return path;
}

const char *cabundle_pick(const char *configured, const char *env_file,
                          const char *const *candidates, enum cabundle_source *src)
{
    size_t i;

    if (is_set(configured))
        return picked(configured, CABUNDLE_CONFIGURED, src);
    /* An unreadable SSL_CERT_FILE is skipped: exporting with the system CAs beats not
     * exporting at all (fail open). */
    if (is_set(env_file) && readable(env_file))
        return picked(env_file, CABUNDLE_ENV, src);
    for (i = 0; candidates != NULL && candidates[i] != NULL; i++) {
        if (readable(candidates[i]))
            return picked(candidates[i], CABUNDLE_SYSTEM, src);
    }
    return picked(NULL, CABUNDLE_NONE, src);
}

const char *cabundle_find(const char *configured, enum cabundle_source *src)
{
    return cabundle_pick(configured, getenv("SSL_CERT_FILE"), CABUNDLE_CANDIDATES, src);
}

const char *cabundle_source_name(enum cabundle_source src)
{
    switch (src) {
    case CABUNDLE_CONFIGURED:
        return "configured";
    case CABUNDLE_ENV:
        return "SSL_CERT_FILE";
    case CABUNDLE_SYSTEM:
        return "system";
    case CABUNDLE_NONE:
        break;
    }
    return "none";
}
