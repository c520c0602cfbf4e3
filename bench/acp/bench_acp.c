/* ACP benchmarks: broker bytes per idle live session, processes for 32 conversations at
 * sessions_per_process = 8, framing throughput against a memchr-only baseline on the
 * same buffer, and processes left after 100 start/stop cycles. Prints "name value" lines
 * that run.sh turns into a table. Usage: bench_acp SOURCE_ROOT */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "acp/ndjson.h"
#include "acp/pool.h"

static const char *root;
static char script[512], dir[64];

struct bench_turn {
    bool done;
    int rc;
    char text[64];
};

/* Keep the start of the turn's text (a pid). */
static void
bench_on_event(void *arg, const struct acp_event *ev)
{
    struct bench_turn *t = arg;
    size_t n = strlen(t->text);

    if (ev->kind == ACP_EV_MESSAGE_CHUNK && ev->u.chunk.text && n < sizeof(t->text) - 1)
        snprintf(t->text + n, sizeof(t->text) - n, "%s", ev->u.chunk.text);
}

/* Note the end of a turn. */
static void
bench_on_done(void *arg, const struct turn_result *r)
{
    struct bench_turn *t = arg;

    t->done = true;
    t->rc = r->rc;
}

static const struct turn_callbacks bench_cb = {.on_event = bench_on_event,
                                               .on_done = bench_on_done};

/* Run @loop until @n turns are done. */
static void
bench_wait(uv_loop_t *loop, struct bench_turn *t, int n)
{
    int i;

    for (i = 0; i < n; i++)
        while (!t[i].done)
            uv_run(loop, UV_RUN_ONCE);
}

/* pool_close finished. */
static void
bench_closed(void *arg)
{
    *(bool *)arg = true;
}

/* Close @pool and run the loop dry. */
static void
bench_close(uv_loop_t *loop, struct pool *pool)
{
    bool closed = false;

    pool_close(pool, bench_closed, &closed);
    while (!closed)
        uv_run(loop, UV_RUN_ONCE);
    uv_run(loop, UV_RUN_DEFAULT);
}

/* A launch of the scripted agent. */
static void
bench_launch(struct agent_launch *l, const char **args)
{
    memset(l, 0, sizeof(*l));
    args[0] = script;
    args[1] = "--tick";
    args[2] = "0";
    args[3] = NULL;
    l->command = "node";
    l->args = args;
    l->cwd = dir;
    l->shared_process = true;
}

/* @n conversations on processes of @spp sessions: returns processes; *@bytes gets the
 * broker's heap growth per session once they are all idle. */
static int
bench_sessions(int n, uint32_t spp, double *bytes)
{
    struct pool_config cfg = {
        .max_sessions = (uint32_t)n, .sessions_per_process = spp, .stop_grace_ms = 500};
    struct agent_launch l;
    const char *args[4];
    struct bench_turn *t = calloc((size_t)n, sizeof(*t));
    struct pool_stats st;
    struct pool *pool;
    struct mallinfo2 before, after;
    uv_loop_t loop;
    char key[32];
    int i;

    bench_launch(&l, args);
    uv_loop_init(&loop);
    pool_new(&loop, &cfg, &l, &pool);
    before = mallinfo2();
    for (i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "discord:%d", i);
        if (pool_prompt(pool, key, NULL, "hi", &bench_cb, &t[i], NULL) < 0)
            abort();
    }
    bench_wait(&loop, t, n);
    after = mallinfo2();
    pool_stats(pool, &st);
    *bytes = ((double)after.uordblks - (double)before.uordblks) / n;
    bench_close(&loop, pool);
    uv_loop_close(&loop);
    free(t);
    return (int)st.processes;
}

/* Discard a line. */
static int
bench_line(void *arg, const char *line, size_t len)
{
    (void)line;
    *(size_t *)arg += len;
    return 0;
}

/* Parse a line as JSON too (the client's real per-line work). */
static int
bench_parse(void *arg, const char *line, size_t len)
{
    cJSON *j = cJSON_ParseWithLength(line, len);

    *(size_t *)arg += j ? len : 0;
    cJSON_Delete(j);
    return 0;
}

/* Seconds since an arbitrary point. */
static double
bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Framing MB/s over @reps passes of a buffer of session/update lines, fed in 64 KiB reads. */
static void
bench_framing(void)
{
    const char *line =
        "{\"jsonrpc\":\"2.0\",\"method\":\"session/update\",\"params\":{\"sessionId\":"
        "\"sess-1234-1\",\"update\":{\"sessionUpdate\":\"agent_message_chunk\","
        "\"messageId\":\"m-1\",\"content\":{\"type\":\"text\",\"text\":\"Here is "
        "the next piece of the answer, with some code: `int x = 1;`\"}}}}\n";
    size_t ll = strlen(line), total = (size_t)64 << 20, n = total / ll, i, off, seen = 0;
    char *buf = malloc(n * ll);
    double t0, t_frame, t_memchr, t_parse;
    struct ndjson fr;
    int rep, lines = 0;
    const char *p, *nl;

    for (i = 0; i < n; i++)
        memcpy(buf + i * ll, line, ll);
    total = n * ll;
    t0 = bench_now();
    for (rep = 0; rep < 5; rep++) {
        ndjson_init(&fr, 0);
        for (off = 0; off < total; off += 65536)
            ndjson_feed(&fr, buf + off, total - off < 65536 ? total - off : 65536, bench_line,
                        &seen);
        ndjson_free(&fr);
    }
    t_frame = bench_now() - t0;
    t0 = bench_now();
    for (rep = 0; rep < 5; rep++)
        for (p = buf; (nl = memchr(p, '\n', (size_t)(buf + total - p))); p = nl + 1)
            lines++;
    t_memchr = bench_now() - t0;
    t0 = bench_now();
    ndjson_init(&fr, 0);
    for (off = 0; off < total; off += 65536)
        ndjson_feed(&fr, buf + off, total - off < 65536 ? total - off : 65536, bench_parse, &seen);
    ndjson_free(&fr);
    t_parse = bench_now() - t0;
    printf("framing_mb_s %.0f\n", 5 * total / 1e6 / t_frame);
    printf("memchr_mb_s %.0f\n", 5 * total / 1e6 / t_memchr);
    printf("framing_vs_memchr %.2f\n", t_memchr / t_frame);
    printf("framing_parse_mb_s %.0f\n", total / 1e6 / t_parse);
    printf("framing_lines %d\n", lines / 5);
    free(buf);
}

/* Whether @pid is still running (a zombie we adopted is reaped and counts as gone). */
static bool
bench_alive(int pid)
{
    waitpid(pid, NULL, WNOHANG);
    return kill(pid, 0) == 0;
}

/* @cycles of start, one turn that forks a grandchild, stop: count survivors. */
static void
bench_cycles(int cycles)
{
    struct pool_config cfg = {.max_sessions = 1, .stop_grace_ms = 300};
    struct agent_launch l;
    const char *args[4];
    int *pids = calloc((size_t)cycles * 2, sizeof(int)), i, left = 0;
    struct bench_turn t[2];
    struct pool *pool;
    uv_loop_t loop;
    double t0 = bench_now();

    bench_launch(&l, args);
    uv_loop_init(&loop);
    for (i = 0; i < cycles; i++) {
        memset(t, 0, sizeof(t));
        pool_new(&loop, &cfg, &l, &pool);
        pool_prompt(pool, "k", NULL, "[[pid]]", &bench_cb, &t[0], NULL);
        bench_wait(&loop, &t[0], 1);
        pool_prompt(pool, "k", NULL, "[[grandchild]]", &bench_cb, &t[1], NULL);
        bench_wait(&loop, &t[1], 1);
        pids[2 * i] = atoi(strchr(t[0].text, ':') + 1);
        pids[2 * i + 1] = atoi(strchr(t[1].text, ':') + 1);
        bench_close(&loop, pool);
    }
    uv_loop_close(&loop);
    usleep(200000);
    for (i = 0; i < 2 * cycles; i++)
        left += bench_alive(pids[i]);
    printf("cycles %d\n", cycles);
    printf("cycle_ms %.0f\n", (bench_now() - t0) * 1000 / cycles);
    printf("processes_left %d\n", left);
    free(pids);
}

int
main(int argc, char **argv)
{
    double bytes;
    char cmd[128];

    if (argc < 2)
        return 2;
    root = argv[1];
    snprintf(script, sizeof(script), "%s/tests/acp/scripted-agent.js", root);
    snprintf(dir, sizeof(dir), "/tmp/ab-bench-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    bench_framing();
    printf("processes_32_spp8 %d\n", bench_sessions(32, 8, &bytes));
    printf("processes_1000_spp125 %d\n", bench_sessions(1000, 125, &bytes));
    printf("bytes_per_idle_session %.0f\n", bytes);
    bench_cycles(100);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
