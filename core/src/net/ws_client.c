/* WebSocket connections on libwebsockets with the host's libuv loop as a foreign loop. */
#include "net/ws_client.h"

#include <netdb.h>
#include <sys/socket.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* uv.h (above, through ws_client.h) must come before libwebsockets.h. */
#include <libwebsockets.h>

#include <agent-broker/errors.h>

#include "log.h"
#include "net/lws_limits.h"
#include "net/lws_log.h"
#include "net/net_buf.h"
#include "net/tls_errors.h"
#include "net/tls_trust.h"

#define WS_DEFAULT_MAX_MESSAGE (16u * 1024 * 1024)
#define WS_MAX_QUEUED_BYTES (64u * 1024 * 1024)
#define WS_PROTOCOL_NAME "ab-ws"
#define WS_MAX_ADDRS 8
/* lws' private LWS_WRITE_CLOSE (the gap at 4 in enum lws_write_protocol): a close frame. */
#define WS_WRITE_CLOSE ((enum lws_write_protocol)4)

/* A CA file and the lws vhost whose client TLS context trusts it. */
struct ws_vhost {
    struct ws_vhost *next;
    char *ca_file; /* owned; NULL for the default vhost (system CAs) */
    struct lws_vhost *vh;
};

struct ws_client {
    uv_loop_t *loop;          /* lent */
    struct lws_context *ctx;  /* owned; lws writes NULL here once destroyed */
    struct ws_vhost *vhosts;  /* owned */
    struct ab_ws *conns;      /* live connections, doubly linked */
    uv_timer_t destroy_timer; /* runs the first lws_context_destroy() from the loop */
    bool is_closing;
};

/* One queued outgoing message, with LWS_PRE bytes of headroom before the payload. */
struct ws_out {
    struct ws_out *next;
    size_t len;
    unsigned char buf[]; /* LWS_PRE + len */
};

enum ws_state {
    WS_RESOLVING,
    WS_CONNECTING,
    WS_OPEN,
    WS_DONE, /* on_close reported or abandoned; waiting for handles to close */
};

struct ab_ws {
    struct ws_client *client;
    struct ab_ws *prev, *next;
    struct ab_ws_callbacks cb;
    void *arg;
    const void *owner; /* from the policy; a tag, never dereferenced */
    enum ws_state state;
    struct lws *wsi; /* lws' connection, NULL before connect and after release */
    char *host;      /* owned: the name to resolve, Host and SNI */
    char *path;      /* owned: '/' plus query */
    char *ca_file;   /* owned or NULL */
    int port;
    bool is_tls;
    uv_getaddrinfo_t gai;
    bool is_resolving;                          /* gai in flight: it holds the struct */
    char addrs[WS_MAX_ADDRS][INET6_ADDRSTRLEN]; /* numeric addresses, tried in order */
    size_t naddrs, addr_next;
    char last_error[256]; /* why the previous address failed */
    uv_timer_t idle_timer;
    bool is_timer_open;
    uint32_t idle_timeout_ms;
    uint64_t last_rx_ms; /* loop time of the last frame (data, pong) */
    bool is_ping_due, is_ping_sent;
    size_t max_message;
    struct net_buf rx;                  /* owned: the message being reassembled */
    struct ws_out *out_head, *out_tail; /* owned queue */
    size_t out_bytes;
    int close_code; /* ours: given to disconnect, 1009, or 1006 for idle */
    char close_reason[124];
    bool is_close_requested; /* a close frame should go out after the queue */
    bool is_close_sent;      /* our close frame is out: waiting for the peer's */
    bool is_killed;          /* we dropped the socket (idle, connect-time close) */
    int peer_code;           /* from the peer's close frame, 0 if none */
    char peer_reason[124];
};

static int ws_client_on_event(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                              void *in, size_t len);

static const struct lws_protocols ws_protocols[] = {
    {WS_PROTOCOL_NAME, ws_client_on_event, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Make a client; the lws context waits for the first connect. */
int
ws_client_new(uv_loop_t *loop, struct ws_client **out)
{
    struct ws_client *c;

    if (!loop || !out)
        return AB_EINVAL;
    if (!(c = calloc(1, sizeof(*c))))
        return AB_ENOMEM;
    c->loop = loop;
    *out = c;
    return 0;
}

/* Whether lws was ever started (and so needs the two-step teardown). */
bool
ws_client_has_context(const struct ws_client *c)
{
    return c && c->ctx;
}

/* Create the lws context on the client's loop (once per client). */
static int
ws_client_context(struct ws_client *c)
{
    struct lws_context_creation_info info;
    void *loops[2] = {c->loop, NULL};

    if (c->ctx)
        return 0;
    net_lws_log_init();
    tls_errors_defer(); /* before lws initialises OpenSSL */
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
                   LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.foreign_loops = loops; /* read only during lws_create_context() */
    info.pcontext = &c->ctx;
    info.timeout_secs = 30;                     /* connect and handshake */
    info.fd_limit_per_thread = NET_LWS_MAX_FDS; /* not ulimit -n: see lws_limits.h */
    if (!(c->ctx = lws_create_context(&info))) {
        log_error("ws", "cannot create the libwebsockets context (is the "
                        "libwebsockets-evlib-uv package installed?)");
        return AB_EIO;
    }
    return 0;
}

/* The vhost trusting @ca_file (NULL: the system's CAs), created on first use. */
static int
ws_client_vhost(struct ws_client *c, const char *ca_file, struct lws_vhost **out)
{
    struct lws_context_creation_info info;
    struct ws_vhost *v;
    int rc;

    if ((rc = ws_client_context(c)) < 0)
        return rc;
    for (v = c->vhosts; v; v = v->next) {
        if ((!v->ca_file && !ca_file) || (v->ca_file && ca_file && !strcmp(v->ca_file, ca_file))) {
            *out = v->vh;
            return 0;
        }
    }
    if (!(v = calloc(1, sizeof(*v))) || (ca_file && !(v->ca_file = strdup(ca_file)))) {
        free(v);
        return AB_ENOMEM;
    }
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = ws_protocols;
    info.vhost_name = ca_file ? ca_file : "default";
    info.client_ssl_ca_filepath = ca_file;
    info.user = v; /* for the CA callback, which runs inside lws_create_vhost() */
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    if (!ca_file)
        info.options |= LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
    if (!(v->vh = lws_create_vhost(c->ctx, &info))) {
        log_error("ws", "cannot create a client context%s%s", ca_file ? " with CA file " : "",
                  ca_file ? ca_file : "");
        free(v->ca_file);
        free(v);
        return AB_EIO;
    }
    v->next = c->vhosts;
    c->vhosts = v;
    *out = v->vh;
    return 0;
}

/* Free the memory of a connection whose handles are all closed. */
static void
ws_free(struct ab_ws *ws)
{
    struct ws_out *o, *next;

    for (o = ws->out_head; o; o = next) {
        next = o->next;
        free(o);
    }
    net_buf_free(&ws->rx);
    free(ws->host);
    free(ws->path);
    free(ws->ca_file);
    free(ws);
}

/* The idle timer has closed: free unless the resolver still holds the struct. */
static void
ws_on_timer_closed(uv_handle_t *h)
{
    struct ab_ws *ws = h->data;

    ws->is_timer_open = false;
    if (!ws->is_resolving)
        ws_free(ws);
}

/* Detach @ws from its client and lws, and free it once its handles are closed. */
static void
ws_release(struct ab_ws *ws)
{
    struct ws_client *c = ws->client;

    ws->state = WS_DONE;
    if (ws->prev)
        ws->prev->next = ws->next;
    else if (c->conns == ws)
        c->conns = ws->next;
    if (ws->next)
        ws->next->prev = ws->prev;
    ws->prev = ws->next = NULL;
    if (ws->wsi) {
        lws_set_opaque_user_data(ws->wsi, NULL);
        ws->wsi = NULL;
    }
    if (ws->is_resolving)
        uv_cancel((uv_req_t *)&ws->gai);
    if (ws->is_timer_open) {
        uv_timer_stop(&ws->idle_timer);
        uv_close((uv_handle_t *)&ws->idle_timer, ws_on_timer_closed);
    } else if (!ws->is_resolving) {
        ws_free(ws);
    }
}

/* Report the end of the connection once, then release it. */
static void
ws_finish(struct ab_ws *ws, int code, const char *reason, bool was_clean)
{
    if (ws->state == WS_DONE)
        return;
    ws->state = WS_DONE;
    log_debug("ws", "%s:%d closed: %d %s", ws->host, ws->port, code, reason);
    if (ws->cb.on_close)
        ws->cb.on_close(ws->arg, ws, code, reason, was_clean);
    ws_release(ws);
}

/* The connection ended inside lws: say why, preferring the peer's close frame, then
 * our own close, then a plain drop. */
static void
ws_finish_closed(struct ab_ws *ws, const char *fallback)
{
    if (ws->peer_code)
        ws_finish(ws, ws->peer_code, ws->peer_reason, true);
    else if (ws->is_close_requested || ws->is_killed)
        ws_finish(ws, ws->close_code, ws->close_reason, !ws->is_killed && ws->close_code != 1009);
    else
        ws_finish(ws, 1006, fallback, false);
}

/* Drop the socket now, without a close frame; on_close follows from lws' callbacks. */
static void
ws_kill(struct ab_ws *ws, int code, const char *reason)
{
    ws->is_killed = true;
    ws->close_code = code;
    snprintf(ws->close_reason, sizeof(ws->close_reason), "%s", reason);
    if (ws->wsi)
        shutdown(lws_get_socket_fd(ws->wsi), SHUT_RDWR); /* lws sees the hang-up at once */
}

/* Idle check: ping at half the timeout, give up at the full one. */
static void
ws_on_idle_timer(uv_timer_t *t)
{
    struct ab_ws *ws = t->data;
    uint64_t idle = uv_now(ws->client->loop) - ws->last_rx_ms;
    char why[96];

    if (ws->state != WS_OPEN || ws->is_killed)
        return;
    if (idle >= ws->idle_timeout_ms) {
        snprintf(why, sizeof(why), "no frame from the server for %llu ms: connection presumed dead",
                 (unsigned long long)idle);
        log_warn("ws", "%s:%d: %s", ws->host, ws->port, why);
        ws_kill(ws, 1006, why);
        return;
    }
    if (idle >= ws->idle_timeout_ms / 2 && !ws->is_ping_sent && !ws->is_ping_due) {
        ws->is_ping_due = true;
        lws_callback_on_writable(ws->wsi);
    }
}

/* Connect lws to the next resolved address; false when none is left. */
static bool
ws_connect_next(struct ab_ws *ws)
{
    struct lws_client_connect_info i;
    char hosthdr[300];
    const char *ip;
    struct lws *wsi;
    int rc;

    if (ws->addr_next >= ws->naddrs)
        return false;
    ip = ws->addrs[ws->addr_next++];
    memset(&i, 0, sizeof(i));
    if ((rc = ws_client_vhost(ws->client, ws->ca_file, &i.vhost)) < 0) {
        snprintf(ws->last_error, sizeof(ws->last_error), "%s", ab_strerror(rc));
        ws->addr_next = ws->naddrs;
        return false;
    }
    if (ws->port == (ws->is_tls ? 443 : 80))
        snprintf(hosthdr, sizeof(hosthdr), strchr(ws->host, ':') ? "[%s]" : "%s", ws->host);
    else
        snprintf(hosthdr, sizeof(hosthdr), strchr(ws->host, ':') ? "[%s]:%d" : "%s:%d", ws->host,
                 ws->port);
    i.context = ws->client->ctx;
    i.address = ip;
    i.port = ws->port;
    i.path = ws->path;
    i.host = hosthdr; /* Host header, SNI and the certificate check (lws drops the port) */
    i.origin = hosthdr;
    i.ssl_connection = ws->is_tls ? LCCSCF_USE_SSL : 0;
    i.protocol = NULL;
    i.local_protocol_name = WS_PROTOCOL_NAME;
    i.opaque_user_data = ws;
    ws->state = WS_CONNECTING;
    log_debug("ws", "connecting to %s:%d (%s)", ws->host, ws->port, ip);
    /* No pwsi: lws could write through it after the struct is gone. A connection error
     * may be reported from inside this call: it schedules the next address itself. */
    wsi = lws_client_connect_via_info(&i);
    if (ws->state != WS_CONNECTING)
        return true;
    if (!wsi) {
        snprintf(ws->last_error, sizeof(ws->last_error), "cannot connect to %s:%d (%s)", ws->host,
                 ws->port, ip);
        return ws_connect_next(ws);
    }
    ws->wsi = wsi;
    return true;
}

/* Retry timer: try the next address outside lws' callbacks. */
static void
ws_on_retry_timer(uv_timer_t *t)
{
    struct ab_ws *ws = t->data;

    if (ws->state == WS_DONE)
        return;
    if (ws->is_close_requested)
        ws_finish(ws, ws->close_code, ws->close_reason, true);
    else if (!ws_connect_next(ws))
        ws_finish(ws, 1006, ws->last_error, false);
}

/* The name is resolved: keep the numeric addresses and connect to the first. */
static void
ws_on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct ab_ws *ws = req->data;
    char why[400];

    ws->is_resolving = false;
    if (ws->state == WS_DONE) { /* released meanwhile: only the memory is left */
        uv_freeaddrinfo(res);
        if (!ws->is_timer_open)
            ws_free(ws);
        return;
    }
    if (ws->is_close_requested) {
        uv_freeaddrinfo(res);
        ws_finish(ws, ws->close_code, ws->close_reason, true);
        return;
    }
    for (struct addrinfo *a = status < 0 ? NULL : res; a && ws->naddrs < WS_MAX_ADDRS;
         a = a->ai_next)
        if (getnameinfo(a->ai_addr, a->ai_addrlen, ws->addrs[ws->naddrs], sizeof(ws->addrs[0]),
                        NULL, 0, NI_NUMERICHOST) == 0)
            ws->naddrs++;
    uv_freeaddrinfo(res);
    if (ws->naddrs == 0) {
        snprintf(why, sizeof(why), "cannot resolve %s: %s", ws->host,
                 status < 0 ? uv_strerror(status) : "no address");
        ws_finish(ws, 1006, why, false);
        return;
    }
    if (!ws_connect_next(ws))
        ws_finish(ws, 1006, ws->last_error, false);
}

/* A chunk of a message arrived: deliver the message when it is whole. */
static int
ws_on_receive(struct ab_ws *ws, struct lws *wsi, const void *in, size_t len)
{
    char why[64];

    ws->last_rx_ms = uv_now(ws->client->loop);
    if (ws->close_code == 1009) /* the rest of the oversized message */
        return 0;
    if (net_buf_append(&ws->rx, in, len, ws->max_message) < 0) {
        snprintf(why, sizeof(why), "message larger than %zu bytes", ws->max_message);
        log_warn("ws", "%s:%d: %s; closing with 1009", ws->host, ws->port, why);
        ws->is_close_requested = true;
        ws->close_code = 1009;
        snprintf(ws->close_reason, sizeof(ws->close_reason), "%s", why);
        ws->rx.len = 0;
        lws_callback_on_writable(wsi);
        return 0;
    }
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
        return 0;
    if (ws->cb.on_message)
        ws->cb.on_message(ws->arg, ws, ws->rx.data ? ws->rx.data : "", ws->rx.len,
                          lws_frame_is_binary(wsi) != 0);
    ws->rx.len = 0;
    return 0;
}

/* Write our close frame ourselves: with lws 4.1 on libuv, lws_close_reason() plus
 * returning -1 drops the socket before the frame leaves. Then wait for the peer's close
 * (lws gives up after 5 s). */
static int
ws_send_close(struct ab_ws *ws, struct lws *wsi)
{
    unsigned char frame[LWS_PRE + 2 + sizeof(ws->close_reason)];
    size_t n = strlen(ws->close_reason);

    frame[LWS_PRE] = (unsigned char)(ws->close_code >> 8);
    frame[LWS_PRE + 1] = (unsigned char)(ws->close_code & 0xff);
    memcpy(frame + LWS_PRE + 2, ws->close_reason, n);
    ws->is_close_sent = true;
    if (lws_write(wsi, frame + LWS_PRE, n + 2, WS_WRITE_CLOSE) < (int)(n + 2))
        return -1;
    lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_ACK, 5);
    return 0;
}

/* The socket can take a frame: a due ping, then one queued message, then the close. */
static int
ws_on_writeable(struct ab_ws *ws, struct lws *wsi)
{
    struct ws_out *o;
    unsigned char ping[LWS_PRE + 1];

    if (ws->is_ping_due) {
        ws->is_ping_due = false;
        ws->is_ping_sent = true;
        if (lws_write(wsi, ping + LWS_PRE, 0, LWS_WRITE_PING) < 0)
            return -1;
        if (ws->out_head || ws->is_close_requested)
            lws_callback_on_writable(wsi);
        return 0;
    }
    if ((o = ws->out_head) && ws->close_code != 1009) {
        ws->out_head = o->next;
        if (!ws->out_head)
            ws->out_tail = NULL;
        ws->out_bytes -= o->len;
        if (lws_write(wsi, o->buf + LWS_PRE, o->len, LWS_WRITE_TEXT) < (int)o->len) {
            free(o);
            return -1;
        }
        free(o);
        if (ws->out_head || ws->is_close_requested)
            lws_callback_on_writable(wsi);
        return 0;
    }
    if (ws->is_close_requested && !ws->is_close_sent)
        return ws_send_close(ws, wsi);
    return 0;
}

/* Remember the peer's close code (first two bytes, big-endian) and reason. */
static void
ws_on_peer_close(struct ab_ws *ws, const unsigned char *in, size_t len)
{
    size_t n;

    if (len < 2) {
        ws->peer_code = 1005; /* no status in the frame */
        return;
    }
    ws->peer_code = (in[0] << 8) | in[1];
    n = len - 2 < sizeof(ws->peer_reason) - 1 ? len - 2 : sizeof(ws->peer_reason) - 1;
    memcpy(ws->peer_reason, in + 2, n);
    ws->peer_reason[n] = '\0';
}

/* The lws protocol callback for every client connection. */
static int
ws_client_on_event(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len)
{
    struct ab_ws *ws = wsi ? lws_get_opaque_user_data(wsi) : NULL;

    if (reason == LWS_CALLBACK_OPENSSL_LOAD_EXTRA_CLIENT_VERIFY_CERTS) {
        /* A vhost's client TLS context is being made: the system's CAs, by hash (lws
         * was told not to load the whole bundle), unless the vhost trusts a CA file. */
        struct ws_vhost *v = wsi ? lws_get_vhost_user(lws_get_vhost(wsi)) : NULL;
        if (v && !v->ca_file && user && tls_trust_system(user) < 0)
            log_error("ws", "cannot load the system's CA certificates");
        return 0;
    }
    if (!ws || ws->state == WS_DONE) /* abandoned, or not ours (vhost-level events) */
        return reason == LWS_CALLBACK_CLIENT_WRITEABLE ? -1 : 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        ws->wsi = NULL;
        lws_set_opaque_user_data(wsi, NULL);
        /* lws hands over a C string (its len is not always set). */
        snprintf(ws->last_error, sizeof(ws->last_error), "cannot connect to %s:%d: %.200s",
                 ws->host, ws->port, in ? (const char *)in : "unknown error");
        if (ws->is_close_requested || ws->is_killed || ws->addr_next < ws->naddrs) {
            /* Another address (or the requested close) is handled from the loop. */
            ws->state = WS_RESOLVING;
            uv_timer_start(&ws->idle_timer, ws_on_retry_timer, 0, 0);
        } else {
            ws_finish(ws, 1006, ws->last_error, false);
        }
        return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        ws->state = WS_OPEN;
        ws->last_rx_ms = uv_now(ws->client->loop);
        log_debug("ws", "%s:%d open", ws->host, ws->port);
        if (ws->out_head || ws->is_close_requested)
            lws_callback_on_writable(wsi);
        if (ws->idle_timeout_ms) {
            uint64_t every = ws->idle_timeout_ms / 8 ? ws->idle_timeout_ms / 8 : 1;
            uv_timer_start(&ws->idle_timer, ws_on_idle_timer, every, every);
        }
        if (ws->cb.on_open && !ws->is_close_requested)
            ws->cb.on_open(ws->arg, ws);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE: return ws_on_receive(ws, wsi, in, len);
    case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
        ws->last_rx_ms = uv_now(ws->client->loop);
        ws->is_ping_sent = false;
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE: return ws_on_writeable(ws, wsi);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        ws->last_rx_ms = uv_now(ws->client->loop);
        if (ws->is_close_sent)
            return -1; /* the answer to our close: done, nothing to echo */
        ws_on_peer_close(ws, in, len);
        return 0; /* lws echoes the close */
    case LWS_CALLBACK_CLIENT_CLOSED:
        ws->wsi = NULL;
        ws_finish_closed(ws, "connection lost without a close frame");
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        ws->wsi = NULL;
        ws_finish_closed(ws, "connection lost");
        return 0;
    default: return 0;
    }
}

/* Check the options and make the connection's record. */
static int
ws_new(struct ws_client *c, const struct ab_ws_options *opt, const struct net_policy *pol,
       const struct ab_ws_callbacks *cb, void *arg, struct ab_ws **out)
{
    struct net_url u;
    struct ab_ws *ws;
    bool insecure = (pol && pol->insecure) || opt->insecure;
    int rc;

    if (net_url_parse(opt->url, &u) < 0 ||
        (u.scheme != NET_SCHEME_WS && u.scheme != NET_SCHEME_WSS))
        return AB_EINVAL;
    if ((rc = net_url_check(&u, insecure)) < 0) {
        log_warn("ws",
                 "refusing plain ws:// to %s: allowed only to loopback hosts unless "
                 "insecure = true",
                 u.host);
        return rc;
    }
    if (!(ws = calloc(1, sizeof(*ws))))
        return AB_ENOMEM;
    ws->client = c;
    memcpy(&ws->cb, cb, cb->size < sizeof(ws->cb) ? cb->size : sizeof(ws->cb));
    ws->arg = arg;
    ws->owner = pol ? pol->owner : NULL;
    ws->port = u.port;
    ws->is_tls = u.is_tls;
    ws->idle_timeout_ms = opt->idle_timeout_ms;
    ws->max_message = opt->max_message ? opt->max_message : WS_DEFAULT_MAX_MESSAGE;
    if (!(ws->host = strdup(u.host)) || !(ws->path = strdup(u.path)) ||
        (pol && pol->ca_file && !(ws->ca_file = strdup(pol->ca_file)))) {
        ws_free(ws);
        return AB_ENOMEM;
    }
    *out = ws;
    return 0;
}

/* Validate, then resolve the host off the loop; lws connects when the address is known. */
int
ws_client_connect(struct ws_client *c, const struct ab_ws_options *opt,
                  const struct net_policy *pol, const struct ab_ws_callbacks *cb, void *arg,
                  struct ab_ws **out)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct ab_ws *ws;
    char port[8];
    int rc;

    if (!c || !opt || !cb || !out || opt->size < offsetof(struct ab_ws_options, insecure) ||
        cb->size < offsetof(struct ab_ws_callbacks, on_close) + sizeof(cb->on_close) ||
        !cb->on_close)
        return AB_EINVAL;
    if (c->is_closing)
        return AB_ECLOSED;
    if ((rc = ws_new(c, opt, pol, cb, arg, &ws)) < 0)
        return rc;
    if ((rc = uv_timer_init(c->loop, &ws->idle_timer)) < 0)
        goto fail_ws;
    ws->idle_timer.data = ws;
    ws->is_timer_open = true;
    ws->gai.data = ws;
    snprintf(port, sizeof(port), "%d", ws->port);
    /* Resolved on every connect: a reconnect after a DNS change must see the change. */
    if ((rc = uv_getaddrinfo(c->loop, &ws->gai, ws_on_resolved, ws->host, port, &hints)) < 0)
        goto fail_timer;
    ws->is_resolving = true;
    ws->next = c->conns;
    if (c->conns)
        c->conns->prev = ws;
    c->conns = ws;
    *out = ws;
    return 0;

fail_timer:
    ws->is_timer_open = false;
    uv_close((uv_handle_t *)&ws->idle_timer, ws_on_timer_closed);
    return rc;
fail_ws:
    ws_free(ws);
    return rc;
}

/* Queue one text message. */
int
ws_client_send(struct ab_ws *ws, const char *data, size_t len)
{
    struct ws_out *o;

    if (!ws || (!data && len))
        return AB_EINVAL;
    if (ws->state == WS_DONE || ws->is_close_requested || ws->is_killed)
        return AB_ECLOSED;
    if (len > WS_MAX_QUEUED_BYTES - ws->out_bytes)
        return AB_EFULL;
    if (!(o = malloc(sizeof(*o) + LWS_PRE + len)))
        return AB_ENOMEM;
    o->next = NULL;
    o->len = len;
    if (len)
        memcpy(o->buf + LWS_PRE, data, len);
    if (ws->out_tail)
        ws->out_tail->next = o;
    else
        ws->out_head = o;
    ws->out_tail = o;
    ws->out_bytes += len;
    if (ws->state == WS_OPEN)
        lws_callback_on_writable(ws->wsi);
    return 0;
}

/* A close code an endpoint may send. */
static bool
ws_close_code_valid(int code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

/* Ask for a close after the queue drains. */
int
ws_client_disconnect(struct ab_ws *ws, int code, const char *reason)
{
    if (!ws || !ws_close_code_valid(code))
        return AB_EINVAL;
    if (ws->state == WS_DONE || ws->is_close_requested || ws->is_killed)
        return AB_ECLOSED;
    ws->is_close_requested = true;
    ws->close_code = code;
    snprintf(ws->close_reason, sizeof(ws->close_reason), "%s", reason ? reason : "");
    if (ws->state == WS_OPEN)
        lws_callback_on_writable(ws->wsi);
    else if (ws->state == WS_CONNECTING && ws->wsi) /* no handshake yet: nothing to close */
        lws_set_timeout(ws->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    else if (ws->is_resolving)
        uv_cancel((uv_req_t *)&ws->gai);
    return 0;
}

/* Forget a connection without callbacks. */
void
ws_client_abandon(struct ab_ws *ws)
{
    if (!ws || ws->state == WS_DONE)
        return;
    if (ws->wsi)
        lws_set_timeout(ws->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    ws_release(ws);
}

/* Forget every connection of one owner (a plugin being closed). */
void
ws_client_abandon_owner(struct ws_client *c, const void *owner)
{
    struct ab_ws *ws, *next;

    for (ws = c ? c->conns : NULL; ws; ws = next) {
        next = ws->next;
        if (ws->owner == owner)
            ws_client_abandon(ws);
    }
}

/* First step of the lws shutdown, from a uv callback as lws requires. */
static void
ws_client_on_destroy_timer(uv_timer_t *t)
{
    struct ws_client *c = t->data;

    if (c->ctx)
        lws_context_destroy(c->ctx);
    uv_close((uv_handle_t *)t, NULL);
}

/* Drop the connections and schedule the context's destruction. */
void
ws_client_close(struct ws_client *c)
{
    if (!c || c->is_closing)
        return;
    c->is_closing = true;
    while (c->conns)
        ws_client_abandon(c->conns);
    if (!c->ctx)
        return;
    uv_timer_init(c->loop, &c->destroy_timer);
    c->destroy_timer.data = c;
    uv_timer_start(&c->destroy_timer, ws_client_on_destroy_timer, 0, 0);
}

/* Second lws step (it frees the context and sets c->ctx to NULL), then our memory. */
void
ws_client_finish(struct ws_client *c)
{
    struct ws_vhost *v, *next;

    if (!c)
        return;
    if (!c->is_closing) {
        ws_client_close(c);
        if (c->ctx) { /* the first step has not run yet: freeing now would crash */
            log_error("ws", "ws_client_finish() before the loop ran: leaking the context");
            return;
        }
    }
    if (c->ctx)
        lws_context_destroy(c->ctx);
    for (v = c->vhosts; v; v = next) {
        next = v->next;
        free(v->ca_file);
        free(v);
    }
    free(c);
}
