/* Rate facts crossing the plugin boundary (ABI 1.3 rate_report): facts tied to an
 * operation travel with its completion; a 1.2-sized report and a pointer that names no
 * operation in flight are taken as reports about the plugin as a whole, never
 * dereferenced. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "../support/conv_fixture.h"
#include "host/host.h"
#include "../support/check_runner.h"

/* A 1.2 plugin's global 429 (its ab_rate_info ends before .op) pauses every operation
 * of the plugin for retry_after; a stray .op (not an operation in flight) changes
 * nothing else and is never followed. */
START_TEST(untied_and_old_sized_reports_pause_the_plugin)
{
    struct conv_fx f;
    struct ab_rate_info old = {
        .size = offsetof(struct ab_rate_info, op),
        .remaining = -1,
        .retry_after_ms = 800,
        .global = true,
    };
    struct ab_rate_info stray = {
        .size = sizeof(stray),
        .remaining = 5,
        .op = &stray, /* not an operation of the core's */
        .limit = -1,
    };
    uint64_t t0;
    int i;

    conv_fx_init(&f, NULL);
    conv_fx_start(&f);
    t0 = host_services.now_ms(f.ci->host);
    host_services.rate_report(f.ci->host, &old);
    host_services.rate_report(f.ci->host, &stray);
    conv_fx_mention(&f, "U1", "hello");
    i = conv_fx_wait_call(&f, 5000, FAKE_OPEN_THREAD, NULL, NULL, NULL);
    ck_assert_int_ge(i, 0);
    ck_assert_uint_ge(fake_chat_call(f.fake, (size_t)i)->at_ms, t0 + 800);
    /* the 👀 on the mention was held by the pause too */
    i = fake_chat_find(f.fake, 0, FAKE_REACT, NULL, NULL, NULL);
    ck_assert_int_ge(i, 0);
    ck_assert_uint_ge(fake_chat_call(f.fake, (size_t)i)->at_ms, t0 + 800);
    ck_assert(conv_fx_idle(&f, 10000));
    conv_fx_close(&f);
}
END_TEST

/* Every intermediate status emoji the default config shows. */
static const char *const rate_intermediates[] = {"👀", "🤔", "🔥", "👨‍💻",
                                                 "⚡", "🥱", "😨", NULL};

/* Whether message @id shows its final 🆗 and nothing of an earlier state, and no
 * intermediate emoji was added after the 🆗. */
static bool
rate_settled(const struct conv_fx *f, const char *id)
{
    const char *trail, *ok;
    char plus[32];

    if (!fake_chat_has_reaction(f->fake, id, "🆗"))
        return false;
    for (const char *const *e = rate_intermediates; *e; e++) {
        if (fake_chat_has_reaction(f->fake, id, *e))
            return false;
    }
    trail = fake_chat_trail(f->fake, id);
    ok = strstr(trail, "+🆗");
    for (const char *const *e = rate_intermediates; ok && *e; e++) {
        snprintf(plus, sizeof(plus), "+%s", *e);
        ck_assert_msg(!strstr(ok, plus), "%s added after the final on %s: %s", *e, id, trail);
    }
    return true;
}

/* Whether @emoji is one of an intermediate state. */
static bool
rate_is_intermediate(const char *emoji)
{
    for (const char *const *e = rate_intermediates; *e; e++) {
        if (strcmp(*e, emoji) == 0)
            return true;
    }
    return false;
}

/* When the 🆗 on message @id was sent (0: never). */
static uint64_t
rate_ok_at(const struct conv_fx *f, const char *id)
{
    for (size_t i = 0; i < fake_chat_count(f->fake); i++) {
        const struct fake_call *c = fake_chat_call(f->fake, i);
        if (c->kind == FAKE_REACT && c->status == 0 && strcmp(c->message_id, id) == 0 &&
            strcmp(c->emoji, "🆗") == 0)
            return c->at_ms;
    }
    return 0;
}

/* Intermediate reaction changes the route performed while message @id's final waited:
 * after the last text of its reply (thread @id; the 🆗 is queued at once after it, give
 * it @margin_ms) and before its 🆗. A removal on a message that already shows its 🆗 is
 * part of that final, not an intermediate. Sets *@lag to the 🆗's delay. */
static int
rate_overtaken(const struct conv_fx *f, const char *id, uint64_t margin_ms, uint64_t *lag)
{
    uint64_t text_at = 0, ok_at = rate_ok_at(f, id);
    int n = 0;

    for (size_t i = 0; i < fake_chat_count(f->fake); i++) {
        const struct fake_call *c = fake_chat_call(f->fake, i);
        if ((c->kind == FAKE_SEND || c->kind == FAKE_EDIT) && c->status == 0 && c->channel_id &&
            strcmp(c->channel_id, id) == 0)
            text_at = c->at_ms;
    }
    ck_assert_msg(text_at > 0 && ok_at > 0, "message %s: no reply or no 🆗", id);
    *lag = ok_at > text_at ? ok_at - text_at : 0;
    for (size_t i = 0; i < fake_chat_count(f->fake); i++) {
        const struct fake_call *c = fake_chat_call(f->fake, i);
        if ((c->kind != FAKE_REACT && c->kind != FAKE_UNREACT) || c->at_ms <= text_at + margin_ms ||
            c->at_ms >= ok_at || !rate_is_intermediate(c->emoji))
            continue;
        uint64_t other_ok = rate_ok_at(f, c->message_id);
        if (c->kind == FAKE_REACT || other_ok == 0 || other_ok > c->at_ms)
            n++;
    }
    return n;
}

/* Status reactions on a route with a budget (3 starts a second here, standing for
 * Slack's reactions.add ~50 a minute) and eight turns at once whose state flips
 * between working and 🥱 all through the turn (the agent pauses past the stall time
 * between chunks): a message's pending changes collapse to its newest state, a final
 * reaction goes ahead of every intermediate one on the route, and intermediates are
 * dropped when the budget cannot carry them. So while a message's 🆗 waits, the route
 * performs no intermediate change; every message ends with 🆗 and nothing older; the
 * mood faces follow once the budget has room. */
START_TEST(final_reactions_overtake_intermediates_on_a_budget)
{
    static const struct ab_rate_rule rules[] = {
        {.size = sizeof(struct ab_rate_rule),
         .route_prefix = "react:",
         .limit = 3,
         .window_ms = 1000},
    };
    enum { TURNS = 8 };
    struct conv_fx f;
    const char *ids[TURNS];
    uint64_t lag, worst = 0;
    int i, overtaken = 0;

    conv_fx_init(&f, NULL);
    f.ecfg.reactions.stall_soft_ms = 250;
    f.ecfg.reactions.stall_hard_ms = 500;
    f.rate_rules = rules;
    f.rate_rule_count = 1;
    conv_fx_start(&f);
    for (i = 0; i < TURNS; i++)
        ids[i] = conv_fx_mention(&f, "U1", "look [[tool]] [[stream 12]] [[tick 400]]");
    ck_assert(conv_fx_idle(&f, 120000));
    for (i = 0; i < TURNS; i++) {
        ck_assert_msg(rate_settled(&f, ids[i]), "message %s: %s", ids[i],
                      fake_chat_trail(f.fake, ids[i]));
        overtaken += rate_overtaken(&f, ids[i], 100, &lag);
        worst = lag > worst ? lag : worst;
    }
    ck_assert_msg(overtaken == 0,
                  "%d intermediate changes went while a final waited (a 🆗 waited %llu ms)",
                  overtaken, (unsigned long long)worst);
    /* nothing is lost once the budget has room: every mood face arrives */
    for (i = 0; i < TURNS; i++) {
        uv_update_time(&f.acp.loop);
        uint64_t end = uv_now(&f.acp.loop) + 30000;
        while (!fake_chat_has_reaction(f.fake, ids[i], "😊") && uv_now(&f.acp.loop) < end)
            conv_fx_run(&f, 50);
        ck_assert_msg(rate_settled(&f, ids[i]) && fake_chat_has_reaction(f.fake, ids[i], "😊"),
                      "message %s: %s", ids[i], fake_chat_trail(f.fake, ids[i]));
    }
    conv_fx_close(&f);
}
END_TEST

int
main(void)
{
    const TTest *tests[] = {
        untied_and_old_sized_reports_pause_the_plugin,
        final_reactions_overtake_intermediates_on_a_budget,
        NULL,
    };

    return check_run_list("conv_rate", 60, tests);
}
