/* SPDX-License-Identifier: Apache-2.0 */
/* httpdate: the three forms RFC 9110 makes recipients accept, and strict refusal of the rest. */
#include "extension/base/httpdate.c"

#include "tests/lib/tap.h"

static int64_t parse(const char *s, int *rc)
{
    int64_t e = -1;

    *rc = httpdate_parse(s, strlen(s), &e);
    return e;
}

int main(void)
{
    struct tap t = TAP_INIT;
    static const char *const bad[] = {
        "Mon, 06 Nov 1994 08:49:37 GMT", /* wrong day name */
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 31 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:49:37",
        "Sun,  06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT ",
        "",
        "120",
    };
    int rc;

    is_int(&t, parse("Sun, 06 Nov 1994 08:49:37 GMT", &rc), 784111777, "IMF-fixdate");
    is_int(&t, rc, 0, "IMF-fixdate accepted");
    is_int(&t, parse("Sunday, 06-Nov-94 08:49:37 GMT", &rc), 784111777, "RFC 850 form");
    is_int(&t, parse("Sun Nov  6 08:49:37 1994", &rc), 784111777, "asctime form");
    is_int(&t, parse("Thu, 01 Jan 1970 00:00:00 GMT", &rc), 0, "the epoch");
    is_int(&t, parse("Tue, 29 Feb 2028 12:00:00 GMT", &rc), 1835438400, "a leap day");
    is_int(&t, rc, 0, "leap day accepted");
    parse("Wed, 29 Feb 2027 12:00:00 GMT", &rc);
    is_int(&t, rc, -EINVAL, "29 February of a common year refused");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        parse(bad[i], &rc);
        is_int(&t, rc, -EINVAL, "refused: \"%s\"", bad[i]);
    }
    return tap_done(&t);
}
