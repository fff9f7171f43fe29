/* httpdate: HTTP-date (RFC 9110 §5.6.7) to Unix time, for Retry-After. Strict: the preferred
 * IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT" and, as the RFC requires recipients to accept,
 * the obsolete RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT" and asctime "Sun Nov  6 08:49:37 1994"
 * forms; exact spacing and case, a day name that matches the date, real calendar dates, no
 * leap seconds beyond :60. Anything else is rejected (the caller falls back to its backoff). */
#ifndef TB_HTTPDATE_H
#define TB_HTTPDATE_H

#include <stddef.h>
#include <stdint.h>

/* Parses s[0..n) into seconds since the Unix epoch (UTC). 0 or -EINVAL. */
int httpdate_parse(const char *s, size_t n, int64_t *epoch);

#endif
