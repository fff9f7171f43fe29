/* SPDX-License-Identifier: Apache-2.0 */
/* jscan's block string scanner against an obviously-correct byte-at-a-time reference: random
 * strings over an alphabet rich in quotes, backslash runs, \u escapes and control bytes, with
 * lengths that put every construct across the 16- and 64-byte block edges and at the very end
 * of the buffer (each case is an exact-size heap copy, so ASan sees any read past the end).
 * This file runs the widest path the CPU has (AVX2 on most x86_64); test_jscan_sse2.c runs the
 * same checks on the SSE2 path, test_jscan_portable.c on the portable (SWAR) path arm64 uses. */
#include "proxy/promote/jscan.c"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/lib/tap.h"

/* The reference: returns the offset past the closing quote of the string at p[0], or 0. */
static size_t ref_scan(const uint8_t *p, size_t n, bool *esc)
{
    size_t i = 1;

    while (i < n) {
        uint8_t c = p[i];
        if (c == '"')
            return i + 1;
        if (c < 0x20)
            return 0;
        if (c != '\\') {
            i++;
            continue;
        }
        *esc = true;
        if (i + 1 >= n || !strchr("\"\\/bfnrtu", p[i + 1]) || !p[i + 1])
            return 0;
        if (p[i + 1] == 'u') {
            if (i + 6 > n)
                return 0;
            for (size_t k = i + 2; k < i + 6; k++)
                if (!is_hex(p[k]))
                    return 0;
            i += 6;
        } else {
            i += 2;
        }
    }
    return 0;
}

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static const uint8_t ALPHABET[] = {'"',  '\\', '\\', '\\', 'u', 'u', '0', '9', 'a', 'F',
                                   'g',  'n',  't',  'b',  '/', 'x', 'x', 'x', 1,   0x1f,
                                   0x20, 0x7f, 0x80, 0xff, 'r', 'f', '{', ':', ' ', 'e'};

/* One random string of n bytes starting with a quote; `plain` makes most bytes ordinary. */
static void make_case(uint64_t *s, uint8_t *p, size_t n, unsigned plain)
{
    p[0] = '"';
    for (size_t k = 1; k < n; k++) {
        if (plain && next_rand(s) % (plain * 8) != 0)
            p[k] = 'x';
        else
            p[k] = ALPHABET[next_rand(s) % sizeof(ALPHABET)];
    }
}

static bool same_as_reference(const uint8_t *src, size_t n, size_t *got, size_t *want)
{
    uint8_t *p = malloc(n);
    bool e1 = false;
    bool e2 = false;

    memcpy(p, src, n);
    *want = ref_scan(p, n, &e1);
    *got = scan_string(p, 0, n, &e2);
    free(p);
    return *got == *want && (!*want || e1 == e2);
}

static void random_strings(struct tap *t)
{
    uint64_t s = 0x9e3779b97f4a7c15ull;
    uint8_t buf[400];
    unsigned bad = 0;
    unsigned closed = 0;
    size_t got = 0;
    size_t want = 0;

    for (unsigned it = 0; it < 300000 && bad == 0; it++) {
        size_t n = 1 + next_rand(&s) % ((it & 7) == 0 ? sizeof(buf) : 90);
        make_case(&s, buf, n, (unsigned)(next_rand(&s) % 4));
        if (!same_as_reference(buf, n, &got, &want)) {
            bad++;
            printf("# case %u (n=%zu): got %zu, want %zu\n", it, n, got, want);
        }
        closed += want != 0;
    }
    ok(t, bad == 0, "300000 random strings scan exactly like the reference");
    ok(t, closed > 20000, "enough of them are well-formed (%u)", closed);
}

/* A backslash run of every length ending at every position around a block edge, followed by
 * a quote or a letter; a leading escape pair makes block scanning start at byte 1. */
static void backslash_runs(struct tap *t)
{
    uint8_t buf[200];
    unsigned bad = 0;
    size_t got = 0;
    size_t want = 0;

    for (size_t run = 1; run < 70; run++)
        for (size_t end = run + 3; end + 2 < sizeof(buf); end++) {
            memset(buf, 'x', sizeof(buf));
            memcpy(buf, "\"\\\\", 3);
            memset(buf + end - run, '\\', run);
            buf[end] = end % 2 ? '"' : 'x';
            buf[sizeof(buf) - 1] = '"';
            for (size_t n = end + 1; n <= sizeof(buf); n += 61)
                bad += !same_as_reference(buf, n, &got, &want);
        }
    ok(t, bad == 0, "backslash runs across block edges end the string where they should");
}

static int scan_doc(const char *doc)
{
    struct jscan_frame stack[8];
    struct jscan_hooks hooks;
    struct jscan s;
    const char *why = NULL;

    memset(&hooks, 0, sizeof(hooks));
    memset(&s, 0, sizeof(s));
    s.p = doc;
    s.n = strlen(doc);
    s.h = &hooks;
    s.max_depth = ARRAY_LEN(stack);
    s.stack = stack;
    return jscan_run(&s, (struct jnode){0}, &why);
}

static void documents(struct tap *t)
{
    ok(t, scan_doc("{\"a\":\"x\\\\\\\"y\",\"b\":[\"\\u00e9\\n\"]}") == 0, "escapes accepted");
    ok(t, scan_doc("[\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789\\u12\"]") < 0,
       "short \\u escape just before the quote rejected");
    ok(t, scan_doc("[\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab\\q\"]") < 0,
       "bad escape across a block edge rejected");
    ok(t, scan_doc("[\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abc\t\"]") < 0,
       "raw tab at a block edge rejected");
    ok(t, scan_doc("[\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789\\\\\"]") == 0,
       "escaped backslash before the closing quote accepted");
    ok(t, scan_doc("[\"0123456789abcdef0123456789abcdef0123456789abcdef012345678\\\"]") < 0,
       "escaped quote at the end leaves the string open");
}

struct seen_keys {
    char names[16][16];
    unsigned n;
};

static void record_key(struct jscan *s, struct jscan_frame *parent, const char *raw, size_t n,
                       bool esc, struct jnode *child)
{
    struct seen_keys *k = s->user;

    (void)parent, (void)esc;
    memset(child, 0, sizeof(*child));
    if (k->n < ARRAY_LEN(k->names) && n < sizeof(k->names[0]))
        snprintf(k->names[k->n++], sizeof(k->names[0]), "%.*s", (int)n, raw);
}

/* The keys the key hook was called for, comma-separated, when the root node wants `keys`. */
static void keys_passed(unsigned flags, uint64_t keys, char *out, size_t cap)
{
    static const char doc[] = "{\"alpha\":1,\"beta\":2,\"al\\u0070ha\":3,\"\":4,\"gamma\":5}";
    struct jscan_frame stack[4];
    struct jscan_hooks hooks = {record_key, NULL, NULL, NULL, flags};
    struct seen_keys k = {.n = 0};
    struct jscan s = {.p = doc, .n = sizeof(doc) - 1, .h = &hooks, .user = &k};
    struct jnode root = {.keys = keys, .live = true};
    const char *why = NULL;
    size_t o = 0;

    s.max_depth = ARRAY_LEN(stack);
    s.stack = stack;
    out[0] = '\0';
    if (jscan_run(&s, root, &why) < 0)
        return;
    for (unsigned i = 0; i < k.n; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? "," : "", k.names[i]);
}

/* JSCAN_F_KEY_BLOOM: a key whose bloom bit its object does not want never reaches the hook;
 * escaped keys always do (their bloom is of the unescaped text); without the flag every key. */
static void key_filter(struct tap *t)
{
    char got[128];

    ok(t, KEY_BLOOM("alpha") != KEY_BLOOM("beta") && KEY_BLOOM("alpha") != KEY_BLOOM("gamma"),
       "the test's keys have distinct bloom bits");
    keys_passed(JSCAN_F_KEY_BLOOM, KEY_BLOOM("alpha"), got, sizeof(got));
    ok(t, strcmp(got, "alpha,al\\u0070ha") == 0, "filter: the wanted key and the escaped one (%s)",
       got);
    keys_passed(JSCAN_F_KEY_BLOOM, ~0ull, got, sizeof(got));
    ok(t, strcmp(got, "alpha,beta,al\\u0070ha,gamma") == 0,
       "filter: every non-empty key when all bits are wanted (%s)", got);
    keys_passed(0, 0, got, sizeof(got));
    ok(t, strcmp(got, "alpha,beta,al\\u0070ha,,gamma") == 0, "no filter: every key (%s)", got);
}

/* json_unescape's two paths agree: with room for the whole input (unescape_roomy, eight bytes
 * at a time) and with a buffer of exactly the output's size (the bounded loop). */
static void unescape_paths(struct tap *t)
{
    static const char *const cases[] = {
        "plain text longer than eight bytes, no escapes at all",
        "a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t",
        "caf\\u00e9 \\u20ac \\ud83d\\ude00 \\ud800 lone, 0123456789\\\"",
        "{\\\"k\\\":\\\"v\\\",\\\"n\\\":[1,2,3],\\\"x\\\":\\\"01234567\\\"}",
        "bad \\q escape",
        "cut \\u12",
        "ends in a backslash \\",
    };
    char a[256], b[256];
    unsigned bad = 0;

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        size_t n = strlen(cases[i]);
        long la = json_unescape(cases[i], n, a, sizeof(a));
        long lb = la < 0 ? json_unescape(cases[i], n, b, n)
                         : json_unescape(cases[i], n, b, (size_t)la + 1);
        bad += la != lb || (la >= 0 && memcmp(a, b, (size_t)la + 1) != 0);
        if (la >= 0)
            bad += json_unescape(cases[i], n, b, (size_t)la) != -1; /* one byte short */
    }
    ok(t, bad == 0, "json_unescape: the roomy and the bounded path agree, bounds kept");
    ok(t,
       json_unescape("\\ud83d\\ude00", 12, a, sizeof(a)) == 4 &&
           memcmp(a, "\xf0\x9f\x98\x80", 4) == 0,
       "json_unescape: a surrogate pair is one UTF-8 character");
}

int main(void)
{
    struct tap t = TAP_INIT;

    printf("# block path: %s\n", JSCAN_SSE2 ? "SSE2" : "portable SWAR");
    random_strings(&t);
    backslash_runs(&t);
    documents(&t);
    key_filter(&t);
    unescape_paths(&t);
    return tap_done(&t);
}
