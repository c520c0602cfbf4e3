/* Prometheus text format, process metrics, the loop-lag probe and the text buffer. */
#include <check.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <agent-broker/errors.h>
#include <agent-broker/version.h>

#include "health/health_text.h"
#include "health/loop_lag.h"
#include "health/metrics.h"
#include "health/process_metrics.h"
#include "health_fixture.h"

START_TEST(gauge_escapes_label_values_and_help)
{
    const struct metrics_label labels[] = {{"plugin", "a\"b\\c\nd"}, {"team", "core"}};
    struct health_text t;

    health_text_init(&t);
    ck_assert_int_eq(metrics_gauge(&t, "agent_broker_plugin_connected",
                                   "Connected \"now\" \\ or\nnot.", labels, 2, 1),
                     0);
    ck_assert_str_eq(health_text_str(&t),
                     "# HELP agent_broker_plugin_connected Connected \"now\" \\\\ or\\nnot.\n"
                     "# TYPE agent_broker_plugin_connected gauge\n"
                     "agent_broker_plugin_connected{plugin=\"a\\\"b\\\\c\\nd\",team=\"core\"} 1\n");
    health_text_free(&t);
}
END_TEST

START_TEST(a_family_has_one_help_and_many_samples)
{
    const struct metrics_label discord = {"plugin", "discord"}, slack = {"plugin", "slack"};
    struct health_text t;

    health_text_init(&t);
    ck_assert_int_eq(
        metrics_family(&t, "agent_broker_plugin_connected", "Connected.", METRICS_GAUGE), 0);
    ck_assert_int_eq(metrics_sample(&t, "agent_broker_plugin_connected", &discord, 1, 1), 0);
    ck_assert_int_eq(metrics_sample(&t, "agent_broker_plugin_connected", &slack, 1, 0), 0);
    ck_assert_int_eq(metrics_counter(&t, "agent_broker_turns_total", "Turns.", NULL, 0, 42), 0);
    ck_assert_str_eq(health_text_str(&t), "# HELP agent_broker_plugin_connected Connected.\n"
                                          "# TYPE agent_broker_plugin_connected gauge\n"
                                          "agent_broker_plugin_connected{plugin=\"discord\"} 1\n"
                                          "agent_broker_plugin_connected{plugin=\"slack\"} 0\n"
                                          "# HELP agent_broker_turns_total Turns.\n"
                                          "# TYPE agent_broker_turns_total counter\n"
                                          "agent_broker_turns_total 42\n");
    health_text_free(&t);
}
END_TEST

START_TEST(values_are_written_as_prometheus_reads_them)
{
    static const struct {
        double v;
        const char *text;
    } cases[] = {
        {0, "x 0\n"},        {0.1, "x 0.1\n"},
        {-2.5, "x -2.5\n"},  {123456789012.0, "x 123456789012\n"},
        {1e21, "x 1e+21\n"}, {1.0 / 3, "x 0.33333333333333331\n"},
    };
    struct health_text t;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        health_text_init(&t);
        ck_assert_int_eq(metrics_sample(&t, "x", NULL, 0, cases[i].v), 0);
        ck_assert_str_eq(health_text_str(&t), cases[i].text);
        health_text_free(&t);
    }
    health_text_init(&t);
    metrics_sample(&t, "x", NULL, 0, NAN);
    metrics_sample(&t, "x", NULL, 0, INFINITY);
    metrics_sample(&t, "x", NULL, 0, -INFINITY);
    ck_assert_str_eq(health_text_str(&t), "x NaN\nx +Inf\nx -Inf\n");
    health_text_free(&t);
}
END_TEST

START_TEST(invalid_names_are_refused_and_nothing_is_written)
{
    const struct metrics_label reserved = {"__name__", "x"}, spaced = {"a b", "x"},
                               digit = {"1a", "x"}, colon = {"a:b", "x"}, ok = {"ok", "x"};
    struct health_text t;

    health_text_init(&t);
    ck_assert_int_eq(metrics_gauge(&t, "1abc", "h", NULL, 0, 1), AB_EINVAL);
    ck_assert_int_eq(metrics_gauge(&t, "a-b", "h", NULL, 0, 1), AB_EINVAL);
    ck_assert_int_eq(metrics_gauge(&t, "", "h", NULL, 0, 1), AB_EINVAL);
    ck_assert_int_eq(metrics_gauge(&t, NULL, "h", NULL, 0, 1), AB_EINVAL);
    ck_assert_int_eq(metrics_gauge(&t, "good", "h", &reserved, 1, 1), AB_EINVAL);
    ck_assert_int_eq(metrics_gauge(&t, "good", "h", &spaced, 1, 1), AB_EINVAL);
    ck_assert_int_eq(metrics_sample(&t, "good", &digit, 1, 1), AB_EINVAL);
    ck_assert_int_eq(metrics_sample(&t, "good", &colon, 1, 1), AB_EINVAL);
    ck_assert_int_eq(metrics_sample(&t, "good", NULL, 1, 1), AB_EINVAL);
    ck_assert_int_eq(t.len, 0);
    ck_assert(metrics_name_is_valid("ns:sub_metric_2"));
    ck_assert(metrics_label_name_is_valid("_x9"));
    ck_assert_int_eq(metrics_sample(&t, "good", &ok, 1, 1), 0);
    ck_assert_str_eq(health_text_str(&t), "good{ok=\"x\"} 1\n");
    health_text_free(&t);
}
END_TEST

START_TEST(process_metrics_are_real)
{
    uint64_t rss = 0, fds = 0, more = 0;
    struct health_text t;
    int extra;

    ck_assert_int_eq(process_metrics_rss(&rss), 0);
    ck_assert_uint_gt(rss, 1024 * 1024); /* any process with libc and ASan is bigger */
    ck_assert_int_eq(process_metrics_open_fds(&fds), 0);
    ck_assert_uint_ge(fds, 3);
    extra = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(extra, 0);
    ck_assert_int_eq(process_metrics_open_fds(&more), 0);
    ck_assert_uint_eq(more, fds + 1);
    close(extra);
    health_text_init(&t);
    ck_assert_int_eq(process_metrics_write(&t), 0);
    ck_assert_ptr_nonnull(
        strstr(t.buf, "# TYPE agent_broker_process_resident_memory_bytes gauge\n"));
    ck_assert_ptr_nonnull(strstr(t.buf, "\nagent_broker_process_open_fds "));
    ck_assert_ptr_nonnull(strstr(t.buf, "\nagent_broker_process_cpu_seconds_total "));
    ck_assert_ptr_nonnull(
        strstr(t.buf, "\nagent_broker_build_info{version=\"" AB_VERSION_STRING "\"} 1\n"));
    health_text_free(&t);
}
END_TEST

START_TEST(a_histogram_counts_cumulative_buckets)
{
    static const double bounds[] = {0.5, 1, 2.5};
    struct metrics_histogram h;
    struct health_text t;

    metrics_histogram_init(&h, bounds, 3);
    metrics_histogram_observe(&h, 0.5); /* on a bound: that bucket (le means <=) */
    metrics_histogram_observe(&h, 0.75);
    metrics_histogram_observe(&h, 2);
    metrics_histogram_observe(&h, 30);
    metrics_histogram_observe(&h, NAN); /* ignored */
    health_text_init(&t);
    ck_assert_int_eq(
        metrics_histogram_write(&t, "agent_broker_turn_duration_seconds", "Turns.", &h), 0);
    ck_assert_str_eq(health_text_str(&t),
                     "# HELP agent_broker_turn_duration_seconds Turns.\n"
                     "# TYPE agent_broker_turn_duration_seconds histogram\n"
                     "agent_broker_turn_duration_seconds_bucket{le=\"0.5\"} 1\n"
                     "agent_broker_turn_duration_seconds_bucket{le=\"1\"} 2\n"
                     "agent_broker_turn_duration_seconds_bucket{le=\"2.5\"} 3\n"
                     "agent_broker_turn_duration_seconds_bucket{le=\"+Inf\"} 4\n"
                     "agent_broker_turn_duration_seconds_sum 33.25\n"
                     "agent_broker_turn_duration_seconds_count 4\n");
    health_text_free(&t);
    health_text_init(&t);
    ck_assert_int_eq(metrics_histogram_write(&t, "bad name", "x", &h), AB_EINVAL);
    ck_assert_str_eq(health_text_str(&t), "");
    health_text_free(&t);
}
END_TEST

START_TEST(process_group_rss_counts_the_group)
{
    int self = (int)getpgrp(), none = 999999999;
    uint64_t bytes = 0;

    ck_assert_int_eq(process_metrics_groups_rss(&self, 1, &bytes), 0);
    ck_assert_uint_gt(bytes, 1024 * 1024); /* at least this process */
    ck_assert_int_eq(process_metrics_groups_rss(&none, 1, &bytes), 0);
    ck_assert_uint_eq(bytes, 0);
}
END_TEST

struct lag_test {
    struct loop_lag lag;
    uv_timer_t block, stop;
    int closed;
};

/* Hold the loop for 200 ms, as a slow synchronous call would. */
static void
lag_test_block(uv_timer_t *timer)
{
    (void)timer;
    usleep(200 * 1000);
}

/* One handle of the test closed. */
static void
lag_test_closed(uv_handle_t *handle)
{
    struct lag_test *t = handle->data;

    t->closed++;
}

/* The probe closed. */
static void
lag_test_lag_closed(void *arg)
{
    struct lag_test *t = arg;

    t->closed++;
}

/* Check what the probe saw, then close everything. */
static void
lag_test_stop(uv_timer_t *timer)
{
    struct lag_test *t = timer->data;

    /* The probe fires every 50 ms; one of its firings waited behind the 200 ms block. */
    ck_assert_double_ge(loop_lag_max_seconds(&t->lag), 0.1);
    ck_assert_double_lt(loop_lag_max_seconds(&t->lag), 1.0);
    /* After the block, firings are on time again. */
    ck_assert_double_lt(loop_lag_latest_seconds(&t->lag), 0.1);
    loop_lag_close(&t->lag, lag_test_lag_closed, t);
    uv_close((uv_handle_t *)&t->block, lag_test_closed);
    uv_close((uv_handle_t *)&t->stop, lag_test_closed);
}

START_TEST(loop_lag_sees_a_blocked_loop)
{
    struct lag_test t = {.closed = 0};
    uv_loop_t loop;

    ck_assert_int_eq(uv_loop_init(&loop), 0);
    ck_assert_int_eq(loop_lag_start(&loop, 50, &t.lag), 0);
    ck_assert_double_eq(loop_lag_max_seconds(&t.lag), 0);
    uv_timer_init(&loop, &t.block);
    uv_timer_init(&loop, &t.stop);
    t.block.data = t.stop.data = &t;
    uv_timer_start(&t.block, lag_test_block, 120, 0);
    uv_timer_start(&t.stop, lag_test_stop, 700, 0);
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(t.closed, 3);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(text_grows_and_stops_at_its_cap)
{
    static char chunk[64 * 1024];
    struct health_text t;

    health_text_init(&t);
    ck_assert_str_eq(health_text_str(&t), "");
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(health_text_printf(&t, "%d,", i), 0);
    ck_assert_int_eq(strncmp(t.buf, "0,1,2,", 6), 0);
    ck_assert_int_eq(t.buf[t.len], '\0');
    ck_assert_uint_eq(strlen(t.buf), t.len);
    health_text_free(&t);

    memset(chunk, 'x', sizeof chunk);
    for (size_t n = 0; n + sizeof chunk <= HEALTH_TEXT_MAX; n += sizeof chunk)
        ck_assert_int_eq(health_text_append(&t, chunk, sizeof chunk), 0);
    ck_assert_uint_eq(t.len, HEALTH_TEXT_MAX);
    ck_assert_int_eq(health_text_append(&t, "y", 1), AB_EFULL);
    /* The failure sticks, so a half-written metric is never served as if whole. */
    ck_assert_int_eq(t.err, AB_EFULL);
    ck_assert_int_eq(health_text_printf(&t, "%s", ""), AB_EFULL);
    health_text_free(&t);
    ck_assert_int_eq(t.err, 0);
}
END_TEST

START_TEST(usage_counters_by_agent)
{
    const char *const agents[] = {"claude", "codex"};
    struct pool_usage u[2] = {
        {.turns = 2, .input_tokens = 300, .output_tokens = 40, .cost = 0.5, .currency = "EUR"},
        {.turns = 1, .input_tokens = 7},
    };
    struct health_text t;

    health_text_init(&t);
    ck_assert_int_eq(metrics_usage(&t, agents, u, 2), 0);
    ck_assert_str_eq(
        health_text_str(&t),
        "# HELP agent_broker_agent_tokens_total tokens the agent reported in session/prompt "
        "results\n"
        "# TYPE agent_broker_agent_tokens_total counter\n"
        "agent_broker_agent_tokens_total{agent=\"claude\",direction=\"input\"} 300\n"
        "agent_broker_agent_tokens_total{agent=\"claude\",direction=\"output\"} 40\n"
        "agent_broker_agent_tokens_total{agent=\"codex\",direction=\"input\"} 7\n"
        "agent_broker_agent_tokens_total{agent=\"codex\",direction=\"output\"} 0\n"
        "# HELP agent_broker_agent_cost_total cost the agent reported in usage_update\n"
        "# TYPE agent_broker_agent_cost_total counter\n"
        "agent_broker_agent_cost_total{agent=\"claude\",currency=\"EUR\"} 0.5\n"
        "agent_broker_agent_cost_total{agent=\"codex\",currency=\"USD\"} 0\n"
        "# HELP agent_broker_agent_usage_turns_total turns that ended with a reply\n"
        "# TYPE agent_broker_agent_usage_turns_total counter\n"
        "agent_broker_agent_usage_turns_total{agent=\"claude\"} 2\n"
        "agent_broker_agent_usage_turns_total{agent=\"codex\"} 1\n");
    health_text_free(&t);
}
END_TEST

int
main(void)
{
    const TTest *const tests[] = {
        gauge_escapes_label_values_and_help,
        a_family_has_one_help_and_many_samples,
        values_are_written_as_prometheus_reads_them,
        invalid_names_are_refused_and_nothing_is_written,
        process_metrics_are_real,
        a_histogram_counts_cumulative_buckets,
        process_group_rss_counts_the_group,
        loop_lag_sees_a_blocked_loop,
        text_grows_and_stops_at_its_cap,
        usage_counters_by_agent,
    };

    return fixture_main("metrics", tests, sizeof tests / sizeof tests[0]);
}
