/* Status reactions on the fake clock: every test states the exact emitted sequence
 * with timestamps ("700 -👀" = remove 👀 at t=700 ms). */
#include <stdlib.h>

#include <check.h>

#include <agent-broker/errors.h>

#include "conv/reactions.h"
#include "runner.h"
#include "trace.h"

struct fixture {
    struct clock *clock;
    struct trace trace;
    struct reactions r;
};

static void
record_emit(void *arg, const char *emoji, bool add)
{
    struct trace *t = arg;
    trace_add(t, "%s%s", add ? "+" : "-", emoji);
}

/* A fixture at t=0 with the default config, changed by @edit when not NULL. */
static void
fixture_init(struct fixture *f, void (*edit)(struct reactions_config *))
{
    struct reactions_config cfg = reactions_config_default();

    if (edit)
        edit(&cfg);
    ck_assert_int_eq(clock_new_fake(0, &f->clock), 0);
    trace_init(&f->trace, f->clock);
    ck_assert_int_eq(reactions_init(&f->r, f->clock, &cfg, record_emit, &f->trace), 0);
}

/* Advance to absolute time @t. */
static void
at(struct fixture *f, uint64_t t)
{
    ck_assert_uint_ge(t, clock_now_ms(f->clock));
    clock_fake_advance(f->clock, t - clock_now_ms(f->clock));
}

static void
fixture_done(struct fixture *f)
{
    reactions_stop(&f->r);
    ck_assert_uint_eq(clock_pending(f->clock), 0);
    clock_close(f->clock);
}

static void
remove_after_reply(struct reactions_config *cfg)
{
    cfg->remove_after_reply = true;
}

START_TEST(a_turn_finishing_within_the_debounce_never_shows_thinking)
{
    struct fixture f;

    fixture_init(&f, NULL);
    reactions_queued(&f.r);
    reactions_thinking(&f.r);
    at(&f, 300);
    reactions_progress(&f.r);
    reactions_done(&f.r, REACTIONS_OUTCOME_OK);
    at(&f, 60000);
    ck_assert_str_eq(f.trace.text, "0 +👀 | 300 -👀 | 300 +🆗 | 300 +😊");
    ck_assert_int_eq(reactions_shown(&f.r), REACTIONS_DONE);
    fixture_done(&f);
}
END_TEST

START_TEST(thinking_shows_once_it_held_for_the_debounce)
{
    struct fixture f;

    fixture_init(&f, NULL);
    reactions_queued(&f.r);
    at(&f, 5000); /* waiting in the queue behind another turn */
    reactions_thinking(&f.r);
    at(&f, 5699);
    ck_assert_str_eq(f.trace.text, "0 +👀");
    at(&f, 5700);
    ck_assert_str_eq(f.trace.text, "0 +👀 | 5700 -👀 | 5700 +🤔");
    fixture_done(&f);
}
END_TEST

START_TEST(tools_show_their_class_and_overtaken_classes_are_never_sent)
{
    struct fixture f;

    fixture_init(&f, NULL);
    reactions_thinking(&f.r);
    at(&f, 1000);
    reactions_tool(&f.r, reactions_classify_tool("execute", "npm test"));
    at(&f, 2000);
    reactions_tool(&f.r, reactions_classify_tool("fetch", "https://example.com"));
    at(&f, 2300); /* web held only 300 ms: overtaken */
    reactions_tool(&f.r, reactions_classify_tool(NULL, "Thinking about life"));
    at(&f, 3500);
    reactions_tool(&f.r, REACTIONS_TOOL_WEB);
    at(&f, 5000);
    ck_assert_str_eq(
        f.trace.text,
        "700 +🤔 | 1700 -🤔 | 1700 +👨‍💻 | 3000 -👨‍💻 | 3000 +🔥 | "
        "4200 -🔥 | 4200 +⚡");
    fixture_done(&f);
}
END_TEST

START_TEST(returning_to_the_shown_state_before_the_debounce_sends_nothing)
{
    struct fixture f;

    fixture_init(&f, NULL);
    reactions_thinking(&f.r);
    at(&f, 1000);
    reactions_tool(&f.r, REACTIONS_TOOL_CODING);
    at(&f, 1300);
    reactions_thinking(&f.r);
    at(&f, 5000);
    ck_assert_str_eq(f.trace.text, "700 +🤔");
    fixture_done(&f);
}
END_TEST

START_TEST(stalls_go_soft_then_hard_and_progress_brings_the_work_back)
{
    struct fixture f;

    fixture_init(&f, NULL);
    reactions_thinking(&f.r);
    at(&f, 2000);
    reactions_tool(&f.r, REACTIONS_TOOL_CODING); /* last progress at 2000 */
    at(&f, 40000);
    ck_assert_str_eq(
        f.trace.text,
        "700 +🤔 | 2700 -🤔 | 2700 +👨‍💻 | 12000 -👨‍💻 | 12000 +🥱 | "
        "32000 -🥱 | 32000 +😨");
    trace_clear(&f.trace);
    reactions_progress(&f.r);
    at(&f, 52000);
    ck_assert_str_eq(f.trace.text,
                     "40700 -😨 | 40700 +👨‍💻 | 50000 -👨‍💻 | 50000 +🥱");
    fixture_done(&f);
}
END_TEST

START_TEST(progress_restarts_the_stall_timers)
{
    struct fixture f;

    fixture_init(&f, NULL);
    reactions_thinking(&f.r);
    for (uint64_t t = 9000; t <= 45000; t += 9000) {
        at(&f, t);
        reactions_progress(&f.r);
    }
    at(&f, 54999);
    ck_assert_str_eq(f.trace.text, "700 +🤔");
    at(&f, 55000);
    ck_assert_str_eq(f.trace.text, "700 +🤔 | 55000 -🤔 | 55000 +🥱");
    fixture_done(&f);
}
END_TEST

START_TEST(done_shows_ok_and_the_mood_then_removes_both_after_the_hold)
{
    struct fixture f;

    fixture_init(&f, remove_after_reply);
    reactions_queued(&f.r);
    reactions_thinking(&f.r);
    at(&f, 2000);
    reactions_done(&f.r, REACTIONS_OUTCOME_EMPTY);
    reactions_tool(&f.r, REACTIONS_TOOL_WEB); /* late events change nothing */
    reactions_error(&f.r);
    at(&f, 3499);
    ck_assert_str_eq(f.trace.text,
                     "0 +👀 | 700 -👀 | 700 +🤔 | 2000 -🤔 | 2000 +🆗 | 2000 +🤷");
    at(&f, 10000);
    ck_assert_str_eq(f.trace.text,
                     "0 +👀 | 700 -👀 | 700 +🤔 | 2000 -🤔 | 2000 +🆗 | 2000 +🤷 | "
                     "3500 -🆗 | 3500 -🤷");
    ck_assert_int_eq(reactions_shown(&f.r), REACTIONS_REMOVED);
    fixture_done(&f);
}
END_TEST

START_TEST(moods_follow_the_outcome)
{
    const enum reactions_outcome outcomes[] = {REACTIONS_OUTCOME_OK, REACTIONS_OUTCOME_EMPTY,
                                               REACTIONS_OUTCOME_TOOL_ERRORS,
                                               REACTIONS_OUTCOME_CANCELLED};
    const char *want[] = {"0 +🆗 | 0 +😊", "0 +🆗 | 0 +🤷", "0 +🆗 | 0 +😅", "0 +🆗 | 0 +🫡"};

    for (int i = 0; i < 4; i++) {
        struct fixture f;
        fixture_init(&f, NULL);
        reactions_done(&f.r, outcomes[i]);
        ck_assert_str_eq(f.trace.text, want[i]);
        fixture_done(&f);
    }
}
END_TEST

START_TEST(error_shows_at_once_and_is_removed_after_its_hold)
{
    struct fixture f;

    fixture_init(&f, remove_after_reply);
    reactions_queued(&f.r);
    reactions_thinking(&f.r);
    at(&f, 800);
    reactions_error(&f.r);
    at(&f, 20000);
    ck_assert_str_eq(f.trace.text,
                     "0 +👀 | 700 -👀 | 700 +🤔 | 800 -🤔 | 800 +😱 | 3300 -😱");
    fixture_done(&f);
}
END_TEST

START_TEST(without_remove_after_reply_the_final_reaction_stays)
{
    struct fixture f;

    fixture_init(&f, NULL);
    reactions_thinking(&f.r);
    at(&f, 100);
    reactions_error(&f.r);
    at(&f, 60000);
    ck_assert_str_eq(f.trace.text, "100 +😱");
    fixture_done(&f);
}
END_TEST

static void
disable(struct reactions_config *cfg)
{
    cfg->enabled = false;
}

START_TEST(disabled_reactions_emit_nothing)
{
    struct fixture f;

    fixture_init(&f, disable);
    reactions_queued(&f.r);
    reactions_thinking(&f.r);
    reactions_tool(&f.r, REACTIONS_TOOL_CODING);
    at(&f, 40000);
    reactions_done(&f.r, REACTIONS_OUTCOME_OK);
    at(&f, 50000);
    ck_assert_uint_eq(f.trace.count, 0);
    fixture_done(&f);
}
END_TEST

START_TEST(stop_cancels_everything_pending)
{
    struct fixture f;

    fixture_init(&f, NULL);
    reactions_queued(&f.r);
    reactions_thinking(&f.r);
    reactions_stop(&f.r);
    ck_assert_uint_eq(clock_pending(f.clock), 0);
    at(&f, 60000);
    reactions_done(&f.r, REACTIONS_OUTCOME_OK);
    ck_assert_str_eq(f.trace.text, "0 +👀");
    fixture_done(&f);
}
END_TEST

START_TEST(tools_are_classified_by_kind_then_title)
{
    ck_assert_int_eq(reactions_classify_tool("execute", NULL), REACTIONS_TOOL_CODING);
    ck_assert_int_eq(reactions_classify_tool("read", "Read web.c"), REACTIONS_TOOL_CODING);
    ck_assert_int_eq(reactions_classify_tool("edit", NULL), REACTIONS_TOOL_CODING);
    ck_assert_int_eq(reactions_classify_tool("search", "grep"), REACTIONS_TOOL_WEB);
    ck_assert_int_eq(reactions_classify_tool("fetch", NULL), REACTIONS_TOOL_WEB);
    ck_assert_int_eq(reactions_classify_tool("other", "Run Bash: ls"), REACTIONS_TOOL_CODING);
    ck_assert_int_eq(reactions_classify_tool(NULL, "WebSearch: libuv"), REACTIONS_TOOL_WEB);
    ck_assert_int_eq(reactions_classify_tool(NULL, "Open browser"), REACTIONS_TOOL_WEB);
    ck_assert_int_eq(reactions_classify_tool("think", "Plan"), REACTIONS_TOOL_GENERIC);
    ck_assert_int_eq(reactions_classify_tool(NULL, NULL), REACTIONS_TOOL_GENERIC);
}
END_TEST

START_TEST(inconsistent_timings_are_refused)
{
    struct clock *c;
    struct reactions r;
    struct reactions_config cfg = reactions_config_default();

    ck_assert_int_eq(clock_new_fake(0, &c), 0);
    cfg.stall_hard_ms = cfg.stall_soft_ms - 1;
    ck_assert_int_eq(reactions_init(&r, c, &cfg, record_emit, NULL), AB_ECONFIG);
    ck_assert_int_eq(reactions_init(&r, c, NULL, record_emit, NULL), AB_EINVAL);
    clock_close(c);
}
END_TEST

int
main(void)
{
    const TTest *tests[] = {
        a_turn_finishing_within_the_debounce_never_shows_thinking,
        thinking_shows_once_it_held_for_the_debounce,
        tools_show_their_class_and_overtaken_classes_are_never_sent,
        returning_to_the_shown_state_before_the_debounce_sends_nothing,
        stalls_go_soft_then_hard_and_progress_brings_the_work_back,
        progress_restarts_the_stall_timers,
        done_shows_ok_and_the_mood_then_removes_both_after_the_hold,
        moods_follow_the_outcome,
        error_shows_at_once_and_is_removed_after_its_hold,
        without_remove_after_reply_the_final_reaction_stays,
        disabled_reactions_emit_nothing,
        stop_cancels_everything_pending,
        tools_are_classified_by_kind_then_title,
        inconsistent_timings_are_refused,
        NULL,
    };

    return runner_run("engine-reactions", 10, tests);
}
