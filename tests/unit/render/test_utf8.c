/* utf8.c: decoding, counting, validation and safe cut points. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "render/utf8.h"
#include "../support/check_runner.h"

#define FAMILY "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7"
#define HEART_VS "\xE2\x9D\xA4\xEF\xB8\x8F" /* ❤️ = U+2764 U+FE0F */
#define E_ACUTE "e\xCC\x81"                 /* e + U+0301 */
#define FLAG_FR "\xF0\x9F\x87\xAB\xF0\x9F\x87\xB7"

START_TEST(counts_code_points_not_bytes)
{
    ck_assert_uint_eq(utf8_count("", 0), 0);
    ck_assert_uint_eq(utf8_count("abc", 3), 3);
    ck_assert_uint_eq(utf8_count("h\xC3\xA9llo", 6), 5);
    ck_assert_uint_eq(utf8_count("\xF0\x9F\x98\x80", 4), 1);
    ck_assert_uint_eq(utf8_count(FAMILY, strlen(FAMILY)), 5);
}
END_TEST

START_TEST(invalid_bytes_count_one_each)
{
    ck_assert_uint_eq(utf8_count("a\xFF\xFE"
                                 "b",
                                 4),
                      4);
    ck_assert_uint_eq(utf8_count("\xE2\x82", 2), 2); /* truncated sequence */
}
END_TEST

START_TEST(validates_strictly)
{
    ck_assert(utf8_valid("", 0));
    ck_assert(utf8_valid("h\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", 12));
    ck_assert(!utf8_valid("\xC0\xAF", 2));         /* overlong '/' */
    ck_assert(!utf8_valid("\xED\xA0\x80", 3));     /* surrogate */
    ck_assert(!utf8_valid("\xF4\x90\x80\x80", 4)); /* above U+10FFFF */
    ck_assert(!utf8_valid("\xE2\x82", 2));         /* truncated */
    ck_assert(!utf8_valid("\x80", 1));             /* stray continuation */
    ck_assert(!utf8_valid("\xFF", 1));
}
END_TEST

START_TEST(decode_returns_code_point_and_length)
{
    uint32_t cp = 0;

    ck_assert_uint_eq(utf8_decode("\xE2\x82\xAC", 3, &cp), 3);
    ck_assert_uint_eq(cp, 0x20AC);
    ck_assert_uint_eq(utf8_decode("\xF0\x9F\x98\x80", 4, &cp), 4);
    ck_assert_uint_eq(cp, 0x1F600);
    ck_assert_uint_eq(utf8_decode("\xF0\x9F\x98", 3, &cp), 0);
}
END_TEST

START_TEST(never_cuts_inside_a_sequence)
{
    const char *s = "a\xE2\x82\xAC"
                    "b";

    ck_assert(utf8_is_cut(s, 5, 1));
    ck_assert(!utf8_is_cut(s, 5, 2));
    ck_assert(!utf8_is_cut(s, 5, 3));
    ck_assert(utf8_is_cut(s, 5, 4));
}
END_TEST

START_TEST(never_cuts_a_zwj_sequence_or_before_an_extender)
{
    size_t len = strlen(FAMILY), off;

    for (off = 1; off < len; off++)
        ck_assert_msg(!utf8_is_cut(FAMILY, len, off), "cut at %zu inside the family", off);
    ck_assert(!utf8_is_cut(HEART_VS, 6, 3));
    ck_assert(!utf8_is_cut(E_ACUTE, 3, 1));
    ck_assert(utf8_is_cut(E_ACUTE "x", 4, 3));
}
END_TEST

START_TEST(flags_stay_in_pairs)
{
    const char *two = FLAG_FR FLAG_FR;

    ck_assert(!utf8_is_cut(two, 16, 4));
    ck_assert(utf8_is_cut(two, 16, 8));
    ck_assert(!utf8_is_cut(two, 16, 12));
}
END_TEST

START_TEST(crlf_stays_together)
{
    ck_assert(!utf8_is_cut("a\r\nb", 4, 2));
    ck_assert(utf8_is_cut("a\r\nb", 4, 3));
}
END_TEST

START_TEST(truncate_keeps_graphemes_whole)
{
    const char *s = "ab" FAMILY "c";
    size_t len = strlen(s);

    ck_assert_uint_eq(utf8_truncate(s, len, 2), 2);
    ck_assert_uint_eq(utf8_truncate(s, len, 4), 2);
    ck_assert_uint_eq(utf8_truncate(s, len, 7), 2 + strlen(FAMILY));
    ck_assert_uint_eq(utf8_truncate(s, len, 100), len);
    /* A grapheme longer than the limit still yields a code point boundary. */
    ck_assert_uint_eq(utf8_truncate(FAMILY, strlen(FAMILY), 2), 7);
}
END_TEST

START_TEST(skip_and_skip_back_walk_code_points)
{
    const char *s = "\xC3\xA9\xE2\x82\xAC"
                    "a";
    size_t taken = 0;

    ck_assert_uint_eq(utf8_skip(s, 6, 0, 2, &taken), 5);
    ck_assert_uint_eq(taken, 2);
    ck_assert_uint_eq(utf8_skip(s, 6, 0, 10, &taken), 6);
    ck_assert_uint_eq(taken, 3);
    ck_assert_uint_eq(utf8_skip_back(s, 6, 6, 2), 2);
    ck_assert_uint_eq(utf8_skip_back(s, 6, 6, 10), 0);
}
END_TEST

START_TEST(cut_before_and_after_find_the_nearest_safe_cut)
{
    const char *s = "x" FAMILY "y";
    size_t len = strlen(s);

    ck_assert_uint_eq(utf8_cut_before(s, len, 5, 0), 1);
    ck_assert_uint_eq(utf8_cut_after(s, len, 5), 1 + strlen(FAMILY));
    ck_assert_uint_eq(utf8_cut_before(s, len, 5, 3), 3);
}
END_TEST

int
main(void)
{
    const TTest *tests[] = {
        counts_code_points_not_bytes,
        invalid_bytes_count_one_each,
        validates_strictly,
        decode_returns_code_point_and_length,
        never_cuts_inside_a_sequence,
        never_cuts_a_zwj_sequence_or_before_an_extender,
        flags_stay_in_pairs,
        crlf_stays_together,
        truncate_keeps_graphemes_whole,
        skip_and_skip_back_walk_code_points,
        cut_before_and_after_find_the_nearest_safe_cut,
        NULL,
    };

    return check_run_list("render_utf8", 0, tests);
}
