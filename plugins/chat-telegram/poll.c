/* chat-telegram long polling: one getUpdates at a time with the offset after the last
 * handled update. A batch is handed to the core update by update (deliver_held); only
 * when the core holds every one of them is the new offset saved through the host's
 * state service and the next getUpdates sent — that call is what confirms the batch to
 * Telegram. A restart resumes from the saved offset: nothing handled is fetched again
 * (the core's journal catches what was in flight at a crash), nothing unhandled is
 * confirmed. A webhook left set (webhook mode before) makes getUpdates fail with 409:
 * it is removed first, without dropping the updates Telegram still holds. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strdup, strtok_r: built on its own against the installed headers too */
#endif
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "telegram.h"

#define TG_POLL_STATE_KEY "offset"
#define TG_POLL_BACKOFF_KEY "getUpdates"
#define TG_POLL_SLACK_MS 15000  /* HTTP timeout beyond the long-poll timeout */
#define TG_POLL_CONFLICTS_MAX 3 /* consecutive 409s: another poller or a webhook */

/* One held delivery of a batch. */
struct tg_held {
    struct ab_chat *t;
    uint64_t serial;
};

static void tg_poll_next(struct ab_chat *t);

/* Save the offset through the host's state service. */
void
tg_poll_offset_save(struct ab_chat *t)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%" PRId64, t->poll.next_offset);
    int rc = t->svc->state_put(t->host, TG_POLL_STATE_KEY, buf, (size_t)n);

    if (rc < 0)
        t->svc->log(t->host, AB_LOG_WARN, "cannot save the update offset: %s", ab_strerror(rc));
}

/* Every update of the batch is with the core: save the offset, poll again. */
static void
tg_poll_batch_done(struct ab_chat *t)
{
    if (t->poll.batch_last >= t->poll.next_offset) {
        t->poll.next_offset = t->poll.batch_last + 1;
        tg_poll_offset_save(t);
    }
    tg_threads_save(t);
    tg_poll_next(t);
}

/* The core has one held update (or the plugin is closing). */
static void
tg_poll_recorded(void *arg, int status)
{
    struct tg_held *held = arg;
    struct ab_chat *t = held->t;
    bool is_current = held->serial == t->poll.serial;

    free(held);
    if (status == AB_ECANCELED || !is_current || t->is_closing)
        return;
    if (t->poll.owed > 0 && --t->poll.owed == 0)
        tg_poll_batch_done(t);
}

/* The retry timer fired. */
static void
tg_poll_retry_fired(void *arg)
{
    struct ab_chat *t = arg;

    t->svc->timer_stop(t->poll.retry);
    t->poll.retry = NULL;
    tg_poll_next(t);
}

/* Poll again after @delay_ms. */
static void
tg_poll_later(struct ab_chat *t, uint64_t delay_ms)
{
    if (t->svc->timer_start(t->host, delay_ms, 0, tg_poll_retry_fired, t, &t->poll.retry) < 0) {
        t->poll.retry = NULL;
        t->svc->log(t->host, AB_LOG_ERROR, "cannot arm the getUpdates retry timer");
    }
}

/* Hand a batch of updates to the core, in order. */
static void
tg_poll_batch(struct ab_chat *t, const cJSON *result)
{
    const cJSON *u;

    t->poll.serial++;
    t->poll.owed = 0;
    t->poll.batch_last = t->poll.next_offset - 1;
    cJSON_ArrayForEach(u, result)
    {
        struct tg_held *held;
        int64_t uid;

        if (!tg_update_id(u, &uid)) {
            t->svc->log(t->host, AB_LOG_WARN, "an update without a valid update_id ignored");
            continue;
        }
        if (uid < t->poll.next_offset) {
            t->svc->log(t->host, AB_LOG_DEBUG, "update %" PRId64 " handled before: dropped", uid);
            continue;
        }
        if (uid > t->poll.batch_last)
            t->poll.batch_last = uid;
        if (!(held = calloc(1, sizeof(*held)))) {
            t->svc->log(t->host, AB_LOG_ERROR,
                        "out of memory: update %" PRId64 " delivered "
                        "without holding",
                        uid);
            tg_update_handle(t, u, NULL, NULL);
            continue;
        }
        held->t = t;
        held->serial = t->poll.serial;
        if (tg_update_handle(t, u, tg_poll_recorded, held))
            t->poll.owed++;
        else
            free(held);
    }
    if (t->poll.owed == 0)
        tg_poll_batch_done(t);
}

/* getUpdates answered. */
static void
tg_poll_answered(void *arg, int status, const cJSON *result, const char *description)
{
    struct ab_chat *t = arg;
    char detail[256];
    uint64_t delay;

    t->poll.call = NULL;
    if (status == 0 && !cJSON_IsArray(result))
        status = AB_EPROTO;
    if (status == 0) {
        t->poll.conflicts = 0;
        t->svc->backoff_reset(t->host, TG_POLL_BACKOFF_KEY);
        if (!t->is_connected) {
            t->is_connected = true;
            t->svc->set_connected(t->host, true, "polling Telegram");
        }
        tg_poll_batch(t, result);
        return;
    }
    if (status == AB_EAUTH) {
        tg_fatal_token(t, description);
        return;
    }
    if (status == AB_EAGAIN && ++t->poll.conflicts >= TG_POLL_CONFLICTS_MAX) {
        snprintf(detail, sizeof(detail),
                 "getUpdates keeps conflicting (%s): another instance polls with this token, "
                 "or a webhook is set (remove it with deleteWebhook); not polling",
                 description);
        tg_fatal(t, detail);
        return;
    }
    delay = t->svc->backoff_next(t->host, TG_POLL_BACKOFF_KEY);
    if (status == AB_ERATELIMIT && t->last_retry_after_ms > delay)
        delay = t->last_retry_after_ms;
    if (t->is_connected) {
        t->is_connected = false;
        t->svc->set_connected(t->host, false, "getUpdates failing; retrying");
    }
    t->svc->log(t->host, AB_LOG_WARN, "getUpdates: %s; again in %llu ms", ab_strerror(status),
                (unsigned long long)delay);
    tg_poll_later(t, delay);
}

/* The update types the bot asks for; Telegram keeps the last list it was sent, and its
 * default leaves reactions out. */
int
tg_allowed_updates_add(cJSON *params)
{
    cJSON *types = cJSON_AddArrayToObject(params, "allowed_updates");

    if (!types || !cJSON_AddItemToArray(types, cJSON_CreateString("message")) ||
        !cJSON_AddItemToArray(types, cJSON_CreateString("message_reaction")))
        return AB_ENOMEM;
    return 0;
}

/* Send the next getUpdates. */
static void
tg_poll_next(struct ab_chat *t)
{
    cJSON *params = cJSON_CreateObject();
    int rc = AB_ENOMEM;

    if (t->is_stopped || t->is_closing || t->poll.call || t->poll.retry)
        goto done;
    if (!params || !cJSON_AddNumberToObject(params, "timeout", (double)t->poll_timeout_s) ||
        tg_allowed_updates_add(params) < 0)
        goto fail;
    if (t->poll.next_offset > 0 &&
        !cJSON_AddNumberToObject(params, "offset", (double)t->poll.next_offset))
        goto fail;
    rc = tg_api_call(t, "getUpdates", params, NULL,
                     (uint32_t)(t->poll_timeout_s * 1000 + TG_POLL_SLACK_MS), tg_poll_answered, t,
                     &t->poll.call);
    if (rc == 0)
        goto done;
fail:
    t->poll.call = NULL;
    t->svc->log(t->host, AB_LOG_ERROR, "getUpdates: %s", ab_strerror(rc));
    tg_poll_later(t, t->svc->backoff_next(t->host, TG_POLL_BACKOFF_KEY));
done:
    cJSON_Delete(params);
}

/* deleteWebhook answered: poll now (a failure leaves it to getUpdates' 409 handling). */
static void
tg_poll_unhooked(void *arg, int status, const cJSON *result, const char *description)
{
    struct ab_chat *t = arg;

    (void)result;
    t->poll.call = NULL;
    if (status == AB_EAUTH) {
        tg_fatal_token(t, description);
        return;
    }
    if (status < 0)
        t->svc->log(t->host, AB_LOG_WARN, "deleteWebhook: %s; polling all the same",
                    ab_strerror(status));
    tg_poll_next(t);
}

/* Remove a webhook a webhook-mode run left (its pending updates stay), then poll. */
static void
tg_poll_unhook(struct ab_chat *t)
{
    int rc = tg_api_call(t, "deleteWebhook", NULL, NULL, 0, tg_poll_unhooked, t, &t->poll.call);

    if (rc < 0) {
        t->poll.call = NULL;
        t->svc->log(t->host, AB_LOG_WARN, "deleteWebhook: %s; polling all the same",
                    ab_strerror(rc));
        tg_poll_next(t);
    }
}

/* Read the saved offset into next_offset (0 when none). */
void
tg_poll_offset_load(struct ab_chat *t)
{
    char *data = NULL, *end, buf[32];
    size_t len = 0;
    int rc = t->svc->state_get(t->host, TG_POLL_STATE_KEY, &data, &len);

    t->poll.next_offset = 0;
    if (rc == 0 && len > 0 && len < sizeof(buf)) {
        memcpy(buf, data, len);
        buf[len] = '\0';
        long long v = strtoll(buf, &end, 10);
        if (*end == '\0' && v >= 0)
            t->poll.next_offset = v;
        else
            t->svc->log(t->host, AB_LOG_WARN, "the saved update offset is unreadable: ignored");
    } else if (rc < 0 && rc != AB_ENOENT) {
        t->svc->log(t->host, AB_LOG_WARN, "cannot read the saved update offset: %s",
                    ab_strerror(rc));
    }
    free(data);
}

/* Read the saved offset, then remove any webhook and poll. */
int
tg_poll_start(struct ab_chat *t)
{
    tg_poll_offset_load(t);
    t->poll.is_started = true;
    t->svc->log(t->host, AB_LOG_INFO, "polling for updates from offset %" PRId64,
                t->poll.next_offset);
    tg_poll_unhook(t);
    return 0;
}

/* Stop polling; held completions of the current batch are ignored from now on. */
void
tg_poll_stop(struct ab_chat *t)
{
    tg_api_cancel(t, t->poll.call);
    t->poll.call = NULL;
    t->svc->timer_stop(t->poll.retry);
    t->poll.retry = NULL;
    t->poll.serial++;
    t->poll.owed = 0;
}
