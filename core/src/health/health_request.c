/* HTTP/1.x request head parser (RFC 9112), strict: anything odd is a 400. */
#include "health/health_request.h"

#include <string.h>
#include <strings.h>

#include <agent-broker/errors.h>

/* Find the empty line that ends the head. */
size_t
health_request_head_end(const char *buf, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (buf[i] != '\n')
            continue;
        if (buf[i + 1] == '\n')
            return i + 2;
        if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

/* Is @c a token character (RFC 9110 tchar)? */
static bool
health_request_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Length of the line at @p (without its LF and any CR before it), and where the next
 * line starts. */
static size_t
health_request_line(const char *p, const char *end, const char **next)
{
    const char *lf = memchr(p, '\n', (size_t)(end - p));
    size_t n;

    if (!lf) {
        *next = end;
        return (size_t)(end - p);
    }
    *next = lf + 1;
    n = (size_t)(lf - p);
    return n && p[n - 1] == '\r' ? n - 1 : n;
}

/* Parse "METHOD SP origin-form SP HTTP/1.x". */
static int
health_request_start_line(const char *p, size_t n, struct health_request *req)
{
    const char *sp1 = memchr(p, ' ', n), *sp2, *target, *q;
    size_t mlen, tlen, plen;

    if (!sp1)
        return AB_EPROTO;
    mlen = (size_t)(sp1 - p);
    if (mlen == 0 || mlen >= sizeof req->method)
        return AB_EPROTO;
    for (size_t i = 0; i < mlen; i++) {
        if (!health_request_tchar(p[i]))
            return AB_EPROTO;
    }
    target = sp1 + 1;
    sp2 = memchr(target, ' ', (size_t)(p + n - target));
    if (!sp2 || sp2 == target || target[0] != '/')
        return AB_EPROTO;
    tlen = (size_t)(sp2 - target);
    for (size_t i = 0; i < tlen; i++) {
        /* A target is visible ASCII; controls and spaces inside it are malformed. */
        if ((unsigned char)target[i] <= 0x20 || (unsigned char)target[i] >= 0x7f)
            return AB_EPROTO;
    }
    if ((size_t)(p + n - (sp2 + 1)) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 ||
        (sp2[8] != '0' && sp2[8] != '1'))
        return AB_EPROTO;
    memcpy(req->method, p, mlen);
    req->method[mlen] = '\0';
    q = memchr(target, '?', tlen);
    plen = q ? (size_t)(q - target) : tlen;
    if (plen >= sizeof req->path)
        plen = sizeof req->path - 1;
    memcpy(req->path, target, plen);
    req->path[plen] = '\0';
    req->minor = sp2[8] - '0';
    return 0;
}

/* Check one header line; tell whether it is a Host header. */
static int
health_request_header(const char *p, size_t n, bool *is_host)
{
    const char *colon = memchr(p, ':', n);
    size_t name_len;

    /* A line starting with whitespace is obsolete folding (RFC 9112 5.2): reject it. */
    if (!colon || colon == p)
        return AB_EPROTO;
    name_len = (size_t)(colon - p);
    for (size_t i = 0; i < name_len; i++) {
        if (!health_request_tchar(p[i]))
            return AB_EPROTO;
    }
    for (size_t i = name_len + 1; i < n; i++) {
        unsigned char c = (unsigned char)p[i];

        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return AB_EPROTO;
    }
    *is_host = name_len == 4 && strncasecmp(p, "host", 4) == 0;
    return 0;
}

/* Parse the whole head. */
int
health_request_parse(const char *head, size_t len, struct health_request *req)
{
    const char *p = head, *end = head + len, *next;
    unsigned hosts = 0;
    size_t n;
    int rc;

    /* RFC 9112 2.2: ignore empty lines received before the request line. */
    while (p < end && (n = health_request_line(p, end, &next)) == 0 && next < end)
        p = next;
    n = health_request_line(p, end, &next);
    if ((rc = health_request_start_line(p, n, req)) < 0)
        return rc;
    for (p = next; p < end; p = next) {
        bool is_host = false;

        n = health_request_line(p, end, &next);
        if (n == 0)
            break;
        if ((rc = health_request_header(p, n, &is_host)) < 0)
            return rc;
        hosts += is_host;
    }
    if (req->minor == 1 ? hosts != 1 : hosts > 1)
        return AB_EPROTO;
    return 0;
}
