/* MCP servers in session/new and session/load, as the agent's mcpCapabilities allow,
 * against the scripted agent (which records what it received and refuses a transport
 * it did not advertise). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <agent-broker/errors.h>

#include "acp_fixture.h"
#include "../support/check_runner.h"
#include "log.h"

#define FLAGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static const char *const files_args[] = {"--root", "/srv", NULL};
static const char *const files_env[] = {"FILES_TOKEN=stdio-secret-1", NULL};
static const char *const web_headers[] = {"Authorization=Bearer http-secret-2", NULL};
static const char *const events_headers[] = {"X-Key=sse-secret-3", NULL};

/* One server of each shape. */
static const struct agent_mcp_server servers[] = {
    {.name = "files",
     .type = AGENT_MCP_STDIO,
     .command = "/usr/bin/mcp-files",
     .args = files_args,
     .env = files_env},
    {.name = "web",
     .type = AGENT_MCP_HTTP,
     .url = "http://127.0.0.1:1/mcp",
     .headers = web_headers},
    {.name = "events",
     .type = AGENT_MCP_SSE,
     .url = "http://127.0.0.1:1/sse",
     .headers = events_headers},
};

/* What the broker logged while the fixture ran (log_set_fd into a temp file). */
struct logcap {
    char path[64];
    int fd;
};

/* Send log lines to a temp file. */
static void
logcap_start(struct logcap *lc)
{
    snprintf(lc->path, sizeof(lc->path), "/tmp/ab-mcp-log-XXXXXX");
    lc->fd = mkstemp(lc->path);
    ck_assert_int_ge(lc->fd, 0);
    log_set_fd(lc->fd);
}

/* Whether the captured log holds @needle; stop capturing when @last. */
static bool
logcap_has(struct logcap *lc, const char *needle)
{
    char buf[16384];
    FILE *f = fopen(lc->path, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

    if (f)
        fclose(f);
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

/* Stop capturing. */
static void
logcap_stop(struct logcap *lc)
{
    log_set_fd(2);
    close(lc->fd);
    unlink(lc->path);
}

/* One turn on a pool whose agent advertises @mcp ("" = nothing), with every server. */
static void
turn_with_servers(struct fx *f, struct rec *r, const char *const *flags)
{
    fx_init(f, flags);
    f->launch.name = "codex";
    f->launch.mcp_servers = servers;
    f->launch.nmcp = 3;
    fx_pool(f);
    fx_turn_wait(f, "discord:1", "hello", r, 30000);
    ck_assert_msg(r->rc == 0, "turn failed: %d %s", r->rc, r->message);
}

START_TEST(every_shape_reaches_an_agent_that_supports_it)
{
    struct fx f;
    struct rec r = {0};

    turn_with_servers(&f, &r, FLAGS("--mcp", "http,sse"));
    ck_assert(fx_log_has(&f,
                         "\"mcpServers\":[{\"name\":\"files\",\"command\":\"/usr/bin/mcp-files\","
                         "\"args\":[\"--root\",\"/srv\"],\"env\":[{\"name\":\"FILES_TOKEN\","
                         "\"value\":\"stdio-secret-1\"}]},"
                         "{\"type\":\"http\",\"name\":\"web\",\"url\":\"http://127.0.0.1:1/mcp\","
                         "\"headers\":[{\"name\":\"Authorization\",\"value\":\"Bearer "
                         "http-secret-2\"}]},"
                         "{\"type\":\"sse\",\"name\":\"events\",\"url\":\"http://127.0.0.1:1/"
                         "sse\",\"headers\":[{\"name\":\"X-Key\",\"value\":\"sse-secret-3\"}]}]"));
    rec_reset(&r);
    fx_close(&f);
}
END_TEST

START_TEST(unsupported_transports_are_left_out_and_reported)
{
    struct fx f;
    struct rec r = {0};
    struct logcap lc;

    logcap_start(&lc);
    turn_with_servers(&f, &r, FLAGS("--mcp", "http"));
    /* the agent refuses an sse entry it did not advertise: the turn passing shows the
     * broker left it out */
    ck_assert(fx_log_has(&f, "\"name\":\"web\""));
    ck_assert(!fx_log_has(&f, "\"name\":\"events\""));
    ck_assert(fx_log_has(&f, "\"name\":\"files\""));
    ck_assert(logcap_has(&lc, "codex: the agent does not support MCP over sse"));
    ck_assert(logcap_has(&lc, "server \"events\" is not passed"));
    ck_assert(!logcap_has(&lc, "server \"web\""));
    logcap_stop(&lc);
    rec_reset(&r);
    fx_close(&f);
}
END_TEST

START_TEST(stdio_only_agent_gets_stdio_servers)
{
    struct fx f;
    struct rec r = {0};
    struct logcap lc;

    logcap_start(&lc);
    turn_with_servers(&f, &r, FLAGS("--tick", "5"));
    ck_assert(fx_log_has(&f, "\"mcpServers\":[{\"name\":\"files\""));
    ck_assert(!fx_log_has(&f, "\"type\":\"http\""));
    ck_assert(!fx_log_has(&f, "\"type\":\"sse\""));
    ck_assert(logcap_has(&lc, "does not support MCP over http"));
    ck_assert(logcap_has(&lc, "does not support MCP over sse"));
    logcap_stop(&lc);
    rec_reset(&r);
    fx_close(&f);
}
END_TEST

START_TEST(session_load_carries_the_servers_too)
{
    struct fx f;
    struct rec r = {0};

    fx_init(&f, FLAGS("--load", "--mcp", "http,sse", "--state", "AGENT_STATE"));
    f.args[f.nargs - 1] = f.agent_state;
    f.launch.mcp_servers = servers;
    f.launch.nmcp = 3;
    fx_pool(&f);
    fx_turn_wait(&f, "discord:7", "hello", &r, 30000);
    rec_reset(&r);
    fx_pool_close(&f); /* a restart: the next turn loads the session */
    fx_pool(&f);
    fx_turn_wait(&f, "discord:7", "again", &r, 30000);
    ck_assert_int_eq(r.rc, 0);
    ck_assert(!r.has_reset);
    ck_assert(fx_log_has(&f, "\"method\":\"session/load\""));
    ck_assert_int_eq(fx_log_count(&f, "\"mcpServers\":[{\"name\":\"files\""), 2);
    ck_assert_int_eq(fx_log_count(&f, "{\"type\":\"sse\",\"name\":\"events\""), 2);
    rec_reset(&r);
    fx_close(&f);
}
END_TEST

/* The suite. */
static Suite *
mcp_suite(void)
{
    Suite *s = suite_create("mcp");
    TCase *tc = tcase_create("mcp");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, every_shape_reaches_an_agent_that_supports_it);
    tcase_add_test(tc, unsupported_transports_are_left_out_and_reported);
    tcase_add_test(tc, stdio_only_agent_gets_stdio_servers);
    tcase_add_test(tc, session_load_carries_the_servers_too);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return check_run_suite(mcp_suite());
}
