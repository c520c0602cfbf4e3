/* chat-slack inbound events (plugins/chat-slack/events.c, slack_socket.c) driven in-process
 * through the real plugin with the fake plugin host: Socket Mode envelopes become
 * deliveries; malformed markup and fields are skipped, never read past their end. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_host.h"
#include "slack_inproc.h"
#include "../unit/support/check_runner.h"

extern const struct ab_plugin_desc ab_plugin;

static struct plugin_host host;
static struct ab_chat *chat;
static struct ab_ws *ws;

/* Hand one frame to the plugin's socket. */
static void
slack_test_frame(const char *text)
{
    plugin_host_ws_message(ws, text, strlen(text));
}

/* Open the plugin, sign in, connect, say hello. */
static void
slack_test_setup(void)
{
    plugin_host_init(&host, slack_inproc_config);
    host.respond = slack_inproc_respond;
    ck_assert_int_eq(ab_plugin.chat->open(plugin_host_handle(&host), &host.svc, &chat), 0);
    ck_assert_int_eq(ab_plugin.chat->start(chat), 0);
    plugin_host_run(&host, 0, 16);
    ws = plugin_host_ws(&host);
    ck_assert_ptr_nonnull(ws);
    plugin_host_ws_open(ws);
    slack_test_frame("{\"type\":\"hello\",\"num_connections\":1}");
    ck_assert(host.connected);
}

static void
slack_test_teardown(void)
{
    plugin_host_run(&host, 0, 2); /* held deliveries complete before close, as the host does */
    ab_plugin.chat->close(chat);
    plugin_host_free(&host);
}

/* Send an events_api envelope whose event is @event (JSON text). */
static void
slack_test_event(const char *event_id, const char *event)
{
    char frame[4096];
    int n = snprintf(frame, sizeof(frame),
                     "{\"envelope_id\":\"env-%s\",\"type\":\"events_api\",\"payload\":"
                     "{\"type\":\"event_callback\",\"event_id\":\"%s\",\"event\":%s}}",
                     event_id, event_id, event);

    ck_assert(n > 0 && (size_t)n < sizeof(frame));
    plugin_host_ws_message(ws, frame, (size_t)n);
}

START_TEST(a_mention_is_delivered_without_the_bot_markup)
{
    slack_test_event("Ev1", "{\"type\":\"app_mention\",\"channel\":\"C1\",\"user\":\"U1\","
                            "\"ts\":\"100.1\",\"text\":\"<@U0BOT|bot> hi &amp; bye\"}");
    ck_assert_uint_eq(host.delivered, 1);
    ck_assert_str_eq(host.in[0].clean_text, "hi & bye");
    ck_assert_str_eq(host.in[0].text, "<@U0BOT|bot> hi & bye");
    ck_assert(host.in[0].mentions_bot);
    /* the envelope is acknowledged once the core says it recorded the message */
    plugin_host_run(&host, 0, 2);
    ck_assert_ptr_nonnull(strstr(host.last_frame, "env-Ev1"));
}
END_TEST

/* The crash: "<@BOTID|" with no closing '>' read past the string, killed the daemon
 * before the ack, and Slack redelivered it after every restart. */
START_TEST(an_unclosed_bot_mention_is_read_to_the_end_only)
{
    slack_test_event("Ev2", "{\"type\":\"app_mention\",\"channel\":\"C1\",\"user\":\"U1\","
                            "\"ts\":\"100.2\",\"text\":\"<@U0BOT|\"}");
    slack_test_event("Ev3", "{\"type\":\"app_mention\",\"channel\":\"C1\",\"user\":\"U1\","
                            "\"ts\":\"100.3\",\"text\":\"hello <@U0BOT|bot and more\"}");
    /* both are delivered (an app_mention is addressed to the bot) and the unclosed
     * markup is not a mention: it stays text, read up to the terminator only */
    ck_assert_uint_eq(host.delivered, 2);
    ck_assert_str_eq(host.in[0].clean_text, "<@U0BOT|");
    ck_assert_str_eq(host.in[1].clean_text, "hello <@U0BOT|bot and more");
}
END_TEST

START_TEST(fields_of_the_wrong_type_are_skipped)
{
    slack_test_event("Ev4", "{\"type\":\"app_mention\",\"channel\":7,\"user\":\"U1\","
                            "\"ts\":\"1.1\",\"text\":\"x\"}");
    slack_test_event("Ev5", "{\"type\":\"message\",\"channel\":\"C1\",\"user\":[],"
                            "\"ts\":\"1.2\",\"text\":{}}");
    slack_test_event("Ev6", "{\"type\":\"reaction_added\",\"user\":\"U1\",\"reaction\":5,"
                            "\"item\":\"x\"}");
    slack_test_event("Ev7", "{\"type\":\"reaction_added\",\"user\":\"U1\",\"reaction\":"
                            "\"eyes::skin-tone-2\",\"item\":{\"type\":\"message\"}}");
    slack_test_event("Ev8", "[1,2]");
    slack_test_frame("{\"type\":\"events_api\",\"envelope_id\":5,\"payload\":7}");
    slack_test_frame("{\"type\":\"disconnect\",\"reason\":9}");
    ck_assert_uint_eq(host.delivered, 0);
    ck_assert_uint_eq(host.reacted, 0);
}
END_TEST

/* An event id is remembered against redelivery: one of megabytes would pin them. */
START_TEST(an_oversized_event_id_is_refused)
{
    char id[200];

    memset(id, 'E', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    slack_test_event(id, "{\"type\":\"app_mention\",\"channel\":\"C1\",\"user\":\"U1\","
                         "\"ts\":\"1.9\",\"text\":\"hi\"}");
    ck_assert_uint_eq(host.delivered, 0);
    ck_assert(plugin_host_log_has(&host, "199-byte event_id ignored"));
}
END_TEST

START_TEST(a_reaction_name_maps_to_unicode)
{
    slack_test_event("Ev9", "{\"type\":\"reaction_added\",\"user\":\"U1\",\"reaction\":"
                            "\"octagonal_sign\",\"item\":{\"type\":\"message\",\"channel\":"
                            "\"C1\",\"ts\":\"100.1\"}}");
    ck_assert_uint_eq(host.reacted, 1);
    ck_assert_str_eq(host.re[0].emoji, "🛑");
    ck_assert_str_eq(host.re[0].message_id, "100.1");
}
END_TEST

/* Signing in and connecting are the plugin's own calls: each is queued through
 * http_scheduled on its method's route, and a 429 on auth.test is waited out (the host
 * sends it again) instead of failing the sign-in. */
START_TEST(sign_in_and_connect_are_scheduled_and_a_429_is_waited_out)
{
    ck_assert_uint_eq(host.sched_count, 2);
    ck_assert_str_eq(host.last_route, "apps.connections.open");
    slack_test_teardown();
    plugin_host_init(&host, slack_inproc_config);
    host.respond = slack_inproc_respond;
    plugin_host_queue_response(&host, 429, "{\"ok\":false,\"error\":\"ratelimited\"}", 34);
    ck_assert_int_eq(ab_plugin.chat->open(plugin_host_handle(&host), &host.svc, &chat), 0);
    ck_assert_int_eq(ab_plugin.chat->start(chat), 0);
    plugin_host_run(&host, 0, 16);
    ck_assert_str_eq(host.last_route, "auth.test");
    ck_assert_uint_eq(host.sched_retries, 1);
    ck_assert_uint_ge(host.sched_facts, 1);    /* the 429's facts, tied to the call */
    ck_assert_ptr_null(plugin_host_ws(&host)); /* not signed in yet: waiting, not failed */
    plugin_host_run(&host, 1500, 32);
    ck_assert_uint_eq(host.sched_count, 2);
    ck_assert_str_eq(host.last_route, "apps.connections.open");
    ck_assert_ptr_nonnull(plugin_host_ws(&host));
}
END_TEST

/* Slash commands and button clicks are untrusted: malformed ones (or a response_url on
 * a host that is neither Slack's hooks nor api_base's) are skipped; a good command
 * reaches the core with its name and argument, a click as the clicker's reaction. */
START_TEST(slash_commands_and_clicks_are_parsed_and_malformed_ones_skipped)
{
    slack_test_frame("{\"envelope_id\":\"e1\",\"type\":\"slash_commands\",\"payload\":{"
                     "\"command\":\"/agent-broker\",\"text\":\"status\",\"user_id\":\"U1\","
                     "\"channel_id\":\"C1\",\"response_url\":\"https://evil.example/x\"}}");
    slack_test_frame("{\"envelope_id\":\"e2\",\"type\":\"slash_commands\",\"payload\":7}");
    slack_test_frame("{\"envelope_id\":\"e3\",\"type\":\"interactive\",\"payload\":{"
                     "\"type\":\"block_actions\",\"user\":{\"id\":\"U1\"},\"actions\":\"no\"}}");
    ck_assert_uint_eq(host.commands, 0);
    ck_assert_uint_eq(host.reacted, 0);
    slack_test_frame("{\"envelope_id\":\"e4\",\"type\":\"slash_commands\",\"payload\":{"
                     "\"command\":\"/agent-broker\",\"text\":\" model  smart \",\"user_id\":\"U1\","
                     "\"channel_id\":\"C1\",\"response_url\":"
                     "\"https://hooks.slack.com/commands/T1/1/x\"}}");
    ck_assert_uint_eq(host.commands, 1);
    ck_assert_str_eq(host.last_command, "model");
    ck_assert_str_eq(host.last_command_arg, "smart ");
    slack_test_frame(
        "{\"envelope_id\":\"e5\",\"type\":\"interactive\",\"payload\":{"
        "\"type\":\"block_actions\",\"user\":{\"id\":\"U2\"},\"container\":{"
        "\"message_ts\":\"5.5\",\"channel_id\":\"C1\"},\"actions\":[{\"action_id\":"
        "\"ab-choice-2\",\"value\":\"\u274c\"},{\"action_id\":\"theirs\",\"value\":\"x\"}]}}");
    ck_assert_uint_eq(host.reacted, 1);
    ck_assert_str_eq(host.re[0].emoji, "\u274c");
    ck_assert_str_eq(host.re[0].message_id, "5.5");
}
END_TEST

int
main(void)
{
    TCase *tc = tcase_create("slack-events");

    tcase_add_checked_fixture(tc, slack_test_setup, slack_test_teardown);
    tcase_add_test(tc, a_mention_is_delivered_without_the_bot_markup);
    tcase_add_test(tc, an_unclosed_bot_mention_is_read_to_the_end_only);
    tcase_add_test(tc, fields_of_the_wrong_type_are_skipped);
    tcase_add_test(tc, an_oversized_event_id_is_refused);
    tcase_add_test(tc, a_reaction_name_maps_to_unicode);
    tcase_add_test(tc, sign_in_and_connect_are_scheduled_and_a_429_is_waited_out);
    tcase_add_test(tc, slash_commands_and_clicks_are_parsed_and_malformed_ones_skipped);
    return check_run_case("slack-events", tc);
}
