/* The health check client: a blocking libcurl GET for the CLI, and its default URL. */
#include "health/health_client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <uv.h>

#include <agent-broker/errors.h>

#include "health/health_addr.h"

/* Enough of the body to quote its first line in a reason. */
#define HEALTH_CLIENT_BODY_MAX 256

struct health_client_body {
    char text[HEALTH_CLIENT_BODY_MAX];
    size_t len;
};

/* Keep the start of the body; the rest is read and dropped. */
static size_t
health_client_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct health_client_body *b = arg;
    size_t n = size * nmemb, room = sizeof b->text - 1 - b->len;

    memcpy(b->text + b->len, data, n < room ? n : room);
    b->len += n < room ? n : room;
    b->text[b->len] = '\0';
    return n;
}

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

/* Parse @url into @u: http:// only, /healthz when there is no path. Fills @where with
 * "host:port" for reasons. */
static int
health_client_url(CURLU *u, const char *url, char *where, size_t where_cap)
{
    char *host = NULL, *port = NULL, *scheme = NULL;
    const char *after;
    int rc = AB_EINVAL;

    if (strncasecmp(url, "http://", 7) != 0 ||
        curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || strcmp(scheme, "http") ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
        goto out;
    after = url + 7;
    if (!strpbrk(after, "/?#") && curl_url_set(u, CURLUPART_PATH, "/healthz", 0) != CURLUE_OK)
        goto out;
    snprintf(where, where_cap, "%s:%s", host, port);
    rc = 0;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    return rc;
}

/* Turn a libcurl failure into a code and a reason. */
static int
health_client_failure(CURL *curl, CURLcode res, const char *where, int timeout_ms, char *why,
                      size_t cap)
{
    long os_errno = 0;

    curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
    switch (res) {
    case CURLE_OPERATION_TIMEDOUT:
        health_client_why(why, cap, "no answer from %s within %d ms", where, timeout_ms);
        return AB_ETIMEDOUT;
    case CURLE_COULDNT_CONNECT:
        if (os_errno == ECONNREFUSED) {
            health_client_why(why, cap, "connection refused to %s", where);
            return -ECONNREFUSED;
        }
        health_client_why(why, cap, "cannot connect to %s: %s", where,
                          os_errno ? strerror((int)os_errno) : curl_easy_strerror(res));
        return os_errno ? -(int)os_errno : AB_EIO;
    case CURLE_GOT_NOTHING:
        health_client_why(why, cap, "%s closed the connection without answering", where);
        return AB_EPROTO;
    case CURLE_OUT_OF_MEMORY: health_client_why(why, cap, "out of memory"); return AB_ENOMEM;
    default:
        health_client_why(why, cap, "GET from %s failed: %s", where, curl_easy_strerror(res));
        return AB_EIO;
    }
}

/* One bounded GET. */
int
health_check_url(const char *url, int timeout_ms, char *why, size_t cap)
{
    struct health_client_body body = {.len = 0};
    char where[HEALTH_ADDR_MAX + 8] = "";
    CURL *curl = NULL;
    CURLU *u = NULL;
    CURLcode res;
    long status = 0;
    int rc;

    if (timeout_ms <= 0)
        timeout_ms = HEALTH_CHECK_TIMEOUT_MS;
    if (!url || !(u = curl_url())) {
        rc = url ? AB_ENOMEM : AB_EINVAL;
        goto fail;
    }
    if ((rc = health_client_url(u, url, where, sizeof where)) < 0) {
        health_client_why(why, cap,
                          "\"%s\" is not an http:// URL (e.g. http://127.0.0.1:9464/healthz)", url);
        goto fail_url;
    }
    if (!(curl = curl_easy_init())) {
        rc = AB_ENOMEM;
        goto fail_url;
    }
    curl_easy_setopt(curl, CURLOPT_CURLU, u);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(curl, CURLOPT_PROXY, "");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, health_client_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "agent-broker-health");
    res = curl_easy_perform(curl);
    if (res != CURLE_OK) {
        rc = health_client_failure(curl, res, where, timeout_ms, why, cap);
        goto fail_curl;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        body.text[strcspn(body.text, "\r\n")] = '\0';
        health_client_why(why, cap, "HTTP %ld from %s%s%s", status, where, body.len ? ": " : "",
                          body.text);
        rc = AB_EIO;
        goto fail_curl;
    }
    health_client_why(why, cap, "HTTP 200 from %s", where);
    rc = 0;

fail_curl:
    curl_easy_cleanup(curl);
fail_url:
    curl_url_cleanup(u);
fail:
    if (rc == AB_ENOMEM)
        health_client_why(why, cap, "out of memory");
    return rc;
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
