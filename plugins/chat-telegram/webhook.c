/* chat-telegram webhook mode: Telegram POSTs one Update per request to webhook_url, which
 * the ingress controller (TLS on port 443, 80, 88 or 8443) forwards to webhook_path on the
 * daemon's [ingress] listener. A request is Telegram's only when its
 * X-Telegram-Bot-Api-Secret-Token header equals webhook_secret (compared in constant time;
 * anything else gets 401). Its update goes through the handler polling uses (updates.c),
 * and the answer, 200, goes out only once the core holds the update (deliver_held):
 * Telegram delivers again on any other answer, so nothing it believes delivered is lost.
 * The ids of the updates handled lately are saved through the state service, so a
 * redelivery (the 200 lost, or a restart between the record and the answer) is answered
 * without handling the update twice. Coming from polling, the updates it handled are
 * confirmed first (getUpdates with the saved offset), so Telegram does not post them. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strdup, strtok_r: built on its own against the installed headers too */
#endif
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "telegram.h"

#define TG_HOOK_STATE_KEY "webhook_seen"
#define TG_HOOK_BACKOFF_KEY "setWebhook"
#define TG_HOOK_HEADER "X-Telegram-Bot-Api-Secret-Token"
#define TG_HOOK_SECRET_MAX 256         /* setWebhook's secret_token: 1-256 characters */
#define TG_HOOK_MAX_BODY (1024 * 1024) /* one Update; larger bodies get the host's 413 */
#define TG_HOOK_ANSWER_MS 15000        /* past it the host answers 503: Telegram retries */
#define TG_HOOK_CHECK_S 60             /* getWebhookInfo this often by default */
#define TG_HOOK_ERROR_MAX 200          /* characters of Telegram's error logged */

struct tg_hook_req {
    struct ab_chat *t;
    struct ab_http_exchange *ex; /* owned by the host until answered */
    int64_t update_id;
    struct tg_hook_req *next;
};

/* A secret_token Telegram accepts: 1-256 characters of A-Z a-z 0-9 _ -. */
static bool
tg_hook_secret_valid(const char *s)
{
    size_t n = strlen(s);

    if (n < 1 || n > TG_HOOK_SECRET_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
            return false;
    return true;
}

/* Read and check webhook_url, webhook_secret and webhook_path. */
int
tg_webhook_config(struct ab_chat *t)
{
    const struct ab_host_services *svc = t->svc;
    const char *url = NULL, *secret = NULL, *path = NULL;
    int rc;

    for (size_t i = 0; i < TG_SEEN_MAX; i++)
        t->hook.seen[i] = -1;
    if ((rc = svc->config_string(t->host, "webhook_url", NULL, &url)) < 0 ||
        (rc = svc->config_string(t->host, "webhook_secret", NULL, &secret)) < 0 ||
        (rc = svc->config_string(t->host, "webhook_path", TG_WEBHOOK_PATH, &path)) < 0 ||
        (rc = svc->config_int(t->host, "webhook_check_s", TG_HOOK_CHECK_S, &t->hook.check_s)) < 0)
        return rc;
    if (!url || !*url)
        return 0; /* long polling */
    if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) {
        svc->log(t->host, AB_LOG_ERROR,
                 "[telegram] webhook_url must be the public https:// URL Telegram posts to");
        return AB_ECONFIG;
    }
    if (!secret || !tg_hook_secret_valid(secret)) {
        svc->log(t->host, AB_LOG_ERROR,
                 "[telegram] webhook_secret must be set with webhook_url: 1 to 256 characters "
                 "of A-Z a-z 0-9 _ - (e.g. from `openssl rand -hex 32`)");
        return AB_ECONFIG;
    }
    if (t->hook.check_s < 0 || t->hook.check_s > 86400) {
        svc->log(t->host, AB_LOG_ERROR, "[telegram] webhook_check_s must be 0..86400");
        return AB_ECONFIG;
    }
    if (!path || path[0] != '/') {
        svc->log(t->host, AB_LOG_ERROR, "[telegram] webhook_path must start with '/'");
        return AB_ECONFIG;
    }
    if (!AB_HAS(svc, struct ab_host_services, http_respond) || !svc->http_route_add) {
        svc->log(t->host, AB_LOG_ERROR,
                 "this agent-broker lacks the inbound HTTP service (ABI 1.3): upgrade it");
        return AB_EABI;
    }
    svc->add_secret(t->host, secret);
    t->hook.url = url;
    t->hook.secret = secret;
    t->hook.path = path;
    return 0;
}

/* Whether @got (lent; NULL = no header) is the secret, in a time that depends on the
 * secret's length only, never on how much of it matches. */
static bool
tg_hook_secret_matches(const char *secret, const char *got)
{
    size_t n = strlen(secret), m = got ? strlen(got) : 0;
    volatile unsigned char diff = m != n;

    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)secret[i] ^ (unsigned char)(i < m ? got[i] : 0);
    return got && diff == 0;
}

/* Whether update @id was handled lately. */
static bool
tg_hook_seen(const struct ab_chat *t, int64_t id)
{
    for (size_t i = 0; i < TG_SEEN_MAX; i++)
        if (t->hook.seen[i] == id)
            return true;
    return false;
}

/* Remember update @id as handled (a ring: the oldest is forgotten). */
static void
tg_hook_remember(struct ab_chat *t, int64_t id)
{
    if (tg_hook_seen(t, id))
        return;
    t->hook.seen[t->hook.seen_next] = id;
    t->hook.seen_next = (t->hook.seen_next + 1) % TG_SEEN_MAX;
}

/* Save the handled ids as lines, oldest first. */
static void
tg_hook_save(struct ab_chat *t)
{
    char buf[TG_SEEN_MAX * 24];
    size_t len = 0;
    int rc;

    for (size_t k = 0; k < TG_SEEN_MAX; k++) {
        int64_t id = t->hook.seen[(t->hook.seen_next + k) % TG_SEEN_MAX];
        if (id >= 0)
            len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%" PRId64 "\n", id);
    }
    if ((rc = t->svc->state_put(t->host, TG_HOOK_STATE_KEY, buf, len)) < 0)
        t->svc->log(t->host, AB_LOG_WARN, "cannot save the handled update ids: %s",
                    ab_strerror(rc));
}

/* Load the handled ids; unreadable lines are skipped. */
static void
tg_hook_load(struct ab_chat *t)
{
    char *data = NULL, *text, *line, *save = NULL, *end;
    size_t len = 0;
    int rc = t->svc->state_get(t->host, TG_HOOK_STATE_KEY, &data, &len);

    if (rc < 0 && rc != AB_ENOENT)
        t->svc->log(t->host, AB_LOG_WARN, "cannot read the handled update ids: %s",
                    ab_strerror(rc));
    if (rc < 0 || !data)
        return;
    if ((text = malloc(len + 1))) {
        memcpy(text, data, len);
        text[len] = '\0';
        for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            long long v = strtoll(line, &end, 10);
            if (*end == '\0' && v >= 0)
                tg_hook_remember(t, v);
        }
        free(text);
    }
    free(data);
}

/* Answer a request, with a Retry-After when Telegram should come back later. */
static void
tg_hook_answer(struct ab_chat *t, struct ab_http_exchange *ex, int status)
{
    static const char *const later[] = {"Retry-After: 1", NULL};

    t->svc->http_respond(ex, status, status == 503 ? later : NULL, "", 0);
}

/* The update of @r is with the core (or the plugin is closing): answer Telegram. */
static void
tg_hook_finish(struct tg_hook_req *r, int status)
{
    struct ab_chat *t = r->t;

    for (struct tg_hook_req **link = &t->hook.pending; *link; link = &(*link)->next) {
        if (*link == r) {
            *link = r->next;
            break;
        }
    }
    if (status == AB_ECANCELED) {
        tg_hook_answer(t, r->ex, 503); /* closing: Telegram delivers it again later */
    } else {
        tg_hook_remember(t, r->update_id);
        tg_threads_save(t);
        tg_hook_save(t);
        tg_hook_answer(t, r->ex, 200);
    }
    free(r);
}

/* deliver_held's completion. */
static void
tg_hook_recorded(void *arg, int status)
{
    tg_hook_finish(arg, status);
}

/* Whether update @id is being recorded now (a redelivery overtook the first answer). */
static bool
tg_hook_waiting(const struct ab_chat *t, int64_t id)
{
    for (const struct tg_hook_req *r = t->hook.pending; r; r = r->next)
        if (r->update_id == id)
            return true;
    return false;
}

/* Hand one new update to the core; answer once it holds it. */
static void
tg_hook_handle(struct ab_chat *t, struct ab_http_exchange *ex, const cJSON *u, int64_t id)
{
    struct tg_hook_req *r = calloc(1, sizeof(*r));

    if (!r) {
        t->svc->log(t->host, AB_LOG_ERROR, "out of memory: update %" PRId64 " refused (503)", id);
        tg_hook_answer(t, ex, 503);
        return;
    }
    r->t = t;
    r->ex = ex;
    r->update_id = id;
    r->next = t->hook.pending;
    t->hook.pending = r;
    if (!tg_update_handle(t, u, tg_hook_recorded, r))
        tg_hook_finish(r, 0); /* nothing to hold: ignored, or delivered at once */
}

/* The route's callback: one request from Telegram, or from anyone who found the URL. */
static void
tg_hook_on_request(void *arg, struct ab_http_exchange *ex, const struct ab_http_inbound *req)
{
    struct ab_chat *t = arg;
    const char *got = NULL;
    cJSON *u;
    int64_t id;

    if (strcmp(req->method, "POST") != 0) {
        t->svc->http_respond(ex, 405, (const char *const[]){"Allow: POST", NULL}, "", 0);
        return;
    }
    for (size_t i = 0; i < req->header_count; i++)
        if (strcasecmp(req->headers[i].name, TG_HOOK_HEADER) == 0)
            got = req->headers[i].value;
    if (!tg_hook_secret_matches(t->hook.secret, got)) {
        t->svc->log(t->host, AB_LOG_WARN,
                    "webhook: a request from %s %s " TG_HOOK_HEADER " refused (401)", req->peer,
                    got ? "with a wrong" : "without");
        tg_hook_answer(t, ex, 401);
        return;
    }
    if (!t->is_signed_in || t->is_stopped) {
        tg_hook_answer(t, ex, 503); /* the bot's name is not known yet: mentions need it */
        return;
    }
    u = cJSON_ParseWithLength(req->body, req->body_len);
    if (!cJSON_IsObject(u) || !tg_update_id(u, &id)) {
        t->svc->log(t->host, AB_LOG_WARN,
                    "webhook: a body of %zu bytes that is no Update refused (400)", req->body_len);
        tg_hook_answer(t, ex, 400);
    } else if (tg_hook_seen(t, id)) {
        t->svc->log(t->host, AB_LOG_DEBUG, "update %" PRId64 " handled before: answered again", id);
        tg_hook_answer(t, ex, 200);
    } else if (tg_hook_waiting(t, id)) {
        tg_hook_answer(t, ex, 503); /* the first delivery's answer decides */
    } else {
        tg_hook_handle(t, ex, u, id);
    }
    cJSON_Delete(u);
}

/* Serve webhook_path. */
int
tg_webhook_serve(struct ab_chat *t)
{
    static const char *const want[] = {TG_HOOK_HEADER, NULL};
    struct ab_http_route_options o = {.size = sizeof(o),
                                      .prefix = t->hook.path,
                                      .headers = want,
                                      .max_body = TG_HOOK_MAX_BODY,
                                      .timeout_ms = TG_HOOK_ANSWER_MS};
    int rc = t->svc->http_route_add(t->host, &o, tg_hook_on_request, t, &t->hook.route);

    if (rc < 0) {
        t->hook.route = NULL;
        t->svc->log(t->host, AB_LOG_ERROR,
                    "[telegram] webhook_url needs the inbound HTTP listener: cannot serve %s "
                    "(%s)%s",
                    t->hook.path, ab_strerror(rc),
                    rc == AB_ECONFIG ? " — set [ingress] listen, or remove webhook_url to "
                                       "poll instead"
                                     : "");
    }
    return rc;
}

static void tg_hook_set(struct ab_chat *t);

/* getWebhookInfo answered: say what Telegram could not deliver since last time, and set
 * the webhook again when it points elsewhere. Every value is Telegram's, unchecked until
 * here: only numbers and a cut, escaped-by-the-log string are used. */
static void
tg_hook_info_answered(void *arg, int status, const cJSON *result, const char *description)
{
    struct ab_chat *t = arg;
    const cJSON *url, *pending, *date, *message;
    int64_t when;

    t->hook.info_call = NULL;
    if (status == AB_EAUTH) {
        tg_fatal_token(t, description);
        return;
    }
    if (status < 0 || !cJSON_IsObject(result)) {
        t->svc->log(t->host, AB_LOG_DEBUG, "getWebhookInfo: %s", ab_strerror(status));
        return;
    }
    url = cJSON_GetObjectItemCaseSensitive(result, "url");
    pending = cJSON_GetObjectItemCaseSensitive(result, "pending_update_count");
    date = cJSON_GetObjectItemCaseSensitive(result, "last_error_date");
    message = cJSON_GetObjectItemCaseSensitive(result, "last_error_message");
    if (cJSON_IsNumber(date) && date->valuedouble > (double)t->hook.error_seen &&
        date->valuedouble < 1e15) {
        when = (int64_t)date->valuedouble;
        t->hook.error_seen = when;
        t->svc->log(t->host, AB_LOG_WARN,
                    "Telegram could not deliver to the webhook %lld s ago: %.*s (%lld updates "
                    "waiting) — check that the ingress in front of webhook_url reaches "
                    "webhook_path on [ingress] listen",
                    (long long)(time(NULL) - when), TG_HOOK_ERROR_MAX,
                    cJSON_IsString(message) ? message->valuestring : "no reason given",
                    cJSON_IsNumber(pending) ? (long long)pending->valuedouble : -1LL);
    }
    if (cJSON_IsString(url) && strcmp(url->valuestring, t->hook.url) != 0 && !t->is_stopped) {
        t->svc->log(t->host, AB_LOG_WARN,
                    "Telegram's webhook is not webhook_url any more (another program set or "
                    "deleted it): setting it again");
        tg_hook_set(t);
    }
}

/* Time to ask Telegram how delivery goes. */
static void
tg_hook_info_fired(void *arg)
{
    struct ab_chat *t = arg;

    if (t->hook.info_call || t->hook.call || t->is_stopped || t->is_closing)
        return;
    if (tg_api_call(t, "getWebhookInfo", NULL, NULL, 0, tg_hook_info_answered, t,
                    &t->hook.info_call) < 0)
        t->hook.info_call = NULL;
}

/* The retry timer fired. */
static void
tg_hook_retry_fired(void *arg)
{
    struct ab_chat *t = arg;

    t->svc->timer_stop(t->hook.retry);
    t->hook.retry = NULL;
    tg_hook_set(t);
}

/* setWebhook answered. */
static void
tg_hook_set_answered(void *arg, int status, const cJSON *result, const char *description)
{
    struct ab_chat *t = arg;
    char detail[384];
    uint64_t delay;

    (void)result;
    t->hook.call = NULL;
    if (status == 0) {
        t->svc->backoff_reset(t->host, TG_HOOK_BACKOFF_KEY);
        t->svc->log(t->host, AB_LOG_INFO, "webhook set: Telegram posts updates to %s", t->hook.url);
        t->is_connected = true;
        t->svc->set_connected(t->host, true, "receiving updates by webhook");
        /* errors from before this webhook are not this webhook's */
        if (t->hook.error_seen < (int64_t)time(NULL) - 1)
            t->hook.error_seen = (int64_t)time(NULL) - 1;
        if (t->hook.check_s > 0 && !t->hook.info_timer &&
            t->svc->timer_start(t->host, (uint64_t)t->hook.check_s * 1000,
                                (uint64_t)t->hook.check_s * 1000, tg_hook_info_fired, t,
                                &t->hook.info_timer) < 0)
            t->hook.info_timer = NULL;
        return;
    }
    if (status == AB_EAUTH) {
        tg_fatal_token(t, description);
        return;
    }
    if (status == AB_EINVAL || status == AB_ENOENT) {
        snprintf(detail, sizeof(detail),
                 "Telegram refused the webhook (%s): check [telegram] webhook_url (a public "
                 "https:// URL on port 443, 80, 88 or 8443) and webhook_secret",
                 *description ? description : ab_strerror(status));
        tg_fatal(t, detail);
        return;
    }
    delay = t->svc->backoff_next(t->host, TG_HOOK_BACKOFF_KEY);
    if (status == AB_ERATELIMIT && t->last_retry_after_ms > delay)
        delay = t->last_retry_after_ms;
    t->svc->log(t->host, AB_LOG_WARN, "setWebhook: %s; again in %llu ms", ab_strerror(status),
                (unsigned long long)delay);
    t->svc->set_connected(t->host, false, "setWebhook failing; retrying");
    if (t->svc->timer_start(t->host, delay, 0, tg_hook_retry_fired, t, &t->hook.retry) < 0)
        t->hook.retry = NULL;
}

/* Tell Telegram where to post: the URL, the secret, the update types; the updates it
 * holds already are kept (drop_pending_updates false). */
static void
tg_hook_set(struct ab_chat *t)
{
    cJSON *params = cJSON_CreateObject();
    int rc = AB_ENOMEM;

    if (t->is_stopped || t->is_closing || t->hook.call || t->hook.retry)
        goto done;
    if (!params || !cJSON_AddStringToObject(params, "url", t->hook.url) ||
        !cJSON_AddStringToObject(params, "secret_token", t->hook.secret) ||
        !cJSON_AddFalseToObject(params, "drop_pending_updates") ||
        tg_allowed_updates_add(params) < 0)
        goto fail;
    if ((rc = tg_api_call(t, "setWebhook", params, NULL, 0, tg_hook_set_answered, t,
                          &t->hook.call)) == 0)
        goto done;
fail:
    t->hook.call = NULL;
    t->svc->log(t->host, AB_LOG_ERROR, "setWebhook: %s", ab_strerror(rc));
    if (t->svc->timer_start(t->host, t->svc->backoff_next(t->host, TG_HOOK_BACKOFF_KEY), 0,
                            tg_hook_retry_fired, t, &t->hook.retry) < 0)
        t->hook.retry = NULL;
done:
    cJSON_Delete(params);
}

/* The confirming getUpdates answered: the offset has done its job. */
static void
tg_hook_confirmed(void *arg, int status, const cJSON *result, const char *description)
{
    struct ab_chat *t = arg;

    (void)result;
    t->hook.call = NULL;
    if (status == AB_EAUTH) {
        tg_fatal_token(t, description);
        return;
    }
    if (status == 0 || status == AB_EAGAIN) {
        /* confirmed; or a webhook is set, and was set after this offset confirmed */
        t->poll.next_offset = 0;
        tg_poll_offset_save(t);
    } else {
        t->svc->log(t->host, AB_LOG_WARN,
                    "cannot confirm the updates polling handled (%s): Telegram may post them "
                    "again",
                    ab_strerror(status));
    }
    tg_hook_set(t);
}

/* Polling handled updates up to the saved offset, and only its next getUpdates would have
 * told Telegram: tell it now (one update at most comes back, unconfirmed: the webhook
 * brings it), or it posts them to the webhook. */
static void
tg_hook_confirm(struct ab_chat *t)
{
    cJSON *params = cJSON_CreateObject();
    int rc = AB_ENOMEM;

    if (params && cJSON_AddNumberToObject(params, "offset", (double)t->poll.next_offset) &&
        cJSON_AddNumberToObject(params, "timeout", 0) &&
        cJSON_AddNumberToObject(params, "limit", 1))
        rc = tg_api_call(t, "getUpdates", params, NULL, 0, tg_hook_confirmed, t, &t->hook.call);
    cJSON_Delete(params);
    if (rc < 0) {
        t->hook.call = NULL;
        tg_hook_set(t);
    }
}

/* Signed in: handled ids from before, what polling left to confirm, then setWebhook. */
void
tg_webhook_start(struct ab_chat *t)
{
    tg_hook_load(t);
    tg_poll_offset_load(t);
    if (t->poll.next_offset > 0)
        tg_hook_confirm(t);
    else
        tg_hook_set(t);
}

/* Stop calling setWebhook. */
void
tg_webhook_stop(struct ab_chat *t)
{
    tg_api_cancel(t, t->hook.call);
    t->hook.call = NULL;
    t->svc->timer_stop(t->hook.retry);
    t->hook.retry = NULL;
    tg_api_cancel(t, t->hook.info_call);
    t->hook.info_call = NULL;
    t->svc->timer_stop(t->hook.info_timer);
    t->hook.info_timer = NULL;
}

/* Stop serving; requests still waiting were answered 503 by the host. */
void
tg_webhook_close(struct ab_chat *t)
{
    if (t->hook.route)
        t->svc->http_route_remove(t->hook.route);
    t->hook.route = NULL;
    while (t->hook.pending) {
        struct tg_hook_req *r = t->hook.pending;
        t->hook.pending = r->next;
        free(r);
    }
}
