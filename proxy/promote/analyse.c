/* SPDX-License-Identifier: Apache-2.0 */
/* promote: the analysis half. One jscan pass over the event follows the key paths of the
 * grammar (shapes.c) down to the few values that can carry or receive context: each node
 * carries the set of rows whose path still matches. Carrier values are validated at once and
 * kept by preference, facts are noted for the invocation span, and the byte ranges of the
 * targets are remembered for promote_apply(). */
#include "proxy/promote/promote.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/promote/internal.h"

/* ---- keys ---- */

/* Case-insensitive ASCII compare of a raw key against a lower-case name of length len. */
static bool key_ieq(const char *k, size_t n, const char *name, size_t len)
{
    if (n != len)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = k[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        if (c != name[i])
            return false;
    }
    return true;
}

static uint64_t load64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static uint32_t load32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

/* a[0, n) == b[0, n), for the short strings keys are: two overlapping loads per side, each
 * within [0, n) (a call to memcmp cost more than the whole compare). */
static inline bool short_eq(const char *a, const char *b, size_t n)
{
    if (n >= 8 && n <= 16)
        return ((load64(a) ^ load64(b)) | (load64(a + n - 8) ^ load64(b + n - 8))) == 0;
    if (n >= 4 && n < 8)
        return ((load32(a) ^ load32(b)) | (load32(a + n - 4) ^ load32(b + n - 4))) == 0;
    if (n > 16)
        return memcmp(a, b, n) == 0;
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

static bool key_eq(const char *k, size_t n, const char *name, size_t len)
{
    return n == len && short_eq(k, name, n);
}

/* Does key k match a SEG_KEY segment? */
static inline bool key_match(const struct seg *g, const char *k, size_t n)
{
    return (n == g->len && short_eq(k, g->name, n)) ||
           (g->alt && n == g->alt_len && short_eq(k, g->alt, n));
}

struct name3 {
    const char *s[3];
    size_t len[3];
};

static const struct name3 TRIO_NAMES = {{"traceparent", "tracestate", "baggage"}, {11, 10, 7}};
static const struct name3 RESERVED_NAMES = {{"__traceparent__", "__tracestate__", "__baggage__"},
                                            {15, 14, 11}};

/* Index of k among three names (0..2), or -1. */
static int one_of(const char *k, size_t n, const struct name3 *names, bool ci)
{
    for (int i = 0; i < 3; i++)
        if (ci ? key_ieq(k, n, names->s[i], names->len[i])
               : key_eq(k, n, names->s[i], names->len[i]))
            return i;
    return -1;
}

/* Does key k match segment g? -1: no; 0: yes; 1 + i: yes, naming trace value i (tp/ts/bg). */
static int seg_match(const struct seg *g, const char *k, size_t n)
{
    int i;

    switch ((enum seg_kind)g->kind) {
    case SEG_KEY:
        return key_match(g, k, n) ? 0 : -1;
    case SEG_KEY_CI:
        return key_ieq(k, n, g->name, g->len) ? 0 : -1;
    case SEG_TRIO:
    case SEG_TRIO_CI:
        i = one_of(k, n, &TRIO_NAMES, g->kind == SEG_TRIO_CI);
        return i < 0 ? -1 : 1 + i;
    case SEG_RESERVED:
        i = one_of(k, n, &RESERVED_NAMES, false);
        return i < 0 ? -1 : 1 + i;
    case SEG_ANY:
    case SEG_RECORD_ANY:
        return 0;
    default:
        return -1;
    }
}

/* ---- maps and members (the edit targets) ---- */

static void open_map(struct jscan *s, struct jscan_frame *f, enum map_kind kind)
{
    struct actx *c = s->user;
    struct mapset *ms = c->ms;
    struct map *m;

    if (ms->n_maps == PLAN_MAX_MAPS) {
        s->abort = "too many header objects to edit safely";
        return;
    }
    m = &ms->maps[ms->n_maps];
    memset(m, 0, sizeof(*m));
    m->kind = kind;
    m->open = f->off;
    f->map = (int8_t)ms->n_maps++;
    for (unsigned i = 0; i < N_MEMBER_RULES; i++) /* its members' keys reach on_key too */
        if (MEMBER_RULES[i].map == kind)
            f->node.keys |= MEMBER_RULES[i].key.bloom;
}

static void close_map(struct actx *c, const struct jscan_frame *f, size_t end)
{
    struct map *m;

    if (f->map < 0)
        return;
    m = &c->ms->maps[f->map];
    m->close = end;
    m->n_members = f->count;
    m->closed = true;
}

static void add_member(struct jscan *s, struct jscan_frame *f, enum which w, bool exact,
                       size_t key_off)
{
    struct actx *c = s->user;
    struct mapset *ms = c->ms;
    struct member *m;

    if (ms->n_mem == PLAN_MAX_MEMBERS) {
        s->abort = "too many trace members to edit safely";
        return;
    }
    m = &ms->mem[ms->n_mem];
    memset(m, 0, sizeof(*m));
    m->map = (unsigned)f->map;
    m->idx = f->count - 1;
    m->which = w;
    m->exact_lower = exact;
    m->key_off = key_off;
    f->member = (int8_t)ms->n_mem++; /* its value comes next */
}

/* Adds the key as a member when its map has a rule for it; true if it did. */
static bool note_member(struct jscan *s, struct jscan_frame *f, const char *k, size_t n,
                        size_t key_off)
{
    struct actx *c = s->user;
    enum map_kind kind = c->ms->maps[f->map].kind;

    for (unsigned i = 0; i < N_MEMBER_RULES; i++) {
        const struct member_rule *r = &MEMBER_RULES[i];
        int hit = r->map == kind ? seg_match(&r->key, k, n) : -1;
        bool exact = true;
        if (hit < 0)
            continue;
        if (r->key.kind == SEG_TRIO_CI)
            exact = one_of(k, n, &TRIO_NAMES, false) == hit - 1;
        add_member(s, f, (enum which)(r->role + (hit > 0 ? hit - 1 : 0)), exact, key_off);
        return true;
    }
    return false;
}

static struct member *pending_member(struct actx *c, struct jscan_frame *parent)
{
    struct member *m;

    if (!parent || parent->member < 0)
        return NULL;
    m = &c->ms->mem[parent->member];
    parent->member = -1;
    return m;
}

/* ---- following the paths ---- */

static const struct seg *row_seg(const struct actx *c, unsigned r, unsigned seg)
{
    return &c->g->rows[r].path[seg];
}

static inline bool ends_after(const struct actx *c, unsigned r, unsigned seg)
{
    return seg + 1 >= PATH_MAX_SEGS || row_seg(c, r, seg + 1)->kind == SEG_END;
}

/* Row r matched at segment seg of its path: it ends at the child, or goes on below it. */
static inline void add_row(const struct actx *c, struct jnode *child, unsigned r, unsigned seg)
{
    if (ends_after(c, r, seg)) {
        child->done |= 1ull << r;
    } else {
        child->rows |= 1ull << r;
        child->keys |= row_seg(c, r, seg + 1)->bloom;
    }
}

static uint64_t low_bits(unsigned n)
{
    return n >= 64 ? ~0ull : (1ull << n) - 1;
}

/* The document: its own rows end here, every other path starts below it. */
static struct jnode root_node(const struct actx *c)
{
    struct jnode n = {0};

    n.done = low_bits(c->g->n_root);
    n.rows = low_bits(c->g->n_rows) & ~n.done;
    n.keys = ~0ull;
    n.live = true;
    return n;
}

static void child_of(const struct jnode *parent, struct jnode *n)
{
    n->rows = 0;
    n->done = 0;
    n->keys = 0;
    n->seg = (uint8_t)(parent->seg + 1);
    n->which = parent->which;
    n->live = false;
    n->in_record = parent->in_record;
    n->record = false;
}

/* Matches key k against the rows of f that go on below it, one by one. */
static void match_rows(const struct actx *c, const struct jnode *f, const char *k, size_t n,
                       uint64_t bloom, struct jnode *child)
{
    for (uint64_t m = f->rows; m; m &= m - 1) {
        unsigned r = (unsigned)__builtin_ctzll(m);
        const struct seg *g = row_seg(c, r, f->seg);
        int hit;
        if (!(g->bloom & bloom))
            continue;
        hit = g->kind == SEG_KEY ? (key_match(g, k, n) ? 0 : -1) : seg_match(g, k, n);
        if (hit < 0)
            continue;
        add_row(c, child, r, f->seg);
        if (hit > 0)
            child->which = (uint8_t)(W_TP + hit - 1);
        if (g->kind == SEG_RECORD_ANY)
            child->record = child->in_record = true;
    }
}

/* Adds one key name of row r to the table (merged with the same name). false when full. */
static bool keytab_put(struct keytab *t, const struct actx *c, unsigned r, const char *name,
                       size_t len, bool ci, unsigned which)
{
    unsigned h = KEY_HASH(len, name[0], name[len - 1]);

    for (unsigned j = 0; j < KEYTAB_SIZE; j++) {
        unsigned b = (h + j) & (KEYTAB_SIZE - 1);
        struct keytab_entry *e = &t->e[b];
        if (!(t->used & (1ull << b))) {
            t->used |= 1ull << b;
            e->below = e->done = e->keys = 0;
            e->name = name;
            e->len = (uint8_t)len;
            e->which = (uint8_t)which;
            e->ci = ci;
        } else if (e->len != len || e->ci != ci || e->which != which ||
                   !short_eq(e->name, name, len)) {
            continue;
        }
        if (ends_after(c, r, t->seg)) {
            e->done |= 1ull << r;
        } else {
            e->below |= 1ull << r;
            e->keys |= row_seg(c, r, t->seg + 1)->bloom;
        }
        return true;
    }
    return false;
}

static const struct name3 *seg_names(enum seg_kind k)
{
    return k == SEG_RESERVED ? &RESERVED_NAMES : &TRIO_NAMES;
}

/* Builds the table of the keys f's children may have. */
static void keytab_build(struct keytab *t, const struct actx *c, const struct jnode *f)
{
    t->g = c->g;
    t->rows = f->rows;
    t->seg = f->seg;
    t->used = 0;
    t->built = true;
    t->ok = true;
    for (uint64_t m = f->rows; m && t->ok; m &= m - 1) {
        unsigned r = (unsigned)__builtin_ctzll(m);
        const struct seg *g = row_seg(c, r, f->seg);
        switch ((enum seg_kind)g->kind) {
        case SEG_KEY:
            t->ok = keytab_put(t, c, r, g->name, g->len, false, KEYTAB_INHERIT) &&
                    (!g->alt || keytab_put(t, c, r, g->alt, g->alt_len, false, KEYTAB_INHERIT));
            break;
        case SEG_KEY_CI:
            t->ok = keytab_put(t, c, r, g->name, g->len, true, KEYTAB_INHERIT);
            break;
        case SEG_TRIO:
        case SEG_TRIO_CI:
        case SEG_RESERVED:
            for (unsigned i = 0; i < 3 && t->ok; i++)
                t->ok = keytab_put(t, c, r, seg_names((enum seg_kind)g->kind)->s[i],
                                   seg_names((enum seg_kind)g->kind)->len[i],
                                   g->kind == SEG_TRIO_CI, W_TP + i);
            break;
        case SEG_ANY:
        case SEG_RECORD_ANY:
            t->ok = false; /* every key: the rows one by one */
            break;
        default:
            break; /* array elements: on_elem */
        }
    }
}

/* Looks key k up in the table: every entry it matches adds its rows. */
static void keytab_match(const struct keytab *t, const char *k, size_t n, struct jnode *child)
{
    unsigned h = KEY_HASH(n, k[0], k[n - 1]);

    for (unsigned j = 0; j < KEYTAB_SIZE; j++) {
        unsigned b = (h + j) & (KEYTAB_SIZE - 1);
        const struct keytab_entry *e = &t->e[b];
        if (!(t->used & (1ull << b)))
            return;
        if (e->len != n || !(e->ci ? key_ieq(k, n, e->name, e->len) : short_eq(k, e->name, n)))
            continue;
        child->rows |= e->below;
        child->done |= e->done;
        child->keys |= e->keys;
        if (e->which != KEYTAB_INHERIT)
            child->which = e->which;
    }
}

/* The rows key k takes below f: one by one in the first object of its kind, by table in the
 * ones after it (see struct keytab). */
static void match_key(struct actx *c, const struct jscan_frame *f, const char *k, size_t n,
                      uint64_t bloom, struct jnode *child)
{
    struct keytab *t = c->pl && f->node.seg < PATH_MAX_SEGS ? &c->pl->keytabs[f->node.seg] : NULL;
    bool same = t && t->g == c->g && t->rows == f->node.rows && t->seg == f->node.seg;

    if (t && !same) { /* a new kind of object here: remember it */
        t->g = c->g;
        t->rows = f->node.rows;
        t->seg = f->node.seg;
        t->first_off = f->off;
        t->built = false;
    } else if (t && !t->built && f->off != t->first_off) { /* its sibling */
        keytab_build(t, c, &f->node);
    }
    if (t && t->built && t->ok)
        keytab_match(t, k, n, child);
    else
        match_rows(c, &f->node, k, n, bloom, child);
}

static void on_key(struct jscan *s, struct jscan_frame *f, const char *raw, size_t n, bool esc,
                   struct jnode *child)
{
    struct actx *c = s->user;
    char kb[64];
    const char *k = raw;
    uint64_t bloom;

    child_of(&f->node, child);
    if (esc) {
        long l = json_unescape(raw, n, kb, sizeof(kb));
        if (l < 0)
            return; /* long escaped keys are never ones we look for */
        k = kb;
        n = (size_t)l;
    }
    if (!n)
        return; /* no path or member takes an empty key */
    bloom = KEY_BLOOM_OF(n, k[0], k[n - 1]);
    if (f->node.keys & bloom)
        match_key(c, f, k, n, bloom, child);
    if (child->record)
        c->rec_idx = c->pl ? c->pl->n_records : 0;
    child->live = child->rows || child->done;
    /* the key's opening quote is just before raw */
    if (f->map >= 0 && note_member(s, f, k, n, (size_t)(raw - s->p) - 1))
        child->live = true;
}

/* The rows of f's element idx: its node, and which kind of record it is (ELEM_*). */
static unsigned elem_rows(const struct actx *c, const struct jscan_frame *f, unsigned idx,
                          struct jnode *child)
{
    unsigned rec = 0;

    child_of(&f->node, child);
    for (uint64_t m = f->node.rows; m; m &= m - 1) {
        unsigned r = (unsigned)__builtin_ctzll(m);
        enum seg_kind k = (enum seg_kind)row_seg(c, r, f->node.seg)->kind;
        if (k != SEG_RECORD && k != SEG_ANY && k != SEG_RECORD_ANY && (k != SEG_FIRST || idx != 0))
            continue;
        add_row(c, child, r, f->node.seg);
        if (k == SEG_RECORD || k == SEG_RECORD_ANY) /* the last one names its index */
            rec = k == SEG_RECORD ? ELEM_RECORD : ELEM_RECORD_ANY;
    }
    if (rec)
        child->record = child->in_record = true;
    child->live = child->rows || child->done;
    return rec;
}

/* Does the memo hold the elements after the first of an array with node `a`? */
static bool memo_fits(const struct elem_memo *e, const struct grammar *g, const struct jnode *a)
{
    return e->g == g && e->parent.rows == a->rows && e->parent.seg == a->seg &&
           e->parent.which == a->which && e->parent.in_record == a->in_record;
}

static void on_elem(struct jscan *s, struct jscan_frame *f, unsigned idx, struct jnode *child)
{
    struct actx *c = s->user;
    struct elem_memo *e = c->pl && idx ? &c->pl->elem_memo : NULL;
    unsigned rec;

    if (e && memo_fits(e, c->g, &f->node)) {
        *child = e->child;
        rec = e->rec;
    } else {
        rec = elem_rows(c, f, idx, child);
        if (e) {
            e->g = c->g;
            e->parent = f->node;
            e->child = *child;
            e->rec = (uint8_t)rec;
        }
    }
    if (rec == ELEM_RECORD)
        c->rec_idx = idx;
    else if (rec == ELEM_RECORD_ANY) /* records in several arrays: counted across them */
        c->rec_idx = c->pl ? c->pl->n_records : 0;
}

/* Takes the next row of m (rows whose path ends at a node), or NULL. */
static const struct row *next_done(const struct actx *c, uint64_t *m)
{
    unsigned r;

    if (!*m)
        return NULL;
    r = (unsigned)__builtin_ctzll(*m);
    *m &= *m - 1;
    return &c->g->rows[r];
}

static void on_open(struct jscan *s, struct jscan_frame *parent, struct jscan_frame *f)
{
    struct actx *c = s->user;
    uint64_t m = f->node.done;
    const struct row *r;

    (void)parent;
    if (!f->is_obj)
        return;
    while ((r = next_done(c, &m)))
        if (r->kind == ROW_TARGET) {
            open_map(s, f, r->map);
            return;
        }
}

/* ---- values ---- */

const char *promote_str_value(struct actx *c, const char *base, size_t off, size_t end, size_t *len)
{
    const char *raw = base + off + 1;
    size_t n = end - off - 2;
    long l;

    if (!memchr(raw, '\\', n)) {
        *len = n;
        return raw;
    }
    l = json_unescape(raw, n, c->pl->tmp, sizeof(c->pl->tmp));
    if (l < 0)
        return NULL;
    *len = (size_t)l;
    return c->pl->tmp;
}

#define BYTES(b) (0x0101010101010101ull * (b))

/* No byte of p[0, n) is below 0x20 or 0x7f; eight at a time (the "has less than" and "has
 * zero byte" word tricks: exact as a yes or no). */
static bool no_control_bytes(const char *p, size_t n)
{
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        uint64_t w = load64(p + i);
        uint64_t del = w ^ BYTES(0x7f);
        if (((w - BYTES(0x20)) & ~w & BYTES(0x80)) || ((del - BYTES(1)) & ~del & BYTES(0x80)))
            return false;
    }
    for (; i < n; i++)
        if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
            return false;
    return true;
}

void promote_copy_info(struct actx *c, size_t off, size_t end, char *dst, size_t cap)
{
    const char *raw = c->base + off + 1;
    size_t n = end - off - 2;
    size_t o = 0;
    char tmp[PROMOTE_NAME_MAX * 2];
    long l;

    if (n > sizeof(tmp) - 1)
        n = sizeof(tmp) - 1;
    /* a cut escape makes json_unescape fail: then fall back to the raw bytes */
    l = memchr(raw, '\\', n) ? json_unescape(raw, n, tmp, sizeof(tmp)) : -1;
    if (l >= 0) {
        raw = tmp;
        n = (size_t)l;
    }
    if (no_control_bytes(raw, n)) { /* the usual case: a plain copy */
        o = n < cap - 1 ? n : cap - 1;
        memcpy(dst, raw, o);
    } else {
        for (size_t i = 0; i < n && o + 1 < cap; i++)
            if ((unsigned char)raw[i] >= 0x20 && raw[i] != 0x7f)
                dst[o++] = raw[i];
    }
    dst[o] = '\0';
}

/* Validates a tracestate (W_TS) or baggage value into out; false when invalid. */
static bool companion_ok(enum which w, const char *v, size_t n, char *out, size_t cap)
{
    return w == W_TS ? tracestate_sanitize(v, n, out, cap) : baggage_sanitize(v, n, out, cap);
}

static bool put_ctx(bool xray, const char *v, size_t n, bool *ok, struct trace_ctx *dst)
{
    struct trace_ctx t;

    if (!(xray ? xray_parse(v, n, &t) : traceparent_parse(v, n, &t)))
        return false;
    if (!*ok) {
        *ok = true;
        *dst = t;
    }
    return true;
}

/* The companions are validated into the same room they are later copied into, so the token
 * kept here is one that copies (a sanitised value that came out empty is not kept). */
static bool put_companion(struct actx *c, struct tok *t, enum which w, const char *v, size_t n,
                          size_t off, size_t end)
{
    size_t cap = w == W_TS ? TRACESTATE_MAX + 1 : BAGGAGE_MAX + 1;

    if (t->base)
        return true;
    if (!companion_ok(w, v, n, c->pl->scratch, cap))
        return false;
    if (c->pl->scratch[0]) {
        t->base = c->base;
        t->off = off;
        t->end = end;
    }
    return true;
}

bool promote_tvals_put(struct actx *c, struct tvals *tv, enum which w, const char *v, size_t n,
                       size_t off, size_t end)
{
    switch (w) {
    case W_TP:
        return put_ctx(false, v, n, &tv->tp_ok, &tv->tp);
    case W_XRAY:
        return put_ctx(true, v, n, &tv->xray_ok, &tv->xray);
    case W_TS:
        return put_companion(c, &tv->ts, w, v, n, off, end);
    case W_BG:
        return put_companion(c, &tv->bg, w, v, n, off, end);
    default:
        return false;
    }
}

void promote_tvals_reset(struct tvals *tv)
{
    tv->tp_ok = false;
    tv->xray_ok = false;
    tv->ts.base = NULL;
    tv->bg.base = NULL;
}

/* Copies a kept tracestate/baggage (validated again on the way), or "" when none. */
static void tok_copy(struct actx *c, const struct tok *t, enum which w, char *dst, size_t cap)
{
    size_t n;
    const char *v = t->base ? promote_str_value(c, t->base, t->off, t->end, &n) : NULL;

    if (!v || !companion_ok(w, v, n, dst, cap))
        dst[0] = '\0';
}

/* ---- carriers ---- */

static void slot_reset(struct slot *s)
{
    promote_tvals_reset(&s->tv);
    s->carrier = CARRIER_NONE;
    s->in_record = false;
    s->pending = NULL;
}

/* Whether the slot holds a context; a deferred value is read now, when it is asked. */
static bool slot_found(struct actx *c, struct slot *s)
{
    const struct row *r = s->pending;

    if (!s->tv.tp_ok && !s->tv.xray_ok && r) {
        s->pending = NULL;
        r->dec->read(c, r->dec, W_NONE, s->val.off, s->val.end, &s->tv);
    }
    return s->tv.tp_ok || s->tv.xray_ok;
}

static void carrier_value(struct actx *c, const struct row *r, const struct jnode *node, char type,
                          size_t off, size_t end)
{
    struct slot *s;

    if (r->dec->type && type != r->dec->type)
        return;
    if (c->into) { /* inside a decoded document: its carriers are the decoder's value */
        r->dec->read(c, r->dec, (enum which)node->which, off, end, c->into);
        return;
    }
    s = &c->pl->slots[r->pref - 1];
    s->carrier = r->carrier;
    s->in_record = node->in_record;
    if (r->dec->defer != READ_NOW) {
        if (s->pending && r->dec->defer == READ_LATER_FIRST)
            slot_found(c, s); /* the waiting one first: if valid, it stays the one */
        s->pending = r;
        s->val.off = off;
        s->val.end = end;
        return;
    }
    r->dec->read(c, r->dec, (enum which)node->which, off, end, &s->tv);
}

static const struct trace_ctx *slot_ctx(const struct slot *s)
{
    return s->tv.tp_ok ? &s->tv.tp : &s->tv.xray;
}

/* The most preferred slot found in (or outside) the current record; *pref gets its rank. */
static struct slot *best_slot(struct actx *c, bool in_record, unsigned *pref)
{
    for (unsigned p = 0; p < PREF_MAX; p++) {
        struct slot *s = &c->pl->slots[p];
        if (s->in_record == in_record && slot_found(c, s)) {
            *pref = p + 1;
            return s;
        }
    }
    return NULL;
}

static struct promote_link *add_link(struct actx *c, const struct slot *s, const char *msgid)
{
    struct promote_analysis *a = c->a;
    struct promote_link *l;

    if (a->n_links == PROMOTE_MAX_LINKS) {
        a->links_dropped++;
        return NULL;
    }
    l = &a->links[a->n_links++];
    l->ctx = *slot_ctx(s);
    str_copy(l->message_id, sizeof(l->message_id), msgid);
    tok_copy(c, &s->tv.ts, W_TS, l->tracestate, sizeof(l->tracestate));
    return l;
}

/* "1545082649183" (SQS SentTimestamp, ms), 1545084650.987 (Kinesis, DynamoDB: seconds) or an
 * RFC 3339 date-time (SNS Timestamp, EventBridge time), as Unix ms; 0 if it is none of them. An
 * integer part of 12 digits or more is milliseconds (seconds reach 12 digits in year 5138). */
static int64_t time_ms(const char *v)
{
    size_t n = strlen(v), i = 0, frac = 0;
    int64_t whole = 0, ms = 0;

    while (i < n && i < 15 && v[i] >= '0' && v[i] <= '9')
        whole = whole * 10 + (v[i++] - '0');
    if (i == 0 || (i < n && v[i] != '.'))
        return rfc3339_parse_ms(v, n, &ms) == 0 && ms > 0 ? ms : 0;
    if (i >= 12)
        return i == n ? whole : 0;
    if (i < n) /* ".sss" */
        for (size_t k = i + 1; k < n; k++, frac++) {
            if (v[k] < '0' || v[k] > '9')
                return 0;
            if (frac < 3)
                ms = ms * 10 + (v[k] - '0');
        }
    for (; frac < 3; frac++)
        ms *= 10;
    return whole * 1000 + ms;
}

/* A decimal count of at most 9 digits, else 0. */
static unsigned small_count(const char *v)
{
    unsigned r = 0;
    size_t i = 0;

    for (; v[i] && i < 9; i++) {
        if (v[i] < '0' || v[i] > '9')
            return 0;
        r = r * 10 + (unsigned)(v[i] - '0');
    }
    return v[i] ? 0 : r;
}

/* One record's delivery count and send time: on its link (if any), and over the batch. */
static void note_delivery(struct actx *c, struct promote_link *l)
{
    struct promote_event_info *info = &c->a->info;
    struct fact_val *rc = &c->pl->facts[F_RECV_COUNT];
    struct fact_val *st = &c->pl->facts[F_SENT_TIME];
    unsigned n = rc->seen ? small_count(rc->s) : 0;
    int64_t sent = st->seen ? time_ms(st->s) : 0;

    if (n > 1)
        info->redelivered++;
    if (n > info->max_receive_count)
        info->max_receive_count = n;
    if (sent && (!info->oldest_sent_ms || sent < info->oldest_sent_ms))
        info->oldest_sent_ms = sent;
    if (l) {
        l->receive_count = n;
        l->sent_ms = sent;
    }
    rc->seen = st->seen = false;
    rc->s[0] = st->s[0] = '\0';
}

/* One record ended: its best context becomes a link, and the batch's parent if first. */
static void record_done(struct actx *c)
{
    struct plan *pl = c->pl;
    struct fact_val *msgid = &pl->facts[F_MSGID];
    unsigned pref = 0;
    struct slot *s = best_slot(c, true, &pref);

    pl->n_records++;
    if (c->rec_idx == 0)
        str_copy(pl->msgid0, sizeof(pl->msgid0), msgid->s);
    note_delivery(c, s ? add_link(c, s, msgid->s) : NULL);
    if (s) {
        if (!pl->rec_found) {
            pl->rec_found = true;
            pl->first_ctx = *slot_ctx(s);
            tok_copy(c, &s->tv.ts, W_TS, pl->first_ts, sizeof(pl->first_ts));
            tok_copy(c, &s->tv.bg, W_BG, pl->first_bg, sizeof(pl->first_bg));
            pl->first_carrier = s->carrier;
            pl->first_pref = pref;
        } else if (memcmp(slot_ctx(s)->trace_id, pl->first_ctx.trace_id, 16) != 0) {
            c->a->records_disagree = true;
        }
    }
    for (unsigned p = 0; p < PREF_MAX; p++)
        if (pl->slots[p].in_record)
            slot_reset(&pl->slots[p]);
    msgid->seen = false;
    msgid->s[0] = '\0';
}

/* ---- edit targets ---- */

static void holder_value(struct actx *c, char type, size_t off, size_t end)
{
    struct mapset *ms = c->ms;

    if (type == '0' && ms->n_nulls < PLAN_MAX_NULLS) {
        ms->nulls[ms->n_nulls].off = off;
        ms->nulls[ms->n_nulls].end = end;
        ms->n_nulls++;
    } else if (type != '{') {
        ms->other = true;
    }
}

/* A reserved "__traceparent__" that is stripped without being valid: the first is reported. */
static void note_reserved(struct actx *c, char type, size_t off, size_t end)
{
    struct promote_analysis *a = c->a;
    struct trace_ctx t;
    const char *v = NULL;
    size_t n = 0;

    if (a->reserved_invalid)
        return;
    if (type == '"')
        v = promote_str_value(c, c->base, off, end, &n);
    if (v && traceparent_parse(v, n, &t))
        return;
    a->reserved_invalid = v ? traceparent_problem(v, n) : "not a JSON string";
    traceparent_safe_prefix(v ? v : "", v ? n : 0, a->reserved_prefix);
}

/* A lower-case headers traceparent: valid ones are kept in place (keep mode, apply.c). */
static void member_value(struct actx *c, struct member *m, char type, size_t off, size_t end)
{
    struct plan *pl = c->pl;
    struct trace_ctx t;
    const char *v;
    size_t n;

    if (m->which == W_RES_TP) {
        note_reserved(c, type, off, end);
        return;
    }
    if (m->which != W_TP || !m->exact_lower || type != '"' ||
        c->ms->maps[m->map].kind != MAP_HEADERS)
        return;
    v = promote_str_value(c, c->base, off, end, &n);
    if (!v || !traceparent_parse(v, n, &t))
        return;
    m->valid = true;
    if (!pl->keep_ok) {
        pl->keep_ok = true;
        pl->keep = t;
    }
}

static void on_value(struct jscan *s, struct jscan_frame *parent, const struct jnode *node,
                     char type, size_t off, size_t end, struct jscan_frame *f)
{
    struct actx *c = s->user;
    struct member *m = pending_member(c, parent);
    uint64_t rows = node->done;
    const struct row *r;

    if (m) {
        m->val_off = off;
        m->val_end = end;
        m->vtype = type;
    }
    if (f)
        close_map(c, f, end);
    while ((r = next_done(c, &rows))) {
        if (r->kind == ROW_CARRIER && c->pl)
            carrier_value(c, r, node, type, off, end);
        else if (r->kind == ROW_FACT && c->pl)
            r->note(c, r->fact, type, off, end, f);
        else if (r->kind == ROW_TARGET && r->holder)
            holder_value(c, type, off, end);
    }
    if (!c->pl)
        return; /* client-context scan: only targets matter */
    if (m)
        member_value(c, m, type, off, end);
    if (node->record && type == '{')
        record_done(c);
}

static const struct jscan_hooks HOOKS = {on_key, on_elem, on_open, on_value, JSCAN_F_KEY_BLOOM};

#define NEST_DEPTH (PROMOTE_MAX_DEPTH / PLAN_NEST_MAX) /* stack2 frames per level */

int promote_scan_nested(struct actx *c, const char *doc, size_t n, const struct grammar *g,
                        struct tvals *tv)
{
    struct actx saved = *c;
    struct jscan s;
    struct jnode root;
    const char *why;
    int rc;

    if (c->nest >= PLAN_NEST_MAX)
        return -EPROTO;
    memset(&s, 0, sizeof(s));
    s.p = doc;
    s.n = n;
    s.h = &HOOKS;
    s.user = c;
    s.max_depth = NEST_DEPTH;
    s.stack = c->pl->stack2 + c->nest * NEST_DEPTH;
    c->base = doc;
    c->g = g;
    c->into = tv;
    c->nest++;
    root = root_node(c);
    root.in_record = true;
    rc = jscan_run(&s, root, &why);
    c->base = saved.base;
    c->g = saved.g;
    c->into = saved.into;
    c->nest = saved.nest;
    return rc;
}

int promote_scan_leaf(struct actx *c, const char *doc, size_t n, const struct jscan_hooks *h,
                      void *user)
{
    struct jscan s;
    struct jnode root = {0};
    const char *why;

    memset(&s, 0, sizeof(s));
    s.p = doc;
    s.n = n;
    s.h = h;
    s.user = user;
    s.max_depth = PLAN_LEAF_DEPTH;
    s.stack = c->pl->leaf;
    root.live = true;
    return jscan_run(&s, root, &why);
}

/* ---- analysis result ---- */

static const char *last_colon_part(const char *s)
{
    const char *p = strrchr(s, ':');
    return p ? p + 1 : s;
}

/* A batch's destination: the last ARN part (queue, topic), or the resource name after
 * sh->arn_resource (Kinesis stream, DynamoDB table). */
static void set_destination(const struct shape *sh, struct promote_event_info *info)
{
    const char *p;
    size_t n;

    if (!sh->arn_resource) {
        str_copy(info->destination, sizeof(info->destination), last_colon_part(info->source_arn));
        return;
    }
    if (!sh->arn_resource[0] || !(p = strstr(info->source_arn, sh->arn_resource)))
        return;
    p = strchr(p, '/') + 1;
    n = strcspn(p, "/");
    if (n >= sizeof(info->destination))
        n = sizeof(info->destination) - 1;
    memcpy(info->destination, p, n);
    info->destination[n] = '\0';
}

static bool shape_matches(const struct shape *sh, const struct fact_val *facts)
{
    if (sh->event_source)
        return strcmp(facts[F_REC0_SOURCE].s, sh->event_source) == 0;
    for (int f = 0; f < F_COUNT; f++)
        if ((sh->needs & (1u << f)) && !facts[f].seen)
            return false;
    return true;
}

static void copy_fact(char *dst, size_t cap, const struct fact_val *facts, enum fact f)
{
    if (f != F_NONE)
        str_copy(dst, cap, facts[f].s);
}

/* A batch: its destination, and the first record's facts when it is the only one. */
static void batch_info(struct actx *c, const struct shape *sh, struct promote_event_info *info)
{
    const struct fact_val *facts = c->pl->facts;

    if (!info->record_count) /* records not in one Records array (Kafka): as counted */
        info->record_count = c->pl->n_records;
    if (sh->destination != F_NONE)
        copy_fact(info->destination, sizeof(info->destination), facts, sh->destination);
    else
        set_destination(sh, info);
    if (info->record_count != 1)
        return;
    str_copy(info->message_id, sizeof(info->message_id), c->pl->msgid0);
    copy_fact(info->partition, sizeof(info->partition), facts, F_PARTITION);
    copy_fact(info->offset, sizeof(info->offset), facts, F_OFFSET);
}

/* A durable function's envelope: the execution, and whether this is its first invocation
 * (only the execution's own start operation has happened). */
static void durable_info(struct actx *c, struct promote_event_info *info)
{
    if (!c->pl->facts[F_DURABLE_ARN].seen)
        return;
    str_copy(info->durable_execution_arn, sizeof(info->durable_execution_arn),
             c->pl->facts[F_DURABLE_ARN].s);
    info->durable_first_invocation = c->pl->durable_ops == 1;
}

static void decide_trigger(struct actx *c)
{
    const struct fact_val *facts = c->pl->facts;
    struct promote_event_info *info = &c->a->info;

    durable_info(c, info);
    str_copy(info->source_arn, sizeof(info->source_arn), facts[F_SOURCE_ARN].s);
    for (unsigned i = 0; i < N_SHAPES; i++) {
        const struct shape *sh = &SHAPES[i];
        if (!shape_matches(sh, facts))
            continue;
        info->trigger = sh->trigger;
        if (sh->event_source) {
            batch_info(c, sh, info);
            return;
        }
        copy_fact(info->http_method, sizeof(info->http_method), facts, sh->method);
        copy_fact(info->http_route, sizeof(info->http_route), facts, sh->route);
        copy_fact(info->destination, sizeof(info->destination), facts, sh->destination);
        copy_fact(info->source_arn, sizeof(info->source_arn), facts, sh->arn);
        return;
    }
}

static void set_parent(struct promote_analysis *a, enum promote_carrier car,
                       const struct trace_ctx *t, const char *ts, const char *bg)
{
    a->found = true;
    a->carrier = car;
    a->parent.ctx = *t;
    str_copy(a->parent.tracestate, sizeof(a->parent.tracestate), ts);
    str_copy(a->parent.baggage, sizeof(a->parent.baggage), bg);
}

/* The parent: the most preferred carrier of the event, where a batch counts at the
 * preference of its first record's carrier (and, when its records disagree, the batch policy
 * decides: nothing less preferred stands in for it). */
static void decide_parent(const struct promote_conf *conf, struct actx *c)
{
    struct plan *pl = c->pl;
    struct promote_analysis *a = c->a;
    unsigned pref = PREF_MAX + 1;
    struct slot *s = best_slot(c, false, &pref);

    if (pl->rec_found && pl->first_pref < pref) {
        if (!a->records_disagree || conf->batch_parent == PROMOTE_BATCH_FIRST)
            set_parent(a, pl->first_carrier, &pl->first_ctx, pl->first_ts, pl->first_bg);
        return;
    }
    if (!s)
        return;
    set_parent(a, s->carrier, slot_ctx(s), "", "");
    tok_copy(c, &s->tv.ts, W_TS, a->parent.tracestate, sizeof(a->parent.tracestate));
    tok_copy(c, &s->tv.bg, W_BG, a->parent.baggage, sizeof(a->parent.baggage));
}

/* Keep mode's tracestate: the one found next to the headers' traceparent. */
static void keep_tracestate(struct actx *c)
{
    struct plan *pl = c->pl;

    for (unsigned p = 0; p < PREF_MAX; p++)
        if (pl->slots[p].carrier == CARRIER_HTTP) {
            tok_copy(c, &pl->slots[p].tv.ts, W_TS, pl->keep_ts, sizeof(pl->keep_ts));
            return;
        }
}

static void analyse_body(const struct promote_conf *conf, const struct promote_input *in,
                         struct plan *pl, struct promote_analysis *a)
{
    struct actx c;
    struct jscan s;
    const char *why = NULL;

    memset(&c, 0, sizeof(c));
    c.pl = pl;
    c.a = a;
    c.ms = &pl->ms;
    c.g = &GRAMMAR_EVENT;
    c.base = in->body;
    memset(&s, 0, sizeof(s));
    s.p = in->body;
    s.n = in->body_len;
    s.h = &HOOKS;
    s.user = &c;
    s.max_depth = ARRAY_LEN(pl->stack);
    s.stack = pl->stack;
    if (jscan_run(&s, root_node(&c), &why) < 0) {
        /* nothing found in a broken document is trusted; the body passes unchanged */
        a->json_object = false;
        a->n_links = 0;
        a->links_dropped = 0;
        a->records_disagree = false;
        memset(&a->info, 0, sizeof(a->info));
        a->warning = why;
        a->reserved_invalid = NULL; /* nothing is stripped from a broken document */
        return;
    }
    a->json_object = pl->facts[F_JSON_OBJECT].seen;
    decide_trigger(&c);
    if (a->info.trigger == TRIGGER_EVENTBRIDGE && pl->facts[F_EVENT_TIME].seen)
        a->info.oldest_sent_ms = time_ms(pl->facts[F_EVENT_TIME].s);
    if (!a->json_object) {
        a->warning = "event is not a JSON object; passed unchanged";
        return;
    }
    if (pl->keep_ok)
        keep_tracestate(&c);
    decide_parent(conf, &c);
}

static void mapset_reset(struct mapset *ms)
{
    ms->n_maps = 0;
    ms->n_mem = 0;
    ms->n_nulls = 0;
    ms->other = false;
    ms->absent_ok = false;
}

/* A plan ready for one scan. Only what is read before it is written gets cleared (see
 * struct plan): zeroing all of it cost more than scanning a 1 KB event. */
static struct plan *plan_new(void)
{
    struct plan *pl = malloc(sizeof(*pl));

    if (!pl)
        return NULL;
    memset(pl, 0, offsetof(struct plan, ms));
    for (unsigned i = 0; i < PATH_MAX_SEGS; i++)
        pl->keytabs[i].g = NULL;
    pl->elem_memo.g = NULL;
    mapset_reset(&pl->ms);
    for (unsigned p = 0; p < PREF_MAX; p++)
        slot_reset(&pl->slots[p]);
    for (unsigned f = 0; f < F_COUNT; f++) {
        pl->facts[f].seen = false;
        pl->facts[f].s[0] = '\0';
    }
    pl->msgid0[0] = '\0';
    pl->keep_ts[0] = '\0';
    pl->first_ts[0] = '\0';
    pl->first_bg[0] = '\0';
    return pl;
}

/* Clears every field of the analysis, but not the link table past n_links nor the bytes
 * behind the parent's string terminators: those ~95 KB of zeroes were most of a small
 * event's cost. add_link() and set_parent() write everything they make meaningful. */
static void analysis_reset(struct promote_analysis *a)
{
    a->json_object = false;
    a->found = false;
    a->carrier = CARRIER_NONE;
    memset(&a->parent.ctx, 0, sizeof(a->parent.ctx));
    a->parent.tracestate[0] = '\0';
    a->parent.baggage[0] = '\0';
    a->lambda_xray_valid = false;
    memset(&a->lambda_xray, 0, sizeof(a->lambda_xray));
    a->records_disagree = false;
    a->n_links = 0;
    a->links_dropped = 0;
    memset(&a->info, 0, sizeof(a->info));
    a->warning = NULL;
    a->reserved_invalid = NULL;
    a->reserved_prefix[0] = '\0';
    a->plan = NULL;
}

void promote_analyse(const struct promote_conf *conf, const struct promote_input *in,
                     struct promote_analysis *a)
{
    struct plan *pl;

    analysis_reset(a);
    if (in->trace_id_header && in->trace_id_header_len)
        a->lambda_xray_valid =
            xray_parse(in->trace_id_header, in->trace_id_header_len, &a->lambda_xray);
    if (in->body_len > conf->max_event_bytes) {
        a->warning = "event larger than max_event_bytes; passed unchanged";
    } else if (!(pl = plan_new())) {
        a->warning = "out of memory; event passed unchanged";
    } else {
        a->plan = pl;
        analyse_body(conf, in, pl, a);
    }
    /* the last carrier: Lambda's own X-Ray header, only when asked and nothing else was found */
    if (!a->found && conf->xray_parent && a->lambda_xray_valid)
        set_parent(a, CARRIER_LAMBDA_XRAY, &a->lambda_xray, "", "");
}

void promote_analysis_free(struct promote_analysis *a)
{
    struct plan *pl = a->plan;

    if (pl) {
        for (unsigned i = 0; i < PLAN_NEST_MAX; i++)
            free(pl->doc_buf[i]);
        free(pl);
    }
    a->plan = NULL;
}

int plan_scan_cc(const char *p, size_t n, struct mapset *ms, struct jscan_frame *stack)
{
    struct actx c;
    struct jscan s;
    const char *why;

    memset(&c, 0, sizeof(c));
    mapset_reset(ms);
    c.ms = ms;
    c.g = &GRAMMAR_CLIENT_CONTEXT;
    c.base = p;
    memset(&s, 0, sizeof(s));
    s.p = p;
    s.n = n;
    s.h = &HOOKS;
    s.user = &c;
    s.max_depth = PROMOTE_MAX_DEPTH;
    s.stack = stack;
    return jscan_run(&s, root_node(&c), &why);
}
