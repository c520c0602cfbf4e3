/* split.c: the final split into platform-sized messages, by example. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#include "render/split.h"
#include "render/utf8.h"
#include "../support/check_runner.h"

#define FAMILY "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7"

/* Split @text and check the invariants every chunk must hold. */
static struct split_result
split_ok(const char *text, size_t max)
{
    struct split_result r;
    size_t i;

    ck_assert_int_eq(split_message(text, max, &r), 0);
    for (i = 0; i < r.count; i++) {
        ck_assert_uint_le(r.chunks[i].chars, max);
        ck_assert_uint_eq(r.chunks[i].chars, utf8_count(r.chunks[i].text, r.chunks[i].len));
        ck_assert_uint_eq(strlen(r.chunks[i].text), r.chunks[i].len);
    }
    return r;
}

/* Split @text and expect exactly the chunks in @expected (NULL-terminated). The result
 * goes to @keep for further checks (free it with split_result_free), or is freed. */
static void
expect_split(const char *text, size_t max, const char *const *expected, struct split_result *keep)
{
    struct split_result r = split_ok(text, max);
    size_t i;

    for (i = 0; expected[i]; i++) {
        ck_assert_msg(i < r.count, "only %zu chunks, expected more", r.count);
        ck_assert_str_eq(r.chunks[i].text, expected[i]);
    }
    ck_assert_uint_eq(r.count, i);
    if (keep)
        *keep = r;
    else
        split_result_free(&r);
}

START_TEST(empty_text_gives_no_chunks)
{
    struct split_result r = split_ok("", 2000);

    ck_assert_uint_eq(r.count, 0);
    ck_assert_ptr_null(r.chunks);
    split_result_free(&r);
}
END_TEST

START_TEST(short_text_is_one_identical_chunk)
{
    expect_split("hello\nworld", 2000, (const char *[]){"hello\nworld", NULL}, NULL);
}
END_TEST

START_TEST(splits_at_the_last_line_boundary_that_fits)
{
    expect_split("aaaa\nbbbb\ncccc\n", 12, (const char *[]){"aaaa\nbbbb\n", "cccc\n", NULL}, NULL);
}
END_TEST

START_TEST(long_line_splits_after_a_space)
{
    expect_split("hello world again", 13, (const char *[]){"hello world ", "again", NULL}, NULL);
}
END_TEST

START_TEST(line_without_spaces_splits_hard)
{
    expect_split("abcdefghij", 4, (const char *[]){"abcd", "efgh", "ij", NULL}, NULL);
}
END_TEST

START_TEST(limit_counts_characters_not_bytes)
{
    char text[4001];
    struct split_result r;
    size_t i;

    for (i = 0; i < 2000; i++)
        memcpy(text + 2 * i, "\xC3\xA9", 2);
    text[4000] = '\0';
    r = split_ok(text, 2000);
    ck_assert_uint_eq(r.count, 1);
    ck_assert_uint_eq(r.chunks[0].len, 4000);
    split_result_free(&r);
    r = split_ok(text, 1999);
    ck_assert_uint_eq(r.count, 2);
    ck_assert_uint_eq(r.chunks[0].chars, 1999);
    split_result_free(&r);
}
END_TEST

START_TEST(zwj_emoji_is_never_cut)
{
    expect_split("ab" FAMILY FAMILY FAMILY, 6, (const char *[]){"ab", FAMILY, FAMILY, FAMILY, NULL},
                 NULL);
}
END_TEST

START_TEST(cut_code_fence_is_closed_and_reopened_with_its_language)
{
    struct split_result r;

    expect_split("```python\nline1\nline2\nline3\n```\nafter\n", 25,
                 (const char *[]){"```python\nline1\nline2\n```", "```python\nline3\n```\n",
                                  "after\n", NULL},
                 &r);

    ck_assert_uint_eq(r.chunks[0].tail, 3);
    ck_assert_uint_eq(r.chunks[1].head, 10);
    ck_assert_uint_eq(r.chunks[1].tail, 0);
    split_result_free(&r);
}
END_TEST

START_TEST(fence_lines_count_toward_the_limit)
{
    /* Without the closing line the first chunk could take line2 as well. */
    expect_split("```\nline1\nline2\n```\n", 16,
                 (const char *[]){"```\nline1\n```", "```\nline2\n```\n", NULL}, NULL);
}
END_TEST

START_TEST(mid_line_cut_inside_a_fence_adds_a_newline_before_closing)
{
    struct split_result r;

    expect_split("```\nabcdefghijklmnop\n```", 16,
                 (const char *[]){"```\nabcdefgh\n```", "```\nijklmnop\n```", NULL}, &r);

    ck_assert_uint_eq(r.chunks[0].tail, 4);
    ck_assert_uint_eq(r.chunks[1].head, 4);
    ck_assert_uint_eq(r.chunks[1].tail, 0);
    split_result_free(&r);
}
END_TEST

START_TEST(longer_and_tilde_fences_reopen_with_the_same_run)
{
    expect_split("~~~~ md\nxx\nyy\n~~~~\n", 15,
                 (const char *[]){"~~~~ md\nxx\n~~~~", "~~~~md\nyy\n~~~~\n", NULL}, NULL);
}
END_TEST

START_TEST(fence_left_open_by_the_agent_is_closed)
{
    struct split_result r;

    expect_split("```sh\nls", 2000, (const char *[]){"```sh\nls\n```", NULL}, &r);

    ck_assert_uint_eq(r.chunks[0].tail, 4);
    split_result_free(&r);
}
END_TEST

START_TEST(does_not_end_a_chunk_with_a_bare_fence_opener)
{
    expect_split("intro\n```sh\necho hi\n```\n", 16,
                 (const char *[]){"intro\n", "```sh\necho \n```", "```sh\nhi\n```\n", NULL}, NULL);
}
END_TEST

START_TEST(backticks_inside_text_are_not_fences)
{
    expect_split("use ``` like this\nmore words here\n", 20,
                 (const char *[]){"use ``` like this\n", "more words here\n", NULL}, NULL);
}
END_TEST

START_TEST(discord_sized_reply_splits_on_lines)
{
    char *text = malloc(6001);
    struct split_result r;
    size_t i;

    for (i = 0; i < 6000; i++)
        text[i] = i % 60 == 59 ? '\n' : (char)('0' + i % 10);
    text[6000] = '\0';
    r = split_ok(text, 2000);
    ck_assert_uint_eq(r.count, 4);
    for (i = 0; i < r.count; i++)
        ck_assert_int_eq(r.chunks[i].text[r.chunks[i].len - 1], '\n');
    ck_assert_uint_eq(r.chunks[0].chars, 1980);
    split_result_free(&r);
    free(text);
}
END_TEST

START_TEST(bad_input_is_rejected_cleanly)
{
    struct split_result r = {0};

    ck_assert_int_eq(split_message("ok", 0, &r), AB_EINVAL);
    ck_assert_uint_eq(r.count, 0);
    ck_assert_int_eq(split_message(NULL, 10, &r), AB_EINVAL);
    ck_assert_int_eq(split_message("ok", 10, NULL), AB_EINVAL);
    ck_assert_int_eq(split_message("bad \xFF byte", 10, &r), AB_EINVAL);
    ck_assert_uint_eq(r.count, 0);
    split_result_free(&r);
}
END_TEST

START_TEST(tiny_limits_still_make_progress)
{
    struct split_result r = split_ok("```python\n" FAMILY "\n```\n", 5);
    size_t i, total = 0;

    for (i = 0; i < r.count; i++)
        total += r.chunks[i].len - r.chunks[i].head - r.chunks[i].tail;
    ck_assert_uint_eq(total, strlen("```python\n" FAMILY "\n```\n"));
    split_result_free(&r);
    r = split_ok("\xC3\xA9\xC3\xA9\xC3\xA9", 1);
    ck_assert_uint_eq(r.count, 3);
    split_result_free(&r);
}
END_TEST

int
main(void)
{
    const TTest *tests[] = {
        empty_text_gives_no_chunks,
        short_text_is_one_identical_chunk,
        splits_at_the_last_line_boundary_that_fits,
        long_line_splits_after_a_space,
        line_without_spaces_splits_hard,
        limit_counts_characters_not_bytes,
        zwj_emoji_is_never_cut,
        cut_code_fence_is_closed_and_reopened_with_its_language,
        fence_lines_count_toward_the_limit,
        mid_line_cut_inside_a_fence_adds_a_newline_before_closing,
        longer_and_tilde_fences_reopen_with_the_same_run,
        fence_left_open_by_the_agent_is_closed,
        does_not_end_a_chunk_with_a_bare_fence_opener,
        backticks_inside_text_are_not_fences,
        discord_sized_reply_splits_on_lines,
        bad_input_is_rejected_cleanly,
        tiny_limits_still_make_progress,
        NULL,
    };

    return check_run_list("render_split", 0, tests);
}
