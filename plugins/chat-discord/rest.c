/* chat-discord REST v10: every call goes through the host's HTTP client with the bot
 * token and Discord's User-Agent. Calls on one route go one at a time; a route (or,
 * on a global 429, every route) waits out what Discord said before its next call, so
 * no request ever lands inside a rate-limit window. Every response's headers are
 * reported to the core with rate_report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discord.h"

#define DISCORD_USER_AGENT                                                                         \
    "User-Agent: DiscordBot (https://github.com/agent-broker/agent-broker, " AB_VERSION_STRING ")"

/* Rate-limit state of one route key ("POST /channels/1/messages" and the like). */
struct discord_route {
    struct discord_route *next;
    struct ab_chat *chat;    /* lent: the instance owning the table */
    char *key;               /* owned */
    uint64_t not_before_ms;  /* no call starts before this (429, exhausted window, spacing) */
    bool is_busy;            /* a call is in flight */
    struct ab_timer *wakeup; /* pending start of the next call */
    struct ab_defer *kick;   /* a new call's start on the next loop turn (host-owned) */
};

/* One REST call, queued on its route until it may start. */
struct discord_req {
    struct discord_req *next;
    struct ab_chat *chat;
    struct discord_route *route; /* lent from the chat's table */
    struct ab_http *http;        /* in flight, or NULL */
    char *method, *url, *body;   /* owned */
    uint64_t spacing_ms;
    discord_rest_cb cb;
    void *arg;
};

static void discord_rest_pump(struct ab_chat *c, struct discord_route *r);

/* The AB_E* code for an HTTP status. */
int
discord_rest_status(long http)
{
    if (http >= 200 && http < 300)
        return 0;
    if (http == 429)
        return AB_ERATELIMIT;
    if (http == 401)
        return AB_EAUTH;
    if (http >= 500)
        return AB_EIO;
    return AB_EINVAL;
}

/* The route for @key, created on first use. */
static struct discord_route *
discord_route_get(struct ab_chat *c, const char *key)
{
    struct discord_route *r;

    for (r = c->routes; r; r = r->next)
        if (strcmp(r->key, key) == 0)
            return r;
    if (!(r = calloc(1, sizeof(*r))))
        return NULL;
    if (!(r->key = strdup(key))) {
        free(r);
        return NULL;
    }
    r->chat = c;
    r->next = c->routes;
    c->routes = r;
    return r;
}

/* Free route @r when nothing waits on it any more, so one route per channel ever seen
 * does not pile up. */
static void
discord_route_release_if_idle(struct ab_chat *c, struct discord_route *r)
{
    struct discord_route **link;
    struct discord_req *q;

    if (r->is_busy || r->wakeup || r->kick || r->not_before_ms > c->svc->now_ms(c->host))
        return;
    for (q = c->reqs; q; q = q->next)
        if (q->route == r)
            return;
    for (link = &c->routes; *link && *link != r; link = &(*link)->next)
        ;
    if (*link)
        *link = r->next;
    free(r->key);
    free(r);
}

/* Unlink and free a request (its HTTP handle is already gone). */
static void
discord_req_free(struct ab_chat *c, struct discord_req *q)
{
    struct discord_req **link;

    for (link = &c->reqs; *link && *link != q; link = &(*link)->next)
        ;
    if (*link)
        *link = q->next;
    free(q->method);
    free(q->url);
    free(q->body);
    free(q);
}

/* Tell the core's limiter what the response said. */
static void
discord_rest_report(struct ab_chat *c, const struct discord_req *q,
                    const struct ab_http_response *resp, uint64_t retry_after_ms)
{
    char bucket[160];
    struct ab_rate_info info = {
        .size = sizeof(info),
        .remaining = resp->ratelimit_remaining,
        .reset_after_ms = resp->ratelimit_reset_after_ms,
        .retry_after_ms = retry_after_ms,
        .global = resp->ratelimit_global,
    };

    if (resp->ratelimit_bucket) {
        snprintf(bucket, sizeof(bucket), "discord:%s:%s", resp->ratelimit_bucket, q->route->key);
        info.bucket = bucket;
    }
    if (info.remaining >= 0 || retry_after_ms > 0)
        c->svc->rate_report(c->host, &info);
}

/* A response (or a transport error) for @q: learn the limits, answer, start the next. */
static void
discord_rest_done(void *arg, const struct ab_http_response *resp)
{
    struct discord_req *q = arg;
    struct ab_chat *c = q->chat;
    struct discord_route *r = q->route;
    uint64_t now = c->svc->now_ms(c->host), retry_after_ms = 0;
    cJSON *body = NULL;
    const cJSON *code;
    int status;

    q->http = NULL;
    r->is_busy = false;
    /* Spacing counts from the answer: the next call cannot overtake this one's
     * arrival, whatever the network did to it. */
    if (q->spacing_ms && now + q->spacing_ms > r->not_before_ms)
        r->not_before_ms = now + q->spacing_ms;
    if (resp->error) {
        status = resp->error;
        c->svc->log(c->host, AB_LOG_WARN, "%s %s: %s", q->method, q->url,
                    resp->error_text && *resp->error_text ? resp->error_text
                                                          : ab_strerror(resp->error));
    } else {
        status = discord_rest_status(resp->status);
        body = resp->body_len ? cJSON_ParseWithLength(resp->body, resp->body_len) : NULL;
        if (resp->status == 429) {
            const cJSON *ra = cJSON_GetObjectItemCaseSensitive(body, "retry_after");
            const cJSON *gl = cJSON_GetObjectItemCaseSensitive(body, "global");
            /* The body's float is the precise wait; Retry-After is whole seconds. */
            retry_after_ms = cJSON_IsNumber(ra) && ra->valuedouble > 0
                                 ? (uint64_t)(ra->valuedouble * 1000.0 + 0.999)
                                 : resp->retry_after_ms;
            if (retry_after_ms == 0)
                retry_after_ms = 1000;
            if (resp->ratelimit_global || cJSON_IsTrue(gl)) {
                if (now + retry_after_ms > c->global_until_ms)
                    c->global_until_ms = now + retry_after_ms;
            }
            if (now + retry_after_ms > r->not_before_ms)
                r->not_before_ms = now + retry_after_ms;
            c->svc->log(c->host, AB_LOG_WARN, "%s %s: rate limited for %llu ms%s", q->method,
                        q->url, (unsigned long long)retry_after_ms,
                        cJSON_IsTrue(gl) || resp->ratelimit_global ? " (global)" : "");
        } else if (resp->ratelimit_remaining == 0 && resp->ratelimit_reset_after_ms > 0) {
            if (now + resp->ratelimit_reset_after_ms > r->not_before_ms)
                r->not_before_ms = now + resp->ratelimit_reset_after_ms;
        }
        discord_rest_report(c, q, resp, retry_after_ms);
        if (resp->status == 401 && !c->is_token_dead) {
            /* Invalid requests count towards a Cloudflare ban: stop using the token. */
            c->is_token_dead = true;
            c->svc->log(c->host, AB_LOG_ERROR,
                        "Discord rejected the bot token (HTTP 401): no more REST calls; "
                        "reset the token in the Developer Portal and update bot_token");
        } else if (status < 0 && resp->status != 429) {
            c->svc->log(c->host, AB_LOG_WARN, "%s %s: HTTP %ld %.200s", q->method, q->url,
                        resp->status, resp->body);
        }
    }
    code = cJSON_GetObjectItemCaseSensitive(body, "code");
    if (q->cb)
        q->cb(q->arg, status, resp->error ? 0 : resp->status, body,
              status < 0 && cJSON_IsNumber(code) ? code->valueint : 0);
    cJSON_Delete(body);
    discord_req_free(c, q);
    discord_rest_pump(c, r);
    discord_route_release_if_idle(c, r);
}

/* The route's wait is over: start its next call. */
static void
discord_route_wakeup(void *arg)
{
    struct discord_route *r = arg;
    struct ab_chat *c = r->chat;

    c->svc->timer_stop(r->wakeup);
    r->wakeup = NULL;
    discord_rest_pump(c, r);
    discord_route_release_if_idle(c, r);
}

/* Arm the route's timer for @delay_ms unless it is armed already. */
static void
discord_route_arm(struct ab_chat *c, struct discord_route *r, uint64_t delay_ms)
{
    if (r->wakeup)
        return;
    if (c->svc->timer_start(c->host, delay_ms, 0, discord_route_wakeup, r, &r->wakeup) < 0)
        r->wakeup = NULL;
}

/* The loop turn after a call was queued: start it (or wait for its route). */
static void
discord_route_kicked(void *arg)
{
    struct discord_route *r = arg;
    struct ab_chat *c = r->chat;

    r->kick = NULL; /* released by the host as it fired */
    discord_rest_pump(c, r);
    discord_route_release_if_idle(c, r);
}

/* Fail @q with @status from a loop callback (never inside discord_rest_call). */
static void
discord_req_fail(struct ab_chat *c, struct discord_req *q, int status)
{
    if (q->cb)
        q->cb(q->arg, status, 0, NULL, 0);
    discord_req_free(c, q);
}

/* Start the oldest queued call of route @r if the route is free and its wait is over,
 * else arm a timer for the moment it is. Runs only from loop callbacks. */
static void
discord_rest_pump(struct ab_chat *c, struct discord_route *r)
{
    struct discord_req *q, *first;
    uint64_t now, at;
    int rc;

again:
    first = NULL;
    if (r->is_busy || c->is_closing)
        return;
    for (q = c->reqs; q; q = q->next)
        if (q->route == r)
            first = q; /* new requests go to the head: the last match is the oldest */
    if (!first)
        return;
    now = c->svc->now_ms(c->host);
    at = r->not_before_ms > c->global_until_ms ? r->not_before_ms : c->global_until_ms;
    if (at > now) {
        discord_route_arm(c, r, at - now);
        return;
    }
    if (c->is_token_dead) {
        discord_req_fail(c, first, AB_EAUTH);
        goto again;
    }
    const char *hdrs[] = {c->auth_header, DISCORD_USER_AGENT,
                          first->body ? "Content-Type: application/json" : NULL, NULL};
    struct ab_http_request req = {
        .size = sizeof(req),
        .method = first->method,
        .url = first->url,
        .headers = hdrs,
        .body = first->body,
        .body_len = first->body ? strlen(first->body) : 0,
        .timeout_ms = 15000,
    };
    if ((rc = c->svc->http_request(c->host, &req, discord_rest_done, first, &first->http)) < 0) {
        first->http = NULL;
        c->svc->log(c->host, AB_LOG_WARN, "%s %s: %s", first->method, first->url, ab_strerror(rc));
        discord_req_fail(c, first, rc);
        goto again;
    }
    r->is_busy = true;
}

/* Queue a call; it starts on a later loop iteration so its callback never runs inside
 * this call. */
int
discord_rest_call(struct ab_chat *c, const char *method, const char *path, const char *route,
                  const char *body, uint64_t spacing_ms, discord_rest_cb cb, void *arg)
{
    struct discord_req *q;
    struct discord_route *r;
    int rc;

    if (c->is_token_dead)
        return AB_EAUTH;
    if (c->is_closing)
        return AB_ECLOSED;
    if (!(r = discord_route_get(c, route)))
        return AB_ENOMEM;
    if (!(q = calloc(1, sizeof(*q))))
        return AB_ENOMEM;
    q->chat = c;
    q->route = r;
    q->spacing_ms = spacing_ms;
    q->cb = cb;
    q->arg = arg;
    /* asprintf last: on its failure q->url is not ours to free. */
    if (!(q->method = strdup(method)) || (body && !(q->body = strdup(body))) ||
        asprintf(&q->url, "%s%s", c->api_base, path) < 0) {
        free(q->method);
        free(q->body);
        free(q);
        return AB_ENOMEM;
    }
    q->next = c->reqs;
    c->reqs = q;
    if (!r->wakeup && !r->kick &&
        (rc = c->svc->defer(c->host, discord_route_kicked, r, &r->kick)) < 0) {
        r->kick = NULL;
        discord_req_free(c, q);
        discord_route_release_if_idle(c, r);
        return rc;
    }
    return 0;
}

/* Cancel every call without callbacks; free the routes. */
void
discord_rest_close(struct ab_chat *c)
{
    struct discord_route *r;

    /* Owed callbacks run now with AB_ECANCELED (the core releases its side then);
     * they see is_closing and start nothing new. */
    while (c->reqs) {
        struct discord_req *q = c->reqs;
        c->svc->http_cancel(q->http);
        q->http = NULL;
        discord_req_fail(c, q, AB_ECANCELED);
    }
    while ((r = c->routes)) {
        c->routes = r->next;
        c->svc->timer_stop(r->wakeup);
        c->svc->defer_cancel(r->kick);
        free(r->key);
        free(r);
    }
}
