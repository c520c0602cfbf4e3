/* render.c: tool lines, streamed text, the generation counter and the live tail. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#include "render/render.h"
#include "render/utf8.h"
#include "../support/check_runner.h"

#define ELLIPSIS "\xE2\x80\xA6"

/* Append a literal. */
static void
say(struct render_state *r, const char *text)
{
    ck_assert_int_eq(render_append_text(r, text, strlen(text)), 0);
}

/* Upsert a tool, which must succeed. */
static void
tool(struct render_state *r, const char *id, const char *title, enum render_tool_status status)
{
    ck_assert_int_eq(render_tool_upsert(r, id, title, status), 0);
}

/* The full render must read @expected. */
static void
expect_render(struct render_state *r, const char *expected)
{
    ck_assert_str_eq(render_text(r), expected);
}

/* The live view at @max, checked for the invariants every live view holds: within the
 * limit, valid UTF-8, and either the whole render or "…" + a suffix of it (after an
 * optional reopened fence line). */
static char *
live(struct render_state *r, size_t max)
{
    const char *full;
    char *out = NULL;
    const char *tail;

    ck_assert_int_eq(render_live(r, max, &out), 0);
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_le(utf8_count(out, strlen(out)), max);
    ck_assert(utf8_valid(out, strlen(out)));
    full = render_text(r);
    if (strcmp(out, full) == 0)
        return out;
    ck_assert_msg(strncmp(out, ELLIPSIS, 3) == 0, "tail without ellipsis: %s", out);
    tail = out + 3;
    if (*tail == '\n' && (tail[1] == '`' || tail[1] == '~'))
        tail = strchr(tail + 1, '\n') + 1;
    ck_assert_msg(strlen(tail) <= strlen(full) &&
                      strcmp(full + strlen(full) - strlen(tail), tail) == 0,
                  "live view is not a tail of the render: %s", out);
    return out;
}

START_TEST(new_render_is_empty)
{
    struct render_state *r = render_new(RENDER_TOOLS_FULL);

    expect_render(r, "");
    ck_assert_uint_eq(render_chars(r), 0);
    ck_assert_uint_eq(render_generation(r), 0);
    render_free(r);
}
END_TEST

START_TEST(text_chunks_append_in_order)
{
    struct render_state *r = render_new(RENDER_TOOLS_FULL);

    say(r, "Hel");
    say(r, "lo, ");
    say(r, "w\xC3\xB6rld");
    expect_render(r, "Hello, w\xC3\xB6rld");
    ck_assert_uint_eq(render_chars(r), 12);
    render_free(r);
}
END_TEST

START_TEST(full_mode_shows_one_line_per_tool_then_a_blank_line_then_text)
{
    struct render_state *r = render_new(RENDER_TOOLS_FULL);

    tool(r, "t1", "Read file", RENDER_TOOL_PENDING);
    tool(r, "t2", "cargo test", RENDER_TOOL_IN_PROGRESS);
    tool(r, "t3", "rm -rf /", RENDER_TOOL_IN_PROGRESS);
    expect_render(r, "\xF0\x9F\x94\xA7 `Read file`" ELLIPSIS "\n"
                     "\xF0\x9F\x94\xA7 `cargo test`" ELLIPSIS "\n"
                     "\xF0\x9F\x94\xA7 `rm -rf /`" ELLIPSIS);
    tool(r, "t1", NULL, RENDER_TOOL_COMPLETED);
    tool(r, "t3", NULL, RENDER_TOOL_FAILED);
    say(r, "Done.");
    expect_render(r, "\xE2\x9C\x85 `Read file`\n"
                     "\xF0\x9F\x94\xA7 `cargo test`" ELLIPSIS "\n"
                     "\xE2\x9D\x8C `rm -rf /`\n"
                     "\n"
                     "Done.");
    render_free(r);
}
END_TEST

START_TEST(update_for_an_unannounced_tool_creates_it_and_title_comes_later)
{
    struct render_state *r = render_new(RENDER_TOOLS_FULL);

    tool(r, "late", NULL, RENDER_TOOL_KEEP);
    expect_render(r, "\xF0\x9F\x94\xA7 `tool`" ELLIPSIS);
    tool(r, "late", "Fetch https://x", RENDER_TOOL_KEEP);
    expect_render(r, "\xF0\x9F\x94\xA7 `Fetch https://x`" ELLIPSIS);
    tool(r, "late", NULL, RENDER_TOOL_COMPLETED);
    expect_render(r, "\xE2\x9C\x85 `Fetch https://x`");
    render_free(r);
}
END_TEST

START_TEST(tools_keep_first_seen_order)
{
    struct render_state *r = render_new(RENDER_TOOLS_FULL);

    tool(r, "b", "second", RENDER_TOOL_PENDING);
    tool(r, "a", "first", RENDER_TOOL_PENDING);
    tool(r, "b", "second", RENDER_TOOL_COMPLETED);
    expect_render(r, "\xE2\x9C\x85 `second`\n\xF0\x9F\x94\xA7 `first`" ELLIPSIS);
    render_free(r);
}
END_TEST

START_TEST(finished_tool_stays_finished)
{
    struct render_state *r = render_new(RENDER_TOOLS_FULL);

    tool(r, "t", "x", RENDER_TOOL_COMPLETED);
    tool(r, "t", NULL, RENDER_TOOL_IN_PROGRESS);
    expect_render(r, "\xE2\x9C\x85 `x`");
    render_free(r);
}
END_TEST

START_TEST(compact_mode_summarises_tools_on_one_line)
{
    struct render_state *r = render_new(RENDER_TOOLS_COMPACT);

    tool(r, "1", "ls", RENDER_TOOL_COMPLETED);
    tool(r, "2", "cat a", RENDER_TOOL_COMPLETED);
    tool(r, "3", "cargo test", RENDER_TOOL_IN_PROGRESS);
    ck_assert_str_eq(render_text(r),
                     "\xF0\x9F\x94\xA7 3 tools: 2 done, 1 running \xC2\xB7 `cargo test`");
    tool(r, "3", NULL, RENDER_TOOL_FAILED);
    say(r, "Oops");
    expect_render(r, "\xE2\x9D\x8C 3 tools: 2 done, 1 failed\n\nOops");
    render_free(r);
    r = render_new(RENDER_TOOLS_COMPACT);
    tool(r, "1", "ls", RENDER_TOOL_COMPLETED);
    expect_render(r, "\xE2\x9C\x85 1 tool: 1 done");
    render_free(r);
}
END_TEST

START_TEST(none_mode_hides_tools)
{
    struct render_state *r = render_new(RENDER_TOOLS_NONE);

    tool(r, "1", "ls", RENDER_TOOL_IN_PROGRESS);
    ck_assert_uint_eq(render_generation(r), 0);
    say(r, "text");
    expect_render(r, "text");
    render_free(r);
}
END_TEST

START_TEST(titles_are_sanitised)
{
    struct render_state *r = render_new(RENDER_TOOLS_FULL);
    char long_title[400];
    const char *text;

    tool(r, "1", "echo `id`\n\trm  x\r\n", RENDER_TOOL_COMPLETED);
    expect_render(r, "\xE2\x9C\x85 `echo 'id' rm x`");
    render_free(r);

    r = render_new(RENDER_TOOLS_FULL);
    memset(long_title, 'a', sizeof(long_title) - 1);
    long_title[sizeof(long_title) - 1] = '\0';
    tool(r, "1", long_title, RENDER_TOOL_COMPLETED);
    text = render_text(r);
    /* "✅ `" + 99 a + "…" + "`" */
    ck_assert_uint_eq(utf8_count(text, strlen(text)), 3 + RENDER_TITLE_MAX_CHARS + 1);
    ck_assert_ptr_nonnull(strstr(text, "a" ELLIPSIS "`"));
    render_free(r);

    r = render_new(RENDER_TOOLS_FULL);
    tool(r, "1", "bad \xFF", RENDER_TOOL_COMPLETED);
    expect_render(r, "\xE2\x9C\x85 `bad \xEF\xBF\xBD`");
    render_free(r);
}
END_TEST

START_TEST(invalid_utf8_and_nul_in_text_become_replacement_characters)
{
    struct render_state *r = render_new(RENDER_TOOLS_FULL);

    ck_assert_int_eq(render_append_text(r,
                                        "a\xC3"
                                        "b\0c",
                                        5),
                     0);
    expect_render(r, "a\xEF\xBF\xBD"
                     "b\xEF\xBF\xBD"
                     "c");
    render_free(r);
}
END_TEST

START_TEST(generation_changes_only_when_the_render_changes)
{
    struct render_state *r = render_new(RENDER_TOOLS_COMPACT);
    uint64_t g;

    tool(r, "1", "ls", RENDER_TOOL_PENDING);
    g = render_generation(r);
    ck_assert_uint_gt(g, 0);
    /* pending → in_progress reads the same in compact mode. */
    tool(r, "1", "ls", RENDER_TOOL_IN_PROGRESS);
    ck_assert_uint_eq(render_generation(r), g);
    tool(r, "1", "ls", RENDER_TOOL_KEEP);
    ck_assert_uint_eq(render_generation(r), g);
    ck_assert_int_eq(render_append_text(r, "", 0), 0);
    ck_assert_uint_eq(render_generation(r), g);
    say(r, "x");
    ck_assert_uint_gt(render_generation(r), g);
    g = render_generation(r);
    tool(r, "1", NULL, RENDER_TOOL_COMPLETED);
    ck_assert_uint_gt(render_generation(r), g);
    render_free(r);
}
END_TEST

START_TEST(live_view_is_the_whole_render_when_it_fits)
{
    struct render_state *r = render_new(RENDER_TOOLS_FULL);
    char *out;

    tool(r, "1", "ls", RENDER_TOOL_COMPLETED);
    say(r, "short reply");
    out = live(r, 2000);
    ck_assert_str_eq(out, render_text(r));
    free(out);
    render_free(r);
}
END_TEST

START_TEST(live_view_shows_the_tail_from_a_line_boundary)
{
    struct render_state *r = render_new(RENDER_TOOLS_FULL);
    char line[32], *out;
    int i;

    tool(r, "1", "ls", RENDER_TOOL_COMPLETED);
    for (i = 0; i < 200; i++) {
        snprintf(line, sizeof(line), "line %03d of the reply\n", i);
        say(r, line);
    }
    out = live(r, 100);
    /* 22-character lines: the tail starts at a line, well after the tool lines. */
    ck_assert_str_eq(out, ELLIPSIS "line 196 of the reply\nline 197 of the reply\n"
                                   "line 198 of the reply\nline 199 of the reply\n");
    free(out);
    render_free(r);
}
END_TEST

START_TEST(live_view_cuts_mid_line_when_the_last_line_is_long)
{
    struct render_state *r = render_new(RENDER_TOOLS_FULL);
    char big[501], *out;

    memset(big, 'z', 500);
    big[500] = '\0';
    say(r, "head\n");
    say(r, big);
    out = live(r, 50);
    ck_assert_uint_eq(utf8_count(out, strlen(out)), 50);
    ck_assert_str_eq(out + 3, big + 500 - 49);
    free(out);
    render_free(r);
}
END_TEST

START_TEST(live_tail_inside_a_code_fence_reopens_it)
{
    struct render_state *r = render_new(RENDER_TOOLS_FULL);
    char line[32], *out;
    int i;

    say(r, "Here is the code:\n```python\n");
    for (i = 0; i < 100; i++) {
        snprintf(line, sizeof(line), "print(%03d)\n", i);
        say(r, line);
    }
    out = live(r, 60);
    ck_assert_str_eq(out, ELLIPSIS "\n```python\nprint(096)\nprint(097)\nprint(098)\nprint(099)\n");
    free(out);
    say(r, "```\nAll done, that was a lot of code to print out for you.\n");
    out = live(r, 60);
    ck_assert_ptr_null(strstr(out, "```python"));
    free(out);
    render_free(r);
}
END_TEST

START_TEST(live_tail_reaches_into_tool_lines_when_text_is_short)
{
    struct render_state *r = render_new(RENDER_TOOLS_FULL);
    char id[16], *out;
    int i;

    for (i = 0; i < 30; i++) {
        snprintf(id, sizeof(id), "t%d", i);
        tool(r, id, id, RENDER_TOOL_COMPLETED);
    }
    say(r, "ok");
    out = live(r, 40);
    ck_assert(strlen(out) >= 4 && strcmp(out + strlen(out) - 4, "\n\nok") == 0);
    free(out);
    render_free(r);
}
END_TEST

START_TEST(live_view_at_tiny_limits_stays_within_them)
{
    struct render_state *r = render_new(RENDER_TOOLS_FULL);
    size_t max;
    char *out;

    tool(r, "1", "tool", RENDER_TOOL_IN_PROGRESS);
    say(r, "```c\nint main(void) { return 0; }\n\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x92\xBB"
           " done\n");
    for (max = 1; max < 70; max++) {
        out = live(r, max);
        free(out);
    }
    render_free(r);
}
END_TEST

START_TEST(live_views_of_a_growing_stream_are_always_tails)
{
    static const char *const pieces[] = {"word ", "\n",       "\xF0\x9F\x98\x80", "```js\n",
                                         "```\n", "\xC3\xA9", "long-token-",      "\n\n"};
    struct render_state *r = render_new(RENDER_TOOLS_FULL);
    unsigned seed = 7;
    char *out;
    int i;

    for (i = 0; i < 3000; i++) {
        seed = seed * 1103515245 + 12345;
        say(r, pieces[(seed >> 16) % 8]);
        if (i % 97 == 0)
            tool(r, i % 2 ? "a" : "b", "step", RENDER_TOOL_IN_PROGRESS);
        if (i % 13 == 0) {
            out = live(r, 30 + (size_t)(i % 170));
            free(out);
        }
    }
    render_free(r);
}
END_TEST

START_TEST(bad_arguments_are_rejected)
{
    struct render_state *r = render_new(RENDER_TOOLS_FULL);
    enum render_tool_display d;
    enum render_tool_status s;
    char *out = (char *)"x";

    ck_assert_ptr_null(render_new((enum render_tool_display)7));
    ck_assert_int_eq(render_tool_upsert(r, NULL, "x", RENDER_TOOL_PENDING), AB_EINVAL);
    ck_assert_int_eq(render_tool_upsert(r, "", "x", RENDER_TOOL_PENDING), AB_EINVAL);
    ck_assert_int_eq(render_tool_upsert(r, "1", "x", (enum render_tool_status)9), AB_EINVAL);
    ck_assert_int_eq(render_append_text(r, NULL, 3), AB_EINVAL);
    ck_assert_int_eq(render_live(r, 0, &out), AB_EINVAL);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(render_tool_display_parse("compact", &d), 0);
    ck_assert_int_eq(d, RENDER_TOOLS_COMPACT);
    ck_assert_int_eq(render_tool_display_parse("loud", &d), AB_EINVAL);
    ck_assert_int_eq(render_tool_status_parse("in_progress", &s), 0);
    ck_assert_int_eq(s, RENDER_TOOL_IN_PROGRESS);
    ck_assert_int_eq(render_tool_status_parse(NULL, &s), 0);
    ck_assert_int_eq(s, RENDER_TOOL_KEEP);
    ck_assert_int_eq(render_tool_status_parse("done", &s), AB_EINVAL);
    render_free(r);
    render_free(NULL);
}
END_TEST

int
main(void)
{
    const TTest *tests[] = {
        new_render_is_empty,
        text_chunks_append_in_order,
        full_mode_shows_one_line_per_tool_then_a_blank_line_then_text,
        update_for_an_unannounced_tool_creates_it_and_title_comes_later,
        tools_keep_first_seen_order,
        finished_tool_stays_finished,
        compact_mode_summarises_tools_on_one_line,
        none_mode_hides_tools,
        titles_are_sanitised,
        invalid_utf8_and_nul_in_text_become_replacement_characters,
        generation_changes_only_when_the_render_changes,
        live_view_is_the_whole_render_when_it_fits,
        live_view_shows_the_tail_from_a_line_boundary,
        live_view_cuts_mid_line_when_the_last_line_is_long,
        live_tail_inside_a_code_fence_reopens_it,
        live_tail_reaches_into_tool_lines_when_text_is_short,
        live_view_at_tiny_limits_stays_within_them,
        live_views_of_a_growing_stream_are_always_tails,
        bad_arguments_are_rejected,
        NULL,
    };

    return check_run_list("render_render", 0, tests);
}
