/* State files written off the loop: the newest content wins, readers see their own
 * writes before they are durable, close flushes, the loop closes cleanly. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "state/state_file.h"
#include "state/state_writer.h"

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

int
main(void)
{
    Suite *s = suite_create("state_writer");
    TCase *tc = tcase_create("state_writer");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, newest_content_wins_and_close_flushes);
    tcase_add_test(tc, close_without_writes_calls_back_from_the_loop);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
