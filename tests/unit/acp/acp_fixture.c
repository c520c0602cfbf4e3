/* Shared fixture of the ACP unit tests; see acp_fixture.h. */
#include "acp_fixture.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* Record one event of a turn. */
static void
rec_on_event(void *arg, const struct acp_event *ev)
{
    struct rec *r = arg;
    char *nt;

    r->kinds[ev->kind]++;
    switch (ev->kind) {
    case ACP_EV_MESSAGE_CHUNK:
        if (!ev->u.chunk.text)
            break;
        nt = realloc(r->text, r->len + ev->u.chunk.len + 1);
        ck_assert_ptr_nonnull(nt);
        r->text = nt;
        memcpy(r->text + r->len, ev->u.chunk.text, ev->u.chunk.len + 1);
        r->len += ev->u.chunk.len;
        r->got_chunk = true;
        if (r->cancel_key) {
            ck_assert_int_eq(pool_cancel(r->f->pool, r->cancel_key), 0);
            r->cancel_key = NULL;
        }
        break;
    case ACP_EV_TOOL_CALL:
        r->tool_new += ev->u.tool.is_new;
        r->tool_completed += ev->u.tool.status == ACP_TOOL_COMPLETED;
        r->tool_failed += ev->u.tool.status == ACP_TOOL_FAILED;
        r->tool_in_progress += ev->u.tool.status == ACP_TOOL_IN_PROGRESS;
        if (ev->u.tool.title)
            snprintf(r->last_tool_title, sizeof(r->last_tool_title), "%s", ev->u.tool.title);
        break;
    case ACP_EV_SESSION_RESET:
        r->has_reset = true;
        r->reset = ev->u.reset;
        r->reset_before_text = r->len == 0;
        break;
    default: break;
    }
}

/* Record (and maybe answer) a permission request. */
static void
rec_on_permission(void *arg, struct acp_permission *req)
{
    struct rec *r = arg;

    r->permissions++;
    r->perm = req;
    r->perm_options = req->option_count;
    snprintf(r->perm_title, sizeof(r->perm_title), "%s", req->title ? req->title : "");
    if (r->cancel_key) {
        ck_assert_int_eq(pool_cancel(r->f->pool, r->cancel_key), 0);
        r->cancel_key = NULL;
        r->perm = NULL;
    } else if (r->auto_answer) {
        r->perm = NULL;
        ck_assert_int_eq(acp_permission_resolve(req, r->answer), 0);
    }
}

/* Copy the turn's result. */
static void
rec_on_done(void *arg, const struct turn_result *res)
{
    struct rec *r = arg;

    ck_assert(!r->done);
    r->done = true;
    r->perm = NULL;
    r->rc = res->rc;
    snprintf(r->stop, sizeof(r->stop), "%s", res->stop_reason ? res->stop_reason : "");
    snprintf(r->message, sizeof(r->message), "%s", res->message ? res->message : "");
    r->exited = res->agent_exited;
    r->exit_status = res->exit_status;
    snprintf(r->stderr_tail, sizeof(r->stderr_tail), "%s",
             res->stderr_tail ? res->stderr_tail : "");
    snprintf(r->auth_hint, sizeof(r->auth_hint), "%s", res->auth_hint ? res->auth_hint : "");
}

const struct turn_callbacks fx_callbacks = {
    .on_event = rec_on_event,
    .on_permission = rec_on_permission,
    .on_done = rec_on_done,
};

/* Set up the fixture; see the header. */
void
fx_init(struct fx *f, const char *const *flags)
{
    const char *root = getenv("AB_SOURCE_ROOT");

    memset(f, 0, sizeof(*f));
    ck_assert_ptr_nonnull(root);
    /* Orphaned grandchildren come to us, so the tests can see them dead. */
    ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    snprintf(f->script, sizeof(f->script), "%s/tests/acp/scripted-agent.js", root);
    snprintf(f->dir, sizeof(f->dir), "/tmp/ab-acp-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(f->dir));
    snprintf(f->log, sizeof(f->log), "%s/agent.log", f->dir);
    snprintf(f->state, sizeof(f->state), "%s/state", f->dir);
    snprintf(f->agent_state, sizeof(f->agent_state), "%s/agent-state.json", f->dir);
    f->args[f->nargs++] = f->script;
    f->args[f->nargs++] = "--log";
    f->args[f->nargs++] = f->log;
    f->args[f->nargs++] = "--tick";
    f->args[f->nargs++] = "2";
    for (; flags && *flags; flags++) {
        ck_assert_int_lt(f->nargs, FX_MAX_ARGS - 1);
        f->args[f->nargs++] = *flags;
    }
    f->launch.command = "node";
    f->launch.args = f->args;
    f->launch.cwd = f->dir;
    f->launch.shared_process = true;
    f->cfg.max_sessions = 8;
    f->cfg.sessions_per_process = 1;
    f->cfg.state_dir = f->state;
    f->cfg.init_timeout_ms = 10000;
    f->cfg.load_timeout_ms = 2000;
    f->cfg.watchdog_ms = 10000;
    f->cfg.stop_grace_ms = 300;
    f->cfg.perm_mode = ACP_PERM_AUTO;
    ck_assert_int_eq(uv_loop_init(&f->loop), 0);
}

/* Create the pool. */
void
fx_pool(struct fx *f)
{
    ck_assert_int_eq(pool_new(&f->loop, &f->cfg, &f->launch, &f->pool), 0);
}

/* Start a turn. */
void
fx_turn(struct fx *f, const char *key, const char *text, struct rec *r)
{
    int rc;

    r->f = f;
    r->done = false;
    rc = pool_prompt(f->pool, key,
                     "<sender_context>{\"schema\":\"agent-broker.sender.v1\",\"sender_id\":\"42\"}<"
                     "/sender_context>",
                     text, &fx_callbacks, r, NULL);
    ck_assert_msg(rc == 0, "pool_prompt: %d %s", rc, pool_error(f->pool));
}

/* Run until *@flag or timeout. */
bool
fx_wait(struct fx *f, const bool *flag, uint64_t ms)
{
    uint64_t end;

    uv_update_time(&f->loop);
    end = uv_now(&f->loop) + ms;
    while (!*flag && uv_now(&f->loop) < end) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        if (!*flag)
            usleep(1000);
        uv_update_time(&f->loop);
    }
    return *flag;
}

/* Start a turn and wait for it. */
void
fx_turn_wait(struct fx *f, const char *key, const char *text, struct rec *r, uint64_t ms)
{
    fx_turn(f, key, text, r);
    ck_assert_msg(fx_wait(f, &r->done, ms), "turn '%s' did not end within %llu ms", text,
                  (unsigned long long)ms);
}

/* pool_close finished. */
static void
fx_on_closed(void *arg)
{
    *(bool *)arg = true;
}

/* Close the pool only. */
void
fx_pool_close(struct fx *f)
{
    f->closed = false;
    pool_close(f->pool, fx_on_closed, &f->closed);
    ck_assert_msg(fx_wait(f, &f->closed, 30000), "pool_close did not finish");
    f->pool = NULL;
}

/* Close everything. */
void
fx_close(struct fx *f)
{
    char cmd[200];

    if (f->pool)
        fx_pool_close(f);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&f->loop), 0);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Read the agent's log into a string (owned). */
static char *
fx_log_read(const struct fx *f)
{
    FILE *fp = fopen(f->log, "r");
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;

    if (!fp)
        return strdup("");
    n = getdelim(&buf, &cap, '\0', fp);
    fclose(fp);
    if (n < 0) {
        free(buf);
        return strdup("");
    }
    return buf;
}

/* Count @needle in the log. */
int
fx_log_count(const struct fx *f, const char *needle)
{
    char *log = fx_log_read(f), *p = log;
    int n = 0;

    while ((p = strstr(p, needle))) {
        n++;
        p += strlen(needle);
    }
    free(log);
    return n;
}

/* Whether the log holds @needle. */
bool
fx_log_has(const struct fx *f, const char *needle)
{
    return fx_log_count(f, needle) > 0;
}

/* Reset a recorder. */
void
rec_reset(struct rec *r)
{
    free(r->text);
    memset(r, 0, sizeof(*r));
}

/* Assert @pid is dead; reap it if it is our (adopted) zombie. */
void
fx_assert_dead(int pid)
{
    char path[64], buf[512], *p;
    FILE *fp;
    int i;

    ck_assert_int_gt(pid, 1);
    for (i = 0; i < 200; i++) {
        if (kill(pid, 0) < 0 && errno == ESRCH)
            return;
        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        if ((fp = fopen(path, "r"))) {
            p = fgets(buf, sizeof(buf), fp);
            fclose(fp);
            p = p ? strrchr(buf, ')') : NULL;
            if (p && p[2] == 'Z') {
                waitpid(pid, NULL, WNOHANG); /* adopted by us as subreaper */
                if (kill(pid, 0) < 0 && errno == ESRCH)
                    return;
            }
        }
        usleep(10000);
    }
    ck_abort_msg("process %d is still alive", pid);
}

/* Parse the pid out of "pid: N" / "grandchild: N". */
int
fx_pid_in(const char *text)
{
    const char *p = text ? strchr(text, ':') : NULL;

    return p ? atoi(p + 1) : 0;
}

/* Set up, make the pool and run one turn. */
void
fx_one_turn(struct fx *f, const char *const *flags, const char *text, struct rec *r)
{
    fx_init(f, flags);
    fx_pool(f);
    fx_turn_wait(f, "discord:1", text, r, 10000);
}

/* Free the recorder, then close the fixture. */
void
fx_close_rec(struct fx *f, struct rec *r)
{
    rec_reset(r);
    fx_close(f);
}
