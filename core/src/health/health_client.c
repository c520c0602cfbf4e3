/* The health check client: a blocking plain-socket GET for the CLI, and its default URL. */
#include "health/health_client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include <agent-broker/errors.h>

#include "health/health_addr.h"
#include "net/net_url.h"

/* Enough of the answer to read the status and quote the body's first line. */
#define HEALTH_CLIENT_ANSWER_MAX 4096

/* Write a reason into @why, when the caller wants one. */
static void health_client_why(char *why, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
health_client_why(char *why, size_t cap, const char *fmt, ...)
{
    va_list ap;

    if (!why || !cap)
        return;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
}

/* Milliseconds left until @deadline (uv_hrtime() nanoseconds), at least 0. */
static int
health_client_left(uint64_t deadline)
{
    uint64_t now = uv_hrtime();

    return now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
}

/* Connect to @u within the deadline. Returns the socket or a negative code. */
static int
health_client_connect(const struct net_url *u, uint64_t deadline)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *a;
    char port[8];
    int fd = -1, rc = AB_EIO;

    snprintf(port, sizeof port, "%d", u->port);
    if (getaddrinfo(u->host, port, &hints, &res) != 0)
        return AB_EIO;
    for (a = res; a; a = a->ai_next) {
        struct pollfd p;
        socklen_t len = sizeof rc;

        fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            rc = -errno;
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        if (errno != EINPROGRESS) {
            rc = -errno;
            goto next;
        }
        p = (struct pollfd){.fd = fd, .events = POLLOUT};
        if ((rc = poll(&p, 1, health_client_left(deadline))) == 0) {
            rc = AB_ETIMEDOUT;
            goto next;
        }
        if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &rc, &len) < 0) {
            rc = -errno;
            goto next;
        }
        if (rc == 0)
            break;
        rc = -rc;
    next:
        close(fd);
        fd = -1;
        if (rc == AB_ETIMEDOUT)
            break;
    }
    freeaddrinfo(res);
    return fd >= 0 ? fd : rc;
}

/* Send the request and read the answer (up to @cap - 1 bytes) until the server closes.
 * Returns the length, or a negative code. */
static int
health_client_exchange(int fd, const char *req, char *buf, size_t cap, uint64_t deadline)
{
    size_t sent = 0, len = strlen(req), got = 0;
    struct pollfd p = {.fd = fd};
    ssize_t n;

    while (got < cap - 1) {
        p.events = sent < len ? POLLOUT : POLLIN;
        if ((n = poll(&p, 1, health_client_left(deadline))) == 0)
            return AB_ETIMEDOUT;
        if (n < 0 && errno != EINTR)
            return -errno;
        if (n < 0)
            continue;
        if (sent < len) {
            if ((n = send(fd, req + sent, len - sent, MSG_NOSIGNAL)) < 0 && errno != EAGAIN &&
                errno != EINTR)
                return -errno;
            sent += n > 0 ? (size_t)n : 0;
            continue;
        }
        if ((n = recv(fd, buf + got, cap - 1 - got, 0)) == 0)
            break;
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return got ? (int)got : -errno;
        got += n > 0 ? (size_t)n : 0;
    }
    buf[got] = '\0';
    return (int)got;
}

/* One bounded GET. */
int
health_check_url(const char *url, int timeout_ms, char *why, size_t cap)
{
    char where[HEALTH_ADDR_MAX + 8], req[2400], answer[HEALTH_CLIENT_ANSWER_MAX], *body;
    struct net_url u;
    uint64_t deadline;
    long status;
    int fd, rc;

    if (timeout_ms <= 0)
        timeout_ms = HEALTH_CHECK_TIMEOUT_MS;
    deadline = uv_hrtime() + (uint64_t)timeout_ms * 1000000;
    if (!url || strncasecmp(url, "http://", 7) != 0 || net_url_parse(url, &u) < 0 ||
        u.scheme != NET_SCHEME_HTTP) {
        health_client_why(why, cap,
                          "\"%s\" is not an http:// URL (e.g. http://127.0.0.1:9464/healthz)",
                          url ? url : "");
        return AB_EINVAL;
    }
    snprintf(where, sizeof where, strchr(u.host, ':') ? "[%s]:%d" : "%s:%d", u.host, u.port);
    if (!strpbrk(url + 7, "/?#"))
        snprintf(u.path, sizeof u.path, "/healthz");
    snprintf(req, sizeof req,
             "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: agent-broker-health\r\n"
             "Accept: */*\r\nConnection: close\r\n\r\n",
             u.path, where);
    if ((fd = health_client_connect(&u, deadline)) >= 0) {
        rc = health_client_exchange(fd, req, answer, sizeof answer, deadline);
        close(fd);
    } else {
        rc = fd;
    }
    if (rc == AB_ETIMEDOUT) {
        health_client_why(why, cap, "no answer from %s within %d ms", where, timeout_ms);
        return rc;
    }
    if (rc == -ECONNREFUSED) {
        health_client_why(why, cap, "connection refused to %s", where);
        return rc;
    }
    if (rc < 0) {
        health_client_why(why, cap, "cannot connect to %s: %s", where, strerror(-rc));
        return rc;
    }
    if (rc == 0) {
        health_client_why(why, cap, "%s closed the connection without answering", where);
        return AB_EPROTO;
    }
    if (strncmp(answer, "HTTP/1.", 7) != 0 || answer[8] != ' ' ||
        (status = strtol(answer + 9, NULL, 10)) < 100) {
        health_client_why(why, cap, "GET from %s failed: not an HTTP answer", where);
        return AB_EIO;
    }
    if (status != 200) {
        body = strstr(answer, "\r\n\r\n");
        body = body ? body + 4 : answer + strlen(answer);
        body[strcspn(body, "\r\n")] = '\0';
        health_client_why(why, cap, "HTTP %ld from %s%s%s", status, where, *body ? ": " : "", body);
        return AB_EIO;
    }
    health_client_why(why, cap, "HTTP 200 from %s", where);
    return 0;
}

/* Build the URL for a listen address, mapping wildcards to loopback. */
int
health_default_url(const char *listen, char *out, size_t cap)
{
    struct sockaddr_storage addr;
    char host[HEALTH_ADDR_MAX];
    int rc, n;

    if ((rc = health_addr_parse(listen, &addr)) < 0)
        return rc;
    if (addr.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&addr;

        if (in->sin_addr.s_addr == htonl(INADDR_ANY))
            in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&addr;

        if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr))
            in6->sin6_addr = in6addr_loopback;
    }
    if ((rc = health_addr_format((const struct sockaddr *)&addr, host, sizeof host)) < 0)
        return rc;
    n = snprintf(out, cap, "http://%s/healthz", host);
    return n >= 0 && (size_t)n < cap ? 0 : -ENOBUFS;
}

/* Run the CLI check and map the result to the exit-code contract (0 ok, 1 runtime, 2 usage). */
int
health_check_command(const char *url, const char *listen)
{
    char def[HEALTH_ADDR_MAX + 24], why[512];
    int rc;

    if (!url) {
        if (!listen)
            listen = HEALTH_DEFAULT_LISTEN;
        if (health_default_url(listen, def, sizeof def) < 0) {
            fprintf(stderr,
                    "health: [health] listen = \"%s\" is not host:port — fix the config "
                    "or pass a URL, e.g. agent-broker health http://127.0.0.1:9464/healthz\n",
                    listen);
            return 2;
        }
        url = def;
    }
    rc = health_check_url(url, HEALTH_CHECK_TIMEOUT_MS, why, sizeof why);
    if (rc == 0) {
        printf("healthy: %s\n", why);
        return 0;
    }
    fprintf(stderr, "unhealthy: %s\n", why);
    return rc == AB_EINVAL ? 2 : 1;
}
