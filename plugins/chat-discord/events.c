/* chat-discord dispatch events: MESSAGE_CREATE becomes an ab_inbound, reactions become
 * ab_reaction_events, channel events fill the channel cache. A guild message whose
 * channel is not cached waits for GET /channels/{id}; messages are delivered in the
 * order they arrived, and one whose channel cannot be learned is dropped (fail
 * closed: the plugin cannot tell a thread from a channel without it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discord.h"

#define DISCORD_LOOKUPS_MAX 256

/* One inbound message waiting for its channel's facts. */
struct discord_lookup {
    struct discord_lookup *next;
    struct ab_chat *chat;            /* lent */
    cJSON *msg;                      /* owned: the MESSAGE_CREATE data */
    char channel_id[DISCORD_ID_MAX]; /* the channel being looked up */
    bool is_done;                    /* the lookup ended (cached, or failed) */
    struct discord_hold *hold;       /* lent: its seq hold, or NULL */
};

/* Whether @id appears as a user id in the mentions array of @msg. */
static bool
discord_events_mentions_id(const cJSON *msg, const char *id)
{
    const cJSON *m;

    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(msg, "mentions"))
    {
        const char *mid = discord_json_str(m, "id");
        if (mid && strcmp(mid, id) == 0)
            return true;
    }
    return false;
}

/* Turn a MESSAGE_CREATE into an inbound message; @ch (lent) is its channel, NULL in
 * a DM or when @is_unresolved (its lookup failed). @hold (may be NULL) is released
 * once the core recorded it. */
static void
discord_events_deliver(struct ab_chat *c, const cJSON *msg, const struct discord_channel *ch,
                       bool is_unresolved, struct discord_hold *hold)
{
    const cJSON *author = cJSON_GetObjectItemCaseSensitive(msg, "author");
    const cJSON *member = cJSON_GetObjectItemCaseSensitive(msg, "member");
    const cJSON *roles = cJSON_GetObjectItemCaseSensitive(msg, "mention_roles");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(msg, "type");
    const char *id = discord_json_str(msg, "id");
    const char *channel = discord_json_str(msg, "channel_id");
    const char *content = discord_json_str(msg, "content");
    const char *author_id = discord_json_str(author, "id");
    const char *username = discord_json_str(author, "username");
    const char *display = discord_json_str(member, "nick");
    const char **role_ids = NULL;
    struct ab_attachment *atts = NULL;
    size_t nroles = 0, natts = discord_attachments(msg, &atts);
    char *clean = NULL;
    bool is_thread = ch && ch->is_thread;
    int mentions;

    if (!id || !channel || !author_id) {
        c->svc->log(c->host, AB_LOG_WARN, "MESSAGE_CREATE without id, channel or author: ignored");
        free(atts);
        if (hold)
            discord_hold_done(hold, true);
        return;
    }
    if (!content)
        content = "";
    if (!display || !*display)
        display = discord_json_str(author, "global_name");
    if (!display || !*display)
        display = username;
    if (cJSON_IsArray(roles) && cJSON_GetArraySize(roles) > 0 &&
        (role_ids = calloc((size_t)cJSON_GetArraySize(roles) + 1, sizeof(*role_ids)))) {
        const cJSON *r;
        cJSON_ArrayForEach(r, roles)
        {
            if (cJSON_IsString(r))
                role_ids[nroles++] = r->valuestring;
        }
    }
    mentions = discord_mention_strip(content, c->bot_id, &clean);
    struct ab_inbound in = {
        .size = sizeof(in),
        /* At top level the conversation is the message id: the thread it may open
         * takes that id. */
        .conversation = is_thread ? channel : id,
        .channel_id = channel,
        .parent_id = is_thread && ch->parent_id[0] ? ch->parent_id : NULL,
        .message_id = id,
        .sender_id = author_id,
        .sender_name = username ? username : author_id,
        .display_name = display,
        .text = content,
        .clean_text = clean,
        .role_ids = role_ids,
        .role_count = nroles,
        .is_thread = is_thread,
        .is_dm = !discord_json_str(msg, "guild_id"),
        .is_bot = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(author, "bot")),
        .is_self = c->bot_id[0] && strcmp(author_id, c->bot_id) == 0,
        .mentions_bot =
            c->bot_id[0] && (mentions > 0 || discord_events_mentions_id(msg, c->bot_id)),
        .is_human_turn = cJSON_IsNumber(type) && (type->valueint == 0 || type->valueint == 19),
        .is_unresolved = is_unresolved,
        .thread_is_ours = is_thread && c->bot_id[0] && strcmp(ch->owner_id, c->bot_id) == 0,
        .thread_id = is_thread ? channel : NULL,
        .attachments = atts,
        .attachment_count = natts,
    };
    if (!hold || !AB_HAS(c->svc, struct ab_host_services, deliver_held) || !c->svc->deliver_held ||
        c->svc->deliver_held(c->host, &in, discord_hold_recorded, hold) < 0) {
        if (!hold || !AB_HAS(c->svc, struct ab_host_services, deliver_held) ||
            !c->svc->deliver_held)
            c->svc->deliver(c->host, &in);
        if (hold)
            discord_hold_done(hold, true);
    }
    free(clean);
    free(role_ids);
    free(atts);
}

/* Deliver the waiting messages from the head while their lookups are over. */
static void
discord_events_flush(struct ab_chat *c)
{
    struct discord_lookup *l;

    while ((l = c->lookups) && l->is_done) {
        const struct discord_channel *ch = discord_cache_get(&c->cache, l->channel_id);
        c->lookups = l->next;
        if (!c->lookups)
            c->lookups_tail = NULL;
        if (ch) {
            discord_events_deliver(c, l->msg, ch, false, l->hold);
        } else {
            /* The core says so in the channel (to an allowed user who mentioned us). */
            c->svc->log(c->host, AB_LOG_WARN,
                        "message %s in channel %s not answered: the channel could not be "
                        "looked up",
                        discord_json_str(l->msg, "id"), l->channel_id);
            discord_events_deliver(c, l->msg, NULL, true, l->hold);
        }
        cJSON_Delete(l->msg);
        free(l);
    }
}

static void discord_events_looked_up(void *arg, int status, long http, const cJSON *body, int code);

/* GET /channels/{id} for lookup @l. */
static int
discord_events_ask(struct ab_chat *c, struct discord_lookup *l)
{
    char path[96];

    snprintf(path, sizeof(path), "/channels/%s", l->channel_id);
    return discord_rest_call(c, "GET", path, NULL, NULL, discord_events_looked_up, l);
}

/* GET /channels/{id} answered for the lookup @arg: cache the channel and release the
 * messages that waited for it (a failure releases them too: they are dropped). */
static void
discord_events_looked_up(void *arg, int status, long http, const cJSON *body, int code)
{
    struct discord_lookup *asking = arg;
    struct ab_chat *c = asking->chat;
    const char *id = discord_json_str(body, "id");

    if (c->is_closing)
        return; /* discord_events_close frees the lookups */
    if (status == 0 && id && strcmp(id, asking->channel_id) == 0) {
        discord_cache_put(&c->cache, body);
    } else {
        c->svc->log(c->host, AB_LOG_WARN, "GET /channels/%s: %s (HTTP %ld, code %d)",
                    asking->channel_id, ab_strerror(status < 0 ? status : AB_EPROTO), http, code);
    }
    for (struct discord_lookup *l = c->lookups; l; l = l->next)
        if (strcmp(l->channel_id, asking->channel_id) == 0)
            l->is_done = true;
    discord_events_flush(c);
}

/* A guild message: deliver now when its channel is known and nothing waits, else queue
 * it behind a lookup. */
static void
discord_events_message(struct ab_chat *c, const cJSON *msg)
{
    const char *channel = discord_json_str(msg, "channel_id");
    const struct discord_channel *ch = discord_cache_get(&c->cache, channel);
    struct discord_lookup *l;
    size_t queued = 0;
    bool is_asked = false;
    struct discord_hold *hold = c->gw.current;

    c->gw.current = NULL; /* ours now: released when delivered or dropped */
    if (!discord_json_str(msg, "guild_id")) {
        discord_events_deliver(c, msg, NULL, false, hold);
        return;
    }
    if (ch && !c->lookups) {
        discord_events_deliver(c, msg, ch, false, hold);
        return;
    }
    if (!channel || strlen(channel) >= DISCORD_ID_MAX) {
        if (hold)
            discord_hold_done(hold, true);
        return;
    }
    for (l = c->lookups; l; l = l->next) {
        queued++;
        if (!l->is_done && strcmp(l->channel_id, channel) == 0)
            is_asked = true;
    }
    if (queued >= DISCORD_LOOKUPS_MAX || !(l = calloc(1, sizeof(*l))) ||
        !(l->msg = cJSON_Duplicate(msg, true))) {
        free(l);
        c->svc->log(c->host, AB_LOG_WARN, "message in channel %s dropped: lookup queue full",
                    channel);
        if (hold)
            discord_hold_done(hold, true);
        return;
    }
    l->chat = c;
    l->hold = hold;
    snprintf(l->channel_id, sizeof(l->channel_id), "%s", channel);
    l->is_done = ch != NULL;
    if (!ch && !is_asked && discord_events_ask(c, l) < 0)
        l->is_done = true;
    if (c->lookups_tail)
        c->lookups_tail->next = l;
    else
        c->lookups = l;
    c->lookups_tail = l;
    discord_events_flush(c);
}

/* MESSAGE_REACTION_ADD / _REMOVE → the core (🛑, permission answers). */
static void
discord_events_reaction(struct ab_chat *c, const cJSON *d, bool added)
{
    const cJSON *emoji = cJSON_GetObjectItemCaseSensitive(d, "emoji");
    const char *user = discord_json_str(d, "user_id");
    const char *channel = discord_json_str(d, "channel_id");
    const char *message = discord_json_str(d, "message_id");
    const char *name = discord_json_str(emoji, "name");
    const char *emoji_id = discord_json_str(emoji, "id");
    const struct discord_channel *ch = discord_cache_get(&c->cache, channel);
    char custom[256];

    if (!user || !channel || !message || !name)
        return;
    if (emoji_id) { /* a custom emoji: name:id, as the REST paths spell it */
        snprintf(custom, sizeof(custom), "%s:%s", name, emoji_id);
        name = custom;
    }
    struct ab_reaction_event ev = {
        .size = sizeof(ev),
        .msg = {channel, message},
        .conversation = ch && ch->is_thread ? channel : message,
        .user_id = user,
        .emoji = name,
        .added = added,
        .is_self = c->bot_id[0] && strcmp(user, c->bot_id) == 0,
    };
    c->svc->deliver_reaction(c->host, &ev);
}

/* Cache every channel object of the array @arr. */
static void
discord_events_cache_all(struct ab_chat *c, const cJSON *arr)
{
    const cJSON *ch;

    cJSON_ArrayForEach(ch, arr)
    {
        discord_cache_put(&c->cache, ch);
    }
}

/* Route one dispatch. */
void
discord_events_dispatch(struct ab_chat *c, const char *type, const cJSON *d)
{
    if (strcmp(type, "MESSAGE_CREATE") == 0) {
        discord_events_message(c, d);
    } else if (strcmp(type, "MESSAGE_REACTION_ADD") == 0) {
        discord_events_reaction(c, d, true);
    } else if (strcmp(type, "MESSAGE_REACTION_REMOVE") == 0) {
        discord_events_reaction(c, d, false);
    } else if (strcmp(type, "GUILD_CREATE") == 0) {
        discord_events_cache_all(c, cJSON_GetObjectItemCaseSensitive(d, "channels"));
        discord_events_cache_all(c, cJSON_GetObjectItemCaseSensitive(d, "threads"));
    } else if (strcmp(type, "THREAD_LIST_SYNC") == 0) {
        discord_events_cache_all(c, cJSON_GetObjectItemCaseSensitive(d, "threads"));
    } else if (strcmp(type, "THREAD_CREATE") == 0 || strcmp(type, "THREAD_UPDATE") == 0 ||
               strcmp(type, "CHANNEL_CREATE") == 0 || strcmp(type, "CHANNEL_UPDATE") == 0) {
        discord_cache_put(&c->cache, d);
    } else if (strcmp(type, "INTERACTION_CREATE") == 0) {
        discord_interactions_create(c, d);
    } else if (strcmp(type, "THREAD_DELETE") == 0 || strcmp(type, "CHANNEL_DELETE") == 0) {
        discord_cache_remove(&c->cache, discord_json_str(d, "id"));
    }
}

/* Drop the waiting messages (the instance is closing). */
void
discord_events_close(struct ab_chat *c)
{
    struct discord_lookup *l;

    while ((l = c->lookups)) {
        c->lookups = l->next;
        cJSON_Delete(l->msg);
        free(l);
    }
    c->lookups_tail = NULL;
}
