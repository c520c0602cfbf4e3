/* Timestamped event log for the engine tests. */
#include "trace.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Empty trace on @clock. */
void
trace_init(struct trace *t, struct clock *clock)
{
    t->clock = clock;
    trace_clear(t);
}

/* Append one event, stamped with the clock's time. */
void
trace_add(struct trace *t, const char *fmt, ...)
{
    va_list ap;
    size_t room = sizeof(t->text) - t->len;
    int n = snprintf(t->text + t->len, room, "%s%llu ", t->count ? " | " : "",
                     (unsigned long long)clock_now_ms(t->clock));

    ck_assert(n > 0 && (size_t)n < room);
    t->len += (size_t)n;
    room -= (size_t)n;
    va_start(ap, fmt);
    n = vsnprintf(t->text + t->len, room, fmt, ap);
    va_end(ap);
    ck_assert(n >= 0 && (size_t)n < room);
    t->len += (size_t)n;
    t->count++;
}

/* Reset to empty. */
void
trace_clear(struct trace *t)
{
    t->text[0] = '\0';
    t->len = 0;
    t->count = 0;
}

/* Compare the whole trace with what a scenario expects. */
void
trace_expect(const struct trace *t, const char *what, const char *want)
{
    ck_assert_msg(strcmp(t->text, want) == 0, "%s:\n  got    %s\n  wanted %s", what, t->text, want);
}
