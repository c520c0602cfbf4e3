/* A growable text buffer with a hard size cap. */
#include "health/health_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

/* Make @t empty. */
void
health_text_init(struct health_text *t)
{
    t->buf = NULL;
    t->len = 0;
    t->cap = 0;
    t->err = 0;
}

/* Grow @t so that @extra more bytes plus a NUL fit; doubling keeps appends amortised O(1). */
static int
health_text_reserve(struct health_text *t, size_t extra)
{
    size_t need, cap;
    char *buf;

    if (t->err < 0)
        return t->err;
    if (extra > HEALTH_TEXT_MAX - t->len) {
        t->err = AB_EFULL;
        return t->err;
    }
    need = t->len + extra + 1;
    if (need <= t->cap)
        return 0;
    cap = t->cap ? t->cap : 256;
    while (cap < need)
        cap *= 2;
    buf = realloc(t->buf, cap);
    if (!buf) {
        t->err = AB_ENOMEM;
        return t->err;
    }
    t->buf = buf;
    t->cap = cap;
    return 0;
}

/* Append @n bytes of @s. */
int
health_text_append(struct health_text *t, const char *s, size_t n)
{
    int rc;

    if ((rc = health_text_reserve(t, n)) < 0)
        return rc;
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
    return 0;
}

/* Append formatted text, measuring first so nothing is ever truncated. */
int
health_text_printf(struct health_text *t, const char *fmt, ...)
{
    va_list ap;
    int n, rc;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return AB_EINVAL;
    if ((rc = health_text_reserve(t, (size_t)n)) < 0)
        return rc;
    va_start(ap, fmt);
    vsnprintf(t->buf + t->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
    return 0;
}

/* The text so far. */
const char *
health_text_str(const struct health_text *t)
{
    return t->buf ? t->buf : "";
}

/* Release the buffer. */
void
health_text_free(struct health_text *t)
{
    free(t->buf);
    health_text_init(t);
}
