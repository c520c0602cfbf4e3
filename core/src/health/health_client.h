/* The `agent-broker health [URL]` command's check: one GET, bounded in time. */
#ifndef AB_HEALTH_CLIENT_H
#define AB_HEALTH_CLIENT_H

#include <stddef.h>

/* Where the server listens when `[health] listen` is not set. */
#define HEALTH_DEFAULT_LISTEN "127.0.0.1:9464"

/* Default time a health check may take, connect included. */
#define HEALTH_CHECK_TIMEOUT_MS 5000

/* GET @url (lent; http:// only; a URL without a path gets /healthz) on a plain socket,
 * blocking for at most @timeout_ms (0 = HEALTH_CHECK_TIMEOUT_MS); proxies are never used.
 * For the CLI only: it blocks, so never call it on the daemon's loop.
 * Returns 0 when the answer is 200. Otherwise a negative code and, in @why (capacity @cap,
 * may be NULL), a reason for people: "connection refused to 127.0.0.1:9464",
 * "no answer from 127.0.0.1:9464 within 500 ms", "HTTP 503 from ...: <first body line>".
 * Codes: AB_EINVAL (not an http:// URL), -ECONNREFUSED, AB_ETIMEDOUT, AB_EIO (an answer
 * other than 200), AB_EPROTO (closed without an answer), AB_ENOMEM. */
int health_check_url(const char *url, int timeout_ms, char *why, size_t cap);

/* The URL that checks a server listening on @listen (lent; `[health] listen` syntax):
 * "http://HOST:PORT/healthz", with 0.0.0.0 → 127.0.0.1 and [::] → [::1] since a wildcard
 * is not an address to connect to. Writes @out (capacity @cap).
 * Returns 0, AB_EINVAL (bad address) or -ENOBUFS. */
int health_default_url(const char *listen, char *out, size_t cap);

/* The whole `agent-broker health [URL]` command once its arguments are known: GET @url,
 * or when @url is NULL the default URL for @listen (`[health] listen` from the config, NULL =
 * HEALTH_DEFAULT_LISTEN). Prints "healthy: ..." on stdout or "unhealthy: <reason>" on
 * stderr. Returns the exit code: 0 healthy, 1 not, 2 bad URL or listen address. */
int health_check_command(const char *url, const char *listen);

#endif
