/* SPDX-License-Identifier: Apache-2.0 */
/* Property test of the rewriter (fixed seed, thousands of events):
 *  - random JSON objects with carriers and holders in every state: the parsed output equals the
 *    parsed input plus exactly the intended changes (cJSON trees, computed independently here),
 *    and every untouched top-level member's raw bytes appear in the output, in order;
 *  - byte-mutated events: output == input whenever the rewriter declines, and the output parses
 *    with cJSON whenever the input does. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/promote/promote.h"
#include "tests/lib/tap.h"

#define TPA   "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
#define WROOT "00-0123456789abcdef0123456789abcdef-1111111111111111-01"
#define SPAN  "1111111111111111"

struct gen {
    uint64_t s;
    char *p;
    size_t n, cap;
};

static uint32_t rnd(struct gen *g)
{
    g->s ^= g->s << 13;
    g->s ^= g->s >> 7;
    g->s ^= g->s << 17;
    return (uint32_t)(g->s >> 11);
}

static void put(struct gen *g, const char *s, size_t n)
{
    if (g->n + n + 1 > g->cap) {
        g->cap = (g->n + n + 1) * 2;
        g->p = realloc(g->p, g->cap);
    }
    memcpy(g->p + g->n, s, n);
    g->n += n;
    g->p[g->n] = '\0';
}

static void puts_(struct gen *g, const char *s)
{
    put(g, s, strlen(s));
}

static void ws(struct gen *g)
{
    static const char *const w[] = {"", "", "", " ", "\n  ", "\t", "\r\n"};
    puts_(g, w[rnd(g) % 7]);
}

static void gen_string(struct gen *g)
{
    static const char *const parts[] = {
        "a",        "hello", "\\n", "\\\"", "\\\\",        "\\u00e9", "\\ud83d\\ude00", "\xc3\xa9",
        "\xff\xfe", "/",     "\\/", " ",    "traceparent", TPA,       "{\\\"x\\\":1}"};
    int k = (int)(rnd(g) % 5);
    puts_(g, "\"");
    for (int i = 0; i < k; i++)
        puts_(g, parts[rnd(g) % (sizeof(parts) / sizeof(parts[0]))]);
    puts_(g, "\"");
}

static void gen_value(struct gen *g, int depth);

static void gen_container(struct gen *g, int depth, bool obj)
{
    static const char *const keys[] = {"a", "b", "c", "d", "e", "f", "g"};
    int k = (int)(rnd(g) % 4);
    puts_(g, obj ? "{" : "[");
    ws(g);
    for (int i = 0; i < k; i++) {
        if (i) {
            puts_(g, ",");
            ws(g);
        }
        if (obj) {
            puts_(g, "\"");
            puts_(g, keys[i]); /* distinct keys: trees compare unambiguously */
            puts_(g, "\"");
            ws(g);
            puts_(g, ":");
            ws(g);
        }
        gen_value(g, depth + 1);
        ws(g);
    }
    puts_(g, obj ? "}" : "]");
}

static void gen_value(struct gen *g, int depth)
{
    static const char *const nums[] = {
        "0",     "-0",    "12345678901234567890123", "1.5e+10", "0.000001",
        "1E300", "-3.25", "9007199254740993"};
    static const char *const lits[] = {"true", "false", "null"};
    uint32_t r = rnd(g) % (depth > 3 ? 3 : 5);

    if (r == 0)
        gen_string(g);
    else if (r == 1)
        puts_(g, nums[rnd(g) % 8]);
    else if (r == 2)
        puts_(g, lits[rnd(g) % 3]);
    else
        gen_container(g, depth, r == 3);
}

static const char *const TP_VALUES[] = {
    "\"" TPA "\"",
    "\"00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01\"",
    "\"junk\"",
    "\"\\u00300-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\"",
    "1",
    "null",
    "\"" TPA "\\r\\nX: y\"",
    "\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00\"",
};

static void gen_headers(struct gen *g)
{
    static const char *const hk[] = {"traceparent", "Traceparent",    "TRACEPARENT",
                                     "tracestate",  "TraceState",     "baggage",
                                     "accept",      "x-amzn-trace-id"};
    static const char *const ts[] = {"\"a=1,b=2\"", "\"A=1\"", "\"x=\\\"q\\\"\"", "\"k=v\""};
    unsigned used = 0;
    int k = (int)(rnd(g) % 5);

    puts_(g, "{");
    for (int i = 0, w = 0; i < k; i++) {
        unsigned j = rnd(g) % 8;
        if (used & (1u << j))
            continue;
        used |= 1u << j;
        if (w++)
            puts_(g, ",");
        ws(g);
        puts_(g, "\"");
        puts_(g, hk[j]);
        puts_(g, "\":");
        ws(g);
        if (j < 3)
            puts_(g, TP_VALUES[rnd(g) % 8]);
        else if (j < 5)
            puts_(g, ts[rnd(g) % 4]);
        else
            gen_string(g);
        ws(g);
    }
    puts_(g, "}");
}

/* A root object whose members come from a pool (each at most once). */
static void gen_event(struct gen *g)
{
    static const char *const rk[] = {"x",      "__traceparent__", "y", "headers", "__tracestate__",
                                     "detail", "__baggage__",     "z"};
    unsigned order[8];
    int k = (int)(rnd(g) % 9);

    for (unsigned i = 0; i < 8; i++)
        order[i] = i;
    for (unsigned i = 7; i > 0; i--) {
        unsigned j = rnd(g) % (i + 1), tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    g->n = 0;
    ws(g);
    puts_(g, "{");
    for (int i = 0; i < k; i++) {
        unsigned j = order[i];
        if (i)
            puts_(g, ",");
        ws(g);
        puts_(g, "\"");
        puts_(g, rk[j]);
        puts_(g, "\"");
        ws(g);
        puts_(g, ":");
        ws(g);
        if (j == 1)
            puts_(g, TP_VALUES[rnd(g) % 8]);
        else if (j == 3) {
            uint32_t h = rnd(g) % 5;
            if (h == 0)
                puts_(g, "null");
            else if (h == 1)
                puts_(g, "\"str\"");
            else
                gen_headers(g);
        } else if (j == 5) {
            puts_(g, rnd(g) % 2 ? "{\"__traceparent__\":\"" TPA "\", \"k\": [1,2]}"
                                : "{\"k\":1 ,\"__baggage__\":\"a=1\"}");
        } else if (j == 4 || j == 6) {
            gen_string(g);
        } else {
            gen_value(g, 1);
        }
        ws(g);
    }
    puts_(g, "}");
    ws(g);
}

/* ---- the oracle ---- */

static bool ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
        if (x != *b)
            return false;
    }
    return !*a && !*b;
}

static void delete_ci(cJSON *o, const char *name)
{
    cJSON *it = o->child;
    while (it) {
        cJSON *next = it->next;
        if (ieq(it->string, name))
            cJSON_Delete(cJSON_DetachItemViaPointer(o, it));
        it = next;
    }
}

static void strip_reserved(cJSON *o)
{
    cJSON_DeleteItemFromObjectCaseSensitive(o, "__traceparent__");
    cJSON_DeleteItemFromObjectCaseSensitive(o, "__tracestate__");
    cJSON_DeleteItemFromObjectCaseSensitive(o, "__baggage__");
}

/* The intended change of a headers object, per promote_apply's documented rules. */
static void expect_headers(cJSON *h, const struct trace_ctx *w)
{
    cJSON *tp = cJSON_GetObjectItemCaseSensitive(h, "traceparent");
    struct trace_ctx k = *w;
    char out[TRACEPARENT_LEN + 1];
    char ts[TRACESTATE_MAX + 1] = "";
    bool keep = false;

    for (cJSON *it = h->child; it; it = it->next) {
        if (strcmp(it->string, "traceparent") == 0 && cJSON_IsString(it) &&
            traceparent_parse(it->valuestring, strlen(it->valuestring), &k)) {
            keep = true;
            break;
        }
    }
    (void)tp;
    if (keep) {
        memcpy(k.span_id, w->span_id, 8);
        for (cJSON *it = h->child; it; it = it->next)
            if (ieq(it->string, "tracestate") && cJSON_IsString(it) &&
                tracestate_sanitize(it->valuestring, strlen(it->valuestring), ts, sizeof(ts)))
                break;
    }
    traceparent_format(keep ? &k : w, out);
    delete_ci(h, "traceparent");
    cJSON_AddStringToObject(h, "traceparent", out);
    if (!keep || ts[0])
        delete_ci(h, "tracestate");
    if (ts[0])
        cJSON_AddStringToObject(h, "tracestate", ts);
}

static cJSON *expected_tree(const char *in, size_t n, const struct trace_ctx *w)
{
    cJSON *root = cJSON_ParseWithLength(in, n);
    cJSON *h;
    cJSON *d;
    char out[TRACEPARENT_LEN + 1];

    strip_reserved(root);
    d = cJSON_GetObjectItemCaseSensitive(root, "detail");
    if (cJSON_IsObject(d))
        strip_reserved(d);
    h = cJSON_GetObjectItemCaseSensitive(root, "headers");
    traceparent_format(w, out);
    if (!h) {
        h = cJSON_AddObjectToObject(root, "headers");
        cJSON_AddStringToObject(h, "traceparent", out);
    } else if (cJSON_IsNull(h)) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "traceparent", out);
        cJSON_ReplaceItemInObjectCaseSensitive(root, "headers", o);
    } else if (cJSON_IsObject(h)) {
        expect_headers(h, w);
    }
    return root;
}

/* ---- an independent raw splitter for the byte check (input known to be valid JSON) ---- */

static size_t sk_ws(const char *p, size_t i)
{
    while (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r')
        i++;
    return i;
}

static size_t sk_value(const char *p, size_t i)
{
    i = sk_ws(p, i);
    if (p[i] == '"') {
        for (i++; p[i] != '"'; i++)
            if (p[i] == '\\')
                i++;
        return i + 1;
    }
    if (p[i] == '{' || p[i] == '[') {
        char close = p[i] == '{' ? '}' : ']';
        i = sk_ws(p, i + 1);
        while (p[i] != close) {
            if (close == '}') {
                i = sk_value(p, i);
                i = sk_ws(p, i) + 1; /* ':' */
            }
            i = sk_ws(p, sk_value(p, i));
            if (p[i] == ',')
                i = sk_ws(p, i + 1);
        }
        return i + 1;
    }
    while (p[i] && !strchr(",]} \t\r\n", p[i]))
        i++;
    return i;
}

/* Every root member except reserved ones and headers appears verbatim in out, in order. */
static bool members_preserved(const char *in, const char *out)
{
    size_t i = sk_ws(in, 0) + 1;
    const char *pos = out;

    i = sk_ws(in, i);
    while (in[i] != '}') {
        size_t k = i;
        size_t end;
        char key[64];
        size_t kl;
        i = sk_value(in, i);
        kl = i - k;
        snprintf(key, sizeof(key), "%.*s", (int)(kl < 60 ? kl : 60), in + k);
        end = sk_value(in, sk_ws(in, i) + 1);
        if (!strstr(key, "__") && strcmp(key, "\"headers\"") != 0 &&
            strcmp(key, "\"detail\"") != 0) {
            char *span = strndup(in + k, end - k);
            const char *hit = strstr(pos, span);
            free(span);
            if (!hit)
                return false;
            pos = hit + (end - k);
        }
        i = sk_ws(in, end);
        if (in[i] == ',')
            i = sk_ws(in, i + 1);
    }
    return true;
}

/* ---- driving ---- */

struct counts {
    int tree_fail, bytes_fail, parse_fail, unchanged_fail, checked, mutated_valid;
    int splice_fail, spliced;
};

/* The same apply with want_splices must describe the same body: the input with its splices
 * applied is byte for byte what the copying apply rendered (out/on). */
static void check_splices(const struct promote_conf *conf, struct promote_input pi,
                          const struct promote_analysis *a, const struct trace_ctx_full *w,
                          const char *out, size_t on, struct counts *c)
{
    struct promote_output o;
    struct buf b;
    size_t pos = 0;
    int rc;

    pi.want_splices = true;
    rc = promote_apply(conf, &pi, a, w, &o);
    buf_init(&b, 1u << 24);
    for (unsigned i = 0; rc == 0 && i < o.nsplices; i++) {
        const struct promote_splice *sp = &o.splices[i];
        rc = buf_append(&b, pi.body + pos, sp->off - pos);
        if (rc == 0 && sp->ins_len)
            rc = buf_append(&b, o.ins.data + sp->ins_off, sp->ins_len);
        pos = sp->off + sp->del;
    }
    if (rc == 0 && o.body_changed && o.nsplices)
        rc = buf_append(&b, pi.body + pos, pi.body_len - pos);
    else if (rc == 0)
        rc = buf_append(&b, o.body_changed ? o.body.data : pi.body,
                        o.body_changed ? o.body.len : pi.body_len);
    c->spliced += o.nsplices > 0;
    if (rc < 0 || b.len != on || memcmp(b.data, out, on) != 0 ||
        promote_output_body_len(&o, pi.body_len) != on)
        c->splice_fail++;
    buf_free(&b);
    promote_output_free(&o);
}

static void run_one(const char *in, size_t n, bool mutated, struct counts *c)
{
    struct promote_conf conf = {.targets = PROMOTE_TARGET_HEADERS,
                                .batch_parent = PROMOTE_BATCH_FIRST,
                                .max_event_bytes = 1u << 20};
    struct promote_input pi = {in, n, NULL, 0, NULL, 0, false};
    static struct promote_analysis a;
    struct promote_output o;
    struct trace_ctx_full w;
    cJSON *pin = cJSON_ParseWithLength(in, n);
    const char *out;
    size_t on;

    memset(&w, 0, sizeof(w));
    promote_analyse(&conf, &pi, &a);
    if (a.found) {
        w.ctx = a.parent.ctx;
        hex_decode_lower(SPAN, 16, w.ctx.span_id);
    } else {
        traceparent_parse(WROOT, TRACEPARENT_LEN, &w.ctx);
    }
    if (promote_apply(&conf, &pi, &a, &w, &o) < 0)
        c->unchanged_fail += o.body_changed;
    out = o.body_changed ? o.body.data : in;
    on = o.body_changed ? o.body.len : n;
    if (!a.json_object && o.body_changed)
        c->unchanged_fail++;
    check_splices(&conf, pi, &a, &w, out, on, c);
    if (pin) {
        cJSON *pout = cJSON_ParseWithLength(out, on);
        if (!pout)
            c->parse_fail++;
        if (pout && !mutated && a.json_object) {
            cJSON *want = expected_tree(in, n, &w.ctx);
            c->checked++;
            if (!cJSON_Compare(want, pout, 1)) {
                if (c->tree_fail++ < 3) {
                    char *ws_ = cJSON_PrintUnformatted(want);
                    printf("# tree mismatch\n#  in:   %s\n#  out:  %.*s\n#  want: %s\n", in,
                           (int)on, out, ws_);
                    free(ws_);
                }
            }
            if (!members_preserved(in, out) && c->bytes_fail++ < 3)
                printf("# bytes not preserved\n#  in:  %s\n#  out: %.*s\n", in, (int)on, out);
            cJSON_Delete(want);
        }
        if (mutated && a.json_object)
            c->mutated_valid++;
        cJSON_Delete(pout);
    }
    cJSON_Delete(pin);
    promote_output_free(&o);
    promote_analysis_free(&a);
}

static void mutate(struct gen *g, char *buf, size_t *n)
{
    static const char set[] = "{}[]\",:\\0 a\x80";
    int k = 1 + (int)(rnd(g) % 3);
    for (int i = 0; i<k && * n> 1; i++) {
        size_t at = rnd(g) % *n;
        uint32_t op = rnd(g) % 3;
        if (op == 0) {
            buf[at] = set[rnd(g) % (sizeof(set) - 1)];
        } else if (op == 1) {
            memmove(buf + at, buf + at + 1, *n - at - 1);
            (*n)--;
        } else {
            memmove(buf + at + 1, buf + at, *n - at);
            buf[at] = set[rnd(g) % (sizeof(set) - 1)];
            (*n)++;
        }
    }
}

int main(void)
{
    struct tap t = TAP_INIT;
    struct gen g = {0x9e3779b97f4a7c15ull, NULL, 0, 0};
    struct counts c;
    const int iters = 4000;

    memset(&c, 0, sizeof(c));
    for (int i = 0; i < iters; i++) {
        gen_event(&g);
        run_one(g.p, g.n, false, &c);
    }
    is_int(&t, c.checked, iters, "every generated event is a valid object (checked %d)", c.checked);
    is_int(&t, c.tree_fail, 0, "parsed output == parsed input + intended changes");
    is_int(&t, c.bytes_fail, 0, "untouched members keep their exact bytes, in order");
    is_int(&t, c.splice_fail, 0, "spliced output (want_splices) is byte for byte the rendered one");
    ok(&t, c.spliced > 0, "and most edits come as splices (%d events)", c.spliced);
    is_int(&t, c.parse_fail, 0, "output parses whenever input parses");
    for (int i = 0; i < iters; i++) {
        char *buf = malloc(4096);
        size_t n;
        gen_event(&g);
        n = g.n < 4000 ? g.n : 4000;
        memcpy(buf, g.p, n);
        mutate(&g, buf, &n);
        run_one(buf, n, true, &c);
        free(buf);
    }
    is_int(&t, c.parse_fail, 0, "mutated: output parses whenever input parses");
    is_int(&t, c.unchanged_fail, 0, "mutated: declined events are passed byte for byte");
    ok(&t, c.mutated_valid > 100, "mutated: some mutants stay valid and get rewritten (%d)",
       c.mutated_valid);
    free(g.p);
    return tap_done(&t);
}
