/* Time zones from the system tz database: the TZif file of a zone (version 1 to 4,
 * with the POSIX TZ rule of its footer for times after its last transition), read
 * once and then asked for the UTC offset at any instant without touching the process's
 * TZ or the C library's shared state (no race with other threads, nothing blocks). */
#ifndef AB_CRON_TZ_H
#define AB_CRON_TZ_H

#include <stddef.h>
#include <stdint.h>

struct tz;

/* Load zone @name ("UTC", or an IANA name like "Europe/London") from @dir (NULL =
 * /usr/share/zoneinfo). Blocking file I/O: call at start-up or reload, not from the
 * loop's hot path. A name with "..", a leading '/', or bytes outside
 * [A-Za-z0-9/_+-] is refused. Returns 0, AB_EINVAL (bad name or file, reason in @err),
 * AB_ENOENT (no such zone) or AB_ENOMEM. */
int tz_load(const char *dir, const char *name, struct tz **out, char *err, size_t errlen);

/* Parse a TZif image @buf (@len bytes, lent). Returns 0, AB_EINVAL or AB_ENOMEM. */
int tz_parse(const unsigned char *buf, size_t len, struct tz **out);

/* The zone's UTC offset in seconds at UTC instant @t. */
int32_t tz_offset(const struct tz *tz, int64_t t);

/* Free a zone (NULL is fine). */
void tz_free(struct tz *tz);

#endif
