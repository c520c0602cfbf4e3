/* host service md_plain (core/src/host/md_plain.c): Markdown as plain text, markup
 * gone, structure kept as lines, bullets, numbers and quote markers. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "host/host.h"
#include "../support/check_runner.h"

/* Render @md and compare with @want. */
static void
plain_expect(const char *md, const char *want)
{
    char *out = NULL;

    ck_assert_int_eq(host_services.md_plain(NULL, md, strlen(md), &out), 0);
    ck_assert_str_eq(out, want);
    free(out);
}

START_TEST(inline_markup_is_dropped)
{
    plain_expect("**bold** _it_ ~~gone~~ `a*b`", "bold it gone a*b");
    plain_expect("a &lt; b \\*c\\*", "a < b *c*");
    plain_expect("line one\nline two  \nthree", "line one\nline two\nthree");
}
END_TEST

START_TEST(links_show_their_url)
{
    plain_expect("see [docs](https://x.test/d)", "see docs (https://x.test/d)");
    plain_expect("<https://x.test>", "https://x.test");
    plain_expect("![a cat](c.png)", "a cat (c.png)");
    plain_expect("[](https://x.test/e)", "https://x.test/e");
}
END_TEST

START_TEST(blocks_are_separated_by_blank_lines)
{
    plain_expect("# Title\n\nText.\n\n---\n\nEnd", "Title\n\nText.\n\n---\n\nEnd");
    plain_expect("```c\nint a;\n\nint b;\n```\nafter", "int a;\n\nint b;\nafter");
    plain_expect("    code\n\n\npara\nT\n===\n\nz", "code\n\npara\nT\n\nz");
    plain_expect("", "");
}
END_TEST

START_TEST(lists_and_quotes_keep_their_shape)
{
    plain_expect("- one\n- two\n  - nested\n- three",
                 "\xE2\x80\xA2 one\n\xE2\x80\xA2 two\n  \xE2\x80\xA2 nested\n\xE2\x80\xA2 three");
    plain_expect("9. a\n10. b", "9. a\n10. b");
    plain_expect("- a\n\n- b", "\xE2\x80\xA2 a\n\n\xE2\x80\xA2 b");
    plain_expect("- [ ] todo\n- [x] done", "\xE2\x80\xA2 [ ] todo\n\xE2\x80\xA2 [x] done");
    plain_expect("> quoted\n> lines\n>\n> para", "> quoted\n> lines\n>\n> para");
    plain_expect("- item\n\n  continued", "\xE2\x80\xA2 item\n\n  continued");
    plain_expect("> - in\n> - quote", "> \xE2\x80\xA2 in\n> \xE2\x80\xA2 quote");
    plain_expect("-\n- b", "\xE2\x80\xA2 \n\xE2\x80\xA2 b");
}
END_TEST

START_TEST(tables_are_rows_of_cells)
{
    plain_expect("| a | b |\n|---|---|\n| 1 | 2 |\n\nafter", "a | b\n1 | 2\n\nafter");
}
END_TEST

START_TEST(bad_arguments)
{
    char *out = (char *)"x";

    ck_assert_int_eq(host_services.md_plain(NULL, "x", 1, NULL), AB_EINVAL);
    ck_assert_int_eq(host_services.md_plain(NULL, NULL, 0, &out), AB_EINVAL);
    ck_assert_ptr_null(out);
}
END_TEST

int
main(void)
{
    const TTest *tests[] = {
        inline_markup_is_dropped,
        links_show_their_url,
        blocks_are_separated_by_blank_lines,
        lists_and_quotes_keep_their_shape,
        tables_are_rows_of_cells,
        bad_arguments,
        NULL,
    };

    return check_run_list("host_md_plain", 0, tests);
}
