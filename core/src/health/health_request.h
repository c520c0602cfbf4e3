/* An HTTP/1.x request head, as the health server needs it: method, path, Host. */
#ifndef AB_HEALTH_REQUEST_H
#define AB_HEALTH_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#define HEALTH_REQUEST_METHOD_MAX 16
#define HEALTH_REQUEST_PATH_MAX 256

struct health_request {
    char method[HEALTH_REQUEST_METHOD_MAX]; /* e.g. "GET"; case-sensitive per RFC 9110 */
    char path[HEALTH_REQUEST_PATH_MAX];     /* origin-form path without the query */
    int minor;                              /* HTTP/1.minor: 0 or 1 */
};

/* Where the head in @buf (@len bytes) ends: the offset just past the empty line that
 * ends it (CRLF CRLF, or bare LF LF), or 0 when it is not complete yet. */
size_t health_request_head_end(const char *buf, size_t len);

/* Parse a complete head (@head, @len bytes, lent; as found by health_request_head_end).
 * Checks the request line, that every header line is `name: value` with a token name and
 * no line folding, and that HTTP/1.1 carries exactly one Host. A path longer than
 * HEALTH_REQUEST_PATH_MAX is truncated (it cannot name a known route anyway).
 * Returns 0, or AB_EPROTO for a malformed head (answered with 400). */
int health_request_parse(const char *head, size_t len, struct health_request *req);

#endif
