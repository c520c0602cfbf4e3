/* The session pool: one agent session per conversation key ("platform:conversation"),
 * agent processes carrying one or several sessions, LRU suspension beyond
 * max_sessions (never of a busy session), TTL reaping, a no-progress watchdog, and the
 * key -> sessionId map persisted so that a restart resumes with session/load. */
#ifndef AB_ACP_POOL_H
#define AB_ACP_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "acp/acp_event.h"
#include "acp/acp_permission.h"
#include "acp/acp_prompt.h"
#include "acp/agent_launch.h"

struct pool_config {
    uint32_t max_sessions;         /* live sessions (attached to a process); >= 1 */
    uint64_t session_ttl_ms;       /* idle this long = forgotten; 0 = never */
    uint32_t sessions_per_process; /* > 1 only honoured when launch->shared_process */
    const char *state_dir;         /* lent; NULL = do not persist */
    uint64_t init_timeout_ms;      /* initialize, session/new (0 = 120000) */
    uint64_t load_timeout_ms;      /* session/load (0 = 30000) */
    uint64_t watchdog_ms;          /* no progress this long = cancel, then kill (0 = 600000) */
    uint64_t stop_grace_ms;        /* each step of the stop sequence (0 = 2000) */
    enum acp_perm_mode perm_mode;
    uint64_t perm_timeout_ms; /* ask mode: unanswered = reject (0 = never) */
};

/* How a turn ended. Every pointer lent for the on_done call. */
struct turn_result {
    int rc;                  /* 0: the agent ended the turn, see stop_reason; else AB_* */
    const char *stop_reason; /* end_turn|max_tokens|max_turn_requests|refusal|cancelled */
    int agent_code;          /* the agent's JSON-RPC error code, 0 if none */
    const char *message;     /* what went wrong, for people (NULL when rc is 0) */
    bool agent_exited;       /* the agent process died during the turn */
    int64_t exit_status;     /* its exit code */
    int term_signal;         /* or the signal that killed it */
    const char *stderr_tail; /* its last stderr lines, or NULL */
    const char *auth_hint;   /* the preset's hint when start or auth failed, or NULL */
};

struct turn_callbacks {
    /* An event of the turn, in order; pointers lent for the call. A session_reset
     * event comes before the turn's first update. */
    void (*on_event)(void *arg, const struct acp_event *ev);
    /* Ask mode only: answer later with acp_permission_resolve(); @req is valid until
     * then or until on_done, whichever comes first. NULL = reject. */
    void (*on_permission)(void *arg, struct acp_permission *req);
    /* The turn is over; called exactly once, never inside pool_prompt() (a turn that
     * fails while starting is reported on a later loop iteration), possibly from
     * within pool_cancel(). */
    void (*on_done)(void *arg, const struct turn_result *r);
};

struct pool_stats {
    uint32_t sessions;  /* known conversations (live or suspended) */
    uint32_t live;      /* sessions attached to a process */
    uint32_t busy;      /* sessions with a running turn */
    uint32_t processes; /* agent processes */
};

struct pool;
struct pool_turn;

/* The process ids (= process group ids) of up to @cap live agent processes into @out;
 * returns how many were written. */
size_t pool_agent_pids(const struct pool *pool, int *out, size_t cap);

/* Create a pool on @loop. @cfg is copied (state_dir too); @launch is lent and must
 * outlive the pool. Reads the persisted map from cfg->state_dir (start-up only).
 * Returns 0 or a negative code. */
int pool_new(uv_loop_t *loop, const struct pool_config *cfg, const struct agent_launch *launch,
             struct pool **out);

/* Run one turn for conversation @key: find or open its session (starting or sharing a
 * process, resuming with session/load when possible), then session/prompt with the
 * sender context block (@sender_context, the whole <sender_context> block, may be
 * NULL) and @text. All strings
 * lent (copied). @cb lent, must outlive the turn. *@out (optional) identifies the turn
 * until on_done. Returns 0 (on_done follows), AB_EAGAIN when the conversation already
 * has a running turn, AB_EFULL when every live session is busy, AB_ECLOSED while
 * draining or closing, or AB_ENOMEM. */
int pool_prompt(struct pool *pool, const char *key, const char *sender_context, const char *text,
                const struct turn_callbacks *cb, void *arg, struct pool_turn **out);

/* pool_prompt with attached files (lent, copied; @nfiles of them): each becomes content
 * blocks by the agent's promptCapabilities (acp_prompt.h). */
int pool_prompt_files(struct pool *pool, const char *key, const char *sender_context,
                      const char *text, const struct acp_file *files, size_t nfiles,
                      const struct turn_callbacks *cb, void *arg, struct pool_turn **out);

/* The message of the last synchronous failure of pool_prompt() (lent, until the next
 * call), e.g. "failed to start agent: cannot run 'kiro-cli': no such file or directory". */
const char *pool_error(const struct pool *pool);

/* Cancel @key's running turn: session/cancel is sent at once, the session's pending
 * permission requests are answered cancelled; the turn ends with stopReason
 * "cancelled" when the agent says so. A turn still opening its session ends at once.
 * Returns 0, or AB_ENOENT when no turn runs. */
int pool_cancel(struct pool *pool, const char *key);

/* Forget @key's session (the next prompt starts fresh). AB_EAGAIN while busy. */
int pool_reset(struct pool *pool, const char *key);

/* Current counts for /metrics. */
void pool_stats(const struct pool *pool, struct pool_stats *out);

/* Refuse new turns; let running ones finish for @timeout_ms, then cancel them; call
 * @done(@arg) once none runs. */
void pool_drain(struct pool *pool, uint64_t timeout_ms, void (*done)(void *arg), void *arg);

/* Stop every agent (graceful sequence), reap them, flush the state file, free the
 * pool, then call @done(@arg). Running turns end with AB_ECLOSED. */
void pool_close(struct pool *pool, void (*done)(void *arg), void *arg);

#endif
