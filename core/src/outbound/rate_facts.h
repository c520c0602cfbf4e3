/* A plugin's rate facts (struct ab_rate_info, any ABI size) as the scheduler reads them:
 * the one translation shared by operations (conv/chat_instance.c) and the plugins' own
 * scheduled calls (host/host_sched.c). */
#ifndef AB_OUTBOUND_RATE_FACTS_H
#define AB_OUTBOUND_RATE_FACTS_H

#include <stdbool.h>
#include <stddef.h>

#include <agent-broker/plugin.h>

#include "outbound/ratelimit.h"

/* Longest route or bucket key the scheduler is handed, with the NUL. */
#define RATE_KEY_MAX 256

/* Normalise @info (lent) from plugin @scope (lent) into @facts, the platform bucket
 * namespaced by the scope into @key (@cap bytes; facts->limit_key points there). Returns
 * false, leaving @facts untouched, when @info is too short to hold the 1.1 members. */
bool rate_facts_from_info(const char *scope, const struct ab_rate_info *info,
                          struct ratelimit_facts *facts, char *key, size_t cap);

#endif
