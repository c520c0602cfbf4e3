/* Backoff: the ceilings double up to the cap, jitter stays inside them, reset. */
#include <stdlib.h>

#include <check.h>

#include <agent-broker/errors.h>

#include "outbound/backoff.h"
#include "../support/check_runner.h"

static uint32_t
rand_fixed(void *state)
{
    return *(uint32_t *)state;
}

START_TEST(ceilings_double_up_to_the_cap)
{
    struct backoff b;
    uint32_t top = UINT32_MAX;
    const uint64_t want[] = {100, 200, 400, 800, 1000, 1000, 1000};

    ck_assert_int_eq(backoff_init(&b, 100, 1000), 0);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        ck_assert_uint_eq(backoff_next_ms(&b, rand_fixed, &top), want[i]);
    ck_assert_uint_eq(b.attempts, 7);
}
END_TEST

START_TEST(full_jitter_reaches_zero_and_stays_within_the_ceiling)
{
    struct backoff b;
    uint32_t zero = 0, half = UINT32_MAX / 2 + 1;
    uint64_t seed = 7, sum = 0, lowest = UINT64_MAX, highest = 0;

    backoff_init(&b, 100, 1000);
    ck_assert_uint_eq(backoff_next_ms(&b, rand_fixed, &zero), 0);
    ck_assert_uint_eq(backoff_next_ms(&b, rand_fixed, &half), 100); /* half of 200 */
    for (int i = 0; i < 2000; i++) {
        backoff_reset(&b);
        for (int k = 0; k < 5; k++)
            backoff_next_ms(&b, backoff_rand_xorshift, &seed);
        uint64_t d = backoff_next_ms(&b, backoff_rand_xorshift, &seed); /* ceiling 1000 */
        ck_assert_uint_le(d, 1000);
        sum += d;
        lowest = d < lowest ? d : lowest;
        highest = d > highest ? d : highest;
    }
    /* Spread over the whole range, centred on half the ceiling. */
    ck_assert_uint_lt(lowest, 50);
    ck_assert_uint_gt(highest, 950);
    ck_assert_uint_gt(sum / 2000, 450);
    ck_assert_uint_lt(sum / 2000, 550);
}
END_TEST

START_TEST(reset_after_success_starts_over)
{
    struct backoff b;
    uint32_t top = UINT32_MAX;

    backoff_init(&b, 250, 60000);
    for (int i = 0; i < 5; i++)
        backoff_next_ms(&b, rand_fixed, &top);
    ck_assert_uint_eq(backoff_next_ms(&b, rand_fixed, &top), 8000);
    backoff_reset(&b);
    ck_assert_uint_eq(backoff_next_ms(&b, rand_fixed, &top), 250);
}
END_TEST

START_TEST(long_outages_never_overflow)
{
    struct backoff b;
    uint32_t top = UINT32_MAX;
    uint64_t cap = UINT64_MAX / 3;

    backoff_init(&b, 1, cap);
    for (int i = 0; i < 200; i++)
        ck_assert_uint_le(backoff_next_ms(&b, rand_fixed, &top), cap);
    ck_assert_uint_gt(backoff_next_ms(&b, rand_fixed, &top), cap / 2);
}
END_TEST

START_TEST(bad_parameters_are_refused)
{
    struct backoff b;

    ck_assert_int_eq(backoff_init(&b, 0, 100), AB_EINVAL);
    ck_assert_int_eq(backoff_init(&b, 200, 100), AB_EINVAL);
    ck_assert_int_eq(backoff_init(NULL, 1, 2), AB_EINVAL);
}
END_TEST

int
main(void)
{
    const TTest *tests[] = {
        ceilings_double_up_to_the_cap,   full_jitter_reaches_zero_and_stays_within_the_ceiling,
        reset_after_success_starts_over, long_outages_never_overflow,
        bad_parameters_are_refused,      NULL,
    };

    return check_run_list("engine-backoff", 10, tests);
}
