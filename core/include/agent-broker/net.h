/* agent-broker plugin ABI: HTTP requests and WebSocket connections the host makes for a
 * plugin (ABI 1.1). Plugins never open sockets themselves: they describe a request or a
 * connection, and the host runs it on its loop (its own HTTP/1.1 client, libwebsockets for
 * WebSockets), with DNS off the loop thread.
 *
 * Usage from a chat plugin (svc = the services table handed to open()):
 *
 *   static const char *const hdrs[] = {"Authorization: Bot xyz",
 *                                      "Content-Type: application/json", NULL};
 *   struct ab_http_request req = {.size = sizeof(req), .method = "POST",
 *       .url = "https://discord.com/api/v10/channels/1/messages", .headers = hdrs,
 *       .body = json, .body_len = strlen(json)};
 *   rc = svc->http_request(host, &req, on_sent, me, &me->pending);   // 0 or AB_E*
 *   ...
 *   static void on_sent(void *arg, const struct ab_http_response *r)
 *   {   // r->error == 0: r->status, r->body, ab_http_header(r, "X-RateLimit-Bucket")
 *   }
 *
 *   struct ab_ws_options o = {.size = sizeof(o), .url = "wss://gateway.discord.gg/?v=10",
 *                             .idle_timeout_ms = 60000};
 *   struct ab_ws_callbacks cb = {.size = sizeof(cb), .on_open = gw_open,
 *                                .on_message = gw_message, .on_close = gw_closed};
 *   rc = svc->ws_connect(host, &o, &cb, me, &me->ws);
 *   ... gw_closed(): delay = svc->backoff_next(host, "gateway"), then reconnect with a timer;
 *   ... after a successful resume: svc->backoff_reset(host, "gateway").
 *
 * Callbacks never run inside the call that started the operation; they run later on the
 * loop thread. Plain http:// and ws:// are refused (AB_ECONFIG) except to loopback hosts,
 * unless the request says `insecure` or the plugin's config section has insecure = true. */
#ifndef AGENT_BROKER_NET_H
#define AGENT_BROKER_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One HTTP request in flight. Opaque; owned by the host. Valid from http_request()
 * until its callback returns or http_cancel() is called, whichever comes first. */
struct ab_http;

/* One WebSocket connection. Opaque; owned by the host. Valid from ws_connect() until
 * its on_close callback returns (or the plugin's host is freed). */
struct ab_ws;

/* What to send. Every pointer is lent for the call; the host copies what it keeps. */
struct ab_http_request {
    uint32_t size;              /* sizeof(struct ab_http_request) at the plugin's build */
    const char *method;         /* "GET", "POST", "PATCH", "PUT", "DELETE"; NULL = GET */
    const char *url;            /* http(s)://host[:port]/path?query */
    const char *const *headers; /* "Name: value" lines, NULL-terminated; may be NULL */
    const char *body;           /* may be NULL (no body) */
    size_t body_len;
    uint32_t timeout_ms;         /* whole request; 0 = 30 000 */
    uint32_t connect_timeout_ms; /* TCP + TLS set-up; 0 = 10 000 */
    bool insecure;               /* allow http:// to a non-loopback host */
};

/* One part of a multipart/form-data body (ABI 1.3, http_upload). Pointers lent for the
 * call. A file part names a @path: its bytes are read from disk while sending, never held
 * whole in memory. */
struct ab_form_part {
    uint32_t size;            /* sizeof(struct ab_form_part) at the plugin's build */
    const char *name;         /* form field name, e.g. "payload_json", "files[0]" */
    const char *filename;     /* filename= of the part, or NULL */
    const char *content_type; /* the part's Content-Type, or NULL */
    const char *data;         /* in-memory value (copied), used when path is NULL */
    size_t data_len;
    const char *path; /* a file to stream as the value, or NULL */
};

/* One response header. Both strings owned by the host, valid during the callback. */
struct ab_http_header {
    const char *name;  /* as the server spelled it */
    const char *value; /* surrounding white space removed */
};

/* The outcome handed to the callback. Everything is owned by the host and valid only
 * during the callback: copy to keep. */
struct ab_http_response {
    uint32_t size;                        /* sizeof(struct ab_http_response) of the host */
    int error;                            /* 0: a response arrived (any status); else
                                             AB_ETIMEDOUT, AB_ECANCELED (host closing),
                                             AB_EFULL (body over the cap), AB_EIO, … */
    const char *error_text;               /* for people; "" when error == 0 */
    long status;                          /* HTTP status, 0 when none arrived */
    const struct ab_http_header *headers; /* every header of the final response, in order */
    size_t header_count;
    const char *body; /* NUL-terminated for convenience; "" if none */
    size_t body_len;
    uint64_t retry_after_ms;           /* Retry-After (seconds or HTTP date), 0 = absent */
    int64_t ratelimit_remaining;       /* X-RateLimit-Remaining, -1 = absent */
    uint64_t ratelimit_reset_after_ms; /* X-RateLimit-Reset-After (s, decimals), 0 = absent */
    const char *ratelimit_bucket;      /* X-RateLimit-Bucket, or NULL */
    bool ratelimit_global;             /* X-RateLimit-Global: true */
};

/* Called once per request on the loop thread, never inside http_request(). @resp is lent
 * for the call. The request handle is released when this returns. */
typedef void (*ab_http_cb)(void *arg, const struct ab_http_response *resp);

/* The value of the first header named @name (ASCII case-insensitive), or NULL. */
static inline const char *
ab_http_header(const struct ab_http_response *resp, const char *name)
{
    for (size_t i = 0; resp && name && i < resp->header_count; i++) {
        const char *a = resp->headers[i].name, *b = name;
        for (; *a && *b; a++, b++) {
            char ca = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
            char cb = *b >= 'A' && *b <= 'Z' ? (char)(*b + 32) : *b;
            if (ca != cb)
                break;
        }
        if (!*a && !*b)
            return resp->headers[i].value;
    }
    return NULL;
}

/* How to connect. Every pointer is lent for the call; the host copies what it keeps. */
struct ab_ws_options {
    uint32_t size;              /* sizeof(struct ab_ws_options) at the plugin's build */
    const char *url;            /* ws(s)://host[:port][/path][?query] */
    const char *const *headers; /* reserved: NULL */
    uint32_t idle_timeout_ms;   /* no frame (pongs included) for this long: the connection
                                   is dead and closed; a ping goes out at half of it.
                                   0 = no liveness check */
    uint32_t max_message;       /* cap on one reassembled message; 0 = 16 MiB. Larger
                                   messages close the connection with 1009 */
    bool insecure;              /* allow ws:// to a non-loopback host */
};

/* Events of one connection, all on the loop thread and never inside the call that
 * started the operation. Pointers are lent for the call. */
struct ab_ws_callbacks {
    uint32_t size; /* sizeof(struct ab_ws_callbacks) at the plugin's build */
    /* The handshake finished: ws_send() may be called. Optional. */
    void (*on_open)(void *arg, struct ab_ws *ws);
    /* One whole message (fragments reassembled); @data is NUL-terminated. */
    void (*on_message)(void *arg, struct ab_ws *ws, const char *data, size_t len, bool is_binary);
    /* Called exactly once per connection: the peer's close code and reason (was_clean),
     * the code given to ws_close(), 1009 for an oversized message, or 1006 with the cause
     * in @reason (connect/TLS error text, TCP drop, idle timeout). The handle is released
     * when this returns. */
    void (*on_close)(void *arg, struct ab_ws *ws, int code, const char *reason, bool was_clean);
};

/* ---- ABI 1.3: inbound HTTP ---- */

/* Inbound HTTP (ABI 1.3): routes on the daemon's one listener, `[ingress] listen`
 * (plain HTTP; TLS is terminated in front of it by the ingress controller). The host
 * serves it with libwebsockets' HTTP server on its loop: it parses the request, enforces
 * the limits (head 8 KiB, the route's body cap, the time to receive a request and to
 * answer it, connections per peer) and hands the plugin one whole request; the plugin
 * answers with http_respond() whenever it is ready, later on the loop.
 *
 *   static const char *const want[] = {"Authorization", "Content-Type", NULL};
 *   struct ab_http_route_options o = {.size = sizeof(o), .prefix = "/api/messages",
 *                                     .headers = want, .max_body = 256 * 1024};
 *   rc = svc->http_route_add(host, &o, on_request, me, &me->route);  // 0 or AB_E*
 *   static void on_request(void *arg, struct ab_http_exchange *ex,
 *                          const struct ab_http_inbound *req)
 *   {   ... svc->http_respond(ex, 200, NULL, "", 0);   // now or later, exactly once
 *   }
 *   svc->http_route_remove(me->route);                  // in close()
 */

/* A registered route. Opaque; owned by the host until http_route_remove(). */
struct ab_http_route;

/* One inbound request waiting for its answer. Opaque; owned by the host; valid from the
 * route callback until http_respond() returns or the route is removed. */
struct ab_http_exchange;

/* What to serve. Every pointer is lent for the call; the host copies what it keeps. */
struct ab_http_route_options {
    uint32_t size;              /* sizeof(struct ab_http_route_options) at the plugin's build */
    const char *prefix;         /* path prefix, starting with '/': "/api/messages" matches
                                   "/api/messages", "/api/messages/x" and "/api/messages?q",
                                   not "/api/messagesx". Prefixes of two routes may not
                                   overlap (AB_EEXIST) */
    const char *const *headers; /* request header names the plugin wants (any case),
                                   NULL-terminated; may be NULL. Others are not kept */
    size_t max_body;            /* larger bodies are answered 413 by the host; 0 = 1 MiB,
                                   at most 16 MiB */
    uint32_t timeout_ms;        /* from the request's arrival to the plugin's answer; past
                                   it the host answers 503 itself; 0 = 15 000 */
};

/* One request, handed whole to the route's callback. Everything is owned by the host and
 * lent for the callback: copy to keep. */
struct ab_http_inbound {
    uint32_t size;                        /* sizeof(struct ab_http_inbound) of the host */
    const char *method;                   /* "GET", "POST", ... */
    const char *path;                     /* the request target: path plus ?query */
    const struct ab_http_header *headers; /* the wanted headers present, names spelled as
                                             the plugin asked */
    size_t header_count;
    const char *body; /* NUL-terminated for convenience; "" if none */
    size_t body_len;
    const char *peer; /* the client's address "a.b.c.d" or "v6" (the ingress proxy's,
                         behind one) */
};

/* Called once per request on the loop thread. @ex must be answered with http_respond()
 * exactly once (in this call or later) unless the route is removed first. */
typedef void (*ab_http_route_cb)(void *arg, struct ab_http_exchange *ex,
                                 const struct ab_http_inbound *req);

#endif
