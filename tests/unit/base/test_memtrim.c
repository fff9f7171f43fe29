/* SPDX-License-Identifier: Apache-2.0 */
/* memtrim: the release threshold (1 MiB at least, 1/32 of the function's memory); the huge-page
 * hint marks the 2 MiB-aligned part of a large buffer (VmFlags "hg" in /proc/self/smaps), leaves
 * a buffer without an aligned 2 MiB alone, and never changes the bytes. */
#include "extension/base/memtrim.c"

#include <stdio.h>
#include <string.h>

#include "tests/lib/tap.h"

/* Whether the mapping holding addr has VmFlags hg (MADV_HUGEPAGE). */
static bool vma_hugepage(const void *addr)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    bool in = false;
    bool hg = false;

    while (f && fgets(line, sizeof(line), f)) {
        unsigned long lo;
        unsigned long hi;

        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
            in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
        else if (in && strncmp(line, "VmFlags:", 8) == 0)
            hg = strstr(line, " hg") != NULL;
    }
    if (f)
        fclose(f);
    return hg;
}

static bool thp_available(void)
{
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    char s[128] = "";
    bool on;

    if (!f)
        return false;
    on = fgets(s, sizeof(s), f) && !strstr(s, "[never]");
    fclose(f);
    return on;
}

int main(void)
{
    struct tap t = TAP_INIT;
    size_t n = 8u * 1024 * 1024;
    char *big = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *small = malloc(64 * 1024);
    uintptr_t mid = ((uintptr_t)big + 4 * HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);

    is_int(&t, (long)memtrim_threshold(128), 4L * 1024 * 1024, "128 MB function: 4 MiB");
    is_int(&t, (long)memtrim_threshold(16), 1L * 1024 * 1024, "small function: the 1 MiB floor");
    ok(&t, big != MAP_FAILED && small, "buffers");
    memset(small, 'x', 64 * 1024);
    memtrim_advise_huge(small, 64 * 1024);
    ok(&t, small[0] == 'x' && small[64 * 1024 - 1] == 'x', "a small buffer keeps its bytes");
    memtrim_advise_huge(big + 1, n - 1);
    if (thp_available()) {
        ok(&t, vma_hugepage((void *)mid), "the aligned part of a large buffer is marked hg");
        ok(&t, !vma_hugepage(big), "its unaligned head is not");
    } else {
        ok(&t, true, "# SKIP transparent huge pages are off here");
        ok(&t, true, "# SKIP transparent huge pages are off here");
    }
    memset(big, 'y', n);
    ok(&t, big[0] == 'y' && big[n - 1] == 'y', "the hinted buffer works as before");
    munmap(big, n);
    free(small);
    return tap_done(&t);
}
