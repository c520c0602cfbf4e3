/* health_check_url() and health_default_url(): the `agent-broker health` command. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <agent-broker/errors.h>

#include "health/health_client.h"
#include "health/health_server.h"
#include "health_fixture.h"

/* A socket bound to 127.0.0.1 on a free port, listening when @do_listen; returns the fd. */
static int
bound_socket(bool do_listen, int *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    if (do_listen)
        ck_assert_int_eq(listen(fd, 8), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

START_TEST(ok_when_healthz_answers_200)
{
    struct fixture f;
    char url[64], why[256];

    fixture_start(&f, NULL);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", f.port);
    ck_assert_int_eq(health_check_url(url, 2000, why, sizeof why), 0);
    /* Without a path the check goes to /healthz ("/" would be 404). */
    snprintf(url, sizeof url, "http://127.0.0.1:%d", f.port);
    ck_assert_int_eq(health_check_url(url, 2000, why, sizeof why), 0);
    fixture_stop(&f);
}
END_TEST

START_TEST(a_503_is_an_error_quoting_the_reason)
{
    struct fixture f;
    char url[64], why[256], want[256];

    fixture_start(&f, NULL);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/readyz", f.port);
    ck_assert_int_eq(health_check_url(url, 2000, why, sizeof why), AB_EIO);
    snprintf(want, sizeof want, "HTTP 503 from 127.0.0.1:%d: discord: not connected", f.port);
    ck_assert_str_eq(why, want);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/nothing", f.port);
    ck_assert_int_eq(health_check_url(url, 2000, NULL, 0), AB_EIO);
    fixture_stop(&f);
}
END_TEST

START_TEST(a_refused_port_is_an_error_naming_it)
{
    char url[64], why[256], want[128];
    int port, fd = bound_socket(false, &port); /* bound, never listening: refused */

    snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", port);
    ck_assert_int_eq(health_check_url(url, 2000, why, sizeof why), -ECONNREFUSED);
    snprintf(want, sizeof want, "connection refused to 127.0.0.1:%d", port);
    ck_assert_str_eq(why, want);
    close(fd);
}
END_TEST

START_TEST(a_server_that_never_answers_times_out)
{
    char url[64], why[256];
    int port, fd = bound_socket(true, &port); /* the kernel accepts; nobody answers */
    double t0 = fixture_now_ms(), took;

    snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", port);
    ck_assert_int_eq(health_check_url(url, 300, why, sizeof why), AB_ETIMEDOUT);
    took = fixture_now_ms() - t0;
    ck_assert_double_ge(took, 250);
    ck_assert_double_lt(took, 2000);
    ck_assert_ptr_nonnull(strstr(why, "within 300 ms"));
    close(fd);
}
END_TEST

START_TEST(only_http_urls_are_accepted)
{
    static const char *const bad[] = {"https://127.0.0.1:9464/healthz",
                                      "ftp://127.0.0.1/",
                                      "127.0.0.1:9464",
                                      "",
                                      "http://",
                                      "file:///etc/passwd"};
    char why[256];

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why[0] = '\0';
        ck_assert_int_eq(health_check_url(bad[i], 500, why, sizeof why), AB_EINVAL);
        ck_assert_ptr_nonnull(strstr(why, "not an http:// URL"));
    }
    ck_assert_int_eq(health_check_url(NULL, 500, NULL, 0), AB_EINVAL);
}
END_TEST

/* The callback that stands for a slow synchronous call on the loop. */
static void
block_loop(uv_timer_t *timer)
{
    (void)timer;
    sleep(3);
}

/* However the parent fares, the child ends on its own. */
static void
child_give_up(uv_timer_t *timer)
{
    (void)timer;
    _exit(0);
}

/* Child process: a server whose loop is blocked for 3 s right after it starts listening;
 * the port goes to @out_fd. Never returns. */
__attribute__((noreturn)) static void
blocked_child(int out_fd)
{
    struct health_server *srv;
    uv_timer_t block, bound;
    uv_loop_t loop;
    int port;

    if (uv_loop_init(&loop) < 0 || health_server_start(&loop, "127.0.0.1:0", NULL, NULL, &srv) < 0)
        _exit(1);
    port = health_server_port(srv);
    if (write(out_fd, &port, sizeof port) != sizeof port)
        _exit(1);
    uv_timer_init(&loop, &block);
    uv_timer_start(&block, block_loop, 0, 0);
    uv_timer_init(&loop, &bound);
    uv_timer_start(&bound, child_give_up, 15000, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    _exit(0);
}

START_TEST(a_blocked_loop_fails_healthz)
{
    char url[64], why[256];
    int fds[2], port = 0, status;
    pid_t pid;

    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        blocked_child(fds[1]);
    }
    close(fds[1]);
    ck_assert_int_eq(read(fds[0], &port, sizeof port), (ssize_t)sizeof port);
    close(fds[0]);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", port);
    /* The socket is listening (the kernel completes the handshake), but the loop cannot
     * answer while it is blocked. */
    ck_assert_int_eq(health_check_url(url, 500, why, sizeof why), AB_ETIMEDOUT);
    /* Once the block ends, the same server answers: the failure was the blocked loop. */
    ck_assert_int_eq(health_check_url(url, 8000, why, sizeof why), 0);
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
}
END_TEST

START_TEST(default_url_maps_wildcards_to_loopback)
{
    static const char *const cases[][2] = {
        {"127.0.0.1:9464", "http://127.0.0.1:9464/healthz"},
        {"0.0.0.0:9464", "http://127.0.0.1:9464/healthz"},
        {"[::]:9464", "http://[::1]:9464/healthz"},
        {"[::1]:80", "http://[::1]:80/healthz"},
        {"10.1.2.3:1", "http://10.1.2.3:1/healthz"},
        {"localhost:9464", "http://127.0.0.1:9464/healthz"},
    };
    char url[80];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_eq(health_default_url(cases[i][0], url, sizeof url), 0);
        ck_assert_str_eq(url, cases[i][1]);
    }
    ck_assert_int_eq(health_default_url("nonsense", url, sizeof url), AB_EINVAL);
    ck_assert_int_eq(health_default_url("127.0.0.1:9464", url, 10), -ENOBUFS);
}
END_TEST

START_TEST(the_command_exits_0_1_or_2)
{
    struct fixture f;
    char url[64];
    int port, fd = bound_socket(false, &port);

    fixture_start(&f, NULL);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", f.port);
    ck_assert_int_eq(health_check_command(url, NULL), 0);
    snprintf(url, sizeof url, "0.0.0.0:%d", f.port);
    ck_assert_int_eq(health_check_command(NULL, url), 0); /* from [health] listen */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/readyz", f.port);
    ck_assert_int_eq(health_check_command(url, NULL), 1);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", port);
    ck_assert_int_eq(health_check_command(url, NULL), 1);
    ck_assert_int_eq(health_check_command("https://127.0.0.1/healthz", NULL), 2);
    ck_assert_int_eq(health_check_command(NULL, "not an address"), 2);
    fixture_stop(&f);
    close(fd);
}
END_TEST

int
main(void)
{
    const TTest *const tests[] = {
        ok_when_healthz_answers_200,
        a_503_is_an_error_quoting_the_reason,
        a_refused_port_is_an_error_naming_it,
        a_server_that_never_answers_times_out,
        only_http_urls_are_accepted,
        a_blocked_loop_fails_healthz,
        default_url_maps_wildcards_to_loopback,
        the_command_exits_0_1_or_2,
    };

    return fixture_main("health_client", tests, sizeof tests / sizeof tests[0]);
}
