/* Status reactions on one user message, sent through the outbox. */
#include <stdlib.h>
#include <string.h>

#include "conv/engine_priv.h"

/* A reaction change from the state machine becomes a rate-limited plugin call. */
static void
status_reactions_emit(void *arg, const char *emoji, bool add)
{
    struct status_reactions *rx = arg;
    struct ab_msg_ref ref = {rx->channel_id, rx->message_id};

    if (rx->ci->can_react)
        chat_react(rx->ci, &ref, emoji, add, NULL, NULL, NULL);
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

/* The hold is over: nothing more will be shown. */
static void
status_reactions_reap(void *arg)
{
    status_reactions_free(arg);
}

/* The message's final state was set: free it once its hold (if any) has run. */
void
status_reactions_release(struct status_reactions *rx)
{
    uint64_t hold;

    if (!rx)
        return;
    hold = rx->e->cfg.reactions.done_hold_ms > rx->e->cfg.reactions.error_hold_ms
               ? rx->e->cfg.reactions.done_hold_ms
               : rx->e->cfg.reactions.error_hold_ms;
    if (clock_timer_start(rx->e->clock, &rx->reap, hold + 50, status_reactions_reap, rx) < 0)
        status_reactions_free(rx);
}
