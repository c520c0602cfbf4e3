/* agent-broker/convert.h: range-checked conversions of platform and agent numbers.
 * Table-driven: every row is an input, a range and the expected code and value. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include <agent-broker/plugin.h>

#include "../support/check_runner.h"

struct i64_row {
    double v;
    int64_t lo, hi;
    int rc;
    int64_t want;
};

static const struct i64_row i64_rows[] = {
    {0.0, 0, 10, 0, 0},
    {10.0, 0, 10, 0, 10},
    {10.9, 0, 10, 0, 10}, /* truncated toward zero */
    {11.0, 0, 10, AB_ERANGE, 0},
    {-1.0, 0, 10, AB_ERANGE, 0},
    {-0.5, 0, 10, 0, 0},
    {-2.5, -5, 5, 0, -2},
    {1e300, INT64_MIN, INT64_MAX, AB_ERANGE, 0},
    {-1e300, INT64_MIN, INT64_MAX, AB_ERANGE, 0},
    {9223372036854775808.0, INT64_MIN, INT64_MAX, AB_ERANGE, 0}, /* 2^63 */
    {9223372036854774784.0, INT64_MIN, INT64_MAX, 0, 9223372036854774784LL},
    {-9223372036854775808.0, INT64_MIN, INT64_MAX, 0, INT64_MIN},
    {2147483648.0, INT32_MIN, INT32_MAX, AB_ERANGE, 0},
    {-2147483648.0, INT32_MIN, INT32_MAX, 0, INT32_MIN},
};

START_TEST(doubles_to_i64_are_range_checked)
{
    for (size_t i = 0; i < sizeof(i64_rows) / sizeof(i64_rows[0]); i++) {
        const struct i64_row *r = &i64_rows[i];
        int64_t out = 12345;
        ck_assert_msg(ab_double_to_i64(r->v, r->lo, r->hi, &out) == r->rc, "row %zu", i);
        ck_assert_msg(out == (r->rc ? 12345 : r->want), "row %zu: %lld", i, (long long)out);
    }
}
END_TEST

START_TEST(nan_and_infinities_are_rejected)
{
    int64_t i = 7;
    uint64_t u = 7;

    ck_assert_int_eq(ab_double_to_i64(NAN, INT64_MIN, INT64_MAX, &i), AB_ERANGE);
    ck_assert_int_eq(ab_double_to_i64(INFINITY, INT64_MIN, INT64_MAX, &i), AB_ERANGE);
    ck_assert_int_eq(ab_double_to_i64(-INFINITY, INT64_MIN, INT64_MAX, &i), AB_ERANGE);
    ck_assert_int_eq(ab_double_to_u64(NAN, 0, UINT64_MAX, &u), AB_ERANGE);
    ck_assert_int_eq(ab_double_to_u64(INFINITY, 0, UINT64_MAX, &u), AB_ERANGE);
    ck_assert_int_eq(ab_double_to_u64(-INFINITY, 0, UINT64_MAX, &u), AB_ERANGE);
    ck_assert_int_eq(i, 7);
    ck_assert_uint_eq(u, 7);
}
END_TEST

struct u64_row {
    double v;
    uint64_t lo, hi;
    int rc;
    uint64_t want;
};

static const struct u64_row u64_rows[] = {
    {0.0, 0, 10, 0, 0},
    {-0.9, 0, 10, 0, 0},
    {-1.0, 0, UINT64_MAX, AB_ERANGE, 0},
    {41250.0, 1, 600000, 0, 41250},
    {0.5, 1, 600000, AB_ERANGE, 0},
    {1e300, 0, UINT64_MAX, AB_ERANGE, 0},
    {18446744073709551616.0, 0, UINT64_MAX, AB_ERANGE, 0}, /* 2^64 */
    {18446744073709549568.0, 0, UINT64_MAX, 0, 18446744073709549568ULL},
    {1e18, 0, 86400000, AB_ERANGE, 0},
};

START_TEST(doubles_to_u64_are_range_checked)
{
    for (size_t i = 0; i < sizeof(u64_rows) / sizeof(u64_rows[0]); i++) {
        const struct u64_row *r = &u64_rows[i];
        uint64_t out = 12345;
        ck_assert_msg(ab_double_to_u64(r->v, r->lo, r->hi, &out) == r->rc, "row %zu", i);
        ck_assert_msg(out == (r->rc ? 12345 : r->want), "row %zu: %llu", i,
                      (unsigned long long)out);
    }
}
END_TEST

struct str_row {
    const char *s;
    int64_t lo, hi;
    int rc;
    int64_t want;
};

static const struct str_row str_rows[] = {
    {"42", 0, 100, 0, 42},
    {"-3", -10, 10, 0, -3},
    {"", 0, 100, AB_EINVAL, 0},
    {NULL, 0, 100, AB_EINVAL, 0},
    {"4x", 0, 100, AB_EINVAL, 0},
    {"x", 0, 100, AB_EINVAL, 0},
    {"101", 0, 100, AB_ERANGE, 0},
    {"99999999999999999999999", INT64_MIN, INT64_MAX, AB_ERANGE, 0},
    {"-99999999999999999999999", INT64_MIN, INT64_MAX, AB_ERANGE, 0},
    {"9223372036854775807", INT64_MIN, INT64_MAX, 0, INT64_MAX},
};

START_TEST(strings_to_i64_are_whole_and_in_range)
{
    for (size_t i = 0; i < sizeof(str_rows) / sizeof(str_rows[0]); i++) {
        const struct str_row *r = &str_rows[i];
        int64_t out = 12345;
        ck_assert_msg(ab_str_to_i64(r->s, r->lo, r->hi, &out) == r->rc, "row %zu", i);
        ck_assert_msg(out == (r->rc ? 12345 : r->want), "row %zu", i);
    }
    ck_assert_str_eq(ab_strerror(AB_ERANGE), "number out of range");
}
END_TEST

int
main(void)
{
    const TTest *tests[] = {doubles_to_i64_are_range_checked, nan_and_infinities_are_rejected,
                            doubles_to_u64_are_range_checked, strings_to_i64_are_whole_and_in_range,
                            NULL};

    return check_run_list("convert", 0, tests);
}
