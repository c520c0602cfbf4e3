/* chat-discord outbound operations: post, edit, react and open a thread, each one REST
 * call (two when a thread already exists), and the rate facts the core schedules them
 * by: each operation's route and the static rules. Posts never ping anyone
 * (allowed_mentions parse: []) and carry the core's nonce with enforce_nonce, so a post the core
 * retries is not doubled. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "discord.h"

#define DISCORD_THREAD_NAME_MAX 100 /* characters */

/* Reactions: effectively one per 250 ms per channel whatever the headers say
 * (discord/discord-api-docs#182); the core counts the spacing from the previous answer.
 * Global: 50 requests per second per bot. */
const struct ab_rate_rule discord_rate_rules[DISCORD_RATE_RULE_COUNT] = {
    {.size = sizeof(struct ab_rate_rule), .route_prefix = "reactions ", .min_spacing_ms = 250},
    {.size = sizeof(struct ab_rate_rule),
     .flags = AB_RATE_RULE_PLUGIN,
     .route_prefix = "",
     .limit = 50,
     .window_ms = 1000},
};

/* One operation in flight: what to call back and what the follow-up needs. */
struct discord_op {
    struct ab_chat *chat;
    ab_sent_cb sent;
    ab_done_cb done;
    ab_thread_cb thread;
    void *arg;
    char channel[DISCORD_ID_MAX];
    char message[DISCORD_ID_MAX];
};

/* Unicode characters in @s as Discord counts them (the host's utf8_count). */
static size_t
discord_outbound_chars(struct ab_chat *c, const char *s)
{
    return c->svc->utf8_count(s, strlen(s));
}

/* Whether @id is a snowflake Discord would accept in a path. */
static bool
discord_outbound_id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;

    if (n == 0 || n >= DISCORD_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (id[i] < '0' || id[i] > '9')
            return false;
    return true;
}

/* A new operation record, or NULL. */
static struct discord_op *
discord_op_new(struct ab_chat *c, const char *channel, const char *message, void *arg)
{
    struct discord_op *op = calloc(1, sizeof(*op));

    if (!op)
        return NULL;
    op->chat = c;
    op->arg = arg;
    snprintf(op->channel, sizeof(op->channel), "%s", channel ? channel : "");
    snprintf(op->message, sizeof(op->message), "%s", message ? message : "");
    return op;
}

/* Free an operation record. */
static void
discord_op_free(struct discord_op *op)
{
    free(op);
}

/* Issue @op's call; frees @op when the call could not even be started. */
static int
discord_op_call(struct discord_op *op, const char *method, const char *path, cJSON *body,
                discord_rest_cb cb)
{
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;
    int rc;

    if (body && !text)
        rc = AB_ENOMEM;
    else
        rc = discord_rest_call(op->chat, method, path, text, op->arg, cb, op);
    free(text);
    cJSON_Delete(body);
    if (rc < 0)
        discord_op_free(op);
    return rc;
}

/* A message body with @text that pings nobody. */
static cJSON *
discord_outbound_body(const char *text)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *am = cJSON_AddObjectToObject(o, "allowed_mentions");

    cJSON_AddStringToObject(o, "content", text);
    cJSON_AddArrayToObject(am, "parse");
    return o;
}

/* POST answered: report the new message. */
static void
discord_outbound_sent(void *arg, int status, long http, const cJSON *body, int code)
{
    struct discord_op *op = arg;
    const char *id = discord_json_str(body, "id");
    const char *channel = discord_json_str(body, "channel_id");

    (void)http;
    (void)code;
    if (status == 0 && !id)
        status = AB_EPROTO;
    op->sent(op->arg, status,
             status == 0 ? &(struct ab_msg_ref){channel ? channel : op->channel, id} : NULL);
    discord_op_free(op);
}

/* Post a message into the thread (its own channel) or the channel. */
int
discord_send(struct ab_chat *c, const struct ab_send *msg, ab_sent_cb cb, void *arg)
{
    const char *target = msg->thread_id && *msg->thread_id ? msg->thread_id : msg->channel_id;
    char path[96];
    struct discord_op *op;
    cJSON *body;

    if (!discord_outbound_id_ok(target) || !msg->text || !*msg->text ||
        discord_outbound_chars(c, msg->text) > DISCORD_MAX_CHARS)
        return AB_EINVAL;
    if (!(op = discord_op_new(c, target, NULL, arg)))
        return AB_ENOMEM;
    op->sent = cb;
    body = discord_outbound_body(msg->text);
    if (AB_HAS(msg, struct ab_send, choices) && msg->choices)
        discord_buttons_add(body, msg->choices);
    /* The core's key, the same for every attempt: Discord returns the earlier message for a
     * repeat. Without one (or one Discord would refuse), a plain post. */
    if (msg->nonce && *msg->nonce && strlen(msg->nonce) <= 25) {
        cJSON_AddStringToObject(body, "nonce", msg->nonce);
        cJSON_AddBoolToObject(body, "enforce_nonce", 1);
    }
    snprintf(path, sizeof(path), "/channels/%s/messages", target);
    return discord_op_call(op, "POST", path, body, discord_outbound_sent);
}

/* An edit or a reaction answered. */
static void
discord_outbound_done(void *arg, int status, long http, const cJSON *body, int code)
{
    struct discord_op *op = arg;

    (void)http;
    (void)body;
    (void)code;
    op->done(op->arg, status);
    discord_op_free(op);
}

/* Replace a message's text. */
int
discord_edit(struct ab_chat *c, const struct ab_msg_ref *ref, const char *text, ab_done_cb cb,
             void *arg)
{
    char path[128];
    struct discord_op *op;
    cJSON *body;

    if (!discord_outbound_id_ok(ref->channel_id) || !discord_outbound_id_ok(ref->message_id) ||
        !text || !*text || discord_outbound_chars(c, text) > DISCORD_MAX_CHARS)
        return AB_EINVAL;
    if (!(op = discord_op_new(c, ref->channel_id, ref->message_id, arg)))
        return AB_ENOMEM;
    op->done = cb;
    snprintf(path, sizeof(path), "/channels/%s/messages/%s", ref->channel_id, ref->message_id);
    body = discord_outbound_body(text);
    /* An edited question is decided: its buttons go (no other post of ours has any). */
    cJSON_AddArrayToObject(body, "components");
    return discord_op_call(op, "PATCH", path, body, discord_outbound_done);
}

/* Percent-encode every byte of @emoji that is not an ASCII letter or digit. */
static int
discord_outbound_encode(const char *emoji, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;

    for (const unsigned char *p = (const unsigned char *)emoji; *p; p++) {
        if (n + 4 > cap)
            return AB_EINVAL;
        if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) {
            out[n++] = (char)*p;
        } else {
            out[n++] = '%';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        }
    }
    out[n] = '\0';
    return n ? 0 : AB_EINVAL;
}

/* Add or remove the bot's own reaction (the core spaces them per channel). */
int
discord_react(struct ab_chat *c, const struct ab_msg_ref *ref, const char *emoji, bool add,
              ab_done_cb cb, void *arg)
{
    char enc[256], path[400];
    struct discord_op *op;

    if (!discord_outbound_id_ok(ref->channel_id) || !discord_outbound_id_ok(ref->message_id) ||
        !emoji || discord_outbound_encode(emoji, enc, sizeof(enc)) < 0)
        return AB_EINVAL;
    if (!(op = discord_op_new(c, ref->channel_id, ref->message_id, arg)))
        return AB_ENOMEM;
    op->done = cb;
    snprintf(path, sizeof(path), "/channels/%s/messages/%s/reactions/%s/@me", ref->channel_id,
             ref->message_id, enc);
    return discord_op_call(op, add ? "PUT" : "DELETE", path, NULL, discord_outbound_done);
}

/* GET message answered after a 160004: the thread is message.thread. */
static void
discord_outbound_thread_found(void *arg, int status, long http, const cJSON *body, int code)
{
    struct discord_op *op = arg;
    const cJSON *thread = cJSON_GetObjectItemCaseSensitive(body, "thread");
    const char *id = discord_json_str(thread, "id");

    (void)http;
    (void)code;
    if (status == 0 && id) {
        discord_cache_put(&op->chat->cache, thread);
        op->chat->svc->log(op->chat->host, AB_LOG_INFO,
                           "thread %s already existed for message %s: joining it", id, op->message);
    }
    op->thread(op->arg, status == 0 && !id ? AB_EPROTO : status, status == 0 ? id : NULL);
    discord_op_free(op);
}

/* POST threads answered: the thread, or on 160004 a lookup of the existing one. */
static void
discord_outbound_thread_made(void *arg, int status, long http, const cJSON *body, int code)
{
    struct discord_op *op = arg;
    const char *id = discord_json_str(body, "id");
    char path[96];

    (void)http;
    if (status == 0 && id) {
        discord_cache_put(&op->chat->cache, body);
        op->thread(op->arg, 0, id);
        discord_op_free(op);
        return;
    }
    if (code == 160004) { /* another bot (or an earlier try) made it: join that one */
        snprintf(path, sizeof(path), "/channels/%s/messages/%s", op->channel, op->message);
        if (discord_rest_call(op->chat, "GET", path, NULL, NULL, discord_outbound_thread_found,
                              op) == 0)
            return;
        status = AB_EIO;
    }
    op->thread(op->arg, status == 0 ? AB_EPROTO : status, NULL);
    discord_op_free(op);
}

/* Start a public thread from @origin named @name (cut to 100 characters). */
int
discord_open_thread(struct ab_chat *c, const struct ab_msg_ref *origin, const char *name,
                    ab_thread_cb cb, void *arg)
{
    char path[128], cut[DISCORD_THREAD_NAME_MAX * 4 + 1];
    size_t bytes;
    struct discord_op *op;
    cJSON *body;

    if (!discord_outbound_id_ok(origin->channel_id) || !discord_outbound_id_ok(origin->message_id))
        return AB_EINVAL;
    if (!name || !*name)
        name = "agent";
    /* whole characters only: an emoji sequence is kept or left out, never split */
    bytes = c->svc->utf8_truncate(name, strlen(name), DISCORD_THREAD_NAME_MAX, sizeof(cut) - 1,
                                  AB_UTF8_WHOLE_GRAPHEMES);
    memcpy(cut, name, bytes);
    cut[bytes] = '\0';
    if (!(op = discord_op_new(c, origin->channel_id, origin->message_id, arg)))
        return AB_ENOMEM;
    op->thread = cb;
    body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "name", cut);
    cJSON_AddNumberToObject(body, "auto_archive_duration", 1440);
    snprintf(path, sizeof(path), "/channels/%s/messages/%s/threads", origin->channel_id,
             origin->message_id);
    return discord_op_call(op, "POST", path, body, discord_outbound_thread_made);
}

/* Discord's route of an operation: method, route and major parameter (the channel);
 * the platform's answers then name the bucket each route falls in. */
int
discord_rate_route(struct ab_chat *c, const struct ab_op_target *op, char *out, size_t cap)
{
    const char *channel = op->channel_id;
    int n;

    (void)c;
    if ((op->op == AB_OP_SEND || op->op == AB_OP_UPLOAD) && op->thread_id && *op->thread_id)
        channel = op->thread_id; /* a thread is its own channel */
    if (!discord_outbound_id_ok(channel))
        return AB_EINVAL;
    switch (op->op) {
    case AB_OP_SEND:
    case AB_OP_UPLOAD: n = snprintf(out, cap, "POST /channels/%s/messages", channel); break;
    case AB_OP_EDIT: n = snprintf(out, cap, "PATCH /channels/%s/messages", channel); break;
    case AB_OP_REACT: n = snprintf(out, cap, "reactions %s", channel); break;
    case AB_OP_OPEN_THREAD: n = snprintf(out, cap, "POST /channels/%s/threads", channel); break;
    default: return AB_EINVAL;
    }
    return n > 0 && (size_t)n < cap ? 0 : AB_EINVAL;
}
