/* SPDX-License-Identifier: Apache-2.0 */
#include "extension/base/base.h"

#include <errno.h>
#include <stdarg.h>
#include <strings.h>

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR", "OFF"};

void log_init(struct log *lg, enum log_level level)
{
    lg->level = level;
    lg->out = stderr;
}

int log_level_parse(const char *s, enum log_level *out)
{
    for (int i = LOG_DEBUG; i <= LOG_OFF; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = LOG_WARN;
        return 0;
    }
    return -EINVAL;
}

void log_write(const struct log *lg, enum log_level level, const char *module, const char *fmt, ...)
{
    struct buf msg;
    struct buf line;
    va_list ap;

    if (!lg || level < lg->level || lg->level == LOG_OFF)
        return;
    buf_init(&msg, 16384);
    buf_init(&line, 40000);
    va_start(ap, fmt);
    if (buf_vappendf(&msg, fmt, ap) < 0)
        buf_append_str(&msg, "(log message too long)");
    va_end(ap);
    buf_appendf(&line, "{\"level\":\"%s\",\"source\":\"tracebridge\",\"module\":\"%s\",\"msg\":\"",
                level_names[level], module);
    /* Escaped, so a hostile value that reaches a log line can never forge a second line. */
    json_escape_append(&line, msg.data ? msg.data : "", msg.len);
    buf_append_str(&line, "\"}\n");
    if (line.data)
        fwrite(line.data, 1, line.len, lg->out ? lg->out : stderr);
    fflush(lg->out ? lg->out : stderr);
    buf_free(&msg);
    buf_free(&line);
}
