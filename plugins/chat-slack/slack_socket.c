/* chat-slack Socket Mode: apps.connections.open for a fresh single-use URL, the
 * WebSocket to it, `hello` before counting as connected, every envelope acknowledged
 * before it is processed, `disconnect` answered by opening the replacement before the
 * old socket closes, reconnects paced by the host's backoff, dead sockets found by the
 * host's idle timeout (pings at half of it), and a rejected app token ends it all. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slack.h"

#define SOCKET_BACKOFF_KEY "socket"
#define SOCKET_MAX_MESSAGE (4u << 20)

struct slack_socket_conn {
    struct ab_chat *s;
    struct ab_ws *ws; /* owned by the host until on_close */
    bool has_hello;   /* Slack said hello: events may flow */
    bool is_retiring; /* told to go (disconnect): closes once a replacement said hello */
    bool is_closing;  /* ws_close() was called */
    uint64_t serial;  /* this socket's number */
    struct slack_socket_conn *next;
};

/* An envelope whose ack waits until the core recorded its message. */
struct slack_socket_held {
    struct ab_chat *s;
    uint64_t serial;   /* the socket it came on */
    char *envelope_id; /* owned */
};

static void slack_socket_open(struct ab_chat *s);

/* True when some socket said hello and is not on its way out. */
static bool
slack_socket_has_live(const struct ab_chat *s, const struct slack_socket_conn *except)
{
    for (const struct slack_socket_conn *c = s->conns; c; c = c->next)
        if (c != except && c->has_hello && !c->is_closing)
            return true;
    return false;
}

/* True while a connection is being made (open call or socket without hello). */
static bool
slack_socket_is_opening(const struct ab_chat *s)
{
    if (s->opening)
        return true;
    for (const struct slack_socket_conn *c = s->conns; c; c = c->next)
        if (!c->has_hello && !c->is_closing)
            return true;
    return false;
}

/* Tell the host whether events can arrive, with @detail (lent) as the reason. */
static void
slack_socket_report(struct ab_chat *s, const char *detail)
{
    bool live = slack_socket_has_live(s, NULL);

    if (live != s->is_connected || !live) {
        s->is_connected = live;
        s->svc->set_connected(s->host, live, detail);
    }
}

/* Close one socket politely (its on_close follows later). */
static void
slack_socket_conn_close(struct slack_socket_conn *c, int code, const char *reason)
{
    if (c->is_closing)
        return;
    c->is_closing = true;
    c->s->svc->ws_close(c->ws, code, reason);
}

/* The reconnect delay is over: open a new connection. */
static void
slack_socket_retry(void *arg)
{
    struct ab_chat *s = arg;

    s->svc->timer_stop(s->reconnect);
    s->reconnect = NULL;
    slack_socket_open(s);
}

/* Reconnect after the host's backoff delay, unless something is already under way. */
static void
slack_socket_schedule(struct ab_chat *s)
{
    uint64_t delay;
    int rc;

    if (s->reconnect || s->is_stopped || s->is_closing || slack_socket_is_opening(s))
        return;
    delay = s->svc->backoff_next(s->host, SOCKET_BACKOFF_KEY);
    s->svc->log(s->host, AB_LOG_INFO, "reconnecting in %llu ms", (unsigned long long)delay);
    if ((rc = s->svc->timer_start(s->host, delay, 0, slack_socket_retry, s, &s->reconnect)) < 0) {
        s->reconnect = NULL;
        s->svc->log(s->host, AB_LOG_ERROR, "cannot arm the reconnect timer: %s", ab_strerror(rc));
    }
}

/* The app token is dead: stop and say what to fix. */
static void
slack_socket_fatal(struct ab_chat *s, const char *error)
{
    char detail[256];

    snprintf(detail, sizeof(detail),
             "Slack refused the app token (%s): check [slack] app_token (xapp-… with "
             "connections:write); not reconnecting",
             error && *error ? error : "auth error");
    slack_fatal(s, detail);
}

/* A socket said hello: it carries events now; sockets told to go may close. */
static void
slack_socket_on_hello(struct slack_socket_conn *c)
{
    struct ab_chat *s = c->s;

    c->has_hello = true;
    s->svc->backoff_reset(s->host, SOCKET_BACKOFF_KEY);
    for (struct slack_socket_conn *o = s->conns; o; o = o->next)
        if (o != c && o->is_retiring)
            slack_socket_conn_close(o, 1000, "replaced");
    slack_socket_report(s, "Socket Mode connected");
}

/* A `disconnect` message on socket @c: act on its reason. */
static void
slack_socket_on_disconnect(struct slack_socket_conn *c, const char *reason)
{
    struct ab_chat *s = c->s;

    s->svc->log(s->host, AB_LOG_INFO, "Slack asks to disconnect: %s", reason);
    if (strcmp(reason, "warning") == 0 || strcmp(reason, "refresh_requested") == 0) {
        /* Events landing while no socket is open are lost: the old one stays until the
         * replacement said hello. */
        c->is_retiring = true;
        slack_socket_open(s);
        return;
    }
    if (strcmp(reason, "link_disabled") == 0)
        s->svc->set_connected(s->host, false,
                              "Socket Mode is disabled for this Slack app (link_disabled): "
                              "turn it on in the app settings");
    /* too_many_websockets and anything unknown: close; on_close backs off. */
    slack_socket_conn_close(c, 1000, reason);
}

/* Acknowledge envelope @id on @c: Slack redelivers what is not acked within ~3 s. */
static void
slack_socket_ack(struct slack_socket_conn *c, const char *id)
{
    cJSON *ack = cJSON_CreateObject();
    char *text = NULL;
    int rc = AB_ENOMEM;

    if (ack && cJSON_AddStringToObject(ack, "envelope_id", id) &&
        (text = cJSON_PrintUnformatted(ack)))
        rc = c->s->svc->ws_send(c->ws, text, strlen(text));
    if (rc < 0)
        c->s->svc->log(c->s->host, AB_LOG_WARN, "cannot acknowledge envelope %s: %s", id,
                       ab_strerror(rc));
    free(text);
    cJSON_Delete(ack);
}

/* The core recorded the held message: ack its envelope on the socket it came on (if
 * that socket is gone, Slack redelivers it and the redelivery is acked as a repeat). */
static void
slack_socket_recorded(void *arg, int status)
{
    struct slack_socket_held *h = arg;

    if (status != AB_ECANCELED) {
        for (struct slack_socket_conn *c = h->s->conns; c; c = c->next) {
            if (c->serial == h->serial && !c->is_closing) {
                slack_socket_ack(c, h->envelope_id);
                break;
            }
        }
    }
    free(h->envelope_id);
    free(h);
}

/* An events_api envelope: a message is acked once the core recorded it (a crash
 * before that makes Slack redeliver it); anything else at once. */
static void
slack_socket_on_events(struct slack_socket_conn *c, const char *envelope_id, const cJSON *payload)
{
    struct slack_socket_held *h = envelope_id ? calloc(1, sizeof(*h)) : NULL;

    if (h && !(h->envelope_id = strdup(envelope_id))) {
        free(h);
        h = NULL;
    }
    if (h) {
        h->s = c->s;
        h->serial = c->serial;
    }
    if (events_handle(c->s, payload, h ? slack_socket_recorded : NULL, h))
        return;
    if (h) {
        free(h->envelope_id);
        free(h);
    }
    if (envelope_id)
        slack_socket_ack(c, envelope_id);
}

/* One message from Slack: ack (events: once recorded), then act. */
static void
slack_socket_on_message(void *arg, struct ab_ws *ws, const char *data, size_t len, bool is_binary)
{
    struct slack_socket_conn *c = arg;
    struct ab_chat *s = c->s;
    cJSON *msg = is_binary ? NULL : cJSON_ParseWithLength(data, len);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "envelope_id");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(msg, "type");

    (void)ws;
    if (!cJSON_IsObject(msg)) {
        s->svc->log(s->host, AB_LOG_WARN, "ignoring a Socket Mode frame that is not JSON");
        goto done;
    }
    if (cJSON_IsString(type) && strcmp(type->valuestring, "events_api") == 0) {
        slack_socket_on_events(c, cJSON_IsString(id) ? id->valuestring : NULL,
                               cJSON_GetObjectItemCaseSensitive(msg, "payload"));
        goto done;
    }
    if (cJSON_IsString(id))
        slack_socket_ack(c, id->valuestring);
    if (!cJSON_IsString(type))
        goto done;
    if (strcmp(type->valuestring, "hello") == 0) {
        slack_socket_on_hello(c);
    } else if (strcmp(type->valuestring, "disconnect") == 0) {
        const cJSON *reason = cJSON_GetObjectItemCaseSensitive(msg, "reason");
        slack_socket_on_disconnect(c, cJSON_IsString(reason) ? reason->valuestring : "");
    } else if (strcmp(type->valuestring, "slash_commands") == 0) {
        slack_slash_on_envelope(s, cJSON_GetObjectItemCaseSensitive(msg, "payload"));
    } else if (strcmp(type->valuestring, "interactive") == 0) {
        slack_interactive_on_envelope(s, cJSON_GetObjectItemCaseSensitive(msg, "payload"));
    } else {
        s->svc->log(s->host, AB_LOG_DEBUG, "ignoring a %s envelope", type->valuestring);
    }
done:
    cJSON_Delete(msg);
}

/* A socket ended: forget it; reconnect unless another one carries on. */
static void
slack_socket_on_close(void *arg, struct ab_ws *ws, int code, const char *reason, bool was_clean)
{
    struct slack_socket_conn *c = arg;
    struct ab_chat *s = c->s;
    char detail[256];

    (void)ws;
    (void)was_clean;
    for (struct slack_socket_conn **link = &s->conns; *link; link = &(*link)->next) {
        if (*link == c) {
            *link = c->next;
            break;
        }
    }
    free(c);
    if (s->is_closing || s->is_stopped)
        return;
    snprintf(detail, sizeof(detail), "Socket Mode connection closed: %d %s", code,
             reason ? reason : "");
    if (slack_socket_has_live(s, NULL))
        s->svc->log(s->host, AB_LOG_INFO, "%s; another connection carries on", detail);
    else
        slack_socket_report(s, detail);
    if (!slack_socket_has_live(s, NULL))
        slack_socket_schedule(s);
}

/* Connect to the URL apps.connections.open returned. */
static int
slack_socket_connect(struct ab_chat *s, const char *url)
{
    struct slack_socket_conn *c = calloc(1, sizeof(*c));
    struct ab_ws_options opt = {
        .size = sizeof(opt),
        .url = url,
        .idle_timeout_ms = s->idle_timeout_ms,
        .max_message = SOCKET_MAX_MESSAGE,
    };
    struct ab_ws_callbacks cb = {
        .size = sizeof(cb),
        .on_message = slack_socket_on_message,
        .on_close = slack_socket_on_close,
    };
    int rc;

    if (!c)
        return AB_ENOMEM;
    c->s = s;
    if ((rc = s->svc->ws_connect(s->host, &opt, &cb, c, &c->ws)) < 0) {
        free(c);
        return rc;
    }
    c->serial = ++s->conn_serial;
    c->next = s->conns;
    s->conns = c;
    return 0;
}

/* apps.connections.open answered: connect, or judge the failure. */
static void
slack_socket_opened(void *arg, int status, const cJSON *body, const char *error)
{
    struct ab_chat *s = arg;
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(body, "url");
    int rc = status;

    s->opening = NULL;
    if (status == AB_EAUTH) {
        slack_socket_fatal(s, error);
        return;
    }
    if (status == 0 && !cJSON_IsString(url))
        rc = AB_EPROTO;
    if (rc == 0 && (rc = slack_socket_connect(s, url->valuestring)) == 0)
        return;
    s->svc->log(s->host, AB_LOG_WARN, "cannot open a Socket Mode connection: %s%s%s",
                ab_strerror(rc), *error ? ": " : "", error);
    if (!slack_socket_has_live(s, NULL))
        slack_socket_report(s, "cannot open a Socket Mode connection");
    slack_socket_schedule(s);
}

/* Ask for a fresh socket URL (each is single-use) unless one is on its way. */
static void
slack_socket_open(struct ab_chat *s)
{
    int rc;

    if (s->opening || s->is_stopped || s->is_closing)
        return;
    rc = slack_web_call(s, SLACK_WEB_CONNECTIONS_OPEN, NULL, slack_socket_opened, s, &s->opening);
    if (rc < 0) {
        s->opening = NULL;
        s->svc->log(s->host, AB_LOG_WARN, "apps.connections.open: %s", ab_strerror(rc));
        slack_socket_schedule(s);
    }
}

/* Open the first connection. */
int
slack_socket_start(struct ab_chat *s)
{
    slack_socket_open(s);
    return 0;
}

/* Close everything; no callback of ours runs after this. */
void
slack_socket_stop(struct ab_chat *s)
{
    s->svc->timer_stop(s->reconnect);
    s->reconnect = NULL;
    if (s->opening) {
        slack_web_cancel(s, s->opening);
        s->opening = NULL;
    }
    for (struct slack_socket_conn *c = s->conns; c; c = c->next)
        slack_socket_conn_close(c, 1000, "shutting down");
}

/* Free every socket's memory without waiting for on_close: at close() the host drops
 * the connections with the plugin and never calls back. */
void
slack_socket_forget(struct ab_chat *s)
{
    while (s->conns) {
        struct slack_socket_conn *c = s->conns;
        s->conns = c->next;
        free(c);
    }
}
