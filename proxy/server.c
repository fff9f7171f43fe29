/* SPDX-License-Identifier: Apache-2.0 */
/* server: proxy_new/proxy_free, the listening socket, accept, stats. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "extension/base/base.h"
#include "extension/net/net.h"
#include "proxy/internal.h"

static void on_connection(uv_stream_t *server, int status)
{
    struct proxy *p = server->data;
    int rc;

    if (status < 0 || p->closing)
        return;
    rc = conn_accept(p);
    if (rc < 0)
        log_warn(p->lg, "proxy", "accept failed: %s", uv_strerror(rc));
}

static void on_listener_closed(uv_handle_t *h)
{
    struct proxy *p = h->data;

    if (--p->handles == 0)
        proxy_destroy(p);
}

static int check_conf(const struct proxy_conf *conf, struct sockaddr_storage *listen_addr,
                      struct sockaddr_storage *up_addr)
{
    int rc;

    if (!conf || !conf->listen_host || conf->max_event_bytes == 0 ||
        conf->max_header_bytes < 1024 || conf->max_header_bytes > UINT32_MAX / 2)
        return -EINVAL;
    rc = loopback_addr(conf->listen_host, conf->listen_port, listen_addr);
    if (rc == 0)
        rc = hostport_parse(conf->upstream, up_addr);
    return rc;
}

struct proxy *proxy_new(uv_loop_t *loop, const struct proxy_conf *conf,
                        const struct proxy_hooks *hooks, const struct log *lg, int *err)
{
    struct sockaddr_storage addr;
    struct proxy *p;
    int rc;

    p = calloc(1, sizeof(*p));
    if (!p) {
        *err = -ENOMEM;
        return NULL;
    }
    rc = check_conf(conf, &addr, &p->up_addr);
    if (rc == 0)
        rc = uv_tcp_init(loop, &p->listener);
    if (rc < 0) {
        free(p);
        *err = rc;
        return NULL;
    }
    /* A process-wide setting inside http-parser; every proxy uses the same limit. The head
     * buffer is bounded separately (max_header_bytes + slack). */
    http_parser_set_max_header_size((uint32_t)conf->max_header_bytes);
    p->loop = loop;
    tb_list_init(&p->conns);
    tb_list_init(&p->held);
    p->lg = lg;
    if (hooks)
        p->hooks = *hooks;
    p->max_event_bytes = conf->max_event_bytes;
    p->keep_buffer_bytes = conf->keep_buffer_bytes;
    p->spare_max = conf->keep_buffer_bytes;
    p->max_header_bytes = conf->max_header_bytes;
    p->listener.data = p;
    p->handles = 1;
    p->held_rl.period_ms = PROXY_ORPHAN_LOG_MS;
    p->lost_rl.period_ms = PROXY_ORPHAN_LOG_MS;
    rc = loopback_listen(&p->listener, &addr, on_connection, &p->port);
    if (rc < 0) {
        p->closing = true;
        uv_close((uv_handle_t *)&p->listener, on_listener_closed);
        *err = rc;
        return NULL;
    }
    log_info(lg, "proxy", "listening on %s:%d, upstream %s", conf->listen_host, p->port,
             conf->upstream);
    return p;
}

int proxy_port(const struct proxy *p)
{
    return p->port;
}

void proxy_free(struct proxy *p)
{
    struct tb_list *it;
    struct tb_list *next;

    if (!p || p->closing)
        return;
    p->closing = true;
    uv_close((uv_handle_t *)&p->listener, on_listener_closed);
    tb_list_foreach_safe(it, next, &p->conns)
        conn_close(tb_list_entry(it, struct conn, link));
}

void proxy_set_spare_max(struct proxy *p, size_t max)
{
    p->spare_max = max ? max : p->keep_buffer_bytes;
    if (p->spare_max && p->spare_cap > p->spare_max) {
        free(p->spare);
        p->spare = NULL;
        p->spare_cap = 0;
    }
}

void proxy_get_stats(const struct proxy *p, struct proxy_stats *out)
{
    *out = p->stats;
}
