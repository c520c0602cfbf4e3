/* Logging: secrets never reach a line (nor half of one: redaction before every cut),
 * lines cannot be forged, JSON lines are valid, levels filter, and the
 * environment overrides the configured level. */
#include <check.h>
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "../support/check_runner.h"

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

#define SECRET "s3cr3t-Canary-Token-0123456789"

/* True when any 8-byte piece of SECRET is in @s. */
static bool
has_piece(const char *s)
{
    char piece[9];

    for (size_t i = 0; i + 8 <= strlen(SECRET); i++) {
        memcpy(piece, &SECRET[i], 8);
        piece[8] = '\0';
        if (strstr(s, piece))
            return true;
    }
    return false;
}

START_TEST(a_secret_across_the_line_limit_leaves_no_half)
{
    log_add_secret(SECRET);
    for (size_t pad = 8150; pad < 8200; pad += 7) {
        char *filler = malloc(pad + 1);
        memset(filler, 'a', pad);
        filler[pad] = '\0';
        log_info("core", "%s%s tail", filler, SECRET);
        free(filler);
        ck_assert_msg(!has_piece(logged()), "half a secret at pad %zu", pad);
    }
}
END_TEST

START_TEST(bounded_formatting_redacts_before_the_cut)
{
    log_add_secret(SECRET);
    char out[24];

    for (size_t cap = 5; cap <= sizeof(out); cap++) {
        log_format_redacted(out, cap, "error: %s", SECRET);
        ck_assert_msg(!strstr(out, "s3cr"), "cap %zu: %s", cap, out);
        ck_assert_uint_lt(strlen(out), cap);
    }
    log_format_redacted(out, sizeof(out), "x %s y", SECRET);
    ck_assert_str_eq(out, "x *** y");
    /* UTF-8 is cut on a character boundary */
    log_format_redacted(out, 6, "%s", "ééé");
    ck_assert_str_eq(out, "éé");
}
END_TEST

START_TEST(chat_text_is_redacted)
{
    log_add_secret(SECRET);
    log_add_token_prefix("xoxb-"); /* a plugin's declared token shape */
    char *t = log_redact_dup("the key is " SECRET " and xoxb-1234-5678-abcdef");

    ck_assert_str_eq(t, "the key is *** and ***");
    free(t);
}
END_TEST

START_TEST(pieces_left_by_a_cut_are_masked)
{
    log_add_secret(SECRET);
    char a[] = "…"
               "Token-0123456789 and the rest",
         b[] = "the start s3cr3t-Canary-To", c[] = "…ken and no secret here at all",
         d[] = "…\n```\nToken-0123456789\n";

    log_redact_cut_pieces(a, 64);
    ck_assert_str_eq(a, "…*** and the rest");
    log_redact_cut_pieces(b, 64);
    ck_assert_str_eq(b, "the start ***");
    log_redact_cut_pieces(c, 64); /* under 8 bytes: left alone */
    ck_assert_str_eq(c, "…ken and no secret here at all");
    log_redact_cut_pieces(d, 64);
    ck_assert_str_eq(d, "…\n```\n***\n");
}
END_TEST

START_TEST(text_lines_cannot_be_forged_nor_carry_escapes)
{
    log_add_secret(SECRET);
    const char *out;
    cJSON *j;

    log_info("chat-discord", "from user: %s",
             "hi\n2026-01-01T00:00:00.000Z error core: forged\x1b[31mred\r\x7f");
    out = logged();
    ck_assert_ptr_null(strchr(out, '\x1b'));
    ck_assert_ptr_null(strchr(out, '\r'));
    ck_assert_ptr_null(strchr(out, '\x7f'));
    ck_assert_ptr_eq(strchr(out, '\n'), out + strlen(out) - 1); /* one line */
    ck_assert_ptr_nonnull(
        strstr(out, "hi\\n2026-01-01T00:00:00.000Z error core: forged\\x1b[31mred\\r\\x7f"));
    log_configure(AB_LOG_INFO, LOG_FORMAT_JSON);
    log_info("core", "a\nb\x1b\x7f");
    out = logged();
    ck_assert_ptr_eq(strchr(out, '\n'), out + strlen(out) - 1);
    j = cJSON_Parse(out);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(j, "msg")->valuestring, "a\nb\x1b\x7f");
    cJSON_Delete(j);
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
    tcase_add_test(tc, a_secret_across_the_line_limit_leaves_no_half);
    tcase_add_test(tc, bounded_formatting_redacts_before_the_cut);
    tcase_add_test(tc, chat_text_is_redacted);
    tcase_add_test(tc, pieces_left_by_a_cut_are_masked);
    tcase_add_test(tc, text_lines_cannot_be_forged_nor_carry_escapes);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return check_run_suite(log_suite());
}
