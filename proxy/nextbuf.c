/* SPDX-License-Identifier: Apache-2.0 */
#include "proxy/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Bytes a spliced body may insert (promote's edits insert a few hundred). */
#define NB_INS_MAX (1024 * 1024)

void nextbuf_init(struct nextbuf *nb, size_t max_event)
{
    memset(nb, 0, sizeof(*nb));
    buf_init(&nb->body, max_event);
    /* Chunk framing adds a few bytes per chunk; twice the event bounds any sane framing. */
    buf_init(&nb->raw, max_event * 2 + 64 * 1024);
    buf_init(&nb->ins, NB_INS_MAX);
}

static void clear_changes(struct nextbuf *nb)
{
    size_t i;

    for (i = 0; i < nb->nset; i++) {
        free(nb->set[i].name);
        free(nb->set[i].value);
        memset(&nb->set[i], 0, sizeof(nb->set[i]));
    }
    nb->nset = 0;
    free(nb->new_body);
    nb->new_body = NULL;
    nb->new_len = 0;
    nb->body_set = false;
    nb->nsp = 0;
    buf_reset(&nb->ins);
}

void nextbuf_free(struct nextbuf *nb)
{
    clear_changes(nb);
    buf_free(&nb->body);
    buf_free(&nb->raw);
    buf_free(&nb->ins);
}

void nextbuf_start(struct nextbuf *nb, const struct http1 *resp)
{
    clear_changes(nb);
    buf_reset(&nb->body);
    buf_reset(&nb->raw);
    nb->resp = resp;
    nb->chunked = (resp->parser.flags & F_CHUNKED) != 0;
    nb->preallocated = false;
    if (!nb->chunked && resp->parser.content_length > 0 &&
        resp->parser.content_length <= nb->body.max)
        nb->preallocated = buf_reserve(&nb->body, (size_t)resp->parser.content_length) == 0;
    if (nb->preallocated)
        memtrim_advise_huge(nb->body.data, nb->body.cap);
}

char *nextbuf_read_target(struct nextbuf *nb, size_t remaining, size_t *len)
{
    struct buf *b = &nb->body;

    if (!nb->preallocated || remaining == 0 || b->cap - b->len - 1 < remaining)
        return NULL;
    *len = remaining;
    return b->data + b->len;
}

int nextbuf_raw(struct nextbuf *nb, const char *p, size_t n)
{
    return nb->chunked ? buf_append(&nb->raw, p, n) : 0;
}

int nextbuf_body(struct nextbuf *nb, const char *p, size_t n)
{
    struct buf *b = &nb->body;

    if (b->data && p >= b->data && p < b->data + b->cap) { /* read straight into the buffer */
        if (n > b->cap - b->len - 1)
            return -E2BIG;
        if (p != b->data + b->len)
            memmove(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
    }
    return buf_append(b, p, n);
}

void nextbuf_adopt(struct nextbuf *nb, char **spare, size_t *spare_cap, size_t need)
{
    if (nb->body.data || !*spare || *spare_cap <= need + 1)
        return;
    nb->body.data = *spare;
    nb->body.cap = *spare_cap;
    nb->body.len = 0;
    nb->body.data[0] = '\0';
    *spare = NULL;
    *spare_cap = 0;
}

/* Copies the held head (complete, final LF included). */
static int take_head(const struct nextbuf *nb, struct buf *out)
{
    const struct buf *h = &nb->resp->head;

    buf_init(out, h->len);
    if (buf_append(out, h->data, h->len) < 0) {
        buf_free(out);
        return -ENOMEM;
    }
    return 0;
}

int nextbuf_flush(struct nextbuf *nb, struct nb_out *out)
{
    struct buf head;
    struct buf *body = nb->chunked ? &nb->raw : &nb->body;

    memset(out, 0, sizeof(*out));
    if (take_head(nb, &head) < 0)
        return -ENOMEM;
    out->a = buf_take(&head, &out->alen);
    out->bcap = body->cap;
    out->b = buf_take(body, &out->blen);
    return 0;
}

static bool is_framing(const char *name, size_t len)
{
    static const char *const drop[] = {"Content-Length", "Transfer-Encoding", "Trailer"};
    size_t i;

    for (i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
        if (strlen(drop[i]) == len && strncasecmp(drop[i], name, len) == 0)
            return true;
    return false;
}

static struct nb_set *find_set(struct nextbuf *nb, const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < nb->nset; i++)
        if (strlen(nb->set[i].name) == len && strncasecmp(nb->set[i].name, name, len) == 0)
            return &nb->set[i];
    return NULL;
}

static int put_header(struct buf *b, const char *name, size_t nlen, const char *v, size_t vlen)
{
    if (buf_append(b, name, nlen) < 0 || buf_append(b, ": ", 2) < 0 || buf_append(b, v, vlen) < 0 ||
        buf_append(b, "\r\n", 2) < 0)
        return -E2BIG;
    return 0;
}

/* Original headers in order: framing headers dropped, set headers replaced in place (first
 * occurrence; later duplicates dropped), the rest copied. Returns 0 or -errno. */
static int put_orig_headers(struct nextbuf *nb, struct buf *b, bool *used)
{
    const struct http1 *h = nb->resp;
    size_t i;

    for (i = 0; i < h->nhdrs; i++) {
        const struct h1_header *hd = &h->hdrs[i];
        const char *name = h->head.data + hd->name_off;
        struct nb_set *s = find_set(nb, name, hd->name_len);
        int rc = 0;

        if (is_framing(name, hd->name_len))
            continue;
        if (s && !used[s - nb->set]) {
            used[s - nb->set] = true;
            rc = put_header(b, s->name, strlen(s->name), s->value, s->vlen);
        } else if (!s) {
            rc = put_header(b, name, hd->name_len, h->head.data + hd->value_off, hd->value_len);
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int build_head(struct nextbuf *nb, size_t body_len, struct buf *b)
{
    bool used[NEXTBUF_MAX_SET] = {false};
    size_t i;
    size_t extra = 64;

    for (i = 0; i < nb->nset; i++)
        extra += strlen(nb->set[i].name) + nb->set[i].vlen + 4;
    buf_init(b, nb->resp->head.len + extra);
    if (buf_append(b, nb->resp->head.data, http1_status_line_len(nb->resp)) < 0 ||
        put_orig_headers(nb, b, used) < 0)
        goto fail;
    for (i = 0; i < nb->nset; i++) {
        struct nb_set *s = &nb->set[i];

        if (!used[i] && put_header(b, s->name, strlen(s->name), s->value, s->vlen) < 0)
            goto fail;
    }
    if (buf_appendf(b, "Content-Length: %zu\r\n\r\n", body_len) < 0)
        goto fail;
    return 0;
fail:
    buf_free(b);
    return -E2BIG;
}

static void copy_rid(const struct nextbuf *nb, char *rid, size_t cap)
{
    size_t len = 0;
    const char *v = http1_header(nb->resp, "Lambda-Runtime-Aws-Request-Id", &len);

    if (!v || len >= cap)
        len = 0;
    if (len)
        memcpy(rid, v, len);
    rid[len] = '\0';
}

struct framing {
    bool seen;
    bool chunked;
    uint64_t content_length;
};

static int on_framing(http_parser *hp)
{
    struct framing *f = hp->data;

    f->seen = true;
    f->chunked = (hp->flags & F_CHUNKED) != 0;
    f->content_length = hp->content_length;
    return 1; /* no body follows in what is parsed here */
}

/* The rebuilt head must frame exactly body_len bytes for a parser like the runtime's: an odd
 * header the upstream parser tolerated (a name that merely starts with Transfer-Encoding, say)
 * must not make the runtime read the event wrong. Checked with the same parser. */
static bool head_frames(const struct buf *head, size_t body_len)
{
    static const http_parser_settings st = {.on_headers_complete = on_framing};
    struct framing f = {0};
    http_parser hp;

    http_parser_init(&hp, HTTP_RESPONSE);
    hp.data = &f;
    (void)http_parser_execute(&hp, &st, head->data, head->len);
    return f.seen && HTTP_PARSER_ERRNO(&hp) == HPE_OK && !f.chunked &&
           f.content_length == (uint64_t)body_len;
}

/* The spliced body's length. */
static size_t spliced_len(const struct nextbuf *nb)
{
    size_t n = nb->body.len;

    for (size_t i = 0; i < nb->nsp; i++)
        n = n - nb->sp[i].del + nb->sp[i].ins_len;
    return n;
}

/* Hands the original body and the inserted bytes to out, and points out's segments at the
 * pieces of both, in order. */
static void take_spliced(struct nextbuf *nb, struct nb_out *out)
{
    size_t pos = 0;
    unsigned n = 0;

    out->bcap = nb->body.cap;
    out->b = buf_take(&nb->body, &out->blen);
    out->c = buf_take(&nb->ins, NULL);
    for (size_t i = 0; i < nb->nsp; i++) {
        const struct nb_splice *sp = &nb->sp[i];

        if (sp->off > pos)
            out->seg[n++] = (struct nb_seg){out->b + pos, sp->off - pos};
        if (sp->ins_len)
            out->seg[n++] = (struct nb_seg){out->c + sp->ins_off, sp->ins_len};
        pos = sp->off + sp->del;
    }
    if (out->blen > pos)
        out->seg[n++] = (struct nb_seg){out->b + pos, out->blen - pos};
    out->nseg = n;
}

static int reframe(struct nextbuf *nb, struct nb_out *out)
{
    struct buf head;
    struct buf *body = &nb->body;
    size_t body_len = nb->nsp ? spliced_len(nb) : nb->body_set ? nb->new_len : body->len;

    if (build_head(nb, body_len, &head) < 0)
        return -E2BIG;
    if (!head_frames(&head, body_len)) {
        buf_free(&head);
        return -EPROTO;
    }
    out->a = buf_take(&head, &out->alen);
    if (nb->nsp) {
        take_spliced(nb, out);
    } else if (nb->body_set) {
        out->b = nb->new_body;
        out->blen = nb->new_len;
        nb->new_body = NULL;
    } else {
        out->bcap = body->cap;
        out->b = buf_take(body, &out->blen);
    }
    out->changed = true;
    return 0;
}

/* A rewritten event leaves the original behind (and a chunked one its raw bytes): a large
 * buffer kept for the next /next would hold up to max_event_bytes per connection for the
 * sandbox's life. Up to keep_bytes they stay for reuse. */
static void release_large(struct nextbuf *nb)
{
    if (!nb->keep_bytes)
        return;
    if (nb->body.cap > nb->keep_bytes)
        buf_free(&nb->body);
    if (nb->raw.cap > nb->keep_bytes)
        buf_free(&nb->raw);
}

int nextbuf_finish(struct nextbuf *nb, const struct proxy_hooks *hooks, char *rid, size_t ridcap,
                   struct nb_out *out)
{
    struct proxy_next ev;
    int rc;

    memset(out, 0, sizeof(*out));
    copy_rid(nb, rid, ridcap);
    if (hooks->next_event) {
        ev.request_id = rid;
        ev.body = nb->body.data ? nb->body.data : "";
        ev.body_len = nb->body.len;
        ev.priv = nb;
        hooks->next_event(hooks->arg, &ev);
    }
    /* Fail open: if the re-framed head cannot be built, the original bytes go out. */
    if ((nb->body_set || nb->nset > 0) && reframe(nb, out) == 0) {
        clear_changes(nb);
        release_large(nb);
        return 0;
    }
    clear_changes(nb);
    rc = nextbuf_flush(nb, out);
    release_large(nb);
    return rc;
}

/* ---- the hook-facing API from proxy.h ---- */

const char *proxy_next_header(const struct proxy_next *ev, const char *name, size_t *len)
{
    struct nextbuf *nb = ev->priv;
    struct nb_set *s = find_set(nb, name, strlen(name));

    if (s) {
        *len = s->vlen;
        return s->value;
    }
    return http1_header(nb->resp, name, len);
}

void proxy_next_set_body(struct proxy_next *ev, struct buf *body)
{
    struct nextbuf *nb = ev->priv;

    nb->nsp = 0;
    free(nb->new_body);
    nb->new_body = buf_take(body, &nb->new_len);
    if (!nb->new_body) {
        nb->new_body = calloc(1, 1);
        nb->new_len = 0;
    }
    nb->body_set = nb->new_body != NULL;
}

int proxy_next_set_header(struct proxy_next *ev, const char *name, const char *value, size_t len)
{
    struct nextbuf *nb = ev->priv;
    struct nb_set *s;
    char *v;

    if (!http_token(name, strlen(name)) || memchr(value, '\r', len) || memchr(value, '\n', len) ||
        memchr(value, '\0', len) || is_framing(name, strlen(name)))
        return -EINVAL;
    s = find_set(nb, name, strlen(name));
    if (!s && nb->nset == NEXTBUF_MAX_SET)
        return -ENOSPC;
    v = malloc(len + 1);
    if (!v)
        return -ENOMEM;
    memcpy(v, value, len);
    v[len] = '\0';
    if (!s) {
        s = &nb->set[nb->nset];
        s->name = strdup(name);
        if (!s->name) {
            free(v);
            return -ENOMEM;
        }
        nb->nset++;
    }
    free(s->value);
    s->value = v;
    s->vlen = len;
    return 0;
}

/* Sorted, not overlapping, within the body. */
static bool splices_valid(const struct nextbuf *nb, const struct proxy_splice *sp, size_t n)
{
    size_t pos = 0;

    if (n == 0 || n > PROXY_MAX_SPLICES)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (sp[i].off < pos || sp[i].off > nb->body.len || sp[i].del > nb->body.len - sp[i].off ||
            (sp[i].ins_len && !sp[i].ins))
            return false;
        pos = sp[i].off + sp[i].del;
    }
    return true;
}

int proxy_next_splice_body(struct proxy_next *ev, const struct proxy_splice *sp, size_t n)
{
    struct nextbuf *nb = ev->priv;
    size_t i;

    if (!splices_valid(nb, sp, n))
        return -EINVAL;
    buf_reset(&nb->ins);
    for (i = 0; i < n; i++) {
        nb->sp[i] = (struct nb_splice){sp[i].off, sp[i].del, nb->ins.len, sp[i].ins_len};
        if (sp[i].ins_len && buf_append(&nb->ins, sp[i].ins, sp[i].ins_len) < 0) {
            nb->nsp = 0;
            buf_reset(&nb->ins);
            return -ENOMEM;
        }
    }
    free(nb->new_body);
    nb->new_body = NULL;
    nb->new_len = 0;
    nb->nsp = n;
    nb->body_set = true;
    return 0;
}
