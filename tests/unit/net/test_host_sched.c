/* The scheduled-request service (ABI 1.3 http_scheduled) on the real host and the real
 * scheduler, against the loopback HTTP server: a plugin's own call waits for a known
 * exhausted bucket and a global pause like an operation, a 429 is sent again after its
 * Retry-After, the judge's facts are tied to the call, the callback runs once and never
 * inside the call, and a cancelled call calls nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <uv.h>

#include <agent-broker/plugin.h>

#include "clock/clock.h"
#include "host/host.h"
#include "net_fixture.h"
#include "outbound/ratelimit.h"

static const struct ab_host_services *svc = &host_services;

struct fx {
    uv_loop_t loop;
    struct clock *clock;
    struct ratelimit *rl;
    struct ab_host *h;
    struct net_server srv;
    int sink_reports; /* reports the host passed on (not tied to a scheduled call) */
};

/* One scheduled call as the plugin sees it. */
struct got {
    struct fx *fx;
    bool done, in_call;
    int calls, judged, error;
    long status;
    uint64_t judged_ms[8]; /* loop time of each answer */
    uint64_t done_ms;
    int64_t remaining; /* what the judge reports */
    uint64_t reset_ms;
    const char *bucket;
    char body[32];
};

/* Host sink: count what reaches the engine's side. */
static void
fx_sink_rate(void *arg, struct ab_host *h, const struct ab_rate_info *info)
{
    (void)h;
    (void)info;
    ((struct fx *)arg)->sink_reports++;
}

static void
fx_open(struct fx *f)
{
    struct host_sink sink = {.arg = f, .rate_report = fx_sink_rate};

    memset(f, 0, sizeof(*f));
    net_server_start(&f->srv, "http_server.py");
    ck_assert_int_eq(uv_loop_init(&f->loop), 0);
    ck_assert_int_eq(clock_new_uv(&f->loop, &f->clock), 0);
    ck_assert_int_eq(ratelimit_new(f->clock, NULL, &f->rl), 0);
    ck_assert_int_eq(host_new(&f->loop, "chat", "fake", NULL, NULL, &sink, &f->h), 0);
    ck_assert_int_eq(host_set_scheduler(f->h, f->rl, "fake"), 0);
}

static void
fx_close(struct fx *f)
{
    host_free(f->h);
    ratelimit_close(f->rl);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    clock_close(f->clock);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&f->loop), 0);
    net_server_stop(&f->srv);
}

/* The plugin's judge: report the answer's facts tied to the call, map the status. */
static int
judge(void *arg, struct ab_http_sched *op, const struct ab_http_response *r)
{
    struct got *g = arg;
    struct ab_rate_info info = {
        .size = sizeof(info),
        .bucket = g->bucket,
        .remaining = g->remaining ? g->remaining : r->ratelimit_remaining,
        .reset_after_ms = g->reset_ms ? g->reset_ms : r->ratelimit_reset_after_ms,
        .retry_after_ms = r->status == 429 ? r->retry_after_ms : 0,
        .op = op,
        .limit = -1,
    };

    if (g->judged < 8)
        g->judged_ms[g->judged] = uv_now(&g->fx->loop);
    g->judged++;
    svc->rate_report(g->fx->h, &info);
    return r->status == 429 ? AB_ERATELIMIT : r->status >= 500 ? AB_EIO : 0;
}

static void
on_done(void *arg, const struct ab_http_response *r)
{
    struct got *g = arg;

    ck_assert(!g->in_call); /* never inside http_scheduled() */
    g->calls++;
    g->done = true;
    g->error = r->error;
    g->status = r->status;
    g->done_ms = uv_now(&g->fx->loop);
    snprintf(g->body, sizeof(g->body), "%.*s", (int)(r->body_len < 31 ? r->body_len : 31), r->body);
}

/* Queue GET @path on @route; the return code of http_scheduled. */
static int
schedule(struct fx *f, struct got *g, const char *route, const char *path,
         struct ab_http_sched **out)
{
    char url[160];
    int rc;

    g->fx = f;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", f->srv.port, path);
    g->in_call = true;
    rc = svc->http_scheduled(
        f->h, route, &(struct ab_http_request){.size = sizeof(struct ab_http_request), .url = url},
        judge, on_done, g, out);
    g->in_call = false;
    return rc;
}

START_TEST(the_service_is_in_the_table_and_needs_a_scheduler)
{
    struct fx f;
    struct got g = {0};
    struct ab_http_sched *op;

    ck_assert(AB_HAS(svc, struct ab_host_services, http_scheduled));
    ck_assert_ptr_nonnull(svc->http_scheduled_cancel);
    fx_open(&f);
    ck_assert_int_eq(schedule(&f, &g, "", "/echo", &op), AB_EINVAL);
    ck_assert_int_eq(schedule(&f, &g, "GET /x\n", "/echo", &op), AB_EINVAL);
    host_set_scheduler(f.h, NULL, "fake");
    ck_assert_int_eq(schedule(&f, &g, "GET /echo", "/echo", &op), AB_ENOTSUP);
    fx_close(&f);
    ck_assert_int_eq(g.calls, 0);
}
END_TEST

START_TEST(a_429_is_sent_again_after_its_retry_after_and_answered_once)
{
    struct fx f;
    struct got g = {0};
    struct ab_http_sched *op;

    fx_open(&f);
    ck_assert_int_eq(schedule(&f, &g, "GET /limited", "/limited?key=a&n=1&retry=1", &op), 0);
    ck_assert(net_run_until(&f.loop, &g.done, 15000));
    ck_assert_int_eq(g.calls, 1);
    ck_assert_int_eq(g.judged, 2);
    ck_assert_int_eq(g.error, 0);
    ck_assert_int_eq(g.status, 200);
    ck_assert_str_eq(g.body, "ok #2");
    ck_assert_uint_ge(g.judged_ms[1] - g.judged_ms[0], 1000); /* not inside the window */
    ck_assert_int_eq(f.sink_reports, 0);                      /* the facts went with the call */
    net_run_for(&f.loop, 50);
    ck_assert_int_eq(g.calls, 1);
    fx_close(&f);
}
END_TEST

START_TEST(a_call_waits_for_a_bucket_its_route_exhausted)
{
    struct fx f;
    struct got a = {.bucket = "win"}, b = {.bucket = "win"};
    struct ab_http_sched *op;

    fx_open(&f);
    /* the first answer says: nothing left in bucket "win" for 800 ms */
    ck_assert_int_eq(schedule(&f, &a, "GET /window", "/window?remaining=0&reset=0.8", &op), 0);
    ck_assert(net_run_until(&f.loop, &a.done, 10000));
    ck_assert_int_eq(schedule(&f, &b, "GET /window", "/window?remaining=5&reset=1", &op), 0);
    ck_assert(net_run_until(&f.loop, &b.done, 10000));
    ck_assert_uint_ge(b.judged_ms[0] - a.judged_ms[0], 750);
    fx_close(&f);
}
END_TEST

START_TEST(a_call_waits_out_a_global_pause_an_operation_met)
{
    struct fx f;
    struct got g = {0};
    struct ab_http_sched *op;
    struct ratelimit_facts pause = {.remaining = -1, .retry_after_ms = 700, .is_global = true};
    uint64_t t0;

    fx_open(&f);
    ratelimit_report(f.rl, "fake", "fake:msg:1", &pause); /* an operation's global 429 */
    t0 = uv_now(&f.loop);
    ck_assert_int_eq(schedule(&f, &g, "GET /echo", "/echo", &op), 0);
    ck_assert(net_run_until(&f.loop, &g.done, 10000));
    ck_assert_int_eq(g.status, 200);
    ck_assert_uint_ge(g.judged_ms[0] - t0, 650);
    fx_close(&f);
}
END_TEST

START_TEST(a_refused_request_is_reported_later_not_inside_the_call)
{
    struct fx f;
    struct got g = {0};
    struct ab_http_sched *op;
    char url[] = "http://192.0.2.1:9/x"; /* plain text to a remote host: refused */

    fx_open(&f);
    g.fx = &f;
    g.in_call = true;
    ck_assert_int_eq(svc->http_scheduled(f.h, "GET /x",
                                         &(struct ab_http_request){
                                             .size = sizeof(struct ab_http_request), .url = url},
                                         judge, on_done, &g, &op),
                     0);
    g.in_call = false;
    ck_assert_int_eq(g.calls, 0);
    ck_assert(net_run_until(&f.loop, &g.done, 5000));
    ck_assert_int_eq(g.calls, 1);
    ck_assert_int_eq(g.error, AB_ECONFIG);
    ck_assert_int_eq(g.judged, 0);
    fx_close(&f);
}
END_TEST

START_TEST(cancelled_calls_call_nothing_queued_or_in_flight)
{
    struct fx f;
    struct got a = {0}, b = {0}, c = {0};
    struct ab_http_sched *in_flight, *queued, *after;

    fx_open(&f);
    /* one route: one request in flight at a time, the second waits behind it */
    ck_assert_int_eq(schedule(&f, &a, "GET /slow", "/slow?ms=300", &in_flight), 0);
    ck_assert_int_eq(schedule(&f, &b, "GET /slow", "/slow?ms=10", &queued), 0);
    ck_assert_int_eq(schedule(&f, &c, "GET /slow", "/echo", &after), 0);
    net_run_for(&f.loop, 50);
    svc->http_scheduled_cancel(queued);
    svc->http_scheduled_cancel(in_flight);
    ck_assert(net_run_until(&f.loop, &c.done, 10000)); /* the route is not stuck */
    net_run_for(&f.loop, 400);
    ck_assert_int_eq(a.calls + b.calls, 0);
    ck_assert_int_eq(a.judged + b.judged, 0);
    ck_assert_int_eq(c.status, 200);
    /* and calls still queued when the host goes are dropped without a callback */
    ck_assert_int_eq(schedule(&f, &a, "GET /slow", "/slow?ms=300", &in_flight), 0);
    ck_assert_int_eq(schedule(&f, &b, "GET /slow", "/echo", &queued), 0);
    net_run_for(&f.loop, 50);
    fx_close(&f);
    ck_assert_int_eq(a.calls + b.calls, 0);
}
END_TEST

/* The daemon's order: the plugin cancels a call in flight (its close()), then the engine
 * detaches its hosts from the scheduler, closes it and its clock, and only then are the
 * hosts freed. A call still in flight or queued when the scheduler goes ends with
 * AB_ECANCELED, once; nothing touches the closed scheduler or clock later. */
START_TEST(the_scheduler_going_away_ends_its_calls_once)
{
    struct fx f;
    struct got a = {0}, b = {0}, c = {0};
    struct ab_http_sched *cancelled, *in_flight, *queued;

    fx_open(&f);
    ck_assert_int_eq(schedule(&f, &a, "GET /one", "/slow?ms=2000", &cancelled), 0);
    ck_assert_int_eq(schedule(&f, &b, "GET /two", "/slow?ms=2000", &in_flight), 0);
    ck_assert_int_eq(schedule(&f, &c, "GET /two", "/echo", &queued), 0);
    net_run_for(&f.loop, 100);
    svc->http_scheduled_cancel(cancelled);
    host_set_scheduler(f.h, NULL, NULL);
    ck_assert_int_eq(b.calls, 1);
    ck_assert_int_eq(b.error, AB_ECANCELED);
    ratelimit_close(f.rl);
    ck_assert_int_eq(c.calls, 1);
    ck_assert_int_eq(c.error, AB_ECANCELED);
    clock_close(f.clock);
    net_run_for(&f.loop, 100);
    host_free(f.h);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&f.loop), 0);
    net_server_stop(&f.srv);
    ck_assert_int_eq(a.calls, 0);
    ck_assert_int_eq(b.calls + c.calls, 2);
}
END_TEST

int
main(void)
{
    const TTest *const tests[] = {
        the_service_is_in_the_table_and_needs_a_scheduler,
        a_429_is_sent_again_after_its_retry_after_and_answered_once,
        a_call_waits_for_a_bucket_its_route_exhausted,
        a_call_waits_out_a_global_pause_an_operation_met,
        a_refused_request_is_reported_later_not_inside_the_call,
        cancelled_calls_call_nothing_queued_or_in_flight,
        the_scheduler_going_away_ends_its_calls_once,
    };

    return check_run_tests("host_sched", 30, tests, sizeof(tests) / sizeof(tests[0]));
}
