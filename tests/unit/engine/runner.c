/* Runs one engine test suite. */
#include "runner.h"

#include <stdlib.h>

/* One suite, one case, every test with its own timeout; forked unless CK_FORK=no
 * (set it to run the whole suite in one process under valgrind or gdb). */
int
runner_run(const char *name, double timeout_s, const TTest *const *tests)
{
    size_t n = 0;

    while (tests[n])
        n++;
    return runner_run_n(name, timeout_s, tests, n);
}

/* As runner_run, for an array of @n tests. */
int
runner_run_n(const char *name, double timeout_s, const TTest *const *tests, size_t n)
{
    Suite *s = suite_create(name);
    TCase *tc = tcase_create(name);
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, timeout_s);
    for (size_t i = 0; i < n; i++)
        tcase_add_test(tc, tests[i]);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
