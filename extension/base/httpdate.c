/* SPDX-License-Identifier: Apache-2.0 */
#include "extension/base/base.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

static const char *const wkday[7] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
static const char *const weekday[7] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                       "Friday", "Saturday", "Sunday"};
static const char *const month[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

struct hd {
    int wday; /* 0 = Monday */
    int day, mon, year, hour, min, sec;
};

/* A cursor over the input: every reader checks bounds and advances only on success. */
struct cur {
    const char *p;
    size_t n;
};

static bool lit(struct cur *c, const char *s)
{
    size_t k = strlen(s);

    if (c->n < k || memcmp(c->p, s, k) != 0)
        return false;
    c->p += k;
    c->n -= k;
    return true;
}

static bool digits(struct cur *c, size_t k, int *out)
{
    int v = 0;

    if (c->n < k)
        return false;
    for (size_t i = 0; i < k; i++) {
        if (c->p[i] < '0' || c->p[i] > '9')
            return false;
        v = v * 10 + (c->p[i] - '0');
    }
    c->p += k;
    c->n -= k;
    *out = v;
    return true;
}

static int pick(struct cur *c, const char *const *names, int count)
{
    for (int i = 0; i < count; i++) {
        if (lit(c, names[i]))
            return i;
    }
    return -1;
}

/* "HH:MM:SS" */
static bool time_of_day(struct cur *c, struct hd *d)
{
    return digits(c, 2, &d->hour) && lit(c, ":") && digits(c, 2, &d->min) && lit(c, ":") &&
           digits(c, 2, &d->sec);
}

/* Sun, 06 Nov 1994 08:49:37 GMT */
static bool imf_fixdate(struct cur c, struct hd *d)
{
    return (d->wday = pick(&c, wkday, 7)) >= 0 && lit(&c, ", ") && digits(&c, 2, &d->day) &&
           lit(&c, " ") && (d->mon = pick(&c, month, 12)) >= 0 && lit(&c, " ") &&
           digits(&c, 4, &d->year) && lit(&c, " ") && time_of_day(&c, d) && lit(&c, " GMT") &&
           c.n == 0;
}

/* Sunday, 06-Nov-94 08:49:37 GMT (two-digit years: RFC 9110 says a year that looks more than 50
 * years ahead is in the past; relative to 2000-2099 use, 00-69 → 20xx, 70-99 → 19xx). */
static bool rfc850(struct cur c, struct hd *d)
{
    bool okay = (d->wday = pick(&c, weekday, 7)) >= 0 && lit(&c, ", ") && digits(&c, 2, &d->day) &&
                lit(&c, "-") && (d->mon = pick(&c, month, 12)) >= 0 && lit(&c, "-") &&
                digits(&c, 2, &d->year) && lit(&c, " ") && time_of_day(&c, d) && lit(&c, " GMT") &&
                c.n == 0;

    if (okay)
        d->year += d->year < 70 ? 2000 : 1900;
    return okay;
}

/* Sun Nov  6 08:49:37 1994 (day padded with a space) */
static bool asctime_date(struct cur c, struct hd *d)
{
    bool okay = (d->wday = pick(&c, wkday, 7)) >= 0 && lit(&c, " ") &&
                (d->mon = pick(&c, month, 12)) >= 0 && lit(&c, " ");

    if (!okay)
        return false;
    if (lit(&c, " ")) {
        if (!digits(&c, 1, &d->day) || d->day == 0)
            return false;
    } else if (!digits(&c, 2, &d->day) || d->day < 10) {
        return false;
    }
    return lit(&c, " ") && time_of_day(&c, d) && lit(&c, " ") && digits(&c, 4, &d->year) &&
           c.n == 0;
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; y >= 1970 is checked by the caller). */
static int64_t days_from_civil(int y, int m, int d)
{
    /* Howard Hinnant's algorithm, with March as the first month of the computational year. */
    int64_t yy = y - (m <= 2);
    int64_t era = yy / 400;
    int64_t yoe = yy - era * 400;
    int64_t mp = (m + 9) % 12;
    int64_t doy = (153 * mp + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}

static bool valid(const struct hd *d, int64_t days)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int dim = mdays[d->mon] + (d->mon == 1 && leap(d->year));
    /* 1970-01-01 was a Thursday (index 3 with Monday = 0). */
    int wday = (int)((days % 7 + 7 + 3) % 7);

    return d->year >= 1970 && d->day >= 1 && d->day <= dim && d->hour <= 23 && d->min <= 59 &&
           d->sec <= 60 && wday == d->wday;
}

int httpdate_parse(const char *s, size_t n, int64_t *epoch)
{
    struct cur c = {s, n};
    struct hd d;
    int64_t days;

    memset(&d, 0, sizeof(d));
    if (!s || !(imf_fixdate(c, &d) || rfc850(c, &d) || asctime_date(c, &d)))
        return -EINVAL;
    days = days_from_civil(d.year, d.mon + 1, d.day);
    if (!valid(&d, days))
        return -EINVAL;
    *epoch = days * 86400 + d.hour * 3600 + d.min * 60 + d.sec;
    return 0;
}

/* ---- RFC 3339 (event timestamps) ---- */

/* ".sss" (any number of digits; the first three are milliseconds). */
static bool fraction_ms(struct cur *c, int *ms)
{
    size_t i = 0;

    *ms = 0;
    if (!lit(c, "."))
        return true;
    for (; i < c->n && c->p[i] >= '0' && c->p[i] <= '9'; i++)
        if (i < 3)
            *ms = *ms * 10 + (c->p[i] - '0');
    if (i == 0)
        return false;
    for (size_t k = i; k < 3; k++)
        *ms *= 10;
    c->p += i;
    c->n -= i;
    return true;
}

/* "Z" or "+hh:mm" / "-hh:mm": the offset east of UTC, in minutes. */
static bool utc_offset(struct cur *c, int *minutes)
{
    int h = 0, m = 0;
    int sign = c->n && c->p[0] == '-' ? -1 : 1;

    *minutes = 0;
    if (lit(c, "Z") || lit(c, "z"))
        return true;
    if (!(lit(c, "+") || lit(c, "-")) || !digits(c, 2, &h) || !lit(c, ":") || !digits(c, 2, &m))
        return false;
    if (h > 23 || m > 59)
        return false;
    *minutes = sign * (h * 60 + m);
    return true;
}

int rfc3339_parse_ms(const char *s, size_t n, int64_t *epoch_ms)
{
    struct cur c = {s, n};
    struct hd d;
    int ms = 0, off = 0;
    int64_t days;

    memset(&d, 0, sizeof(d));
    if (!s || !digits(&c, 4, &d.year) || !lit(&c, "-") || !digits(&c, 2, &d.mon) || !lit(&c, "-") ||
        !digits(&c, 2, &d.day) || !(lit(&c, "T") || lit(&c, "t")) || !time_of_day(&c, &d) ||
        !fraction_ms(&c, &ms) || !utc_offset(&c, &off) || c.n != 0)
        return -EINVAL;
    if (d.mon < 1 || d.mon > 12)
        return -EINVAL;
    d.mon--;
    days = days_from_civil(d.year, d.mon + 1, d.day);
    d.wday = (int)((days % 7 + 7 + 3) % 7); /* no day name to check */
    if (!valid(&d, days))
        return -EINVAL;
    *epoch_ms = ((days * 86400 + d.hour * 3600 + d.min * 60 + d.sec) - off * 60) * 1000 + ms;
    return 0;
}
