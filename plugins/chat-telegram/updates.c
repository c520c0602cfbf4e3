/* chat-telegram updates: Bot API Update objects turned into the core's inbound messages
 * and reactions. Who the message is for (a mention, a command, a reply to the bot) and
 * which conversation it belongs to (a private chat; a forum topic; in other groups the
 * reply chain under the bot's first answer) are decided here; everything else is the
 * core's. Entity offsets are UTF-16 code units. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strdup, strtok_r: built on its own against the installed headers too */
#endif
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <agent-broker/convert.h>

#include "telegram.h"

#define TG_THREADS_STATE_KEY "threads"
#define TG_ID_MAX 24 /* an int64 as text */

/* Decode one UTF-8 sequence at @s[0..len): its code point in *cp and its length, or
 * 1 (and *cp = -1) for a byte that starts no valid sequence. */
static size_t
tg_utf8_next(const unsigned char *s, size_t len, long *cp)
{
    size_t n = s[0] < 0x80         ? 1
               : (s[0] >> 5) == 6  ? 2
               : (s[0] >> 4) == 14 ? 3
               : (s[0] >> 3) == 30 ? 4
                                   : 0;
    long v;

    *cp = -1;
    if (n == 0 || n > len)
        return 1;
    v = n == 1 ? s[0] : n == 2 ? (s[0] & 0x1f) : n == 3 ? (s[0] & 0x0f) : (s[0] & 0x07);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 1;
        v = (v << 6) | (s[i] & 0x3f);
    }
    /* overlong forms, surrogates and values past U+10FFFF are not UTF-8 */
    if ((n == 2 && v < 0x80) || (n == 3 && v < 0x800) || (n == 4 && v < 0x10000) ||
        (v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF)
        return 1;
    *cp = v;
    return n;
}

/* Bytes of one valid UTF-8 sequence, or 0. */
size_t
tg_utf8_valid_len(const char *s, size_t len)
{
    long cp = -1; /* nothing left: no sequence */
    size_t n = len ? tg_utf8_next((const unsigned char *)s, len, &cp) : 0;

    return cp < 0 ? 0 : n;
}

/* UTF-16 code units of @s[0..len). */
size_t
tg_utf16_len(const char *s, size_t len)
{
    size_t units = 0;
    long cp;

    for (size_t i = 0; i < len;) {
        i += tg_utf8_next((const unsigned char *)s + i, len - i, &cp);
        units += cp >= 0x10000 ? 2 : 1;
    }
    return units;
}

/* The byte where UTF-16 unit @off starts. */
size_t
tg_utf16_to_byte(const char *s, size_t len, size_t off)
{
    size_t units = 0, i = 0;
    long cp;

    while (i < len && units < off) {
        i += tg_utf8_next((const unsigned char *)s + i, len - i, &cp);
        units += cp >= 0x10000 ? 2 : 1;
    }
    return i;
}

/* An integer member of @obj in *out (Telegram ids fit 52 bits). */
static bool
tg_int(const cJSON *obj, const char *key, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (!cJSON_IsNumber(v) || v->valuedouble < -9.0e15 || v->valuedouble > 9.0e15 ||
        v->valuedouble != (double)(int64_t)v->valuedouble)
        return false;
    *out = (int64_t)v->valuedouble;
    return true;
}

/* A string member of @obj, or NULL. */
static const char *
tg_str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Remember a reply-chain link (a ring: the oldest is forgotten). */
void
tg_thread_remember(struct ab_chat *t, int64_t chat, int64_t message, int64_t root)
{
    for (size_t i = 0; i < TG_THREADS_MAX; i++) {
        struct tg_thread_link *l = &t->threads[i];
        if (l->chat == chat && l->message == message) {
            if (l->root != root)
                t->threads_dirty = true;
            l->root = root;
            return;
        }
    }
    t->threads[t->threads_next] = (struct tg_thread_link){chat, message, root};
    t->threads_next = (t->threads_next + 1) % TG_THREADS_MAX;
    t->threads_dirty = true;
}

/* The reply-chain root of a message, or 0. */
int64_t
tg_thread_root(const struct ab_chat *t, int64_t chat, int64_t message)
{
    for (size_t i = 0; i < TG_THREADS_MAX; i++)
        if (t->threads[i].chat == chat && t->threads[i].message == message && message != 0)
            return t->threads[i].root;
    return 0;
}

/* Save the reply chains as "chat message root" lines, oldest first. */
void
tg_threads_save(struct ab_chat *t)
{
    size_t cap = TG_THREADS_MAX * 3 * TG_ID_MAX, len = 0;
    char *buf;
    int rc;

    if (!t->threads_dirty)
        return;
    if (!(buf = malloc(cap)))
        return;
    for (size_t k = 0; k < TG_THREADS_MAX; k++) {
        const struct tg_thread_link *l = &t->threads[(t->threads_next + k) % TG_THREADS_MAX];
        if (l->message != 0)
            len += (size_t)snprintf(buf + len, cap - len, "%" PRId64 " %" PRId64 " %" PRId64 "\n",
                                    l->chat, l->message, l->root);
    }
    if ((rc = t->svc->state_put(t->host, TG_THREADS_STATE_KEY, buf, len)) < 0)
        t->svc->log(t->host, AB_LOG_WARN, "cannot save the reply chains: %s", ab_strerror(rc));
    else
        t->threads_dirty = false;
    free(buf);
}

/* Load the saved reply chains; unreadable lines are skipped. */
void
tg_threads_load(struct ab_chat *t)
{
    char *data = NULL, *line, *save = NULL;
    size_t len = 0;

    if (t->svc->state_get(t->host, TG_THREADS_STATE_KEY, &data, &len) < 0 || !data)
        return;
    char *text = malloc(len + 1);
    if (text) {
        memcpy(text, data, len);
        text[len] = '\0';
        for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            long long c, m, r;
            if (sscanf(line, "%lld %lld %lld", &c, &m, &r) == 3 && m != 0)
                tg_thread_remember(t, c, m, r);
        }
        free(text);
    }
    free(data);
    t->threads_dirty = false;
}

/* A span of the text to cut from the prompt (a mention of the bot). */
struct tg_cut {
    size_t from, to; /* bytes */
};

#define TG_CUTS_MAX 8

/* What the entities say about the bot: mentioned, a command for another bot, and the
 * spans naming the bot (cut from the prompt). */
struct tg_addressing {
    bool mentioned;
    bool other_bot_command;
    struct tg_cut cuts[TG_CUTS_MAX];
    size_t ncuts;
};

/* Add a cut when there is room. */
static void
tg_cut_add(struct tg_addressing *a, size_t from, size_t to)
{
    if (a->ncuts < TG_CUTS_MAX && to > from)
        a->cuts[a->ncuts++] = (struct tg_cut){from, to};
}

/* Read the entities: mentions of the bot, text mentions of it, commands. */
static void
tg_addressing_read(const struct ab_chat *t, const char *text, const cJSON *entities, bool is_dm,
                   struct tg_addressing *a)
{
    size_t len = strlen(text), ulen = strlen(t->self_username);
    const cJSON *e;

    memset(a, 0, sizeof(*a));
    cJSON_ArrayForEach(e, entities)
    {
        const char *type = tg_str(e, "type");
        int64_t off, n, uid;
        size_t from, to;

        if (!type || !tg_int(e, "offset", &off) || !tg_int(e, "length", &n) || off < 0 || n <= 0)
            continue;
        from = tg_utf16_to_byte(text, len, (size_t)off);
        to = tg_utf16_to_byte(text, len, (size_t)(off + n));
        if (strcmp(type, "mention") == 0) {
            if (ulen && to - from == ulen + 1 && text[from] == '@' &&
                strncasecmp(text + from + 1, t->self_username, ulen) == 0) {
                a->mentioned = true;
                tg_cut_add(a, from, to);
            }
        } else if (strcmp(type, "text_mention") == 0) {
            const cJSON *user = cJSON_GetObjectItemCaseSensitive(e, "user");
            if (tg_int(user, "id", &uid) && uid == t->self_id) {
                a->mentioned = true;
                tg_cut_add(a, from, to);
            }
        } else if (strcmp(type, "bot_command") == 0 && off == 0) {
            const char *at = memchr(text + from, '@', to - from);
            if (!at) {
                a->mentioned = a->mentioned || !is_dm; /* a bare command in a group: ours */
            } else if ((size_t)(text + to - at - 1) == ulen &&
                       strncasecmp(at + 1, t->self_username, ulen) == 0) {
                a->mentioned = true;
                tg_cut_add(a, (size_t)(at - text), to); /* "/cmd@bot" → "/cmd" */
            } else {
                a->other_bot_command = true;
            }
        }
    }
}

/* @text without the cuts, spaces around them collapsed, trimmed; malloc'd. */
static char *
tg_clean_text(const char *text, const struct tg_addressing *a)
{
    size_t len = strlen(text), n = 0;
    char *out = malloc(len + 1);

    if (!out)
        return NULL;
    for (size_t i = 0; i < len;) {
        bool cut = false;
        for (size_t k = 0; k < a->ncuts; k++) {
            if (a->cuts[k].from == i) {
                i = a->cuts[k].to;
                while (i < len && text[i] == ' ' && (n == 0 || out[n - 1] == ' '))
                    i++;
                cut = true;
                break;
            }
        }
        if (!cut)
            out[n++] = text[i++];
    }
    while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\n'))
        n--;
    size_t start = 0;
    while (start < n && (out[start] == ' ' || out[start] == '\n'))
        start++;
    memmove(out, out + start, n - start);
    out[n - start] = '\0';
    return out;
}

/* The name people know a user by: @username, else the first name. */
static void
tg_user_names(const cJSON *from, char *name, size_t name_cap, char *display, size_t display_cap)
{
    const char *user = tg_str(from, "username"), *first = tg_str(from, "first_name");
    const char *last = tg_str(from, "last_name");

    snprintf(name, name_cap, "%s", user ? user : first ? first : "?");
    snprintf(display, display_cap, "%s%s%s", first ? first : "", last ? " " : "", last ? last : "");
}

/* A message update: decide whom it is for and which conversation it belongs to. */
static bool
tg_message(struct ab_chat *t, const cJSON *msg, tg_recorded_fn recorded, void *arg)
{
    const cJSON *chat = cJSON_GetObjectItemCaseSensitive(msg, "chat");
    const cJSON *from = cJSON_GetObjectItemCaseSensitive(msg, "from");
    const cJSON *reply = cJSON_GetObjectItemCaseSensitive(msg, "reply_to_message");
    const cJSON *reply_from = cJSON_GetObjectItemCaseSensitive(reply, "from");
    const char *type = tg_str(chat, "type"), *text = tg_str(msg, "text");
    const cJSON *entities = cJSON_GetObjectItemCaseSensitive(msg, "entities");
    int64_t chat_id, msg_id, from_id, topic = 0, reply_id = 0, reply_from_id = 0, root = 0;
    char chat_s[TG_ID_MAX], msg_s[TG_ID_MAX], from_s[TG_ID_MAX], thread_s[TG_ID_MAX + 2];
    char key[3 * TG_ID_MAX], event[2 * TG_ID_MAX + 2], name[128], display[256];
    struct tg_addressing a;
    bool is_dm, is_topic, is_reply_to_bot, is_thread = false, is_held = false;
    char *clean;
    int rc;

    if (!text) {
        text = tg_str(msg, "caption");
        entities = cJSON_GetObjectItemCaseSensitive(msg, "caption_entities");
    }
    if (!type || !tg_int(chat, "id", &chat_id) || !tg_int(msg, "message_id", &msg_id) ||
        !tg_int(from, "id", &from_id)) {
        t->svc->log(t->host, AB_LOG_DEBUG, "a message without chat, id or sender ignored");
        return false;
    }
    if (!text || !*text)
        return false; /* service messages, stickers, media without a caption */
    if (strcmp(type, "channel") == 0)
        return false;
    is_dm = strcmp(type, "private") == 0;
    is_topic = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(msg, "is_topic_message")) &&
               tg_int(msg, "message_thread_id", &topic) && topic > 0;
    if (!is_topic)
        topic = 0;
    tg_int(reply, "message_id", &reply_id);
    tg_int(reply_from, "id", &reply_from_id);
    /* Every topic message "replies" to the topic's creation message: that is no reply. */
    if (reply && (cJSON_GetObjectItemCaseSensitive(reply, "forum_topic_created") ||
                  (is_topic && reply_id == topic)))
        reply = NULL, reply_id = 0, reply_from_id = 0;
    is_reply_to_bot = reply && t->self_id && reply_from_id == t->self_id;
    tg_addressing_read(t, text, entities, is_dm, &a);
    if (a.other_bot_command)
        return false; /* "/cmd@other_bot": not ours */

    snprintf(chat_s, sizeof(chat_s), "%" PRId64, chat_id);
    snprintf(msg_s, sizeof(msg_s), "%" PRId64, msg_id);
    snprintf(from_s, sizeof(from_s), "%" PRId64, from_id);
    snprintf(event, sizeof(event), "%s:%s", chat_s, msg_s);
    thread_s[0] = '\0';
    if (is_dm) {
        snprintf(key, sizeof(key), "%s", chat_s);
    } else if (is_topic) {
        /* a forum topic is the thread */
        is_thread = true;
        snprintf(thread_s, sizeof(thread_s), TG_TOPIC_PREFIX "%" PRId64, topic);
        snprintf(key, sizeof(key), "%s/%s", chat_s, thread_s);
        tg_thread_remember(t, chat_id, msg_id, -topic);
    } else {
        /* a plain group: the reply chain is the thread */
        root = reply_id ? tg_thread_root(t, chat_id, reply_id) : 0;
        if (root < 0)
            root = 0; /* a topic link in a group that is no forum now */
        if (!root && is_reply_to_bot)
            root = reply_id; /* the bot's answer from before what we remember */
        if (root) {
            is_thread = true;
            snprintf(thread_s, sizeof(thread_s), "%" PRId64, root);
            snprintf(key, sizeof(key), "%s:%s", chat_s, thread_s);
            tg_thread_remember(t, chat_id, msg_id, root);
        } else {
            /* top level: a conversation opens a thread rooted at this message */
            snprintf(thread_s, sizeof(thread_s), "%s", msg_s);
            snprintf(key, sizeof(key), "%s:%s", chat_s, msg_s);
            if (a.mentioned)
                tg_thread_remember(t, chat_id, msg_id, msg_id);
        }
    }
    tg_user_names(from, name, sizeof(name), display, sizeof(display));
    t->svc->log(t->host, AB_LOG_DEBUG, "message %s from user %s in %s chat %s", msg_s, from_s, type,
                chat_s);
    if (!(clean = tg_clean_text(text, &a))) {
        t->svc->log(t->host, AB_LOG_ERROR, "out of memory reading message %s", event);
        return false;
    }
    struct ab_inbound m = {
        .size = sizeof(m),
        .conversation = key,
        .channel_id = chat_s,
        .parent_id = is_thread ? chat_s : NULL,
        .message_id = msg_s,
        .event_id = event,
        .sender_id = from_s,
        .sender_name = name,
        .display_name = *display ? display : NULL,
        .text = text,
        .clean_text = clean,
        .is_thread = is_thread,
        .is_dm = is_dm,
        .is_bot = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(from, "is_bot")),
        .is_self = t->self_id && from_id == t->self_id,
        .mentions_bot = a.mentioned || is_reply_to_bot,
        .is_human_turn = true,
        .thread_is_ours = is_thread && !is_topic,
        .thread_id = is_dm ? NULL : thread_s,
    };
    if (recorded && AB_HAS(t->svc, struct ab_host_services, deliver_held) && t->svc->deliver_held)
        is_held = (rc = t->svc->deliver_held(t->host, &m, recorded, arg)) == 0;
    else
        rc = t->svc->deliver(t->host, &m);
    if (rc < 0)
        t->svc->log(t->host, AB_LOG_WARN, "message %s not delivered: %s", event, ab_strerror(rc));
    free(clean);
    return is_held;
}

/* Hand the core every emoji of @from_list missing from @other, as added or removed. */
static void
tg_reaction_diff(struct ab_chat *t, const cJSON *from_list, const cJSON *other, bool added,
                 const struct ab_reaction_event *base)
{
    const cJSON *r, *o;

    cJSON_ArrayForEach(r, from_list)
    {
        const char *emoji = tg_str(r, "emoji");
        bool in_other = false;

        if (!emoji || strcmp(tg_str(r, "type") ? tg_str(r, "type") : "", "emoji") != 0)
            continue;
        cJSON_ArrayForEach(o, other)
        {
            const char *e2 = tg_str(o, "emoji");
            if (e2 && strcmp(e2, emoji) == 0)
                in_other = true;
        }
        if (in_other)
            continue;
        struct ab_reaction_event ev = *base;
        ev.emoji = tg_status_from_user(emoji);
        ev.added = added;
        t->svc->deliver_reaction(t->host, &ev);
    }
}

/* A message_reaction update (the bot must be an admin to get them). */
static void
tg_reaction(struct ab_chat *t, const cJSON *mr)
{
    const cJSON *chat = cJSON_GetObjectItemCaseSensitive(mr, "chat");
    const cJSON *user = cJSON_GetObjectItemCaseSensitive(mr, "user");
    const cJSON *old = cJSON_GetObjectItemCaseSensitive(mr, "old_reaction");
    const cJSON *now = cJSON_GetObjectItemCaseSensitive(mr, "new_reaction");
    int64_t chat_id, msg_id, user_id;
    char chat_s[TG_ID_MAX], msg_s[TG_ID_MAX], user_s[TG_ID_MAX];

    if (!tg_int(chat, "id", &chat_id) || !tg_int(mr, "message_id", &msg_id) ||
        !tg_int(user, "id", &user_id))
        return; /* anonymous (actor_chat) reactions carry no user to check */
    snprintf(chat_s, sizeof(chat_s), "%" PRId64, chat_id);
    snprintf(msg_s, sizeof(msg_s), "%" PRId64, msg_id);
    snprintf(user_s, sizeof(user_s), "%" PRId64, user_id);
    struct ab_reaction_event base = {
        .size = sizeof(base),
        .msg = {chat_s, msg_s},
        .user_id = user_s,
        .is_self = user_id == t->self_id,
    };
    tg_reaction_diff(t, now, old, true, &base);
    tg_reaction_diff(t, old, now, false, &base);
}

/* An update's id: a non-negative integer (ids fit 52 bits). */
bool
tg_update_id(const cJSON *update, int64_t *out)
{
    return tg_int(update, "update_id", out) && *out >= 0;
}

/* One Update. */
bool
tg_update_handle(struct ab_chat *t, const cJSON *update, tg_recorded_fn recorded, void *arg)
{
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(update, "message");
    const cJSON *mr = cJSON_GetObjectItemCaseSensitive(update, "message_reaction");

    if (cJSON_IsObject(msg))
        return tg_message(t, msg, recorded, arg);
    if (cJSON_IsObject(mr))
        tg_reaction(t, mr);
    return false;
}

/* See telegram.h: the same keys tg_update_message makes ("CHAT" private, "CHAT/tN" a
 * topic, "CHAT:ROOT" a reply chain). */
int
tg_conversation_of(struct ab_chat *t, const char *channel_id, const char *thread_id,
                   const char *message_id, char *out, size_t cap)
{
    int64_t chat, root;
    int n;

    if (!channel_id || ab_str_to_i64(channel_id, INT64_MIN, INT64_MAX, &chat) < 0)
        return AB_EINVAL;
    if (chat > 0) /* a private chat: one conversation */
        n = snprintf(out, cap, "%s", channel_id);
    else if (thread_id && strncmp(thread_id, TG_TOPIC_PREFIX, strlen(TG_TOPIC_PREFIX)) == 0)
        n = snprintf(out, cap, "%s/%s", channel_id, thread_id);
    else if (thread_id)
        n = snprintf(out, cap, "%s:%s", channel_id, thread_id);
    else if (message_id && ab_str_to_i64(message_id, 1, INT64_MAX, &root) == 0) {
        tg_thread_remember(t, chat, root, root); /* a reply to the post joins its chain */
        n = snprintf(out, cap, "%s:%s", channel_id, message_id);
    } else
        return AB_EINVAL;
    return n > 0 && (size_t)n < cap ? 0 : AB_EINVAL;
}
