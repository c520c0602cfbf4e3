/* Inbound HTTP routes on libwebsockets' HTTP server, on the daemon's libuv loop. */
#include "ingress/ingress.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* uv.h (through ingress.h) must come before libwebsockets.h. */
#include <libwebsockets.h>

#include <agent-broker/errors.h>

#include "health/health_addr.h"
#include "log.h"
#include "net/lws_limits.h"
#include "net/lws_log.h"
#include "net/net_buf.h"
#include "net/tls_errors.h"

#define INGRESS_PROTOCOL "ab-ingress"
#define INGRESS_MAX_HEADER_VALUE 4096
#define INGRESS_MAX_RESP_HEADERS 32

struct ab_http_route {
    struct ingress *in;
    struct ab_http_route *next;
    const void *owner; /* a tag */
    char *prefix;      /* owned */
    size_t prefix_len;
    char **headers; /* owned, NULL-terminated: the names the plugin asked for */
    size_t nheaders;
    size_t max_body;
    uint32_t timeout_ms;
    ab_http_route_cb cb;
    void *arg;
    struct ab_http_exchange *pending; /* exchanges not answered by the plugin yet */
};

/* One connection (lws' wsi) with its current request. */
struct ingress_conn {
    struct ingress *in;
    struct ingress_conn *prev, *next;
    struct lws *wsi;
    char peer[INET6_ADDRSTRLEN];
    /* the request being received */
    struct ab_http_route *route; /* lent; NULL between requests */
    int method;                  /* LWSHUMETH_* */
    char *path;                  /* owned */
    struct net_buf body;
    bool is_receiving; /* between the head and the whole body */
    struct ab_http_exchange *ex;
    /* the answer waiting for a writable socket */
    unsigned char *out; /* owned: LWS_PRE + head + body */
    size_t out_len;
    bool is_answering;
    bool is_body_done; /* lws reported this request's body complete */
    long long want;    /* its Content-Length, or -1 */
};

struct ab_http_exchange {
    struct ingress *in;
    struct ab_http_route *route; /* lent */
    struct ab_http_exchange *prev, *next;
    struct ingress_conn *conn; /* NULL once the client is gone or the host answered */
    uv_timer_t timer;
};

struct ingress {
    uv_loop_t *loop;         /* lent */
    struct lws_context *ctx; /* owned; lws writes NULL here once destroyed */
    struct lws_vhost *vh;
    int listen_fd; /* owned; -1 once closed */
    int port;
    uv_poll_t listen_poll;
    struct ingress_limits lim;
    struct ab_http_route *routes;
    struct ingress_conn *conns;
    unsigned nconns;
    uv_timer_t destroy_timer;
    bool is_closing;
};

static const char *const ingress_methods[] = {
    [LWSHUMETH_GET] = "GET",         [LWSHUMETH_POST] = "POST",   [LWSHUMETH_OPTIONS] = "OPTIONS",
    [LWSHUMETH_PUT] = "PUT",         [LWSHUMETH_PATCH] = "PATCH", [LWSHUMETH_DELETE] = "DELETE",
    [LWSHUMETH_CONNECT] = "CONNECT", [LWSHUMETH_HEAD] = "HEAD",
};

static int ingress_on_event(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                            size_t len);

static const struct lws_protocols ingress_protocols[] = {
    {INGRESS_PROTOCOL, ingress_on_event, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Numeric text of a socket address, without the port. */
static void
ingress_peer_text(const struct sockaddr *sa, char *out, size_t cap)
{
    const void *p = NULL;

    if (sa->sa_family == AF_INET)
        p = &((const struct sockaddr_in *)sa)->sin_addr;
    else if (sa->sa_family == AF_INET6)
        p = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (!p || !inet_ntop(sa->sa_family, p, out, (socklen_t)cap))
        snprintf(out, cap, "local");
}

/* Connections open from @peer. */
static unsigned
ingress_peer_conns(const struct ingress *in, const char *peer)
{
    unsigned n = 0;

    for (const struct ingress_conn *c = in->conns; c; c = c->next)
        n += !strcmp(c->peer, peer);
    return n;
}

/* Track a connection lws adopted from @peer. */
static int
ingress_conn_new(struct ingress *in, struct lws *wsi, const char *peer)
{
    struct ingress_conn *c = calloc(1, sizeof(*c));

    if (!c)
        return AB_ENOMEM;
    c->in = in;
    c->wsi = wsi;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    c->next = in->conns;
    if (in->conns)
        in->conns->prev = c;
    in->conns = c;
    in->nconns++;
    lws_set_opaque_user_data(wsi, c);
    return 0;
}

/* Hand the connected socket @fd (owned) from @peer to lws, within the caps. */
static int
ingress_adopt(struct ingress *in, int fd, const char *peer)
{
    struct lws *wsi;

    if (in->nconns >= in->lim.max_conns) {
        log_warn("ingress", "refusing a connection from %s: %u open (max_conns)", peer, in->nconns);
        close(fd);
        return AB_EFULL;
    }
    if (ingress_peer_conns(in, peer) >= in->lim.max_per_peer) {
        log_warn("ingress", "refusing a connection from %s: %u open from it (max_per_peer)", peer,
                 in->lim.max_per_peer);
        close(fd);
        return AB_EFULL;
    }
    /* lws owns the fd from here, whatever happens */
    if (!(wsi = lws_adopt_socket_vhost(in->vh, fd)))
        return AB_EIO;
    if (ingress_conn_new(in, wsi, peer) < 0) {
        lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, LWS_TO_KILL_ASYNC);
        return AB_ENOMEM;
    }
    /* the whole head must come within the receive timeout (a silent or slow client) */
    lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_KEEPALIVE_IDLE,
                    (int)((in->lim.receive_timeout_ms + 999) / 1000));
    return 0;
}

/* The listening socket is readable: accept what is waiting. */
static void
ingress_on_accept(uv_poll_t *p, int status, int events)
{
    struct ingress *in = p->data;
    struct sockaddr_storage ss;
    char peer[INET6_ADDRSTRLEN];

    (void)events;
    if (status < 0 || in->is_closing)
        return;
    for (int i = 0; i < 64; i++) {
        socklen_t sl = sizeof(ss);
        int fd = accept4(in->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or an error the next readiness retries */
        ingress_peer_text((struct sockaddr *)&ss, peer, sizeof(peer));
        ingress_adopt(in, fd, peer);
    }
}

/* Forget the request being received or answered on @c. */
static void
ingress_conn_reset(struct ingress_conn *c)
{
    free(c->path);
    c->path = NULL;
    net_buf_free(&c->body);
    free(c->out);
    c->out = NULL;
    c->out_len = 0;
    c->route = NULL;
    c->is_receiving = c->is_answering = c->is_body_done = false;
}

/* The exchange's timer is closed: free it. */
static void
ingress_ex_closed(uv_handle_t *h)
{
    free(h->data);
}

/* Unlink @ex from its route and connection and free it (after its timer closes). */
static void
ingress_ex_release(struct ab_http_exchange *ex)
{
    if (ex->route) {
        if (ex->prev)
            ex->prev->next = ex->next;
        else
            ex->route->pending = ex->next;
        if (ex->next)
            ex->next->prev = ex->prev;
        ex->route = NULL;
    }
    if (ex->conn) {
        ex->conn->ex = NULL;
        ex->conn = NULL;
    }
    uv_close((uv_handle_t *)&ex->timer, ingress_ex_closed);
}

/* The connection is gone (lws destroys its wsi). */
static void
ingress_conn_free(struct ingress_conn *c)
{
    struct ingress *in = c->in;

    if (c->ex)
        c->ex->conn = NULL; /* the plugin still answers it, to nobody */
    ingress_conn_reset(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        in->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    in->nconns--;
    free(c);
}

/* Whether @ch is allowed in a header name (RFC 9110 token). */
static bool
ingress_is_tchar(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Build the answer into c->out (status line and headers through lws, then the body) and
 * ask for a writable callback. AB_EINVAL for a bad status or header line. */
static int
ingress_conn_answer(struct ingress_conn *c, int status, const char *const *headers,
                    const char *body, size_t len)
{
    size_t head_cap = 512, n = 0;
    unsigned char *buf, *p, *end, *start;

    if (status < 100 || status > 599)
        return AB_EINVAL;
    for (size_t i = 0; headers && headers[i]; i++, n++) {
        const char *colon = strchr(headers[i], ':');
        if (!colon || colon == headers[i] || strpbrk(headers[i], "\r\n") ||
            n >= INGRESS_MAX_RESP_HEADERS)
            return AB_EINVAL;
        for (const char *k = headers[i]; k < colon; k++)
            if (!ingress_is_tchar((unsigned char)*k))
                return AB_EINVAL;
        head_cap += strlen(headers[i]) + 8;
    }
    if (!(buf = malloc(LWS_PRE + head_cap + len + 1)))
        return AB_ENOMEM;
    start = p = buf + LWS_PRE;
    end = start + head_cap;
    if (lws_add_http_header_status(c->wsi, (unsigned)status, &p, end) ||
        lws_add_http_header_content_length(c->wsi, len, &p, end) ||
        lws_add_http_header_by_token(c->wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close",
                                     5, &p, end))
        goto fail_head;
    for (size_t i = 0; headers && headers[i]; i++) {
        const char *colon = strchr(headers[i], ':');
        char name[128];
        const char *v = colon + 1;
        size_t nl = (size_t)(colon - headers[i]);

        if (nl + 2 > sizeof(name))
            goto fail_inval;
        memcpy(name, headers[i], nl);
        name[nl] = ':';
        name[nl + 1] = '\0';
        if (!strcasecmp(name, "content-length:") || !strcasecmp(name, "connection:") ||
            !strcasecmp(name, "transfer-encoding:"))
            continue; /* the host's */
        while (*v == ' ' || *v == '\t')
            v++;
        if (lws_add_http_header_by_name(c->wsi, (const unsigned char *)name,
                                        (const unsigned char *)v, (int)strlen(v), &p, end))
            goto fail_head;
    }
    if (lws_finalize_http_header(c->wsi, &p, end))
        goto fail_head;
    if (c->method == LWSHUMETH_HEAD)
        len = 0; /* the head says how long the body would be; none follows */
    if (len)
        memcpy(p, body, len);
    free(c->out);
    c->out = buf;
    c->out_len = (size_t)(p - start) + len;
    c->is_answering = true;
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_HTTP_CONTENT,
                    (int)(c->in->lim.receive_timeout_ms / 1000 + 1));
    lws_callback_on_writable(c->wsi);
    return 0;

fail_inval:
    free(buf);
    return AB_EINVAL;
fail_head:
    free(buf);
    return AB_EIO;
}

/* A short plain-text answer from the host itself. */
static void
ingress_conn_status(struct ingress_conn *c, int status, const char *text)
{
    static const char *const hdrs[] = {"Content-Type: text/plain; charset=utf-8", NULL};

    if (ingress_conn_answer(c, status, hdrs, text, strlen(text)) < 0)
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_HTTP_CONTENT, LWS_TO_KILL_ASYNC);
}

/* The plugin did not answer in time: 503 to the client; the exchange waits for the
 * plugin's late answer (or the route's removal). */
static void
ingress_ex_timeout(uv_timer_t *t)
{
    struct ab_http_exchange *ex = t->data;
    struct ingress_conn *c = ex->conn;

    if (!c)
        return;
    log_warn("ingress", "%s on route %s: no answer within %u ms; answering 503",
             ingress_methods[c->method], ex->route ? ex->route->prefix : "?",
             ex->route ? ex->route->timeout_ms : 0);
    c->ex = NULL;
    ex->conn = NULL;
    ingress_conn_status(c, 503, "no answer in time\n");
}

/* The route whose prefix matches @path on a segment boundary, or NULL. */
static struct ab_http_route *
ingress_route_find(struct ingress *in, const char *path)
{
    for (struct ab_http_route *r = in->routes; r; r = r->next) {
        if (strncmp(path, r->prefix, r->prefix_len))
            continue;
        char next = path[r->prefix_len];
        if (next == '\0' || next == '/' || next == '?' || r->prefix[r->prefix_len - 1] == '/')
            return r;
    }
    return NULL;
}

/* Copy one wanted header of the request into @out (malloc'd), or NULL when absent. */
static char *
ingress_header(struct lws *wsi, const char *name)
{
    char lname[128];
    size_t nl = strlen(name);
    char *v;
    int len;

    if (nl + 2 > sizeof(lname))
        return NULL;
    for (size_t i = 0; i < nl; i++)
        lname[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    lname[nl] = ':';
    lname[nl + 1] = '\0';
    /* A header lws knows has a token; any other is a custom header. */
    for (int t = 0; t < WSI_TOKEN_COUNT; t++) {
        const unsigned char *s = lws_token_to_string((enum lws_token_indexes)t);
        if (!s || strcmp((const char *)s, lname))
            continue;
        if ((len = lws_hdr_total_length(wsi, (enum lws_token_indexes)t)) <= 0 ||
            len > INGRESS_MAX_HEADER_VALUE || !(v = malloc((size_t)len + 1)))
            return NULL;
        if (lws_hdr_copy(wsi, v, len + 1, (enum lws_token_indexes)t) < 0) {
            free(v);
            return NULL;
        }
        return v;
    }
    if ((len = lws_hdr_custom_length(wsi, lname, (int)nl + 1)) <= 0 ||
        len > INGRESS_MAX_HEADER_VALUE || !(v = malloc((size_t)len + 1)))
        return NULL;
    if (lws_hdr_custom_copy(wsi, v, len + 1, lname, (int)nl + 1) < 0) {
        free(v);
        return NULL;
    }
    return v;
}

/* The whole request is in: hand it to the route. */
static void
ingress_dispatch(struct ingress_conn *c)
{
    struct ab_http_route *r = c->route;
    struct ab_http_exchange *ex;
    struct ab_http_header hdrs[16];
    char *vals[16];
    size_t nh = 0;
    struct ab_http_inbound req;

    c->is_receiving = false;
    lws_set_timeout(c->wsi, NO_PENDING_TIMEOUT, 0);
    if (!(ex = calloc(1, sizeof(*ex)))) {
        ingress_conn_status(c, 503, "out of memory\n");
        return;
    }
    ex->in = c->in;
    ex->route = r;
    ex->conn = c;
    c->ex = ex;
    ex->next = r->pending;
    if (r->pending)
        r->pending->prev = ex;
    r->pending = ex;
    uv_timer_init(c->in->loop, &ex->timer);
    ex->timer.data = ex;
    uv_timer_start(&ex->timer, ingress_ex_timeout, r->timeout_ms, 0);
    for (size_t i = 0; i < r->nheaders && nh < 16; i++) {
        char *v = ingress_header(c->wsi, r->headers[i]);
        if (!v)
            continue;
        vals[nh] = v;
        hdrs[nh].name = r->headers[i];
        hdrs[nh].value = v;
        nh++;
    }
    req = (struct ab_http_inbound){
        .size = sizeof(req),
        .method = ingress_methods[c->method],
        .path = c->path,
        .headers = hdrs,
        .header_count = nh,
        .body = c->body.data ? c->body.data : "",
        .body_len = c->body.len,
        .peer = c->peer,
    };
    r->cb(r->arg, ex, &req); /* may answer, remove the route, or neither */
    for (size_t i = 0; i < nh; i++)
        free(vals[i]);
}

/* The head of a request has arrived: find its route, check its size, start it. Returns
 * nonzero to have lws close the connection. The path (url-decoded by lws: it may hold
 * line breaks, or a webhook's secret) is never logged, only the route's prefix. */
static int
ingress_on_head(struct ingress_conn *c)
{
    struct lws *wsi = c->wsi;
    char *uri = NULL, args[2048], clen[24], te[32];
    int ulen = 0, alen, te_len;
    long long want = -1;

    ingress_conn_reset(c);
    c->method = lws_http_get_uri_and_method(wsi, &uri, &ulen);
    if (c->method < 0 || c->method > LWSHUMETH_HEAD || c->method == LWSHUMETH_CONNECT || !uri ||
        ulen <= 0 || uri[0] != '/') {
        c->method = LWSHUMETH_GET;
        ingress_conn_status(c, 400, "bad request\n");
        return 0;
    }
    alen = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
    args[0] = '\0';
    if (alen > 0 && (alen >= (int)sizeof(args) ||
                     lws_hdr_copy(wsi, args, sizeof(args), WSI_TOKEN_HTTP_URI_ARGS) < 0)) {
        ingress_conn_status(c, 414, "request target too long\n");
        return 0;
    }
    if (asprintf(&c->path, "%.*s%s%s", ulen, uri, args[0] ? "?" : "", args) < 0) {
        c->path = NULL;
        return -1;
    }
    if (!(c->route = ingress_route_find(c->in, c->path))) {
        ingress_conn_status(c, 404, "not found\n");
        return 0;
    }
    if (lws_hdr_copy(wsi, clen, sizeof(clen), WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
        want = strtoll(clen, NULL, 10);
    if (want > (long long)c->route->max_body) {
        log_warn("ingress", "%s on route %s from %s: body of %lld bytes over its %zu",
                 ingress_methods[c->method], c->route->prefix, c->peer, want, c->route->max_body);
        c->route = NULL;
        ingress_conn_status(c, 413, "request body too large\n");
        return 0;
    }
    te_len = lws_hdr_copy(wsi, te, sizeof(te), WSI_TOKEN_HTTP_TRANSFER_ENCODING);
    if (te_len != 0 && (te_len < 0 || strcasecmp(te, "chunked"))) {
        c->route = NULL;
        ingress_conn_status(c, 501, "transfer encoding not supported\n");
        return 0;
    }
    if (want > 0 || te_len > 0) {
        c->is_receiving = true; /* the body follows */
        c->want = te_len > 0 ? -1 : want;
        lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT,
                        (int)((c->in->lim.receive_timeout_ms + 999) / 1000));
        return 0;
    }
    ingress_dispatch(c);
    return 0;
}

/* Some body bytes: append within the route's cap. */
static int
ingress_on_body(struct ingress_conn *c, const void *p, size_t n)
{
    int rc;

    if (!c->is_receiving || !c->route)
        return 0; /* a refused request's stray bytes */
    if ((rc = net_buf_append(&c->body, p, n, c->route->max_body)) < 0) {
        log_warn("ingress", "%s on route %s from %s: body over its %zu bytes",
                 ingress_methods[c->method], c->route->prefix, c->peer, c->route->max_body);
        c->is_receiving = false;
        c->route = NULL;
        ingress_conn_status(c, rc == AB_EFULL ? 413 : 503,
                            rc == AB_EFULL ? "request body too large\n" : "out of memory\n");
    }
    return 0;
}

/* Write the prepared answer, then close. */
static int
ingress_on_writable(struct ingress_conn *c)
{
    if (!c->is_answering || !c->out)
        return 0;
    if (lws_write(c->wsi, c->out + LWS_PRE, c->out_len, LWS_WRITE_HTTP_FINAL) != (int)c->out_len)
        return -1;
    ingress_conn_reset(c);
    /* One request per connection (the answer says Connection: close): libwebsockets 4.1
     * mishandles a request pipelined after another — it re-read freed rx memory as the
     * next body (heap-use-after-free), or reported a body complete in a loop that never
     * returned (found by fuzz-ingress). Webhook senders open a connection per call or
     * honour the header. */
    return -1;
}

/* lws' events for the listener and its connections. */
static int
ingress_on_event(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                 size_t len)
{
    struct ingress_conn *c = lws_get_opaque_user_data(wsi);

    (void)user;
    switch (reason) {
    case LWS_CALLBACK_WSI_DESTROY:
        if (c) {
            lws_set_opaque_user_data(wsi, NULL);
            ingress_conn_free(c);
        }
        return 0;
    case LWS_CALLBACK_HTTP: return c ? ingress_on_head(c) : -1;
    case LWS_CALLBACK_HTTP_BODY: return c ? ingress_on_body(c, in, len) : -1;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (!c || c->is_body_done)
            return -1; /* lws 4.1 repeats it, without returning to the loop, for a
                          pipelined request whose client half-closed before its body:
                          drop the connection rather than spin */
        c->is_body_done = true;
        if (c->is_receiving && c->want >= 0 && c->body.len != (size_t)c->want)
            return -1; /* the client left before the body it announced: nothing to serve */
        if (c->is_receiving && c->route)
            ingress_dispatch(c);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE: return c ? ingress_on_writable(c) : -1;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: return -1; /* no WebSockets here */
    default: return 0;
    }
}

/* A non-blocking listening socket on @ss; *port gets the port bound. */
static int
ingress_listen_socket(const struct sockaddr_storage *ss, const char *addr, int *fd_out, int *port)
{
    struct sockaddr_storage got;
    socklen_t sl =
        ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    int one = 1, fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        goto fail;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)ss, sl) < 0 || listen(fd, 128) < 0)
        goto fail;
    sl = sizeof(got);
    if (getsockname(fd, (struct sockaddr *)&got, &sl) < 0)
        goto fail;
    *port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                            : ((struct sockaddr_in *)&got)->sin_port);
    *fd_out = fd;
    return 0;

fail:
    log_error("ingress", "cannot listen on %s: %s", addr, strerror(errno));
    if (fd >= 0)
        close(fd);
    return AB_EIO;
}

/* Listen on @listen. */
int
ingress_start(uv_loop_t *loop, const char *listen, const struct ingress_limits *limits,
              struct ingress **out)
{
    struct lws_context_creation_info info;
    struct sockaddr_storage ss;
    void *loops[2] = {loop, NULL};
    struct ingress *in;
    int rc;

    if (!loop || !listen || !out || health_addr_parse(listen, &ss) < 0)
        return AB_EINVAL;
    if (!(in = calloc(1, sizeof(*in))))
        return AB_ENOMEM;
    in->loop = loop;
    if (limits)
        in->lim = *limits;
    if (!in->lim.max_conns)
        in->lim.max_conns = INGRESS_DEFAULT_MAX_CONNS;
    if (!in->lim.max_per_peer)
        in->lim.max_per_peer = INGRESS_DEFAULT_MAX_PER_PEER;
    if (!in->lim.receive_timeout_ms)
        in->lim.receive_timeout_ms = INGRESS_DEFAULT_RECEIVE_TIMEOUT_MS;
    if ((rc = ingress_listen_socket(&ss, listen, &in->listen_fd, &in->port)) < 0) {
        free(in);
        return rc;
    }
    net_lws_log_init();
    tls_errors_defer(); /* before lws initialises OpenSSL */
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.foreign_loops = loops; /* read only during lws_create_context() */
    info.pcontext = &in->ctx;
    info.max_http_header_data = INGRESS_HEAD_MAX;
    info.max_http_header_pool = (unsigned short)in->lim.max_conns;
    info.timeout_secs = (in->lim.receive_timeout_ms + 999) / 1000;
    info.timeout_secs_ah_idle = info.timeout_secs;
    info.fd_limit_per_thread = NET_LWS_MAX_FDS; /* not ulimit -n: see lws_limits.h */
    if (!(in->ctx = lws_create_context(&info))) {
        log_error("ingress", "cannot create the libwebsockets context (is the "
                             "libwebsockets-evlib-uv package installed?)");
        close(in->listen_fd);
        free(in);
        return AB_EIO;
    }
    /* Sockets are accepted here (caps by peer address) and adopted by this vhost. */
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = ingress_protocols;
    info.vhost_name = "ingress";
    info.user = in;
    info.keepalive_timeout = 5;
    in->vh = lws_create_vhost(in->ctx, &info);
    uv_timer_init(loop, &in->destroy_timer);
    in->destroy_timer.data = in;
    uv_poll_init(loop, &in->listen_poll, in->listen_fd);
    in->listen_poll.data = in;
    if (!in->vh) {
        log_error("ingress", "cannot create the libwebsockets server for %s", listen);
        *out = in;
        ingress_close(in); /* the caller still runs ingress_finish() */
        return AB_EIO;
    }
    uv_poll_start(&in->listen_poll, UV_READABLE, ingress_on_accept);
    *out = in;
    return 0;
}

/* The bound port. */
int
ingress_port(const struct ingress *in)
{
    return in && in->listen_fd >= 0 ? in->port : AB_EINVAL;
}

/* Register a route. */
int
ingress_route_add(struct ingress *in, const void *owner, const struct ab_http_route_options *opt,
                  ab_http_route_cb cb, void *arg, struct ab_http_route **out)
{
    struct ab_http_route *r;
    size_t n = 0, plen;

    if (!in || !opt || !cb || !out || !opt->prefix || opt->prefix[0] != '/' ||
        opt->max_body > INGRESS_MAX_BODY_CAP || strpbrk(opt->prefix, "?# \r\n"))
        return AB_EINVAL;
    if (in->is_closing)
        return AB_ECLOSED;
    plen = strlen(opt->prefix);
    for (r = in->routes; r; r = r->next) {
        size_t m = plen < r->prefix_len ? plen : r->prefix_len;
        if (!strncmp(r->prefix, opt->prefix, m))
            return AB_EEXIST;
    }
    while (opt->headers && opt->headers[n])
        n++;
    if (n > 16 || !(r = calloc(1, sizeof(*r))))
        return n > 16 ? AB_EINVAL : AB_ENOMEM;
    if (!(r->prefix = strdup(opt->prefix)) || !(r->headers = calloc(n + 1, sizeof(char *))))
        goto fail;
    for (size_t i = 0; i < n; i++)
        if (!(r->headers[i] = strdup(opt->headers[i])))
            goto fail;
    r->in = in;
    r->owner = owner;
    r->prefix_len = plen;
    r->nheaders = n;
    r->max_body = opt->max_body ? opt->max_body : INGRESS_DEFAULT_MAX_BODY;
    r->timeout_ms = opt->timeout_ms ? opt->timeout_ms : INGRESS_DEFAULT_ANSWER_TIMEOUT_MS;
    r->cb = cb;
    r->arg = arg;
    r->next = in->routes;
    in->routes = r;
    *out = r;
    return 0;

fail:
    for (size_t i = 0; r->headers && i < n; i++)
        free(r->headers[i]);
    free(r->headers);
    free(r->prefix);
    free(r);
    return AB_ENOMEM;
}

/* Remove a route; pending exchanges get 503. */
void
ingress_route_remove(struct ab_http_route *r)
{
    struct ab_http_route **pp;

    if (!r)
        return;
    for (pp = &r->in->routes; *pp && *pp != r; pp = &(*pp)->next)
        ;
    if (*pp)
        *pp = r->next;
    while (r->pending) {
        struct ingress_conn *c = r->pending->conn;
        ingress_ex_release(r->pending);
        if (c && c->wsi && !r->in->is_closing)
            ingress_conn_status(c, 503, "shutting down\n");
    }
    /* requests still being received on this route are refused when they complete */
    for (struct ingress_conn *c = r->in->conns; c; c = c->next)
        if (c->route == r) {
            c->route = NULL;
            c->is_receiving = false;
            if (!r->in->is_closing)
                ingress_conn_status(c, 503, "shutting down\n");
        }
    for (size_t i = 0; i < r->nheaders; i++)
        free(r->headers[i]);
    free(r->headers);
    free(r->prefix);
    free(r);
}

/* Remove every route of @owner. */
void
ingress_remove_owner(struct ingress *in, const void *owner)
{
    struct ab_http_route *r, *next;

    for (r = in ? in->routes : NULL; r; r = next) {
        next = r->next;
        if (r->owner == owner)
            ingress_route_remove(r);
    }
}

/* Answer an exchange. */
int
ingress_respond(struct ab_http_exchange *ex, int status, const char *const *headers,
                const char *body, size_t len)
{
    struct ingress_conn *c;
    int rc;

    if (!ex)
        return AB_EINVAL;
    c = ex->conn;
    ingress_ex_release(ex);
    if (!c || !c->wsi)
        return AB_ECLOSED;
    if ((rc = ingress_conn_answer(c, status, headers, body, len)) < 0) {
        log_warn("ingress", "%s: a plugin's answer is malformed (%s); answering 500",
                 ingress_methods[c->method], ab_strerror(rc));
        ingress_conn_status(c, 500, "internal error\n");
    }
    return rc;
}

/* Serve an already connected socket. */
int
ingress_adopt_fd(struct ingress *in, int fd)
{
    if (!in || !in->vh || in->is_closing) {
        close(fd);
        return AB_ECLOSED;
    }
    return ingress_adopt(in, fd, "local");
}

/* Connections open now. */
unsigned
ingress_conn_count(const struct ingress *in)
{
    return in ? in->nconns : 0;
}

/* First step of lws' destruction, from a uv timer (never inside an lws callback). */
static void
ingress_destroy_tick(uv_timer_t *t)
{
    struct ingress *in = t->data;

    lws_context_destroy(in->ctx);
    uv_close((uv_handle_t *)&in->destroy_timer, NULL);
    if (in->listen_fd >= 0)
        close(in->listen_fd); /* after its poll handle stopped */
    in->listen_fd = -1;
}

/* Stop everything. */
void
ingress_close(struct ingress *in)
{
    if (!in || in->is_closing)
        return;
    in->is_closing = true;
    uv_close((uv_handle_t *)&in->listen_poll, NULL);
    while (in->routes)
        ingress_route_remove(in->routes);
    uv_timer_start(&in->destroy_timer, ingress_destroy_tick, 0, 0);
}

/* Second step: lws finishes; free. */
void
ingress_finish(struct ingress *in)
{
    if (!in)
        return;
    if (in->ctx)
        lws_context_destroy(in->ctx);
    while (in->conns)
        ingress_conn_free(in->conns);
    free(in);
}
