/* Listen address parsing and formatting. */
#include "health/health_addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include <agent-broker/errors.h>

/* Parse a decimal port 0..65535 spelled with digits only. */
static int
health_addr_port(const char *s, int *port)
{
    long v = 0;

    if (!*s || strlen(s) > 5)
        return AB_EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return AB_EINVAL;
        v = v * 10 + (*s - '0');
    }
    if (v > 65535)
        return AB_EINVAL;
    *port = (int)v;
    return 0;
}

/* Split @listen into host and port, then let libuv parse the numeric host. */
int
health_addr_parse(const char *listen, struct sockaddr_storage *out)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *colon, *start = listen;
    size_t len;
    int port;
    bool v6;

    if (!listen)
        return AB_EINVAL;
    v6 = listen[0] == '[';
    if (v6) {
        const char *close = strchr(listen, ']');

        if (!close || close[1] != ':')
            return AB_EINVAL;
        start = listen + 1;
        len = (size_t)(close - start);
        colon = close + 1;
    } else {
        colon = strrchr(listen, ':');
        if (!colon || memchr(listen, ':', (size_t)(colon - listen)))
            return AB_EINVAL;
        len = (size_t)(colon - listen);
    }
    if (len == 0 || len >= sizeof host || health_addr_port(colon + 1, &port) < 0)
        return AB_EINVAL;
    memcpy(host, start, len);
    host[len] = '\0';
    if (!v6 && strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    memset(out, 0, sizeof *out);
    if (v6)
        return uv_ip6_addr(host, port, (struct sockaddr_in6 *)out) == 0 ? 0 : AB_EINVAL;
    return uv_ip4_addr(host, port, (struct sockaddr_in *)out) == 0 ? 0 : AB_EINVAL;
}

/* Format an IPv4 or IPv6 socket address with its port. */
int
health_addr_format(const struct sockaddr *addr, char *out, size_t cap)
{
    char host[INET6_ADDRSTRLEN];
    int n;

    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)addr;

        uv_ip4_name(in, host, sizeof host);
        n = snprintf(out, cap, "%s:%d", host, ntohs(in->sin_port));
    } else if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;

        uv_ip6_name(in6, host, sizeof host);
        n = snprintf(out, cap, "[%s]:%d", host, ntohs(in6->sin6_port));
    } else {
        return AB_EINVAL;
    }
    return n >= 0 && (size_t)n < cap ? 0 : -ENOBUFS;
}
