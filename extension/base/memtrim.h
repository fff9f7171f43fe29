/* memtrim: hands memory freed after large work (a multi-megabyte event, OTLP request or export
 * batch) back to the system, so that the sandbox's memory goes back near tracebridge's idle
 * level instead of staying at its peak for the sandbox's life. glibc keeps freed large blocks
 * in its heap once its dynamic mmap threshold has grown (malloc_trim(0) returns them);
 * mimalloc (the static layer binary, built with -DTB_MIMALLOC) purges lazily (mi_collect(true)
 * does it now); musl's own malloc unmaps large blocks on free already. Called only while
 * tracebridge is idle (after an invocation, before /event/next), and only after work that was
 * large for the function (memtrim_threshold): it walks the heap, and memory handed back costs
 * page faults when the next large event needs it again (a few ms for a 5 MB event), which a
 * function with memory to spare should not pay. */
#ifndef TB_MEMTRIM_H
#define TB_MEMTRIM_H

#include <stddef.h>

/* Work this large (bytes held at once) is followed by a release: MEMTRIM_MIN_BYTES, or 1/32
 * of the function's memory when that is more (4 MiB at 128 MB, 32 MiB at 1 GB: a 5 MB event,
 * which holds about 10 MB while it is rewritten, is released after in functions of up to
 * 256 MB). The proxy frees its /next buffers above the same size. */
#define MEMTRIM_MIN_BYTES     (1024 * 1024)
#define MEMTRIM_SHARE_DIVISOR 32
size_t memtrim_threshold(int memory_mb);

void memtrim_release(void);

/* What the build releases with: "malloc_trim", "mi_collect" or "none". */
const char *memtrim_method(void);

#endif
