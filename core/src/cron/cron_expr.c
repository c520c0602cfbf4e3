/* Cron expressions and their next run (see cron_expr.h). */
#include "cron/cron_expr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <agent-broker/errors.h>

#define CRON_TEXT_MAX 256
#define CRON_SEARCH_DAYS (8 * 366 + 2)

static const char *const cron_months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const cron_days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

struct cron_field {
    const char *name;
    int lo, hi;
    const char *const *names; /* three-letter names for lo.., or NULL */
};

static const struct cron_field cron_fields[5] = {
    {"minute", 0, 59, NULL},          {"hour", 0, 23, NULL},
    {"day of month", 1, 31, NULL},    {"month", 1, 12, cron_months},
    {"day of week", 0, 7, cron_days},
};

/* See cron_expr.h (H. Hinnant's days_from_civil). */
int64_t
cron_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* See cron_expr.h. */
void
cron_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* One number or name of field @f at *@p. */
static bool
cron_value(const struct cron_field *f, const char **p, int *out)
{
    const char *s = *p;

    if (f->names && strlen(s) >= 3) {
        for (int i = 0; i < (f == &cron_fields[3] ? 12 : 7); i++) {
            if (strncasecmp(s, f->names[i], 3) == 0) {
                *out = f->lo + i;
                *p = s + 3;
                return true;
            }
        }
    }
    if (*s < '0' || *s > '9')
        return false;
    int v = 0;
    while (*s >= '0' && *s <= '9' && v <= 1000)
        v = v * 10 + (*s++ - '0');
    *out = v;
    *p = s;
    return true;
}

/* Parse field @f (@s, NUL-terminated) into bit set @bits; *@star when it is "*". */
static int
cron_field_parse(const struct cron_field *f, const char *s, uint64_t *bits, bool *star, char *err,
                 size_t errlen)
{
    const char *p = s;

    *bits = 0;
    *star = strcmp(s, "*") == 0;
    for (;;) {
        int lo, hi, step = 1;
        if (*p == '*') {
            lo = f->lo;
            hi = f->hi == 7 ? 6 : f->hi;
            p++;
        } else {
            if (!cron_value(f, &p, &lo))
                goto bad;
            hi = lo;
            if (*p == '-') {
                p++;
                if (!cron_value(f, &p, &hi))
                    goto bad;
            }
        }
        if (*p == '/') {
            p++;
            if (*p < '1' || *p > '9' || !cron_value(f, &p, &step) || step < 1)
                goto bad;
            if (hi == lo && s[0] != '*')
                hi = f->hi == 7 ? 6 : f->hi; /* "N/S": from N to the end */
        }
        if (lo < f->lo || hi > f->hi || lo > hi || step > f->hi + 1) {
            snprintf(err, errlen, "%s field \"%.40s\": values are %d-%d", f->name, s, f->lo, f->hi);
            return AB_EINVAL;
        }
        for (int v = lo; v <= hi; v += step)
            *bits |= 1ULL << (f->hi == 7 && v == 7 ? 0 : v);
        if (*p == '\0')
            return 0;
        if (*p++ != ',')
            goto bad;
    }

bad:
    snprintf(err, errlen, "%s field \"%.40s\" is not a number, range, list or step", f->name, s);
    return AB_EINVAL;
}

/* See cron_expr.h. */
int
cron_parse(const char *text, struct cron_expr *out, char *err, size_t errlen)
{
    static const struct {
        const char *name, *expr;
    } macros[] = {{"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
                  {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
                  {"@hourly", "0 * * * *"}};
    char buf[CRON_TEXT_MAX + 1], *field[5], *save = NULL, *tok;
    uint64_t bits[5];
    bool star[5];
    int n = 0, rc;

    if (strlen(text) > CRON_TEXT_MAX) {
        snprintf(err, errlen, "longer than %d bytes", CRON_TEXT_MAX);
        return AB_EINVAL;
    }
    if (text[0] == '@') {
        for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++)
            if (strcasecmp(text, macros[i].name) == 0)
                return cron_parse(macros[i].expr, out, err, errlen);
        snprintf(err, errlen, "unknown \"%.20s\" (@yearly @monthly @weekly @daily @hourly)", text);
        return AB_EINVAL;
    }
    strcpy(buf, text);
    for (tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        if (n == 5) {
            n++;
            break;
        }
        field[n++] = tok;
    }
    if (n != 5) {
        snprintf(err, errlen,
                 "needs 5 fields (minute hour day-of-month month day-of-week), not %s%d",
                 n > 5 ? "more than " : "", n > 5 ? 5 : n);
        return AB_EINVAL;
    }
    for (int i = 0; i < 5; i++)
        if ((rc = cron_field_parse(&cron_fields[i], field[i], &bits[i], &star[i], err, errlen)) < 0)
            return rc;
    out->minute = bits[0];
    out->hour = (uint32_t)bits[1];
    out->dom = (uint32_t)bits[2];
    out->month = (uint16_t)bits[3];
    out->dow = (uint8_t)bits[4];
    out->dom_star = star[2];
    out->dow_star = star[4];
    return 0;
}

/* Whether local day @days (since the epoch) matches @e's day fields. */
static bool
cron_day_matches(const struct cron_expr *e, int64_t days)
{
    int64_t y;
    int m, d, wday = (int)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday */
    bool dm, wm;

    cron_civil_from_days(days, &y, &m, &d);
    if (!(e->month >> m & 1))
        return false;
    dm = e->dom >> d & 1;
    wm = e->dow >> wday & 1;
    /* POSIX: both restricted = either matches; otherwise both (one is all days) */
    return !e->dom_star && !e->dow_star ? dm || wm : dm && wm;
}

/* The UTC instant of local wall-clock time @w (seconds, local time as if UTC) in
 * @tz: its first occurrence; inside a spring-forward gap, the end of the gap. */
static int64_t
cron_local_to_utc(const struct tz *tz, int64_t w)
{
    int32_t before = tz_offset(tz, w - 90000), after = tz_offset(tz, w + 90000);
    int64_t a = w - before, b = w - after, lo, hi;
    bool va = tz_offset(tz, a) == before, vb = tz_offset(tz, b) == after;

    if (va && vb)
        return a < b ? a : b;
    if (va)
        return a;
    if (vb)
        return b;
    /* A gap: the transition lies between the two readings; find its instant. */
    lo = a < b ? a : b;
    hi = a < b ? b : a;
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (tz_offset(tz, mid) == after)
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

/* See cron_expr.h. */
int64_t
cron_next(const struct cron_expr *e, const struct tz *tz, int64_t after)
{
    int64_t local = after + tz_offset(tz, after);
    int64_t day0 = local / 86400 - (local % 86400 < 0) - 1;

    for (int64_t day = day0; day < day0 + CRON_SEARCH_DAYS; day++) {
        if (!cron_day_matches(e, day))
            continue;
        for (int h = 0; h < 24; h++) {
            if (!(e->hour >> h & 1))
                continue;
            for (int mi = 0; mi < 60; mi++) {
                if (!(e->minute >> mi & 1))
                    continue;
                int64_t u = cron_local_to_utc(tz, day * 86400 + h * 3600 + mi * 60);
                u += (60 - ((u % 60) + 60) % 60) % 60; /* a gap's end on a minute */
                if (u > after)
                    return u;
            }
        }
    }
    return -1;
}
