/* The clock: fake-clock ordering and timestamps, heap correctness under load, and the
 * uv backend firing real timers with one handle and closing cleanly. */
#include <stdlib.h>

#include <check.h>
#include <uv.h>

#include <agent-broker/errors.h>

#include "clock/clock.h"
#include "../support/check_runner.h"
#include "trace.h"

struct tagged {
    struct trace *trace;
    struct clock_timer timer;
    const char *name;
    uint64_t rearm_ms; /* > 0: arm a follow-up timer from the callback */
    struct clock_timer follow;
};

static void
tagged_follow_fired(void *arg)
{
    struct tagged *t = arg;
    trace_add(t->trace, "%s-follow", t->name);
}

static void
tagged_fired(void *arg)
{
    struct tagged *t = arg;

    trace_add(t->trace, "%s", t->name);
    if (t->rearm_ms)
        clock_timer_start(t->trace->clock, &t->follow, t->rearm_ms, tagged_follow_fired, t);
}

START_TEST(fake_fires_in_deadline_order_at_exact_times)
{
    struct clock *c;
    struct trace tr;
    struct tagged a = {.trace = &tr, .name = "a"}, b = {.trace = &tr, .name = "b"},
                  d = {.trace = &tr, .name = "d"}, e = {.trace = &tr, .name = "e"};

    ck_assert_int_eq(clock_new_fake(1000, &c), 0);
    trace_init(&tr, c);
    ck_assert_int_eq(clock_timer_start(c, &a.timer, 300, tagged_fired, &a), 0);
    ck_assert_int_eq(clock_timer_start(c, &b.timer, 100, tagged_fired, &b), 0);
    ck_assert_int_eq(clock_timer_start(c, &d.timer, 300, tagged_fired, &d), 0);
    ck_assert_int_eq(clock_timer_start(c, &e.timer, 200, tagged_fired, &e), 0);
    clock_timer_stop(&e.timer);
    ck_assert_uint_eq(clock_pending(c), 3);
    ck_assert(!clock_timer_is_active(&e.timer));

    ck_assert_int_eq(clock_fake_advance(c, 99), 0);
    ck_assert_uint_eq(clock_now_ms(c), 1099);
    ck_assert_int_eq(clock_fake_advance(c, 1000), 3);
    ck_assert_str_eq(tr.text, "1100 b | 1300 a | 1300 d");
    ck_assert_uint_eq(clock_now_ms(c), 2099);
    ck_assert_uint_eq(clock_pending(c), 0);
    clock_close(c);
}
END_TEST

START_TEST(fake_runs_timers_armed_by_callbacks_within_the_same_advance)
{
    struct clock *c;
    struct trace tr;
    struct tagged a = {.trace = &tr, .name = "a", .rearm_ms = 500};
    struct tagged b = {.trace = &tr, .name = "b"};

    ck_assert_int_eq(clock_new_fake(0, &c), 0);
    trace_init(&tr, c);
    clock_timer_start(c, &a.timer, 100, tagged_fired, &a);
    clock_timer_start(c, &b.timer, 400, tagged_fired, &b);
    ck_assert_int_eq(clock_fake_advance(c, 1000), 3);
    ck_assert_str_eq(tr.text, "100 a | 400 b | 600 a-follow");
    clock_close(c);
}
END_TEST

START_TEST(restart_moves_the_deadline)
{
    struct clock *c;
    struct trace tr;
    struct tagged a = {.trace = &tr, .name = "a"};

    ck_assert_int_eq(clock_new_fake(0, &c), 0);
    trace_init(&tr, c);
    clock_timer_start(c, &a.timer, 100, tagged_fired, &a);
    clock_fake_advance(c, 50);
    clock_timer_start(c, &a.timer, 100, tagged_fired, &a);
    ck_assert_uint_eq(clock_pending(c), 1);
    clock_fake_advance(c, 500);
    ck_assert_str_eq(tr.text, "150 a");
    clock_close(c);
}
END_TEST

struct many {
    struct clock_timer timer;
    uint64_t due;
    uint64_t *last_due;
    unsigned *fired;
};

static struct clock *many_clock;

static void
many_fired_ordered(void *arg)
{
    struct many *m = arg;

    ck_assert(!clock_timer_is_active(&m->timer));
    ck_assert_uint_eq(clock_now_ms(many_clock), m->due);
    ck_assert_uint_ge(m->due, *m->last_due);
    *m->last_due = m->due;
    (*m->fired)++;
}

START_TEST(ten_thousand_timers_fire_sorted_and_stopped_ones_never)
{
    enum { N = 10000 };
    struct many *m = calloc(N, sizeof(*m));
    uint64_t last_due = 0;
    unsigned fired = 0;
    uint64_t seed = 42;

    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(clock_new_fake(0, &many_clock), 0);
    for (unsigned i = 0; i < N; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        m[i].due = (seed >> 33) % 60000;
        m[i].last_due = &last_due;
        m[i].fired = &fired;
        ck_assert_int_eq(
            clock_timer_start(many_clock, &m[i].timer, m[i].due, many_fired_ordered, &m[i]), 0);
    }
    for (unsigned i = 0; i < N; i += 3)
        clock_timer_stop(&m[i].timer);
    ck_assert_uint_eq(clock_pending(many_clock), N - (N + 2) / 3);
    clock_fake_advance(many_clock, 60000);
    ck_assert_uint_eq(fired, N - (N + 2) / 3);
    clock_close(many_clock);
    free(m);
}
END_TEST

START_TEST(fake_advance_refuses_a_uv_clock)
{
    uv_loop_t loop;
    struct clock *c;

    ck_assert_int_eq(uv_loop_init(&loop), 0);
    ck_assert_int_eq(clock_new_uv(&loop, &c), 0);
    ck_assert_int_eq(clock_fake_advance(c, 10), AB_EINVAL);
    clock_close(c);
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

struct real {
    struct clock *clock;
    struct clock_timer timer;
    char name;
    char *order;
    size_t *n;
    uint64_t started_ms;
    uint64_t delay_ms;
};

static void
real_fired(void *arg)
{
    struct real *r = arg;

    ck_assert_uint_ge(clock_now_ms(r->clock), r->started_ms + r->delay_ms);
    r->order[(*r->n)++] = r->name;
}

static void
count_handle(uv_handle_t *h, void *arg)
{
    (void)h;
    (*(unsigned *)arg)++;
}

START_TEST(uv_clock_fires_real_timers_in_order_on_one_handle)
{
    uv_loop_t loop;
    struct clock *c;
    char order[8] = {0};
    size_t n = 0;
    struct real r[4] = {
        {.name = 'c', .delay_ms = 60},
        {.name = 'a', .delay_ms = 10},
        {.name = 'd', .delay_ms = 80},
        {.name = 'b', .delay_ms = 30},
    };
    unsigned handles = 0;

    ck_assert_int_eq(uv_loop_init(&loop), 0);
    ck_assert_int_eq(clock_new_uv(&loop, &c), 0);
    for (int i = 0; i < 4; i++) {
        r[i].clock = c;
        r[i].order = order;
        r[i].n = &n;
        r[i].started_ms = clock_now_ms(c);
        ck_assert_int_eq(clock_timer_start(c, &r[i].timer, r[i].delay_ms, real_fired, &r[i]), 0);
    }
    clock_timer_stop(&r[2].timer);
    uv_walk(&loop, count_handle, &handles);
    ck_assert_uint_eq(handles, 1);
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0); /* returns once nothing is armed */
    ck_assert_str_eq(order, "abc");
    ck_assert_uint_eq(clock_pending(c), 0);
    clock_close(c);
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(uv_clock_closes_with_timers_still_armed)
{
    uv_loop_t loop;
    struct clock *c;
    struct real r = {.name = 'x', .delay_ms = 100000};

    ck_assert_int_eq(uv_loop_init(&loop), 0);
    ck_assert_int_eq(clock_new_uv(&loop, &c), 0);
    ck_assert_int_eq(clock_timer_start(c, &r.timer, r.delay_ms, real_fired, &r), 0);
    clock_close(c);
    ck_assert(!clock_timer_is_active(&r.timer));
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

int
main(void)
{
    const TTest *tests[] = {
        fake_fires_in_deadline_order_at_exact_times,
        fake_runs_timers_armed_by_callbacks_within_the_same_advance,
        restart_moves_the_deadline,
        ten_thousand_timers_fire_sorted_and_stopped_ones_never,
        fake_advance_refuses_a_uv_clock,
        uv_clock_fires_real_timers_in_order_on_one_handle,
        uv_clock_closes_with_timers_still_armed,
        NULL,
    };

    return check_run_list("engine-clock", 10, tests);
}
