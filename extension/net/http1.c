/* SPDX-License-Identifier: Apache-2.0 */
#include "extension/net/net.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { EV_NONE = 0, EV_HEAD, EV_DONE };

static struct http1 *of(http_parser *p)
{
    return p->data;
}

/* Offsets into the head buffer: bytes of this execute call are appended to it afterwards. */
static uint32_t head_off(const struct http1 *h, const char *at)
{
    return (uint32_t)(h->base + (size_t)(at - h->chunk));
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    struct http1 *h = of(p);

    if (h->url_len == 0)
        h->url_off = head_off(h, at);
    h->url_len += (uint32_t)n;
    return 0;
}

static void emit_trailer(struct http1 *h)
{
    while (h->tname.len > 0 &&
           (h->tname.data[h->tname.len - 1] == ' ' || h->tname.data[h->tname.len - 1] == '\t'))
        h->tname.len--;
    if (h->tname.len > 0 && h->ops->trailer)
        h->ops->trailer(h->owner, h->tname.data, h->tname.len, h->tval.data ? h->tval.data : "",
                        h->tval.len);
    buf_reset(&h->tname);
    buf_reset(&h->tval);
}

static void trailer_field(struct http1 *h, const char *at, size_t n)
{
    if (h->flags & H1_F_IN_VALUE)
        emit_trailer(h);
    h->flags &= ~H1_F_IN_VALUE;
    (void)buf_append(&h->tname, at, n); /* an oversize name is simply not matched */
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    struct http1 *h = of(p);
    struct h1_header *hd;

    if (h->flags & H1_F_IN_BODY) {
        trailer_field(h, at, n);
        return 0;
    }
    if ((h->flags & H1_F_IN_VALUE) || h->nhdrs == 0) {
        h->flags &= ~H1_F_IN_VALUE;
        flags_put(&h->flags, H1_F_UNINDEXED, h->nhdrs == HTTP1_MAX_INDEXED);
        if (h->flags & H1_F_UNINDEXED)
            return 0;
        hd = &h->hdrs[h->nhdrs++];
        memset(hd, 0, sizeof(*hd));
        hd->name_off = head_off(h, at);
    }
    if (!(h->flags & H1_F_UNINDEXED))
        h->hdrs[h->nhdrs - 1].name_len += (uint32_t)n;
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    struct http1 *h = of(p);
    struct h1_header *hd;

    if (h->flags & H1_F_IN_BODY) {
        size_t room = HTTP1_TRAILER_MAX - h->tval.len;

        h->flags |= H1_F_IN_VALUE;
        (void)buf_append(&h->tval, at, n < room ? n : room);
        return 0;
    }
    h->flags |= H1_F_IN_VALUE;
    if (h->nhdrs == 0 || (h->flags & H1_F_UNINDEXED))
        return 0;
    hd = &h->hdrs[h->nhdrs - 1];
    if (hd->value_len == 0)
        hd->value_off = head_off(h, at);
    hd->value_len += (uint32_t)n;
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct http1 *h = of(p);

    h->event = EV_HEAD;
    http_parser_pause(p, 1);
    return (h->flags & H1_F_SKIP_BODY) ? 1 : 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct http1 *h = of(p);

    if (h->ops->body)
        h->ops->body(h->owner, at, n);
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct http1 *h = of(p);

    if (flags_are(h->flags, H1_F_IN_BODY | H1_F_IN_VALUE, 0))
        emit_trailer(h);
    h->flags &= ~H1_F_IN_VALUE;
    h->event = EV_DONE;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void http1_init(struct http1 *h, enum http_parser_type type, size_t max_head,
                const struct http1_ops *ops, void *owner)
{
    memset(h, 0, sizeof(*h));
    http_parser_init(&h->parser, type);
    h->parser.data = h;
    h->ops = ops;
    h->owner = owner;
    buf_init(&h->head, max_head);
    buf_init(&h->tname, 256);
    buf_init(&h->tval, HTTP1_TRAILER_MAX);
    buf_init(&h->held, max_head + 256 * 1024);
}

void http1_free(struct http1 *h)
{
    buf_free(&h->head);
    buf_free(&h->tname);
    buf_free(&h->tval);
    buf_free(&h->held);
}

/* Hands the bytes the parser consumed to the head buffer or to ops->raw. */
static int deliver(struct http1 *h, const char *data, size_t n)
{
    if (n == 0)
        return 0;
    if (!(h->flags & H1_F_IN_BODY))
        return buf_append(&h->head, data, n);
    if (h->flags & H1_F_LF_IN_HEAD) { /* already handed over as the head's last byte */
        h->flags &= ~H1_F_LF_IN_HEAD;
        data++;
        if (--n == 0)
            return 0;
    }
    h->ops->raw(h->owner, data, n);
    return 0;
}

static bool is_ows(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* http-parser lets "Name :" through with the space in the name. Lookups (Content-Length above
 * all, which decides re-framing) must not be fooled by it, so names are indexed without it. */
static void trim_names(struct http1 *h)
{
    size_t i;

    for (i = 0; i < h->nhdrs; i++) {
        struct h1_header *hd = &h->hdrs[i];

        while (hd->name_len > 0 && is_ows(h->head.data[hd->name_off + hd->name_len - 1]))
            hd->name_len--;
    }
}

static void dispatch(struct http1 *h)
{
    int ev = h->event;

    h->event = EV_NONE;
    h->flags |= H1_F_DISPATCHED;
    if (ev == EV_HEAD) {
        h->flags |= H1_F_IN_BODY;
        h->flags &= ~H1_F_IN_VALUE;
        trim_names(h);
        h->ops->head(h->owner);
    } else if (ev == EV_DONE) {
        h->flags |= H1_F_BLOCKED;
        h->ops->done(h->owner);
    }
}

static void fail(struct http1 *h, enum http_errno err)
{
    h->flags |= H1_F_STOPPED;
    h->ops->error(h->owner, err);
}

/* One execute step; returns the bytes consumed, or 0 after an error or a stop. */
static size_t step(struct http1 *h, const char *data, size_t len)
{
    size_t n;
    enum http_errno err;

    h->base = h->head.len;
    h->chunk = data;
    h->flags &= ~H1_F_DISPATCHED;
    n = http_parser_execute(&h->parser, &settings, data, len);
    err = HTTP_PARSER_ERRNO(&h->parser);
    if (deliver(h, data, n) < 0) {
        fail(h, HPE_HEADER_OVERFLOW);
        return 0;
    }
    if (err == HPE_PAUSED) {
        http_parser_pause(&h->parser, 0);
        /* http-parser reports the head before it consumes the head's final LF: the head buffer
         * gets that byte now (so a head is always complete) and the raw stream skips it. */
        if (h->event == EV_HEAD && n < len) {
            if (buf_append(&h->head, data + n, 1) < 0) {
                fail(h, HPE_HEADER_OVERFLOW);
                return 0;
            }
            h->flags |= H1_F_LF_IN_HEAD;
        }
        dispatch(h);
    } else if (err != HPE_OK) {
        fail(h, err);
        return 0;
    }
    return n;
}

void http1_feed(struct http1 *h, const char *data, size_t len)
{
    size_t n;

    if (h->flags & H1_F_STOPPED)
        return;
    if (h->flags & (H1_F_BLOCKED | H1_F_IN_FEED)) {
        if (buf_append(&h->held, data, len) < 0)
            fail(h, HPE_HEADER_OVERFLOW);
        return;
    }
    h->flags |= H1_F_IN_FEED;
    while (len > 0 && !(h->flags & (H1_F_STOPPED | H1_F_BLOCKED))) {
        n = step(h, data, len);
        if (h->flags & H1_F_ABORTED) {
            h->flags &= ~H1_F_ABORTED;
            len = 0;
            break;
        }
        if (n == 0 && !(h->flags & H1_F_DISPATCHED))
            break;
        data += n;
        len -= n;
    }
    h->flags &= ~H1_F_IN_FEED;
    if (len > 0 && flags_are(h->flags, H1_F_BLOCKED, H1_F_STOPPED) &&
        buf_append(&h->held, data, len) < 0)
        fail(h, HPE_HEADER_OVERFLOW);
}

void http1_eof(struct http1 *h)
{
    if (h->flags & (H1_F_STOPPED | H1_F_BLOCKED))
        return;
    h->chunk = NULL;
    h->base = h->head.len;
    (void)http_parser_execute(&h->parser, &settings, NULL, 0);
    if (HTTP_PARSER_ERRNO(&h->parser) == HPE_PAUSED) {
        http_parser_pause(&h->parser, 0);
        dispatch(h);
    }
}

static void reset_message(struct http1 *h)
{
    buf_reset(&h->head);
    h->nhdrs = 0;
    h->url_off = 0;
    h->url_len = 0;
    h->flags &= ~(H1_F_IN_BODY | H1_F_IN_VALUE | H1_F_SKIP_BODY | H1_F_LF_IN_HEAD);
    buf_reset(&h->tname);
    buf_reset(&h->tval);
}

void http1_resume(struct http1 *h)
{
    char *held;
    size_t n;

    if (!flags_are(h->flags, H1_F_BLOCKED, H1_F_STOPPED))
        return;
    h->flags &= ~H1_F_BLOCKED;
    reset_message(h);
    if ((h->flags & H1_F_IN_FEED) || h->held.len == 0)
        return; /* the running feed loop continues with its remaining bytes */
    held = buf_take(&h->held, &n);
    http1_feed(h, held, n);
    free(held);
}

void http1_reset(struct http1 *h)
{
    enum http_parser_type type = (enum http_parser_type)h->parser.type;

    http_parser_init(&h->parser, type);
    h->parser.data = h;
    reset_message(h);
    buf_free(&h->held);
    h->flags &= ~(H1_F_BLOCKED | H1_F_STOPPED);
    h->event = EV_NONE;
    flags_put(&h->flags, H1_F_ABORTED, h->flags & H1_F_IN_FEED);
}

void http1_stop(struct http1 *h)
{
    h->flags |= H1_F_STOPPED;
}

const char *http1_header(const struct http1 *h, const char *name, size_t *len)
{
    size_t nlen = strlen(name);
    size_t i;

    for (i = 0; i < h->nhdrs; i++) {
        const struct h1_header *hd = &h->hdrs[i];

        if (hd->name_len == nlen && strncasecmp(h->head.data + hd->name_off, name, nlen) == 0) {
            *len = hd->value_len;
            return h->head.data + hd->value_off;
        }
    }
    return NULL;
}

size_t http1_status_line_len(const struct http1 *h)
{
    const char *nl = h->head.len ? memchr(h->head.data, '\n', h->head.len) : NULL;

    return nl ? (size_t)(nl - h->head.data) + 1 : h->head.len;
}

bool http1_has_held(const struct http1 *h)
{
    return h->held.len > 0;
}

size_t http1_held_len(const struct http1 *h)
{
    return h->held.len;
}
