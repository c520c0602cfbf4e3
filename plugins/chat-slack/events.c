/* chat-slack events: Events API payloads turned into the core's inbound messages and
 * reactions. app_mention and message are twins for one mention (separate event ids,
 * same ts): the message twin of a channel mention is dropped, the mention carries it.
 * Redelivered events (same event id) are dropped here too, reactions included. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slack.h"

#define EVENTS_KEY_MAX 256
#define EVENTS_ID_MAX 128 /* Slack's are "Ev" + ~10 characters; the ring keeps 256 */

/* A string member of @obj, or NULL. */
static const char *
events_str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

/* True the first time @id is seen among the last EVENTS_SEEN_MAX; remembers it. */
static bool
events_first_time(struct ab_chat *s, const char *id)
{
    char *copy;

    for (size_t i = 0; i < EVENTS_SEEN_MAX; i++)
        if (s->seen[i] && strcmp(s->seen[i], id) == 0)
            return false;
    if (!(copy = strdup(id)))
        return true; /* out of memory: better handled twice than lost */
    free(s->seen[s->seen_next]);
    s->seen[s->seen_next] = copy;
    s->seen_next = (s->seen_next + 1) % EVENTS_SEEN_MAX;
    return true;
}

/* Forget every remembered event id. */
void
events_free(struct ab_chat *s)
{
    for (size_t i = 0; i < EVENTS_SEEN_MAX; i++) {
        free(s->seen[i]);
        s->seen[i] = NULL;
    }
}

/* Slack's text as people typed it: &amp; &lt; &gt; unescaped. Returns a malloc'd
 * string or NULL. */
static char *
events_text(const char *in)
{
    size_t n = strlen(in), len = 0;
    char *out = malloc(n + 1);

    if (!out)
        return NULL;
    for (size_t i = 0; i < n;) {
        if (strncmp(in + i, "&amp;", 5) == 0) {
            out[len++] = '&';
            i += 5;
        } else if (strncmp(in + i, "&lt;", 4) == 0) {
            out[len++] = '<';
            i += 4;
        } else if (strncmp(in + i, "&gt;", 4) == 0) {
            out[len++] = '>';
            i += 4;
        } else {
            out[len++] = in[i++];
        }
    }
    out[len] = '\0';
    return out;
}

/* True for message subtypes that are a person (or bot) speaking: plain, /me,
 * "also send to channel", and file shares with text. */
static bool
events_is_turn_subtype(const char *subtype)
{
    return !subtype || strcmp(subtype, "me_message") == 0 ||
           strcmp(subtype, "thread_broadcast") == 0 || strcmp(subtype, "file_share") == 0 ||
           strcmp(subtype, "bot_message") == 0;
}

/* An app_mention or message event: hand it to the core as one inbound message. True
 * when it was handed with deliver_held (@recorded then owes the ack). */
static bool
events_message(struct ab_chat *s, const cJSON *ev, const char *event_id, bool is_mention,
               events_recorded_fn recorded, void *arg)
{
    const char *channel = events_str(ev, "channel"), *ts = events_str(ev, "ts");
    const char *thread_ts = events_str(ev, "thread_ts"), *user = events_str(ev, "user");
    const char *bot_id = events_str(ev, "bot_id"), *subtype = events_str(ev, "subtype");
    const char *raw = events_str(ev, "text"), *channel_type = events_str(ev, "channel_type");
    const char *parent_user = events_str(ev, "parent_user_id");
    bool is_dm = channel_type && strcmp(channel_type, "im") == 0;
    bool is_thread = thread_ts && ts && strcmp(thread_ts, ts) != 0;
    bool is_bot = bot_id || (subtype && strcmp(subtype, "bot_message") == 0);
    char key[EVENTS_KEY_MAX];
    char *text = NULL, *clean = NULL, *stripped = NULL;
    struct ab_attachment *files = NULL;
    size_t nfiles = 0;
    bool is_held = false;
    int rc, mentioned;

    if (!channel || !ts || !events_is_turn_subtype(subtype))
        return false;
    if ((mentioned = slack_mention_strip(raw ? raw : "", s->self_user, &stripped)) < 0) {
        s->svc->log(s->host, AB_LOG_ERROR, "out of memory reading message %s", ts);
        return false;
    }
    /* The same mention arrives as app_mention too (never in DMs): answer that one. */
    if (!is_mention && !is_dm && mentioned > 0)
        goto done;
    if (!user)
        user = bot_id;
    if (!user)
        goto done;
    snprintf(key, sizeof(key), "%s:%s", channel, thread_ts ? thread_ts : ts);
    if (!(text = events_text(raw ? raw : "")) || !(clean = events_text(stripped))) {
        s->svc->log(s->host, AB_LOG_ERROR, "out of memory reading message %s", ts);
        goto done;
    }
    struct ab_inbound m = {
        .size = sizeof(m),
        .conversation = key,
        .channel_id = channel,
        .parent_id = is_thread ? channel : NULL,
        .message_id = ts,
        .event_id = event_id,
        .sender_id = user,
        .sender_name = user,
        .text = text,
        .clean_text = clean,
        .is_thread = is_thread,
        .is_dm = is_dm,
        .is_bot = is_bot,
        .is_self = is_bot && ((*s->self_user && strcmp(user, s->self_user) == 0) ||
                              (bot_id && *s->self_bot && strcmp(bot_id, s->self_bot) == 0)),
        .mentions_bot = is_mention || mentioned > 0,
        .is_human_turn = true,
        .thread_is_ours = is_thread && parent_user && strcmp(parent_user, s->self_user) == 0,
        /* top level: the reply threads under the message itself */
        .thread_id = thread_ts ? thread_ts : ts,
    };
    nfiles = slack_files(ev, &files);
    m.attachments = files;
    m.attachment_count = nfiles;
    if (recorded && AB_HAS(s->svc, struct ab_host_services, deliver_held) && s->svc->deliver_held)
        is_held = (rc = s->svc->deliver_held(s->host, &m, recorded, arg)) == 0;
    else
        rc = s->svc->deliver(s->host, &m);
    if (rc < 0)
        s->svc->log(s->host, AB_LOG_WARN, "message %s in %s not delivered: %s", ts, channel,
                    ab_strerror(rc));
done:
    free(files);
    free(stripped);
    free(text);
    free(clean);
    return is_held;
}

/* reaction_added / reaction_removed on a message: hand it to the core in Unicode. */
static void
events_reaction(struct ab_chat *s, const cJSON *ev, bool added)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(ev, "item");
    const char *name = events_str(ev, "reaction"), *user = events_str(ev, "user");
    const char *emoji = name ? emoji_name_unicode(name) : NULL;
    const char *type = events_str(item, "type");

    if (!type || strcmp(type, "message") != 0 || !user)
        return;
    if (!emoji) {
        s->svc->log(s->host, AB_LOG_DEBUG, "reaction :%s: has no meaning here", name ? name : "?");
        return;
    }
    struct ab_reaction_event r = {
        .size = sizeof(r),
        .msg = {events_str(item, "channel"), events_str(item, "ts")},
        .user_id = user,
        .emoji = emoji,
        .added = added,
        .is_self = strcmp(user, s->self_user) == 0,
    };
    if (!r.msg.channel_id || !r.msg.message_id)
        return;
    s->svc->deliver_reaction(s->host, &r);
}

/* One Events API payload. */
bool
events_handle(struct ab_chat *s, const cJSON *payload, events_recorded_fn recorded, void *arg)
{
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(payload, "event");
    const char *event_id = events_str(payload, "event_id"), *type = events_str(ev, "type");

    if (!type) {
        s->svc->log(s->host, AB_LOG_WARN, "events_api envelope without an event");
        return false;
    }
    if (event_id && strlen(event_id) > EVENTS_ID_MAX) {
        s->svc->log(s->host, AB_LOG_WARN, "event with a %zu-byte event_id ignored",
                    strlen(event_id));
        return false;
    }
    if (event_id && !events_first_time(s, event_id)) {
        s->svc->log(s->host, AB_LOG_DEBUG, "event %s seen before: dropped", event_id);
        return false;
    }
    if (strcmp(type, "app_mention") == 0)
        return events_message(s, ev, event_id, true, recorded, arg);
    else if (strcmp(type, "message") == 0)
        return events_message(s, ev, event_id, false, recorded, arg);
    else if (strcmp(type, "reaction_added") == 0)
        events_reaction(s, ev, true);
    else if (strcmp(type, "reaction_removed") == 0)
        events_reaction(s, ev, false);
    else
        s->svc->log(s->host, AB_LOG_DEBUG, "ignoring a %s event", type);
    return false;
}

/* See slack.h: a conversation is "CHANNEL:THREAD_TS", a thread named by its root's ts. */
int
slack_conversation_of(struct ab_chat *chat, const char *channel_id, const char *thread_id,
                      const char *message_id, char *out, size_t cap)
{
    const char *ts = thread_id ? thread_id : message_id;
    int n;

    (void)chat;
    if (!channel_id || !ts)
        return AB_EINVAL;
    n = snprintf(out, cap, "%s:%s", channel_id, ts);
    return n > 0 && (size_t)n < cap && (size_t)n < EVENTS_KEY_MAX ? 0 : AB_EINVAL;
}
