/* Deferred calls: one zero-delay uv timer per call, closed and freed after it fires. */
#include "outbound/defer.h"

#include <stdlib.h>

#include <agent-broker/errors.h>

struct defer {
    uv_timer_t timer;
    defer_fn fn;
    void *arg; /* lent */
};

/* The timer handle is closed: release the call. */
static void
defer_closed(uv_handle_t *h)
{
    free(h->data);
}

/* The next iteration came: close first, so @fn may free whatever it likes. */
static void
defer_fired(uv_timer_t *t)
{
    struct defer *d = t->data;
    defer_fn fn = d->fn;
    void *arg = d->arg;

    uv_close((uv_handle_t *)&d->timer, defer_closed);
    fn(arg);
}

/* Arm a zero-delay timer; libuv runs it after the current callback returns. */
int
defer_call(uv_loop_t *loop, defer_fn fn, void *arg, struct defer **out)
{
    struct defer *d;
    int rc;

    if (!loop || !fn)
        return AB_EINVAL;
    if (!(d = calloc(1, sizeof(*d))))
        return AB_ENOMEM;
    d->fn = fn;
    d->arg = arg;
    if ((rc = uv_timer_init(loop, &d->timer)) < 0) {
        free(d);
        return rc;
    }
    d->timer.data = d;
    if ((rc = uv_timer_start(&d->timer, defer_fired, 0, 0)) < 0) {
        uv_close((uv_handle_t *)&d->timer, defer_closed);
        return rc;
    }
    if (out)
        *out = d;
    return 0;
}

/* Stop the timer and free the call once libuv has let go of the handle. */
void
defer_cancel(struct defer *d)
{
    if (!d || uv_is_closing((uv_handle_t *)&d->timer))
        return;
    uv_timer_stop(&d->timer);
    uv_close((uv_handle_t *)&d->timer, defer_closed);
}
