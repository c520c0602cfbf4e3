/* The engine's clock and timer service: one binary heap of deadlines served either by
 * a single uv timer on a loop (production) or by a fake clock that tests advance by hand.
 * Thousands of pending timers cost one uv handle. */
#ifndef AB_CLOCK_H
#define AB_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

/* Opaque. Owned by whoever created it with clock_new_*; released with clock_close(). */
struct clock;

/* Called on the loop thread when a timer is due. The timer is already stopped, so the
 * callback may restart it, stop others, or free the memory that embeds it. */
typedef void (*clock_cb)(void *arg);

/* A one-shot timer, embedded in the caller's struct (owned by the caller; no allocation).
 * Zero it or call clock_timer_init() before first use. The fields are private. */
struct clock_timer {
    struct clock *clock; /* lent: the clock it is armed on; NULL while stopped */
    uint64_t due_ms;     /* absolute deadline on the clock */
    uint64_t seq;        /* start order: equal deadlines fire in the order they were started */
    size_t heap_index;   /* position in the clock's heap while armed */
    clock_cb cb;
    void *arg; /* lent to the callback; never touched by the clock */
};

/* A clock driven by @loop (lent; must outlive the clock): uv_now() and one uv timer. */
int clock_new_uv(uv_loop_t *loop, struct clock **out);

/* A fake clock starting at @start_ms that only moves with clock_fake_advance(). */
int clock_new_fake(uint64_t start_ms, struct clock **out);

/* Release @c. Armed timers are dropped (left stopped, callbacks never called). A uv
 * clock closes its handle asynchronously: run the loop once more before uv_loop_close().
 * NULL is allowed. */
void clock_close(struct clock *c);

/* Milliseconds now on @c: uv_now() of its loop, or the fake time. */
uint64_t clock_now_ms(const struct clock *c);

/* Reset @t to stopped. */
void clock_timer_init(struct clock_timer *t);

/* Arm @t (stopping it first if armed) to call @cb(@arg) once after @delay_ms. */
int clock_timer_start(struct clock *c, struct clock_timer *t, uint64_t delay_ms, clock_cb cb,
                      void *arg);

/* Disarm @t; a stopped timer is left alone. NULL is allowed. */
void clock_timer_stop(struct clock_timer *t);

/* True while @t is armed. */
bool clock_timer_is_active(const struct clock_timer *t);

/* Timers armed on @c. */
size_t clock_pending(const struct clock *c);

/* Move a fake clock forward by @ms, firing every timer due on the way in deadline order
 * (timers armed by callbacks included) with the clock set to each one's deadline.
 * Returns the number of callbacks run, or AB_EINVAL for a uv clock. */
int clock_fake_advance(struct clock *c, uint64_t ms);

#endif
