/* Many threads over time through the broker (broker.c, built as daemon.c builds it):
 * every thread gets one message and then stays quiet, so idle conversations must be
 * evicted for memory to stay flat and the cost of an event to stay constant. The pool
 * is draining, so each turn fails at once without an agent: the engine is measured.
 * (The unit test tests/unit/conv/test_conv_churn.c runs the short version.)
 *
 * Usage: bench_churn THREADS IDLE_MS   (e.g. 1000000 50)
 * Prints "name value" lines: VmRSS and microseconds per event after the first tenth,
 * at the middle and at the end, and the most conversations alive at once. */
#include <stdio.h>
#include <stdlib.h>

#include <agent-broker/errors.h>

#include <uv.h>

#include "bench_clock.h"
#include "broker.h"
#include "log.h"
#include "proc_status.h"

/* The texts posted are not looked at. */
static void
churn_on_text(void *arg, const char *where, const char *text)
{
    (void)arg;
    (void)where;
    (void)text;
}

/* Run the loop until the engine is idle and every outbound call (reactions too) has
 * been answered. */
static void
churn_settle(struct bench_broker *b)
{
    struct ratelimit_stats rs;

    while (bench_broker_wait_idle(b, 60000) == AB_ETIMEDOUT)
        ;
    for (;;) {
        ratelimit_get_stats(engine_ratelimit(b->engine), &rs);
        if (rs.queued == 0 && rs.in_flight == 0)
            break;
        uv_run(b->loop, UV_RUN_NOWAIT);
    }
}

int
main(int argc, char **argv)
{
    struct pool_config pc = {.max_sessions = 1};
    struct engine_config ec;
    struct engine_stats es;
    struct bench_broker *b = NULL;
    uv_loop_t loop;
    const char *args[] = {NULL};
    struct agent_launch launch = {.command = "true", .args = args, .cwd = "/"};
    long n, tenth;
    uint32_t most = 0;
    uint64_t rss[3] = {0};
    double t0 = 0, us[3] = {0};
    char conv[32];
    int rc;

    if (argc != 3 || (n = atol(argv[1])) < 1000 || atol(argv[2]) < 1) {
        fprintf(stderr, "usage: %s THREADS(>=1000) IDLE_MS\n", argv[0]);
        return 2;
    }
    tenth = n / 10;
    log_configure(AB_LOG_ERROR, LOG_FORMAT_TEXT);
    uv_loop_init(&loop);
    if ((rc = bench_broker_new(&loop, &pc, &launch, churn_on_text, NULL, &b)) < 0)
        goto out;
    bench_broker_engine_config(b, &ec);
    ec.conv_idle_ms = (uint64_t)atol(argv[2]);
    engine_set_config(b->engine, &ec);
    pool_drain(b->pool, 24 * 3600 * 1000, NULL, NULL);
    for (long i = 0; i < n; i++) {
        int k = i / tenth == 1 ? 0 : i / tenth == 5 ? 1 : i / tenth == 9 ? 2 : -1;
        if (k >= 0 && i % tenth == 0)
            t0 = bench_clock_ns() / 1e3;
        snprintf(conv, sizeof(conv), "t-%ld", i);
        bench_broker_deliver(b, "C1", conv, "hello");
        if (i % 256 == 255)
            churn_settle(b);
        if (k >= 0 && i % tenth == tenth - 1) {
            churn_settle(b);
            us[k] = (bench_clock_ns() / 1e3 - t0) / (double)tenth;
            proc_status_kb(0, "VmRSS", &rss[k]);
        }
        if (i % 1024 == 0) {
            engine_get_stats(b->engine, &es);
            most = es.conversations > most ? es.conversations : most;
        }
    }
    churn_settle(b);
    printf("threads %ld\n", n);
    printf("rss_start_kb %llu\nrss_middle_kb %llu\nrss_end_kb %llu\n", (unsigned long long)rss[0],
           (unsigned long long)rss[1], (unsigned long long)rss[2]);
    printf("us_per_event_start %.2f\nus_per_event_middle %.2f\nus_per_event_end %.2f\n", us[0],
           us[1], us[2]);
    printf("most_conversations %u\n", most);
    bench_broker_free(b);
out:
    if (rc < 0)
        fprintf(stderr, "bench_churn: %s\n", ab_strerror(rc));
    if (uv_loop_close(&loop) != 0) {
        fprintf(stderr, "bench_churn: handles left open on the loop\n");
        rc = AB_EIO;
    }
    return rc < 0 ? 1 : 0;
}
