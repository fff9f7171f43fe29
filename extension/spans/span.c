/* SPDX-License-Identifier: Apache-2.0 */
#include "extension/spans/spans.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Grows an array of `size`-byte items to hold one more; returns the new base or NULL. Arrays
 * double so a span with many links costs O(n) copies in total. */
static void *grow_one(void *items, size_t len, size_t *cap, size_t size)
{
    size_t ncap;
    void *p;

    if (len < *cap)
        return items;
    ncap = *cap ? *cap * 2 : 4;
    if (ncap > SIZE_MAX / size)
        return NULL;
    p = realloc(items, ncap * size);
    if (!p)
        return NULL;
    *cap = ncap;
    return p;
}

void span_init(struct span *s)
{
    memset(s, 0, sizeof(*s));
    s->kind = SPAN_KIND_INTERNAL;
}

static void event_free(struct span_event *e)
{
    free(e->name);
    attr_list_free(&e->attrs);
}

static void link_free(struct span_link *l)
{
    free(l->tracestate);
    attr_list_free(&l->attrs);
}

void span_free(struct span *s)
{
    size_t i;

    free(s->tracestate);
    free(s->name);
    free(s->status_message);
    attr_list_free(&s->attrs);
    for (i = 0; i < s->n_events; i++)
        event_free(&s->events[i]);
    free(s->events);
    for (i = 0; i < s->n_links; i++)
        link_free(&s->links[i]);
    free(s->links);
    span_init(s);
}

/* Replaces *slot with a copy of value (NULL clears it). */
static int set_string(char **slot, const char *value)
{
    char *copy = NULL;

    if (value) {
        copy = strdup(value);
        if (!copy)
            return -ENOMEM;
    }
    free(*slot);
    *slot = copy;
    return 0;
}

int span_set_name(struct span *s, const char *name)
{
    return set_string(&s->name, name);
}

static struct attr *attr_list_push(struct attr_list *l, const char *key)
{
    struct attr *items;
    struct attr *a;
    char *k;

    items = grow_one(l->items, l->len, &l->cap, sizeof(*items));
    if (!items)
        return NULL;
    l->items = items;
    k = strdup(key);
    if (!k)
        return NULL;
    a = &l->items[l->len++];
    memset(a, 0, sizeof(*a));
    a->key = k;
    a->key_len = strlen(k);
    return a;
}

int attr_list_add_strn(struct attr_list *l, const char *key, const char *val, size_t n)
{
    char *v = strndup(val, n);
    struct attr *a;

    if (!v)
        return -ENOMEM;
    a = attr_list_push(l, key);
    if (!a) {
        free(v);
        return -ENOMEM;
    }
    a->type = ATTR_STRING;
    a->v.s = v;
    a->s_len = strlen(v);
    return 0;
}

int attr_list_add_str(struct attr_list *l, const char *key, const char *val)
{
    return attr_list_add_strn(l, key, val, strlen(val));
}

int attr_list_add_int(struct attr_list *l, const char *key, int64_t val)
{
    struct attr *a = attr_list_push(l, key);

    if (!a)
        return -ENOMEM;
    a->type = ATTR_INT;
    a->v.i = val;
    return 0;
}

int attr_list_add_double(struct attr_list *l, const char *key, double val)
{
    struct attr *a = attr_list_push(l, key);

    if (!a)
        return -ENOMEM;
    a->type = ATTR_DOUBLE;
    a->v.d = val;
    return 0;
}

int attr_list_add_bool(struct attr_list *l, const char *key, bool val)
{
    struct attr *a = attr_list_push(l, key);

    if (!a)
        return -ENOMEM;
    a->type = ATTR_BOOL;
    a->v.b = val;
    return 0;
}

void attr_list_free(struct attr_list *l)
{
    size_t i;

    for (i = 0; i < l->len; i++) {
        free(l->items[i].key);
        if (l->items[i].type == ATTR_STRING)
            free(l->items[i].v.s);
    }
    free(l->items);
    memset(l, 0, sizeof(*l));
}

const struct attr *attr_list_find(const struct attr_list *l, const char *key)
{
    size_t i;

    for (i = 0; i < l->len; i++)
        if (strcmp(l->items[i].key, key) == 0)
            return &l->items[i];
    return NULL;
}

bool attr_list_remove(struct attr_list *l, const char *key)
{
    for (size_t i = 0; i < l->len; i++) {
        struct attr *a = &l->items[i];
        if (strcmp(a->key, key) != 0)
            continue;
        free(a->key);
        if (a->type == ATTR_STRING)
            free(a->v.s);
        memmove(a, a + 1, (l->len - i - 1) * sizeof(*a));
        l->len--;
        return true;
    }
    return false;
}

/* Events and links are few (an exception event, <= PROMOTE_MAX_LINKS + 1 links), so their
 * arrays are sized exactly; realloc keeps the cost small at that scale. */
struct span_event *span_add_event(struct span *s, const char *name, uint64_t time_ns)
{
    struct span_event *events;
    struct span_event *e;
    char *n = strdup(name);

    if (!n)
        return NULL;
    events = realloc(s->events, (s->n_events + 1) * sizeof(*events));
    if (!events) {
        free(n);
        return NULL;
    }
    s->events = events;
    e = &s->events[s->n_events++];
    memset(e, 0, sizeof(*e));
    e->name = n;
    e->time_ns = time_ns;
    return e;
}

struct span_link *span_add_link(struct span *s, const struct trace_ctx *ctx, const char *tracestate)
{
    struct span_link *links;
    struct span_link *l;
    char *ts = NULL;

    if (tracestate && *tracestate) {
        ts = strdup(tracestate);
        if (!ts)
            return NULL;
    }
    links = realloc(s->links, (s->n_links + 1) * sizeof(*links));
    if (!links) {
        free(ts);
        return NULL;
    }
    s->links = links;
    l = &s->links[s->n_links++];
    memset(l, 0, sizeof(*l));
    l->ctx = *ctx;
    l->tracestate = ts;
    return l;
}

int span_set_status(struct span *s, enum span_status st, const char *message)
{
    int rc = set_string(&s->status_message, message);

    if (rc < 0)
        return rc;
    s->status = st;
    return 0;
}

uint64_t span_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
