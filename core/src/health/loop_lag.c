/* Event-loop lag probe. */
#include "health/loop_lag.h"

#include <string.h>

/* Measure how late this firing is, record it, and arm the next one. A one-shot timer
 * re-armed here (after uv_update_time) keeps every measurement relative to its own start,
 * so one late firing does not shift the next. */
static void
loop_lag_fire(uv_timer_t *timer)
{
    struct loop_lag *lag = timer->data;
    uint64_t now;

    uv_update_time(timer->loop);
    now = uv_hrtime();
    lag->latest_ns = now > lag->due_ns ? now - lag->due_ns : 0;
    lag->window[lag->next] = lag->latest_ns;
    lag->next = (lag->next + 1) % LOOP_LAG_WINDOW;
    lag->due_ns = now + lag->interval_ns;
    uv_timer_start(timer, loop_lag_fire, lag->interval_ns / 1000000, 0);
}

/* Start the probe. */
int
loop_lag_start(uv_loop_t *loop, unsigned interval_ms, struct loop_lag *lag)
{
    int rc;

    memset(lag, 0, sizeof *lag);
    if (!interval_ms)
        interval_ms = LOOP_LAG_DEFAULT_INTERVAL_MS;
    lag->interval_ns = (uint64_t)interval_ms * 1000000;
    if ((rc = uv_timer_init(loop, &lag->timer)) < 0)
        return rc;
    lag->timer.data = lag;
    uv_update_time(loop);
    lag->due_ns = uv_hrtime() + lag->interval_ns;
    uv_timer_start(&lag->timer, loop_lag_fire, interval_ms, 0);
    uv_unref((uv_handle_t *)&lag->timer);
    return 0;
}

/* Latest lag in seconds. */
double
loop_lag_latest_seconds(const struct loop_lag *lag)
{
    return (double)lag->latest_ns / 1e9;
}

/* Maximum over the window in seconds. */
double
loop_lag_max_seconds(const struct loop_lag *lag)
{
    uint64_t max = 0;

    for (unsigned i = 0; i < LOOP_LAG_WINDOW; i++) {
        if (lag->window[i] > max)
            max = lag->window[i];
    }
    return (double)max / 1e9;
}

/* The timer is closed: tell the owner. */
static void
loop_lag_closed(uv_handle_t *handle)
{
    struct loop_lag *lag = handle->data;

    if (lag->done)
        lag->done(lag->done_arg);
}

/* Close the probe. */
void
loop_lag_close(struct loop_lag *lag, void (*done)(void *arg), void *arg)
{
    lag->done = done;
    lag->done_arg = arg;
    uv_close((uv_handle_t *)&lag->timer, loop_lag_closed);
}
