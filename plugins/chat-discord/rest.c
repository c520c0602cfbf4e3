/* chat-discord REST v10: every call goes through the host with the bot token and
 * Discord's User-Agent. An operation's call goes at once (the core's scheduler already
 * decided when); the plugin's own calls (gateway URL, channel and message lookups) are
 * queued in that scheduler by route (ABI 1.3 http_scheduled). Every response's rate
 * facts (X-RateLimit-*, a 429's retry_after, global and shared scope) are reported to
 * the core, tied to the operation or scheduled call they answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discord.h"

#define DISCORD_USER_AGENT                                                                         \
    "User-Agent: DiscordBot (https://github.com/agent-broker/agent-broker, " AB_VERSION_STRING ")"

/* One REST call in flight. */
struct discord_req {
    struct discord_req *next;
    struct ab_chat *chat;
    struct ab_http *http;                    /* owned by the host until the callback */
    struct ab_http_sched *sched;             /* or: the scheduled call (the plugin's own) */
    char method[8], path_id[DISCORD_ID_MAX]; /* the major parameter, for the bucket id */
    char *url;                               /* owned */
    char *shown;         /* owned: url for logs, an interaction token masked; or NULL = url */
    bool is_interaction; /* authorised by an interaction token, not the bot token */
    void *op;            /* lent: the core's operation these facts belong to */
    discord_rest_cb cb;
    void *arg;
};

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

/* Unlink and free a request (its HTTP handle is already gone). */
static void
discord_req_free(struct ab_chat *c, struct discord_req *q)
{
    struct discord_req **link;

    for (link = &c->reqs; *link && *link != q; link = &(*link)->next)
        ;
    if (*link)
        *link = q->next;
    free(q->url);
    free(q->shown);
    free(q);
}

/* The URL as logs show it. */
static const char *
discord_req_shown(const struct discord_req *q)
{
    return q->shown ? q->shown : q->url;
}

/* Interaction endpoints carry a token in their path (/interactions/ID/TOKEN/…,
 * /webhooks/APP/TOKEN/…): logs get "***" in its place, and a 401 there is that token's
 * expiry, not the bot token's rejection. */
static int
discord_req_mask(struct ab_chat *c, struct discord_req *q, const char *path)
{
    const char *tok, *end;

    if (strncmp(path, "/interactions/", 14) != 0 && strncmp(path, "/webhooks/", 10) != 0)
        return 0;
    q->is_interaction = true;
    if (!(tok = strchr(path + 1, '/')) || !(tok = strchr(tok + 1, '/')))
        return 0;
    tok++;
    end = strchr(tok, '/');
    if (asprintf(&q->shown, "%s%.*s***%s", c->api_base, (int)(tok - path), path, end ? end : "") <
        0) {
        q->shown = NULL;
        return AB_ENOMEM;
    }
    return 0;
}

/* The major parameter of @path (the id after /channels/, /guilds/ or /webhooks/), or "". */
static void
discord_rest_major(const char *path, char *out, size_t cap)
{
    static const char *const tops[] = {"/channels/", "/guilds/", "/webhooks/", NULL};
    size_t n = 0;

    out[0] = '\0';
    for (const char *const *t = tops; *t; t++) {
        size_t len = strlen(*t);
        if (strncmp(path, *t, len) != 0)
            continue;
        for (path += len; path[n] >= '0' && path[n] <= '9' && n + 1 < cap; n++)
            out[n] = path[n];
        out[n] = '\0';
        return;
    }
}

/* Tell the core what the response said, tied to @q's operation. A 429's precise wait is
 * the body's float retry_after (Retry-After is whole seconds). */
static void
discord_rest_report(struct ab_chat *c, const struct discord_req *q, void *op,
                    const struct ab_http_response *resp, const cJSON *body)
{
    char bucket[160];
    const char *scope = ab_http_header(resp, "X-RateLimit-Scope");
    const char *limit = ab_http_header(resp, "X-RateLimit-Limit");
    struct ab_rate_info info = {
        .size = sizeof(info),
        .remaining = resp->ratelimit_remaining,
        .reset_after_ms = resp->ratelimit_reset_after_ms,
        .global = resp->ratelimit_global,
        .op = op,
        .limit = limit ? strtoll(limit, NULL, 10) : -1,
    };

    if (resp->ratelimit_bucket && strlen(resp->ratelimit_bucket) < 100) {
        snprintf(bucket, sizeof(bucket), "%s:%s", resp->ratelimit_bucket, q->path_id);
        info.bucket = bucket;
    }
    if (resp->status == 429) {
        const cJSON *ra = cJSON_GetObjectItemCaseSensitive(body, "retry_after");
        /* The body's float is the precise wait; a NaN, inf or 1e300 falls back to the
         * header (which the host already range-checked). */
        info.retry_after_ms = resp->retry_after_ms;
        if (cJSON_IsNumber(ra) && ra->valuedouble > 0 &&
            ab_double_to_u64(ra->valuedouble * 1000.0 + 0.999, 1, DISCORD_RETRY_MAX_MS,
                             &info.retry_after_ms) < 0) {
            info.retry_after_ms = resp->retry_after_ms;
            c->svc->log(c->host, AB_LOG_WARN, "%s %s: retry_after %g s is out of range", q->method,
                        discord_req_shown(q), ra->valuedouble);
        }
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "global")) ||
            (scope && strcmp(scope, "global") == 0))
            info.global = true;
        info.scope = info.global                             ? AB_RATE_SCOPE_GLOBAL
                     : scope && strcmp(scope, "shared") == 0 ? AB_RATE_SCOPE_SHARED
                                                             : AB_RATE_SCOPE_BUCKET;
        c->svc->log(c->host, AB_LOG_WARN, "%s %s: rate limited for %llu ms%s", q->method,
                    discord_req_shown(q), (unsigned long long)info.retry_after_ms,
                    info.global                          ? " (global)"
                    : info.scope == AB_RATE_SCOPE_SHARED ? " (shared)"
                                                         : "");
    }
    if (info.remaining >= 0 || info.retry_after_ms > 0 || info.bucket || op)
        c->svc->rate_report(c->host, &info);
}

/* One answer to a scheduled call (each attempt): report its rate facts, tied to @op, and
 * say what it means; the core retries a 429 or a 5xx. */
static int
discord_rest_judge(void *arg, struct ab_http_sched *op, const struct ab_http_response *resp)
{
    struct discord_req *q = arg;
    cJSON *body = resp->body_len ? cJSON_ParseWithLength(resp->body, resp->body_len) : NULL;

    discord_rest_report(q->chat, q, op, resp, body);
    cJSON_Delete(body);
    return discord_rest_status(resp->status);
}

/* A response (or a transport error) for @q: report the rate facts (an operation's; a
 * scheduled call's were judged already), then answer. */
static void
discord_rest_done(void *arg, const struct ab_http_response *resp)
{
    struct discord_req *q = arg;
    struct ab_chat *c = q->chat;
    bool is_scheduled = q->sched != NULL;
    cJSON *body = NULL;
    const cJSON *code;
    int status;

    q->http = NULL;
    q->sched = NULL;
    if (resp->error) {
        status = resp->error;
        c->svc->log(c->host, AB_LOG_WARN, "%s %s: %s", q->method, discord_req_shown(q),
                    resp->error_text && *resp->error_text ? resp->error_text
                                                          : ab_strerror(resp->error));
    } else {
        status = discord_rest_status(resp->status);
        body = resp->body_len ? cJSON_ParseWithLength(resp->body, resp->body_len) : NULL;
        if (!is_scheduled)
            discord_rest_report(c, q, q->op, resp, body);
        if (resp->status == 401 && !c->is_token_dead && !q->is_interaction) {
            /* Invalid requests count towards a Cloudflare ban: stop using the token. */
            c->is_token_dead = true;
            c->svc->log(c->host, AB_LOG_ERROR,
                        "Discord rejected the bot token (HTTP 401): no more REST calls; "
                        "reset the token in the Developer Portal and update bot_token");
        } else if (status < 0 && resp->status != 429) {
            c->svc->log(c->host, AB_LOG_WARN, "%s %s: HTTP %ld %.200s", q->method,
                        discord_req_shown(q), resp->status, resp->body);
        }
    }
    code = cJSON_GetObjectItemCaseSensitive(body, "code");
    if (q->cb)
        q->cb(q->arg, status, resp->error ? 0 : resp->status, body,
              status < 0 && cJSON_IsNumber(code) ? code->valueint : 0);
    cJSON_Delete(body);
    discord_req_free(c, q);
}

/* The scheduler's route of a plugin call: method, path, and every id after the major
 * parameter as {id} (GET /channels/1/messages/{id}), as Discord groups its routes. */
static void
discord_rest_route(const char *method, const char *path, const char *major, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "%s ", method);
    const char *p = path;
    const char *after = *major ? strstr(path, major) : NULL;

    if (after)
        after += strlen(major);
    while (*p && n + 6 < cap) {
        if (after && p >= after && p[-1] == '/' && *p >= '0' && *p <= '9') {
            while (*p >= '0' && *p <= '9')
                p++;
            n += (size_t)snprintf(out + n, cap - n, "{id}");
            continue;
        }
        out[n++] = *p++;
    }
    out[n] = '\0';
}

/* Start a call (a JSON @body, or multipart @parts): an operation's now, the plugin's own
 * through the core's scheduler (or now on a host without one). The host runs its callback
 * later, never inside this call. */
static int
discord_rest_start(struct ab_chat *c, const char *method, const char *path, const char *body,
                   const struct ab_form_part *parts, size_t nparts, void *op, discord_rest_cb cb,
                   void *arg)
{
    struct discord_req *q;
    int rc;

    if (c->is_token_dead)
        return AB_EAUTH;
    if (c->is_closing)
        return AB_ECLOSED;
    if (strlen(method) >= sizeof(q->method))
        return AB_EINVAL;
    if (!(q = calloc(1, sizeof(*q))))
        return AB_ENOMEM;
    *q = (struct discord_req){.chat = c, .op = op, .cb = cb, .arg = arg};
    snprintf(q->method, sizeof(q->method), "%s", method);
    discord_rest_major(path, q->path_id, sizeof(q->path_id));
    if (asprintf(&q->url, "%s%s", c->api_base, path) < 0) {
        free(q);
        return AB_ENOMEM;
    }
    if (discord_req_mask(c, q, path) < 0) {
        free(q->url);
        free(q);
        return AB_ENOMEM;
    }
    const char *hdrs[] = {c->auth_header, DISCORD_USER_AGENT,
                          body ? "Content-Type: application/json" : NULL, NULL};
    struct ab_http_request req = {
        .size = sizeof(req),
        .method = method,
        .url = q->url,
        .headers = hdrs,
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .timeout_ms = parts ? 300000 : 15000,
    };
    rc = AB_ENOTSUP;
    if (parts) {
        if (AB_HAS(c->svc, struct ab_host_services, http_upload) && c->svc->http_upload)
            rc = c->svc->http_upload(c->host, &req, parts, nparts, discord_rest_done, q, &q->http);
    } else {
        /* The plugin's own calls queue in the core's scheduler; an interaction's answer
         * does not (its token's own limits, and Discord's 3 s deadline for the first one). */
        if (!op && !q->is_interaction && AB_HAS(c->svc, struct ab_host_services, http_scheduled) &&
            c->svc->http_scheduled) {
            char route[160];
            discord_rest_route(method, path, q->path_id, route, sizeof(route));
            rc = c->svc->http_scheduled(c->host, route, &req, discord_rest_judge, discord_rest_done,
                                        q, &q->sched);
        }
        if (rc == AB_ENOTSUP)
            rc = c->svc->http_request(c->host, &req, discord_rest_done, q, &q->http);
    }
    if (rc < 0) {
        c->svc->log(c->host, AB_LOG_WARN, "%s %s: %s", method, discord_req_shown(q),
                    ab_strerror(rc));
        free(q->url);
        free(q->shown);
        free(q);
        return rc;
    }
    q->next = c->reqs;
    c->reqs = q;
    return 0;
}

/* See discord.h. */
int
discord_rest_call(struct ab_chat *c, const char *method, const char *path, const char *body,
                  void *op, discord_rest_cb cb, void *arg)
{
    return discord_rest_start(c, method, path, body, NULL, 0, op, cb, arg);
}

/* See discord.h. */
int
discord_rest_upload(struct ab_chat *c, const char *path, const struct ab_form_part *parts,
                    size_t nparts, void *op, discord_rest_cb cb, void *arg)
{
    return discord_rest_start(c, "POST", path, NULL, parts, nparts, op, cb, arg);
}

/* Cancel every call; owed callbacks run now with AB_ECANCELED (the core releases its
 * side then) and see is_closing, so they start nothing new. */
void
discord_rest_close(struct ab_chat *c)
{
    while (c->reqs) {
        struct discord_req *q = c->reqs;
        if (q->sched)
            c->svc->http_scheduled_cancel(q->sched);
        else
            c->svc->http_cancel(q->http);
        q->http = NULL;
        q->sched = NULL;
        if (q->cb)
            q->cb(q->arg, AB_ECANCELED, 0, NULL, 0);
        discord_req_free(c, q);
    }
}
