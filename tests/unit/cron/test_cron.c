/* The cron expression parser and the next run in a time zone, across DST boundaries
 * (America/New_York, Europe/London, Australia/Lord_Howe's 30-minute shift), inside and
 * beyond the TZif transition table (the footer's rule), and zone names. */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include <agent-broker/errors.h>

#include "cron/cron_expr.h"
#include "cron/tz.h"
#include "../support/check_runner.h"

/* The zone @name, asserted to load. */
static struct tz *
zone(const char *name)
{
    struct tz *tz = NULL;
    char err[200];

    ck_assert_msg(tz_load(NULL, name, &tz, err, sizeof(err)) == 0, "%s", err);
    return tz;
}

/* The next run of @expr in @zone_name after @after. */
static int64_t
next_in(const char *expr, const char *zone_name, int64_t after)
{
    struct cron_expr e;
    char err[200];
    struct tz *tz = zone(zone_name);
    int64_t n;

    ck_assert_msg(cron_parse(expr, &e, err, sizeof(err)) == 0, "%s: %s", expr, err);
    n = cron_next(&e, tz, after);
    tz_free(tz);
    return n;
}

START_TEST(parses_fields_names_steps_and_macros)
{
    struct cron_expr e;
    char err[200];

    ck_assert_int_eq(cron_parse("*/15 9-17 * * MON-fri", &e, err, sizeof(err)), 0);
    ck_assert_uint_eq(e.minute, (1ULL << 0) | (1ULL << 15) | (1ULL << 30) | (1ULL << 45));
    ck_assert_uint_eq(e.hour, 0x3fe00);
    ck_assert_uint_eq(e.dow, 0x3e);
    ck_assert(e.dom_star);
    ck_assert(!e.dow_star);
    ck_assert_int_eq(cron_parse("0 0 1,15 jan,JUL 7", &e, err, sizeof(err)), 0);
    ck_assert_uint_eq(e.dow, 1); /* 7 is Sunday */
    ck_assert_uint_eq(e.month, (1 << 1) | (1 << 7));
    ck_assert_int_eq(cron_parse("5/20 * * * *", &e, err, sizeof(err)), 0);
    ck_assert_uint_eq(e.minute, (1ULL << 5) | (1ULL << 25) | (1ULL << 45));
    ck_assert_int_eq(cron_parse("@daily", &e, err, sizeof(err)), 0);
    ck_assert_uint_eq(e.minute, 1);
    ck_assert_uint_eq(e.hour, 1);
}
END_TEST

START_TEST(rejects_bad_expressions_with_a_reason)
{
    static const char *const bad[] = {"",
                                      "* * * *",
                                      "* * * * * *",
                                      "60 * * * *",
                                      "* 24 * * *",
                                      "* * 0 * *",
                                      "* * * 13 *",
                                      "* * * * 8",
                                      "5-1 * * * *",
                                      "*/0 * * * *",
                                      "a * * * *",
                                      "1,,2 * * * *",
                                      "@often",
                                      "1- * * * *",
                                      "*/ * * * *",
                                      "99999999999 * * * *"};
    struct cron_expr e;
    char err[200];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ck_assert_msg(cron_parse(bad[i], &e, err, sizeof(err)) == AB_EINVAL, "%s", bad[i]);
        ck_assert_msg(err[0] != '\0', "%s: no reason", bad[i]);
    }
    ck_assert_int_eq(cron_parse("* 24 * * *", &e, err, sizeof(err)), AB_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "hour"));
}
END_TEST

START_TEST(weekdays_and_posix_day_or)
{
    /* Saturday 2026-12-05 12:00Z: weekdays at 09:00 -> Monday 2026-12-07 09:00Z */
    ck_assert_int_eq(next_in("0 9 * * 1-5", "UTC", 1796472000), 1796634000);
    /* both day fields restricted: the 13th OR a Friday; from Sat 12-05: Fri 12-11 */
    ck_assert_int_eq(next_in("0 0 13 * 5", "UTC", 1796472000), 1796947200);
    ck_assert_int_eq(next_in("0 0 30 2 *", "UTC", 1796472000), -1);
}
END_TEST

START_TEST(new_york_spring_forward_runs_once_after_the_gap)
{
    /* 2026-03-08 02:30 does not exist: the job runs at 03:00 EDT (07:00Z), once */
    ck_assert_int_eq(next_in("30 2 * * *", "America/New_York", 1772946000), 1772953200);
    ck_assert_int_eq(next_in("30 2 * * *", "America/New_York", 1772953200), 1773037800);
    /* every quarter hour: 02:00..02:45 collapse into that one run */
    ck_assert_int_eq(next_in("*/15 * * * *", "America/New_York", 1772953200 - 60), 1772953200);
    ck_assert_int_eq(next_in("*/15 * * * *", "America/New_York", 1772953200), 1772953200 + 900);
}
END_TEST

START_TEST(new_york_fall_back_runs_the_repeated_hour_once)
{
    /* 2026-11-01 01:30 happens twice: once, at 01:30 EDT (05:30Z); then 11-02 */
    ck_assert_int_eq(next_in("30 1 * * *", "America/New_York", 1793505600), 1793511000);
    ck_assert_int_eq(next_in("30 1 * * *", "America/New_York", 1793511000), 1793601000);
}
END_TEST

START_TEST(london_both_boundaries)
{
    /* 2026-03-29 01:30 skipped: 02:00 BST (01:00Z) */
    ck_assert_int_eq(next_in("30 1 * * *", "Europe/London", 1774742400), 1774746000);
    /* 2026-10-25 01:30 twice: first (00:30Z), then 10-26 01:30 GMT */
    ck_assert_int_eq(next_in("30 1 * * *", "Europe/London", 1792886400), 1792888200);
    ck_assert_int_eq(next_in("30 1 * * *", "Europe/London", 1792888200), 1792978200);
}
END_TEST

START_TEST(lord_howe_half_hour_shift)
{
    /* 2026-04-05: 01:30-02:00 repeats (+11 -> +10:30): 01:45 once, at 14:45Z */
    ck_assert_int_eq(next_in("45 1 * * *", "Australia/Lord_Howe", 1775307600), 1775313900);
    ck_assert_int_eq(next_in("45 1 * * *", "Australia/Lord_Howe", 1775313900), 1775402100);
    /* 2026-10-04: 02:00-02:30 skipped: 02:15 runs at 02:30 (+11), 15:30Z */
    ck_assert_int_eq(next_in("15 2 * * *", "Australia/Lord_Howe", 1791034200), 1791041400);
}
END_TEST

START_TEST(beyond_the_table_the_footer_rule_applies)
{
    /* 2040: past the 2037 end of a fat TZif table */
    ck_assert_int_eq(next_in("30 2 * * *", "America/New_York", 2215054800), 2215062000);
    ck_assert_int_eq(next_in("15 2 * * *", "Australia/Lord_Howe", 2233143000), 2233150200);
}
END_TEST

START_TEST(zone_names_are_checked)
{
    struct tz *tz = NULL;
    char err[200];

    ck_assert_int_eq(tz_load(NULL, "../../etc/passwd", &tz, err, sizeof(err)), AB_EINVAL);
    ck_assert_int_eq(tz_load(NULL, "/etc/passwd", &tz, err, sizeof(err)), AB_EINVAL);
    ck_assert_int_eq(tz_load(NULL, "Mars/Olympus_Mons", &tz, err, sizeof(err)), AB_ENOENT);
    ck_assert_ptr_nonnull(strstr(err, "Mars/Olympus_Mons"));
    ck_assert_int_eq(tz_load(NULL, "UTC", &tz, err, sizeof(err)), 0);
    ck_assert_int_eq(tz_offset(tz, 1796472000), 0);
    tz_free(tz);
    ck_assert_int_eq(tz_parse((const unsigned char *)"TZif2 nonsense", 14, &tz), AB_EINVAL);
}
END_TEST

/* Register the cases of this file. */
static Suite *
cron_suite(void)
{
    Suite *s = suite_create("cron");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, parses_fields_names_steps_and_macros);
    tcase_add_test(tc, rejects_bad_expressions_with_a_reason);
    tcase_add_test(tc, weekdays_and_posix_day_or);
    tcase_add_test(tc, new_york_spring_forward_runs_once_after_the_gap);
    tcase_add_test(tc, new_york_fall_back_runs_the_repeated_hour_once);
    tcase_add_test(tc, london_both_boundaries);
    tcase_add_test(tc, lord_howe_half_hour_shift);
    tcase_add_test(tc, beyond_the_table_the_footer_rule_applies);
    tcase_add_test(tc, zone_names_are_checked);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return check_run_suite(cron_suite());
}
