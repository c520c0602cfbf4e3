/* Collected configuration problems: errors and warnings, each with file, line and
 * key, printed together so a user fixes everything in one pass. */
#ifndef AB_CONFIG_DIAG_H
#define AB_CONFIG_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct diag_item {
    bool is_error;
    int line;  /* 0 when not tied to a line */
    char *key; /* owned: "pool.max_sessions", or NULL */
    char *msg; /* owned: "what is wrong — what to do" */
};

struct diag {
    const char *file;        /* lent: the config path for messages */
    struct diag_item *items; /* owned */
    size_t count;
    size_t cap;
    size_t errors;
};

/* Record a problem. @key may be NULL. */
void diag_add(struct diag *d, bool is_error, int line, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Print every item as `FILE:LINE: KEY: message` (warnings prefixed `warning: `). */
void diag_print(const struct diag *d, FILE *out);

/* Free the items. */
void diag_free(struct diag *d);

#endif
