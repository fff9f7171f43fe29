/* SPDX-License-Identifier: Apache-2.0 */
/* Strict parsing of traceparent, tracestate, baggage and X-Ray headers (lambda-apis.md §5). */
#include <string.h>

#include "extension/base/base.h"
#include "tests/lib/tap.h"

#define TP "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

static bool tp_ok(const char *s)
{
    struct trace_ctx c;
    return traceparent_parse(s, strlen(s), &c);
}

static void test_traceparent(struct tap *t)
{
    struct trace_ctx c;
    char out[TRACEPARENT_LEN + 1];

    ok(t, traceparent_parse(TP, strlen(TP), &c), "valid v00 parses");
    traceparent_format(&c, out);
    is_str(t, out, TP, "formats back identically");
    is_int(t, c.flags, 1, "flags");
    ok(t, tp_ok(" \t" TP " "), "surrounding spaces/tabs allowed");
    ok(t, !tp_ok("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01"), "upper-case hex");
    ok(t, !tp_ok("00-00000000000000000000000000000000-b7ad6b7169203331-01"), "zero trace id");
    ok(t, !tp_ok("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01"), "zero span id");
    ok(t, !tp_ok("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"), "version ff");
    ok(t, !tp_ok(TP "-extra"), "v00 with suffix");
    ok(t, !tp_ok("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0"), "short");
    ok(t, !tp_ok("00-0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331-01"), "bad separator");
    ok(t, !tp_ok("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0g"), "non-hex flags");
    ok(t, !tp_ok(TP "\r\nX-Evil: 1"), "CRLF injection");
    ok(t, !tp_ok("\"" TP "\""), "quoted");
    ok(t, tp_ok("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-whatever"),
       "future version with suffix");
    ok(t, tp_ok("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"), "future version");
    ok(t, !tp_ok("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01x"),
       "future version: flags must end or be followed by -");
    {
        const char *f = "cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03-x";
        traceparent_parse(f, strlen(f), &c);
    }
    traceparent_format(&c, out);
    is_str(t, out, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03",
           "future version re-emitted as 00");
}

static void test_tracestate(struct tap *t)
{
    char out[TRACESTATE_MAX + 1];
    char big[4096];
    size_t n = 0;

    ok(t, tracestate_sanitize("a=1, b=2", 8, out, sizeof(out)), "valid list");
    is_str(t, out, "a=1,b=2", "re-joined without OWS");
    ok(t, tracestate_sanitize("t@s=x,,c=3", 10, out, sizeof(out)), "tenant key, empty member");
    ok(t, !tracestate_sanitize("a=1,a=2", 7, out, sizeof(out)), "duplicate key");
    is_str(t, out, "", "out emptied on failure");
    ok(t, !tracestate_sanitize("A=1", 3, out, sizeof(out)), "upper-case key");
    ok(t, !tracestate_sanitize("a=\"x\"", 5, out, sizeof(out)), "quote in value refused");
    ok(t, !tracestate_sanitize("a=x\\y", 5, out, sizeof(out)), "backslash refused");
    ok(t, !tracestate_sanitize("a=1\r\nb=2", 8, out, sizeof(out)), "CRLF");
    ok(t, !tracestate_sanitize("a=x ", 4, out, sizeof(out)) || strcmp(out, "a=x") == 0,
       "trailing space is OWS");
    for (int i = 0; i < 33; i++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "%sk%d=v", i ? "," : "", i);
    ok(t, !tracestate_sanitize(big, n, out, sizeof(out)), "33 members invalid");
    n = 0;
    for (int i = 0; i < 30; i++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "%sk%02d=%030d", i ? "," : "", i, i);
    ok(t, tracestate_sanitize(big, n, out, sizeof(out)), "long list valid");
    ok(t, strlen(out) <= TRACESTATE_MAX && strlen(out) > 400, "truncated to <= 512 (%zu)",
       strlen(out));
    ok(t, out[strlen(out) - 1] != ',' && strchr(out + strlen(out) - 34, '=') != NULL,
       "truncated on a whole member");
}

static void test_baggage(struct tap *t)
{
    char out[BAGGAGE_MAX + 1];
    static char big[BAGGAGE_MAX + 64];

    ok(t, baggage_sanitize("userId=alice,isProduction=false", 31, out, sizeof(out)), "valid");
    is_str(t, out, "userId=alice,isProduction=false", "copied");
    ok(t, baggage_sanitize("k=v;prop1;p2=x", 14, out, sizeof(out)), "properties");
    ok(t, baggage_sanitize("k = %20v%22 ", 12, out, sizeof(out)), "OWS and percent-encoding");
    ok(t, !baggage_sanitize("k=a b", 5, out, sizeof(out)), "space in value");
    ok(t, !baggage_sanitize("k=\"v\"", 5, out, sizeof(out)), "quote");
    ok(t, !baggage_sanitize("k=v\\", 4, out, sizeof(out)), "backslash");
    ok(t, !baggage_sanitize("=v", 2, out, sizeof(out)), "empty key");
    ok(t, !baggage_sanitize("k=v\r\n", 5, out, sizeof(out)), "CRLF");
    memset(big, 'a', sizeof(big));
    big[0] = 'k';
    big[1] = '=';
    ok(t, !baggage_sanitize(big, BAGGAGE_MAX + 1, out, sizeof(out)), "over 8192 bytes");
    ok(t, baggage_sanitize(big, BAGGAGE_MAX, out, sizeof(out)), "exactly 8192 bytes");
}

static void test_xray(struct tap *t)
{
    const char *h = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;"
                    "Lineage=1:8a3f2b1c:0";
    const char *h2 = "Sampled=0;Parent=53995c3f42cd8ad8;Self=1-67891234-12456789abcdef012345678;"
                     "Root=1-5759e988-bd862e3fe1be46a994272793";
    struct trace_ctx c;
    char tp[TRACEPARENT_LEN + 1];
    char out[XRAY_HEADER_MAX * 2];

    ok(t, xray_parse(h, strlen(h), &c), "valid with Lineage");
    traceparent_format(&c, tp);
    is_str(t, tp, "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01", "mapped to W3C");
    ok(t, xray_parse(h2, strlen(h2), &c) && c.flags == 0, "any order, Sampled=0");
    ok(t, !xray_parse("Root=1-5759e988-bd862e3fe1be46a994272793", 40, &c), "Root only");
    ok(t, !xray_parse("Root=1-5759E988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8", 64, &c),
       "upper-case hex");
    ok(t,
       !xray_parse("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=2", 74,
                   &c),
       "Sampled=2");
    ok(t,
       !xray_parse("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8\r\n", 66, &c),
       "CRLF");
    ok(t,
       xray_parse("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?", 74,
                  &c) &&
           c.flags == 0,
       "Sampled=? means not sampled");
    traceparent_parse(TP, strlen(TP), &c);
    ok(t, xray_rewrite(h, strlen(h), &c, out, sizeof(out)), "rewrite");
    is_str(t, out,
           "Root=1-0af76519-16cd43dd8448eb211c80319c;Parent=b7ad6b7169203331;Sampled=1;"
           "Lineage=1:8a3f2b1c:0",
           "Lineage kept, Root/Parent/Sampled replaced");
    ok(t, xray_rewrite(NULL, 0, &c, out, sizeof(out)), "create");
    is_str(t, out, "Root=1-0af76519-16cd43dd8448eb211c80319c;Parent=b7ad6b7169203331;Sampled=1",
           "created header");
    ok(t, xray_rewrite("Root=x\r\nEvil=1", 15, &c, out, sizeof(out)), "hostile original");
    ok(t, strstr(out, "Evil") == NULL, "hostile fields not copied");
    ok(t, !xray_rewrite(h, strlen(h), &c, out, 40), "too small a buffer fails");
}

/* What the log says about a rejected traceparent: the reason the parser rejects it, and never
 * more of the value than a short, sanitised prefix. */
static void test_problem(struct tap *t)
{
    static const struct {
        const char *v;
        const char *why;
    } cases[] = {
        {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", NULL},
        {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", "shorter than 55"},
        {"XX-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "version is not"},
        {"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "version ff"},
        {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", "longer than 55"},
        {"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "dashes"},
        {"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "trace-id is not"},
        {"00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01", "parent-id is not"},
        {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g", "trace-flags"},
        {"00-00000000000000000000000000000000-00f067aa0ba902b7-01", "trace-id is all zeros"},
        {"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "parent-id is all zeros"},
        {"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-\"x", "not allowed after"},
    };
    char p[TRACEPARENT_PREFIX_MAX + 1];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *why = traceparent_problem(cases[i].v, strlen(cases[i].v));
        ok(t, cases[i].why ? why && strstr(why, cases[i].why) : !why, "problem: %s -> %s",
           cases[i].v, why ? why : "(valid)");
    }
    traceparent_safe_prefix("00-4bf92f3577b34da6a3ce929d0e0e4736", 35, p);
    is_str(t, p, "00-4bf92f357", "safe prefix: 12 characters");
    traceparent_safe_prefix("<\"\n\001ab", 6, p);
    is_str(t, p, "????ab", "safe prefix: anything but hex and '-' is '?'");
}

int main(void)
{
    struct tap t = TAP_INIT;
    uint8_t b[8];

    test_traceparent(&t);
    test_problem(&t);
    test_tracestate(&t);
    test_baggage(&t);
    test_xray(&t);
    ok(&t, hex_decode_lower("00ff7f80a0b0c0d0", 16, b) && b[1] == 0xff, "hex decode");
    ok(&t, !hex_decode_lower("0F", 2, b), "hex decode refuses upper case");
    return tap_done(&t);
}
