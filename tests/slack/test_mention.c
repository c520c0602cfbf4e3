/* chat-slack mention markup (plugins/chat-slack/mention.c): the bot's <@UID> and
 * <@UID|name> removed from the prompt (with the spaces after them) and counted; other
 * users and unclosed look-alikes kept; nothing read past the end of the text. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/support/check_runner.h"
#include "slack.h"

/* Strip @text and expect @removed mentions gone and @expected left. */
static void
expect_strip(const char *text, const char *uid, int removed, const char *expected)
{
    char *out = NULL;

    ck_assert_int_eq(slack_mention_strip(text, uid, &out), removed);
    ck_assert_str_eq(out, expected);
    free(out);
}

START_TEST(mentions_of_the_bot_are_removed)
{
    expect_strip("<@U0LAN0Z89> is it everything a river should be?", "U0LAN0Z89", 1,
                 "is it everything a river should be?");
    expect_strip("<@U0ABC|broker> deploy <@U0ABC>", "U0ABC", 2, "deploy");
    expect_strip("a <@U0ABC>  b", "U0ABC", 1, "a b");
    expect_strip("\n<@U0ABC>\n", "U0ABC", 1, "");
}
END_TEST

START_TEST(other_mentions_and_lookalikes_are_kept)
{
    expect_strip("<@U0ABCD> <#C1|general> <!here> &lt;@U0ABC&gt;", "U0ABC", 0,
                 "<@U0ABCD> <#C1|general> <!here> &lt;@U0ABC&gt;");
    expect_strip("hi", NULL, 0, "hi");
    expect_strip("<@U0ABC>", "", 0, "<@U0ABC>");
}
END_TEST

START_TEST(an_unclosed_mention_is_text_and_the_end_is_never_passed)
{
    /* the label scan stops at the NUL (ASan checks the reads), a '<' or a newline */
    const char *cuts[] = {"<", "<@", "<@U0A", "<@U0ABC", "<@U0ABC|", "<@U0ABC|na"};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        char *copy = strdup(cuts[i]);
        expect_strip(copy, "U0ABC", 0, cuts[i]);
        free(copy);
    }
    expect_strip("<@U0ABC|a <@U0ABC> b", "U0ABC", 1, "<@U0ABC|a b");
    expect_strip("<@U0ABC|a\nb> c", "U0ABC", 0, "<@U0ABC|a\nb> c");
}
END_TEST

START_TEST(bad_arguments_are_rejected)
{
    char *out = (char *)"x";

    ck_assert_int_eq(slack_mention_strip(NULL, "U1", &out), AB_EINVAL);
    ck_assert_ptr_null(out);
}
END_TEST

int
main(void)
{
    const TTest *tests[] = {
        mentions_of_the_bot_are_removed,
        other_mentions_and_lookalikes_are_kept,
        an_unclosed_mention_is_text_and_the_end_is_never_passed,
        bad_arguments_are_rejected,
        NULL,
    };

    return check_run_list("slack_mention", 0, tests);
}
