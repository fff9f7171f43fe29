/* cabundle: picks the CA certificate file libcurl verifies HTTPS OTLP endpoints with.
 * The static layer binary has no compiled-in CA path (libcurl is built without one, and Amazon
 * Linux keeps its bundle where Debian does not), and libcurl itself never reads SSL_CERT_FILE,
 * so the file is chosen at run time: call cabundle_find() once at startup and pass the result as
 * CURLOPT_CAINFO (httpc_opts.ca_file) for every HTTPS request. */
#ifndef TB_CABUNDLE_H
#define TB_CABUNDLE_H

enum cabundle_source {
    CABUNDLE_NONE,       /* nothing found: HTTPS verification will fail */
    CABUNDLE_CONFIGURED, /* OTEL_EXPORTER_OTLP_[TRACES_]CERTIFICATE */
    CABUNDLE_ENV,        /* $SSL_CERT_FILE */
    CABUNDLE_SYSTEM,     /* the first readable file of CABUNDLE_CANDIDATES */
};

/* Well-known PEM bundle locations, most likely on Lambda first; NULL-terminated. */
extern const char *const CABUNDLE_CANDIDATES[];

/* The CA file to use: `configured` when non-empty (used as given, even if unreadable, so a
 * wrong setting fails loudly instead of silently trusting the system CAs); else `env_file` when
 * non-empty and readable; else the first readable entry of `candidates`; else NULL. The result
 * is one of the arguments or a candidate (nothing to free). `src` may be NULL. */
const char *cabundle_pick(const char *configured, const char *env_file,
                          const char *const *candidates, enum cabundle_source *src);

/* cabundle_pick(configured, getenv("SSL_CERT_FILE"), CABUNDLE_CANDIDATES, src). */
const char *cabundle_find(const char *configured, enum cabundle_source *src);

/* "configured", "SSL_CERT_FILE", "system" or "none", for the one startup log line. */
const char *cabundle_source_name(enum cabundle_source src);

#endif
