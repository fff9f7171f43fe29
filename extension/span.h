/* span: the invocation span tracebridge makes itself, as plain data. A span owns all of its
 * strings (copied in); span_free releases everything. Encoding lives in otlp.h. */
#ifndef TB_SPAN_H
#define TB_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "promote/tracectx.h"

/* Values are the OTLP enum values. */
enum span_kind {
    SPAN_KIND_INTERNAL = 1,
    SPAN_KIND_SERVER = 2,
    SPAN_KIND_CLIENT = 3,
    SPAN_KIND_PRODUCER = 4,
    SPAN_KIND_CONSUMER = 5,
};

enum span_status { SPAN_STATUS_UNSET = 0, SPAN_STATUS_OK = 1, SPAN_STATUS_ERROR = 2 };

enum attr_type { ATTR_STRING, ATTR_INT, ATTR_DOUBLE, ATTR_BOOL };

/* The lengths are kept next to the strings (set by the adders; strings are never changed in
 * place) so that encoding, which needs each length several times, never measures them. */
struct attr {
    char *key;
    size_t key_len;
    enum attr_type type;
    union {
        char *s;
        int64_t i;
        double d;
        bool b;
    } v;
    size_t s_len; /* strlen(v.s) for ATTR_STRING, else 0 */
};

struct attr_list {
    struct attr *items;
    size_t len;
    size_t cap;
};

struct span_event {
    char *name;
    uint64_t time_ns;
    struct attr_list attrs;
};

struct span_link {
    struct trace_ctx ctx;
    char *tracestate; /* NULL when none */
    struct attr_list attrs;
};

struct span {
    struct trace_ctx ctx; /* trace id, this span's id, flags */
    bool has_parent;
    uint8_t parent_span_id[8];
    char *tracestate; /* NULL when none */
    char *name;
    enum span_kind kind;
    uint64_t start_ns;
    uint64_t end_ns;
    struct attr_list attrs;
    struct span_event *events;
    size_t n_events;
    struct span_link *links;
    size_t n_links;
    enum span_status status;
    char *status_message;
};

/* Every adder copies its strings and returns 0 or -ENOMEM (the span stays valid). */
void span_init(struct span *s);
void span_free(struct span *s);
int span_set_name(struct span *s, const char *name);
int attr_list_add_str(struct attr_list *l, const char *key, const char *val);
int attr_list_add_strn(struct attr_list *l, const char *key, const char *val, size_t n);
int attr_list_add_int(struct attr_list *l, const char *key, int64_t val);
int attr_list_add_double(struct attr_list *l, const char *key, double val);
int attr_list_add_bool(struct attr_list *l, const char *key, bool val);
void attr_list_free(struct attr_list *l);
/* Looks up an attribute by key; NULL when absent. */
const struct attr *attr_list_find(const struct attr_list *l, const char *key);
/* Adds an event; returns it (owned by the span) or NULL on -ENOMEM. */
struct span_event *span_add_event(struct span *s, const char *name, uint64_t time_ns);
/* Adds a link; returns it (owned by the span) or NULL on -ENOMEM. */
struct span_link *span_add_link(struct span *s, const struct trace_ctx *ctx,
                                const char *tracestate);
int span_set_status(struct span *s, enum span_status st, const char *message);

/* Wall-clock nanoseconds since the Unix epoch (CLOCK_REALTIME), as OTLP wants. */
uint64_t span_now_ns(void);

#endif
