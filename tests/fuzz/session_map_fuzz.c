/* libFuzzer target: the session map read back at start (core/src/acp/state_map.c and
 * the pool's restore of conversation -> session entries, pool.c). sessions.json lives in
 * a directory the agent's uid can write, so whatever it holds must never crash the
 * daemon. Each input is written as sessions.json in a scratch directory, a pool is
 * created on it (no agent is started: nothing is prompted), then closed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "acp/pool.h"

static uv_loop_t session_map_fuzz_loop;
static char session_map_fuzz_dir[] = "/dev/shm/ab-session-map-fuzz-XXXXXX";
static char session_map_fuzz_path[80];

/* pool_close finished. */
static void
session_map_fuzz_closed(void *arg)
{
    *(bool *)arg = true;
}

/* Remove the scratch directory when the fuzzer exits. */
static void
session_map_fuzz_cleanup(void)
{
    char tmp[128];

    unlink(session_map_fuzz_path);
    /* the state writer's temp files, should one be left */
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", session_map_fuzz_path, (long)getpid());
    unlink(tmp);
    rmdir(session_map_fuzz_dir);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f;
    static const struct agent_launch launch = {.command = "/bin/false", .cwd = "/"};
    struct pool_config cfg = {
        .max_sessions = 4,
        .session_ttl_ms = 3600000,
        .state_dir = session_map_fuzz_dir,
    };
    struct pool *pool;
    bool closed = false;

    if (!session_map_fuzz_path[0]) {
        if (!mkdtemp(session_map_fuzz_dir) || uv_loop_init(&session_map_fuzz_loop) != 0)
            abort();
        atexit(session_map_fuzz_cleanup);
        snprintf(session_map_fuzz_path, sizeof(session_map_fuzz_path), "%s/sessions.json",
                 session_map_fuzz_dir);
    }
    if (!(f = fopen(session_map_fuzz_path, "wb")) || fwrite(data, 1, size, f) != size ||
        fclose(f) != 0)
        abort(); /* a plain write: fsync per input would slow the fuzzer down */
    if (pool_new(&session_map_fuzz_loop, &cfg, &launch, &pool) < 0)
        return 0;
    pool_close(pool, session_map_fuzz_closed, &closed);
    while (!closed)
        uv_run(&session_map_fuzz_loop, UV_RUN_ONCE);
    uv_run(&session_map_fuzz_loop, UV_RUN_NOWAIT);
    return 0;
}
