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

START_TEST(short_prompt_is_the_title_without_mention)
{
    char *t = title("<@42> fix the flaky test", "42");

    ck_assert_str_eq(t, "fix the flaky test");
    free(t);
}
END_TEST

START_TEST(whitespace_is_collapsed)
{
    char *t = title("  look\n\nat   this\tplease ", NULL);

    ck_assert_str_eq(t, "look at this please");
    free(t);
}
END_TEST

START_TEST(github_issue_and_pr_urls_are_shortened)
{
    char *a = title("<@42> review https://github.com/openabdev/openab/pull/135 please", "42");
    char *b = title("see <https://github.com/o/r/issues/7#issuecomment-1>", NULL);
    char *c = title("https://github.com/o/r/pull/12/files and https://github.com/o/r", NULL);

    ck_assert_str_eq(a, "review openabdev/openab#135 please");
    ck_assert_str_eq(b, "see o/r#7");
    ck_assert_str_eq(c, "o/r#12 and https://github.com/o/r");
    free(a);
    free(b);
    free(c);
}
END_TEST

START_TEST(long_prompt_is_cut_at_a_word_with_an_ellipsis)
{
    char *t = title("please refactor the configuration loader so that it validates every "
                    "field",
                    NULL);

    ck_assert_str_eq(t, "please refactor the configuration\xE2\x80\xA6");
    free(t);
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
    char *a = title("<@42>", "42");
    char *b = title("   \n ", NULL);

    ck_assert_str_eq(a, THREAD_NAME_FALLBACK);
    ck_assert_str_eq(b, THREAD_NAME_FALLBACK);
    free(a);
    free(b);
}
END_TEST

START_TEST(invalid_utf8_is_replaced_and_null_rejected)
{
    char *t = title("bad \xFF byte", NULL), *out = NULL;

    ck_assert_str_eq(t, "bad \xEF\xBF\xBD byte");
    free(t);
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
