/* bench_proxy: per-invoke round trip (GET /next on one keep-alive connection, then POST
 * /response with ~50 B of JSON on a second one) direct to a fake upstream vs through the proxy
 * (identity hook and rewrite hook), 1 KB and 1 MB events. Variants are interleaved in rounds
 * (order rotated each round) in one run; run it pinned: taskset -c 0 build/bench/bench_proxy.
 * The fake upstream uses TCP_NODELAY and writes head and body in one send().
 *   bench_proxy [ROUNDS]   */
#include "tests/unit/proxy_harness.h"

enum { V_DIRECT, V_IDENTITY, V_REWRITE, NV };
static const char *const vname[NV] = {"direct", "proxy (identity hook)", "proxy (rewrite hook)"};

struct variant {
    struct client next;
    struct client post;
    double *lat;
    size_t n;
};

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int one_invoke(struct variant *v, int i)
{
    static const char body[] = "{\"statusCode\":200,\"body\":\"ok-ok-ok-ok-ok-ok-ok-ok\"}";
    char req[512];
    struct resp r;
    int n;
    int rc;

    rc = client_get(&v->next, "/2018-06-01/runtime/invocation/next", &r);
    if (rc == 0 && r.status != 200)
        rc = -1;
    resp_free(&r);
    n = snprintf(req, sizeof(req),
                 "POST /2018-06-01/runtime/invocation/req-%d/response HTTP/1.1\r\n"
                 "Host: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\n\r\n%s",
                 i, strlen(body), body);
    client_send(&v->post, req, (size_t)n);
    if (rc == 0)
        rc = client_read(&v->post, &r);
    if (rc == 0 && r.status != 202)
        rc = -1;
    resp_free(&r);
    return rc;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return (x > y) - (x < y);
}

static double pct(double *v, size_t n, double p)
{
    size_t i = (size_t)(p * (double)(n - 1));

    return v[i];
}

static int run_size(struct upstream *u, const int ports[NV], size_t size, int rounds, int per)
{
    struct variant v[NV];
    char *body = malloc(size);
    double p50[NV];
    double p99[NV];
    int k;
    int i;
    int j;
    int rc = 0;

    memset(body, 'x', size);
    memcpy(body, "{\"Records\":[{\"body\":\"", 21);
    memcpy(body + size - 4, "\"}]}", 4);
    upstream_set_next(u, body, size, false);
    free(body);
    for (k = 0; k < NV; k++) {
        client_open(&v[k].next, ports[k]);
        client_open(&v[k].post, ports[k]);
        v[k].lat = calloc((size_t)(rounds * per), sizeof(double));
        v[k].n = 0;
        for (i = 0; i < 20; i++) /* warm-up */
            one_invoke(&v[k], i);
    }
    for (j = 0; j < rounds; j++)
        for (k = 0; k < NV; k++) {
            struct variant *cur = &v[(j + k) % NV];

            for (i = 0; i < per; i++) {
                double t0 = now_us();

                if (one_invoke(cur, i) < 0) {
                    fprintf(stderr, "bench_proxy: %s, %zu B: invoke %d failed\n", vname[cur - v],
                            size, i);
                    rc = -1;
                    goto out;
                }
                cur->lat[cur->n++] = now_us() - t0;
            }
        }
    for (k = 0; k < NV; k++) {
        qsort(v[k].lat, v[k].n, sizeof(double), cmp_d);
        p50[k] = pct(v[k].lat, v[k].n, 0.50);
        p99[k] = pct(v[k].lat, v[k].n, 0.99);
    }
    for (k = 0; k < NV; k++)
        printf("| %-22s | %8zu B | %6zu | %9.1f | %9.1f | %+9.1f | %5.2f |\n", vname[k], size,
               v[k].n, p50[k], p99[k], p50[k] - p50[V_DIRECT], p50[k] / p50[V_DIRECT]);
out:
    for (k = 0; k < NV; k++) {
        client_close(&v[k].next);
        client_close(&v[k].post);
        free(v[k].lat);
    }
    return rc;
}

int main(int argc, char **argv)
{
    struct upstream u = {0};
    struct rig id = {0};
    struct rig rw = {0};
    int ports[NV];
    int rounds = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 20;
    int rc;

    signal(SIGPIPE, SIG_IGN);
    if (upstream_start(&u, 0) < 0 || rig_start(&id, u.port, 6 * 1024 * 1024 + 100) < 0 ||
        rig_start(&rw, u.port, 6 * 1024 * 1024 + 100) < 0)
        return 1;
    rw.rewrite = true;
    ports[V_DIRECT] = u.port;
    ports[V_IDENTITY] = proxy_port(id.proxy);
    ports[V_REWRITE] = proxy_port(rw.proxy);
    printf("# per-invoke round trip (GET /next + POST /response, 2 keep-alive connections), "
           "%d rounds, interleaved\n",
           rounds);
    printf("| %-22s | %10s | %6s | %9s | %9s | %9s | %5s |\n", "path", "event", "n", "p50 us",
           "p99 us", "added p50", "ratio");
    printf("|------------------------|------------|--------|-----------|-----------|-----------|"
           "-------|\n");
    rc = run_size(&u, ports, 1024, rounds, 200);
    if (rc == 0)
        rc = run_size(&u, ports, 1024 * 1024, rounds, 10);
    rig_stop(&id);
    rig_stop(&rw);
    upstream_stop(&u);
    free(u.next_body);
    if (rc < 0)
        fprintf(stderr, "bench_proxy: a request failed\n");
    return rc < 0 ? 1 : 0;
}
