/* SPDX-License-Identifier: Apache-2.0 */
/* session: one connection of the telemetry listener, bytes in, response bytes out (no sockets),
 * so the framing is testable on its own. Lambda POSTs each batch (any path) and wants a 2xx;
 * anything else is answered and ignored: 405 for other methods, 413 and close for a body over
 * TMS_MAX_BODY, 400 and close for broken HTTP. A batch that is not valid JSON still gets 200:
 * it is logged and dropped here, and a retry would bring the same bytes again. */
#include <errno.h>
#include <string.h>

#include "extension/telemetry/internal.h"

static void respond(struct tm_session *s, int status, const char *reason, bool close)
{
    if (buf_appendf(&s->out, "HTTP/1.1 %d %s\r\nContent-Length: 0\r\n%s\r\n", status, reason,
                    close ? "Connection: close\r\n" : "") < 0)
        close = true;
    if (close) {
        s->closing = true;
        http1_stop(&s->h);
    }
}

static void on_head(void *owner)
{
    struct tm_session *s = owner;

    s->post = s->h.parser.method == HTTP_POST;
    s->keepalive = http_should_keep_alive(&s->h.parser) != 0;
    s->too_big = false;
    buf_reset(&s->body);
}

/* The raw bytes after the head: only the decoded body matters here. */
static void on_raw(void *owner, const char *p, size_t n)
{
    (void)owner;
    (void)p;
    (void)n;
}

static void on_body(void *owner, const char *p, size_t n)
{
    struct tm_session *s = owner;

    if (!s->post || s->closing)
        return;
    if (buf_append(&s->body, p, n) < 0) {
        s->too_big = true;
        respond(s, 413, "Payload Too Large", true);
    }
}

static void on_done(void *owner)
{
    struct tm_session *s = owner;

    if (s->closing)
        return;
    if (s->post) {
        if (s->on_batch)
            s->on_batch(s->arg, s->body.data ? s->body.data : "", s->body.len);
        respond(s, 200, "OK", !s->keepalive);
    } else {
        respond(s, 405, "Method Not Allowed", !s->keepalive);
    }
    buf_reset(&s->body);
    if (!s->closing)
        http1_resume(&s->h);
}

static void on_error(void *owner, enum http_errno err)
{
    struct tm_session *s = owner;

    (void)err;
    if (!s->closing)
        respond(s, err == HPE_HEADER_OVERFLOW ? 431 : 400,
                err == HPE_HEADER_OVERFLOW ? "Request Header Fields Too Large" : "Bad Request",
                true);
}

static const struct http1_ops ops = {
    .head = on_head,
    .raw = on_raw,
    .body = on_body,
    .done = on_done,
    .error = on_error,
};

void tms_init(struct tm_session *s, tms_batch_fn fn, void *arg)
{
    memset(s, 0, sizeof(*s));
    s->on_batch = fn;
    s->arg = arg;
    http1_init(&s->h, HTTP_REQUEST, TMS_MAX_HEAD, &ops, s);
    buf_init(&s->body, TMS_MAX_BODY);
    buf_init(&s->out, 4096);
}

void tms_free(struct tm_session *s)
{
    http1_free(&s->h);
    buf_free(&s->body);
    buf_free(&s->out);
}

void tms_feed(struct tm_session *s, const char *data, size_t len)
{
    if (!s->closing)
        http1_feed(&s->h, data, len);
}

char *tms_take_output(struct tm_session *s, size_t *len)
{
    *len = 0;
    return s->out.len ? buf_take(&s->out, len) : NULL;
}

bool tms_closing(const struct tm_session *s)
{
    return s->closing;
}
