/* Lexing TOML's date and time values (RFC 3339 profiles): offset date-time, local
 * date-time, local date and local time, with range checks on every field. */
#include <stdlib.h>
#include <string.h>

#include "toml_parser.h"

/* The fields of one value as read, before it is classified. */
struct toml_datetime_fields {
    bool has_date;
    bool has_time;
    bool has_offset;
};

/* True when @n bytes at @s exist before @e and are all digits. */
static bool
toml_datetime_has_digits(const char *s, const char *e, int n)
{
    if (e - s < n)
        return false;
    for (int i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* Read @n digits at ps->p as a number in [lo, hi]; @what names the field. */
static int
toml_datetime_field(struct toml_parser *ps, int n, int lo, int hi, const char *what, int *out)
{
    int v = 0;

    if (!toml_datetime_has_digits(ps->p, ps->end, n))
        return toml_parser_fail(ps, ps->p, "expected %d-digit %s in date/time", n, what);
    for (int i = 0; i < n; i++)
        v = v * 10 + (ps->p[i] - '0');
    if (v < lo || v > hi)
        return toml_parser_fail(ps, ps->p, "%s %.*s out of range %0*d-%0*d in date/time", what, n,
                                ps->p, n, lo, n, hi);
    ps->p += n;
    *out = v;
    return 0;
}

/* Consume the separator @c or fail naming it. */
static int
toml_datetime_sep(struct toml_parser *ps, char c, const char *after)
{
    if (ps->p >= ps->end || *ps->p != c)
        return toml_parser_fail(ps, ps->p, "expected '%c' after %s in date/time", c, after);
    ps->p++;
    return 0;
}

/* The number of days in @month of @year (Gregorian leap rules). */
static int
toml_datetime_days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    return month == 2 && leap ? 29 : days[month - 1];
}

/* YYYY-MM-DD with the day checked against the month. */
static int
toml_datetime_date(struct toml_parser *ps)
{
    int y = 0, m = 0, d = 0;

    if (toml_datetime_field(ps, 4, 0, 9999, "year", &y) < 0 ||
        toml_datetime_sep(ps, '-', "the year") < 0 ||
        toml_datetime_field(ps, 2, 1, 12, "month", &m) < 0 ||
        toml_datetime_sep(ps, '-', "the month") < 0)
        return -1;
    const char *day = ps->p;
    if (toml_datetime_field(ps, 2, 1, 31, "day", &d) < 0)
        return -1;
    if (d > toml_datetime_days_in_month(y, m))
        return toml_parser_fail(ps, day, "day %02d does not exist in %04d-%02d", d, y, m);
    return 0;
}

/* HH:MM:SS[.fraction]; seconds are required in TOML 1.0, 60 is a leap second. */
static int
toml_datetime_time(struct toml_parser *ps)
{
    int h, m, s;

    if (toml_datetime_field(ps, 2, 0, 23, "hour", &h) < 0 ||
        toml_datetime_sep(ps, ':', "the hour") < 0 ||
        toml_datetime_field(ps, 2, 0, 59, "minute", &m) < 0 ||
        toml_datetime_sep(ps, ':', "the minute (seconds are required)") < 0 ||
        toml_datetime_field(ps, 2, 0, 60, "second", &s) < 0)
        return -1;
    if (ps->p < ps->end && *ps->p == '.') {
        ps->p++;
        if (!toml_datetime_has_digits(ps->p, ps->end, 1))
            return toml_parser_fail(ps, ps->p, "expected digits after '.' in time");
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
            ps->p++;
    }
    return 0;
}

/* Z or +HH:MM / -HH:MM after a date-time. Returns 1 when present. */
static int
toml_datetime_offset(struct toml_parser *ps)
{
    int h, m;

    if (ps->p >= ps->end)
        return 0;
    if (*ps->p == 'Z' || *ps->p == 'z') {
        ps->p++;
        return 1;
    }
    if (*ps->p != '+' && *ps->p != '-')
        return 0;
    ps->p++;
    if (toml_datetime_field(ps, 2, 0, 23, "offset hour", &h) < 0 ||
        toml_datetime_sep(ps, ':', "the offset hour") < 0 ||
        toml_datetime_field(ps, 2, 0, 59, "offset minute", &m) < 0)
        return -1;
    return 1;
}

/* Does a date (DDDD-) or a time (DD:) start here? */
bool
toml_datetime_ahead(const struct toml_parser *ps)
{
    if (toml_datetime_has_digits(ps->p, ps->end, 4) && ps->end - ps->p > 4 && ps->p[4] == '-')
        return true;
    return toml_datetime_has_digits(ps->p, ps->end, 2) && ps->end - ps->p > 2 && ps->p[2] == ':';
}

/* Scan and classify a date/time, keeping its text with 'T' and 'Z' normalised. */
int
toml_datetime_scan(struct toml_parser *ps, struct toml_value *out)
{
    const char *start = ps->p;
    struct toml_datetime_fields f = {0};
    char *text;
    size_t len;

    if (ps->end - ps->p > 4 && ps->p[4] == '-') {
        if (toml_datetime_date(ps) < 0)
            return -1;
        f.has_date = true;
        /* A space separates date and time only when a time follows it. */
        if (ps->p < ps->end &&
            (*ps->p == 'T' || *ps->p == 't' ||
             (*ps->p == ' ' && toml_datetime_has_digits(ps->p + 1, ps->end, 1)))) {
            ps->p++;
            if (toml_datetime_time(ps) < 0)
                return -1;
            f.has_time = true;
            int rc = toml_datetime_offset(ps);
            if (rc < 0)
                return -1;
            f.has_offset = rc > 0;
        }
    } else {
        if (toml_datetime_time(ps) < 0)
            return -1;
        f.has_time = true;
    }
    len = (size_t)(ps->p - start);
    text = malloc(len + 1);
    if (text == NULL)
        return toml_parser_fail(ps, start, "out of memory");
    memcpy(text, start, len);
    text[len] = '\0';
    if (f.has_date && f.has_time) {
        text[10] = 'T';
        if (text[len - 1] == 'z')
            text[len - 1] = 'Z';
    }
    out->type = !f.has_date    ? TOML_TIME_LOCAL
                : !f.has_time  ? TOML_DATE_LOCAL
                : f.has_offset ? TOML_DATETIME
                               : TOML_DATETIME_LOCAL;
    out->u.datetime = text;
    return 0;
}
