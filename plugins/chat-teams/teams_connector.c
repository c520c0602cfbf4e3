/* chat-teams: calls to the Bot Connector REST API (teams.md §4-§8). Each call carries the
 * bot's token from the client-credentials flow (POST login_url/<tenant>/oauth2/v2.0/token,
 * scope https://api.botframework.com/.default), fetched once and kept until five minutes
 * before it expires; calls made meanwhile wait for it. The token goes only to the
 * serviceUrl an authenticated activity named for the conversation (or the configured
 * default). An operation's call goes at once (the core's scheduler already decided when);
 * the plugin's own calls (typing) queue in that scheduler on the conversation's route
 * (ABI 1.3 http_scheduled). Every answer's rate facts go to the core (a 429's Retry-After
 * included): the plugin never waits or retries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "teams.h"

#define TEAMS_TOKEN_MARGIN_MS (5 * 60 * 1000)
#define TEAMS_CALL_TIMEOUT_MS 30000

struct teams_call {
    struct ab_chat *t;
    struct teams_call *next;
    char *method; /* owned */
    char *url;    /* owned */
    char *body;   /* owned */
    char *route;  /* owned: "conv <conversation>", the scheduler's route of an own call */
    void *op;     /* lent: the core's operation, or NULL (the plugin's own call) */
    teams_call_cb cb;
    void *arg;
    /* Host-owned while in flight (one of them); both NULL while waiting for the token. */
    struct ab_http *http;
    struct ab_http_sched *sched;
};

/* Percent-encode one path segment (RFC 3986 unreserved characters stay). */
char *
teams_path_escape(const char *in)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = malloc(3 * strlen(in) + 1), *o = out;

    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    return out;
}

/* Remember a conversation's serviceUrl (the least recently used one makes room). */
void
teams_service_url_learn(struct ab_chat *t, const char *conversation, const char *url)
{
    uint64_t now = t->svc->now_ms(t->host);
    size_t n = strlen(url), victim = 0;
    struct teams_service_url *u;

    while (n && url[n - 1] == '/')
        n--;
    for (size_t i = 0; i < t->nurls; i++) {
        u = &t->urls[i];
        if (!strcmp(u->conversation, conversation)) {
            u->used_ms = now;
            if (strlen(u->url) != n || strncmp(u->url, url, n)) {
                char *copy = strndup(url, n);
                if (copy) {
                    free(u->url);
                    u->url = copy;
                }
            }
            return;
        }
        if (u->used_ms < t->urls[victim].used_ms)
            victim = i;
    }
    if (t->nurls < TEAMS_SERVICE_URLS_MAX)
        victim = t->nurls++;
    u = &t->urls[victim];
    free(u->conversation);
    free(u->url);
    u->conversation = strdup(conversation);
    u->url = strndup(url, n);
    u->used_ms = now;
    if (!u->conversation || !u->url) {
        free(u->conversation);
        free(u->url);
        *u = t->urls[--t->nurls];
        memset(&t->urls[t->nurls], 0, sizeof(t->urls[0]));
    }
}

/* The serviceUrl for @conversation: learned, or the configured default. */
static const char *
teams_service_url(struct ab_chat *t, const char *conversation)
{
    for (size_t i = 0; i < t->nurls; i++)
        if (!strcmp(t->urls[i].conversation, conversation)) {
            t->urls[i].used_ms = t->svc->now_ms(t->host);
            return t->urls[i].url;
        }
    return t->default_service_url;
}

/* Unlink and free a call. */
static void
teams_call_free(struct teams_call *c)
{
    struct ab_chat *t = c->t;

    for (struct teams_call **link = &t->calls; *link; link = &(*link)->next)
        if (*link == c) {
            *link = c->next;
            break;
        }
    free(c->method);
    free(c->url);
    free(c->body);
    free(c->route);
    free(c);
}

/* Abandon @c's request in flight, if any (no callback). */
static void
teams_call_cancel(struct teams_call *c)
{
    struct ab_chat *t = c->t;

    if (c->sched)
        t->svc->http_scheduled_cancel(c->sched);
    else
        t->svc->http_cancel(c->http);
    c->sched = NULL;
    c->http = NULL;
}

/* The AB_E* code for a Connector status (teams.md §8). */
static int
teams_status_code(long status)
{
    if (status >= 200 && status < 300)
        return 0;
    switch (status) {
    case 429: return AB_ERATELIMIT;
    case 401: return AB_EAUTH;
    case 403:
    case 404: return AB_ENOENT;
    case 400:
    case 413: return AB_EINVAL;
    default: return AB_EIO; /* 412, 5xx: the core may try again */
    }
}

/* A Connector answer: report its rate facts, then complete. */
static void
teams_call_done(void *arg, const struct ab_http_response *r)
{
    struct teams_call *c = arg;
    struct ab_chat *t = c->t;
    bool is_429 = !r->error && r->status == 429;
    struct ab_rate_info info = {.size = sizeof(info),
                                .remaining = -1,
                                .retry_after_ms = is_429 ? r->retry_after_ms : 0,
                                .op = c->op,
                                .limit = -1};
    cJSON *body = NULL;
    const char *id = NULL;
    int status = r->error ? r->error : teams_status_code(r->status);

    if (c->op || (is_429 && !c->sched)) /* the scheduler judged its own call's answer */
        t->svc->rate_report(t->host, &info);
    c->http = NULL;
    c->sched = NULL;
    if (r->error) {
        t->svc->log(t->host, AB_LOG_WARN, "%s to the Connector failed: %s", c->method,
                    r->error_text);
    } else if (status < 0) {
        const char *corr = ab_http_header(r, "X-Correlating-OperationId");
        t->svc->log(t->host, is_429 ? AB_LOG_INFO : AB_LOG_WARN,
                    "%s to the Connector: HTTP %ld%s%s", c->method, r->status,
                    corr ? ", operation " : "", corr ? corr : "");
        if (r->status == 401) {
            free(t->token); /* perhaps expired early: the next call fetches another */
            t->token = NULL;
        }
    } else if ((body = cJSON_ParseWithLength(r->body, r->body_len))) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "id");
        id = cJSON_IsString(v) ? v->valuestring : NULL;
    }
    c->cb(c->arg, status, id);
    cJSON_Delete(body);
    teams_call_free(c);
}

/* Send one call now that the token is known. */
static int
teams_call_start(struct teams_call *c)
{
    struct ab_chat *t = c->t;
    char auth[4200];
    const char *hdrs[] = {auth, "Content-Type: application/json; charset=utf-8", NULL};
    struct ab_http_request req = {.size = sizeof(req),
                                  .method = c->method,
                                  .url = c->url,
                                  .headers = hdrs,
                                  .body = c->body,
                                  .body_len = strlen(c->body),
                                  .timeout_ms = TEAMS_CALL_TIMEOUT_MS};

    int rc = AB_ENOTSUP;

    if (snprintf(auth, sizeof(auth), "Authorization: Bearer %s", t->token) >= (int)sizeof(auth))
        return AB_EINVAL;
    if (!c->op && AB_HAS(t->svc, struct ab_host_services, http_scheduled) && t->svc->http_scheduled)
        rc = t->svc->http_scheduled(t->host, c->route, &req, NULL, teams_call_done, c, &c->sched);
    if (rc == AB_ENOTSUP) {
        c->sched = NULL;
        rc = t->svc->http_request(t->host, &req, teams_call_done, c, &c->http);
    }
    return rc;
}

/* Fail or start every call that waited for the token. */
static void
teams_calls_release(struct ab_chat *t, int status)
{
    struct teams_call *c, *next;
    int rc;

    for (c = t->calls; c; c = next) {
        next = c->next;
        if (c->http || c->sched)
            continue;
        if (status == 0 && (rc = teams_call_start(c)) == 0)
            continue;
        c->cb(c->arg, status ? status : rc, NULL);
        teams_call_free(c);
    }
}

/* The token endpoint answered. */
static void
teams_on_token(void *arg, const struct ab_http_response *r)
{
    struct ab_chat *t = arg;
    cJSON *doc = r->error || r->status != 200 ? NULL : cJSON_ParseWithLength(r->body, r->body_len);
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(doc, "access_token");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(doc, "expires_in");
    uint64_t life_ms;

    t->token_fetch = NULL;
    if (!cJSON_IsString(tok) || !*tok->valuestring || strlen(tok->valuestring) > 4096 ||
        !cJSON_IsNumber(exp) || exp->valuedouble < 60 || exp->valuedouble > 86400 * 7) {
        t->svc->log(t->host, AB_LOG_ERROR,
                    "cannot get a Bot Connector token (HTTP %ld%s%s): check app_id, "
                    "app_password and tenant_id",
                    r->status, r->error ? ": " : "", r->error ? r->error_text : "");
        cJSON_Delete(doc);
        teams_calls_release(t, r->status == 400 || r->status == 401 ? AB_EAUTH : AB_EIO);
        return;
    }
    free(t->token);
    /* Not add_secret: a new token every hour would fill the host's redaction table
     * (it keeps 64). The token only ever travels in an Authorization header, whose
     * values the host never logs, and this plugin logs statuses only. */
    t->token = strdup(tok->valuestring);
    life_ms = (uint64_t)exp->valuedouble * 1000;
    t->token_expires_ms =
        t->svc->now_ms(t->host) +
        (life_ms > 2 * TEAMS_TOKEN_MARGIN_MS ? life_ms - TEAMS_TOKEN_MARGIN_MS : life_ms / 2);
    cJSON_Delete(doc);
    teams_calls_release(t, t->token ? 0 : AB_ENOMEM);
}

/* Ask for a token (client credentials). */
static int
teams_token_fetch(struct ab_chat *t)
{
    static const char *const hdrs[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    char url[1024], *id = NULL, *pw = NULL;
    char *form = NULL;
    struct ab_http_request req = {
        .size = sizeof(req), .method = "POST", .url = url, .headers = hdrs};
    int rc = AB_ENOMEM;

    if (t->token_fetch)
        return 0; /* the calls waiting now go out with its answer */
    id = teams_path_escape(t->app_id);
    pw = teams_path_escape(t->app_password);
    if (!id || !pw ||
        asprintf(&form,
                 "grant_type=client_credentials&client_id=%s&client_secret=%s&scope=https%%3A%%2F%%"
                 "2Fapi.botframework.com%%2F.default",
                 id, pw) < 0) {
        form = NULL;
        goto out;
    }
    snprintf(url, sizeof(url), "%s/%s/oauth2/v2.0/token", t->login_url, t->tenant);
    req.body = form;
    req.body_len = strlen(form);
    if ((rc = t->svc->http_request(t->host, &req, teams_on_token, t, &t->token_fetch)) < 0)
        t->token_fetch = NULL;
out:
    if (form) {
        memset(form, 0, strlen(form)); /* it holds the password */
        free(form);
    }
    if (pw)
        memset(pw, 0, strlen(pw));
    free(pw);
    free(id);
    return rc;
}

/* Call the Connector. */
int
teams_connector_call(struct ab_chat *t, const char *conversation, const char *method,
                     const char *activity_id, const char *body, void *op, teams_call_cb cb,
                     void *arg)
{
    struct teams_call *c;
    char *conv = teams_path_escape(conversation),
         *act = activity_id ? teams_path_escape(activity_id) : NULL;
    const char *base = teams_service_url(t, conversation);
    int rc = AB_ENOMEM;

    if (t->is_closing) {
        free(conv);
        free(act);
        return AB_ECLOSED;
    }
    if (!conv || (activity_id && !act) || !(c = calloc(1, sizeof(*c))))
        goto fail;
    c->t = t;
    c->op = op;
    c->cb = cb;
    c->arg = arg;
    c->method = strdup(method);
    c->body = strdup(body);
    if (asprintf(&c->route, "conv %s", conversation) < 0)
        c->route = NULL;
    if (asprintf(&c->url, "%s/v3/conversations/%s/activities%s%s", base, conv, act ? "/" : "",
                 act ? act : "") < 0)
        c->url = NULL;
    if (!c->method || !c->body || !c->route || !c->url) {
        free(c->method);
        free(c->body);
        free(c->route);
        free(c->url);
        free(c);
        goto fail;
    }
    c->next = t->calls;
    t->calls = c;
    if (t->token && t->svc->now_ms(t->host) < t->token_expires_ms)
        rc = teams_call_start(c);
    else
        rc = teams_token_fetch(t);
    if (rc < 0) {
        c->http = NULL;
        c->sched = NULL;
        teams_call_free(c);
    }
fail:
    free(conv);
    free(act);
    return rc;
}

/* Drop every call (no callbacks) and the token. */
void
teams_connector_stop(struct ab_chat *t)
{
    t->is_closing = true;
    while (t->calls) {
        struct teams_call *c = t->calls;
        teams_call_cb cb = c->cb;
        void *arg = c->arg;
        teams_call_cancel(c);
        teams_call_free(c);
        if (cb)
            cb(arg, AB_ECANCELED, NULL); /* is_closing: it frees what it holds, no more */
    }
    t->svc->http_cancel(t->token_fetch);
    t->token_fetch = NULL;
    free(t->token);
    t->token = NULL;
    for (size_t i = 0; i < t->nurls; i++) {
        free(t->urls[i].conversation);
        free(t->urls[i].url);
    }
    t->nurls = 0;
}

/* See teams.h: a channel's reply chain is "CHANNEL;messageid=ROOT" (teams_activity.c
 * keys channel messages so); a chat or a personal conversation is one conversation. The
 * chain learns the channel's serviceUrl. */
int
teams_conversation_of(struct ab_chat *t, const char *channel_id, const char *thread_id,
                      const char *message_id, char *out, size_t cap)
{
    bool is_channel = channel_id && !strchr(channel_id, ';') &&
                      (strstr(channel_id, "@thread.tacv2") || strstr(channel_id, "@thread.skype"));
    int n;

    if (!channel_id)
        return AB_EINVAL;
    if (thread_id)
        n = snprintf(out, cap, "%s", thread_id);
    else if (is_channel && message_id)
        n = snprintf(out, cap, "%s;messageid=%s", channel_id, message_id);
    else
        n = snprintf(out, cap, "%s", channel_id);
    if (n <= 0 || (size_t)n >= cap)
        return AB_EINVAL;
    const char *url =
        is_channel && message_id && !thread_id ? teams_service_url(t, channel_id) : NULL;
    if (url)
        teams_service_url_learn(t, out, url);
    return 0;
}
