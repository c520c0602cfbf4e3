/* libFuzzer target: the ingress listener's request path (core/src/ingress/: libwebsockets'
 * HTTP parser, then route matching, wanted headers, body caps and the answer) fed any
 * bytes from a client, over a socketpair adopted as an accepted connection. Checks: a
 * route sees only paths under its prefix and bodies within its cap; whatever comes back
 * starts with an HTTP/1.x status line; every connection is gone once the client has
 * hung up. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include <agent-broker/errors.h>

#include "ingress/ingress.h"

#define FUZZ_MAX_BODY 4096

static uv_loop_t loop;
static struct ingress *in;
static uv_timer_t guard;

static void
on_request(void *arg, struct ab_http_exchange *ex, const struct ab_http_inbound *req)
{
    static const char *const hdrs[] = {"Content-Type: application/json", NULL};
    size_t plen = strlen((const char *)arg);

    if (strncmp(req->path, arg, plen) || req->body_len > FUZZ_MAX_BODY ||
        req->body[req->body_len] != '\0')
        abort();
    for (size_t i = 0; i < req->header_count; i++)
        if (!req->headers[i].name || !req->headers[i].value)
            abort();
    /* one route answers well, the other with a header the host refuses (then 500) */
    if (!strcmp(arg, "/api/messages"))
        ingress_respond(ex, 200, hdrs, "{}", 2);
    else
        ingress_respond(ex, 200, (const char *const[]){"Bad Header: x", NULL}, "", 0);
}

static void
on_guard(uv_timer_t *t)
{
    (void)t;
}

/* One listener for the whole run (lws contexts are made once per process). */
static void
fuzz_init(void)
{
    static const char *const want[] = {"Authorization", "Content-Type", "X-Custom", NULL};
    struct ab_http_route_options a = {
        .size = sizeof(a), .prefix = "/api/messages", .headers = want, .max_body = FUZZ_MAX_BODY};
    struct ab_http_route_options b = {
        .size = sizeof(b), .prefix = "/hook/", .headers = want, .max_body = FUZZ_MAX_BODY};
    struct ingress_limits lim = {.receive_timeout_ms = 1000};
    struct ab_http_route *r;

    uv_loop_init(&loop);
    uv_timer_init(&loop, &guard);
    if (ingress_start(&loop, "127.0.0.1:0", &lim, &in) < 0 ||
        ingress_route_add(in, NULL, &a, on_request, "/api/messages", &r) < 0 ||
        ingress_route_add(in, NULL, &b, on_request, "/hook/", &r) < 0)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int sv[2];
    size_t off = 0;
    char out[8192];
    size_t got = 0;
    bool eof = false;

    if (!in)
        fuzz_init();
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return 0;
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    if (ingress_adopt_fd(in, sv[1]) < 0) {
        close(sv[0]);
        return 0;
    }
    for (int round = 0; round < 4000 && !eof; round++) {
        ssize_t n;

        if (off < size) {
            n = write(sv[0], data + off, size - off);
            if (n > 0)
                off += (size_t)n;
            if (off == size)
                shutdown(sv[0], SHUT_WR);
        } else if (size == 0 && round == 0) {
            shutdown(sv[0], SHUT_WR);
        }
        uv_timer_start(&guard, on_guard, 5, 0);
        uv_run(&loop, UV_RUN_ONCE);
        while ((n = read(sv[0], out + got, sizeof(out) - 1 - got)) > 0) {
            got += (size_t)n;
            if (got == sizeof(out) - 1)
                got = 16; /* keep the status line, drop the rest */
        }
        if (n == 0 || (n < 0 && errno != EAGAIN))
            eof = true;
    }
    out[got] = '\0';
    if (got >= 12 && strncmp(out, "HTTP/1.", 7))
        abort();
    close(sv[0]);
    /* a client that hung up mid-request is dropped by the receive timeout (1 s here;
     * lws checks its timeouts once a second): allow 3 s */
    for (uint64_t t0 = uv_now(&loop); ingress_conn_count(in) > 0 && uv_now(&loop) - t0 < 3000;) {
        uv_timer_start(&guard, on_guard, 5, 0);
        uv_run(&loop, UV_RUN_ONCE);
        uv_update_time(&loop);
    }
    if (ingress_conn_count(in) > 0)
        abort();
    return 0;
}
