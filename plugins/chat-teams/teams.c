/* chat-teams: Microsoft Teams through the Bot Framework. Activities come in as HTTPS
 * POSTs on the host's ingress listener (teams_auth.c checks their JWT, teams_activity.c
 * reads them); replies, live edits and typing go to the Connector REST API
 * (teams_connector.c). Bots cannot react to messages (teams.md §9), so react is NULL and
 * the core shows status in the live message instead. This file holds the instance's life
 * cycle, the chat operations the core calls and the descriptor. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "teams.h"

#define TEAMS_DEFAULT_ROUTE "/api/messages"
#define TEAMS_DEFAULT_OPENID "https://login.botframework.com/v1/.well-known/openidconfiguration"
#define TEAMS_DEFAULT_LOGIN "https://login.microsoftonline.com"
#define TEAMS_DEFAULT_ISSUER "https://api.botframework.com"
#define TEAMS_DEFAULT_SERVICE "https://smba.trafficmanager.net/teams"

/* One send or edit waiting for the Connector. */
struct teams_op {
    struct ab_chat *t;
    ab_sent_cb sent;
    ab_done_cb done;
    void *arg;
    char *conversation; /* owned: where a send went */
};

/* The Connector answered a send or an edit. */
static void
teams_op_done(void *arg, int status, const char *id)
{
    struct teams_op *op = arg;

    if (op->t->is_closing) {
        /* the instance closes: the core's callbacks never run after close */
    } else if (op->sent) {
        if (status == 0 && !id)
            status = AB_EPROTO;
        if (status == 0)
            op->sent(op->arg, 0, &(struct ab_msg_ref){op->conversation, id});
        else
            op->sent(op->arg, status, NULL);
    } else {
        op->done(op->arg, status);
    }
    free(op->conversation);
    free(op);
}

/* Add the approval card to activity @a: an Adaptive Card (version 1.4, which every Teams
 * client renders; teams.md §10) with one Action.Submit per choice whose data carries
 * the choice's emoji under TEAMS_CHOICE_KEY. Returns false on ENOMEM. */
static bool
teams_card_add(cJSON *a, const char *const *choices)
{
    cJSON *atts = cJSON_AddArrayToObject(a, "attachments"), *att, *card, *actions;

    if (!atts || !(att = cJSON_CreateObject()))
        return false;
    cJSON_AddItemToArray(atts, att);
    if (!cJSON_AddStringToObject(att, "contentType", "application/vnd.microsoft.card.adaptive") ||
        !(card = cJSON_AddObjectToObject(att, "content")) ||
        !cJSON_AddStringToObject(card, "type", "AdaptiveCard") ||
        !cJSON_AddStringToObject(card, "version", "1.4") || !cJSON_AddArrayToObject(card, "body") ||
        !(actions = cJSON_AddArrayToObject(card, "actions")))
        return false;
    for (size_t i = 0; choices[i] && i < 5; i++) {
        cJSON *b = cJSON_CreateObject(), *data;
        if (!b)
            return false;
        cJSON_AddItemToArray(actions, b);
        if (!cJSON_AddStringToObject(b, "type", "Action.Submit") ||
            !cJSON_AddStringToObject(b, "title", choices[i]) ||
            !(data = cJSON_AddObjectToObject(b, "data")) ||
            !cJSON_AddStringToObject(data, TEAMS_CHOICE_KEY, choices[i]))
            return false;
    }
    return true;
}

/* The activity JSON for @text (Markdown as the agent wrote it; Teams renders its subset),
 * with the approval card when @choices (lent, or NULL) are given. An edit (PUT) replaces
 * the whole activity, so an edit without choices removes the card. */
static char *
teams_message_json(const char *text, const char *id, const char *const *choices)
{
    cJSON *a = cJSON_CreateObject();
    char *out = NULL;

    if (a && cJSON_AddStringToObject(a, "type", "message") &&
        (!id || cJSON_AddStringToObject(a, "id", id)) && cJSON_AddStringToObject(a, "text", text) &&
        cJSON_AddStringToObject(a, "textFormat", "markdown") &&
        (!choices || !choices[0] || teams_card_add(a, choices)))
        out = cJSON_PrintUnformatted(a);
    cJSON_Delete(a);
    return out;
}

/* Start a send or an edit. */
static int
teams_op_start(struct ab_chat *t, const char *conversation, const char *method, const char *id,
               const char *text, const char *const *choices, ab_sent_cb sent, ab_done_cb done,
               void *arg)
{
    struct teams_op *op = calloc(1, sizeof(*op));
    char *json = teams_message_json(text, id, choices);
    int rc = AB_ENOMEM;

    if (!op || !json || !(op->conversation = strdup(conversation)))
        goto fail;
    op->t = t;
    op->sent = sent;
    op->done = done;
    op->arg = arg;
    if ((rc = teams_connector_call(t, conversation, method, id, json, arg, teams_op_done, op)) < 0)
        goto fail;
    free(json);
    return 0;

fail:
    if (op)
        free(op->conversation);
    free(op);
    free(json);
    return rc;
}

/* Post a message: into the reply chain when a thread is named. */
static int
teams_send(struct ab_chat *t, const struct ab_send *msg, ab_sent_cb cb, void *arg)
{
    const char *conv = msg->thread_id ? msg->thread_id : msg->channel_id;

    if (!conv || !msg->text)
        return AB_EINVAL;
    return teams_op_start(t, conv, "POST", NULL, msg->text,
                          AB_HAS(msg, struct ab_send, choices) ? msg->choices : NULL, cb, NULL,
                          arg);
}

/* Replace a message's text (PUT the activity). */
static int
teams_edit(struct ab_chat *t, const struct ab_msg_ref *ref, const char *text, ab_done_cb cb,
           void *arg)
{
    if (!ref->channel_id || !ref->message_id || !text)
        return AB_EINVAL;
    return teams_op_start(t, ref->channel_id, "PUT", ref->message_id, text, NULL, NULL, cb, arg);
}

/* A string key, registered for redaction when it is a secret. */
static int
teams_config(struct ab_chat *t, const char *key, const char **out)
{
    int rc = t->svc->config_string(t->host, key, NULL, out);

    if (rc == 0 && (!*out || !**out)) {
        t->svc->log(t->host, AB_LOG_ERROR, "[teams] %s must be set", key);
        return AB_ECONFIG;
    }
    return rc;
}

/* Create the instance from [teams]. */
static int
teams_open(struct ab_host *host, const struct ab_host_services *svc, struct ab_chat **out)
{
    struct ab_chat *t = calloc(1, sizeof(*t));
    int rc;

    if (!t)
        return AB_ENOMEM;
    t->host = host;
    t->svc = svc;
    if (!AB_HAS(svc, struct ab_host_services, http_respond)) {
        svc->log(host, AB_LOG_ERROR,
                 "this agent-broker lacks the inbound HTTP service (ABI 1.3): upgrade it");
        rc = AB_EABI;
        goto fail;
    }
    if ((rc = teams_config(t, "app_id", &t->app_id)) < 0 ||
        (rc = teams_config(t, "app_password", &t->app_password)) < 0 ||
        (rc = teams_config(t, "tenant_id", &t->tenant)) < 0 ||
        (rc = teams_config(t, "route", &t->route)) < 0 ||
        (rc = teams_config(t, "openid_url", &t->openid_url)) < 0 ||
        (rc = teams_config(t, "login_url", &t->login_url)) < 0 ||
        (rc = teams_config(t, "issuer", &t->issuer)) < 0 ||
        (rc = teams_config(t, "default_service_url", &t->default_service_url)) < 0 ||
        (rc = svc->config_strings(host, "allowed_teams", &t->allowed_teams, &t->nallowed_teams)) <
            0 ||
        (rc = svc->config_int(host, "key_refetch_ms", 60000, &t->key_refetch_ms)) < 0 ||
        (rc = svc->config_int(host, "clock_skew_s", 300, &t->skew_s)) < 0)
        goto fail;
    svc->add_secret(host, t->app_password);
    *out = t;
    return 0;

fail:
    free(t);
    return rc;
}

/* Serve the route and fetch the signing keys. */
static int
teams_start(struct ab_chat *t)
{
    return teams_auth_start(t);
}

/* Stop serving, drop calls (their callbacks never run), free. */
static void
teams_close(struct ab_chat *t)
{
    t->is_closing = true;
    teams_auth_stop(t);
    teams_connector_stop(t);
    teams_activity_free(t);
    free(t);
}

/* Teams limits sends per bot per conversation (thread): one route per conversation. */
static int
teams_rate_route(struct ab_chat *t, const struct ab_op_target *op, char *out, size_t cap)
{
    const char *conv = op->op == AB_OP_SEND && op->thread_id ? op->thread_id : op->channel_id;
    int n = snprintf(out, cap, "conv %s", conv ? conv : "");

    (void)t;
    return n > 0 && (size_t)n < cap ? 0 : AB_EINVAL;
}

/* teams.md §8: per bot per thread 7 per second and 60 per 30 s; per app and tenant 50 per
 * second. Edits count like sends. */
static const struct ab_rate_rule teams_rate_rules[] = {
    {.size = sizeof(struct ab_rate_rule), .route_prefix = "conv ", .limit = 7, .window_ms = 1000},
    {.size = sizeof(struct ab_rate_rule), .route_prefix = "conv ", .limit = 60, .window_ms = 30000},
    {.size = sizeof(struct ab_rate_rule),
     .flags = AB_RATE_RULE_PLUGIN,
     .route_prefix = "",
     .limit = 50,
     .window_ms = 1000},
};

static const struct ab_chat_ops teams_ops = {
    .size = sizeof(struct ab_chat_ops),
    /* 80 KB per message (teams.md §7), UTF-16: at most 4 bytes per character */
    .max_chars = 20000,
    .open = teams_open,
    .start = teams_start,
    .close = teams_close,
    .send = teams_send,
    .edit = teams_edit,
    .react = NULL, /* bots cannot react (teams.md §9) */
    .open_thread = NULL,
    .rate_route = teams_rate_route,
    .rate_rules = teams_rate_rules,
    .rate_rule_count = sizeof(teams_rate_rules) / sizeof(teams_rate_rules[0]),
    .conversation_of = teams_conversation_of,
};

/* [teams]: the keys this plugin reads (the shared policy keys are the core's). */
static const struct ab_config_key teams_keys[] = {
    {.name = "app_id",
     .type = AB_KEY_STRING,
     .flags = AB_KEY_REQUIRED,
     .env = "TEAMS_APP_ID",
     .help = "the Azure Bot's Microsoft App ID (a GUID): tokens must name it as audience"},
    {.name = "app_password",
     .type = AB_KEY_STRING,
     .flags = AB_KEY_REQUIRED | AB_KEY_SECRET,
     .env = "TEAMS_APP_PASSWORD",
     .help = "the App ID's client secret (Certificates & secrets) for the Connector token"},
    {.name = "tenant_id",
     .type = AB_KEY_STRING,
     .def = "botframework.com",
     .env = "TEAMS_TENANT_ID",
     .help = "your tenant id for a single-tenant bot; botframework.com for a multi-tenant one"},
    {.name = "route",
     .type = AB_KEY_STRING,
     .def = TEAMS_DEFAULT_ROUTE,
     .help = "path of the messaging endpoint on [ingress] listen"},
    {.name = "allowed_teams",
     .type = AB_KEY_IDS,
     .help = "team ids (channelData.team.id) whose channels may use the bot; empty = every team"},
    {.name = "openid_url",
     .type = AB_KEY_STRING,
     .flags = AB_KEY_ENDPOINT,
     .def = TEAMS_DEFAULT_OPENID,
     .help = "Bot Framework OpenID metadata (tests point it at a loopback fake)"},
    {.name = "login_url",
     .type = AB_KEY_STRING,
     .flags = AB_KEY_ENDPOINT,
     .def = TEAMS_DEFAULT_LOGIN,
     .help = "token endpoint base: <login_url>/<tenant_id>/oauth2/v2.0/token"},
    {.name = "issuer",
     .type = AB_KEY_STRING,
     .def = TEAMS_DEFAULT_ISSUER,
     .help = "the issuer inbound tokens must name"},
    {.name = "default_service_url",
     .type = AB_KEY_STRING,
     .flags = AB_KEY_ENDPOINT,
     .def = TEAMS_DEFAULT_SERVICE,
     .help = "Connector URL for conversations no activity has named one for yet"},
    {.name = "key_refetch_ms",
     .type = AB_KEY_INT,
     .def = "60000",
     .min = 100,
     .max = 86400000,
     .help = "a token naming an unknown key refetches the keys at most this often"},
    {.name = "clock_skew_s",
     .type = AB_KEY_INT,
     .def = "300",
     .min = 0,
     .max = 600,
     .help = "clock skew allowed on a token's exp and nbf"},
    {.name = NULL},
};

AB_PLUGIN_EXPORT const struct ab_plugin_desc ab_plugin = {
    .abi_major = AB_ABI_MAJOR,
    .abi_minor = AB_ABI_MINOR,
    .struct_size = sizeof(struct ab_plugin_desc),
    .kind = AB_PLUGIN_CHAT,
    .name = "teams",
    .version = AB_VERSION_STRING,
    .description = "Microsoft Teams (Bot Framework: inbound HTTP + Connector REST)",
    .caps = AB_CHAT_EDIT, /* reply chains need no open_thread: replies post into them */
    .chat = &teams_ops,
    .config_keys = teams_keys,
    .config_key_size = sizeof(struct ab_config_key),
};
