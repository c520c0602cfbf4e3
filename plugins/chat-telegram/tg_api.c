/* chat-telegram Bot API: JSON POSTs to api_base/bot<token>/<method> through the host's
 * HTTP client. An operation's call is sent at once (the core's scheduler decided when);
 * the plugin's own calls (getMe, sendChatAction, webhook set-up) queue in that scheduler
 * on a route of their own ("own METHOD", ABI 1.3 http_scheduled), except the long poll
 * getUpdates, which holds its connection open by design. {"ok":false,…} answers
 * mapped to AB_E* codes, and every answer's rate facts (a 429's parameters.retry_after)
 * reported to the core, tied to the chat operation they answer. The token is in the URL
 * path, so no URL is ever logged here; the host redacts the configured token elsewhere. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strdup, strtok_r: built on its own against the installed headers too */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "telegram.h"

#define TG_API_TIMEOUT_MS 30000

struct tg_call {
    struct ab_chat *t;
    struct ab_http *http;        /* owned by the host until the callback, or NULL */
    struct ab_http_sched *sched; /* the same for a scheduled own call, or NULL */
    char method[32];
    void *op; /* lent: the core's operation its rate facts belong to, or NULL */
    tg_api_cb cb;
    void *arg;
    struct tg_call *next;
};

/* The AB_E* code for a Bot API error. */
int
tg_api_error_code(long http_status, const char *description)
{
    const char *d = description ? description : "";

    if (http_status == 429)
        return AB_ERATELIMIT;
    if (http_status == 401 || (http_status == 404 && strstr(d, "method not found") == NULL))
        return AB_EAUTH; /* Unauthorized; a bad token path answers a bare 404 */
    if (http_status == 403)
        return -EPERM; /* blocked, kicked: stop sending there */
    if (http_status == 409)
        return AB_EAGAIN; /* another poller or a webhook */
    if (http_status >= 500)
        return AB_EIO;
    if (http_status == 400) {
        if (strstr(d, "not found"))
            return AB_ENOENT;
        return AB_EINVAL;
    }
    return AB_EPROTO;
}

/* Unlink @call from the instance's list. */
static void
tg_api_unlink(struct ab_chat *t, struct tg_call *call)
{
    for (struct tg_call **link = &t->calls; *link; link = &(*link)->next) {
        if (*link == call) {
            *link = call->next;
            return;
        }
    }
}

/* The retry_after of a 429 in ms: parameters.retry_after (seconds), else Retry-After. */
static uint64_t
tg_api_retry_after_ms(const cJSON *body, const struct ab_http_response *r)
{
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(body, "parameters");
    const cJSON *ra = cJSON_GetObjectItemCaseSensitive(params, "retry_after");

    if (cJSON_IsNumber(ra) && ra->valuedouble > 0 && ra->valuedouble < 86400)
        return (uint64_t)(ra->valuedouble * 1000.0);
    return r->retry_after_ms;
}

/* Tell the core what an answer said: a 429 with its wait (for the operation, or for the
 * plugin's own call), and every answer of an operation so the core can release it. */
static void
tg_api_report(struct tg_call *call, const struct ab_http_response *r, const cJSON *body)
{
    struct ab_chat *t = call->t;
    bool is_429 = !r->error && r->status == 429;
    uint64_t wait = is_429 ? tg_api_retry_after_ms(body, r) : 0;
    struct ab_rate_info info = {
        .size = sizeof(info),
        .remaining = -1,
        .retry_after_ms = wait,
        .op = call->op,
        .limit = -1,
    };

    if (is_429)
        t->last_retry_after_ms = wait;
    if (is_429)
        t->svc->log(t->host, AB_LOG_WARN, "%s rate limited: retry after %llu ms", call->method,
                    (unsigned long long)wait);
    if (call->op || (is_429 && !call->sched)) /* a scheduled call's were judged already */
        t->svc->rate_report(t->host, &info);
}

/* Judge one attempt of a scheduled own call for the core: its rate facts, and whether
 * to send it again (a 429 after its retry_after, a 5xx with backoff). */
static int
tg_api_judge(void *arg, struct ab_http_sched *op, const struct ab_http_response *r)
{
    struct tg_call *call = arg;
    struct ab_chat *t = call->t;
    cJSON *body = r->body_len ? cJSON_ParseWithLength(r->body, r->body_len) : NULL;
    struct ab_rate_info info = {.size = sizeof(info), .remaining = -1, .op = op, .limit = -1};

    if (r->status == 429)
        info.retry_after_ms = tg_api_retry_after_ms(body, r);
    t->svc->rate_report(t->host, &info);
    cJSON_Delete(body);
    if (r->status == 429)
        return AB_ERATELIMIT;
    return r->status >= 500 ? AB_EIO : 0;
}

/* The host's answer: judge status and body, then hand over. */
static void
tg_api_done(void *arg, const struct ab_http_response *r)
{
    struct tg_call *call = arg;
    struct ab_chat *t = call->t;
    cJSON *body = NULL;
    const cJSON *result = NULL, *desc;
    const char *description = "";
    int status = 0;

    tg_api_unlink(t, call);
    if (!r->error)
        body = cJSON_ParseWithLength(r->body, r->body_len);
    desc = cJSON_GetObjectItemCaseSensitive(body, "description");
    if (cJSON_IsString(desc))
        description = desc->valuestring;
    tg_api_report(call, r, body);
    if (r->error) {
        status = r->error;
        t->svc->log(t->host, AB_LOG_WARN, "%s failed: %s", call->method, r->error_text);
    } else if (r->status == 200 && cJSON_IsObject(body) &&
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "ok"))) {
        result = cJSON_GetObjectItemCaseSensitive(body, "result");
    } else if (!cJSON_IsObject(body) && r->status < 500 && r->status != 429) {
        status = AB_EPROTO;
        t->svc->log(t->host, AB_LOG_WARN, "%s: unexpected answer (HTTP %ld)", call->method,
                    r->status);
    } else {
        status = tg_api_error_code(r->status, description);
        /* "message is not modified" is a success the caller recognises: not worth a line */
        if (!strstr(description, "message is not modified"))
            t->svc->log(t->host, AB_LOG_WARN, "%s: HTTP %ld %s", call->method, r->status,
                        *description ? description : "(no description)");
    }
    call->cb(call->arg, status, result, description);
    cJSON_Delete(body);
    free(call);
}

/* Start one Bot API call, now. */
int
tg_api_call(struct ab_chat *t, const char *method, const cJSON *params, void *op,
            uint32_t timeout_ms, tg_api_cb cb, void *arg, struct tg_call **out)
{
    static const char *const headers[] = {"Content-Type: application/json", NULL};
    char url[1024];
    struct tg_call *call;
    char *body = NULL;
    int rc;

    if (strlen(method) >= sizeof(call->method) ||
        (size_t)snprintf(url, sizeof(url), "%s/bot%s/%s", t->api_base, t->token, method) >=
            sizeof(url))
        return AB_EINVAL;
    if (!(call = calloc(1, sizeof(*call))))
        return AB_ENOMEM;
    if (params && !(body = cJSON_PrintUnformatted(params))) {
        rc = AB_ENOMEM;
        goto fail_call;
    }
    call->t = t;
    snprintf(call->method, sizeof(call->method), "%s", method);
    call->op = op;
    call->cb = cb;
    call->arg = arg;
    struct ab_http_request req = {
        .size = sizeof(req),
        .method = "POST",
        .url = url,
        .headers = headers,
        .body = body ? body : "{}",
        .body_len = body ? strlen(body) : 2,
        .timeout_ms = timeout_ms ? timeout_ms : TG_API_TIMEOUT_MS,
    };
    rc = AB_ENOTSUP;
    if (!op && strcmp(method, "getUpdates") != 0 &&
        AB_HAS(t->svc, struct ab_host_services, http_scheduled) && t->svc->http_scheduled) {
        char route[48];
        snprintf(route, sizeof(route), "own %s", method);
        rc = t->svc->http_scheduled(t->host, route, &req, tg_api_judge, tg_api_done, call,
                                    &call->sched);
    }
    if (rc == AB_ENOTSUP) {
        call->sched = NULL;
        rc = t->svc->http_request(t->host, &req, tg_api_done, call, &call->http);
    }
    memset(url, 0, sizeof(url)); /* the token does not linger on the stack */
    if (rc < 0)
        goto fail_body;
    free(body);
    call->next = t->calls;
    t->calls = call;
    if (out)
        *out = call;
    return 0;

fail_body:
    free(body);
fail_call:
    free(call);
    return rc;
}

/* Abandon one call. */
void
tg_api_cancel(struct ab_chat *t, struct tg_call *call)
{
    if (!call)
        return;
    tg_api_unlink(t, call);
    if (call->sched)
        t->svc->http_scheduled_cancel(call->sched);
    else
        t->svc->http_cancel(call->http);
    free(call);
}

/* Abandon every call. */
void
tg_api_cancel_all(struct ab_chat *t)
{
    while (t->calls)
        tg_api_cancel(t, t->calls);
}
