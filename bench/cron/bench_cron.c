/* The scheduler's cost per job: heap bytes per added job (a UTC job, and a New York job
 * with its zone table), and the CPU of one tick of a job (the next run computed in its
 * zone, as cron_job_due does) against a baseline of arming one timer on a fake clock,
 * measured in the same run. Prints a small table. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_clock.h"
#include "clock/clock.h"
#include "cron/scheduler.h"

#define BENCH_JOBS 10000
#define BENCH_TICKS 200000

/* Never called: the scheduler is not started. */
static void
bench_fire(void *arg, size_t job, int64_t at)
{
    (void)arg;
    (void)job;
    (void)at;
}

/* Heap bytes per job of zone @zone. */
static double
bench_bytes_per_job(const char *zone)
{
    struct cron_sched_config cfg = {.fire = bench_fire};
    struct cron_sched *s;
    struct clock *c;
    struct cron_expr e;
    char err[200];
    size_t before, after;

    clock_new_fake(0, &c);
    cron_parse("0 9 * * 1-5", &e, err, sizeof(err));
    before = mallinfo2().uordblks;
    cron_sched_new(c, &cfg, &s);
    for (int i = 0; i < BENCH_JOBS; i++) {
        struct tz *tz;
        if (tz_load(NULL, zone, &tz, err, sizeof(err)) < 0 || cron_sched_add(s, &e, tz, 0) < 0)
            abort();
    }
    after = mallinfo2().uordblks;
    cron_sched_free(s);
    clock_close(c);
    return (double)(after - before) / BENCH_JOBS;
}

int
main(void)
{
    static const char *const exprs[] = {"*/5 * * * *", "0 9 * * 1-5", "30 2 * * *"};
    struct clock *c;
    struct clock_timer t;
    struct cron_expr e[3];
    struct tz *ny;
    char err[200];
    int64_t at = 1796472000, sink = 0;
    double t0, tick_ns, base_ns;

    printf("cron_job_bytes UTC %.0f\n", bench_bytes_per_job("UTC"));
    printf("cron_job_bytes America/New_York %.0f\n", bench_bytes_per_job("America/New_York"));
    if (tz_load(NULL, "America/New_York", &ny, err, sizeof(err)) < 0)
        return 1;
    for (int i = 0; i < 3; i++)
        cron_parse(exprs[i], &e[i], err, sizeof(err));
    t0 = bench_clock_ms();
    for (int i = 0; i < BENCH_TICKS; i++) {
        int64_t n = cron_next(&e[i % 3], ny, at + (i % 1000) * 3600);
        sink += n;
    }
    tick_ns = (bench_clock_ms() - t0) * 1e6 / BENCH_TICKS;
    clock_new_fake(0, &c);
    clock_timer_init(&t);
    t0 = bench_clock_ms();
    for (int i = 0; i < BENCH_TICKS; i++)
        clock_timer_start(c, &t, (uint64_t)(i % 1000) + 1, NULL, NULL);
    base_ns = (bench_clock_ms() - t0) * 1e6 / BENCH_TICKS;
    clock_timer_stop(&t);
    clock_close(c);
    tz_free(ny);
    printf("cron_tick ns %.0f baseline_timer_start ns %.1f ratio %.1f (sink %lld)\n", tick_ns,
           base_ns, tick_ns / (base_ns > 0 ? base_ns : 1), (long long)(sink & 1));
    return 0;
}
