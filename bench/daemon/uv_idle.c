/* The idle-memory baseline: a process with a libuv loop and a signal handle, waiting as
 * an idle daemon waits. Prints "ready" on stdout once the loop is about to run; SIGTERM
 * ends it with exit code 0. */
#include <signal.h>
#include <stdio.h>

#include <uv.h>

/* SIGTERM: close the handle so the loop ends. */
static void
uv_idle_on_term(uv_signal_t *s, int signum)
{
    (void)signum;
    uv_close((uv_handle_t *)s, NULL);
}

int
main(void)
{
    uv_loop_t loop;
    uv_signal_t term;

    if (uv_loop_init(&loop) < 0 || uv_signal_init(&loop, &term) < 0 ||
        uv_signal_start(&term, uv_idle_on_term, SIGTERM) < 0)
        return 1;
    printf("ready\n");
    fflush(stdout);
    uv_run(&loop, UV_RUN_DEFAULT);
    return uv_loop_close(&loop) == 0 ? 0 : 1;
}
