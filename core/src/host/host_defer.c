/* The defer service: "call me on a later loop iteration", in the order the calls were
 * made. Per host, one queue, one idle handle that runs it, and one check handle that
 * counts loop iterations (it runs once each, right after I/O polling). A call waits
 * until the count has moved past the one it was made at, so it never runs inside the
 * call, the callback or the loop phase that deferred it; calls run first in, first out
 * (libuv runs idle handles last in, first out: one handle per call would reorder). */
#include "host/services.h"

#include <stdlib.h>

#include "host/host.h"

/* A host's deferred calls and the handles that run them; freed once libuv has closed
 * both handles. */
struct defer_queue {
    uv_check_t check;
    uv_idle_t idle;
    uint64_t turn;                /* loop iterations counted so far */
    struct ab_defer *head, *tail; /* owned: oldest first */
    int open;                     /* handles not yet closed */
};

struct ab_defer {
    ab_defer_cb cb;
    void *arg;
    uint64_t turn; /* the count when it was made */
    struct ab_defer *prev, *next;
    struct defer_queue *queue; /* lent */
};

/* One more loop iteration. */
static void
defer_tick(uv_check_t *check)
{
    ((struct defer_queue *)check->data)->turn++;
}

/* Unlink @d from its queue. */
static void
defer_unlink(struct ab_defer *d)
{
    struct defer_queue *q = d->queue;

    if (d->prev)
        d->prev->next = d->next;
    else
        q->head = d->next;
    if (d->next)
        d->next->prev = d->prev;
    else
        q->tail = d->prev;
}

/* The idle turn: run, oldest first, every call made before this iteration's count. */
static void
defer_run(uv_idle_t *idle)
{
    struct defer_queue *q = idle->data;
    uint64_t now = q->turn;
    struct ab_defer *d;

    while ((d = q->head) && d->turn != now) {
        ab_defer_cb cb = d->cb;
        void *arg = d->arg;
        defer_unlink(d);
        free(d);
        cb(arg); /* may defer (queued for later), cancel, or close the plugin */
    }
    if (!q->head)
        uv_idle_stop(idle);
}

/* Free the queue once its second handle is closed. */
static void
defer_queue_closed(uv_handle_t *handle)
{
    struct defer_queue *q = handle->data;

    if (--q->open == 0)
        free(q);
}

/* The host's queue, made on first use. */
static struct defer_queue *
defer_queue_of(struct ab_host *h)
{
    struct defer_queue *q = h->defer_queue;

    if (q)
        return q;
    if (!(q = calloc(1, sizeof(*q))))
        return NULL;
    uv_check_init(h->loop, &q->check);
    uv_idle_init(h->loop, &q->idle);
    q->check.data = q->idle.data = q;
    q->open = 2;
    uv_check_start(&q->check, defer_tick);
    uv_unref((uv_handle_t *)&q->check); /* counting alone keeps no loop running */
    h->defer_queue = q;
    return q;
}

/* service: run @cb on a later loop iteration. */
int
host_defer(struct ab_host *h, ab_defer_cb cb, void *arg, struct ab_defer **out)
{
    struct defer_queue *q;
    struct ab_defer *d;
    int rc;

    if (!h || !cb || !out)
        return AB_EINVAL;
    if (!(q = defer_queue_of(h)) || !(d = calloc(1, sizeof(*d))))
        return AB_ENOMEM;
    if (!q->head && (rc = uv_idle_start(&q->idle, defer_run)) < 0) {
        free(d);
        return rc;
    }
    *d = (struct ab_defer){.cb = cb, .arg = arg, .turn = q->turn, .prev = q->tail, .queue = q};
    if (q->tail)
        q->tail->next = d;
    else
        q->head = d;
    q->tail = d;
    *out = d;
    return 0;
}

/* service: cancel a deferred call. */
void
host_defer_cancel(struct ab_defer *d)
{
    if (!d)
        return;
    defer_unlink(d);
    if (!d->queue->head)
        uv_idle_stop(&d->queue->idle);
    free(d);
}

/* Cancel what a closed plugin still had deferred and close its handles. */
void
host_defer_cancel_all(struct ab_host *h)
{
    struct defer_queue *q = h->defer_queue;

    if (!q)
        return;
    while (q->head)
        host_defer_cancel(q->head);
    uv_close((uv_handle_t *)&q->check, defer_queue_closed);
    uv_close((uv_handle_t *)&q->idle, defer_queue_closed);
    h->defer_queue = NULL;
}
