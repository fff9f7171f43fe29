/* SPDX-License-Identifier: Apache-2.0 */
/* ratelimit: first occurrence through, then at most one per period with the held-back count. */
#include "extension/base/base.h"

#include "tests/lib/tap.h"

int main(void)
{
    struct tap t = TAP_INIT;
    struct ratelimit r = RATELIMIT_INIT(1000);
    unsigned long held = 99;

    ok(&t, ratelimit_hit(&r, 5000, &held) && held == 0, "first occurrence logged, none held");
    ok(&t, !ratelimit_hit(&r, 5001, &held), "second, 1 ms later: held back");
    ok(&t, !ratelimit_hit(&r, 5999, &held), "third, within the period: held back");
    ok(&t, ratelimit_hit(&r, 6000, &held), "a period after the last logged one: logged");
    is_int(&t, held, 2, "with the two held back");
    ok(&t, !ratelimit_hit(&r, 6500, &held), "the period restarts from the last one logged");
    is_int(&t, ratelimit_take_held(&r), 1, "take_held: the one held since");
    is_int(&t, ratelimit_take_held(&r), 0, "take_held resets the count");
    ok(&t, ratelimit_hit(&r, 7000, &held) && held == 0, "nothing held after take_held");
    ok(&t, ratelimit_hit(&r, 100, &held), "a clock gone backwards lets the next one through");
    {
        struct ratelimit z = RATELIMIT_INIT(1000);
        ok(&t, ratelimit_hit(&z, 0, &held), "time 0 is a valid first occurrence");
        ok(&t, !ratelimit_hit(&z, 10, &held), "and starts the period");
    }
    return tap_done(&t);
}
