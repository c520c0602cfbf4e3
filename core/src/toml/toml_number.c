/* Lexing TOML integers (decimal, hex, octal, binary) and floats (incl. inf, nan). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "toml_parser.h"

/* True for bytes that can be part of a number token. */
static bool
toml_number_is_token_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           c == '.' || c == '+' || c == '-';
}

/* The value of @c as a digit in @radix, or -1. */
static int
toml_number_digit(char c, int radix)
{
    int v;

    if (c >= '0' && c <= '9')
        v = c - '0';
    else if (c >= 'a' && c <= 'f')
        v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
        v = c - 'A' + 10;
    else
        return -1;
    return v < radix ? v : -1;
}

/* Skip digits of @radix from *s (before @e) where each '_' sits between two digits.
 * Returns the count of digits, 0 when none, -1 on a misplaced underscore. */
static int
toml_number_digits(const char **s, const char *e, int radix)
{
    const char *p = *s;
    int n = 0;

    while (p < e) {
        if (toml_number_digit(*p, radix) >= 0) {
            n++;
            p++;
        } else if (*p == '_') {
            if (n == 0 || p + 1 >= e || toml_number_digit(p[1], radix) < 0)
                return -1;
            p++;
        } else {
            break;
        }
    }
    *s = p;
    return n;
}

/* Report a malformed number token [start, e) with a reason. */
static int
toml_number_bad(struct toml_parser *ps, const char *start, const char *e, const char *why)
{
    int n = (int)(e - start);

    return toml_parser_fail(ps, start, "invalid number '%.*s%s': %s", n > 64 ? 64 : n, start,
                            n > 64 ? "..." : "", why);
}

/* Convert validated digits of @radix (underscores allowed) to a magnitude; false on
 * overflow past @limit. */
static bool
toml_number_accumulate(const char *s, const char *e, int radix, uint64_t limit, uint64_t *out)
{
    uint64_t v = 0;

    for (; s < e; s++) {
        int d = toml_number_digit(*s, radix);
        if (d < 0)
            continue;
        if (v > (limit - (uint64_t)d) / (uint64_t)radix)
            return false;
        v = v * (uint64_t)radix + (uint64_t)d;
    }
    *out = v;
    return true;
}

/* Parse 0x, 0o or 0b integers: no sign allowed, at least one digit. */
static int
toml_number_radix(struct toml_parser *ps, const char *start, const char *e, struct toml_value *out)
{
    int radix = start[1] == 'x' ? 16 : start[1] == 'o' ? 8 : 2;
    const char *p = start + 2;
    uint64_t v;
    int n = toml_number_digits(&p, e, radix);

    if (n < 0)
        return toml_number_bad(ps, start, e, "'_' must sit between two digits");
    if (n == 0 || p != e)
        return toml_number_bad(ps, start, e,
                               radix == 16  ? "expected hex digits after 0x"
                               : radix == 8 ? "expected octal digits (0-7) after 0o"
                                            : "expected binary digits (0-1) after 0b");
    if (!toml_number_accumulate(start + 2, e, radix, INT64_MAX, &v)) {
        int len = (int)(e - start);
        return toml_parser_fail(ps, start, "integer %.*s%s does not fit in 64 bits",
                                len > 64 ? 64 : len, start, len > 64 ? "..." : "");
    }
    out->type = TOML_INTEGER;
    out->u.i = (int64_t)v;
    return 0;
}

/* Convert a validated decimal float (underscores removed) in the C locale, so a
 * process locale with a decimal comma cannot change the value. */
static int
toml_number_float(struct toml_parser *ps, const char *start, const char *e, struct toml_value *out)
{
    char *buf = malloc((size_t)(e - start) + 1);
    size_t n = 0;
    double d;

    if (buf == NULL)
        return toml_parser_fail(ps, start, "out of memory");
    for (const char *p = start; p < e; p++)
        if (*p != '_')
            buf[n++] = *p;
    buf[n] = '\0';
    if (ps->c_locale == (locale_t)0)
        ps->c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (ps->c_locale == (locale_t)0) {
        free(buf);
        return toml_parser_fail(ps, start, "out of memory");
    }
    d = strtod_l(buf, NULL, ps->c_locale);
    free(buf);
    if (isinf(d))
        return toml_number_bad(ps, start, e, "out of range for a 64-bit float");
    out->type = TOML_FLOAT;
    out->u.f = d;
    return 0;
}

/* Parse a decimal integer or float: [+-] int [. frac] [e [+-] exp]. */
static int
toml_number_decimal(struct toml_parser *ps, const char *start, const char *e,
                    struct toml_value *out)
{
    const char *p = start, *int_start;
    bool negative = false, is_float = false;
    uint64_t v;
    int n;

    if (*p == '+' || *p == '-')
        negative = *p++ == '-';
    int_start = p;
    n = toml_number_digits(&p, e, 10);
    if (n < 0)
        return toml_number_bad(ps, start, e, "'_' must sit between two digits");
    if (n == 0)
        return toml_number_bad(ps, start, e, "expected a digit");
    if (*int_start == '0' && n > 1)
        return toml_number_bad(ps, start, e, "leading zeros are not allowed");
    if (p < e && *p == '.') {
        p++;
        n = toml_number_digits(&p, e, 10);
        if (n <= 0)
            return toml_number_bad(ps, start, e,
                                   n < 0 ? "'_' must sit between two digits"
                                         : "expected a digit after '.'");
        is_float = true;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        n = toml_number_digits(&p, e, 10);
        if (n <= 0)
            return toml_number_bad(ps, start, e,
                                   n < 0 ? "'_' must sit between two digits"
                                         : "expected a digit in the exponent");
        is_float = true;
    }
    if (p != e)
        return toml_number_bad(ps, start, e, "unexpected characters");
    if (is_float)
        return toml_number_float(ps, start, e, out);
    if (!toml_number_accumulate(int_start, e, 10, (uint64_t)INT64_MAX + (negative ? 1 : 0), &v)) {
        int len = (int)(e - start);
        return toml_parser_fail(ps, start, "integer %.*s%s does not fit in 64 bits",
                                len > 64 ? 64 : len, start, len > 64 ? "..." : "");
    }
    out->type = TOML_INTEGER;
    /* -(2^63) has no positive counterpart: negate in unsigned arithmetic. */
    out->u.i = negative ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

/* Scan one number token at ps->p. */
int
toml_number_scan(struct toml_parser *ps, struct toml_value *out)
{
    const char *start = ps->p, *e = ps->p, *body;
    size_t len;

    while (e < ps->end && toml_number_is_token_char(*e))
        e++;
    ps->p = e;
    body = start + (*start == '+' || *start == '-');
    len = (size_t)(e - body);
    if (len == 3 && (memcmp(body, "inf", 3) == 0 || memcmp(body, "nan", 3) == 0)) {
        double d = body[0] == 'i' ? INFINITY : NAN;
        out->type = TOML_FLOAT;
        out->u.f = *start == '-' ? -d : d;
        return 0;
    }
    if (body < e && ((*body >= 'a' && *body <= 'z') || (*body >= 'A' && *body <= 'Z')))
        return toml_parser_fail(ps, start,
                                "expected a value, found unquoted '%.*s' (strings need quotes)",
                                len > 64 ? 64 : (int)(e - start), start);
    if (len >= 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'o' || body[1] == 'b')) {
        if (body != start)
            return toml_number_bad(ps, start, e,
                                   "a sign is not allowed on hex, octal or binary integers");
        return toml_number_radix(ps, start, e, out);
    }
    return toml_number_decimal(ps, start, e, out);
}
