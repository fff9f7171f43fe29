/* SPDX-License-Identifier: Apache-2.0 */
/* tap.h: the tiny TAP test harness every unit test uses (picotest style). Output lines are
 * "ok N - name" / "not ok N - name"; tests/run.sh counts them. */
#ifndef TB_TAP_H
#define TB_TAP_H

#include <stdio.h>
#include <string.h>

struct tap {
    int n;
    int failed;
};

#define TAP_INIT                                                                                   \
    {                                                                                              \
        0, 0                                                                                       \
    }

#define ok(t, cond, ...)                                                                           \
    do {                                                                                           \
        int c_ = !!(cond);                                                                         \
        (t)->n++;                                                                                  \
        if (c_) {                                                                                  \
            printf("ok %d - ", (t)->n);                                                            \
        } else {                                                                                   \
            (t)->failed++;                                                                         \
            printf("not ok %d - ", (t)->n);                                                        \
        }                                                                                          \
        printf(__VA_ARGS__);                                                                       \
        printf("\n");                                                                              \
        if (!c_)                                                                                   \
            printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__, #cond);                        \
        fflush(stdout);                                                                            \
    } while (0)

#define is_int(t, got, want, ...)                                                                  \
    do {                                                                                           \
        long long g_ = (long long)(got), w_ = (long long)(want);                                   \
        ok(t, g_ == w_, __VA_ARGS__);                                                              \
        if (g_ != w_)                                                                              \
            printf("#   got %lld, want %lld\n", g_, w_);                                           \
    } while (0)

#define is_str(t, got, want, ...)                                                                  \
    do {                                                                                           \
        const char *g_ = (got), *w_ = (want);                                                      \
        int same_ = g_ && w_ && strcmp(g_, w_) == 0;                                               \
        ok(t, same_, __VA_ARGS__);                                                                 \
        if (!same_)                                                                                \
            printf("#   got \"%s\", want \"%s\"\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)");       \
    } while (0)

static inline int tap_done(struct tap *t)
{
    printf("1..%d\n", t->n);
    return t->failed ? 1 : 0;
}

#endif
