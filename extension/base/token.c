/* SPDX-License-Identifier: Apache-2.0 */
/* token: the RFC 9110 section 5.6 pieces that HTTP headers and the W3C/OTel lists built on them
 * share: tokens and optional whitespace. */
#include "extension/base/base.h"

#include <string.h>

bool http_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

bool http_token(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!http_tchar(s[i]))
            return false;
    }
    return true;
}

void http_trim_ows(const char **s, size_t *n)
{
    while (*n > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}
