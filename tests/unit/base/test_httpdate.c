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

static int64_t parse3339(const char *s, int *rc)
{
    int64_t e = -1;

    *rc = rfc3339_parse_ms(s, strlen(s), &e);
    return e;
}

/* RFC 3339 timestamps of SNS, EventBridge and stream events. */
static void test_rfc3339(struct tap *t)
{
    static const char *const bad[] = {
        "2019-01-02T12:45:07",  /* no offset */
        "2019-01-02 12:45:07Z", /* no T */
        "2019-13-02T12:45:07Z",     "2019-02-29T12:45:07Z",
        "2019-01-02T24:00:00Z",     "2019-01-02T12:45:07.Z",
        "2019-01-02T12:45:07+0100", "2019-01-02T12:45:07Z ",
        "1969-12-31T23:59:59Z",     "",
    };
    int rc;

    is_int(t, parse3339("2019-01-02T12:45:07.000Z", &rc), 1546433107000, "SNS Timestamp");
    is_int(t, rc, 0, "SNS Timestamp accepted");
    is_int(t, parse3339("2017-12-22T18:43:48Z", &rc), 1513968228000, "EventBridge time");
    is_int(t, parse3339("2017-12-22T19:43:48+01:00", &rc), 1513968228000, "an offset east");
    is_int(t, parse3339("2017-12-22T13:43:48.5-05:00", &rc), 1513968228500, "west, half second");
    is_int(t, parse3339("2017-12-22T18:43:48.123456789Z", &rc), 1513968228123, "nanoseconds cut");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        parse3339(bad[i], &rc);
        is_int(t, rc, -EINVAL, "refused: \"%s\"", bad[i]);
    }
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
    test_rfc3339(&t);
    return tap_done(&t);
}
