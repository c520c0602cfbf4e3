/* chat-telegram inbound (plugins/chat-telegram/poll.c, updates.c) driven in-process
 * through the real plugin with the fake plugin host: getUpdates batches become
 * deliveries; the offset is saved only once the core holds the update and the next poll
 * carries it; mentions are found by UTF-16 entity offsets; the topic-creation reply is
 * no reply to the bot; commands for other bots and malformed updates are skipped. Webhook
 * mode (webhook.c) through the fake host's route: setWebhook with the secret, 401 without
 * it, the same update handler, 200 only once the core holds the update, a redelivery
 * (also after a restart) handled once, 400 for what is no Update. */
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
static int unhooks;          /* deleteWebhook requests */
static int unhooks_polled;   /* getUpdates requests before the first deleteWebhook */
static char last_hook[2048]; /* the body of the last setWebhook request */
static int hooks;            /* setWebhook requests */
static long hook_status;     /* setWebhook's answer: 200, or 400 (a refused URL) */

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
    if (strstr(url, "/deleteWebhook")) {
        if (unhooks++ == 0)
            unhooks_polled = polls;
        ck_assert_ptr_null(strstr(body ? body : "", "drop_pending_updates\":true"));
    }
    if (strstr(url, "/setWebhook")) {
        hooks++;
        snprintf(last_hook, sizeof(last_hook), "%s", body ? body : "");
        if (hook_status == 400) {
            *status = 400;
            *resp = "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: bad "
                    "webhook: Webhook can be set up only on ports 80, 88, 443 or 8443\"}";
            return true;
        }
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
    polls = unhooks = 0;
    ck_assert_int_eq(ab_plugin.chat->open(plugin_host_handle(&host), &host.svc, &chat), 0);
    ck_assert_int_eq(ab_plugin.chat->start(chat), 0);
    plugin_host_run(&host, 0, 8);
    ck_assert(host.connected);
    ck_assert_int_eq(polls, 1);
    /* a webhook left by webhook mode would make getUpdates fail: removed first */
    ck_assert_int_eq(unhooks, 1);
    ck_assert_int_eq(unhooks_polled, 0);
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
    plugin_host_run(&host, 0, 2); /* getMe, deleteWebhook answered; the poll is out */
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

static const char *const hook_config[] = {
    "bot_token",
    "999:AAtesttesttesttesttesttesttesttest",
    "api_base",
    "http://127.0.0.1:9",
    "webhook_url",
    "https://bot.example.com/tg",
    "webhook_secret",
    "Sec_ret-1",
    NULL,
};

static const char *const right_secret[] = {"X-Telegram-Bot-Api-Secret-Token", "Sec_ret-1", NULL};

/* A mention of the bot in group -5 as update @id. */
static const char *
hook_mention(int id)
{
    static char buf[512];

    snprintf(buf, sizeof(buf),
             "{\"update_id\":%d,\"message\":{\"message_id\":%d,\"chat\":{\"id\":-5,\"type\":"
             "\"group\"},\"from\":{\"id\":7,\"first_name\":\"A\"},\"text\":\"@broker_bot hi\","
             "\"entities\":[{\"type\":\"mention\",\"offset\":0,\"length\":11}]}}",
             id, id + 1000);
    return buf;
}

/* POST @body to the webhook with @headers; the answer so far (0: none yet). */
static int
hook_post(const char *const *headers, const char *body)
{
    ck_assert_int_eq(
        plugin_host_http_in(&host, "POST", "/telegram/webhook", headers, body, strlen(body)), 0);
    return host.answered_status;
}

/* A webhook-mode instance, signed in, its webhook set. */
static void
hook_setup(void)
{
    plugin_host_init(&host, hook_config);
    host.respond = tg_respond;
    polls = unhooks = hooks = 0;
    hook_status = 200;
    last_hook[0] = '\0';
    ck_assert_int_eq(ab_plugin.chat->open(plugin_host_handle(&host), &host.svc, &chat), 0);
    ck_assert_int_eq(ab_plugin.chat->start(chat), 0);
    /* served from the start; until the bot's name is known Telegram is told to come back */
    ck_assert_int_eq(hook_post(right_secret, hook_mention(1)), 503);
    plugin_host_run(&host, 0, 8);
}

START_TEST(webhook_is_set_with_the_secret_and_nothing_polls)
{
    ck_assert_int_eq(hooks, 1);
    ck_assert_ptr_nonnull(strstr(last_hook, "\"url\":\"https://bot.example.com/tg\""));
    ck_assert_ptr_nonnull(strstr(last_hook, "\"secret_token\":\"Sec_ret-1\""));
    ck_assert_ptr_nonnull(strstr(last_hook, "\"drop_pending_updates\":false"));
    ck_assert_ptr_nonnull(
        strstr(last_hook, "\"allowed_updates\":[\"message\",\"message_reaction\"]"));
    ck_assert(host.connected);
    ck_assert_int_eq(polls, 0);
    ck_assert_int_eq(unhooks, 0);
    ck_assert_uint_eq(host.delivered, 0);
    ck_assert(!plugin_host_log_has(&host, "Sec_ret-1"));
}
END_TEST

START_TEST(webhook_without_the_secret_is_refused)
{
    static const char *const wrong[] = {"X-Telegram-Bot-Api-Secret-Token", "Sec_ret-2", NULL};
    static const char *const longer[] = {"X-Telegram-Bot-Api-Secret-Token", "Sec_ret-10", NULL};
    static const char *const shorter[] = {"X-Telegram-Bot-Api-Secret-Token", "Sec_ret-", NULL};
    static const char *const other[] = {"Authorization", "Sec_ret-1", NULL};

    ck_assert_int_eq(hook_post(NULL, hook_mention(5)), 401);
    ck_assert_int_eq(hook_post(wrong, hook_mention(5)), 401);
    ck_assert_int_eq(hook_post(longer, hook_mention(5)), 401);
    ck_assert_int_eq(hook_post(shorter, hook_mention(5)), 401);
    ck_assert_int_eq(hook_post(other, hook_mention(5)), 401);
    plugin_host_run(&host, 0, 4);
    ck_assert_uint_eq(host.delivered, 0);
    ck_assert(plugin_host_log_has(&host, "refused (401)"));
    ck_assert(!plugin_host_log_has(&host, "Sec_ret-2"));
}
END_TEST

START_TEST(webhook_update_is_answered_once_the_core_holds_it)
{
    ck_assert_int_eq(hook_post(right_secret, hook_mention(5)), 0); /* held: no answer yet */
    ck_assert_uint_eq(host.delivered, 1);
    ck_assert(host.in[0].mentions_bot);
    ck_assert_str_eq(host.in[0].clean_text, "hi");
    ck_assert_str_eq(host.in[0].conversation, "-5:1005");
    ck_assert_str_eq(host.in[0].event_id, "-5:1005");
    plugin_host_run(&host, 0, 4); /* the core's record completes */
    ck_assert_int_eq(host.answered_status, 200);
    ck_assert_str_eq(host.state_key, "webhook_seen");
    ck_assert_str_eq(host.state_value, "5\n");
    /* Telegram did not see the 200 and posts it again: answered, not handled again */
    ck_assert_int_eq(hook_post(right_secret, hook_mention(5)), 200);
    ck_assert_uint_eq(host.delivered, 1);
    /* a reaction is not held: answered at once */
    ck_assert_int_eq(hook_post(right_secret,
                               "{\"update_id\":6,\"message_reaction\":{\"chat\":{\"id\":-5,"
                               "\"type\":\"group\"},\"message_id\":1005,\"user\":{\"id\":7},"
                               "\"date\":1,\"old_reaction\":[],\"new_reaction\":[{\"type\":"
                               "\"emoji\",\"emoji\":\"\xF0\x9F\x91\x8D\"}]}}"),
                     200);
    ck_assert_uint_eq(host.reacted, 1);
}
END_TEST

START_TEST(webhook_redelivery_while_recording_is_sent_back)
{
    ck_assert_int_eq(hook_post(right_secret, hook_mention(8)), 0);
    /* the same update while the first is being recorded: the first answer decides */
    ck_assert_int_eq(hook_post(right_secret, hook_mention(8)), 503);
    plugin_host_run(&host, 0, 4);
    ck_assert_uint_eq(host.delivered, 1);
}
END_TEST

START_TEST(webhook_redelivery_after_a_restart_is_handled_once)
{
    hook_post(right_secret, hook_mention(9));
    plugin_host_run(&host, 0, 4);
    ck_assert_int_eq(host.answered_status, 200);
    ab_plugin.chat->close(chat);
    /* the same host (its saved state) with a new instance */
    ck_assert_int_eq(ab_plugin.chat->open(plugin_host_handle(&host), &host.svc, &chat), 0);
    ck_assert_int_eq(ab_plugin.chat->start(chat), 0);
    plugin_host_run(&host, 0, 8);
    ck_assert_int_eq(hooks, 2);
    ck_assert_int_eq(hook_post(right_secret, hook_mention(9)), 200);
    plugin_host_run(&host, 0, 4);
    ck_assert_uint_eq(host.delivered, 1);
    ck_assert_int_eq(hook_post(right_secret, hook_mention(10)), 0);
    plugin_host_run(&host, 0, 4);
    ck_assert_uint_eq(host.delivered, 2);
}
END_TEST

START_TEST(webhook_body_that_is_no_update_gets_400)
{
    static const char *const bodies[] = {
        "{not json",
        "[]",
        "",
        "{\"update_id\":\"5\"}",
        "{\"update_id\":-1}",
        "{\"update_id\":1.5}",
        "{\"message\":{}}",
        "null",
        "\"x\"",
        NULL,
    };

    for (size_t i = 0; bodies[i]; i++)
        ck_assert_int_eq(hook_post(right_secret, bodies[i]), 400);
    ck_assert(plugin_host_log_has(&host, "refused (400)"));
    /* an Update with nothing for the bot: confirmed */
    ck_assert_int_eq(hook_post(right_secret, "{\"update_id\":3,\"edited_message\":{}}"), 200);
    ck_assert_int_eq(plugin_host_http_in(&host, "GET", "/telegram/webhook", right_secret, "", 0),
                     0);
    ck_assert_int_eq(host.answered_status, 405);
    ck_assert_uint_eq(host.delivered, 0);
}
END_TEST

START_TEST(webhook_refused_by_telegram_stops_for_good)
{
    ab_plugin.chat->close(chat);
    plugin_host_free(&host);
    plugin_host_init(&host, hook_config);
    host.respond = tg_respond;
    hooks = 0;
    hook_status = 400;
    ck_assert_int_eq(ab_plugin.chat->open(plugin_host_handle(&host), &host.svc, &chat), 0);
    ck_assert_int_eq(ab_plugin.chat->start(chat), 0);
    plugin_host_run(&host, 600000, 64);
    hook_status = 200;
    ck_assert_int_eq(hooks, 1);
    ck_assert_uint_eq(host.fatal_count, 1);
    ck_assert(!host.connected);
}
END_TEST

START_TEST(webhook_start_confirms_what_polling_handled)
{
    ab_plugin.chat->close(chat);
    plugin_host_free(&host);
    plugin_host_init(&host, hook_config);
    host.respond = tg_respond;
    host.state_key = strdup("offset"); /* polling handled everything below 42 */
    host.state_value = strdup("42");
    polls = hooks = 0;
    batch = "[]";
    ck_assert_int_eq(ab_plugin.chat->open(plugin_host_handle(&host), &host.svc, &chat), 0);
    ck_assert_int_eq(ab_plugin.chat->start(chat), 0);
    plugin_host_run(&host, 0, 8);
    ck_assert_int_eq(polls, 1);
    ck_assert_ptr_nonnull(strstr(last_poll, "\"offset\":42"));
    ck_assert_ptr_nonnull(strstr(last_poll, "\"timeout\":0"));
    ck_assert_int_eq(hooks, 1);
    ck_assert_str_eq(host.state_key, "offset");
    ck_assert_str_eq(host.state_value, "0"); /* done: the next start sets the webhook at once */
    ck_assert(host.connected);
}
END_TEST

START_TEST(webhook_url_without_a_valid_secret_is_refused_at_open)
{
    static const char *const none[] = {"bot_token", "999:AAtesttest", "webhook_url",
                                       "https://bot.example.com/tg", NULL};
    static const char *const bad[] = {
        "bot_token",      "999:AAtesttest", "webhook_url", "https://b.example/tg",
        "webhook_secret", "no spaces",      NULL};
    const char *const *configs[] = {none, bad};

    for (size_t i = 0; i < 2; i++) {
        struct plugin_host h2;
        struct ab_chat *c2 = NULL;
        plugin_host_init(&h2, configs[i]);
        ck_assert_int_eq(ab_plugin.chat->open(plugin_host_handle(&h2), &h2.svc, &c2), AB_ECONFIG);
        plugin_host_free(&h2);
    }
}
END_TEST

int
main(void)
{
    TCase *tc = tcase_create("telegram-updates");
    TCase *hook = tcase_create("telegram-webhook");
    Suite *s = suite_create("telegram-updates");

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
    tcase_add_checked_fixture(hook, hook_setup, tg_teardown);
    tcase_add_test(hook, webhook_is_set_with_the_secret_and_nothing_polls);
    tcase_add_test(hook, webhook_without_the_secret_is_refused);
    tcase_add_test(hook, webhook_update_is_answered_once_the_core_holds_it);
    tcase_add_test(hook, webhook_redelivery_while_recording_is_sent_back);
    tcase_add_test(hook, webhook_redelivery_after_a_restart_is_handled_once);
    tcase_add_test(hook, webhook_body_that_is_no_update_gets_400);
    tcase_add_test(hook, webhook_refused_by_telegram_stops_for_good);
    tcase_add_test(hook, webhook_start_confirms_what_polling_handled);
    tcase_add_test(hook, webhook_url_without_a_valid_secret_is_refused_at_open);
    suite_add_tcase(s, tc);
    suite_add_tcase(s, hook);
    return check_run_suite(s);
}
