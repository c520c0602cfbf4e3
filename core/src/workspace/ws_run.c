/* Helper commands as child processes on the loop (see ws_run.h). */
#include "workspace/ws_run.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#define WS_RUN_OUTPUT_MAX 4096

struct ws_pipe {
    uv_pipe_t pipe;
    struct ws_run *run;
    char buf[WS_RUN_OUTPUT_MAX];
    size_t len;
};

struct ws_run {
    uv_process_t proc;
    uv_timer_t timer;
    struct ws_pipe out, err;
    ws_run_cb cb; /* NULL once detached or reported */
    void *arg;
    int open_handles; /* closed handles still to come before the record is freed */
    int live;         /* exit + two EOFs still to come before the result is known */
    bool timed_out;
    int64_t exit_status;
    int term_signal;
    char start_error[128];
};

/* One handle closed; the last frees the record. */
static void
ws_run_on_close(uv_handle_t *h)
{
    struct ws_run *r = h->data;

    if (--r->open_handles == 0)
        free(r);
}

/* Report the result once the child exited and both pipes ended. */
static void
ws_run_maybe_done(struct ws_run *r)
{
    char output[2 * WS_RUN_OUTPUT_MAX + 160];
    int rc = 0;

    if (--r->live > 0)
        return;
    uv_timer_stop(&r->timer);
    snprintf(output, sizeof(output), "%.*s%.*s", (int)r->out.len, r->out.buf, (int)r->err.len,
             r->err.buf);
    if (r->timed_out)
        rc = AB_ETIMEDOUT;
    else if (r->exit_status != 0 || r->term_signal != 0) {
        rc = AB_EIO;
        if (!output[0])
            snprintf(output, sizeof(output), "exit status %lld, signal %d",
                     (long long)r->exit_status, r->term_signal);
    }
    if (r->cb)
        r->cb(r->arg, rc, output);
    r->cb = NULL;
    uv_close((uv_handle_t *)&r->proc, ws_run_on_close);
    uv_close((uv_handle_t *)&r->out.pipe, ws_run_on_close);
    uv_close((uv_handle_t *)&r->err.pipe, ws_run_on_close);
    uv_close((uv_handle_t *)&r->timer, ws_run_on_close);
}

/* The child exited. */
static void
ws_run_on_exit(uv_process_t *proc, int64_t exit_status, int term_signal)
{
    struct ws_run *r = proc->data;

    r->exit_status = exit_status;
    r->term_signal = term_signal;
    ws_run_maybe_done(r);
}

/* Buffer for a read. */
static void
ws_run_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct ws_pipe *p = (struct ws_pipe *)h;

    (void)hint;
    if (p->len >= sizeof(p->buf)) {
        static char sink[256]; /* past the cap: read and drop */
        *buf = uv_buf_init(sink, sizeof(sink));
        return;
    }
    *buf = uv_buf_init(p->buf + p->len, (unsigned)(sizeof(p->buf) - p->len));
}

/* Output from the child: kept up to the cap; EOF counts towards the end. */
static void
ws_run_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct ws_pipe *p = (struct ws_pipe *)s;

    if (n > 0 && buf->base == p->buf + p->len) {
        p->len += (size_t)n;
        return;
    }
    if (n < 0) {
        uv_read_stop(s);
        ws_run_maybe_done(p->run);
    }
}

/* The timeout: kill the child (its exit ends the run). */
static void
ws_run_on_timeout(uv_timer_t *t)
{
    struct ws_run *r = t->data;

    r->timed_out = true;
    uv_process_kill(&r->proc, SIGKILL);
}

/* Report a failure to start on a later iteration. */
static void
ws_run_on_start_failed(uv_timer_t *t)
{
    struct ws_run *r = t->data;

    if (r->cb)
        r->cb(r->arg, AB_EIO, r->start_error);
    r->cb = NULL;
    uv_close((uv_handle_t *)&r->out.pipe, ws_run_on_close);
    uv_close((uv_handle_t *)&r->err.pipe, ws_run_on_close);
    uv_close((uv_handle_t *)&r->timer, ws_run_on_close);
}

/* See ws_run.h. */
int
ws_run_start(uv_loop_t *loop, char *const *argv, char *const *env, uint64_t timeout_ms,
             ws_run_cb cb, void *arg, struct ws_run **out)
{
    struct ws_run *r = calloc(1, sizeof(*r));
    uv_process_options_t opt = {0};
    uv_stdio_container_t stdio[3];
    int err;

    if (!r)
        return AB_ENOMEM;
    r->cb = cb;
    r->arg = arg;
    r->out.run = r->err.run = r;
    uv_pipe_init(loop, &r->out.pipe, 0);
    uv_pipe_init(loop, &r->err.pipe, 0);
    uv_timer_init(loop, &r->timer);
    r->out.pipe.data = r->err.pipe.data = r->timer.data = r->proc.data = r;
    r->open_handles = 4;
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&r->out.pipe;
    stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[2].data.stream = (uv_stream_t *)&r->err.pipe;
    opt.file = argv[0];
    opt.args = (char **)argv;
    opt.env = (char **)env;
    opt.stdio = stdio;
    opt.stdio_count = 3;
    opt.exit_cb = ws_run_on_exit;
    if ((err = uv_spawn(loop, &r->proc, &opt)) < 0) {
        snprintf(r->start_error, sizeof(r->start_error), "cannot run '%s': %s", argv[0],
                 uv_strerror(err));
        r->proc.data = r; /* libuv initialised the handle before failing: close it too */
        uv_close((uv_handle_t *)&r->proc, ws_run_on_close);
        uv_timer_start(&r->timer, ws_run_on_start_failed, 0, 0);
        if (out)
            *out = r;
        return 0;
    }
    r->live = 3;
    uv_read_start((uv_stream_t *)&r->out.pipe, ws_run_alloc, ws_run_on_read);
    uv_read_start((uv_stream_t *)&r->err.pipe, ws_run_alloc, ws_run_on_read);
    if (timeout_ms)
        uv_timer_start(&r->timer, ws_run_on_timeout, timeout_ms, 0);
    if (out)
        *out = r;
    return 0;
}

/* See ws_run.h. */
void
ws_run_detach(struct ws_run *r)
{
    r->cb = NULL;
}
