/* HTTP/1.1 on the libuv loop: uv_tcp sockets, OpenSSL through memory BIOs for https (the
 * library libwebsockets already brings into the process), keep-alive connections reused
 * per host, a body cap, timeouts, and the headers a rate limiter needs. */
#include "net/http_client.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <agent-broker/convert.h>
#include <agent-broker/errors.h>

#include "log.h"
#include "net/net_buf.h"
#include "net/tls_errors.h"
#include "net/tls_trust.h"
#include "random_bytes.h"

#define HTTP_DEFAULT_MAX_BODY (8u * 1024 * 1024)
#define HTTP_DEFAULT_TIMEOUT_MS 30000u
#define HTTP_DEFAULT_CONNECT_TIMEOUT_MS 10000u
#define HTTP_MAX_HEADERS 256
#define HTTP_MAX_HEAD (64u * 1024)            /* status line, headers, a chunk-size line */
#define HTTP_MAX_ADDRS 8                      /* resolved addresses tried in order */
#define HTTP_IDLE_MAX_MS 60000u               /* an idle connection older than this is dropped */
#define HTTP_MAX_IDLE 16                      /* idle connections kept at most */
#define HTTP_UPLOAD_CHUNK (64u * 1024)        /* one file read of an upload */
#define HTTP_DOWNLOAD_HIGH (1u * 1024 * 1024) /* stop reading with this much unwritten */
#define HTTP_WRITE_BUF (64u * 1024)           /* a reusable uv_write buffer */
#define HTTP_WRITE_SPARE 8                    /* spare ones kept per connection */
#define HTTP_RETRY_AFTER_MAX_MS (24ull * 3600 * 1000) /* longer waits are not believed */

/* A CA file and the TLS context trusting it. */
struct http_tls {
    struct http_tls *next;
    char *ca_file; /* owned; NULL for the system's CAs */
    SSL_CTX *ctx;  /* owned */
};

struct http_client {
    uv_loop_t *loop;          /* lent */
    struct ab_http *requests; /* in flight, doubly linked */
    struct http_conn *idle;   /* keep-alive connections without a request */
    struct http_tls *tls;     /* owned: one context per CA file */
    size_t pending;
    size_t max_body;
    int refs; /* uv handles and requests not yet called back: the client is freed at 0 */
    bool is_closing;
};

/* One TCP (and maybe TLS) connection. Freed by its handle's close callback. */
struct http_conn {
    struct http_client *client;
    struct http_conn *next; /* in the idle list */
    uv_tcp_t tcp;
    uv_connect_t connect;
    struct ab_http *req; /* the request it serves, or NULL */
    char key[300];       /* "s|host|port|ca": who may reuse it */
    SSL *ssl;            /* owned, NULL for plain http */
    BIO *rbio, *wbio;    /* in and out of the SSL object (owned by it) */
    bool is_handshaken;
    bool is_closing;
    bool is_reused;
    uint64_t idle_since;
    size_t out_bytes;         /* written to uv and not yet completed */
    struct http_write *spare; /* owned: finished write buffers for the next writes */
    size_t nspare;
    char rx[16384];
};

/* One uv_write with its bytes; those of HTTP_WRITE_BUF are reused. */
struct http_write {
    uv_write_t req;
    struct http_conn *conn;
    struct http_write *next; /* in the connection's spares */
    size_t len, cap;
    char data[];
};

/* A piece of a request body: bytes in memory, or a file streamed from disk. */
struct http_seg {
    char *data; /* owned, or NULL for a file */
    size_t len;
    int fd; /* owned file, or -1 */
};

enum http_phase {
    PH_STATUS,
    PH_HEADERS,
    PH_BODY_LEN,
    PH_BODY_EOF,
    PH_CHUNK_SIZE,
    PH_CHUNK_DATA,
    PH_CHUNK_END,
    PH_TRAILERS,
    PH_DONE,
};

struct ab_http {
    struct http_client *client;
    struct ab_http *prev, *next;
    ab_http_cb cb;
    void *arg;
    const void *owner; /* from the policy; a tag, never dereferenced */
    struct http_conn *conn;
    /* what to send */
    char method[16];
    char host[256];
    int port;
    bool is_tls;
    char *ca_file;         /* owned or NULL */
    char *log_path;        /* owned: path without the query, for the log */
    struct net_buf head;   /* owned: the request line and headers */
    struct http_seg *segs; /* owned: the body, in order */
    size_t nsegs, seg_next;
    uint64_t seg_off;  /* read so far in the current file segment */
    char *fbuf;        /* owned: one upload read */
    bool is_streaming; /* a body with file segments, sent as the writes complete */
    /* connecting */
    uv_getaddrinfo_t gai;
    struct sockaddr_storage addrs[HTTP_MAX_ADDRS];
    size_t naddrs, addr_next;
    bool is_resolving;
    uv_timer_t timer; /* the timeout, and "fail from the loop" */
    bool is_timer_open;
    uint32_t timeout_ms, connect_timeout_ms;
    uint64_t started_ms;
    bool is_connected; /* past connect and TLS: the total timeout runs */
    /* the response */
    enum http_phase phase;
    bool is_head_only;
    bool is_keep_alive;
    bool got_bytes;
    long status;
    int minor;
    uint64_t remaining; /* of a Content-Length body or a chunk */
    struct net_buf line;
    size_t head_bytes;
    struct net_buf body; /* owned; NUL-terminated */
    bool is_too_big;
    struct ab_http_header *headers; /* owned, strings too */
    size_t header_count, header_cap;
    /* a download */
    int fd; /* owned file, or -1 */
    uint64_t max_file, written;
    struct net_buf fpend, fout; /* owned: filling, and being written (swapped, reused) */
    uv_fs_t fs;
    bool is_fs_busy;
    bool is_read_stopped;
    bool is_body_done; /* the response is complete; the file may still be writing */
    /* the end */
    char fail_text[400]; /* why the last address failed */
    bool is_done;        /* called back or cancelled: waiting for its handles */
};

static void http_conn_close(struct http_conn *c);
static void http_conn_idle(struct http_conn *c);
static void http_conn_send_more(struct http_conn *c);
static void http_conn_on_eof(struct http_conn *c, int status);
static void http_start(struct ab_http *r);
static void http_fs_next(struct ab_http *r);
static void http_client_maybe_free(struct http_client *c);
static void http_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void http_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

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

/* Free a request whose handles and operations have all finished. */
static void
http_request_free(struct ab_http *r)
{
    struct http_client *c = r->client;

    http_headers_clear(r);
    free(r->headers);
    net_buf_free(&r->body);
    net_buf_free(&r->line);
    net_buf_free(&r->head);
    for (size_t i = 0; i < r->nsegs; i++) {
        free(r->segs[i].data);
        if (r->segs[i].fd >= 0)
            close(r->segs[i].fd);
    }
    free(r->segs);
    free(r->fbuf);
    net_buf_free(&r->fpend);
    net_buf_free(&r->fout);
    if (r->fd >= 0)
        close(r->fd);
    free(r->ca_file);
    free(r->log_path);
    free(r);
    c->refs--;
    http_client_maybe_free(c);
}

/* Free @r once it is done and nothing of the loop holds it. */
static void
http_request_maybe_free(struct ab_http *r)
{
    if (r->is_done && !r->is_timer_open && !r->is_resolving && !r->is_fs_busy)
        http_request_free(r);
}

/* The request's timer has closed. */
static void
http_on_timer_closed(uv_handle_t *h)
{
    struct ab_http *r = h->data;

    r->is_timer_open = false;
    http_request_maybe_free(r);
}

/* Unlink @r, drop its connection unless @keep_conn, stop its timer and resolver. The
 * memory goes when the last of them has called back. */
static void
http_request_release(struct ab_http *r, bool keep_conn)
{
    struct http_client *c = r->client;

    if (r->is_done)
        return;
    r->is_done = true;
    if (r->prev)
        r->prev->next = r->next;
    else
        c->requests = r->next;
    if (r->next)
        r->next->prev = r->prev;
    c->pending--;
    if (r->conn) {
        r->conn->req = NULL;
        if (keep_conn)
            http_conn_idle(r->conn); /* before the callback: its next request may take it */
        else
            http_conn_close(r->conn);
        r->conn = NULL;
    }
    if (r->is_resolving)
        uv_cancel((uv_req_t *)&r->gai);
    if (r->is_timer_open) {
        uv_timer_stop(&r->timer);
        uv_close((uv_handle_t *)&r->timer, http_on_timer_closed);
    }
}

/* Retry-After: delta seconds or an HTTP date (IMF-fixdate). */
static uint64_t
http_retry_after_ms(const char *v)
{
    char *end;
    double secs;
    struct tm tm;
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
    memset(&tm, 0, sizeof(tm));
    if (!(end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm)) || *end != '\0')
        return 0;
    when = timegm(&tm);
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

/* Hand the outcome to the callback and release the request (its connection kept for
 * reuse when @keep_conn). */
static void
http_request_finish(struct ab_http *r, int error, const char *error_text, bool keep_conn)
{
    struct ab_http_response resp = {
        .size = sizeof(resp),
        .error = error,
        .error_text = error ? error_text : "",
        .status = r->phase >= PH_BODY_LEN && error != AB_ECANCELED ? r->status : 0,
        .headers = r->headers,
        .header_count = r->header_count,
        .body = r->body.data ? r->body.data : "",
        .body_len = r->fd >= 0 && r->written ? r->written : r->body.len,
    };

    struct http_client *c = r->client;

    if (r->is_done)
        return;
    http_rate_fields(&resp);
    if (error)
        log_debug("http", "%s %s:%d%s: %s", r->method, r->host, r->port, r->log_path, error_text);
    else
        log_debug("http", "%s %s:%d%s -> %ld, %zu bytes in %llu ms", r->method, r->host, r->port,
                  r->log_path, resp.status, resp.body_len,
                  (unsigned long long)(uv_now(r->client->loop) - r->started_ms));
    c->refs++; /* the client outlives the callback */
    http_request_release(r, keep_conn);
    r->cb(r->arg, &resp);
    http_request_maybe_free(r);
    c->refs--;
    http_client_maybe_free(c);
}

/* Fail @r with @error and a formatted text. */
__attribute__((format(printf, 3, 4))) static void
http_fail(struct ab_http *r, int error, const char *fmt, ...)
{
    char text[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    http_request_finish(r, error, text, false);
}

/* The timer fired: a deferred failure, or the timeout. */
static void
http_on_timer(uv_timer_t *t)
{
    struct ab_http *r = t->data;

    if (!r->is_connected)
        http_fail(r, AB_ETIMEDOUT, "connecting to %s:%d timed out after %u ms", r->host, r->port,
                  r->connect_timeout_ms < r->timeout_ms ? r->connect_timeout_ms : r->timeout_ms);
    else
        http_fail(r, AB_ETIMEDOUT, "%s:%d did not answer within %u ms", r->host, r->port,
                  r->timeout_ms);
}

/* The connection's handle has closed: free it. */
static void
http_on_conn_closed(uv_handle_t *h)
{
    struct http_conn *c = h->data;
    struct http_client *client = c->client;

    if (c->ssl)
        SSL_free(c->ssl);
    while (c->spare) {
        struct http_write *w = c->spare;
        c->spare = w->next;
        free(w);
    }
    free(c);
    client->refs--;
    http_client_maybe_free(client);
}

/* Take @c out of the idle list if it is there. */
static void
http_conn_unidle(struct http_conn *c)
{
    struct http_conn **p;

    for (p = &c->client->idle; *p; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            c->next = NULL;
            return;
        }
    }
}

/* Keep @c for the next request to its host (closing the oldest past the limit); its
 * handle stops holding the loop open. */
static void
http_conn_idle(struct http_conn *c)
{
    struct http_conn *i;
    size_t n = 0;

    if (c->is_closing)
        return;
    c->idle_since = uv_now(c->client->loop);
    c->next = c->client->idle;
    c->client->idle = c;
    uv_unref((uv_handle_t *)&c->tcp);
    for (i = c->client->idle; i && i->next; i = i->next)
        n++;
    if (n + 1 > HTTP_MAX_IDLE)
        http_conn_close(i); /* the last one is the oldest */
}

/* Close the connection (its request, if any, must have let go of it). */
static void
http_conn_close(struct http_conn *c)
{
    if (c->is_closing)
        return;
    c->is_closing = true;
    http_conn_unidle(c);
    if (c->req) {
        c->req->conn = NULL;
        c->req = NULL;
    }
    uv_close((uv_handle_t *)&c->tcp, http_on_conn_closed);
}

/* A write finished: the upload may go on. */
static void
http_on_written(uv_write_t *w, int status)
{
    struct http_write *hw = (struct http_write *)w;
    struct http_conn *c = hw->conn;

    c->out_bytes -= hw->len;
    /* Kept, not freed: a streamed body would otherwise churn the allocator per chunk. */
    if (hw->cap == HTTP_WRITE_BUF && c->nspare < HTTP_WRITE_SPARE) {
        hw->next = c->spare;
        c->spare = hw;
        c->nspare++;
    } else {
        free(hw);
    }
    if (c->is_closing)
        return;
    if (status < 0) {
        http_conn_on_eof(c, status); /* a reused connection gets a second chance */
        return;
    }
    if (c->req && c->req->is_streaming && c->out_bytes == 0)
        http_conn_send_more(c);
}

/* Write @n bytes as they are (TLS records or plain text). */
static int
http_conn_write_raw(struct http_conn *c, const void *p, size_t n)
{
    struct http_write *w;
    uv_buf_t b;
    int rc;

    if (n <= HTTP_WRITE_BUF && c->spare) {
        w = c->spare;
        c->spare = w->next;
        c->nspare--;
    } else {
        size_t cap = n <= HTTP_WRITE_BUF ? HTTP_WRITE_BUF : n;
        if (!(w = malloc(sizeof(*w) + cap)))
            return AB_ENOMEM;
        w->cap = cap;
    }
    w->conn = c;
    w->len = n;
    memcpy(w->data, p, n);
    b = uv_buf_init(w->data, (unsigned)n);
    if ((rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, http_on_written)) < 0) {
        free(w);
        return rc;
    }
    c->out_bytes += n;
    return 0;
}

/* Send what OpenSSL has produced. */
static int
http_conn_flush_tls(struct http_conn *c)
{
    char buf[16384];
    int n, rc;

    while ((n = BIO_read(c->wbio, buf, sizeof(buf))) > 0)
        if ((rc = http_conn_write_raw(c, buf, (size_t)n)) < 0)
            return rc;
    return 0;
}

/* Send @n bytes of the request. */
static int
http_conn_send(struct http_conn *c, const void *p, size_t n)
{
    if (!n)
        return 0;
    if (!c->ssl)
        return http_conn_write_raw(c, p, n);
    if (SSL_write(c->ssl, p, (int)n) != (int)n)
        return AB_EIO;
    return http_conn_flush_tls(c);
}

/* A file read of an upload finished: send it, the next read follows the write. */
static void
http_on_upload_read(uv_fs_t *fs)
{
    struct ab_http *r = fs->data;
    ssize_t n = fs->result;
    int rc;

    uv_fs_req_cleanup(fs);
    r->is_fs_busy = false;
    if (r->is_done) {
        http_request_maybe_free(r);
        return;
    }
    if (n <= 0) {
        http_fail(r, AB_EIO, "cannot read a file to upload: %s",
                  n < 0 ? uv_strerror((int)n) : "it became shorter");
        return;
    }
    r->seg_off += (uint64_t)n;
    if (r->seg_off >= r->segs[r->seg_next].len) {
        r->seg_next++;
        r->seg_off = 0;
    }
    if ((rc = http_conn_send(r->conn, r->fbuf, (size_t)n)) < 0)
        http_fail(r, AB_EIO, "cannot send to %s:%d: %s", r->host, r->port, ab_strerror(rc));
    else if (r->conn->out_bytes == 0)
        http_conn_send_more(r->conn);
}

/* Send the body's next pieces: memory ones at once, a file one read by read. */
static void
http_conn_send_more(struct http_conn *c)
{
    struct ab_http *r = c->req;
    int rc;

    while (r->seg_next < r->nsegs && !r->is_fs_busy) {
        struct http_seg *s = &r->segs[r->seg_next];
        if (s->fd < 0) {
            if ((rc = http_conn_send(c, s->data, s->len)) < 0) {
                http_fail(r, AB_EIO, "cannot send to %s:%d: %s", r->host, r->port, ab_strerror(rc));
                return;
            }
            r->seg_next++;
            continue;
        }
        if (s->len == 0) {
            r->seg_next++;
            continue;
        }
        if (!r->fbuf && !(r->fbuf = malloc(HTTP_UPLOAD_CHUNK))) {
            http_fail(r, AB_ENOMEM, "out of memory");
            return;
        }
        {
            uint64_t left = s->len - r->seg_off;
            uv_buf_t b = uv_buf_init(
                r->fbuf, (unsigned)(left < HTTP_UPLOAD_CHUNK ? left : HTTP_UPLOAD_CHUNK));
            r->fs.data = r;
            if ((rc = uv_fs_read(c->client->loop, &r->fs, s->fd, &b, 1, (int64_t)r->seg_off,
                                 http_on_upload_read)) < 0) {
                http_fail(r, AB_EIO, "cannot read a file to upload: %s", uv_strerror(rc));
                return;
            }
            r->is_fs_busy = true;
        }
        return; /* the read's callback sends and comes back */
    }
}

/* The connection is ready (TCP, and TLS if any): send the request. */
static void
http_conn_ready(struct http_conn *c)
{
    struct ab_http *r = c->req;
    int rc;

    if (!r->is_connected) {
        r->is_connected = true;
        /* The total timeout counts from the start; what is left of it now runs. */
        uint64_t spent = uv_now(c->client->loop) - r->started_ms;
        uv_timer_start(&r->timer, http_on_timer, spent < r->timeout_ms ? r->timeout_ms - spent : 0,
                       0);
    }
    if ((rc = http_conn_send(c, r->head.data, r->head.len)) < 0) {
        http_fail(r, AB_EIO, "cannot send to %s:%d: %s", r->host, r->port, ab_strerror(rc));
        return;
    }
    http_conn_send_more(c);
}

/* Copy [p, p + n) without surrounding white space. */
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

/* Keep one "Name: value" header line. */
static int
http_add_header(struct ab_http *r, const char *line, size_t n)
{
    const char *colon = memchr(line, ':', n);
    struct ab_http_header h;

    if (!colon || colon == line || r->header_count >= HTTP_MAX_HEADERS ||
        isspace((unsigned char)line[0]))
        return 0; /* folded continuation, junk, or too many: ignore */
    if (r->header_count == r->header_cap) {
        size_t cap = r->header_cap ? r->header_cap * 2 : 16;
        struct ab_http_header *grown = realloc(r->headers, cap * sizeof(*grown));

        if (!grown)
            return AB_ENOMEM;
        r->headers = grown;
        r->header_cap = cap;
    }
    h.name = http_trimmed(line, (size_t)(colon - line));
    h.value = http_trimmed(colon + 1, n - (size_t)(colon + 1 - line));
    if (!h.name || !h.value) {
        free((char *)h.name);
        free((char *)h.value);
        return AB_ENOMEM;
    }
    r->headers[r->header_count++] = h;
    return 0;
}

/* Whether the comma-separated header @name has the token @tok. */
static bool
http_header_has(const struct ab_http *r, const char *name, const char *tok)
{
    size_t n = strlen(tok);

    for (size_t i = 0; i < r->header_count; i++) {
        const char *v = r->headers[i].value;
        if (strcasecmp(r->headers[i].name, name) != 0)
            continue;
        while (*v) {
            while (*v == ' ' || *v == ',' || *v == '\t')
                v++;
            if (strncasecmp(v, tok, n) == 0 &&
                (v[n] == '\0' || v[n] == ',' || v[n] == ' ' || v[n] == ';' || v[n] == '\t'))
                return true;
            while (*v && *v != ',')
                v++;
        }
    }
    return false;
}

/* The headers are complete: how is the body framed? */
static int
http_headers_done(struct ab_http *r)
{
    const char *cl = NULL;
    char *end;

    for (size_t i = 0; i < r->header_count; i++)
        if (!strcasecmp(r->headers[i].name, "Content-Length"))
            cl = r->headers[i].value;
    r->is_keep_alive = r->minor >= 1 && !http_header_has(r, "Connection", "close");
    if (r->is_head_only || r->status == 204 || r->status == 304) {
        r->phase = PH_DONE;
    } else if (http_header_has(r, "Transfer-Encoding", "chunked")) {
        r->phase = PH_CHUNK_SIZE;
    } else if (cl) {
        errno = 0;
        unsigned long long v = strtoull(cl, &end, 10);
        if (end == cl || *end || errno || cl[0] == '-')
            return AB_EIO;
        r->remaining = v;
        r->phase = v ? PH_BODY_LEN : PH_DONE;
    } else {
        r->phase = PH_BODY_EOF;
        r->is_keep_alive = false;
    }
    return 0;
}

/* A write of the download finished: the next one, or the end. */
static void
http_on_file_written(uv_fs_t *fs)
{
    struct ab_http *r = fs->data;
    ssize_t n = fs->result;

    uv_fs_req_cleanup(fs);
    r->is_fs_busy = false;
    if (r->is_done) {
        http_request_maybe_free(r);
        return;
    }
    if (n < 0 || (size_t)n != r->fout.len) {
        http_fail(r, AB_EIO, "cannot write the download: %s",
                  n < 0 ? uv_strerror((int)n) : "short write");
        return;
    }
    r->written += r->fout.len;
    r->fout.len = 0;
    if (r->is_read_stopped && r->fpend.len < HTTP_DOWNLOAD_HIGH / 2 && r->conn) {
        r->is_read_stopped = false;
        uv_read_start((uv_stream_t *)&r->conn->tcp, http_on_alloc, http_on_read);
    }
    http_fs_next(r);
}

/* Write what has been received (one write at a time, in order; the two buffers swap
 * and are reused), or finish a complete download. */
static void
http_fs_next(struct ab_http *r)
{
    struct net_buf t;
    uv_buf_t b;
    int rc;

    if (r->is_fs_busy)
        return;
    if (!r->fpend.len) {
        if (r->is_body_done)
            http_request_finish(r, 0, "", false);
        return;
    }
    t = r->fout;
    r->fout = r->fpend;
    r->fpend = t;
    b = uv_buf_init(r->fout.data, (unsigned)r->fout.len);
    r->fs.data = r;
    if ((rc = uv_fs_write(r->client->loop, &r->fs, r->fd, &b, 1, (int64_t)r->written,
                          http_on_file_written)) < 0) {
        http_fail(r, AB_EIO, "cannot write the download: %s", uv_strerror(rc));
        return;
    }
    r->is_fs_busy = true;
}

/* Body bytes: into the download's file queue (2xx) or the in-memory body. */
static int
http_on_body(struct ab_http *r, const char *p, size_t n)
{
    int rc;

    if (r->fd >= 0 && r->status >= 200 && r->status < 300) {
        if (r->max_file && r->written + r->fout.len + r->fpend.len + n > r->max_file) {
            r->is_too_big = true;
            return AB_EFULL;
        }
        if ((rc = net_buf_append(&r->fpend, p, n, SIZE_MAX)) < 0)
            return rc;
        http_fs_next(r);
        return 0;
    }
    if ((rc = net_buf_append(&r->body, p, n, r->client->max_body)) == AB_EFULL)
        r->is_too_big = true;
    return rc;
}

/* One complete line of the head, a chunk size or the trailers (without CR LF). */
static int
http_on_line(struct ab_http *r, char *line, size_t n)
{
    char *end;
    unsigned long long v;

    switch (r->phase) {
    case PH_STATUS:
        if (n == 0)
            return 0; /* a stray CRLF before the status line */
        if (n < 12 || strncmp(line, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)line[7]) ||
            line[8] != ' ')
            return AB_EIO;
        r->minor = line[7] - '0';
        line[n] = '\0';
        r->status = strtol(line + 9, &end, 10);
        if (end != line + 12 || r->status < 100 || r->status > 999)
            return AB_EIO;
        http_headers_clear(r);
        r->phase = PH_HEADERS;
        return 0;
    case PH_HEADERS:
        if (n)
            return http_add_header(r, line, n);
        if (r->status < 200) { /* 100 Continue and friends: the real answer follows */
            r->phase = PH_STATUS;
            return 0;
        }
        return http_headers_done(r);
    case PH_CHUNK_SIZE:
        line[n] = '\0';
        errno = 0;
        v = strtoull(line, &end, 16);
        if (end == line || errno || (*end && *end != ';' && *end != ' '))
            return AB_EIO;
        r->remaining = v;
        r->phase = v ? PH_CHUNK_DATA : PH_TRAILERS;
        return 0;
    case PH_CHUNK_END:
        if (n)
            return AB_EIO;
        r->phase = PH_CHUNK_SIZE;
        return 0;
    case PH_TRAILERS:
        if (n == 0)
            r->phase = PH_DONE;
        return 0;
    default: return AB_EIO;
    }
}

/* Feed response bytes to the parser. Returns how many were used (all unless the response
 * ended before them), or an error. */
static ssize_t
http_parse(struct ab_http *r, const char *p, size_t n)
{
    size_t used = 0;
    int rc;

    r->got_bytes = true;
    while (used < n && r->phase != PH_DONE) {
        const char *q = p + used;
        size_t left = n - used;

        if (r->phase == PH_BODY_EOF || r->phase == PH_BODY_LEN || r->phase == PH_CHUNK_DATA) {
            size_t take = left;
            if (r->phase != PH_BODY_EOF && take > r->remaining)
                take = (size_t)r->remaining;
            if ((rc = http_on_body(r, q, take)) < 0)
                return rc;
            used += take;
            if (r->phase != PH_BODY_EOF && (r->remaining -= take) == 0)
                r->phase = r->phase == PH_BODY_LEN ? PH_DONE : PH_CHUNK_END;
            continue;
        }
        const char *nl = memchr(q, '\n', left);
        size_t take = nl ? (size_t)(nl - q) + 1 : left;
        if ((r->head_bytes += take) > HTTP_MAX_HEAD) {
            r->head_bytes = 0;
            return AB_EIO;
        }
        if ((rc = net_buf_append(&r->line, q, take, HTTP_MAX_HEAD)) < 0)
            return rc;
        used += take;
        if (!nl)
            continue;
        size_t len = r->line.len - 1;
        if (len && r->line.data[len - 1] == '\r')
            len--;
        r->line.len = 0;
        if ((rc = http_on_line(r, r->line.data, len)) < 0)
            return rc;
        if (r->phase == PH_CHUNK_DATA || r->phase == PH_BODY_LEN || r->phase == PH_BODY_EOF)
            r->head_bytes = 0; /* the cap is per head or chunk line, not per response */
    }
    return (ssize_t)used;
}

/* The response is complete: report it (a download once its file is written). The
 * connection is kept when the exchange ended cleanly on both sides. */
static void
http_response_done(struct ab_http *r, bool has_extra)
{
    struct http_conn *c = r->conn;
    bool keep = c && r->is_keep_alive && !has_extra && r->seg_next >= r->nsegs &&
                !(r->is_streaming && r->is_fs_busy) && (!c->ssl || !SSL_pending(c->ssl));

    if (r->fd >= 0 && r->status >= 200 && r->status < 300) {
        r->is_body_done = true; /* the file may still be writing */
        if (c) {
            c->req = NULL;
            r->conn = NULL;
            if (keep)
                http_conn_idle(c);
            else
                http_conn_close(c);
        }
        http_fs_next(r);
        return;
    }
    http_request_finish(r, 0, "", keep);
}

/* Plain bytes of the response arrived on @c. Returns false when @c must not be used
 * any more in this callback (the request ended). */
static bool
http_conn_on_plain(struct http_conn *c, const char *p, size_t n)
{
    struct ab_http *r = c->req;
    ssize_t used;

    if (!r) { /* bytes on an idle connection: the server broke the protocol */
        http_conn_close(c);
        return false;
    }
    if ((used = http_parse(r, p, n)) < 0) {
        if (used == AB_EFULL && r->fd >= 0 && r->max_file && r->status >= 200 && r->status < 300)
            http_fail(r, AB_EFULL, "download exceeds %llu bytes", (unsigned long long)r->max_file);
        else if (used == AB_EFULL)
            http_fail(r, AB_EFULL, "response body exceeds %zu bytes", c->client->max_body);
        else if (used == AB_ENOMEM)
            http_fail(r, AB_ENOMEM, "out of memory");
        else
            http_fail(r, AB_EIO, "malformed HTTP response from %s:%d", r->host, r->port);
        return false;
    }
    if (r->phase == PH_DONE) {
        http_response_done(r, (size_t)used < n);
        return false;
    }
    if (r->fd >= 0 && r->fpend.len > HTTP_DOWNLOAD_HIGH && !r->is_read_stopped) {
        r->is_read_stopped = true;
        uv_read_stop((uv_stream_t *)&c->tcp);
    }
    return true;
}

/* The peer closed (or the read failed). */
static void
http_conn_on_eof(struct http_conn *c, int status)
{
    struct ab_http *r = c->req;

    if (!r) {
        http_conn_close(c);
        return;
    }
    if (r->phase == PH_BODY_EOF && status == UV_EOF) { /* the end of the body */
        r->phase = PH_DONE;
        r->is_keep_alive = false;
        http_response_done(r, false);
        return;
    }
    if (!r->got_bytes && c->is_reused && !r->is_streaming) {
        /* A kept-alive connection the server had closed: once more on a new one. */
        r->conn = NULL;
        c->req = NULL;
        http_conn_close(c);
        r->is_connected = false;
        http_start(r);
        return;
    }
    http_fail(r, AB_EIO, "%s:%d %s the connection %s", r->host, r->port,
              status == UV_EOF ? "closed" : "reset",
              r->got_bytes ? "in the middle of the response" : "before answering");
}

/* Why the TLS handshake failed, without anything secret. */
static void
http_tls_error(struct http_conn *c, char *buf, size_t n)
{
    long v = SSL_get_verify_result(c->ssl);
    unsigned long e = ERR_get_error();

    if (v != X509_V_OK)
        snprintf(buf, n, "certificate verification failed: %s", X509_verify_cert_error_string(v));
    else if (e)
        tls_error_describe(e, buf, n);
    else
        snprintf(buf, n, "handshake failed");
    ERR_clear_error();
}

/* Encrypted bytes arrived: advance the handshake or decrypt. */
static void
http_conn_on_tls(struct http_conn *c, const char *p, size_t n)
{
    char buf[16384], why[200];
    int k;

    BIO_write(c->rbio, p, (int)n);
    if (!c->is_handshaken) {
        k = SSL_do_handshake(c->ssl);
        http_conn_flush_tls(c);
        if (k != 1) {
            int e = SSL_get_error(c->ssl, k);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                return;
            http_tls_error(c, why, sizeof(why));
            if (c->req)
                http_fail(c->req, AB_EIO, "TLS with %s:%d: %s", c->req->host, c->req->port, why);
            else
                http_conn_close(c);
            return;
        }
        c->is_handshaken = true;
        if (c->req)
            http_conn_ready(c);
    }
    while ((k = SSL_read(c->ssl, buf, sizeof(buf))) > 0)
        if (!http_conn_on_plain(c, buf, (size_t)k))
            return;
    http_conn_flush_tls(c); /* key updates, alerts */
    k = SSL_get_error(c->ssl, k);
    if (k == SSL_ERROR_ZERO_RETURN) {
        http_conn_on_eof(c, UV_EOF);
    } else if (k != SSL_ERROR_WANT_READ && k != SSL_ERROR_WANT_WRITE) {
        http_tls_error(c, why, sizeof(why));
        if (c->req)
            http_fail(c->req, AB_EIO, "TLS with %s:%d: %s", c->req->host, c->req->port, why);
        else
            http_conn_close(c);
    }
}

/* uv read buffer: the connection's own. */
static void
http_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct http_conn *c = h->data;

    (void)suggested;
    *buf = uv_buf_init(c->rx, sizeof(c->rx));
}

/* Bytes (or the end) from the socket. */
static void
http_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct http_conn *c = s->data;

    (void)buf;
    if (c->is_closing || n == 0)
        return;
    if (n < 0) {
        http_conn_on_eof(c, (int)n);
        return;
    }
    if (c->ssl)
        http_conn_on_tls(c, c->rx, (size_t)n);
    else
        http_conn_on_plain(c, c->rx, (size_t)n);
}

/* The TLS context trusting @ca_file (NULL: the system's CAs), made on first use. */
static SSL_CTX *
http_tls_ctx(struct http_client *c, const char *ca_file)
{
    struct http_tls *t;

    for (t = c->tls; t; t = t->next)
        if ((!t->ca_file && !ca_file) || (t->ca_file && ca_file && !strcmp(t->ca_file, ca_file)))
            return t->ctx;
    tls_errors_defer();
    if (!(t = calloc(1, sizeof(*t))) || (ca_file && !(t->ca_file = strdup(ca_file))) ||
        !(t->ctx = SSL_CTX_new(TLS_client_method())))
        goto fail;
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
    if (ca_file ? SSL_CTX_load_verify_locations(t->ctx, ca_file, NULL) != 1
                : tls_trust_system(t->ctx) < 0) {
        log_error("http", "cannot load the CA certificates%s%s", ca_file ? " of " : "",
                  ca_file ? ca_file : "");
        goto fail;
    }
    t->next = c->tls;
    c->tls = t;
    return t->ctx;

fail:
    ERR_clear_error();
    if (t) {
        SSL_CTX_free(t->ctx);
        free(t->ca_file);
        free(t);
    }
    return NULL;
}

/* Set up TLS on @c for @r: SNI, the name the certificate must carry. */
static int
http_conn_tls(struct http_conn *c, struct ab_http *r)
{
    SSL_CTX *ctx = http_tls_ctx(c->client, r->ca_file);
    unsigned char ip[16];
    bool is_ip = inet_pton(AF_INET, r->host, ip) == 1 || inet_pton(AF_INET6, r->host, ip) == 1;

    if (!ctx || !(c->ssl = SSL_new(ctx)))
        return AB_EIO;
    if (!(c->rbio = BIO_new(BIO_s_mem())) || !(c->wbio = BIO_new(BIO_s_mem()))) {
        BIO_free(c->rbio);
        c->rbio = NULL;
        return AB_ENOMEM;
    }
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    SSL_set_connect_state(c->ssl);
    if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), r->host) != 1
              : (SSL_set_tlsext_host_name(c->ssl, r->host) != 1 ||
                 SSL_set1_host(c->ssl, r->host) != 1))
        return AB_EIO;
    return 0;
}

/* TCP connected (or failed): start TLS, or send, or try the next address. */
static void
http_on_connect(uv_connect_t *req, int status)
{
    struct http_conn *c = req->data;
    struct ab_http *r = c->req;
    int rc;

    if (c->is_closing || !r)
        return;
    if (status < 0) {
        r->conn = NULL;
        c->req = NULL;
        http_conn_close(c);
        snprintf(r->fail_text, sizeof(r->fail_text), "cannot connect to %s:%d: %s", r->host,
                 r->port, uv_strerror(status));
        if (r->addr_next < r->naddrs)
            http_start(r);
        else
            http_fail(r, AB_EIO, "%s", r->fail_text);
        return;
    }
    if ((rc = uv_read_start((uv_stream_t *)&c->tcp, http_on_alloc, http_on_read)) < 0) {
        http_fail(r, AB_EIO, "cannot read from %s:%d: %s", r->host, r->port, uv_strerror(rc));
        return;
    }
    if (!c->ssl) {
        http_conn_ready(c);
        return;
    }
    SSL_do_handshake(c->ssl);
    if ((rc = http_conn_flush_tls(c)) < 0)
        http_fail(r, AB_EIO, "cannot send to %s:%d: %s", r->host, r->port, ab_strerror(rc));
}

/* The key of the connections @r may use. */
static void
http_conn_key(const struct ab_http *r, char *key, size_t n)
{
    snprintf(key, n, "%d|%s|%d|%s", r->is_tls, r->host, r->port, r->ca_file ? r->ca_file : "");
}

/* A kept-alive connection for @r, or NULL. Stale ones are closed on the way. */
static struct http_conn *
http_conn_take_idle(struct http_client *client, const struct ab_http *r)
{
    char key[sizeof(((struct http_conn *)0)->key)];
    struct http_conn **p = &client->idle;

    http_conn_key(r, key, sizeof(key));
    while (*p) {
        struct http_conn *c = *p;
        if (uv_now(client->loop) - c->idle_since > HTTP_IDLE_MAX_MS) {
            *p = c->next;
            c->next = NULL;
            http_conn_close(c);
            continue;
        }
        if (!strcmp(c->key, key)) {
            *p = c->next;
            c->next = NULL;
            uv_ref((uv_handle_t *)&c->tcp);
            return c;
        }
        p = &c->next;
    }
    return NULL;
}

/* Open a connection to the next resolved address. */
static void
http_connect_next(struct ab_http *r)
{
    struct http_client *client = r->client;
    struct http_conn *c;
    int rc;

    if (!(c = calloc(1, sizeof(*c)))) {
        http_fail(r, AB_ENOMEM, "out of memory");
        return;
    }
    c->client = client;
    http_conn_key(r, c->key, sizeof(c->key));
    if ((rc = uv_tcp_init(client->loop, &c->tcp)) < 0) {
        free(c);
        http_fail(r, AB_EIO, "cannot make a socket: %s", uv_strerror(rc));
        return;
    }
    client->refs++;
    c->tcp.data = c;
    c->connect.data = c;
    c->req = r;
    r->conn = c;
    uv_tcp_nodelay(&c->tcp, 1);
    if (r->is_tls && (rc = http_conn_tls(c, r)) < 0) {
        http_fail(r, rc, "cannot set up TLS for %s:%d", r->host, r->port);
        return;
    }
    if ((rc = uv_tcp_connect(&c->connect, &c->tcp,
                             (const struct sockaddr *)&r->addrs[r->addr_next++], http_on_connect)) <
        0) {
        snprintf(r->fail_text, sizeof(r->fail_text), "cannot connect to %s:%d: %s", r->host,
                 r->port, uv_strerror(rc));
        r->conn = NULL;
        c->req = NULL;
        http_conn_close(c);
        if (r->addr_next < r->naddrs)
            http_connect_next(r);
        else
            http_fail(r, AB_EIO, "%s", r->fail_text);
    }
}

/* The host is resolved: connect to its first address. */
static void
http_on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct ab_http *r = req->data;

    r->is_resolving = false;
    if (r->is_done) {
        uv_freeaddrinfo(res);
        http_request_maybe_free(r);
        return;
    }
    r->naddrs = r->addr_next = 0;
    for (struct addrinfo *a = status < 0 ? NULL : res; a && r->naddrs < HTTP_MAX_ADDRS;
         a = a->ai_next)
        if (a->ai_addrlen <= sizeof(r->addrs[0]))
            memcpy(&r->addrs[r->naddrs++], a->ai_addr, a->ai_addrlen);
    uv_freeaddrinfo(res);
    if (r->naddrs == 0) {
        http_fail(r, AB_EIO, "cannot resolve %s: %s", r->host,
                  status < 0 ? uv_strerror(status) : "no address");
        return;
    }
    http_connect_next(r);
}

/* Get @r a connection: a kept-alive one, the next resolved address, or a resolution. */
static void
http_start(struct ab_http *r)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct http_conn *c;
    char port[8];
    int rc;

    if (!r->is_streaming && (c = http_conn_take_idle(r->client, r))) {
        c->req = r;
        c->is_reused = true;
        r->conn = c;
        http_conn_ready(c);
        return;
    }
    if (r->addr_next < r->naddrs) {
        http_connect_next(r);
        return;
    }
    snprintf(port, sizeof(port), "%d", r->port);
    r->gai.data = r;
    /* Resolved off the loop (libuv's thread pool), on every new connection. */
    if ((rc = uv_getaddrinfo(r->client->loop, &r->gai, http_on_resolved, r->host, port, &hints)) <
        0) {
        http_fail(r, AB_EIO, "cannot resolve %s: %s", r->host, uv_strerror(rc));
        return;
    }
    r->is_resolving = true;
}

/* First step from the loop: never inside http_client_request(). */
static void
http_on_start_timer(uv_timer_t *t)
{
    struct ab_http *r = t->data;

    uv_timer_start(&r->timer, http_on_timer,
                   r->connect_timeout_ms < r->timeout_ms ? r->connect_timeout_ms : r->timeout_ms,
                   0);
    http_start(r);
}

/* Make the client. */
int
http_client_new(uv_loop_t *loop, const struct http_client_options *opt, struct http_client **out)
{
    struct http_client *c;

    if (!loop || !out)
        return AB_EINVAL;
    if (!(c = calloc(1, sizeof(*c))))
        return AB_ENOMEM;
    c->loop = loop;
    c->max_body = opt && opt->max_body ? opt->max_body : HTTP_DEFAULT_MAX_BODY;
    c->refs = 1; /* its own, dropped by http_client_close() */
    *out = c;
    return 0;
}

/* Free the client once it is closing and nothing refers to it. */
static void
http_client_maybe_free(struct http_client *c)
{
    struct http_tls *t, *next;

    if (!c->is_closing || c->refs > 0)
        return;
    for (t = c->tls; t; t = next) {
        next = t->next;
        SSL_CTX_free(t->ctx);
        free(t->ca_file);
        free(t);
    }
    free(c);
}

/* Cancel what is pending, close the connections. */
void
http_client_close(struct http_client *c)
{
    if (!c || c->is_closing)
        return;
    c->is_closing = true;
    c->refs++;
    while (c->requests)
        http_request_finish(c->requests, AB_ECANCELED, "the HTTP client is closing", false);
    while (c->idle)
        http_conn_close(c->idle);
    c->refs -= 2;
    http_client_maybe_free(c);
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

/* Whether the caller's headers name @name. */
static bool
http_req_has(const struct ab_http_request *req, const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; req->headers && req->headers[i]; i++)
        if (!strncasecmp(req->headers[i], name, n) && req->headers[i][n] == ':')
            return true;
    return false;
}

/* Append a formatted piece to the request head. */
__attribute__((format(printf, 2, 3))) static int
http_head_add(struct ab_http *r, const char *fmt, ...)
{
    char buf[2600];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(buf))
        return AB_EINVAL;
    return net_buf_append(&r->head, buf, (size_t)n, SIZE_MAX);
}

/* Write the request line and headers for a body of @body_len bytes (or none). */
static int
http_build_head(struct ab_http *r, const struct ab_http_request *req, const struct net_url *u,
                bool has_body, uint64_t body_len, const char *content_type)
{
    bool is_default = u->port == (u->is_tls ? 443 : 80);
    bool is_v6 = strchr(u->host, ':') != NULL;
    int rc;

    if ((rc = http_head_add(r, "%s %s HTTP/1.1\r\n", r->method, u->path)) < 0)
        return rc;
    if (!http_req_has(req, "Host") &&
        (rc = is_default ? http_head_add(r, is_v6 ? "Host: [%s]\r\n" : "Host: %s\r\n", u->host)
                         : http_head_add(r, is_v6 ? "Host: [%s]:%d\r\n" : "Host: %s:%d\r\n",
                                         u->host, u->port)) < 0)
        return rc;
    if (!http_req_has(req, "Accept") && (rc = http_head_add(r, "Accept: */*\r\n")) < 0)
        return rc;
    for (size_t i = 0; req->headers && req->headers[i]; i++) {
        if (!http_header_valid(req->headers[i]))
            return AB_EINVAL;
        if ((rc = net_buf_append(&r->head, req->headers[i], strlen(req->headers[i]), SIZE_MAX)) <
                0 ||
            (rc = net_buf_append(&r->head, "\r\n", 2, SIZE_MAX)) < 0)
            return rc;
    }
    if (content_type && (rc = http_head_add(r, "Content-Type: %s\r\n", content_type)) < 0)
        return rc;
    if (has_body &&
        (rc = http_head_add(r, "Content-Length: %llu\r\n", (unsigned long long)body_len)) < 0)
        return rc;
    return net_buf_append(&r->head, "\r\n", 2, SIZE_MAX);
}

/* Check @req against the policy and make its record (not started). */
static int
http_request_new(struct http_client *c, const struct ab_http_request *req,
                 const struct net_policy *pol, ab_http_cb cb, void *arg, struct net_url *u,
                 struct ab_http **out)
{
    struct ab_http *r;
    const char *method;
    int rc;

    if (!c || !req || !cb || !out || req->size < offsetof(struct ab_http_request, insecure))
        return AB_EINVAL;
    if (c->is_closing)
        return AB_ECLOSED;
    method = req->method ? req->method : "GET";
    if (!http_method_valid(method) || net_url_parse(req->url, u) < 0 ||
        (u->scheme != NET_SCHEME_HTTP && u->scheme != NET_SCHEME_HTTPS) ||
        (req->body_len && !req->body))
        return AB_EINVAL;
    for (size_t i = 0; req->headers && req->headers[i]; i++)
        if (!http_header_valid(req->headers[i]))
            return AB_EINVAL;
    if ((rc = net_url_check(u, (pol && pol->insecure) ||
                                   (req->size > offsetof(struct ab_http_request, insecure) &&
                                    req->insecure))) < 0) {
        log_warn("http",
                 "refusing plain http:// to %s: allowed only to loopback hosts "
                 "unless insecure = true",
                 u->host);
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
    r->timeout_ms = req->timeout_ms ? req->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS;
    r->connect_timeout_ms =
        req->connect_timeout_ms ? req->connect_timeout_ms : HTTP_DEFAULT_CONNECT_TIMEOUT_MS;
    snprintf(r->method, sizeof(r->method), "%s", method);
    snprintf(r->host, sizeof(r->host), "%s", u->host);
    r->port = u->port;
    r->is_tls = u->is_tls;
    r->is_head_only = !strcmp(method, "HEAD");
    r->log_path = strndup(u->path, strcspn(u->path, "?"));
    if (!r->log_path || (pol && pol->ca_file && !(r->ca_file = strdup(pol->ca_file)))) {
        free(r->log_path);
        free(r->ca_file);
        free(r);
        return AB_ENOMEM;
    }
    c->refs++;
    r->is_done = true; /* until started: http_request_free() is the only way out */
    *out = r;
    return 0;
}

/* Start the timer that takes @r to the loop, and list it. */
static int
http_request_start(struct ab_http *r)
{
    struct http_client *c = r->client;
    int rc;

    if ((rc = uv_timer_init(c->loop, &r->timer)) < 0)
        return rc;
    r->timer.data = r;
    r->is_timer_open = true;
    uv_timer_start(&r->timer, http_on_start_timer, 0, 0);
    r->is_done = false;
    r->next = c->requests;
    if (c->requests)
        c->requests->prev = r;
    c->requests = r;
    c->pending++;
    return 0;
}

/* Add one body segment: @data (copied) or the file @fd of @len bytes (taken). */
static int
http_seg_add(struct ab_http *r, const char *data, size_t len, int fd)
{
    struct http_seg *s = realloc(r->segs, (r->nsegs + 1) * sizeof(*s));

    if (!s)
        return AB_ENOMEM;
    r->segs = s;
    s = &s[r->nsegs];
    s->fd = fd;
    s->len = len;
    s->data = NULL;
    if (fd < 0 && !(s->data = malloc(len ? len : 1)))
        return AB_ENOMEM;
    if (fd < 0 && len && data)
        memcpy(s->data, data, len);
    r->nsegs++;
    return 0;
}

/* Validate, copy and start one request. */
int
http_client_request(struct http_client *c, const struct ab_http_request *req,
                    const struct net_policy *pol, ab_http_cb cb, void *arg, struct ab_http **out)
{
    struct net_url u;
    struct ab_http *r;
    bool has_body;
    int rc;

    if ((rc = http_request_new(c, req, pol, cb, arg, &u, &r)) < 0)
        return rc;
    has_body = req->body != NULL || !strcmp(r->method, "POST") || !strcmp(r->method, "PUT") ||
               !strcmp(r->method, "PATCH");
    if ((rc = http_build_head(r, req, &u, has_body, req->body ? req->body_len : 0, NULL)) < 0 ||
        (req->body && req->body_len && (rc = http_seg_add(r, req->body, req->body_len, -1)) < 0) ||
        (rc = http_request_start(r)) < 0)
        goto fail;
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

/* Append @s to @b with '"', CR and LF percent-encoded (as browsers do in form names). */
static int
http_quoted(struct net_buf *b, const char *s)
{
    int rc = 0;

    for (; *s && rc == 0; s++) {
        if (*s == '"')
            rc = net_buf_append(b, "%22", 3, SIZE_MAX);
        else if (*s == '\r')
            rc = net_buf_append(b, "%0D", 3, SIZE_MAX);
        else if (*s == '\n')
            rc = net_buf_append(b, "%0A", 3, SIZE_MAX);
        else
            rc = net_buf_append(b, s, 1, SIZE_MAX);
    }
    return rc;
}

/* The head of one form part. */
static int
http_part_head(struct net_buf *b, const char *boundary, const struct ab_form_part *p)
{
    const char *fname = p->filename;
    const char *ctype = p->content_type ? p->content_type
                        : p->path       ? "application/octet-stream"
                                        : NULL;
    int rc;

    if (!fname && p->path)
        fname = strrchr(p->path, '/') ? strrchr(p->path, '/') + 1 : p->path;
    if ((rc = net_buf_append(b, "--", 2, SIZE_MAX)) < 0 ||
        (rc = net_buf_append(b, boundary, strlen(boundary), SIZE_MAX)) < 0 ||
        (rc = net_buf_append(b, "\r\nContent-Disposition: form-data; name=\"", 40, SIZE_MAX)) < 0 ||
        (rc = http_quoted(b, p->name)) < 0 || (rc = net_buf_append(b, "\"", 1, SIZE_MAX)) < 0)
        return rc;
    if (fname &&
        ((rc = net_buf_append(b, "; filename=\"", 12, SIZE_MAX)) < 0 ||
         (rc = http_quoted(b, fname)) < 0 || (rc = net_buf_append(b, "\"", 1, SIZE_MAX)) < 0))
        return rc;
    if (ctype && strpbrk(ctype, "\r\n"))
        return AB_EINVAL;
    if (ctype && ((rc = net_buf_append(b, "\r\nContent-Type: ", 16, SIZE_MAX)) < 0 ||
                  (rc = net_buf_append(b, ctype, strlen(ctype), SIZE_MAX)) < 0))
        return rc;
    return net_buf_append(b, "\r\n\r\n", 4, SIZE_MAX);
}

/* Turn @parts into body segments; the total length goes to *len. */
static int
http_form(struct ab_http *r, const char *boundary, const struct ab_form_part *parts, size_t nparts,
          uint64_t *len)
{
    const char *step = (const char *)parts;
    struct net_buf b = {0};
    int rc = 0;

    *len = 0;
    for (size_t i = 0; i < nparts && rc == 0; i++) {
        const struct ab_form_part *p = (const struct ab_form_part *)step;
        struct stat st;
        int fd;

        if (p->size < offsetof(struct ab_form_part, path) + sizeof(p->path) || !p->name)
            return AB_EINVAL;
        step += p->size;
        b.len = 0;
        if ((i && (rc = net_buf_append(&b, "\r\n", 2, SIZE_MAX)) < 0) ||
            (rc = http_part_head(&b, boundary, p)) < 0)
            break;
        if (!p->path) {
            if (p->data && p->data_len &&
                (rc = net_buf_append(&b, p->data, p->data_len, SIZE_MAX)) < 0)
                break;
            *len += b.len;
            rc = http_seg_add(r, b.data, b.len, -1);
            continue;
        }
        *len += b.len;
        if ((rc = http_seg_add(r, b.data, b.len, -1)) < 0)
            break;
        /* Open and size now (metadata only; O_NONBLOCK: a FIFO in its place cannot hold the
         * loop, it is refused below); the bytes are read from the loop's pool. */
        if ((fd = open(p->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0 || fstat(fd, &st) < 0 ||
            !S_ISREG(st.st_mode)) {
            if (fd >= 0)
                close(fd);
            rc = AB_ENOENT;
            break;
        }
        if ((rc = http_seg_add(r, NULL, (size_t)st.st_size, fd)) < 0) {
            close(fd);
            break;
        }
        *len += (uint64_t)st.st_size;
        r->is_streaming = true;
    }
    if (rc == 0) {
        b.len = 0;
        if ((rc = net_buf_append(&b, "\r\n--", 4, SIZE_MAX)) == 0 &&
            (rc = net_buf_append(&b, boundary, strlen(boundary), SIZE_MAX)) == 0 &&
            (rc = net_buf_append(&b, "--\r\n", 4, SIZE_MAX)) == 0) {
            *len += b.len;
            rc = http_seg_add(r, b.data, b.len, -1);
        }
    }
    net_buf_free(&b);
    return rc;
}

/* A request whose body is a multipart form; see the header. */
int
http_client_upload(struct http_client *c, const struct ab_http_request *req,
                   const struct net_policy *pol, const struct ab_form_part *parts, size_t nparts,
                   ab_http_cb cb, void *arg, struct ab_http **out)
{
    struct ab_http_request post;
    struct net_url u;
    struct ab_http *r;
    unsigned char rnd[12];
    char boundary[64], ctype[112];
    uint64_t len;
    int rc;

    if (!req || !parts || nparts == 0 || req->body)
        return AB_EINVAL;
    memset(&post, 0, sizeof(post));
    memcpy(&post, req, req->size < sizeof(post) ? req->size : sizeof(post));
    if (!post.method)
        post.method = "POST";
    if ((rc = http_request_new(c, &post, pol, cb, arg, &u, &r)) < 0)
        return rc;
    random_bytes(rnd, sizeof(rnd));
    snprintf(boundary, sizeof(boundary), "------------------------");
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(boundary + 24 + 2 * i, 3, "%02x", rnd[i]);
    snprintf(ctype, sizeof(ctype), "multipart/form-data; boundary=%s", boundary);
    if ((rc = http_form(r, boundary, parts, nparts, &len)) < 0 ||
        (rc = http_build_head(r, &post, &u, true, len, ctype)) < 0 ||
        (rc = http_request_start(r)) < 0)
        goto fail;
    *out = r;
    return 0;

fail:
    http_request_free(r);
    return rc;
}

/* Drop a request without calling back. */
void
http_client_cancel(struct ab_http *r)
{
    struct http_client *c;

    if (!r || r->is_done)
        return;
    c = r->client;
    c->refs++;
    http_request_release(r, false);
    http_request_maybe_free(r);
    c->refs--;
    http_client_maybe_free(c);
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
