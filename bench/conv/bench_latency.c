/* Added latency from an inbound chat event to `session/prompt` on the agent's stdin.
 *
 * broker: the broker assembled as daemon.c does it (broker.c: policy, engine, render,
 *         pool, ACP client) with a warm session on bench_stamp_agent. A turn starts when
 *         the message goes to engine_inbound(); the agent stamps CLOCK_MONOTONIC the
 *         moment the prompt line is complete on its stdin and replies with the stamp,
 *         which comes back through the engine as the reply text. Also measured: how long
 *         engine_inbound() takes to return (the line is already written when it does).
 * direct: the baseline, the same agent program fed the very same prompt line (saved by
 *         the agent during the broker run) by a uv_write on the same loop: policy, engine,
 *         render and pool replaced by one write.
 *
 * Usage: bench_latency STAMP_AGENT [TURNS]   (default 1000, after 50 warm-up turns)
 * Prints "name value" lines (microseconds). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <unistd.h>

#include <uv.h>

#include "acp/ndjson.h"
#include "bench_clock.h"
#include "broker.h"
#include "log.h"

#define LATENCY_WARMUP 50
#define LATENCY_TURN_TIMEOUT_MS 10000

/* The direct path: the agent on our own pipes. */
struct direct {
    uv_loop_t *loop;
    uv_process_t proc;
    uv_pipe_t in, out;
    uv_timer_t deadline;
    struct ndjson fr;
    char buf[65536];
    unsigned responses; /* responses read so far */
    uint64_t stamp;     /* the last stamp read */
    int open_handles;   /* handles not yet closed */
    bool is_spawned;
    bool has_exited;
    bool is_late;
};

/* The stamp in @s ("... stamp NS ..."), or 0. */
static uint64_t
latency_stamp(const char *s, size_t n)
{
    const char *p = memmem(s, n, "stamp ", 6);

    return p ? strtoull(p + 6, NULL, 10) : 0;
}

/* The broker posted or edited a text: keep the stamp it carries. */
static void
latency_on_text(void *arg, const char *where, const char *text)
{
    uint64_t stamp = latency_stamp(text, strlen(text));

    (void)where;
    if (stamp)
        *(uint64_t *)arg = stamp;
}

/* Compare for qsort. */
static int
latency_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Print the median and p99 of @v (sorted in place) in microseconds as NAME_p50_us ... */
static void
latency_print(const char *name, uint64_t *v, size_t n)
{
    size_t slow = 0;

    for (size_t i = 0; i < n; i++)
        slow += v[i] > 1000000;
    qsort(v, n, sizeof(*v), latency_cmp);
    printf("%s_over_1ms %zu\n", name, slow);
    printf("%s_p50_us %.1f\n", name, v[n / 2] / 1e3);
    printf("%s_p99_us %.1f\n", name, v[n * 99 / 100] / 1e3);
    printf("%s_max_us %.1f\n", name, v[n - 1] / 1e3);
}

/* One turn through the broker: @read_ns gets inbound -> agent read, @call_ns the time
 * engine_inbound() took. 0 or a negative code. */
static int
latency_broker_turn(struct bench_broker *b, uint64_t *stamp, uint64_t *read_ns, uint64_t *call_ns)
{
    uint64_t t0, t1;
    int rc;

    *stamp = 0;
    t0 = bench_clock_ns();
    rc = bench_broker_deliver(b, "channel-1", "thread-1", "what time is it?");
    t1 = bench_clock_ns();
    if (rc < 0 || (rc = bench_broker_wait_idle(b, LATENCY_TURN_TIMEOUT_MS)) < 0)
        return rc;
    if (*stamp < t0) {
        fprintf(stderr, "bench_latency: no stamp in the broker's reply\n");
        return AB_EPROTO;
    }
    *read_ns = *stamp - t0;
    *call_ns = t1 - t0;
    return 0;
}

/* Count responses and keep stamps from the agent's lines. */
static int
direct_line(void *arg, const char *line, size_t len)
{
    struct direct *d = arg;
    uint64_t stamp = latency_stamp(line, len);

    if (stamp)
        d->stamp = stamp;
    if (memmem(line, len, "\"result\"", 8) || memmem(line, len, "\"error\"", 7))
        d->responses++;
    return 0;
}

/* Buffer for the agent's stdout. */
static void
direct_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct direct *d = h->data;

    (void)hint;
    *buf = uv_buf_init(d->buf, sizeof(d->buf));
}

/* The agent wrote something (or closed stdout). */
static void
direct_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct direct *d = s->data;

    if (n > 0)
        ndjson_feed(&d->fr, buf->base, (size_t)n, direct_line, d);
    else if (n < 0)
        uv_read_stop(s);
}

/* The agent exited. */
static void
direct_exit(uv_process_t *p, int64_t status, int sig)
{
    struct direct *d = p->data;

    (void)status;
    (void)sig;
    d->has_exited = true;
}

/* A write finished. */
static void
direct_written(uv_write_t *req, int status)
{
    (void)status;
    free(req);
}

/* Write @line (lent; must stay alive until the reply) plus a newline. */
static int
direct_send(struct direct *d, const char *line, size_t len)
{
    uv_write_t *req = malloc(sizeof(*req));
    uv_buf_t b[2] = {uv_buf_init((char *)line, (unsigned)len), uv_buf_init("\n", 1)};
    int rc;

    if (!req)
        return AB_ENOMEM;
    if ((rc = uv_write(req, (uv_stream_t *)&d->in, b, 2, direct_written)) < 0)
        free(req);
    return rc;
}

/* The wait for a response ran out of time. */
static void
direct_late(uv_timer_t *t)
{
    ((struct direct *)t->data)->is_late = true;
}

/* Run the loop until @n responses arrived in all; AB_ETIMEDOUT when the agent is silent. */
static int
direct_wait(struct direct *d, unsigned n)
{
    d->is_late = false;
    uv_timer_start(&d->deadline, direct_late, LATENCY_TURN_TIMEOUT_MS, 0);
    while (d->responses < n && !d->is_late && !d->has_exited)
        uv_run(d->loop, UV_RUN_ONCE);
    uv_timer_stop(&d->deadline);
    return d->responses >= n ? 0 : AB_ETIMEDOUT;
}

/* Start the agent on our pipes and open session sess-1 as the pool would. */
static int
direct_start(struct direct *d, uv_loop_t *loop, const char *agent, const char *cwd)
{
    static const char init[] = "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\","
                               "\"params\":{\"protocolVersion\":1}}";
    char session[512];
    char *args[] = {(char *)agent, NULL};
    uv_stdio_container_t stdio[3];
    uv_process_options_t opt = {0};
    int rc;

    d->loop = loop;
    ndjson_init(&d->fr, NDJSON_MAX_LINE);
    uv_pipe_init(loop, &d->in, 0);
    uv_pipe_init(loop, &d->out, 0);
    uv_timer_init(loop, &d->deadline);
    d->in.data = d->out.data = d->proc.data = d->deadline.data = d;
    stdio[0] = (uv_stdio_container_t){.flags = UV_CREATE_PIPE | UV_READABLE_PIPE,
                                      .data.stream = (uv_stream_t *)&d->in};
    stdio[1] = (uv_stdio_container_t){.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE,
                                      .data.stream = (uv_stream_t *)&d->out};
    stdio[2] = (uv_stdio_container_t){.flags = UV_INHERIT_FD, .data.fd = 2};
    opt.file = agent;
    opt.args = args;
    opt.stdio = stdio;
    opt.stdio_count = 3;
    opt.exit_cb = direct_exit;
    if ((rc = uv_spawn(loop, &d->proc, &opt)) < 0)
        return rc;
    d->is_spawned = true;
    uv_read_start((uv_stream_t *)&d->out, direct_alloc, direct_read);
    snprintf(session, sizeof(session),
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"session/new\","
             "\"params\":{\"cwd\":\"%s\",\"mcpServers\":[]}}",
             cwd);
    if ((rc = direct_send(d, init, strlen(init))) < 0 ||
        (rc = direct_send(d, session, strlen(session))) < 0)
        return rc;
    return direct_wait(d, 2);
}

/* One of our handles is closed. */
static void
direct_closed(uv_handle_t *h)
{
    ((struct direct *)h->data)->open_handles--;
}

/* Close stdin (the agent exits on EOF), wait for it, close every handle; the broker's
 * handles share the loop, so run it only until ours are closed. */
static void
direct_stop(struct direct *d)
{
    d->open_handles = d->is_spawned ? 4 : 3;
    uv_close((uv_handle_t *)&d->in, direct_closed);
    d->is_late = false;
    uv_timer_start(&d->deadline, direct_late, LATENCY_TURN_TIMEOUT_MS, 0);
    while (d->is_spawned && !d->has_exited && !d->is_late)
        uv_run(d->loop, UV_RUN_ONCE);
    if (d->is_spawned && !d->has_exited)
        uv_process_kill(&d->proc, SIGKILL);
    while (d->is_spawned && !d->has_exited)
        uv_run(d->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&d->out, direct_closed);
    if (d->is_spawned)
        uv_close((uv_handle_t *)&d->proc, direct_closed);
    uv_close((uv_handle_t *)&d->deadline, direct_closed);
    while (d->open_handles > 0)
        uv_run(d->loop, UV_RUN_ONCE);
    ndjson_free(&d->fr);
}

/* The saved prompt line (malloc'd), or NULL. */
static char *
latency_read_line(const char *path)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;

    if (!f)
        return NULL;
    n = getline(&line, &cap, f);
    fclose(f);
    if (n <= 1) {
        free(line);
        return NULL;
    }
    line[n - 1] = '\0';
    return line;
}

/* One write of @line (lent) straight to the agent: @read_ns gets write -> agent read,
 * @call_ns the time the write call took. */
static int
latency_direct_turn(struct direct *d, const char *line, uint64_t *read_ns, uint64_t *call_ns)
{
    uint64_t t0, t1;
    int rc;

    d->stamp = 0;
    t0 = bench_clock_ns();
    rc = direct_send(d, line, strlen(line));
    t1 = bench_clock_ns();
    if (rc < 0 || (rc = direct_wait(d, d->responses + 1)) < 0)
        return rc;
    if (d->stamp < t0) {
        fprintf(stderr, "bench_latency: no stamp in the direct reply\n");
        return AB_EPROTO;
    }
    *read_ns = d->stamp - t0;
    *call_ns = t1 - t0;
    return 0;
}

/* Warm the broker's session (the agent saves the prompt line), start the direct agent
 * with that line, then alternate broker and direct turns so both see the same machine. */
static int
latency_run(uv_loop_t *loop, const struct agent_launch *launch, const char *save, size_t turns,
            uint64_t *broker_read, uint64_t *broker_call, uint64_t *direct_read,
            uint64_t *direct_call)
{
    struct pool_config pc = {.max_sessions = 1, .sessions_per_process = 1};
    static struct direct d;
    struct bench_broker *b;
    uint64_t stamp, ignored;
    char *line = NULL;
    int rc;

    if ((rc = bench_broker_new(loop, &pc, launch, latency_on_text, &stamp, &b)) < 0)
        return rc;
    for (size_t i = 0; i < LATENCY_WARMUP && rc == 0; i++)
        rc = latency_broker_turn(b, &stamp, &ignored, &ignored);
    if (rc < 0)
        goto out_broker;
    if (!(line = latency_read_line(save))) {
        fprintf(stderr, "bench_latency: the agent saved no prompt line in %s\n", save);
        rc = AB_EPROTO;
        goto out_broker;
    }
    if ((rc = direct_start(&d, loop, launch->command, launch->cwd)) < 0)
        goto out_direct;
    for (size_t i = 0; i < LATENCY_WARMUP && rc == 0; i++)
        rc = latency_direct_turn(&d, line, &ignored, &ignored);
    for (size_t i = 0; i < turns && rc == 0; i++)
        if ((rc = latency_broker_turn(b, &stamp, &broker_read[i], &broker_call[i])) == 0)
            rc = latency_direct_turn(&d, line, &direct_read[i], &direct_call[i]);
    if (rc == 0)
        printf("prompt_bytes %zu\n", strlen(line) + 1);
out_direct:
    direct_stop(&d);
out_broker:
    bench_broker_free(b);
    free(line);
    return rc;
}

int
main(int argc, char **argv)
{
    size_t turns = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000;
    char dir[] = "/tmp/ab-bench-latency-XXXXXX", save[64], agent[4096];
    const char *args[3] = {"--save", save, NULL};
    uint64_t *broker_read = calloc(turns ? turns : 1, sizeof(uint64_t));
    uint64_t *broker_call = calloc(turns ? turns : 1, sizeof(uint64_t));
    uint64_t *direct_read = calloc(turns ? turns : 1, sizeof(uint64_t));
    uint64_t *direct_call = calloc(turns ? turns : 1, sizeof(uint64_t));
    uv_loop_t loop;
    int rc = 1;

    if (argc < 2 || turns < 100) {
        fprintf(stderr, "usage: %s STAMP_AGENT [TURNS >= 100]\n", argv[0]);
        return 2;
    }
    if (!broker_read || !broker_call || !direct_read || !direct_call || !mkdtemp(dir))
        return 1;
    if (!realpath(argv[1], agent)) { /* the agent runs in @dir */
        fprintf(stderr, "bench_latency: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    log_configure(AB_LOG_WARN, LOG_FORMAT_TEXT);
    snprintf(save, sizeof(save), "%s/prompt.jsonl", dir);
    struct agent_launch launch = {.command = agent, .args = args, .cwd = dir};
    uv_loop_init(&loop);
    if ((rc = latency_run(&loop, &launch, save, turns, broker_read, broker_call, direct_read,
                          direct_call)) < 0) {
        fprintf(stderr, "bench_latency: %s\n", ab_strerror(rc));
        goto out;
    }
    printf("turns %zu\n", turns);
    latency_print("broker_read", broker_read, turns);
    latency_print("broker_call", broker_call, turns);
    latency_print("direct_read", direct_read, turns);
    latency_print("direct_call", direct_call, turns);
out:
    if (uv_loop_close(&loop) != 0) {
        fprintf(stderr, "bench_latency: handles left open on the loop\n");
        rc = AB_EIO;
    }
    unlink(save);
    rmdir(dir);
    free(broker_read);
    free(broker_call);
    free(direct_read);
    free(direct_call);
    return rc < 0 ? 1 : 0;
}
