/* Python loopback servers and loop helpers for the net tests. */
#include "net_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Start the script and read its port line. */
void
net_server_start(struct net_server *s, const char *script)
{
    const char *root = getenv("AB_SOURCE_ROOT");
    const char *python = getenv("AB_TEST_PYTHON");
    char path[4096], line[32] = {0};
    struct pollfd p;
    int fds[2];
    size_t got = 0;

    ck_assert_ptr_nonnull(root);
    snprintf(path, sizeof(path), "%s/tests/unit/net/%s", root, script);
    ck_assert_int_eq(pipe(fds), 0);
    s->pid = fork();
    ck_assert_int_ge(s->pid, 0);
    if (s->pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        /* argv[0] must be the real path: Python finds its prefix from argv[0] through
         * PATH, and a pyenv python3 first on PATH would hide Debian's modules. */
        python = python ? python : "/usr/bin/python3";
        execl(python, python, path, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    p = (struct pollfd){.fd = fds[0], .events = POLLIN};
    while (got < sizeof(line) - 1 && !memchr(line, '\n', got)) {
        ssize_t n;
        ck_assert_msg(poll(&p, 1, 10000) == 1, "%s did not print its port", script);
        n = read(fds[0], line + got, sizeof(line) - 1 - got);
        ck_assert_msg(n > 0, "%s exited before printing its port", script);
        got += (size_t)n;
    }
    close(fds[0]);
    s->port = atoi(line);
    ck_assert_int_gt(s->port, 0);
}

/* Kill by pid and reap. */
void
net_server_stop(struct net_server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
    }
    s->pid = 0;
}

/* A timer that keeps the loop turning so the condition is checked at least every 5 ms. */
static void
net_tick(uv_timer_t *t)
{
    (void)t;
}

/* Run until the flag or the deadline. */
bool
net_run_until(uv_loop_t *loop, const bool *done, uint64_t timeout_ms)
{
    uv_timer_t tick;
    uint64_t deadline;

    uv_update_time(loop);
    deadline = uv_now(loop) + timeout_ms;
    uv_timer_init(loop, &tick);
    uv_timer_start(&tick, net_tick, 5, 5);
    while ((!done || !*done) && uv_now(loop) < deadline)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return done && *done;
}

/* Run for a fixed time. */
void
net_run_for(uv_loop_t *loop, uint64_t ms)
{
    net_run_until(loop, NULL, ms);
}

/* Bind port 0, read the port, close. */
int
net_free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* A self-signed certificate; see the header. */
void
net_make_cert(const char *dir, const char *name, const char *san)
{
    char cmd[1024];

    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
             "-subj /CN=ab-test "
             "-addext 'subjectAltName=%s' -keyout %s/%s.key -out %s/%s.pem 2>/dev/null",
             san, dir, name, dir, name);
    ck_assert_int_eq(system(cmd), 0);
}

/* Link a certificate under its hash; see the header. */
void
net_hash_link(const char *cert, const char *dir)
{
    char cmd[1024];

    snprintf(cmd, sizeof(cmd),
             "h=$(openssl x509 -hash -noout -in %s) && n=0 && "
             "while [ -e %s/$h.$n ]; do n=$((n+1)); done && ln -s %s %s/$h.$n",
             cert, dir, cert, dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Scratch certificates; see the header. */
void
net_tls_init(struct net_tls *t, const char *tag, const char *other_san)
{
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

    snprintf(t->dir, sizeof(t->dir), "%s/ab-%s-%d-tls", tmp, tag, (int)getpid());
    ck_assert_int_eq(mkdir(t->dir, 0700), 0);
    net_make_cert(t->dir, "good", "DNS:localhost,IP:127.0.0.1");
    net_make_cert(t->dir, "other", other_san);
    snprintf(t->cert, sizeof(t->cert), "%s/good.pem", t->dir);
    snprintf(t->key, sizeof(t->key), "%s/good.key", t->dir);
    snprintf(t->other, sizeof(t->other), "%s/other.pem", t->dir);
    setenv("AB_TEST_TLS_CERT", t->cert, 1);
    setenv("AB_TEST_TLS_KEY", t->key, 1);
}

/* Remove the scratch certificates; see the header. */
void
net_tls_free(struct net_tls *t)
{
    char rm[300];

    unsetenv("SSL_CERT_DIR");
    unsetenv("AB_TEST_TLS_CERT");
    unsetenv("AB_TEST_TLS_KEY");
    snprintf(rm, sizeof(rm), "rm -rf %s", t->dir);
    ck_assert_int_eq(system(rm), 0);
}

/* A certificate directory of one hash link; see the header. */
void
net_tls_trust_only(struct net_tls *t, int n, const char *cert)
{
    char certs[300];

    snprintf(certs, sizeof(certs), "%s/certs%d", t->dir, n);
    ck_assert_int_eq(mkdir(certs, 0700), 0);
    net_hash_link(cert, certs);
    setenv("SSL_CERT_DIR", certs, 1);
}
