/* The defer service: "call me on a later loop iteration". Each call is an idle handle
 * that fires only once the loop has gone round: a prepare handle per host counts the
 * iterations (it runs once each, just before I/O polling), and a deferred call waits
 * until the count has moved past the one it was made in. So a callback never runs
 * inside the call, the callback or the loop iteration that deferred it. */
#include "host/services.h"

#include <stdlib.h>

#include "host/host.h"

/* The iteration counter of one host, freed once libuv has closed it. */
struct defer_clock {
    uv_prepare_t prepare;
    uint64_t turn; /* loop iterations seen since the first defer */
};

struct ab_defer {
    uv_idle_t idle;
    struct ab_host *host; /* lent */
    ab_defer_cb cb;
    void *arg;
    uint64_t turn;                 /* the iteration it was made in */
    struct ab_defer *next, **link; /* in host->defers */
};

/* One more loop iteration. */
static void
defer_tick(uv_prepare_t *prepare)
{
    ((struct defer_clock *)prepare->data)->turn++;
}

/* The host's clock, started on first use. */
static struct defer_clock *
defer_clock_of(struct ab_host *h)
{
    struct defer_clock *k = h->defer_clock;

    if (k)
        return k;
    if (!(k = calloc(1, sizeof(*k))) || uv_prepare_init(h->loop, &k->prepare) < 0) {
        free(k);
        return NULL;
    }
    k->prepare.data = k;
    uv_prepare_start(&k->prepare, defer_tick);
    uv_unref((uv_handle_t *)&k->prepare); /* a clock alone keeps no loop running */
    h->defer_clock = k;
    return k;
}

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

/* An idle turn: once the loop has gone round, release the handle and run the call. */
static void
defer_fire(uv_idle_t *idle)
{
    struct ab_defer *d = idle->data;
    ab_defer_cb cb = d->cb;
    void *arg = d->arg;

    if (((struct defer_clock *)d->host->defer_clock)->turn == d->turn)
        return; /* still the iteration it was made in */
    defer_release(d);
    cb(arg);
}

/* service: run @cb on a later loop iteration. */
int
host_defer(struct ab_host *h, ab_defer_cb cb, void *arg, struct ab_defer **out)
{
    struct defer_clock *k;
    struct ab_defer *d;
    int rc;

    if (!h || !cb || !out)
        return AB_EINVAL;
    if (!(k = defer_clock_of(h)) || !(d = calloc(1, sizeof(*d))))
        return AB_ENOMEM;
    if ((rc = uv_idle_init(h->loop, &d->idle)) < 0) {
        free(d);
        return rc;
    }
    d->idle.data = d;
    d->host = h;
    d->cb = cb;
    d->arg = arg;
    d->turn = k->turn;
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

/* Cancel what a closed plugin still had deferred and stop its clock. */
void
host_defer_cancel_all(struct ab_host *h)
{
    struct defer_clock *k = h->defer_clock;

    while (h->defers)
        defer_release(h->defers);
    if (k) {
        uv_prepare_stop(&k->prepare);
        uv_close((uv_handle_t *)&k->prepare, (uv_close_cb)free);
        h->defer_clock = NULL;
    }
}
