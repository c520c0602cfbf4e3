/* libFuzzer target: the cron expression parser (core/src/cron/cron_expr.c) and, for
 * inputs that start with "TZif", the TZif reader (core/src/cron/tz.c). A parsed
 * expression must have its bits inside each field's range and a next run (in UTC and
 * in the parsed zone) that is later than the start and on a minute, or -1. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#include "cron/cron_expr.h"
#include "cron/tz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int64_t start = 1796472000; /* 2026-12-05 12:00Z */
    struct cron_expr e;
    struct tz *tz = NULL;
    char *text, err[200];
    int rc;

    if (size >= 4 && memcmp(data, "TZif", 4) == 0) {
        rc = tz_parse(data, size, &tz);
        if (rc == 0) {
            for (int64_t t = -4000000000LL; t < 8000000000LL; t += 123456789)
                (void)tz_offset(tz, t);
            if (cron_parse("30 2 * * *", &e, err, sizeof(err)) != 0)
                abort();
            int64_t n = cron_next(&e, tz, start);
            if (n != -1 && n <= start)
                abort();
            tz_free(tz);
        } else if (rc != AB_EINVAL && rc != AB_ENOMEM) {
            abort();
        }
        return 0;
    }
    if (!(text = malloc(size + 1)))
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    rc = cron_parse(text, &e, err, sizeof(err));
    if (rc == 0) {
        if (e.minute >> 60 || e.hour >> 24 || (e.dom & 1) || (e.month & 1) || e.month >> 13 ||
            e.dow >> 7 || !e.minute || !e.hour || !e.dom || !e.month || !e.dow)
            abort();
        int64_t n = cron_next(&e, NULL, start);
        if (n != -1 && (n <= start || n % 60 != 0))
            abort();
    } else if (rc != AB_EINVAL || !err[0]) {
        abort();
    }
    free(text);
    return 0;
}
