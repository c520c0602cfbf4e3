/* Decisions per second over 1M synthetic messages against a baseline loop that only
 * hashes each event id, measured in the same run. Prints a small table. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_clock.h"
#include "policy/policy.h"

#define BENCH_MESSAGES 1000000u
#define BENCH_THREADS 2000u
#define BENCH_ID_LEN 24

/* The baseline's work per message: FNV-1a over the event id. */
static uint64_t
bench_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    while (*s) {
        h ^= (unsigned char)*s++;
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* A config like a busy team's: two channels, 50 users, two trusted bots. */
static int
bench_config(struct policy_config *cfg)
{
    static char *channels[] = {"100", "101"};
    static char *bots[] = {"b1", "b2"};
    static char users[50][8];
    static char *user_ptrs[50];

    policy_config_default(cfg);
    for (int i = 0; i < 50; i++) {
        snprintf(users[i], sizeof(users[i]), "u%d", i);
        user_ptrs[i] = users[i];
    }
    cfg->allowed_channels = channels;
    cfg->allowed_channel_count = 2;
    cfg->allowed_users = user_ptrs;
    cfg->allowed_user_count = 50;
    cfg->allow_bot_messages = POLICY_BOTS_MENTIONS;
    cfg->trusted_bot_ids = bots;
    cfg->trusted_bot_count = 2;
    cfg->max_bot_turns = 20;
    return 0;
}

int
main(void)
{
    static const char *const senders[] = {"u1", "u7", "u49", "u77", "b1", "b3", "42"};
    struct policy_config cfg;
    struct policy *p;
    struct ab_inbound *msgs;
    char *ids;
    uint64_t t0, base_ns, pol_ns, sink = 0, verdicts[4] = {0};
    struct policy_decision d;
    char thread_ids[BENCH_THREADS][12];

    bench_config(&cfg);
    if (policy_new(&cfg, &p) < 0)
        return 1;
    msgs = calloc(BENCH_MESSAGES, sizeof(*msgs));
    ids = calloc(BENCH_MESSAGES, BENCH_ID_LEN);
    if (!msgs || !ids)
        return 1;
    for (unsigned t = 0; t < BENCH_THREADS; t++)
        snprintf(thread_ids[t], sizeof(thread_ids[t]), "t%u", t);
    srand(7);
    for (unsigned i = 0; i < BENCH_MESSAGES; i++) {
        struct ab_inbound *m = &msgs[i];
        char *id = ids + (size_t)i * BENCH_ID_LEN;
        unsigned r = (unsigned)rand() % 100, who = (unsigned)rand() % 7;
        const char *thread = thread_ids[(unsigned)rand() % BENCH_THREADS];

        /* 5% are redeliveries of the previous event. */
        if (r < 5 && i > 0)
            memcpy(id, ids + (size_t)(i - 1) * BENCH_ID_LEN, BENCH_ID_LEN);
        else
            snprintf(id, BENCH_ID_LEN, "%u", 1000000000u + i);
        m->size = sizeof(*m);
        m->message_id = id;
        m->sender_id = senders[who];
        m->text = "please look at the failing test";
        m->is_bot = who >= 4;
        m->is_self = who == 6;
        m->is_human_turn = true;
        m->mentions_bot = r % 10 == 0;
        if (r < 15) { /* top level in a channel, one in three outside the list */
            m->channel_id = r % 3 ? "100" : "555";
            m->conversation = id;
        } else { /* inside a thread */
            m->channel_id = thread;
            m->parent_id = r % 20 ? "101" : "555";
            m->conversation = thread;
            m->is_thread = true;
        }
    }
    for (unsigned t = 0; t < BENCH_THREADS; t += 2) {
        char key[32];

        snprintf(key, sizeof(key), "discord:%.11s", thread_ids[t]);
        policy_mark_involved(p, key);
    }

    t0 = bench_clock_ns();
    for (unsigned i = 0; i < BENCH_MESSAGES; i++)
        sink += bench_hash(msgs[i].message_id);
    base_ns = bench_clock_ns() - t0;

    t0 = bench_clock_ns();
    for (unsigned i = 0; i < BENCH_MESSAGES; i++) {
        if (policy_decide(p, "discord", &msgs[i], i, &d) < 0)
            return 1;
        verdicts[d.verdict]++;
    }
    pol_ns = bench_clock_ns() - t0;

    printf("%-28s %12s %10s %8s\n", "loop", "per second", "ns/msg", "ratio");
    printf("%-28s %12.0f %10.1f %8.2f\n", "baseline (hash event id)",
           BENCH_MESSAGES / (base_ns / 1e9), (double)base_ns / BENCH_MESSAGES, 1.0);
    printf("%-28s %12.0f %10.1f %8.2f\n", "policy_decide", BENCH_MESSAGES / (pol_ns / 1e9),
           (double)pol_ns / BENCH_MESSAGES, (double)pol_ns / (double)base_ns);
    printf("verdicts: accept %" PRIu64 ", ignore %" PRIu64 ", deny %" PRIu64 ", cap notice %" PRIu64
           " (sink %" PRIx64 ")\n",
           verdicts[POLICY_ACCEPT], verdicts[POLICY_IGNORE], verdicts[POLICY_DENY_USER],
           verdicts[POLICY_BOT_CAP_NOTICE], sink & 0xff);
    policy_free(p);
    free(msgs);
    free(ids);
    return 0;
}
