/* libwebsockets' log lines into the daemon's log. lws has one log setting per process,
 * shared by the WebSocket client and the ingress listener: both call this before they
 * create their lws context. */
#ifndef AB_NET_LWS_LOG_H
#define AB_NET_LWS_LOG_H

/* Route lws' errors to warn and its warnings to debug (lws is chatty). Idempotent. */
void net_lws_log_init(void);

#endif
