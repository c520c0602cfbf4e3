/* Agent child process; see agent_proc.h. */
#include "acp/agent_proc.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#include "acp/ndjson.h"
#include "fd_cloexec.h"
#include "log.h"

/* stderr lines logged per second before the rest are only counted. */
#define AGENT_PROC_LOG_RATE 20
/* Bytes of a stderr line read beyond the kept width (the longest secret redacted). */
#define AGENT_PROC_SECRET_WINDOW 512
/* How long to wait for stdout/stderr EOF after the child is reaped. */
#define AGENT_PROC_DRAIN_MS 500

enum agent_proc_phase {
    PHASE_RUNNING,
    PHASE_STDIN_CLOSED, /* waiting for the child to leave on EOF */
    PHASE_TERM_SENT,    /* waiting for the group to leave on SIGTERM */
    PHASE_KILL_SENT,
};

struct agent_proc {
    uv_process_t proc;
    uv_pipe_t in, out, err;
    uv_timer_t timer; /* stop escalation, then the post-exit drain */
    const struct agent_proc_ops *ops;
    void *arg;
    struct ndjson framer;
    int pid;
    int open_handles;
    enum agent_proc_phase phase;
    uint64_t grace_ms;
    bool in_open, out_eof, err_eof, exited, finishing, silent;
    struct agent_exit exit;
    /* stderr: the line being read, the ring of last lines, and the log budget */
    /* the line is read past the kept width so that a secret crossing it is redacted
     * whole before the cut */
    char err_line[AGENT_PROC_TAIL_WIDTH + AGENT_PROC_SECRET_WINDOW];
    size_t err_len;
    char tail[AGENT_PROC_TAIL_LINES][AGENT_PROC_TAIL_WIDTH];
    unsigned tail_next, tail_count;
    uint64_t log_window;
    unsigned log_count, log_dropped;
    char exit_tail[AGENT_PROC_TAIL_LINES * AGENT_PROC_TAIL_WIDTH]; /* lent by on_exit */
    char readbuf[65536];
};

struct agent_proc_write_req {
    uv_write_t req;
    struct agent_proc *p; /* lent: write callbacks run before its handles close */
    char *buf;            /* owned */
};

/* After a failed write, the agent gets this long to exit after SIGTERM. */
#define AGENT_PROC_BROKEN_GRACE_MS 2000

static void agent_proc_finish(struct agent_proc *p);

/* Signal the whole process group; a group already gone is fine. */
static void
agent_proc_signal_group(struct agent_proc *p, int sig)
{
    if (p->pid > 0 && kill(-p->pid, sig) < 0 && errno != ESRCH)
        log_warn("acp", "kill(-%d, %d): %s", p->pid, sig, strerror(errno));
}

/* A handle is closed: free the process once the last one is. */
static void
agent_proc_on_close(uv_handle_t *h)
{
    struct agent_proc *p = h->data;

    if (--p->open_handles > 0)
        return;
    if (!p->silent)
        p->ops->on_exit(p->arg, &p->exit);
    ndjson_free(&p->framer);
    free(p);
}

/* Close @h unless it is already closing. */
static void
agent_proc_close_handle(struct agent_proc *p, uv_handle_t *h)
{
    if (!uv_is_closing(h)) {
        h->data = p;
        uv_close(h, agent_proc_on_close);
    }
}

/* Hand each stdout line to the owner. */
static int
agent_proc_on_stdout_line(void *arg, const char *line, size_t len)
{
    struct agent_proc *p = arg;

    p->ops->on_line(p->arg, line, len);
    return 0;
}

/* Keep one complete stderr line in the ring and log it within the rate budget. */
static void
agent_proc_stderr_line(struct agent_proc *p)
{
    uint64_t now = uv_now(p->proc.loop);

    p->err_line[p->err_len] = '\0';
    if (p->err_len == 0)
        return;
    log_format_redacted(p->tail[p->tail_next], sizeof(p->tail[0]), "%s", p->err_line);
    p->tail_next = (p->tail_next + 1) % AGENT_PROC_TAIL_LINES;
    if (p->tail_count < AGENT_PROC_TAIL_LINES)
        p->tail_count++;
    if (now - p->log_window >= 1000) {
        if (p->log_dropped)
            log_debug("acp", "agent %d: %u stderr lines not logged", p->pid, p->log_dropped);
        p->log_window = now;
        p->log_count = p->log_dropped = 0;
    }
    if (p->log_count++ < AGENT_PROC_LOG_RATE)
        log_debug("acp", "agent %d stderr: %s", p->pid, p->err_line);
    else
        p->log_dropped++;
    p->err_len = 0;
}

/* Split stderr bytes into lines; a line longer than the tail width is cut (after
 * redaction, in agent_proc_stderr_line). */
static void
agent_proc_stderr_bytes(struct agent_proc *p, const char *data, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (data[i] == '\n')
            agent_proc_stderr_line(p);
        else if (data[i] != '\r' && p->err_len < sizeof(p->err_line) - 1)
            p->err_line[p->err_len++] = data[i];
    }
}

/* libuv asks for a read buffer: both streams share one, reads are never concurrent. */
static void
agent_proc_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct agent_proc *p = h->data;

    (void)suggested;
    *buf = uv_buf_init(p->readbuf, sizeof(p->readbuf));
}

/* Bytes from stdout: frame them into lines. */
static void
agent_proc_on_stdout(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct agent_proc *p = s->data;
    int rc;

    if (n > 0) {
        rc = ndjson_feed(&p->framer, buf->base, (size_t)n, agent_proc_on_stdout_line, p);
        if (rc == AB_EPROTO && !p->exit.stream_error) {
            log_error("acp", "agent %d sent a line over %zu bytes: stopping it", p->pid,
                      (size_t)NDJSON_MAX_LINE);
            p->exit.stream_error = AB_EPROTO;
            uv_read_stop(s);
            p->out_eof = true;
            agent_proc_kill(p, p->grace_ms ? p->grace_ms : 1000);
        }
        return;
    }
    if (n < 0) {
        uv_read_stop(s);
        if (ndjson_pending(&p->framer))
            log_warn("acp", "agent %d: stdout ended inside a line (%zu bytes dropped)", p->pid,
                     ndjson_pending(&p->framer));
        p->out_eof = true;
        if (p->exited)
            agent_proc_finish(p);
    }
}

/* Bytes from stderr: keep and log lines. */
static void
agent_proc_on_stderr(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct agent_proc *p = s->data;

    if (n > 0) {
        agent_proc_stderr_bytes(p, buf->base, (size_t)n);
        return;
    }
    if (n < 0) {
        uv_read_stop(s);
        agent_proc_stderr_line(p); /* an unterminated last line */
        p->err_eof = true;
        if (p->exited)
            agent_proc_finish(p);
    }
}

/* Fill the tail strings of the exit record; they live in @p until it is freed. */
static void
agent_proc_fill_tail(struct agent_proc *p)
{
    unsigned last = (p->tail_next + AGENT_PROC_TAIL_LINES - 1) % AGENT_PROC_TAIL_LINES;

    agent_proc_stderr_tail(p, p->exit_tail, sizeof(p->exit_tail));
    p->exit.stderr_tail = p->exit_tail;
    p->exit.stderr_last = p->tail_count ? p->tail[last] : "";
}

/* The child is gone and its output drained (or the drain timed out): close all. */
static void
agent_proc_finish(struct agent_proc *p)
{
    if (p->finishing)
        return;
    p->finishing = true;
    agent_proc_fill_tail(p);
    agent_proc_close_handle(p, (uv_handle_t *)&p->timer);
    agent_proc_close_handle(p, (uv_handle_t *)&p->in);
    agent_proc_close_handle(p, (uv_handle_t *)&p->out);
    agent_proc_close_handle(p, (uv_handle_t *)&p->err);
    agent_proc_close_handle(p, (uv_handle_t *)&p->proc);
}

/* Timer: escalate the stop sequence, or give up waiting for output after exit. */
static void
agent_proc_on_timer(uv_timer_t *t)
{
    struct agent_proc *p = t->data;

    if (p->exited) {
        agent_proc_finish(p);
        return;
    }
    if (p->phase == PHASE_STDIN_CLOSED) {
        p->phase = PHASE_TERM_SENT;
        agent_proc_signal_group(p, SIGTERM);
        uv_timer_start(&p->timer, agent_proc_on_timer, p->grace_ms, 0);
    } else if (p->phase == PHASE_TERM_SENT) {
        p->phase = PHASE_KILL_SENT;
        log_info("acp", "agent %d ignored SIGTERM: killing its process group", p->pid);
        agent_proc_signal_group(p, SIGKILL);
    }
}

/* The child was reaped: kill what is left of its group, then drain its output. */
static void
agent_proc_on_exit(uv_process_t *proc, int64_t status, int term_signal)
{
    struct agent_proc *p = proc->data;

    p->exited = true;
    p->exit.status = status;
    p->exit.term_signal = term_signal;
    /* Grandchildren stay in the group after the leader dies: none may outlive it. */
    agent_proc_signal_group(p, SIGKILL);
    if (p->out_eof && p->err_eof)
        agent_proc_finish(p);
    else
        uv_timer_start(&p->timer, agent_proc_on_timer, AGENT_PROC_DRAIN_MS, 0);
}

/* Ignore SIGPIPE once: a write to an agent that just died must fail, not kill us. */
static void
agent_proc_ignore_sigpipe(void)
{
    struct sigaction sa;

    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
        sa.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &sa, NULL);
    }
}

/* A descriptor that was not close-on-exec before a spawn: fixed, and named so that
 * whoever opened it (a library, a plugin) gets fixed too. */
static void
agent_proc_report_fd(void *arg, int fd, const char *target)
{
    (void)arg;
    log_warn("acp", "fd %d (%s) was not close-on-exec: the agent would have inherited it", fd,
             target);
}

/* Build argv: the command, then the launch args. Owned array of lent strings. */
static char **
agent_proc_argv(const struct agent_launch *launch)
{
    size_t n = 0, i;
    char **argv;

    while (launch->args && launch->args[n])
        n++;
    if (!(argv = calloc(n + 2, sizeof(*argv))))
        return NULL;
    argv[0] = (char *)launch->command;
    for (i = 0; i < n; i++)
        argv[i + 1] = (char *)launch->args[i];
    return argv;
}

/* Spawn the agent; see the header. */
int
agent_proc_start(uv_loop_t *loop, const struct agent_launch *launch, char *const *env,
                 const struct agent_proc_ops *ops, void *arg, struct agent_proc **out)
{
    uv_process_options_t opt = {0};
    uv_stdio_container_t stdio[3];
    struct agent_proc *p;
    char **argv;
    int rc;

    if (!launch->command || !*launch->command)
        return AB_EINVAL;
    agent_proc_ignore_sigpipe();
    fd_cloexec_sweep(agent_proc_report_fd, NULL); /* libuv hands over only the pipes */
    if (!(p = calloc(1, sizeof(*p))))
        return AB_ENOMEM;
    if (!(argv = agent_proc_argv(launch))) {
        free(p);
        return AB_ENOMEM;
    }
    p->ops = ops;
    p->arg = arg;
    ndjson_init(&p->framer, NDJSON_MAX_LINE);
    uv_pipe_init(loop, &p->in, 0);
    uv_pipe_init(loop, &p->out, 0);
    uv_pipe_init(loop, &p->err, 0);
    uv_timer_init(loop, &p->timer);
    p->in.data = p->out.data = p->err.data = p->timer.data = p->proc.data = p;
    p->open_handles = 5;

    stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
    stdio[0].data.stream = (uv_stream_t *)&p->in;
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&p->out;
    stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[2].data.stream = (uv_stream_t *)&p->err;
    opt.exit_cb = agent_proc_on_exit;
    opt.file = launch->command;
    opt.args = argv;
    opt.env = (char **)env;
    opt.cwd = launch->cwd;
    /* DETACHED = setsid(): the agent leads its own process group, which we kill whole. */
    opt.flags = UV_PROCESS_DETACHED;
    opt.stdio_count = 3;
    opt.stdio = stdio;
    rc = uv_spawn(loop, &p->proc, &opt);
    free(argv);
    if (rc < 0)
        goto fail_spawn;
    p->pid = p->proc.pid;
    p->in_open = true;
    if ((rc = uv_read_start((uv_stream_t *)&p->out, agent_proc_alloc, agent_proc_on_stdout)) < 0 ||
        (rc = uv_read_start((uv_stream_t *)&p->err, agent_proc_alloc, agent_proc_on_stderr)) < 0) {
        p->silent = true;
        agent_proc_kill(p, 0);
        return rc;
    }
    log_debug("acp", "started %s as pid %d", launch->command, p->pid);
    *out = p;
    return 0;

fail_spawn:
    /* libuv wants even a failed process handle closed; the close callbacks free p. */
    p->silent = true;
    p->exited = true;
    agent_proc_finish(p);
    return rc;
}

/* A write finished: free its buffer. */
static void
agent_proc_on_written(uv_write_t *req, int status)
{
    struct agent_proc_write_req *w = (struct agent_proc_write_req *)req;
    struct agent_proc *p = w->p;

    /* The agent closed its stdin (or its reader is gone) but may live on: it will
     * never read another request. Stop it, so that the owner starts a fresh one
     * rather than sending it prompts that vanish. */
    if (status < 0 && status != UV_ECANCELED && !p->exit.stdin_broken && !p->exited) {
        log_warn("acp", "agent %d stopped reading its stdin (%s); stopping it", p->pid,
                 uv_strerror(status));
        p->exit.stdin_broken = true;
        agent_proc_kill(p, AGENT_PROC_BROKEN_GRACE_MS);
    }
    free(w->buf);
    free(w);
}

/* Queue one message on stdin; see the header. */
int
agent_proc_write(struct agent_proc *p, char *buf, size_t len)
{
    struct agent_proc_write_req *w;
    uv_buf_t b;
    int rc;

    if (!p->in_open || p->exited) {
        free(buf);
        return AB_ECLOSED;
    }
    if (!(w = malloc(sizeof(*w)))) {
        free(buf);
        return AB_ENOMEM;
    }
    w->buf = buf;
    w->p = p;
    b = uv_buf_init(buf, (unsigned)len);
    if ((rc = uv_write(&w->req, (uv_stream_t *)&p->in, &b, 1, agent_proc_on_written)) < 0) {
        free(buf);
        free(w);
        return AB_ECLOSED;
    }
    return 0;
}

/* Close stdin (EOF for the agent) unless already done. */
static void
agent_proc_close_stdin(struct agent_proc *p)
{
    if (p->in_open) {
        p->in_open = false;
        agent_proc_close_handle(p, (uv_handle_t *)&p->in);
    }
}

/* Start the stop sequence; see the header. */
void
agent_proc_stop(struct agent_proc *p, uint64_t grace_ms)
{
    if (p->exited || p->phase != PHASE_RUNNING)
        return;
    p->grace_ms = grace_ms;
    p->phase = PHASE_STDIN_CLOSED;
    agent_proc_close_stdin(p);
    uv_timer_start(&p->timer, agent_proc_on_timer, grace_ms, 0);
}

/* Kill now; see the header. */
void
agent_proc_kill(struct agent_proc *p, uint64_t grace_ms)
{
    if (p->exited || p->phase >= PHASE_TERM_SENT)
        return;
    p->grace_ms = grace_ms;
    p->phase = PHASE_TERM_SENT;
    agent_proc_close_stdin(p);
    agent_proc_signal_group(p, SIGTERM);
    uv_timer_start(&p->timer, agent_proc_on_timer, grace_ms, 0);
}

/* The child's pid. */
int
agent_proc_pid(const struct agent_proc *p)
{
    return p->pid;
}

/* Join the kept stderr lines, oldest first. */
size_t
agent_proc_stderr_tail(const struct agent_proc *p, char *out, size_t cap)
{
    unsigned i, idx;
    size_t len = 0, l;

    if (cap == 0)
        return 0;
    out[0] = '\0';
    for (i = 0; i < p->tail_count; i++) {
        idx = (p->tail_next + AGENT_PROC_TAIL_LINES - p->tail_count + i) % AGENT_PROC_TAIL_LINES;
        l = strlen(p->tail[idx]);
        if (len + l + 2 > cap)
            break;
        if (len)
            out[len++] = '\n';
        memcpy(out + len, p->tail[idx], l + 1);
        len += l;
    }
    return len;
}
