/* SPDX-License-Identifier: Apache-2.0 */
/* promote internals, private to proxy/promote/:
 *   jscan      the block JSON scanner (jscan.c);
 *   grammar    what the scanner looks for, as key paths: event shapes, carriers, targets
 *              (the tables are in shapes.c, in DESIGN.md's order);
 *   plan       what the analysis pass (analyse.c) learns and the apply pass (apply.c) splices. */
#ifndef TB_PROXY_PROMOTE_INTERNAL_H
#define TB_PROXY_PROMOTE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/promote/promote.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Which trace value a key names. The first three are also the member roles apply.c writes. */
enum which {
    W_TP = 0, /* traceparent */
    W_TS,     /* tracestate */
    W_BG,     /* baggage */
    W_RES_TP, /* __traceparent__, stripped */
    W_RES_TS,
    W_RES_BG,
    W_HEADERS, /* the event's "headers" member */
    W_MVH,     /* the event's "multiValueHeaders" member */
    W_CUSTOM,  /* the client context's "custom" member */
    W_XRAY,    /* an X-Ray trace header value */
    W_NONE,
};

/* ---- jscan --------------------------------------------------------------------------- */
/* jscan: one strict RFC 8259 pass over raw JSON bytes. It allocates nothing and builds no
 * tree: the caller marks the values it cares about (node.live) and gets hooks only inside
 * those; everything else is validated at full speed. UTF-8 inside strings is not validated
 * (the bytes pass through untouched either way). */

/* What the analysis knows about one JSON value while it is scanned. */
struct jnode {
    uint64_t rows;  /* grammar rows (bit = row) whose key path goes on below this value */
    uint64_t done;  /* grammar rows whose key path ends at this value */
    uint64_t keys;  /* KEY_BLOOM bits of every key the paths in `rows` take next */
    uint8_t seg;    /* its children match segment `seg` of the paths in `rows` */
    uint8_t which;  /* enum which: the trace value a trio or reserved key on the way named */
    bool live;      /* hooks run for this value: rows match, or it is an edit member */
    bool in_record; /* inside one record of a batch */
    bool record;    /* this value is one record of a batch */
};

struct jscan_frame {
    struct jnode node;
    size_t off;     /* offset of '{' or '[' */
    unsigned count; /* members / elements seen so far */
    bool is_obj;
    int8_t map;    /* index of this object in the edit mapset, or -1 */
    int8_t member; /* the edit member whose value comes next, or -1 */
};

struct jscan;

/* Hooks run only where the parent container (or, for the root, the root node) is live. */
struct jscan_hooks {
    /* An object key: raw[0, n) are the bytes between its quotes (in s->p), `esc` when they hold
     * a backslash; sets the node of its value. */
    void (*key)(struct jscan *s, struct jscan_frame *parent, const char *raw, size_t n, bool esc,
                struct jnode *child);
    /* An array element; sets its node. */
    void (*elem)(struct jscan *s, struct jscan_frame *parent, unsigned idx, struct jnode *child);
    /* A live container opened (f->off is set). */
    void (*open)(struct jscan *s, struct jscan_frame *parent, struct jscan_frame *f);
    /* A live value ended: type is one of { [ " n t f 0 (null); [off, end) its bytes. For
     * containers, f is the closing frame, else NULL. */
    void (*value)(struct jscan *s, struct jscan_frame *parent, const struct jnode *node, char type,
                  size_t off, size_t end, struct jscan_frame *f);
    unsigned flags; /* JSCAN_F_* */
};

/* The key hook runs only for keys whose KEY_BLOOM bit is in their object's node.keys (and for
 * escaped keys, whose bloom is of the unescaped text); any other key's value is dead without a
 * call. Most keys of a batch are ones no path takes: this keeps them at scanner speed. */
#define JSCAN_F_KEY_BLOOM 0x1u

struct jscan {
    const char *p;
    size_t n;
    const struct jscan_hooks *h;
    void *user;
    const char *abort; /* a hook sets this to stop the scan (fail open) */
    unsigned max_depth;
    struct jscan_frame *stack; /* max_depth frames, owned by the caller */
};

/* Scans p[0..n) as one JSON document whose root value has node `root`. 0, or -EPROTO with
 * *why set (static string). */
int jscan_run(struct jscan *s, struct jnode root, const char **why);

/* Decodes the JSON string body raw[0..n) (between quotes) into out (cap bytes incl. NUL).
 * Control bytes are kept. Returns the decoded length, or -1 if it does not fit or is malformed. */
long json_unescape(const char *raw, size_t n, char *out, size_t cap);

/* A JSON string token [off, end) (quotes included) of the document at base. */
struct tok {
    const char *base;
    size_t off, end;
};

/* A trace context with companions as found in one carrier: the first valid traceparent or
 * X-Ray value, and where the first valid tracestate and baggage are (copied, validated again,
 * only for the carrier that is used). */
struct tvals {
    bool tp_ok;
    struct trace_ctx tp;
    bool xray_ok;
    struct trace_ctx xray;
    struct tok ts, bg; /* base NULL: none */
};

/* ---- grammar ------------------------------------------------------------------------- */
/* A key path is a list of segments from the root of a document, each matching one key or one
 * array element on the way down. A row of a grammar pairs a path with what to do with the
 * value found there: read a carrier, note an event fact, or open an edit target. The tables
 * are in shapes.c. */
#define PATH_MAX_SEGS 7 /* segments of the longest path, plus its SEG_END */

enum seg_kind {
    SEG_END = 0,    /* the path ends here: the value is the row's */
    SEG_KEY,        /* this key (or its alternative spelling), exactly */
    SEG_KEY_CI,     /* this key, ASCII case-insensitively */
    SEG_TRIO,       /* traceparent | tracestate | baggage, exactly (names the value's `which`) */
    SEG_TRIO_CI,    /* the same, case-insensitively (HTTP headers) */
    SEG_RESERVED,   /* __traceparent__ | __tracestate__ | __baggage__ (names `which`) */
    SEG_RECORD,     /* every element of the array, each one record of a batch */
    SEG_FIRST,      /* element 0 of the array */
    SEG_ANY,        /* every member of an object or element of an array (Kafka's partitions) */
    SEG_RECORD_ANY, /* the same, each one record of a batch (Kafka's index-keyed records) */
};

struct seg {
    const char *name, *alt; /* SEG_KEY / SEG_KEY_CI; alt may be NULL */
    uint64_t bloom;         /* KEY_BLOOM of every key it matches: most keys fail one AND */
    uint8_t kind;           /* enum seg_kind */
    uint8_t len, alt_len;
};

/* A key's hash (0..63), from its length and its first and last bytes (ASCII case folded). */
#define KEY_HASH(n, first, last)                                                                   \
    (((n)*13u + ((unsigned)(first) | 0x20u) * 5u + ((unsigned)(last) | 0x20u) * 11u) & 63u)
/* One bit per key hash, so a key that a segment cannot take is passed over with one AND. */
#define KEY_BLOOM_OF(n, first, last) (1ull << KEY_HASH(n, first, last))
#define KEY_BLOOM(s)                 KEY_BLOOM_OF(sizeof(s) - 1, (s)[0], (s)[sizeof(s) - 2])

/* Event facts: what the invocation span is made of, and how the event shape is recognised. */
enum fact {
    F_NONE = 0,
    F_JSON_OBJECT,
    F_REC0_SOURCE, /* the first record's eventSource */
    F_SOURCE_ARN,  /* the first record's eventSourceARN / Sns.TopicArn */
    F_MSGID,       /* the current record's message id (reset after each record) */
    F_RECV_COUNT,  /* the current record's ApproximateReceiveCount (reset after each record) */
    F_SENT_TIME,   /* when the current record was sent or arrived (reset after each record) */
    F_EVENT_TIME,  /* EventBridge `time` */
    F_DETAIL_TYPE,
    F_SOURCE,
    F_DETAIL,
    F_RESOURCE0,
    F_HTTP_METHOD,
    F_RESOURCE,
    F_PATH,
    F_REQCTX,
    F_LAMBDA_URL, /* requestContext.domainName is a Function URL's */
    F_ELB,
    F_RC_METHOD, /* requestContext.http.method */
    F_VERSION2,  /* version is "2.0" */
    F_ROUTE_KEY,
    F_RAW_PATH,
    F_TOPIC,       /* the first record's Kafka topic */
    F_PARTITION,   /* the first record's Kafka partition (a number, as written) */
    F_OFFSET,      /* the first record's Kafka offset */
    F_DURABLE_ARN, /* a durable function's DurableExecutionArn */
    F_COUNT,
};

struct actx;

/* When a carrier's value is read. Costly ones wait for the end of their record (or event), and
 * are read only when nothing preferred was found. */
enum defer {
    READ_NOW = 0,
    READ_LATER_LAST,  /* later; of several values, the last one is read */
    READ_LATER_FIRST, /* later; of several values, the first valid one counts (a waiting one is
                         read when the next arrives) */
};

/* How a carrier's value is read: decodes the JSON value [off, end) of c->base (its type is
 * the decoder's `type`) and keeps what validates, by `which`, in tv. A context converted from
 * another format (X-Ray, Datadog, Step Functions) goes into tv->xray, so a W3C traceparent
 * found in the same carrier is preferred to it. */
struct decoder {
    const char *name;
    char type; /* the JSON type it reads (jscan's letters), 0 any: other values are ignored */
    enum defer defer;
    void (*read)(struct actx *c, const struct decoder *d, enum which w, size_t off, size_t end,
                 struct tvals *tv);
    const void *arg; /* the decoder's parameter (a document in a string: struct nested_doc) */
};

/* A JSON document inside a JSON string (SNS envelope or EventBridge event in an SQS body, a
 * durable function's InputPayload): scanned with grammar g, read-only, only when the raw
 * string holds `need` (if set) and one of `any` (a cheap filter before unescaping). */
struct nested_doc {
    const struct grammar *g;
    const char *need;
    const char *any[3];
};

/* How an event fact is noted from its value (fr: the closing frame of a container, else
 * NULL). */
typedef void (*fact_note)(struct actx *c, enum fact f, char type, size_t off, size_t end,
                          const struct jscan_frame *fr);

enum row_kind { ROW_CARRIER = 1, ROW_FACT, ROW_TARGET };

/* Edit targets: the objects apply.c may splice into. */
enum map_kind { MAP_ROOT = 1, MAP_DETAIL, MAP_HEADERS, MAP_MVH, MAP_CC_ROOT, MAP_CUSTOM };

struct row {
    enum row_kind kind;
    struct seg path[PATH_MAX_SEGS];
    /* ROW_CARRIER */
    const char *shape; /* the event shape it is found in */
    enum promote_carrier carrier;
    unsigned pref; /* 1 = most preferred, up to PREF_MAX; the rows of one carrier share it */
    const struct decoder *dec;
    /* ROW_FACT */
    enum fact fact;
    fact_note note;
    /* ROW_TARGET */
    enum map_kind map;
    bool holder; /* may be null (replaced by an object) or a non-object (then left alone) */
};

/* The rows of one kind of document (at most 64: one bit each in jnode.rows), the ones for the
 * document itself (path ROOT) first. */
struct grammar {
    const struct row *rows;
    unsigned n_rows;
    unsigned n_root; /* rows[0, n_root) are the document's own */
};

extern const struct grammar GRAMMAR_EVENT;          /* a /next event */
extern const struct grammar GRAMMAR_CLIENT_CONTEXT; /* Lambda-Runtime-Client-Context */

/* Members of edit targets: the keys apply.c may replace or delete, by the map they are in. */
struct member_rule {
    enum map_kind map;
    struct seg key;
    enum which role; /* for trio and reserved keys: traceparent's role (the others follow) */
};
extern const struct member_rule MEMBER_RULES[];
extern const unsigned N_MEMBER_RULES;

/* Event shapes (triggers), in the order they are recognised: a batch by its first record's
 * eventSource, the others when every fact in `needs` was seen. */
struct shape {
    enum promote_trigger trigger;
    const char *event_source;   /* batches: the first record's eventSource */
    const char *arn_resource;   /* batches: the destination follows this in the ARN; NULL: the
                                   last ':' part; "": none */
    uint32_t needs;             /* bits of enum fact */
    enum fact method, route;    /* facts copied to http_method / http_route (F_NONE: none) */
    enum fact destination, arn; /* facts copied to destination / source_arn */
};
extern const struct shape SHAPES[];
extern const unsigned N_SHAPES;

#define PREF_MAX 18 /* carrier preferences in the event (Lambda-Runtime-Trace-Id comes after) */

/* ---- plan ---------------------------------------------------------------------------- */
/* plan: what promote_analyse() learns in its one pass and promote_apply() turns into
 * splices. Offsets index the original body. */
#define PLAN_MAX_MAPS    16
#define PLAN_MAX_MEMBERS 64
#define PLAN_MAX_NULLS   4
#define PLAN_BODY_MAX    (512 * 1024) /* a document decoded out of a string, at most */
#define PLAN_NEST_MAX    2            /* documents in strings in documents in strings */
#define PLAN_LEAF_DEPTH  32           /* nesting of the small values decoders scan themselves */
#define PLAN_DD_MAX      4096         /* a decoded Datadog carrier */

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

/* A byte range [off, end) of the scanned document. */
struct brange {
    size_t off, end;
};

/* The objects and members an edit may touch. */
struct mapset {
    struct map maps[PLAN_MAX_MAPS];
    unsigned n_maps;
    struct member mem[PLAN_MAX_MEMBERS];
    unsigned n_mem;
    struct brange nulls[PLAN_MAX_NULLS]; /* "headers": null / "custom": null values */
    unsigned n_nulls;
    bool other;     /* headers/custom present but neither object nor null */
    bool absent_ok; /* the root object can take a new member */
};

/* What the carrier of one preference found. */
struct slot {
    struct tvals tv;
    enum promote_carrier carrier;
    bool in_record;            /* written inside the current record: reset at its end */
    const struct row *pending; /* a deferred row whose value [val.off, val.end) waits */
    struct brange val;
};

struct fact_val {
    bool seen;
    char s[PROMOTE_NAME_MAX];
};

/* The keys the children of one kind of object may have, hashed: built when a second object
 * with the same rows comes (the next record of a batch) and kept for the ones after it, so
 * their keys cost one lookup each instead of one compare per row. */
#define KEYTAB_SIZE    64 /* buckets: KEY_HASH */
#define KEYTAB_INHERIT 0xff

struct keytab_entry {
    uint64_t below, done; /* rows that go on below / end at the value of this key */
    uint64_t keys;        /* KEY_BLOOM bits of the keys the `below` rows take next */
    const char *name;
    uint8_t len;
    uint8_t which; /* enum which it names, or KEYTAB_INHERIT */
    bool ci;       /* ASCII case-insensitive */
};

struct keytab {
    const struct grammar *g; /* for objects with these rows of g at this segment */
    uint64_t rows;
    unsigned seg;
    size_t first_off; /* the first such object (matched row by row) */
    bool built;
    bool ok;       /* false: overflowed, use the rows one by one */
    uint64_t used; /* bit = bucket in use */
    struct keytab_entry e[KEYTAB_SIZE];
};

/* The node of every element after the first of an array (the rows take the same way for
 * each, they depend only on the array's node): kept for the last kind of array, so the records
 * of a batch after the first cost one compare each instead of a walk over the rows. */
enum { ELEM_RECORD = 1, ELEM_RECORD_ANY };

struct elem_memo {
    const struct grammar *g; /* NULL: empty */
    struct jnode parent;     /* the array's node (rows, seg, which, in_record) */
    struct jnode child;
    uint8_t rec; /* ELEM_*, or 0 */
};

/* Laid out for a cheap start (plan_new): the facts up to `ms` are zeroed, the tables and
 * value buffers after it are reset by their counters, flags and first bytes only, and the
 * scratch at the end is left as malloc returns it. */
struct plan {
    /* keep mode: headers already hold a valid lower-case traceparent */
    bool keep_ok;
    struct trace_ctx keep;
    /* batch */
    bool rec_found;
    struct trace_ctx first_ctx;
    enum promote_carrier first_carrier;
    unsigned first_pref;
    unsigned n_records;           /* records of a batch seen so far (each a JSON object) */
    unsigned durable_ops;         /* InitialExecutionState.Operations length */
    struct brange sfn_state;      /* the top-level Step Functions "State" object, if any */
    char *doc_buf[PLAN_NEST_MAX]; /* documents decoded out of strings, one per level: grown to
                                   * the largest one so far (<= PLAN_BODY_MAX + 1), freed with it */
    size_t doc_cap[PLAN_NEST_MAX];
    /* reset, not zeroed */
    struct mapset ms;
    struct slot slots[PREF_MAX]; /* by preference - 1 */
    struct fact_val facts[F_COUNT];
    char msgid0[PROMOTE_ID_MAX];
    char keep_ts[TRACESTATE_MAX + 1];
    char first_ts[TRACESTATE_MAX + 1];
    char first_bg[BAGGAGE_MAX + 1];
    /* scratch */
    char tmp[BAGGAGE_MAX + 16];           /* unescape scratch for short values */
    char scratch[BAGGAGE_MAX + 16];       /* validation scratch */
    struct keytab keytabs[PATH_MAX_SEGS]; /* one per segment: open objects are one per depth */
    struct elem_memo elem_memo;
    struct jscan_frame stack[PROMOTE_MAX_DEPTH];
    struct jscan_frame stack2[PROMOTE_MAX_DEPTH]; /* documents inside strings, by level */
    struct jscan_frame leaf[PLAN_LEAF_DEPTH];     /* decoders' own scans of small values */
    char dd_buf[PLAN_DD_MAX];                     /* a Datadog carrier, decoded */
    char kafka_ts[TRACESTATE_MAX + 2];            /* a Kafka tracestate header, quoted */
};

/* The analysis pass's state during one scan. */
struct actx {
    struct plan *pl; /* NULL when scanning a client context */
    struct promote_analysis *a;
    struct mapset *ms;
    const struct grammar *g;
    const char *base;   /* the document being scanned */
    struct tvals *into; /* inside a decoded document: where its carrier values go */
    unsigned nest;      /* how many documents in strings deep the scan is */
    unsigned rec_idx;
};

/* ---- between analyse.c, shapes.c and apply.c ------------------------------------------ */
/* The decoded string token [off, end) of base: points into it when it has no escapes, else
 * into c->pl->tmp. NULL when too long to be a trace value. */
const char *promote_str_value(struct actx *c, const char *base, size_t off, size_t end,
                              size_t *len);

/* Validates one trace value of kind w (the text v[0..n) of the token [off, end) of c->base)
 * into tv; the first valid one of each kind wins. true when this one is valid. */
bool promote_tvals_put(struct actx *c, struct tvals *tv, enum which w, const char *v, size_t n,
                       size_t off, size_t end);
void promote_tvals_reset(struct tvals *tv);

/* Copies an informational string token of c->base: truncated, control bytes dropped. */
void promote_copy_info(struct actx *c, size_t off, size_t end, char *dst, size_t cap);

/* Scans doc[0..n), a document decoded out of the current record's value, with grammar g;
 * its carrier values go into tv. 0 or -EPROTO. */
int promote_scan_nested(struct actx *c, const char *doc, size_t n, const struct grammar *g,
                        struct tvals *tv);

/* A scan of a small value [0, n) of doc with the caller's own hooks (decoders.c), on the
 * plan's leaf stack (PLAN_LEAF_DEPTH): 0 or -EPROTO. The root node is live. */
int promote_scan_leaf(struct actx *c, const char *doc, size_t n, const struct jscan_hooks *h,
                      void *user);

/* The decoders of the carriers beyond SQS, SNS and EventBridge (decoders.c). Two read
 * functions take a struct nested_doc as their decoder's arg: a JSON document in a JSON string,
 * and one in a base64 string (Kinesis data). */
void promote_read_doc_in_string(struct actx *c, const struct decoder *d, enum which w, size_t off,
                                size_t end, struct tvals *tv);
void promote_read_base64_doc(struct actx *c, const struct decoder *d, enum which w, size_t off,
                             size_t end, struct tvals *tv);
extern const struct decoder KAFKA_HEADERS;         /* W3C traceparent header */
extern const struct decoder KAFKA_DATADOG_HEADERS; /* x-datadog-* headers */
extern const struct decoder DATADOG_ATTRIBUTE;     /* SQS/SNS message attribute _datadog */
extern const struct decoder DATADOG_OBJECT;        /* {"x-datadog-trace-id": ...} */
extern const struct decoder DATADOG_JSON_STRING;   /* the same object as a JSON string */
extern const struct decoder STEP_FUNCTIONS;        /* the context object's Execution */

/* Scans a client-context JSON value into ms (root object and its "custom" map), with
 * PROMOTE_MAX_DEPTH frames of stack. 0 or -EPROTO. */
int plan_scan_cc(const char *p, size_t n, struct mapset *ms, struct jscan_frame *stack);

#endif
