/* Status reactions on the fake clock: every test states the exact emitted sequence
 * with timestamps ("700 -👀" = remove 👀 at t=700 ms). */
#include <stdlib.h>

#include <check.h>

#include <agent-broker/errors.h>

#include "conv/reactions.h"
#include "../support/check_runner.h"
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

/* What a script does at a moment. */
enum ev {
    END = 0, /* the steps end here */
    QUEUED = 1,
    THINKING,
    PROGRESS,
    TOOL,    /* reactions_tool(tool) */
    TOOL_OF, /* reactions_tool(reactions_classify_tool(kind, title)) */
    DONE,    /* reactions_done(outcome) */
    ERROR,
};

struct rstep {
    uint64_t at;
    enum ev ev;
    int arg; /* TOOL: the class; DONE: the outcome */
    const char *kind, *title;
};

/* A scripted scenario: config, steps, the exact trace at @end_at and, with
 * @check_shown, what reactions_shown() says then. */
struct rscript {
    const char *what;
    bool remove_after_reply, disabled;
    struct rstep steps[8]; /* up to the first END */
    uint64_t end_at;
    const char *expect;
    bool check_shown;
    int shown;
};

static const struct rscript scripts[] = {
    {.what = "a turn finishing within the debounce never shows thinking",
     .steps = {{0, QUEUED}, {0, THINKING}, {300, PROGRESS}, {300, DONE, REACTIONS_OUTCOME_OK}},
     .end_at = 60000,
     .expect = "0 +👀 | 300 -👀 | 300 +🆗 | 300 +😊",
     .check_shown = true,
     .shown = REACTIONS_DONE},
    /* queued behind another turn for 5 s, then thinking for the 700 ms debounce */
    {.what = "thinking shows once it held for the debounce",
     .steps = {{0, QUEUED}, {5000, THINKING}},
     .end_at = 5700,
     .expect = "0 +👀 | 5700 -👀 | 5700 +🤔"},
    /* web held only 300 ms: overtaken, never sent */
    {.what = "tools show their class and overtaken classes are never sent",
     .steps = {{0, THINKING},
               {1000, TOOL_OF, 0, "execute", "npm test"},
               {2000, TOOL_OF, 0, "fetch", "https://example.com"},
               {2300, TOOL_OF, 0, NULL, "Thinking about life"},
               {3500, TOOL, REACTIONS_TOOL_WEB}},
     .end_at = 5000,
     .expect =
         "700 +🤔 | 1700 -🤔 | 1700 +👨‍💻 | 3000 -👨‍💻 | 3000 +🔥 | 4200 -🔥 "
         "| "
         "4200 +⚡"},
    {.what = "returning to the shown state before the debounce sends nothing",
     .steps = {{0, THINKING}, {1000, TOOL, REACTIONS_TOOL_CODING}, {1300, THINKING}},
     .end_at = 5000,
     .expect = "700 +🤔"},
    {.what = "progress restarts the stall timers",
     .steps = {{0, THINKING},
               {9000, PROGRESS},
               {18000, PROGRESS},
               {27000, PROGRESS},
               {36000, PROGRESS},
               {45000, PROGRESS}},
     .end_at = 55000,
     .expect = "700 +🤔 | 55000 -🤔 | 55000 +🥱"},
    /* late events change nothing */
    {.what = "done shows ok and the mood, then removes both after the hold",
     .remove_after_reply = true,
     .steps = {{0, QUEUED},
               {0, THINKING},
               {2000, DONE, REACTIONS_OUTCOME_EMPTY},
               {2000, TOOL, REACTIONS_TOOL_WEB},
               {2000, ERROR}},
     .end_at = 10000,
     .expect =
         "0 +👀 | 700 -👀 | 700 +🤔 | 2000 -🤔 | 2000 +🆗 | 2000 +🤷 | 3500 -🆗 | "
         "3500 -🤷",
     .check_shown = true,
     .shown = REACTIONS_REMOVED},
    {.what = "mood: ok", .steps = {{0, DONE, REACTIONS_OUTCOME_OK}}, .expect = "0 +🆗 | 0 +😊"},
    {.what = "mood: empty",
     .steps = {{0, DONE, REACTIONS_OUTCOME_EMPTY}},
     .expect = "0 +🆗 | 0 +🤷"},
    {.what = "mood: tool errors",
     .steps = {{0, DONE, REACTIONS_OUTCOME_TOOL_ERRORS}},
     .expect = "0 +🆗 | 0 +😅"},
    {.what = "mood: cancelled",
     .steps = {{0, DONE, REACTIONS_OUTCOME_CANCELLED}},
     .expect = "0 +🆗 | 0 +🫡"},
    {.what = "an error shows at once and is removed after its hold",
     .remove_after_reply = true,
     .steps = {{0, QUEUED}, {0, THINKING}, {800, ERROR}},
     .end_at = 20000,
     .expect = "0 +👀 | 700 -👀 | 700 +🤔 | 800 -🤔 | 800 +😱 | 3300 -😱"},
    {.what = "without remove_after_reply the final reaction stays",
     .steps = {{0, THINKING}, {100, ERROR}},
     .end_at = 60000,
     .expect = "100 +😱"},
    {.what = "disabled reactions emit nothing",
     .disabled = true,
     .steps = {{0, QUEUED},
               {0, THINKING},
               {0, TOOL, REACTIONS_TOOL_CODING},
               {40000, DONE, REACTIONS_OUTCOME_OK}},
     .end_at = 50000,
     .expect = ""},
};

/* Run scripts[_i] and compare its trace. */
START_TEST(scripted_traces)
{
    const struct rscript *sc = &scripts[_i];
    struct reactions_config cfg = reactions_config_default();
    struct fixture f;

    cfg.remove_after_reply = sc->remove_after_reply;
    cfg.enabled = !sc->disabled;
    ck_assert_int_eq(clock_new_fake(0, &f.clock), 0);
    trace_init(&f.trace, f.clock);
    ck_assert_int_eq(reactions_init(&f.r, f.clock, &cfg, record_emit, &f.trace), 0);
    for (size_t i = 0; i < 8 && sc->steps[i].ev != END; i++) {
        const struct rstep *s = &sc->steps[i];
        at(&f, s->at);
        switch (s->ev) {
        case QUEUED: reactions_queued(&f.r); break;
        case THINKING: reactions_thinking(&f.r); break;
        case PROGRESS: reactions_progress(&f.r); break;
        case TOOL: reactions_tool(&f.r, (enum reactions_tool_class)s->arg); break;
        case TOOL_OF: reactions_tool(&f.r, reactions_classify_tool(s->kind, s->title)); break;
        case DONE: reactions_done(&f.r, (enum reactions_outcome)s->arg); break;
        case ERROR: reactions_error(&f.r); break;
        case END: break;
        }
    }
    at(&f, sc->end_at);
    trace_expect(&f.trace, sc->what, sc->expect);
    if (sc->check_shown)
        ck_assert_int_eq(reactions_shown(&f.r), sc->shown);
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
        stalls_go_soft_then_hard_and_progress_brings_the_work_back,
        stop_cancels_everything_pending,
        tools_are_classified_by_kind_then_title,
        inconsistent_timings_are_refused,
        NULL,
    };

    return check_run_table("engine-reactions", 10, scripted_traces,
                           (int)(sizeof(scripts) / sizeof(scripts[0])), tests);
}
