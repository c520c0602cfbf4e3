/* ABI 1.3 deliver_held as a plugin sees it: the completion never runs inside the call,
 * runs once after the sink releases the hold, runs AB_ECANCELED (once) when the host
 * cancels before the plugin's close, never runs when the sink refuses, and a host
 * without a held sink completes after a plain deliver. */
#include <check.h>
#include <uv.h>

#include <agent-broker/plugin.h>

#include "../support/check_runner.h"
#include "host/host.h"

struct sink_state {
    struct host_hold *hold; /* the last hold taken */
    int delivered;
    int refuse; /* < 0: refuse with it */
};

struct done {
    int calls, status;
};

/* The plugin's completion. */
static void
completed(void *arg, int status)
{
    struct done *d = arg;

    d->calls++;
    d->status = status;
}

/* Sink: a plain deliver. */
static int
sink_deliver(void *arg, struct ab_host *h, const struct ab_inbound *m)
{
    (void)h;
    (void)m;
    ((struct sink_state *)arg)->delivered++;
    return 0;
}

/* Sink: keep the hold (or refuse). */
static int
sink_deliver_held(void *arg, struct ab_host *h, const struct ab_inbound *m, struct host_hold *hold)
{
    struct sink_state *s = arg;

    (void)h;
    (void)m;
    if (s->refuse < 0)
        return s->refuse;
    s->delivered++;
    s->hold = hold;
    return 0;
}

static const struct ab_inbound msg = {.size = sizeof(struct ab_inbound), .message_id = "m1"};

/* A host on @loop whose sink is @s (held when @held). */
static struct ab_host *
make_host(uv_loop_t *loop, struct sink_state *s, bool held)
{
    struct host_sink sink = {
        .arg = s, .deliver = sink_deliver, .deliver_held = held ? sink_deliver_held : NULL};
    struct ab_host *h;

    ck_assert_int_eq(host_new(loop, "chat", "fake", NULL, NULL, &sink, &h), 0);
    return h;
}

START_TEST(completion_runs_once_after_release_never_inside)
{
    uv_loop_t loop;
    struct sink_state s = {0};
    struct done d = {0};
    struct ab_host *h;

    ck_assert_int_eq(uv_loop_init(&loop), 0);
    h = make_host(&loop, &s, true);
    ck_assert_int_eq(host_services.deliver_held(h, &msg, completed, &d), 0);
    ck_assert_int_eq(s.delivered, 1);
    uv_run(&loop, UV_RUN_NOWAIT);
    ck_assert_int_eq(d.calls, 0); /* not recorded yet: no ack */
    host_hold_release(s.hold, 0);
    ck_assert_int_eq(d.calls, 0); /* never inside the release either */
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(d.calls, 1);
    ck_assert_int_eq(d.status, 0);
    host_free(h);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(cancel_before_close_runs_once_and_a_late_release_is_silent)
{
    uv_loop_t loop;
    struct sink_state s = {0};
    struct done d = {0};
    struct ab_host *h;

    ck_assert_int_eq(uv_loop_init(&loop), 0);
    h = make_host(&loop, &s, true);
    ck_assert_int_eq(host_services.deliver_held(h, &msg, completed, &d), 0);
    host_holds_cancel(h);
    ck_assert_int_eq(d.calls, 1);
    ck_assert_int_eq(d.status, AB_ECANCELED);
    host_hold_release(s.hold, 0); /* the journal finished later */
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(d.calls, 1);
    host_free(h);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(refused_by_the_sink_never_completes)
{
    uv_loop_t loop;
    struct sink_state s = {.refuse = AB_ENOMEM};
    struct done d = {0};
    struct ab_host *h;

    ck_assert_int_eq(uv_loop_init(&loop), 0);
    h = make_host(&loop, &s, true);
    ck_assert_int_eq(host_services.deliver_held(h, &msg, completed, &d), AB_ENOMEM);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(d.calls, 0);
    host_free(h);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(without_a_held_sink_it_completes_after_deliver)
{
    uv_loop_t loop;
    struct sink_state s = {0};
    struct done d = {0};
    struct ab_host *h;

    ck_assert_int_eq(uv_loop_init(&loop), 0);
    h = make_host(&loop, &s, false);
    ck_assert_int_eq(host_services.deliver_held(h, &msg, completed, &d), 0);
    ck_assert_int_eq(s.delivered, 1);
    ck_assert_int_eq(d.calls, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(d.calls, 1);
    ck_assert_int_eq(d.status, 0);
    host_free(h);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(host_freed_with_a_hold_taken_frees_it_on_release)
{
    uv_loop_t loop;
    struct sink_state s = {0};
    struct done d = {0};
    struct ab_host *h;

    ck_assert_int_eq(uv_loop_init(&loop), 0);
    h = make_host(&loop, &s, true);
    ck_assert_int_eq(host_services.deliver_held(h, &msg, completed, &d), 0);
    host_holds_cancel(h);
    host_free(h);
    host_hold_release(s.hold, 0); /* after the host: freed, no callback */
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(d.calls, 1);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

int
main(void)
{
    const TTest *tests[] = {
        completion_runs_once_after_release_never_inside,
        cancel_before_close_runs_once_and_a_late_release_is_silent,
        refused_by_the_sink_never_completes,
        without_a_held_sink_it_completes_after_deliver,
        host_freed_with_a_hold_taken_frees_it_on_release,
        NULL,
    };

    return check_run_list("host_hold", 0, tests);
}
