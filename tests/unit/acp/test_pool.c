/* The session pool and ACP client against the scripted agent (tests/acp). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <agent-broker/errors.h>

#include "acp_fixture.h"

#define FLAGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NOFLAGS ((const char *const[]){NULL})

START_TEST(stream_arrives_in_order_and_turn_ends_end_turn)
{
    struct fx f;
    struct rec r = {0};

    fx_one_turn(&f, NOFLAGS, "[[stream 5]]", &r);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(r.stop, "end_turn");
    ck_assert_str_eq(r.text, "chunk1 chunk2 chunk3 chunk4 chunk5 ");
    ck_assert_int_eq(r.kinds[ACP_EV_MESSAGE_CHUNK], 5);
    /* What we said: protocol 1, no fs/terminal, the sender context block first. */
    ck_assert(fx_log_has(&f, "\"protocolVersion\":1"));
    ck_assert(fx_log_has(
        &f, "\"fs\":{\"readTextFile\":false,\"writeTextFile\":false},\"terminal\":false"));
    ck_assert(fx_log_has(&f, "\"clientInfo\":{\"name\":\"agent-broker\",\"version\":\""));
    ck_assert(fx_log_has(&f, "\"mcpServers\":[]"));
    ck_assert(fx_log_has(
        &f, "\"prompt\":[{\"type\":\"text\",\"text\":\"<sender_context>{\\\"schema\\\""));
    ck_assert(
        fx_log_has(&f, "</sender_context>\"},{\"type\":\"text\",\"text\":\"[[stream 5]]\"}]"));
    fx_close_rec(&f, &r);
}
END_TEST

START_TEST(tool_calls_upsert_by_id)
{
    struct fx f;
    struct rec r = {0};

    fx_one_turn(&f, NOFLAGS, "[[tool]] [[late-update-unknown-tool]] [[plan]] [[thought]]", &r);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_int_eq(r.tool_new, 1);
    ck_assert_int_ge(r.tool_in_progress, 1);
    ck_assert_int_ge(r.tool_completed, 1);
    ck_assert_int_ge(r.kinds[ACP_EV_TOOL_CALL], 4); /* incl. the never-announced id */
    ck_assert_int_eq(r.kinds[ACP_EV_PLAN], 1);
    ck_assert_int_eq(r.kinds[ACP_EV_THOUGHT_CHUNK], 1);
    ck_assert_str_eq(r.last_tool_title, "Read README.md");
    ck_assert_str_eq(r.text, "done");
    fx_close_rec(&f, &r);
}
END_TEST

START_TEST(permission_auto_selects_allow_always_by_kind)
{
    struct fx f;
    struct rec r = {0};

    fx_one_turn(&f, NOFLAGS, "[[permission]]", &r);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(r.stop, "end_turn");
    ck_assert_str_eq(r.text, "permission granted: opt-always");
    ck_assert(fx_log_has(
        &f, "\"result\":{\"outcome\":{\"outcome\":\"selected\",\"optionId\":\"opt-always\"}}"));
    rec_reset(&r);
    /* Before the tool call, with UUID string ids: the id is echoed verbatim. */
    fx_turn_wait(&f, "discord:1", "[[permission-first]] [[permission-ids string]]", &r, 10000);
    ck_assert_str_eq(r.text, "permission granted: opt-always");
    ck_assert_int_ge(r.kinds[ACP_EV_TOOL_CALL], 1);
    ck_assert_int_eq(fx_log_count(&f, "{\"jsonrpc\":\"2.0\",\"id\":\""), 1);
    fx_close_rec(&f, &r);
}
END_TEST

START_TEST(crash_mid_turn_reports_exit_status_and_next_turn_starts_fresh)
{
    struct fx f;
    struct rec r = {0};
    int pid;

    fx_one_turn(&f, NOFLAGS, "[[pid]]", &r);
    pid = fx_pid_in(r.text);
    rec_reset(&r);
    fx_turn_wait(&f, "discord:1", "[[crash]]", &r, 10000);
    ck_assert_int_eq(r.rc, AB_ECLOSED);
    ck_assert(r.exited);
    ck_assert_int_eq(r.exit_status, 3);
    ck_assert_str_eq(r.text, "chunk1 ");
    fx_assert_dead(pid);
    rec_reset(&r);
    fx_turn_wait(&f, "discord:1", "[[pid]]", &r, 10000);
    ck_assert_int_eq(r.rc, 0);
    ck_assert(r.has_reset && r.reset_before_text);
    ck_assert_int_eq(r.reset, ACP_RESET_CRASHED);
    ck_assert_int_ne(fx_pid_in(r.text), pid);
    fx_close_rec(&f, &r);
}
END_TEST

START_TEST(hang_trips_watchdog_cancel_then_kill)
{
    struct fx f;
    struct rec r = {0};
    struct pool_stats st;
    int pid;

    fx_init(&f, NOFLAGS);
    f.cfg.watchdog_ms = 300;
    f.cfg.stop_grace_ms = 200;
    fx_pool(&f);
    fx_turn_wait(&f, "discord:1", "[[pid]]", &r, 10000);
    pid = fx_pid_in(r.text);
    rec_reset(&r);
    fx_turn_wait(&f, "discord:1", "[[silent-after 2]]", &r, 10000);
    ck_assert_int_eq(r.rc, AB_ETIMEDOUT);
    ck_assert_str_eq(r.text, "chunk1 chunk2 ");
    ck_assert_ptr_nonnull(strstr(r.message, "no progress"));
    ck_assert(fx_log_has(&f, "\"method\":\"session/cancel\""));
    fx_assert_dead(pid);
    pool_stats(f.pool, &st);
    ck_assert_int_eq(st.busy, 0);
    fx_close_rec(&f, &r);
}
END_TEST

START_TEST(ten_megabyte_line_is_framed)
{
    struct fx f;
    struct rec r = {0};
    size_t i;

    fx_init(&f, NOFLAGS);
    fx_pool(&f);
    fx_turn_wait(&f, "discord:1", "[[big 10485760]]", &r, 20000);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_uint_eq(r.len, 10485760);
    for (i = 0; i < r.len; i += 4093)
        ck_assert_int_eq(r.text[i], '0' + (int)(i % 10));
    fx_close_rec(&f, &r);
}
END_TEST

START_TEST(unadvertised_requests_get_method_not_found_and_noise_is_tolerated)
{
    struct fx f;
    struct rec r = {0};

    fx_one_turn(&f, NOFLAGS, "[[fs]]", &r);
    ck_assert_str_eq(r.text, "fs: -32601 terminal: -32601");
    rec_reset(&r);
    fx_turn_wait(&f, "discord:1", "[[noise]] [[stop max_tokens]]", &r, 10000);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(r.stop, "max_tokens");
    ck_assert_int_eq(r.kinds[ACP_EV_USAGE], 1);
    ck_assert_int_eq(r.kinds[ACP_EV_COMMANDS], 1);
    ck_assert_int_eq(r.kinds[ACP_EV_MODE], 1);
    ck_assert_int_eq(r.kinds[ACP_EV_CONFIG_OPTIONS], 1);
    rec_reset(&r);
    fx_turn_wait(&f, "discord:1", "[[error 500]]", &r, 10000);
    ck_assert_int_eq(r.rc, AB_EPROTO);
    ck_assert_ptr_nonnull(strstr(r.message, "scripted failure"));
    rec_reset(&r);
    /* an error code no int holds is read as 0, not cast (undefined behaviour) */
    fx_turn_wait(&f, "discord:1", "[[error 100000000000000000000]]", &r, 10000);
    ck_assert_int_eq(r.rc, AB_EPROTO);
    ck_assert_ptr_nonnull(strstr(r.message, "scripted failure (code 0)"));
    fx_close_rec(&f, &r);
}
END_TEST

START_TEST(restart_resumes_with_session_load)
{
    struct fx f;
    struct rec r = {0};
    char sid[128];

    fx_init(&f, FLAGS("--load", "--state", "AGENT_STATE"));
    f.args[f.nargs - 1] = f.agent_state;
    fx_pool(&f);
    fx_turn_wait(&f, "slack:C1:1.2", "remember the word walnut [[echo-session]]", &r, 10000);
    snprintf(sid, sizeof(sid), "%s", r.text);
    ck_assert_ptr_nonnull(strstr(sid, "session: "));
    rec_reset(&r);
    fx_pool_close(&f); /* a restart: the map is on disk */
    fx_pool(&f);
    fx_turn_wait(&f, "slack:C1:1.2", "[[echo-session]]", &r, 10000);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(r.text, sid); /* the same agent session */
    ck_assert(!r.has_reset);
    ck_assert_int_eq(r.kinds[ACP_EV_USER_CHUNK], 0); /* the replay is not this turn */
    ck_assert(fx_log_has(&f, "\"method\":\"session/load\""));
    fx_close_rec(&f, &r);
}
END_TEST

/* Persist a session with @flags' agent, restart, and expect a load_failed reset. */
static void
load_failure_falls_back(const char *const *flags, bool may_hang)
{
    struct fx f;
    struct rec r = {0};

    fx_init(&f, flags);
    f.cfg.load_timeout_ms = 300;
    f.launch.load_may_hang = may_hang;
    fx_pool(&f);
    fx_turn_wait(&f, "discord:9", "hello", &r, 10000);
    rec_reset(&r);
    fx_pool_close(&f);
    fx_pool(&f);
    fx_turn_wait(&f, "discord:9", "again", &r, 10000);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_ptr_nonnull(strstr(r.text, "</sender_context> again"));
    ck_assert(r.has_reset && r.reset_before_text);
    ck_assert_int_eq(r.reset, ACP_RESET_LOAD_FAILED);
    ck_assert(fx_log_has(&f, "\"method\":\"session/load\""));
    fx_close_rec(&f, &r);
}

START_TEST(load_hang_times_out_and_falls_back_to_new)
{
    load_failure_falls_back(FLAGS("--load-hang"), false);
}
END_TEST

START_TEST(load_hang_with_restart_falls_back_to_new)
{
    load_failure_falls_back(FLAGS("--load-hang"), true);
}
END_TEST

START_TEST(load_exit_falls_back_to_new)
{
    load_failure_falls_back(FLAGS("--load-exit"), false);
}
END_TEST

START_TEST(thirty_two_conversations_share_four_processes)
{
    struct fx f;
    struct rec r[32];
    struct pool_stats st;
    int pids[32], distinct = 0, i, j;
    char key[32];
    bool all = false;

    memset(r, 0, sizeof(r));
    fx_init(&f, NOFLAGS);
    f.cfg.max_sessions = 32;
    f.cfg.sessions_per_process = 8;
    fx_pool(&f);
    for (i = 0; i < 32; i++) {
        snprintf(key, sizeof(key), "discord:%d", i);
        fx_turn(&f, key, "[[pid]]", &r[i]);
    }
    for (i = 0; i < 32; i++)
        ck_assert(fx_wait(&f, &r[i].done, 20000));
    pool_stats(f.pool, &st);
    ck_assert_int_eq(st.processes, 4);
    ck_assert_int_eq(st.live, 32);
    for (i = 0; i < 32; i++) {
        ck_assert_int_eq(r[i].rc, 0);
        pids[i] = fx_pid_in(r[i].text);
        for (j = 0; j < i && pids[j] != pids[i]; j++)
            ;
        distinct += j == i;
    }
    ck_assert_int_eq(distinct, 4);
    (void)all;
    for (i = 0; i < 32; i++)
        rec_reset(&r[i]);
    fx_close(&f);
    for (i = 0; i < 32; i++)
        fx_assert_dead(pids[i]);
}
END_TEST

START_TEST(full_pool_suspends_lru_idle_and_refuses_when_all_busy)
{
    struct fx f;
    struct rec a = {0}, b = {0}, c = {0};
    struct pool_stats st;
    int rc;

    fx_init(&f, NOFLAGS);
    f.cfg.max_sessions = 1;
    fx_pool(&f);
    fx_turn_wait(&f, "k:a", "one", &a, 10000);
    fx_turn(&f, "k:b", "[[slow 100]] [[tick 20]]", &b); /* suspends k:a */
    ck_assert(fx_wait(&f, &b.got_chunk, 10000));
    pool_stats(f.pool, &st);
    ck_assert_int_eq(st.live, 1);
    ck_assert_int_eq(st.sessions, 2);
    rc = pool_prompt(f.pool, "k:c", NULL, "three", &fx_callbacks, &c, NULL);
    ck_assert_int_eq(rc, AB_EFULL);
    ck_assert_ptr_nonnull(strstr(pool_error(f.pool), "pool exhausted"));
    ck_assert_int_eq(pool_prompt(f.pool, "k:b", NULL, "x", &fx_callbacks, &c, NULL), AB_EAGAIN);
    ck_assert_int_eq(pool_cancel(f.pool, "k:b"), 0);
    ck_assert(fx_wait(&f, &b.done, 10000));
    ck_assert_str_eq(b.stop, "cancelled");
    /* k:a comes back on a fresh session: the agent cannot load, so it is told. */
    rec_reset(&a);
    fx_turn_wait(&f, "k:a", "back", &a, 10000);
    ck_assert(a.has_reset);
    ck_assert_int_eq(a.reset, ACP_RESET_EXPIRED);
    rec_reset(&a);
    rec_reset(&b);
    fx_close(&f);
}
END_TEST

START_TEST(agent_env_has_no_broker_secrets)
{
    struct fx f;
    struct rec r = {0};
    const char *cfg_env[] = {"FROM_CONFIG=yes", NULL};
    const char *inherit[] = {"AB_TEST_INHERITED", NULL};
    const char *preset[] = {"FROM_PRESET=1", NULL};

    setenv("DISCORD_BOT_TOKEN", "canary-discord-token-123", 1);
    setenv("SLACK_BOT_TOKEN", "xoxb-canary-slack", 1);
    setenv("SLACK_APP_TOKEN", "xapp-canary-slack", 1);
    setenv("AB_TEST_INHERITED", "inherited-value", 1);
    fx_init(&f, NOFLAGS);
    f.launch.config_env = cfg_env;
    f.launch.inherit_env = inherit;
    f.launch.preset_env = preset;
    fx_pool(&f);
    fx_turn_wait(&f, "discord:1", "[[env]]", &r, 10000);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_ptr_null(strstr(r.text, "canary"));
    ck_assert_ptr_null(strstr(r.text, "DISCORD_"));
    ck_assert_ptr_null(strstr(r.text, "SLACK_"));
    ck_assert_ptr_nonnull(strstr(r.text, "FROM_CONFIG=yes"));
    ck_assert_ptr_nonnull(strstr(r.text, "FROM_PRESET=1"));
    ck_assert_ptr_nonnull(strstr(r.text, "AB_TEST_INHERITED=inherited-value"));
    ck_assert_ptr_nonnull(strstr(r.text, "PATH="));
    fx_close_rec(&f, &r);
}
END_TEST

START_TEST(missing_command_fails_synchronously)
{
    struct fx f;
    struct rec r = {0};

    fx_init(&f, NOFLAGS);
    f.launch.command = "/nonexistent/agent-binary";
    fx_pool(&f);
    ck_assert_int_eq(pool_prompt(f.pool, "k", NULL, "x", &fx_callbacks, &r, NULL), UV_ENOENT);
    ck_assert_ptr_nonnull(strstr(pool_error(f.pool), "cannot run '/nonexistent/agent-binary'"));
    fx_close(&f);
}
END_TEST

/* The preset's choice: the test key when offered. */
static const char *
pick_test_key(const char *const *ids, size_t n, const char *const *env)
{
    size_t i;

    (void)env;
    for (i = 0; i < n; i++)
        if (strcmp(ids[i], "test-key") == 0)
            return ids[i];
    return NULL;
}

/* One turn of @prompt against an agent started with @flags: how it ends and what the
 * pool says. Zero / NULL expectations are not checked. */
struct turn_case {
    const char *what;
    const char *flags[4]; /* NULL-terminated */
    const char *prompt;   /* NULL: "hello" */
    bool set_perm_mode;   /* f.cfg.perm_mode = perm_mode */
    enum acp_perm_mode perm_mode;
    uint64_t perm_timeout_ms;
    bool answer_at_once; /* ask mode: the engine answers with @answer at once */
    enum acp_perm_decision answer;
    bool cancel; /* cancel the turn after its first chunk */
    bool any_rc; /* do not check rc */
    const char *stop, *text;
    int permissions, tool_failed, perm_options;
    const char *perm_title;
    int max_chunks; /* fewer message chunks than this */
    const char *auth_hint;
    bool pick_key; /* the preset chooses "test-key" among the agent's auth methods */
    bool fails;    /* any negative rc, unless @rc names the one */
    int rc;        /* the exact rc (0: success, unless @fails) */
    const char *message_has[3];
    const char *text_has;
    const char *log_has, *log_lacks;
    const char *hint; /* the turn's auth_hint */
    bool exited;      /* the agent exited, with @exit_status */
    int exit_status;
};

static const struct turn_case turn_cases[] = {
    {.what = "permission deny selects reject",
     .prompt = "[[permission]]",
     .set_perm_mode = true,
     .perm_mode = ACP_PERM_DENY,
     .text = "permission rejected: opt-reject",
     .tool_failed = 1,
     .log_has = "{\"outcome\":{\"outcome\":\"selected\",\"optionId\":\"opt-reject\"}}"},
    {.what = "permission ask hands the request to the engine",
     .prompt = "[[permission]] [[permission-ids int]]",
     .set_perm_mode = true,
     .perm_mode = ACP_PERM_ASK,
     .answer_at_once = true,
     .answer = ACP_PERM_ALLOW_ONCE,
     .any_rc = true,
     .permissions = 1,
     .perm_title = "Write x.txt",
     .perm_options = 3,
     .text = "permission granted: opt-once",
     .log_has = "{\"outcome\":{\"outcome\":\"selected\",\"optionId\":\"opt-once\"}}"},
    {.what = "permission ask unanswered times out as reject",
     .prompt = "[[permission]]",
     .set_perm_mode = true,
     .perm_mode = ACP_PERM_ASK,
     .perm_timeout_ms = 200,
     .any_rc = true,
     .permissions = 1,
     .text = "permission rejected: opt-reject"},
    {.what = "cancel mid-stream ends cancelled",
     .prompt = "[[slow 200]] [[tick 20]]",
     .cancel = true,
     .stop = "cancelled",
     .max_chunks = 200,
     .log_has = "\"method\":\"session/cancel\""},
    {.what = "cancel during a permission question answers cancelled",
     .prompt = "[[permission]]",
     .set_perm_mode = true,
     .perm_mode = ACP_PERM_ASK,
     .cancel = true,
     .any_rc = true,
     .permissions = 1,
     .stop = "cancelled",
     .log_has = "\"result\":{\"outcome\":{\"outcome\":\"cancelled\"}}"},
    {.what = "a start failure carries the last stderr line and the auth hint",
     .flags = {"--crash-on-start"},
     .auth_hint = "run scripted-agent login",
     .fails = true,
     .message_has = {"failed to start agent", "fatal: not logged in; run scripted-agent login"},
     .hint = "run scripted-agent login",
     .exited = true,
     .exit_status = 1},
    {.what = "protocol version 2 is refused before any session",
     .flags = {"--protocol-version", "2"},
     .rc = AB_EPROTO,
     .message_has = {"protocol version 2"},
     .log_lacks = "session/new"},
    {.what = "an agent that requires auth is authenticated with the preset's method",
     .flags = {"--auth-required"},
     .pick_key = true,
     .text_has = "</sender_context> hello",
     .log_has = "\"method\":\"authenticate\",\"params\":{\"methodId\":\"test-key\"}",
     .log_lacks = "\"methodId\":\"weird\""},
    {.what = "an agent that requires auth without a method reports the hint",
     .flags = {"--auth-required"},
     .auth_hint = "set TEST_KEY",
     .rc = AB_EAUTH,
     .message_has = {"Authentication required", "set TEST_KEY"},
     .hint = "set TEST_KEY"},
};

/* Run turn_cases[_i]. */
START_TEST(one_turn_cases)
{
    const struct turn_case *tc = &turn_cases[_i];
    struct fx f;
    struct rec r = {0};

    fx_init(&f, tc->flags);
    f.launch.auth_hint = tc->auth_hint;
    if (tc->pick_key)
        f.launch.auth_method = pick_test_key;
    if (tc->set_perm_mode)
        f.cfg.perm_mode = tc->perm_mode;
    if (tc->perm_timeout_ms)
        f.cfg.perm_timeout_ms = tc->perm_timeout_ms;
    fx_pool(&f);
    if (tc->answer_at_once) {
        r.auto_answer = 1;
        r.answer = tc->answer;
    }
    if (tc->cancel)
        r.cancel_key = "discord:1";
    fx_turn_wait(&f, "discord:1", tc->prompt ? tc->prompt : "hello", &r, 10000);
    if (tc->fails && !tc->rc)
        ck_assert_msg(r.rc < 0, "%s: rc %d", tc->what, r.rc);
    else if (!tc->any_rc)
        ck_assert_msg(r.rc == tc->rc, "%s: rc %d", tc->what, r.rc);
    if (tc->stop)
        ck_assert_str_eq(r.stop, tc->stop);
    if (tc->text)
        ck_assert_str_eq(r.text, tc->text);
    if (tc->permissions)
        ck_assert_int_eq(r.permissions, tc->permissions);
    if (tc->tool_failed)
        ck_assert_int_eq(r.tool_failed, tc->tool_failed);
    if (tc->perm_title)
        ck_assert_str_eq(r.perm_title, tc->perm_title);
    if (tc->perm_options)
        ck_assert_int_eq(r.perm_options, tc->perm_options);
    if (tc->max_chunks)
        ck_assert_int_lt(r.kinds[ACP_EV_MESSAGE_CHUNK], tc->max_chunks);
    for (size_t i = 0; i < 3 && tc->message_has[i]; i++)
        ck_assert_msg(strstr(r.message, tc->message_has[i]), "%s: %s", tc->what, r.message);
    if (tc->text_has)
        ck_assert_msg(r.text && strstr(r.text, tc->text_has), "%s", tc->what);
    if (tc->log_has)
        ck_assert_msg(fx_log_has(&f, tc->log_has), "%s: %s", tc->what, tc->log_has);
    if (tc->log_lacks)
        ck_assert_msg(!fx_log_has(&f, tc->log_lacks), "%s: %s", tc->what, tc->log_lacks);
    if (tc->hint)
        ck_assert_str_eq(r.auth_hint, tc->hint);
    if (tc->exited) {
        ck_assert(r.exited);
        ck_assert_int_eq(r.exit_status, tc->exit_status);
    }
    fx_close_rec(&f, &r);
}
END_TEST

START_TEST(stop_kills_the_whole_group)
{
    struct fx f;
    struct rec r = {0};
    int pid, gpid;

    fx_one_turn(&f, FLAGS("--ignore-term"), "[[pid]]", &r);
    pid = fx_pid_in(r.text);
    rec_reset(&r);
    fx_turn_wait(&f, "discord:1", "[[grandchild]]", &r, 10000);
    gpid = fx_pid_in(r.text);
    ck_assert_int_gt(gpid, 1);
    rec_reset(&r);
    fx_close(&f); /* EOF and SIGTERM are ignored: only the group SIGKILL works */
    fx_assert_dead(pid);
    fx_assert_dead(gpid);
}
END_TEST

START_TEST(ttl_expires_idle_sessions)
{
    struct fx f;
    struct rec r = {0};

    fx_init(&f, NOFLAGS);
    f.cfg.session_ttl_ms = 200;
    fx_pool(&f);
    fx_turn_wait(&f, "discord:1", "hello", &r, 10000);
    rec_reset(&r);
    ck_assert(fx_wait_procs(&f, 0, 2000)); /* its process left with it */
    fx_turn_wait(&f, "discord:1", "hello", &r, 10000);
    ck_assert(r.has_reset);
    ck_assert_int_eq(r.reset, ACP_RESET_EXPIRED);
    fx_close_rec(&f, &r);
}
END_TEST

START_TEST(idle_session_is_suspended_and_resumed_with_session_load)
{
    struct fx f;
    struct rec r = {0};
    struct pool_stats st;
    char sid[128];

    fx_init(&f, FLAGS("--load", "--state", "AGENT_STATE"));
    f.args[f.nargs - 1] = f.agent_state;
    f.cfg.idle_suspend_ms = 300;
    f.launch.session_mode = "plan";
    fx_pool(&f);
    fx_turn_wait(&f, "discord:7", "remember the word walnut [[echo-session]]", &r, 10000);
    snprintf(sid, sizeof(sid), "%s", r.text);
    ck_assert_ptr_nonnull(strstr(sid, "session: "));
    rec_reset(&r);
    /* idle: the session is suspended and its process, left without one, exits */
    ck_assert(fx_wait_procs(&f, 0, 10000));
    pool_stats(f.pool, &st);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.suspended, 1);
    ck_assert_uint_eq(st.idle_suspensions, 1);
    fx_turn_wait(&f, "discord:7", "[[echo-session]] [[echo-history]]", &r, 10000);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_ptr_nonnull(strstr(r.text, sid)); /* the same agent session */
    ck_assert_msg(strstr(r.text, "history: 1 turns: remember the word walnut"), "%s", r.text);
    ck_assert(!r.has_reset); /* nobody is told anything */
    ck_assert_int_eq(r.kinds[ACP_EV_USER_CHUNK], 0);
    ck_assert_int_eq(fx_log_count(&f, "\"method\":\"session/load\""), 1);
    ck_assert_int_eq(fx_log_count(&f, "\"method\":\"session/new\""), 1);
    /* the preset's mode again on the loaded session, not the agent's default */
    ck_assert_int_eq(fx_log_count(&f, "\"method\":\"session/set_mode\""), 2);
    pool_stats(f.pool, &st);
    ck_assert_uint_eq(st.resumes, 1);
    ck_assert_uint_eq(st.suspended, 0);
    rec_reset(&r);
    fx_close(&f);
}
END_TEST

/* A turn (its permission question included) longer than idle_suspend_ms is never
 * suspended; the idle clock starts when it ends. */
START_TEST(idle_suspension_never_interrupts_a_turn)
{
    struct fx f;
    struct rec r = {0};
    struct pool_stats st;

    fx_init(&f, FLAGS("--load"));
    f.cfg.idle_suspend_ms = 100;
    f.cfg.perm_mode = ACP_PERM_ASK;
    f.cfg.perm_timeout_ms = 800;
    fx_pool(&f);
    fx_turn_wait(&f, "discord:1", "[[stream 8]] [[tick 100]]", &r, 10000);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_ptr_nonnull(strstr(r.text, "chunk8"));
    rec_reset(&r);
    fx_turn_wait(&f, "discord:1", "[[permission]]", &r, 10000);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(r.text, "permission rejected: opt-reject"); /* unanswered */
    pool_stats(f.pool, &st);
    ck_assert_uint_eq(st.idle_suspensions, 0);
    ck_assert_uint_eq(st.live, 1);
    rec_reset(&r);
    ck_assert(fx_wait_procs(&f, 0, 10000)); /* then idle: suspended */
    fx_close(&f);
}
END_TEST

/* An agent without loadSession keeps its session, unless suspend_without_load: then
 * the next turn opens a fresh session and says so. */
START_TEST(idle_suspension_needs_load_unless_configured)
{
    struct fx f;
    struct rec r = {0};
    struct pool_stats st;
    bool never = false;

    fx_init(&f, NOFLAGS);
    f.cfg.idle_suspend_ms = 100;
    fx_pool(&f);
    fx_turn_wait(&f, "discord:1", "hello", &r, 10000);
    rec_reset(&r);
    fx_wait(&f, &never, 800);
    pool_stats(f.pool, &st);
    ck_assert_uint_eq(st.processes, 1);
    ck_assert_uint_eq(st.idle_suspensions, 0);
    fx_close(&f);

    fx_init(&f, NOFLAGS);
    f.cfg.idle_suspend_ms = 100;
    f.cfg.suspend_without_load = true;
    fx_pool(&f);
    fx_turn_wait(&f, "discord:1", "hello", &r, 10000);
    rec_reset(&r);
    ck_assert(fx_wait_procs(&f, 0, 10000));
    fx_turn_wait(&f, "discord:1", "again", &r, 10000);
    ck_assert_int_eq(r.rc, 0);
    ck_assert(r.has_reset && r.reset_before_text);
    ck_assert_int_eq(r.reset, ACP_RESET_EXPIRED);
    ck_assert_int_eq(fx_log_count(&f, "\"method\":\"session/new\""), 2);
    rec_reset(&r);
    fx_close(&f);
}
END_TEST

/* A session suspended off a process that carries others is closed there (claude-agent-acp
 * keeps a Claude Code process per open session), and comes back with session/load. */
START_TEST(suspended_session_is_closed_on_a_shared_process)
{
    struct fx f;
    struct rec r = {0};
    char sid[128];

    fx_init(&f, FLAGS("--load", "--state", "AGENT_STATE"));
    f.args[f.nargs - 1] = f.agent_state;
    f.launch.shared_process = true;
    f.cfg.sessions_per_process = 2;
    f.cfg.max_sessions = 2;
    fx_pool(&f);
    fx_turn_wait(&f, "discord:A", "remember walnut [[echo-session]]", &r, 10000);
    snprintf(sid, sizeof(sid), "%s", r.text + strlen("session: "));
    rec_reset(&r);
    fx_turn_wait(&f, "discord:B", "hello", &r, 10000);
    rec_reset(&r);
    ck_assert_int_eq(fx_log_count(&f, "\"method\":\"session/close\""), 0);
    fx_turn_wait(&f, "discord:C", "hello", &r, 10000); /* the pool is full: A goes */
    rec_reset(&r);
    ck_assert_int_eq(fx_log_count(&f, "\"method\":\"session/close\""), 1);
    ck_assert(fx_log_has(&f, sid));
    fx_turn_wait(&f, "discord:A", "[[echo-session]] [[echo-history]]", &r, 10000);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_ptr_nonnull(strstr(r.text, sid));
    ck_assert_ptr_nonnull(strstr(r.text, "history: 1 turns: remember walnut"));
    ck_assert(!r.has_reset);
    rec_reset(&r);
    fx_close(&f);
}
END_TEST

/* Register the cases of this file. */
/* A turn whose end is watched for where it is reported from. */
struct late {
    struct fx *f;
    bool in_prompt; /* inside pool_prompt() now */
    bool done, done_inside;
    int rc;
    struct late *next_turn; /* start this turn from our on_done */
};

static void late_on_done(void *arg, const struct turn_result *r);
static const struct turn_callbacks late_cb = {.on_done = late_on_done};

/* Record the end; maybe start the next turn on the same (dying) process from here. */
static void
late_on_done(void *arg, const struct turn_result *r)
{
    struct late *l = arg, *n = l->next_turn;

    l->done = true;
    l->done_inside = l->in_prompt;
    l->rc = r->rc;
    if (n) {
        n->in_prompt = true;
        ck_assert_int_eq(pool_prompt(l->f->pool, "discord:B", NULL, "hello", &late_cb, n, NULL), 0);
        n->in_prompt = false;
    }
}

/* The agent died and the pool has not noticed yet: a prompt on its other, idle session
 * fails at once — and is still reported on a later loop iteration. */
START_TEST(prompt_failing_at_once_reports_later)
{
    struct fx f;
    struct rec r = {0};
    struct late b = {.f = &f}, a = {.f = &f, .next_turn = &b};

    fx_init(&f, NOFLAGS);
    f.cfg.sessions_per_process = 2;
    fx_pool(&f);
    fx_turn_wait(&f, "discord:B", "hello", &r, 10000);
    rec_reset(&r);
    ck_assert_int_eq(pool_prompt(f.pool, "discord:A", NULL, "[[crash]]", &late_cb, &a, NULL), 0);
    ck_assert(fx_wait(&f, &a.done, 10000));
    ck_assert(fx_wait(&f, &b.done, 10000));
    ck_assert_int_lt(b.rc, 0);
    ck_assert_msg(!b.done_inside, "on_done ran inside pool_prompt");
    fx_close(&f);
}
END_TEST

/* Attached files are read in libuv's threadpool: the embedded text reaches the agent
 * in the prompt, and a FIFO in place of a file (an agent can plant one in the working
 * directory) fails the turn, reported through its callback, instead of stalling the
 * loop on open(). */
START_TEST(prompt_files_are_read_off_the_loop)
{
    static const char *const flags[] = {"--embedded-context", NULL};
    char dir[] = "/tmp/ab-pool-files-XXXXXX", text[80], fifo[80];
    struct acp_file file = {
        .name = "notes.txt", .mime = "text/plain", .bytes = 12, .is_text = true};
    struct fx f;
    struct rec r = {0};
    FILE *fp;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(text, sizeof(text), "%s/notes.txt", dir);
    snprintf(fifo, sizeof(fifo), "%s/fifo.txt", dir);
    ck_assert_ptr_nonnull(fp = fopen(text, "w"));
    fputs("hello, file\n", fp);
    fclose(fp);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    fx_init(&f, flags);
    fx_pool(&f);
    r.f = &f;
    file.path = text;
    ck_assert_int_eq(
        pool_prompt_files(f.pool, "discord:1", NULL, "read it", &file, 1, &fx_callbacks, &r, NULL),
        0);
    ck_assert(fx_wait(&f, &r.done, 10000));
    ck_assert_int_eq(r.rc, 0);
    ck_assert(fx_log_has(&f, "\"text\":\"hello, file\\n\""));
    rec_reset(&r);
    file.path = fifo;
    ck_assert_int_eq(
        pool_prompt_files(f.pool, "discord:1", NULL, "read it", &file, 1, &fx_callbacks, &r, NULL),
        0);
    ck_assert(fx_wait(&f, &r.done, 10000));
    ck_assert_int_lt(r.rc, 0);
    fx_close_rec(&f, &r);
    unlink(text);
    unlink(fifo);
    rmdir(dir);
}
END_TEST

static Suite *
pool_suite(void)
{
    Suite *s = suite_create("acp-pool");
    TCase *tc = tcase_create("scripted");

    tcase_set_timeout(tc, 60);
#undef tcase_add_test
#define tcase_add_test(tc, t)                                                                      \
    do {                                                                                           \
        if (!getenv("ACP_TEST") || strcmp(getenv("ACP_TEST"), #t) == 0)                            \
            _tcase_add_test((tc), t, 0, 0, 0, 1);                                                  \
    } while (0)
    tcase_add_loop_test(tc, one_turn_cases, 0, (int)(sizeof(turn_cases) / sizeof(turn_cases[0])));
    tcase_add_test(tc, stream_arrives_in_order_and_turn_ends_end_turn);
    tcase_add_test(tc, tool_calls_upsert_by_id);
    tcase_add_test(tc, permission_auto_selects_allow_always_by_kind);
    tcase_add_test(tc, crash_mid_turn_reports_exit_status_and_next_turn_starts_fresh);
    tcase_add_test(tc, hang_trips_watchdog_cancel_then_kill);
    tcase_add_test(tc, ten_megabyte_line_is_framed);
    tcase_add_test(tc, unadvertised_requests_get_method_not_found_and_noise_is_tolerated);
    tcase_add_test(tc, restart_resumes_with_session_load);
    tcase_add_test(tc, load_hang_times_out_and_falls_back_to_new);
    tcase_add_test(tc, load_hang_with_restart_falls_back_to_new);
    tcase_add_test(tc, load_exit_falls_back_to_new);
    tcase_add_test(tc, thirty_two_conversations_share_four_processes);
    tcase_add_test(tc, full_pool_suspends_lru_idle_and_refuses_when_all_busy);
    tcase_add_test(tc, agent_env_has_no_broker_secrets);
    tcase_add_test(tc, missing_command_fails_synchronously);
    tcase_add_test(tc, stop_kills_the_whole_group);
    tcase_add_test(tc, ttl_expires_idle_sessions);
    tcase_add_test(tc, prompt_failing_at_once_reports_later);
    tcase_add_test(tc, prompt_files_are_read_off_the_loop);
    tcase_add_test(tc, idle_session_is_suspended_and_resumed_with_session_load);
    tcase_add_test(tc, idle_suspension_never_interrupts_a_turn);
    tcase_add_test(tc, idle_suspension_needs_load_unless_configured);
    tcase_add_test(tc, suspended_session_is_closed_on_a_shared_process);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return check_run_suite(pool_suite());
}
