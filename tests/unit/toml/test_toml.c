/* Unit tests for the TOML parser: error positions and messages, lookups, int64
 * limits, NUL in keys, CRLF, positions of values. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "toml/toml.h"
#include "../support/check_runner.h"

/* Parse @src (a C string) and expect success. */
static struct toml_table *
parse_ok(const char *src)
{
    struct toml_table *root = NULL;
    struct toml_error err;
    int rc = toml_parse(src, strlen(src), &root, &err);

    ck_assert_msg(rc == 0, "unexpected error at %d:%d: %s", err.line, err.col, err.msg);
    ck_assert_ptr_nonnull(root);
    return root;
}

/* Parse @len bytes of @src and expect failure; the error is returned. */
static struct toml_error
parse_fail_n(const char *src, size_t len)
{
    struct toml_table *root = (struct toml_table *)&root;
    struct toml_error err;

    ck_assert_int_eq(toml_parse(src, len, &root, &err), -1);
    ck_assert_ptr_null(root);
    ck_assert_msg(err.msg[0] != '\0', "error without a message");
    return err;
}

/* Parse a C string and expect failure. */
static struct toml_error
parse_fail(const char *src)
{
    return parse_fail_n(src, strlen(src));
}

/* Parse @src and expect failure at @want_line:@want_col with exactly @want_msg (a macro so that a
 * failing check names the test's own line). */
#define assert_error(src, want_line, want_col, want_msg)                                           \
    do {                                                                                           \
        struct toml_error e_ = parse_fail(src);                                                    \
        ck_assert_int_eq(e_.line, (want_line));                                                    \
        ck_assert_int_eq(e_.col, (want_col));                                                      \
        ck_assert_str_eq(e_.msg, (want_msg));                                                      \
    } while (0)

START_TEST(syntax_error_on_line_3_reports_line_3)
{
    assert_error("a = 1\nb = 2\nname \"x\"\n", 3, 6, "expected '=' after key \"name\", found '\"'");
}
END_TEST

START_TEST(duplicate_key_names_the_first_line)
{
    assert_error("# c\n\na = 1\nb = 2\n  a = 3\n", 5, 3, "key \"a\" already defined at line 3");
    assert_error("a.b = 1\na.b = 2\n", 2, 3, "key \"a.b\" already defined at line 1");
}
END_TEST

START_TEST(invalid_escape_is_named)
{
    assert_error("[t]\nx = \"ab\\qc\"\n", 2, 8, "invalid escape '\\q' in string");
}
END_TEST

START_TEST(table_defined_twice)
{
    assert_error("[a]\nx = 1\n[b]\n[a]\n", 4, 2, "table [a] already defined at line 1");
    assert_error("[a]\nb.c = 1\n[a.b]\n", 3, 4,
                 "table [a.b] already defined at line 2 by dotted keys");
}
END_TEST

START_TEST(inline_table_cannot_be_extended)
{
    assert_error("a = {b = 1}\n[a.c]\n", 2, 2,
                 "cannot add a table under inline table \"a\" (line 1): inline tables are "
                 "complete as written");
    assert_error("a = {b = 1}\na.c = 2\n", 2, 1,
                 "cannot add keys to inline table \"a\" (line 1): inline tables are complete "
                 "as written");
}
END_TEST

START_TEST(static_array_cannot_be_appended_to)
{
    assert_error("a = []\n[[a]]\n", 2, 3,
                 "cannot append to \"a\" with [[a]]: it is already defined at line 1 as a "
                 "static array");
}
END_TEST

START_TEST(int64_limits)
{
    struct toml_table *root = parse_ok("max = 9223372036854775807\n"
                                       "min = -9223372036854775808\n"
                                       "hex = 0x7fff_ffff_ffff_ffff\n"
                                       "bin = 0b1111\n"
                                       "oct = 0o17\n");

    ck_assert(toml_table_get(root, "max")->u.i == INT64_MAX);
    ck_assert(toml_table_get(root, "min")->u.i == INT64_MIN);
    ck_assert(toml_table_get(root, "hex")->u.i == INT64_MAX);
    ck_assert_int_eq(toml_table_get(root, "bin")->u.i, 15);
    ck_assert_int_eq(toml_table_get(root, "oct")->u.i, 15);
    toml_free(root);
}
END_TEST

START_TEST(int64_overflow_is_an_error)
{
    assert_error("x = 1\ny = 9223372036854775808\n", 2, 5,
                 "integer 9223372036854775808 does not fit in 64 bits");
    assert_error("y = -9223372036854775809\n", 1, 5,
                 "integer -9223372036854775809 does not fit in 64 bits");
    assert_error("y = 0x8000000000000000\n", 1, 5,
                 "integer 0x8000000000000000 does not fit in 64 bits");
    assert_error("y = 99999999999999999999\n", 1, 5,
                 "integer 99999999999999999999 does not fit in 64 bits");
}
END_TEST

START_TEST(get_path_walks_tables)
{
    struct toml_table *root = parse_ok("top = 1\n"
                                       "[reactions.timing]\n"
                                       "debounce_ms = 700\n"
                                       "[reactions]\n"
                                       "enabled = true\n");
    const struct toml_value *v;

    v = toml_get_path(root, "reactions.timing.debounce_ms");
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(v->type, TOML_INTEGER);
    ck_assert_int_eq(v->u.i, 700);
    ck_assert_int_eq(v->line, 3);
    ck_assert_int_eq(v->col, 15);
    v = toml_get_path(root, "reactions.enabled");
    ck_assert_ptr_nonnull(v);
    ck_assert(v->u.b);
    ck_assert_int_eq(toml_get_path(root, "reactions")->type, TOML_TABLE);
    ck_assert_int_eq(toml_get_path(root, "top")->u.i, 1);
    ck_assert_ptr_null(toml_get_path(root, "reactions.timing.missing"));
    ck_assert_ptr_null(toml_get_path(root, "top.x"));
    ck_assert_ptr_null(toml_get_path(root, "reactions..timing"));
    ck_assert_ptr_null(toml_get_path(root, ""));
    ck_assert_ptr_null(toml_get_path(root, "reactions.timing."));
    ck_assert_ptr_null(toml_table_get(root, "reactions.enabled"));
    ck_assert_ptr_nonnull(toml_table_get(root, "reactions"));
    toml_free(root);
}
END_TEST

START_TEST(key_with_nul_via_escape)
{
    struct toml_table *root = parse_ok("\"a\\u0000b\" = \"x\\u0000y\"\n");

    ck_assert_uint_eq(root->count, 1);
    ck_assert_uint_eq(root->items[0].key_len, 3);
    ck_assert_int_eq(memcmp(root->items[0].key, "a\0b", 4), 0);
    ck_assert_uint_eq(root->items[0].val.u.str.len, 3);
    ck_assert_int_eq(memcmp(root->items[0].val.u.str.ptr, "x\0y", 4), 0);
    /* Lookup by C string stops at the NUL: "a" is not the key "a\0b". */
    ck_assert_ptr_null(toml_table_get(root, "a"));
    toml_free(root);
}
END_TEST

START_TEST(crlf_line_endings)
{
    struct toml_table *root = parse_ok("a = 1\r\n# c\r\ns = \"\"\"\r\nx\r\ny\"\"\"\r\nb = 2\r\n");
    const struct toml_value *s = toml_table_get(root, "s");

    ck_assert_str_eq(s->u.str.ptr, "x\ny");
    ck_assert_int_eq(toml_table_get(root, "b")->line, 6);
    toml_free(root);

    struct toml_error e = parse_fail("a = 1\r\nb = 2\r\nc = \r\n");
    ck_assert_int_eq(e.line, 3);
    ck_assert_int_eq(e.col, 5);
    e = parse_fail("a = 1\rb = 2\n");
    ck_assert_int_eq(e.line, 1);
    ck_assert_int_eq(e.col, 6);
    e = parse_fail("a = \"\"\"x\ry\"\"\"\n");
    ck_assert_int_eq(e.col, 9);
}
END_TEST

START_TEST(values_and_keys_record_positions)
{
    struct toml_table *root = parse_ok("\xef\xbb\xbf"
                                       "x = 1\n"
                                       "[t]\n"
                                       "  arr = [1,\n"
                                       "    \"two\"]\n");
    const struct toml_value *t = toml_table_get(root, "t");
    const struct toml_value *arr = toml_get_path(root, "t.arr");

    ck_assert_int_eq(toml_table_get(root, "x")->col, 5);
    ck_assert_int_eq(t->u.tab->line, 2);
    ck_assert_int_eq(t->u.tab->items[0].line, 3);
    ck_assert_int_eq(t->u.tab->items[0].col, 3);
    ck_assert_int_eq(arr->line, 3);
    ck_assert_int_eq(arr->col, 9);
    ck_assert_uint_eq(arr->u.arr->count, 2);
    ck_assert_int_eq(arr->u.arr->items[1].line, 4);
    ck_assert_int_eq(arr->u.arr->items[1].col, 5);
    toml_free(root);
}
END_TEST

START_TEST(invalid_utf8_is_located)
{
    struct toml_error e = parse_fail("a = 1\nb = \"\xc0\xaf\"\n"); /* overlong '/' */

    ck_assert_int_eq(e.line, 2);
    ck_assert_int_eq(e.col, 6);
    ck_assert_ptr_nonnull(strstr(e.msg, "UTF-8"));
    e = parse_fail("b = \"\xed\xa0\x80\"\n"); /* surrogate U+D800 */
    ck_assert_ptr_nonnull(strstr(e.msg, "UTF-8"));
    e = parse_fail("b = \"\xf4\x90\x80\x80\"\n"); /* U+110000 */
    ck_assert_ptr_nonnull(strstr(e.msg, "UTF-8"));
}
END_TEST

START_TEST(nul_byte_in_document_is_rejected)
{
    struct toml_error e = parse_fail_n("a = \"x\0y\"\n", 10);

    ck_assert_int_eq(e.col, 7);
    ck_assert_ptr_nonnull(strstr(e.msg, "U+0000"));
}
END_TEST

START_TEST(floats_and_datetimes)
{
    struct toml_table *root = parse_ok("f = -1_000.5e-1_0\n"
                                       "i = -inf\n"
                                       "n = nan\n"
                                       "d = 1979-05-27 07:32:00.5z\n"
                                       "l = 2000-02-29\n"
                                       "t = 23:59:59.999\n");

    ck_assert(toml_table_get(root, "f")->u.f == -1000.5e-10);
    ck_assert(isinf(toml_table_get(root, "i")->u.f) && toml_table_get(root, "i")->u.f < 0);
    ck_assert(isnan(toml_table_get(root, "n")->u.f));
    ck_assert_int_eq(toml_table_get(root, "d")->type, TOML_DATETIME);
    ck_assert_str_eq(toml_table_get(root, "d")->u.datetime, "1979-05-27T07:32:00.5Z");
    ck_assert_int_eq(toml_table_get(root, "l")->type, TOML_DATE_LOCAL);
    ck_assert_int_eq(toml_table_get(root, "t")->type, TOML_TIME_LOCAL);
    ck_assert_str_eq(toml_type_name(TOML_DATETIME_LOCAL), "datetime-local");
    toml_free(root);
    ck_assert_ptr_nonnull(strstr(parse_fail("d = 1900-02-29\n").msg, "does not exist"));
    ck_assert_ptr_nonnull(strstr(parse_fail("d = 2000-01-01T24:00:00\n").msg, "hour"));
}
END_TEST

START_TEST(deep_nesting_is_an_error_not_a_crash)
{
    size_t n = 100000;
    char *src = malloc(n + 5);

    ck_assert_ptr_nonnull(src);
    memcpy(src, "a = ", 4);
    memset(src + 4, '[', n);
    src[n + 4] = '\0';
    struct toml_error e = parse_fail(src);
    ck_assert_ptr_nonnull(strstr(e.msg, "nested deeper"));
    free(src);
    toml_free(NULL);
}
END_TEST

/* Collect the cases into one suite. */
static Suite *
toml_suite(void)
{
    Suite *s = suite_create("toml");
    TCase *tc = tcase_create("parser");

    tcase_add_test(tc, syntax_error_on_line_3_reports_line_3);
    tcase_add_test(tc, duplicate_key_names_the_first_line);
    tcase_add_test(tc, invalid_escape_is_named);
    tcase_add_test(tc, table_defined_twice);
    tcase_add_test(tc, inline_table_cannot_be_extended);
    tcase_add_test(tc, static_array_cannot_be_appended_to);
    tcase_add_test(tc, int64_limits);
    tcase_add_test(tc, int64_overflow_is_an_error);
    tcase_add_test(tc, get_path_walks_tables);
    tcase_add_test(tc, key_with_nul_via_escape);
    tcase_add_test(tc, crlf_line_endings);
    tcase_add_test(tc, values_and_keys_record_positions);
    tcase_add_test(tc, invalid_utf8_is_located);
    tcase_add_test(tc, nul_byte_in_document_is_rejected);
    tcase_add_test(tc, floats_and_datetimes);
    tcase_add_test(tc, deep_nesting_is_an_error_not_a_crash);
    suite_add_tcase(s, tc);
    return s;
}

/* Run the suite (fork mode, CK_DEFAULT_TIMEOUT from the environment). */
int
main(void)
{
    return check_run_suite(toml_suite());
}
