/* A plugin's rate report, normalised for the scheduler. */
#include "outbound/rate_facts.h"

#include <stdio.h>

/* Normalise a plugin's report (any ABI size); the bucket is namespaced by the scope. */
bool
rate_facts_from_info(const char *scope, const struct ab_rate_info *info,
                     struct ratelimit_facts *facts, char *key, size_t cap)
{
    bool is_global;

    if (!info || info->size < offsetof(struct ab_rate_info, global) + sizeof(bool))
        return false;
    is_global = info->global;
    if (AB_HAS(info, struct ab_rate_info, scope) && info->scope == AB_RATE_SCOPE_GLOBAL)
        is_global = true;
    *facts = (struct ratelimit_facts){
        .remaining = info->remaining,
        .reset_after_ms = info->reset_after_ms,
        .retry_after_ms = info->retry_after_ms,
        .is_global = is_global,
    };
    if (info->bucket && *info->bucket) {
        snprintf(key, cap, "%s#%s", scope, info->bucket);
        facts->limit_key = key;
    }
    return true;
}
