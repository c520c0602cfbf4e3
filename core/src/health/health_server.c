/* The health server: HTTP/1.1 on a libuv TCP handle, one request per connection. */
#include "health/health_server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <agent-broker/errors.h>

#include "health/health_addr.h"
#include "health/health_request.h"
#include "health/loop_lag.h"
#include "health/metrics.h"
#include "health/process_metrics.h"
#include "log.h"

#define HEALTH_BACKLOG 128
#define HEALTH_TEXT_PLAIN "text/plain; charset=utf-8"

enum health_conn_state {
    HEALTH_CONN_READING,   /* receiving the request head */
    HEALTH_CONN_WRITING,   /* answer queued, then a shutdown of our side */
    HEALTH_CONN_LINGERING, /* answered; draining input until EOF so no RST eats the answer */
    HEALTH_CONN_CLOSING,   /* handles closing */
};

struct health_conn {
    uv_tcp_t tcp;
    uv_timer_t timer; /* head timeout, then send timeout, then linger */
    uv_write_t write_req;
    uv_shutdown_t shutdown_req;
    struct health_server *srv;       /* lent: the server outlives its connections */
    struct health_conn *prev, *next; /* the server's list */
    enum health_conn_state state;
    int open_handles;
    bool has_peer_eof;
    struct sockaddr_storage peer; /* the client's address (port ignored) */
    struct health_text answer;    /* owned: the whole response while it is written */
    size_t len;                   /* bytes of head received */
    char head[HEALTH_HEAD_MAX];
};

struct health_server {
    uv_loop_t *loop; /* lent */
    uv_tcp_t listener;
    struct loop_lag lag;
    struct health_source src;
    struct health_limits limits;
    struct health_conn *conns; /* owned list */
    unsigned n_conns;
    unsigned open_handles; /* listener, lag timer and refused sockets still closing */
    bool is_closing;
    void (*done)(void *arg);
    void *done_arg;
};

static void health_conn_close(struct health_conn *conn);

/* Free the server once it is closing and its last handle has closed. */
static void
health_server_maybe_done(struct health_server *srv)
{
    void (*done)(void *) = srv->done;
    void *arg = srv->done_arg;

    if (!srv->is_closing || srv->open_handles || srv->conns)
        return;
    free(srv);
    if (done)
        done(arg);
}

/* One of the server's own handles has closed. */
static void
health_server_handle_closed(uv_handle_t *handle)
{
    struct health_server *srv = handle->data;

    srv->open_handles--;
    health_server_maybe_done(srv);
}

/* The loop-lag timer has closed. */
static void
health_server_lag_closed(void *arg)
{
    struct health_server *srv = arg;

    srv->open_handles--;
    health_server_maybe_done(srv);
}

/* One of a connection's two handles has closed; free it after the second. */
static void
health_conn_closed(uv_handle_t *handle)
{
    struct health_conn *conn = handle->data;
    struct health_server *srv = conn->srv;

    if (--conn->open_handles > 0)
        return;
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        srv->conns = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    srv->n_conns--;
    health_text_free(&conn->answer);
    free(conn);
    health_server_maybe_done(srv);
}

/* Close a connection's handles (idempotent). */
static void
health_conn_close(struct health_conn *conn)
{
    if (conn->state == HEALTH_CONN_CLOSING)
        return;
    conn->state = HEALTH_CONN_CLOSING;
    uv_close((uv_handle_t *)&conn->tcp, health_conn_closed);
    uv_close((uv_handle_t *)&conn->timer, health_conn_closed);
}

/* A send or linger deadline passed: drop the connection. */
static void
health_conn_expire(uv_timer_t *timer)
{
    health_conn_close(timer->data);
}

/* The reason phrase of the statuses this server sends. */
static const char *
health_status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return "Internal Server Error";
    }
}

/* Our side is shut down: drain the peer's input until it closes or the linger time is up. */
static void
health_conn_shut(uv_shutdown_t *req, int status)
{
    struct health_conn *conn = req->data;

    if (conn->state == HEALTH_CONN_CLOSING)
        return;
    if (status < 0 || conn->has_peer_eof) {
        health_conn_close(conn);
        return;
    }
    conn->state = HEALTH_CONN_LINGERING;
    uv_timer_start(&conn->timer, health_conn_expire, conn->srv->limits.linger_ms, 0);
}

/* The answer is written (or failed). */
static void
health_conn_written(uv_write_t *req, int status)
{
    struct health_conn *conn = req->data;

    if (status < 0)
        health_conn_close(conn);
}

/* Send a complete response with @body (lent; @body_len bytes) and close our side.
 * @extra_header is one more header line with its CRLF, or "". HEAD answers carry the
 * headers a GET would, without the body. */
static void
health_conn_respond(struct health_conn *conn, int status, const char *content_type,
                    const char *extra_header, const char *body, size_t body_len, bool is_head)
{
    struct health_text *a = &conn->answer;
    uv_buf_t buf;

    health_text_printf(a,
                       "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                       "Cache-Control: no-store\r\n%sConnection: close\r\n\r\n",
                       status, health_status_text(status), content_type, body_len, extra_header);
    if (!is_head)
        health_text_append(a, body, body_len);
    if (a->err < 0) {
        log_warn("health", "cannot build an answer: %s", ab_strerror(a->err));
        health_conn_close(conn);
        return;
    }
    conn->state = HEALTH_CONN_WRITING;
    buf = uv_buf_init(a->buf, (unsigned)a->len);
    conn->write_req.data = conn;
    conn->shutdown_req.data = conn;
    if (uv_write(&conn->write_req, (uv_stream_t *)&conn->tcp, &buf, 1, health_conn_written) < 0 ||
        uv_shutdown(&conn->shutdown_req, (uv_stream_t *)&conn->tcp, health_conn_shut) < 0) {
        health_conn_close(conn);
        return;
    }
    /* A client that does not read its answer is dropped after the same timeout. */
    uv_timer_start(&conn->timer, health_conn_expire, conn->srv->limits.head_timeout_ms, 0);
}

/* Send a short text answer. */
static void
health_conn_respond_text(struct health_conn *conn, int status, const char *text, bool is_head)
{
    health_conn_respond(conn, status, HEALTH_TEXT_PLAIN, "", text, strlen(text), is_head);
}

/* /readyz: ask the source; its reasons become the 503 body. */
static void
health_conn_readyz(struct health_conn *conn, bool is_head)
{
    const struct health_source *src = &conn->srv->src;
    struct health_text why;

    health_text_init(&why);
    if (!src->ready || src->ready(src->arg, &why)) {
        health_conn_respond_text(conn, 200, "ready\n", is_head);
    } else {
        if (why.len == 0 || why.err < 0)
            health_text_printf(&why, "%snot ready\n", why.len ? "\n" : "");
        else if (why.buf[why.len - 1] != '\n')
            health_text_append(&why, "\n", 1);
        health_conn_respond_text(conn, 503, health_text_str(&why), is_head);
    }
    health_text_free(&why);
}

/* /metrics: process metrics, loop lag, then whatever the source adds. */
static void
health_conn_metrics(struct health_conn *conn, bool is_head)
{
    struct health_server *srv = conn->srv;
    struct health_text out;

    health_text_init(&out);
    process_metrics_write(&out);
    metrics_gauge(&out, "agent_broker_loop_lag_seconds",
                  "How late the latest event-loop probe timer fired, in seconds.", NULL, 0,
                  loop_lag_latest_seconds(&srv->lag));
    metrics_gauge(&out, "agent_broker_loop_lag_max_seconds",
                  "Largest event-loop lag over the last minute, in seconds.", NULL, 0,
                  loop_lag_max_seconds(&srv->lag));
    metrics_gauge(&out, "agent_broker_health_connections", "Open connections to the health server.",
                  NULL, 0, srv->n_conns);
    if (srv->src.metrics)
        srv->src.metrics(srv->src.arg, &out);
    if (out.err < 0) {
        log_warn("health", "cannot produce /metrics: %s", ab_strerror(out.err));
        health_conn_respond_text(conn, 500, "metrics unavailable\n", is_head);
    } else {
        health_conn_respond(conn, 200, METRICS_CONTENT_TYPE, "", health_text_str(&out), out.len,
                            is_head);
    }
    health_text_free(&out);
}

/* Route a complete request head. */
static void
health_conn_request(struct health_conn *conn, size_t head_len)
{
    struct health_request req;
    bool is_get, is_head;

    if (health_request_parse(conn->head, head_len, &req) < 0) {
        health_conn_respond_text(conn, 400, "bad request\n", false);
        return;
    }
    log_debug("health", "%s %s", req.method, req.path);
    is_get = strcmp(req.method, "GET") == 0;
    is_head = strcmp(req.method, "HEAD") == 0;
    if (strcmp(req.path, "/healthz") != 0 && strcmp(req.path, "/readyz") != 0 &&
        strcmp(req.path, "/metrics") != 0)
        health_conn_respond_text(conn, 404, "not found\n", is_head);
    else if (!is_get && !is_head)
        health_conn_respond(conn, 405, HEALTH_TEXT_PLAIN, "Allow: GET, HEAD\r\n",
                            "method not allowed\n", strlen("method not allowed\n"), false);
    else if (strcmp(req.path, "/healthz") == 0)
        health_conn_respond_text(conn, 200, "ok\n", is_head);
    else if (strcmp(req.path, "/readyz") == 0)
        health_conn_readyz(conn, is_head);
    else
        health_conn_metrics(conn, is_head);
}

/* Hand libuv the rest of the head buffer; after the answer, the same buffer swallows
 * whatever the peer still sends. */
static void
health_conn_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct health_conn *conn = handle->data;

    (void)suggested;
    if (conn->state == HEALTH_CONN_READING)
        *buf = uv_buf_init(conn->head + conn->len, (unsigned)(sizeof conn->head - conn->len));
    else
        *buf = uv_buf_init(conn->head, sizeof conn->head);
}

/* Bytes (or EOF/error) from the peer. */
static void
health_conn_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct health_conn *conn = stream->data;
    size_t end;

    (void)buf;
    if (conn->state == HEALTH_CONN_CLOSING || nread == 0)
        return;
    if (nread < 0) {
        /* A peer that half-closes after its request still gets the answer being written. */
        if (nread == UV_EOF && conn->state == HEALTH_CONN_WRITING)
            conn->has_peer_eof = true;
        else
            health_conn_close(conn);
        return;
    }
    if (conn->state != HEALTH_CONN_READING)
        return;
    conn->len += (size_t)nread;
    if ((end = health_request_head_end(conn->head, conn->len)) > 0)
        health_conn_request(conn, end);
    else if (conn->len == sizeof conn->head)
        health_conn_respond_text(conn, 431, "request header too large\n", false);
}

/* The head did not arrive in time: a silent client is just dropped, a slow one told so. */
static void
health_conn_head_timeout(uv_timer_t *timer)
{
    struct health_conn *conn = timer->data;

    if (conn->len == 0)
        health_conn_close(conn);
    else
        health_conn_respond_text(conn, 408, "request timeout\n", false);
}

/* Whether two client addresses are the same host (ports ignored). */
static bool
health_peer_same(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET)
        return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
                      &((const struct sockaddr_in *)b)->sin_addr, sizeof(struct in_addr)) == 0;
    if (a->ss_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                      &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr)) == 0;
    return false;
}

/* Open connections from @conn's peer other than @conn. */
static unsigned
health_peer_count(const struct health_server *srv, const struct health_conn *conn)
{
    unsigned n = 0;

    for (const struct health_conn *c = srv->conns; c; c = c->next)
        if (c != conn && c->state != HEALTH_CONN_CLOSING && health_peer_same(&c->peer, &conn->peer))
            n++;
    return n;
}

/* The oldest connection other than @except that has sent nothing yet, from @peer's
 * address (NULL: any peer); NULL if none. The list is newest first. */
static struct health_conn *
health_oldest_silent(const struct health_server *srv, const struct health_conn *except,
                     const struct health_conn *peer)
{
    struct health_conn *found = NULL;

    for (struct health_conn *c = srv->conns; c; c = c->next)
        if (c != except && c->state == HEALTH_CONN_READING && c->len == 0 &&
            (!peer || health_peer_same(&c->peer, &peer->peer)))
            found = c;
    return found;
}

/* The peer holding the most open connections (other than @except), as one of its
 * connections; NULL when there is none. */
static const struct health_conn *
health_busiest_peer(const struct health_server *srv, const struct health_conn *except,
                    unsigned *count)
{
    const struct health_conn *best = NULL;

    *count = 0;
    for (const struct health_conn *c = srv->conns; c; c = c->next) {
        unsigned n;
        if (c == except || c->state == HEALTH_CONN_CLOSING)
            continue;
        if ((n = health_peer_count(srv, c) + 1) > *count) {
            *count = n;
            best = c;
        }
    }
    return best;
}

/* Drop @conn at once with a reset (over a cap, or pushed out by a newer one). */
static void
health_conn_reset(struct health_conn *conn)
{
    if (conn->state == HEALTH_CONN_CLOSING)
        return;
    conn->state = HEALTH_CONN_CLOSING;
    if (uv_tcp_close_reset(&conn->tcp, health_conn_closed) < 0)
        uv_close((uv_handle_t *)&conn->tcp, health_conn_closed);
    uv_close((uv_handle_t *)&conn->timer, health_conn_closed);
}

/* Make room for new @conn under the caps: push out the oldest silent connection of
 * its own peer or of the busiest one. Returns false when @conn must go instead. */
static bool
health_admit(struct health_server *srv, struct health_conn *conn)
{
    struct health_limits *l = &srv->limits;
    unsigned mine = health_peer_count(srv, conn), open = 0, busiest;
    const struct health_conn *big;
    struct health_conn *victim;

    for (const struct health_conn *c = srv->conns; c; c = c->next)
        open += c != conn && c->state != HEALTH_CONN_CLOSING;

    if (mine >= l->max_per_peer || (mine > 0 && open >= l->max_conns - l->reserve)) {
        /* The peer is at its share: its newest connection replaces its oldest silent one. */
        if (!(victim = health_oldest_silent(srv, conn, conn)))
            return false;
        health_conn_reset(victim);
        return true;
    }
    if (open < l->max_conns)
        return true;
    /* Full, and this peer has room in its share: someone else holds too much. */
    big = health_busiest_peer(srv, conn, &busiest);
    if (!big || busiest <= mine + 1 || !(victim = health_oldest_silent(srv, conn, big)))
        return false;
    health_conn_reset(victim);
    return true;
}

/* A new connection on the listener: accepted first (its address decides), then kept
 * or dropped under the caps. */
static void
health_server_accept(uv_stream_t *listener, int status)
{
    struct health_server *srv = listener->data;
    struct health_conn *conn;
    int len = sizeof(struct sockaddr_storage);

    if (status < 0) {
        log_warn("health", "accept failed: %s", uv_strerror(status));
        return;
    }
    if (!(conn = calloc(1, sizeof *conn))) {
        log_error("health", "out of memory accepting a connection");
        return;
    }
    conn->srv = srv;
    uv_tcp_init(srv->loop, &conn->tcp);
    uv_timer_init(srv->loop, &conn->timer);
    conn->tcp.data = conn;
    conn->timer.data = conn;
    conn->open_handles = 2;
    conn->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = conn;
    srv->conns = conn;
    srv->n_conns++;
    if (uv_accept(listener, (uv_stream_t *)&conn->tcp) < 0) {
        health_conn_close(conn);
        return;
    }
    if (uv_tcp_getpeername(&conn->tcp, (struct sockaddr *)&conn->peer, &len) < 0 ||
        !health_admit(srv, conn)) {
        health_conn_reset(conn);
        return;
    }
    if (uv_read_start((uv_stream_t *)&conn->tcp, health_conn_alloc, health_conn_read) < 0) {
        health_conn_close(conn);
        return;
    }
    uv_timer_start(&conn->timer, health_conn_head_timeout, srv->limits.head_timeout_ms, 0);
}

/* Bind and listen on a plain socket first: its failures (address in use, not permitted)
 * are then reported synchronously with nothing to close on the loop. */
static int
health_server_socket(const struct sockaddr_storage *addr, int *out)
{
    socklen_t len =
        addr->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    int fd, on = 1, rc;

    fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0 ||
        bind(fd, (const struct sockaddr *)addr, len) < 0 || listen(fd, HEALTH_BACKLOG) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    *out = fd;
    return 0;
}

/* Fill every zero limit with its default. */
static void
health_server_limits(struct health_limits *l, const struct health_limits *given)
{
    if (given)
        *l = *given;
    else
        memset(l, 0, sizeof *l);
    if (!l->max_conns)
        l->max_conns = HEALTH_DEFAULT_MAX_CONNS;
    if (!l->reserve)
        l->reserve = HEALTH_DEFAULT_RESERVE;
    if (l->reserve > l->max_conns / 4)
        l->reserve = l->max_conns / 4;
    if (!l->max_per_peer)
        l->max_per_peer = HEALTH_DEFAULT_MAX_PER_PEER;
    if (l->max_per_peer > l->max_conns - l->reserve)
        l->max_per_peer = l->max_conns - l->reserve;
    if (!l->head_timeout_ms)
        l->head_timeout_ms = HEALTH_DEFAULT_HEAD_TIMEOUT_MS;
    if (!l->linger_ms)
        l->linger_ms = HEALTH_DEFAULT_LINGER_MS;
    if (!l->lag_interval_ms)
        l->lag_interval_ms = LOOP_LAG_DEFAULT_INTERVAL_MS;
}

/* Start the server. */
int
health_server_start(uv_loop_t *loop, const char *listen, const struct health_source *src,
                    const struct health_limits *limits, struct health_server **out)
{
    struct sockaddr_storage addr;
    char shown[HEALTH_ADDR_MAX];
    struct health_server *srv;
    int fd = -1, rc, len;

    if ((rc = health_addr_parse(listen, &addr)) < 0) {
        log_error("health",
                  "[health] listen = \"%s\" is not an address: write host:port "
                  "with a numeric host, e.g. 127.0.0.1:9464 or [::1]:9464",
                  listen ? listen : "");
        goto fail;
    }
    if ((rc = health_server_socket(&addr, &fd)) < 0) {
        log_error("health", "cannot listen on %s: %s — pick a free port in [health] listen", listen,
                  uv_strerror(rc));
        goto fail;
    }
    if (!(srv = calloc(1, sizeof *srv))) {
        rc = AB_ENOMEM;
        goto fail_fd;
    }
    srv->loop = loop;
    if (src)
        srv->src = *src;
    health_server_limits(&srv->limits, limits);
    uv_tcp_init(loop, &srv->listener);
    srv->listener.data = srv;
    srv->open_handles = 1;
    if ((rc = uv_tcp_open(&srv->listener, fd)) < 0 ||
        (rc = uv_listen((uv_stream_t *)&srv->listener, HEALTH_BACKLOG, health_server_accept)) < 0)
        goto fail_listener;
    loop_lag_start(loop, srv->limits.lag_interval_ms, &srv->lag);
    srv->open_handles++;
    /* Show the port actually bound, which differs from the configured one for port 0. */
    len = sizeof addr;
    if (uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&addr, &len) == 0 &&
        health_addr_format((const struct sockaddr *)&addr, shown, sizeof shown) == 0)
        log_info("health", "listening on http://%s (/healthz /readyz /metrics)", shown);
    *out = srv;
    return 0;

fail_listener:
    /* The handle owns fd now; it and srv go once the close completes on the loop. */
    log_error("health", "cannot listen on %s: %s", listen, uv_strerror(rc));
    srv->is_closing = true;
    uv_close((uv_handle_t *)&srv->listener, health_server_handle_closed);
    return rc;
fail_fd:
    close(fd);
fail:
    return rc;
}

/* The bound port. */
int
health_server_port(const struct health_server *srv)
{
    struct sockaddr_storage addr;
    int len = sizeof addr, rc;

    if ((rc = uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&addr, &len)) < 0)
        return rc;
    if (addr.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
    return ntohs(((struct sockaddr_in *)&addr)->sin_port);
}

/* Close everything; the last close callback frees the server. */
void
health_server_close(struct health_server *srv, void (*done)(void *arg), void *arg)
{
    srv->is_closing = true;
    srv->done = done;
    srv->done_arg = arg;
    uv_close((uv_handle_t *)&srv->listener, health_server_handle_closed);
    loop_lag_close(&srv->lag, health_server_lag_closed, srv);
    for (struct health_conn *c = srv->conns; c; c = c->next)
        health_conn_close(c);
}
