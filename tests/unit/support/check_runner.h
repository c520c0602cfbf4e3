/* The one check runner every test program shares: a suite run in fork mode (unless
 * CK_FORK=no, for valgrind or gdb), its result turned into the exit status. Header-only
 * so any test, in tests/unit or beside a plugin, includes it without a library. */
#ifndef AB_TEST_CHECK_RUNNER_H
#define AB_TEST_CHECK_RUNNER_H

#include <check.h>
#include <stddef.h>
#include <stdlib.h>

/* Run @s (owned by the runner from now on); EXIT_SUCCESS or EXIT_FAILURE. */
static inline int
check_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Run the prepared test case @tc (fixtures, loops; owned from now on) as suite @name. */
static inline int
check_run_case(const char *name, TCase *tc)
{
    Suite *s = suite_create(name);

    suite_add_tcase(s, tc);
    return check_run_suite(s);
}

/* A case named @name holding the @n @tests, each limited to @timeout_s (0: the
 * CK_DEFAULT_TIMEOUT of the environment). */
static inline TCase *
check_case(const char *name, double timeout_s, const TTest *const *tests, size_t n)
{
    TCase *tc = tcase_create(name);

    if (timeout_s > 0)
        tcase_set_timeout(tc, timeout_s);
    for (size_t i = 0; i < n; i++)
        tcase_add_test(tc, tests[i]);
    return tc;
}

/* Run the @n @tests as suite @name (see check_case). */
static inline int
check_run_tests(const char *name, double timeout_s, const TTest *const *tests, size_t n)
{
    return check_run_case(name, check_case(name, timeout_s, tests, n));
}

/* The length of a NULL-terminated list of tests. */
static inline size_t
check_count(const TTest *const *tests)
{
    size_t n = 0;

    while (tests[n])
        n++;
    return n;
}

/* A table-driven suite: @row_test runs once per row of a table (_i from 0 to @rows),
 * then the NULL-terminated @tests. */
static inline int
check_run_table(const char *name, double timeout_s, const TTest *row_test, int rows,
                const TTest *const *tests)
{
    TCase *tc = check_case(name, timeout_s, tests, check_count(tests));

    tcase_add_loop_test(tc, row_test, 0, rows);
    return check_run_case(name, tc);
}

/* check_run_tests for a NULL-terminated list. */
static inline int
check_run_list(const char *name, double timeout_s, const TTest *const *tests)
{
    return check_run_tests(name, timeout_s, tests, check_count(tests));
}

#endif
