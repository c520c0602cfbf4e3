/* thread_name.c: thread titles from prompts. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#include "render/thread_name.h"
#include "render/utf8.h"
#include "../support/check_runner.h"

/* The title of @prompt, checked to be short and never empty. */
static char *
title(const char *prompt)
{
    char *out = NULL;

    ck_assert_int_eq(thread_name_from_prompt(prompt, &out), 0);
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_gt(strlen(out), 0);
    ck_assert_uint_le(utf8_count(out, strlen(out)), THREAD_NAME_MAX_CHARS);
    ck_assert(utf8_valid(out, strlen(out)));
    return out;
}

/* Expect @prompt to be titled @expected. */
static void
expect_title(const char *prompt, const char *expected)
{
    char *t = title(prompt);

    ck_assert_str_eq(t, expected);
    free(t);
}

START_TEST(short_prompt_is_the_title)
{
    /* the plugin removed the bot's mention; other text, markup-like or not, stays */
    expect_title("fix the flaky test", "fix the flaky test");
    expect_title("ask <@42> about it", "ask <@42> about it");
}
END_TEST

START_TEST(whitespace_is_collapsed)
{
    expect_title("  look\n\nat   this\tplease ", "look at this please");
}
END_TEST

START_TEST(github_issue_and_pr_urls_are_shortened)
{
    expect_title("review https://github.com/openabdev/openab/pull/135 please",
                 "review openabdev/openab#135 please");
    expect_title("see <https://github.com/o/r/issues/7#issuecomment-1>", "see o/r#7");
    expect_title("https://github.com/o/r/pull/12/files and https://github.com/o/r",
                 "o/r#12 and https://github.com/o/r");
}
END_TEST

START_TEST(long_prompt_is_cut_at_a_word_with_an_ellipsis)
{
    expect_title("please refactor the configuration loader so that it validates every field",
                 "please refactor the configuration\xE2\x80\xA6");
}
END_TEST

START_TEST(long_word_is_cut_hard_at_a_grapheme)
{
    char *t = title("\xF0\x9F\x98\x80"
                    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");

    ck_assert_uint_eq(utf8_count(t, strlen(t)), THREAD_NAME_MAX_CHARS);
    ck_assert_str_eq(t + strlen(t) - 3, "\xE2\x80\xA6");
    free(t);
}
END_TEST

START_TEST(empty_prompt_falls_back)
{
    expect_title("", THREAD_NAME_FALLBACK);
    expect_title("   \n ", THREAD_NAME_FALLBACK);
}
END_TEST

START_TEST(invalid_utf8_is_replaced_and_null_rejected)
{
    char *out = NULL;

    expect_title("bad \xFF byte", "bad \xEF\xBF\xBD byte");
    ck_assert_int_eq(thread_name_from_prompt(NULL, &out), AB_EINVAL);
    ck_assert_ptr_null(out);
}
END_TEST

int
main(void)
{
    const TTest *tests[] = {
        short_prompt_is_the_title,
        whitespace_is_collapsed,
        github_issue_and_pr_urls_are_shortened,
        long_prompt_is_cut_at_a_word_with_an_ellipsis,
        long_word_is_cut_hard_at_a_grapheme,
        empty_prompt_falls_back,
        invalid_utf8_is_replaced_and_null_rejected,
        NULL,
    };

    return check_run_list("render_thread_name", 0, tests);
}
