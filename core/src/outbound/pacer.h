/* The live-message edit pacer: turns a stream of "the render changed" signals into at
 * most one flush per edit interval, always ending with the latest render. */
#ifndef AB_OUTBOUND_PACER_H
#define AB_OUTBOUND_PACER_H

#include <stdbool.h>
#include <stdint.h>

#include "clock/clock.h"

/* Push the render of @generation to the platform now (send the placeholder or edit the
 * live message; when that waits, the owner renders what is newest when it goes and calls
 * pacer_flush_started()). @is_final: the call made by pacer_finish(), after which the pacer is
 * done. The owner calls pacer_flush_done() when the edit it started has completed
 * (successfully or not); until then no other flush is started. */
typedef void (*pacer_flush_cb)(void *arg, uint64_t generation, bool is_final);

/* One live message's pacer; embed it, owned by the caller. Fields are private. */
struct pacer {
    struct clock *clock; /* lent; outlives the pacer */
    pacer_flush_cb flush;
    void *arg; /* lent to flush */
    uint64_t interval_ms;
    uint64_t latest;  /* newest generation seen */
    uint64_t flushed; /* generation handed to the last flush */
    uint64_t last_flush_ms;
    bool has_update; /* pacer_update was called at least once */
    bool has_flushed;
    bool is_in_flight; /* a flush has not reported done yet */
    bool is_finishing; /* pacer_finish called; the final flush is owed */
    bool is_finished;  /* the final flush was made */
    struct clock_timer timer;
};

/* Set up a pacer flushing through @flush(@arg) at most once per @interval_ms on @clock. */
int pacer_init(struct pacer *p, struct clock *clock, uint64_t interval_ms, pacer_flush_cb flush,
               void *arg);

/* The render changed; @generation increases with every change. The first update
 * flushes at once, later ones when the interval since the last flush has passed. */
void pacer_update(struct pacer *p, uint64_t generation);

/* The edit started by the last flush is going out now with the latest render (it may
 * have waited behind a rate limit): the interval to the next flush counts from here, and
 * every update so far is in it. */
void pacer_flush_started(struct pacer *p);

/* The edit started by the last flush completed; a pending update may flush now. */
void pacer_flush_done(struct pacer *p);

/* The turn ended: flush the latest generation now as the final one (exempt from the
 * interval; after an in-flight edit completes if one is running). Later updates are
 * ignored. */
void pacer_finish(struct pacer *p);

/* Cancel the pacer without a final flush (the conversation went away). */
void pacer_stop(struct pacer *p);

/* True once the final flush has been made. */
bool pacer_is_finished(const struct pacer *p);

#endif
