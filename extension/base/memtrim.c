/* SPDX-License-Identifier: Apache-2.0 */
#include "extension/base/base.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h> /* defines __GLIBC__ on glibc */
#include <sys/mman.h>

#if defined(TB_MIMALLOC)
#include <mimalloc.h> /* the layer build compiles mimalloc's static.c into the binary */
#elif defined(__GLIBC__)
#include <malloc.h>
#endif

size_t memtrim_threshold(int memory_mb)
{
    size_t share = memory_mb > 0 ? (size_t)memory_mb * 1024 * 1024 / MEMTRIM_SHARE_DIVISOR : 0;

    return share > MEMTRIM_MIN_BYTES ? share : MEMTRIM_MIN_BYTES;
}

void memtrim_release(void)
{
#if defined(TB_MIMALLOC)
    /* mimalloc decommits freed pages and segments only after a delay (25 ms, 500 ms), and only
     * when it runs again, which a frozen sandbox never does: from the first large work on, it
     * decommits at once (the same price as glibc's trim: the next large event faults its pages
     * in again), and a forced collect hands back what is already free. */
    mi_option_set(mi_option_decommit_delay, 0);
    mi_option_set(mi_option_segment_decommit_delay, 0);
    mi_collect(true);
#elif defined(__GLIBC__)
    (void)malloc_trim(0);
#endif
}

const char *memtrim_method(void)
{
#if defined(TB_MIMALLOC)
    return "mi_collect";
#elif defined(__GLIBC__)
    return "malloc_trim";
#else
    return "none";
#endif
}

#define HUGE_PAGE ((uintptr_t)2 * 1024 * 1024)

#if defined(MADV_HUGEPAGE)
void memtrim_advise_huge(void *p, size_t n)
{
    uintptr_t lo = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    uintptr_t hi = ((uintptr_t)p + n) & ~(HUGE_PAGE - 1);

    if (hi > lo)
        (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
}
#else
void memtrim_advise_huge(void *p, size_t n)
{
    (void)p;
    (void)n;
}
#endif
