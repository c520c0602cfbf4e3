/* Event-loop lag: a timer that should fire every interval measures how late it fires.
 * A loop blocked by a slow callback shows here before anything else notices. */
#ifndef AB_LOOP_LAG_H
#define AB_LOOP_LAG_H

#include <stdint.h>

#include <uv.h>

/* Samples kept for the maximum: one minute at the default 1 s interval. */
#define LOOP_LAG_WINDOW 60
#define LOOP_LAG_DEFAULT_INTERVAL_MS 1000

struct loop_lag {
    uv_timer_t timer;                 /* the probe; unref'd so it never keeps a loop alive */
    uint64_t interval_ns;             /* how often the probe runs */
    uint64_t due_ns;                  /* uv_hrtime() at which the next firing is due */
    uint64_t latest_ns;               /* lag of the latest firing */
    uint64_t window[LOOP_LAG_WINDOW]; /* ring of the last samples */
    unsigned next;                    /* ring slot written next */
    void (*done)(void *arg);          /* called once the timer is closed */
    void *done_arg;                   /* lent to done */
};

/* Start probing @loop every @interval_ms (0 = default). @lag is caller-owned storage and
 * must stay put until loop_lag_close() has called back. Returns 0 or a negative uv code. */
int loop_lag_start(uv_loop_t *loop, unsigned interval_ms, struct loop_lag *lag);

/* Lag of the latest firing in seconds (0 before the first). */
double loop_lag_latest_seconds(const struct loop_lag *lag);

/* Largest lag over the last LOOP_LAG_WINDOW firings, in seconds. */
double loop_lag_max_seconds(const struct loop_lag *lag);

/* Stop and close the timer; @done(@arg) runs once it is closed (@done may be NULL). */
void loop_lag_close(struct loop_lag *lag, void (*done)(void *arg), void *arg);

#endif
