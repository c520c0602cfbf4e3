/* The session pool: one agent session per conversation key ("platform:conversation"),
 * agent processes carrying one or several sessions, LRU suspension beyond
 * max_sessions (never of a busy session), suspension after idle_suspend_ms without a
 * turn (resumed with session/load on the next message), TTL reaping, a no-progress watchdog, and
 * the key -> sessionId map persisted so that a restart resumes with session/load. */
#ifndef AB_ACP_POOL_H
#define AB_ACP_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "acp/acp_event.h"
#include "acp/acp_options.h"
#include "acp/acp_permission.h"
#include "acp/acp_prompt.h"
#include "acp/agent_launch.h"
#include "workspace/workspace.h"

struct pool_config {
    uint32_t max_sessions;         /* live sessions (attached to a process); >= 1 */
    uint64_t session_ttl_ms;       /* idle this long = forgotten; 0 = never */
    uint32_t sessions_per_process; /* > 1 only honoured when launch->shared_process */
    const char *state_dir;         /* lent; NULL = do not persist */
    const char *state_file;        /* lent for pool_new: the map's file name in state_dir
                                      (NULL = "sessions.json"); one per agent */
    uint64_t init_timeout_ms;      /* initialize, session/new (0 = 120000) */
    uint64_t load_timeout_ms;      /* session/load (0 = 30000) */
    uint64_t watchdog_ms;          /* no progress this long = cancel, then kill (0 = 600000) */
    uint64_t stop_grace_ms;        /* each step of the stop sequence (0 = 2000) */
    enum acp_perm_mode perm_mode;
    uint64_t perm_timeout_ms;  /* ask mode: unanswered = reject (0 = never) */
    uint64_t idle_suspend_ms;  /* a live session without a turn this long is suspended (its
                                * id kept for session/load; a process left without live
                                * sessions stops); 0 = never */
    bool suspend_without_load; /* also suspend when the agent lacks loadSession (the next
                                * message opens a fresh session and says so) */
    /* lent for pool_new: one directory per conversation (session/new's and session/load's
     * cwd), prepared before each turn and removed when the session's TTL ends; NULL =
     * every session in launch->cwd */
    const struct workspace_config *workspace;
};

/* Tokens and cost, summed over turns (a session's, an agent's, or one turn's). */
struct pool_usage {
    uint64_t turns;         /* turns whose prompt reply carried usage or a cost came in */
    uint64_t input_tokens;  /* session/prompt results' usage.inputTokens */
    uint64_t output_tokens; /* and usage.outputTokens */
    double cost;            /* the increases of usage_update's cost (a per-session running
                               total on the wire) */
    char currency[8];       /* of the last cost seen, "" if none */
    double context_used;    /* the last usage_update: tokens in the context window */
    double context_size;    /* and its size; 0 = unknown */
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
    struct pool_usage usage; /* this turn's tokens and cost (what arrived before its reply) */
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
    uint32_t sessions;         /* known conversations (live or suspended) */
    uint32_t live;             /* sessions attached to a process */
    uint32_t busy;             /* sessions with a running turn */
    uint32_t processes;        /* agent processes */
    uint32_t suspended;        /* sessions without a process whose id is kept for session/load */
    uint64_t idle_suspensions; /* sessions suspended for idleness, since start */
    uint64_t resumes;          /* suspended sessions resumed with session/load, since start */
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

/* Whether conversation @key has a session in this pool, live or suspended (restored
 * from the state file included): the agent it talks to is this pool's. */
bool pool_has(const struct pool *pool, const char *key);

/* Forget @key's session (the next prompt starts fresh). AB_EAGAIN while busy. */
int pool_reset(struct pool *pool, const char *key);

/* What is known of @key's session: lent pointers valid until the pool next runs. */
struct pool_session_info {
    const char *session_id; /* the agent's id, or NULL before the first session opened */
    bool is_live;           /* attached to a process */
    bool is_busy;           /* a turn runs */
    uint64_t uptime_ms;     /* since the session opened (new or load); 0 = not open */
    const cJSON *modes;     /* as advertised by session/new or load, kept current; or NULL */
    const cJSON *models;
    const cJSON *config_options;
    struct pool_usage usage; /* this session's */
};

/* Fill @out for @key. AB_ENOENT when the pool has no session for it. */
int pool_session_info(const struct pool *pool, const char *key, struct pool_session_info *out);

/* The usage of every turn this pool (one agent) ran since start. */
void pool_usage_total(const struct pool *pool, struct pool_usage *out);

/* Completion of pool_set_option: @message (lent) says what went wrong when @rc < 0. */
typedef void (*pool_set_fn)(void *arg, int rc, const char *message);

/* Switch @key's live, idle session to the @kind choice @value (lent; an id or a name
 * the agent advertised) through the method the agent advertised. Returns 0 (@fn(@arg)
 * follows exactly once, later), AB_ENOENT (no live session), AB_EAGAIN (a turn or
 * another switch is running), AB_ENOTSUP (the agent advertised no such choices) or
 * AB_EINVAL (@value is not one of them). A turn arriving meanwhile waits for the reply. */
int pool_set_option(struct pool *pool, const char *key, enum acp_option_kind kind,
                    const char *value, pool_set_fn fn, void *arg);

/* Current counts for /metrics. */
void pool_stats(const struct pool *pool, struct pool_stats *out);

/* Refuse new turns; let running ones finish for @timeout_ms, then cancel them; call
 * @done(@arg) once none runs. */
void pool_drain(struct pool *pool, uint64_t timeout_ms, void (*done)(void *arg), void *arg);

/* Stop every agent (graceful sequence), reap them, flush the state file, free the
 * pool, then call @done(@arg). Running turns end with AB_ECLOSED. */
void pool_close(struct pool *pool, void (*done)(void *arg), void *arg);

#endif
