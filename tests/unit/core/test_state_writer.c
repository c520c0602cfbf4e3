/* State files written off the loop: the newest content wins, readers see their own
 * writes before they are durable, close flushes, the loop closes cleanly. */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "state/state_file.h"
#include "state/state_writer.h"
#include "../support/check_runner.h"

/* Count the close callback. */
static void
closed(void *arg)
{
    (*(int *)arg)++;
}

START_TEST(newest_content_wins_and_close_flushes)
{
    char dir[] = "/tmp/ab-state-XXXXXX", path[256], *got = NULL;
    struct state_writer *w;
    uv_loop_t loop;
    const char *pending;
    size_t len = 0;
    int done = 0;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/gateway", dir);
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    ck_assert_int_eq(state_writer_open(&loop, path, &w), 0);
    ck_assert_ptr_null(state_writer_pending(w, &len));
    ck_assert_int_eq(state_writer_put(w, strdup("one"), 3), 0);
    ck_assert_int_eq(state_writer_put(w, strdup("two"), 3), 0);
    ck_assert_int_eq(state_writer_put(w, strdup("three"), 5), 0);
    pending = state_writer_pending(w, &len);
    ck_assert_ptr_nonnull(pending);
    ck_assert_uint_eq(len, 5);
    ck_assert_int_eq(memcmp(pending, "three", 5), 0);
    state_writer_close(w, closed, &done);
    ck_assert_int_eq(done, 0); /* a write is in flight: the close waits for it */
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(done, 1);
    ck_assert_int_eq(state_file_read(path, &got, &len), 0);
    ck_assert_str_eq(got, "three");
    free(got);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(close_without_writes_calls_back_from_the_loop)
{
    struct state_writer *w;
    uv_loop_t loop;
    int done = 0;

    ck_assert_int_eq(uv_loop_init(&loop), 0);
    ck_assert_int_eq(state_writer_open(&loop, "/nonexistent/never-written", &w), 0);
    state_writer_close(w, closed, &done);
    ck_assert_int_eq(done, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(done, 1);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* The retry test's world: the writer, where it writes, what happened. */
struct retry_fx {
    struct state_writer *w;
    uv_timer_t poll;
    char dir[64], sub[96], path[128];
    int ticks, done;
    bool landed, pending_while_failing;
};

/* Every 50 ms: make the missing directory after 200 ms (space returns), stop once the
 * file is there or after 10 s. */
static void
retry_poll(uv_timer_t *t)
{
    struct retry_fx *fx = t->data;
    char *got = NULL;
    size_t len = 0;

    fx->ticks++;
    if (fx->ticks == 4) {
        const char *p = state_writer_pending(fx->w, &len);
        fx->pending_while_failing = p && len == 4 && memcmp(p, "kept", 4) == 0;
        ck_assert_int_eq(mkdir(fx->sub, 0700), 0);
    }
    if (fx->ticks > 4 && state_file_read(fx->path, &got, &len) == 0) {
        fx->landed = len == 4 && memcmp(got, "kept", 4) == 0;
        free(got);
    }
    if (fx->landed || fx->ticks >= 200) {
        uv_close((uv_handle_t *)t, NULL);
        state_writer_close(fx->w, closed, &fx->done);
    }
}

START_TEST(a_failed_write_is_retried_until_it_lands)
{
    struct retry_fx fx = {0};
    uv_loop_t loop;

    snprintf(fx.dir, sizeof(fx.dir), "/tmp/ab-state-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(fx.dir));
    snprintf(fx.sub, sizeof(fx.sub), "%s/sub", fx.dir);
    snprintf(fx.path, sizeof(fx.path), "%s/map", fx.sub);
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    ck_assert_int_eq(state_writer_open(&loop, fx.path, &fx.w), 0);
    ck_assert_int_eq(state_writer_put(fx.w, strdup("kept"), 4), 0); /* fails: no dir */
    uv_timer_init(&loop, &fx.poll);
    fx.poll.data = &fx;
    uv_timer_start(&fx.poll, retry_poll, 50, 50);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert(fx.pending_while_failing); /* readers still see the unwritten content */
    ck_assert(fx.landed);                /* written by a retry, with no new put */
    ck_assert_int_lt(fx.ticks, 200);
    ck_assert_int_eq(fx.done, 1);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    unlink(fx.path);
    rmdir(fx.sub);
    rmdir(fx.dir);
}
END_TEST

int
main(void)
{
    TCase *tc = tcase_create("state_writer");

    tcase_add_test(tc, newest_content_wins_and_close_flushes);
    tcase_add_test(tc, close_without_writes_calls_back_from_the_loop);
    tcase_add_test(tc, a_failed_write_is_retried_until_it_lands);
    return check_run_case("state_writer", tc);
}
