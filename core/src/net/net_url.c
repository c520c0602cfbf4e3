/* URL parsing for the network services and the plain-text-to-loopback-only rule. */
#include "net/net_url.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

static const struct {
    const char *prefix;
    enum net_scheme scheme;
    bool is_tls;
    int port;
} net_url_schemes[] = {
    {"http://", NET_SCHEME_HTTP, false, 80},
    {"https://", NET_SCHEME_HTTPS, true, 443},
    {"ws://", NET_SCHEME_WS, false, 80},
    {"wss://", NET_SCHEME_WSS, true, 443},
};

/* Parse the port digits in [p, end): 1..65535. */
static int
net_url_port(const char *p, const char *end, int *port)
{
    long v = 0;

    if (p == end || end - p > 5)
        return AB_EINVAL;
    for (; p < end; p++) {
        if (!isdigit((unsigned char)*p))
            return AB_EINVAL;
        v = v * 10 + (*p - '0');
    }
    if (v < 1 || v > 65535)
        return AB_EINVAL;
    *port = (int)v;
    return 0;
}

/* Split the authority [p, end) into host and optional port. */
static int
net_url_authority(const char *p, const char *end, struct net_url *out)
{
    const char *host = p, *host_end, *colon = NULL;
    size_t n;

    if (memchr(p, '@', (size_t)(end - p)))
        return AB_EINVAL; /* credentials never travel in URLs */
    if (*p == '[') {
        host = p + 1;
        if (!(host_end = memchr(host, ']', (size_t)(end - host))))
            return AB_EINVAL;
        if (host_end + 1 < end) {
            if (host_end[1] != ':')
                return AB_EINVAL;
            colon = host_end + 1;
        }
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        host_end = colon ? colon : end;
    }
    n = (size_t)(host_end - host);
    if (n == 0 || n >= sizeof(out->host))
        return AB_EINVAL;
    for (size_t i = 0; i < n; i++)
        out->host[i] = (char)tolower((unsigned char)host[i]);
    out->host[n] = '\0';
    return colon ? net_url_port(colon + 1, end, &out->port) : 0;
}

/* Parse scheme, authority and path. */
int
net_url_parse(const char *url, struct net_url *out)
{
    const char *p = NULL, *auth_end, *frag;
    size_t i, n;

    if (!url || !out)
        return AB_EINVAL;
    memset(out, 0, sizeof(*out));
    for (i = 0; i < sizeof(net_url_schemes) / sizeof(net_url_schemes[0]); i++) {
        n = strlen(net_url_schemes[i].prefix);
        if (strncasecmp(url, net_url_schemes[i].prefix, n) == 0) {
            p = url + n;
            out->scheme = net_url_schemes[i].scheme;
            out->is_tls = net_url_schemes[i].is_tls;
            out->port = net_url_schemes[i].port;
            break;
        }
    }
    if (!p)
        return AB_EINVAL;
    for (const char *c = p; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f)
            return AB_EINVAL;
    /* The authority ends at the first '/', '?' or '#': "wss://h?v=10" is host "h". */
    auth_end = p + strcspn(p, "/?#");
    if (net_url_authority(p, auth_end, out) < 0)
        return AB_EINVAL;
    frag = strchr(auth_end, '#');
    n = frag ? (size_t)(frag - auth_end) : strlen(auth_end);
    /* Keep the leading '/', and supply it when the URL went straight to '?'. */
    i = 0;
    if (n == 0 || auth_end[0] != '/')
        out->path[i++] = '/';
    if (i + n >= sizeof(out->path))
        return AB_EINVAL;
    memcpy(out->path + i, auth_end, n);
    out->path[i + n] = '\0';
    return 0;
}

/* localhost, 127/8 or ::1 (also as an IPv4-mapped address). */
bool
net_url_is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (!host)
        return false;
    if (strcasecmp(host, "localhost") == 0 || strcasecmp(host, "localhost.") == 0)
        return true;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1) {
        if (IN6_IS_ADDR_LOOPBACK(&a6))
            return true;
        return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
    }
    return false;
}

/* TLS anywhere; plain text to loopback, or anywhere when the caller said insecure. */
int
net_url_check(const struct net_url *u, bool insecure)
{
    if (u->is_tls || insecure || net_url_is_loopback(u->host))
        return 0;
    return AB_ECONFIG;
}
