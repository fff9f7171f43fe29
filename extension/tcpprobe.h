/* tcpprobe: is anything accepting connections at an address? Non-blocking TCP connects on the
 * loop, each bounded by the time left. A refused connect is tried again every TCPPROBE_RETRY_MS
 * until the budget is spent: Lambda starts extensions in parallel, so a Runtime API proxy we
 * chain behind may bind its port a moment after we look. The probe frees itself once its
 * handles are closed. */
#ifndef TB_TCPPROBE_H
#define TB_TCPPROBE_H

#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#define TCPPROBE_RETRY_MS 50

struct tcpprobe;

/* status: 0 when a connect succeeded, else the libuv error of the last attempt
 * (UV_ECONNREFUSED, UV_ETIMEDOUT when the budget ran out mid-connect...). */
typedef void (*tcpprobe_done_fn)(void *arg, int status);

/* Starts probing; cb runs later from the loop, exactly once (unless cancelled). NULL when out
 * of memory. */
struct tcpprobe *tcpprobe_start(uv_loop_t *loop, const struct sockaddr_storage *addr,
                                uint64_t budget_ms, tcpprobe_done_fn cb, void *arg);

/* Stops a probe that has not reported yet; cb is not called. */
void tcpprobe_cancel(struct tcpprobe *p);

#endif
