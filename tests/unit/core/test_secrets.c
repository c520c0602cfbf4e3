/* Secrets outside the log: environment tokens wiped in place but still expandable,
 * state dir checks, the close-on-exec sweep. */
#include <check.h>
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

#include "../support/check_runner.h"

#define SECRET "s3cr3t-Canary-Token-0123456789"

/* Register the test secret. */
static void
setup(void)
{
    log_add_secret(SECRET);
}

/* Drop secrets and kept environment copies. */
static void
teardown(void)
{
    log_clear_secrets();
    secret_env_clear();
}

START_TEST(environment_tokens_are_wiped_in_place_and_still_expand)
{
    char *const secrets[] = {("Bot " SECRET), "unrelated", "/home/someone/key-file"};
    struct diag diag = {0};
    char *orig, *out;
    size_t len;

    setenv("AB_TEST_BOT_TOKEN", SECRET, 1);
    setenv("AB_TEST_PLAIN", "unrelated-but-not-secret", 1);
    setenv("AB_TEST_HOME", "/home/someone", 1); /* part of a secret, but not a credential */
    orig = getenv("AB_TEST_BOT_TOKEN");
    ck_assert_int_eq(secret_env_take_values(secrets, 3), 1);
    ck_assert_str_eq(getenv("AB_TEST_HOME"), "/home/someone");
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
    unsetenv("AB_TEST_HOME");
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
    TCase *tc = tcase_create("secrets");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, environment_tokens_are_wiped_in_place_and_still_expand);
    tcase_add_test(tc, state_dirs_others_may_write_are_refused);
    tcase_add_test(tc, the_sweep_makes_every_descriptor_close_on_exec);
    return check_run_case("secrets", tc);
}
