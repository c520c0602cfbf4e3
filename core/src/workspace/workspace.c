/* Per-conversation workspaces (see workspace.h). */
#include "workspace/workspace.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#include "log.h"
#include "workspace/ws_run.h"

#define WS_SUBDIR "workspaces"
#define WS_BRANCH_PREFIX "agent-broker/"

struct workspace {
    uv_loop_t *loop;
    char *root, *git_repo; /* owned */
    char *dir;             /* owned: <root>/workspaces */
    uint64_t max_bytes, timeout_ms;
    char *env[5]; /* owned: the helper commands' environment */
    int pending;  /* requests and removals still running */
    bool closing;
};

enum ws_step { WS_MKDIR_PARENT, WS_STAT, WS_MKDIR, WS_GIT_BRANCH, WS_GIT_ADD, WS_DU };

struct workspace_req {
    struct workspace *ws;
    uv_fs_t fs;
    struct ws_run *run; /* lent: the running command, or NULL */
    enum ws_step step;
    workspace_cb cb; /* NULL once cancelled */
    void *arg;
    char name[128];
    char *path;   /* owned */
    char *branch; /* owned: git only */
    bool branch_exists;
};

/* One request or removal ended; a closing manager goes with the last. */
static void
ws_unref(struct workspace *ws)
{
    if (--ws->pending > 0 || !ws->closing)
        return;
    free(ws->root);
    free(ws->git_repo);
    free(ws->dir);
    for (size_t i = 0; i < sizeof(ws->env) / sizeof(ws->env[0]); i++)
        free(ws->env[i]);
    free(ws);
}

/* See workspace.h. */
int
workspace_dir_name(const char *key, char *buf, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t h = 1469598103934665603ULL; /* FNV-1a of the whole key */
    size_t o = 0;
    const unsigned char *k = (const unsigned char *)key;

    if (len < 64)
        return AB_EINVAL;
    for (size_t i = 0; k[i]; i++)
        h = (h ^ k[i]) * 1099511628211ULL;
    for (size_t i = 0; k[i]; i++) {
        bool plain = (k[i] >= 'a' && k[i] <= 'z') || (k[i] >= 'A' && k[i] <= 'Z') ||
                     (k[i] >= '0' && k[i] <= '9') || k[i] == '-';
        if (o + (plain ? 1 : 3) + 18 >= len) { /* room for "-" and 16 hex digits */
            snprintf(buf + o, len - o, "-%016llx", (unsigned long long)h);
            return 0;
        }
        if (plain) {
            buf[o++] = (char)k[i];
        } else {
            buf[o++] = '_';
            buf[o++] = hex[k[i] >> 4];
            buf[o++] = hex[k[i] & 15];
        }
    }
    if (o == 0)
        buf[o++] = '_';
    buf[o] = '\0';
    return 0;
}

/* See workspace.h. */
int
workspace_new(uv_loop_t *loop, const struct workspace_config *cfg, struct workspace **out)
{
    struct workspace *ws;
    const char *path = getenv("PATH"), *home = getenv("HOME");

    if (!cfg->root || cfg->root[0] != '/' || (cfg->git_repo && cfg->git_repo[0] != '/'))
        return AB_EINVAL;
    if (!(ws = calloc(1, sizeof(*ws))))
        return AB_ENOMEM;
    ws->loop = loop;
    ws->max_bytes = cfg->max_bytes;
    ws->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 60000;
    /* The helpers get a small environment of their own: never the broker's tokens. */
    if (!(ws->root = strdup(cfg->root)) ||
        (cfg->git_repo && !(ws->git_repo = strdup(cfg->git_repo))) ||
        asprintf(&ws->dir, "%s/" WS_SUBDIR, cfg->root) < 0 ||
        asprintf(&ws->env[0], "PATH=%s", path ? path : "/usr/bin:/bin") < 0 ||
        asprintf(&ws->env[1], "HOME=%s", home ? home : "/") < 0 ||
        !(ws->env[2] = strdup("LC_ALL=C")) || !(ws->env[3] = strdup("GIT_TERMINAL_PROMPT=0"))) {
        ws->closing = true;
        ws->pending = 1;
        ws_unref(ws);
        return AB_ENOMEM;
    }
    *out = ws;
    return 0;
}

/* End a request: report (unless cancelled) and free it. */
static void
ws_req_end(struct workspace_req *q, int rc, const char *message)
{
    struct workspace *ws = q->ws;

    if (q->cb && !ws->closing)
        q->cb(q->arg, rc, rc < 0 ? NULL : q->path, message);
    free(q->path);
    free(q->branch);
    free(q);
    ws_unref(ws);
}

static void ws_req_next(struct workspace_req *q);

/* A helper command of a request ended. */
static void
ws_req_on_run(void *arg, int rc, const char *output)
{
    struct workspace_req *q = arg;
    char msg[512];
    size_t n = strlen(output);

    q->run = NULL;
    while (n > 0 && (output[n - 1] == '\n' || output[n - 1] == '\r'))
        n--;
    if (q->step == WS_GIT_BRANCH) {
        /* rev-parse --verify: 0 = the branch survives from an earlier worktree */
        q->branch_exists = rc == 0;
        q->step = WS_GIT_ADD;
        ws_req_next(q);
        return;
    }
    if (q->step == WS_GIT_ADD) {
        if (rc < 0) {
            snprintf(msg, sizeof(msg), "git worktree add failed%s: %.*s",
                     rc == AB_ETIMEDOUT ? " (timed out)" : "", (int)(n > 300 ? 300 : n), output);
            ws_req_end(q, AB_EIO, msg);
            return;
        }
        log_info("workspace", "worktree %s ready on branch %s", q->name, q->branch);
        q->step = WS_DU;
        ws_req_next(q);
        return;
    }
    /* WS_DU: "<kilobytes>\t<path>" */
    if (rc < 0) {
        snprintf(msg, sizeof(msg), "cannot measure the workspace: %.*s", (int)(n > 300 ? 300 : n),
                 output);
        ws_req_end(q, AB_EIO, msg);
        return;
    }
    unsigned long long kb = strtoull(output, NULL, 10);
    if (kb * 1024 > q->ws->max_bytes) {
        snprintf(msg, sizeof(msg),
                 "this conversation's workspace holds %llu MB, over its cap of %llu MB "
                 "(workspace_max_mb): free some space in it or start a new thread",
                 kb / 1024, (unsigned long long)(q->ws->max_bytes >> 20));
        ws_req_end(q, AB_EFULL, msg);
        return;
    }
    ws_req_end(q, 0, NULL);
}

/* Start a helper command for @q. */
static void
ws_req_run(struct workspace_req *q, char *const *argv)
{
    int rc =
        ws_run_start(q->ws->loop, argv, q->ws->env, q->ws->timeout_ms, ws_req_on_run, q, &q->run);
    if (rc < 0)
        ws_req_end(q, rc, "cannot start a helper command");
}

static void ws_req_on_fs(uv_fs_t *fs);

/* Run @q's current step. */
static void
ws_req_next(struct workspace_req *q)
{
    struct workspace *ws = q->ws;
    int rc = 0;

    switch (q->step) {
    case WS_MKDIR_PARENT: rc = uv_fs_mkdir(ws->loop, &q->fs, ws->dir, 0700, ws_req_on_fs); break;
    case WS_STAT: rc = uv_fs_stat(ws->loop, &q->fs, q->path, ws_req_on_fs); break;
    case WS_MKDIR: rc = uv_fs_mkdir(ws->loop, &q->fs, q->path, 0700, ws_req_on_fs); break;
    case WS_GIT_BRANCH: {
        char ref[256];
        snprintf(ref, sizeof(ref), "refs/heads/%s", q->branch);
        char *argv[] = {"git", "-C", ws->git_repo, "rev-parse", "--verify", "--quiet", ref, NULL};
        ws_req_run(q, argv);
        return;
    }
    case WS_GIT_ADD: {
        /* An existing branch (kept from an earlier worktree) is checked out again;
         * otherwise a new one starts at the repository's HEAD. */
        char *with_new[] = {"git", "-C",      ws->git_repo, "worktree", "add",
                            "-b",  q->branch, q->path,      NULL};
        char *with_old[] = {"git", "-C", ws->git_repo, "worktree", "add", q->path, q->branch, NULL};
        ws_req_run(q, q->branch_exists ? with_old : with_new);
        return;
    }
    case WS_DU: {
        char *argv[] = {"du", "-sk", "--", q->path, NULL};
        if (!ws->max_bytes) {
            ws_req_end(q, 0, NULL);
            return;
        }
        ws_req_run(q, argv);
        return;
    }
    }
    if (rc < 0) {
        char msg[256];
        snprintf(msg, sizeof(msg), "cannot create %s: %s", q->path, uv_strerror(rc));
        ws_req_end(q, AB_EIO, msg);
    }
}

/* A file system step of a request ended. */
static void
ws_req_on_fs(uv_fs_t *fs)
{
    struct workspace_req *q = fs->data;
    ssize_t res = fs->result;
    char msg[256];

    uv_fs_req_cleanup(fs);
    switch (q->step) {
    case WS_MKDIR_PARENT:
        if (res < 0 && res != UV_EEXIST) {
            snprintf(msg, sizeof(msg), "cannot create %s: %s", q->ws->dir, uv_strerror((int)res));
            ws_req_end(q, AB_EIO, msg);
            return;
        }
        q->step = WS_STAT;
        break;
    case WS_STAT: q->step = res == 0 ? WS_DU : q->ws->git_repo ? WS_GIT_BRANCH : WS_MKDIR; break;
    case WS_MKDIR:
        if (res < 0 && res != UV_EEXIST) {
            snprintf(msg, sizeof(msg), "cannot create %s: %s", q->path, uv_strerror((int)res));
            ws_req_end(q, AB_EIO, msg);
            return;
        }
        q->step = WS_DU;
        break;
    default: break;
    }
    ws_req_next(q);
}

/* See workspace.h. */
int
workspace_prepare(struct workspace *ws, const char *key, workspace_cb cb, void *arg,
                  struct workspace_req **out)
{
    struct workspace_req *q;

    if (ws->closing)
        return AB_ECLOSED;
    if (!(q = calloc(1, sizeof(*q))))
        return AB_ENOMEM;
    q->ws = ws;
    q->cb = cb;
    q->arg = arg;
    q->fs.data = q;
    workspace_dir_name(key, q->name, sizeof(q->name));
    if (asprintf(&q->path, "%s/%s", ws->dir, q->name) < 0 ||
        (ws->git_repo && asprintf(&q->branch, WS_BRANCH_PREFIX "%s", q->name) < 0)) {
        free(q->path);
        free(q);
        return AB_ENOMEM;
    }
    ws->pending++;
    q->step = WS_MKDIR_PARENT;
    ws_req_next(q); /* every step completes on a later iteration */
    *out = q;
    return 0;
}

/* See workspace.h. */
void
workspace_cancel(struct workspace_req *req)
{
    req->cb = NULL;
}

struct ws_removal {
    struct workspace *ws;
    char *path; /* owned */
    bool pruned;
};

/* A removal command ended: after `worktree remove`, prune; then done. */
static void
ws_removal_on_run(void *arg, int rc, const char *output)
{
    struct ws_removal *r = arg;
    struct workspace *ws = r->ws;

    if (rc < 0)
        log_warn("workspace", "cannot remove %s: %s", r->path, output);
    else
        log_info("workspace", "removed %s", r->path);
    if (ws->git_repo && !r->pruned && !ws->closing) {
        char *argv[] = {"git", "-C", ws->git_repo, "worktree", "prune", NULL};
        r->pruned = true;
        if (ws_run_start(ws->loop, argv, ws->env, ws->timeout_ms, ws_removal_on_run, r, NULL) == 0)
            return;
    }
    free(r->path);
    free(r);
    ws_unref(ws);
}

/* See workspace.h. */
void
workspace_release(struct workspace *ws, const char *key)
{
    struct ws_removal *r;
    char name[128];
    int rc;

    if (ws->closing || !(r = calloc(1, sizeof(*r))))
        return;
    workspace_dir_name(key, name, sizeof(name));
    r->ws = ws;
    if (asprintf(&r->path, "%s/%s", ws->dir, name) < 0) {
        free(r);
        return;
    }
    char *git_argv[] = {"git", "-C", ws->git_repo, "worktree", "remove", "--force", r->path, NULL};
    char *rm_argv[] = {"rm", "-rf", "--", r->path, NULL};
    rc = ws_run_start(ws->loop, ws->git_repo ? git_argv : rm_argv, ws->env, ws->timeout_ms,
                      ws_removal_on_run, r, NULL);
    if (rc < 0) {
        free(r->path);
        free(r);
        return;
    }
    ws->pending++;
}

/* See workspace.h. */
void
workspace_close(struct workspace *ws)
{
    if (!ws)
        return;
    ws->closing = true;
    ws->pending++;
    ws_unref(ws);
}
