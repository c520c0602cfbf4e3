/* How the daemon sizes its libwebsockets contexts (the WebSocket client's and the
 * ingress listener's). */
#ifndef AB_NET_LWS_LIMITS_H
#define AB_NET_LWS_LIMITS_H

/* The highest descriptor number + 1 lws may serve. lws keeps two tables indexed by
 * descriptor (8 bytes per slot each), sized by `ulimit -n` unless told less, and zeroes
 * them: 320 KB resident at a limit of 20000, 16 MB at the 1048576 containers often get.
 * The daemon holds a few descriptors per agent process and per connection; a socket
 * numbered past this is refused by lws with an error, and the connection retried. */
#define NET_LWS_MAX_FDS 4096

#endif
