/* agent-broker plugin ABI: range-checked number conversions for values that come from
 * a platform or an agent (JSON doubles, header text). A double cast to an integer type
 * it does not fit is undefined behaviour in C; these reject NaN, ±inf and anything
 * outside [lo, hi] instead, so the caller can log it and skip the message or default
 * the field. Header-only (static inline): the core and plugins share one copy. */
#ifndef AGENT_BROKER_CONVERT_H
#define AGENT_BROKER_CONVERT_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <agent-broker/errors.h>

/* 2^63 and 2^64 as doubles: the first values past INT64_MAX and UINT64_MAX. */
#define AB_CONVERT_2P63 9223372036854775808.0
#define AB_CONVERT_2P64 18446744073709551616.0

/* @v truncated toward zero into *out when it is a number whose integer part lies in
 * [@lo, @hi]; else AB_ERANGE and *out is untouched. */
static inline int
ab_double_to_i64(double v, int64_t lo, int64_t hi, int64_t *out)
{
    int64_t t;

    /* NaN fails both comparisons. */
    if (!(v >= -AB_CONVERT_2P63 && v < AB_CONVERT_2P63))
        return AB_ERANGE;
    t = (int64_t)v;
    if (t < lo || t > hi)
        return AB_ERANGE;
    *out = t;
    return 0;
}

/* As ab_double_to_i64 for unsigned results. */
static inline int
ab_double_to_u64(double v, uint64_t lo, uint64_t hi, uint64_t *out)
{
    uint64_t t;

    if (!(v > -1.0 && v < AB_CONVERT_2P64))
        return AB_ERANGE;
    t = (uint64_t)v;
    if (t < lo || t > hi)
        return AB_ERANGE;
    *out = t;
    return 0;
}

/* The whole of @s as a base-10 integer in [@lo, @hi] into *out: no empty string, no
 * trailing bytes, no overflow. Else AB_ERANGE (out of range) or AB_EINVAL (not a
 * number), *out untouched. */
static inline int
ab_str_to_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    long long v;
    int saved = errno;

    if (!s || !*s)
        return AB_EINVAL;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (end == s || *end != '\0') {
        errno = saved;
        return AB_EINVAL;
    }
    if (errno == ERANGE || v < lo || v > hi) {
        errno = saved;
        return AB_ERANGE;
    }
    errno = saved;
    *out = v;
    return 0;
}

#endif
