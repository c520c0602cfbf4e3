/* Time zones from TZif files (see tz.h). */
#include "cron/tz.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#include "cron/cron_expr.h"

#define TZ_FILE_MAX (1 << 20)

/* A POSIX TZ rule "Mm.w.d/time": month, week (5 = last), weekday, seconds after
 * local midnight. */
struct tz_rule {
    int month, week, wday;
    int32_t time;
};

struct tz {
    int64_t *trans; /* owned: transition instants, ascending */
    uint8_t *idx;   /* owned: the type index after each transition */
    int32_t *types; /* owned: each type's UTC offset */
    size_t ntrans, ntypes;
    bool has_rule; /* the footer's rule applies after the last transition */
    bool rule_dst; /* the rule has a DST part */
    int32_t std_off, dst_off;
    struct tz_rule start, end;
};

/* Free a zone. */
void
tz_free(struct tz *tz)
{
    if (!tz)
        return;
    free(tz->trans);
    free(tz->idx);
    free(tz->types);
    free(tz);
}

/* A big-endian signed integer of @n bytes. */
static int64_t
tz_be(const unsigned char *p, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    if (n == 4)
        return (int32_t)(uint32_t)v;
    return (int64_t)v;
}

/* Parse [+-]hh[:mm[:ss]] at *@s into seconds; false when malformed. */
static bool
tz_hms(const char **s, int32_t *out)
{
    const char *p = *s;
    int sign = 1, part[3] = {0, 0, 0}, n = 0;

    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    for (;;) {
        int v = 0, digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 3) {
            v = v * 10 + (*p++ - '0');
            digits++;
        }
        if (!digits)
            return false;
        part[n++] = v;
        if (n == 3 || *p != ':')
            break;
        p++;
    }
    if (part[0] > 167 || part[1] > 59 || part[2] > 59)
        return false;
    *out = sign * (part[0] * 3600 + part[1] * 60 + part[2]);
    *s = p;
    return true;
}

/* Skip a zone abbreviation (letters, or <...>); false when malformed. */
static bool
tz_abbr(const char **s)
{
    const char *p = *s;

    if (*p == '<') {
        while (*p && *p != '>')
            p++;
        if (*p != '>')
            return false;
        p++;
    } else {
        while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
            p++;
    }
    if (p - *s < 3)
        return false;
    *s = p;
    return true;
}

/* Parse ",Mm.w.d[/time]" at *@s. */
static bool
tz_rule_parse(const char **s, struct tz_rule *r)
{
    const char *p = *s;
    char *end;
    long v[3];

    if (*p++ != ',' || *p++ != 'M')
        return false; /* Jn and n forms are not used by the tz database's footers */
    for (int i = 0; i < 3; i++) {
        v[i] = strtol(p, &end, 10);
        if (end == p)
            return false;
        p = end;
        if (i < 2 && *p++ != '.')
            return false;
    }
    if (v[0] < 1 || v[0] > 12 || v[1] < 1 || v[1] > 5 || v[2] < 0 || v[2] > 6)
        return false;
    r->month = (int)v[0];
    r->week = (int)v[1];
    r->wday = (int)v[2];
    r->time = 7200;
    if (*p == '/') {
        p++;
        if (!tz_hms(&p, &r->time))
            return false;
    }
    *s = p;
    return true;
}

/* Parse the footer's POSIX TZ string (@s, NUL-terminated). */
static bool
tz_footer(struct tz *tz, const char *s)
{
    int32_t off;

    if (!tz_abbr(&s) || !tz_hms(&s, &off))
        return false;
    tz->std_off = -off;
    if (!*s) {
        tz->has_rule = true;
        return true;
    }
    if (!tz_abbr(&s))
        return false;
    tz->dst_off = tz->std_off + 3600;
    if (*s && *s != ',') {
        if (!tz_hms(&s, &off))
            return false;
        tz->dst_off = -off;
    }
    if (!tz_rule_parse(&s, &tz->start) || !tz_rule_parse(&s, &tz->end) || *s)
        return false;
    tz->has_rule = tz->rule_dst = true;
    return true;
}

/* See tz.h. */
int
tz_parse(const unsigned char *buf, size_t len, struct tz **out)
{
    const unsigned char *p = buf, *end = buf + len;
    struct tz *tz;
    int64_t cnt[6];
    int tsize = 4;
    size_t skip;

    if (len < 44 || memcmp(buf, "TZif", 4) != 0)
        return AB_EINVAL;
    for (int pass = 0; pass < 2; pass++) {
        if (end - p < 44 || memcmp(p, "TZif", 4) != 0)
            return AB_EINVAL;
        for (int i = 0; i < 6; i++) {
            cnt[i] = tz_be(p + 20 + 4 * i, 4);
            if (cnt[i] < 0 || cnt[i] > 100000)
                return AB_EINVAL;
        }
        /* isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt */
        skip = (size_t)(cnt[3] * tsize + cnt[3] + cnt[4] * 6 + cnt[5] + cnt[2] * (tsize + 4) +
                        cnt[1] + cnt[0]);
        if (pass == 0 && buf[4] >= '2') { /* skip the 32-bit block to the 64-bit one */
            if ((size_t)(end - p) < 44 + skip)
                return AB_EINVAL;
            p += 44 + skip;
            tsize = 8;
            continue;
        }
        break;
    }
    if ((size_t)(end - p) < 44 + skip || cnt[4] < 1)
        return AB_EINVAL;
    if (!(tz = calloc(1, sizeof(*tz))))
        return AB_ENOMEM;
    tz->ntrans = (size_t)cnt[3];
    tz->ntypes = (size_t)cnt[4];
    if (!(tz->trans = calloc(tz->ntrans + 1, sizeof(*tz->trans))) ||
        !(tz->idx = calloc(tz->ntrans + 1, 1)) ||
        !(tz->types = calloc(tz->ntypes, sizeof(*tz->types)))) {
        tz_free(tz);
        return AB_ENOMEM;
    }
    p += 44;
    for (size_t i = 0; i < tz->ntrans; i++, p += tsize) {
        tz->trans[i] = tz_be(p, tsize);
        if (i > 0 && tz->trans[i] <= tz->trans[i - 1])
            goto bad;
    }
    for (size_t i = 0; i < tz->ntrans; i++, p++) {
        if (*p >= tz->ntypes)
            goto bad;
        tz->idx[i] = *p;
    }
    for (size_t i = 0; i < tz->ntypes; i++, p += 6) {
        int64_t off = tz_be(p, 4);
        if (off < -25 * 3600 || off > 26 * 3600)
            goto bad;
        tz->types[i] = (int32_t)off;
    }
    p += cnt[5] + cnt[2] * (tsize + 4) + cnt[1] + cnt[0];
    if (tsize == 8 && p < end && *p == '\n') {
        const unsigned char *nl = memchr(p + 1, '\n', (size_t)(end - p - 1));
        char footer[128];
        if (nl && nl - p - 1 > 0 && nl - p - 1 < (long)sizeof(footer)) {
            memcpy(footer, p + 1, (size_t)(nl - p - 1));
            footer[nl - p - 1] = '\0';
            if (!tz_footer(tz, footer))
                tz->has_rule = tz->rule_dst = false; /* the last type stays in force */
        }
    }
    *out = tz;
    return 0;

bad:
    tz_free(tz);
    return AB_EINVAL;
}

/* The UTC instant of rule @r in @year, given the offset in force before it. */
static int64_t
tz_rule_at(const struct tz_rule *r, int64_t year, int32_t off_before)
{
    int64_t first = cron_days_from_civil(year, r->month, 1);
    int wday_first = (int)(((first % 7) + 11) % 7); /* 1970-01-01 was a Thursday (4) */
    int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    int ndays = dim[r->month - 1] + (r->month == 2 && leap);
    int day = 1 + (r->wday - wday_first + 7) % 7 + 7 * (r->week - 1);

    while (day > ndays)
        day -= 7;
    return (first + day - 1) * 86400 + r->time - off_before;
}

/* See tz.h. */
int32_t
tz_offset(const struct tz *tz, int64_t t)
{
    size_t lo = 0, hi;

    if (!tz)
        return 0;
    if (tz->ntrans > 0 && t < tz->trans[0])
        return tz->types[0];
    if (tz->has_rule && (tz->ntrans == 0 || t >= tz->trans[tz->ntrans - 1])) {
        int64_t y, s, e;
        int m, d;
        if (!tz->rule_dst)
            return tz->std_off;
        cron_civil_from_days((t + tz->std_off) / 86400 - ((t + tz->std_off) % 86400 < 0), &y, &m,
                             &d);
        s = tz_rule_at(&tz->start, y, tz->std_off);
        e = tz_rule_at(&tz->end, y, tz->dst_off);
        if (s < e)
            return t >= s && t < e ? tz->dst_off : tz->std_off;
        return t >= e && t < s ? tz->std_off : tz->dst_off; /* southern hemisphere */
    }
    if (tz->ntrans == 0)
        return tz->types[0];
    hi = tz->ntrans;
    while (hi - lo > 1) { /* the last transition at or before t */
        size_t mid = lo + (hi - lo) / 2;
        if (tz->trans[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return tz->types[tz->idx[lo]];
}

/* Whether @name is a plausible zone name (no way out of the zone directory). */
static bool
tz_name_ok(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > 64 || name[0] == '/' || strstr(name, ".."))
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '/' || *p == '_' || *p == '+' || *p == '-'))
            return false;
    return true;
}

/* See tz.h. */
int
tz_load(const char *dir, const char *name, struct tz **out, char *err, size_t errlen)
{
    char path[512];
    unsigned char *buf;
    size_t len;
    FILE *fp;
    int rc;

    if (!tz_name_ok(name)) {
        snprintf(err, errlen, "\"%.64s\" is not a time zone name (like \"Europe/London\")", name);
        return AB_EINVAL;
    }
    snprintf(path, sizeof(path), "%s/%s", dir ? dir : "/usr/share/zoneinfo", name);
    if (!(fp = fopen(path, "rb"))) {
        if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0) {
            if (!(*out = calloc(1, sizeof(**out))) ||
                !((*out)->types = calloc(1, sizeof(int32_t)))) {
                tz_free(*out);
                return AB_ENOMEM;
            }
            (*out)->ntypes = 1;
            return 0;
        }
        snprintf(err, errlen, "unknown time zone \"%s\" (no %s)", name, path);
        return AB_ENOENT;
    }
    if (!(buf = malloc(TZ_FILE_MAX))) {
        fclose(fp);
        return AB_ENOMEM;
    }
    len = fread(buf, 1, TZ_FILE_MAX, fp);
    fclose(fp);
    rc = tz_parse(buf, len, out);
    free(buf);
    if (rc == AB_EINVAL)
        snprintf(err, errlen, "%s is not a TZif time zone file", path);
    return rc;
}
