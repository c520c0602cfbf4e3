/* mention.c: removing the bot's own mention from Discord and Slack text. */
#include <check.h>
#include <stdlib.h>

#include <agent-broker/errors.h>

#include "render/mention.h"
#include "suite_run.h"

/* Strip @text and expect @removed mentions gone and @expected left. */
static void
expect_strip(const char *text, const char *id, int removed, const char *expected)
{
    char *out = NULL;

    ck_assert_int_eq(mention_strip(text, id, &out), removed);
    ck_assert_str_eq(out, expected);
    free(out);
}

START_TEST(discord_mentions_are_removed_and_text_trimmed)
{
    expect_strip("<@123> fix the tests", "123", 1, "fix the tests");
    expect_strip("  <@!123>   hello  ", "123", 1, "hello");
}
END_TEST

START_TEST(mention_in_the_middle_leaves_one_space)
{
    expect_strip("please <@123> run it", "123", 1, "please run it");
}
END_TEST

START_TEST(slack_mentions_with_and_without_label)
{
    expect_strip("<@U0ABC> deploy", "U0ABC", 1, "deploy");
    expect_strip("<@U0ABC|broker> deploy <@U0ABC>", "U0ABC", 2, "deploy");
}
END_TEST

START_TEST(other_mentions_and_lookalikes_are_kept)
{
    expect_strip("<@1234> and <@12> ask <@123", "123", 0, "<@1234> and <@12> ask <@123");
}
END_TEST

START_TEST(only_a_mention_leaves_empty_text)
{
    expect_strip("<@123>", "123", 1, "");
}
END_TEST

START_TEST(has_detects_the_bot_mention)
{
    ck_assert(mention_has("hi <@!42>", "42"));
    ck_assert(mention_has("<@U1|me> hi", "U1"));
    ck_assert(!mention_has("hi <@421>", "42"));
    ck_assert(!mention_has("hi", "42"));
    ck_assert(!mention_has(NULL, "42"));
}
END_TEST

START_TEST(bad_arguments_are_rejected)
{
    char *out = NULL;

    ck_assert_int_eq(mention_strip(NULL, "1", &out), AB_EINVAL);
    ck_assert_int_eq(mention_strip("x", "", &out), AB_EINVAL);
    ck_assert_int_eq(mention_strip("x", NULL, &out), AB_EINVAL);
    ck_assert_ptr_null(out);
}
END_TEST

int
main(void)
{
    const TTest *tests[] = {
        discord_mentions_are_removed_and_text_trimmed,
        mention_in_the_middle_leaves_one_space,
        slack_mentions_with_and_without_label,
        other_mentions_and_lookalikes_are_kept,
        only_a_mention_leaves_empty_text,
        has_detects_the_bot_mention,
        bad_arguments_are_rejected,
        NULL,
    };

    return suite_run("render_mention", tests);
}
