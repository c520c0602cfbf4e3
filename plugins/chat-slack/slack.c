/* chat-slack: Slack through Socket Mode (events in, slack_socket.c) and the Web API (posts,
 * edits and reactions out, slack_web.c). This file holds the instance's life cycle and the
 * chat operations the core calls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slack.h"

#define SLACK_DEFAULT_API "https://slack.com/api"
#define SLACK_DEFAULT_IDLE_MS 60000 /* ping after 30 s of silence, give up after 60 s */
#define SLACK_AUTH_BACKOFF_KEY "auth"

enum slack_op_kind { SLACK_OP_SEND, SLACK_OP_EDIT, SLACK_OP_REACT, SLACK_OP_THREAD };

struct slack_op {
    struct ab_chat *s;
    enum slack_op_kind kind;
    struct slack_web_call *call; /* lent from the instance's calls, while in flight */
    struct ab_defer *defer;      /* open_thread's answer on the next loop turn (host-owned) */
    ab_sent_cb sent;
    ab_done_cb done;
    ab_thread_cb thread;
    void *arg;
    bool is_add;
    char id[64]; /* open_thread: the thread ts to report */
    struct slack_op *next;
};

/* Unlink and free an operation. */
static void
slack_op_free(struct slack_op *op)
{
    struct ab_chat *s = op->s;

    for (struct slack_op **link = &s->ops; *link; link = &(*link)->next) {
        if (*link == op) {
            *link = op->next;
            break;
        }
    }
    s->svc->defer_cancel(op->defer);
    free(op);
}

/* A new operation linked into the instance. */
static struct slack_op *
slack_op_new(struct ab_chat *s, enum slack_op_kind kind, void *arg)
{
    struct slack_op *op = calloc(1, sizeof(*op));

    if (!op)
        return NULL;
    op->s = s;
    op->kind = kind;
    op->arg = arg;
    op->next = s->ops;
    s->ops = op;
    return op;
}

/* A Web API answer for an operation: report it to the core. */
static void
slack_op_answered(void *arg, int status, const cJSON *body, const char *error)
{
    struct slack_op *op = arg;
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(body, "ts");
    const cJSON *channel = cJSON_GetObjectItemCaseSensitive(body, "channel");

    op->call = NULL;
    /* Reactions are idempotent: already there, or already gone, is what was asked. */
    if (op->kind == SLACK_OP_REACT &&
        ((op->is_add && status == AB_EEXIST) || (!op->is_add && strcmp(error, "no_reaction") == 0)))
        status = 0;
    if (op->kind == SLACK_OP_SEND) {
        if (status == 0 && (!cJSON_IsString(ts) || !cJSON_IsString(channel)))
            status = AB_EPROTO;
        if (status == 0)
            op->sent(op->arg, 0, &(struct ab_msg_ref){channel->valuestring, ts->valuestring});
        else
            op->sent(op->arg, status, NULL);
    } else if (op->done) {
        op->done(op->arg, status);
    }
    slack_op_free(op);
}

/* Start a Web API call for @op; on a refusal @op is freed and the code returned. */
static int
slack_op_call(struct slack_op *op, enum slack_web_method method, const char *const *form)
{
    int rc = slack_web_call_for(op->s, method, form, op->arg, slack_op_answered, op, &op->call);

    if (rc < 0)
        slack_op_free(op);
    return rc;
}

/* Post a message (chat.postMessage), in the thread when one is named. */
static int
slack_send(struct ab_chat *s, const struct ab_send *msg, ab_sent_cb cb, void *arg)
{
    struct slack_op *op;
    char *text = NULL, *blocks = NULL;
    int rc;

    if (!msg->channel_id || !msg->text)
        return AB_EINVAL;
    if ((rc = mrkdwn_from_markdown(s->svc, s->host, msg->text, &text)) < 0)
        return rc;
    if (!(op = slack_op_new(s, SLACK_OP_SEND, arg))) {
        free(text);
        return AB_ENOMEM;
    }
    op->sent = cb;
    if (AB_HAS(msg, struct ab_send, choices) && msg->choices &&
        (blocks = slack_buttons_blocks(text, msg->choices))) {
        rc = slack_op_call(op, SLACK_WEB_POST_MESSAGE,
                           (const char *const[]){"channel", msg->channel_id, "text", text, "blocks",
                                                 blocks, "thread_ts", msg->thread_id, NULL});
        free(blocks);
        free(text);
        return rc;
    }
    rc = slack_op_call(op, SLACK_WEB_POST_MESSAGE,
                       (const char *const[]){"channel", msg->channel_id, "text", text, "thread_ts",
                                             msg->thread_id, NULL});
    free(text);
    return rc;
}

/* Replace a message's text (chat.update). */
static int
slack_edit(struct ab_chat *s, const struct ab_msg_ref *ref, const char *text, ab_done_cb cb,
           void *arg)
{
    struct slack_op *op;
    char *converted = NULL;
    int rc;

    if (!ref->channel_id || !ref->message_id || !text)
        return AB_EINVAL;
    if ((rc = mrkdwn_from_markdown(s->svc, s->host, text, &converted)) < 0)
        return rc;
    if (!(op = slack_op_new(s, SLACK_OP_EDIT, arg))) {
        free(converted);
        return AB_ENOMEM;
    }
    op->done = cb;
    rc = slack_op_call(op, SLACK_WEB_UPDATE,
                       (const char *const[]){"channel", ref->channel_id, "ts", ref->message_id,
                                             "text", converted, "blocks", "[]", NULL});
    free(converted);
    return rc;
}

/* Add or remove a reaction; Slack wants its name, not the Unicode. */
static int
slack_react(struct ab_chat *s, const struct ab_msg_ref *ref, const char *emoji, bool add,
            ab_done_cb cb, void *arg)
{
    const char *name = emoji ? emoji_name_of(emoji) : NULL;
    struct slack_op *op;

    if (!ref->channel_id || !ref->message_id || !emoji)
        return AB_EINVAL;
    if (!name) {
        s->svc->log(s->host, AB_LOG_WARN, "no Slack reaction name for %s: not shown", emoji);
        return AB_ENOTSUP;
    }
    if (!(op = slack_op_new(s, SLACK_OP_REACT, arg)))
        return AB_ENOMEM;
    op->done = cb;
    op->is_add = add;
    return slack_op_call(op, add ? SLACK_WEB_REACTIONS_ADD : SLACK_WEB_REACTIONS_REMOVE,
                         (const char *const[]){"channel", ref->channel_id, "timestamp",
                                               ref->message_id, "name", name, NULL});
}

/* open_thread's answer, one loop turn later. */
static void
slack_thread_ready(void *arg)
{
    struct slack_op *op = arg;

    op->defer = NULL; /* released by the host as it fired */
    op->thread(op->arg, 0, op->id);
    slack_op_free(op);
}

/* A Slack thread needs no call: replies name the origin's ts as thread_ts. */
static int
slack_open_thread(struct ab_chat *s, const struct ab_msg_ref *origin, const char *name,
                  ab_thread_cb cb, void *arg)
{
    struct slack_op *op;
    int rc;

    (void)name;
    if (!origin->message_id || strlen(origin->message_id) >= sizeof(op->id))
        return AB_EINVAL;
    if (!(op = slack_op_new(s, SLACK_OP_THREAD, arg)))
        return AB_ENOMEM;
    op->thread = cb;
    snprintf(op->id, sizeof(op->id), "%s", origin->message_id);
    if ((rc = s->svc->defer(s->host, slack_thread_ready, op, &op->defer)) < 0) {
        op->defer = NULL;
        slack_op_free(op);
    }
    return rc;
}

/* Stop for good: no socket, no reconnect, the daemon told why. */
void
slack_fatal(struct ab_chat *s, const char *detail)
{
    s->is_stopped = true;
    slack_socket_stop(s);
    s->is_connected = false;
    s->svc->set_connected(s->host, false, detail);
    if (AB_HAS(s->svc, struct ab_host_services, fatal) && s->svc->fatal)
        s->svc->fatal(s->host, AB_EAUTH, detail);
    else
        s->svc->log(s->host, AB_LOG_ERROR, "%s", detail);
}

static void slack_auth(struct ab_chat *s);

/* auth.test again after a failure. */
static void
slack_auth_retry(void *arg)
{
    struct ab_chat *s = arg;

    s->svc->timer_stop(s->auth_retry);
    s->auth_retry = NULL;
    slack_auth(s);
}

/* Try auth.test again later. */
static void
slack_auth_later(struct ab_chat *s)
{
    uint64_t delay = s->svc->backoff_next(s->host, SLACK_AUTH_BACKOFF_KEY);

    if (s->svc->timer_start(s->host, delay, 0, slack_auth_retry, s, &s->auth_retry) < 0) {
        s->auth_retry = NULL;
        s->svc->log(s->host, AB_LOG_ERROR, "cannot arm the auth.test retry timer");
    }
}

/* auth.test answered: learn who we are (to spot our own messages), then connect. */
static void
slack_authed(void *arg, int status, const cJSON *body, const char *error)
{
    struct ab_chat *s = arg;
    const cJSON *user = cJSON_GetObjectItemCaseSensitive(body, "user_id");
    const cJSON *bot = cJSON_GetObjectItemCaseSensitive(body, "bot_id");
    char detail[256];

    s->auth_call = NULL;
    if (status == AB_EAUTH) {
        snprintf(detail, sizeof(detail),
                 "Slack refused the bot token (%s): check [slack] bot_token (xoxb-…); "
                 "not connecting",
                 error);
        slack_fatal(s, detail);
        return;
    }
    if (status == 0 && !cJSON_IsString(user))
        status = AB_EPROTO;
    if (status < 0) {
        s->svc->log(s->host, AB_LOG_WARN, "auth.test: %s%s%s", ab_strerror(status),
                    *error ? ": " : "", error);
        s->svc->set_connected(s->host, false, "auth.test failed; retrying");
        slack_auth_later(s);
        return;
    }
    snprintf(s->self_user, sizeof(s->self_user), "%s", user->valuestring);
    snprintf(s->self_bot, sizeof(s->self_bot), "%s", cJSON_IsString(bot) ? bot->valuestring : "");
    s->svc->backoff_reset(s->host, SLACK_AUTH_BACKOFF_KEY);
    s->svc->log(s->host, AB_LOG_INFO, "signed in as %s (bot %s)", s->self_user,
                *s->self_bot ? s->self_bot : "?");
    slack_socket_start(s);
}

/* Ask Slack who the bot token belongs to. */
static void
slack_auth(struct ab_chat *s)
{
    int rc = slack_web_call(s, SLACK_WEB_AUTH_TEST, NULL, slack_authed, s, &s->auth_call);

    if (rc < 0) {
        s->auth_call = NULL;
        s->svc->log(s->host, AB_LOG_WARN, "auth.test: %s", ab_strerror(rc));
        slack_auth_later(s);
    }
}

/* A token from the config that must be present with @prefix. */
static int
slack_token(struct ab_chat *s, const char *key, const char *prefix, const char **out)
{
    int rc = s->svc->config_string(s->host, key, NULL, out);

    if (rc < 0)
        return rc;
    if (!*out || strncmp(*out, prefix, strlen(prefix)) != 0) {
        s->svc->log(s->host, AB_LOG_ERROR, "[slack] %s must be set to a %s… token", key, prefix);
        return AB_ECONFIG;
    }
    s->svc->add_secret(s->host, *out);
    return 0;
}

/* Create the instance from [slack]. */
static int
slack_open(struct ab_host *host, const struct ab_host_services *svc, struct ab_chat **out)
{
    struct ab_chat *s = calloc(1, sizeof(*s));
    int64_t idle;
    int rc;

    if (!s)
        return AB_ENOMEM;
    s->host = host;
    s->svc = svc;
    if (!AB_HAS(svc, struct ab_host_services, backoff_reset)) {
        svc->log(host, AB_LOG_ERROR,
                 "this agent-broker lacks HTTP and WebSocket services (ABI 1.1)");
        rc = AB_EABI;
        goto fail;
    }
    if ((rc = slack_token(s, "bot_token", "xoxb-", &s->bot_token)) < 0 ||
        (rc = slack_token(s, "app_token", "xapp-", &s->app_token)) < 0 ||
        (rc = svc->config_string(host, "api_base", SLACK_DEFAULT_API, &s->api_base)) < 0 ||
        (rc = svc->config_int(host, "idle_timeout_ms", SLACK_DEFAULT_IDLE_MS, &idle)) < 0 ||
        (rc = svc->config_string(host, "slash_command", "/agent-broker", &s->slash_command)) < 0)
        goto fail;
    if (idle < 1000 || idle > 3600000) {
        svc->log(host, AB_LOG_ERROR, "[slack] idle_timeout_ms must be 1000..3600000");
        rc = AB_ECONFIG;
        goto fail;
    }
    s->idle_timeout_ms = (uint32_t)idle;
    *out = s;
    return 0;

fail:
    free(s);
    return rc;
}

/* Sign in, then connect; failures retry with backoff, dead tokens stop. */
static int
slack_start(struct ab_chat *s)
{
    s->svc->set_connected(s->host, false, "connecting to Slack");
    slack_auth(s);
    return 0;
}

/* Close sockets, drop calls and owed callbacks (never called), free. */
static void
slack_close(struct ab_chat *s)
{
    s->is_closing = true;
    slack_socket_stop(s);
    s->svc->timer_stop(s->auth_retry);
    slack_uploads_cancel(s); /* before the calls: it cancels its own */
    slack_web_cancel_all(s);
    slack_slash_close(s);
    while (s->ops)
        slack_op_free(s->ops);
    slack_downloads_cancel(s);
    /* the host drops our sockets with us: their on_close never comes */
    slack_socket_forget(s);
    events_free(s);
    free(s);
}

/* Slack's route of an operation: the method (budgets are per method and workspace),
 * per channel for chat.postMessage (about one per second per channel). Reactions add
 * and remove share one route so a queued pair cancels out. */
static int
slack_rate_route(struct ab_chat *s, const struct ab_op_target *op, char *out, size_t cap)
{
    int n;

    (void)s;
    switch (op->op) {
    case AB_OP_SEND:
        n = snprintf(out, cap, "chat.postMessage %s", op->channel_id ? op->channel_id : "");
        break;
    case AB_OP_EDIT: n = snprintf(out, cap, "chat.update"); break;
    case AB_OP_REACT: n = snprintf(out, cap, "reactions"); break;
    case AB_OP_UPLOAD: n = snprintf(out, cap, "files.upload"); break;
    default: n = snprintf(out, cap, "local"); break; /* open_thread makes no call */
    }
    return n > 0 && (size_t)n < cap ? 0 : AB_EINVAL;
}

/* Slack's published budgets (docs.slack.dev/apis/web-api/rate-limits): chat.postMessage
 * about 1 per second per channel, chat.update Tier 3 (50+/min), reactions Tier 3/2. */
static const struct ab_rate_rule slack_rate_rules[] = {
    {.size = sizeof(struct ab_rate_rule),
     .route_prefix = "chat.postMessage ",
     .limit = 1,
     .window_ms = 1000},
    {.size = sizeof(struct ab_rate_rule),
     .route_prefix = "chat.update",
     .limit = 50,
     .window_ms = 60000},
    {.size = sizeof(struct ab_rate_rule),
     .route_prefix = "reactions",
     .limit = 50,
     .window_ms = 60000},
};

static const struct ab_chat_ops slack_ops = {
    .size = sizeof(struct ab_chat_ops),
    .max_chars = 4000,
    .open = slack_open,
    .start = slack_start,
    .close = slack_close,
    .send = slack_send,
    .edit = slack_edit,
    .react = slack_react,
    .open_thread = slack_open_thread,
    .rate_route = slack_rate_route,
    .rate_rules = slack_rate_rules,
    .rate_rule_count = sizeof(slack_rate_rules) / sizeof(slack_rate_rules[0]),
    .command_reply = slack_command_reply,
    .download = slack_download,
    .upload = slack_upload,
    .max_upload_bytes = SLACK_MAX_UPLOAD_BYTES,
    .max_upload_files = SLACK_MAX_UPLOAD_FILES,
    .conversation_of = slack_conversation_of,
};

/* [slack]: the keys this plugin reads; the core validates them and applies the
 * defaults (the shared policy keys are the core's). */
static const struct ab_config_key slack_keys[] = {
    {.name = "bot_token",
     .type = AB_KEY_STRING,
     .flags = AB_KEY_REQUIRED | AB_KEY_SECRET,
     .prefix = "xoxb-",
     .env = "SLACK_BOT_TOKEN",
     .help = "the bot token (`xoxb-…`, OAuth & Permissions) for the Web API"},
    {.name = "app_token",
     .type = AB_KEY_STRING,
     .flags = AB_KEY_REQUIRED | AB_KEY_SECRET,
     .prefix = "xapp-",
     .env = "SLACK_APP_TOKEN",
     .help = "the app-level token (`xapp-…`, connections:write) for Socket Mode"},
    {.name = "api_base",
     .type = AB_KEY_STRING,
     .flags = AB_KEY_ENDPOINT,
     .def = SLACK_DEFAULT_API,
     .help = "Web API base URL (tests point it at a loopback fake)"},
    {.name = "idle_timeout_ms",
     .type = AB_KEY_INT,
     .def = "60000",
     .min = 1000,
     .max = 3600000,
     .help = "no frame (not even a ping) on the Socket Mode connection for this long = dead: "
             "reconnect"},
    {.name = "slash_command",
     .type = AB_KEY_STRING,
     .def = "/agent-broker",
     .prefix = "/",
     .help = "the slash command set up in the Slack app: `/agent-broker reset` runs /reset"},
    {.name = NULL},
};

/* Every token shape Slack issues: redacted wherever one appears, configured or not. */
static const char *const slack_token_shapes[] = {"xoxb-", "xoxp-", "xoxa-", "xoxe-", "xapp-", NULL};

AB_PLUGIN_EXPORT const struct ab_plugin_desc ab_plugin = {
    .abi_major = AB_ABI_MAJOR,
    .abi_minor = AB_ABI_MINOR,
    .struct_size = sizeof(struct ab_plugin_desc),
    .kind = AB_PLUGIN_CHAT,
    .name = "slack",
    .version = AB_VERSION_STRING,
    .description = "Slack (Socket Mode + Web API)",
    .caps = AB_CHAT_EDIT | AB_CHAT_REACT | AB_CHAT_THREADS,
    .chat = &slack_ops,
    .config_keys = slack_keys,
    .config_key_size = sizeof(struct ab_config_key),
    .redact_prefixes = slack_token_shapes,
};
