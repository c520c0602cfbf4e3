/* The inbound policy: one decision per normalised inbound message, the same rules for
 * every chat platform — allowlists (channels, users, roles), mention and thread rules,
 * DMs, the bot gate with its loop brake, and duplicate suppression. OpenAB semantics:
 * an empty allowlist admits everyone unless allow_all_* = false. Loop thread only. */
#ifndef AB_POLICY_H
#define AB_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <agent-broker/host.h>

/* Longest "platform:conversation" key, NUL included; a longer one is ignored. */
#define POLICY_KEY_MAX 128
/* Longest dedupe key ("platform:event_id" or "platform:channel:message_id"), NUL included. */
#define POLICY_EVENT_KEY_MAX 128
/* Event ids remembered for duplicate suppression (first in, first out). */
#define POLICY_DEDUPE_ENTRIES 4096
/* Conversations whose involvement and bot-turn state are kept (least recently used out). */
#define POLICY_MAX_CONVERSATIONS 10000
/* Default cap of consecutive bot turns in one conversation. */
#define POLICY_DEFAULT_MAX_BOT_TURNS 100

/* allow_all_channels / allow_all_users: omitted means "true when the list is empty". */
enum policy_allow_all {
    POLICY_ALLOW_ALL_UNSET = 0,
    POLICY_ALLOW_ALL_TRUE = 1,
    POLICY_ALLOW_ALL_FALSE = 2,
};

/* allow_user_messages: follow-ups without a mention in involved threads, or never. */
enum policy_user_messages {
    POLICY_USERS_INVOLVED = 0,
    POLICY_USERS_MENTIONS = 1,
    POLICY_USERS_MULTIBOT = 2, /* like involved until another bot posts, then mentions */
};

/* allow_bot_messages. */
enum policy_bot_messages {
    POLICY_BOTS_OFF = 0,
    POLICY_BOTS_MENTIONS = 1,
    POLICY_BOTS_ALL = 2,
};

/* One chat plugin's policy keys (its [NAME] section). Every list is owned by the config:
 * an array of owned strings; policy_config_release frees them. */
struct policy_config {
    char **allowed_channels; /* owned */
    size_t allowed_channel_count;
    enum policy_allow_all allow_all_channels;
    char **allowed_users; /* owned */
    size_t allowed_user_count;
    enum policy_allow_all allow_all_users;
    char **allowed_role_ids; /* owned; a mention of one of these roles counts as a mention */
    size_t allowed_role_count;
    enum policy_user_messages allow_user_messages;
    enum policy_bot_messages allow_bot_messages;
    char **trusted_bot_ids; /* owned; non-empty: only these bots pass the bot gate */
    size_t trusted_bot_count;
    uint32_t max_bot_turns; /* consecutive bot turns per conversation; exactly as configured */
    bool allow_dm;
};

enum policy_verdict {
    POLICY_IGNORE = 0,         /* do nothing; reason says why (log at debug) */
    POLICY_ACCEPT = 1,         /* start or continue the conversation `key` */
    POLICY_DENY_USER = 2,      /* a trigger from a user outside allowed_users: react 🚫 */
    POLICY_BOT_CAP_NOTICE = 3, /* bot-turn cap first hit here: post the turn-limit warning once */
};

/* What to do with one message. */
struct policy_decision {
    enum policy_verdict verdict;
    const char *reason;       /* static string: why, for every verdict (e.g. "mention",
                                 "follow-up in involved thread", "channel not allowed") */
    bool opens_thread;        /* ACCEPT: a top-level mention; the engine opens a thread from
                                 it (e.g. replies in the message's thread) */
    bool is_multibot;         /* another bot has spoken in this conversation: send once,
                                 no live edits */
    char key[POLICY_KEY_MAX]; /* "platform:conversation"; "" when the message had none */
};

/* Counters for /metrics and tests. */
struct policy_stats {
    uint64_t decided[4];    /* by enum policy_verdict */
    uint64_t duplicates;    /* ignored as already seen */
    uint32_t conversations; /* conversations with state now (<= POLICY_MAX_CONVERSATIONS) */
    uint64_t conversation_evictions;
    uint32_t dedupe_entries; /* event ids remembered now (<= POLICY_DEDUPE_ENTRIES) */
};

/* What the policy remembers about one conversation. */
struct policy_conversation_info {
    bool involved; /* the bot opened the thread or was mentioned in it */
    bool is_multibot;
    bool cap_notified;  /* the turn-limit warning was asked for since the last human turn */
    uint32_t bot_turns; /* consecutive bot messages (the bot's own included) */
    uint64_t last_ms;   /* now_ms of the last message seen here */
};

struct policy;

/* Fill @cfg with the defaults: empty lists (admit everyone), involved, bots off,
 * POLICY_DEFAULT_MAX_BOT_TURNS, no DMs. */
void policy_config_default(struct policy_config *cfg);

/* Deep-copy @src (lent) into @dst (overwritten; release it with policy_config_release).
 * The copy's lists are sorted (their order carries no meaning). 0, AB_EINVAL (a NULL
 * list or entry with a non-zero count) or AB_ENOMEM; on error dst is empty. */
int policy_config_copy(struct policy_config *dst, const struct policy_config *src);

/* Free every list @cfg owns and reset it to the defaults. */
void policy_config_release(struct policy_config *cfg);

/* Parse allow_user_messages ("involved" | "mentions"): 0 or AB_EINVAL. */
int policy_user_messages_parse(const char *text, enum policy_user_messages *out);

/* Parse allow_bot_messages ("off" | "mentions" | "all"): 0 or AB_EINVAL. */
int policy_bot_messages_parse(const char *text, enum policy_bot_messages *out);

/* Called once per startup warning; @line (lent) is a complete sentence. */
typedef void (*policy_warning_cb)(void *arg, const char *line);

/* Emit one warning for each list that admits everyone (or no one), e.g.
 * "[NAME] allowed_users is empty: every user may talk to the agent; set
 * allow_all_users = false to deny". @platform names the section. Returns how many. */
int policy_warnings(const struct policy_config *cfg, const char *platform, policy_warning_cb cb,
                    void *arg);

/* Create a policy with a copy of @cfg (lent). *out is owned by the caller: policy_free.
 * Reserves its bounded tables now (about 2.4 MB of address space, paged in as used).
 * 0, AB_EINVAL or AB_ENOMEM. */
int policy_new(const struct policy_config *cfg, struct policy **out);

/* Free @p. NULL is allowed. */
void policy_free(struct policy *p);

/* Replace the rules with a copy of @cfg (lent), e.g. on SIGHUP; involvement, bot-turn
 * counters and remembered events are kept. 0 or AB_ENOMEM (the old rules stay). */
int policy_set_config(struct policy *p, const struct policy_config *cfg);

/* Decide what to do with @m (lent) from chat plugin @platform (lent, e.g. "console").
 * Updates the policy's memory (dedupe, bot turns, involvement on an accepted mention).
 * Bad or incomplete messages are ignored with a reason (fail closed). Returns 0 with
 * *out filled, or AB_EINVAL when an argument is NULL or @platform is empty/too long. */
int policy_decide(struct policy *p, const char *platform, const struct ab_inbound *m,
                  uint64_t now_ms, struct policy_decision *out);

/* Decide for @m (lent), a message the operator's config sends in the bot's name (a
 * [[cron.jobs]] run posted by the broker): only the venue rules apply (allowed
 * channels, a thread judged by its parent, DMs); an accepted one marks its conversation
 * involved. No duplicate suppression. Returns as policy_decide. */
int policy_decide_trusted(struct policy *p, const char *platform, const struct ab_inbound *m,
                          uint64_t now_ms, struct policy_decision *out);

/* Whether channel @channel_id (lent) passes allowed_channels / allow_all_channels. */
bool policy_channel_allowed(const struct policy *p, const char *channel_id);

/* Record that the bot opened or was mentioned in conversation @key (lent,
 * "platform:conversation"): later messages there are follow-ups. 0 or AB_EINVAL. */
int policy_mark_involved(struct policy *p, const char *key);

/* Whether another bot has spoken in conversation @key (lent). */
bool policy_is_multibot(const struct policy *p, const char *key);

/* What is known about @key (lent): 0, or AB_ENOENT when nothing is remembered. */
int policy_conversation(const struct policy *p, const char *key,
                        struct policy_conversation_info *out);

/* Current counters. */
void policy_get_stats(const struct policy *p, struct policy_stats *out);

/* A static name for @v ("accept", "ignore", "deny-user", "bot-cap-notice"). */
const char *policy_verdict_name(enum policy_verdict v);

/* Whether @user (lent) passes allowed_users / allow_all_users: the rule for who may
 * cancel a turn or answer a permission question. */
bool policy_user_allowed(const struct policy *p, const char *user);

/* Remember a message as seen (a journal's record from before a restart): a later
 * delivery of it is ignored as a duplicate. Strings lent; @event_id may be NULL. */
void policy_remember(struct policy *p, const char *platform, const char *event_id,
                     const char *channel_id, const char *message_id);

#endif
