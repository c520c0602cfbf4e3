/* The cron scheduler on a fake clock: runs at each scheduled minute, one missed run
 * after downtime with catch_up = 1 and none with 0, and no storm when the wall clock
 * jumps ahead (suspend). */
#include <stdlib.h>

#include <check.h>

#include "clock/clock.h"
#include "cron/scheduler.h"
#include "../support/check_runner.h"

#define BASE 1796472060 /* 2026-12-05 12:01:00Z */

struct world {
    struct clock *clock;
    int64_t wall_shift; /* seconds added to the fake clock's time: a suspend */
    int fires;
    int64_t at[16];
};

/* Wall time: BASE + the fake clock + the shift. */
static int64_t
wall(void *arg)
{
    struct world *w = arg;
    return BASE + (int64_t)(clock_now_ms(w->clock) / 1000) + w->wall_shift;
}

/* Record a run. */
static void
fire(void *arg, size_t job, int64_t at)
{
    struct world *w = arg;

    ck_assert_uint_eq(job, 0);
    if (w->fires < 16)
        w->at[w->fires] = at;
    w->fires++;
}

/* A scheduler with one job @expr (UTC) last run at @last_run. */
static struct cron_sched *
sched(struct world *w, const char *expr, int catch_up, int64_t last_run)
{
    struct cron_sched_config cfg = {
        .catch_up = catch_up, .wall_now = wall, .wall_arg = w, .fire = fire, .arg = w};
    struct cron_sched *s;
    struct cron_expr e;
    struct tz *tz;
    char err[200];

    ck_assert_int_eq(clock_new_fake(0, &w->clock), 0);
    ck_assert_int_eq(cron_sched_new(w->clock, &cfg, &s), 0);
    ck_assert_int_eq(cron_parse(expr, &e, err, sizeof(err)), 0);
    ck_assert_int_eq(tz_load(NULL, "UTC", &tz, err, sizeof(err)), 0);
    ck_assert_int_eq(cron_sched_add(s, &e, tz, last_run), 0);
    cron_sched_start(s);
    return s;
}

START_TEST(runs_at_each_scheduled_minute)
{
    struct world w = {0};
    struct cron_sched *s = sched(&w, "*/5 * * * *", 1, 0);

    ck_assert_int_eq(w.fires, 0); /* never inside start */
    clock_fake_advance(w.clock, 10 * 60 * 1000);
    ck_assert_int_eq(w.fires, 2);
    ck_assert_int_eq(w.at[0], BASE + 4 * 60); /* 12:05 */
    ck_assert_int_eq(w.at[1], BASE + 9 * 60); /* 12:10 */
    ck_assert_int_eq(cron_sched_next(s, 0), BASE + 14 * 60);
    cron_sched_free(s);
    clock_close(w.clock);
}
END_TEST

START_TEST(one_missed_run_after_downtime)
{
    struct world w = {0};
    /* daily 09:00, last run three days ago: one run at start, then tomorrow's */
    struct cron_sched *s = sched(&w, "0 9 * * *", 1, BASE - 3 * 86400 - 3 * 3600 - 60);

    ck_assert_int_eq(w.fires, 0);
    clock_fake_advance(w.clock, 1000);
    ck_assert_int_eq(w.fires, 1);
    ck_assert_int_eq(cron_sched_next(s, 0), BASE + 20 * 3600 + 59 * 60); /* 12-06 09:00 */
    clock_fake_advance(w.clock, 3600 * 1000);
    ck_assert_int_eq(w.fires, 1);
    cron_sched_free(s);
    clock_close(w.clock);
}
END_TEST

START_TEST(no_catch_up_when_disabled)
{
    struct world w = {0};
    struct cron_sched *s = sched(&w, "0 9 * * *", 0, BASE - 3 * 86400);

    clock_fake_advance(w.clock, 3600 * 1000);
    ck_assert_int_eq(w.fires, 0);
    cron_sched_free(s);
    clock_close(w.clock);
}
END_TEST

START_TEST(no_storm_after_a_wall_clock_jump)
{
    struct world w = {0};
    struct cron_sched *s = sched(&w, "* * * * *", 1, 0);

    w.wall_shift = 86400; /* the machine slept a day */
    clock_fake_advance(w.clock, 60 * 1000);
    ck_assert_int_eq(w.fires, 1);
    ck_assert_int_eq(cron_sched_next(s, 0), BASE + 86400 + 120); /* the minute after now */
    clock_fake_advance(w.clock, 60 * 1000);
    ck_assert_int_eq(w.fires, 2);
    cron_sched_free(s);
    clock_close(w.clock);
}
END_TEST

/* Register the cases of this file. */
static Suite *
scheduler_suite(void)
{
    Suite *s = suite_create("cron-scheduler");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, runs_at_each_scheduled_minute);
    tcase_add_test(tc, one_missed_run_after_downtime);
    tcase_add_test(tc, no_catch_up_when_disabled);
    tcase_add_test(tc, no_storm_after_a_wall_clock_jump);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return check_run_suite(scheduler_suite());
}
