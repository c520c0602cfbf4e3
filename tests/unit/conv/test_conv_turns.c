/* The conversation engine, turns: how a conversation starts, what the agent receives,
 * queueing behind a running turn, and what happens to waiting messages when a turn
 * fails, times out or the broker drains (BEHAVIOUR.md, Discord section). */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "../support/check_runner.h"
#include "../support/conv_fixture.h"

#define FLAGS(...) ((const char *const[]){__VA_ARGS__, NULL})

START_TEST(mention_opens_thread_named_from_prompt)
{
    struct conv_fx f;
    const struct fake_call *c;
    const char *m;
    char *thread;
    int i;

    conv_fx_init(&f, NULL);
    conv_fx_start(&f);
    m = conv_fx_mention(
        &f, "U1",
        "please look at https://github.com/acme/widgets/issues/42 and fix the flaky test today");
    i = conv_fx_wait_call(&f, 5000, FAKE_OPEN_THREAD, NULL, NULL, NULL);
    ck_assert_int_ge(i, 0);
    c = fake_chat_call(f.fake, (size_t)i);
    ck_assert_str_eq(c->channel_id, CONV_FX_CHANNEL);
    ck_assert_str_eq(c->message_id, m);
    ck_assert_str_eq(c->text, "please look at acme/widgets#42 and fix…");
    ck_assert_uint_le(conv_fx_chars(c->text), 40);
    ck_assert(conv_fx_idle(&f, 10000));
    /* The reply is in the thread (Discord: the thread takes the message's id), and
     * nothing was posted in the channel itself. */
    thread = conv_fx_thread_text(&f, m);
    ck_assert_ptr_nonnull(strstr(thread, "please look at https://github.com/acme"));
    ck_assert_int_eq(fake_chat_find(f.fake, 0, FAKE_OPEN_THREAD, NULL, NULL, NULL), i);
    for (size_t k = 0; k < fake_chat_count(f.fake); k++) {
        c = fake_chat_call(f.fake, k);
        if (c->kind == FAKE_SEND)
            ck_assert_ptr_nonnull(c->thread_id);
    }
    free(thread);
    conv_fx_close(&f);
}
END_TEST

START_TEST(follow_up_in_thread_needs_no_mention)
{
    struct conv_fx f;
    const char *m;
    char *text, *thread;

    conv_fx_init(&f, NULL);
    conv_fx_start(&f);
    m = conv_fx_mention(&f, "U1", "write the parser");
    ck_assert(conv_fx_idle(&f, 10000));
    conv_fx_follow_up(&f, m, "U2", "and now the tests?");
    ck_assert(conv_fx_idle(&f, 10000));
    ck_assert_int_eq(conv_fx_prompts(&f), 2);
    text = conv_fx_prompt_block(&f, 1, 1);
    ck_assert_str_eq(text, "and now the tests?");
    thread = conv_fx_thread_text(&f, m);
    ck_assert(conv_fx_in_order(thread, FLAGS("write the parser", "and now the tests?")));
    /* One thread for the conversation, not one per message. */
    ck_assert_int_eq(fake_chat_count_kind(f.fake, FAKE_OPEN_THREAD, NULL), 1);
    free(text);
    free(thread);
    conv_fx_close(&f);
}
END_TEST

START_TEST(prompt_carries_sender_context_and_text_without_mention)
{
    struct conv_fx f;
    char *ctx, *text;

    conv_fx_init(&f, NULL);
    conv_fx_start(&f);
    conv_fx_mention(&f, "U1", "hello there");
    ck_assert(conv_fx_idle(&f, 10000));
    ck_assert_int_eq(conv_fx_prompts(&f), 1);
    ctx = conv_fx_prompt_block(&f, 0, 0);
    text = conv_fx_prompt_block(&f, 0, 1);
    ck_assert_str_eq(ctx, "<sender_context>{\"schema\":\"agent-broker.sender.v1\",\"sender_id\":"
                          "\"U1\",\"sender_name\":\"user-U1\",\"display_name\":\"User U1\","
                          "\"channel\":\"discord\",\"channel_id\":\"C1\",\"is_bot\":false}"
                          "</sender_context>");
    ck_assert_str_eq(text, "hello there");
    ck_assert_ptr_null(strstr(text, CONV_FX_BOT_MENTION));
    free(ctx);
    free(text);
    conv_fx_close(&f);
}
END_TEST

/* What the engine had done when a 👀 went out. */
struct eyes_seen {
    struct conv_fx *f;
    const char *message_id; /* the message watched */
    int calls;
    uint64_t turns; /* turns started when its 👀 was sent */
    uint32_t busy;  /* sessions with a prompt out by then */
};

/* Fake chat hook: note the turns started when @arg's message gets its 👀. */
static void
eyes_hook(void *arg, const struct fake_call *call)
{
    struct eyes_seen *s = arg;
    struct engine_stats st;
    struct pool_stats ps;

    if (call->kind != FAKE_REACT || !call->message_id || !call->emoji ||
        strcmp(call->message_id, s->message_id) != 0 || strcmp(call->emoji, "👀") != 0)
        return;
    engine_get_stats(s->f->engine, &st);
    pool_stats(s->f->acp.pool, &ps);
    s->calls++;
    s->turns = st.turns;
    s->busy = ps.busy;
}

/* A follow-up in an idle thread whose session is warm: its prompt goes to the agent
 * before anything else the daemon does for it — 👀 (a REST request on a real platform)
 * comes after its turn started, still before 🤔 and 🆗. */
START_TEST(warm_follow_up_prompt_goes_before_its_eyes)
{
    struct conv_fx f;
    struct eyes_seen seen = {.f = &f};
    struct engine_stats before;
    const char *m, *a;
    char next[24];

    conv_fx_init(&f, NULL);
    conv_fx_start(&f);
    m = conv_fx_mention(&f, "U1", "first");
    ck_assert(conv_fx_idle(&f, 10000));
    engine_get_stats(f.engine, &before);
    snprintf(next, sizeof(next), "%u", f.next_id); /* the id the next message gets */
    seen.message_id = next;
    fake_chat_on_call(f.fake, eyes_hook, &seen);
    a = conv_fx_follow_up(&f, m, "U1", "second");
    ck_assert_str_eq(a, seen.message_id);
    ck_assert_int_eq(seen.calls, 1); /* sent inside the inbound call, as before */
    ck_assert_uint_eq(seen.turns, before.turns + 1);
    ck_assert_uint_eq(seen.busy, 1); /* pool_prompt wrote the line */
    fake_chat_on_call(f.fake, NULL, NULL);
    ck_assert(conv_fx_idle(&f, 10000));
    ck_assert(fake_chat_has_reaction(f.fake, a, "🆗"));
    ck_assert(!fake_chat_has_reaction(f.fake, a, "👀"));
    conv_fx_close(&f);
}
END_TEST

START_TEST(queued_messages_get_eyes_at_once_and_are_answered_as_one_batch)
{
    struct conv_fx f;
    const char *m, *a, *b;
    const struct fake_call *eyes;
    char *text, *ctx, *thread;
    uint64_t t0;
    int i;

    conv_fx_init(&f, NULL);
    conv_fx_start(&f);
    m = conv_fx_mention(&f, "U1", "[[slow 30]] [[tick 20]] first");
    ck_assert_int_ge(conv_fx_wait_call(&f, 5000, FAKE_EDIT, "chunk1", NULL, NULL), 0);
    t0 = uv_now(&f.acp.loop);
    a = conv_fx_follow_up(&f, m, "U1", "second");
    b = conv_fx_follow_up(&f, m, "U2", "third");
    ck_assert_int_ge(i = conv_fx_wait_call(&f, 1000, FAKE_REACT, NULL, a, "👀"), 0);
    eyes = fake_chat_call(f.fake, (size_t)i);
    ck_assert_uint_lt(eyes->at_ms - t0, 250); /* long before the running turn ends */
    ck_assert_int_ge(i = conv_fx_wait_call(&f, 1000, FAKE_REACT, NULL, b, "👀"), 0);
    eyes = fake_chat_call(f.fake, (size_t)i);
    ck_assert_uint_lt(eyes->at_ms - t0, 250); /* long before the running turn ends */
    ck_assert_int_eq(conv_fx_prompts(&f), 1); /* still behind the running turn */
    ck_assert(conv_fx_idle(&f, 10000));
    ck_assert_int_eq(conv_fx_prompts(&f), 2);
    text = conv_fx_prompt_block(&f, 1, 1);
    ctx = conv_fx_prompt_block(&f, 1, 0);
    ck_assert(conv_fx_in_order(text, FLAGS("\"sender_id\":\"U1\"", "second", "third")));
    ck_assert_ptr_nonnull(strstr(ctx, "\"sender_id\":\"U2\""));
    thread = conv_fx_thread_text(&f, m);
    ck_assert(conv_fx_in_order(thread, FLAGS("chunk15", "second", "third")));
    ck_assert(fake_chat_has_reaction(f.fake, a, "🆗"));
    ck_assert(fake_chat_has_reaction(f.fake, b, "🆗"));
    ck_assert(!fake_chat_has_reaction(f.fake, a, "👀"));
    free(text);
    free(ctx);
    free(thread);
    conv_fx_close(&f);
}
END_TEST

START_TEST(queue_overflow_posts_notice_and_loses_nothing_else)
{
    struct conv_fx f;
    struct engine_stats st;
    const char *m, *ids[ENGINE_QUEUE_CAP + 1];
    char words[ENGINE_QUEUE_CAP + 1][16];
    const char *needles[ENGINE_QUEUE_CAP + 1];
    char *text;

    conv_fx_init(&f, NULL);
    conv_fx_start(&f);
    m = conv_fx_mention(&f, "U1", "[[slow 20]] [[tick 20]] first");
    ck_assert_int_ge(conv_fx_wait_call(&f, 5000, FAKE_EDIT, "chunk1", NULL, NULL), 0);
    for (int k = 0; k <= ENGINE_QUEUE_CAP; k++) {
        snprintf(words[k], sizeof(words[k]), "msg-%02d", k + 1);
        needles[k] = words[k];
        ids[k] = conv_fx_follow_up(&f, m, "U1", words[k]);
    }
    needles[ENGINE_QUEUE_CAP] = NULL;
    ck_assert_int_ge(conv_fx_wait_call(&f, 1000, FAKE_SEND, "Queue full", NULL, NULL), 0);
    ck_assert_int_eq(fake_chat_count_kind(f.fake, FAKE_SEND, "Queue full"), 1);
    ck_assert(conv_fx_idle(&f, 10000));
    ck_assert_int_eq(conv_fx_prompts(&f), 2);
    text = conv_fx_prompt_block(&f, 1, 1);
    ck_assert(conv_fx_in_order(text, needles));
    ck_assert_ptr_null(strstr(text, words[ENGINE_QUEUE_CAP]));
    for (int k = 0; k < ENGINE_QUEUE_CAP; k++)
        ck_assert_msg(fake_chat_find(f.fake, 0, FAKE_REACT, NULL, ids[k], "🆗") >= 0,
                      "%s was not answered", words[k]);
    ck_assert_int_lt(fake_chat_find(f.fake, 0, FAKE_REACT, NULL, ids[ENGINE_QUEUE_CAP], "👀"), 0);
    engine_get_stats(f.engine, &st);
    ck_assert_uint_eq(st.received, 2 + ENGINE_QUEUE_CAP);
    ck_assert_uint_eq(st.accepted, st.enqueued + st.rejected);
    ck_assert_uint_eq(st.rejected, 1);
    free(text);
    conv_fx_close(&f);
}
END_TEST

START_TEST(denied_user_gets_no_entry_sign_and_no_turn)
{
    struct conv_fx f;
    const char *m;

    conv_fx_init(&f, NULL);
    conv_fx_start(&f);
    m = conv_fx_mention(&f, "U9", "let me in");
    ck_assert_int_ge(conv_fx_wait_call(&f, 1000, FAKE_REACT, NULL, m, "🚫"), 0);
    conv_fx_run(&f, 300);
    ck_assert_int_eq(conv_fx_prompts(&f), 0);
    ck_assert_int_eq(fake_chat_count(f.fake), 1); /* the 🚫 and nothing else */
    conv_fx_close(&f);
}
END_TEST

START_TEST(send_failure_still_ends_turn_and_next_queued_is_answered)
{
    struct conv_fx f;
    const char *m, *b;

    conv_fx_init(&f, NULL);
    f.chat.no_edit = true; /* every send is a final reply */
    conv_fx_start(&f);
    m = conv_fx_mention(&f, "U1", "[[slow 10]] [[tick 20]] first");
    ck_assert_int_ge(conv_fx_wait_call(&f, 5000, FAKE_REACT, NULL, m, "🤔"), 0);
    b = conv_fx_follow_up(&f, m, "U1", "second");
    /* The first reply fails on every attempt the scheduler makes (5xx / network). */
    fake_chat_fail(f.fake, FAKE_SEND, AB_EIO, 4);
    ck_assert(conv_fx_idle(&f, 20000));
    ck_assert_int_eq(conv_fx_prompts(&f), 2);
    ck_assert_int_eq(fake_chat_count_kind(f.fake, FAKE_SEND, "chunk10"), 4);
    ck_assert(fake_chat_has_reaction(f.fake, m, "😱"));
    ck_assert_int_ge(fake_chat_find(f.fake, 0, FAKE_SEND, "> second", NULL, NULL), 0);
    ck_assert(fake_chat_has_reaction(f.fake, b, "🆗"));
    conv_fx_close(&f);
}
END_TEST

START_TEST(rate_limited_send_is_retried_and_delivered_once)
{
    struct conv_fx f;
    const char *m;
    int first, second;

    conv_fx_init(&f, NULL);
    f.chat.no_edit = true;
    conv_fx_start(&f);
    fake_chat_fail(f.fake, FAKE_SEND, AB_ERATELIMIT, 1);
    m = conv_fx_mention(&f, "U1", "hello");
    ck_assert(conv_fx_idle(&f, 10000));
    first = fake_chat_find(f.fake, 0, FAKE_SEND, "> hello", NULL, NULL);
    ck_assert_int_eq(fake_chat_call(f.fake, (size_t)first)->status, AB_ERATELIMIT);
    ck_assert_int_eq(fake_chat_count_kind(f.fake, FAKE_SEND, "> hello"), 2);
    /* The retry carries the first attempt's idempotency key (Discord nonce). */
    second = fake_chat_find(f.fake, (size_t)first + 1, FAKE_SEND, "> hello", NULL, NULL);
    ck_assert_int_gt(second, first);
    ck_assert_ptr_nonnull(fake_chat_call(f.fake, (size_t)first)->nonce);
    ck_assert_str_eq(fake_chat_call(f.fake, (size_t)second)->nonce,
                     fake_chat_call(f.fake, (size_t)first)->nonce);
    ck_assert_uint_le(strlen(fake_chat_call(f.fake, (size_t)first)->nonce), 25);
    ck_assert_uint_gt(strlen(fake_chat_call(f.fake, (size_t)first)->nonce), 0);
    ck_assert(fake_chat_has_reaction(f.fake, m, "🆗"));
    conv_fx_close(&f);
}
END_TEST

START_TEST(status_reactions_are_freed_once_the_final_one_is_shown)
{
    /* Done is not removed after its hold (the default): nothing changes once 🆗 is on
     * the message, so its tracking ends then, not a hold later — at a high message rate
     * the holds would keep thousands alive. With removal, it lives through the hold. */
    for (int remove = 0; remove < 2; remove++) {
        struct conv_fx f;
        struct engine_stats st;
        const char *m;

        conv_fx_init(&f, NULL);
        f.ecfg.reactions.remove_after_reply = remove;
        f.ecfg.reactions.done_hold_ms = f.ecfg.reactions.error_hold_ms = 60000;
        conv_fx_start(&f);
        m = conv_fx_mention(&f, "U1", "hello");
        ck_assert(conv_fx_idle(&f, 10000));
        ck_assert_int_ge(conv_fx_wait_call(&f, 5000, FAKE_REACT, NULL, m, "🆗"), 0);
        conv_fx_run(&f, 300);
        engine_get_stats(f.engine, &st);
        ck_assert_uint_eq(st.status_reactions, remove ? 1 : 0);
        conv_fx_free(&f);
    }
}
END_TEST

/* The idempotency key of the first post of a fresh broker, owned. */
static char *
first_post_key(void)
{
    struct conv_fx f;
    char *key;
    int i;

    conv_fx_init(&f, NULL);
    f.chat.no_edit = true;
    conv_fx_start(&f);
    conv_fx_mention(&f, "U1", "hello");
    ck_assert(conv_fx_idle(&f, 10000));
    i = fake_chat_find(f.fake, 0, FAKE_SEND, "> hello", NULL, NULL);
    ck_assert_int_ge(i, 0);
    ck_assert_ptr_nonnull(fake_chat_call(f.fake, (size_t)i)->nonce);
    key = strdup(fake_chat_call(f.fake, (size_t)i)->nonce);
    conv_fx_close(&f);
    return key;
}

START_TEST(two_instances_never_share_an_idempotency_key)
{
    /* Shards of one bot are separate daemons posting as the same author, and Discord
     * matches nonces by author: two instances' first posts must differ beyond the
     * 13-digit milliseconds, which two shards may well share. */
    char *a = first_post_key(), *b = first_post_key();

    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(strlen(a), 25);
    ck_assert_uint_eq(strlen(b), 25);
    ck_assert_str_ne(a + 13, b + 13);
    free(a);
    free(b);
}
END_TEST

/* engine_drain's completion. */
static void
on_drained(void *arg)
{
    *(bool *)arg = true;
}

START_TEST(drain_tells_queued_messages_and_lets_running_turn_finish)
{
    struct conv_fx f;
    const char *m, *b;
    bool drained = false;
    char *thread;

    conv_fx_init(&f, NULL);
    conv_fx_start(&f);
    m = conv_fx_mention(&f, "U1", "[[slow 20]] [[tick 20]] first");
    ck_assert_int_ge(conv_fx_wait_call(&f, 5000, FAKE_EDIT, "chunk1", NULL, NULL), 0);
    b = conv_fx_follow_up(&f, m, "U1", "second");
    engine_drain(f.engine, 5000, on_drained, &drained);
    ck_assert_int_ge(conv_fx_wait_call(&f, 1000, FAKE_SEND, "shutting down", NULL, NULL), 0);
    ck_assert(fx_wait(&f.acp, &drained, 5000));
    ck_assert(conv_fx_idle(&f, 5000));
    thread = conv_fx_thread_text(&f, m);
    ck_assert(conv_fx_in_order(thread, FLAGS("chunk20", "shutting down")));
    ck_assert_int_eq(conv_fx_prompts(&f), 1);
    ck_assert(fake_chat_has_reaction(f.fake, m, "🆗"));
    ck_assert(fake_chat_has_reaction(f.fake, b, "😱"));
    /* A message after the drain started is told too, not answered. */
    conv_fx_follow_up(&f, m, "U1", "third");
    ck_assert_int_ge(conv_fx_wait_call(&f, 1000, FAKE_SEND, "restarting", NULL, NULL), 0);
    ck_assert_int_eq(conv_fx_prompts(&f), 1);
    free(thread);
    conv_fx_close(&f);
}
END_TEST

START_TEST(drain_while_thread_opens_still_becomes_idle)
{
    struct conv_fx f;
    const char *m;
    bool drained = false, idle = false;

    conv_fx_init(&f, NULL);
    conv_fx_start(&f);
    m = conv_fx_mention(&f, "U1", "hello");
    /* As the daemon does: drain, then wait for idle, before open_thread has answered. */
    engine_drain(f.engine, 5000, on_drained, &drained);
    engine_when_idle(f.engine, on_drained, &idle);
    ck_assert(fx_wait(&f.acp, &drained, 2000));
    ck_assert(fx_wait(&f.acp, &idle, 2000));
    ck_assert(fake_chat_has_reaction(f.fake, m, "😱"));
    ck_assert_int_ge(fake_chat_find(f.fake, 0, FAKE_SEND, "shutting down", NULL, NULL), 0);
    ck_assert_int_eq(conv_fx_prompts(&f), 0);
    conv_fx_close(&f);
}
END_TEST

START_TEST(turn_timeout_says_so_and_queued_message_is_answered)
{
    struct conv_fx f;
    const char *m;
    char *thread;

    conv_fx_init(&f, NULL);
    f.acp.cfg.watchdog_ms = 500;
    conv_fx_start(&f);
    m = conv_fx_mention(&f, "U1", "[[hang]]");
    ck_assert_int_ge(conv_fx_wait_call(&f, 5000, FAKE_REACT, NULL, m, "🤔"), 0);
    conv_fx_follow_up(&f, m, "U1", "after");
    ck_assert(conv_fx_idle(&f, 15000));
    thread = conv_fx_thread_text(&f, m);
    ck_assert(conv_fx_in_order(thread, FLAGS("turn timed out", "> after")));
    ck_assert_int_eq(conv_fx_prompts(&f), 2);
    ck_assert(fake_chat_has_reaction(f.fake, m, "😱"));
    free(thread);
    conv_fx_close(&f);
}
END_TEST

int
main(void)
{
    const TTest *tests[] = {
        mention_opens_thread_named_from_prompt,
        follow_up_in_thread_needs_no_mention,
        prompt_carries_sender_context_and_text_without_mention,
        warm_follow_up_prompt_goes_before_its_eyes,
        queued_messages_get_eyes_at_once_and_are_answered_as_one_batch,
        queue_overflow_posts_notice_and_loses_nothing_else,
        denied_user_gets_no_entry_sign_and_no_turn,
        send_failure_still_ends_turn_and_next_queued_is_answered,
        rate_limited_send_is_retried_and_delivered_once,
        two_instances_never_share_an_idempotency_key,
        status_reactions_are_freed_once_the_final_one_is_shown,
        drain_tells_queued_messages_and_lets_running_turn_finish,
        drain_while_thread_opens_still_becomes_idle,
        turn_timeout_says_so_and_queued_message_is_answered,
        NULL,
    };

    return check_run_list("conv_turns", 30, tests);
}
