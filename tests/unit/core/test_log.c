/* Logging: secrets never reach a line, JSON lines are valid, levels filter, and the
 * environment overrides the configured level. */
#include <check.h>
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static int log_pipe[2];
static char log_buf[65536];

/* Send log lines into a pipe. */
static void
setup(void)
{
    ck_assert_int_eq(pipe(log_pipe), 0);
    log_set_fd(log_pipe[1]);
    unsetenv("AGENT_BROKER_LOG");
    log_configure(AB_LOG_INFO, LOG_FORMAT_TEXT);
}

/* Restore stderr and drop secrets. */
static void
teardown(void)
{
    log_set_fd(2);
    log_clear_secrets();
    close(log_pipe[0]);
    close(log_pipe[1]);
}

/* Everything written so far. */
static const char *
logged(void)
{
    ssize_t n;

    close(log_pipe[1]);
    n = read(log_pipe[0], log_buf, sizeof(log_buf) - 1);
    log_buf[n > 0 ? n : 0] = '\0';
    ck_assert_int_eq(pipe(log_pipe) == 0 ? 0 : -1, 0);
    log_set_fd(log_pipe[1]);
    return log_buf;
}

START_TEST(registered_secrets_are_redacted_in_every_line)
{
    const char *out;

    log_add_secret("s3cr3t-discord-token");
    log_info("chat-discord", "connecting with Bot %s to %s", "s3cr3t-discord-token", "gateway");
    log_warn("core", "token=s3cr3t-discord-token and again s3cr3t-discord-token!");
    out = logged();
    ck_assert_ptr_null(strstr(out, "s3cr3t"));
    ck_assert_ptr_nonnull(strstr(out, "connecting with Bot *** to gateway"));
    ck_assert_ptr_nonnull(strstr(out, "token=*** and again ***!"));
}
END_TEST

START_TEST(declared_token_shapes_are_redacted_even_unregistered)
{
    const char *out;

    /* shapes come from the plugins' descriptors; none is built into the core */
    log_info("core", "before: xoxb-1234-5678-abcdefgh");
    ck_assert_ptr_nonnull(strstr(logged(), "xoxb-1234-5678-abcdefgh"));
    log_add_token_prefix("xoxb-");
    log_add_token_prefix("xapp-");
    log_add_token_prefix("x"); /* too short: would redact ordinary words */
    log_info("core",
             "pasted xoxb-1234-5678-abcdefgh and xapp-1-A0-99-ffff into a prompt; xylophone-xx");
    out = logged();
    ck_assert_ptr_null(strstr(out, "xoxb-1234"));
    ck_assert_ptr_null(strstr(out, "xapp-1-A0"));
    ck_assert_ptr_nonnull(strstr(out, "pasted *** and *** into a prompt; xylophone-xx"));
}
END_TEST

START_TEST(json_lines_are_valid_and_redacted)
{
    cJSON *j;
    const char *out;

    log_configure(AB_LOG_INFO, LOG_FORMAT_JSON);
    log_add_secret("hunter2-password");
    log_info("engine", "quote \" backslash \\ newline\n tab\t secret hunter2-password");
    out = logged();
    ck_assert_ptr_null(strstr(out, "hunter2"));
    j = cJSON_Parse(out);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(j, "level")->valuestring, "info");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(j, "component")->valuestring, "engine");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(j, "msg")->valuestring,
                     "quote \" backslash \\ newline\n tab\t secret ***");
    cJSON_Delete(j);
}
END_TEST

START_TEST(levels_filter_and_environment_overrides)
{
    const char *out;

    log_debug("core", "hidden at info");
    out = logged();
    ck_assert_str_eq(out, "");
    setenv("AGENT_BROKER_LOG", "debug", 1);
    log_configure(AB_LOG_ERROR, LOG_FORMAT_TEXT);
    ck_assert_int_eq(log_level(), AB_LOG_DEBUG);
    log_debug("core", "shown at debug");
    out = logged();
    ck_assert_ptr_nonnull(strstr(out, "debug core: shown at debug"));
    unsetenv("AGENT_BROKER_LOG");
}
END_TEST

START_TEST(short_strings_are_not_registered_as_secrets)
{
    const char *out;

    log_add_secret("ab");
    log_info("core", "about abc");
    out = logged();
    ck_assert_ptr_nonnull(strstr(out, "about abc"));
}
END_TEST

/* The suite. */
static Suite *
log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("log");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, registered_secrets_are_redacted_in_every_line);
    tcase_add_test(tc, declared_token_shapes_are_redacted_even_unregistered);
    tcase_add_test(tc, json_lines_are_valid_and_redacted);
    tcase_add_test(tc, levels_filter_and_environment_overrides);
    tcase_add_test(tc, short_strings_are_not_registered_as_secrets);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(log_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
