/* The edit pacer on the fake clock: bursts coalesce to one flush per interval ending
 * with the latest render, slow edits delay the next, the final flush is exempt. */
#include <stdlib.h>

#include <check.h>

#include <agent-broker/errors.h>

#include "outbound/pacer.h"
#include "runner.h"
#include "trace.h"

struct fixture {
    struct clock *clock;
    struct trace trace;
    struct pacer pacer;
    uint64_t edit_ms; /* how long each edit takes; 0 = done inside flush */
    struct clock_timer edit;
    unsigned flushes;
};

static void
edit_finished(void *arg)
{
    struct fixture *f = arg;
    pacer_flush_done(&f->pacer);
}

static void
record_flush(void *arg, uint64_t generation, bool is_final)
{
    struct fixture *f = arg;

    trace_add(&f->trace, "%s %llu", is_final ? "final" : "flush", (unsigned long long)generation);
    f->flushes++;
    if (f->edit_ms == 0)
        pacer_flush_done(&f->pacer);
    else
        clock_timer_start(f->clock, &f->edit, f->edit_ms, edit_finished, f);
}

static void
fixture_init(struct fixture *f, uint64_t edit_ms)
{
    *f = (struct fixture){.edit_ms = edit_ms};
    ck_assert_int_eq(clock_new_fake(0, &f->clock), 0);
    trace_init(&f->trace, f->clock);
    clock_timer_init(&f->edit);
    ck_assert_int_eq(pacer_init(&f->pacer, f->clock, 1500, record_flush, f), 0);
}

static void
at(struct fixture *f, uint64_t t)
{
    clock_fake_advance(f->clock, t - clock_now_ms(f->clock));
}

static void
fixture_done(struct fixture *f)
{
    pacer_stop(&f->pacer);
    clock_timer_stop(&f->edit);
    ck_assert_uint_eq(clock_pending(f->clock), 0);
    clock_close(f->clock);
}

START_TEST(a_burst_of_1000_updates_in_3s_flushes_at_most_once_per_interval)
{
    struct fixture f;

    fixture_init(&f, 0);
    for (uint64_t i = 0; i < 1000; i++) {
        at(&f, i * 3);
        pacer_update(&f.pacer, i + 1);
    }
    at(&f, 3000);
    ck_assert_uint_le(f.flushes, 3);
    ck_assert_str_eq(f.trace.text, "0 flush 1 | 1500 flush 500 | 3000 flush 1000");
    pacer_finish(&f.pacer);
    ck_assert_str_eq(f.trace.text,
                     "0 flush 1 | 1500 flush 500 | 3000 flush 1000 | 3000 final 1000");
    ck_assert(pacer_is_finished(&f.pacer));
    fixture_done(&f);
}
END_TEST

START_TEST(an_edit_in_flight_delays_the_next_flush)
{
    struct fixture f;

    fixture_init(&f, 2000);
    pacer_update(&f.pacer, 1);
    at(&f, 100);
    pacer_update(&f.pacer, 2);
    at(&f, 2100);
    pacer_update(&f.pacer, 3);
    at(&f, 10000);
    /* 2: due at 1500 but the first edit ran until 2000; 3: due at 3500, edit 2 ran to 4000. */
    ck_assert_str_eq(f.trace.text, "0 flush 1 | 2000 flush 2 | 4000 flush 3");
    fixture_done(&f);
}
END_TEST

START_TEST(the_final_flush_is_exempt_from_the_interval)
{
    struct fixture f;

    fixture_init(&f, 0);
    pacer_update(&f.pacer, 1);
    at(&f, 200);
    pacer_update(&f.pacer, 2);
    at(&f, 300);
    pacer_finish(&f.pacer);
    pacer_update(&f.pacer, 3); /* after the end: ignored */
    at(&f, 5000);
    ck_assert_str_eq(f.trace.text, "0 flush 1 | 300 final 2");
    fixture_done(&f);
}
END_TEST

START_TEST(the_final_flush_waits_for_an_edit_in_flight)
{
    struct fixture f;

    fixture_init(&f, 400);
    pacer_update(&f.pacer, 1);
    at(&f, 100);
    pacer_update(&f.pacer, 2);
    pacer_finish(&f.pacer);
    ck_assert(!pacer_is_finished(&f.pacer));
    at(&f, 5000);
    ck_assert_str_eq(f.trace.text, "0 flush 1 | 400 final 2");
    fixture_done(&f);
}
END_TEST

START_TEST(an_unchanged_render_is_not_flushed_again)
{
    struct fixture f;

    fixture_init(&f, 0);
    pacer_update(&f.pacer, 7);
    at(&f, 2000);
    pacer_update(&f.pacer, 7);
    at(&f, 5000);
    pacer_update(&f.pacer, 8);
    ck_assert_str_eq(f.trace.text, "0 flush 7 | 5000 flush 8");
    fixture_done(&f);
}
END_TEST

START_TEST(finish_without_updates_still_makes_one_final_flush)
{
    struct fixture f;

    fixture_init(&f, 0);
    at(&f, 900);
    pacer_finish(&f.pacer);
    pacer_finish(&f.pacer);
    at(&f, 3000);
    ck_assert_str_eq(f.trace.text, "900 final 0");
    fixture_done(&f);
}
END_TEST

START_TEST(stop_drops_what_is_owed)
{
    struct fixture f;

    fixture_init(&f, 0);
    pacer_update(&f.pacer, 1);
    at(&f, 10);
    pacer_update(&f.pacer, 2);
    pacer_stop(&f.pacer);
    pacer_finish(&f.pacer);
    at(&f, 5000);
    ck_assert_str_eq(f.trace.text, "0 flush 1");
    ck_assert_int_eq(pacer_init(&f.pacer, NULL, 1500, record_flush, &f), AB_EINVAL);
    fixture_done(&f);
}
END_TEST

/* The flush's edit waits behind a rate limit for 5 s while updates keep coming; the
 * owner renders the newest generation when the edit goes (pacer_flush_started). When it
 * completes, nothing older or equal is flushed again at once, and the next flush counts
 * its interval from when the edit went, not from when it was asked for. */
START_TEST(an_edit_held_by_a_rate_limit_is_followed_by_nothing_stale)
{
    struct fixture f;

    fixture_init(&f, 0);
    f.edit_ms = 1; /* unused: this test completes the edit by hand */
    pacer_update(&f.pacer, 1);
    clock_timer_stop(&f.edit); /* the scheduler holds the edit */
    for (uint64_t g = 2; g <= 50; g++) {
        at(&f, g * 100);
        pacer_update(&f.pacer, g);
    }
    at(&f, 5000);
    pacer_flush_started(&f.pacer); /* the edit goes now, with generation 50 */
    at(&f, 5010);
    pacer_flush_done(&f.pacer);
    clock_timer_stop(&f.edit);
    at(&f, 6000);
    ck_assert_str_eq(f.trace.text, "0 flush 1"); /* no second edit with the same render */
    pacer_update(&f.pacer, 51);
    at(&f, 6499);
    ck_assert_str_eq(f.trace.text, "0 flush 1");
    at(&f, 6500); /* 5000 + the 1500 ms interval */
    ck_assert_str_eq(f.trace.text, "0 flush 1 | 6500 flush 51");
    clock_timer_stop(&f.edit);
    fixture_done(&f);
}
END_TEST

int
main(void)
{
    const TTest *tests[] = {
        an_edit_held_by_a_rate_limit_is_followed_by_nothing_stale,
        a_burst_of_1000_updates_in_3s_flushes_at_most_once_per_interval,
        an_edit_in_flight_delays_the_next_flush,
        the_final_flush_is_exempt_from_the_interval,
        the_final_flush_waits_for_an_edit_in_flight,
        an_unchanged_render_is_not_flushed_again,
        finish_without_updates_still_makes_one_final_flush,
        stop_drops_what_is_owed,
        NULL,
    };

    return runner_run("engine-pacer", 10, tests);
}
