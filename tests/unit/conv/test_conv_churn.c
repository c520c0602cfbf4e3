/* Conversations come and go: many threads over time, each answered once and then
 * quiet. Idle conversations are evicted, so memory stays flat and the cost of an
 * event does not grow with the threads seen. The pool is draining, so every turn
 * fails at once without an agent process: what is measured is the engine.
 *
 * AB_CHURN_THREADS sets how many threads (default 100 000; bench/conv/churn.sh runs
 * 1 000 000). Prints RSS and the cost per event at the start, the middle and the end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>

#include "../support/check_runner.h"
#include "../support/conv_fixture.h"
#include "host/host.h"
#include "log.h"

/* ASan keeps freed memory in a quarantine (256 MiB by default), which would read as
 * growth: keep it small here so RSS shows what the engine holds. */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
    return "quarantine_size_mb=16";
}

/* VmRSS of this process in kB. */
static long
rss_kb(void)
{
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");

    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* Seconds on a monotonic clock. */
static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run the loop until the outbound queue is empty (every answer landed). */
static void
drain(struct conv_fx *f)
{
    struct ratelimit_stats rs;

    do {
        uv_run(&f->acp.loop, UV_RUN_NOWAIT);
        ratelimit_get_stats(engine_ratelimit(f->engine), &rs);
    } while (rs.queued > 0 || rs.in_flight > 0);
}

START_TEST(threads_over_time_keep_rss_flat_and_events_cheap)
{
    const char *env = getenv("AB_CHURN_THREADS");
    long n = env ? atol(env) : 100000, window = n / 10;
    struct conv_fx f;
    struct engine_stats es;
    long rss[3] = {0};
    double cost[3] = {0}, t0 = 0;
    uint32_t most = 0;
    char id[32], prev[32] = "";

    ck_assert_int_ge(n, 1000);
    conv_fx_init(&f, NULL);
    f.ecfg.conv_idle_ms = 50;
    conv_fx_start(&f);
    log_configure(AB_LOG_ERROR, LOG_FORMAT_TEXT); /* one failed turn per thread */
    pool_drain(f.acp.pool, 3600 * 1000, NULL, NULL);
    fake_chat_keep_calls(f.fake, false);
    for (long i = 0; i < n; i++) {
        /* Windows 1, 5 and 10 are measured (the first is the warm-up). */
        long w = i / window;
        if (i % window == 0 && (w == 1 || w == 5 || w == 9))
            t0 = now_s();
        snprintf(id, sizeof(id), "%ld", 1000000000L + i);
        conv_fx_deliver_id(&f, id, "U1", NULL, "hello", true);
        /* A reaction on an older message: reactions must not walk every thread. */
        if (*prev)
            conv_fx_react(&f, CONV_FX_CHANNEL, prev, "U1", "👍");
        snprintf(prev, sizeof(prev), "%s", id);
        if (i % 256 == 255)
            drain(&f);
        if (i % window == window - 1 && (w == 1 || w == 5 || w == 9)) {
            int k = w == 1 ? 0 : w == 5 ? 1 : 2;
            drain(&f);
            cost[k] = (now_s() - t0) / (double)window * 1e6;
            rss[k] = rss_kb();
            engine_get_stats(f.engine, &es);
            fprintf(stderr, "churn: %ld threads: RSS %ld kB, %.1f us/event, %u conversations\n",
                    i + 1, rss[k], cost[k], es.conversations);
        }
        if (i % 1024 == 0) {
            engine_get_stats(f.engine, &es);
            if (es.conversations > most)
                most = es.conversations;
        }
    }
    drain(&f);
    fprintf(stderr, "churn: at most %u conversations alive at once\n", most);
    /* Evicted, not accumulated: far fewer alive than seen. */
    ck_assert_uint_lt(most, (uint32_t)(n / 4));
    /* Flat memory after the warm-up: the last half adds less than 16 MiB. */
    ck_assert_int_lt(rss[2] - rss[1], 16 * 1024);
    /* No cost growing with the threads seen (generous: a loaded machine). */
    ck_assert_double_lt(cost[2], cost[0] * 4 + 50);
    conv_fx_close(&f);
}
END_TEST

/* An evicted conversation is made again by the thread's next message, which is
 * answered in the thread (policy remembers the thread as involved on its own). */
START_TEST(evicted_thread_answers_its_next_message_in_the_thread)
{
    struct conv_fx f;
    struct engine_stats es;
    const char *m;
    char *thread;

    conv_fx_init(&f, NULL);
    f.ecfg.conv_idle_ms = 50;
    conv_fx_start(&f);
    m = conv_fx_mention(&f, "U1", "first");
    ck_assert(conv_fx_idle(&f, 10000));
    conv_fx_run(&f, 300);
    engine_get_stats(f.engine, &es);
    ck_assert_uint_eq(es.conversations, 0);
    conv_fx_follow_up(&f, m, "U1", "second");
    ck_assert(conv_fx_idle(&f, 10000));
    engine_get_stats(f.engine, &es);
    ck_assert_uint_eq(es.conversations, 1);
    ck_assert_int_eq(conv_fx_prompts(&f), 2);
    thread = conv_fx_thread_text(&f, m);
    ck_assert_msg(strstr(thread, "first") && strstr(thread, "second"), "%s", thread);
    free(thread);
    conv_fx_close(&f);
}
END_TEST

/* A reaction naming its conversation (Discord's shape) finds the turn directly. */
START_TEST(reaction_naming_its_conversation_cancels_the_turn)
{
    struct conv_fx f;
    const char *m, *live;

    conv_fx_init(&f, NULL);
    conv_fx_start(&f);
    m = conv_fx_mention(&f, "U1", "[[slow 100]] [[tick 20]]");
    ck_assert_int_ge(conv_fx_wait_call(&f, 5000, FAKE_EDIT, "chunk2", NULL, NULL), 0);
    live = conv_fx_first_post(&f, m);
    ck_assert_ptr_nonnull(live);
    struct ab_reaction_event ev = {
        .size = sizeof(ev),
        .msg = {m, live},
        .conversation = m,
        .user_id = "U2",
        .emoji = "🛑",
        .added = true,
    };
    ck_assert_int_eq(f.ci->host->sink.deliver_reaction(f.ci->host->sink.arg, f.ci->host, &ev), 0);
    ck_assert(conv_fx_idle(&f, 10000));
    ck_assert_ptr_nonnull(strstr(fake_chat_message_text(f.fake, live), "🛑 Cancelled."));
    conv_fx_close(&f);
}
END_TEST

int
main(void)
{
    const TTest *tests[] = {
        evicted_thread_answers_its_next_message_in_the_thread,
        reaction_naming_its_conversation_cancels_the_turn,
        threads_over_time_keep_rss_flat_and_events_cheap,
        NULL,
    };

    return check_run_list("conv_churn", 600, tests);
}
