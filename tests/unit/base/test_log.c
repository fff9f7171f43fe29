/* SPDX-License-Identifier: Apache-2.0 */
/* log: one JSON line per event, message escaped, levels filter, a NULL logger is silent. */
#include "extension/base/log.c"

#include <cjson/cJSON.h>
#include <stdlib.h>

#include "tests/lib/tap.h"

static char *capture(struct log *lg, FILE **f, char **mem, size_t *n)
{
    *f = open_memstream(mem, n);
    lg->out = *f;
    return *mem;
}

int main(void)
{
    struct tap t = TAP_INIT;
    struct log lg;
    enum log_level lv;
    FILE *f;
    char *mem = NULL;
    size_t n = 0;

    log_init(&lg, LOG_INFO);
    capture(&lg, &f, &mem, &n);
    log_info(&lg, "proxy", "listening on %s:%d", "127.0.0.1", 9011);
    log_debug(&lg, "proxy", "not written");
    log_warn(&lg, "daemon", "quote \" backslash \\ newline \n tab \t bell \a end");
    fflush(f);
    ok(&t,
       strstr(mem, "{\"level\":\"INFO\",\"source\":\"tracebridge\",\"module\":\"proxy\","
                   "\"msg\":\"listening on 127.0.0.1:9011\"}\n") == mem,
       "an INFO line is one JSON object on one line");
    ok(&t, !strstr(mem, "not written"), "DEBUG is filtered at INFO");
    {
        const char *second = strchr(mem, '\n') + 1;
        cJSON *j = cJSON_ParseWithLength(second, strlen(second));
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(j, "msg");
        ok(&t,
           cJSON_IsString(msg) &&
               strcmp(msg->valuestring, "quote \" backslash \\ newline \n tab \t bell \a end") == 0,
           "the message is JSON-escaped: the line parses back to the very message");
        cJSON_Delete(j);
    }
    {
        int lines = 0;
        for (char *p = mem; *p; p++)
            lines += *p == '\n';
        is_int(&t, lines, 2, "two lines for two events, whatever the message held");
    }
    fclose(f);
    free(mem);
    log_write(NULL, LOG_ERROR, "x", "a NULL logger logs nothing");
    ok(&t, 1, "a NULL logger is accepted");
    ok(&t, !log_enabled(NULL, LOG_ERROR), "nothing is enabled on a NULL logger");
    lg.level = LOG_OFF;
    ok(&t, !log_enabled(&lg, LOG_ERROR), "off silences errors too");
    is_int(&t, log_level_parse("WARN", &lv), 0, "level names in any case");
    is_int(&t, lv, LOG_WARN, "WARN parsed");
    is_int(&t, log_level_parse("verbose", &lv), -EINVAL, "unknown level refused");
    return tap_done(&t);
}
