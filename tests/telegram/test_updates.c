/* chat-telegram inbound (plugins/chat-telegram/poll.c, updates.c) driven in-process
 * through the real plugin with the fake plugin host: getUpdates batches become
 * deliveries; the offset is saved only once the core holds the update and the next poll
 * carries it; mentions are found by UTF-16 entity offsets; the topic-creation reply is
 * no reply to the bot; commands for other bots and malformed updates are skipped. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_host.h"
#include "../unit/support/check_runner.h"
#include "telegram.h"

extern const struct ab_plugin_desc ab_plugin;

static const char *const tg_config[] = {
    "bot_token",
    "999:AAtesttesttesttesttesttesttesttest",
    "api_base",
    "http://127.0.0.1:9",
    "poll_timeout_s",
    "30",
    NULL,
};

static struct plugin_host host;
static struct ab_chat *chat;
static const char *batch;    /* the next getUpdates answer's result, or NULL: no answer */
static bool conflict;        /* getUpdates answers 409 */
static char last_poll[2048]; /* the body of the last getUpdates request */
static int polls;

/* getMe signs in; getUpdates hands out @batch once, then stays unanswered. */
static bool
tg_respond(void *arg, const char *method, const char *url, const char *body, long *status,
           const char **resp, const char *const **headers)
{
    static char buf[65536];

    (void)arg, (void)method, (void)headers;
    *status = 200;
    if (strstr(url, "/getMe")) {
        *resp = "{\"ok\":true,\"result\":{\"id\":999,\"is_bot\":true,\"first_name\":\"B\","
                "\"username\":\"broker_bot\",\"can_read_all_group_messages\":true}}";
        return true;
    }
    if (strstr(url, "/getUpdates")) {
        polls++;
        snprintf(last_poll, sizeof(last_poll), "%s", body ? body : "");
        if (conflict) {
            *status = 409;
            *resp = "{\"ok\":false,\"error_code\":409,\"description\":\"Conflict: terminated by "
                    "other getUpdates request; make sure that only one bot instance is running\"}";
            return true;
        }
        if (!batch)
            return false;
        snprintf(buf, sizeof(buf), "{\"ok\":true,\"result\":%s}", batch);
        batch = NULL;
        *resp = buf;
        return true;
    }
    *resp = "{\"ok\":true,\"result\":true}";
    return true;
}

static void
tg_setup(void)
{
    plugin_host_init(&host, tg_config);
    host.respond = tg_respond;
    batch = NULL;
    polls = 0;
    ck_assert_int_eq(ab_plugin.chat->open(plugin_host_handle(&host), &host.svc, &chat), 0);
    ck_assert_int_eq(ab_plugin.chat->start(chat), 0);
    plugin_host_run(&host, 0, 8);
    ck_assert(host.connected);
    ck_assert_int_eq(polls, 1);
}

static void
tg_teardown(void)
{
    plugin_host_run(&host, 0, 4);
    ab_plugin.chat->close(chat);
    plugin_host_free(&host);
}

START_TEST(utf16_counts_astral_characters_twice)
{
    const char *s = "a\xF0\x9F\x98\x80"
                    "b"; /* a😀b */

    ck_assert_uint_eq(tg_utf16_len(s, strlen(s)), 4);
    ck_assert_uint_eq(tg_utf16_to_byte(s, strlen(s), 1), 1);
    ck_assert_uint_eq(tg_utf16_to_byte(s, strlen(s), 3), 5);
    ck_assert_uint_eq(tg_utf16_to_byte(s, strlen(s), 9), strlen(s));
    ck_assert_uint_eq(tg_utf16_len("\xC3", 1), 1); /* a cut sequence counts one */
}
END_TEST

/* Answer the first poll with @result and run until the next poll is out. */
static void
tg_poll_answer(const char *result)
{
    char body[65536];

    snprintf(body, sizeof(body), "{\"ok\":true,\"result\":%s}", result);
    plugin_host_queue_response(&host, 200, body, strlen(body));
}

START_TEST(offset_is_saved_after_the_core_holds_the_update_and_sent_next)
{
    tg_teardown();
    /* a fresh host whose first poll is answered by the queue */
    plugin_host_init(&host, tg_config);
    host.respond = tg_respond;
    polls = 0;
    ck_assert_int_eq(ab_plugin.chat->open(plugin_host_handle(&host), &host.svc, &chat), 0);
    ck_assert_int_eq(ab_plugin.chat->start(chat), 0);
    plugin_host_run(&host, 0, 1); /* getMe answered; the poll is out */
    batch = "[{\"update_id\":500,\"message\":{\"message_id\":5,\"chat\":{\"id\":-42,"
            "\"type\":\"group\"},\"from\":{\"id\":7,\"first_name\":\"A\"},\"text\":\"hello\"}}]";
    plugin_host_run(&host, 0, 1); /* the poll answered: delivered, held */
    ck_assert_uint_eq(host.delivered, 1);
    ck_assert(!host.state_key || strcmp(host.state_key, "offset") != 0);
    ck_assert_int_eq(polls, 1);   /* no new poll yet: it would confirm the update */
    plugin_host_run(&host, 0, 4); /* the core's record completes */
    ck_assert_str_eq(host.state_key, "offset");
    ck_assert_str_eq(host.state_value, "501");
    ck_assert_int_eq(polls, 2);
    ck_assert_ptr_nonnull(strstr(last_poll, "\"offset\":501"));
    ck_assert_ptr_nonnull(strstr(last_poll, "\"allowed_updates\":[\"message\""));
    /* the same update again (a server that did not see the confirmation): dropped */
    tg_poll_answer("[{\"update_id\":500,\"message\":{\"message_id\":5,\"chat\":{\"id\":-42,"
                   "\"type\":\"group\"},\"from\":{\"id\":7,\"first_name\":\"A\"},"
                   "\"text\":\"hello\"}}]");
    plugin_host_run(&host, 0, 4);
    ck_assert_uint_eq(host.delivered, 1);
}
END_TEST

/* Open a fresh instance whose first poll brings @result; run until delivered. */
static void
tg_one_batch(const char *result)
{
    tg_teardown();
    plugin_host_init(&host, tg_config);
    host.respond = tg_respond;
    polls = 0;
    batch = result;
    ck_assert_int_eq(ab_plugin.chat->open(plugin_host_handle(&host), &host.svc, &chat), 0);
    ck_assert_int_eq(ab_plugin.chat->start(chat), 0);
    plugin_host_run(&host, 0, 8);
}

START_TEST(mention_after_an_emoji_is_found_by_utf16_offset_and_removed)
{
    /* "😀 @broker_bot hi": the mention starts at UTF-16 offset 3 (byte 5) */
    tg_one_batch("[{\"update_id\":1,\"message\":{\"message_id\":9,\"chat\":{\"id\":-5,\"type\":"
                 "\"group\"},\"from\":{\"id\":7,\"first_name\":\"A\",\"username\":\"al\"},"
                 "\"text\":\"\xF0\x9F\x98\x80 @Broker_Bot hi\",\"entities\":[{\"type\":"
                 "\"mention\",\"offset\":3,\"length\":11}]}}]");
    ck_assert_uint_eq(host.delivered, 1);
    ck_assert(host.in[0].mentions_bot);
    ck_assert_str_eq(host.in[0].clean_text, "\xF0\x9F\x98\x80 hi");
    ck_assert_str_eq(host.in[0].conversation, "-5:9");
    ck_assert_str_eq(host.in[0].thread_id, "9");
    ck_assert_str_eq(host.in[0].event_id, "-5:9");
    ck_assert_str_eq(host.in[0].sender_name, "al");
    ck_assert(!host.in[0].is_thread);
}
END_TEST

START_TEST(topic_creation_reply_is_no_reply_to_the_bot)
{
    /* a topic the bot made: every message there replies to its service message */
    tg_one_batch("[{\"update_id\":1,\"message\":{\"message_id\":30,\"message_thread_id\":20,"
                 "\"is_topic_message\":true,\"chat\":{\"id\":-100,\"type\":\"supergroup\","
                 "\"is_forum\":true},\"from\":{\"id\":7,\"first_name\":\"A\"},\"text\":\"chat\","
                 "\"reply_to_message\":{\"message_id\":20,\"from\":{\"id\":999,\"is_bot\":true,"
                 "\"first_name\":\"B\"},\"chat\":{\"id\":-100,\"type\":\"supergroup\"},"
                 "\"forum_topic_created\":{\"name\":\"t\",\"icon_color\":1}}}}]");
    ck_assert_uint_eq(host.delivered, 1);
    ck_assert(!host.in[0].mentions_bot);
    ck_assert(host.in[0].is_thread);
    ck_assert_str_eq(host.in[0].thread_id, "t20");
    ck_assert_str_eq(host.in[0].conversation, "-100/t20");
    ck_assert_str_eq(host.in[0].parent_id, "-100");
}
END_TEST

START_TEST(reply_to_the_bot_joins_its_chain)
{
    tg_one_batch(
        "[{\"update_id\":1,\"message\":{\"message_id\":31,\"chat\":{\"id\":-5,\"type\":"
        "\"group\"},\"from\":{\"id\":7,\"first_name\":\"A\"},\"text\":\"more\","
        "\"reply_to_message\":{\"message_id\":12,\"from\":{\"id\":999,\"is_bot\":true,"
        "\"first_name\":\"B\"},\"chat\":{\"id\":-5,\"type\":\"group\"},\"text\":\"x\"}}}]");
    ck_assert_uint_eq(host.delivered, 1);
    ck_assert(host.in[0].mentions_bot);
    ck_assert(host.in[0].is_thread);
    ck_assert(host.in[0].thread_is_ours);
    ck_assert_str_eq(host.in[0].conversation, "-5:12");
    /* a reply to that reply stays in the chain */
    ab_plugin.chat->close(chat);
    chat = NULL;
    plugin_host_free(&host);
    plugin_host_init(&host, tg_config);
    host.respond = tg_respond;
    ck_assert_int_eq(ab_plugin.chat->open(plugin_host_handle(&host), &host.svc, &chat), 0);
    tg_thread_remember(chat, -5, 31, 12);
    ck_assert_int_eq(tg_thread_root(chat, -5, 31), 12);
    ck_assert_int_eq(tg_thread_root(chat, -6, 31), 0);
}
END_TEST

START_TEST(commands_for_other_bots_private_chats_and_malformed_updates)
{
    tg_one_batch(
        "[{\"update_id\":1,\"message\":{\"message_id\":1,\"chat\":{\"id\":-5,\"type\":\"group\"},"
        "\"from\":{\"id\":7},\"text\":\"/start@other_bot x\",\"entities\":[{\"type\":"
        "\"bot_command\",\"offset\":0,\"length\":16}]}},"
        "{\"update_id\":\"2\"},{\"update_id\":3,\"message\":{\"message_id\":\"x\"}},"
        "{\"update_id\":4,\"message\":{\"message_id\":2,\"chat\":{\"id\":1e300,\"type\":\"group\"},"
        "\"from\":{\"id\":7},\"text\":\"x\"}},"
        "{\"update_id\":5,\"message\":{\"message_id\":3,\"chat\":{\"id\":-5,\"type\":\"group\"},"
        "\"from\":{\"id\":7},\"text\":\"@broker_bot\",\"entities\":[{\"type\":\"mention\","
        "\"offset\":-4,\"length\":99999}]}},"
        "{\"update_id\":6,\"message\":{\"message_id\":4,\"chat\":{\"id\":7,\"type\":\"private\"},"
        "\"from\":{\"id\":7,\"first_name\":\"A\"},\"text\":\"/start@broker_bot go\","
        "\"entities\":[{\"type\":\"bot_command\",\"offset\":0,\"length\":17}]}},"
        "{\"update_id\":7,\"edited_message\":{}},{\"update_id\":8}, 17, null]");
    /* only the broken mention (delivered, not a mention) and the private command */
    ck_assert_uint_eq(host.delivered, 2);
    ck_assert(!host.in[0].mentions_bot);
    ck_assert(host.in[1].is_dm);
    ck_assert(host.in[1].mentions_bot);
    ck_assert_str_eq(host.in[1].clean_text, "/start go");
    ck_assert_ptr_null(host.in[1].thread_id);
    plugin_host_run(&host, 0, 4);
    ck_assert_ptr_nonnull(strstr(last_poll, "\"offset\":9"));
}
END_TEST

START_TEST(a_rejected_token_stops_polling)
{
    tg_teardown();
    plugin_host_init(&host, tg_config);
    polls = 0;
    ck_assert_int_eq(ab_plugin.chat->open(plugin_host_handle(&host), &host.svc, &chat), 0);
    static const char *const unauthorized =
        "{\"ok\":false,\"error_code\":401,\"description\":\"Unauthorized\"}";
    plugin_host_queue_response(&host, 401, unauthorized, strlen(unauthorized));
    host.respond = tg_respond;
    ck_assert_int_eq(ab_plugin.chat->start(chat), 0);
    plugin_host_run(&host, 60000, 16);
    ck_assert_uint_eq(host.fatal_count, 1);
    ck_assert_int_eq(polls, 0);
    ck_assert(!host.connected);
}
END_TEST

START_TEST(repeated_conflicts_stop_polling_for_good)
{
    tg_teardown();
    plugin_host_init(&host, tg_config);
    host.respond = tg_respond;
    polls = 0;
    conflict = true;
    ck_assert_int_eq(ab_plugin.chat->open(plugin_host_handle(&host), &host.svc, &chat), 0);
    ck_assert_int_eq(ab_plugin.chat->start(chat), 0);
    plugin_host_run(&host, 120000, 64);
    conflict = false;
    ck_assert_uint_eq(host.fatal_count, 1);
    ck_assert_int_eq(polls, 3);
}
END_TEST

START_TEST(a_bad_token_is_refused_at_open)
{
    static const char *const bad[] = {"bot_token", "no-colon-here", NULL};
    struct plugin_host h2;
    struct ab_chat *c2 = NULL;

    plugin_host_init(&h2, bad);
    ck_assert_int_eq(ab_plugin.chat->open(plugin_host_handle(&h2), &h2.svc, &c2), AB_ECONFIG);
    plugin_host_free(&h2);
}
END_TEST

int
main(void)
{
    TCase *tc = tcase_create("telegram-updates");

    tcase_add_checked_fixture(tc, tg_setup, tg_teardown);
    tcase_add_test(tc, utf16_counts_astral_characters_twice);
    tcase_add_test(tc, offset_is_saved_after_the_core_holds_the_update_and_sent_next);
    tcase_add_test(tc, mention_after_an_emoji_is_found_by_utf16_offset_and_removed);
    tcase_add_test(tc, topic_creation_reply_is_no_reply_to_the_bot);
    tcase_add_test(tc, reply_to_the_bot_joins_its_chain);
    tcase_add_test(tc, commands_for_other_bots_private_chats_and_malformed_updates);
    tcase_add_test(tc, a_rejected_token_stops_polling);
    tcase_add_test(tc, repeated_conflicts_stop_polling_for_good);
    tcase_add_test(tc, a_bad_token_is_refused_at_open);
    return check_run_case("telegram-updates", tc);
}
