/* N concurrent conversations through the broker (broker.c, built as daemon.c builds it)
 * with the scripted ACP agent: every conversation gets one message at once, the run ends
 * when the engine is idle. A conversation counts as answered when its thread shows the
 * agent's echo of its own message. Reported: wall time, the broker's VmRSS before the
 * conversations (the baseline) and after, its VmHWM, and the agent processes (pool and
 * /proc) with their summed VmRSS while still alive.
 *
 * The conversations are threads spread round-robin over CHANNELS parent channels (a
 * team's busy channel is CHANNELS = 1).
 *
 * Usage: bench_scale SOURCE_ROOT CONVERSATIONS SESSIONS_PER_PROCESS CHANNELS
 * Prints "name value" lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "bench_clock.h"
#include "broker.h"
#include "log.h"
#include "proc_status.h"

#define SCALE_TIMEOUT_MS 55000

struct scale {
    size_t n;
    size_t channels;
    bool *is_answered; /* owned, one per conversation */
    size_t answered;
};

/* A text in thread "conv-I": answered once it is the agent's echo of that conversation's
 * message ("You said: <sender_context>...</sender_context> hello from conv-I"). */
static void
scale_on_text(void *arg, const char *where, const char *text)
{
    struct scale *s = arg;
    char expected[64];
    size_t i, n = strlen(text), len;

    if (sscanf(where, "conv-%zu", &i) != 1 || i >= s->n || s->is_answered[i])
        return;
    len = (size_t)snprintf(expected, sizeof(expected), "hello from conv-%zu", i);
    if (strncmp(text, "You said: ", 10) == 0 && n >= len && strcmp(text + n - len, expected) == 0) {
        s->is_answered[i] = true;
        s->answered++;
    }
}

/* Deliver one message in each of @s->n conversations and wait until all turns ended. */
static int
scale_run(struct bench_broker *b, struct scale *s, double *wall_ms)
{
    char parent[32], conv[32], text[64];
    double t0 = bench_clock_ms();
    int rc;

    for (size_t i = 0; i < s->n; i++) {
        snprintf(parent, sizeof(parent), "channel-%zu", i % s->channels);
        snprintf(conv, sizeof(conv), "conv-%zu", i);
        snprintf(text, sizeof(text), "hello from conv-%zu", i);
        if ((rc = bench_broker_deliver(b, parent, conv, text)) < 0)
            return rc;
    }
    rc = bench_broker_wait_idle(b, SCALE_TIMEOUT_MS);
    *wall_ms = bench_clock_ms() - t0;
    return rc;
}

int
main(int argc, char **argv)
{
    char script[1024], dir[] = "/tmp/ab-bench-scale-XXXXXX";
    const char *args[] = {script, "--tick", "0", NULL};
    struct scale s = {0};
    struct pool_config pc = {0};
    struct pool_stats ps;
    struct bench_broker *b;
    uint64_t rss_before = 0, rss_after = 0, hwm = 0, agents_rss = 0;
    size_t children = 0;
    double wall_ms = 0;
    uv_loop_t loop;
    int rc;

    if (argc != 5 || atoi(argv[2]) < 1 || atoi(argv[3]) < 1 || atoi(argv[4]) < 1) {
        fprintf(stderr, "usage: %s SOURCE_ROOT CONVERSATIONS SESSIONS_PER_PROCESS CHANNELS\n",
                argv[0]);
        return 2;
    }
    s.n = (size_t)atoi(argv[2]);
    s.channels = (size_t)atoi(argv[4]);
    pc.max_sessions = (uint32_t)s.n;
    pc.sessions_per_process = (uint32_t)atoi(argv[3]);
    snprintf(script, sizeof(script), "%s/tests/acp/scripted-agent.js", argv[1]);
    if (access(script, R_OK) != 0 || !mkdtemp(dir)) {
        fprintf(stderr, "bench_scale: cannot read %s or make a temp dir\n", script);
        return 1;
    }
    if (!(s.is_answered = calloc(s.n, sizeof(bool))))
        return 1;
    log_configure(AB_LOG_WARN, LOG_FORMAT_TEXT);
    struct agent_launch launch = {
        .command = "node", .args = args, .cwd = dir, .shared_process = true};
    uv_loop_init(&loop);
    if ((rc = bench_broker_new(&loop, &pc, &launch, scale_on_text, &s, &b)) < 0)
        goto out;
    proc_status_kb(0, "VmRSS", &rss_before);
    rc = scale_run(b, &s, &wall_ms);
    proc_status_kb(0, "VmRSS", &rss_after);
    proc_status_kb(0, "VmHWM", &hwm);
    proc_status_children(getpid(), &children, &agents_rss);
    pool_stats(b->pool, &ps);
    bench_broker_free(b);
    printf("conversations %zu\n", s.n);
    printf("sessions_per_process %u\n", pc.sessions_per_process);
    printf("channels %zu\n", s.channels);
    printf("answered %zu\n", s.answered);
    printf("wall_ms %.0f\n", wall_ms);
    printf("rss_before_kb %llu\n", (unsigned long long)rss_before);
    printf("rss_after_kb %llu\n", (unsigned long long)rss_after);
    printf("hwm_kb %llu\n", (unsigned long long)hwm);
    printf("agent_processes %u\n", ps.processes);
    printf("agent_children %zu\n", children);
    printf("agents_rss_kb %llu\n", (unsigned long long)agents_rss);
out:
    if (rc < 0)
        fprintf(stderr, "bench_scale: %s\n", ab_strerror(rc));
    if (uv_loop_close(&loop) != 0) {
        fprintf(stderr, "bench_scale: handles left open on the loop\n");
        rc = AB_EIO;
    }
    free(s.is_answered);
    rmdir(dir);
    return rc < 0 || s.answered != s.n ? 1 : 0;
}
