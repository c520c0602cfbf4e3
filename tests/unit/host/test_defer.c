/* host service defer (core/src/host/host_defer.c): the callback runs once, on a later
 * loop iteration, never inside the call or callback that deferred it; cancel stops it;
 * closing the plugin's host cancels what is still pending. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "host/host.h"
#include "../support/check_runner.h"

struct probe {
    uv_loop_t *loop;
    struct ab_host *host;
    int fired;
    bool inside;            /* set while the deferring call runs */
    bool fired_inside;      /* the callback ran while inside was set */
    int again;              /* defer again from the callback this many times */
    unsigned long iters[4]; /* loop iteration counter at each firing */
    unsigned long *counter;
};

/* Counts loop iterations: a prepare handle runs once per turn. */
static unsigned long turns;
static void
count_turn(uv_prepare_t *p)
{
    (void)p;
    turns++;
}

static void probe_fire(void *arg);

/* Defer probe_fire, marking the call. */
static void
probe_defer(struct probe *p)
{
    struct ab_defer *d;

    p->inside = true;
    ck_assert_int_eq(host_services.defer(p->host, probe_fire, p, &d), 0);
    p->inside = false;
}

static void
probe_fire(void *arg)
{
    struct probe *p = arg;

    if (p->inside)
        p->fired_inside = true;
    if (p->fired < 4)
        p->iters[p->fired] = turns;
    p->fired++;
    if (p->again-- > 0)
        probe_defer(p);
}

/* A loop with a turn counter and one host. */
static void
setup_loop(uv_loop_t *loop, uv_prepare_t *prep, struct probe *p)
{
    ck_assert_int_eq(uv_loop_init(loop), 0);
    uv_prepare_init(loop, prep);
    uv_prepare_start(prep, count_turn);
    uv_unref((uv_handle_t *)prep);
    turns = 0;
    p->loop = loop;
    ck_assert_int_eq(host_new(loop, "chat", "t", NULL, NULL, NULL, &p->host), 0);
}

/* Free the host, close everything and check the loop is clean. */
static void
teardown_loop(uv_loop_t *loop, uv_prepare_t *prep, struct probe *p)
{
    host_free(p->host);
    uv_close((uv_handle_t *)prep, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(loop), 0);
}

START_TEST(runs_once_later_never_inside_the_call)
{
    uv_loop_t loop;
    uv_prepare_t prep;
    struct probe p = {0};

    setup_loop(&loop, &prep, &p);
    probe_defer(&p);
    ck_assert_int_eq(p.fired, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(p.fired, 1);
    ck_assert(!p.fired_inside);
    teardown_loop(&loop, &prep, &p);
}
END_TEST

START_TEST(a_defer_from_a_callback_runs_on_a_later_iteration)
{
    uv_loop_t loop;
    uv_prepare_t prep;
    struct probe p = {.again = 3};

    setup_loop(&loop, &prep, &p);
    probe_defer(&p);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(p.fired, 4);
    ck_assert(!p.fired_inside);
    for (int i = 1; i < 4; i++)
        ck_assert_uint_gt(p.iters[i], p.iters[i - 1]);
    teardown_loop(&loop, &prep, &p);
}
END_TEST

/* A libuv timer callback defers, as plugins do from their own timers. */
static unsigned long made_at;
static void
defer_from_timer(uv_timer_t *t)
{
    struct probe *p = t->data;

    made_at = turns;
    probe_defer(p);
    uv_close((uv_handle_t *)t, NULL);
}

START_TEST(a_defer_from_a_timer_waits_for_the_next_iteration)
{
    uv_loop_t loop;
    uv_prepare_t prep;
    uv_timer_t timer;
    struct probe p = {0};

    setup_loop(&loop, &prep, &p);
    uv_timer_init(&loop, &timer);
    timer.data = &p;
    uv_timer_start(&timer, defer_from_timer, 0, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(p.fired, 1);
    /* libuv's idle phase follows the timers in the same iteration: not soon enough */
    ck_assert_uint_gt(p.iters[0], made_at);
    teardown_loop(&loop, &prep, &p);
}
END_TEST

/* Appends its letter to the order string. */
static char order[16];
static void
note_order(void *arg)
{
    size_t n = strlen(order);

    order[n] = *(const char *)arg;
    order[n + 1] = '\0';
}

START_TEST(calls_run_in_the_order_they_were_made)
{
    uv_loop_t loop;
    uv_prepare_t prep;
    struct probe p = {0};
    struct ab_defer *d[5];

    setup_loop(&loop, &prep, &p);
    order[0] = '\0';
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(host_services.defer(p.host, note_order, (void *)&"abcde"[i], &d[i]), 0);
    host_services.defer_cancel(d[2]);
    uv_run(&loop, UV_RUN_DEFAULT);
    /* first in, first out: requests queued in order go out in order */
    ck_assert_str_eq(order, "abde");
    teardown_loop(&loop, &prep, &p);
}
END_TEST

START_TEST(cancel_stops_it)
{
    uv_loop_t loop;
    uv_prepare_t prep;
    struct probe p = {0};
    struct ab_defer *a, *b, *c;

    setup_loop(&loop, &prep, &p);
    ck_assert_int_eq(host_services.defer(p.host, probe_fire, &p, &a), 0);
    ck_assert_int_eq(host_services.defer(p.host, probe_fire, &p, &b), 0);
    ck_assert_int_eq(host_services.defer(p.host, probe_fire, &p, &c), 0);
    host_services.defer_cancel(b);
    host_services.defer_cancel(a);
    host_services.defer_cancel(NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(p.fired, 1);
    ck_assert_int_eq(host_services.defer(NULL, probe_fire, &p, &a), AB_EINVAL);
    ck_assert_int_eq(host_services.defer(p.host, NULL, &p, &a), AB_EINVAL);
    teardown_loop(&loop, &prep, &p);
}
END_TEST

START_TEST(closing_the_host_cancels_pending_calls)
{
    uv_loop_t loop;
    uv_prepare_t prep;
    struct probe p = {0};
    struct ab_defer *a, *b;

    setup_loop(&loop, &prep, &p);
    ck_assert_int_eq(host_services.defer(p.host, probe_fire, &p, &a), 0);
    ck_assert_int_eq(host_services.defer(p.host, probe_fire, &p, &b), 0);
    teardown_loop(&loop, &prep, &p); /* frees the host before the loop runs */
    ck_assert_int_eq(p.fired, 0);
}
END_TEST

int
main(void)
{
    const TTest *tests[] = {
        runs_once_later_never_inside_the_call,
        a_defer_from_a_callback_runs_on_a_later_iteration,
        a_defer_from_a_timer_waits_for_the_next_iteration,
        calls_run_in_the_order_they_were_made,
        cancel_stops_it,
        closing_the_host_cancels_pending_calls,
        NULL,
    };

    return check_run_list("host_defer", 0, tests);
}
