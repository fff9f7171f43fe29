/* SPDX-License-Identifier: Apache-2.0 */
/* The grammar tables of proxy/promote/shapes.c, checked for what the engine (analyse.c) relies
 * on and the C compiler cannot check: a new row that breaks one of these fails here, not in a
 * Lambda. Includes the .c to see its static tables. */
#include "proxy/promote/shapes.c"

#include <stdio.h>
#include <string.h>

#include "tests/lib/tap.h"

static const struct {
    const char *name;
    const struct grammar *g;
} GRAMMARS[] = {
    {"event", &GRAMMAR_EVENT},
    {"sns envelope", &GRAMMAR_SNS_ENVELOPE},
    {"eventbridge in a string", &GRAMMAR_EVENTBRIDGE_DOC},
    {"kinesis data", &GRAMMAR_KINESIS_DATA},
    {"durable payload", &GRAMMAR_DURABLE_PAYLOAD},
    {"client context", &GRAMMAR_CLIENT_CONTEXT},
};

static unsigned path_len(const struct row *r)
{
    unsigned n = 0;

    while (n < PATH_MAX_SEGS && r->path[n].kind != SEG_END)
        n++;
    return n;
}

/* The document's own rows come first (root_node() takes them by count). */
static void root_rows(struct tap *t)
{
    for (size_t i = 0; i < ARRAY_LEN(GRAMMARS); i++) {
        const struct grammar *g = GRAMMARS[i].g;
        unsigned bad = 0;
        for (unsigned r = 0; r < g->n_rows; r++)
            bad += (path_len(&g->rows[r]) == 0) != (r < g->n_root);
        ok(t, bad == 0 && g->n_rows <= 64, "%s: rows [0, n_root) are the document's own, <= 64",
           GRAMMARS[i].name);
    }
}

/* Every path ends (SEG_END) inside the row. */
static void paths_end(struct tap *t)
{
    for (size_t i = 0; i < ARRAY_LEN(GRAMMARS); i++) {
        const struct grammar *g = GRAMMARS[i].g;
        unsigned bad = 0;
        for (unsigned r = 0; r < g->n_rows; r++)
            bad += path_len(&g->rows[r]) >= PATH_MAX_SEGS;
        ok(t, bad == 0, "%s: every path ends within PATH_MAX_SEGS", GRAMMARS[i].name);
    }
}

static bool seg_ok(const struct seg *g)
{
    uint64_t want;

    switch (g->kind) {
    case SEG_KEY:
    case SEG_KEY_CI:
        want = KEY_BLOOM_OF(g->len, g->name[0], g->name[g->len - 1]);
        if (g->alt)
            want |= KEY_BLOOM_OF(g->alt_len, g->alt[0], g->alt[g->alt_len - 1]);
        return strlen(g->name) == g->len && (!g->alt || strlen(g->alt) == g->alt_len) &&
               g->bloom == want;
    case SEG_TRIO:
    case SEG_TRIO_CI:
        return g->bloom == TRIO_BLOOM;
    default:
        return true;
    }
}

/* Key segments: lengths and bloom bits match their names (the quick "no" must never say no
 * to a key that matches). */
static void segments(struct tap *t)
{
    for (size_t i = 0; i < ARRAY_LEN(GRAMMARS); i++) {
        const struct grammar *g = GRAMMARS[i].g;
        unsigned bad = 0;
        for (unsigned r = 0; r < g->n_rows; r++)
            for (unsigned s = 0; s < path_len(&g->rows[r]); s++)
                bad += !seg_ok(&g->rows[r].path[s]);
        ok(t, bad == 0, "%s: key segments' lengths and bloom bits", GRAMMARS[i].name);
    }
    ok(t,
       KEY_BLOOM("traceparent") == KEY_BLOOM_OF(11, 'T', 't') &&
           KEY_BLOOM("x-amzn-trace-id") == KEY_BLOOM_OF(15, 'X', 'D'),
       "the bloom bit folds ASCII case (case-insensitive keys pass it)");
}

/* Every carrier row of g names carrier c (with c's preference in the event). */
static bool nested_carrier(const struct grammar *g, enum promote_carrier c)
{
    unsigned pref = 0;

    for (unsigned r = 0; r < GRAMMAR_EVENT.n_rows; r++)
        if (GRAMMAR_EVENT.rows[r].kind == ROW_CARRIER && GRAMMAR_EVENT.rows[r].carrier == c)
            pref = GRAMMAR_EVENT.rows[r].pref;
    for (unsigned r = 0; r < g->n_rows; r++)
        if (g->rows[r].kind == ROW_CARRIER &&
            (g->rows[r].carrier != c || g->rows[r].pref != pref || !g->rows[r].dec))
            return false;
    return pref != 0;
}

/* Carriers: a preference in range and a decoder; one preference per carrier and one carrier
 * per preference (a preference is the carrier's slot). */
static void carriers(struct tap *t)
{
    enum promote_carrier by_pref[PREF_MAX + 1] = {CARRIER_NONE};
    unsigned bad = 0;
    unsigned n = 0;

    for (unsigned r = 0; r < GRAMMAR_EVENT.n_rows; r++) {
        const struct row *w = &GRAMMAR_EVENT.rows[r];
        if (w->kind != ROW_CARRIER)
            continue;
        n++;
        if (w->pref < 1 || w->pref > PREF_MAX || !w->dec || !w->dec->read || !w->shape) {
            bad++;
            continue;
        }
        if (by_pref[w->pref] != CARRIER_NONE && by_pref[w->pref] != w->carrier)
            bad++;
        by_pref[w->pref] = w->carrier;
        for (unsigned q = 0; q < GRAMMAR_EVENT.n_rows; q++) {
            const struct row *o = &GRAMMAR_EVENT.rows[q];
            if (o->kind == ROW_CARRIER && o->carrier == w->carrier && o->pref != w->pref)
                bad++;
        }
    }
    ok(t, n >= 10 && bad == 0, "%u carrier rows: preferences, decoders, one slot per carrier", n);
    ok(t,
       SNS_ENVELOPE_ROWS[0].kind == ROW_CARRIER && SNS_ENVELOPE_ROWS[0].carrier == CARRIER_SQS_SNS,
       "the envelope's carrier is the SNS-in-SQS carrier");
    ok(t,
       nested_carrier(&GRAMMAR_SNS_ENVELOPE, CARRIER_SQS_SNS) &&
           nested_carrier(&GRAMMAR_EVENTBRIDGE_DOC, CARRIER_SQS_EVENTBRIDGE) &&
           nested_carrier(&GRAMMAR_KINESIS_DATA, CARRIER_KINESIS) &&
           nested_carrier(&GRAMMAR_DURABLE_PAYLOAD, CARRIER_DURABLE),
       "a document in a string: its carrier rows name the carrier of the string");
}

/* Facts and targets name what they fill. */
static void facts_targets(struct tap *t)
{
    unsigned bad = 0;

    for (size_t i = 0; i < ARRAY_LEN(GRAMMARS); i++) {
        const struct grammar *g = GRAMMARS[i].g;
        for (unsigned r = 0; r < g->n_rows; r++) {
            const struct row *w = &g->rows[r];
            if (w->kind == ROW_FACT)
                bad += !w->note || w->fact >= F_COUNT;
            else if (w->kind == ROW_TARGET)
                bad += w->map < MAP_ROOT || w->map > MAP_CUSTOM;
            else
                bad += w->kind != ROW_CARRIER;
        }
    }
    ok(t, bad == 0, "fact rows have a note, target rows a map");
    ok(t, F_COUNT <= 32, "facts fit the shapes' `needs` bits");
    bad = 0;
    for (unsigned i = 0; i < N_SHAPES; i++)
        bad += !SHAPES[i].event_source && !SHAPES[i].needs;
    ok(t, bad == 0 && SHAPES[N_SHAPES - 1].trigger == TRIGGER_DIRECT,
       "every shape needs something; a plain object is the last shape");
}

int main(void)
{
    struct tap t = TAP_INIT;

    root_rows(&t);
    paths_end(&t);
    segments(&t);
    carriers(&t);
    facts_targets(&t);
    return tap_done(&t);
}
