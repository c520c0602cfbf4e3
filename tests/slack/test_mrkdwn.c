/* Markdown → Slack mrkdwn (plugins/chat-slack/mrkdwn.c over the host's md_walk):
 * emphasis, links, headings, bullets and quotes converted; & < > escaped everywhere,
 * code included (Slack decodes the entities inside code too); code kept otherwise. */
#include <check.h>
#include <stddef.h>
#include <stdlib.h>

#include "host/host.h"
#include "slack.h"
#include "../unit/support/check_runner.h"

/* Convert @md and compare with @want. */
static void
mrkdwn_expect(const char *md, const char *want)
{
    char *out = NULL;

    ck_assert_int_eq(mrkdwn_from_markdown(&host_services, NULL, md, &out), 0);
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
    mrkdwn_expect("use `a<b && **c**` here", "use `a&lt;b &amp;&amp; **c**` here");
    mrkdwn_expect("``x ` y`` ok", "`x \xCB\x8B y` ok");
    mrkdwn_expect("```c\nif (a < b && **p) {}\n```\nafter **b**",
                  "```\nif (a &lt; b &amp;&amp; **p) {}\n```\nafter *b*");
    mrkdwn_expect("```\nunclosed < fence", "```\nunclosed &lt; fence\n```");
}
END_TEST

START_TEST(bullets_and_empty_input)
{
    mrkdwn_expect("- one\n* two\n  + three", "• one\n• two\n  • three");
    mrkdwn_expect("", "");
    mrkdwn_expect("\n\n", "");
}
END_TEST

START_TEST(structure_follows_the_markdown_tree)
{
    mrkdwn_expect("1. one\n2. two\n\n   more", "1. one\n2. two\n\n   more");
    mrkdwn_expect("> a **b**\n>\n> c", "> a *b*\n>\n> c");
    mrkdwn_expect("- [x] done\n- [ ] todo", "\xE2\x80\xA2 [x] done\n\xE2\x80\xA2 [ ] todo");
    mrkdwn_expect("| a | b |\n|---|---|\n| 1 & 2 | x |", "a | b\n1 &amp; 2 | x");
    mrkdwn_expect("a\n\n---\n\nb", "a\n\n---\n\nb");
    mrkdwn_expect("<b>hi</b> & <div>", "&lt;b&gt;hi&lt;/b&gt; &amp; &lt;div&gt;");
}
END_TEST

START_TEST(markers_stay_paired_on_one_line)
{
    /* Slack formats nothing across a newline: a break inside emphasis is a space */
    mrkdwn_expect("**two\nlines**", "*two lines*");
    mrkdwn_expect("*a **b** c*", "_a *b* c_");
    mrkdwn_expect("***both***", "_*both*_");
    mrkdwn_expect("**[](x)**", "*<x>*");
    mrkdwn_expect("**![](  )**", "");
    mrkdwn_expect("# *Title* here", "*_Title_ here*");
}
END_TEST

START_TEST(link_labels_and_urls_are_escaped)
{
    mrkdwn_expect("[**a** `b` <c>](http://x.test/?a=1&b=<2>)",
                  "<http://x.test/?a=1&amp;b=&lt;2&gt;|a b &lt;c&gt;>");
    mrkdwn_expect("[x](<http://x.test/a b>)", "<http://x.test/a%20b|x>");
    mrkdwn_expect("[![img](i.png)](http://x.test)", "<http://x.test|img>");
    mrkdwn_expect("https://auto.test/x and www.w.test",
                  "<https://auto.test/x> and <http://www.w.test|www.w.test>");
    mrkdwn_expect("````\na ``` b `` c\n````", "```\na \xCB\x8B\xCB\x8B\xCB\x8B b `` c\n```");
}
END_TEST

START_TEST(a_host_without_md_walk_is_refused)
{
    struct ab_host_services old = host_services;
    char *out = (char *)"x";

    old.size = offsetof(struct ab_host_services, md_walk);
    ck_assert_int_eq(mrkdwn_from_markdown(&old, NULL, "x", &out), AB_ENOTSUP);
    ck_assert_ptr_null(out);
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
    tcase_add_test(tc, structure_follows_the_markdown_tree);
    tcase_add_test(tc, markers_stay_paired_on_one_line);
    tcase_add_test(tc, link_labels_and_urls_are_escaped);
    tcase_add_test(tc, a_host_without_md_walk_is_refused);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return check_run_suite(mrkdwn_suite());
}
