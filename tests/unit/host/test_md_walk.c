/* host service md_walk (core/src/host/host_markdown.c): the parsed tree reaches the
 * visitor as neutral nodes, enter and leave paired, with each kind's fields. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/host.h"
#include "render/textbuf.h"
#include "../support/check_runner.h"

/* The walk written as one line per event: "+kind(fields)" on enter, "-kind" on leave. */
struct trace {
    struct textbuf b;
    int depth;
    int stop_at; /* return AB_ECANCELED on the stop_at'th enter (1-based), 0 = never */
    int enters;
    uint32_t skip_kind; /* return AB_MD_SKIP_CHILDREN for this kind */
};

static const char *const kind_names[] = {
    "?",         "doc",  "p",     "h",      "quote",  "list", "item", "codeblock",
    "htmlblock", "hr",   "table", "row",    "cell",   "text", "soft", "br",
    "code",      "html", "em",    "strong", "strike", "link", "img",
};

/* Record an enter. */
static int
trace_enter(void *arg, const struct ab_md_node *n)
{
    struct trace *t = arg;
    char line[256];

    ck_assert_int_eq(n->size, sizeof(*n));
    ck_assert_int_eq((int)n->depth, t->depth);
    t->depth++;
    snprintf(line, sizeof(line), "+%s", kind_names[n->kind]);
    textbuf_append_str(&t->b, line);
    if (n->literal) {
        ck_assert_uint_eq(strlen(n->literal), n->literal_len);
        snprintf(line, sizeof(line), "[%s]", n->literal);
        textbuf_append_str(&t->b, line);
    }
    if (n->kind == AB_MD_HEADING)
        snprintf(line, sizeof(line), "(%u)", n->level);
    else if (n->kind == AB_MD_LINK || n->kind == AB_MD_IMAGE)
        snprintf(line, sizeof(line), "(%s%s%s)", n->url, n->title ? " " : "",
                 n->title ? n->title : "");
    else if (n->kind == AB_MD_CODE_BLOCK)
        snprintf(line, sizeof(line), "(%s%s)", n->info, n->fenced ? " fenced" : "");
    else if (n->kind == AB_MD_LIST || n->kind == AB_MD_ITEM)
        snprintf(line, sizeof(line), "(%s%u%s%s#%u)", n->ordered ? "ol" : "ul", n->start,
                 n->tight ? " tight" : "", n->task ? (n->checked ? " [x]" : " [ ]") : "", n->index);
    else if (n->kind == AB_MD_TABLE_CELL)
        snprintf(line, sizeof(line), "(%u/%u a%u%s)", n->index, n->columns, n->align,
                 n->header ? " th" : "");
    else
        line[0] = '\0';
    textbuf_append_str(&t->b, line);
    textbuf_append_str(&t->b, " ");
    t->enters++;
    if (t->stop_at && t->enters == t->stop_at)
        return AB_ECANCELED;
    return n->kind == t->skip_kind ? AB_MD_SKIP_CHILDREN : AB_MD_CONTINUE;
}

/* Record a leave. */
static int
trace_leave(void *arg, const struct ab_md_node *n)
{
    struct trace *t = arg;

    t->depth--;
    ck_assert_int_eq((int)n->depth, t->depth);
    textbuf_append_str(&t->b, "-");
    textbuf_append_str(&t->b, kind_names[n->kind]);
    textbuf_append_str(&t->b, " ");
    return 0;
}

static const struct ab_md_visitor visitor = {
    .size = sizeof(visitor), .enter = trace_enter, .leave = trace_leave};

/* Walk @md and compare the trace with @want (without the document's own events). */
static void
walk_expect(const char *md, const char *want)
{
    struct trace t = {0};
    char *got;
    size_t n;

    ck_assert_int_eq(host_services.md_walk(NULL, md, strlen(md), &visitor, &t), 0);
    ck_assert_int_eq(t.depth, 0);
    got = textbuf_take(&t.b);
    ck_assert_str_eq(strncmp(got, "+doc ", 5) == 0 ? "ok" : got, "ok");
    n = strlen(got);
    ck_assert(n >= 10 && strcmp(got + n - 5, "-doc ") == 0);
    got[n - 5] = '\0';
    ck_assert_str_eq(got + 5, want);
    free(got);
}

START_TEST(inlines_become_neutral_nodes)
{
    walk_expect("a **b** _c_ ~~d~~ `e`",
                "+p +text[a ] -text +strong +text[b] -text -strong +text[ ] -text +em "
                "+text[c] -text -em +text[ ] -text +strike +text[d] -text -strike "
                "+text[ ] -text +code[e] -code -p ");
    walk_expect("[t](http://x.test \"T\") ![alt](i.png) <https://y.test>",
                "+p +link(http://x.test T) +text[t] -text -link +text[ ] -text "
                "+img(i.png) +text[alt] -text -img +text[ ] -text +link(https://y.test) "
                "+text[https://y.test] -text -link -p ");
    walk_expect("a &amp; \\*b\nc  \nd", "+p +text[a & *b] -text +soft -soft +text[c] -text "
                                        "+br -br +text[d] -text -p ");
}
END_TEST

START_TEST(blocks_carry_their_fields)
{
    walk_expect("## Title\n", "+h(2) +text[Title] -text -h ");
    walk_expect("```py\nx = 1\n```\n", "+codeblock[x = 1\n](py fenced) -codeblock ");
    walk_expect("    indented\n", "+codeblock[indented\n]() -codeblock ");
    walk_expect("> q\n\n---\n", "+quote +p +text[q] -text -p -quote +hr -hr ");
    walk_expect("3. a\n4. b\n", "+list(ol3 tight#0) +item(ol3 tight#0) +p +text[a] -text -p -item "
                                "+item(ol3 tight#1) +p +text[b] -text -p -item -list ");
    walk_expect("- [ ] todo\n- [x] done\n",
                "+list(ul0 tight#0) +item(ul0 tight [ ]#0) +p +text[todo] -text -p -item "
                "+item(ul0 tight [x]#1) +p +text[done] -text -p -item -list ");
    walk_expect("<div>\nhi\n</div>\n", "+htmlblock[<div>\nhi\n</div>\n] -htmlblock ");
}
END_TEST

/* Append "kind:start-end " for each block. */
static int
lines_enter(void *arg, const struct ab_md_node *n)
{
    char line[64];

    if (n->start_line == 0)
        return 0;
    snprintf(line, sizeof(line), "%s:%u-%u ", kind_names[n->kind], n->start_line, n->end_line);
    return textbuf_append_str(arg, line);
}

START_TEST(block_lines_leave_out_the_blank_lines_after_them)
{
    static const struct ab_md_visitor lines = {.size = sizeof(lines), .enter = lines_enter};
    const char *md = "---\n\n    code\n\n\nT\n===\n\n> q\n>\n> r\n\n- a\n\n- b\n";
    struct textbuf b = {0};

    ck_assert_int_eq(host_services.md_walk(NULL, md, strlen(md), &lines, &b), 0);
    ck_assert_str_eq(b.data, "doc:1-15 hr:1-1 codeblock:3-3 h:6-7 quote:9-11 p:9-9 p:11-11 "
                             "list:13-15 item:13-13 p:13-13 item:15-15 p:15-15 ");
    textbuf_free(&b);
}
END_TEST

START_TEST(tables_are_rows_of_cells)
{
    walk_expect("| a | b |\n|:--|--:|\n| 1 | 2 |\n",
                "+table +row +cell(0/2 a1 th) +text[a] -text -cell +cell(1/2 a3 th) +text[b] "
                "-text -cell -row +row +cell(0/2 a1) +text[1] -text -cell +cell(1/2 a3) "
                "+text[2] -text -cell -row -table ");
}
END_TEST

START_TEST(a_visitor_can_skip_children_or_stop)
{
    struct trace t = {.skip_kind = AB_MD_LINK};
    const char *md = "see [a **b**](u) end";
    char *got;

    ck_assert_int_eq(host_services.md_walk(NULL, md, strlen(md), &visitor, &t), 0);
    got = textbuf_take(&t.b);
    ck_assert_str_eq(got, "+doc +p +text[see ] -text +link(u) -link +text[ end] -text -p -doc ");
    free(got);

    t = (struct trace){.stop_at = 3};
    ck_assert_int_eq(host_services.md_walk(NULL, md, strlen(md), &visitor, &t), AB_ECANCELED);
    textbuf_free(&t.b);
}
END_TEST

START_TEST(bad_arguments_and_odd_input)
{
    struct trace t = {0};
    struct ab_md_visitor small = {.size = 4};
    const char nul[] = "a\0b";

    ck_assert_int_eq(host_services.md_walk(NULL, NULL, 0, &visitor, &t), AB_EINVAL);
    ck_assert_int_eq(host_services.md_walk(NULL, "x", 1, NULL, &t), AB_EINVAL);
    ck_assert_int_eq(host_services.md_walk(NULL, "x", 1, &small, &t), AB_EINVAL);
    walk_expect("", "");
    /* an embedded NUL becomes U+FFFD; the length, not the NUL, ends the input */
    textbuf_free(&t.b);
    t = (struct trace){0};
    ck_assert_int_eq(host_services.md_walk(NULL, nul, 3, &visitor, &t), 0);
    ck_assert_ptr_nonnull(strstr(t.b.data, "[a\xEF\xBF\xBD"
                                           "b]"));
    textbuf_free(&t.b);
}
END_TEST

START_TEST(deep_nesting_is_walked_without_recursion)
{
    size_t n = 5000;
    char *md = malloc(2 * n + 2);
    struct trace t = {0};

    for (size_t i = 0; i < n; i++)
        memcpy(md + 2 * i, "> ", 2);
    memcpy(md + 2 * n, "x", 2);
    ck_assert_int_eq(host_services.md_walk(NULL, md, strlen(md), &visitor, &t), 0);
    ck_assert_int_eq(t.depth, 0);
    textbuf_free(&t.b);
    free(md);
}
END_TEST

int
main(void)
{
    const TTest *tests[] = {
        inlines_become_neutral_nodes,
        blocks_carry_their_fields,
        tables_are_rows_of_cells,
        block_lines_leave_out_the_blank_lines_after_them,
        a_visitor_can_skip_children_or_stop,
        bad_arguments_and_odd_input,
        deep_nesting_is_walked_without_recursion,
        NULL,
    };

    return check_run_list("host_md_walk", 0, tests);
}
