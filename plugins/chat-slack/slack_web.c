/* chat-slack Web API: form-encoded POSTs through the host, an operation's sent at once
 * (the core's scheduler decided when), the plugin's own (auth.test,
 * apps.connections.open) queued in that scheduler by method (ABI 1.3 http_scheduled);
 * Slack's {"ok":false,"error":…} answers mapped to AB_E* codes, and every answer's rate
 * facts (the method's bucket, a 429's Retry-After) reported to the core, tied to the
 * operation or scheduled call they answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slack.h"

#define SLACK_WEB_TIMEOUT_MS 30000

struct slack_web_call {
    struct ab_chat *s;
    struct ab_http *http;        /* owned by the host until the callback */
    struct ab_http_sched *sched; /* or: the scheduled call (the plugin's own) */
    enum slack_web_method method;
    void *op; /* lent: the core's operation its rate facts belong to, or NULL */
    slack_web_cb cb;
    void *arg;
    struct slack_web_call *next;
};

static const char *const slack_web_method_names[SLACK_WEB_METHOD_COUNT] = {
    [SLACK_WEB_AUTH_TEST] = "auth.test",
    [SLACK_WEB_CONNECTIONS_OPEN] = "apps.connections.open",
    [SLACK_WEB_POST_MESSAGE] = "chat.postMessage",
    [SLACK_WEB_UPDATE] = "chat.update",
    [SLACK_WEB_REACTIONS_ADD] = "reactions.add",
    [SLACK_WEB_REACTIONS_REMOVE] = "reactions.remove",
    [SLACK_WEB_GET_UPLOAD_URL] = "files.getUploadURLExternal",
    [SLACK_WEB_COMPLETE_UPLOAD] = "files.completeUploadExternal",
};

/* Slack error codes that mean the token is dead: retrying cannot help. */
static const char *const slack_web_auth_errors[] = {"not_authed",       "invalid_auth",
                                                    "account_inactive", "token_revoked",
                                                    "token_expired",    "user_removed_from_team",
                                                    "team_disabled",    "not_allowed_token_type",
                                                    "missing_scope",    NULL};
/* Slack error codes for something that does not exist (any more). */
static const char *const slack_web_missing_errors[] = {
    "channel_not_found", "message_not_found", "thread_not_found", "no_reaction", "not_in_channel",
    "is_archived",       "user_not_found",    "bot_not_found",    NULL};
/* Slack error codes for a request Slack refuses as malformed. */
static const char *const slack_web_invalid_errors[] = {"msg_too_long",
                                                       "no_text",
                                                       "invalid_name",
                                                       "invalid_arguments",
                                                       "invalid_ts",
                                                       "too_many_reactions",
                                                       "cant_update_message",
                                                       "edit_window_closed",
                                                       NULL};

/* True when @s is one of the NULL-terminated @list. */
static bool
slack_web_in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

/* The AB_E* code for a Slack error code. */
int
slack_web_error_code(const char *error)
{
    if (!error || !*error)
        return AB_EPROTO;
    if (slack_web_in_list(slack_web_auth_errors, error))
        return AB_EAUTH;
    if (strcmp(error, "ratelimited") == 0)
        return AB_ERATELIMIT;
    if (slack_web_in_list(slack_web_missing_errors, error))
        return AB_ENOENT;
    if (slack_web_in_list(slack_web_invalid_errors, error))
        return AB_EINVAL;
    if (strcmp(error, "already_reacted") == 0)
        return AB_EEXIST;
    if (strcmp(error, "internal_error") == 0 || strcmp(error, "fatal_error") == 0 ||
        strcmp(error, "service_unavailable") == 0 || strcmp(error, "request_timeout") == 0)
        return AB_EIO;
    return AB_EPROTO;
}

/* Append @v percent-encoded (application/x-www-form-urlencoded) to @out at *len. */
static void
slack_web_form_escape(char *out, size_t *len, const char *v)
{
    static const char hex[] = "0123456789ABCDEF";

    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            out[(*len)++] = (char)*p;
        } else if (*p == ' ') {
            out[(*len)++] = '+';
        } else {
            out[(*len)++] = '%';
            out[(*len)++] = hex[*p >> 4];
            out[(*len)++] = hex[*p & 15];
        }
    }
}

/* Encode name/value pairs (NULL-terminated; NULL values skipped) as a form body;
 * *out is malloc'd. */
static int
slack_web_form_encode(const char *const *form, char **out)
{
    size_t cap = 1, len = 0;
    char *buf;

    for (const char *const *kv = form; kv && kv[0]; kv += 2)
        if (kv[1])
            cap += 3 * (strlen(kv[0]) + strlen(kv[1])) + 2;
    if (!(buf = malloc(cap)))
        return AB_ENOMEM;
    for (const char *const *kv = form; kv && kv[0]; kv += 2) {
        if (!kv[1])
            continue;
        if (len > 0)
            buf[len++] = '&';
        slack_web_form_escape(buf, &len, kv[0]);
        buf[len++] = '=';
        slack_web_form_escape(buf, &len, kv[1]);
    }
    buf[len] = '\0';
    *out = buf;
    return 0;
}

/* Unlink @call from the instance's list. */
static void
slack_web_unlink(struct ab_chat *s, struct slack_web_call *call)
{
    for (struct slack_web_call **link = &s->calls; *link; link = &(*link)->next) {
        if (*link == call) {
            *link = call->next;
            return;
        }
    }
}

/* Tell the core what an answer said: Slack's limits are per method (and workspace), so
 * the method is the bucket; a 429 carries Retry-After (0 when absent: the core waits its
 * default). Reported for every answer of an operation, and for a 429 of any call. */
static void
slack_web_report(struct slack_web_call *call, void *op, const struct ab_http_response *r)
{
    struct ab_chat *s = call->s;
    bool is_429 = !r->error && r->status == 429;
    struct ab_rate_info info = {
        .size = sizeof(info),
        .bucket =
            call->method == SLACK_WEB_REACTIONS_ADD || call->method == SLACK_WEB_REACTIONS_REMOVE
                ? "reactions"
                : slack_web_method_names[call->method],
        .remaining = -1,
        .retry_after_ms = is_429 ? r->retry_after_ms : 0,
        .op = op,
        .limit = -1,
    };

    if (is_429)
        s->svc->log(s->host, AB_LOG_WARN, "%s rate limited: Retry-After %llu ms",
                    slack_web_method_names[call->method], (unsigned long long)r->retry_after_ms);
    if (op || is_429)
        s->svc->rate_report(s->host, &info);
}

/* One answer to a scheduled call (each attempt): report its rate facts, tied to @op, and
 * say whether the core should send it again (a 429, a 5xx). */
static int
slack_web_judge(void *arg, struct ab_http_sched *op, const struct ab_http_response *r)
{
    slack_web_report(arg, op, r);
    return r->status == 429 ? AB_ERATELIMIT : r->status >= 500 ? AB_EIO : 0;
}

/* The host's answer: judge status and body, then hand over. */
static void
slack_web_done(void *arg, const struct ab_http_response *r)
{
    struct slack_web_call *call = arg;
    struct ab_chat *s = call->s;
    cJSON *body = NULL;
    const char *error = "";
    int status = 0;

    slack_web_unlink(s, call);
    if (!call->sched) /* a scheduled call's answers were judged already */
        slack_web_report(call, call->op, r);
    call->sched = NULL;
    call->http = NULL;
    if (r->error) {
        status = r->error;
        s->svc->log(s->host, AB_LOG_WARN, "%s failed: %s", slack_web_method_names[call->method],
                    r->error_text);
    } else if (r->status == 429) {
        status = AB_ERATELIMIT;
        error = "ratelimited";
    } else if (r->status >= 500) {
        status = AB_EIO;
    } else if (r->status != 200 || !(body = cJSON_Parse(r->body)) || !cJSON_IsObject(body)) {
        status = AB_EPROTO;
        s->svc->log(s->host, AB_LOG_WARN, "%s: unexpected answer (HTTP %ld)",
                    slack_web_method_names[call->method], r->status);
    } else if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "ok"))) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(body, "error");
        error = cJSON_IsString(e) ? e->valuestring : "";
        status = slack_web_error_code(error);
        if (status != AB_EEXIST && strcmp(error, "no_reaction") != 0)
            s->svc->log(s->host, AB_LOG_WARN, "%s: %s", slack_web_method_names[call->method],
                        *error ? error : "ok:false without an error code");
    }
    call->cb(call->arg, status, body, error);
    cJSON_Delete(body);
    free(call);
}

/* Start one Web API call of the plugin's own. */
int
slack_web_call(struct ab_chat *s, enum slack_web_method method, const char *const *form,
               slack_web_cb cb, void *arg, struct slack_web_call **out)
{
    return slack_web_call_for(s, method, form, NULL, cb, arg, out);
}

/* Start one Web API call, now. */
int
slack_web_call_for(struct ab_chat *s, enum slack_web_method method, const char *const *form,
                   void *op, slack_web_cb cb, void *arg, struct slack_web_call **out)
{
    bool is_app = method == SLACK_WEB_CONNECTIONS_OPEN;
    char url[512], auth[512];
    const char *const headers[] = {auth, "Content-Type: application/x-www-form-urlencoded", NULL};
    struct slack_web_call *call;
    char *body = NULL;
    int rc;

    if ((size_t)snprintf(url, sizeof(url), "%s/%s", s->api_base, slack_web_method_names[method]) >=
            sizeof(url) ||
        (size_t)snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
                         is_app ? s->app_token : s->bot_token) >= sizeof(auth))
        return AB_EINVAL;
    if (!(call = calloc(1, sizeof(*call))))
        return AB_ENOMEM;
    if ((rc = slack_web_form_encode(form, &body)) < 0)
        goto fail_call;
    *call = (struct slack_web_call){.s = s, .method = method, .op = op, .cb = cb, .arg = arg};
    struct ab_http_request req = {
        .size = sizeof(req),
        .method = "POST",
        .url = url,
        .headers = headers,
        .body = body,
        .body_len = strlen(body),
        .timeout_ms = SLACK_WEB_TIMEOUT_MS,
    };
    rc = AB_ENOTSUP;
    if (!op && AB_HAS(s->svc, struct ab_host_services, http_scheduled) && s->svc->http_scheduled)
        rc = s->svc->http_scheduled(s->host, slack_web_method_names[method], &req, slack_web_judge,
                                    slack_web_done, call, &call->sched);
    if (rc == AB_ENOTSUP) /* a host without a scheduler */
        rc = s->svc->http_request(s->host, &req, slack_web_done, call, &call->http);
    if (rc < 0)
        goto fail_body;
    free(body);
    call->next = s->calls;
    s->calls = call;
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
slack_web_cancel(struct ab_chat *s, struct slack_web_call *call)
{
    if (!call)
        return;
    slack_web_unlink(s, call);
    if (call->sched)
        s->svc->http_scheduled_cancel(call->sched);
    else
        s->svc->http_cancel(call->http);
    free(call);
}

/* Abandon every call. */
void
slack_web_cancel_all(struct ab_chat *s)
{
    while (s->calls)
        slack_web_cancel(s, s->calls);
}
