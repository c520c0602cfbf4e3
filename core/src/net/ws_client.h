/* The core's WebSocket client: libwebsockets on the host's libuv loop (one lws context
 * per client, created on the first connect). Hostnames are resolved with
 * uv_getaddrinfo() before every connect (lws would block the loop in getaddrinfo()), and
 * lws gets the numeric address plus the real name for Host, SNI and the certificate
 * check. Messages are reassembled from fragments up to a cap; writes are queued and go
 * out in LWS_CALLBACK_CLIENT_WRITEABLE; an idle timer pings at half the idle timeout and
 * declares the connection dead at the full one (half-open sockets). Reconnecting is the
 * caller's decision.
 *
 *   ws_client_new(loop, &c);
 *   ws_client_connect(c, &opts, &(struct net_policy){0}, &callbacks, arg, &ws);
 *   ws_client_send(ws, "{}", 2);  ws_client_disconnect(ws, 4000, "resume later");
 *   ... on_close runs once per connection; the handle is gone when it returns.
 *   Shutdown (lws needs two steps to leave nothing behind):
 *   ws_client_close(c);            // any time outside a connection callback
 *   uv_run(loop, UV_RUN_DEFAULT);  // lws closes its handles
 *   ws_client_finish(c);           // after uv_run() returned; frees c
 *   uv_run(loop, UV_RUN_DEFAULT); uv_loop_close(loop) == 0 */
#ifndef AB_NET_WS_CLIENT_H
#define AB_NET_WS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include <agent-broker/net.h>

#include "net/net_url.h"

/* Opaque. Owned by its creator until ws_client_finish(). */
struct ws_client;

/* A client on @loop (lent; must outlive the client). */
int ws_client_new(uv_loop_t *loop, struct ws_client **out);

/* Drop every connection without callbacks (a TCP close, no close frame) and start
 * destroying the lws context from a uv timer. NULL is allowed. Not from inside a
 * connection callback. */
void ws_client_close(struct ws_client *c);

/* Finish the destruction after the loop has run since ws_client_close(), then free @c.
 * Run the loop once more before uv_loop_close(). NULL is allowed. */
void ws_client_finish(struct ws_client *c);

/* True once the lws context exists: after ws_client_close() such a client needs the
 * loop to run before ws_client_finish(); without one, finish may follow at once. */
bool ws_client_has_context(const struct ws_client *c);

/* Open a connection to @opt->url. @opt, @pol and @cb are lent for the call (copied).
 * *out (owned by the client) is valid until cb->on_close returns or ws_client_abandon().
 * Returns AB_EINVAL for a bad URL or options, AB_ECONFIG for ws:// to a non-loopback host
 * without insecure, AB_ECLOSED after ws_client_close(). */
int ws_client_connect(struct ws_client *c, const struct ab_ws_options *opt,
                      const struct net_policy *pol, const struct ab_ws_callbacks *cb, void *arg,
                      struct ab_ws **out);

/* Queue one text message (@data lent for the call: copied). Messages queued before the
 * handshake finishes go out after it. AB_ECLOSED once closing, AB_EFULL when the queue
 * holds too much. */
int ws_client_send(struct ab_ws *ws, const char *data, size_t len);

/* Close with @code (1000-1003, 1007-1014, 3000-4999) and @reason (lent; cut to 123
 * bytes): queued messages go first. Before the handshake, the attempt is abandoned
 * (nothing is sent). Messages arriving after our close frame left are not delivered.
 * on_close follows, later, with this code. */
int ws_client_disconnect(struct ab_ws *ws, int code, const char *reason);

/* Forget a connection: no more callbacks; the socket is dropped without a close frame.
 * NULL is allowed. */
void ws_client_abandon(struct ab_ws *ws);

/* Abandon every connection opened with policy owner @owner. */
void ws_client_abandon_owner(struct ws_client *c, const void *owner);

#endif
