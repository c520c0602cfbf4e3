/* The built daemon seen from outside.
 *
 * idle:    VmRSS of `agent-broker console CONFIG` once it logged "started" and sat idle
 *          for a moment (stdin held open, no message), against bench_uv_idle, a bare
 *          libuv loop program, measured the same way.
 * startup: time from fork to the first 200 from GET /readyz of `agent-broker run CONFIG`
 *          whose only chat plugin is chat-ready (connected at once), against the time of
 *          `agent-broker --version` from fork to exit; the runs alternate.
 *
 * Usage: bench_daemon AGENT_BROKER UV_IDLE PLUGIN_DIR SOURCE_ROOT [RUNS]   (default 20)
 * Prints "name value" lines. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_clock.h"
#include "proc_status.h"

#define DAEMON_WAIT_MS 10000 /* the longest a daemon may take to start or to stop */
#define DAEMON_SETTLE_US 300000

/* Standard streams for a child: an fd each, -1 = /dev/null. */
struct daemon_stdio {
    int in, out, err;
};

/* Start @argv with @io; the pid, or -errno. */
static pid_t
daemon_spawn(char *const *argv, const struct daemon_stdio *io)
{
    pid_t pid = fork();

    if (pid < 0)
        return -errno;
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(io->in >= 0 ? io->in : null, 0);
        dup2(io->out >= 0 ? io->out : null, 1);
        dup2(io->err >= 0 ? io->err : null, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* Wait up to @ms for @pid to exit, then kill it; its exit status. */
static int
daemon_reap(pid_t pid, int ms)
{
    int status = 0;

    for (int waited = 0; waited < ms; waited++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return status;
        usleep(1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return status;
}

/* Read @fd until @marker appears or DAEMON_WAIT_MS pass; 0 or AB-style -ETIMEDOUT. */
static int
daemon_wait_marker(int fd, const char *marker)
{
    char buf[8192];
    size_t len = 0;
    double until = bench_clock_ms() + DAEMON_WAIT_MS;
    struct pollfd p = {.fd = fd, .events = POLLIN};

    while (bench_clock_ms() < until) {
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
        if (n <= 0)
            return -EPIPE;
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, marker))
            return 0;
        if (len > sizeof(buf) / 2) { /* keep the tail: the marker may straddle reads */
            memmove(buf, buf + len - 256, 256);
            len = 256;
        }
    }
    return -ETIMEDOUT;
}

/* VmRSS (kB) of @argv once it printed @marker on @marker_fd (1 = stdout, 2 = stderr) and
 * sat idle; stdin stays an open pipe. 0 on failure. */
static uint64_t
daemon_idle_rss(char *const *argv, int marker_fd, const char *marker)
{
    int in[2], out[2];
    uint64_t rss = 0;
    pid_t pid;

    if (pipe(in) < 0)
        return 0;
    if (pipe(out) < 0)
        goto fail_in;
    struct daemon_stdio io = {in[0], marker_fd == 1 ? out[1] : -1, marker_fd == 2 ? out[1] : -1};
    if ((pid = daemon_spawn(argv, &io)) < 0)
        goto fail_out;
    close(out[1]);
    out[1] = -1;
    if (daemon_wait_marker(out[0], marker) == 0) {
        usleep(DAEMON_SETTLE_US);
        if (proc_status_kb(pid, "VmRSS", &rss) < 0)
            rss = 0;
    } else {
        fprintf(stderr, "bench_daemon: %s never printed \"%s\"\n", argv[0], marker);
    }
    kill(pid, SIGTERM);
    close(in[1]); /* the console also ends on EOF */
    in[1] = -1;
    daemon_reap(pid, DAEMON_WAIT_MS);
fail_out:
    close(out[0]);
    if (out[1] >= 0)
        close(out[1]);
fail_in:
    close(in[0]);
    if (in[1] >= 0)
        close(in[1]);
    return rss;
}

/* The HTTP status of GET @path on 127.0.0.1:@port, or -errno. */
static int
daemon_http_status(int port, const char *path)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {.tv_sec = 1};
    char req[128], resp[64] = "";
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), status = -ECONNREFUSED;
    ssize_t n;

    if (fd < 0)
        return -errno;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
        int len = snprintf(req, sizeof(req),
                           "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
        if (write(fd, req, (size_t)len) == len && (n = read(fd, resp, sizeof(resp) - 1)) > 0 &&
            sscanf(resp, "HTTP/1.%*d %d", &status) != 1)
            status = -EPROTO;
    }
    close(fd);
    return status;
}

/* A free TCP port on 127.0.0.1, or -errno. */
static int
daemon_free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    if (fd < 0)
        return -errno;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        port = -errno;
    else
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* Milliseconds from fork to /readyz 200 for `@bin run @config`; < 0 on failure. */
static double
daemon_time_ready(char *bin, char *config, int port, int log_fd)
{
    char *argv[] = {bin, "run", config, NULL};
    struct daemon_stdio io = {-1, -1, log_fd};
    double t0 = bench_clock_ms(), t = -1;
    pid_t pid = daemon_spawn(argv, &io);

    if (pid < 0)
        return -1;
    while (bench_clock_ms() - t0 < DAEMON_WAIT_MS) {
        if (daemon_http_status(port, "/readyz") == 200) {
            t = bench_clock_ms() - t0;
            break;
        }
        if (waitpid(pid, NULL, WNOHANG) == pid) { /* it gave up: see the log */
            pid = 0;
            break;
        }
        usleep(500);
    }
    if (pid > 0) {
        kill(pid, SIGTERM);
        daemon_reap(pid, DAEMON_WAIT_MS);
    }
    return t;
}

/* Milliseconds from fork to exit of `@bin --version`; < 0 on failure. */
static double
daemon_time_version(char *bin)
{
    char *argv[] = {bin, "--version", NULL};
    struct daemon_stdio io = {-1, -1, -1};
    double t0 = bench_clock_ms();
    pid_t pid = daemon_spawn(argv, &io);

    if (pid < 0 || daemon_reap(pid, DAEMON_WAIT_MS) != 0)
        return -1;
    return bench_clock_ms() - t0;
}

/* Compare for qsort. */
static int
daemon_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Write @text to @path; 0 or -errno. */
static int
daemon_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (!f)
        return -errno;
    fputs(text, f);
    return fclose(f) == 0 ? 0 : -errno;
}

int
main(int argc, char **argv)
{
    char dir[] = "/tmp/ab-bench-daemon-XXXXXX", console_cfg[64], run_cfg[64], log_path[64];
    char agents_cfg[64];
    char agent[1024], text[4096];
    int runs = argc > 5 ? atoi(argv[5]) : 20, port = daemon_free_port(), log_fd, failed = 0;
    double *ready, *version;
    uint64_t rss_daemon, rss_base, rss_agents;

    if (argc < 5 || runs < 1 || port < 0) {
        fprintf(stderr, "usage: %s AGENT_BROKER UV_IDLE PLUGIN_DIR SOURCE_ROOT [RUNS]\n", argv[0]);
        return 2;
    }
    if (!mkdtemp(dir) || !(ready = calloc((size_t)runs, sizeof(double))) ||
        !(version = calloc((size_t)runs, sizeof(double))))
        return 1;
    snprintf(console_cfg, sizeof(console_cfg), "%s/console.toml", dir);
    snprintf(run_cfg, sizeof(run_cfg), "%s/run.toml", dir);
    snprintf(log_path, sizeof(log_path), "%s/run.log", dir);
    snprintf(agent, sizeof(agent),
             "[agent]\ncommand = \"node\"\nargs = [\"%s/tests/acp/scripted-agent.js\"]\n"
             "working_dir = \"%s\"\n",
             argv[4], dir);
    snprintf(text, sizeof(text), "%s[log]\nlevel = \"info\"\n", agent);
    if (daemon_write_file(console_cfg, text) < 0)
        return 1;
    /* the same with four more agents, none of them started (no session yet) */
    snprintf(agents_cfg, sizeof(agents_cfg), "%s/agents.toml", dir);
    for (int i = 2; i <= 5; i++)
        snprintf(text + strlen(text), sizeof(text) - strlen(text),
                 "[agents.a%d]\ncommand = \"node\"\nargs = [\"%s/tests/acp/scripted-agent.js\"]\n"
                 "working_dir = \"%s\"\n",
                 i, argv[4], dir);
    if (daemon_write_file(agents_cfg, text) < 0)
        return 1;
    snprintf(text, sizeof(text),
             "[plugins]\npath = [\"%s\"]\nchat = [\"ready\"]\n\n[ready]\n\n%s\n"
             "[health]\nlisten = \"127.0.0.1:%d\"\n\n[state]\ndir = \"%s/state\"\n",
             argv[3], agent, port, dir);
    if (daemon_write_file(run_cfg, text) < 0 ||
        (log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
        return 1;

    char *console_argv[] = {argv[1], "console", console_cfg, NULL};
    char *idle_argv[] = {argv[2], NULL};
    char *agents_argv[] = {argv[1], "console", agents_cfg, NULL};
    rss_daemon = daemon_idle_rss(console_argv, 2, " started: ");
    rss_agents = daemon_idle_rss(agents_argv, 2, " started: ");
    rss_base = daemon_idle_rss(idle_argv, 1, "ready");
    printf("idle_rss_kb %llu\n", (unsigned long long)rss_daemon);
    printf("idle_baseline_rss_kb %llu\n", (unsigned long long)rss_base);
    printf("idle_rss_5_agents_kb %llu\n", (unsigned long long)rss_agents);

    for (int i = 0; i < runs; i++) {
        ready[i] = daemon_time_ready(argv[1], run_cfg, port, log_fd);
        version[i] = daemon_time_version(argv[1]);
        failed += ready[i] < 0 || version[i] < 0;
    }
    qsort(ready, (size_t)runs, sizeof(double), daemon_cmp);
    qsort(version, (size_t)runs, sizeof(double), daemon_cmp);
    printf("runs %d\n", runs);
    printf("failed_runs %d\n", failed);
    printf("ready_ms_p50 %.2f\n", ready[runs / 2]);
    printf("ready_ms_min %.2f\n", ready[0]);
    printf("version_ms_p50 %.2f\n", version[runs / 2]);
    printf("version_ms_min %.2f\n", version[0]);
    if (failed)
        fprintf(stderr, "bench_daemon: %d run(s) failed; the daemon's log: %s\n", failed, log_path);
    close(log_fd);
    free(ready);
    free(version);
    if (!failed) {
        unlink(console_cfg);
        unlink(agents_cfg);
        unlink(run_cfg);
        unlink(log_path);
        snprintf(text, sizeof(text), "%s/state/sessions.json", dir);
        unlink(text);
        snprintf(text, sizeof(text), "%s/state", dir);
        rmdir(text);
        rmdir(dir);
    }
    return failed || !rss_daemon || !rss_base || !rss_agents ? 1 : 0;
}
