/* The real codex-acp 0.16 (native binary from tests/node_modules) driven through the
 * pool against the fake model server (tests/acp/fake-model.js) on 127.0.0.1.
 * Skipped (exit 77) only when the codex binary is not installed. */
#include <check.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "acp_fixture.h"

static char codex[512];

/* Start fake-model.js on an ephemeral port; returns its pid and fills *@port. */
static int
model_start(const char *root, const char *log, int *port)
{
    char script[512], line[128];
    int fds[2], pid;
    FILE *fp;

    snprintf(script, sizeof(script), "%s/tests/acp/fake-model.js", root);
    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execlp("node", "node", script, "--port", "0", "--log", log, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    fp = fdopen(fds[0], "r");
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), fp));
    fclose(fp);
    ck_assert_int_eq(sscanf(line, "listening %d", port), 1);
    return pid;
}

START_TEST(codex_streams_and_accepts_our_permission_answer)
{
    const char *root = getenv("AB_SOURCE_ROOT");
    char provider[512], home[300], codex_home[300], tmpdir[300], mlog[300];
    const char *args[8], *env[4];
    struct fx f;
    struct rec r = {0};
    int model, port, status;

    fx_init(&f, NULL);
    snprintf(mlog, sizeof(mlog), "%s/model.log", f.dir);
    model = model_start(root, mlog, &port);
    snprintf(provider, sizeof(provider),
             "model_providers.fake={name=\"fake\",base_url=\"http://127.0.0.1:%d/v1\","
             "wire_api=\"responses\",supports_websockets=false,request_max_retries=0,"
             "stream_max_retries=0}",
             port);
    args[0] = "-c";
    args[1] = "model_provider=fake";
    args[2] = "-c";
    args[3] = "model=fake-model";
    args[4] = "-c";
    args[5] = provider;
    args[6] = NULL;
    snprintf(home, sizeof(home), "HOME=%s", f.dir);
    snprintf(codex_home, sizeof(codex_home), "CODEX_HOME=%s", f.dir);
    snprintf(tmpdir, sizeof(tmpdir), "TMPDIR=%s", f.dir);
    env[0] = home;
    env[1] = codex_home;
    env[2] = tmpdir;
    env[3] = NULL;
    f.launch.command = codex;
    f.launch.args = args;
    f.launch.config_env = env;
    f.cfg.perm_mode = ACP_PERM_ASK;
    f.cfg.stop_grace_ms = 500;
    f.cfg.init_timeout_ms = 60000; /* a real agent: session/new took over 10 s under load */
    fx_pool(&f);

    fx_turn_wait(&f, "discord:codex", "say hello [[text]]", &r, 60000);
    ck_assert_msg(r.rc == 0, "turn failed: %s / %s", r.message, r.stderr_tail);
    ck_assert_str_eq(r.stop, "end_turn");
    ck_assert_ptr_nonnull(strstr(r.text, "Hello from the fake model."));
    rec_reset(&r);

    /* Codex asks before announcing the tool, with a UUID string id. */
    r.auto_answer = 1;
    r.answer = ACP_PERM_ALLOW_ONCE;
    fx_turn_wait(&f, "discord:codex", "make a file [[tool]]", &r, 60000);
    ck_assert_msg(r.rc == 0, "turn failed: %s / %s", r.message, r.stderr_tail);
    ck_assert_int_eq(r.permissions, 1);
    ck_assert_str_eq(r.stop, "end_turn");
    ck_assert_ptr_nonnull(strstr(r.text, "tool done"));
    ck_assert_int_ge(r.tool_completed, 1);
    rec_reset(&r);
    fx_close(&f); /* codex ignores EOF: the group kill ends it */

    kill(model, SIGTERM);
    ck_assert_int_eq(waitpid(model, &status, 0), model);
}
END_TEST

/* Whether the file @path contains @needle. */
static bool
file_has(const char *path, const char *needle)
{
    FILE *fp = fopen(path, "r");
    char *buf = NULL;
    size_t cap = 0;
    bool found = false;

    while (fp && !found && getline(&buf, &cap, fp) > 0)
        found = strstr(buf, needle) != NULL;
    free(buf);
    if (fp)
        fclose(fp);
    return found;
}

START_TEST(codex_lists_the_tools_of_an_mcp_server_we_pass)
{
    const char *root = getenv("AB_SOURCE_ROOT");
    char provider[512], home[300], codex_home[300], tmpdir[300], mlog[300], script[512],
        mcp_log[300];
    const char *args[8], *env[4], *mcp_args[4];
    struct agent_mcp_server server = {.name = "tiny", .type = AGENT_MCP_STDIO, .command = "node"};
    struct fx f;
    struct rec r = {0};
    int model, port, status;
    bool listed = false;

    fx_init(&f, NULL);
    snprintf(mlog, sizeof(mlog), "%s/model.log", f.dir);
    snprintf(mcp_log, sizeof(mcp_log), "%s/mcp.log", f.dir);
    snprintf(script, sizeof(script), "%s/tests/acp/tiny-mcp.js", root);
    mcp_args[0] = script;
    mcp_args[1] = "--log";
    mcp_args[2] = mcp_log;
    mcp_args[3] = NULL;
    server.args = mcp_args;
    model = model_start(root, mlog, &port);
    snprintf(provider, sizeof(provider),
             "model_providers.fake={name=\"fake\",base_url=\"http://127.0.0.1:%d/v1\","
             "wire_api=\"responses\",supports_websockets=false,request_max_retries=0,"
             "stream_max_retries=0}",
             port);
    args[0] = "-c";
    args[1] = "model_provider=fake";
    args[2] = "-c";
    args[3] = "model=fake-model";
    args[4] = "-c";
    args[5] = provider;
    args[6] = NULL;
    snprintf(home, sizeof(home), "HOME=%s", f.dir);
    snprintf(codex_home, sizeof(codex_home), "CODEX_HOME=%s", f.dir);
    snprintf(tmpdir, sizeof(tmpdir), "TMPDIR=%s", f.dir);
    env[0] = home;
    env[1] = codex_home;
    env[2] = tmpdir;
    env[3] = NULL;
    f.launch.command = codex;
    f.launch.args = args;
    f.launch.config_env = env;
    f.launch.mcp_servers = &server;
    f.launch.nmcp = 1;
    f.cfg.stop_grace_ms = 500;
    f.cfg.init_timeout_ms = 60000;
    fx_pool(&f);

    fx_turn_wait(&f, "discord:codex-mcp", "say hello [[text]]", &r, 60000);
    ck_assert_msg(r.rc == 0, "turn failed: %s / %s", r.message, r.stderr_tail);
    rec_reset(&r);
    /* codex started the server we passed (session/new mcpServers) and listed its tools */
    for (int i = 0; i < 200 && !listed; i++) {
        FILE *fp = fopen(mcp_log, "r");
        char line[4096];
        while (fp && !listed && fgets(line, sizeof(line), fp))
            listed = strstr(line, "\"tools/list\"") != NULL;
        if (fp)
            fclose(fp);
        if (!listed)
            usleep(50000);
    }
    ck_assert_msg(listed, "codex never asked the MCP server for its tools");
    ck_assert(file_has(mcp_log, "\"initialize\""));
    fx_close(&f);
    kill(model, SIGTERM);
    ck_assert_int_eq(waitpid(model, &status, 0), model);
}
END_TEST

int
main(void)
{
    const char *root = getenv("AB_SOURCE_ROOT");
    Suite *s = suite_create("acp-codex");
    TCase *tc = tcase_create("codex");

    snprintf(codex, sizeof(codex),
             "%s/tests/node_modules/@zed-industries/codex-acp-linux-x64/bin/codex-acp",
             root ? root : ".");
    if (access(codex, X_OK) != 0) {
        fprintf(stderr, "skip: %s not installed (scripts/deps.sh test)\n", codex);
        return 77;
    }
    tcase_set_timeout(tc, 110);
    tcase_add_test(tc, codex_streams_and_accepts_our_permission_answer);
    tcase_add_test(tc, codex_lists_the_tools_of_an_mcp_server_we_pass);
    suite_add_tcase(s, tc);
    return check_run_suite(s);
}
