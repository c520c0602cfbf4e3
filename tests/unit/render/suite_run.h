/* Run one check suite in fork mode and turn its result into an exit status. */
#ifndef AB_TEST_RENDER_SUITE_RUN_H
#define AB_TEST_RENDER_SUITE_RUN_H

#include <check.h>
#include <stdlib.h>

/* Run the prepared test case @tc (owned by the suite from now on) as suite @name. */
static inline int
suite_run_case(const char *name, TCase *tc)
{
    Suite *s = suite_create(name);
    SRunner *sr;
    int failed;

    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Register @tests (NULL-terminated) in a suite named @name and run it. */
static inline int
suite_run(const char *name, const TTest **tests)
{
    TCase *tc = tcase_create(name);

    for (; *tests; tests++)
        tcase_add_test(tc, *tests);
    return suite_run_case(name, tc);
}

#endif
