/* One agent child process: spawned in its own session (setsid) with an environment
 * built from nothing, stdio on pipes, stdout split into lines, stderr drained, logged
 * at debug (rate-limited) and its last lines kept, and a stop sequence that always
 * ends with the whole process group dead and the child reaped. */
#ifndef AB_ACP_AGENT_PROC_H
#define AB_ACP_AGENT_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "acp/agent_launch.h"

/* Lines of stderr kept for error messages, and the bytes kept of each. */
#define AGENT_PROC_TAIL_LINES 8
#define AGENT_PROC_TAIL_WIDTH 256

/* How the process ended. Pointers lent for the call. */
struct agent_exit {
    int64_t status;          /* exit code, or 0 when killed by a signal */
    int term_signal;         /* the signal that killed it, or 0 */
    int stream_error;        /* 0, or AB_EPROTO when stdout broke the framing (line too long) */
    const char *stderr_tail; /* its last stderr lines, '\n'-separated ("" if none) */
    const char *stderr_last; /* its last non-empty stderr line ("" if none) */
    bool stdin_broken;       /* it stopped reading its stdin (a write failed: EPIPE), and
                                was stopped for it: what was written then never arrived */
};

struct agent_proc_ops {
    /* One stdout line (lent, not NUL-terminated, no '\n'). */
    void (*on_line)(void *arg, const char *line, size_t len);
    /* Called once, after the child is reaped, its group signalled and every handle
     * closed; the agent_proc is freed when this returns. */
    void (*on_exit)(void *arg, const struct agent_exit *ex);
};

struct agent_proc;

/* Spawn @launch with environment @env (lent, "K=V", NULL-terminated). @ops lent and
 * must outlive the process. On success *@out is owned by the caller until on_exit.
 * Returns 0 or a negative uv code (UV_ENOENT: command not found). */
int agent_proc_start(uv_loop_t *loop, const struct agent_launch *launch, char *const *env,
                     const struct agent_proc_ops *ops, void *arg, struct agent_proc **out);

/* Send @len bytes of @buf (owned by the callee, malloc'd) to the agent's stdin.
 * Returns 0 or AB_ECLOSED (buf freed either way). */
int agent_proc_write(struct agent_proc *p, char *buf, size_t len);

/* Stop: close stdin, after @grace_ms SIGTERM the group, after @grace_ms more SIGKILL
 * it. Idempotent; on_exit follows. */
void agent_proc_stop(struct agent_proc *p, uint64_t grace_ms);

/* Kill now: SIGTERM the group, SIGKILL it after @grace_ms. on_exit follows. */
void agent_proc_kill(struct agent_proc *p, uint64_t grace_ms);

/* The child's pid (= its process group id). */
int agent_proc_pid(const struct agent_proc *p);

/* Copy the stderr tail into @out (capacity @cap, NUL-terminated); returns its length. */
size_t agent_proc_stderr_tail(const struct agent_proc *p, char *out, size_t cap);

#endif
