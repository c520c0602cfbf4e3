/* The ACP client of one agent process: initialize (and authenticate), session
 * new/load/set_mode, prompt, cancel, and the agent's requests (permissions; anything
 * else gets -32601). Several sessions may share one client. */
#ifndef AB_ACP_CLIENT_H
#define AB_ACP_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "acp/acp_event.h"
#include "acp/acp_permission.h"
#include "acp/acp_prompt.h"
#include "acp/agent_launch.h"

struct acp_client_config {
    uint64_t init_timeout_ms; /* initialize, authenticate, session/new, set_mode */
    uint64_t load_timeout_ms; /* session/load */
    uint64_t stop_grace_ms;   /* between stdin EOF, SIGTERM and SIGKILL */
    uint64_t perm_timeout_ms; /* ask mode: unanswered = reject; 0 = never */
    enum acp_perm_mode perm_mode;
};

/* How the agent process ended; strings lent, valid until the client is freed. */
struct acp_client_exit {
    bool exited;             /* the process is gone */
    int64_t status;          /* exit code */
    int term_signal;         /* or the signal that killed it */
    const char *stderr_tail; /* last stderr lines ("" if none) */
    const char *stderr_last; /* last stderr line ("" if none) */
    bool stdin_broken;       /* it was stopped for not reading its stdin */
};

struct acp_client;

struct acp_client_ops {
    /* initialize (and authenticate) finished: @rc 0, or an error with @message (lent). */
    void (*on_ready)(void *arg, struct acp_client *c, int rc, const char *message);
    /* A session/update, for any session of this client. */
    void (*on_event)(void *arg, struct acp_client *c, const struct acp_event *ev);
    /* Ask mode: a permission request for the engine; see acp_permission.h. */
    void (*on_permission)(void *arg, struct acp_client *c, struct acp_permission *req);
    /* The process is gone and every request failed; @c is freed when this returns. */
    void (*on_exit)(void *arg, struct acp_client *c);
};

/* Reply to session/new, session/load or a setting: @session_id and @message lent;
 * @result (lent, NULL on error or a null result) is the reply's result object, e.g.
 * session/new's {sessionId, modes?, models?, configOptions?}. */
typedef void (*acp_session_fn)(void *arg, int rc, const char *session_id, const char *message,
                               const cJSON *result);

/* Reply to session/prompt: @stop_reason (lent) when @rc is 0, and @result (lent) the
 * whole result (its optional usage {inputTokens, outputTokens, ...}); otherwise @code is
 * the agent's JSON-RPC error code (0 if none), @message (lent) says what happened and
 * @result is NULL. */
typedef void (*acp_prompt_fn)(void *arg, int rc, const char *stop_reason, int code,
                              const char *message, const cJSON *result);

/* Spawn @launch (lent; must outlive the client) and send initialize. @cfg copied,
 * @ops lent. *@out valid until on_exit returns. Returns 0 or a negative code when the
 * process cannot be spawned (UV_ENOENT: no such command); on_ready follows otherwise. */
int acp_client_start(uv_loop_t *loop, const struct agent_launch *launch,
                     const struct acp_client_config *cfg, const struct acp_client_ops *ops,
                     void *arg, struct acp_client **out);

/* Whether the agent advertised loadSession. */
bool acp_client_can_load(const struct acp_client *c);

/* session/close of @session_id (lent) when the agent advertised
 * sessionCapabilities.close, so that it frees what the session holds (claude-agent-acp:
 * a Claude Code process); nothing waits for the reply. Returns 0, AB_ENOTSUP when not
 * advertised, or a negative code. */
int acp_client_session_close(struct acp_client *c, const char *session_id);

/* session/new with @cwd (lent, absolute) and no MCP servers. */
int acp_client_session_new(struct acp_client *c, const char *cwd, acp_session_fn fn, void *arg);

/* session/load of @session_id (lent); the history replay arrives as events first. */
int acp_client_session_load(struct acp_client *c, const char *session_id, const char *cwd,
                            acp_session_fn fn, void *arg);

/* session/set_mode of @session_id to @mode_id (both lent). */
int acp_client_set_mode(struct acp_client *c, const char *session_id, const char *mode_id,
                        acp_session_fn fn, void *arg);

/* session/set_model (unstable; Kiro, legacy `models`) of @session_id to @model_id
 * (both lent); @fn hears the reply. */
int acp_client_set_model(struct acp_client *c, const char *session_id, const char *model_id,
                         acp_session_fn fn, void *arg);

/* session/set_config_option {sessionId, configId, value} (all lent); the reply's result
 * carries the full configOptions. */
int acp_client_set_config(struct acp_client *c, const char *session_id, const char *config_id,
                          const char *value, acp_session_fn fn, void *arg);

/* session/prompt: a text block with @sender_context (lent: the whole
 * <sender_context>…</sender_context> block from sender_context_build; NULL = none),
 * then a text block with @text (lent). No deadline. */
int acp_client_prompt(struct acp_client *c, const char *session_id, const char *sender_context,
                      const char *text, acp_prompt_fn fn, void *arg);

/* session/prompt as acp_client_prompt, then blocks for @files (lent, @nfiles of them;
 * copied) by the agent's promptCapabilities (acp_prompt.h). The files are read in
 * libuv's threadpool and the request goes from a later loop iteration (a file that
 * cannot be read fails the prompt through @fn); an acp_client_cancel meanwhile cancels
 * it once it went. Images the agent cannot take are linked, and an ACP_EV_NOTICE event
 * for the session says so before the request goes. */
int acp_client_prompt_files(struct acp_client *c, const char *session_id,
                            const char *sender_context, const char *text,
                            const struct acp_file *files, size_t nfiles, acp_prompt_fn fn,
                            void *arg);

/* session/cancel now, and answer the session's pending permissions with cancelled. */
int acp_client_cancel(struct acp_client *c, const char *session_id);

/* Pending (ask mode) permission requests of @session_id. */
size_t acp_client_pending_permissions(const struct acp_client *c, const char *session_id);

/* Answer @req (one of this client's) with @d and free it. Used by
 * acp_permission_resolve(). */
int acp_client_permission_answer(struct acp_client *c, struct acp_permission *req,
                                 enum acp_perm_decision d);

/* Stop the agent gracefully (stdin EOF, TERM, KILL); on_exit follows. */
void acp_client_stop(struct acp_client *c);

/* Kill the agent's group now (TERM, KILL after the grace); on_exit follows. */
void acp_client_kill(struct acp_client *c);

/* The process id (= process group), or 0 once gone. */
int acp_client_pid(const struct acp_client *c);

/* How the process ended (exited false while it runs). Lent. */
const struct acp_client_exit *acp_client_exit_info(const struct acp_client *c);

#endif
