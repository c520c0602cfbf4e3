/* The conversation engine, what users do to a running turn and what it shows them:
 * 🛑 to cancel, permission questions answered by reaction (ask mode), and the status
 * reactions on the user's message with their debounce. */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "../support/check_runner.h"
#include "../support/conv_fixture.h"

#define FLAGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Start a slow turn and return the live reply's id once its first chunk shows. */
static const char *
slow_turn(struct conv_fx *f, const char **user_msg, int chunks)
{
    char prompt[64];

    snprintf(prompt, sizeof(prompt), "[[slow %d]] [[tick 20]]", chunks);
    *user_msg = conv_fx_mention(f, "U1", prompt);
    ck_assert_int_ge(conv_fx_wait_call(f, 5000, FAKE_EDIT, "chunk2", NULL, NULL), 0);
    return conv_fx_first_post(f, *user_msg);
}

START_TEST(stop_sign_from_allowed_user_cancels_the_turn)
{
    struct conv_fx f;
    const char *m, *live, *text;

    conv_fx_init(&f, NULL);
    conv_fx_start(&f);
    live = slow_turn(&f, &m, 100);
    conv_fx_react(&f, m, live, "U2", "🛑");
    ck_assert(conv_fx_idle(&f, 10000));
    ck_assert_int_eq(fx_log_count(&f.acp, "\"method\":\"session/cancel\""), 1);
    text = fake_chat_message_text(f.fake, live);
    ck_assert_msg(strstr(text, "chunk2 ") && strstr(text, "🛑 Cancelled."), "%s", text);
    ck_assert_ptr_null(strstr(text, "chunk100"));
    ck_assert(fake_chat_has_reaction(f.fake, m, "🆗"));
    ck_assert(fake_chat_has_reaction(f.fake, m, "🫡"));
    conv_fx_close(&f);
}
END_TEST

START_TEST(stop_sign_on_the_users_message_cancels_too)
{
    struct conv_fx f;
    const char *m, *live;

    conv_fx_init(&f, NULL);
    conv_fx_start(&f);
    live = slow_turn(&f, &m, 100);
    conv_fx_react(&f, CONV_FX_CHANNEL, m, "U1", "🛑");
    ck_assert(conv_fx_idle(&f, 10000));
    ck_assert_int_eq(fx_log_count(&f.acp, "\"method\":\"session/cancel\""), 1);
    ck_assert_ptr_nonnull(strstr(fake_chat_message_text(f.fake, live), "🛑 Cancelled."));
    conv_fx_close(&f);
}
END_TEST

START_TEST(stop_sign_from_other_user_does_nothing)
{
    struct conv_fx f;
    const char *m, *live, *text;

    conv_fx_init(&f, NULL);
    conv_fx_start(&f);
    live = slow_turn(&f, &m, 10);
    conv_fx_react(&f, m, live, "U9", "🛑");
    ck_assert(conv_fx_idle(&f, 10000));
    ck_assert_int_eq(fx_log_count(&f.acp, "session/cancel"), 0);
    text = fake_chat_message_text(f.fake, live);
    ck_assert_ptr_nonnull(strstr(text, "chunk10"));
    ck_assert_ptr_null(strstr(text, "Cancelled"));
    ck_assert(fake_chat_has_reaction(f.fake, m, "😊"));
    conv_fx_close(&f);
}
END_TEST

/* Wait for the question and the bot's three answer reactions on it; its id. */
static const char *
question(struct conv_fx *f)
{
    int i = conv_fx_wait_call(f, 5000, FAKE_SEND, "🔐 Write x.txt (edit)", NULL, NULL);
    const char *q;

    ck_assert_int_ge(i, 0);
    q = fake_chat_call(f->fake, (size_t)i)->message_id;
    ck_assert_ptr_nonnull(q);
    ck_assert_int_ge(conv_fx_wait_call(f, 1000, FAKE_REACT, NULL, q, "✅"), 0);
    ck_assert_int_ge(conv_fx_wait_call(f, 1000, FAKE_REACT, NULL, q, "♾️"), 0);
    ck_assert_int_ge(conv_fx_wait_call(f, 1000, FAKE_REACT, NULL, q, "❌"), 0);
    return q;
}

START_TEST(permission_ask_allowed_users_check_allows_once)
{
    struct conv_fx f;
    const char *m, *q, *text;

    conv_fx_init(&f, NULL);
    conv_fx_ask_mode(&f, 5000);
    conv_fx_start(&f);
    m = conv_fx_mention(&f, "U1", "[[permission]]");
    q = question(&f);
    /* Someone outside allowed_users cannot decide. */
    conv_fx_react(&f, m, q, "U9", "✅");
    conv_fx_run(&f, 200);
    ck_assert(!fx_log_has(&f.acp, "\"outcome\":{\"outcome\""));
    conv_fx_react(&f, m, q, "U2", "✅");
    ck_assert(conv_fx_idle(&f, 10000));
    ck_assert_int_eq(
        fx_log_count(&f.acp, "\"outcome\":{\"outcome\":\"selected\",\"optionId\":\"opt-once\"}"),
        1);
    ck_assert_int_eq(fx_log_count(&f.acp, "\"outcome\":{\"outcome\""), 1);
    text = fake_chat_message_text(f.fake, conv_fx_first_post(&f, m));
    ck_assert_str_eq(text, "✅ `Write x.txt`\n\npermission granted: opt-once");
    conv_fx_close(&f);
}
END_TEST

START_TEST(permission_ask_unanswered_is_rejected)
{
    struct conv_fx f;
    const char *m, *text;
    int asked, rejected;

    conv_fx_init(&f, NULL);
    conv_fx_ask_mode(&f, 300);
    conv_fx_start(&f);
    m = conv_fx_mention(&f, "U1", "[[permission]]");
    question(&f);
    ck_assert(conv_fx_idle(&f, 10000));
    ck_assert_int_eq(
        fx_log_count(&f.acp, "\"outcome\":{\"outcome\":\"selected\",\"optionId\":\"opt-reject\"}"),
        1);
    text = fake_chat_message_text(f.fake, conv_fx_first_post(&f, m));
    ck_assert_str_eq(text, "❌ `Write x.txt`\n\npermission rejected: opt-reject");
    asked = fake_chat_find(f.fake, 0, FAKE_SEND, "🔐", NULL, NULL);
    rejected = fake_chat_find(f.fake, 0, FAKE_SEND, "no answer in time", NULL, NULL);
    ck_assert_int_gt(rejected, asked);
    /* The timeout runs from the agent's request; the question is posted a little later
     * (much later under valgrind), so only "not long before the timeout" is exact. */
    ck_assert_uint_ge(fake_chat_call(f.fake, (size_t)rejected)->at_ms -
                          fake_chat_call(f.fake, (size_t)asked)->at_ms,
                      300 / 2);
    conv_fx_close(&f);
}
END_TEST

START_TEST(cancel_during_question_answers_cancelled)
{
    struct conv_fx f;
    const char *m, *q;
    char *thread;

    conv_fx_init(&f, NULL);
    conv_fx_ask_mode(&f, 5000);
    conv_fx_start(&f);
    m = conv_fx_mention(&f, "U1", "[[permission]]");
    q = question(&f);
    conv_fx_react(&f, CONV_FX_CHANNEL, m, "U1", "🛑");
    /* A late answer to the question must not reach the (answered) request. */
    conv_fx_react(&f, m, q, "U1", "✅");
    ck_assert(conv_fx_idle(&f, 10000));
    ck_assert_int_eq(fx_log_count(&f.acp, "\"outcome\":{\"outcome\":\"cancelled\"}"), 1);
    ck_assert_int_eq(fx_log_count(&f.acp, "\"outcome\":{\"outcome\":\"selected\""), 0);
    thread = conv_fx_thread_text(&f, m);
    ck_assert_ptr_nonnull(strstr(thread, "🛑 Cancelled."));
    ck_assert_ptr_null(strstr(thread, "✅ Allowed"));
    free(thread);
    conv_fx_close(&f);
}
END_TEST

START_TEST(status_reactions_follow_the_turn)
{
    struct conv_fx f;
    const char *m, *trail, *end;
    int eyes, thinking, coding;

    /* The agent takes longer than the debounce to start, so 🤔 has time to show. */
    conv_fx_init(&f, FLAGS("--init-delay", "150"));
    conv_fx_start(&f);
    m = conv_fx_mention(&f, "U1", "[[tool]] [[tick 150]]");
    ck_assert(conv_fx_idle(&f, 10000));
    trail = fake_chat_trail(f.fake, m);
    /* 👀 → 🤔 → 👨‍💻 (a read tool) → 🆗 + 😊, each change removing the
     * previous one; the final 🆗 goes first, then the clean-up, then the mood.
     */
    ck_assert_msg(conv_fx_in_order(trail, FLAGS("+👀 -👀 +🤔 -🤔 +👨‍💻")), "%s",
                  trail);
    end = trail + strlen(trail) - strlen("+🆗 -👨‍💻 +😊");
    ck_assert_msg(strcmp(end, "+🆗 -👨‍💻 +😊") == 0, "%s", trail);
    ck_assert_msg(!strstr(trail, "🔥"), "a read tool is coding, all along: %s", trail);
    eyes = fake_chat_find(f.fake, 0, FAKE_REACT, NULL, m, "👀");
    thinking = fake_chat_find(f.fake, 0, FAKE_REACT, NULL, m, "🤔");
    coding = fake_chat_find(f.fake, 0, FAKE_REACT, NULL, m, "👨‍💻");
    /* 🤔 only after the debounce (50 ms) held. */
    ck_assert_uint_ge(fake_chat_call(f.fake, (size_t)thinking)->at_ms -
                          fake_chat_call(f.fake, (size_t)eyes)->at_ms,
                      50);
    ck_assert_int_gt(coding, thinking);
    conv_fx_close(&f);
}
END_TEST

/* An agent plugin's classify_tool: every tool is a web tool. */
static enum ab_tool_class
classify_all_web(const char *kind, const char *title)
{
    (void)kind;
    (void)title;
    return AB_TOOL_WEB;
}

START_TEST(agent_plugin_classifies_tools)
{
    struct conv_fx f;
    const char *m, *trail;

    conv_fx_init(&f, FLAGS("--init-delay", "150"));
    f.ecfg.classify_tool = classify_all_web;
    conv_fx_start(&f);
    m = conv_fx_mention(&f, "U1", "[[tool]] [[tick 150]]");
    ck_assert(conv_fx_idle(&f, 10000));
    trail = fake_chat_trail(f.fake, m);
    /* the core alone calls a read tool coding (👨‍💻); the plugin says web (⚡) */
    ck_assert_msg(conv_fx_in_order(trail, FLAGS("+🤔 -🤔 +⚡ +🆗 -⚡")), "%s", trail);
    ck_assert_msg(!strstr(trail, "👨‍💻"), "%s", trail);
    conv_fx_close(&f);
}
END_TEST

START_TEST(turn_shorter_than_debounce_shows_no_thinking)
{
    struct conv_fx f;
    const char *m;

    conv_fx_init(&f, NULL);
    f.ecfg.reactions.debounce_ms = 4000;
    conv_fx_start(&f);
    m = conv_fx_mention(&f, "U1", "quick");
    ck_assert(conv_fx_idle(&f, 10000));
    ck_assert_str_eq(fake_chat_trail(f.fake, m), "+👀 +🆗 -👀 +😊");
    conv_fx_close(&f);
}
END_TEST

START_TEST(stall_shows_yawn_then_fear)
{
    struct conv_fx f;
    const char *m, *trail, *yawn;

    conv_fx_init(&f, NULL);
    f.ecfg.reactions.stall_soft_ms = 200;
    f.ecfg.reactions.stall_hard_ms = 400;
    conv_fx_start(&f);
    m = conv_fx_mention(&f, "U1", "[[slow 2]] [[tick 700]]");
    ck_assert(conv_fx_idle(&f, 10000));
    trail = fake_chat_trail(f.fake, m);
    /* a yawn, then fear after it (on a slow machine the second chunk's gap may stall
     * again: the cycle can show twice) */
    yawn = strstr(trail, "+🤔 -🤔 +🥱");
    ck_assert_msg(yawn && strstr(yawn, "-🥱 +😨"), "%s", trail);
    ck_assert(fake_chat_has_reaction(f.fake, m, "🆗"));
    ck_assert(!fake_chat_has_reaction(f.fake, m, "😨"));
    conv_fx_close(&f);
}
END_TEST

/* The emoji come from the config ([reactions.emojis]): other ones are offered, read and
 * shown, and the defaults then mean nothing. */
START_TEST(configured_emojis_replace_the_defaults)
{
    struct conv_fx f;
    const char *m, *live, *q, *denied;
    char *thread;
    int i;

    conv_fx_init(&f, NULL);
    f.ecfg.emojis = (struct engine_emojis){"✋", "⛔", "👍", "🔁", "👎"};
    conv_fx_ask_mode(&f, 5000);
    conv_fx_start(&f);
    denied = conv_fx_mention(&f, "U9", "hello");
    ck_assert_int_ge(conv_fx_wait_call(&f, 1000, FAKE_REACT, NULL, denied, "⛔"), 0);
    m = conv_fx_mention(&f, "U1", "[[permission]]");
    i = conv_fx_wait_call(&f, 5000, FAKE_SEND, "React 👍 to allow once, 🔁 to allow always, 👎", NULL,
                          NULL);
    ck_assert_int_ge(i, 0);
    q = fake_chat_call(f.fake, (size_t)i)->message_id;
    ck_assert_int_ge(conv_fx_wait_call(&f, 1000, FAKE_REACT, NULL, q, "👎"), 0);
    ck_assert_int_eq(fake_chat_find(f.fake, 0, FAKE_REACT, NULL, q, "❌"), -1);
    conv_fx_react(&f, m, q, "U1", "❌");
    conv_fx_run(&f, 200);
    ck_assert(!fx_log_has(&f.acp, "\"outcome\":{\"outcome\""));
    conv_fx_react(&f, m, q, "U1", "👎");
    ck_assert(conv_fx_idle(&f, 10000));
    ck_assert_int_eq(
        fx_log_count(&f.acp, "\"outcome\":{\"outcome\":\"selected\",\"optionId\":\"opt-reject\"}"),
        1);
    thread = conv_fx_thread_text(&f, m);
    ck_assert_msg(strstr(thread, "👎 Permission denied by U1"), "%s", thread);
    free(thread);
    /* 🛑 no longer cancels; ✋ does. */
    live = slow_turn(&f, &m, 100);
    conv_fx_react(&f, m, live, "U1", "🛑");
    conv_fx_run(&f, 200);
    ck_assert_int_eq(fx_log_count(&f.acp, "session/cancel"), 0);
    conv_fx_react(&f, m, live, "U1", "✋");
    ck_assert(conv_fx_idle(&f, 10000));
    ck_assert_int_eq(fx_log_count(&f.acp, "\"method\":\"session/cancel\""), 1);
    ck_assert_ptr_nonnull(strstr(fake_chat_message_text(f.fake, live), "✋ Cancelled."));
    conv_fx_close(&f);
}
END_TEST

/* Platforms add or drop the variation selector: ♾ answers as ♾️ does. */
START_TEST(permission_ask_infinity_without_variation_selector_allows_always)
{
    struct conv_fx f;
    const char *m, *q;

    conv_fx_init(&f, NULL);
    conv_fx_ask_mode(&f, 5000);
    conv_fx_start(&f);
    m = conv_fx_mention(&f, "U1", "[[permission]]");
    q = question(&f);
    conv_fx_react(&f, m, q, "U1", "\xE2\x99\xBE");
    ck_assert(conv_fx_idle(&f, 10000));
    ck_assert_int_eq(
        fx_log_count(&f.acp, "\"outcome\":{\"outcome\":\"selected\",\"optionId\":\"opt-always\"}"),
        1);
    conv_fx_close(&f);
}
END_TEST

int
main(void)
{
    const TTest *tests[] = {
        stop_sign_from_allowed_user_cancels_the_turn,
        stop_sign_on_the_users_message_cancels_too,
        stop_sign_from_other_user_does_nothing,
        permission_ask_allowed_users_check_allows_once,
        permission_ask_unanswered_is_rejected,
        cancel_during_question_answers_cancelled,
        status_reactions_follow_the_turn,
        agent_plugin_classifies_tools,
        turn_shorter_than_debounce_shows_no_thinking,
        stall_shows_yawn_then_fear,
        configured_emojis_replace_the_defaults,
        permission_ask_infinity_without_variation_selector_allows_always,
        NULL,
    };

    return check_run_list("conv_control", 30, tests);
}
