/* chat-teams: one authenticated Activity turned into what the core understands. Only
 * `message` activities become inbound messages; the rest (conversationUpdate,
 * installationUpdate, messageReaction, typing, …) are acknowledged and dropped. In a
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
    int rc;

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
