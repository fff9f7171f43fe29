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

/* Escapes one message for a JSON string; control bytes become \u00XX so a hostile value that
 * reaches a log line can never forge a second line. */
static void append_json_escaped(struct buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            buf_appendf(b, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            buf_appendf(b, "\\u%04x", c);
        else
            buf_append_byte(b, (char)c);
    }
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
    append_json_escaped(&line, msg.data ? msg.data : "", msg.len);
    buf_append_str(&line, "\"}\n");
    if (line.data)
        fwrite(line.data, 1, line.len, lg->out ? lg->out : stderr);
    fflush(lg->out ? lg->out : stderr);
    buf_free(&msg);
    buf_free(&line);
}
