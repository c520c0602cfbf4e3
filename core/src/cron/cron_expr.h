/* Five-field cron expressions (minute hour day-of-month month day-of-week, POSIX
 * semantics) and the next run in a time zone, DST included. */
#ifndef AB_CRON_CRON_EXPR_H
#define AB_CRON_CRON_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cron/tz.h"

struct cron_expr {
    uint64_t minute;         /* bit n = minute n (0-59) */
    uint32_t hour;           /* bit n = hour n (0-23) */
    uint32_t dom;            /* bit n = day n (1-31) */
    uint16_t month;          /* bit n = month n (1-12) */
    uint8_t dow;             /* bit n = weekday n (0 = Sunday .. 6) */
    bool dom_star, dow_star; /* the field was "*" (POSIX: a restricted day-of-month and
                                day-of-week match when either does) */
};

/* Parse @text: five fields separated by blanks, each a list of `*`, `N`, `N-M`, with an
 * optional `/STEP`; months JAN-DEC and weekdays SUN-SAT by name too (any case); weekday
 * 7 is Sunday; or one of @yearly @annually @monthly @weekly @daily @midnight @hourly.
 * Returns 0, or AB_EINVAL with a reason for people in @err (@errlen bytes). */
int cron_parse(const char *text, struct cron_expr *out, char *err, size_t errlen);

/* The first minute strictly after @after (UTC seconds) whose wall-clock time in @tz
 * matches @e, as UTC seconds; -1 when none comes within 8 years (e.g. "0 0 30 2 *").
 * DST: a local time that a spring-forward skips runs once, at the first minute after
 * the gap (several skipped times collapse into that one run); a local time that a
 * fall-back repeats runs once, at its first occurrence. */
int64_t cron_next(const struct cron_expr *e, const struct tz *tz, int64_t after);

/* Days since 1970-01-01 of a civil date (proleptic Gregorian), and back. */
int64_t cron_days_from_civil(int64_t y, int m, int d);
void cron_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

#endif
