/* The health server on `[health] listen`: a small HTTP/1.1 server on the loop.
 *   GET|HEAD /healthz  200 "ok\n", answered by the loop itself: a blocked loop cannot answer
 *   GET|HEAD /readyz   200 "ready\n", or 503 with the source's reasons, one per line
 *   GET|HEAD /metrics  200, Prometheus text format: process, loop lag, then the source's
 * 404 for other paths, 405 for other methods, 400 for a malformed head, 431 for a head
 * over 8 KiB, 408 for a head not complete within the timeout. One request per connection,
 * answered with "Connection: close". One peer (client address) holds at most
 * max_per_peer connections and never the last `reserve` slots, which stay for peers
 * holding none (the kubelet's probes); a new connection over a cap takes the place of
 * the oldest silent one of that peer (or of the peer holding the most), else it is
 * closed at once. Silent connections are dropped after the head timeout. */
#ifndef AB_HEALTH_SERVER_H
#define AB_HEALTH_SERVER_H

#include <stdbool.h>

#include <uv.h>

#include "health/health_text.h"

#define HEALTH_HEAD_MAX 8192
#define HEALTH_DEFAULT_MAX_CONNS 64
#define HEALTH_DEFAULT_MAX_PER_PEER 16
#define HEALTH_DEFAULT_RESERVE 8
#define HEALTH_DEFAULT_HEAD_TIMEOUT_MS 5000
#define HEALTH_DEFAULT_LINGER_MS 2000

/* What the server asks the rest of the daemon. Both callbacks run on the loop thread and
 * must not block; either may be NULL. */
struct health_source {
    void *arg; /* lent for the server's life; passed to both callbacks */
    /* Ready to receive events? When not, append one reason per line to @why (lent for
     * the call). NULL: always ready. */
    bool (*ready)(void *arg, struct health_text *why);
    /* Append more metrics to @out (lent for the call) with metrics_gauge() and friends,
     * after the built-in ones. NULL: only the built-in ones. */
    void (*metrics)(void *arg, struct health_text *out);
};

/* Limits; a zero member takes its default. */
struct health_limits {
    unsigned max_conns;       /* open connections at once (64) */
    unsigned max_per_peer;    /* open connections from one address (16; at most
                                 max_conns - reserve) */
    unsigned reserve;         /* slots only a peer without a connection may take (8;
                                 at most max_conns / 4) */
    unsigned head_timeout_ms; /* to receive a whole request head, and to send the answer (5 s) */
    unsigned linger_ms;       /* after answering, how long unread input is drained (2 s) */
    unsigned lag_interval_ms; /* loop-lag probe interval (1 s) */
};

struct health_server;

/* Listen on @listen (lent; "host:port" or "[v6]:port", numeric, port 0 = any) on @loop.
 * @src is copied (its arg stays lent); @limits may be NULL. On success *@out is owned by
 * the caller until health_server_close(). Returns 0, AB_EINVAL (bad address) or a negative
 * uv code (e.g. UV_EADDRINUSE), having logged what went wrong. */
int health_server_start(uv_loop_t *loop, const char *listen, const struct health_source *src,
                        const struct health_limits *limits, struct health_server **out);

/* The port actually bound (useful with port 0), or a negative uv code. */
int health_server_port(const struct health_server *srv);

/* Stop listening and close every connection and handle; @done(@arg) runs when all are
 * closed and @srv has been freed (@done may be NULL). Call once. */
void health_server_close(struct health_server *srv, void (*done)(void *arg), void *arg);

#endif
