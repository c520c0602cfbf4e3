/* chat-discord: native commands. The core's commands are registered as global
 * application commands when the session is READY (PUT /applications/{app}/commands,
 * a bulk overwrite, once per instance); an invocation arrives as INTERACTION_CREATE on
 * the gateway, is acknowledged at once with a deferred response (callback type 5:
 * Discord wants an answer within 3 s, the agent may take longer), handed to the core,
 * and the core's answer edits that deferred response
 * (PATCH /webhooks/{app}/{token}/messages/@original). The interaction token is a
 * credential for 15 minutes: it stays in this file and is masked in logs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discord.h"

#define DISCORD_INTERACTION_TTL_MS (15ull * 60 * 1000) /* the token's lifetime */
#define DISCORD_INTERACTION_MARGIN_MS 5000             /* an edit needs time to arrive */
#define DISCORD_INTERACTIONS_MAX 512                   /* unanswered ones kept at most */
#define DISCORD_TYPE_APPLICATION_COMMAND 2
#define DISCORD_TYPE_MESSAGE_COMPONENT 3
#define DISCORD_CALLBACK_DEFERRED_UPDATE 6 /* ack a click; the message is edited later */
#define DISCORD_CHOICE_PREFIX "ab-choice:" /* custom_id of a choice button + its emoji */
#define DISCORD_CALLBACK_DEFERRED 5        /* DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE */
#define DISCORD_OPTION_STRING 3

/* One invocation between its arrival and the core's answer. */
struct discord_interaction {
    struct discord_interaction *next;
    struct ab_chat *chat;
    char id[DISCORD_ID_MAX];     /* the interaction id: the core's reply token */
    char app_id[DISCORD_ID_MAX]; /* application_id */
    char *token;                 /* owned: the interaction token */
    uint64_t created_ms;
    bool is_deferred;   /* the deferred response was accepted */
    bool is_defer_done; /* the deferral's answer came (accepted or not) */
    bool is_answering;  /* the answer was handed over */
    char *text;         /* owned: the answer waiting for the deferral */
    ab_done_cb cb;      /* the answer's completion */
    void *arg;
    int status;             /* the answer's status, for a deferred completion */
    struct ab_defer *defer; /* a completion owed on the next loop turn */
};

/* Unlink and free @it. */
static void
discord_interaction_free(struct discord_interaction *it)
{
    struct ab_chat *c = it->chat;
    struct discord_interaction **link;

    for (link = &c->interactions; *link && *link != it; link = &(*link)->next)
        ;
    if (*link)
        *link = it->next;
    if (it->defer)
        c->svc->defer_cancel(it->defer);
    c->ninteractions--;
    free(it->token);
    free(it->text);
    free(it);
}

/* The owed completion, on a later loop turn. */
static void
discord_interaction_complete_later(void *arg)
{
    struct discord_interaction *it = arg;

    it->defer = NULL;
    if (it->cb)
        it->cb(it->arg, it->status);
    discord_interaction_free(it);
}

/* Finish @it's answer with @status: its callback runs later, then it is freed. */
static void
discord_interaction_finish(struct discord_interaction *it, int status)
{
    it->status = status;
    if (it->chat->svc->defer(it->chat->host, discord_interaction_complete_later, it, &it->defer) <
        0) {
        it->defer = NULL;
        discord_interaction_complete_later(it);
    }
}

/* The edit of the deferred response answered. */
static void
discord_interaction_edited(void *arg, int status, long http, const cJSON *body, int code)
{
    struct discord_interaction *it = arg;

    (void)body;
    if (status < 0 && status != AB_ECANCELED)
        it->chat->svc->log(it->chat->host, AB_LOG_WARN,
                           "interaction %s: the answer was refused (HTTP %ld, code %d)", it->id,
                           http, code);
    if (http == 401) /* Invalid Webhook Token: it expired */
        status = AB_ETIMEDOUT;
    if (status == AB_ECANCELED) { /* closing: the callback runs now, as rest.c promises */
        if (it->cb)
            it->cb(it->arg, status);
        discord_interaction_free(it);
        return;
    }
    discord_interaction_finish(it, status);
}

/* Send the answer: edit the deferred response with it. */
static void
discord_interaction_send(struct discord_interaction *it)
{
    struct ab_chat *c = it->chat;
    cJSON *o = cJSON_CreateObject(), *am;
    char path[512], *body = NULL;
    int rc = AB_ENOMEM;

    if (c->svc->now_ms(c->host) - it->created_ms >=
        DISCORD_INTERACTION_TTL_MS - DISCORD_INTERACTION_MARGIN_MS) {
        discord_interaction_finish(it, AB_ETIMEDOUT);
        return;
    }
    if (o && cJSON_AddStringToObject(o, "content", it->text) &&
        (am = cJSON_AddObjectToObject(o, "allowed_mentions")) &&
        cJSON_AddArrayToObject(am, "parse"))
        body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    snprintf(path, sizeof(path), "/webhooks/%s/%s/messages/@original", it->app_id, it->token);
    if (body)
        rc = discord_rest_call(c, "PATCH", path, body, NULL, discord_interaction_edited, it);
    free(body);
    if (rc < 0)
        discord_interaction_finish(it, rc);
}

/* The deferred response answered: the answer may go now (if it came already). */
static void
discord_interaction_deferred(void *arg, int status, long http, const cJSON *body, int code)
{
    struct discord_interaction *it = arg;
    struct ab_chat *c = it->chat;

    (void)body;
    it->is_defer_done = true;
    it->is_deferred = status == 0;
    if (status < 0 && status != AB_ECANCELED)
        c->svc->log(c->host, AB_LOG_WARN,
                    "interaction %s: the deferred response was refused (HTTP %ld, code %d)", it->id,
                    http, code);
    if (status == AB_ECANCELED) {
        if (it->is_answering && it->cb)
            it->cb(it->arg, status);
        discord_interaction_free(it);
        return;
    }
    if (!it->is_answering)
        return; /* the core answers later */
    if (it->is_deferred)
        discord_interaction_send(it);
    else
        discord_interaction_finish(it, http == 404 ? AB_ETIMEDOUT : status);
}

/* Forget interactions whose token expired unanswered (the core never answered them). */
static void
discord_interactions_sweep(struct ab_chat *c)
{
    uint64_t now = c->svc->now_ms(c->host);
    struct discord_interaction *it, *next;

    for (it = c->interactions; it; it = next) {
        next = it->next;
        if (!it->is_answering && it->is_defer_done &&
            now - it->created_ms >= DISCORD_INTERACTION_TTL_MS)
            discord_interaction_free(it);
    }
}

/* The answer from the core (ab_chat_ops.command_reply). */
int
discord_command_reply(struct ab_chat *c, const char *reply_token, const char *text, ab_done_cb cb,
                      void *arg)
{
    struct discord_interaction *it;
    size_t len;

    if (!reply_token || !text)
        return AB_EINVAL;
    for (it = c->interactions; it; it = it->next)
        if (!it->is_answering && strcmp(it->id, reply_token) == 0)
            break;
    if (!it)
        return AB_ENOENT;
    len = c->svc->utf8_truncate(text, strlen(text), DISCORD_MAX_CHARS, SIZE_MAX,
                                AB_UTF8_WHOLE_GRAPHEMES);
    if (!(it->text = len ? strndup(text, len) : strdup("…")))
        return AB_ENOMEM;
    it->is_answering = true;
    it->cb = cb;
    it->arg = arg;
    if (!it->is_defer_done)
        return 0; /* sent when the deferral is accepted */
    if (it->is_deferred)
        discord_interaction_send(it);
    else
        discord_interaction_finish(it, AB_ETIMEDOUT);
    return 0;
}

/* The user of an interaction: member.user in a guild, user in a DM. */
static const cJSON *
discord_interaction_user(const cJSON *d)
{
    const cJSON *u =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(d, "member"), "user");

    return cJSON_IsObject(u) ? u : cJSON_GetObjectItemCaseSensitive(d, "user");
}

/* The first string option's value, or "". */
static const char *
discord_interaction_arg(const cJSON *data)
{
    const cJSON *o;

    cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(data, "options"))
    {
        const char *v = discord_json_str(o, "value");
        if (v)
            return v;
    }
    return "";
}

/* Hand the invocation to the core, described like a message typed in its channel. */
static int
discord_interaction_deliver(struct ab_chat *c, struct discord_interaction *it, const cJSON *d,
                            const char *name)
{
    const cJSON *user = discord_interaction_user(d),
                *ch = cJSON_GetObjectItemCaseSensitive(d, "channel");
    const char *channel_id = discord_json_str(d, "channel_id");
    const char *uid = discord_json_str(user, "id");
    const struct discord_channel *known;
    char parent[DISCORD_ID_MAX] = "";
    bool is_thread = false;

    if (!channel_id || !uid)
        return AB_EINVAL;
    if (cJSON_IsObject(ch))
        discord_cache_put(&c->cache, ch);
    if ((known = discord_cache_get(&c->cache, channel_id))) {
        is_thread = known->is_thread;
        snprintf(parent, sizeof(parent), "%s", known->parent_id);
    }
    struct ab_inbound where = {
        .size = sizeof(where),
        .conversation = channel_id,
        .channel_id = channel_id,
        .parent_id = is_thread && *parent ? parent : NULL,
        .message_id = it->id,
        .event_id = it->id,
        .sender_id = uid,
        .sender_name = discord_json_str(user, "username"),
        .display_name = discord_json_str(user, "global_name"),
        .text = "",
        .is_thread = is_thread,
        .is_dm = !discord_json_str(d, "guild_id"),
        .is_bot = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(user, "bot")),
        .mentions_bot = true, /* a command is addressed to the bot */
        .is_human_turn = true,
        .thread_is_ours = is_thread && known && strcmp(known->owner_id, c->bot_id) == 0,
        .thread_id = is_thread ? channel_id : NULL,
    };
    struct ab_command_event ev = {
        .size = sizeof(ev),
        .where = &where,
        .name = name,
        .args = discord_interaction_arg(cJSON_GetObjectItemCaseSensitive(d, "data")),
        .reply_token = it->id,
    };
    if (!AB_HAS(c->svc, struct ab_host_services, deliver_command) || !c->svc->deliver_command)
        return AB_ENOTSUP;
    return c->svc->deliver_command(c->host, &ev);
}

/* See discord.h: one action row (type 1) of secondary buttons (type 2, style 2) whose
 * custom_id carries the choice's emoji. */
void
discord_buttons_add(cJSON *body, const char *const *choices)
{
    cJSON *rows = cJSON_AddArrayToObject(body, "components"), *row, *buttons;
    char id[101];

    if (!rows || !(row = cJSON_CreateObject()))
        return;
    cJSON_AddItemToArray(rows, row);
    cJSON_AddNumberToObject(row, "type", 1);
    if (!(buttons = cJSON_AddArrayToObject(row, "components")))
        return;
    for (size_t i = 0; choices[i] && i < 5; i++) {
        cJSON *b = cJSON_CreateObject(), *emoji;
        if (!b || strlen(choices[i]) + sizeof(DISCORD_CHOICE_PREFIX) > sizeof(id)) {
            cJSON_Delete(b);
            continue;
        }
        snprintf(id, sizeof(id), "%s%s", DISCORD_CHOICE_PREFIX, choices[i]);
        cJSON_AddItemToArray(buttons, b);
        cJSON_AddNumberToObject(b, "type", 2);
        cJSON_AddNumberToObject(b, "style", 2);
        cJSON_AddStringToObject(b, "custom_id", id);
        if ((emoji = cJSON_AddObjectToObject(b, "emoji")))
            cJSON_AddStringToObject(emoji, "name", choices[i]);
    }
}

/* The click's acknowledgement answered (nothing waits on it). */
static void
discord_interactions_click_acked(void *arg, int status, long http, const cJSON *body, int code)
{
    struct ab_chat *c = arg;

    (void)body;
    if (status < 0 && status != AB_ECANCELED)
        c->svc->log(c->host, AB_LOG_WARN, "a button click was not acknowledged (HTTP %ld, code %d)",
                    http, code);
}

/* A click on one of our choice buttons: acknowledge it (deferred update), then hand it
 * to the core as the clicker's reaction with that choice. */
static void
discord_interactions_click(struct ab_chat *c, const cJSON *d, const char *id, const char *token)
{
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(d, "data");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(d, "message");
    const char *custom = discord_json_str(data, "custom_id");
    const char *mid = discord_json_str(msg, "id"), *channel = discord_json_str(d, "channel_id");
    const char *user = discord_json_str(discord_interaction_user(d), "id");
    const struct discord_channel *known = channel ? discord_cache_get(&c->cache, channel) : NULL;
    char path[512];

    if (!custom || strncmp(custom, DISCORD_CHOICE_PREFIX, strlen(DISCORD_CHOICE_PREFIX)) != 0 ||
        !mid || !channel || !user) {
        c->svc->log(c->host, AB_LOG_DEBUG, "component interaction skipped: not one of ours");
        return;
    }
    snprintf(path, sizeof(path), "/interactions/%s/%s/callback", id, token);
    discord_rest_call(c, "POST", path, "{\"type\":6}", NULL, discord_interactions_click_acked, c);
    struct ab_reaction_event ev = {
        .size = sizeof(ev),
        .msg = {channel, mid},
        /* a thread is its conversation; elsewhere the core looks among running turns */
        .conversation = known && known->is_thread ? channel : NULL,
        .user_id = user,
        .emoji = custom + strlen(DISCORD_CHOICE_PREFIX),
        .added = true,
        .is_self = strcmp(user, c->bot_id) == 0,
    };
    c->svc->deliver_reaction(c->host, &ev);
}

/* INTERACTION_CREATE: acknowledge within the deadline, then hand it to the core. */
void
discord_interactions_create(struct ab_chat *c, const cJSON *d)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(d, "type");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(d, "data");
    const char *id = discord_json_str(d, "id"), *token = discord_json_str(d, "token");
    const char *app = discord_json_str(d, "application_id"), *name = discord_json_str(data, "name");
    struct discord_interaction *it;
    char path[512];
    int rc;

    discord_interactions_sweep(c);
    if (cJSON_IsNumber(type) && type->valueint == DISCORD_TYPE_MESSAGE_COMPONENT && id && token &&
        strlen(token) <= 300 && !strchr(token, '/') && !strchr(id, '/')) {
        discord_interactions_click(c, d, id, token);
        return;
    }
    if (!cJSON_IsNumber(type) || type->valueint != DISCORD_TYPE_APPLICATION_COMMAND || !id ||
        !token || !app || !name || strlen(id) >= DISCORD_ID_MAX || strlen(app) >= DISCORD_ID_MAX ||
        strlen(token) > 300 || strchr(token, '/')) {
        c->svc->log(c->host, AB_LOG_DEBUG, "interaction skipped: not a well-formed command");
        return;
    }
    if (c->ninteractions >= DISCORD_INTERACTIONS_MAX || !(it = calloc(1, sizeof(*it)))) {
        c->svc->log(c->host, AB_LOG_WARN, "interaction %s dropped: too many unanswered", id);
        return;
    }
    it->chat = c;
    snprintf(it->id, sizeof(it->id), "%s", id);
    snprintf(it->app_id, sizeof(it->app_id), "%s", app);
    it->created_ms = c->svc->now_ms(c->host);
    if (!(it->token = strdup(token))) {
        free(it);
        return;
    }
    it->next = c->interactions;
    c->interactions = it;
    c->ninteractions++;
    snprintf(path, sizeof(path), "/interactions/%s/%s/callback", id, token);
    if ((rc = discord_rest_call(c, "POST", path, "{\"type\":5}", NULL, discord_interaction_deferred,
                                it)) < 0) {
        discord_interaction_free(it);
        return;
    }
    if ((rc = discord_interaction_deliver(c, it, d, name)) < 0) {
        c->svc->log(c->host, AB_LOG_WARN, "interaction %s (/%s) not handled: %s", id, name,
                    ab_strerror(rc));
        discord_command_reply(c, it->id, "⚠️ This command could not be handled.", NULL, NULL);
    }
}

/* Lower-case [a-z0-9_-] copy of @s into @out (the option name Discord accepts). */
static void
discord_interactions_option_name(const char *s, char *out, size_t cap)
{
    size_t n = 0;

    for (; *s && n + 1 < cap; s++) {
        char ch = *s >= 'A' && *s <= 'Z' ? (char)(*s - 'A' + 'a') : *s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-')
            out[n++] = ch;
    }
    out[n] = '\0';
    if (!n)
        snprintf(out, cap, "value");
}

/* The registration answered. */
static void
discord_interactions_registered(void *arg, int status, long http, const cJSON *body, int code)
{
    struct ab_chat *c = arg;

    (void)body;
    if (status == 0)
        c->svc->log(c->host, AB_LOG_INFO, "application commands registered");
    else if (status != AB_ECANCELED)
        c->svc->log(c->host, AB_LOG_WARN,
                    "application commands not registered (HTTP %ld, code %d): type them as "
                    "text, e.g. @bot /reset",
                    http, code);
}

/* The body of PUT /applications/{app}/commands from the core's list, or NULL. */
static char *
discord_interactions_schema(struct ab_chat *c)
{
    const struct ab_command_info *list;
    cJSON *arr = cJSON_CreateArray();
    size_t n = 0;
    char *out = NULL;

    if (!arr || c->svc->commands_list(c->host, &list, &n) < 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        const struct ab_command_info *ci =
            (const struct ab_command_info *)(const void *)((const char *)list + i * list->size);
        cJSON *o = cJSON_CreateObject(), *opts, *opt;
        char desc[101], oname[33];
        size_t dl;
        if (!o)
            goto done;
        cJSON_AddItemToArray(arr, o);
        dl = c->svc->utf8_truncate(ci->help ? ci->help : ci->name,
                                   strlen(ci->help ? ci->help : ci->name), 100, sizeof(desc) - 1,
                                   AB_UTF8_WHOLE_GRAPHEMES);
        memcpy(desc, ci->help ? ci->help : ci->name, dl);
        desc[dl] = '\0';
        cJSON_AddStringToObject(o, "name", ci->name);
        cJSON_AddNumberToObject(o, "type", 1);
        cJSON_AddStringToObject(o, "description", dl ? desc : ci->name);
        if (!ci->usage)
            continue;
        discord_interactions_option_name(ci->usage, oname, sizeof(oname));
        if ((opts = cJSON_AddArrayToObject(o, "options")) && (opt = cJSON_CreateObject())) {
            cJSON_AddItemToArray(opts, opt);
            cJSON_AddNumberToObject(opt, "type", DISCORD_OPTION_STRING);
            cJSON_AddStringToObject(opt, "name", oname);
            cJSON_AddStringToObject(opt, "description", ci->usage);
            cJSON_AddBoolToObject(opt, "required", false);
        }
    }
    out = cJSON_PrintUnformatted(arr);
done:
    cJSON_Delete(arr);
    return out;
}

/* READY: register the core's commands once per instance (a bulk overwrite). */
void
discord_interactions_ready(struct ab_chat *c, const cJSON *d)
{
    const char *app = discord_json_str(cJSON_GetObjectItemCaseSensitive(d, "application"), "id");
    char path[128], *body;

    if (c->is_commands_registered || !app || strlen(app) >= DISCORD_ID_MAX ||
        !AB_HAS(c->svc, struct ab_host_services, commands_list) || !c->svc->commands_list)
        return;
    if (!(body = discord_interactions_schema(c)))
        return;
    snprintf(path, sizeof(path), "/applications/%s/commands", app);
    if (discord_rest_call(c, "PUT", path, body, NULL, discord_interactions_registered, c) == 0)
        c->is_commands_registered = true;
    free(body);
}

/* Forget every invocation (the instance is closing; rest.c already failed their calls). */
void
discord_interactions_close(struct ab_chat *c)
{
    while (c->interactions)
        discord_interaction_free(c->interactions);
}
