/* Listen addresses and HTTP request heads, parsed without any socket. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#include "health/health_addr.h"
#include "health/health_request.h"
#include "health_fixture.h"

START_TEST(listen_addresses_parse_v4_v6_and_localhost)
{
    struct sockaddr_storage ss;
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    char shown[HEALTH_ADDR_MAX];

    ck_assert_int_eq(health_addr_parse("0.0.0.0:9464", &ss), 0);
    ck_assert_int_eq(ss.ss_family, AF_INET);
    ck_assert_int_eq(ntohs(in->sin_port), 9464);
    ck_assert_uint_eq(in->sin_addr.s_addr, htonl(INADDR_ANY));
    ck_assert_int_eq(health_addr_parse("localhost:1", &ss), 0);
    ck_assert_uint_eq(in->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    ck_assert_int_eq(health_addr_parse("[::]:65535", &ss), 0);
    ck_assert_int_eq(ss.ss_family, AF_INET6);
    ck_assert_int_eq(ntohs(in6->sin6_port), 65535);
    ck_assert_int_eq(health_addr_format((struct sockaddr *)&ss, shown, sizeof shown), 0);
    ck_assert_str_eq(shown, "[::]:65535");
    ck_assert_int_eq(health_addr_parse("[::ffff:127.0.0.1]:0", &ss), 0);
    ck_assert_int_eq(health_addr_format((struct sockaddr *)&ss, shown, 4), -ENOBUFS);
}
END_TEST

START_TEST(listen_addresses_reject_the_rest)
{
    static const char *const bad[] = {
        "",        ":9464",         "127.0.0.1",     "127.0.0.1:", "127.0.0.1:65536",
        "[::1]",   "[::1]:",        "[::1]9464",     "::1:9464",   "[127.0.0.1]:80",
        "host:80", "127.0.0.1:+80", "127.0.0.1: 80", "1.2.3:4",    "127.0.0.1:000009464",
    };
    struct sockaddr_storage ss;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(health_addr_parse(bad[i], &ss) == AB_EINVAL, "accepted \"%s\"", bad[i]);
    ck_assert_int_eq(health_addr_parse(NULL, &ss), AB_EINVAL);
}
END_TEST

START_TEST(head_end_needs_the_empty_line)
{
    static const char full[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY";
    static const char lf[] = "GET / HTTP/1.0\n\nBODY";

    ck_assert_uint_eq(health_request_head_end(full, strlen(full)), strlen(full) - 4);
    ck_assert_uint_eq(health_request_head_end(full, strlen(full) - 5), 0);
    ck_assert_uint_eq(health_request_head_end(full, strlen(full) - 6), 0);
    ck_assert_uint_eq(health_request_head_end(lf, strlen(lf)), strlen(lf) - 4);
    ck_assert_uint_eq(health_request_head_end("", 0), 0);
}
END_TEST

START_TEST(request_line_gives_method_path_and_version)
{
    static const char head[] = "\r\nHEAD /metrics?x=1&y HTTP/1.1\r\nHOST: a\r\nAccept: */*\r\n\r\n";
    static const char bare[] = "GET /readyz HTTP/1.0\n\n";
    struct health_request req;

    ck_assert_int_eq(health_request_parse(head, strlen(head), &req), 0);
    ck_assert_str_eq(req.method, "HEAD");
    ck_assert_str_eq(req.path, "/metrics");
    ck_assert_int_eq(req.minor, 1);
    ck_assert_int_eq(health_request_parse(bare, strlen(bare), &req), 0);
    ck_assert_str_eq(req.method, "GET");
    ck_assert_str_eq(req.path, "/readyz");
    ck_assert_int_eq(req.minor, 0);
}
END_TEST

START_TEST(a_long_path_is_cut_not_overflowed)
{
    char head[2048];
    struct health_request req;
    size_t n = 0;

    n += (size_t)snprintf(head, sizeof head, "GET /");
    memset(head + n, 'p', 1000);
    n += 1000;
    n += (size_t)snprintf(head + n, sizeof head - n, " HTTP/1.1\r\nHost: x\r\n\r\n");
    ck_assert_int_eq(health_request_parse(head, n, &req), 0);
    ck_assert_uint_eq(strlen(req.path), HEALTH_REQUEST_PATH_MAX - 1);
}
END_TEST

START_TEST(malformed_heads_are_protocol_errors)
{
    static const char *const bad[] = {
        "\r\n\r\n",
        "GET\r\n\r\n",
        "GET /\r\n\r\n",
        "GET / HTTP/1.1 \r\nHost: x\r\n\r\n",
        "GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET / HTTP/1.2\r\nHost: x\r\n\r\n",
        "GET / http/1.1\r\nHost: x\r\n\r\n",
        "AVERYVERYLONGMETHOD / HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET * HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET http://x/healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
        "GET / HTTP/1.1\r\n: x\r\nHost: x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\n\tfolded\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\x7f\r\n\r\n",
        "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n",
    };
    struct health_request req;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(health_request_parse(bad[i], strlen(bad[i]), &req) == AB_EPROTO,
                      "accepted case %zu", i);
}
END_TEST

int
main(void)
{
    const TTest *const tests[] = {
        listen_addresses_parse_v4_v6_and_localhost,
        listen_addresses_reject_the_rest,
        head_end_needs_the_empty_line,
        request_line_gives_method_path_and_version,
        a_long_path_is_cut_not_overflowed,
        malformed_heads_are_protocol_errors,
    };

    return fixture_main("health_parse", tests, sizeof tests / sizeof tests[0]);
}
