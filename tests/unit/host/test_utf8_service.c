/* host services utf8_count and utf8_truncate (over core/src/render/utf8.c): code points
 * counted, prefixes cut by characters or bytes, never inside a sequence, and with
 * AB_UTF8_WHOLE_GRAPHEMES never inside an emoji ZWJ sequence or a flag. */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "host/host.h"
#include "../support/check_runner.h"

#define FAMILY "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7"
#define FLAG_FR "\xF0\x9F\x87\xAB\xF0\x9F\x87\xB7"
#define EURO "\xE2\x82\xAC"

static size_t
cut_at(const char *s, size_t chars, size_t bytes, unsigned flags)
{
    return host_services.utf8_truncate(s, strlen(s), chars, bytes, flags);
}

START_TEST(counts_code_points)
{
    ck_assert_uint_eq(host_services.utf8_count("", 0), 0);
    ck_assert_uint_eq(host_services.utf8_count("a" EURO "b", 5), 3);
    ck_assert_uint_eq(host_services.utf8_count(FAMILY, strlen(FAMILY)), 5);
    ck_assert_uint_eq(host_services.utf8_count("\xFF\xFE", 2), 2);
}
END_TEST

START_TEST(truncates_by_characters)
{
    ck_assert_uint_eq(cut_at("a" EURO "b", 2, SIZE_MAX, 0), 4);
    ck_assert_uint_eq(cut_at("a" EURO "b", 10, SIZE_MAX, 0), 5);
    ck_assert_uint_eq(cut_at("abc", 0, SIZE_MAX, 0), 0);
    /* without the flag a ZWJ sequence may be cut between its code points */
    ck_assert_uint_eq(cut_at("x" FAMILY, 3, SIZE_MAX, 0), 1 + 4 + 3);
}
END_TEST

START_TEST(truncates_by_bytes_without_splitting_a_sequence)
{
    ck_assert_uint_eq(cut_at("a" EURO "b", SIZE_MAX, 3, 0), 1);
    ck_assert_uint_eq(cut_at("a" EURO "b", SIZE_MAX, 4, 0), 4);
    ck_assert_uint_eq(cut_at(EURO, SIZE_MAX, 2, 0), 0);
    /* both limits: the tighter one wins */
    ck_assert_uint_eq(cut_at("abcdef", 4, 2, 0), 2);
    ck_assert_uint_eq(cut_at("abcdef", 2, 4, 0), 2);
    /* invalid bytes are units of one */
    ck_assert_uint_eq(cut_at("\xFF\xFF\xFF", SIZE_MAX, 2, 0), 2);
}
END_TEST

START_TEST(whole_graphemes_keep_emoji_sequences_and_flags)
{
    const char *s = "ok " FAMILY " " FLAG_FR;

    ck_assert_uint_eq(cut_at(s, 5, SIZE_MAX, AB_UTF8_WHOLE_GRAPHEMES), 3);
    ck_assert_uint_eq(cut_at(s, 8, SIZE_MAX, AB_UTF8_WHOLE_GRAPHEMES), 3 + strlen(FAMILY));
    ck_assert_uint_eq(cut_at(s, SIZE_MAX, 3 + strlen(FAMILY) + 1 + 4, AB_UTF8_WHOLE_GRAPHEMES),
                      3 + strlen(FAMILY) + 1);
    ck_assert_uint_eq(cut_at(s, SIZE_MAX, SIZE_MAX, AB_UTF8_WHOLE_GRAPHEMES), strlen(s));
    /* one grapheme longer than the limit: cut at a code point rather than drop it */
    ck_assert_uint_eq(cut_at(FAMILY, 2, SIZE_MAX, AB_UTF8_WHOLE_GRAPHEMES), 7);
    ck_assert_uint_eq(host_services.utf8_truncate(NULL, 0, 1, 1, 0), 0);
}
END_TEST

int
main(void)
{
    const TTest *tests[] = {
        counts_code_points,
        truncates_by_characters,
        truncates_by_bytes_without_splitting_a_sequence,
        whole_graphemes_keep_emoji_sequences_and_flags,
        NULL,
    };

    return check_run_list("host_utf8", 0, tests);
}
