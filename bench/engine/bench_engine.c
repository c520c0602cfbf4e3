/* Benchmark: 10 000 live-edit submissions through the pacer and the rate limiter on the
 * fake clock, against a baseline loop that only counts the submissions.
 *
 *   paced:  50 conversations stream 10 000 render changes (one every 3 ms, round-robin,
 *           30 s simulated); each pacer flush submits a live edit (bucket per channel,
 *           coalesced per message) that the fake platform answers after 120 ms.
 *   direct: 10 000 live edits submitted straight to the rate limiter, one every 1 ms
 *           round-robin (10 s simulated), coalescing in the queue instead of the pacer.
 * Prints CPU time per run (best of R), ns per submission and the ratio to the baseline. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <agent-broker/errors.h>

#include "clock/clock.h"
#include "outbound/pacer.h"
#include "outbound/ratelimit.h"

enum {
    SUBMISSIONS = 10000,
    CONVERSATIONS = 50,
    STEP_MS = 3,
    DIRECT_STEP_MS = 1,
    LATENCY_MS = 120,
    INTERVAL_MS = 1500,
    RUNS = 20,
};

struct conv {
    struct bench *bench;
    struct pacer pacer;
    char bucket[32];
    char message[32];
};

/* One edit on its way to the fake platform. */
struct edit {
    struct bench *bench;
    struct conv *conv; /* NULL in the direct scenario */
    struct ratelimit_call *call;
    struct clock_timer latency;
};

struct bench {
    struct clock *clock;
    struct ratelimit *rl;
    struct conv convs[CONVERSATIONS];
    unsigned flushes, delivered, cancelled, failed;
};

/* The fake platform answers. */
static void
edit_answer(void *arg)
{
    struct edit *e = arg;
    ratelimit_call_done(e->call, 0, NULL);
}

static void
edit_perform(void *arg, struct ratelimit_call *call)
{
    struct edit *e = arg;

    e->call = call;
    clock_timer_start(e->bench->clock, &e->latency, LATENCY_MS, edit_answer, e);
}

static void
edit_finished(void *arg, int status)
{
    struct edit *e = arg;

    if (status == 0)
        e->bench->delivered++;
    else if (status == AB_ECANCELED)
        e->bench->cancelled++;
    else
        e->bench->failed++;
    if (e->conv)
        pacer_flush_done(&e->conv->pacer);
    free(e);
}

/* Submit one live edit of @conv's message. */
static void
bench_submit_edit(struct bench *b, struct conv *conv, struct conv *owner)
{
    struct edit *e = calloc(1, sizeof(*e));

    if (!e)
        abort();
    e->bench = b;
    e->conv = owner;
    clock_timer_init(&e->latency);
    struct ratelimit_req req = {
        .bucket = conv->bucket,
        .priority = RATELIMIT_LIVE_EDIT,
        .coalesce = RATELIMIT_COALESCE_REPLACE,
        .coalesce_key = conv->message,
        .perform = edit_perform,
        .finished = edit_finished,
        .arg = e,
    };
    if (ratelimit_submit(b->rl, &req) < 0)
        abort();
}

static void
conv_flush(void *arg, uint64_t generation, bool is_final)
{
    struct conv *c = arg;

    (void)generation;
    (void)is_final;
    c->bench->flushes++;
    bench_submit_edit(c->bench, c, c);
}

static void
bench_setup(struct bench *b)
{
    *b = (struct bench){0};
    if (clock_new_fake(0, &b->clock) < 0 || ratelimit_new(b->clock, NULL, &b->rl) < 0)
        abort();
    for (int i = 0; i < CONVERSATIONS; i++) {
        struct conv *c = &b->convs[i];
        c->bench = b;
        snprintf(c->bucket, sizeof(c->bucket), "discord:edit:%d", i);
        snprintf(c->message, sizeof(c->message), "msg-%d", i);
        pacer_init(&c->pacer, b->clock, INTERVAL_MS, conv_flush, c);
    }
}

static void
bench_teardown(struct bench *b)
{
    clock_fake_advance(b->clock, 60000);
    ratelimit_close(b->rl);
    clock_close(b->clock);
}

static double
cpu_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* One render change of conversation @i in the paced scenario. */
static void
step_paced(struct bench *b, int i)
{
    pacer_update(&b->convs[i % CONVERSATIONS].pacer, (uint64_t)i + 1);
}

/* One live edit of conversation @i submitted straight to the rate limiter. */
static void
step_direct(struct bench *b, int i)
{
    bench_submit_edit(b, &b->convs[i % CONVERSATIONS], NULL);
}

/* Drive SUBMISSIONS steps @step_ms apart, then end the turns (paced) and drain; returns
 * the CPU milliseconds spent. */
static double
bench_run(struct bench *b, uint64_t step_ms, void (*step)(struct bench *, int), bool is_paced)
{
    bench_setup(b);
    double start = cpu_ms();
    for (int i = 0; i < SUBMISSIONS; i++) {
        clock_fake_advance(b->clock, step_ms);
        step(b, i);
    }
    for (int i = 0; is_paced && i < CONVERSATIONS; i++)
        pacer_finish(&b->convs[i].pacer);
    clock_fake_advance(b->clock, 10000);
    double spent = cpu_ms() - start;
    bench_teardown(b);
    return spent;
}

/* The same driver loop, counting instead of submitting. */
static double
run_baseline(unsigned *count)
{
    struct clock *clock;
    volatile unsigned n = 0;

    if (clock_new_fake(0, &clock) < 0)
        abort();
    double start = cpu_ms();
    for (int i = 0; i < SUBMISSIONS; i++) {
        clock_fake_advance(clock, STEP_MS);
        n = n + 1;
    }
    double spent = cpu_ms() - start;
    clock_close(clock);
    *count = n;
    return spent;
}

int
main(void)
{
    static struct bench b;
    double best_paced = 1e9, best_direct = 1e9, best_base = 1e9;
    unsigned paced_flushes = 0, paced_delivered = 0, direct_delivered = 0, direct_cancelled = 0;
    unsigned counted = 0;

    for (int r = 0; r < RUNS; r++) {
        double t = bench_run(&b, STEP_MS, step_paced, true);
        best_paced = t < best_paced ? t : best_paced;
        paced_flushes = b.flushes;
        paced_delivered = b.delivered;
        if (b.failed)
            return EXIT_FAILURE;
        t = bench_run(&b, DIRECT_STEP_MS, step_direct, false);
        best_direct = t < best_direct ? t : best_direct;
        direct_delivered = b.delivered;
        direct_cancelled = b.cancelled;
        if (b.failed || b.delivered + b.cancelled != SUBMISSIONS)
            return EXIT_FAILURE;
        t = run_baseline(&counted);
        best_base = t < best_base ? t : best_base;
    }
    printf("baseline: %u submissions counted, %.3f ms CPU\n", counted, best_base);
    printf("paced:    %d updates -> %u flushes -> %u edits delivered, %.3f ms CPU, %.0f ns/update, "
           "%.1fx baseline\n",
           SUBMISSIONS, paced_flushes, paced_delivered, best_paced, best_paced * 1e6 / SUBMISSIONS,
           best_paced / best_base);
    printf(
        "direct:   %d live edits -> %u delivered, %u coalesced, %.3f ms CPU, %.0f ns/submission, "
        "%.1fx baseline\n",
        SUBMISSIONS, direct_delivered, direct_cancelled, best_direct,
        best_direct * 1e6 / SUBMISSIONS, best_direct / best_base);
    return EXIT_SUCCESS;
}
