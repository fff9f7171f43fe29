/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_extapi_event: arbitrary bytes as an /event/next body (and as a register response).
 * Invariants: an accepted event is INVOKE (with a request id) or SHUTDOWN (reason lower-cased),
 * every string is NUL-terminated inside its field, a rejected event leaves nothing behind, and
 * parsing is deterministic. */
#include <ctype.h>
#include <errno.h>

#include "extension/lifecycle/lifecycle.h"
#include "tests/fuzz/fuzz_common.h"

static void check_terminated(const char *s, size_t cap)
{
    FUZZ_ASSERT(memchr(s, '\0', cap) != NULL);
}

static void check_event(const struct extapi_event *ev, int rc)
{
    static const struct extapi_event zero;

    if (rc < 0) {
        FUZZ_ASSERT(rc == -EBADMSG);
        FUZZ_ASSERT(memcmp(ev, &zero, sizeof(zero)) == 0);
        return;
    }
    FUZZ_ASSERT(rc == 0);
    FUZZ_ASSERT(ev->type == EXTAPI_INVOKE || ev->type == EXTAPI_SHUTDOWN);
    check_terminated(ev->request_id, sizeof(ev->request_id));
    check_terminated(ev->function_arn, sizeof(ev->function_arn));
    check_terminated(ev->tracing_value, sizeof(ev->tracing_value));
    check_terminated(ev->shutdown_reason, sizeof(ev->shutdown_reason));
    FUZZ_ASSERT(ev->deadline_ms <= 1000000000000000ULL);
    if (ev->type == EXTAPI_INVOKE) {
        FUZZ_ASSERT(ev->request_id[0] != '\0');
        FUZZ_ASSERT(ev->shutdown_reason[0] == '\0');
    } else {
        FUZZ_ASSERT(ev->request_id[0] == '\0');
        for (const char *p = ev->shutdown_reason; *p; p++)
            FUZZ_ASSERT(!isupper((unsigned char)*p));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct extapi_event a, b;
    struct extapi_registration reg;
    int rc;

    rc = extapi_parse_event((const char *)data, size, &a);
    check_event(&a, rc);
    FUZZ_ASSERT(extapi_parse_event((const char *)data, size, &b) == rc);
    FUZZ_ASSERT(memcmp(&a, &b, sizeof(a)) == 0);

    memset(&reg, 0, sizeof(reg));
    if (extapi_parse_register((const char *)data, size, &reg) == 0) {
        check_terminated(reg.function_name, sizeof(reg.function_name));
        check_terminated(reg.function_version, sizeof(reg.function_version));
        check_terminated(reg.handler, sizeof(reg.handler));
        check_terminated(reg.account_id, sizeof(reg.account_id));
    }
    return 0;
}
