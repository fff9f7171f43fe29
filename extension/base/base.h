/* SPDX-License-Identifier: Apache-2.0 */
/* base: the no-I/O toolbox every room uses: bounded buffers, the intrusive list, logging, hex,
 * base64, SHA-256, UTF-8/JSON escaping, key=value lists, rate limits, HTTP dates, RFC 3339
 * timestamps and tokens, the request id limit, the W3C/X-Ray trace-context types and parsers,
 * clock-jump detection, host:port literals and handing freed memory back. Includes only libc. */
#ifndef TB_BASE_BASE_H
#define TB_BASE_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

/* ---- buf ---------------------------------------------------------------------- */
/* buf: the one bounded byte buffer every module builds text and bytes with.
 *
 * A buf never grows past `max` bytes: appends beyond it fail with -E2BIG and leave the
 * buffer as it was, so no outside input can make memory grow without bound. */
struct buf {
    char *data; /* NUL-terminated when len < cap (appends keep one spare byte) */
    size_t len;
    size_t cap;
    size_t max; /* hard limit on len */
};

/* Initialises an empty buffer that may hold at most `max` bytes. Allocates nothing. */
void buf_init(struct buf *b, size_t max);

/* Frees the memory and leaves an empty buffer with the same max. */
void buf_free(struct buf *b);

/* Empties the buffer but keeps its memory for reuse. */
void buf_reset(struct buf *b);

/* Makes room for `extra` more bytes. 0, -E2BIG (past max) or -ENOMEM. */
int buf_reserve(struct buf *b, size_t extra);

/* Appends bytes. 0, -E2BIG or -ENOMEM; on error the buffer is unchanged. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_append_byte(struct buf *b, char c);
int buf_appendf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vappendf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Copies the string src into dst (cap >= 1 bytes with the NUL), truncated to fit: only the
 * string's bytes, never the whole of a fixed-size field. */
void str_copy(char *dst, size_t cap, const char *src);

/* Hands the bytes to the caller, who frees them with free(); the buffer is reset to empty.
 * Returns NULL for an empty buffer that never allocated. */
char *buf_take(struct buf *b, size_t *len);

/* ---- flags -------------------------------------------------------------------- */
/* Whether a flag word has every bit of `on` set and every bit of `off` clear: the state
 * enums and flag words of the rooms test a state in one expression. */
static inline bool flags_are(unsigned flags, unsigned on, unsigned off)
{
    return (flags & (on | off)) == on;
}

/* Sets the bits f of *flags when on, else clears them. */
static inline void flags_put(unsigned *flags, unsigned f, bool on)
{
    *flags = on ? *flags | f : *flags & ~f;
}

/* ---- list --------------------------------------------------------------------- */
/* list: the one intrusive doubly linked list (after libuv's queue.h). A struct tb_list is the
 * head, and each element embeds a struct tb_list link; the list is circular through the head,
 * so inserting and removing never need the head or a special case. The list owns nothing: an
 * element is freed by its owner, after tb_list_remove. */
struct tb_list {
    struct tb_list *next;
    struct tb_list *prev;
};

/* Makes l an empty list, or a link that is in no list. */
static inline void tb_list_init(struct tb_list *l)
{
    l->next = l;
    l->prev = l;
}

static inline bool tb_list_empty(const struct tb_list *h)
{
    return h->next == h;
}

/* Links n (in no list) first / last into the list h. */
static inline void tb_list_insert_head(struct tb_list *h, struct tb_list *n)
{
    n->next = h->next;
    n->prev = h;
    h->next->prev = n;
    h->next = n;
}

static inline void tb_list_insert_tail(struct tb_list *h, struct tb_list *n)
{
    n->next = h;
    n->prev = h->prev;
    h->prev->next = n;
    h->prev = n;
}

/* Unlinks n from its list and leaves it in none (removing it again changes nothing). */
static inline void tb_list_remove(struct tb_list *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    tb_list_init(n);
}

/* The element whose `member` is the link l. */
#define tb_list_entry(l, type, member) ((type *)(void *)((char *)(l)-offsetof(type, member)))

/* Visits every link of h from the first; the body must not unlink `it` (use the _safe form,
 * which may unlink and free `it`, but no other link). */
#define tb_list_foreach(it, h) for ((it) = (h)->next; (it) != (h); (it) = (it)->next)
#define tb_list_foreach_safe(it, tmp, h)                                                           \
    for ((it) = (h)->next, (tmp) = (it)->next; (it) != (h); (it) = (tmp), (tmp) = (it)->next)

/* ---- log ---------------------------------------------------------------------- */
/* log: one structured JSON line per event worth knowing, on stderr (Lambda sends it to
 * CloudWatch Logs). The logger is a value owned by the daemon and passed by pointer; there is
 * no global log state. A NULL logger logs nothing, so pure modules can be used without one. */
enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };

struct log {
    enum log_level level;
    FILE *out; /* stderr unless a test points it elsewhere; not owned (never closed) */
};

/* The owner keeps the struct log; every module is handed a const pointer to it, so it must
 * outlive them all. */
void log_init(struct log *lg, enum log_level level);

/* Parses "debug|info|warn|error|off" (any case). 0 or -EINVAL. */
int log_level_parse(const char *s, enum log_level *out);

/* Writes {"level":..,"source":"tracebridge","module":..,"msg":..} with msg JSON-escaped, as one
 * line, flushed before it returns; nothing is kept (module and the arguments are only read
 * during the call). A message past 16 KiB is replaced by a note. Never write secrets (OTLP
 * header values) into msg. */
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

/* ---- hex ---------------------------------------------------------------------- */
/* hex: hexadecimal digits, both ways. W3C trace context and X-Ray values must be lower case
 * (hex_decode_lower); OTLP/JSON ids and percent-escapes may be either case (hex_decode,
 * hex_digit). */
/* The value of one hex digit of either case, or -1. */
int hex_digit(char c);

/* Writes the 2n lower-case hex digits of in[0..n) to out (no NUL). */
void hex_encode(const uint8_t *in, size_t n, char *out);

/* Decodes n2 hex digits into n2 / 2 bytes; false for an odd n2 or a non-hex digit (out may
 * then be partly written). */
bool hex_decode(const char *in, size_t n2, uint8_t *out);

/* hex_decode that also refuses upper-case digits. */
bool hex_decode_lower(const char *in, size_t n2, uint8_t *out);

/* ---- base64 ------------------------------------------------------------------- */
/* base64 (RFC 4648). Encoding writes the standard alphabet with '=' padding (what OTLP/JSON
 * bytes fields are). Decoding takes what the senders we meet write: the standard alphabet and
 * the URL-safe one, even mixed (proto3 JSON allows either), with padding or without; nothing
 * else, no whitespace either. Stray bits in the last character are not checked. */
/* base64_decode flags. */
#define BASE64_LOOSE_PADDING                                                                       \
    1u /* one or two '=' are accepted after any text, even where they do not complete a            \
          group of four characters ("YQ=") */

/* The most bytes that n characters of base64 decode to. */
static inline size_t base64_decoded_max(size_t n)
{
    return (n + 3) / 4 * 3;
}

/* Decodes in[0..n) into out, which has room for base64_decoded_max(n) bytes, and sets *out_len.
 * 0, or -EINVAL for a character outside both alphabets, a last character that holds no whole
 * byte, more than two '=', or (without BASE64_LOOSE_PADDING) padding that does not complete
 * the last group of four; out may then be partly written. */
int base64_decode(const char *in, size_t n, unsigned flags, uint8_t *out, size_t *out_len);

/* base64_decode appending the bytes to b. 0, -EINVAL, -E2BIG (past b->max) or -ENOMEM; on
 * error some of the bytes may have been appended. */
int base64_decode_append(const char *in, size_t n, unsigned flags, struct buf *b);

/* Appends the standard, padded base64 of in[0..n) to b. 0, -E2BIG or -ENOMEM (b unchanged). */
int base64_encode_append(const uint8_t *in, size_t n, struct buf *b);

/* ---- sha256 ------------------------------------------------------------------- */
/* sha256: SHA-256 (FIPS 180-4), for ids derived from names (Step Functions executions); not
 * constant-time, never for secrets. The state is a value the caller owns. */
#define SHA256_LEN 32

struct sha256 {
    uint32_t h[8];
    uint64_t len; /* bytes hashed so far */
    uint8_t buf[64];
    size_t used; /* bytes of buf waiting for a whole block */
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *p, size_t n);
/* Writes the digest; s must be initialised again before it is reused. */
void sha256_final(struct sha256 *s, uint8_t out[SHA256_LEN]);
/* The digest of p[0..n) in one call. */
void sha256(const void *p, size_t n, uint8_t out[SHA256_LEN]);

/* ---- utf8 --------------------------------------------------------------------- */
/* utf8: well-formed UTF-8 per RFC 3629 (no overlong forms, no surrogates, nothing past
 * U+10FFFF). OTLP strings must be UTF-8 and a collector rejects a whole request over one bad
 * string, while the text we forward (error bodies, handler spans) is whatever a handler wrote:
 * so it is checked character by character and ill-formed bytes become U+FFFD. */
/* U+FFFD REPLACEMENT CHARACTER, encoded. */
#define UTF8_REPLACEMENT     "\xef\xbf\xbd"
#define UTF8_REPLACEMENT_LEN 3

/* Length (1 to 4) of the well-formed character that starts at p[0] (n > 0 bytes readable), or
 * 0 when the bytes there are not one: a stray continuation byte, an overlong form, a
 * surrogate, a value past U+10FFFF, or a sequence cut short by n. Every ASCII byte, NUL too,
 * is a character of length 1. */
size_t utf8_char_len(const uint8_t *p, size_t n);

/* Whether all of s[0..n) is well-formed UTF-8. */
bool utf8_valid(const char *s, size_t n);

/* Appends s[0..n) to b as well-formed UTF-8 without NUL (so the result stays one C string):
 * each byte that does not start a well-formed character, and each NUL, becomes U+FFFD. Stops
 * before the first character that would take b->len past limit, so a cut never splits a
 * character. 0 when all of s went in; -E2BIG when it was cut (at limit or at b->max); -ENOMEM.
 * What was appended before a cut stays. */
int utf8_append_sanitized(struct buf *b, const char *s, size_t n, size_t limit);

/* ---- json string -------------------------------------------------------------- */
/* The one JSON string escaper (log lines, OTLP/JSON export, the receiver's JSON answers, the
 * rewrite report). RFC 8259 section 7 requires escapes for '"', '\\' and U+0000..U+001F only,
 * and allows any character to be escaped. DEL (0x7f) is escaped too, on purpose: it is a control
 * character (kvlist and the trace-context validators treat it as one) that a terminal or log
 * viewer may act on or hide, and escaping it costs nothing, since \u007f decodes to the same
 * string. So the output is printable ASCII plus well-formed UTF-8, on one line, whatever s held. */
/* Appends s[0..n) to b as the inside of a JSON string (no quotes): '"' and '\\' get a
 * backslash, \b \f \n \r \t their short escapes, the other bytes below 0x20 and 0x7f become
 * \u00xx, well-formed UTF-8 is copied and each byte that starts no well-formed character becomes
 * U+FFFD. 0, or -E2BIG / -ENOMEM: then b holds what went in before, cut between characters. */
int json_escape_append(struct buf *b, const char *s, size_t n);

/* ---- kvlist ------------------------------------------------------------------- */
/* kvlist: the "key=value,key2=value2" lists that OTel environment variables carry
 * (OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS: W3C Baggage members without
 * properties). Members are split at commas, keys and values trimmed of spaces and tabs, and
 * values percent-decoded by the caller with kvlist_decode, under the rules it needs. */
struct kvlist_member {
    const char *key; /* trimmed, not decoded, not NUL-terminated */
    size_t key_len;
    const char *value; /* likewise */
    size_t value_len;
};

/* Called once per member; a non-zero return stops the walk and is returned by kvlist_each. */
typedef int (*kvlist_fn)(void *arg, const struct kvlist_member *m);

/* Calls fn for every member of s in order; empty members ("a=1,,b=2", blank ones) are skipped.
 * 0, -EINVAL at the first member without '=', or the first non-zero value fn returned. */
int kvlist_each(const char *s, kvlist_fn fn, void *arg);

/* kvlist_decode flags. */
#define KVLIST_STRICT_ESCAPES                                                                      \
    1u /* a '%' without two hex digits after it is an error (else it                               \
          stays as it is) */
#define KVLIST_NO_CONTROL                                                                          \
    2u /* control characters (0x00-0x1f, 0x7f), raw or decoded, are an                             \
          error: in a header value they would allow injection */

/* Appends the percent-decoding of [p, p+n) to out, which is then NUL-terminated (even when
 * nothing was appended). A decoded NUL is always an error. 0, -EINVAL, -E2BIG (past out's max)
 * or -ENOMEM; on error out is as it was. */
int kvlist_decode(const char *p, size_t n, unsigned flags, struct buf *out);

/* ---- ratelimit ---------------------------------------------------------------- */
/* ratelimit: lets a repeated warning through the first time, then at most once per period,
 * with the count of the occurrences held back meanwhile, so that a flood of one event (every
 * invocation of a burst, say) cannot become a flood of log lines. The caller owns the state
 * and passes the time in, so the limiter is pure and testable. */
struct ratelimit {
    uint64_t period_ms;
    uint64_t last_ms;   /* when an occurrence was last let through */
    unsigned long held; /* occurrences held back since then */
    bool started;       /* one was let through already */
};

#define RATELIMIT_INIT(period)                                                                     \
    {                                                                                              \
        .period_ms = (period)                                                                      \
    }

/* Records one occurrence at now_ms (any monotonic-enough millisecond clock). true when this
 * one should be logged; *held is then the number held back since the last one logged (0 the
 * first time), and the count starts again. */
bool ratelimit_hit(struct ratelimit *r, uint64_t now_ms, unsigned long *held);

/* The occurrences held back since the last one logged (for a summary at shutdown); resets
 * the count. */
unsigned long ratelimit_take_held(struct ratelimit *r);

/* ---- httpdate ---------------------------------------------------------------------- */
/* httpdate: HTTP-date (RFC 9110 §5.6.7) to Unix time, for Retry-After. Strict: the preferred
 * IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT" and, as the RFC requires recipients to accept,
 * the obsolete RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT" and asctime "Sun Nov  6 08:49:37 1994"
 * forms; exact spacing and case, a day name that matches the date, real calendar dates, no
 * leap seconds beyond :60. Anything else is rejected (the caller falls back to its backoff). */
/* Parses s[0..n) into seconds since the Unix epoch (UTC). 0 or -EINVAL. */
int httpdate_parse(const char *s, size_t n, int64_t *epoch);

/* Parses an RFC 3339 date-time ("2019-01-02T12:45:07.000Z", "2017-12-22T18:43:48+01:00": the
 * timestamps of SNS, EventBridge and stream events) into milliseconds since the Unix epoch
 * (UTC); fractions past milliseconds are dropped. Strict like httpdate_parse. 0 or -EINVAL. */
int rfc3339_parse_ms(const char *s, size_t n, int64_t *epoch_ms);

/* ---- token ------------------------------------------------------------------------ */
/* token: RFC 9110 section 5.6 tokens and optional whitespace (OWS), for header names and for
 * the W3C/OTel lists that reuse that grammar (baggage keys, OTEL_*_HEADERS, kvlist members). */
/* tchar: a letter, a digit or one of !#$%&'*+-.^_`|~ (never NUL). */
bool http_tchar(char c);

/* Whether s[0..n) is a token: one or more tchars and nothing else. */
bool http_token(const char *s, size_t n);

/* Narrows *s[0..*n) to drop spaces and tabs at both ends (nothing is written). */
void http_trim_ows(const char **s, size_t *n);

/* ---- request id -------------------------------------------------------------------- */
/* The Lambda request id names one invocation on both APIs: Lambda-Runtime-Aws-Request-Id on the
 * Runtime API (the proxy) and requestId in the Extensions API INVOKE event (extapi). Lambda
 * sends UUIDs (36 characters). REQUEST_ID_MAX is the buffer size, NUL included; an id that does
 * not fit is treated as absent (proxy, lifecycle) or makes the event invalid (extapi), and since
 * every room uses this one limit they all agree on which ids can be correlated. */
#define REQUEST_ID_MAX 128

/* The key the tables of invocations (lifecycle, telemetry facts) compare before the id itself:
 * FNV-1a, never 0 (0 marks a free entry). */
static inline uint32_t request_id_hash(const char *rid)
{
    uint32_t h = 2166136261u;

    for (; *rid; rid++)
        h = (h ^ (uint8_t)*rid) * 16777619u;
    return h ? h : 1;
}

/* ---- tracectx ------------------------------------------------------------------------ */
/* tracectx: W3C trace context and X-Ray trace header values: strict parsers, validators and
 * formatters. Every value that tracebridge writes anywhere passed one of these parsers first;
 * anything that fails is ignored and never copied (no header or JSON injection). */
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

/* ---- clockjump --------------------------------------------------------------------- */
/* clockjump: notices that the sandbox was restored from a snapshot (SnapStart) or otherwise
 * had its clock stepped, by watching the gap between clocks that normally move together.
 *
 * CLOCK_MONOTONIC runs inside the sandbox; CLOCK_REALTIME is the wall clock, which Lambda sets
 * to the real time when it restores a snapshot, taken minutes or days earlier; CLOCK_BOOTTIME
 * also counts time the machine was suspended. A plain freeze between invocations moves them all
 * alike (the gaps stay put); a restore or a step of the wall clock moves one against the
 * other. A gap that changed by more than the threshold counts as a jump. Pure: the caller
 * passes the readings in (clockjump_now() reads them), so the logic is testable. */

/* NTP slews by at most 500 ppm (0.5 ms per second): far below this. */
#define CLOCKJUMP_THRESHOLD_NS (1000ULL * 1000 * 1000)

struct clock_reading {
    int64_t realtime_ns;
    int64_t monotonic_ns;
    int64_t boottime_ns;
};

struct clockjump {
    bool started;
    int64_t wall_gap; /* realtime - monotonic */
    int64_t boot_gap; /* boottime - monotonic */
};

void clockjump_now(struct clock_reading *r);

/* Records a reading; true when a gap moved by more than threshold_ns since the last reading
 * (the first reading only sets the reference). *jump_ns (may be NULL) gets the larger move. */
bool clockjump_observe(struct clockjump *cj, const struct clock_reading *r, uint64_t threshold_ns,
                       int64_t *jump_ns);

/* ---- hostport ---------------------------------------------------------------------- */
/* hostport: "host:port" of the Runtime API (or of a proxy to chain behind), parsed without DNS:
 * the address is always a literal (IPv4, [IPv6]) or "localhost" (taken as 127.0.0.1), and a
 * blocking resolve on the loop is not allowed. */

/* Fills out with the address. 0 or -EINVAL. Port 0 is accepted (a listener may ask for it). */
int hostport_parse(const char *s, struct sockaddr_storage *out);

/* The port of a parsed address. */
int hostport_port(const struct sockaddr_storage *a);

/* Whether connecting to a reaches this host's own sockets bound to port: a loopback address
 * (127.0.0.0/8, ::1) or the unspecified one (0.0.0.0, ::) on that port. */
bool hostport_is_local_port(const struct sockaddr_storage *a, int port);

/* ---- memtrim ----------------------------------------------------------------------- */
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

/* Work this large (bytes held at once) is followed by a release: MEMTRIM_MIN_BYTES, or 1/32
 * of the function's memory when that is more (4 MiB at 128 MB, 32 MiB at 1 GB: a 5 MB event,
 * held once while it is rewritten (the rewrite goes out as splices of it), is released after in
 * functions of up to 128 MB). The proxy frees its /next buffers above the same size, and asks
 * for huge pages for them (memtrim_advise_huge), which makes faulting them in again cheap. */
#define MEMTRIM_MIN_BYTES     (1024 * 1024)
#define MEMTRIM_SHARE_DIVISOR 32
size_t memtrim_threshold(int memory_mb);

void memtrim_release(void);

/* What the build releases with: "malloc_trim", "mi_collect" or "none". */
const char *memtrim_method(void);

/* Asks that the untouched buffer [p, p+n) fault in as transparent huge pages (Linux
 * MADV_HUGEPAGE on its 2 MiB-aligned part): a large event released after every invocation is
 * faulted in again each time, and in 4 KiB pages that costs more than the copy of the event.
 * Only a hint: no effect where THP is off or the range holds no aligned 2 MiB. */
void memtrim_advise_huge(void *p, size_t n);

#endif
