/* SPDX-License-Identifier: Apache-2.0 */
/* telemetry: the listener's sockets, the subscription, and the wiring to the facts (see
 * telemetry.h). Everything runs on the daemon's loop; the hosts file is read once, at start-up,
 * before the loop runs (as the daemon writes its ready file). */
#include "extension/telemetry/telemetry.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "extension/telemetry/internal.h"

#define SANDBOX_HOST   "sandbox.localdomain"
#define HOSTS_FILE     "/etc/hosts"
#define HOSTS_MAX      (64 * 1024)
#define READ_BUF       (64 * 1024)
#define MAX_CONNS      8
#define WARN_EVERY_MS  60000
#define SUBSCRIBE_PATH "/2022-07-01/telemetry"

struct tconn {
    struct telemetry *t;
    struct tconn *prev;
    struct tconn *next;
    uv_tcp_t tcp;
    struct tm_session sess;
    size_t pending; /* bytes in uv_write not completed */
    bool closing;
};

struct wreq {
    uv_write_t req;
    struct tconn *c;
    char *data;
    size_t n;
};

enum sub_state { SUB_NONE = 0, SUB_PENDING, SUB_OK, SUB_REFUSED };

struct telemetry {
    uv_loop_t *loop;
    struct httpc *http;
    const struct log *lg;
    struct telemetry_conf conf;
    struct tm_facts_hooks hooks;
    struct tm_facts *facts;
    uv_tcp_t listener;
    uv_timer_t drain_timer;
    bool listening;
    bool closing;
    int port;
    char host[INET_ADDRSTRLEN];
    struct tconn *conns;
    unsigned nconns;
    unsigned handles; /* listener, drain timer, connections: not yet closed */
    enum sub_state sub;
    struct httpc_req *sub_req;
    void (*sub_done)(void *arg);
    void *sub_arg;
    void (*drain_done)(void *arg);
    void *drain_arg;
    bool draining;
    unsigned settles;
    bool silence_said;
    struct ratelimit bad_log;
    struct tm_event scratch;
    char readbuf[READ_BUF];
};

/* ---- where Lambda delivers: sandbox.localdomain ---- */

/* The sandbox's own addresses only: loopback, or IPv4 link-local (the telemetry1_sb link). */
static bool sandbox_private(const char *ip)
{
    struct in_addr a;
    uint32_t h;

    if (inet_pton(AF_INET, ip, &a) != 1)
        return false;
    h = ntohl(a.s_addr);
    return (h >> 24) == 127 || (h >> 16) == ((169u << 8) | 254u);
}

/* One hosts-file line: does it name SANDBOX_HOST, with an IPv4 address? */
static bool hosts_line(char *line, char *ip, size_t cap)
{
    char *save = NULL;
    char *addr;
    char *name;
    char *hash = strchr(line, '#');
    struct in_addr a;

    if (hash)
        *hash = '\0';
    addr = strtok_r(line, " \t\r", &save);
    if (!addr || inet_pton(AF_INET, addr, &a) != 1)
        return false;
    while ((name = strtok_r(NULL, " \t\r", &save))) {
        if (strcasecmp(name, SANDBOX_HOST) == 0) {
            snprintf(ip, cap, "%s", addr);
            return true;
        }
    }
    return false;
}

/* SANDBOX_HOST's address in the hosts file. 0, -ENOENT (not there) or -errno. */
static int sandbox_address(const char *path, char *ip, size_t cap)
{
    FILE *fp = fopen(path, "re");
    char line[512];
    size_t seen = 0;
    int rc = -ENOENT;

    if (!fp)
        return -errno;
    while (rc != 0 && seen < HOSTS_MAX && fgets(line, sizeof(line), fp)) {
        seen += strlen(line);
        if (hosts_line(line, ip, cap))
            rc = 0;
    }
    fclose(fp);
    return rc;
}

/* ---- connections ---- */

static void maybe_free(struct telemetry *t)
{
    if (t->closing && t->handles == 0) {
        tm_facts_free(t->facts);
        free(t);
    }
}

static void on_conn_closed(uv_handle_t *h)
{
    struct tconn *c = h->data;
    struct telemetry *t = c->t;

    tms_free(&c->sess);
    if (c->prev)
        c->prev->next = c->next;
    else
        t->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    t->nconns--;
    t->handles--;
    free(c);
    maybe_free(t);
}

static void conn_close(struct tconn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_write(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    struct tconn *c = w->c;

    c->pending -= w->n;
    free(w->data);
    free(w);
    if (status < 0 || (tms_closing(&c->sess) && c->pending == 0))
        conn_close(c);
}

static void flush_output(struct tconn *c)
{
    size_t n = 0;
    char *p = tms_take_output(&c->sess, &n);
    struct wreq *w;
    uv_buf_t b;

    if (!p) {
        if (tms_closing(&c->sess) && c->pending == 0)
            conn_close(c);
        return;
    }
    w = malloc(sizeof(*w));
    b = uv_buf_init(p, (unsigned)n);
    if (!w || uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) {
        free(p);
        free(w);
        conn_close(c);
        return;
    }
    w->c = c;
    w->data = p;
    w->n = n;
    c->pending += n;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    struct tconn *c = h->data;

    (void)hint;
    b->base = c->t->readbuf; /* each read is consumed (copied where kept) before the next */
    b->len = sizeof(c->t->readbuf);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    struct tconn *c = st->data;

    if (nread == 0 || c->closing)
        return;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    tms_feed(&c->sess, b->base, (size_t)nread);
    if (!c->closing)
        flush_output(c);
}

/* ---- batches ---- */

static void on_event(void *arg, const struct tm_event *ev)
{
    struct telemetry *t = arg;

    tm_facts_event(t->facts, ev, uv_now(t->loop));
}

static void warn_bad(struct telemetry *t, const struct tm_parse_stats *st, bool broken)
{
    unsigned long held = 0;

    if (!ratelimit_hit(&t->bad_log, uv_now(t->loop), &held))
        return;
    log_warn(t->lg, "telemetry",
             "telemetry batch %s: %u of %u events ignored (%u malformed, %u of unexpected types; "
             "first problem: %s)%s",
             broken ? "is not a JSON array" : "partly unusable", st->malformed + st->unknown,
             st->events, st->malformed, st->unknown, st->problem[0] ? st->problem : "none",
             held ? "; more batches like it since the last warning" : "");
}

static void finish_drain(struct telemetry *t);

static void on_batch(void *arg, const char *body, size_t len)
{
    struct telemetry *t = arg;
    struct tm_parse_stats st;
    int rc = tm_parse_batch(body, len, &t->scratch, on_event, t, &st);

    if (rc < 0 || st.malformed || st.unknown)
        warn_bad(t, &st, rc < 0);
    log_debug(t->lg, "telemetry", "batch: %zu bytes, %u events (%u used)", len, st.events, st.used);
    if (t->draining && tm_facts_waiting(t->facts) == 0)
        finish_drain(t);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct telemetry *t = server->data;
    struct tconn *c;

    if (status < 0 || t->closing)
        return;
    c = calloc(1, sizeof(*c));
    if (!c || uv_tcp_init(t->loop, &c->tcp) < 0) {
        free(c);
        return;
    }
    c->t = t;
    c->tcp.data = c;
    tms_init(&c->sess, on_batch, t);
    c->next = t->conns;
    if (t->conns)
        t->conns->prev = c;
    t->conns = c;
    t->nconns++;
    t->handles++;
    /* Lambda keeps one connection; more than MAX_CONNS is not Lambda. */
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0 || t->nconns > MAX_CONNS ||
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0)
        conn_close(c);
}

/* ---- listening ---- */

static int listen_on(struct telemetry *t, const char *ip)
{
    struct sockaddr_in a;
    struct sockaddr_storage got;
    int len = sizeof(got);
    int rc;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    if (inet_pton(AF_INET, ip, &a.sin_addr) != 1)
        return -EINVAL;
    rc = uv_tcp_bind(&t->listener, (const struct sockaddr *)&a, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&t->listener, 16, on_connection);
    if (rc == 0)
        rc = uv_tcp_getsockname(&t->listener, (struct sockaddr *)&got, &len);
    if (rc < 0)
        return rc;
    t->port = ntohs(((struct sockaddr_in *)&got)->sin_port);
    snprintf(t->host, sizeof(t->host), "%s", ip);
    return 0;
}

/* The address sandbox.localdomain names when it is the sandbox's own, else 127.0.0.1. */
static void start_listening(struct telemetry *t)
{
    char ip[INET_ADDRSTRLEN] = "";
    int rc = sandbox_address(t->conf.hosts_file ? t->conf.hosts_file : HOSTS_FILE, ip, sizeof(ip));

    if (rc == 0 && !sandbox_private(ip)) {
        log_warn(t->lg, "telemetry",
                 "%s is %s, not a sandbox-local address: listening on 127.0.0.1", SANDBOX_HOST, ip);
        rc = -EADDRNOTAVAIL;
    }
    if (uv_tcp_init(t->loop, &t->listener) < 0)
        return;
    t->listener.data = t;
    t->handles++;
    t->listening = true;
    /* Where the name's address is not ours (not in Lambda) the bind fails; a failed bind
     * leaves the socket unbound, so the same one takes loopback instead. */
    if (rc == 0 && listen_on(t, ip) == 0)
        return;
    rc = listen_on(t, "127.0.0.1");
    if (rc < 0) {
        log_warn(t->lg, "telemetry", "Telemetry API listener not started (%s); no platform facts",
                 uv_strerror(rc));
        t->port = 0;
    }
}

/* ---- subscription ---- */

static void subscribe_failed(struct telemetry *t, const struct httpc_result *r)
{
    t->sub = SUB_REFUSED;
    log_info(t->lg, "telemetry",
             "the Telemetry API refused the subscription (%s%ld%s%.200s): running without "
             "platform facts (init span, billed duration, memory, platform outcome)",
             r->err ? "" : "status ", r->err ? 0L : r->status, r->err ? "" : ": ",
             r->err ? (r->error ? r->error : "no answer") : r->body);
}

static void on_subscribed(void *arg, const struct httpc_result *r)
{
    struct telemetry *t = arg;
    void (*done)(void *) = t->sub_done;

    t->sub_req = NULL;
    t->sub_done = NULL;
    if (!r->err && r->status >= 200 && r->status <= 299) {
        t->sub = SUB_OK;
        log_debug(t->lg, "telemetry", "subscribed to the Telemetry API (platform events to %s:%d)",
                  t->host, t->port);
    } else {
        subscribe_failed(t, r);
    }
    if (done)
        done(t->sub_arg);
}

static int subscribe_body(const struct telemetry *t, struct buf *b)
{
    return buf_appendf(b,
                       "{\"schemaVersion\":\"%s\",\"types\":[\"platform\"],\"buffering\":"
                       "{\"maxItems\":1000,\"maxBytes\":262144,\"timeoutMs\":25},"
                       "\"destination\":{\"protocol\":\"HTTP\",\"URI\":\"http://%s:%d/\"}}",
                       TM_SCHEMA_VERSION, SANDBOX_HOST, t->port);
}

int telemetry_subscribe(struct telemetry *t, const char *extension_id, void (*done)(void *arg),
                        void *arg)
{
    char url[600];
    char id_hdr[200];
    const char *hdrs[] = {id_hdr, "Content-Type: application/json", NULL};
    struct buf body;
    struct httpc_opts o = {.method = "PUT",
                           .url = url,
                           .headers = hdrs,
                           .body = &body,
                           .timeout_ms = TM_SUBSCRIBE_TIMEOUT_MS,
                           .max_response_bytes = 4096};
    int err = 0;

    if (!t || !t->conf.enabled || !t->port || t->sub != SUB_NONE)
        return -ENOTCONN;
    snprintf(url, sizeof(url), "http://%s%s", t->conf.runtime_api, SUBSCRIBE_PATH);
    snprintf(id_hdr, sizeof(id_hdr), "Lambda-Extension-Identifier: %s", extension_id);
    buf_init(&body, 1024);
    if (subscribe_body(t, &body) == 0)
        t->sub_req = httpc_start(t->http, &o, on_subscribed, t, &err);
    buf_free(&body);
    if (!t->sub_req) {
        t->sub = SUB_REFUSED;
        log_warn(t->lg, "telemetry", "cannot subscribe to the Telemetry API (%s)",
                 strerror(err ? -err : ENOMEM));
        return -ENOTCONN;
    }
    t->sub = SUB_PENDING;
    t->sub_done = done;
    t->sub_arg = arg;
    return 0;
}

/* ---- spans and points ---- */

void telemetry_span(struct telemetry *t, struct span *s)
{
    if (!t)
        return;
    if (t->facts && t->conf.enabled) {
        tm_facts_span(t->facts, s, uv_now(t->loop));
        return;
    }
    if (t->hooks.span_ready)
        t->hooks.span_ready(t->hooks.arg, s);
}

/* An accepted subscription that never delivers (RIE): said once, when a few invocations
 * would have brought events. */
static void say_silence(struct telemetry *t, enum tm_point p)
{
    if (t->sub != SUB_OK || t->silence_said || tm_facts_live(t->facts))
        return;
    if (p == TM_POINT_SETTLED && ++t->settles < 2)
        return;
    if (p != TM_POINT_SETTLED && p != TM_POINT_ALL)
        return;
    t->silence_said = true;
    log_info(t->lg, "telemetry",
             "the Telemetry API accepted the subscription but has sent no event (an emulator "
             "without it?): spans carry no platform facts");
}

void telemetry_point(struct telemetry *t, enum tm_point p, bool keep_current)
{
    if (!t || !t->facts)
        return;
    say_silence(t, p);
    tm_facts_point(t->facts, p, keep_current, uv_now(t->loop));
}

static void finish_drain(struct telemetry *t)
{
    void (*done)(void *) = t->drain_done;

    t->draining = false;
    t->drain_done = NULL;
    uv_timer_stop(&t->drain_timer);
    telemetry_point(t, TM_POINT_ALL, false);
    if (done)
        done(t->drain_arg);
}

static void on_drain_timer(uv_timer_t *timer)
{
    struct telemetry *t = timer->data;

    log_debug(t->lg, "telemetry", "SHUTDOWN: %zu spans go without their report",
              tm_facts_waiting(t->facts));
    finish_drain(t);
}

int telemetry_drain(struct telemetry *t, uint64_t max_wait_ms, void (*done)(void *arg), void *arg)
{
    if (!t || t->draining)
        return -EALREADY;
    if (!t->facts || !tm_facts_live(t->facts) || tm_facts_waiting(t->facts) == 0 ||
        max_wait_ms == 0) {
        telemetry_point(t, TM_POINT_ALL, false);
        return -EALREADY;
    }
    t->draining = true;
    t->drain_done = done;
    t->drain_arg = arg;
    uv_timer_start(&t->drain_timer, on_drain_timer, max_wait_ms, 0);
    return 0;
}

bool telemetry_subscribed(const struct telemetry *t)
{
    return t && t->sub == SUB_OK;
}

int telemetry_port(const struct telemetry *t)
{
    return t ? t->port : 0;
}

const struct tm_facts *telemetry_facts(const struct telemetry *t)
{
    return t->facts;
}

/* ---- lifetime ---- */

static void on_handle_closed(uv_handle_t *h)
{
    struct telemetry *t = h->data;

    t->handles--;
    maybe_free(t);
}

struct telemetry *telemetry_new(uv_loop_t *loop, struct httpc *h, struct ids *ids,
                                const struct telemetry_conf *c, const struct tm_facts_hooks *hooks,
                                const struct log *lg)
{
    struct telemetry *t = calloc(1, sizeof(*t));

    if (!t)
        return NULL;
    t->loop = loop;
    t->http = h;
    t->lg = lg;
    t->conf = *c;
    t->hooks = *hooks;
    t->bad_log = (struct ratelimit)RATELIMIT_INIT(WARN_EVERY_MS);
    uv_timer_init(loop, &t->drain_timer);
    t->drain_timer.data = t;
    t->handles = 1;
    if (!c->enabled)
        return t;
    t->facts = tm_facts_new(ids, hooks, lg);
    if (t->facts)
        start_listening(t);
    if (t->port)
        log_debug(lg, "telemetry", "Telemetry API listener on %s:%d", t->host, t->port);
    return t;
}

void telemetry_free(struct telemetry *t)
{
    if (!t || t->closing)
        return;
    t->closing = true;
    httpc_cancel(t->sub_req);
    t->sub_req = NULL;
    uv_close((uv_handle_t *)&t->drain_timer, on_handle_closed);
    if (t->listening)
        uv_close((uv_handle_t *)&t->listener, on_handle_closed);
    for (struct tconn *c = t->conns; c; c = c->next)
        conn_close(c);
}
