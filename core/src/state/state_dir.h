/* The [state] directory's safety: it holds the session map and the plugins' session
 * state that the daemon acts on, so only the daemon's own user may write there. */
#ifndef AB_STATE_DIR_H
#define AB_STATE_DIR_H

#include <stdbool.h>
#include <stddef.h>

/* Check an existing @dir: a directory owned by the effective uid and writable by
 * nobody else. Returns 0; AB_ENOENT when it does not exist; -EPERM (or -ENOTDIR,
 * -errno) with a sentence in @why (capacity @cap) that names the path and the fix. */
int state_dir_check(const char *dir, char *why, size_t cap);

/* True when @dir is @root or lies below it (both resolved through realpath; false
 * when either cannot be resolved). */
bool state_dir_inside(const char *dir, const char *root);

/* True when @dir lies inside the agent's working directory @agent_cwd, which is not
 * the home directory ($HOME holds dot-directories of every tool; a project directory
 * should not hold the broker's state: the agent's tools may read, rewrite or commit
 * it). */
bool state_dir_exposed(const char *dir, const char *agent_cwd);

#endif
