/* [[cron.jobs]] runs through the engine (conv/schedules.c): the job's line is posted, a
 * thread opens from it at top level, the routes choose the agent for the job's channel,
 * the message is the prompt; a job with thread_id posts there and waits behind the turn
 * running in that conversation; each job's last run is kept in the state dir and read
 * back by the next life. The schedules' clock is moved with the test knob so that a
 * minute starts a second after the jobs are armed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>

#include <agent-broker/errors.h>

#include "../support/check_runner.h"
#include "../support/conv_fixture.h"
#include "conv/schedules.h"
#include "state/state_file.h"

/* Move the schedules' clock so that the next minute starts @lead_s seconds from now. */
static void
shift_to_minute(int lead_s)
{
    int64_t now = (int64_t)time(NULL);
    char v[32];

    snprintf(v, sizeof(v), "%lld", (long long)((now / 60 + 2) * 60 - lead_s - now));
    ck_assert_int_eq(setenv(SCHEDULES_TEST_SHIFT_ENV, v, 1), 0);
}

/* A job every minute in @channel (or @thread) saying @message as @sender. */
static struct config_cron_job
job(const char *channel, const char *thread, const char *message, const char *sender)
{
    return (struct config_cron_job){
        .line = 7,
        .schedule = "* * * * *",
        .channel = (char *)channel,
        .thread_id = (char *)thread,
        .message = (char *)message,
        .sender_name = (char *)sender,
        .timezone = "UTC",
        .enabled = true,
    };
}

START_TEST(a_job_opens_a_thread_and_runs_with_the_channel_agent)
{
    struct conv_fx f;
    struct schedules *s;
    struct config_cron_job j = job("C2", NULL, "nightly report", "ops");
    int64_t last;
    char *t, *doc;
    size_t len;
    int at;

    conv_fx_init(&f, NULL);
    conv_fx_add_agent(&f, "codex");
    conv_fx_route(&f, "C2", NULL, "codex");
    conv_fx_start(&f);
    shift_to_minute(1);
    ck_assert_int_eq(schedules_new(&f.acp.loop, f.engine, f.ci, 1, &j, 1, 1, f.acp.state, &s), 0);
    ck_assert_int_eq(schedules_last_run(s, &j), 0);

    at = conv_fx_wait_call(&f, 10000, FAKE_SEND, "🕐 ops: nightly report", NULL, NULL);
    ck_assert_int_ge(at, 0);
    ck_assert(conv_fx_idle(&f, 15000));
    /* a thread from the line, named from the message; the routed agent got the message */
    ck_assert_int_eq(fake_chat_count_kind(f.fake, FAKE_OPEN_THREAD, "nightly report"), 1);
    ck_assert_int_eq(conv_fx_agent_prompts(&f, "codex"), 1);
    ck_assert_int_eq(conv_fx_agent_prompts(&f, "default"), 0);
    t = conv_fx_agent_prompt_block(&f, "codex", 0, 1);
    ck_assert_str_eq(t, "nightly report");
    free(t);
    t = conv_fx_agent_prompt_block(&f, "codex", 0, 0);
    ck_assert_ptr_nonnull(strstr(t, "ops"));
    free(t);
    ck_assert_int_eq(fake_chat_count_kind(f.fake, FAKE_SEND, "🕐"), 1);

    /* the run is kept on disk and the next life reads it back */
    last = schedules_last_run(s, &j);
    ck_assert_int_gt(last, (int64_t)time(NULL));
    schedules_close(s);
    conv_fx_run(&f, 300);
    {
        char path[300];
        snprintf(path, sizeof(path), "%s/%s", f.acp.state, SCHEDULES_STATE_FILE);
        ck_assert_int_eq(state_file_read(path, &doc, &len), 0);
    }
    ck_assert_ptr_nonnull(strstr(doc, "\"nightly report\""));
    ck_assert_ptr_nonnull(strstr(doc, "\"last_run\""));
    free(doc);
    ck_assert_int_eq(schedules_new(&f.acp.loop, f.engine, f.ci, 1, &j, 1, 1, f.acp.state, &s), 0);
    ck_assert_int_eq(schedules_last_run(s, &j), last);
    /* another message is another job */
    j.message = "weekly report";
    ck_assert_int_eq(schedules_last_run(s, &j), 0);
    schedules_close(s);
    unsetenv(SCHEDULES_TEST_SHIFT_ENV);
    conv_fx_close(&f);
}
END_TEST

START_TEST(a_job_in_a_thread_waits_behind_the_running_turn)
{
    static const char *const flags[] = {"--tick", "100", NULL};
    struct conv_fx f;
    struct schedules *s;
    struct config_cron_job j;
    const char *thread;
    char *t;
    int at;

    conv_fx_init(&f, flags);
    conv_fx_start(&f);
    thread = conv_fx_mention(&f, "U1", "count slowly [[slow 30]]");
    j = job(CONV_FX_CHANNEL, thread, "status please", "cron");
    ck_assert_int_ge(conv_fx_wait_call(&f, 10000, FAKE_OPEN_THREAD, NULL, NULL, NULL), 0);
    shift_to_minute(1);
    ck_assert_int_eq(schedules_new(&f.acp.loop, f.engine, f.ci, 1, &j, 1, 0, NULL, &s), 0);
    at = conv_fx_wait_call(&f, 10000, FAKE_SEND, "🕐 cron: status please", NULL, NULL);
    ck_assert_int_ge(at, 0);
    ck_assert_int_eq(conv_fx_prompts(&f), 1); /* the slow turn still runs */
    ck_assert(conv_fx_idle(&f, 20000));
    /* posted in the thread, no new thread, the same conversation's next turn */
    ck_assert_int_eq(fake_chat_count_kind(f.fake, FAKE_OPEN_THREAD, NULL), 1);
    ck_assert_int_eq(conv_fx_prompts(&f), 2);
    t = conv_fx_prompt_block(&f, 1, 1);
    ck_assert_str_eq(t, "status please");
    free(t);
    ck_assert_ptr_nonnull(engine_agent_of(f.engine, f.ci, thread));
    schedules_close(s);
    unsetenv(SCHEDULES_TEST_SHIFT_ENV);
    conv_fx_close(&f);
}
END_TEST

START_TEST(a_posted_line_that_cannot_start_is_answered_with_why)
{
    /* The line is on the platform, but the run cannot start (here: a thread id too long
     * to name a conversation by): a line under it says so, nothing is prompted. */
    struct conv_fx f;
    struct schedules *s;
    struct config_cron_job j;
    char thread[200];
    int at, said;

    memset(thread, '7', sizeof(thread) - 1);
    thread[sizeof(thread) - 1] = '\0';
    conv_fx_init(&f, NULL);
    conv_fx_start(&f);
    j = job(CONV_FX_CHANNEL, thread, "status please", "cron");
    shift_to_minute(1);
    ck_assert_int_eq(schedules_new(&f.acp.loop, f.engine, f.ci, 1, &j, 1, 0, NULL, &s), 0);
    at = conv_fx_wait_call(&f, 10000, FAKE_SEND, "🕐 cron: status please", NULL, NULL);
    ck_assert_int_ge(at, 0);
    said = conv_fx_wait_call(&f, 5000, FAKE_SEND, "This scheduled run could not start", NULL, NULL);
    ck_assert_int_gt(said, at);
    ck_assert_str_eq(fake_chat_call(f.fake, (size_t)said)->thread_id, thread);
    ck_assert(conv_fx_idle(&f, 5000));
    ck_assert_int_eq(conv_fx_prompts(&f), 0);
    schedules_close(s);
    unsetenv(SCHEDULES_TEST_SHIFT_ENV);
    conv_fx_close(&f);
}
END_TEST

int
main(void)
{
    const TTest *tests[] = {
        a_job_opens_a_thread_and_runs_with_the_channel_agent,
        a_job_in_a_thread_waits_behind_the_running_turn,
        a_posted_line_that_cannot_start_is_answered_with_why,
        NULL,
    };

    return check_run_list("conv_schedules", 120, tests);
}
