/* SPDX-License-Identifier: Apache-2.0 */
/* parse: Telemetry API batches into tm_events (telemetry.h), with the non-allocating reader.
 *
 * An event is {"time": RFC 3339, "type": "platform.*", "record": {...}} in any member order;
 * the record is read once its type is known. Per type (schema 2025-01-29, and the Managed
 * Instances variant, whose report has only metrics.durationMs and no runtimeDone at all):
 *   start, runtimeDone, report   requestId required (tenantId optional);
 *   runtimeDone, *RuntimeDone    status required;
 *   report, initReport           metrics.durationMs required;
 * other members (tracing, spans, new fields) are checked as JSON and skipped; null counts as
 * absent; a string too long for its field is dropped (a request id too long makes the event
 * malformed: it could not be correlated). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "extension/telemetry/internal.h"

#define KEY_MAX 32

static const struct {
    const char *name;
    enum tm_type type;
} TYPES[] = {
    {"platform.initStart", TM_INIT_START},
    {"platform.initRuntimeDone", TM_INIT_RUNTIME_DONE},
    {"platform.initReport", TM_INIT_REPORT},
    {"platform.start", TM_START},
    {"platform.runtimeDone", TM_RUNTIME_DONE},
    {"platform.report", TM_REPORT},
    {"platform.restoreStart", TM_RESTORE_START},
    {"platform.restoreRuntimeDone", TM_RESTORE_RUNTIME_DONE},
    {"platform.restoreReport", TM_RESTORE_REPORT},
    {"platform.extension", TM_EXTENSION},
    {"platform.telemetrySubscription", TM_SUBSCRIPTION},
    {"platform.logsDropped", TM_LOGS_DROPPED},
};

static const char *const STATUS[] = {"", "success", "error", "timeout", "failure"};

const char *tm_status_name(enum tm_status s)
{
    return (unsigned)s < sizeof(STATUS) / sizeof(STATUS[0]) ? STATUS[s] : "";
}

static enum tm_type type_of(const char *s)
{
    for (size_t i = 0; i < sizeof(TYPES) / sizeof(TYPES[0]); i++) {
        if (strcmp(TYPES[i].name, s) == 0)
            return TYPES[i].type;
    }
    return TM_UNKNOWN;
}

static enum tm_status status_of(const char *s)
{
    for (size_t i = 1; i < sizeof(STATUS) / sizeof(STATUS[0]); i++) {
        if (strcmp(STATUS[i], s) == 0)
            return (enum tm_status)i;
    }
    return TM_ST_NONE; /* a status this schema does not name: present, not understood */
}

/* ---- time ---- */

static int num(const char *s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int y, int m, int d)
{
    int64_t era;
    int64_t yoe;
    int64_t doy;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

static bool valid_date(int y, int mo, int d, int h, int mi, int s)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 60)
        return false;
    return d <= mdays[mo - 1] && !(mo == 2 && d == 29 && !leap);
}

/* The fraction after '.', to ns; *used: characters read. */
static int fraction_ns(const char *s, size_t n, uint64_t *ns, size_t *used)
{
    uint64_t v = 0;
    size_t i = 0;

    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        if (i < 9)
            v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (i == 0)
        return -1;
    for (size_t k = i; k < 9; k++)
        v *= 10;
    *ns = v;
    *used = i;
    return 0;
}

/* "Z" or "+hh:mm"/"-hh:mm" at the end of the text; *offset_s is added to local time to get UTC. */
static int zone(const char *s, size_t n, int64_t *offset_s)
{
    int h;
    int m;

    if (n == 1 && (s[0] == 'Z' || s[0] == 'z')) {
        *offset_s = 0;
        return 0;
    }
    if (n != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':' || num(s + 1, 2, &h) < 0 ||
        num(s + 4, 2, &m) < 0 || h > 23 || m > 59)
        return -1;
    *offset_s = (int64_t)(h * 3600 + m * 60) * (s[0] == '+' ? -1 : 1);
    return 0;
}

int tm_parse_time(const char *s, size_t n, uint64_t *ns)
{
    int y, mo, d, h, mi, sec;
    uint64_t frac = 0;
    size_t used = 0;
    int64_t off = 0;
    int64_t secs;

    if (n < 20 || num(s, 4, &y) < 0 || s[4] != '-' || num(s + 5, 2, &mo) < 0 || s[7] != '-' ||
        num(s + 8, 2, &d) < 0 || (s[10] != 'T' && s[10] != 't') || num(s + 11, 2, &h) < 0 ||
        s[13] != ':' || num(s + 14, 2, &mi) < 0 || s[16] != ':' || num(s + 17, 2, &sec) < 0 ||
        !valid_date(y, mo, d, h, mi, sec))
        return -EINVAL;
    s += 19;
    n -= 19;
    if (n > 0 && s[0] == '.') {
        if (fraction_ns(s + 1, n - 1, &frac, &used) < 0)
            return -EINVAL;
        s += 1 + used;
        n -= 1 + used;
    }
    if (zone(s, n, &off) < 0)
        return -EINVAL;
    secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec + off;
    if (secs < 0 || secs > 253402300799) /* 9999-12-31T23:59:59Z */
        return -EINVAL;
    *ns = (uint64_t)secs * 1000000000ULL + frac;
    return 0;
}

/* ---- records ---- */

/* While an event is read, a broken JSON text stops everything (the reader's sticky error:
 * -EBADMSG), while a field of the wrong kind only marks the event (`bad`) and reading goes on,
 * so that one pass over the bytes is enough whichever member order the sender chose. */
struct ctx {
    struct jr *r;
    struct tm_event *ev;
    struct tm_parse_stats *st;
    bool bad;
};

static int problem(struct ctx *c, const char *what, const char *key)
{
    if (!c->st->problem[0])
        snprintf(c->st->problem, sizeof(c->st->problem), "%s%s%s", what, key ? " " : "",
                 key ? key : "");
    c->bad = true;
    return c->r->err ? -EBADMSG : 0;
}

/* A value of the wrong JSON type: skipped, and the event is malformed. */
static int wrong_type(struct ctx *c, const char *what, const char *key)
{
    if (jr_skip(c->r) < 0)
        return -EBADMSG;
    return problem(c, what, key);
}

/* A string member into out; null is absent; too long is dropped unless `required`. */
static int str_member(struct ctx *c, const char *key, char *out, size_t cap, bool required)
{
    int rc;

    if (jr_peek(c->r) == JR_NULL)
        return jr_skip(c->r);
    rc = jr_string(c->r, out, cap);
    if (rc == -EINVAL)
        return wrong_type(c, "not a string:", key);
    if (rc == -EBADMSG)
        return -EBADMSG;
    if (rc == -E2BIG && required)
        return problem(c, "too long:", key);
    return 0;
}

/* A number member: *present says whether it was there (not null). */
static int number_member(struct ctx *c, const char *key, double *out, bool *present)
{
    int rc;

    *present = false;
    if (jr_peek(c->r) == JR_NULL)
        return jr_skip(c->r);
    rc = jr_number(c->r, out);
    if (rc == -EINVAL)
        return wrong_type(c, "not a number:", key);
    if (rc < 0)
        return -EBADMSG;
    if (*out < 0)
        return problem(c, "negative:", key);
    *present = true;
    return 0;
}

static int metric(struct ctx *c, const char *key, unsigned bit, double *out)
{
    bool present;
    int rc = number_member(c, key, out, &present);

    if (present)
        c->ev->have |= bit;
    return rc;
}

static int count(struct ctx *c, const char *key, unsigned bit, int64_t *out)
{
    double v = 0;
    bool present;

    if (number_member(c, key, &v, &present) < 0)
        return -EBADMSG;
    if (!present)
        return 0;
    if (v > 9007199254740992.0)
        return problem(c, "out of range:", key);
    *out = (int64_t)v;
    c->ev->have |= bit;
    return 0;
}

static int metrics_member(struct ctx *c, const char *key)
{
    struct tm_event *e = c->ev;

    if (strcmp(key, "durationMs") == 0)
        return metric(c, key, TM_HAVE_DURATION, &e->duration_ms);
    if (strcmp(key, "billedDurationMs") == 0)
        return metric(c, key, TM_HAVE_BILLED, &e->billed_ms);
    if (strcmp(key, "initDurationMs") == 0)
        return metric(c, key, TM_HAVE_INIT_DURATION, &e->init_ms);
    if (strcmp(key, "restoreDurationMs") == 0)
        return metric(c, key, TM_HAVE_RESTORE, &e->restore_ms);
    if (strcmp(key, "maxMemoryUsedMB") == 0)
        return count(c, key, TM_HAVE_MAX_MEMORY, &e->max_memory_mb);
    if (strcmp(key, "memorySizeMB") == 0)
        return count(c, key, TM_HAVE_MEMORY_SIZE, &e->memory_mb);
    if (strcmp(key, "producedBytes") == 0)
        return count(c, key, TM_HAVE_PRODUCED, &e->produced_bytes);
    return jr_skip(c->r);
}

/* Members of the object at the reader, each handed to fn (which reads or skips its value). */
static int members(struct ctx *c, int (*fn)(struct ctx *c, const char *key, void *arg), void *arg)
{
    char key[KEY_MAX];
    bool cut;
    int rc;

    if (jr_enter_object(c->r) < 0)
        return -EBADMSG;
    for (bool first = true; (rc = jr_next_member(c->r, first, key, sizeof(key), &cut)) > 0;
         first = false) {
        if (fn(c, key, arg) < 0)
            return -EBADMSG;
    }
    return rc;
}

static int metrics_fn(struct ctx *c, const char *key, void *arg)
{
    (void)arg;
    return metrics_member(c, key);
}

static int metrics(struct ctx *c)
{
    if (jr_peek(c->r) == JR_NULL)
        return jr_skip(c->r);
    if (jr_peek(c->r) != JR_OBJECT)
        return wrong_type(c, "not an object:", "metrics");
    return members(c, metrics_fn, NULL);
}

static int status_member(struct ctx *c, bool *has_status)
{
    char s[32] = "";

    if (str_member(c, "status", s, sizeof(s), false) < 0)
        return -EBADMSG;
    *has_status = s[0] != '\0';
    c->ev->status = status_of(s);
    return 0;
}

static int record_member(struct ctx *c, const char *key, void *arg)
{
    struct tm_event *e = c->ev;

    if (strcmp(key, "requestId") == 0)
        return str_member(c, key, e->request_id, sizeof(e->request_id), true);
    if (strcmp(key, "tenantId") == 0)
        return str_member(c, key, e->tenant_id, sizeof(e->tenant_id), false);
    if (strcmp(key, "status") == 0)
        return status_member(c, arg);
    if (strcmp(key, "errorType") == 0)
        return str_member(c, key, e->error_type, sizeof(e->error_type), false);
    if (strcmp(key, "phase") == 0)
        return str_member(c, key, e->phase, sizeof(e->phase), false);
    if (strcmp(key, "initializationType") == 0)
        return str_member(c, key, e->init_type, sizeof(e->init_type), false);
    if (strcmp(key, "runtimeVersion") == 0)
        return str_member(c, key, e->runtime_version, sizeof(e->runtime_version), false);
    if (strcmp(key, "runtimeVersionArn") == 0)
        return str_member(c, key, e->runtime_version_arn, sizeof(e->runtime_version_arn), false);
    if (strcmp(key, "version") == 0)
        return str_member(c, key, e->version, sizeof(e->version), false);
    if (strcmp(key, "metrics") == 0)
        return metrics(c);
    if (strcmp(key, "droppedRecords") == 0)
        return count(c, key, 0, &e->dropped_records);
    return jr_skip(c->r);
}

/* What each type must carry to be of use. */
static void check_required(struct ctx *c, bool has_status)
{
    const struct tm_event *e = c->ev;
    bool per_request = e->type == TM_START || e->type == TM_RUNTIME_DONE || e->type == TM_REPORT;
    bool needs_status = e->type == TM_RUNTIME_DONE || e->type == TM_INIT_RUNTIME_DONE ||
                        e->type == TM_RESTORE_RUNTIME_DONE;
    bool needs_duration = e->type == TM_REPORT || e->type == TM_INIT_REPORT;

    if (per_request && !e->request_id[0])
        (void)problem(c, "missing", "requestId");
    if (needs_status && !has_status)
        (void)problem(c, "missing", "status");
    if (needs_duration && !(e->have & TM_HAVE_DURATION))
        (void)problem(c, "missing", "metrics.durationMs");
}

/* The record of an event whose type is known, at the reader. */
static int parse_record(struct ctx *c)
{
    bool has_status = false;

    if (jr_peek(c->r) != JR_OBJECT)
        return wrong_type(c, "record is not an object", NULL);
    if (members(c, record_member, &has_status) < 0)
        return -EBADMSG;
    check_required(c, has_status);
    return 0;
}

/* ---- events ---- */

struct envelope {
    char type[64];
    bool long_type; /* longer than any type we know: unknown */
    bool have_time;
    bool have_record;
    const char *record; /* a record that came before its type: read once the type is known */
    size_t record_len;
};

static bool type_known(const struct envelope *env, struct ctx *c)
{
    return env->type[0] && !env->long_type && c->ev->type != TM_UNKNOWN;
}

static int envelope_member(struct ctx *c, const char *key, void *arg)
{
    struct envelope *env = arg;
    char t[48];
    const char *start;
    int rc;

    if (strcmp(key, "type") == 0) {
        rc = jr_string(c->r, env->type, sizeof(env->type));
        if (rc == -EINVAL)
            return wrong_type(c, "type is not a string", NULL);
        env->long_type = rc == -E2BIG;
        c->ev->type = rc == 0 ? type_of(env->type) : TM_UNKNOWN;
        return rc == -EBADMSG ? -EBADMSG : 0;
    }
    if (strcmp(key, "time") == 0) {
        rc = jr_string(c->r, t, sizeof(t));
        if (rc == -EINVAL)
            return wrong_type(c, "time is not a string", NULL);
        if (rc == -EBADMSG)
            return -EBADMSG;
        env->have_time = rc == 0 && tm_parse_time(t, strlen(t), &c->ev->time_ns) == 0;
        return env->have_time ? 0 : problem(c, "time is not an RFC 3339 date-time", NULL);
    }
    if (strcmp(key, "record") != 0)
        return jr_skip(c->r);
    env->have_record = true;
    if (type_known(env, c)) /* Lambda writes time, type, record: one pass */
        return parse_record(c);
    start = c->r->p;
    if (jr_skip(c->r) < 0)
        return -EBADMSG;
    env->record = start;
    env->record_len = (size_t)(c->r->p - start);
    return 0;
}

enum { EV_BROKEN = -1, EV_SKIP = 0, EV_USE = 1, EV_MALFORMED = 2, EV_UNKNOWN = 3 };

/* A record that came before its type: read again from its bytes (checked as JSON already). */
static void late_record(struct ctx *c, const struct envelope *env)
{
    struct jr sub;
    struct jr *main = c->r;

    jr_init(&sub, env->record, env->record_len);
    c->r = &sub;
    if (parse_record(c) < 0)
        c->bad = true;
    c->r = main;
}

/* Reads one array element into c->ev. */
static int read_event(struct ctx *c, struct jr *r)
{
    struct envelope env = {0};

    memset(c->ev, 0, sizeof(*c->ev));
    c->r = r;
    c->bad = false;
    if (jr_peek(r) != JR_OBJECT) {
        problem(c, "event is not an object", NULL);
        return jr_skip(r) < 0 ? EV_BROKEN : EV_MALFORMED;
    }
    if (members(c, envelope_member, &env) < 0)
        return EV_BROKEN;
    if (c->ev->type == TM_UNKNOWN && (env.long_type || env.type[0]))
        return EV_UNKNOWN;
    if (c->ev->type != TM_UNKNOWN && env.record)
        late_record(c, &env);
    if (!c->bad && (c->ev->type == TM_UNKNOWN || !env.have_time || !env.have_record))
        problem(c,
                c->ev->type == TM_UNKNOWN ? "missing type"
                : !env.have_time          ? "missing time"
                                          : "missing record",
                NULL);
    if (c->bad)
        return EV_MALFORMED;
    return c->ev->type == TM_EXTENSION || c->ev->type == TM_SUBSCRIPTION ? EV_SKIP : EV_USE;
}

static void tally(struct tm_parse_stats *st, int what)
{
    if (what == EV_USE)
        st->used++;
    else if (what == EV_SKIP)
        st->ignored++;
    else if (what == EV_UNKNOWN)
        st->unknown++;
    else
        st->malformed++;
}

int tm_parse_batch(const char *json, size_t len, struct tm_event *scratch, tm_event_fn fn,
                   void *arg, struct tm_parse_stats *st)
{
    struct jr r;
    struct ctx c = {.r = &r, .ev = scratch, .st = st};
    int rc;

    memset(st, 0, sizeof(*st));
    jr_init(&r, json, len);
    if (jr_enter_array(&r) < 0) {
        problem(&c, "batch is not a JSON array", NULL);
        return -EBADMSG;
    }
    for (bool first = true; (rc = jr_next_element(&r, first)) > 0; first = false) {
        int what = read_event(&c, &r);
        st->events++;
        if (what == EV_BROKEN) {
            rc = -EBADMSG;
            break;
        }
        tally(st, what);
        if (what == EV_USE && fn)
            fn(arg, scratch);
    }
    c.r = &r;
    if (rc < 0 || !jr_at_end(&r)) {
        problem(&c, "batch is not a JSON array", NULL);
        return -EBADMSG;
    }
    return 0;
}
