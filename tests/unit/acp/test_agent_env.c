/* Agent environment: built from nothing, later sources override earlier ones. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#include "acp_fixture.h"

#include "acp/agent_env.h"

START_TEST(only_the_pass_list_reaches_the_agent)
{
    const char *inherit[] = {"AB_PASS", "AB_UNSET_NAME", NULL};
    const char *preset[] = {"MODE=preset", "X=1", NULL};
    const char *config[] = {"MODE=config", "EMPTY=", NULL};
    struct agent_launch l = {
        .command = "x", .inherit_env = inherit, .preset_env = preset, .config_env = config};
    char **env, **e;
    size_t n = 0;

    setenv("DISCORD_BOT_TOKEN", "canary", 1);
    setenv("SLACK_APP_TOKEN", "canary", 1);
    setenv("AB_PASS", "passed", 1);
    setenv("HOME", "/home/test", 1);
    unsetenv("AB_UNSET_NAME");
    unsetenv("TZ");
    ck_assert_int_eq(agent_env_build(&l, &env), 0);
    for (e = env; *e; e++) {
        n++;
        ck_assert_msg(strncmp(*e, "DISCORD_", 8) && strncmp(*e, "SLACK_", 6), "leaked %s", *e);
    }
    ck_assert_str_eq(agent_env_get((const char *const *)env, "HOME"), "/home/test");
    ck_assert_str_eq(agent_env_get((const char *const *)env, "AB_PASS"), "passed");
    ck_assert_str_eq(agent_env_get((const char *const *)env, "MODE"), "config");
    ck_assert_str_eq(agent_env_get((const char *const *)env, "EMPTY"), "");
    ck_assert_ptr_null(agent_env_get((const char *const *)env, "AB_UNSET_NAME"));
    ck_assert_ptr_null(agent_env_get((const char *const *)env, "TZ"));
    /* HOME PATH? USER? LANG? + AB_PASS MODE X EMPTY: never more than these. */
    ck_assert_uint_le(n, 8);
    agent_env_free(env);
}
END_TEST

START_TEST(preset_home_is_home_only_when_the_broker_has_none)
{
    struct agent_launch l = {.command = "x", .home = "/home/agent"};
    char **env;

    setenv("HOME", "/home/test", 1);
    ck_assert_int_eq(agent_env_build(&l, &env), 0);
    ck_assert_str_eq(agent_env_get((const char *const *)env, "HOME"), "/home/test");
    agent_env_free(env);
    unsetenv("HOME");
    ck_assert_int_eq(agent_env_build(&l, &env), 0);
    ck_assert_str_eq(agent_env_get((const char *const *)env, "HOME"), "/home/agent");
    agent_env_free(env);
    l.home = NULL;
    ck_assert_int_eq(agent_env_build(&l, &env), 0);
    ck_assert_ptr_null(agent_env_get((const char *const *)env, "HOME"));
    agent_env_free(env);
}
END_TEST

START_TEST(malformed_entries_are_rejected)
{
    const char *bad[] = {"NOEQUALS", NULL};
    const char *bad2[] = {"=value", NULL};
    const char *badname[] = {"A=B", NULL};
    struct agent_launch l = {.command = "x", .config_env = bad};
    char **env = NULL;

    ck_assert_int_eq(agent_env_build(&l, &env), AB_EINVAL);
    l.config_env = bad2;
    ck_assert_int_eq(agent_env_build(&l, &env), AB_EINVAL);
    l.config_env = NULL;
    l.inherit_env = badname;
    ck_assert_int_eq(agent_env_build(&l, &env), AB_EINVAL);
    ck_assert_ptr_null(env);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("acp-agent-env");
    TCase *tc = tcase_create("env");

    tcase_add_test(tc, only_the_pass_list_reaches_the_agent);
    tcase_add_test(tc, malformed_entries_are_rejected);
    tcase_add_test(tc, preset_home_is_home_only_when_the_broker_has_none);
    suite_add_tcase(s, tc);
    return check_run_suite(s);
}
