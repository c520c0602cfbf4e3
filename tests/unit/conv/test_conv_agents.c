/* Several agents behind one engine: routing by channel (threads follow their parent),
 * by a name prefix (cut from the prompt), by a mentioned role, else the default; a
 * conversation keeps its agent, also once its record is forgotten (the pool that knows
 * its key decides, as after a restart); engine_set_agent switches it. */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include <agent-broker/errors.h>

#include "../support/check_runner.h"
#include "../support/conv_fixture.h"

/* The fixture with agents "codex" and "claude", channel C2 routed to codex, role R7 to
 * claude. */
static void
start_two_agents(struct conv_fx *f)
{
    conv_fx_init(f, NULL);
    conv_fx_add_agent(f, "codex");
    conv_fx_add_agent(f, "claude");
    conv_fx_route(f, "C2", NULL, "codex");
    conv_fx_route(f, NULL, "R7", "claude");
    conv_fx_start(f);
}

/* Prompt @n's text block as agent @name received it (owned). */
static char *
prompt_text(const struct conv_fx *f, const char *name, int n)
{
    char *t = conv_fx_agent_prompt_block(f, name, n, 1);

    ck_assert_msg(t != NULL, "agent %s got no prompt %d", name, n);
    return t;
}

START_TEST(channel_route_prefix_role_and_default)
{
    struct conv_fx f;
    char *t;

    start_two_agents(&f);
    conv_fx_mention_in(&f, "C2", NULL, "U1", "in the codex channel");
    ck_assert(conv_fx_idle(&f, 15000));
    conv_fx_mention(&f, "U1", "claude: review this please");
    ck_assert(conv_fx_idle(&f, 15000));
    conv_fx_mention_in(&f, CONV_FX_CHANNEL, "R7", "U1", "with a role");
    ck_assert(conv_fx_idle(&f, 15000));
    conv_fx_mention(&f, "U2", "plain question");
    ck_assert(conv_fx_idle(&f, 15000));
    /* a channel route wins over a prefix */
    conv_fx_mention_in(&f, "C2", NULL, "U1", "claude: still codex here");
    ck_assert(conv_fx_idle(&f, 15000));

    ck_assert_int_eq(conv_fx_agent_prompts(&f, "codex"), 2);
    ck_assert_int_eq(conv_fx_agent_prompts(&f, "claude"), 2);
    ck_assert_int_eq(conv_fx_agent_prompts(&f, "default"), 1);
    t = prompt_text(&f, "codex", 0);
    ck_assert_str_eq(t, "in the codex channel");
    free(t);
    t = prompt_text(&f, "codex", 1);
    ck_assert_str_eq(t, "claude: still codex here"); /* not cut: the prefix did not decide */
    free(t);
    t = prompt_text(&f, "claude", 0);
    ck_assert_str_eq(t, "review this please"); /* the prefix is cut */
    free(t);
    t = prompt_text(&f, "claude", 1);
    ck_assert_str_eq(t, "with a role");
    free(t);
    t = prompt_text(&f, "default", 0);
    ck_assert_str_eq(t, "plain question");
    free(t);
    ck_assert_ptr_null(engine_agent_of(f.engine, f.ci, "no-such-thread"));
    conv_fx_close(&f);
}
END_TEST

START_TEST(thread_keeps_its_agent_also_after_its_record_is_forgotten)
{
    struct conv_fx f;
    const char *m;
    char *t;

    conv_fx_init(&f, NULL);
    f.ecfg.conv_idle_ms = 300; /* forget idle conversation records fast */
    conv_fx_add_agent(&f, "codex");
    conv_fx_start(&f);
    m = conv_fx_mention(&f, "U1", "Codex:   start here");
    ck_assert(conv_fx_idle(&f, 15000));
    ck_assert_str_eq(engine_agent_of(f.engine, f.ci, m), "codex");
    conv_fx_follow_up(&f, m, "U1", "a follow-up without prefix");
    ck_assert(conv_fx_idle(&f, 15000));
    conv_fx_run(&f, 1500); /* the record goes; the pool keeps the session */
    ck_assert_ptr_null(engine_agent_of(f.engine, f.ci, m));
    conv_fx_follow_up(&f, m, "U2", "after the record was forgotten");
    ck_assert(conv_fx_idle(&f, 15000));
    ck_assert_int_eq(conv_fx_agent_prompts(&f, "codex"), 3);
    ck_assert_int_eq(conv_fx_agent_prompts(&f, "default"), 0);
    t = prompt_text(&f, "codex", 0);
    ck_assert_str_eq(t, "start here");
    free(t);
    t = prompt_text(&f, "codex", 2);
    ck_assert_str_eq(t, "after the record was forgotten");
    free(t);
    conv_fx_close(&f);
}
END_TEST

START_TEST(set_agent_switches_a_conversation_from_its_next_turn)
{
    struct conv_fx f;
    const char *m;

    start_two_agents(&f);
    m = conv_fx_mention(&f, "U1", "hello default");
    ck_assert(conv_fx_idle(&f, 15000));
    ck_assert_str_eq(engine_agent_of(f.engine, f.ci, m), "default");
    ck_assert_int_eq(engine_set_agent(f.engine, f.ci, m, "nope"), AB_ENOENT);
    ck_assert_int_eq(engine_set_agent(f.engine, f.ci, "no-such-thread", "codex"), AB_ENOENT);
    ck_assert_int_eq(engine_set_agent(f.engine, f.ci, m, "codex"), 0);
    ck_assert_str_eq(engine_agent_of(f.engine, f.ci, m), "codex");
    conv_fx_follow_up(&f, m, "U1", "now codex");
    ck_assert(conv_fx_idle(&f, 15000));
    ck_assert_int_eq(conv_fx_agent_prompts(&f, "default"), 1);
    ck_assert_int_eq(conv_fx_agent_prompts(&f, "codex"), 1);
    conv_fx_close(&f);
}
END_TEST

START_TEST(set_agent_waits_for_a_running_turn)
{
    struct conv_fx f;
    const char *m;

    start_two_agents(&f);
    m = conv_fx_mention(&f, "U1", "[[slow 20]] [[tick 100]] slow one");
    ck_assert_int_ge(conv_fx_wait_call(&f, 5000, FAKE_OPEN_THREAD, NULL, NULL, NULL), 0);
    conv_fx_run(&f, 300);
    ck_assert_int_eq(engine_set_agent(f.engine, f.ci, m, "codex"), AB_EAGAIN);
    ck_assert(conv_fx_idle(&f, 15000));
    ck_assert_int_eq(engine_set_agent(f.engine, f.ci, m, "codex"), 0);
    conv_fx_close(&f);
}
END_TEST

/* Run until agent @name has @n prompts; false after @ms. */
static bool
wait_prompts(struct conv_fx *f, const char *name, int n, uint64_t ms)
{
    for (uint64_t waited = 0; waited < ms; waited += 50) {
        if (conv_fx_agent_prompts(f, name) >= n)
            return true;
        conv_fx_run(f, 50);
    }
    return conv_fx_agent_prompts(f, name) >= n;
}

START_TEST(a_full_pool_does_not_hold_back_another_agents_conversations)
{
    struct conv_fx f;

    conv_fx_init(&f, NULL);
    f.acp.cfg.max_sessions = 1; /* every agent's pool: one live session */
    f.ecfg.max_sessions = 1;
    f.ecfg.pool_queue_max = 10;
    f.ecfg.pool_queue_wait_ms = 60000;
    f.ecfg.pool_queue_notice_ms = 60000;
    conv_fx_add_agent(&f, "codex");
    conv_fx_route(&f, "C2", NULL, "codex");
    conv_fx_start(&f);
    conv_fx_mention(&f, "U1", "[[slow 120]] [[tick 100]] long one"); /* default, 12 s */
    ck_assert(wait_prompts(&f, "default", 1, 30000));
    conv_fx_mention(&f, "U2", "waits for the default's only session");
    conv_fx_run(&f, 200);
    conv_fx_mention_in(&f, "C2", NULL, "U1", "codex has a free session");
    /* codex answers while the default's line still waits */
    ck_assert(wait_prompts(&f, "codex", 1, 10000)); /* an agent start: slow under memcheck */
    ck_assert_int_eq(conv_fx_agent_prompts(&f, "default"), 1);
    ck_assert(conv_fx_idle(&f, 60000));
    ck_assert_int_eq(conv_fx_agent_prompts(&f, "default"), 2);
    conv_fx_close(&f);
}
END_TEST

int
main(void)
{
    const TTest *tests[] = {
        channel_route_prefix_role_and_default,
        thread_keeps_its_agent_also_after_its_record_is_forgotten,
        set_agent_switches_a_conversation_from_its_next_turn,
        set_agent_waits_for_a_running_turn,
        a_full_pool_does_not_hold_back_another_agents_conversations,
        NULL,
    };

    return check_run_list("conv_agents", 180, tests);
}
