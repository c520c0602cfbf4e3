/* The health server, driven over real TCP connections on 127.0.0.1. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <agent-broker/errors.h>

#include "health/health_server.h"
#include "health_fixture.h"

#define RESP_MAX (64 * 1024)

static char resp[RESP_MAX];

/* Find the value after "NAME " on a sample line of @text; fails the test if absent. */
static double
metric_value(const char *text, const char *name)
{
    char key[160];
    const char *p;

    snprintf(key, sizeof key, "\n%s ", name);
    p = strstr(text, key);
    ck_assert_msg(p != NULL, "no sample %s in:\n%s", name, text);
    return strtod(p + strlen(key), NULL);
}

START_TEST(healthz_is_answered_by_the_loop)
{
    struct fixture f;

    fixture_start(&f, NULL);
    ck_assert_int_eq(fixture_get(f.port, "/healthz", resp, sizeof resp), 200);
    ck_assert_str_eq(fixture_body(resp), "ok\n");
    ck_assert_ptr_nonnull(strstr(resp, "\r\nContent-Length: 3\r\n"));
    ck_assert_ptr_nonnull(strstr(resp, "\r\nConnection: close\r\n"));
    /* A query string does not change the route. */
    ck_assert_int_eq(fixture_get(f.port, "/healthz?probe=kubelet", resp, sizeof resp), 200);
    fixture_stop(&f);
}
END_TEST

START_TEST(head_and_http10_are_served)
{
    static const char head[] = "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    static const char http10[] = "GET /healthz HTTP/1.0\r\n\r\n"; /* 1.0 needs no Host */
    struct fixture f;

    fixture_start(&f, NULL);
    /* HEAD: the headers a GET would get, without the body. */
    ck_assert_int_eq(fixture_http(f.port, head, strlen(head), resp, sizeof resp), 200);
    ck_assert_ptr_nonnull(strstr(resp, "\r\nContent-Length: 3\r\n"));
    ck_assert_str_eq(fixture_body(resp), "");
    ck_assert_int_eq(fixture_http(f.port, http10, strlen(http10), resp, sizeof resp), 200);
    ck_assert_str_eq(fixture_body(resp), "ok\n");
    fixture_stop(&f);
}
END_TEST

START_TEST(readyz_lists_reasons_until_the_source_is_ready)
{
    struct fixture f;

    fixture_start(&f, NULL);
    ck_assert_int_eq(fixture_get(f.port, "/readyz", resp, sizeof resp), 503);
    ck_assert_str_eq(fixture_body(resp), FIXTURE_REASONS "\n");
    atomic_store(&f.is_ready, true);
    ck_assert_int_eq(fixture_get(f.port, "/readyz", resp, sizeof resp), 200);
    ck_assert_str_eq(fixture_body(resp), "ready\n");
    ck_assert_int_eq(atomic_load(&f.ready_calls), 2);
    fixture_stop(&f);
}
END_TEST

START_TEST(metrics_report_process_lag_and_custom_gauges)
{
    struct fixture f;
    const char *body;

    fixture_start(&f, NULL);
    ck_assert_int_eq(fixture_get(f.port, "/metrics", resp, sizeof resp), 200);
    ck_assert_ptr_nonnull(strstr(resp, "\r\nContent-Type: text/plain; version=0.0.4"));
    body = fixture_body(resp);
    ck_assert_ptr_nonnull(body);
    ck_assert_double_gt(metric_value(resp, "agent_broker_process_resident_memory_bytes"), 0);
    ck_assert_double_gt(metric_value(resp, "agent_broker_process_open_fds"), 0);
    ck_assert_double_ge(metric_value(resp, "agent_broker_loop_lag_seconds"), 0);
    ck_assert_double_ge(metric_value(resp, "agent_broker_loop_lag_max_seconds"), 0);
    ck_assert_double_eq(metric_value(resp, "agent_broker_health_connections"), 1);
    ck_assert_ptr_nonnull(
        strstr(body, "# TYPE agent_broker_process_resident_memory_bytes gauge\n"));
    ck_assert_ptr_nonnull(strstr(body, "\nagent_broker_build_info{version=\""));
    ck_assert_ptr_nonnull(
        strstr(body, "\nagent_broker_plugin_connected{plugin=\"dis\\\"co\\\\rd\\nx\"} 1\n"));
    fixture_stop(&f);
}
END_TEST

START_TEST(unknown_path_is_404_and_other_methods_405)
{
    static const char post[] = "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
    static const char del[] = "DELETE /nowhere HTTP/1.1\r\nHost: x\r\n\r\n";
    struct fixture f;

    fixture_start(&f, NULL);
    ck_assert_int_eq(fixture_get(f.port, "/", resp, sizeof resp), 404);
    ck_assert_int_eq(fixture_get(f.port, "/healthz/", resp, sizeof resp), 404);
    ck_assert_int_eq(fixture_http(f.port, post, strlen(post), resp, sizeof resp), 405);
    ck_assert_ptr_nonnull(strstr(resp, "\r\nAllow: GET, HEAD\r\n"));
    ck_assert_int_eq(fixture_http(f.port, del, strlen(del), resp, sizeof resp), 404);
    fixture_stop(&f);
}
END_TEST

START_TEST(malformed_heads_are_400)
{
    static const char *const bad[] = {
        "GARBAGE\r\n\r\n",
        "GET /healthz HTTP/1.1\r\n\r\n",                       /* 1.1 without Host */
        "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", /* two Hosts */
        "GET healthz HTTP/1.1\r\nHost: x\r\n\r\n",             /* not origin-form */
        "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n",            /* not HTTP/1.x */
        "GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n",
        "GET /health z HTTP/1.1\r\nHost: x\r\n\r\n",
        "G(T /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", /* bare CR in a value */
    };
    struct fixture f;

    fixture_start(&f, NULL);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(fixture_http(f.port, bad[i], strlen(bad[i]), resp, sizeof resp) == 400,
                      "case %zu: %s", i, resp);
    fixture_stop(&f);
}
END_TEST

START_TEST(oversized_head_is_431)
{
    char *req = malloc(HEALTH_HEAD_MAX + 2048);
    size_t n = 0;
    struct fixture f;

    ck_assert_ptr_nonnull(req);
    n += (size_t)sprintf(req, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(req + n, 'a', HEALTH_HEAD_MAX);
    n += HEALTH_HEAD_MAX;
    memcpy(req + n, "\r\n\r\n", 4);
    n += 4;
    fixture_start(&f, NULL);
    ck_assert_int_eq(fixture_http(f.port, req, n, resp, sizeof resp), 431);
    /* The server still answers afterwards. */
    ck_assert_int_eq(fixture_get(f.port, "/healthz", resp, sizeof resp), 200);
    fixture_stop(&f);
    free(req);
}
END_TEST

START_TEST(a_request_trickling_in_byte_by_byte_is_answered)
{
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    struct fixture f;
    int fd;

    fixture_start(&f, NULL);
    fd = fixture_connect(f.port);
    ck_assert_int_ge(fd, 0);
    for (size_t i = 0; i < strlen(req); i++) {
        ck_assert_int_eq(send(fd, req + i, 1, MSG_NOSIGNAL), 1);
        usleep(2000);
    }
    ck_assert_int_gt(fixture_read_all(fd, resp, sizeof resp), 0);
    ck_assert(strncmp(resp, "HTTP/1.1 200 ", 13) == 0);
    close(fd);
    fixture_stop(&f);
}
END_TEST

START_TEST(an_unread_request_body_does_not_eat_the_answer)
{
    /* The answer goes out before the 16 MiB body is read (more than the socket buffers hold); the
     * server must drain it rather than close with unread input, which would reset the connection
     * under the answer. */
    size_t body = 16 * 1024 * 1024, n;
    char *req = malloc(body + 256);
    struct fixture f;

    ck_assert_ptr_nonnull(req);
    n = (size_t)sprintf(req, "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n",
                        body);
    memset(req + n, 'b', body);
    fixture_start(&f, NULL);
    ck_assert_int_eq(fixture_http(f.port, req, n + body, resp, sizeof resp), 405);
    fixture_stop(&f);
    free(req);
}
END_TEST

START_TEST(a_silent_client_is_dropped_after_the_timeout)
{
    const struct health_limits limits = {.head_timeout_ms = 300};
    struct fixture f;
    double t0, waited;
    int fd;

    fixture_start(&f, &limits);
    fd = fixture_connect(f.port);
    ck_assert_int_ge(fd, 0);
    t0 = fixture_now_ms();
    ck_assert_int_eq(fixture_read_all(fd, resp, sizeof resp), 0); /* EOF, no answer */
    waited = fixture_now_ms() - t0;
    ck_assert_double_ge(waited, 250);
    ck_assert_double_lt(waited, 3000);
    close(fd);
    fixture_stop(&f);
}
END_TEST

START_TEST(a_slow_client_gets_408)
{
    static const char part[] = "GET /healthz HTTP/1.1\r\nHo";
    const struct health_limits limits = {.head_timeout_ms = 300};
    struct fixture f;
    int fd;

    fixture_start(&f, &limits);
    fd = fixture_connect(f.port);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(send(fd, part, strlen(part), MSG_NOSIGNAL), (ssize_t)strlen(part));
    ck_assert_int_gt(fixture_read_all(fd, resp, sizeof resp), 0);
    ck_assert(strncmp(resp, "HTTP/1.1 408 ", 13) == 0);
    close(fd);
    fixture_stop(&f);
}
END_TEST

/* Is a connection to @port closed by the server without an answer? */
static bool
is_refused(int port)
{
    int fd = fixture_connect(port);
    long n;

    if (fd < 0)
        return true;
    n = fixture_read_all(fd, resp, sizeof resp);
    close(fd);
    return n == 0 || n == -ECONNRESET;
}

START_TEST(connections_beyond_the_cap_are_closed)
{
    /* max_conns 4 leaves one slot in reserve: one peer's share is 3. */
    const struct health_limits limits = {.max_conns = 4, .head_timeout_ms = 20000};
    struct fixture f;
    int held[3];
    double t0;

    fixture_start(&f, &limits);
    for (int i = 0; i < 3; i++) {
        held[i] = fixture_connect(f.port);
        ck_assert_int_ge(held[i], 0);
        /* Mid-request, not silent: nothing newer may push these out. */
        ck_assert_int_eq(send(held[i], "GET /hea", 8, MSG_NOSIGNAL), 8);
    }
    usleep(200 * 1000); /* let the idle loop thread accept and read all three */
    /* Many more, one after another: each is closed at once, none waits for a timeout. */
    t0 = fixture_now_ms();
    for (int i = 0; i < 200; i++)
        ck_assert_msg(is_refused(f.port), "connection %d beyond the cap was served", i);
    ck_assert_double_lt(fixture_now_ms() - t0, 10000);
    for (int i = 0; i < 3; i++)
        close(held[i]);
    /* Once the held ones are gone, the server answers again (it notices the EOFs). */
    t0 = fixture_now_ms();
    while (fixture_get(f.port, "/healthz", resp, sizeof resp) != 200)
        ck_assert_double_lt(fixture_now_ms() - t0, 3000);
    fixture_stop(&f);
}
END_TEST

/* Whether the server still holds @fd open (no EOF or reset waiting on it). */
static bool
is_held(int fd)
{
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);

    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* One client holding many idle connections cannot keep /healthz from answering: its
 * newest connection takes the place of its oldest silent one. */
START_TEST(idle_connections_of_one_peer_do_not_starve_healthz)
{
    const struct health_limits limits = {
        .max_conns = 8, .max_per_peer = 4, .reserve = 2, .head_timeout_ms = 20000};
    struct fixture f;
    int idle[20], open = 0;

    fixture_start(&f, &limits);
    for (int i = 0; i < 20; i++) {
        ck_assert_int_ge(idle[i] = fixture_connect(f.port), 0);
        usleep(5 * 1000); /* accepted in order */
    }
    usleep(200 * 1000);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(fixture_get(f.port, "/healthz", resp, sizeof resp), 200);
    usleep(100 * 1000);
    /* The peer keeps its share and no more: the newest of its idle connections. */
    for (int i = 0; i < 20; i++)
        open += is_held(idle[i]);
    ck_assert_int_le(open, 4);
    ck_assert(is_held(idle[19]) || open == 3);
    for (int i = 0; i < 20; i++)
        close(idle[i]);
    fixture_stop(&f);
}
END_TEST

START_TEST(closing_with_open_connections_leaves_nothing_behind)
{
    struct fixture f;
    int fd[3];

    fixture_start(&f, NULL);
    for (int i = 0; i < 3; i++)
        ck_assert_int_ge(fd[i] = fixture_connect(f.port), 0);
    ck_assert_int_eq(send(fd[0], "GET /hea", 8, MSG_NOSIGNAL), 8);
    /* Let the loop accept them before it is told to close. */
    ck_assert_int_eq(fixture_get(f.port, "/healthz", resp, sizeof resp), 200);
    fixture_stop(&f);
    for (int i = 0; i < 3; i++) {
        long n = fixture_read_all(fd[i], resp, sizeof resp);

        ck_assert(n == 0 || n == -ECONNRESET);
        close(fd[i]);
    }
}
END_TEST

START_TEST(start_reports_bad_addresses_and_busy_ports)
{
    static const char *const bad[] = {"",
                                      "9464",
                                      "127.0.0.1",
                                      "127.0.0.1:",
                                      "127.0.0.1:65536",
                                      "127.0.0.1:-1",
                                      "example.com:80",
                                      "::1:9464",
                                      "[::1]9464",
                                      "1.2.3:80",
                                      "127.0.0.1:80x"};
    struct health_server *srv = NULL, *other = NULL;
    char listen[32];
    uv_loop_t loop;

    ck_assert_int_eq(uv_loop_init(&loop), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_int_eq(health_server_start(&loop, bad[i], NULL, NULL, &srv), AB_EINVAL);
    ck_assert_int_eq(health_server_start(&loop, NULL, NULL, NULL, &srv), AB_EINVAL);
    ck_assert_int_eq(health_server_start(&loop, "127.0.0.1:0", NULL, NULL, &srv), 0);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", health_server_port(srv));
    ck_assert_int_eq(health_server_start(&loop, listen, NULL, NULL, &other), UV_EADDRINUSE);
    health_server_close(srv, NULL, NULL);
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(ipv6_loopback_is_served)
{
    struct health_server *srv = NULL;
    uv_loop_t loop;
    int rc;

    ck_assert_int_eq(uv_loop_init(&loop), 0);
    rc = health_server_start(&loop, "[::1]:0", NULL, NULL, &srv);
    if (rc == UV_EADDRNOTAVAIL || rc == UV_EAFNOSUPPORT) {
        /* No IPv6 on this host: nothing to serve on, but the address parsed. */
        ck_assert_int_eq(uv_loop_close(&loop), 0);
        return;
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_int_gt(health_server_port(srv), 0);
    health_server_close(srv, NULL, NULL);
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

int
main(void)
{
    const TTest *const tests[] = {
        healthz_is_answered_by_the_loop,
        head_and_http10_are_served,
        readyz_lists_reasons_until_the_source_is_ready,
        metrics_report_process_lag_and_custom_gauges,
        unknown_path_is_404_and_other_methods_405,
        malformed_heads_are_400,
        oversized_head_is_431,
        a_request_trickling_in_byte_by_byte_is_answered,
        an_unread_request_body_does_not_eat_the_answer,
        a_silent_client_is_dropped_after_the_timeout,
        a_slow_client_gets_408,
        connections_beyond_the_cap_are_closed,
        idle_connections_of_one_peer_do_not_starve_healthz,
        closing_with_open_connections_leaves_nothing_behind,
        start_reports_bad_addresses_and_busy_ports,
        ipv6_loopback_is_served,
    };

    return fixture_main("health_server", tests, sizeof tests / sizeof tests[0]);
}
