/* The ingress listener, `[ingress] listen`: inbound HTTP routes for plugins (webhook
 * platforms), served by libwebsockets' HTTP server on the daemon's libuv loop (its own
 * lws context, with a listening vhost). lws parses the request line and headers (head at
 * most INGRESS_HEAD_MAX bytes, else it answers itself); this module matches a route by
 * path prefix, enforces the route's body cap (413 from Content-Length or as bytes
 * arrive), the time to receive a request (head and body: receive_timeout_ms, then the
 * connection is dropped), the time the plugin has to answer (the route's timeout_ms, then
 * 503), connections at once and per peer address (over a cap the new connection is
 * closed at once), and hands the plugin one whole request. Answers go out when lws says
 * the socket is writable; keep-alive is lws'.
 *
 *   ingress_start(loop, "0.0.0.0:3978", NULL, &in);
 *   ingress_route_add(in, owner, &opts, on_request, arg, &route);
 *   ... on_request(arg, ex, req) -> ingress_respond(ex, 200, NULL, "", 0) (now or later)
 *   ingress_route_remove(route);
 *   Shutdown (two steps, as every lws context):
 *   ingress_close(in);             // from a loop callback, not an lws one
 *   uv_run(loop, UV_RUN_DEFAULT);
 *   ingress_finish(in);            // frees it; run the loop once more */
#ifndef AB_INGRESS_H
#define AB_INGRESS_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include <agent-broker/net.h>

#define INGRESS_HEAD_MAX 8192
#define INGRESS_DEFAULT_MAX_CONNS 256
#define INGRESS_DEFAULT_MAX_PER_PEER 64
#define INGRESS_DEFAULT_RECEIVE_TIMEOUT_MS 10000
#define INGRESS_DEFAULT_MAX_BODY (1u << 20)
#define INGRESS_MAX_BODY_CAP (16u << 20)
#define INGRESS_DEFAULT_ANSWER_TIMEOUT_MS 15000

/* Limits; a zero member takes its default. */
struct ingress_limits {
    unsigned max_conns;          /* open connections at once (256) */
    unsigned max_per_peer;       /* open connections from one address (64) */
    unsigned receive_timeout_ms; /* to receive a whole request, head and body (10 s) */
};

struct ingress;

/* Listen on @listen (lent; "host:port" or "[v6]:port", numeric, port 0 = any) on @loop
 * (lent; outlives the listener). @limits may be NULL. *out is owned by the caller until
 * ingress_finish(). Returns 0, AB_EINVAL (bad address), AB_ENOMEM or AB_EIO (cannot
 * listen: logged). On failure *out is NULL, except after a libwebsockets server could
 * not be made on a context already on the loop: then *out is set, already closing, and
 * the caller finishes it as after ingress_close(). */
int ingress_start(uv_loop_t *loop, const char *listen, const struct ingress_limits *limits,
                  struct ingress **out);

/* The port bound (useful with port 0), or a negative code. */
int ingress_port(const struct ingress *in);

/* Register a route (see ab_http_route_options in agent-broker/net.h). @owner is a tag
 * (never dereferenced) for ingress_remove_owner(). *out is owned by the ingress until
 * ingress_route_remove(). Returns 0, AB_EINVAL, AB_EEXIST, AB_ENOMEM or AB_ECLOSED. */
int ingress_route_add(struct ingress *in, const void *owner,
                      const struct ab_http_route_options *opt, ab_http_route_cb cb, void *arg,
                      struct ab_http_route **out);

/* Remove a route: its pending exchanges are answered 503 and released. NULL is allowed. */
void ingress_route_remove(struct ab_http_route *r);

/* Remove every route of @owner. */
void ingress_remove_owner(struct ingress *in, const void *owner);

/* Answer @ex (see http_respond in agent-broker/host.h); releases it. */
int ingress_respond(struct ab_http_exchange *ex, int status, const char *const *headers,
                    const char *body, size_t len);

/* Serve an already connected stream socket @fd (ownership passes to the ingress) as if
 * it had been accepted: for tests and the fuzz target, which speak over a socketpair. */
int ingress_adopt_fd(struct ingress *in, int fd);

/* Connections open now (tests). */
unsigned ingress_conn_count(const struct ingress *in);

/* Stop listening, drop every connection, remove every route; start destroying the lws
 * context. From a loop callback, never from inside a route callback. NULL is allowed. */
void ingress_close(struct ingress *in);

/* After the loop has run since ingress_close(): finish and free. NULL is allowed. */
void ingress_finish(struct ingress *in);

#endif
