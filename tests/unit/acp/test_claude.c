/* The real claude-agent-acp 0.101 (Node 22, tests/node_modules) driven through the pool
 * against the fake model server on 127.0.0.1: Anthropic Messages at ANTHROPIC_BASE_URL.
 * Skipped (exit 77) only when Node 22 or the agent package is not installed. */
#include <check.h>
#include <stdio.h>
#include <unistd.h>

#include "real_agent.h"

/* A pool on claude-agent-acp with permission mode @mode. */
static void
claude_start(struct real_agent *a, enum acp_perm_mode mode)
{
    real_agent_init(a, NULL);
    real_agent_env(a, "ANTHROPIC_BASE_URL=http://127.0.0.1:%d", a->port);
    real_agent_env(a, "ANTHROPIC_API_KEY=sk-ant-fake");
    real_agent_env(a, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1");
    /* As root, session/new fails with startupFailureReason "bypass_root" without it. */
    if (geteuid() == 0)
        real_agent_env(a, "IS_SANDBOX=1");
    /* claude starts in "auto": its own classifier (another model call) would decide
     * permissions, never asking us. "default" asks the client before edits. */
    a->f.launch.session_mode = "default";
    real_agent_start(a, mode);
}

START_TEST(claude_streams_writes_with_our_auto_answer_and_cancels)
{
    struct real_agent a;

    claude_start(&a, ACP_PERM_AUTO);
    real_agent_check_auto(&a, "discord:claude");
    real_agent_close(&a);
}
END_TEST

START_TEST(claude_asks_us_and_honours_a_rejection)
{
    struct real_agent a;

    claude_start(&a, ACP_PERM_ASK);
    /* allow-once, allow-with-updates, reject */
    real_agent_check_reject(&a, "slack:claude", 3);
    real_agent_close(&a);
}
END_TEST

START_TEST(claude_idle_session_resumes_with_session_load)
{
    struct real_agent a;

    claude_start(&a, ACP_PERM_AUTO);
    real_agent_check_resume(&a, "discord:claude-idle");
    real_agent_close(&a);
}
END_TEST

int
main(void)
{
    const TTest *const tests[] = {claude_streams_writes_with_our_auto_answer_and_cancels,
                                  claude_asks_us_and_honours_a_rejection,
                                  claude_idle_session_resumes_with_session_load, NULL};

    return real_agent_main("acp-claude", "@agentclientprotocol/claude-agent-acp/dist/index.js",
                           tests);
}
