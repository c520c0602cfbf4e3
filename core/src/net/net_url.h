/* Parsing of the http(s):// and ws(s):// URLs handed to the host's network services,
 * and the rule that plain-text schemes go only to loopback hosts. Written for what
 * lws_parse_uri() gets wrong: the path keeps its leading '/', and "wss://h?v=10" is host
 * "h" with path "/?v=10". */
#ifndef AB_NET_URL_H
#define AB_NET_URL_H

#include <stdbool.h>
#include <stddef.h>

enum net_scheme {
    NET_SCHEME_HTTP,
    NET_SCHEME_HTTPS,
    NET_SCHEME_WS,
    NET_SCHEME_WSS,
};

/* A parsed URL. Plain data; the strings are inside the struct. */
struct net_url {
    enum net_scheme scheme;
    bool is_tls;     /* https or wss */
    char host[256];  /* without IPv6 brackets; lower case */
    int port;        /* explicit, or 80/443 by scheme */
    char path[2048]; /* always starts with '/'; query kept, fragment dropped */
};

/* What the caller allows for one request or connection. Pointers lent for the call. */
struct net_policy {
    const char *ca_file; /* PEM bundle to trust instead of the system's, or NULL */
    bool insecure;       /* plain text to non-loopback hosts allowed */
    const void *owner;   /* tag for *_owner_* calls (the plugin's host), or NULL */
};

/* Parse @url (lent for the call). AB_EINVAL for an unknown scheme, an empty or
 * over-long host, a bad port, user info, white space or control characters. */
int net_url_parse(const char *url, struct net_url *out);

/* True when @host names this machine: localhost, 127.0.0.0/8 or ::1. */
bool net_url_is_loopback(const char *host);

/* Whether a connection to @u may go ahead: TLS always; plain text only to loopback
 * unless @insecure. Returns 0 or AB_ECONFIG. */
int net_url_check(const struct net_url *u, bool insecure);

#endif
