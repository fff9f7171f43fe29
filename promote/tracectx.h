/* tracectx: W3C trace context and X-Ray trace header values: strict parsers, validators and
 * formatters. Every value that tracebridge writes anywhere passed one of these parsers first;
 * anything that fails is ignored and never copied (no header or JSON injection). */
#ifndef TB_TRACECTX_H
#define TB_TRACECTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "extension/base/hex.h"

#define TRACEPARENT_LEN    55   /* "00-" 32 "-" 16 "-" 2 */
#define TRACESTATE_MAX     512  /* W3C: propagate at least 512 chars; longer is truncated */
#define BAGGAGE_MAX        8192 /* W3C baggage: propagate at least 8192 bytes */
#define XRAY_HEADER_MAX    256
#define TRACE_FLAG_SAMPLED 0x01

struct trace_ctx {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t flags; /* W3C trace-flags; bit 0 = sampled */
};

/* A context together with the optional W3C companions found next to it. Strings are
 * NUL-terminated, already validated, empty when absent. */
struct trace_ctx_full {
    struct trace_ctx ctx;
    char tracestate[TRACESTATE_MAX + 1];
    char baggage[BAGGAGE_MAX + 1];
};

/* Parses a traceparent header value per W3C Trace Context (lower-case hex only, no all-zero
 * ids, version ff invalid, version 00 exactly 55 chars, future versions parsed at the v00
 * positions). Optional surrounding spaces/tabs are allowed. true when valid. */
bool traceparent_parse(const char *s, size_t n, struct trace_ctx *out);

/* Why traceparent_parse rejects s (a static text for a log line), or NULL when it is valid. */
const char *traceparent_problem(const char *s, size_t n);

/* The first bytes of a rejected value, safe to log: at most TRACEPARENT_PREFIX_MAX characters,
 * anything but hex digits and '-' shown as '?', NUL-terminated. A caller never logs more of an
 * invalid value than this. */
#define TRACEPARENT_PREFIX_MAX 12
void traceparent_safe_prefix(const char *s, size_t n, char out[TRACEPARENT_PREFIX_MAX + 1]);

/* Writes "00-<trace>-<span>-<flags>" plus NUL: out must hold TRACEPARENT_LEN + 1 bytes. */
void traceparent_format(const struct trace_ctx *c, char *out);

/* Validates a tracestate value (<= 32 list members, key and value grammar, no duplicate keys).
 * On success copies it to out (cap bytes incl. NUL), truncating whole trailing members to fit
 * per the spec; returns false (out = "") when invalid. */
bool tracestate_sanitize(const char *s, size_t n, char *out, size_t cap);

/* Validates a W3C baggage value (key token, value of baggage-octets, properties); false when
 * invalid or longer than cap - 1. On success copies it to out. */
bool baggage_sanitize(const char *s, size_t n, char *out, size_t cap);

/* Parses an X-Ray trace header (Root=1-8hex-24hex;Parent=16hex;Sampled=0|1|?;...). Root and
 * Parent are required for a usable context; Sampled=1 sets the sampled flag. true when valid. */
bool xray_parse(const char *s, size_t n, struct trace_ctx *out);

/* Rewrites an X-Ray header to carry ctx as Root/Parent/Sampled while keeping Lineage and every
 * other field of `orig` in order. Writes at most cap bytes incl. NUL; false if it cannot. */
bool xray_rewrite(const char *orig, size_t n, const struct trace_ctx *ctx, char *out, size_t cap);

bool trace_id_is_zero(const uint8_t id[16]);
bool span_id_is_zero(const uint8_t id[8]);

#endif
