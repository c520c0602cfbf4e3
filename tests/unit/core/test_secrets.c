/* Secrets: redaction before every cut, log lines that cannot be forged, environment
 * tokens wiped in place but still expandable, state dir checks, close-on-exec sweep. */
#include <check.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <agent-broker/errors.h>

#include "config/diag.h"
#include "config/expand.h"
#include "config/secret_env.h"
#include "fd_cloexec.h"
#include "log.h"
#include "state/state_dir.h"

#define SECRET "s3cr3t-Canary-Token-0123456789"

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
    log_add_secret(SECRET);
}

/* Restore stderr, drop secrets. */
static void
teardown(void)
{
    log_set_fd(2);
    log_clear_secrets();
    secret_env_clear();
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
    close(log_pipe[0]);
    ck_assert_int_eq(pipe(log_pipe), 0);
    log_set_fd(log_pipe[1]);
    return log_buf;
}

/* True when any 8-byte piece of SECRET is in @s. */
static bool
has_piece(const char *s)
{
    char piece[9];

    for (size_t i = 0; i + 8 <= strlen(SECRET); i++) {
        memcpy(piece, SECRET + i, 8);
        piece[8] = '\0';
        if (strstr(s, piece))
            return true;
    }
    return false;
}

START_TEST(a_secret_across_the_line_limit_leaves_no_half)
{
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
    char *t = log_redact_dup("the key is " SECRET " and xoxb-1234-5678-abcdef");

    ck_assert_str_eq(t, "the key is *** and ***");
    free(t);
}
END_TEST

START_TEST(pieces_left_by_a_cut_are_masked)
{
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

START_TEST(environment_tokens_are_wiped_in_place_and_still_expand)
{
    char *const secrets[] = {"Bot " SECRET, "unrelated"};
    struct diag diag = {0};
    char *orig, *out;
    size_t len;

    setenv("AB_TEST_BOT_TOKEN", SECRET, 1);
    setenv("AB_TEST_PLAIN", "unrelated-but-not-secret", 1);
    orig = getenv("AB_TEST_BOT_TOKEN");
    ck_assert_int_eq(secret_env_take_values(secrets, 2), 1);
    ck_assert_ptr_null(getenv("AB_TEST_BOT_TOKEN"));
    ck_assert_int_eq(orig[0], '\0'); /* zeroed where it was */
    ck_assert_str_eq(getenv("AB_TEST_PLAIN"), "unrelated-but-not-secret");
    ck_assert_str_eq(secret_env_get("AB_TEST_BOT_TOKEN"), SECRET);
    /* a reload expands ${VAR} from the kept copy */
    ck_assert_int_eq(expand_string("Bot ${AB_TEST_BOT_TOKEN}", 24, 1, "k", &diag, &out, &len), 0);
    ck_assert_str_eq(out, "Bot " SECRET);
    ck_assert_uint_eq(diag.count, 0);
    free(out);
    diag_free(&diag);
    /* by name, for inherit_env */
    setenv("AB_TEST_API_KEY", "k-123456789", 1);
    ck_assert(secret_env_name_is_secret("AB_TEST_API_KEY", 15));
    ck_assert(!secret_env_name_is_secret("HOME", 4));
    ck_assert_int_eq(secret_env_take("AB_TEST_API_KEY"), 0);
    ck_assert_ptr_null(getenv("AB_TEST_API_KEY"));
    ck_assert_str_eq(secret_env_get("AB_TEST_API_KEY"), "k-123456789");
    ck_assert_int_eq(secret_env_take("AB_TEST_NOT_SET"), AB_ENOENT);
    unsetenv("AB_TEST_PLAIN");
}
END_TEST

START_TEST(state_dirs_others_may_write_are_refused)
{
    char dir[] = "/tmp/ab-state-XXXXXX", why[512], sub[600];

    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(state_dir_check(dir, why, sizeof(why)), 0);
    chmod(dir, 0777);
    ck_assert_int_eq(state_dir_check(dir, why, sizeof(why)), -EPERM);
    ck_assert_ptr_nonnull(strstr(why, dir));
    ck_assert_ptr_nonnull(strstr(why, "chmod 700"));
    chmod(dir, 0730);
    ck_assert_int_eq(state_dir_check(dir, why, sizeof(why)), -EPERM);
    ck_assert_ptr_nonnull(strstr(why, "its group"));
    chmod(dir, 0700);
    snprintf(sub, sizeof(sub), "%s/missing", dir);
    ck_assert_int_eq(state_dir_check(sub, why, sizeof(why)), AB_ENOENT);
    ck_assert(state_dir_inside(dir, "/tmp"));
    ck_assert(state_dir_inside(dir, dir));
    ck_assert(!state_dir_inside("/tmp", dir));
    ck_assert(!state_dir_inside(dir, "/tm"));
    /* $HOME as the agent's directory holds dot-dirs: not an exposure */
    setenv("HOME", "/tmp", 1);
    ck_assert(!state_dir_exposed(dir, "/tmp"));
    setenv("HOME", "/nonexistent-home", 1);
    ck_assert(state_dir_exposed(dir, "/tmp"));
    ck_assert(!state_dir_exposed("/tmp", dir));
    rmdir(dir);
}
END_TEST

static int swept_fd = -1;

/* Remember the first pipe the sweep reported. */
static void
swept(void *arg, int fd, const char *target)
{
    (void)arg;
    if (strncmp(target, "pipe:", 5) == 0 && swept_fd < 0)
        swept_fd = fd;
}

START_TEST(the_sweep_makes_every_descriptor_close_on_exec)
{
    int p[2];

    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(fcntl(p[0], F_GETFD) & FD_CLOEXEC, 0);
    ck_assert_int_ge(fd_cloexec_sweep(swept, NULL), 2);
    ck_assert_int_ne(fcntl(p[0], F_GETFD) & FD_CLOEXEC, 0);
    ck_assert_int_ne(fcntl(p[1], F_GETFD) & FD_CLOEXEC, 0);
    ck_assert_int_ge(swept_fd, 3);
    ck_assert_int_eq(fd_cloexec_sweep(NULL, NULL), 0);
    close(p[0]);
    close(p[1]);
}
END_TEST

/* The suite. */
int
main(void)
{
    Suite *s = suite_create("secrets");
    TCase *tc = tcase_create("secrets");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_secret_across_the_line_limit_leaves_no_half);
    tcase_add_test(tc, bounded_formatting_redacts_before_the_cut);
    tcase_add_test(tc, chat_text_is_redacted);
    tcase_add_test(tc, pieces_left_by_a_cut_are_masked);
    tcase_add_test(tc, text_lines_cannot_be_forged_nor_carry_escapes);
    tcase_add_test(tc, environment_tokens_are_wiped_in_place_and_still_expand);
    tcase_add_test(tc, state_dirs_others_may_write_are_refused);
    tcase_add_test(tc, the_sweep_makes_every_descriptor_close_on_exec);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
