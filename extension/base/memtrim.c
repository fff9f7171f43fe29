/* SPDX-License-Identifier: Apache-2.0 */
#include "extension/base/base.h"

#include <stdbool.h>
#include <stdlib.h> /* defines __GLIBC__ on glibc */

#if defined(TB_MIMALLOC)
/* From mimalloc.h (the layer build compiles mimalloc's static.c into the binary). */
void mi_collect(bool force);
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
