/* The conversation engine when a platform answers late: every completion that names a
 * turn, a question or a conversation may arrive after that object is gone (the fake
 * chat holds answers back on command). Run under ASan: a late completion that reached
 * freed memory fails here as a use-after-free. */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "../support/check_runner.h"
#include "../support/conv_fixture.h"
#include "host/host.h"
#include "policy/policy.h"

/* Slack's shape: the question goes to the thread's bucket, the final edit of the live
 * message to the channel's, so the turn can end while its question is still queued. */
START_TEST(question_posted_after_its_turn_ended)
{
    struct conv_fx f;
    const char *m;

    conv_fx_init(&f, NULL);
    f.chat.slack_refs = true;
    conv_fx_ask_mode(&f, 300);
    conv_fx_start(&f);
    fake_chat_hold(f.fake, FAKE_SEND, "🔐");
    m = conv_fx_mention(&f, "U1", "[[permission]]");
    ck_assert_int_ge(conv_fx_wait_call(&f, 5000, FAKE_SEND, "🔐", NULL, NULL), 0);
    /* Unanswered (the question is not even posted): rejected, the turn ends. */
    ck_assert_int_ge(conv_fx_wait_call(&f, 10000, FAKE_EDIT, "permission rejected", NULL, NULL), 0);
    conv_fx_run(&f, 300);
    ck_assert_int_eq(fake_chat_held(f.fake), 1);
    ck_assert_int_eq(fake_chat_release(f.fake), 1);
    ck_assert(conv_fx_idle(&f, 10000));
    /* The late question offers no answers: nothing is waiting for them. */
    ck_assert_int_eq(fake_chat_find(f.fake, 0, FAKE_REACT, NULL, NULL, "♾️"), -1);
    (void)m;
    conv_fx_close(&f);
}
END_TEST

/* Free the engine first (shutdown gave up waiting for replies), then let the platform
 * answer everything it held, then close the rest. */
static void
close_engine_first(struct conv_fx *f)
{
    engine_free(f->engine);
    f->engine = f->broker->engine = NULL;
    fake_chat_release(f->fake);
    for (int i = 0; i < 50; i++) {
        uv_run(&f->acp.loop, UV_RUN_NOWAIT);
        usleep(2000);
    }
    conv_fx_free(f);
}

/* Whether the agent still runs a turn. */
static bool
agent_busy(struct conv_fx *f)
{
    struct pool_stats st;

    pool_stats(f->acp.pool, &st);
    return st.busy > 0;
}

/* Hold @kind (texts with @text), start a turn, wait until the agent is done, and
 * release the held answers after the engine is gone. */
static void
held_past_the_engine(enum fake_kind kind, const char *text, const char *prompt,
                     bool slow_turn_edits)
{
    struct conv_fx f;

    conv_fx_init(&f, NULL);
    conv_fx_start(&f);
    if (!slow_turn_edits)
        fake_chat_hold(f.fake, kind, text);
    conv_fx_mention(&f, "U1", prompt);
    if (slow_turn_edits) {
        /* The live message is up: hold its next edit. */
        ck_assert_int_ge(conv_fx_wait_call(&f, 5000, FAKE_EDIT, "chunk1", NULL, NULL), 0);
        fake_chat_hold(f.fake, kind, text);
    }
    /* The agent's part is over (the pool no longer holds the turn). */
    conv_fx_run(&f, 100);
    for (int i = 0; i < 500 && agent_busy(&f); i++)
        conv_fx_run(&f, 10);
    ck_assert(!agent_busy(&f));
    conv_fx_run(&f, 100);
    ck_assert_uint_ge(fake_chat_held(f.fake), 1);
    close_engine_first(&f);
}

START_TEST(send_completes_after_the_engine_is_gone)
{
    held_past_the_engine(FAKE_SEND, NULL, "hello", false);
}
END_TEST

START_TEST(edit_completes_after_the_engine_is_gone)
{
    held_past_the_engine(FAKE_EDIT, NULL, "[[slow 5]] [[tick 50]]", true);
}
END_TEST

START_TEST(reaction_completes_after_the_engine_is_gone)
{
    held_past_the_engine(FAKE_REACT, NULL, "hello", false);
}
END_TEST

START_TEST(reaction_removal_completes_after_the_engine_is_gone)
{
    held_past_the_engine(FAKE_UNREACT, NULL, "hello", false);
}
END_TEST

START_TEST(open_thread_completes_after_the_engine_is_gone)
{
    struct conv_fx f;

    conv_fx_init(&f, NULL);
    conv_fx_start(&f);
    fake_chat_hold(f.fake, FAKE_OPEN_THREAD, NULL);
    conv_fx_mention(&f, "U1", "hello");
    ck_assert_int_ge(conv_fx_wait_call(&f, 5000, FAKE_OPEN_THREAD, NULL, NULL, NULL), 0);
    ck_assert_uint_eq(fake_chat_held(f.fake), 1);
    close_engine_first(&f);
}
END_TEST

/* What a chat completion saw. */
struct seen {
    bool is_inside; /* set while chat_send runs */
    bool done, done_inside;
    int status;
};

/* The send's completion. */
static void
seen_sent(void *arg, int status, const struct ab_msg_ref *ref)
{
    struct seen *s = arg;

    (void)ref;
    s->done = true;
    s->done_inside = s->is_inside;
    s->status = status;
}

/* A plugin refusing a post inside its send(): the owner still hears of it on a later
 * loop iteration, never inside chat_send(). */
START_TEST(refusal_inside_the_plugin_is_reported_later)
{
    struct conv_fx f;
    struct chat_owner owner = {0};
    struct seen s = {0};

    conv_fx_init(&f, NULL);
    conv_fx_start(&f);
    fake_chat_refuse(f.fake, FAKE_SEND, AB_EINVAL, 1);
    s.is_inside = true;
    ck_assert_int_eq(chat_send(f.ci, CONV_FX_CHANNEL, NULL, "hello", RATELIMIT_FINAL_TEXT, &owner,
                               seen_sent, &s),
                     0);
    s.is_inside = false;
    ck_assert_msg(!s.done_inside, "the completion ran inside chat_send");
    for (int i = 0; i < 100 && !s.done; i++)
        conv_fx_run(&f, 10);
    ck_assert(s.done);
    ck_assert_int_eq(s.status, AB_EINVAL);
    chat_owner_detach(&owner);
    conv_fx_close(&f);
}
END_TEST

int
main(void)
{
    const TTest *tests[] = {
        question_posted_after_its_turn_ended,
        send_completes_after_the_engine_is_gone,
        edit_completes_after_the_engine_is_gone,
        reaction_completes_after_the_engine_is_gone,
        reaction_removal_completes_after_the_engine_is_gone,
        open_thread_completes_after_the_engine_is_gone,
        refusal_inside_the_plugin_is_reported_later,
        NULL,
    };

    return check_run_list("conv_lifetime", 30, tests);
}
