/* A binary min-heap of one-shot timers behind one clock, real (uv) or fake. */
#include "clock/clock.h"

#include <stdlib.h>

#include <agent-broker/errors.h>

struct clock {
    bool is_fake;
    bool is_dispatching; /* inside a dispatch: rearm the uv timer once at the end */
    uint64_t fake_now_ms;
    uint64_t next_seq;
    struct clock_timer **heap; /* owned array; the timers are lent by their owners */
    size_t count;
    size_t cap;
    uv_loop_t *loop; /* lent; NULL for a fake clock */
    uv_timer_t handle;
};

/* True when @a must fire before @b: earlier deadline, then earlier start. */
static bool
clock_heap_before(const struct clock_timer *a, const struct clock_timer *b)
{
    if (a->due_ms != b->due_ms)
        return a->due_ms < b->due_ms;
    return a->seq < b->seq;
}

/* Put @t at heap slot @i and record the slot in the timer. */
static void
clock_heap_set(struct clock *c, size_t i, struct clock_timer *t)
{
    c->heap[i] = t;
    t->heap_index = i;
}

/* Move the timer at slot @i up until its parent fires before it. */
static void
clock_heap_up(struct clock *c, size_t i)
{
    struct clock_timer *t = c->heap[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!clock_heap_before(t, c->heap[parent]))
            break;
        clock_heap_set(c, i, c->heap[parent]);
        i = parent;
    }
    clock_heap_set(c, i, t);
}

/* Move the timer at slot @i down until both children fire after it. */
static void
clock_heap_down(struct clock *c, size_t i)
{
    struct clock_timer *t = c->heap[i];

    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= c->count)
            break;
        if (child + 1 < c->count && clock_heap_before(c->heap[child + 1], c->heap[child]))
            child++;
        if (!clock_heap_before(c->heap[child], t))
            break;
        clock_heap_set(c, i, c->heap[child]);
        i = child;
    }
    clock_heap_set(c, i, t);
}

/* Take the timer at slot @i out of the heap and mark it stopped. */
static void
clock_heap_remove(struct clock *c, size_t i)
{
    struct clock_timer *t = c->heap[i];
    struct clock_timer *last = c->heap[--c->count];

    if (i < c->count) {
        clock_heap_set(c, i, last);
        clock_heap_down(c, i);
        clock_heap_up(c, last->heap_index);
    }
    t->clock = NULL;
}

static void clock_uv_fire(uv_timer_t *handle);

/* Arm the one uv timer for the earliest deadline, or stop it when nothing is pending. */
static void
clock_uv_rearm(struct clock *c)
{
    if (c->is_fake || c->is_dispatching)
        return;
    if (c->count == 0) {
        uv_timer_stop(&c->handle);
        return;
    }
    uint64_t now = uv_now(c->loop);
    uint64_t due = c->heap[0]->due_ms;
    uv_timer_start(&c->handle, clock_uv_fire, due > now ? due - now : 0, 0);
}

/* Pop and run the earliest timer; the caller checked that it is due. */
static void
clock_fire_top(struct clock *c)
{
    struct clock_timer *t = c->heap[0];

    clock_heap_remove(c, 0);
    t->cb(t->arg);
}

/* The uv timer fired: run every timer due now that was armed before this dispatch;
 * ones armed by callbacks for "now" wait for the next loop turn, as uv timers do. */
static void
clock_uv_fire(uv_timer_t *handle)
{
    struct clock *c = handle->data;
    uint64_t now = uv_now(c->loop);
    uint64_t seq_limit = c->next_seq;

    c->is_dispatching = true;
    while (c->count > 0 && c->heap[0]->due_ms <= now && c->heap[0]->seq < seq_limit)
        clock_fire_top(c);
    c->is_dispatching = false;
    clock_uv_rearm(c);
}

/* Allocate a clock with an empty heap. */
static int
clock_alloc(bool is_fake, struct clock **out)
{
    struct clock *c = calloc(1, sizeof(*c));

    if (!c)
        return AB_ENOMEM;
    c->is_fake = is_fake;
    *out = c;
    return 0;
}

/* A clock served by one uv timer on @loop. */
int
clock_new_uv(uv_loop_t *loop, struct clock **out)
{
    struct clock *c;
    int rc;

    if (!loop || !out)
        return AB_EINVAL;
    if ((rc = clock_alloc(false, &c)) < 0)
        goto fail;
    if ((rc = uv_timer_init(loop, &c->handle)) < 0)
        goto fail_alloc;
    c->loop = loop;
    c->handle.data = c;
    *out = c;
    return 0;

fail_alloc:
    free(c);
fail:
    return rc;
}

/* A clock that stands still until a test advances it. */
int
clock_new_fake(uint64_t start_ms, struct clock **out)
{
    int rc;

    if (!out)
        return AB_EINVAL;
    if ((rc = clock_alloc(true, out)) < 0)
        return rc;
    (*out)->fake_now_ms = start_ms;
    return 0;
}

/* Free a clock once its uv handle is closed. */
static void
clock_uv_closed(uv_handle_t *handle)
{
    struct clock *c = handle->data;

    free(c->heap);
    free(c);
}

/* Drop every armed timer and release the clock (asynchronously for a uv clock). */
void
clock_close(struct clock *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->count; i++)
        c->heap[i]->clock = NULL;
    c->count = 0;
    if (c->is_fake) {
        free(c->heap);
        free(c);
        return;
    }
    uv_timer_stop(&c->handle);
    uv_close((uv_handle_t *)&c->handle, clock_uv_closed);
}

/* Now, in milliseconds. The loop's cached time is refreshed first: it was read before
 * this iteration's callbacks ran, and a wait computed from it (a Retry-After) would end
 * early by however long they took on a loaded machine. */
uint64_t
clock_now_ms(const struct clock *c)
{
    if (c->is_fake)
        return c->fake_now_ms;
    uv_update_time(c->loop);
    return uv_now(c->loop);
}

/* Mark @t stopped. */
void
clock_timer_init(struct clock_timer *t)
{
    t->clock = NULL;
    t->heap_index = 0;
}

/* Arm @t for @delay_ms from now, replacing any earlier arming. */
int
clock_timer_start(struct clock *c, struct clock_timer *t, uint64_t delay_ms, clock_cb cb, void *arg)
{
    if (!c || !t || !cb)
        return AB_EINVAL;
    clock_timer_stop(t);
    if (c->count == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        struct clock_timer **heap = realloc(c->heap, cap * sizeof(*heap));
        if (!heap)
            return AB_ENOMEM;
        c->heap = heap;
        c->cap = cap;
    }
    uint64_t now = clock_now_ms(c);
    t->due_ms = delay_ms > UINT64_MAX - now ? UINT64_MAX : now + delay_ms;
    t->seq = c->next_seq++;
    t->cb = cb;
    t->arg = arg;
    t->clock = c;
    clock_heap_set(c, c->count++, t);
    clock_heap_up(c, t->heap_index);
    if (t->heap_index == 0)
        clock_uv_rearm(c);
    return 0;
}

/* Disarm @t if armed. */
void
clock_timer_stop(struct clock_timer *t)
{
    if (!t || !t->clock)
        return;
    struct clock *c = t->clock;
    bool was_first = t->heap_index == 0;
    clock_heap_remove(c, t->heap_index);
    if (was_first)
        clock_uv_rearm(c);
}

/* Whether @t is armed. */
bool
clock_timer_is_active(const struct clock_timer *t)
{
    return t->clock != NULL;
}

/* Number of armed timers. */
size_t
clock_pending(const struct clock *c)
{
    return c->count;
}

/* Step a fake clock forward, firing due timers one by one at their own deadlines. */
int
clock_fake_advance(struct clock *c, uint64_t ms)
{
    if (!c || !c->is_fake)
        return AB_EINVAL;
    uint64_t target = ms > UINT64_MAX - c->fake_now_ms ? UINT64_MAX : c->fake_now_ms + ms;
    int fired = 0;

    while (c->count > 0 && c->heap[0]->due_ms <= target) {
        if (c->heap[0]->due_ms > c->fake_now_ms)
            c->fake_now_ms = c->heap[0]->due_ms;
        clock_fire_top(c);
        fired++;
    }
    c->fake_now_ms = target;
    return fired;
}
