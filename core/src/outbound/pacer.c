/* Edit pacing: coalesce render changes into one flush per interval, never overlapping. */
#include "outbound/pacer.h"

#include <stddef.h>

#include <agent-broker/errors.h>

/* Prepare @p; nothing is flushed before the first update. */
int
pacer_init(struct pacer *p, struct clock *clock, uint64_t interval_ms, pacer_flush_cb flush,
           void *arg)
{
    if (!p || !clock || !flush)
        return AB_EINVAL;
    *p = (struct pacer){
        .clock = clock,
        .flush = flush,
        .arg = arg,
        .interval_ms = interval_ms,
    };
    clock_timer_init(&p->timer);
    return 0;
}

/* Hand the latest generation to the flush callback. */
static void
pacer_flush_now(struct pacer *p, bool is_final)
{
    p->is_in_flight = true;
    p->has_flushed = true;
    p->flushed = p->latest;
    p->last_flush_ms = clock_now_ms(p->clock);
    if (is_final)
        p->is_finished = true;
    p->flush(p->arg, p->latest, is_final);
}

static void pacer_schedule(struct pacer *p);

/* The interval since the last flush has passed. */
static void
pacer_timer_fired(void *arg)
{
    pacer_schedule(arg);
}

/* Flush now, or arm the timer for the end of the interval, when something is owed and
 * no edit is in flight. */
static void
pacer_schedule(struct pacer *p)
{
    if (p->is_finished || p->is_in_flight)
        return;
    if (p->is_finishing) {
        clock_timer_stop(&p->timer);
        pacer_flush_now(p, true);
        return;
    }
    if (!p->has_update || (p->has_flushed && p->flushed == p->latest))
        return;
    uint64_t now = clock_now_ms(p->clock);
    uint64_t next = p->last_flush_ms + p->interval_ms;
    if (!p->has_flushed || now >= next) {
        clock_timer_stop(&p->timer);
        pacer_flush_now(p, false);
        return;
    }
    if (!clock_timer_is_active(&p->timer))
        clock_timer_start(p->clock, &p->timer, next - now, pacer_timer_fired, p);
}

/* Record the newest generation and flush if the interval allows. */
void
pacer_update(struct pacer *p, uint64_t generation)
{
    if (p->is_finishing || p->is_finished)
        return;
    p->latest = generation;
    p->has_update = true;
    pacer_schedule(p);
}

/* The flushed edit goes out now with the newest render. */
void
pacer_flush_started(struct pacer *p)
{
    if (!p->is_in_flight || p->is_finished)
        return;
    p->flushed = p->latest;
    p->last_flush_ms = clock_now_ms(p->clock);
}

/* The running edit finished: a newer render may go out now. */
void
pacer_flush_done(struct pacer *p)
{
    if (!p->is_in_flight)
        return;
    p->is_in_flight = false;
    pacer_schedule(p);
}

/* Owe one final flush and make it as soon as no edit is in flight. */
void
pacer_finish(struct pacer *p)
{
    if (p->is_finishing || p->is_finished)
        return;
    p->is_finishing = true;
    pacer_schedule(p);
}

/* Forget everything owed. */
void
pacer_stop(struct pacer *p)
{
    clock_timer_stop(&p->timer);
    p->is_finished = true;
}

/* Whether the final flush happened. */
bool
pacer_is_finished(const struct pacer *p)
{
    return p->is_finished;
}
