/* SPDX-License-Identifier: Apache-2.0 */
#include "extension/net/net.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct attempt {
    uv_tcp_t tcp;
    uv_connect_t req;
    struct tcpprobe *p; /* NULL once the probe no longer waits for this attempt */
};

struct tcpprobe {
    uv_loop_t *loop;
    struct sockaddr_storage addr;
    uint64_t deadline; /* uv_now */
    uv_timer_t timer;  /* the attempt's time limit, or the pause before the next attempt */
    struct attempt *current;
    tcpprobe_done_fn cb;
    void *arg;
    bool finished;
};

static void on_attempt_closed(uv_handle_t *h)
{
    free(h->data);
}

static void drop_attempt(struct tcpprobe *p)
{
    struct attempt *a = p->current;

    if (!a)
        return;
    p->current = NULL;
    a->p = NULL;
    uv_close((uv_handle_t *)&a->tcp, on_attempt_closed); /* a pending connect gets ECANCELED */
}

static void on_probe_closed(uv_handle_t *h)
{
    free(h->data);
}

static void finish(struct tcpprobe *p, int status)
{
    p->finished = true;
    drop_attempt(p);
    uv_timer_stop(&p->timer);
    if (p->cb)
        p->cb(p->arg, status);
    uv_close((uv_handle_t *)&p->timer, on_probe_closed);
}

static uint64_t left(const struct tcpprobe *p)
{
    uint64_t now = uv_now(p->loop);

    return p->deadline > now ? p->deadline - now : 0;
}

static void on_timer(uv_timer_t *t);

static void on_connect(uv_connect_t *req, int status)
{
    struct attempt *a = req->data;
    struct tcpprobe *p = a->p;

    if (!p || p->finished)
        return; /* cancelled or timed out: the probe already moved on */
    if (status == 0 || status != UV_ECONNREFUSED || left(p) <= TCPPROBE_RETRY_MS) {
        finish(p, status);
        return;
    }
    drop_attempt(p);
    uv_timer_start(&p->timer, on_timer, TCPPROBE_RETRY_MS, 0);
}

static void attempt(struct tcpprobe *p)
{
    struct attempt *a = calloc(1, sizeof(*a));
    int rc;

    if (!a) {
        finish(p, UV_ENOMEM);
        return;
    }
    a->p = p;
    a->tcp.data = a;
    a->req.data = a;
    uv_tcp_init(p->loop, &a->tcp);
    p->current = a;
    rc = uv_tcp_connect(&a->req, &a->tcp, (const struct sockaddr *)&p->addr, on_connect);
    if (rc < 0) {
        finish(p, rc);
        return;
    }
    uv_timer_start(&p->timer, on_timer, left(p), 0);
}

/* Either the attempt in flight ran out of time, or the pause before the next one is over. */
static void on_timer(uv_timer_t *t)
{
    struct tcpprobe *p = t->data;

    if (p->current)
        finish(p, UV_ETIMEDOUT);
    else
        attempt(p);
}

struct tcpprobe *tcpprobe_start(uv_loop_t *loop, const struct sockaddr_storage *addr,
                                uint64_t budget_ms, tcpprobe_done_fn cb, void *arg)
{
    struct tcpprobe *p = calloc(1, sizeof(*p));

    if (!p)
        return NULL;
    p->loop = loop;
    memcpy(&p->addr, addr, sizeof(*addr));
    p->cb = cb;
    p->arg = arg;
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
    uv_update_time(loop);
    p->deadline = uv_now(loop) + budget_ms;
    uv_timer_start(&p->timer, on_timer, 0, 0); /* first attempt from the loop, never inside */
    return p;
}

void tcpprobe_cancel(struct tcpprobe *p)
{
    if (!p || p->finished)
        return;
    p->cb = NULL;
    finish(p, UV_ECANCELED);
}
