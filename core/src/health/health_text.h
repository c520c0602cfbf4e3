/* A growable text buffer: HTTP bodies, readiness reasons, metrics exposition. */
#ifndef AB_HEALTH_TEXT_H
#define AB_HEALTH_TEXT_H

#include <stddef.h>

/* Largest text a buffer grows to; appends past it fail with AB_EFULL. */
#define HEALTH_TEXT_MAX ((size_t)4 << 20)

struct health_text {
    char *buf;  /* owned; NUL-terminated once anything was appended, else NULL */
    size_t len; /* bytes of text, not counting the NUL */
    size_t cap; /* bytes allocated */
    int err;    /* first failure (AB_ENOMEM, AB_EFULL); later appends are ignored */
};

/* Make @t empty; it owns nothing yet. */
void health_text_init(struct health_text *t);

/* Append @n bytes of @s (lent for the call). Returns 0, AB_ENOMEM or AB_EFULL. */
int health_text_append(struct health_text *t, const char *s, size_t n);

/* Append formatted text. Returns 0, AB_ENOMEM, AB_EFULL or AB_EINVAL (bad format). */
int health_text_printf(struct health_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The text so far, "" when empty; lent until the next append or free. */
const char *health_text_str(const struct health_text *t);

/* Release the buffer; @t is empty again. */
void health_text_free(struct health_text *t);

#endif
