/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_common.h: the replay main() that lets gcc build every fuzz target without libFuzzer
 * (run it with corpus files or directories as arguments). clang's -fsanitize=fuzzer build
 * defines TB_LIBFUZZER and uses libFuzzer's own main. */
#ifndef TB_FUZZ_COMMON_H
#define TB_FUZZ_COMMON_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts (so both libFuzzer and the replay notice) when an invariant fails. */
#define FUZZ_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#ifndef TB_LIBFUZZER
static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *p;
    long n;

    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    p = malloc((size_t)n + 1);
    if (p && fread(p, 1, (size_t)n, f) == (size_t)n)
        LLVMFuzzerTestOneInput(p, (size_t)n);
    free(p);
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    int files = 0;

    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        struct dirent *e;
        if (!d) {
            files += replay_file(argv[i]) == 0;
            continue;
        }
        while ((e = readdir(d))) {
            char path[4096];
            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
            files += replay_file(path) == 0;
        }
        closedir(d);
    }
    printf("replayed %d inputs\n", files);
    return 0;
}
#endif

#endif
