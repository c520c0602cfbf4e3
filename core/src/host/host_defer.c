/* The defer service: "call me once the current callback has returned", one idle handle
 * per call. libuv runs idle handles after timers and before polling, and one started
 * during the idle phase on the next iteration, so a callback never runs inside the
 * call (or the callback) that deferred it. */
#include "host/services.h"

#include <stdlib.h>

#include "host/host.h"

struct ab_defer {
    uv_idle_t idle;
    struct ab_host *host; /* lent */
    ab_defer_cb cb;
    void *arg;
    struct ab_defer *next, **link; /* in host->defers */
};

/* Unlink @d from its host, stop it and free it once libuv has closed it. */
static void
defer_release(struct ab_defer *d)
{
    *d->link = d->next;
    if (d->next)
        d->next->link = d->link;
    uv_idle_stop(&d->idle);
    uv_close((uv_handle_t *)&d->idle, (uv_close_cb)free);
}

/* The loop's turn came: release the handle, then run the plugin's callback. */
static void
defer_fire(uv_idle_t *idle)
{
    struct ab_defer *d = idle->data;
    ab_defer_cb cb = d->cb;
    void *arg = d->arg;

    defer_release(d);
    cb(arg);
}

/* service: run @cb on a later loop iteration. */
int
host_defer(struct ab_host *h, ab_defer_cb cb, void *arg, struct ab_defer **out)
{
    struct ab_defer *d;
    int rc;

    if (!h || !cb || !out)
        return AB_EINVAL;
    if (!(d = calloc(1, sizeof(*d))))
        return AB_ENOMEM;
    if ((rc = uv_idle_init(h->loop, &d->idle)) < 0) {
        free(d);
        return rc;
    }
    d->idle.data = d;
    d->host = h;
    d->cb = cb;
    d->arg = arg;
    if ((rc = uv_idle_start(&d->idle, defer_fire)) < 0) {
        uv_close((uv_handle_t *)&d->idle, (uv_close_cb)free);
        return rc;
    }
    d->next = h->defers;
    if (d->next)
        d->next->link = &d->next;
    d->link = &h->defers;
    h->defers = d;
    *out = d;
    return 0;
}

/* service: cancel a deferred call. */
void
host_defer_cancel(struct ab_defer *d)
{
    if (d)
        defer_release(d);
}

/* Cancel what a closed plugin still had deferred. */
void
host_defer_cancel_all(struct ab_host *h)
{
    while (h->defers)
        defer_release(h->defers);
}
