/* Per-conversation workspaces: each conversation key gets its own directory under the
 * agent's working_dir (<working_dir>/workspaces/<name>), a plain directory or a git
 * worktree of a configured repository on its own branch (agent-broker/<name>).
 * Everything runs on the loop: file system calls through libuv, git/du/rm as child
 * processes with a timeout. */
#ifndef AB_WORKSPACE_WORKSPACE_H
#define AB_WORKSPACE_WORKSPACE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct workspace_config {
    const char *root;     /* lent: the agent's working_dir, absolute */
    const char *git_repo; /* lent: a repository for worktrees, or NULL = plain directories */
    uint64_t max_bytes;   /* refuse a turn while the directory is larger; 0 = no cap */
    uint64_t timeout_ms;  /* each git/du/rm command (0 = 60000) */
};

/* The directory is ready (@rc 0, @path lent for the call) or could not be made (@rc
 * negative, @message lent: what went wrong, for people). */
typedef void (*workspace_cb)(void *arg, int rc, const char *path, const char *message);

struct workspace;
struct workspace_req;

/* Create a workspace manager on @loop; @cfg is copied. Returns 0 or a negative code. */
int workspace_new(uv_loop_t *loop, const struct workspace_config *cfg, struct workspace **out);

/* The directory name of conversation @key in @buf (@len bytes): bytes outside
 * [A-Za-z0-9-] become _XX (so no '/', '.', or "..": a hostile platform id cannot leave
 * the workspaces directory); keys longer than fit end in a hash. Returns 0 or AB_EINVAL
 * when @len is below 64. */
int workspace_dir_name(const char *key, char *buf, size_t len);

/* Make sure @key's directory exists (create it, or add the worktree), then check its
 * size against the cap. @cb is called exactly once on a later loop iteration unless
 * workspace_cancel() comes first. *@out identifies the request until then. Returns 0
 * or AB_ENOMEM / AB_ECLOSED (no callback). */
int workspace_prepare(struct workspace *ws, const char *key, workspace_cb cb, void *arg,
                      struct workspace_req **out);

/* Forget a pending request: its callback is not called. */
void workspace_cancel(struct workspace_req *req);

/* The conversation is over (its session's TTL ended): remove its directory in the
 * background (git: `worktree remove --force` then `worktree prune`; the branch is
 * kept so committed work survives). Failures are logged. */
void workspace_release(struct workspace *ws, const char *key);

/* Free @ws once the commands it started have ended (pending requests' callbacks are
 * no longer called). */
void workspace_close(struct workspace *ws);

#endif
