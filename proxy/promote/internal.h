/* SPDX-License-Identifier: Apache-2.0 */
/* promote internals: the block JSON scanner (jscan) and the plan the analysis pass fills and
 * the apply pass splices from. Private to proxy/promote/. */
#ifndef TB_PROXY_PROMOTE_INTERNAL_H
#define TB_PROXY_PROMOTE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/promote/promote.h"

/* ---- jscan --------------------------------------------------------------------------- */
/* jscan (private to promote/): one strict RFC 8259 pass over raw JSON bytes. It allocates
 * nothing and builds no tree: the caller marks the containers it cares about with a non-zero
 * `node` and gets hooks only inside those; everything else is validated at full speed.
 * UTF-8 inside strings is not validated (the bytes pass through untouched either way). */
struct jscan_frame {
    int node; /* caller's kind of this container; 0 = not interesting */
    bool is_obj;
    unsigned count; /* members / elements seen so far */
    size_t off;     /* offset of '{' or '[' */
    int user;       /* free for the caller (set in open) */
};

struct jscan;

/* Hooks run only where the parent container (or, for the root, root_node) is non-zero. */
struct jscan_hooks {
    /* An object key (raw bytes between the quotes, `esc` when it holds a backslash) at key_off
     * (offset of the opening quote); returns the node for its value (0 = ignore). */
    int (*key)(struct jscan *s, struct jscan_frame *parent, const char *raw, size_t n, bool esc,
               size_t key_off);
    /* An array element; returns its node. */
    int (*elem)(struct jscan *s, struct jscan_frame *parent, unsigned idx);
    /* A container with node != 0 opened (f->off is set; f->user may be set). */
    void (*open)(struct jscan *s, struct jscan_frame *parent, struct jscan_frame *f);
    /* A value with node != 0 ended: type is one of { [ " n t f 0 (null); [off, end) its bytes.
     * For containers, f is the closing frame, else NULL. */
    void (*value)(struct jscan *s, struct jscan_frame *parent, int node, char type, size_t off,
                  size_t end, struct jscan_frame *f);
};

struct jscan {
    const char *p;
    size_t n;
    const struct jscan_hooks *h;
    void *user;
    const char *abort; /* a hook sets this to stop the scan (fail open) */
    unsigned max_depth;
    struct jscan_frame *stack; /* max_depth + 1 frames, owned by the caller */
};

/* Scans p[0..n) as one JSON document whose root value has node root_node. 0, or -EPROTO with
 * *why set (static string). */
int jscan_run(struct jscan *s, int root_node, const char **why);

/* Decodes the JSON string body raw[0..n) (between quotes) into out (cap bytes incl. NUL).
 * Control bytes are kept. Returns the decoded length, or -1 if it does not fit or is malformed. */
long json_unescape(const char *raw, size_t n, char *out, size_t cap);

/* ---- plan ---------------------------------------------------------------------------- */
/* plan (private to promote/): what promote_analyse() learns in its one pass and
 * promote_apply() turns into splices. Offsets index the original body. */
#define PLAN_MAX_MAPS    16
#define PLAN_MAX_MEMBERS 64
#define PLAN_MAX_NULLS   4
#define PLAN_BODY_MAX    (512 * 1024) /* SQS bodies are <= 256 KiB; larger ones are not SNS */

/* Member roles inside the objects we may edit. */
enum which {
    W_TP = 0,
    W_TS,
    W_BG,
    W_RES_TP,
    W_RES_TS,
    W_RES_BG,
    W_HEADERS,
    W_MVH,
    W_CUSTOM,
    W_XRAY = 15, /* X-Amzn-Trace-Id among headers */
};

enum map_kind { MAP_ROOT = 1, MAP_DETAIL, MAP_HEADERS, MAP_MVH, MAP_CC_ROOT, MAP_CUSTOM };

struct member {
    unsigned map;
    unsigned idx; /* position among all members of its object */
    enum which which;
    bool exact_lower; /* key is exactly the lower-case name */
    bool valid;       /* W_TP in headers: value is a valid traceparent */
    char vtype;       /* jscan value type */
    size_t key_off, val_off, val_end;
    bool del; /* apply-time scratch */
};

struct map {
    enum map_kind kind;
    size_t open, close; /* '{' and one past '}' */
    unsigned n_members;
    bool closed;
};

struct span {
    size_t off, end;
};

/* The objects and members an edit may touch. */
struct mapset {
    struct map maps[PLAN_MAX_MAPS];
    unsigned n_maps;
    struct member mem[PLAN_MAX_MEMBERS];
    unsigned n_mem;
    struct span nulls[PLAN_MAX_NULLS]; /* "headers": null / "custom": null values */
    unsigned n_nulls;
    bool other;     /* headers/custom present but neither object nor null */
    bool absent_ok; /* the root object can take a new member */
};

/* A trace context with companions as found in one carrier. */
struct tvals {
    bool tp_ok;
    struct trace_ctx tp;
    bool xray_ok;
    struct trace_ctx xray;
    char ts[TRACESTATE_MAX + 1];
    char bg[BAGGAGE_MAX + 1];
};

/* Per-record scratch, reset cheaply (flags only) between records. */
struct rec {
    struct tvals ma;  /* messageAttributes */
    struct tvals sa;  /* Sns.MessageAttributes */
    struct tvals env; /* SNS envelope inside body */
    bool aws_ok;
    struct trace_ctx aws; /* attributes.AWSTraceHeader */
    char msgid[PROMOTE_ID_MAX];
    bool has_body;
    size_t body_off, body_end;
    bool body_esc;
};

/* Laid out for a cheap start (plan_new): the facts up to `ms` are zeroed, the tables and
 * value buffers after it are reset by their counters, flags and first bytes only, and the
 * scratch at the end is left as malloc returns it. */
struct plan {
    struct tvals *sa_dst; /* where Sns MessageAttributes values go (record or envelope) */
    /* keep mode: headers already hold a valid lower-case traceparent */
    bool keep_ok;
    struct trace_ctx keep;
    /* batch */
    bool rec_found;
    struct trace_ctx first_ctx;
    enum promote_carrier first_carrier;
    /* shape facts */
    bool has_detail_type, has_source, has_detail, has_http_method, has_resource, has_reqctx;
    bool version2, has_route_key, lambda_url, elb;
    char version[8];
    char path[PROMOTE_NAME_MAX];
    char raw_path[PROMOTE_NAME_MAX];
    char rec0_source[32];
    char *body_buf; /* unescaped SQS body (SNS envelope), lazily allocated */
    /* reset, not zeroed */
    struct mapset ms;
    struct tvals direct; /* top-level __traceparent__ & co */
    struct tvals detail; /* detail.traceparent & co, and detail.__traceparent__ */
    struct tvals http;   /* headers / multiValueHeaders[0] */
    struct rec rec;
    char keep_ts[TRACESTATE_MAX + 1];
    char first_ts[TRACESTATE_MAX + 1];
    char first_bg[BAGGAGE_MAX + 1];
    /* scratch */
    char tmp[BAGGAGE_MAX + 16]; /* unescape scratch for short values */
    struct jscan_frame stack[PROMOTE_MAX_DEPTH + 1];
    struct jscan_frame stack2[PROMOTE_MAX_DEPTH + 1];
};

/* Empties a member table (counters and flags only). */
void plan_mapset_reset(struct mapset *ms);

/* Scans a client-context JSON value into ms (root object and its "custom" map). 0 or -EPROTO. */
int plan_scan_cc(const char *p, size_t n, struct mapset *ms, struct jscan_frame *stack);

/* Case-insensitive ASCII compare of a raw key against a lower-case name. */
bool plan_key_ieq(const char *k, size_t n, const char *name);

#endif
