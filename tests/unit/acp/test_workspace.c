/* Per-conversation workspaces through the session pool and the scripted agent: safe
 * directory names from hostile keys, two conversations editing the same file in their
 * own git worktrees, removal at the session's TTL (branch kept), the size cap, and a
 * failed creation that stops the turn before the agent hears of it, and a session
 * suspended while idle loading back in its own directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include <agent-broker/errors.h>

#include "acp_fixture.h"
#include "workspace/workspace.h"

#define NOFLAGS ((const char *const[]){NULL})

/* Read a small file into @buf; returns its length, or -1. */
static long
slurp(const char *path, char *buf, size_t len)
{
    FILE *fp = fopen(path, "r");
    size_t n;

    if (!fp)
        return -1;
    n = fread(buf, 1, len - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return (long)n;
}

/* A git repository at @dir/repo with notes.txt committed. */
static void
make_repo(const char *dir, char *repo, size_t len)
{
    char cmd[1024];

    snprintf(repo, len, "%s/repo", dir);
    snprintf(cmd, sizeof(cmd),
             "git init -q '%s' && cd '%s' && echo original > notes.txt && git add notes.txt && "
             "git -c user.name=t -c user.email=t@example.invalid commit -qm init",
             repo, repo);
    ck_assert_int_eq(system(cmd), 0);
}

/* The workspace path of @key under @f's directory. */
static void
ws_path(const struct fx *f, const char *key, char *out, size_t len)
{
    char name[128];

    ck_assert_int_eq(workspace_dir_name(key, name, sizeof(name)), 0);
    snprintf(out, len, "%s/workspaces/%s", f->dir, name);
}

START_TEST(dir_names_are_safe)
{
    static const char *const keys[] = {
        "discord:123", "../../etc", "a/b", "", "..", ".", "slack:C1:1700000000.123456",
        "x\n\xff/.."};
    char a[128], b[128], longkey[600];

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        ck_assert_int_eq(workspace_dir_name(keys[i], a, sizeof(a)), 0);
        ck_assert_ptr_null(strchr(a, '/'));
        ck_assert_ptr_null(strchr(a, '.'));
        ck_assert_int_gt(strlen(a), 0);
        for (size_t j = 0; j < i; j++) {
            ck_assert_int_eq(workspace_dir_name(keys[j], b, sizeof(b)), 0);
            ck_assert_str_ne(a, b);
        }
    }
    /* long keys end in a hash of the whole key: distinct past the cut */
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    ck_assert_int_eq(workspace_dir_name(longkey, a, sizeof(a)), 0);
    longkey[500] = 'j';
    ck_assert_int_eq(workspace_dir_name(longkey, b, sizeof(b)), 0);
    ck_assert_int_lt(strlen(a), sizeof(a));
    ck_assert_str_ne(a, b);
    ck_assert_int_eq(workspace_dir_name("k", a, 32), AB_EINVAL);
}
END_TEST

START_TEST(two_threads_edit_the_same_file_in_their_own_worktrees)
{
    struct fx f;
    struct rec r = {0};
    struct workspace_config wc = {0};
    char repo[256], pa[512], pb[512], file[600], buf[600], cmd[1400];
    bool never = false;
    int i;

    fx_init(&f, NOFLAGS);
    make_repo(f.dir, repo, sizeof(repo));
    wc.root = f.dir;
    wc.git_repo = repo;
    f.cfg.workspace = &wc;
    f.cfg.session_ttl_ms = 1500;
    fx_pool(&f);
    ws_path(&f, "discord:A", pa, sizeof(pa));
    ws_path(&f, "discord:../B", pb, sizeof(pb));
    /* each file is read right after its turn, well inside the TTL */
    fx_turn_wait(&f, "discord:A", "[[write notes.txt from A]]", &r, 20000);
    ck_assert_int_eq(r.rc, 0);
    rec_reset(&r);
    snprintf(file, sizeof(file), "%s/notes.txt", pa);
    ck_assert_int_gt(slurp(file, buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "from A\n");
    fx_turn_wait(&f, "discord:../B", "[[write notes.txt from B]]", &r, 20000);
    ck_assert_int_eq(r.rc, 0);
    rec_reset(&r);
    snprintf(file, sizeof(file), "%s/notes.txt", pb);
    ck_assert_int_gt(slurp(file, buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "from B\n");
    snprintf(file, sizeof(file), "%s/notes.txt", repo);
    ck_assert_int_gt(slurp(file, buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "original\n"); /* the main checkout is untouched */
    /* the agent was told each directory as its session's cwd */
    snprintf(buf, sizeof(buf), "\"cwd\":\"%s\"", pa);
    ck_assert(fx_log_has(&f, buf));
    snprintf(buf, sizeof(buf), "\"cwd\":\"%s\"", pb);
    ck_assert(fx_log_has(&f, buf));
    /* the TTL ends: both worktrees go, their branches stay */
    for (i = 0; i < 1000 && (access(pa, F_OK) == 0 || access(pb, F_OK) == 0); i++)
        fx_wait(&f, &never, 20);
    ck_assert_int_ne(access(pa, F_OK), 0);
    ck_assert_int_ne(access(pb, F_OK), 0);
    for (i = 0; i < 500; i++) { /* prune follows the removal */
        snprintf(cmd, sizeof(cmd), "test $(git -C '%s' worktree list | wc -l) -eq 1", repo);
        if (system(cmd) == 0)
            break;
        fx_wait(&f, &never, 20);
    }
    ck_assert_int_eq(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "test $(git -C '%s' branch --list 'agent-broker/*' | wc -l) -eq 2",
             repo);
    ck_assert_int_eq(system(cmd), 0);
    fx_close(&f);
}
END_TEST

START_TEST(size_cap_refuses_the_turn)
{
    struct fx f;
    struct rec r = {0};
    struct workspace_config wc = {0};
    char pa[512], cmd[700];

    fx_init(&f, NOFLAGS);
    wc.root = f.dir;
    wc.max_bytes = 1 << 20;
    f.cfg.workspace = &wc;
    fx_pool(&f);
    fx_turn_wait(&f, "discord:A", "[[write small.txt ok]]", &r, 20000);
    ck_assert_int_eq(r.rc, 0);
    rec_reset(&r);
    ws_path(&f, "discord:A", pa, sizeof(pa));
    snprintf(cmd, sizeof(cmd), "head -c 2097152 /dev/zero > '%s/big.bin'", pa);
    ck_assert_int_eq(system(cmd), 0);
    fx_turn_wait(&f, "discord:A", "second", &r, 20000);
    ck_assert_int_lt(r.rc, 0);
    ck_assert_ptr_nonnull(strstr(r.message, "workspace_max_mb"));
    ck_assert_int_eq(fx_log_count(&f, "\"session/prompt\""), 1); /* never reached the agent */
    rec_reset(&r);
    fx_close(&f);
}
END_TEST

START_TEST(failed_creation_stops_the_turn)
{
    struct fx f;
    struct rec r = {0};
    struct workspace_config wc = {0};
    char notrepo[256];

    fx_init(&f, NOFLAGS);
    snprintf(notrepo, sizeof(notrepo), "%s/not-a-repo", f.dir);
    ck_assert_int_eq(mkdir(notrepo, 0700), 0);
    wc.root = f.dir;
    wc.git_repo = notrepo;
    f.cfg.workspace = &wc;
    fx_pool(&f);
    fx_turn_wait(&f, "discord:A", "hello", &r, 20000);
    ck_assert_int_lt(r.rc, 0);
    ck_assert_ptr_nonnull(strstr(r.message, "cannot prepare this conversation's workspace"));
    ck_assert_ptr_nonnull(strstr(r.message, "git worktree add failed"));
    ck_assert_int_eq(fx_log_count(&f, "\"session/new\""), 0);
    rec_reset(&r);
    fx_close(&f);
}
END_TEST

START_TEST(close_while_preparing_ends_the_turn)
{
    struct fx f;
    struct rec r = {0};
    struct workspace_config wc = {0};
    char repo[256];

    fx_init(&f, NOFLAGS);
    make_repo(f.dir, repo, sizeof(repo));
    wc.root = f.dir;
    wc.git_repo = repo;
    f.cfg.workspace = &wc;
    fx_pool(&f);
    fx_turn(&f, "discord:A", "hello", &r); /* git worktree add still running */
    fx_close(&f);
    ck_assert(r.done);
    ck_assert_int_eq(r.rc, AB_ECLOSED);
    rec_reset(&r);
}
END_TEST

/* A session suspended while idle comes back with session/load in its own workspace: the
 * load carries the directory session/new had, not the agent's working_dir. */
START_TEST(idle_suspended_session_loads_back_in_its_workspace)
{
    struct fx f;
    struct rec r = {0};
    struct workspace_config wc = {0};
    struct pool_stats st;
    char pa[512], cwd[600];

    fx_init(&f, ((const char *const[]){"--load", "--state", "AGENT_STATE", NULL}));
    f.args[f.nargs - 1] = f.agent_state;
    wc.root = f.dir;
    f.cfg.workspace = &wc;
    f.cfg.idle_suspend_ms = 300;
    fx_pool(&f);
    ws_path(&f, "discord:A", pa, sizeof(pa));
    snprintf(cwd, sizeof(cwd), "\"cwd\":\"%s\"", pa);
    fx_turn_wait(&f, "discord:A", "remember the word walnut", &r, 20000);
    ck_assert_int_eq(r.rc, 0);
    rec_reset(&r);
    ck_assert(fx_wait_procs(&f, 0, 10000)); /* suspended: its process left */
    pool_stats(f.pool, &st);
    ck_assert_uint_eq(st.suspended, 1);
    fx_turn_wait(&f, "discord:A", "[[echo-history]]", &r, 20000);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_msg(strstr(r.text, "history: 1 turns: remember the word walnut"), "%s", r.text);
    rec_reset(&r);
    ck_assert_int_eq(fx_log_count(&f, "\"method\":\"session/new\""), 1);
    ck_assert_int_eq(fx_log_count(&f, "\"method\":\"session/load\""), 1);
    ck_assert_int_eq(fx_log_count(&f, cwd), 2); /* session/new's and session/load's */
    ck_assert_int_eq(access(pa, F_OK), 0);      /* suspension keeps the files */
    fx_close(&f);
}
END_TEST

/* Register the cases of this file. */
static Suite *
workspace_suite(void)
{
    Suite *s = suite_create("workspace");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, dir_names_are_safe);
    tcase_add_test(tc, two_threads_edit_the_same_file_in_their_own_worktrees);
    tcase_add_test(tc, size_cap_refuses_the_turn);
    tcase_add_test(tc, failed_creation_stops_the_turn);
    tcase_add_test(tc, close_while_preparing_ends_the_turn);
    tcase_add_test(tc, idle_suspended_session_loads_back_in_its_workspace);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return check_run_suite(workspace_suite());
}
