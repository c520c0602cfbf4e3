/* thread_name.c: thread titles from prompts. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#include "render/thread_name.h"
#include "render/utf8.h"
#include "suite_run.h"

/* The title of @prompt, checked to be short and never empty. */
static char *
title(const char *prompt, const char *bot_id)
{
    char *out = NULL;

    ck_assert_int_eq(thread_name_from_prompt(prompt, bot_id, &out), 0);
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_gt(strlen(out), 0);
    ck_assert_uint_le(utf8_count(out, strlen(out)), THREAD_NAME_MAX_CHARS);
    ck_assert(utf8_valid(out, strlen(out)));
    return out;
}

/* Expect @prompt to be titled @expected. */
static void
expect_title(const char *prompt, const char *bot_id, const char *expected)
{
    char *t = title(prompt, bot_id);

    ck_assert_str_eq(t, expected);
    free(t);
}

START_TEST(short_prompt_is_the_title_without_mention)
{
    expect_title("<@42> fix the flaky test", "42", "fix the flaky test");
}
END_TEST

START_TEST(whitespace_is_collapsed)
{
    expect_title("  look\n\nat   this\tplease ", NULL, "look at this please");
}
END_TEST

START_TEST(github_issue_and_pr_urls_are_shortened)
{
    expect_title("<@42> review https://github.com/openabdev/openab/pull/135 please", "42",
                 "review openabdev/openab#135 please");
    expect_title("see <https://github.com/o/r/issues/7#issuecomment-1>", NULL, "see o/r#7");
    expect_title("https://github.com/o/r/pull/12/files and https://github.com/o/r", NULL,
                 "o/r#12 and https://github.com/o/r");
}
END_TEST

START_TEST(long_prompt_is_cut_at_a_word_with_an_ellipsis)
{
    expect_title("please refactor the configuration loader so that it validates every field", NULL,
                 "please refactor the configuration\xE2\x80\xA6");
}
END_TEST

START_TEST(long_word_is_cut_hard_at_a_grapheme)
{
    char *t = title("\xF0\x9F\x98\x80"
                    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                    NULL);

    ck_assert_uint_eq(utf8_count(t, strlen(t)), THREAD_NAME_MAX_CHARS);
    ck_assert_str_eq(t + strlen(t) - 3, "\xE2\x80\xA6");
    free(t);
}
END_TEST

START_TEST(empty_prompt_falls_back)
{
    expect_title("<@42>", "42", THREAD_NAME_FALLBACK);
    expect_title("   \n ", NULL, THREAD_NAME_FALLBACK);
}
END_TEST

START_TEST(invalid_utf8_is_replaced_and_null_rejected)
{
    char *out = NULL;

    expect_title("bad \xFF byte", NULL, "bad \xEF\xBF\xBD byte");
    ck_assert_int_eq(thread_name_from_prompt(NULL, NULL, &out), AB_EINVAL);
    ck_assert_ptr_null(out);
}
END_TEST

int
main(void)
{
    const TTest *tests[] = {
        short_prompt_is_the_title_without_mention,  whitespace_is_collapsed,
        github_issue_and_pr_urls_are_shortened,     long_prompt_is_cut_at_a_word_with_an_ellipsis,
        long_word_is_cut_hard_at_a_grapheme,        empty_prompt_falls_back,
        invalid_utf8_is_replaced_and_null_rejected, NULL,
    };

    return suite_run("render_thread_name", tests);
}
