/* chat-teams: one authenticated Activity turned into what the core understands. Only
 * `message` activities become inbound messages, and a click on an approval card (a
 * `message` with our `value`, or an `adaptiveCard/action` invoke) becomes the clicker's
 * reaction on the question; the rest (conversationUpdate, installationUpdate,
 * messageReaction, typing, …) are acknowledged and dropped. In a
 * channel, the reply chain is the thread: conversation.id "<channel>;messageid=<root>"
 * (a root post names itself), kept verbatim as the conversation key and the place to
 * post replies. The bot is mentioned when a `mention` entity names the recipient; that
 * entity's `<at>Name</at>` text is removed from the prompt (teams.md §2). The HTTP answer
 * (200) goes out once the core holds the message durably (deliver_held), so a crash
 * before that makes the Connector retry rather than lose it. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "teams.h"

/* A string member of @obj, or NULL. */
static const char *
teams_str(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Whether activity @id was seen lately (and remember it). */
static bool
teams_seen(struct ab_chat *t, const char *id)
{
    for (size_t i = 0; i < TEAMS_SEEN_MAX; i++)
        if (t->seen[i] && !strcmp(t->seen[i], id))
            return true;
    free(t->seen[t->seen_next]);
    t->seen[t->seen_next] = strdup(id);
    t->seen_next = (t->seen_next + 1) % TEAMS_SEEN_MAX;
    return false;
}

/* Forget the remembered ids. */
void
teams_activity_free(struct ab_chat *t)
{
    for (size_t i = 0; i < TEAMS_SEEN_MAX; i++) {
        free(t->seen[i]);
        t->seen[i] = NULL;
    }
}

/* Remove the bot's mention text and trim. */
char *
teams_strip_mention(const char *text, const cJSON *entities, const char *bot_id)
{
    char *out = strdup(text ? text : ""), *start, *end;
    const cJSON *e;

    if (!out)
        return NULL;
    cJSON_ArrayForEach(e, entities)
    {
        const char *type = teams_str(e, "type");
        const cJSON *who = cJSON_GetObjectItemCaseSensitive(e, "mentioned");
        const char *id = teams_str(who, "id"), *mtext = teams_str(e, "text");
        char *at;
        size_t n;

        if (!type || strcasecmp(type, "mention") || !id || !bot_id || strcmp(id, bot_id) ||
            !mtext || !(n = strlen(mtext)))
            continue;
        while ((at = strstr(out, mtext)))
            memmove(at, at + n, strlen(at + n) + 1);
    }
    for (start = out; *start && isspace((unsigned char)*start); start++)
        ;
    end = start + strlen(start);
    while (end > start && isspace((unsigned char)end[-1]))
        end--;
    *end = '\0';
    memmove(out, start, (size_t)(end - start) + 1);
    return out;
}

/* Whether a mention entity names @bot_id. */
static bool
teams_mentions(const cJSON *entities, const char *bot_id)
{
    const cJSON *e;

    cJSON_ArrayForEach(e, entities)
    {
        const char *type = teams_str(e, "type");
        const char *id = teams_str(cJSON_GetObjectItemCaseSensitive(e, "mentioned"), "id");
        if (type && !strcasecmp(type, "mention") && id && bot_id && !strcmp(id, bot_id))
            return true;
    }
    return false;
}

/* The core has the message (or could not record it): answer the Connector. */
static void
teams_held(void *arg, int status)
{
    struct ab_http_exchange *ex = ((void **)arg)[0];
    struct ab_chat *t = ((void **)arg)[1];

    free(arg);
    /* AB_ECANCELED: we are closing: 503 makes the Connector try again later */
    t->svc->http_respond(ex, status == AB_ECANCELED ? 503 : 200, NULL, "", 0);
}

/* Let the user see the bot is on it: a typing activity (shown about 3 s). */
static void
teams_typing_done(void *arg, int status, const char *id)
{
    (void)arg;
    (void)status;
    (void)id;
}

/* Whether @team is allowed by allowed_teams (empty: every team). */
static bool
teams_team_allowed(const struct ab_chat *t, const char *team)
{
    if (t->nallowed_teams == 0)
        return true;
    for (size_t i = 0; team && i < t->nallowed_teams; i++)
        if (!strcmp(t->allowed_teams[i], team))
            return true;
    return false;
}

/* The emoji of an approval button click, or NULL when @act is not one: a `message`
 * activity whose `value` is the Action.Submit data (classic clients), or an
 * `adaptiveCard/action` invoke whose value.action.data is (Universal Actions). */
static const char *
teams_click_choice(const cJSON *act, bool *is_invoke)
{
    const char *type = teams_str(act, "type"), *name = teams_str(act, "name");
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(act, "value");

    *is_invoke = type && !strcmp(type, "invoke") && name && !strcmp(name, "adaptiveCard/action");
    if (*is_invoke)
        value = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(value, "action"),
                                                 "data");
    else if (!type || strcmp(type, "message"))
        return NULL;
    return cJSON_IsObject(value) ? teams_str(value, TEAMS_CHOICE_KEY) : NULL;
}

/* Answer an adaptiveCard/action invoke: HTTP 200 with the invoke response body (a
 * message for the clicker, or an error when the click was not one of ours). */
static void
teams_invoke_answer(struct ab_chat *t, struct ab_http_exchange *ex, bool ok)
{
    static const char *const hdrs[] = {"Content-Type: application/json; charset=utf-8", NULL};
    static const char ok_body[] =
        "{\"statusCode\":200,\"type\":\"application/vnd.microsoft.activity.message\","
        "\"value\":\"Choice received\"}";
    static const char bad_body[] =
        "{\"statusCode\":400,\"type\":\"application/vnd.microsoft.error\",\"value\":{"
        "\"code\":\"BadRequest\",\"message\":\"not an agent-broker choice\"}}";

    if (ok)
        t->svc->http_respond(ex, 200, hdrs, ok_body, sizeof(ok_body) - 1);
    else
        t->svc->http_respond(ex, 200, hdrs, bad_body, sizeof(bad_body) - 1);
}

/* An approval button click (either shape): the clicker's reaction with that choice on
 * the question (replyToId). Allow-lists apply as for messages; the core checks the
 * approver. Answers @ex. */
static void
teams_click(struct ab_chat *t, const cJSON *act, const char *emoji, bool is_invoke,
            struct ab_http_exchange *ex)
{
    const char *id = teams_str(act, "id"), *surl = teams_str(act, "serviceUrl");
    const char *reply_to = teams_str(act, "replyToId");
    const cJSON *conv = cJSON_GetObjectItemCaseSensitive(act, "conversation");
    const char *conv_id = teams_str(conv, "id"), *conv_type = teams_str(conv, "conversationType");
    const char *from_id = teams_str(cJSON_GetObjectItemCaseSensitive(act, "from"), "id");
    const char *bot_id = teams_str(cJSON_GetObjectItemCaseSensitive(act, "recipient"), "id");
    const cJSON *cdata = cJSON_GetObjectItemCaseSensitive(act, "channelData");
    const char *team = teams_str(cJSON_GetObjectItemCaseSensitive(cdata, "team"), "id");
    bool is_channel = conv_type && !strcmp(conv_type, "channel");

    if (!emoji || !*emoji || !reply_to || !conv_id || !from_id || !surl) {
        t->svc->log(t->host, AB_LOG_DEBUG, "a card action that is not one of our choices: ignored");
        goto answer;
    }
    teams_service_url_learn(t, conv_id, surl);
    if ((id && teams_seen(t, id)) || (bot_id && !strcmp(from_id, bot_id)))
        goto answer;
    if (!teams_team_allowed(t, team)) {
        t->svc->log(t->host, AB_LOG_DEBUG, "a click from a team not in allowed_teams: ignored");
        goto answer;
    }
    struct ab_reaction_event ev = {
        .size = sizeof(ev),
        .msg = {conv_id, reply_to},
        /* a reply chain is its conversation; a channel's root level is not one */
        .conversation = !is_channel || strchr(conv_id, ';') ? conv_id : NULL,
        .user_id = from_id,
        .emoji = emoji,
        .added = true,
        .is_self = false,
    };
    t->svc->deliver_reaction(t->host, &ev);
answer:
    if (is_invoke)
        teams_invoke_answer(t, ex, emoji && *emoji);
    else
        t->svc->http_respond(ex, 200, NULL, "", 0);
}

/* Handle one authenticated Activity. */
void
teams_activity_handle(struct ab_chat *t, const cJSON *act, struct ab_http_exchange *ex)
{
    const char *type = teams_str(act, "type"), *id = teams_str(act, "id");
    const char *surl = teams_str(act, "serviceUrl");
    const cJSON *conv = cJSON_GetObjectItemCaseSensitive(act, "conversation");
    const cJSON *from = cJSON_GetObjectItemCaseSensitive(act, "from");
    const cJSON *rcpt = cJSON_GetObjectItemCaseSensitive(act, "recipient");
    const cJSON *cdata = cJSON_GetObjectItemCaseSensitive(act, "channelData");
    const cJSON *ents = cJSON_GetObjectItemCaseSensitive(act, "entities");
    const char *conv_id = teams_str(conv, "id"), *conv_type = teams_str(conv, "conversationType");
    const char *bot_id = teams_str(rcpt, "id"), *from_id = teams_str(from, "id");
    const char *team = teams_str(cJSON_GetObjectItemCaseSensitive(cdata, "team"), "id");
    const char *chan = teams_str(cJSON_GetObjectItemCaseSensitive(cdata, "channel"), "id");
    const char *text = teams_str(act, "text");
    bool is_channel = conv_type && !strcmp(conv_type, "channel");
    bool is_dm = conv_type && !strcmp(conv_type, "personal");
    char *thread = NULL, *parent = NULL, *clean = NULL;
    void **held;
    bool is_invoke;
    const char *choice = teams_click_choice(act, &is_invoke);
    int rc;

    if (choice || is_invoke) {
        teams_click(t, act, choice, is_invoke, ex);
        return;
    }
    if (!type || strcmp(type, "message") || !id || !conv_id || !from_id || !surl) {
        t->svc->http_respond(ex, 200, NULL, "", 0); /* not for the core */
        return;
    }
    teams_service_url_learn(t, conv_id, surl);
    if (teams_seen(t, id) || (bot_id && !strcmp(from_id, bot_id))) {
        t->svc->http_respond(ex, 200, NULL, "", 0);
        return;
    }
    if (!teams_team_allowed(t, team)) {
        t->svc->log(t->host, AB_LOG_DEBUG, "an activity from a team not in allowed_teams: ignored");
        t->svc->http_respond(ex, 200, NULL, "", 0);
        return;
    }
    if (is_channel) {
        const char *semi = strchr(conv_id, ';');
        size_t base = semi ? (size_t)(semi - conv_id) : strlen(conv_id);
        parent = chan ? strdup(chan) : strndup(conv_id, base);
        /* a root post names itself as the root of its reply chain */
        if (semi ? asprintf(&thread, "%s", conv_id) < 0
                 : asprintf(&thread, "%s;messageid=%s", conv_id, id) < 0)
            thread = NULL;
        if (thread && strcmp(thread, conv_id))
            teams_service_url_learn(t, thread, surl);
    }
    clean = teams_strip_mention(text, ents, bot_id);
    if (!clean || (is_channel && (!thread || !parent))) {
        t->svc->http_respond(ex, 503, NULL, "", 0);
        goto out;
    }
    struct ab_inbound in = {
        .size = sizeof(in),
        .conversation = is_channel ? thread : conv_id,
        .channel_id = is_channel ? thread : conv_id,
        .parent_id = is_channel ? parent : NULL,
        .message_id = id,
        .event_id = id,
        .sender_id = from_id,
        .sender_name = teams_str(from, "name") ? teams_str(from, "name") : from_id,
        .text = text ? text : "",
        .clean_text = clean,
        .is_thread = is_channel,
        .is_dm = is_dm,
        .is_bot = false,
        .is_self = false,
        .mentions_bot = teams_mentions(ents, bot_id),
        .is_human_turn = true,
        .thread_is_ours = false,
        .thread_id = is_channel ? thread : NULL,
    };
    if (!(held = malloc(2 * sizeof(void *)))) {
        t->svc->http_respond(ex, 503, NULL, "", 0);
        goto out;
    }
    held[0] = ex;
    held[1] = t;
    if (AB_HAS(t->svc, struct ab_host_services, deliver_held))
        rc = t->svc->deliver_held(t->host, &in, teams_held, held);
    else
        rc = AB_ENOTSUP;
    if (rc < 0) {
        free(held);
        rc = rc == AB_ENOTSUP ? t->svc->deliver(t->host, &in) : rc;
        t->svc->http_respond(ex, rc < 0 ? 503 : 200, NULL, "", 0);
    }
    if (rc >= 0 && (in.mentions_bot || is_dm))
        teams_connector_call(t, in.channel_id, "POST", NULL, "{\"type\":\"typing\"}", NULL,
                             teams_typing_done, NULL);
out:
    free(thread);
    free(parent);
    free(clean);
}
