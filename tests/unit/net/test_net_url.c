/* URL parsing where lws_parse_uri() goes wrong, and the loopback-only rule. */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include <agent-broker/errors.h>

#include "net/net_url.h"
#include "net_fixture.h"

static const struct {
    const char *url;
    const char *host;
    int port;
    const char *path;
    bool is_tls;
} good[] = {
    /* lws returns path "?v=10&encoding=json" here: the '/' must stay */
    {"wss://gateway.discord.gg/?v=10&encoding=json", "gateway.discord.gg", 443,
     "/?v=10&encoding=json", true},
    {"wss://wss-primary.slack.com/link/?ticket=abc&app_id=A1", "wss-primary.slack.com", 443,
     "/link/?ticket=abc&app_id=A1", true},
    {"ws://127.0.0.1:9000", "127.0.0.1", 9000, "/", false},
    /* lws takes "h?v=10" for the host here */
    {"wss://h?v=10", "h", 443, "/?v=10", true},
    {"ws://[::1]:8080/x", "::1", 8080, "/x", false},
    {"https://Discord.COM/api/v10/channels/1#frag", "discord.com", 443, "/api/v10/channels/1",
     true},
    {"http://localhost", "localhost", 80, "/", false},
    {"HTTP://localhost:1/a?b=c", "localhost", 1, "/a?b=c", false},
};

START_TEST(parse_fixes_the_lws_quirks)
{
    struct net_url u;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ck_assert_msg(net_url_parse(good[i].url, &u) == 0, "%s", good[i].url);
        ck_assert_str_eq(u.host, good[i].host);
        ck_assert_int_eq(u.port, good[i].port);
        ck_assert_str_eq(u.path, good[i].path);
        ck_assert_int_eq(u.is_tls, good[i].is_tls);
    }
}
END_TEST

START_TEST(parse_rejects_malformed_urls)
{
    static const char *const bad[] = {
        "ftp://x/",           "wss://",
        "wss:///path",        "ws://host:0/",
        "ws://host:65536/",   "ws://host:/",
        "ws://host:12a/",     "ws://user:pw@host/",
        "ws://ho st/",        "ws://host/a b",
        "ws://[::1/",         "ws://[::1]x/",
        "gateway.discord.gg", "",
        "ws://host/\r\nX: y",
    };
    struct net_url u;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(net_url_parse(bad[i], &u) == AB_EINVAL, "accepted %s", bad[i]);
    ck_assert_int_eq(net_url_parse(NULL, &u), AB_EINVAL);
}
END_TEST

START_TEST(plain_text_only_to_loopback_unless_insecure)
{
    struct net_url u;

    ck_assert(net_url_is_loopback("localhost"));
    ck_assert(net_url_is_loopback("127.0.0.1"));
    ck_assert(net_url_is_loopback("127.1.2.3"));
    ck_assert(net_url_is_loopback("::1"));
    ck_assert(net_url_is_loopback("::ffff:127.0.0.1"));
    ck_assert(!net_url_is_loopback("128.0.0.1"));
    ck_assert(!net_url_is_loopback("localhost.example.com"));
    ck_assert(!net_url_is_loopback("10.0.0.1"));

    ck_assert_int_eq(net_url_parse("ws://gateway.discord.gg/", &u), 0);
    ck_assert_int_eq(net_url_check(&u, false), AB_ECONFIG);
    ck_assert_int_eq(net_url_check(&u, true), 0);
    ck_assert_int_eq(net_url_parse("http://10.0.0.1:8080/", &u), 0);
    ck_assert_int_eq(net_url_check(&u, false), AB_ECONFIG);
    ck_assert_int_eq(net_url_parse("wss://gateway.discord.gg/", &u), 0);
    ck_assert_int_eq(net_url_check(&u, false), 0);
    ck_assert_int_eq(net_url_parse("http://127.0.0.1:1/", &u), 0);
    ck_assert_int_eq(net_url_check(&u, false), 0);
}
END_TEST

int
main(void)
{
    const TTest *const tests[] = {
        parse_fixes_the_lws_quirks,
        parse_rejects_malformed_urls,
        plain_text_only_to_loopback_unless_insecure,
    };

    return check_run_tests("net_url", 30, tests, sizeof(tests) / sizeof(tests[0]));
}
