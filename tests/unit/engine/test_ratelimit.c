/* The outbound scheduler on the fake clock against a scripted platform: priorities,
 * coalescing, 429s (bucket and global), empty windows, retries with backoff, reaction
 * spacing, queue caps and closing. Each test states the exact trace it expects. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include <agent-broker/errors.h>

#include "outbound/ratelimit.h"
#include "../support/check_runner.h"
#include "trace.h"

#define MAX_OPS 32
#define MAX_TRIES 16

struct fixture;

/* One request and the platform's scripted answers to its attempts (0 after the script). */
struct op {
    struct fixture *f;
    const char *name;
    int results[MAX_TRIES];
    struct ratelimit_facts infos[MAX_TRIES]; /* used when has_info[i] */
    bool has_info[MAX_TRIES];
    int tries;
    struct ratelimit_call *call;
    struct clock_timer latency;
};

struct fixture {
    struct clock *clock;
    struct trace trace;
    struct ratelimit *rl;
    uint64_t latency_ms; /* how long the platform takes to answer */
    uint32_t rand_value; /* the jitter source always returns this */
    bool is_quiet;       /* record nothing (load tests) */
    struct op ops[MAX_OPS];
    int op_count;
};

static uint32_t
fixed_rand(void *state)
{
    return *(uint32_t *)state;
}

/* The platform answers the current attempt of @op. */
static void
op_answer(void *arg)
{
    struct op *op = arg;
    int i = op->tries++;
    int status = i < MAX_TRIES ? op->results[i] : 0;
    const struct ratelimit_facts *info = i < MAX_TRIES && op->has_info[i] ? &op->infos[i] : NULL;

    ratelimit_call_done(op->call, status, info);
}

static void
op_perform(void *arg, struct ratelimit_call *call)
{
    struct op *op = arg;

    if (!op->f->is_quiet)
        trace_add(&op->f->trace, "start %s", op->name);
    op->call = call;
    if (op->f->latency_ms == 0)
        op_answer(op);
    else
        clock_timer_start(op->f->clock, &op->latency, op->f->latency_ms, op_answer, op);
}

static void
op_finished(void *arg, int status)
{
    struct op *op = arg;

    if (!op->f->is_quiet)
        trace_add(&op->f->trace, "end %s %s", op->name, status == 0 ? "ok" : ab_strerror(status));
}

/* A scheduler at t=0 with a 500 ms backoff base, fixed jitter at the top of the range. */
static void
fixture_init(struct fixture *f, uint64_t latency_ms, struct ratelimit_config *cfg)
{
    struct ratelimit_config def = ratelimit_config_default();

    *f = (struct fixture){.latency_ms = latency_ms, .rand_value = UINT32_MAX};
    if (!cfg)
        cfg = &def;
    cfg->rand = fixed_rand;
    cfg->rand_state = &f->rand_value;
    ck_assert_int_eq(clock_new_fake(0, &f->clock), 0);
    trace_init(&f->trace, f->clock);
    ck_assert_int_eq(ratelimit_new(f->clock, cfg, &f->rl), 0);
}

/* A new scripted op named @name. */
static struct op *
op_new(struct fixture *f, const char *name)
{
    ck_assert_int_lt(f->op_count, MAX_OPS);
    struct op *op = &f->ops[f->op_count++];
    *op = (struct op){.f = f, .name = name};
    clock_timer_init(&op->latency);
    return op;
}

/* Submit @op; returns what ratelimit_submit returned. The scope is the bucket's
 * prefix up to ':' ("discord:x" is in scope "discord"), none without one. */
static int
submit(struct fixture *f, struct op *op, const char *bucket, enum ratelimit_priority prio,
       enum ratelimit_coalesce mode, const char *key)
{
    char scope[32] = "";
    const char *colon = strchr(bucket, ':');
    if (colon && (size_t)(colon - bucket) < sizeof(scope))
        snprintf(scope, sizeof(scope), "%.*s", (int)(colon - bucket), bucket);
    struct ratelimit_req req = {
        .bucket = bucket,
        .scope = scope,
        .priority = prio,
        .coalesce = mode,
        .coalesce_key = key,
        .perform = op_perform,
        .finished = op_finished,
        .arg = op,
    };
    return ratelimit_submit(f->rl, &req);
}

/* Submit a new op and require it accepted. */
static struct op *
go(struct fixture *f, const char *name, const char *bucket, enum ratelimit_priority prio,
   enum ratelimit_coalesce mode, const char *key)
{
    struct op *op = op_new(f, name);
    ck_assert_int_eq(submit(f, op, bucket, prio, mode, key), 0);
    return op;
}

/* Submit a new op whose first attempt ends with @status and @info (NULL: none). */
static struct op *
go_answered(struct fixture *f, const char *name, const char *bucket, enum ratelimit_priority prio,
            int status, const struct ratelimit_facts *info)
{
    struct op *op = op_new(f, name);

    op->results[0] = status;
    if (info) {
        op->infos[0] = *info;
        op->has_info[0] = true;
    }
    ck_assert_int_eq(submit(f, op, bucket, prio, RATELIMIT_COALESCE_NONE, NULL), 0);
    return op;
}

static void
at(struct fixture *f, uint64_t t)
{
    clock_fake_advance(f->clock, t - clock_now_ms(f->clock));
}

/* Everything finished, all buckets released, nothing left armed. */
static void
fixture_done(struct fixture *f)
{
    struct ratelimit_stats st;

    at(f, clock_now_ms(f->clock) + 120000);
    ratelimit_get_stats(f->rl, &st);
    ck_assert_uint_eq(st.queued, 0);
    ck_assert_uint_eq(st.in_flight, 0);
    ck_assert_uint_eq(st.buckets, 0);
    ck_assert_uint_eq(st.limits, 0);
    ratelimit_close(f->rl);
    ck_assert_uint_eq(clock_pending(f->clock), 0);
    clock_close(f->clock);
}

static struct ratelimit_facts
rate_429(uint64_t retry_after_ms, bool global)
{
    return (struct ratelimit_facts){
        .remaining = -1, .retry_after_ms = retry_after_ms, .is_global = global};
}

/* One step of a script: at time @at, submit @name to @bucket; the platform answers its
 * first attempt (every attempt with @every) with @status and, with @has_facts, @facts. */
struct step {
    uint64_t at;
    const char *name, *bucket;
    enum ratelimit_priority prio;
    enum ratelimit_coalesce mode;
    const char *key;
    int status;
    struct ratelimit_facts facts;
    bool has_facts, every;
};

/* A scripted scenario: settings, steps, and the exact trace at @end_at. */
struct script {
    const char *what;
    uint64_t latency_ms;
    uint32_t max_rate_limited;  /* 0: the default */
    uint64_t max_wait_ms;       /* 0: the default */
    uint32_t rand_value;        /* 0: the top of the jitter range */
    const char *spacing_prefix; /* routes spaced by spacing_ms, or NULL */
    uint64_t spacing_ms;
    const char *budget_scope; /* a scope budget of budget_limit per budget_window_ms */
    uint32_t budget_limit;
    uint64_t budget_window_ms;
    struct step steps[8]; /* up to the first without a name */
    uint64_t end_at;
    const char *expect;
};

#define FIN RATELIMIT_FINAL_TEXT, RATELIMIT_COALESCE_NONE, NULL
#define LIVE RATELIMIT_LIVE_EDIT, RATELIMIT_COALESCE_NONE, NULL
#define REACT RATELIMIT_REACTION, RATELIMIT_COALESCE_NONE, NULL
#define R429(ms, global)                                                                           \
    .status = AB_ERATELIMIT,                                                                       \
    .facts = {.remaining = -1, .retry_after_ms = (ms), .is_global = (global)}, .has_facts = true

static const struct script scripts[] = {
    {.what = "final text goes before live edits before reactions",
     .latency_ms = 100,
     .steps = {{0, "r1", "ch", REACT},
               {0, "r2", "ch", REACT},
               {0, "e1", "ch", LIVE},
               {0, "f1", "ch", FIN},
               {0, "f2", "ch", FIN}},
     .end_at = 1000,
     .expect = "0 start r1 | 100 end r1 ok | 100 start f1 | 200 end f1 ok | 200 start f2 | "
               "300 end f2 ok | 300 start e1 | 400 end e1 ok | 400 start r2 | 500 end r2 ok"},
    {.what = "a reaction add and remove pair cancels out",
     .latency_ms = 100,
     .steps = {{0, "busy", "ch", REACT},
               {0, "+eyes", "ch", RATELIMIT_REACTION, RATELIMIT_COALESCE_ADD, "m1 👀"},
               {0, "+think", "ch", RATELIMIT_REACTION, RATELIMIT_COALESCE_ADD, "m1 🤔"},
               {0, "-eyes", "ch", RATELIMIT_REACTION, RATELIMIT_COALESCE_REMOVE, "m1 👀"}},
     .end_at = 1000,
     .expect = "0 start busy | 0 end +eyes cancelled | 0 end -eyes cancelled | "
               "100 end busy ok | 100 start +think | 200 end +think ok"},
    /* the retried edit waits behind the final text that outranks it */
    {.what = "a 429 pauses the bucket for retry_after, then succeeds",
     .steps = {{0, "a", "ch", LIVE, R429(2000, false)},
               {10, "b", "ch", FIN},
               {10, "other", "ch2", REACT}},
     .end_at = 3000,
     .expect = "0 start a | 10 start other | 10 end other ok | 2000 start b | 2000 end b ok | "
               "2000 start a | 2000 end a ok"},
    {.what = "a global 429 pauses every bucket",
     .steps = {{0, "a", "ch1", LIVE, R429(1000, true)},
               {100, "b", "ch2", FIN},
               {200, "c", "ch3", REACT}},
     .end_at = 5000,
     .expect = "0 start a | 1000 start a | 1000 end a ok | 1000 start b | 1000 end b ok | "
               "1000 start c | 1000 end c ok"},
    {.what = "a global 429 pauses only its scope",
     .steps = {{0, "a", "discord:x", LIVE, R429(1000, true)},
               {10, "b", "discord:y", FIN},
               {10, "c", "slack:z", FIN}},
     .end_at = 2000,
     .expect = "0 start a | 10 start c | 10 end c ok | 1000 start a | 1000 end a ok | "
               "1000 start b | 1000 end b ok"},
    {.what = "jitter spreads the retry delay (a quarter of the 500 ms ceiling)",
     .rand_value = UINT32_MAX / 4,
     .steps = {{0, "a", "ch", LIVE, .status = AB_EIO}},
     .end_at = 1000,
     .expect = "0 start a | 125 start a | 125 end a ok"},
    {.what = "permanent errors are reported without retry",
     .steps = {{0, "a", "ch", FIN, .status = AB_EAUTH}},
     .expect = "0 start a | 0 end a authentication failed"},
    {.what = "endless 429s (no retry_after: 1000 ms) give up after max_rate_limited",
     .max_rate_limited = 2,
     .steps = {{0, "a", "ch", LIVE, .status = AB_ERATELIMIT, .every = true}},
     .end_at = 10000,
     .expect = "0 start a | 1000 start a | 2000 start a | 2000 end a rate limited"},
    {.what = "final text gives up past max_rate_limited_wait_ms since its first start",
     .max_wait_ms = 60000,
     .steps = {{0, "a", "ch", FIN, R429(20000, false), .every = true}},
     .end_at = 200000,
     .expect = "0 start a | 20000 start a | 40000 start a | 60000 start a | "
               "60000 end a rate limited"},
    {.what = "reactions in one channel are spaced 250 ms apart",
     .spacing_prefix = "discord:react:",
     .spacing_ms = 250,
     .steps = {{0, "r1", "discord:react:c1", REACT},
               {0, "r2", "discord:react:c1", REACT},
               {0, "o1", "discord:edit:c1", LIVE},
               {0, "o2", "discord:edit:c1", LIVE},
               {100, "r3", "discord:react:c1", REACT},
               {100, "s1", "discord:react:c2", REACT}},
     .end_at = 2000,
     .expect = "0 start r1 | 0 end r1 ok | 0 start o1 | 0 end o1 ok | 0 start o2 | "
               "0 end o2 ok | 100 start s1 | 100 end s1 ok | 250 start r2 | 250 end r2 ok | "
               "500 start r3 | 500 end r3 ok"},
    {.what = "spacing counts from the previous answer, whatever the latency",
     .latency_ms = 100,
     .spacing_prefix = "d:reactions ",
     .spacing_ms = 250,
     .steps = {{0, "r1", "d:reactions 1", REACT}, {0, "r2", "d:reactions 1", REACT}},
     .end_at = 2000,
     .expect = "0 start r1 | 100 end r1 ok | 350 start r2 | 450 end r2 ok"},
    {.what = "a scope budget (Discord: 50 per second) caps starts across routes",
     .budget_scope = "d",
     .budget_limit = 3,
     .budget_window_ms = 1000,
     .steps = {{0, "1", "d:1", LIVE},
               {0, "2", "d:2", LIVE},
               {0, "3", "d:3", LIVE},
               {0, "4", "d:4", LIVE},
               {0, "5", "d:5", LIVE}},
     .end_at = 3000,
     .expect = "0 start 1 | 0 end 1 ok | 0 start 2 | 0 end 2 ok | 0 start 3 | 0 end 3 ok | "
               "1000 start 4 | 1000 end 4 ok | 1000 start 5 | 1000 end 5 ok"},
    /* untrusted UINT64_MAX ms never wraps a deadline: the final text gives up at once
     * (beyond the wait cap) and the route stays paused for a day */
    {.what = "an absurd retry_after is bounded",
     .steps = {{0, "a", "ch", FIN, R429(UINT64_MAX, false)}, {0, "b", "ch", FIN}},
     .end_at = 86400000,
     .expect = "0 start a | 0 end a rate limited | 86400000 start b | 86400000 end b ok"},
};

/* Run scripts[_i] and compare its trace. */
START_TEST(scripted_traces)
{
    const struct script *sc = &scripts[_i];
    struct ratelimit_config cfg = ratelimit_config_default();
    struct ratelimit_bucket_opts spaced = {.min_spacing_ms = sc->spacing_ms};
    struct ratelimit_bucket_opts budget = {.limit = sc->budget_limit,
                                           .window_ms = sc->budget_window_ms};
    struct fixture f;

    if (sc->max_rate_limited)
        cfg.max_rate_limited = sc->max_rate_limited;
    if (sc->max_wait_ms)
        cfg.max_rate_limited_wait_ms = sc->max_wait_ms;
    fixture_init(&f, sc->latency_ms, &cfg);
    if (sc->rand_value)
        f.rand_value = sc->rand_value;
    if (sc->spacing_prefix)
        ck_assert_int_eq(ratelimit_set_bucket_opts(f.rl, sc->spacing_prefix, &spaced), 0);
    if (sc->budget_scope)
        ck_assert_int_eq(ratelimit_set_scope_opts(f.rl, sc->budget_scope, &budget), 0);
    for (const struct step *s = sc->steps; s < sc->steps + 8 && s->name; s++) {
        struct op *op = op_new(&f, s->name);
        at(&f, s->at);
        for (int i = 0; i < (s->every ? MAX_TRIES : 1); i++) {
            op->results[i] = s->status;
            op->infos[i] = s->facts;
            op->has_info[i] = s->has_facts;
        }
        ck_assert_int_eq(submit(&f, op, s->bucket, s->prio, s->mode, s->key), 0);
    }
    at(&f, sc->end_at);
    trace_expect(&f.trace, sc->what, sc->expect);
    fixture_done(&f);
}
END_TEST

START_TEST(a_newer_live_edit_replaces_the_queued_one_in_its_place)
{
    struct fixture f;

    fixture_init(&f, 100, NULL);
    go(&f, "e1", "ch", RATELIMIT_LIVE_EDIT, RATELIMIT_COALESCE_REPLACE, "m1");
    go(&f, "e2", "ch", RATELIMIT_LIVE_EDIT, RATELIMIT_COALESCE_REPLACE, "m1");
    go(&f, "x1", "ch", RATELIMIT_LIVE_EDIT, RATELIMIT_COALESCE_REPLACE, "m2");
    at(&f, 50);
    go(&f, "e3", "ch", RATELIMIT_LIVE_EDIT, RATELIMIT_COALESCE_REPLACE, "m1");
    go(&f, "e4", "ch", RATELIMIT_LIVE_EDIT, RATELIMIT_COALESCE_REPLACE, "m1");
    at(&f, 1000);
    ck_assert_str_eq(f.trace.text, "0 start e1 | 50 end e2 cancelled | 50 end e3 cancelled | "
                                   "100 end e1 ok | 100 start e4 | 200 end e4 ok | "
                                   "200 start x1 | 300 end x1 ok");
    struct ratelimit_stats st;
    ratelimit_get_stats(f.rl, &st);
    ck_assert_uint_eq(st.coalesced, 2);
    ck_assert_uint_eq(st.delivered, 3);
    fixture_done(&f);
}
END_TEST

START_TEST(an_empty_window_waits_for_reset_after)
{
    struct fixture f;

    fixture_init(&f, 0, NULL);
    struct ratelimit_facts empty = {.remaining = 0, .reset_after_ms = 700};
    go_answered(&f, "a", "ch", RATELIMIT_LIVE_EDIT, 0, &empty);
    go(&f, "b", "ch", RATELIMIT_LIVE_EDIT, RATELIMIT_COALESCE_NONE, NULL);
    at(&f, 300);
    /* A report from outside a call (host rate_report) pushes the reset further. */
    ratelimit_report(f.rl, NULL, "ch",
                     &(struct ratelimit_facts){.remaining = 0, .reset_after_ms = 1000});
    at(&f, 5000);
    ck_assert_str_eq(f.trace.text, "0 start a | 0 end a ok | 1300 start b | 1300 end b ok");
    fixture_done(&f);
}
END_TEST

START_TEST(server_errors_retry_with_backoff_then_fail_after_max_attempts)
{
    struct fixture f;
    struct ratelimit_config cfg = ratelimit_config_default();

    cfg.max_attempts = 4;
    cfg.backoff_base_ms = 100;
    cfg.backoff_cap_ms = 300;
    fixture_init(&f, 0, &cfg);
    struct op *a = op_new(&f, "a");
    for (int i = 0; i < MAX_TRIES; i++)
        a->results[i] = i % 2 ? AB_ETIMEDOUT : AB_EIO;
    ck_assert_int_eq(submit(&f, a, "ch", RATELIMIT_FINAL_TEXT, RATELIMIT_COALESCE_NONE, NULL), 0);
    go_answered(&f, "b", "ch", RATELIMIT_FINAL_TEXT, AB_EIO, NULL);
    at(&f, 5000);
    /* Full jitter at the top of the range: 100, 200, then capped at 300. */
    ck_assert_str_eq(f.trace.text, "0 start a | 100 start a | 300 start a | 600 start a | "
                                   "600 end a timed out | 600 start b | 700 start b | "
                                   "700 end b ok");
    struct ratelimit_stats st;
    ratelimit_get_stats(f.rl, &st);
    ck_assert_uint_eq(st.failed, 1);
    ck_assert_uint_eq(st.retried, 4);
    fixture_done(&f);
}
END_TEST

START_TEST(a_full_bucket_drops_the_lowest_priority_coalescible_work_first)
{
    struct fixture f;
    struct ratelimit_config cfg = ratelimit_config_default();

    cfg.bucket_queue_cap = 3;
    fixture_init(&f, 100, &cfg);
    go(&f, "busy", "ch", RATELIMIT_FINAL_TEXT, RATELIMIT_COALESCE_NONE, NULL);
    go(&f, "e1", "ch", RATELIMIT_LIVE_EDIT, RATELIMIT_COALESCE_REPLACE, "m1");
    go(&f, "+a", "ch", RATELIMIT_REACTION, RATELIMIT_COALESCE_ADD, "m1 a");
    go(&f, "+b", "ch", RATELIMIT_REACTION, RATELIMIT_COALESCE_ADD, "m1 b");
    go(&f, "f1", "ch", RATELIMIT_FINAL_TEXT, RATELIMIT_COALESCE_NONE, NULL);   /* drops +a */
    go(&f, "e2", "ch", RATELIMIT_LIVE_EDIT, RATELIMIT_COALESCE_REPLACE, "m2"); /* drops +b */
    /* Now e1, f1, e2: a reaction is below everything queued and is refused. */
    struct op *c = op_new(&f, "+c");
    ck_assert_int_eq(submit(&f, c, "ch", RATELIMIT_REACTION, RATELIMIT_COALESCE_ADD, "m1 c"),
                     AB_EFULL);
    go(&f, "f2", "ch", RATELIMIT_FINAL_TEXT, RATELIMIT_COALESCE_NONE, NULL); /* drops e1 */
    go(&f, "f3", "ch", RATELIMIT_FINAL_TEXT, RATELIMIT_COALESCE_NONE, NULL); /* drops e2 */
    /* f1, f2, f3: nothing left that may be dropped, and final text is never refused:
     * f4 waits beyond the cap. A reaction is still refused. */
    go(&f, "f4", "ch", RATELIMIT_FINAL_TEXT, RATELIMIT_COALESCE_NONE, NULL);
    struct op *d = op_new(&f, "+d");
    ck_assert_int_eq(submit(&f, d, "ch", RATELIMIT_REACTION, RATELIMIT_COALESCE_ADD, "m1 d"),
                     AB_EFULL);
    at(&f, 1000);
    ck_assert_str_eq(f.trace.text,
                     "0 start busy | 0 end +a full | 0 end +b full | 0 end e1 full | "
                     "0 end e2 full | 100 end busy ok | 100 start f1 | 200 end f1 ok | "
                     "200 start f2 | 300 end f2 ok | 300 start f3 | 400 end f3 ok | "
                     "400 start f4 | 500 end f4 ok");
    struct ratelimit_stats st;
    ratelimit_get_stats(f.rl, &st);
    ck_assert_uint_eq(st.dropped, 4);
    fixture_done(&f);
}
END_TEST

START_TEST(close_cancels_queued_work_and_waits_for_calls_in_flight)
{
    struct fixture f;

    fixture_init(&f, 100, NULL);
    go(&f, "a", "ch", RATELIMIT_FINAL_TEXT, RATELIMIT_COALESCE_NONE, NULL);
    go(&f, "b", "ch", RATELIMIT_FINAL_TEXT, RATELIMIT_COALESCE_NONE, NULL);
    go(&f, "c", "ch2", RATELIMIT_REACTION, RATELIMIT_COALESCE_NONE, NULL);
    clock_timer_stop(&f.ops[2].latency);
    at(&f, 50);
    ratelimit_close(f.rl);
    struct op *late = op_new(&f, "late");
    ck_assert_int_eq(submit(&f, late, "ch", RATELIMIT_FINAL_TEXT, RATELIMIT_COALESCE_NONE, NULL),
                     AB_ECLOSED);
    at(&f, 1000); /* a answers at 100; c was stopped above, answer it by hand */
    op_answer(&f.ops[2]);
    ck_assert_str_eq(f.trace.text, "0 start a | 0 start c | 50 end b cancelled | 100 end a ok | "
                                   "1000 end c ok");
    ck_assert_uint_eq(clock_pending(f.clock), 0);
    clock_close(f.clock);
}
END_TEST

START_TEST(malformed_requests_are_refused)
{
    struct fixture f;
    struct ratelimit_req req = {.bucket = "ch", .perform = op_perform};

    fixture_init(&f, 0, NULL);
    req.coalesce = RATELIMIT_COALESCE_REPLACE; /* without a key */
    ck_assert_int_eq(ratelimit_submit(f.rl, &req), AB_EINVAL);
    req.coalesce = RATELIMIT_COALESCE_NONE;
    req.priority = (enum ratelimit_priority)7;
    ck_assert_int_eq(ratelimit_submit(f.rl, &req), AB_EINVAL);
    req.priority = RATELIMIT_REACTION;
    req.perform = NULL;
    ck_assert_int_eq(ratelimit_submit(f.rl, &req), AB_EINVAL);
    struct ratelimit_config bad = ratelimit_config_default();
    bad.backoff_cap_ms = 1;
    struct ratelimit *rl;
    ck_assert_int_eq(ratelimit_new(f.clock, &bad, &rl), AB_EINVAL);
    fixture_done(&f);
}
END_TEST

START_TEST(thousands_of_buckets_share_the_clock_and_are_released)
{
    struct fixture f;
    struct ratelimit_bucket_opts spaced = {.min_spacing_ms = 250};
    static struct op ops[3000];
    char key[32];
    struct ratelimit_stats st;

    fixture_init(&f, 0, NULL);
    f.is_quiet = true;
    ratelimit_set_bucket_opts(f.rl, "r:", &spaced);
    for (int i = 0; i < 3000; i++) {
        ops[i] = (struct op){.f = &f, .name = "x"};
        clock_timer_init(&ops[i].latency);
        snprintf(key, sizeof(key), "r:%d", i % 1000);
        ck_assert_int_eq(
            submit(&f, &ops[i], key, RATELIMIT_REACTION, RATELIMIT_COALESCE_NONE, NULL), 0);
    }
    ratelimit_get_stats(f.rl, &st);
    ck_assert_uint_eq(st.buckets, 1000);
    ck_assert_uint_eq(st.queued, 2000);
    ck_assert_uint_le(clock_pending(f.clock), 1000);
    at(&f, 500);
    ratelimit_get_stats(f.rl, &st);
    ck_assert_uint_eq(st.delivered, 3000);
    at(&f, 750);
    ratelimit_get_stats(f.rl, &st);
    ck_assert_uint_eq(st.buckets, 0);
    fixture_done(&f);
}
END_TEST

/* The Trust defect: a Slack 429 with Retry-After 20 s, again and again. Final text
 * waits every one out (more than max_rate_limited of them); a live edit gives up after
 * max_rate_limited. */
START_TEST(final_text_waits_out_any_retry_after)
{
    struct fixture f;
    struct ratelimit_facts slow = rate_429(20000, false);

    fixture_init(&f, 0, NULL);
    f.is_quiet = true;
    struct op *a = op_new(&f, "final");
    struct op *b = op_new(&f, "live");
    for (int i = 0; i < 12; i++) {
        a->results[i] = b->results[i] = AB_ERATELIMIT;
        a->infos[i] = b->infos[i] = slow;
        a->has_info[i] = b->has_info[i] = true;
    }
    ck_assert_int_eq(
        submit(&f, a, "slack:chat.update", RATELIMIT_FINAL_TEXT, RATELIMIT_COALESCE_NONE, NULL), 0);
    ck_assert_int_eq(submit(&f, b, "slack:chat.postMessage C1", RATELIMIT_LIVE_EDIT,
                            RATELIMIT_COALESCE_NONE, NULL),
                     0);
    at(&f, 239999);
    ck_assert_int_eq(a->tries, 12); /* 12 answers, all 429 */
    ck_assert_int_eq(b->tries, 9);  /* gave up at the ninth, t=160000 */
    f.is_quiet = false;
    at(&f, 240000);
    ck_assert_int_eq(a->tries, 13);
    ck_assert_str_eq(f.trace.text, "240000 start final | 240000 end final ok");
    struct ratelimit_stats st;
    ratelimit_get_stats(f.rl, &st);
    ck_assert_uint_eq(st.delivered, 1);
    ck_assert_uint_eq(st.failed, 1);
    fixture_done(&f);
}
END_TEST

/* Two routes the platform puts in one bucket: each learns it from its first answer,
 * then they share its remaining count and go one request at a time; a route created
 * later with a key seen before joins the bucket before its first request. */
START_TEST(routes_learn_their_platform_bucket_and_share_it)
{
    struct fixture f;
    struct ratelimit_facts some = {.limit_key = "d#B:1", .remaining = 3, .reset_after_ms = 2000};
    struct ratelimit_facts none = {.limit_key = "d#B:1", .remaining = 0, .reset_after_ms = 2000};

    fixture_init(&f, 100, NULL);
    go_answered(&f, "a", "d:POST 1", RATELIMIT_FINAL_TEXT, 0, &some);
    go_answered(&f, "b", "d:PATCH 1", RATELIMIT_LIVE_EDIT, 0, &none);
    at(&f, 200);
    go(&f, "c", "d:POST 1", RATELIMIT_FINAL_TEXT, RATELIMIT_COALESCE_NONE, NULL);
    go(&f, "d", "d:PATCH 1", RATELIMIT_LIVE_EDIT, RATELIMIT_COALESCE_NONE, NULL);
    at(&f, 5000);
    ck_assert_str_eq(f.trace.text, "0 start a | 0 start b | 100 end a ok | 100 end b ok | "
                                   "2100 start c | 2200 end c ok | 2200 start d | 2300 end d ok");
    struct ratelimit_stats st;
    ratelimit_get_stats(f.rl, &st);
    ck_assert_uint_eq(st.buckets, 0);
    /* The bucket is exhausted again (a report of the plugin's own call); a new route
     * entry for a key seen before waits for it. */
    ratelimit_report(
        f.rl, "d", NULL,
        &(struct ratelimit_facts){.limit_key = "d#B:1", .remaining = 0, .reset_after_ms = 1000});
    go(&f, "e", "d:PATCH 1", RATELIMIT_LIVE_EDIT, RATELIMIT_COALESCE_NONE, NULL);
    go(&f, "x", "d:PATCH 2", RATELIMIT_LIVE_EDIT, RATELIMIT_COALESCE_NONE, NULL);
    at(&f, 7000);
    ck_assert_str_eq(f.trace.text, "0 start a | 0 start b | 100 end a ok | 100 end b ok | "
                                   "2100 start c | 2200 end c ok | 2200 start d | 2300 end d ok | "
                                   "5000 start x | 5100 end x ok | 6000 start e | 6100 end e ok");
    fixture_done(&f);
}
END_TEST

int
main(void)
{
    const TTest *tests[] = {
        a_newer_live_edit_replaces_the_queued_one_in_its_place,
        an_empty_window_waits_for_reset_after,
        server_errors_retry_with_backoff_then_fail_after_max_attempts,
        a_full_bucket_drops_the_lowest_priority_coalescible_work_first,
        close_cancels_queued_work_and_waits_for_calls_in_flight,
        malformed_requests_are_refused,
        thousands_of_buckets_share_the_clock_and_are_released,
        final_text_waits_out_any_retry_after,
        routes_learn_their_platform_bucket_and_share_it,
        NULL,
    };

    return check_run_table("engine-ratelimit", 20, scripted_traces,
                           (int)(sizeof(scripts) / sizeof(scripts[0])), tests);
}
