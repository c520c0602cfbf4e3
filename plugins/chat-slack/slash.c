/* chat-slack: native commands as Slack slash commands over Socket Mode. Slack apps
 * declare their slash commands in the app's configuration (there is no API to register
 * them): `[slack] slash_command` (default /agent-broker) is the one the plugin answers,
 * `/agent-broker reset` running /reset, and any core command configured under its own
 * name (e.g. /usage) works too. The envelope (type slash_commands) is acknowledged
 * first by slack_socket.c; the core's answer goes to the invocation's response_url (a
 * credential for 30 minutes, at most 5 uses; only Slack's hooks host or api_base's own
 * origin is accepted) as an ephemeral message. Slack does not send slash commands from
 * inside threads: they act on the channel, and thread commands are typed as text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slack.h"

#define SLACK_SLASH_TTL_MS (30ull * 60 * 1000) /* response_url lifetime */
#define SLACK_SLASH_MAX 256                    /* unanswered invocations kept at most */
#define SLACK_HOOKS_ORIGIN "https://hooks.slack.com/"

/* One invocation waiting for the core's answer. */
struct slack_slash {
    struct slack_slash *next;
    struct ab_chat *s;
    char id[32];        /* the reply token handed to the core */
    char *response_url; /* owned */
    uint64_t created_ms;
    bool is_answering;
    struct ab_http *http; /* the answer in flight (owned by the host until its callback) */
    struct ab_defer *defer;
    int status;
    ab_done_cb cb;
    void *arg;
};

/* Unlink and free @sl. */
static void
slack_slash_free(struct slack_slash *sl)
{
    struct ab_chat *s = sl->s;
    struct slack_slash **link;

    for (link = &s->slashes; *link && *link != sl; link = &(*link)->next)
        ;
    if (*link)
        *link = sl->next;
    if (sl->defer)
        s->svc->defer_cancel(sl->defer);
    s->nslashes--;
    free(sl->response_url);
    free(sl);
}

/* The owed completion, a loop turn later. */
static void
slack_slash_complete(void *arg)
{
    struct slack_slash *sl = arg;

    sl->defer = NULL;
    if (sl->cb)
        sl->cb(sl->arg, sl->status);
    slack_slash_free(sl);
}

/* Finish @sl with @status: its callback later, then freed. */
static void
slack_slash_finish(struct slack_slash *sl, int status)
{
    sl->status = status;
    if (sl->s->svc->defer(sl->s->host, slack_slash_complete, sl, &sl->defer) < 0) {
        sl->defer = NULL;
        slack_slash_complete(sl);
    }
}

/* The response_url answered. */
static void
slack_slash_posted(void *arg, const struct ab_http_response *resp)
{
    struct slack_slash *sl = arg;
    struct ab_chat *s = sl->s;
    int status = resp->error;

    sl->http = NULL;
    if (!status && (resp->status < 200 || resp->status >= 300)) {
        s->svc->log(s->host, AB_LOG_WARN, "slash command answer refused: HTTP %ld %.100s",
                    resp->status, resp->body ? resp->body : "");
        status = resp->status == 404 || resp->status == 410 ? AB_ETIMEDOUT : AB_EIO;
    }
    if (sl->cb)
        sl->cb(sl->arg, status);
    slack_slash_free(sl);
}

/* ab_chat_ops.command_reply: the core's answer, as an ephemeral message. */
int
slack_command_reply(struct ab_chat *s, const char *reply_token, const char *text, ab_done_cb cb,
                    void *arg)
{
    static const char *const headers[] = {"Content-Type: application/json; charset=utf-8", NULL};
    struct slack_slash *sl;
    char *mrkdwn = NULL, *body = NULL;
    cJSON *o;
    int rc;

    if (!reply_token || !text)
        return AB_EINVAL;
    for (sl = s->slashes; sl && (sl->is_answering || strcmp(sl->id, reply_token)); sl = sl->next)
        ;
    if (!sl)
        return AB_ENOENT;
    sl->is_answering = true;
    sl->cb = cb;
    sl->arg = arg;
    if (s->svc->now_ms(s->host) - sl->created_ms >= SLACK_SLASH_TTL_MS) {
        slack_slash_finish(sl, AB_ETIMEDOUT);
        return 0;
    }
    if (mrkdwn_from_markdown(s->svc, s->host, text, &mrkdwn) < 0)
        mrkdwn = NULL;
    if ((o = cJSON_CreateObject()) && cJSON_AddStringToObject(o, "response_type", "ephemeral") &&
        cJSON_AddStringToObject(o, "text", mrkdwn ? mrkdwn : text))
        body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    free(mrkdwn);
    if (!body) {
        slack_slash_finish(sl, AB_ENOMEM);
        return 0;
    }
    struct ab_http_request req = {
        .size = sizeof(req),
        .method = "POST",
        .url = sl->response_url,
        .headers = headers,
        .body = body,
        .body_len = strlen(body),
        .timeout_ms = 15000,
    };
    rc = s->svc->http_request(s->host, &req, slack_slash_posted, sl, &sl->http);
    free(body);
    if (rc < 0)
        slack_slash_finish(sl, rc);
    return 0;
}

/* May the plugin POST to @url? Slack's hooks host, or the origin of api_base (a
 * loopback fake in tests): never anywhere a payload names. */
static bool
slack_slash_url_ok(const struct ab_chat *s, const char *url)
{
    const char *p = strstr(s->api_base, "://");
    size_t origin;

    if (strncmp(url, SLACK_HOOKS_ORIGIN, strlen(SLACK_HOOKS_ORIGIN)) == 0)
        return true;
    if (!p || !(p = strchr(p + 3, '/')))
        return false;
    origin = (size_t)(p - s->api_base) + 1; /* scheme://host[:port]/ */
    return strncmp(url, s->api_base, origin) == 0 && strlen(url) < 2048;
}

/* A slash_commands envelope's payload (lent), already acknowledged. */
void
slack_slash_on_envelope(struct ab_chat *s, const cJSON *payload)
{
    const char *command =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(payload, "command"));
    const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(payload, "text"));
    const char *user = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(payload, "user_id"));
    const char *uname =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(payload, "user_name"));
    const char *channel =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(payload, "channel_id"));
    const char *url =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(payload, "response_url"));
    const char *trigger =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(payload, "trigger_id"));
    char name[32], args[1024];
    struct slack_slash *sl;
    int rc;

    if (!command || command[0] != '/' || !user || !channel || !url || !text) {
        s->svc->log(s->host, AB_LOG_WARN,
                    "slash command without command, user, channel or "
                    "response_url: ignored");
        return;
    }
    if (!slack_slash_url_ok(s, url)) {
        s->svc->log(s->host, AB_LOG_WARN,
                    "slash command %s: response_url on an unexpected host: "
                    "ignored",
                    command);
        return;
    }
    /* "/agent-broker reset now" → reset + "now"; "/reset now" → reset + "now". */
    if (strcmp(command, s->slash_command) == 0) {
        int n = 0;
        while (*text == ' ')
            text++;
        if (*text == '/')
            text++;
        if (sscanf(text, "%31[A-Za-z0-9_-]%n", name, &n) != 1) {
            snprintf(name, sizeof(name), "help");
            n = 0;
        }
        text += n;
    } else {
        snprintf(name, sizeof(name), "%s", command + 1);
    }
    while (*text == ' ')
        text++;
    snprintf(args, sizeof(args), "%s", text);
    if (s->nslashes >= SLACK_SLASH_MAX || !(sl = calloc(1, sizeof(*sl)))) {
        s->svc->log(s->host, AB_LOG_WARN, "slash command dropped: too many unanswered");
        return;
    }
    sl->s = s;
    snprintf(sl->id, sizeof(sl->id), "slash-%llu", (unsigned long long)++s->slash_serial);
    sl->created_ms = s->svc->now_ms(s->host);
    if (!(sl->response_url = strdup(url))) {
        free(sl);
        return;
    }
    sl->next = s->slashes;
    s->slashes = sl;
    s->nslashes++;
    struct ab_inbound where = {
        .size = sizeof(where),
        .conversation = channel,
        .channel_id = channel,
        .message_id = trigger ? trigger : sl->id,
        .event_id = trigger ? trigger : sl->id,
        .sender_id = user,
        .sender_name = uname,
        .text = "",
        .is_dm = channel[0] == 'D',
        .mentions_bot = true,
        .is_human_turn = true,
    };
    struct ab_command_event ev = {
        .size = sizeof(ev),
        .where = &where,
        .name = name,
        .args = args,
        .reply_token = sl->id,
    };
    rc = AB_HAS(s->svc, struct ab_host_services, deliver_command) && s->svc->deliver_command
             ? s->svc->deliver_command(s->host, &ev)
             : AB_ENOTSUP;
    if (rc < 0) {
        s->svc->log(s->host, AB_LOG_WARN, "slash command /%s not handled: %s", name,
                    ab_strerror(rc));
        slack_command_reply(s, sl->id, "⚠️ This command could not be handled.", NULL, NULL);
    }
}

/* Forget every invocation (closing): answers in flight are abandoned. */
void
slack_slash_close(struct ab_chat *s)
{
    while (s->slashes) {
        struct slack_slash *sl = s->slashes;
        if (sl->http)
            s->svc->http_cancel(sl->http);
        if (sl->is_answering && sl->cb && !sl->defer)
            sl->cb(sl->arg, AB_ECANCELED);
        slack_slash_free(sl);
    }
}

/* The action_id prefix of our choice buttons; the value carries the emoji. */
#define SLACK_CHOICE_ACTION "ab-choice-"

/* See slack.h: a section with the text (cut to Slack's 3000 for a section) and an
 * actions block of buttons. */
char *
slack_buttons_blocks(const char *mrkdwn, const char *const *choices)
{
    cJSON *blocks = cJSON_CreateArray(), *sec, *txt, *act, *els;
    char action[32], *out = NULL;
    size_t n = strlen(mrkdwn);

    if (!blocks || !(sec = cJSON_CreateObject()))
        goto done;
    cJSON_AddItemToArray(blocks, sec);
    cJSON_AddStringToObject(sec, "type", "section");
    if (!(txt = cJSON_AddObjectToObject(sec, "text")))
        goto done;
    cJSON_AddStringToObject(txt, "type", "mrkdwn");
    if (n > 3000) /* keep whole UTF-8 sequences */
        for (n = 3000; n > 0 && ((unsigned char)mrkdwn[n] & 0xC0) == 0x80; n--)
            ;
    {
        char *cut = strndup(mrkdwn, n);
        if (!cut)
            goto done;
        cJSON_AddStringToObject(txt, "text", cut);
        free(cut);
    }
    if (!(act = cJSON_CreateObject()))
        goto done;
    cJSON_AddItemToArray(blocks, act);
    cJSON_AddStringToObject(act, "type", "actions");
    cJSON_AddStringToObject(act, "block_id", "ab-choices");
    if (!(els = cJSON_AddArrayToObject(act, "elements")))
        goto done;
    for (size_t i = 0; choices[i] && i < 5; i++) {
        cJSON *b = cJSON_CreateObject(), *label;
        if (!b)
            goto done;
        cJSON_AddItemToArray(els, b);
        snprintf(action, sizeof(action), SLACK_CHOICE_ACTION "%zu", i);
        cJSON_AddStringToObject(b, "type", "button");
        cJSON_AddStringToObject(b, "action_id", action);
        cJSON_AddStringToObject(b, "value", choices[i]);
        if ((label = cJSON_AddObjectToObject(b, "text"))) {
            cJSON_AddStringToObject(label, "type", "plain_text");
            cJSON_AddStringToObject(label, "text", choices[i]);
            cJSON_AddBoolToObject(label, "emoji", true);
        }
    }
    out = cJSON_PrintUnformatted(blocks);
done:
    cJSON_Delete(blocks);
    return out;
}

/* See slack.h. */
void
slack_interactive_on_envelope(struct ab_chat *s, const cJSON *payload)
{
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(payload, "type"));
    const cJSON *container = cJSON_GetObjectItemCaseSensitive(payload, "container");
    const cJSON *user = cJSON_GetObjectItemCaseSensitive(payload, "user");
    const cJSON *action;
    const char *uid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(user, "id"));
    const char *ts =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(container, "message_ts"));
    const char *channel =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(container, "channel_id"));

    if (!type || strcmp(type, "block_actions") != 0 || !uid || !ts || !channel) {
        s->svc->log(s->host, AB_LOG_DEBUG, "interactive payload skipped: not a block action");
        return;
    }
    cJSON_ArrayForEach(action, cJSON_GetObjectItemCaseSensitive(payload, "actions"))
    {
        const char *id =
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(action, "action_id"));
        const char *value = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(action, "value"));
        if (!id || !value || strncmp(id, SLACK_CHOICE_ACTION, strlen(SLACK_CHOICE_ACTION)) != 0)
            continue;
        struct ab_reaction_event ev = {
            .size = sizeof(ev),
            .msg = {channel, ts},
            .conversation = NULL, /* the core finds the running turn that asked */
            .user_id = uid,
            .emoji = value,
            .added = true,
            .is_self = strcmp(uid, s->self_user) == 0,
        };
        s->svc->deliver_reaction(s->host, &ev);
    }
}
