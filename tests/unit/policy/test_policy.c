/* The inbound policy, rule by rule, with Discord- and Slack-shaped messages. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#include "policy/policy.h"
#include "../support/check_runner.h"

/* A message as a test states it; unset fields get Discord-like defaults. */
struct spec {
    const char *conversation; /* default: the thread, else the message id */
    const char *channel;      /* default "100" (the allowed channel) */
    const char *thread;       /* set: posted in this thread under `channel` */
    const char *message;      /* default: a fresh id */
    const char *event;
    const char *sender; /* default "u1" */
    const char *text;   /* default "hello" */
    const char *const *roles;
    size_t role_count;
    bool dm, bot, self, mention, system, ours;
};

static struct policy_config cfg;
static struct policy *pol;
static unsigned seq;
static uint64_t clock_ms;

/* Fresh defaults for every test; the test adjusts cfg, then calls start(). */
static void
setup(void)
{
    policy_config_default(&cfg);
    pol = NULL;
    seq = 0;
    clock_ms = 1000;
}

static void
teardown(void)
{
    policy_free(pol);
    policy_config_release(&cfg);
}

static void
start(void)
{
    ck_assert_int_eq(policy_new(&cfg, &pol), 0);
}

/* Replace one config list with the NULL-terminated ids given. */
static void
set_list(char ***list, size_t *count, ...)
{
    va_list ap;
    const char *id;

    for (size_t i = 0; i < *count; i++)
        free((*list)[i]);
    free(*list);
    *list = NULL;
    *count = 0;
    va_start(ap, count);
    while ((id = va_arg(ap, const char *))) {
        *list = realloc(*list, (*count + 1) * sizeof(**list));
        (*list)[(*count)++] = strdup(id);
    }
    va_end(ap);
}

/* Run one message through the policy as plugin @platform. */
static struct policy_decision
say(const char *platform, struct spec s)
{
    struct policy_decision d;
    char idbuf[32];
    struct ab_inbound m = {.size = sizeof(m)};

    if (!s.message) {
        snprintf(idbuf, sizeof(idbuf), "9%05u", ++seq);
        s.message = idbuf;
    }
    m.channel_id = s.thread ? s.thread : s.channel ? s.channel : "100";
    m.parent_id = s.thread ? (s.channel ? s.channel : "100") : NULL;
    m.conversation = s.conversation ? s.conversation : s.thread ? s.thread : s.message;
    m.message_id = s.message;
    m.event_id = s.event;
    m.sender_id = s.sender ? s.sender : "u1";
    m.sender_name = "someone";
    m.text = s.text ? s.text : "hello";
    m.role_ids = s.roles;
    m.role_count = s.role_count;
    m.is_thread = s.thread != NULL;
    m.is_dm = s.dm;
    m.is_bot = s.bot; /* a plugin may set is_self alone */
    m.is_self = s.self;
    m.mentions_bot = s.mention;
    m.is_human_turn = !s.system;
    m.thread_is_ours = s.ours;
    ck_assert_int_eq(policy_decide(pol, platform, &m, clock_ms++, &d), 0);
    return d;
}

#define DISCORD(...) say("discord", (struct spec){__VA_ARGS__})
#define SLACK(...) say("slack", (struct spec){__VA_ARGS__})

/* Assert the verdict (unless -1) and the reason (unless NULL); returns the decision. */
static struct policy_decision
expect(struct policy_decision d, int verdict, const char *reason)
{
    if (verdict >= 0)
        ck_assert_msg((int)d.verdict == verdict, "verdict %s (%s), expected %s",
                      policy_verdict_name(d.verdict), d.reason,
                      policy_verdict_name((enum policy_verdict)verdict));
    if (reason)
        ck_assert_str_eq(d.reason, reason);
    return d;
}

/* Hand the edited cfg to the running policy, as SIGHUP does. */
static void
reload(void)
{
    ck_assert_int_eq(policy_set_config(pol, &cfg), 0);
}

/* Bot-turn count remembered for @key. */
static uint32_t
bot_turns(const char *key)
{
    struct policy_conversation_info info;

    ck_assert_int_eq(policy_conversation(pol, key, &info), 0);
    return info.bot_turns;
}

START_TEST(mention_in_allowed_channel_opens_thread)
{
    struct policy_conversation_info info;
    struct policy_decision d;

    set_list(&cfg.allowed_channels, &cfg.allowed_channel_count, "100", NULL);
    start();
    d = expect(DISCORD(.message = "555", .mention = true, .text = "<@42> fix the build"),
               POLICY_ACCEPT, NULL);
    ck_assert(d.opens_thread);
    ck_assert_str_eq(d.key, "discord:555");
    ck_assert_str_eq(d.reason, "mention");
    ck_assert_int_eq(policy_conversation(pol, "discord:555", &info), 0);
    ck_assert(info.involved);
}
END_TEST

START_TEST(message_without_mention_is_ignored)
{
    start();
    expect(DISCORD(.text = "just chatting"), POLICY_IGNORE, "not mentioned");
}
END_TEST

START_TEST(follow_up_in_involved_thread_needs_no_mention)
{
    struct policy_decision d;

    start();
    ck_assert_int_eq(policy_mark_involved(pol, "discord:1200"), 0);
    d = expect(DISCORD(.thread = "1200", .text = "and now the tests?"), POLICY_ACCEPT, NULL);
    ck_assert(!d.opens_thread);
    ck_assert_str_eq(d.key, "discord:1200");
    ck_assert_str_eq(d.reason, "follow-up in involved thread");
    /* The plugin's own knowledge counts too. */
    d = expect(DISCORD(.thread = "1300", .ours = true), POLICY_ACCEPT, NULL);
}
END_TEST

START_TEST(follow_up_in_uninvolved_thread_is_ignored)
{
    start();
    policy_mark_involved(pol, "discord:1200");
    expect(DISCORD(.thread = "1201", .text = "not for you"), POLICY_IGNORE,
           "not mentioned and not involved in this thread");
    /* Involvement is per platform: the same id on Slack is another conversation. */
    expect(SLACK(.thread = "1200", .channel = "C1", .conversation = "1200"), POLICY_IGNORE, NULL);
}
END_TEST

START_TEST(mention_in_any_thread_answers_and_marks_involved)
{
    struct policy_decision d;

    start();
    d = expect(DISCORD(.thread = "1400", .mention = true), POLICY_ACCEPT, NULL);
    ck_assert(!d.opens_thread);
    d = expect(DISCORD(.thread = "1400", .sender = "u2", .text = "and also"), POLICY_ACCEPT,
               "follow-up in involved thread");
}
END_TEST

START_TEST(mentions_mode_requires_mention_even_in_involved_thread)
{
    cfg.allow_user_messages = POLICY_USERS_MENTIONS;
    start();
    policy_mark_involved(pol, "discord:1200");
    expect(DISCORD(.thread = "1200"), POLICY_IGNORE,
           "mention required (allow_user_messages = mentions)");
    expect(DISCORD(.thread = "1200", .mention = true), POLICY_ACCEPT, NULL);
}
END_TEST

START_TEST(user_outside_allowlist_gets_denied)
{
    set_list(&cfg.allowed_users, &cfg.allowed_user_count, "u1", "u3", NULL);
    start();
    expect(DISCORD(.sender = "u2", .mention = true), POLICY_DENY_USER, "user not in allowed_users");
    /* No trigger, no reaction: chatter from strangers stays silent. */
    expect(DISCORD(.sender = "u2"), POLICY_IGNORE, NULL);
    /* A follow-up in an involved thread is a trigger too. */
    policy_mark_involved(pol, "discord:1200");
    expect(DISCORD(.thread = "1200", .sender = "u2"), POLICY_DENY_USER, NULL);
    expect(DISCORD(.sender = "u3", .mention = true), POLICY_ACCEPT, NULL);
}
END_TEST

START_TEST(denied_mention_does_not_mark_thread_involved)
{
    set_list(&cfg.allowed_users, &cfg.allowed_user_count, "u1", NULL);
    start();
    expect(DISCORD(.thread = "1500", .sender = "u2", .mention = true), POLICY_DENY_USER, NULL);
    expect(DISCORD(.thread = "1500", .sender = "u1"), POLICY_IGNORE, NULL);
}
END_TEST

START_TEST(empty_allowed_users_admits_everyone_unless_allow_all_false)
{
    start();
    expect(DISCORD(.sender = "anyone", .mention = true), POLICY_ACCEPT, NULL);

    cfg.allow_all_users = POLICY_ALLOW_ALL_FALSE;
    reload();
    expect(DISCORD(.sender = "anyone", .mention = true), POLICY_DENY_USER, NULL);

    /* allow_all_users = true wins over a list. */
    set_list(&cfg.allowed_users, &cfg.allowed_user_count, "u1", NULL);
    cfg.allow_all_users = POLICY_ALLOW_ALL_TRUE;
    reload();
    expect(DISCORD(.sender = "anyone", .mention = true), POLICY_ACCEPT, NULL);

    /* Omitted with a list: only the list. */
    cfg.allow_all_users = POLICY_ALLOW_ALL_UNSET;
    reload();
    expect(DISCORD(.sender = "anyone", .mention = true), POLICY_DENY_USER, NULL);
}
END_TEST

START_TEST(empty_allowed_channels_admits_every_channel_unless_allow_all_false)
{
    start();
    expect(DISCORD(.channel = "777", .mention = true), POLICY_ACCEPT, NULL);
    cfg.allow_all_channels = POLICY_ALLOW_ALL_FALSE;
    reload();
    expect(DISCORD(.channel = "777", .mention = true), POLICY_IGNORE, "channel not allowed");
}
END_TEST

START_TEST(channel_not_allowed_is_ignored)
{
    set_list(&cfg.allowed_channels, &cfg.allowed_channel_count, "100", "200", NULL);
    start();
    expect(DISCORD(.channel = "300", .mention = true), POLICY_IGNORE, "channel not allowed");
    expect(DISCORD(.channel = "200", .mention = true), POLICY_ACCEPT, NULL);
}
END_TEST

START_TEST(thread_under_disallowed_channel_ignored)
{
    /* The thread's own id is listed, but its parent is what is checked. */
    set_list(&cfg.allowed_channels, &cfg.allowed_channel_count, "100", "1600", NULL);
    start();
    expect(DISCORD(.channel = "999", .thread = "1600", .mention = true, .ours = true),
           POLICY_IGNORE, "thread under a channel not allowed");
    expect(DISCORD(.channel = "100", .thread = "1601", .mention = true), POLICY_ACCEPT, NULL);
}
END_TEST

START_TEST(role_mention_only_when_role_allowed)
{
    static const char *const roles[] = {"R1"};
    static const char *const other[] = {"R2", "R3"};
    start();
    expect(DISCORD(.roles = roles, .role_count = 1), POLICY_IGNORE, "not mentioned");

    set_list(&cfg.allowed_role_ids, &cfg.allowed_role_count, "R9", "R1", NULL);
    reload();
    expect(DISCORD(.roles = roles, .role_count = 1), POLICY_ACCEPT, "mention");
    expect(DISCORD(.roles = other, .role_count = 2), POLICY_IGNORE, NULL);
}
END_TEST

START_TEST(dm_requires_allow_dm)
{
    struct policy_decision d;

    start();
    d = expect(DISCORD(.channel = "D1", .dm = true, .text = "hi"), POLICY_IGNORE,
               "direct messages disabled (allow_dm = false)");

    cfg.allow_dm = true;
    set_list(&cfg.allowed_channels, &cfg.allowed_channel_count, "100", NULL);
    set_list(&cfg.allowed_users, &cfg.allowed_user_count, "u1", NULL);
    reload();
    /* No mention needed, the channel allowlist does not apply, allowed_users does. */
    d = expect(DISCORD(.channel = "D1", .conversation = "D1", .dm = true), POLICY_ACCEPT, NULL);
    ck_assert(!d.opens_thread);
    ck_assert_str_eq(d.key, "discord:D1");
    ck_assert_str_eq(d.reason, "direct message");
    d = expect(DISCORD(.channel = "D2", .dm = true, .sender = "u2"), POLICY_DENY_USER, NULL);
}
END_TEST

START_TEST(own_messages_counted_but_never_answered)
{
    start();
    policy_mark_involved(pol, "discord:1200");
    for (int i = 0; i < 3; i++) {
        expect(DISCORD(.thread = "1200", .self = true, .mention = true, .sender = "42"),
               POLICY_IGNORE, "own message");
    }
    ck_assert_uint_eq(bot_turns("discord:1200"), 3);
    /* The bot's own messages do not make a thread multi-bot. */
    ck_assert(!policy_is_multibot(pol, "discord:1200"));
}
END_TEST

START_TEST(bot_messages_ignored_when_off)
{
    start();
    expect(DISCORD(.bot = true, .sender = "b1", .mention = true), POLICY_IGNORE,
           "bot messages not allowed (allow_bot_messages = off)");
}
END_TEST

START_TEST(bot_mentions_mode_answers_only_mentions)
{
    cfg.allow_bot_messages = POLICY_BOTS_MENTIONS;
    start();
    policy_mark_involved(pol, "discord:1200");
    expect(DISCORD(.thread = "1200", .bot = true, .sender = "b1"), POLICY_IGNORE,
           "bot did not mention the bot");
    expect(DISCORD(.thread = "1200", .bot = true, .sender = "b1", .mention = true), POLICY_ACCEPT,
           NULL);
}
END_TEST

START_TEST(bot_all_mode_follows_up_like_a_user)
{
    cfg.allow_bot_messages = POLICY_BOTS_ALL;
    /* The user allowlist does not gate bots: they have their own gate. */
    set_list(&cfg.allowed_users, &cfg.allowed_user_count, "u1", NULL);
    start();
    policy_mark_involved(pol, "discord:1200");
    expect(DISCORD(.thread = "1200", .bot = true, .sender = "b1"), POLICY_ACCEPT, NULL);
    expect(DISCORD(.thread = "1299", .bot = true, .sender = "b1"), POLICY_IGNORE, NULL);
}
END_TEST

START_TEST(trusted_bot_ids_admit_only_those_bots)
{
    cfg.allow_bot_messages = POLICY_BOTS_MENTIONS;
    set_list(&cfg.trusted_bot_ids, &cfg.trusted_bot_count, "b1", NULL);
    start();
    expect(DISCORD(.bot = true, .sender = "b2", .mention = true), POLICY_IGNORE,
           "bot not in trusted_bot_ids");
    expect(DISCORD(.bot = true, .sender = "b1", .mention = true), POLICY_ACCEPT, NULL);
}
END_TEST

START_TEST(bot_loop_capped_and_human_resets)
{
    cfg.allow_bot_messages = POLICY_BOTS_ALL;
    cfg.max_bot_turns = 4;
    start();
    policy_mark_involved(pol, "discord:1200");
    /* Two bots ping-pong: theirs and ours both count. */
    for (int i = 0; i < 2; i++) {
        expect(DISCORD(.thread = "1200", .bot = true, .sender = "b1"), POLICY_ACCEPT, NULL);
        DISCORD(.thread = "1200", .self = true, .sender = "42");
    }
    ck_assert_uint_eq(bot_turns("discord:1200"), 4);
    expect(DISCORD(.thread = "1200", .bot = true, .sender = "b1"), POLICY_BOT_CAP_NOTICE,
           "bot turn cap reached");
    expect(DISCORD(.thread = "1200", .bot = true, .sender = "b1"), POLICY_IGNORE,
           "bot turn cap reached");

    /* Neither a system message nor an empty human message resets the count. */
    expect(DISCORD(.thread = "1200", .system = true, .text = "pinned a message"), -1,
           "system message");
    DISCORD(.thread = "1200", .text = "");
    expect(DISCORD(.thread = "1200", .bot = true, .sender = "b1"), POLICY_IGNORE, NULL);

    /* A real human message does, and the warning may come again next time. */
    expect(DISCORD(.thread = "1200", .text = "ok bots, one more round"), POLICY_ACCEPT, NULL);
    ck_assert_uint_eq(bot_turns("discord:1200"), 0);
    for (int i = 0; i < 4; i++)
        expect(DISCORD(.thread = "1200", .bot = true, .sender = "b1"), POLICY_ACCEPT, NULL);
    expect(DISCORD(.thread = "1200", .bot = true, .sender = "b1"), POLICY_BOT_CAP_NOTICE, NULL);
}
END_TEST

START_TEST(cap_notice_only_from_a_participating_bot)
{
    cfg.allow_bot_messages = POLICY_BOTS_MENTIONS;
    cfg.max_bot_turns = 1;
    start();
    /* Bots talk in a thread we are not part of; one mentions us past the cap. */
    DISCORD(.thread = "1700", .bot = true, .sender = "b1");
    expect(DISCORD(.thread = "1700", .bot = true, .sender = "b2", .mention = true), POLICY_IGNORE,
           "bot turn cap reached");
}
END_TEST

START_TEST(configured_cap_above_100_is_effective)
{
    struct policy_decision d;

    cfg.allow_bot_messages = POLICY_BOTS_ALL;
    cfg.max_bot_turns = 250;
    start();
    policy_mark_involved(pol, "discord:1200");
    for (int i = 0; i < 250; i++) {
        d = DISCORD(.thread = "1200", .bot = true, .sender = "b1");
        ck_assert_msg(d.verdict == POLICY_ACCEPT, "turn %d: %s", i + 1, d.reason);
    }
    d = expect(DISCORD(.thread = "1200", .bot = true, .sender = "b1"), POLICY_BOT_CAP_NOTICE, NULL);
}
END_TEST

START_TEST(multibot_mentions_requires_mention_once_another_bot_posted)
{
    cfg.allow_user_messages = POLICY_USERS_MULTIBOT;
    start();
    policy_mark_involved(pol, "discord:1200");
    expect(DISCORD(.thread = "1200"), POLICY_ACCEPT, "follow-up in involved thread");
    expect(DISCORD(.thread = "1200", .bot = true, .sender = "b1"), POLICY_IGNORE, NULL);
    expect(DISCORD(.thread = "1200"), POLICY_IGNORE,
           "mention required: another bot posted here (multibot-mentions)");
    expect(DISCORD(.thread = "1200", .mention = true), POLICY_ACCEPT, "mention");
}
END_TEST

START_TEST(first_other_bot_message_marks_multibot)
{
    struct policy_decision d;

    start();
    policy_mark_involved(pol, "discord:1200");
    d = DISCORD(.thread = "1200");
    ck_assert(!d.is_multibot);
    /* Marked before the bot gate, which ignores it. */
    d = expect(DISCORD(.thread = "1200", .bot = true, .sender = "b1"), POLICY_IGNORE, NULL);
    ck_assert(policy_is_multibot(pol, "discord:1200"));
    ck_assert(!policy_is_multibot(pol, "discord:1201"));
    d = expect(DISCORD(.thread = "1200", .text = "what do you think?"), POLICY_ACCEPT, NULL);
    ck_assert(d.is_multibot);
}
END_TEST

START_TEST(duplicate_event_handled_once)
{
    struct policy_stats st;

    start();
    /* Slack retries an envelope with the same event id. */
    expect(SLACK(.channel = "C1", .conversation = "C1:1700000000.000100",
                 .message = "1700000000.000100", .event = "Ev01ABC", .mention = true),
           POLICY_ACCEPT, NULL);
    expect(SLACK(.channel = "C1", .conversation = "C1:1700000000.000100",
                 .message = "1700000000.000100", .event = "Ev01ABC", .mention = true),
           POLICY_IGNORE, "duplicate event");
    /* Discord replays on resume: no event id, the message id dedupes, per channel. */
    expect(DISCORD(.message = "888", .mention = true), POLICY_ACCEPT, NULL);
    expect(DISCORD(.message = "888", .mention = true), -1, "duplicate event");
    expect(DISCORD(.message = "888", .channel = "101", .mention = true), POLICY_ACCEPT, NULL);
    /* The same id on another platform is another event. */
    expect(SLACK(.channel = "100", .message = "888", .mention = true), POLICY_ACCEPT, NULL);
    policy_get_stats(pol, &st);
    ck_assert_uint_eq(st.duplicates, 2);
    ck_assert_uint_eq(st.decided[POLICY_ACCEPT], 4);
}
END_TEST

START_TEST(dedupe_memory_bounded)
{
    struct policy_stats st;
    char ev[32];

    start();
    for (unsigned i = 0; i < POLICY_DEDUPE_ENTRIES + 1000; i++) {
        snprintf(ev, sizeof(ev), "Ev%u", i);
        expect(SLACK(.channel = "C1", .event = ev, .text = "chatter"), -1, "not mentioned");
    }
    policy_get_stats(pol, &st);
    ck_assert_uint_eq(st.dedupe_entries, POLICY_DEDUPE_ENTRIES);
    /* The oldest 1000 were forgotten, the newest 4096 are still suppressed. */
    expect(SLACK(.channel = "C1", .event = "Ev999", .text = "chatter"), -1, "not mentioned");
    snprintf(ev, sizeof(ev), "Ev%u", 1001u);
    expect(SLACK(.channel = "C1", .event = ev, .text = "chatter"), -1, "duplicate event");
    snprintf(ev, sizeof(ev), "Ev%u", POLICY_DEDUPE_ENTRIES + 999u);
    expect(SLACK(.channel = "C1", .event = ev, .text = "chatter"), -1, "duplicate event");
}
END_TEST

START_TEST(conversation_memory_bounded_least_recently_used_out)
{
    struct policy_stats st;
    char key[32];

    start();
    for (unsigned i = 0; i < POLICY_MAX_CONVERSATIONS; i++) {
        snprintf(key, sizeof(key), "discord:t%u", i);
        ck_assert_int_eq(policy_mark_involved(pol, key), 0);
    }
    /* Use t0 again: t1 is now the least recently used and goes first. */
    ck_assert_int_eq(DISCORD(.thread = "t0").verdict, POLICY_ACCEPT);
    ck_assert_int_eq(policy_mark_involved(pol, "discord:new"), 0);
    policy_get_stats(pol, &st);
    ck_assert_uint_eq(st.conversations, POLICY_MAX_CONVERSATIONS);
    ck_assert_uint_eq(st.conversation_evictions, 1);
    ck_assert_int_eq(DISCORD(.thread = "t1").verdict, POLICY_IGNORE);
    ck_assert_int_eq(DISCORD(.thread = "t0").verdict, POLICY_ACCEPT);
    ck_assert_int_eq(DISCORD(.thread = "t2").verdict, POLICY_ACCEPT);
    ck_assert_int_eq(DISCORD(.thread = "new").verdict, POLICY_ACCEPT);
}
END_TEST

START_TEST(missing_ids_ignored_fail_closed)
{
    static const struct {
        const char *field;
        const char *reason;
    } cases[] = {
        {"conversation", "missing conversation id"},
        {"channel", "missing channel id"},
        {"message", "missing message id"},
        {"sender", "missing sender id"},
        {"parent", "thread without a parent channel id"},
    };
    struct policy_decision d;

    start();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ab_inbound m = {
            .size = sizeof(m),
            .conversation = "1200",
            .channel_id = "1200",
            .parent_id = "100",
            .message_id = "1",
            .sender_id = "u1",
            .text = "x",
            .is_thread = true,
            .mentions_bot = true,
            .is_human_turn = true,
            .thread_is_ours = true,
        };
        if (strcmp(cases[i].field, "conversation") == 0)
            m.conversation = NULL;
        else if (strcmp(cases[i].field, "channel") == 0)
            m.channel_id = "";
        else if (strcmp(cases[i].field, "message") == 0)
            m.message_id = NULL;
        else if (strcmp(cases[i].field, "sender") == 0)
            m.sender_id = NULL;
        else
            m.parent_id = NULL;
        ck_assert_int_eq(policy_decide(pol, "discord", &m, 1, &d), 0);
        ck_assert_int_eq(d.verdict, POLICY_IGNORE);
        ck_assert_str_eq(d.reason, cases[i].reason);
    }
    {
        struct ab_inbound old = {.size = 8};

        ck_assert_int_eq(policy_decide(pol, "discord", &old, 1, &d), 0);
        ck_assert_int_eq(d.verdict, POLICY_IGNORE);
        ck_assert_str_eq(d.reason, "inbound message from a plugin built for an older ABI");
    }
}
END_TEST

START_TEST(bad_arguments_are_errors_not_crashes)
{
    struct ab_inbound m = {.size = sizeof(m)};
    struct policy_decision d;
    char longid[300];

    start();
    ck_assert_int_eq(policy_decide(NULL, "discord", &m, 0, &d), AB_EINVAL);
    ck_assert_int_eq(policy_decide(pol, NULL, &m, 0, &d), AB_EINVAL);
    ck_assert_int_eq(policy_decide(pol, "", &m, 0, &d), AB_EINVAL);
    ck_assert_int_eq(policy_decide(pol, "discord", NULL, 0, &d), AB_EINVAL);
    ck_assert_int_eq(policy_decide(pol, "discord", &m, 0, NULL), AB_EINVAL);
    ck_assert_int_eq(policy_mark_involved(pol, ""), AB_EINVAL);
    ck_assert_int_eq(policy_new(NULL, &pol), AB_EINVAL);
    memset(longid, '7', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    d = expect(DISCORD(.thread = longid, .mention = true), POLICY_IGNORE,
               "conversation id too long");
    ck_assert_str_eq(d.key, "");
    d = expect(DISCORD(.event = longid, .mention = true), -1, "event id too long");
    ck_assert_int_eq(policy_mark_involved(pol, longid), AB_EINVAL);
}
END_TEST

START_TEST(system_message_ignored)
{
    start();
    expect(DISCORD(.system = true, .mention = true, .text = "<@42> joined the thread"),
           POLICY_IGNORE, "system message");
}
END_TEST

START_TEST(reload_keeps_involvement_and_counters)
{
    cfg.allow_bot_messages = POLICY_BOTS_ALL;
    start();
    policy_mark_involved(pol, "discord:1200");
    DISCORD(.thread = "1200", .bot = true, .sender = "b1");
    DISCORD(.message = "444", .mention = true);
    cfg.max_bot_turns = 1;
    set_list(&cfg.allowed_users, &cfg.allowed_user_count, "u1", NULL);
    reload();
    ck_assert_uint_eq(bot_turns("discord:1200"), 1);
    expect(DISCORD(.thread = "1200", .bot = true, .sender = "b1"), POLICY_BOT_CAP_NOTICE, NULL);
    expect(DISCORD(.message = "444", .mention = true), -1, "duplicate event");
    expect(DISCORD(.thread = "1200", .sender = "u2", .text = "me too"), POLICY_DENY_USER, NULL);
}
END_TEST

START_TEST(slack_mention_then_thread_follow_up)
{
    struct policy_decision d;

    set_list(&cfg.allowed_channels, &cfg.allowed_channel_count, "C1", NULL);
    start();
    /* app_mention at top level: the reply goes to the thread rooted at its ts. */
    d = expect(SLACK(.channel = "C1", .conversation = "C1:1700000000.000100",
                     .message = "1700000000.000100", .event = "Ev1", .mention = true,
                     .sender = "U1"),
               POLICY_ACCEPT, NULL);
    ck_assert(d.opens_thread);
    ck_assert_str_eq(d.key, "slack:C1:1700000000.000100");
    /* A plain message in that thread (parent = the channel) is a follow-up. */
    d = expect(SLACK(.channel = "C1", .thread = "C1", .conversation = "C1:1700000000.000100",
                     .message = "1700000000.000200", .event = "Ev2", .sender = "U2"),
               POLICY_ACCEPT, NULL);
    ck_assert(!d.opens_thread);
    /* Another thread of the same channel is not ours. */
    d = expect(SLACK(.channel = "C1", .thread = "C1", .conversation = "C1:1700000000.000900",
                     .message = "1700000000.000901", .event = "Ev3", .sender = "U2"),
               POLICY_IGNORE, NULL);
    /* Nor is a channel outside the list. */
    d = expect(SLACK(.channel = "C2", .conversation = "C2:1", .message = "1", .mention = true), -1,
               "channel not allowed");
}
END_TEST

/* Collects warnings for the test to inspect. */
struct warnings {
    int n;
    char last[512];
    char all[2048];
};

static void
collect_warning(void *arg, const char *line)
{
    struct warnings *w = arg;

    w->n++;
    snprintf(w->last, sizeof(w->last), "%s", line);
    strncat(w->all, line, sizeof(w->all) - strlen(w->all) - 2);
    strcat(w->all, "\n");
}

START_TEST(warnings_name_each_list_that_admits_everyone)
{
    struct warnings w = {0};

    ck_assert_int_eq(policy_warnings(&cfg, "discord", collect_warning, &w), 2);
    ck_assert_str_eq(w.last, "[discord] allowed_users is empty: every user may talk to the "
                             "agent; set allow_all_users = false to deny");
    ck_assert_ptr_nonnull(strstr(w.all, "[discord] allowed_channels is empty: every channel"));

    memset(&w, 0, sizeof(w));
    set_list(&cfg.allowed_channels, &cfg.allowed_channel_count, "C1", NULL);
    set_list(&cfg.allowed_users, &cfg.allowed_user_count, "U1", NULL);
    ck_assert_int_eq(policy_warnings(&cfg, "slack", collect_warning, &w), 0);

    cfg.allow_all_users = POLICY_ALLOW_ALL_TRUE;
    cfg.allow_bot_messages = POLICY_BOTS_MENTIONS;
    ck_assert_int_eq(policy_warnings(&cfg, "slack", collect_warning, &w), 2);
    ck_assert_ptr_nonnull(strstr(w.all, "[slack] allow_all_users = true: allowed_users is "
                                        "ignored"));
    ck_assert_ptr_nonnull(strstr(w.last, "[slack] trusted_bot_ids is empty"));

    memset(&w, 0, sizeof(w));
    set_list(&cfg.allowed_users, &cfg.allowed_user_count, NULL);
    cfg.allow_all_users = POLICY_ALLOW_ALL_FALSE;
    cfg.allow_bot_messages = POLICY_BOTS_OFF;
    ck_assert_int_eq(policy_warnings(&cfg, "slack", collect_warning, &w), 1);
    ck_assert_ptr_nonnull(strstr(w.last, "no user may talk to the agent"));
}
END_TEST

START_TEST(config_keywords_parse_and_copies_are_deep)
{
    enum policy_user_messages um;
    enum policy_bot_messages bm;
    struct policy_config copy;

    ck_assert_int_eq(policy_user_messages_parse("mentions", &um), 0);
    ck_assert_int_eq(um, POLICY_USERS_MENTIONS);
    ck_assert_int_eq(policy_user_messages_parse("always", &um), AB_EINVAL);
    ck_assert_int_eq(policy_bot_messages_parse("all", &bm), 0);
    ck_assert_int_eq(bm, POLICY_BOTS_ALL);
    ck_assert_int_eq(policy_bot_messages_parse(NULL, &bm), AB_EINVAL);

    set_list(&cfg.allowed_users, &cfg.allowed_user_count, "u1", "u2", NULL);
    ck_assert_int_eq(policy_config_copy(&copy, &cfg), 0);
    ck_assert_ptr_ne(copy.allowed_users[0], cfg.allowed_users[0]);
    ck_assert_str_eq(copy.allowed_users[1], "u2");
    policy_config_release(&copy);
    ck_assert_uint_eq(copy.allowed_user_count, 0);
    ck_assert_uint_eq(copy.max_bot_turns, POLICY_DEFAULT_MAX_BOT_TURNS);
}
END_TEST

/* The policy keeps its own copy: the caller may free its config right away. */
START_TEST(policy_keeps_its_own_copy_of_the_config)
{
    set_list(&cfg.allowed_users, &cfg.allowed_user_count, "u1", NULL);
    start();
    policy_config_release(&cfg);
    expect(DISCORD(.sender = "u2", .mention = true), POLICY_DENY_USER, NULL);
}
END_TEST

static Suite *
policy_suite(void)
{
    Suite *s = suite_create("policy");
    TCase *tc = tcase_create("rules");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, mention_in_allowed_channel_opens_thread);
    tcase_add_test(tc, message_without_mention_is_ignored);
    tcase_add_test(tc, follow_up_in_involved_thread_needs_no_mention);
    tcase_add_test(tc, follow_up_in_uninvolved_thread_is_ignored);
    tcase_add_test(tc, mention_in_any_thread_answers_and_marks_involved);
    tcase_add_test(tc, mentions_mode_requires_mention_even_in_involved_thread);
    tcase_add_test(tc, user_outside_allowlist_gets_denied);
    tcase_add_test(tc, denied_mention_does_not_mark_thread_involved);
    tcase_add_test(tc, empty_allowed_users_admits_everyone_unless_allow_all_false);
    tcase_add_test(tc, empty_allowed_channels_admits_every_channel_unless_allow_all_false);
    tcase_add_test(tc, channel_not_allowed_is_ignored);
    tcase_add_test(tc, thread_under_disallowed_channel_ignored);
    tcase_add_test(tc, role_mention_only_when_role_allowed);
    tcase_add_test(tc, dm_requires_allow_dm);
    tcase_add_test(tc, own_messages_counted_but_never_answered);
    tcase_add_test(tc, bot_messages_ignored_when_off);
    tcase_add_test(tc, bot_mentions_mode_answers_only_mentions);
    tcase_add_test(tc, bot_all_mode_follows_up_like_a_user);
    tcase_add_test(tc, trusted_bot_ids_admit_only_those_bots);
    tcase_add_test(tc, bot_loop_capped_and_human_resets);
    tcase_add_test(tc, cap_notice_only_from_a_participating_bot);
    tcase_add_test(tc, configured_cap_above_100_is_effective);
    tcase_add_test(tc, first_other_bot_message_marks_multibot);
    tcase_add_test(tc, multibot_mentions_requires_mention_once_another_bot_posted);
    tcase_add_test(tc, duplicate_event_handled_once);
    tcase_add_test(tc, dedupe_memory_bounded);
    tcase_add_test(tc, conversation_memory_bounded_least_recently_used_out);
    tcase_add_test(tc, missing_ids_ignored_fail_closed);
    tcase_add_test(tc, bad_arguments_are_errors_not_crashes);
    tcase_add_test(tc, system_message_ignored);
    tcase_add_test(tc, reload_keeps_involvement_and_counters);
    tcase_add_test(tc, slack_mention_then_thread_follow_up);
    tcase_add_test(tc, warnings_name_each_list_that_admits_everyone);
    tcase_add_test(tc, config_keywords_parse_and_copies_are_deep);
    tcase_add_test(tc, policy_keeps_its_own_copy_of_the_config);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return check_run_suite(policy_suite());
}
