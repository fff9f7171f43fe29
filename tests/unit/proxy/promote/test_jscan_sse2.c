/* SPDX-License-Identifier: Apache-2.0 */
/* test_jscan.c on the SSE2 block path, the one x86_64 CPUs without AVX2 use (test_jscan.c
 * itself runs the AVX2 path where the CPU has it). */
#define JSCAN_NO_AVX2 1
#include "tests/unit/proxy/promote/test_jscan.c"
