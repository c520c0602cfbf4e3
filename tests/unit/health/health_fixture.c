/* Test fixture: health server on a loop thread plus raw-socket clients. */
#include "health_fixture.h"

#include "../support/check_runner.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "health/metrics.h"

/* Ready when the test says so; otherwise two reasons. */
static bool
fixture_ready(void *arg, struct health_text *why)
{
    struct fixture *f = arg;

    atomic_fetch_add(&f->ready_calls, 1);
    if (atomic_load(&f->is_ready))
        return true;
    health_text_printf(why, "%s", FIXTURE_REASONS);
    return false;
}

/* A plugin-state gauge whose label needs escaping, written as the lead's code would. */
static void
fixture_metrics(void *arg, struct health_text *out)
{
    const struct metrics_label label = {"plugin", FIXTURE_LABEL};

    (void)arg;
    metrics_gauge(out, "agent_broker_plugin_connected", "Chat plugin connected (1) or not (0).",
                  &label, 1, 1);
}

/* The loop thread. */
static void
fixture_run(void *arg)
{
    struct fixture *f = arg;

    uv_run(&f->loop, UV_RUN_DEFAULT);
}

/* Record that the server finished closing. */
static void
fixture_closed(void *arg)
{
    struct fixture *f = arg;

    atomic_store(&f->closed_done, true);
}

/* On the loop thread: close the server and the wake-up handle. */
static void
fixture_on_stop(uv_async_t *async)
{
    struct fixture *f = async->data;

    health_server_close(f->srv, fixture_closed, f);
    uv_close((uv_handle_t *)async, NULL);
}

/* Start the server and its loop thread. */
void
fixture_start(struct fixture *f, const struct health_limits *limits)
{
    const struct health_source src = {.arg = f, .ready = fixture_ready, .metrics = fixture_metrics};

    memset(f, 0, sizeof *f);
    ck_assert_int_eq(uv_loop_init(&f->loop), 0);
    ck_assert_int_eq(health_server_start(&f->loop, "127.0.0.1:0", &src, limits, &f->srv), 0);
    f->port = health_server_port(f->srv);
    ck_assert_int_gt(f->port, 0);
    ck_assert_int_eq(uv_async_init(&f->loop, &f->stop, fixture_on_stop), 0);
    f->stop.data = f;
    ck_assert_int_eq(uv_thread_create(&f->thread, fixture_run, f), 0);
}

/* Stop everything and check nothing was left open. */
void
fixture_stop(struct fixture *f)
{
    ck_assert_int_eq(uv_async_send(&f->stop), 0);
    ck_assert_int_eq(uv_thread_join(&f->thread), 0);
    ck_assert(atomic_load(&f->closed_done));
    ck_assert_int_eq(uv_loop_close(&f->loop), 0);
}

/* Connect to the server with a receive timeout so no test can hang on a read. */
int
fixture_connect(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {.tv_sec = 5};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Read an answer until the server closes. */
long
fixture_read_all(int fd, char *resp, size_t cap)
{
    size_t len = 0;
    ssize_t n = 0;

    resp[0] = '\0';
    while (len + 1 < cap && (n = recv(fd, resp + len, cap - 1 - len, 0)) > 0)
        len += (size_t)n;
    resp[len] = '\0';
    if (len == 0 && n < 0)
        return -errno;
    return (long)len;
}

/* One raw request on a new connection. */
int
fixture_http(int port, const char *req, size_t len, char *resp, size_t cap)
{
    int fd = fixture_connect(port), status = -1;

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
    fixture_read_all(fd, resp, cap);
    close(fd);
    if (sscanf(resp, "HTTP/1.1 %d ", &status) != 1)
        return -1;
    return status;
}

/* GET a path the way curl would. */
int
fixture_get(int port, const char *path, char *resp, size_t cap)
{
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", path, port);

    return fixture_http(port, req, (size_t)n, resp, cap);
}

/* The body after the head. */
const char *
fixture_body(const char *resp)
{
    const char *p = strstr(resp, "\r\n\r\n");

    return p ? p + 4 : NULL;
}

/* Monotonic milliseconds. */
double
fixture_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Build the suite and run it the way every test program here does. */
int
fixture_main(const char *name, const TTest *const *tests, size_t n)
{
    return check_run_tests(name, 30, tests, n);
}
