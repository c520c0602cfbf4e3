/* The routing decision's cost per message (route_pick: channel routes, name prefix,
 * role routes, default) over 1M synthetic first messages, against the policy decision
 * every message already pays, measured in the same run on the same messages. Five
 * agents, 20 channel routes and 5 role routes. Prints a small table. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_clock.h"
#include "conv/route.h"
#include "policy/policy.h"

#define BENCH_MESSAGES 1000000u
#define BENCH_ID_LEN 24
#define BENCH_CHANNEL_ROUTES 20
#define BENCH_ROLE_ROUTES 5

int
main(void)
{
    static const char *const names[] = {"default", "codex", "claude", "gemini", "kiro"};
    static const char *const texts[] = {
        "please look at the failing test",
        "codex: please look at the failing test",
        "  Claude:  review the pull request",
        "kiro fix the build",
    };
    static const char *const roles[] = {"role-3", "role-99"};
    struct route_table t = {0};
    struct route_choice rc;
    struct policy_config pcfg;
    struct policy *p;
    struct policy_decision d;
    struct ab_inbound *msgs;
    char *ids, channels[64][12], name[32];
    uint64_t t0, pol_ns, route_ns, why[4] = {0};

    for (int i = 0; i < BENCH_CHANNEL_ROUTES; i++) {
        snprintf(name, sizeof(name), "c%d", i);
        if (route_add(&t, name, NULL, 1 + (size_t)i % 4) < 0)
            return 1;
    }
    for (int i = 0; i < BENCH_ROLE_ROUTES; i++) {
        snprintf(name, sizeof(name), "role-%d", i);
        if (route_add(&t, NULL, name, 1 + (size_t)i % 4) < 0)
            return 1;
    }
    for (int i = 0; i < 64; i++) /* a third of the channels are routed */
        snprintf(channels[i], sizeof(channels[i]), "c%d", i < 21 ? i : 100 + i);
    policy_config_default(&pcfg);
    if (policy_new(&pcfg, &p) < 0)
        return 1;
    msgs = calloc(BENCH_MESSAGES, sizeof(*msgs));
    ids = calloc(BENCH_MESSAGES, BENCH_ID_LEN);
    if (!msgs || !ids)
        return 1;
    srand(11);
    for (unsigned i = 0; i < BENCH_MESSAGES; i++) {
        struct ab_inbound *m = &msgs[i];
        char *id = ids + (size_t)i * BENCH_ID_LEN;
        unsigned r = (unsigned)rand();

        snprintf(id, BENCH_ID_LEN, "%u", 1000000000u + i);
        *m = (struct ab_inbound){
            .size = sizeof(*m),
            .message_id = id,
            .conversation = id,
            .sender_id = "u1",
            .channel_id = channels[r % 64],
            .text = texts[(r >> 8) % 4],
            .is_human_turn = true,
            .mentions_bot = true,
            .role_ids = (r >> 12) % 4 == 0 ? roles : NULL,
            .role_count = (r >> 12) % 4 == 0 ? 2 : 0,
        };
    }

    t0 = bench_clock_ns();
    for (unsigned i = 0; i < BENCH_MESSAGES; i++)
        if (policy_decide(p, "discord", &msgs[i], i, &d) < 0)
            return 1;
    pol_ns = bench_clock_ns() - t0;

    t0 = bench_clock_ns();
    for (unsigned i = 0; i < BENCH_MESSAGES; i++) {
        const struct ab_inbound *m = &msgs[i];
        route_pick(&t, names, 5, 0, m->channel_id, m->role_ids, m->role_count, m->text, &rc);
        why[rc.why]++;
    }
    route_ns = bench_clock_ns() - t0;

    printf("%-28s %12s %10s %8s\n", "loop", "per second", "ns/msg", "ratio");
    printf("%-28s %12.0f %10.1f %8.2f\n", "baseline (policy_decide)",
           BENCH_MESSAGES / (pol_ns / 1e9), (double)pol_ns / BENCH_MESSAGES, 1.0);
    printf("%-28s %12.0f %10.1f %8.2f\n", "route_pick", BENCH_MESSAGES / (route_ns / 1e9),
           (double)route_ns / BENCH_MESSAGES, (double)route_ns / (double)pol_ns);
    printf("chosen by: channel %" PRIu64 ", prefix %" PRIu64 ", role %" PRIu64 ", default %" PRIu64
           "\n",
           why[ROUTE_CHANNEL], why[ROUTE_PREFIX], why[ROUTE_ROLE], why[ROUTE_DEFAULT]);
    route_table_free(&t);
    policy_free(p);
    free(msgs);
    free(ids);
    return 0;
}
