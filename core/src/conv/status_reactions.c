/* Status reactions on one user message, sent through the outbox. The state machine
 * (reactions.c) says what the message should show; this file keeps what the platform
 * has and sends one change at a time towards the newest wanted state, so changes that
 * were overtaken before they went collapse into none. The final state's emoji (🆗 or
 * 😱) and the removal of whatever else is still shown go at final priority, ahead of
 * every intermediate change on the route; intermediate changes and the mood face go at
 * the lowest priority, and the scheduler drops them when the route's budget cannot carry
 * them (its queue is full). A final change that could not go is tried again. */
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#include "conv/engine_priv.h"
#include "log.h"

#define STATUS_RX_RETRY_MS 1000  /* a final change that failed goes again after this */
#define STATUS_RX_MAX_FAILURES 5 /* final changes that failed before giving up */

/* Index of @emoji in @set (@n slots, NULL = free), or -1. */
static int
status_set_find(const char *const *set, size_t n, const char *emoji)
{
    for (size_t i = 0; i < n; i++) {
        if (set[i] && strcmp(set[i], emoji) == 0)
            return (int)i;
    }
    return -1;
}

/* Put @emoji (lent) in @set; false when the set is full. */
static bool
status_set_put(const char **set, size_t n, const char *emoji)
{
    if (status_set_find(set, n, emoji) >= 0)
        return true;
    for (size_t i = 0; i < n; i++) {
        if (!set[i]) {
            set[i] = emoji;
            return true;
        }
    }
    return false;
}

/* Take @emoji out of @set. */
static void
status_set_drop(const char **set, size_t n, const char *emoji)
{
    int i = status_set_find(set, n, emoji);

    if (i >= 0)
        set[i] = NULL;
}

static void status_reactions_sync_fired(void *arg);

/* Send the next change on a later loop round (after @delay_ms); an earlier round already
 * planned stays. */
static void
status_reactions_sync_later(struct status_reactions *rx, uint64_t delay_ms)
{
    if (delay_ms > 0 && clock_timer_is_active(&rx->sync))
        return;
    clock_timer_start(rx->e->clock, &rx->sync, delay_ms, status_reactions_sync_fired, rx);
}

/* A change from the state machine: note what it wants; the platform follows later. */
static void
status_reactions_emit(void *arg, const char *emoji, bool add)
{
    struct status_reactions *rx = arg;

    if (add) {
        if (!status_set_put(rx->want, STATUS_RX_WANT, emoji))
            log_warn("engine", "status reactions: too many at once, %s not shown", emoji);
    } else {
        status_set_drop(rx->want, STATUS_RX_WANT, emoji);
    }
    rx->gen++;
    if (add && reactions_shown(&rx->r) == REACTIONS_QUEUED) {
        /* 👀 goes at once, in the order the message was taken (before its thread opens):
         * a lone add, nothing to batch it with. */
        clock_timer_stop(&rx->sync);
        status_reactions_sync_fired(rx);
        return;
    }
    status_reactions_sync_later(rx, 0);
}

/* Whether a change of @emoji is on its way. */
static bool
status_reactions_is_moving(const struct status_reactions *rx, const char *emoji)
{
    for (size_t i = 0; i < STATUS_RX_STEPS; i++) {
        if (rx->steps[i].is_busy && strcmp(rx->steps[i].emoji, emoji) == 0)
            return true;
    }
    return false;
}

/* Whether the intermediate change (@emoji, @add) was dropped since `want` last changed. */
static bool
status_reactions_is_skipped(const struct status_reactions *rx, const char *emoji, bool add)
{
    if (rx->skip_gen != rx->gen)
        return false;
    for (size_t i = 0; i < STATUS_RX_WANT + STATUS_RX_HAVE; i++) {
        if (rx->skip[i] && rx->skip_add[i] == add && strcmp(rx->skip[i], emoji) == 0)
            return true;
    }
    return false;
}

/* Do not try the intermediate change (@emoji, @add) again until `want` changes. */
static void
status_reactions_skip(struct status_reactions *rx, const char *emoji, bool add)
{
    if (rx->skip_gen != rx->gen) {
        memset(rx->skip, 0, sizeof(rx->skip));
        rx->skip_gen = rx->gen;
    }
    for (size_t i = 0; i < STATUS_RX_WANT + STATUS_RX_HAVE; i++) {
        if (!rx->skip[i]) {
            rx->skip[i] = emoji;
            rx->skip_add[i] = add;
            return;
        }
    }
}

/* Whether the message's state is final (done or error, before any removal). */
static bool
status_reactions_is_final(const struct status_reactions *rx)
{
    enum reactions_state s = reactions_shown(&rx->r);

    return s == REACTIONS_DONE || s == REACTIONS_ERROR;
}

/* The next change towards what is wanted, in @out; false when there is none. A final
 * state first adds its emoji, then removes the rest (both at final priority), then adds
 * its mood; an intermediate state removes the old emoji before adding the new one. */
static bool
status_reactions_next(const struct status_reactions *rx, struct status_step *out)
{
    bool is_final = status_reactions_is_final(rx);
    const char *mood = is_final ? reactions_shown_mood(&rx->r) : NULL;
    enum ratelimit_priority prio = is_final ? RATELIMIT_REACTION_FINAL : RATELIMIT_REACTION;

    if (rx->final_failures >= STATUS_RX_MAX_FAILURES)
        return false;
    for (size_t i = 0; is_final && i < STATUS_RX_WANT; i++) {
        const char *e = rx->want[i];
        if (e && !(mood && strcmp(e, mood) == 0) &&
            status_set_find(rx->have, STATUS_RX_HAVE, e) < 0 &&
            !status_reactions_is_moving(rx, e)) {
            *out = (struct status_step){.emoji = e, .add = true, .prio = prio};
            return true;
        }
    }
    for (size_t i = 0; i < STATUS_RX_HAVE; i++) {
        const char *e = rx->have[i];
        if (e && status_set_find(rx->want, STATUS_RX_WANT, e) < 0 &&
            !status_reactions_is_moving(rx, e) &&
            (is_final || !status_reactions_is_skipped(rx, e, false))) {
            *out = (struct status_step){.emoji = e, .add = false, .prio = prio};
            return true;
        }
    }
    for (size_t i = 0; i < STATUS_RX_WANT; i++) {
        const char *e = rx->want[i];
        if (e && status_set_find(rx->have, STATUS_RX_HAVE, e) < 0 &&
            !status_reactions_is_moving(rx, e) && !status_reactions_is_skipped(rx, e, true)) {
            *out = (struct status_step){.emoji = e, .add = true, .prio = RATELIMIT_REACTION};
            return true;
        }
    }
    return false;
}

/* Whether @st, on its way, no longer leads to what is wanted. */
static bool
status_reactions_is_obsolete(const struct status_reactions *rx, const struct status_step *st)
{
    return (status_set_find(rx->want, STATUS_RX_WANT, st->emoji) >= 0) != st->add;
}

/* Free @rx once its final state was set, its hold ran and nothing more is to be sent. */
static void
status_reactions_reap_if_done(struct status_reactions *rx)
{
    struct status_step next;

    if (!rx->is_released || clock_timer_is_active(&rx->reap) || clock_timer_is_active(&rx->sync))
        return;
    for (size_t i = 0; i < STATUS_RX_STEPS; i++) {
        if (rx->steps[i].is_busy)
            return;
    }
    if (rx->ci->can_react && status_reactions_next(rx, &next))
        return;
    status_reactions_free(rx);
}

/* A change came back: note what the platform has now and plan the next. */
static void
status_reactions_step_done(void *arg, int status)
{
    struct status_step *st = arg;
    struct status_reactions *rx = st->rx;
    uint64_t delay = 0;

    st->is_busy = false;
    if (status == 0) {
        if (!st->add)
            status_set_drop(rx->have, STATUS_RX_HAVE, st->emoji);
        else if (!status_set_put(rx->have, STATUS_RX_HAVE, st->emoji))
            log_warn("engine", "status reactions: lost track of %s", st->emoji);
    } else if (status != AB_ECANCELED) { /* cancelled: a newer change replaced it */
        if (st->prio == RATELIMIT_REACTION_FINAL) {
            /* No room (AB_EFULL) passes; anything else counts towards giving up. */
            if (status != AB_EFULL)
                rx->final_failures++;
            delay = STATUS_RX_RETRY_MS;
        } else {
            status_reactions_skip(rx, st->emoji, st->add);
        }
    }
    status_reactions_sync_later(rx, delay);
}

/* Send the next change unless one is on its way; a final change, or one replacing an
 * obsolete change still queued, goes at once (the scheduler swaps it in). */
static void
status_reactions_sync_fired(void *arg)
{
    struct status_reactions *rx = arg;
    struct ab_msg_ref ref = {rx->channel_id, rx->message_id};
    struct status_step next, *slot = NULL, *busy = NULL;
    int rc;

    if (!rx->ci->can_react || !status_reactions_next(rx, &next)) {
        status_reactions_reap_if_done(rx);
        return;
    }
    for (size_t i = 0; i < STATUS_RX_STEPS; i++) {
        if (rx->steps[i].is_busy)
            busy = &rx->steps[i];
        else
            slot = &rx->steps[i];
    }
    if (!slot || (busy && next.prio <= busy->prio && !status_reactions_is_obsolete(rx, busy)))
        return; /* its completion plans the next */
    *slot = next;
    slot->rx = rx;
    slot->is_busy = true;
    rc = chat_react_step(rx->ci, &ref, next.emoji, next.add, next.prio, &rx->owner,
                         status_reactions_step_done, slot);
    if (rc == AB_EFULL && next.prio == RATELIMIT_REACTION) {
        /* No room on the route for an intermediate change: it is dropped. */
        slot->is_busy = false;
        status_reactions_skip(rx, next.emoji, next.add);
        status_reactions_sync_later(rx, 0);
    } else if (rc < 0) {
        /* Refused (closing, out of memory): nothing more will be shown. */
        slot->is_busy = false;
        rx->final_failures = STATUS_RX_MAX_FAILURES;
        log_debug("engine", "status reaction %s not sent: %s", next.emoji, ab_strerror(rc));
        status_reactions_reap_if_done(rx);
    }
}

/* Start tracking reactions for a message. */
struct status_reactions *
status_reactions_new(struct engine *e, struct chat_instance *ci, const char *channel_id,
                     const char *message_id)
{
    struct status_reactions *rx = calloc(1, sizeof(*rx));

    if (!rx)
        return NULL;
    rx->e = e;
    rx->ci = ci;
    rx->channel_id = strdup(channel_id);
    rx->message_id = strdup(message_id);
    clock_timer_init(&rx->reap);
    clock_timer_init(&rx->sync);
    if (!rx->channel_id || !rx->message_id ||
        reactions_init(&rx->r, e->clock, &e->cfg.reactions, status_reactions_emit, rx) < 0) {
        free(rx->channel_id);
        free(rx->message_id);
        free(rx);
        return NULL;
    }
    rx->next = e->rxs;
    if (e->rxs)
        e->rxs->prev = rx;
    e->rxs = rx;
    return rx;
}

/* Stop and free at once (shutdown, or a message that never got a turn). */
void
status_reactions_free(struct status_reactions *rx)
{
    if (!rx)
        return;
    reactions_stop(&rx->r);
    clock_timer_stop(&rx->reap);
    clock_timer_stop(&rx->sync);
    chat_owner_detach(&rx->owner);
    if (rx->prev)
        rx->prev->next = rx->next;
    else
        rx->e->rxs = rx->next;
    if (rx->next)
        rx->next->prev = rx->prev;
    free(rx->channel_id);
    free(rx->message_id);
    free(rx);
}

/* The hold is over: free once the platform shows the final state. */
static void
status_reactions_reap(void *arg)
{
    status_reactions_reap_if_done(arg);
}

/* The message's final state was set: free it once shown and, when done/error are removed
 * after a hold, once that hold has run. */
void
status_reactions_release(struct status_reactions *rx)
{
    uint64_t hold;

    if (!rx)
        return;
    rx->is_released = true;
    if (!rx->e->cfg.reactions.remove_after_reply) {
        /* Nothing changes after the final state: free as soon as it is shown, not a hold
         * later (at a high message rate the holds would keep thousands alive). */
        status_reactions_reap_if_done(rx);
        return;
    }
    hold = rx->e->cfg.reactions.done_hold_ms > rx->e->cfg.reactions.error_hold_ms
               ? rx->e->cfg.reactions.done_hold_ms
               : rx->e->cfg.reactions.error_hold_ms;
    if (clock_timer_start(rx->e->clock, &rx->reap, hold + 50, status_reactions_reap, rx) < 0)
        status_reactions_reap_if_done(rx);
}
