/* Test helper: a log of timestamped events on a clock, compared as one string
 * ("0 +👀 | 700 -👀 | 700 +🤔") so a test states the exact sequence it expects. */
#ifndef AB_TEST_ENGINE_TRACE_H
#define AB_TEST_ENGINE_TRACE_H

#include <stddef.h>

#include "clock/clock.h"

struct trace {
    struct clock *clock; /* lent */
    char text[16384];
    size_t len;
    unsigned count;
};

/* Start an empty trace stamping with @clock. */
void trace_init(struct trace *t, struct clock *clock);

/* Append "<now> <event>" (printf-style). */
void trace_add(struct trace *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Forget what was recorded. */
void trace_clear(struct trace *t);

/* Fail the running check test unless the trace is exactly @want; the message names the
 * scenario (@what) and shows both. */
void trace_expect(const struct trace *t, const char *what, const char *want);

#endif
