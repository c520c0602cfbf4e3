/* Test helper: run a check suite in fork mode and turn the result into an exit code. */
#ifndef AB_TEST_ENGINE_RUNNER_H
#define AB_TEST_ENGINE_RUNNER_H

#include <check.h>
#include <stddef.h>

/* Build a suite named @name with one test case holding @tests (NULL-terminated), each
 * limited to @timeout_s, run it, and return EXIT_SUCCESS or EXIT_FAILURE. */
int runner_run(const char *name, double timeout_s, const TTest *const *tests);

/* The same for an array of @n tests. Every test program that needs a runner uses
 * these two (engine, conv, health, net). */
int runner_run_n(const char *name, double timeout_s, const TTest *const *tests, size_t n);

#endif
