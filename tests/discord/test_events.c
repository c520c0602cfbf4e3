/* chat-discord inbound payloads (gateway.c, events.c, rest.c) driven in-process
 * through the real plugin with the fake plugin host: dispatches become deliveries,
 * and numbers from Discord that fit no integer (NaN-free JSON can still say 1e300)
 * are rejected instead of cast. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_host.h"
#include "../unit/support/check_runner.h"

extern const struct ab_plugin_desc ab_plugin;

static const char *const discord_test_config[] = {
    "bot_token",   "test-token",
    "api_base",    "http://127.0.0.1:9/api/v10",
    "gateway_url", "ws://127.0.0.1:9/gateway",
    NULL,
};

static struct plugin_host host;
static struct ab_chat *chat;
static struct ab_ws *ws;
static int lookups_429; /* GET /channels answers 429 this many times first */
static const char *retry_body = "{\"message\":\"You are being rate limited.\","
                                "\"retry_after\":1e300,\"global\":false}";

/* GET /channels/{id}: a guild text channel, after the 429s asked for. */
static bool
discord_test_respond(void *arg, const char *method, const char *url, const char *body, long *status,
                     const char **resp, const char *const **headers)
{
    (void)arg, (void)method, (void)body, (void)headers;
    if (strstr(url, "/channels/") && lookups_429 > 0) {
        lookups_429--;
        *status = 429;
        *resp = retry_body;
        return true;
    }
    *status = 200;
    *resp = strstr(url, "/channels/555")
                ? "{\"id\":\"555\",\"type\":0,\"guild_id\":\"9\",\"parent_id\":\"1\"}"
                : "{}";
    return true;
}

/* Hand one gateway frame to the plugin. */
static void
discord_test_frame(const char *text)
{
    plugin_host_ws_message(ws, text, strlen(text));
}

/* Open, connect, Hello, READY, ACK: the gateway session is up. */
static void
discord_test_setup(void)
{
    plugin_host_init(&host, discord_test_config);
    host.respond = discord_test_respond;
    lookups_429 = 0;
    ck_assert_int_eq(ab_plugin.chat->open(plugin_host_handle(&host), &host.svc, &chat), 0);
    ck_assert_int_eq(ab_plugin.chat->start(chat), 0);
    ws = plugin_host_ws(&host);
    ck_assert_ptr_nonnull(ws);
    plugin_host_ws_open(ws);
    discord_test_frame("{\"op\":10,\"d\":{\"heartbeat_interval\":41250}}");
    ck_assert_ptr_nonnull(strstr(host.last_frame, "\"op\":2"));
    discord_test_frame("{\"op\":0,\"t\":\"READY\",\"s\":1,\"d\":{\"v\":10,\"session_id\":\"s1\","
                       "\"resume_gateway_url\":\"ws://127.0.0.1:9/resume\","
                       "\"user\":{\"id\":\"100\",\"username\":\"bot\",\"bot\":true}}}");
    discord_test_frame("{\"op\":11,\"d\":null}");
    ck_assert(host.connected);
}

static void
discord_test_teardown(void)
{
    plugin_host_run(&host, 0, 2); /* held deliveries complete before close, as the host does */
    ab_plugin.chat->close(chat);
    plugin_host_free(&host);
}

START_TEST(a_message_create_in_a_dm_is_delivered)
{
    discord_test_frame("{\"op\":0,\"t\":\"MESSAGE_CREATE\",\"s\":2,\"d\":{\"id\":\"7\","
                       "\"channel_id\":\"8\",\"type\":0,\"content\":\"<@100> hello\","
                       "\"author\":{\"id\":\"200\",\"username\":\"ann\"},"
                       "\"mentions\":[{\"id\":\"100\"},5,\"x\",[]],\"mention_roles\":[1,\"2\"]}}");
    ck_assert_uint_eq(host.delivered, 1);
    ck_assert_str_eq(host.in[0].clean_text, "hello");
    ck_assert(host.in[0].mentions_bot);
    ck_assert(host.in[0].is_dm);
    ck_assert_uint_eq(host.in[0].role_count, 1);
}
END_TEST

START_TEST(payload_fields_of_the_wrong_type_are_skipped)
{
    discord_test_frame("{\"op\":0,\"t\":\"MESSAGE_CREATE\",\"d\":{\"id\":7,\"channel_id\":\"8\","
                       "\"author\":{\"id\":\"200\"}}}");
    discord_test_frame("{\"op\":0,\"t\":\"MESSAGE_CREATE\",\"d\":[]}");
    discord_test_frame("{\"op\":0,\"t\":\"MESSAGE_REACTION_ADD\",\"d\":{\"user_id\":\"1\","
                       "\"channel_id\":\"8\",\"message_id\":\"7\",\"emoji\":\"x\"}}");
    discord_test_frame("{\"op\":0,\"t\":\"THREAD_LIST_SYNC\",\"d\":{\"threads\":\"no\"}}");
    discord_test_frame("{\"op\":0,\"t\":\"THREAD_CREATE\",\"d\":{\"id\":[\"1\"]}}");
    discord_test_frame("{\"op\":0,\"t\":5,\"d\":{}}");
    discord_test_frame("{\"op\":\"0\"}");
    discord_test_frame("[]");
    discord_test_frame("{\"op\":99}");
    ck_assert_uint_eq(host.delivered, 0);
    ck_assert_uint_eq(host.reacted, 0);
    ck_assert(host.connected);
}
END_TEST

/* Interactions are untrusted too: malformed ones are skipped, a command reaches the core
 * with its name, argument and a reply token that is the interaction id (never the token),
 * and a click on a choice button becomes the clicker's reaction. */
START_TEST(interactions_are_parsed_and_malformed_ones_skipped)
{
    discord_test_frame("{\"op\":0,\"t\":\"INTERACTION_CREATE\",\"d\":{\"type\":2}}");
    discord_test_frame("{\"op\":0,\"t\":\"INTERACTION_CREATE\",\"d\":{\"id\":\"1\",\"type\":2,"
                       "\"token\":\"a/b\",\"application_id\":\"9\",\"data\":{\"name\":\"x\"}}}");
    discord_test_frame("{\"op\":0,\"t\":\"INTERACTION_CREATE\",\"d\":{\"id\":\"1\",\"type\":3,"
                       "\"token\":\"t\",\"data\":{\"custom_id\":\"other\"},\"channel_id\":\"8\"}}");
    discord_test_frame("{\"op\":0,\"t\":\"INTERACTION_CREATE\",\"d\":\"no\"}");
    ck_assert_uint_eq(host.commands, 0);
    ck_assert_uint_eq(host.reacted, 0);
    discord_test_frame("{\"op\":0,\"t\":\"INTERACTION_CREATE\",\"d\":{\"id\":\"42\",\"type\":2,"
                       "\"token\":\"secret-token\",\"application_id\":\"9\",\"channel_id\":\"8\","
                       "\"guild_id\":\"3\",\"member\":{\"user\":{\"id\":\"200\"}},"
                       "\"data\":{\"name\":\"model\",\"options\":[{\"name\":\"name\",\"type\":3,"
                       "\"value\":\"smart\"}]}}}");
    ck_assert_uint_eq(host.commands, 1);
    ck_assert_str_eq(host.last_command, "model");
    ck_assert_str_eq(host.last_command_arg, "smart");
    ck_assert_str_eq(host.last_reply_token, "42");
    discord_test_frame("{\"op\":0,\"t\":\"INTERACTION_CREATE\",\"d\":{\"id\":\"43\",\"type\":3,"
                       "\"token\":\"t2\",\"application_id\":\"9\",\"channel_id\":\"8\","
                       "\"member\":{\"user\":{\"id\":\"200\"}},\"message\":{\"id\":\"77\"},"
                       "\"data\":{\"custom_id\":\"ab-choice:\u2705\",\"component_type\":2}}}");
    ck_assert_uint_eq(host.reacted, 1);
    ck_assert_str_eq(host.re[0].emoji, "\u2705");
    ck_assert_str_eq(host.re[0].message_id, "77");
}
END_TEST

/* A sequence number no integer holds is ignored: the heartbeat keeps the last good one. */
START_TEST(an_out_of_range_sequence_is_ignored)
{
    discord_test_frame("{\"op\":0,\"t\":\"TYPING_START\",\"s\":5,\"d\":{}}");
    discord_test_frame("{\"op\":0,\"t\":\"TYPING_START\",\"s\":1e300,\"d\":{}}");
    discord_test_frame("{\"op\":0,\"t\":\"TYPING_START\",\"s\":-1e300,\"d\":{}}");
    discord_test_frame("{\"op\":1,\"d\":null}"); /* Discord asks for a heartbeat now */
    ck_assert_str_eq(host.last_frame, "{\"op\":1,\"d\":5}");
}
END_TEST

/* A Hello whose interval fits no timer: reconnect instead of a heartbeat of 2^63 ms. */
START_TEST(an_out_of_range_heartbeat_interval_drops_the_connection)
{
    plugin_host_run(&host, 0, 2); /* held deliveries complete before close, as the host does */
    ab_plugin.chat->close(chat);
    plugin_host_free(&host);
    plugin_host_init(&host, discord_test_config);
    ck_assert_int_eq(ab_plugin.chat->open(plugin_host_handle(&host), &host.svc, &chat), 0);
    ck_assert_int_eq(ab_plugin.chat->start(chat), 0);
    ws = plugin_host_ws(&host);
    plugin_host_ws_open(ws);
    discord_test_frame("{\"op\":10,\"d\":{\"heartbeat_interval\":1e300}}");
    ck_assert(ws->is_closing);
    ck_assert_int_eq(ws->close_code, 4000);
    ck_assert_uint_eq(host.sent_frames, 0); /* no Identify on a bad Hello */
}
END_TEST

/* A 429 saying retry_after 1e300: the wait is not believed (the route would be shut
 * for ever, or the cast undefined). The lookup is the plugin's own call: it goes through
 * http_scheduled on its route, its answer's facts are reported tied to it, and the host
 * sends it again after the wait (the fake's default, the 1e300 not believed); the
 * message then arrives resolved. */
START_TEST(a_429_with_an_absurd_retry_after_waits_the_default)
{
    lookups_429 = 1;
    discord_test_frame("{\"op\":0,\"t\":\"MESSAGE_CREATE\",\"s\":2,\"d\":{\"id\":\"7\","
                       "\"channel_id\":\"555\",\"guild_id\":\"9\",\"type\":0,\"content\":\"hi\","
                       "\"author\":{\"id\":\"200\",\"username\":\"ann\"}}}");
    plugin_host_run(&host, 0, 8); /* the lookup goes out and gets its 429 */
    ck_assert_int_eq(lookups_429, 0);
    ck_assert(plugin_host_log_has(&host, "retry_after 1e+300 s is out of range"));
    ck_assert_uint_eq(host.sched_count, 1);
    ck_assert_str_eq(host.last_route, "GET /channels/555");
    ck_assert_uint_ge(host.sched_facts, 1);          /* the 429's facts, tied to the call */
    ck_assert_uint_eq(host.sched_retry_after_ms, 0); /* 1e300 not believed, no header */
    ck_assert_uint_eq(host.sched_retries, 1);
    ck_assert_uint_eq(host.delivered, 0); /* waiting for the retry, not given up */
    plugin_host_run(&host, 2000, 32);
    ck_assert_uint_eq(host.delivered, 1);
    ck_assert(!host.in[0].is_unresolved);
    ck_assert_str_eq(host.in[0].message_id, "7");
    /* the route is usable again: a second message is looked up and delivered */
    discord_test_frame("{\"op\":0,\"t\":\"MESSAGE_CREATE\",\"s\":3,\"d\":{\"id\":\"8\","
                       "\"channel_id\":\"555\",\"guild_id\":\"9\",\"type\":0,\"content\":\"hi\","
                       "\"author\":{\"id\":\"200\",\"username\":\"ann\"}}}");
    plugin_host_run(&host, 2000, 32);
    ck_assert_uint_eq(host.delivered, 2);
    ck_assert_str_eq(host.in[1].message_id, "8");
    ck_assert(!host.in[1].is_unresolved);
}
END_TEST

int
main(void)
{
    TCase *tc = tcase_create("discord-events");

    tcase_add_checked_fixture(tc, discord_test_setup, discord_test_teardown);
    tcase_add_test(tc, a_message_create_in_a_dm_is_delivered);
    tcase_add_test(tc, payload_fields_of_the_wrong_type_are_skipped);
    tcase_add_test(tc, an_out_of_range_sequence_is_ignored);
    tcase_add_test(tc, interactions_are_parsed_and_malformed_ones_skipped);
    tcase_add_test(tc, an_out_of_range_heartbeat_interval_drops_the_connection);
    tcase_add_test(tc, a_429_with_an_absurd_retry_after_waits_the_default);
    return check_run_case("discord-events", tc);
}
