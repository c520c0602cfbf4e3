/* libFuzzer target: the health server's HTTP request head parser
 * (core/src/health/health_request.c): any bytes from a client socket. When a head end
 * is found the head is parsed, as the server does; a parsed request has NUL-terminated method and
 * path within their buffers and HTTP/1.0 or 1.1. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#include "health/health_request.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct health_request req;
    char *buf = malloc(size ? size : 1); /* exactly @size bytes: no terminator to lean on */
    size_t end;
    int rc;

    if (!buf)
        return 0;
    memcpy(buf, data, size);
    end = health_request_head_end(buf, size);
    if (end > size)
        abort();
    if (!end) {
        free(buf);
        return 0;
    }
    rc = health_request_parse(buf, end, &req);
    if (rc == 0) {
        if (!memchr(req.method, '\0', sizeof(req.method)) ||
            !memchr(req.path, '\0', sizeof(req.path)) || (req.minor != 0 && req.minor != 1))
            abort();
    } else if (rc != AB_EPROTO) {
        abort();
    }
    free(buf);
    return 0;
}
