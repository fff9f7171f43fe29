/* log: one structured JSON line per event worth knowing, on stderr (Lambda sends it to
 * CloudWatch Logs). The logger is a value owned by the daemon and passed by pointer; there is
 * no global log state. A NULL logger logs nothing, so pure modules can be used without one. */
#ifndef TB_LOG_H
#define TB_LOG_H

#include <stdbool.h>
#include <stdio.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };

struct log {
    enum log_level level;
    FILE *out; /* stderr unless a test points it elsewhere */
};

void log_init(struct log *lg, enum log_level level);

/* Parses "debug|info|warn|error|off" (any case). 0 or -EINVAL. */
int log_level_parse(const char *s, enum log_level *out);

/* Writes {"level":..,"source":"tracebridge","module":..,"msg":..} with msg JSON-escaped.
 * Never write secrets (OTLP header values) into msg. */
void log_write(const struct log *lg, enum log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Whether a line at `level` would be written: lets a caller skip the work of preparing a
 * debug line (formatting ids) when nobody will read it. */
static inline bool log_enabled(const struct log *lg, enum log_level level)
{
    return lg && lg->level != LOG_OFF && level >= lg->level;
}

#define log_debug(lg, mod, ...) log_write((lg), LOG_DEBUG, (mod), __VA_ARGS__)
#define log_info(lg, mod, ...)  log_write((lg), LOG_INFO, (mod), __VA_ARGS__)
#define log_warn(lg, mod, ...)  log_write((lg), LOG_WARN, (mod), __VA_ARGS__)
#define log_error(lg, mod, ...) log_write((lg), LOG_ERROR, (mod), __VA_ARGS__)

#endif
