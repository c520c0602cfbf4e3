/* chat-discord mention markup (plugins/chat-discord/mention.c): the bot's <@ID> and
 * <@!ID> removed from the prompt and counted; role mentions, other users and
 * look-alikes kept; nothing read past the end of the text. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/support/check_runner.h"
#include "discord.h"

/* Strip @text and expect @removed mentions gone and @expected left. */
static void
expect_strip(const char *text, const char *id, int removed, const char *expected)
{
    char *out = NULL;

    ck_assert_int_eq(discord_mention_strip(text, id, &out), removed);
    ck_assert_str_eq(out, expected);
    free(out);
}

START_TEST(user_mentions_of_the_bot_are_removed)
{
    expect_strip("<@1000000000000000001> hi", "1000000000000000001", 1, "hi");
    expect_strip("  <@!123>   hello  ", "123", 1, "hello");
    expect_strip("please <@123> run it", "123", 1, "please run it");
    expect_strip("<@123><@!123>", "123", 2, "");
}
END_TEST

START_TEST(roles_other_users_and_lookalikes_are_kept)
{
    expect_strip("<@&123> and <@1234> and <@12> ask <@123", "123", 0,
                 "<@&123> and <@1234> and <@12> ask <@123");
    expect_strip("<@123|label> <@ 123>", "123", 0, "<@123|label> <@ 123>");
    expect_strip("hi", NULL, 0, "hi");
    expect_strip(" <@123> ", "", 0, "<@123>");
    /* 21 digits are no snowflake (found by discord_mention_fuzz) */
    expect_strip("<@100000000000000000001>", "100000000000000000001", 0,
                 "<@100000000000000000001>");
}
END_TEST

START_TEST(the_end_of_the_text_is_never_passed)
{
    /* a mention cut off at the end of the buffer (ASan checks the reads) */
    const char *cuts[] = {"<", "<@", "<@!", "<@&", "<@12", "<@123", "<@!123"};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        char *copy = strdup(cuts[i]);
        expect_strip(copy, "123", 0, cuts[i]);
        free(copy);
    }
}
END_TEST

START_TEST(bad_arguments_are_rejected)
{
    char *out = (char *)"x";

    ck_assert_int_eq(discord_mention_strip(NULL, "1", &out), AB_EINVAL);
    ck_assert_ptr_null(out);
}
END_TEST

int
main(void)
{
    const TTest *tests[] = {
        user_mentions_of_the_bot_are_removed,
        roles_other_users_and_lookalikes_are_kept,
        the_end_of_the_text_is_never_passed,
        bad_arguments_are_rejected,
        NULL,
    };

    return check_run_list("discord_mention", 0, tests);
}
