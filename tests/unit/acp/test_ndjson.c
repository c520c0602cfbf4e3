/* The line framer: split, carry-over across reads, CR stripping, the 64 MiB cap. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#include "acp_fixture.h"

#include "acp/ndjson.h"

struct lines {
    int n;
    char got[8][64];
    size_t total;
};

/* Record a line. */
static int
collect(void *arg, const char *line, size_t len)
{
    struct lines *l = arg;

    if (l->n < 8 && len < 64) {
        memcpy(l->got[l->n], line, len);
        l->got[l->n][len] = '\0';
    }
    l->n++;
    l->total += len;
    return 0;
}

START_TEST(lines_split_across_reads_are_joined)
{
    struct ndjson fr;
    struct lines l = {0};

    ndjson_init(&fr, 0);
    ck_assert_int_eq(ndjson_feed(&fr, "{\"a\":1}\n{\"b\"", 12, collect, &l), 0);
    ck_assert_int_eq(l.n, 1);
    ck_assert_uint_eq(ndjson_pending(&fr), 4);
    ck_assert_int_eq(ndjson_feed(&fr, ":2}\r\n\n\n{\"c\":3}\n", 15, collect, &l), 0);
    ck_assert_int_eq(l.n, 3);
    ck_assert_str_eq(l.got[0], "{\"a\":1}");
    ck_assert_str_eq(l.got[1], "{\"b\":2}");
    ck_assert_str_eq(l.got[2], "{\"c\":3}");
    ck_assert_uint_eq(ndjson_pending(&fr), 0);
    ndjson_free(&fr);
}
END_TEST

START_TEST(byte_at_a_time_feed_gives_same_lines)
{
    const char *in = "one\ntwo\r\nthree\n";
    struct ndjson fr;
    struct lines l = {0};
    size_t i;

    ndjson_init(&fr, 0);
    for (i = 0; i < strlen(in); i++)
        ck_assert_int_eq(ndjson_feed(&fr, in + i, 1, collect, &l), 0);
    ck_assert_int_eq(l.n, 3);
    ck_assert_str_eq(l.got[1], "two");
    ck_assert_str_eq(l.got[2], "three");
    ndjson_free(&fr);
}
END_TEST

START_TEST(line_over_cap_is_protocol_error)
{
    struct ndjson fr;
    struct lines l = {0};
    char buf[64];

    memset(buf, 'x', sizeof(buf));
    ndjson_init(&fr, 16);
    ck_assert_int_eq(ndjson_feed(&fr, buf, 16, collect, &l), 0);
    ck_assert_int_eq(ndjson_feed(&fr, buf, 1, collect, &l), AB_EPROTO);
    ndjson_free(&fr);
    /* The same when the whole line sits in one read. */
    ndjson_init(&fr, 16);
    buf[20] = '\n';
    ck_assert_int_eq(ndjson_feed(&fr, buf, 21, collect, &l), AB_EPROTO);
    ck_assert_int_eq(l.n, 0);
    /* Exactly at the cap is fine. */
    buf[16] = '\n';
    ck_assert_int_eq(ndjson_feed(&fr, buf, 17, collect, &l), 0);
    ck_assert_int_eq(l.n, 1);
    ndjson_free(&fr);
}
END_TEST

START_TEST(default_cap_is_64_mib_and_a_10_mib_line_passes)
{
    size_t big = (size_t)10 << 20;
    char *buf = malloc(big + 1);
    struct ndjson fr;
    struct lines l = {0};

    ck_assert_ptr_nonnull(buf);
    memset(buf, 'y', big);
    buf[big] = '\n';
    ndjson_init(&fr, 0);
    ck_assert_uint_eq(fr.max, (size_t)64 << 20);
    ck_assert_int_eq(ndjson_feed(&fr, buf, big / 3, collect, &l), 0);
    ck_assert_int_eq(ndjson_feed(&fr, buf + big / 3, big + 1 - big / 3, collect, &l), 0);
    ck_assert_int_eq(l.n, 1);
    ck_assert_uint_eq(l.total, big);
    ndjson_free(&fr);
    free(buf);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("acp-ndjson");
    TCase *tc = tcase_create("framing");

    tcase_add_test(tc, lines_split_across_reads_are_joined);
    tcase_add_test(tc, byte_at_a_time_feed_gives_same_lines);
    tcase_add_test(tc, line_over_cap_is_protocol_error);
    tcase_add_test(tc, default_cap_is_64_mib_and_a_10_mib_line_passes);
    suite_add_tcase(s, tc);
    return check_run_suite(s);
}
