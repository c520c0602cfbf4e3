/* Run one check suite in fork mode and turn its result into an exit status. */
#ifndef AB_TEST_RENDER_SUITE_RUN_H
#define AB_TEST_RENDER_SUITE_RUN_H

#include <check.h>
#include <stdlib.h>

/* Register @tests (NULL-terminated) in a suite named @name and run it. */
static inline int
suite_run(const char *name, const TTest **tests)
{
    Suite *s = suite_create(name);
    TCase *tc = tcase_create(name);
    SRunner *sr;
    int failed;

    for (; *tests; tests++)
        tcase_add_test(tc, *tests);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
