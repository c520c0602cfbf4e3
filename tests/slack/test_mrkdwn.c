/* Markdown → Slack mrkdwn (plugins/chat-slack/mrkdwn.c): emphasis, links, headings,
 * bullets and quotes converted; & < > escaped outside code; code kept as written. */
#include <check.h>
#include <stdlib.h>

#include "slack.h"

/* Convert @md and compare with @want. */
static void
mrkdwn_expect(const char *md, const char *want)
{
    char *out = NULL;

    ck_assert_int_eq(mrkdwn_from_markdown(md, &out), 0);
    ck_assert_str_eq(out, want);
    free(out);
}

START_TEST(bold_italic_and_strike_become_slack_emphasis)
{
    mrkdwn_expect("**b** and __b2__", "*b* and *b2*");
    mrkdwn_expect("*i* and _i2_", "_i_ and _i2_");
    mrkdwn_expect("~~gone~~", "~gone~");
    mrkdwn_expect("**bold _and italic_**", "*bold _and italic_*");
    mrkdwn_expect("snake_case_name stays", "snake_case_name stays");
    mrkdwn_expect("2 * 3 * 4", "2 * 3 * 4");
    mrkdwn_expect("**unclosed", "**unclosed");
}
END_TEST

START_TEST(links_become_slack_links)
{
    mrkdwn_expect("see [the docs](https://x.test/a?b=1&c=2)",
                  "see <https://x.test/a?b=1&amp;c=2|the docs>");
    mrkdwn_expect("[a|b](https://x.test/p|q)", "<https://x.test/p%7Cq|a|b>");
    mrkdwn_expect("<https://x.test> kept", "<https://x.test> kept");
    mrkdwn_expect("[not a link] (x)", "[not a link] (x)");
}
END_TEST

START_TEST(headings_become_bold_lines)
{
    mrkdwn_expect("# Title\ntext", "*Title*\ntext");
    mrkdwn_expect("### **Already bold** ###", "*Already bold*");
    mrkdwn_expect("#hashtag", "#hashtag");
}
END_TEST

START_TEST(special_characters_are_escaped_outside_code)
{
    mrkdwn_expect("a < b && c > d", "a &lt; b &amp;&amp; c &gt; d");
    mrkdwn_expect("<@U123> is not a mention I made", "&lt;@U123&gt; is not a mention I made");
    mrkdwn_expect("> quoted & fine", "> quoted &amp; fine");
    mrkdwn_expect("x > y", "x &gt; y");
}
END_TEST

START_TEST(code_spans_and_fences_are_kept)
{
    mrkdwn_expect("use `a<b && **c**` here", "use `a<b && **c**` here");
    mrkdwn_expect("``x ` y`` ok", "``x ` y`` ok");
    mrkdwn_expect("```c\nif (a < b && **p) {}\n```\nafter **b**",
                  "```\nif (a < b && **p) {}\n```\nafter *b*");
    mrkdwn_expect("```\nunclosed < fence", "```\nunclosed < fence");
}
END_TEST

START_TEST(bullets_and_empty_input)
{
    mrkdwn_expect("- one\n* two\n  + three", "• one\n• two\n  • three");
    mrkdwn_expect("", "");
    mrkdwn_expect("\n\n", "\n\n");
}
END_TEST

/* Every test in one suite. */
static Suite *
mrkdwn_suite(void)
{
    Suite *s = suite_create("mrkdwn");
    TCase *tc = tcase_create("convert");

    tcase_add_test(tc, bold_italic_and_strike_become_slack_emphasis);
    tcase_add_test(tc, links_become_slack_links);
    tcase_add_test(tc, headings_become_bold_lines);
    tcase_add_test(tc, special_characters_are_escaped_outside_code);
    tcase_add_test(tc, code_spans_and_fences_are_kept);
    tcase_add_test(tc, bullets_and_empty_input);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(mrkdwn_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
