/* Run a short helper command (git, du, rm) as a child process on the loop: never
 * blocking, with a timeout, its output (stdout then stderr) captured up to a cap. */
#ifndef AB_WORKSPACE_WS_RUN_H
#define AB_WORKSPACE_WS_RUN_H

#include <stdint.h>

#include <uv.h>

/* The command ended: @rc is 0 when it exited 0, AB_ETIMEDOUT when it was killed at the
 * timeout, AB_EIO when it exited non-zero or could not start (@output says why);
 * @output (lent for the call) is its captured stdout followed by stderr. */
typedef void (*ws_run_cb)(void *arg, int rc, const char *output);

struct ws_run;

/* Start @argv (NULL-terminated, argv[0] looked up on PATH; lent, copied by libuv) with
 * the environment @env (lent, NULL-terminated) and stdin closed. @cb is called exactly
 * once, on a later loop iteration, unless ws_run_detach() was called first.
 * *@out (optional) identifies the run until @cb. Returns 0 or a negative code (then
 * @cb is never called). */
int ws_run_start(uv_loop_t *loop, char *const *argv, char *const *env, uint64_t timeout_ms,
                 ws_run_cb cb, void *arg, struct ws_run **out);

/* Forget the caller: @cb is not called; the child still runs to its end (or timeout)
 * and the record frees itself. */
void ws_run_detach(struct ws_run *r);

#endif
