/* The inbound policy: one decision per message, the same rules for every platform. */
#include "policy/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#include "log.h"
#include "policy/keyset.h"

/* A plugin's struct must reach the last member this core reads. */
#define POLICY_INBOUND_MIN_SIZE (offsetof(struct ab_inbound, thread_is_ours) + sizeof(bool))
/* Longest platform name accepted in keys. */
#define POLICY_PLATFORM_MAX 32

/* What is remembered per conversation; indexed like the conversation keyset's slots. */
struct policy_conv {
    uint64_t last_ms;
    uint32_t bot_turns;
    bool involved;
    bool multibot;
    bool cap_notified;
};

struct policy {
    struct policy_config cfg;  /* owned copy; lists sorted for bsearch */
    struct keyset seen;        /* dedupe keys, first in first out */
    struct keyset convs;       /* conversation keys, least recently used out */
    struct policy_conv *state; /* owned: POLICY_MAX_CONVERSATIONS entries */
    struct policy_conv unkept; /* a conversation whose key could not be copied: its
                                  state lasts one decision, as after an eviction */
    struct policy_stats counters;
};

/* bsearch comparator over an array of strings. */
static int
policy_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether @id is in the sorted @list. */
static bool
policy_list_has(char *const *list, size_t count, const char *id)
{
    if (count == 0 || !id)
        return false;
    return bsearch(&id, list, count, sizeof(*list), policy_cmp_str) != NULL;
}

/* OpenAB's allowlist rule: allow_all wins when set; omitted, an empty list admits all. */
static bool
policy_list_admits(char *const *list, size_t count, enum policy_allow_all all, const char *id)
{
    if (all == POLICY_ALLOW_ALL_TRUE || (all == POLICY_ALLOW_ALL_UNSET && count == 0))
        return true;
    return policy_list_has(list, count, id);
}

/* Copy the rules and reserve both bounded tables. */
int
policy_new(const struct policy_config *cfg, struct policy **out)
{
    struct policy *p;
    int rc;

    if (!cfg || !out)
        return AB_EINVAL;
    p = calloc(1, sizeof(*p));
    if (!p)
        return AB_ENOMEM;
    if ((rc = policy_config_copy(&p->cfg, cfg)) < 0)
        goto fail_policy;
    if ((rc = keyset_init(&p->seen, POLICY_DEDUPE_ENTRIES, POLICY_EVENT_KEY_MAX)) < 0)
        goto fail_config;
    if ((rc = keyset_init(&p->convs, POLICY_MAX_CONVERSATIONS, POLICY_KEY_MAX)) < 0)
        goto fail_seen;
    p->state = calloc(POLICY_MAX_CONVERSATIONS, sizeof(*p->state));
    if (!p->state) {
        rc = AB_ENOMEM;
        goto fail_convs;
    }
    *out = p;
    return 0;

fail_convs:
    keyset_free(&p->convs);
fail_seen:
    keyset_free(&p->seen);
fail_config:
    policy_config_release(&p->cfg);
fail_policy:
    free(p);
    return rc;
}

/* Free the rules, the tables and the policy. */
void
policy_free(struct policy *p)
{
    if (!p)
        return;
    free(p->state);
    keyset_free(&p->convs);
    keyset_free(&p->seen);
    policy_config_release(&p->cfg);
    free(p);
}

/* Swap in new rules; the memory of conversations and events is untouched. */
int
policy_set_config(struct policy *p, const struct policy_config *cfg)
{
    struct policy_config next;
    int rc;

    if (!p || !cfg)
        return AB_EINVAL;
    if ((rc = policy_config_copy(&next, cfg)) < 0)
        return rc;
    policy_config_release(&p->cfg);
    p->cfg = next;
    return 0;
}

/* The state of conversation @key, or NULL when none is remembered. */
static struct policy_conv *
policy_conv_find(const struct policy *p, const char *key)
{
    uint32_t slot = keyset_find(&p->convs, key);

    return slot == KEYSET_NONE ? NULL : &p->state[slot];
}

/* The state of @key, created (evicting the least recently used) when missing, and
 * made the most recently used. */
static struct policy_conv *
policy_conv_get(struct policy *p, const char *key)
{
    uint32_t slot = keyset_find(&p->convs, key);
    bool evicted;

    if (slot != KEYSET_NONE) {
        keyset_touch(&p->convs, slot);
        return &p->state[slot];
    }
    if ((slot = keyset_add(&p->convs, key, &evicted)) == KEYSET_NONE) {
        memset(&p->unkept, 0, sizeof(p->unkept));
        return &p->unkept;
    }
    memset(&p->state[slot], 0, sizeof(p->state[slot]));
    return &p->state[slot];
}

/* Whether a string is present and non-empty. */
static bool
policy_has_text(const char *s)
{
    return s && *s;
}

/* Fill the verdict, count it and log ignores at debug. */
static int
policy_finish(struct policy *p, const char *platform, const struct ab_inbound *m,
              struct policy_decision *out, enum policy_verdict verdict, const char *reason)
{
    out->verdict = verdict;
    out->reason = reason;
    p->counters.decided[verdict]++;
    if (verdict != POLICY_ACCEPT && log_level() >= AB_LOG_DEBUG)
        log_debug("policy", "%s message %s from %s: %s (%s)", platform,
                  m && m->size >= POLICY_INBOUND_MIN_SIZE && m->message_id ? m->message_id : "?",
                  m && m->size >= POLICY_INBOUND_MIN_SIZE && m->sender_id ? m->sender_id : "?",
                  policy_verdict_name(verdict), reason);
    return 0;
}

/* Why a message lacking what the rules need must be ignored, or NULL when complete. */
static const char *
policy_incomplete(const struct ab_inbound *m)
{
    if (m->size < POLICY_INBOUND_MIN_SIZE)
        return "inbound message from a plugin built for an older ABI";
    if (!policy_has_text(m->conversation))
        return "missing conversation id";
    if (!policy_has_text(m->channel_id))
        return "missing channel id";
    if (!policy_has_text(m->message_id))
        return "missing message id";
    if (!policy_has_text(m->sender_id))
        return "missing sender id";
    if (m->is_thread && !m->is_dm && !policy_has_text(m->parent_id))
        return "thread without a parent channel id";
    return NULL;
}

/* Join @n parts with ':' into @out (capacity @cap). Returns false when it does not
 * fit. Plain copies: snprintf cost more than every rule together on the hot path. */
static bool
policy_key_join(char *out, size_t cap, const char *const *parts, size_t n)
{
    size_t len = 0;

    for (size_t i = 0; i < n; i++) {
        size_t part = strlen(parts[i]);

        if (len + part + (i > 0) >= cap)
            return false;
        if (i > 0)
            out[len++] = ':';
        memcpy(out + len, parts[i], part);
        len += part;
    }
    out[len] = '\0';
    return true;
}

/* Remember this message's dedupe key; returns a reason when it must be ignored. */
static const char *
policy_dedupe(struct policy *p, const char *platform, const struct ab_inbound *m)
{
    char key[POLICY_EVENT_KEY_MAX];
    const char *by_event[] = {platform, "e", m->event_id};
    const char *by_message[] = {platform, "m", m->channel_id, m->message_id};
    bool fits;

    /* Event ids and message ids live in separate namespaces; a message id is unique
     * only within its channel (e.g. a timestamp id). */
    if (policy_has_text(m->event_id))
        fits = policy_key_join(key, sizeof(key), by_event, 3);
    else
        fits = policy_key_join(key, sizeof(key), by_message, 4);
    if (!fits)
        return "event id too long";
    if (keyset_find(&p->seen, key) != KEYSET_NONE) {
        p->counters.duplicates++;
        return "duplicate event";
    }
    keyset_add(&p->seen, key, NULL);
    return NULL;
}

/* Mark a message seen without deciding anything about it. */
void
policy_remember(struct policy *p, const char *platform, const char *event_id,
                const char *channel_id, const char *message_id)
{
    struct ab_inbound m = {
        .size = sizeof(m),
        .event_id = event_id,
        .channel_id = channel_id,
        .message_id = message_id,
    };

    if (!policy_has_text(event_id) &&
        (!policy_has_text(channel_id) || !policy_has_text(message_id)))
        return;
    if (policy_dedupe(p, platform, &m))
        p->counters.duplicates--; /* already known: not a duplicate delivery */
}

/* Why the place the message was posted in is closed, or NULL when open: DMs need
 * allow_dm; a thread is judged by its parent channel. */
static const char *
policy_venue_closed(const struct policy *p, const struct ab_inbound *m)
{
    const struct policy_config *c = &p->cfg;
    const char *channel;

    if (m->is_dm)
        return c->allow_dm ? NULL : "direct messages disabled (allow_dm = false)";
    channel = m->is_thread ? m->parent_id : m->channel_id;
    if (policy_list_admits(c->allowed_channels, c->allowed_channel_count, c->allow_all_channels,
                           channel))
        return NULL;
    return m->is_thread ? "thread under a channel not allowed" : "channel not allowed";
}

/* A direct mention, or a mention of a role listed in allowed_role_ids (opt-in). */
static bool
policy_is_mentioned(const struct policy *p, const struct ab_inbound *m)
{
    if (m->mentions_bot)
        return true;
    for (size_t i = 0; m->role_ids && i < m->role_count; i++)
        if (policy_list_has(p->cfg.allowed_role_ids, p->cfg.allowed_role_count, m->role_ids[i]))
            return true;
    return false;
}

/* Count bot turns (the bot's own first of all) and mark multi-bot threads before any
 * gate; a real human message with text resets the count. */
static struct policy_conv *
policy_track_turns(struct policy *p, const struct ab_inbound *m, const char *key)
{
    struct policy_conv *conv;

    if (m->is_bot || m->is_self) {
        conv = policy_conv_get(p, key);
        if (conv->bot_turns < UINT32_MAX)
            conv->bot_turns++;
        if (!m->is_self)
            conv->multibot = true;
        return conv;
    }
    conv = policy_conv_find(p, key);
    if (conv && m->is_human_turn && policy_has_text(m->text)) {
        conv->bot_turns = 0;
        conv->cap_notified = false;
    }
    return conv;
}

/* The bot gate, separate from the user allowlist: allow_bot_messages and
 * trusted_bot_ids. Returns why a bot message is refused, or NULL. */
static const char *
policy_bot_refused(const struct policy *p, const struct ab_inbound *m)
{
    const struct policy_config *c = &p->cfg;

    if (c->allow_bot_messages == POLICY_BOTS_OFF)
        return "bot messages not allowed (allow_bot_messages = off)";
    if (c->trusted_bot_count &&
        !policy_list_has(c->trusted_bot_ids, c->trusted_bot_count, m->sender_id))
        return "bot not in trusted_bot_ids";
    return NULL;
}

/* The loop brake: past max_bot_turns consecutive bot turns, ignore bots; the first
 * time, a bot taking part in the conversation is told to post the warning once. */
static enum policy_verdict
policy_bot_capped(const struct policy *p, const struct ab_inbound *m, struct policy_conv *conv,
                  bool involved)
{
    if (conv->bot_turns <= p->cfg.max_bot_turns)
        return POLICY_ACCEPT;
    if ((involved || m->is_dm) && !conv->cap_notified) {
        conv->cap_notified = true;
        return POLICY_BOT_CAP_NOTICE;
    }
    return POLICY_IGNORE;
}

/* What every decision starts with: the arguments, a complete message, its key. Returns
 * AB_EINVAL for bad arguments, 1 when @out is decided (ignored), 0 to go on. */
static int
policy_start(struct policy *p, const char *platform, const struct ab_inbound *m,
             struct policy_decision *out)
{
    const char *reason;

    if (!p || !platform || !m || !out || !*platform || strlen(platform) >= POLICY_PLATFORM_MAX)
        return AB_EINVAL;
    memset(out, 0, sizeof(*out));
    if ((reason = policy_incomplete(m)))
        return policy_finish(p, platform, m, out, POLICY_IGNORE, reason) + 1;
    if (!policy_key_join(out->key, sizeof(out->key),
                         (const char *const[]){platform, m->conversation}, 2)) {
        out->key[0] = '\0';
        return policy_finish(p, platform, m, out, POLICY_IGNORE, "conversation id too long") + 1;
    }
    return 0;
}

/* The rules, in order: completeness, dedupe, system messages, turn counting, self,
 * venue, trigger (DM, mention, involved follow-up), bot gate or user allowlist. */
int
policy_decide(struct policy *p, const char *platform, const struct ab_inbound *m, uint64_t now_ms,
              struct policy_decision *out)
{
    const struct policy_config *c;
    struct policy_conv *conv;
    const char *reason;
    enum policy_verdict verdict;
    bool mentioned, involved, like_user;
    int rc;

    if ((rc = policy_start(p, platform, m, out)) != 0)
        return rc < 0 ? rc : 0;
    c = &p->cfg;
    if ((reason = policy_dedupe(p, platform, m)))
        return policy_finish(p, platform, m, out, POLICY_IGNORE, reason);
    if (!m->is_bot && !m->is_self && !m->is_human_turn)
        return policy_finish(p, platform, m, out, POLICY_IGNORE, "system message");
    /* State is kept only where the bot may speak, so chatter elsewhere cannot evict it. */
    reason = policy_venue_closed(p, m);
    conv = reason ? NULL : policy_track_turns(p, m, out->key);
    if (conv) {
        conv->last_ms = now_ms;
        out->is_multibot = conv->multibot;
    }
    if (m->is_self)
        return policy_finish(p, platform, m, out, POLICY_IGNORE, "own message");
    if (reason)
        return policy_finish(p, platform, m, out, POLICY_IGNORE, reason);

    if (m->is_bot && (reason = policy_bot_refused(p, m)))
        return policy_finish(p, platform, m, out, POLICY_IGNORE, reason);

    mentioned = policy_is_mentioned(p, m);
    involved = m->is_thread && (m->thread_is_ours || (conv && conv->involved));
    /* allow_bot_messages = all lets bots in wherever users get in without a mention. */
    like_user = !m->is_bot || c->allow_bot_messages == POLICY_BOTS_ALL;
    if (m->is_dm && like_user)
        reason = "direct message";
    else if (mentioned)
        reason = "mention";
    else if (involved && like_user &&
             (c->allow_user_messages == POLICY_USERS_INVOLVED ||
              (c->allow_user_messages == POLICY_USERS_MULTIBOT && !(conv && conv->multibot))))
        reason = "follow-up in involved thread";
    else
        return policy_finish(p, platform, m, out, POLICY_IGNORE,
                             !like_user      ? "bot did not mention the bot"
                             : !m->is_thread ? "not mentioned"
                             : involved && c->allow_user_messages == POLICY_USERS_MULTIBOT
                                 ? "mention required: another bot posted here (multibot-mentions)"
                             : involved ? "mention required (allow_user_messages = mentions)"
                                        : "not mentioned and not involved in this thread");

    if (m->is_bot) {
        verdict = policy_bot_capped(p, m, conv, involved);
        if (verdict != POLICY_ACCEPT)
            return policy_finish(p, platform, m, out, verdict, "bot turn cap reached");
    } else if (!policy_list_admits(c->allowed_users, c->allowed_user_count, c->allow_all_users,
                                   m->sender_id)) {
        return policy_finish(p, platform, m, out, POLICY_DENY_USER, "user not in allowed_users");
    }

    /* Answering in a channel makes the bot take part: later messages there are
     * follow-ups even when the plugin cannot tell (fail closed only on no record). */
    if (!m->is_dm) {
        conv = policy_conv_get(p, out->key);
        conv->involved = true;
        conv->last_ms = now_ms;
    }
    out->opens_thread = !m->is_thread && !m->is_dm;
    return policy_finish(p, platform, m, out, POLICY_ACCEPT, reason);
}

/* A message the operator's config sends (a scheduled job): only where it goes is
 * judged; the sender, mention and bot rules do not apply, and it is never a duplicate. */
int
policy_decide_trusted(struct policy *p, const char *platform, const struct ab_inbound *m,
                      uint64_t now_ms, struct policy_decision *out)
{
    struct policy_conv *conv;
    const char *reason;
    int rc;

    if ((rc = policy_start(p, platform, m, out)) != 0)
        return rc < 0 ? rc : 0;
    if ((reason = policy_venue_closed(p, m)))
        return policy_finish(p, platform, m, out, POLICY_IGNORE, reason);
    /* The bot speaks first there: what people answer in it are follow-ups. */
    if (!m->is_dm) {
        conv = policy_conv_get(p, out->key);
        conv->involved = true;
        conv->last_ms = now_ms;
        out->is_multibot = conv->multibot;
    }
    out->opens_thread = !m->is_thread && !m->is_dm;
    return policy_finish(p, platform, m, out, POLICY_ACCEPT, "scheduled job");
}

/* Mark a conversation involved; creates its state when needed. */
int
policy_mark_involved(struct policy *p, const char *key)
{
    if (!p || !policy_has_text(key) || strlen(key) >= POLICY_KEY_MAX)
        return AB_EINVAL;
    policy_conv_get(p, key)->involved = true;
    return 0;
}

/* Multi-bot flag of a conversation; false when unknown. */
bool
policy_is_multibot(const struct policy *p, const char *key)
{
    const struct policy_conv *conv;

    if (!p || !policy_has_text(key))
        return false;
    conv = policy_conv_find(p, key);
    return conv && conv->multibot;
}

/* Copy out what is remembered about one conversation. */
int
policy_conversation(const struct policy *p, const char *key, struct policy_conversation_info *out)
{
    const struct policy_conv *conv;

    if (!p || !policy_has_text(key) || !out)
        return AB_EINVAL;
    conv = policy_conv_find(p, key);
    if (!conv)
        return AB_ENOENT;
    out->involved = conv->involved;
    out->is_multibot = conv->multibot;
    out->cap_notified = conv->cap_notified;
    out->bot_turns = conv->bot_turns;
    out->last_ms = conv->last_ms;
    return 0;
}

/* Snapshot the counters and table sizes. */
void
policy_get_stats(const struct policy *p, struct policy_stats *out)
{
    *out = p->counters;
    out->conversations = p->convs.count;
    out->conversation_evictions = p->convs.evictions;
    out->dedupe_entries = p->seen.count;
}

/* Name of a verdict for logs and metrics. */
const char *
policy_verdict_name(enum policy_verdict v)
{
    switch (v) {
    case POLICY_IGNORE: return "ignore";
    case POLICY_ACCEPT: return "accept";
    case POLICY_DENY_USER: return "deny-user";
    case POLICY_BOT_CAP_NOTICE: return "bot-cap-notice";
    }
    return "unknown";
}

/* Whether @user may act in this platform (cancel a turn, answer a permission question):
 * the same allowed_users rule as for messages. */
bool
policy_user_allowed(const struct policy *p, const char *user)
{
    const struct policy_config *c = &p->cfg;

    return user && *user &&
           policy_list_admits(c->allowed_users, c->allowed_user_count, c->allow_all_users, user);
}

/* Whether the bot may speak in @channel_id: the allowed_channels rule. */
bool
policy_channel_allowed(const struct policy *p, const char *channel_id)
{
    const struct policy_config *c = &p->cfg;

    return channel_id && *channel_id &&
           policy_list_admits(c->allowed_channels, c->allowed_channel_count, c->allow_all_channels,
                              channel_id);
}
