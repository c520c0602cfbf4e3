/* The policy's configuration: defaults, deep copies, keyword parsing and the startup
 * warnings about lists that admit everyone. */
#include "policy/policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

/* Defaults as OpenAB: lists empty (admit everyone), involved follow-ups, bots off. */
void
policy_config_default(struct policy_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->allow_all_channels = POLICY_ALLOW_ALL_UNSET;
    cfg->allow_all_users = POLICY_ALLOW_ALL_UNSET;
    cfg->allow_user_messages = POLICY_USERS_INVOLVED;
    cfg->allow_bot_messages = POLICY_BOTS_OFF;
    cfg->max_bot_turns = POLICY_DEFAULT_MAX_BOT_TURNS;
    cfg->allow_dm = false;
}

/* Free one owned list. */
static void
policy_config_list_free(char **list, size_t count)
{
    for (size_t i = 0; list && i < count; i++)
        free(list[i]);
    free(list);
}

/* Copy a list of @count strings; NULL entries are refused (a config never has them). */
static int
policy_config_list_copy(char ***dst, char *const *src, size_t count)
{
    char **list;
    size_t i;

    *dst = NULL;
    if (count == 0)
        return 0;
    if (!src)
        return AB_EINVAL;
    list = calloc(count, sizeof(*list));
    if (!list)
        return AB_ENOMEM;
    for (i = 0; i < count; i++) {
        if (!src[i])
            goto fail_entry;
        list[i] = strdup(src[i]);
        if (!list[i])
            goto fail_entry;
    }
    *dst = list;
    return 0;

fail_entry:
    policy_config_list_free(list, i);
    return src[i] ? AB_ENOMEM : AB_EINVAL;
}

/* The four lists of a config, so copy, sort and release treat them alike. */
struct policy_config_list {
    char ***items;
    size_t *count;
};

#define POLICY_CONFIG_LISTS 4

/* Point @out at @cfg's lists. */
static void
policy_config_lists(struct policy_config *cfg, struct policy_config_list out[POLICY_CONFIG_LISTS])
{
    out[0] = (struct policy_config_list){&cfg->allowed_channels, &cfg->allowed_channel_count};
    out[1] = (struct policy_config_list){&cfg->allowed_users, &cfg->allowed_user_count};
    out[2] = (struct policy_config_list){&cfg->allowed_role_ids, &cfg->allowed_role_count};
    out[3] = (struct policy_config_list){&cfg->trusted_bot_ids, &cfg->trusted_bot_count};
}

/* qsort comparator over an array of strings. */
static int
policy_config_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Deep copy, all or nothing; each copied list is sorted for binary search. */
int
policy_config_copy(struct policy_config *dst, const struct policy_config *src)
{
    struct policy_config_list lists[POLICY_CONFIG_LISTS], from[POLICY_CONFIG_LISTS];
    int rc;

    *dst = *src;
    policy_config_lists(dst, lists);
    /* Read-only use of src's lists: the cast only lets one helper serve both sides. */
    policy_config_lists((struct policy_config *)src, from);
    for (int i = 0; i < POLICY_CONFIG_LISTS; i++)
        *lists[i].items = NULL;
    for (int i = 0; i < POLICY_CONFIG_LISTS; i++) {
        if ((rc = policy_config_list_copy(lists[i].items, *from[i].items, *lists[i].count)) < 0)
            goto fail;
        if (*lists[i].count)
            qsort(*lists[i].items, *lists[i].count, sizeof(char *), policy_config_cmp);
    }
    return 0;

fail:
    policy_config_release(dst);
    return rc;
}

/* Free the lists and fall back to the defaults. */
void
policy_config_release(struct policy_config *cfg)
{
    struct policy_config_list lists[POLICY_CONFIG_LISTS];

    policy_config_lists(cfg, lists);
    for (int i = 0; i < POLICY_CONFIG_LISTS; i++)
        policy_config_list_free(*lists[i].items, *lists[i].count);
    policy_config_default(cfg);
}

/* "involved" | "mentions". */
int
policy_user_messages_parse(const char *text, enum policy_user_messages *out)
{
    if (text && strcmp(text, "involved") == 0)
        *out = POLICY_USERS_INVOLVED;
    else if (text && strcmp(text, "mentions") == 0)
        *out = POLICY_USERS_MENTIONS;
    else if (text && strcmp(text, "multibot-mentions") == 0)
        *out = POLICY_USERS_MULTIBOT;
    else
        return AB_EINVAL;
    return 0;
}

/* "off" | "mentions" | "all". */
int
policy_bot_messages_parse(const char *text, enum policy_bot_messages *out)
{
    if (text && strcmp(text, "off") == 0)
        *out = POLICY_BOTS_OFF;
    else if (text && strcmp(text, "mentions") == 0)
        *out = POLICY_BOTS_MENTIONS;
    else if (text && strcmp(text, "all") == 0)
        *out = POLICY_BOTS_ALL;
    else
        return AB_EINVAL;
    return 0;
}

/* Format one warning and hand it to the callback. */
static int policy_warn(policy_warning_cb cb, void *arg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
policy_warn(policy_warning_cb cb, void *arg, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    cb(arg, line);
    return 1;
}

/* Warn about one allowlist: empty without allow_all = false admits everyone, an
 * explicit allow_all = true overrides a non-empty list, and allow_all = false with an
 * empty list admits no one. */
static int
policy_warn_list(policy_warning_cb cb, void *arg, const char *platform, const char *what,
                 const char *list_key, size_t count, enum policy_allow_all all)
{
    const char *all_key = strcmp(what, "channel") == 0 ? "allow_all_channels" : "allow_all_users";

    if (count == 0 && all != POLICY_ALLOW_ALL_FALSE)
        return policy_warn(cb, arg,
                           "[%s] %s is empty: every %s may talk to the agent; set %s = false "
                           "to deny",
                           platform, list_key, what, all_key);
    if (count > 0 && all == POLICY_ALLOW_ALL_TRUE)
        return policy_warn(cb, arg,
                           "[%s] %s = true: %s is ignored and every %s may talk to the agent; "
                           "remove %s to use the list",
                           platform, all_key, list_key, what, all_key);
    if (count == 0 && all == POLICY_ALLOW_ALL_FALSE)
        return policy_warn(cb, arg,
                           "[%s] %s is empty and %s = false: no %s may talk to the agent; add "
                           "ids to %s",
                           platform, list_key, all_key, what, list_key);
    return 0;
}

/* One warning per list that admits everyone, plus the bot gate and DMs when open. */
int
policy_warnings(const struct policy_config *cfg, const char *platform, policy_warning_cb cb,
                void *arg)
{
    int n = 0;

    if (!cfg || !platform || !cb)
        return 0;
    n += policy_warn_list(cb, arg, platform, "channel", "allowed_channels",
                          cfg->allowed_channel_count, cfg->allow_all_channels);
    n += policy_warn_list(cb, arg, platform, "user", "allowed_users", cfg->allowed_user_count,
                          cfg->allow_all_users);
    if (cfg->allow_bot_messages != POLICY_BOTS_OFF && cfg->trusted_bot_count == 0)
        n += policy_warn(cb, arg,
                         "[%s] trusted_bot_ids is empty: every bot may talk to the agent "
                         "(allow_bot_messages = \"%s\"); list trusted_bot_ids to restrict",
                         platform, cfg->allow_bot_messages == POLICY_BOTS_ALL ? "all" : "mentions");
    return n;
}
