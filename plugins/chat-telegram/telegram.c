/* chat-telegram: Telegram through the Bot API — long polling (poll.c) or a webhook on the
 * ingress listener (webhook.c) in, one update handler for both (updates.c),
 * sendMessage / editMessageText / setMessageReaction out (Markdown rendered as entities,
 * entities.c), "typing" while a turn runs. This file holds the instance's life cycle,
 * the chat operations the core calls and the descriptor. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strdup, strtok_r: built on its own against the installed headers too */
#endif
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "telegram.h"

#define TG_DEFAULT_API "https://api.telegram.org"
#define TG_ME_BACKOFF_KEY "getMe"
#define TG_TYPING_EVERY_MS 4000       /* Telegram shows "typing" for 5 s at most */
#define TG_TYPING_MAX_MS (15 * 60000) /* a turn that never reports its end stops typing */

enum tg_op_kind { TG_OP_SEND, TG_OP_EDIT, TG_OP_REACT, TG_OP_THREAD };

struct tg_op {
    struct ab_chat *t;
    enum tg_op_kind kind;
    struct tg_call *call;   /* lent from the instance's calls, while in flight */
    struct ab_defer *defer; /* an answer on the next loop turn (host-owned) */
    ab_sent_cb sent;
    ab_done_cb done;
    ab_thread_cb thread;
    void *arg;
    cJSON *params;      /* owned: the request, kept for the plain-text fallback */
    const char *method; /* static */
    bool is_plain;      /* sent without entities */
    int64_t chat;
    int64_t root;  /* send: the reply-chain root (plain groups), 0 none */
    int64_t topic; /* send: the forum topic, 0 none */
    char id[32];   /* open_thread: the thread id to report */
    struct tg_op *next;
};

/* Unlink and free an operation. */
static void
tg_op_free(struct tg_op *op)
{
    struct ab_chat *t = op->t;

    for (struct tg_op **link = &t->ops; *link; link = &(*link)->next) {
        if (*link == op) {
            *link = op->next;
            break;
        }
    }
    t->svc->defer_cancel(op->defer);
    cJSON_Delete(op->params);
    free(op);
}

/* A new operation linked into the instance. */
static struct tg_op *
tg_op_new(struct ab_chat *t, enum tg_op_kind kind, void *arg)
{
    struct tg_op *op = calloc(1, sizeof(*op));

    if (!op)
        return NULL;
    op->t = t;
    op->kind = kind;
    op->arg = arg;
    op->next = t->ops;
    t->ops = op;
    return op;
}

/* An id the core passed back (a chat or message id as text). */
static bool
tg_parse_id(const char *s, int64_t *out)
{
    char *end;
    long long v;

    if (!s || !*s)
        return false;
    v = strtoll(s, &end, 10);
    if (*end || v == 0 || v > 9000000000000000LL || v < -9000000000000000LL)
        return false;
    *out = v;
    return true;
}

static void tg_op_answered(void *arg, int status, const cJSON *result, const char *description);

/* Send (or send again) the operation's request. */
static int
tg_op_call(struct tg_op *op)
{
    return tg_api_call(op->t, op->method, op->params, op->arg, 0, tg_op_answered, op, &op->call);
}

/* An answer for an operation: report it to the core. */
static void
tg_op_answered(void *arg, int status, const cJSON *result, const char *description)
{
    struct tg_op *op = arg;
    struct ab_chat *t = op->t;
    int64_t mid = 0;
    int rc;

    op->call = NULL;
    if (status == AB_EINVAL && strstr(description, "message is not modified"))
        status = 0; /* the same text again: what was asked */
    if (status == AB_EINVAL && strstr(description, "can't parse entities") && !op->is_plain) {
        /* never lose a reply to formatting: the same words without entities */
        t->svc->log(t->host, AB_LOG_WARN, "%s: entities refused (%s); sending plain text",
                    op->method, description);
        op->is_plain = true;
        cJSON_DeleteItemFromObjectCaseSensitive(op->params, "entities");
        if ((rc = tg_op_call(op)) == 0)
            return;
        status = rc;
    }
    if (op->kind == TG_OP_SEND) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(result, "message_id");
        if (status == 0 && (!cJSON_IsNumber(id) || id->valuedouble < 1))
            status = AB_EPROTO;
        if (status == 0) {
            char chat_s[24], msg_s[24];
            mid = (int64_t)id->valuedouble;
            if (op->root)
                tg_thread_remember(t, op->chat, mid, op->root);
            else if (op->topic)
                tg_thread_remember(t, op->chat, mid, -op->topic);
            snprintf(chat_s, sizeof(chat_s), "%" PRId64, op->chat);
            snprintf(msg_s, sizeof(msg_s), "%" PRId64, mid);
            op->sent(op->arg, 0, &(struct ab_msg_ref){chat_s, msg_s});
        } else {
            op->sent(op->arg, status, NULL);
        }
    } else if (op->done) {
        op->done(op->arg, status);
    }
    tg_op_free(op);
}

/* Text (Markdown) as params: text + entities, or the words as written when the
 * rendered text would pass Telegram's limit; no link previews. */
static int
tg_text_params(struct ab_chat *t, cJSON *params, const char *md)
{
    char *text = NULL;
    cJSON *entities = NULL, *lp;
    int rc = tg_entities_render(t->svc, t->host, md, &text, &entities);

    if (rc < 0)
        return rc;
    if (t->svc->utf8_count(text, strlen(text)) > TG_MAX_CHARS) {
        /* rendering made it longer than the core's split allowed: plain words */
        free(text);
        cJSON_Delete(entities);
        entities = NULL;
        if (!(text = strdup(md)))
            return AB_ENOMEM;
    }
    if (!cJSON_AddStringToObject(params, "text", text) ||
        !(lp = cJSON_AddObjectToObject(params, "link_preview_options")) ||
        !cJSON_AddTrueToObject(lp, "is_disabled")) {
        rc = AB_ENOMEM;
    } else if (entities && cJSON_GetArraySize(entities) > 0) {
        cJSON_AddItemToObject(params, "entities", entities);
        entities = NULL;
    }
    free(text);
    cJSON_Delete(entities);
    return rc;
}

/* Post a message: in the topic, or as a reply in the chain, when a thread is named. */
static int
tg_send(struct ab_chat *t, const struct ab_send *msg, ab_sent_cb cb, void *arg)
{
    struct tg_op *op;
    cJSON *p, *rp;
    int64_t chat, n = 0;
    int rc = AB_ENOMEM;

    if (!msg->text || !tg_parse_id(msg->channel_id, &chat))
        return AB_EINVAL;
    if (!(op = tg_op_new(t, TG_OP_SEND, arg)))
        return AB_ENOMEM;
    op->sent = cb;
    op->method = "sendMessage";
    op->chat = chat;
    if (msg->thread_id && strncmp(msg->thread_id, TG_TOPIC_PREFIX, 1) == 0 &&
        tg_parse_id(msg->thread_id + 1, &n) && n > 0)
        op->topic = n;
    else if (msg->thread_id && tg_parse_id(msg->thread_id, &n) && n > 0)
        op->root = n;
    if (!(op->params = p = cJSON_CreateObject()) ||
        !cJSON_AddNumberToObject(p, "chat_id", (double)chat))
        goto fail;
    if ((rc = tg_text_params(t, p, msg->text)) < 0)
        goto fail;
    rc = AB_ENOMEM;
    if (op->topic && !cJSON_AddNumberToObject(p, "message_thread_id", (double)op->topic))
        goto fail;
    if (op->root) {
        if (!(rp = cJSON_AddObjectToObject(p, "reply_parameters")) ||
            !cJSON_AddNumberToObject(rp, "message_id", (double)op->root) ||
            !cJSON_AddTrueToObject(rp, "allow_sending_without_reply"))
            goto fail;
    }
    if ((rc = tg_op_call(op)) < 0)
        goto fail;
    return 0;

fail:
    tg_op_free(op);
    return rc;
}

/* Replace a message's text (editMessageText). */
static int
tg_edit(struct ab_chat *t, const struct ab_msg_ref *ref, const char *text, ab_done_cb cb, void *arg)
{
    struct tg_op *op;
    int64_t chat, mid;
    cJSON *p;
    int rc = AB_ENOMEM;

    if (!text || !tg_parse_id(ref->channel_id, &chat) || !tg_parse_id(ref->message_id, &mid))
        return AB_EINVAL;
    if (!(op = tg_op_new(t, TG_OP_EDIT, arg)))
        return AB_ENOMEM;
    op->done = cb;
    op->method = "editMessageText";
    op->chat = chat;
    if (!(op->params = p = cJSON_CreateObject()) ||
        !cJSON_AddNumberToObject(p, "chat_id", (double)chat) ||
        !cJSON_AddNumberToObject(p, "message_id", (double)mid))
        goto fail;
    if ((rc = tg_text_params(t, p, text)) < 0)
        goto fail;
    rc = AB_ENOMEM;
    if ((rc = tg_op_call(op)) < 0)
        goto fail;
    return 0;

fail:
    tg_op_free(op);
    return rc;
}

/* An answer that needs no request, one loop turn later. */
static void
tg_op_ready(void *arg)
{
    struct tg_op *op = arg;

    op->defer = NULL; /* released by the host as it fired */
    if (op->kind == TG_OP_THREAD)
        op->thread(op->arg, 0, op->id);
    else if (op->done)
        op->done(op->arg, 0);
    tg_op_free(op);
}

/* Answer @op on the next loop turn. */
static int
tg_op_later(struct tg_op *op)
{
    int rc = op->t->svc->defer(op->t->host, tg_op_ready, op, &op->defer);

    if (rc < 0) {
        op->defer = NULL;
        tg_op_free(op);
    }
    return rc;
}

/* The bot's current reaction on a message, or NULL. */
static struct tg_reacted *
tg_reacted_find(struct ab_chat *t, int64_t chat, int64_t mid)
{
    for (size_t i = 0; i < TG_REACTED_MAX; i++)
        if (t->reacted[i].chat == chat && t->reacted[i].message == mid)
            return &t->reacted[i];
    return NULL;
}

static void tg_typing_set(struct ab_chat *t, int64_t chat, int64_t mid, bool working);

/* Set or clear the bot's one reaction (setMessageReaction replaces the list). */
static int
tg_react(struct ab_chat *t, const struct ab_msg_ref *ref, const char *emoji, bool add,
         ab_done_cb cb, void *arg)
{
    const char *tg = emoji ? tg_status_emoji(emoji) : NULL;
    struct tg_reacted *cur;
    struct tg_op *op;
    int64_t chat, mid;
    cJSON *p, *list, *r;

    if (!emoji || !tg_parse_id(ref->channel_id, &chat) || !tg_parse_id(ref->message_id, &mid))
        return AB_EINVAL;
    if (add)
        tg_typing_set(t, chat, mid, tg_status_is_working(emoji));
    if (!tg) {
        t->svc->log(t->host, AB_LOG_DEBUG, "no Telegram reaction for %s: not shown", emoji);
        return AB_ENOTSUP;
    }
    if (!(op = tg_op_new(t, TG_OP_REACT, arg)))
        return AB_ENOMEM;
    op->done = cb;
    op->method = "setMessageReaction";
    cur = tg_reacted_find(t, chat, mid);
    /* removing what is no longer there (a newer status replaced it) needs no call */
    if (!add && (!cur || strcmp(cur->emoji, tg) != 0))
        return tg_op_later(op);
    if (!(op->params = p = cJSON_CreateObject()) ||
        !cJSON_AddNumberToObject(p, "chat_id", (double)chat) ||
        !cJSON_AddNumberToObject(p, "message_id", (double)mid) ||
        !(list = cJSON_AddArrayToObject(p, "reaction")))
        goto fail;
    if (add) {
        if (!(r = cJSON_CreateObject()) || !cJSON_AddStringToObject(r, "type", "emoji") ||
            !cJSON_AddStringToObject(r, "emoji", tg)) {
            cJSON_Delete(r);
            goto fail;
        }
        cJSON_AddItemToArray(list, r);
        if (!cur) {
            cur = &t->reacted[t->reacted_next];
            t->reacted_next = (t->reacted_next + 1) % TG_REACTED_MAX;
        }
        *cur = (struct tg_reacted){.chat = chat, .message = mid};
        snprintf(cur->emoji, sizeof(cur->emoji), "%s", tg);
    } else {
        cur->emoji[0] = '\0';
    }
    int rc = tg_op_call(op);
    if (rc < 0)
        tg_op_free(op);
    return rc;

fail:
    tg_op_free(op);
    return AB_ENOMEM;
}

/* A Telegram "thread" in a group is a reply chain: replies name the origin message. */
static int
tg_open_thread(struct ab_chat *t, const struct ab_msg_ref *origin, const char *name,
               ab_thread_cb cb, void *arg)
{
    struct tg_op *op;
    int64_t chat, mid;

    (void)name;
    if (!tg_parse_id(origin->channel_id, &chat) || !tg_parse_id(origin->message_id, &mid))
        return AB_EINVAL;
    if (!(op = tg_op_new(t, TG_OP_THREAD, arg)))
        return AB_ENOMEM;
    op->thread = cb;
    snprintf(op->id, sizeof(op->id), "%" PRId64, mid);
    tg_thread_remember(t, chat, mid, mid);
    return tg_op_later(op);
}

/* sendChatAction answered: nothing to do (its 429 was reported). */
static void
tg_typing_answered(void *arg, int status, const cJSON *result, const char *description)
{
    (void)arg, (void)status, (void)result, (void)description;
}

/* Every 4 s: "typing" in each chat whose turn still runs. */
static void
tg_typing_tick(void *arg)
{
    struct ab_chat *t = arg;
    uint64_t now = t->svc->now_ms(t->host);
    bool any = false;

    for (size_t i = 0; i < TG_TYPING_MAX; i++) {
        struct tg_typing *ty = &t->typing[i];
        cJSON *p;
        if (!ty->chat)
            continue;
        if (now > ty->until_ms) {
            ty->chat = 0;
            continue;
        }
        any = true;
        if (!(p = cJSON_CreateObject()) ||
            !cJSON_AddNumberToObject(p, "chat_id", (double)ty->chat) ||
            !cJSON_AddStringToObject(p, "action", "typing") ||
            (ty->topic && !cJSON_AddNumberToObject(p, "message_thread_id", (double)ty->topic))) {
            cJSON_Delete(p);
            continue;
        }
        tg_api_call(t, "sendChatAction", p, NULL, 10000, tg_typing_answered, t, NULL);
        cJSON_Delete(p);
    }
    if (!any) {
        t->svc->timer_stop(t->typing_timer);
        t->typing_timer = NULL;
    }
}

/* A status for the user's message @mid in @chat: typing while @working, else stop. */
static void
tg_typing_set(struct ab_chat *t, int64_t chat, int64_t mid, bool working)
{
    struct tg_typing *slot = NULL;
    int64_t root;

    for (size_t i = 0; i < TG_TYPING_MAX; i++) {
        if (t->typing[i].chat == chat && t->typing[i].message == mid) {
            slot = &t->typing[i];
            break;
        }
        if (!slot && !t->typing[i].chat)
            slot = &t->typing[i];
    }
    if (!working) {
        if (slot && slot->chat == chat && slot->message == mid)
            slot->chat = 0;
        return;
    }
    if (!slot)
        return; /* every slot busy: this chat goes without "typing" */
    if (slot->chat != chat || slot->message != mid) {
        root = tg_thread_root(t, chat, mid);
        *slot = (struct tg_typing){.chat = chat, .message = mid, .topic = root < 0 ? -root : 0};
    }
    slot->until_ms = t->svc->now_ms(t->host) + TG_TYPING_MAX_MS;
    if (!t->typing_timer && t->svc->timer_start(t->host, 0, TG_TYPING_EVERY_MS, tg_typing_tick, t,
                                                &t->typing_timer) < 0)
        t->typing_timer = NULL;
}

/* Stop for good: no polling, no setWebhook, the daemon told why. */
void
tg_fatal(struct ab_chat *t, const char *detail)
{
    t->is_stopped = true;
    tg_poll_stop(t);
    tg_webhook_stop(t);
    t->is_connected = false;
    t->svc->set_connected(t->host, false, detail);
    if (AB_HAS(t->svc, struct ab_host_services, fatal) && t->svc->fatal)
        t->svc->fatal(t->host, AB_EAUTH, detail);
    else
        t->svc->log(t->host, AB_LOG_ERROR, "%s", detail);
}

/* Stop for good: the token is dead. */
void
tg_fatal_token(struct ab_chat *t, const char *description)
{
    char detail[256];

    snprintf(detail, sizeof(detail),
             "Telegram refused the bot token (%s): check [telegram] bot_token (from @BotFather); "
             "not receiving updates",
             *description ? description : "Unauthorized");
    tg_fatal(t, detail);
}

static void tg_me(struct ab_chat *t);

/* getMe again after a failure. */
static void
tg_me_retry(void *arg)
{
    struct ab_chat *t = arg;

    t->svc->timer_stop(t->me_retry);
    t->me_retry = NULL;
    tg_me(t);
}

/* getMe answered: learn the bot's id and username (mentions, replies), then poll or set
 * the webhook. */
static void
tg_me_answered(void *arg, int status, const cJSON *result, const char *description)
{
    struct ab_chat *t = arg;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(result, "id");
    const cJSON *user = cJSON_GetObjectItemCaseSensitive(result, "username");

    t->me_call = NULL;
    if (status == AB_EAUTH) {
        tg_fatal_token(t, description);
        return;
    }
    if (status == 0 && (!cJSON_IsNumber(id) || !cJSON_IsString(user) ||
                        strlen(user->valuestring) >= sizeof(t->self_username)))
        status = AB_EPROTO;
    if (status < 0) {
        t->svc->log(t->host, AB_LOG_WARN, "getMe: %s", ab_strerror(status));
        t->svc->set_connected(t->host, false, "getMe failed; retrying");
        if (t->svc->timer_start(t->host, t->svc->backoff_next(t->host, TG_ME_BACKOFF_KEY), 0,
                                tg_me_retry, t, &t->me_retry) < 0)
            t->me_retry = NULL;
        return;
    }
    t->self_id = (int64_t)id->valuedouble;
    snprintf(t->self_username, sizeof(t->self_username), "%s", user->valuestring);
    t->can_read_all =
        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(result, "can_read_all_group_messages"));
    t->svc->backoff_reset(t->host, TG_ME_BACKOFF_KEY);
    t->svc->log(t->host, AB_LOG_INFO, "signed in as @%s (%" PRId64 ")%s", t->self_username,
                t->self_id,
                t->can_read_all ? ""
                                : "; privacy mode is on: in groups the bot sees only commands, "
                                  "replies to it and messages while it is an admin");
    t->is_signed_in = true;
    if (t->hook.url) {
        tg_webhook_start(t); /* connected once setWebhook succeeds */
        return;
    }
    t->is_connected = true;
    t->svc->set_connected(t->host, true, "polling Telegram");
    tg_poll_start(t);
}

/* Ask Telegram who the token belongs to. */
static void
tg_me(struct ab_chat *t)
{
    int rc = tg_api_call(t, "getMe", NULL, NULL, 0, tg_me_answered, t, &t->me_call);

    if (rc < 0) {
        t->me_call = NULL;
        t->svc->log(t->host, AB_LOG_WARN, "getMe: %s", ab_strerror(rc));
        if (t->svc->timer_start(t->host, t->svc->backoff_next(t->host, TG_ME_BACKOFF_KEY), 0,
                                tg_me_retry, t, &t->me_retry) < 0)
            t->me_retry = NULL;
    }
}

/* A token as BotFather issues it: "<bot id>:<secret>", no '/', at most 80 bytes. */
static bool
tg_token_ok(const char *token)
{
    const char *colon = token ? strchr(token, ':') : NULL;

    return colon && colon > token && token[0] != '0' && !strchr(token, '/') &&
           strlen(token) <= 80 && colon[1] != '\0';
}

/* Create the instance from [telegram]. */
static int
tg_open(struct ab_host *host, const struct ab_host_services *svc, struct ab_chat **out)
{
    struct ab_chat *t = calloc(1, sizeof(*t));
    int rc;

    if (!t)
        return AB_ENOMEM;
    t->host = host;
    t->svc = svc;
    if (!AB_HAS(svc, struct ab_host_services, deliver_held)) {
        svc->log(host, AB_LOG_ERROR, "this agent-broker lacks the ABI 1.3 services");
        rc = AB_EABI;
        goto fail;
    }
    if ((rc = svc->config_string(host, "bot_token", NULL, &t->token)) < 0 ||
        (rc = svc->config_string(host, "api_base", TG_DEFAULT_API, &t->api_base)) < 0 ||
        (rc = svc->config_int(host, "poll_timeout_s", 30, &t->poll_timeout_s)) < 0)
        goto fail;
    if (!tg_token_ok(t->token)) {
        svc->log(host, AB_LOG_ERROR,
                 "[telegram] bot_token must be the token from @BotFather (<bot id>:<secret>)");
        rc = AB_ECONFIG;
        goto fail;
    }
    svc->add_secret(host, t->token);
    if (t->poll_timeout_s < 1 || t->poll_timeout_s > 50) {
        svc->log(host, AB_LOG_ERROR, "[telegram] poll_timeout_s must be 1..50");
        rc = AB_ECONFIG;
        goto fail;
    }
    if ((rc = tg_webhook_config(t)) < 0)
        goto fail;
    tg_threads_load(t);
    *out = t;
    return 0;

fail:
    free(t);
    return rc;
}

/* Serve the webhook's route (webhook mode), sign in, then poll or set the webhook;
 * failures retry with backoff, a dead token stops. */
static int
tg_start(struct ab_chat *t)
{
    int rc;

    if (t->hook.url && (rc = tg_webhook_serve(t)) < 0)
        return rc;
    t->svc->set_connected(t->host, false, "connecting to Telegram");
    tg_me(t);
    return 0;
}

/* Drop calls and owed callbacks (never called), free. */
static void
tg_close(struct ab_chat *t)
{
    t->is_closing = true;
    tg_poll_stop(t);
    tg_webhook_stop(t);
    tg_webhook_close(t);
    t->svc->timer_stop(t->me_retry);
    t->svc->timer_stop(t->typing_timer);
    tg_api_cancel_all(t);
    while (t->ops)
        tg_op_free(t->ops);
    tg_threads_save(t);
    free(t);
}

/* Telegram's route of an operation: per chat and kind (groups have negative ids, so
 * "send -…" is a group's route). */
static int
tg_rate_route(struct ab_chat *t, const struct ab_op_target *op, char *out, size_t cap)
{
    const char *chat = op->channel_id ? op->channel_id : "";
    int n;

    (void)t;
    switch (op->op) {
    case AB_OP_SEND: n = snprintf(out, cap, "send %s", chat); break;
    case AB_OP_EDIT: n = snprintf(out, cap, "edit %s", chat); break;
    case AB_OP_REACT: n = snprintf(out, cap, "react %s", chat); break;
    default: n = snprintf(out, cap, "local"); break; /* open_thread makes no call */
    }
    return n > 0 && (size_t)n < cap ? 0 : AB_EINVAL;
}

/* Telegram's published limits (Bot FAQ): about 1 message per second in a chat, 20 per
 * minute in a group, 30 per second overall; 20 edits per minute in a group (Telegram
 * staff, quoted by grammY). */
static const struct ab_rate_rule tg_rate_rules[] = {
    {.size = sizeof(struct ab_rate_rule), .route_prefix = "send ", .limit = 1, .window_ms = 1000},
    {.size = sizeof(struct ab_rate_rule),
     .route_prefix = "send -",
     .min_spacing_ms = 1000,
     .limit = 20,
     .window_ms = 60000},
    {.size = sizeof(struct ab_rate_rule),
     .route_prefix = "edit -",
     .limit = 20,
     .window_ms = 60000},
    {.size = sizeof(struct ab_rate_rule),
     .flags = AB_RATE_RULE_PLUGIN,
     .route_prefix = "",
     .limit = 30,
     .window_ms = 1000},
};

static const struct ab_chat_ops tg_ops = {
    .size = sizeof(struct ab_chat_ops),
    .max_chars = TG_MAX_CHARS,
    .open = tg_open,
    .start = tg_start,
    .close = tg_close,
    .send = tg_send,
    .edit = tg_edit,
    .react = tg_react,
    .open_thread = tg_open_thread,
    .rate_route = tg_rate_route,
    .rate_rules = tg_rate_rules,
    .rate_rule_count = sizeof(tg_rate_rules) / sizeof(tg_rate_rules[0]),
    .conversation_of = tg_conversation_of,
};

/* [telegram]: the keys this plugin reads; the core validates them and applies the
 * defaults (allowed_channels = chat ids, allowed_users = user ids, allow_dm: the core's). */
static const struct ab_config_key tg_keys[] = {
    {.name = "bot_token",
     .type = AB_KEY_STRING,
     .flags = AB_KEY_REQUIRED | AB_KEY_SECRET,
     .env = "TELEGRAM_BOT_TOKEN",
     .help = "the bot's token from @BotFather (`<bot id>:<secret>`); it is part of every "
             "request URL, which is never logged"},
    {.name = "api_base",
     .type = AB_KEY_STRING,
     .flags = AB_KEY_ENDPOINT,
     .def = TG_DEFAULT_API,
     .help = "Bot API base URL, without `/bot<token>` (a local telegram-bot-api server; tests "
             "point it at a loopback fake)"},
    {.name = "poll_timeout_s",
     .type = AB_KEY_INT,
     .def = "30",
     .min = 1,
     .max = 50,
     .help = "long-polling timeout of getUpdates in seconds (Telegram caps it at 50)"},
    {.name = "webhook_url",
     .type = AB_KEY_STRING,
     .flags = AB_KEY_ENDPOINT,
     .help = "webhook mode: the public https:// URL Telegram posts updates to (port 443, 80, "
             "88 or 8443), which your ingress forwards to `webhook_path` on `[ingress] listen`; "
             "empty = long polling"},
    {.name = "webhook_secret",
     .type = AB_KEY_STRING,
     .flags = AB_KEY_SECRET,
     .env = "TELEGRAM_WEBHOOK_SECRET",
     .help = "webhook mode: the secret_token Telegram sends in every POST's "
             "X-Telegram-Bot-Api-Secret-Token header (1–256 characters of A-Z a-z 0-9 _ -); "
             "required with `webhook_url`"},
    {.name = "webhook_path",
     .type = AB_KEY_STRING,
     .def = TG_WEBHOOK_PATH,
     .help = "webhook mode: the path served on `[ingress] listen`"},
    {.name = "webhook_check_s",
     .type = AB_KEY_INT,
     .def = "60",
     .min = 0,
     .max = 86400,
     .help = "webhook mode: every this many seconds, ask Telegram (getWebhookInfo) whether "
             "it could deliver, and log its error when it could not (an ingress that does "
             "not reach the daemon is otherwise silent); set the webhook again when another "
             "program changed it; 0 = never"},
    {.name = NULL},
};

AB_PLUGIN_EXPORT const struct ab_plugin_desc ab_plugin = {
    .abi_major = AB_ABI_MAJOR,
    .abi_minor = AB_ABI_MINOR,
    .struct_size = sizeof(struct ab_plugin_desc),
    .kind = AB_PLUGIN_CHAT,
    .name = "telegram",
    .version = AB_VERSION_STRING,
    .description = "Telegram (Bot API, long polling or webhook)",
    .caps = AB_CHAT_EDIT | AB_CHAT_REACT | AB_CHAT_THREADS,
    .chat = &tg_ops,
    .config_keys = tg_keys,
    .config_key_size = sizeof(struct ab_config_key),
};
