/* The real gemini-cli 0.61 (`gemini --acp` under Node 22, tests/node_modules) driven
 * through the pool against the fake model server on 127.0.0.1: Gemini streaming at
 * GOOGLE_GEMINI_BASE_URL. Skipped (exit 77) only when Node 22 or the package is absent. */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "real_agent.h"

/* Turn off usage statistics: with them on, gemini resolves Google hosts (DNS). */
static void
gemini_settings_write(const struct real_agent *a)
{
    char path[256];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/.gemini", a->home);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/.gemini/settings.json", a->home);
    fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fputs("{\"privacy\":{\"usageStatisticsEnabled\":false}}\n", fp);
    ck_assert_int_eq(fclose(fp), 0);
}

/* A pool on gemini --acp with permission mode @mode, the workspace trusted or not. */
static void
gemini_start(struct real_agent *a, enum acp_perm_mode mode, bool trusted)
{
    static const char *const flags[] = {"--acp", NULL};

    real_agent_init(a, flags);
    gemini_settings_write(a);
    /* A base URL selects auth type "gateway": the key is never checked, no authenticate. */
    real_agent_env(a, "GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:%d", a->port);
    real_agent_env(a, "GEMINI_API_KEY=fake");
    real_agent_env(a, "GEMINI_CLI_NO_RELAUNCH=true");
    /* A fixed model skips the model router's extra generateContent call. */
    real_agent_env(a, "GEMINI_MODEL=gemini-2.5-flash");
    if (trusted)
        real_agent_env(a, "GEMINI_CLI_TRUST_WORKSPACE=true");
    real_agent_start(a, mode);
}

START_TEST(gemini_streams_writes_with_our_auto_answer_and_cancels)
{
    struct real_agent a;

    /* Our auto answer is the allow_always option, "proceed_always", which gemini
     * accepts only in a trusted folder (see the next test). */
    gemini_start(&a, ACP_PERM_AUTO, true);
    real_agent_check_auto(&a, "discord:gemini");
    real_agent_close(&a);
}
END_TEST

START_TEST(gemini_asks_us_and_honours_a_rejection)
{
    struct real_agent a;

    gemini_start(&a, ACP_PERM_ASK, false);
    /* proceed_always, proceed_once, cancel */
    real_agent_check_reject(&a, "slack:gemini", 3);
    real_agent_close(&a);
}
END_TEST

START_TEST(gemini_untrusted_folder_fails_the_tool_on_allow_always)
{
    struct real_agent a;
    struct rec r = {0};

    /* "Allow for this session" switches gemini's approval mode, which it refuses in an
     * untrusted folder ("Cannot enable privileged approval modes in an untrusted
     * folder."): the tool fails. "Allow" (allow_once) still works there. */
    gemini_start(&a, ACP_PERM_ASK, false);
    real_agent_ask_tool(&a, "discord:gemini", ACP_PERM_ALLOW_ALWAYS, &r);
    ck_assert_int_ge(r.tool_failed, 1);
    ck_assert_int_ne(access(a.file, F_OK), 0);
    rec_reset(&r);
    real_agent_ask_tool(&a, "discord:gemini", ACP_PERM_ALLOW_ONCE, &r);
    ck_assert_int_ge(r.tool_completed, 1);
    ck_assert_int_eq(access(a.file, F_OK), 0);
    rec_reset(&r);
    real_agent_close(&a);
}
END_TEST

int
main(void)
{
    const TTest *const tests[] = {gemini_streams_writes_with_our_auto_answer_and_cancels,
                                  gemini_asks_us_and_honours_a_rejection,
                                  gemini_untrusted_folder_fails_the_tool_on_allow_always, NULL};

    return real_agent_main("acp-gemini", "@google/gemini-cli/bundle/gemini.js", tests);
}
