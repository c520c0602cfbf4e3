/* The edit pacer on the fake clock: bursts coalesce to one flush per interval ending
 * with the latest render, slow edits delay the next, the final flush is exempt. */
#include <stdlib.h>

#include <check.h>

#include <agent-broker/errors.h>

#include "outbound/pacer.h"
#include "../support/check_runner.h"
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

/* What a script does at a moment. */
enum act {
    END = 0,    /* the steps end here */
    UPDATE = 1, /* pacer_update(gen) */
    FINISH,     /* pacer_finish */
    STOP,       /* pacer_stop */
};

struct pstep {
    uint64_t at;
    enum act act;
    uint64_t gen;
};

/* A scripted scenario: each edit takes @edit_ms; the exact trace at @end_at. */
struct pscript {
    const char *what;
    uint64_t edit_ms;
    struct pstep steps[8]; /* up to the first END */
    uint64_t end_at;
    const char *expect;
};

static const struct pscript scripts[] = {
    /* 2: due at 1500 but the first edit ran until 2000; 3: due at 3500, edit 2 ran to 4000 */
    {"an edit in flight delays the next flush",
     2000,
     {{0, UPDATE, 1}, {100, UPDATE, 2}, {2100, UPDATE, 3}},
     10000,
     "0 flush 1 | 2000 flush 2 | 4000 flush 3"},
    /* an update after the end is ignored */
    {"the final flush is exempt from the interval",
     0,
     {{0, UPDATE, 1}, {200, UPDATE, 2}, {300, FINISH, 0}, {300, UPDATE, 3}},
     5000,
     "0 flush 1 | 300 final 2"},
    {"the final flush waits for an edit in flight",
     400,
     {{0, UPDATE, 1}, {100, UPDATE, 2}, {100, FINISH, 0}},
     5000,
     "0 flush 1 | 400 final 2"},
    {"an unchanged render is not flushed again",
     0,
     {{0, UPDATE, 7}, {2000, UPDATE, 7}, {5000, UPDATE, 8}},
     5000,
     "0 flush 7 | 5000 flush 8"},
    {"finish without updates still makes one final flush",
     0,
     {{900, FINISH, 0}, {900, FINISH, 0}},
     3000,
     "900 final 0"},
    {"stop drops what is owed",
     0,
     {{0, UPDATE, 1}, {10, UPDATE, 2}, {10, STOP, 0}, {10, FINISH, 0}},
     5000,
     "0 flush 1"},
};

/* Run scripts[_i] and compare its trace. */
START_TEST(scripted_traces)
{
    const struct pscript *sc = &scripts[_i];
    struct fixture f;

    fixture_init(&f, sc->edit_ms);
    for (size_t i = 0; i < 8 && sc->steps[i].act != END; i++) {
        const struct pstep *s = &sc->steps[i];
        at(&f, s->at);
        if (s->act == UPDATE)
            pacer_update(&f.pacer, s->gen);
        else if (s->act == FINISH)
            pacer_finish(&f.pacer);
        else
            pacer_stop(&f.pacer);
    }
    at(&f, sc->end_at);
    trace_expect(&f.trace, sc->what, sc->expect);
    fixture_done(&f);
}
END_TEST

START_TEST(a_pacer_needs_a_clock)
{
    struct pacer p;

    ck_assert_int_eq(pacer_init(&p, NULL, 1500, record_flush, NULL), AB_EINVAL);
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
        a_pacer_needs_a_clock,
        NULL,
    };

    return check_run_table("engine-pacer", 10, scripted_traces,
                           (int)(sizeof(scripts) / sizeof(scripts[0])), tests);
}
