/* SPDX-License-Identifier: Apache-2.0 */
/* test_jscan.c on the portable (SWAR) block path, the one arm64 builds use. */
#define JSCAN_PORTABLE 1
#include "tests/unit/proxy/promote/test_jscan.c"
