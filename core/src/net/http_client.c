/* libcurl multi on the libuv loop: keep-alive HTTP requests with timeouts, a body cap and
 * the headers a rate limiter needs. */
#include "net/http_client.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include <agent-broker/convert.h>
#include <agent-broker/errors.h>

#include "fd_cloexec.h"
#include "log.h"
#include "net/net_buf.h"

#define HTTP_DEFAULT_MAX_BODY (8u * 1024 * 1024)
#define HTTP_DEFAULT_TIMEOUT_MS 30000u
#define HTTP_DEFAULT_CONNECT_TIMEOUT_MS 10000u
#define HTTP_MAX_HEADERS 256
#define HTTP_RETRY_AFTER_MAX_MS (24ull * 3600 * 1000) /* longer waits are not believed */

struct http_client {
    uv_loop_t *loop;          /* lent */
    CURLM *multi;             /* owned */
    uv_timer_t timer;         /* curl's single timeout */
    struct ab_http *requests; /* in flight, doubly linked */
    struct http_sock *socks;  /* watched sockets, doubly linked */
    size_t pending;
    size_t max_body;
    int open_handles; /* uv handles not yet closed: the client is freed at 0 */
    bool is_closing;
};

/* One socket curl asked us to watch. */
struct http_sock {
    uv_poll_t poll;
    struct http_sock *prev, *next;
    curl_socket_t fd;
    struct http_client *client;
};

struct ab_http {
    struct http_client *client;
    struct ab_http *prev, *next;
    CURL *easy;                     /* owned */
    struct curl_slist *req_headers; /* owned */
    char *req_body;                 /* owned copy of the request body */
    ab_http_cb cb;
    void *arg;
    const void *owner;   /* from the policy; a tag, never dereferenced */
    struct net_buf body; /* owned; NUL-terminated */
    bool is_too_big;
    int fd;                         /* owned: http_client_download's file, or -1 */
    curl_mime *mime;                /* owned: http_client_upload's form, or NULL */
    uint64_t max_file;              /* its cap, 0 = none */
    uint64_t written;               /* bytes in it */
    struct ab_http_header *headers; /* owned, strings too */
    size_t header_count, header_cap;
    uint64_t started_ms;
    char method[16];
    char errbuf[CURL_ERROR_SIZE];
};

static void http_client_dispatch(struct http_client *c);
static void http_client_maybe_free(struct http_client *c);

/* Free the response headers collected so far. */
static void
http_headers_clear(struct ab_http *r)
{
    for (size_t i = 0; i < r->header_count; i++) {
        free((char *)r->headers[i].name);
        free((char *)r->headers[i].value);
    }
    r->header_count = 0;
}

/* Release a request that is no longer attached to the multi handle. */
static void
http_request_free(struct ab_http *r)
{
    http_headers_clear(r);
    free(r->headers);
    net_buf_free(&r->body);
    free(r->req_body);
    if (r->fd >= 0)
        close(r->fd);
    if (r->mime)
        curl_mime_free(r->mime);
    curl_slist_free_all(r->req_headers);
    if (r->easy)
        curl_easy_cleanup(r->easy);
    free(r);
}

/* Unlink @r from its client and detach its easy handle. */
static void
http_request_detach(struct ab_http *r)
{
    struct http_client *c = r->client;

    curl_multi_remove_handle(c->multi, r->easy);
    if (r->prev)
        r->prev->next = r->next;
    else
        c->requests = r->next;
    if (r->next)
        r->next->prev = r->prev;
    c->pending--;
}

/* A 2xx body of a download: into its file, refusing past the cap. Returns n, or 0 to
 * fail the transfer. */
static size_t
http_on_file_body(struct ab_http *r, const char *data, size_t n)
{
    size_t off = 0;

    if (r->max_file && r->written + n > r->max_file) {
        r->is_too_big = true;
        return 0;
    }
    while (off < n) {
        ssize_t w = write(r->fd, data + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return 0;
        off += (size_t)w;
    }
    r->written += n;
    return n;
}

/* curl write callback: append to the body (or a download's file), refusing past the cap. */
static size_t
http_on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    struct ab_http *r = userp;
    size_t n = size * nmemb;
    long status = 0;
    int rc;

    if (r->fd >= 0) {
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && status < 300)
            return http_on_file_body(r, data, n);
    }
    rc = net_buf_append(&r->body, data, n, r->client->max_body);

    if (rc == AB_EFULL)
        r->is_too_big = true;
    return rc < 0 ? 0 : n; /* 0: curl fails the transfer with CURLE_WRITE_ERROR */
}

/* A copy of [p, p + n) with surrounding white space removed. */
static char *
http_trimmed(const char *p, size_t n)
{
    char *s;

    while (n && isspace((unsigned char)*p))
        p++, n--;
    while (n && isspace((unsigned char)p[n - 1]))
        n--;
    if ((s = malloc(n + 1))) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

/* curl header callback: one line at a time; a status line starts a new response (after
 * a 100 Continue, only the final response's headers remain). */
static size_t
http_on_header(char *line, size_t size, size_t nmemb, void *userp)
{
    struct ab_http *r = userp;
    size_t n = size * nmemb;
    const char *colon;
    struct ab_http_header h;

    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        http_headers_clear(r);
        return n;
    }
    if (!(colon = memchr(line, ':', n)) || colon == line || r->header_count >= HTTP_MAX_HEADERS)
        return n; /* blank line, folded continuation, or too many: ignore */
    if (r->header_count == r->header_cap) {
        size_t cap = r->header_cap ? r->header_cap * 2 : 16;
        struct ab_http_header *grown = realloc(r->headers, cap * sizeof(*grown));

        if (!grown)
            return 0;
        r->headers = grown;
        r->header_cap = cap;
    }
    h.name = http_trimmed(line, (size_t)(colon - line));
    h.value = http_trimmed(colon + 1, n - (size_t)(colon + 1 - line));
    if (!h.name || !h.value) {
        free((char *)h.name);
        free((char *)h.value);
        return 0;
    }
    r->headers[r->header_count++] = h;
    return n;
}

/* Retry-After: delta seconds or an HTTP date. */
static uint64_t
http_retry_after_ms(const char *v)
{
    char *end;
    double secs;
    time_t when, now;
    uint64_t ms = 0;

    if (!v)
        return 0;
    secs = strtod(v, &end);
    if (end != v && *end == '\0') {
        /* NaN, inf and waits past the cap are not believed: 0 means "absent". */
        if (secs > 0 && ab_double_to_u64(secs * 1000.0, 0, HTTP_RETRY_AFTER_MAX_MS, &ms) < 0)
            log_warn("http", "a Retry-After header out of range was ignored");
        return ms;
    }
    if ((when = curl_getdate(v, NULL)) < 0)
        return 0;
    now = time(NULL);
    if (when <= now)
        return 0;
    if ((uint64_t)(when - now) > HTTP_RETRY_AFTER_MAX_MS / 1000) {
        log_warn("http", "a Retry-After header out of range was ignored");
        return 0;
    }
    return (uint64_t)(when - now) * 1000;
}

/* Fill the rate-limit shortcuts of @resp from its headers. */
static void
http_rate_fields(struct ab_http_response *resp)
{
    const char *v;
    char *end;

    resp->retry_after_ms = http_retry_after_ms(ab_http_header(resp, "Retry-After"));
    resp->ratelimit_remaining = -1;
    if ((v = ab_http_header(resp, "X-RateLimit-Remaining"))) {
        long long n = strtoll(v, &end, 10);
        if (end != v && n >= 0)
            resp->ratelimit_remaining = n;
    }
    if ((v = ab_http_header(resp, "X-RateLimit-Reset-After"))) {
        double s = strtod(v, &end);
        if (end != v && s > 0 &&
            ab_double_to_u64(s * 1000.0 + 0.5, 0, HTTP_RETRY_AFTER_MAX_MS,
                             &resp->ratelimit_reset_after_ms) < 0)
            log_warn("http", "an X-RateLimit-Reset-After header out of range was ignored");
    }
    resp->ratelimit_bucket = ab_http_header(resp, "X-RateLimit-Bucket");
    v = ab_http_header(resp, "X-RateLimit-Global");
    resp->ratelimit_global = v && strcasecmp(v, "true") == 0;
}

/* Map a finished transfer to an ab_err. */
static int
http_error_of(const struct ab_http *r, CURLcode code)
{
    switch (code) {
    case CURLE_OK: return 0;
    case CURLE_OPERATION_TIMEDOUT: return AB_ETIMEDOUT;
    case CURLE_OUT_OF_MEMORY: return AB_ENOMEM;
    case CURLE_WRITE_ERROR: return r->is_too_big ? AB_EFULL : AB_EIO;
    default: return AB_EIO;
    }
}

/* Hand the outcome to the callback and release the request. */
static void
http_request_finish(struct ab_http *r, int error, const char *error_text)
{
    struct ab_http_response resp = {
        .size = sizeof(resp),
        .error = error,
        .error_text = error ? error_text : "",
        .headers = r->headers,
        .header_count = r->header_count,
        .body = r->body.data ? r->body.data : "",
        .body_len = r->fd >= 0 && r->written ? r->written : r->body.len,
    };
    char *url = NULL;

    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &resp.status);
    curl_easy_getinfo(r->easy, CURLINFO_EFFECTIVE_URL, &url);
    http_rate_fields(&resp);
    if (error)
        log_debug("http", "%s %s: %s", r->method, url ? url : "?", error_text);
    else
        log_debug("http", "%s %s -> %ld, %zu bytes in %llu ms", r->method, url ? url : "?",
                  resp.status, resp.body_len,
                  (unsigned long long)(uv_now(r->client->loop) - r->started_ms));
    r->cb(r->arg, &resp);
    http_request_free(r);
}

/* Collect every finished transfer and report it. */
static void
http_client_dispatch(struct http_client *c)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(c->multi, &left))) {
        struct ab_http *r = NULL;
        int error;
        char text[CURL_ERROR_SIZE + 64];

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        error = http_error_of(r, msg->data.result);
        if (error == AB_EFULL && r->fd >= 0 && r->max_file)
            snprintf(text, sizeof(text), "download exceeds %llu bytes",
                     (unsigned long long)r->max_file);
        else if (error == AB_EFULL)
            snprintf(text, sizeof(text), "response body exceeds %zu bytes", c->max_body);
        else
            snprintf(text, sizeof(text), "%s",
                     r->errbuf[0] ? r->errbuf : curl_easy_strerror(msg->data.result));
        http_request_detach(r);
        http_request_finish(r, error, text);
    }
}

/* A watched socket is ready (or failed): let curl act on it. */
static void
http_on_poll(uv_poll_t *handle, int status, int events)
{
    struct http_sock *s = handle->data;
    struct http_client *c = s->client;
    int flags = 0, running;

    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(c->multi, s->fd, flags, &running);
    http_client_dispatch(c);
}

/* curl's timeout expired. */
static void
http_on_timer(uv_timer_t *handle)
{
    struct http_client *c = handle->data;
    int running;

    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    http_client_dispatch(c);
}

/* A poll or the timer has closed. */
static void
http_on_handle_closed(uv_handle_t *handle)
{
    struct http_client *c;

    if (handle->type == UV_POLL) {
        struct http_sock *s = handle->data;
        c = s->client;
        free(s);
    } else {
        c = handle->data;
    }
    c->open_handles--;
    http_client_maybe_free(c);
}

/* Stop watching a socket and close its poll handle. */
static void
http_sock_close(struct http_sock *s)
{
    struct http_client *c = s->client;

    if (s->prev)
        s->prev->next = s->next;
    else
        c->socks = s->next;
    if (s->next)
        s->next->prev = s->prev;
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, http_on_handle_closed);
}

/* CURLMOPT_SOCKETFUNCTION: start, change or stop watching @fd. */
static int
http_on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct http_client *c = userp;
    struct http_sock *s = socketp;
    int events = 0;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            curl_multi_assign(c->multi, fd, NULL);
            http_sock_close(s);
        }
        return 0;
    }
    if (!s) {
        if (!(s = calloc(1, sizeof(*s))))
            return -1;
        s->fd = fd;
        s->client = c;
        if (uv_poll_init_socket(c->loop, &s->poll, fd) < 0) {
            free(s);
            return -1;
        }
        s->poll.data = s;
        c->open_handles++;
        s->next = c->socks;
        if (c->socks)
            c->socks->prev = s;
        c->socks = s;
        curl_multi_assign(c->multi, fd, s);
    }
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    return uv_poll_start(&s->poll, events, http_on_poll) < 0 ? -1 : 0;
}

/* CURLMOPT_TIMERFUNCTION: curl wants socket_action(TIMEOUT) after @timeout_ms. */
static int
http_on_timer_change(CURLM *multi, long timeout_ms, void *userp)
{
    struct http_client *c = userp;

    (void)multi;
    if (timeout_ms < 0)
        return uv_timer_stop(&c->timer) < 0 ? -1 : 0;
    /* Never call socket_action from here: curl may be inside it. */
    return uv_timer_start(&c->timer, http_on_timer, (uint64_t)timeout_ms, 0) < 0 ? -1 : 0;
}

/* Make the client: one multi handle and its timer. */
int
http_client_new(uv_loop_t *loop, const struct http_client_options *opt, struct http_client **out)
{
    struct http_client *c;
    int rc;

    if (!loop || !out)
        return AB_EINVAL;
    /* Thread-safe in curl >= 7.84 and idempotent: each call is balanced at close. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return AB_EIO;
    if (!(c = calloc(1, sizeof(*c)))) {
        rc = AB_ENOMEM;
        goto fail_global;
    }
    c->loop = loop;
    c->max_body = opt && opt->max_body ? opt->max_body : HTTP_DEFAULT_MAX_BODY;
    if (!(c->multi = curl_multi_init())) {
        rc = AB_ENOMEM;
        goto fail_client;
    }
    /* curl 7.88 opens its wakeup socketpair here without FD_CLOEXEC: mark it. */
    fd_cloexec_sweep(NULL, NULL);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, http_on_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, http_on_timer_change);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    if ((rc = uv_timer_init(loop, &c->timer)) < 0)
        goto fail_multi;
    c->timer.data = c;
    c->open_handles = 1;
    *out = c;
    return 0;

fail_multi:
    curl_multi_cleanup(c->multi);
fail_client:
    free(c);
fail_global:
    curl_global_cleanup();
    return rc;
}

/* Free the client once closing and every handle has gone. */
static void
http_client_maybe_free(struct http_client *c)
{
    if (!c->is_closing || c->open_handles > 0)
        return;
    free(c);
    curl_global_cleanup();
}

/* Cancel what is pending, drop the connection cache, close the uv handles. */
void
http_client_close(struct http_client *c)
{
    if (!c || c->is_closing)
        return;
    c->is_closing = true;
    while (c->requests) {
        struct ab_http *r = c->requests;
        http_request_detach(r);
        http_request_finish(r, AB_ECANCELED, "the HTTP client is closing");
    }
    /* Cleanup closes cached connections and calls the socket callback for each. */
    curl_multi_cleanup(c->multi);
    c->multi = NULL;
    while (c->socks)
        http_sock_close(c->socks);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, http_on_handle_closed);
}

/* A method is 1-15 upper-case letters. */
static bool
http_method_valid(const char *m)
{
    size_t n = strlen(m);

    if (n == 0 || n >= 16)
        return false;
    for (size_t i = 0; i < n; i++)
        if (m[i] < 'A' || m[i] > 'Z')
            return false;
    return true;
}

/* A header line is "Name: value" without CR or LF (no header injection). */
static bool
http_header_valid(const char *h)
{
    const char *colon = strchr(h, ':');

    return colon && colon != h && !strpbrk(h, "\r\n");
}

/* Copy the request's headers into a curl list (plus "Expect:" against 100-continue). */
static int
http_request_headers(struct ab_http *r, const struct ab_http_request *req)
{
    struct curl_slist *l;

    for (size_t i = 0; req->headers && req->headers[i]; i++) {
        if (!http_header_valid(req->headers[i]))
            return AB_EINVAL;
        if (!(l = curl_slist_append(r->req_headers, req->headers[i])))
            return AB_ENOMEM;
        r->req_headers = l;
    }
    if (!(l = curl_slist_append(r->req_headers, "Expect:")))
        return AB_ENOMEM;
    r->req_headers = l;
    return 0;
}

/* Set method and body on the easy handle. */
static int
http_request_method(struct ab_http *r, const struct ab_http_request *req)
{
    CURL *e = r->easy;
    bool has_body = req->body != NULL;

    if (has_body) {
        if (!(r->req_body = malloc(req->body_len + 1)))
            return AB_ENOMEM;
        memcpy(r->req_body, req->body, req->body_len);
        r->req_body[req->body_len] = '\0';
    }
    if (strcmp(r->method, "GET") == 0 && !has_body)
        return curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) == CURLE_OK ? 0 : AB_EINVAL;
    if (strcmp(r->method, "HEAD") == 0)
        return curl_easy_setopt(e, CURLOPT_NOBODY, 1L) == CURLE_OK ? 0 : AB_EINVAL;
    if (has_body || strcmp(r->method, "POST") == 0) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(has_body ? req->body_len : 0));
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, has_body ? r->req_body : "");
    }
    if (strcmp(r->method, "POST") != 0)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
    return 0;
}

/* Open every connection's socket close-on-exec: curl 7.88 sets no FD_CLOEXEC, and an
 * agent spawned while a keep-alive connection is open would inherit the socket. */
static curl_socket_t
http_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
    (void)arg;
    (void)purpose;
    return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

/* Configure one easy handle for @req. */
static int
http_request_setup(struct ab_http *r, const struct ab_http_request *req,
                   const struct net_policy *pol)
{
    CURL *e = r->easy;
    uint32_t timeout = req->timeout_ms ? req->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS;
    uint32_t connect =
        req->connect_timeout_ms ? req->connect_timeout_ms : HTTP_DEFAULT_CONNECT_TIMEOUT_MS;
    int rc;

    if ((rc = http_request_headers(r, req)) < 0 || (rc = http_request_method(r, req)) < 0)
        return rc;
    if (curl_easy_setopt(e, CURLOPT_URL, req->url) != CURLE_OK)
        return AB_EINVAL;
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)r);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, http_open_socket);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(connect < timeout ? connect : timeout));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->req_headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, http_on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    if (pol && pol->ca_file && curl_easy_setopt(e, CURLOPT_CAINFO, pol->ca_file) != CURLE_OK)
        return AB_EINVAL;
    return 0;
}

/* Validate, copy and start one request. */
int
http_client_request(struct http_client *c, const struct ab_http_request *req,
                    const struct net_policy *pol, ab_http_cb cb, void *arg, struct ab_http **out)
{
    struct net_url u;
    struct ab_http *r;
    const char *method;
    int rc;

    if (!c || !req || !cb || !out || req->size < offsetof(struct ab_http_request, insecure))
        return AB_EINVAL;
    if (c->is_closing)
        return AB_ECLOSED;
    method = req->method ? req->method : "GET";
    if (!http_method_valid(method) || net_url_parse(req->url, &u) < 0 ||
        (u.scheme != NET_SCHEME_HTTP && u.scheme != NET_SCHEME_HTTPS) ||
        (req->body_len && !req->body))
        return AB_EINVAL;
    if ((rc = net_url_check(&u, (pol && pol->insecure) ||
                                    (req->size > offsetof(struct ab_http_request, insecure) &&
                                     req->insecure))) < 0) {
        log_warn("http",
                 "refusing plain http:// to %s: allowed only to loopback hosts "
                 "unless insecure = true",
                 u.host);
        return rc;
    }
    if (!(r = calloc(1, sizeof(*r))))
        return AB_ENOMEM;
    r->fd = -1;
    r->client = c;
    r->cb = cb;
    r->arg = arg;
    r->owner = pol ? pol->owner : NULL;
    r->started_ms = uv_now(c->loop);
    snprintf(r->method, sizeof(r->method), "%s", method);
    if (!(r->easy = curl_easy_init())) {
        rc = AB_ENOMEM;
        goto fail;
    }
    if ((rc = http_request_setup(r, req, pol)) < 0)
        goto fail;
    if (curl_multi_add_handle(c->multi, r->easy) != CURLM_OK) {
        rc = AB_EIO;
        goto fail;
    }
    r->next = c->requests;
    if (c->requests)
        c->requests->prev = r;
    c->requests = r;
    c->pending++;
    *out = r;
    return 0;

fail:
    http_request_free(r);
    return rc;
}

/* A request whose 2xx body goes to a new file at @path; see the header. */
int
http_client_download(struct http_client *c, const struct ab_http_request *req,
                     const struct net_policy *pol, const char *path, uint64_t max_bytes,
                     ab_http_cb cb, void *arg, struct ab_http **out)
{
    int fd, rc;

    if (!path || !*path)
        return AB_EINVAL;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    if ((rc = http_client_request(c, req, pol, cb, arg, out)) < 0) {
        close(fd);
        unlink(path);
        return rc;
    }
    (*out)->fd = fd;
    (*out)->max_file = max_bytes;
    return 0;
}

/* Build @r's multipart form from @parts. */
static int
http_mime(struct ab_http *r, const struct ab_form_part *parts, size_t nparts)
{
    const char *step = (const char *)parts;

    if (!(r->mime = curl_mime_init(r->easy)))
        return AB_ENOMEM;
    for (size_t i = 0; i < nparts; i++) {
        const struct ab_form_part *p = (const struct ab_form_part *)step;
        curl_mimepart *m = curl_mime_addpart(r->mime);
        if (!m || p->size < offsetof(struct ab_form_part, path) + sizeof(p->path) || !p->name)
            return AB_EINVAL;
        step += p->size;
        if (curl_mime_name(m, p->name) != CURLE_OK)
            return AB_ENOMEM;
        if (p->path) {
            if (access(p->path, R_OK) < 0 || curl_mime_filedata(m, p->path) != CURLE_OK)
                return AB_ENOENT;
        } else if (curl_mime_data(m, p->data ? p->data : "", p->data ? p->data_len : 0) !=
                   CURLE_OK) {
            return AB_ENOMEM;
        }
        /* after filedata, which sets the file's own name: ours wins */
        if ((p->filename && curl_mime_filename(m, p->filename) != CURLE_OK) ||
            (p->content_type && curl_mime_type(m, p->content_type) != CURLE_OK))
            return AB_ENOMEM;
    }
    curl_easy_setopt(r->easy, CURLOPT_MIMEPOST, r->mime);
    return 0;
}

/* A request whose body is a multipart form; see the header. */
int
http_client_upload(struct http_client *c, const struct ab_http_request *req,
                   const struct net_policy *pol, const struct ab_form_part *parts, size_t nparts,
                   ab_http_cb cb, void *arg, struct ab_http **out)
{
    struct ab_http_request post;
    int rc;

    if (!req || !parts || nparts == 0 || req->body)
        return AB_EINVAL;
    memset(&post, 0, sizeof(post));
    memcpy(&post, req, req->size < sizeof(post) ? req->size : sizeof(post));
    if (!post.method)
        post.method = "POST";
    if ((rc = http_client_request(c, &post, pol, cb, arg, out)) < 0)
        return rc;
    /* Not started yet: curl acts on the handle only when the loop runs. */
    curl_multi_remove_handle(c->multi, (*out)->easy);
    if ((rc = http_mime(*out, parts, nparts)) < 0 ||
        curl_multi_add_handle(c->multi, (*out)->easy) != CURLM_OK) {
        http_request_detach(*out); /* removing it twice is harmless */
        http_request_free(*out);
        *out = NULL;
        return rc < 0 ? rc : AB_EIO;
    }
    return 0;
}

/* Drop a request without calling back. */
void
http_client_cancel(struct ab_http *r)
{
    if (!r)
        return;
    http_request_detach(r);
    http_request_free(r);
}

/* Drop every request of one owner (a plugin being closed). */
void
http_client_cancel_owner(struct http_client *c, const void *owner)
{
    struct ab_http *r, *next;

    for (r = c ? c->requests : NULL; r; r = next) {
        next = r->next;
        if (r->owner == owner)
            http_client_cancel(r);
    }
}

/* How many requests are in flight. */
size_t
http_client_pending(const struct http_client *c)
{
    return c ? c->pending : 0;
}
