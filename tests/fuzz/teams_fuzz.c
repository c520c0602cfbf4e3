/* libFuzzer target: Bot Framework activities through the real chat-teams code
 * (teams_auth.c: the inbound route, Bearer check, keys waiting and refetches;
 * teams_activity.c: message, conversationUpdate, invoke and card submits, mentions,
 * reply chains, redelivery; teams_connector.c: Connector answers). The plugin fetches
 * its keys from the fake plugin host (a JWKS with the test key, endorsing msteams);
 * then each line of the input is one request to its route, signed by the harness with
 * that key for the line's own serviceUrl and channelId (so the fuzzer gets past the
 * signature to the activity parser), with due timers and held deliveries run between
 * lines. "HTTP <status> <body>" answers the plugin's next HTTP request (a Connector
 * call); "AUTH <text>" makes the next request's Authorization header "Bearer <text>"
 * instead (the token parser on the route's path). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "../teams/jwt_sign.h"
#include "fuzz_lines.h"
#include "plugin_host.h"
#include "teams_jwt.h"

#define TEAMS_FUZZ_APP "fuzz-app-0000"
#define TEAMS_FUZZ_ISS "https://api.botframework.com"

extern const struct ab_plugin_desc ab_plugin;

static const char *const teams_fuzz_config[] = {
    "app_id",
    TEAMS_FUZZ_APP,
    "app_password",
    "fuzz-secret-password",
    "tenant_id",
    "botframework.com",
    "route",
    "/api/messages",
    "openid_url",
    "http://127.0.0.1:9/openid",
    "login_url",
    "http://127.0.0.1:9/login",
    "issuer",
    TEAMS_FUZZ_ISS,
    "default_service_url",
    "http://127.0.0.1:9/teams",
    NULL,
};

static EVP_PKEY *teams_fuzz_key;
static char teams_fuzz_jwks[4096];

/* A token cached for one (serviceUrl, channelId): signing costs a millisecond. */
struct teams_fuzz_tok {
    char *surl, *chan, *token;
};

struct teams_fuzz {
    struct plugin_host h;
    char *auth;                   /* owned: the next request's token from an AUTH line */
    struct teams_fuzz_tok tok[4]; /* a small cache, round robin */
    size_t tok_next;
};

/* The keys and the Connector token; Connector calls wait for an HTTP line. */
static bool
teams_fuzz_respond(void *arg, const char *method, const char *url, const char *body, long *status,
                   const char **resp, const char *const **headers)
{
    (void)arg, (void)method, (void)body, (void)headers;
    *status = 200;
    if (strstr(url, "/openid"))
        *resp = "{\"issuer\":\"" TEAMS_FUZZ_ISS "\",\"jwks_uri\":\"http://127.0.0.1:9/keys\"}";
    else if (strstr(url, "/keys"))
        *resp = teams_fuzz_jwks;
    else if (strstr(url, "/oauth2/"))
        *resp = "{\"token_type\":\"Bearer\",\"expires_in\":3600,\"access_token\":\"tok-out\"}";
    else
        return false;
    return true;
}

/* A string member of @obj, or "" (the token then names "" too). */
static const char *
teams_fuzz_str(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

    return cJSON_IsString(v) ? v->valuestring : "";
}

/* A good token for an activity with @surl and @chan (lent; cached). */
static const char *
teams_fuzz_token(struct teams_fuzz *f, const char *surl, const char *chan)
{
    struct teams_fuzz_tok *t;
    char *claims;
    cJSON *c;

    for (size_t i = 0; i < 4; i++)
        if (f->tok[i].token && !strcmp(f->tok[i].surl, surl) && !strcmp(f->tok[i].chan, chan))
            return f->tok[i].token;
    t = &f->tok[f->tok_next++ % 4];
    free(t->surl), free(t->chan), free(t->token);
    memset(t, 0, sizeof(*t));
    if (!(c = cJSON_CreateObject()) || !cJSON_AddStringToObject(c, "iss", TEAMS_FUZZ_ISS) ||
        !cJSON_AddStringToObject(c, "aud", TEAMS_FUZZ_APP) ||
        !cJSON_AddNumberToObject(c, "exp", (double)time(NULL) + 3600) ||
        !cJSON_AddStringToObject(c, "serviceurl", surl) || !(claims = cJSON_PrintUnformatted(c))) {
        cJSON_Delete(c);
        return NULL;
    }
    cJSON_Delete(c);
    t->token =
        jwt_sign(teams_fuzz_key, "{\"alg\":\"RS256\",\"kid\":\"fk\",\"typ\":\"JWT\"}", claims);
    free(claims);
    t->surl = strdup(surl);
    t->chan = strdup(chan);
    if (!t->token || !t->surl || !t->chan)
        abort();
    return t->token;
}

/* One line: an answer, a token for the next request, or an activity. */
static void
teams_fuzz_line(void *arg, const char *line, size_t len)
{
    struct teams_fuzz *f = arg;
    char auth[TEAMS_JWT_MAX + 64];
    const char *tok = NULL;
    cJSON *act = NULL;

    if (fuzz_http_line(&f->h, line, len)) {
        plugin_host_run(&f->h, 250, 16);
        return;
    }
    if (len >= 5 && !memcmp(line, "AUTH ", 5)) {
        free(f->auth);
        if (!(f->auth = strndup(line + 5, len - 5)))
            abort();
        return;
    }
    if (!f->auth) {
        act = cJSON_ParseWithLength(line, len);
        tok = teams_fuzz_token(f, teams_fuzz_str(act, "serviceUrl"),
                               teams_fuzz_str(act, "channelId"));
        cJSON_Delete(act);
    }
    snprintf(auth, sizeof(auth), "Bearer %s", f->auth ? f->auth : tok ? tok : "");
    const char *const hdrs[] = {"Authorization", auth, "Content-Type", "application/json", NULL};
    plugin_host_http_in(&f->h, "POST", "/api/messages", hdrs, line, len);
    free(f->auth);
    f->auth = NULL;
    plugin_host_run(&f->h, 250, 16);
}

/* A post with approval buttons (an Adaptive Card) and an edit, so Connector answers
 * reach their parsers (teams has no reactions or threads of its own). */
static void
teams_fuzz_outbound(struct ab_chat *chat)
{
    static const char *const choices[] = {"✅", "♾️", "❌", NULL};
    struct ab_send msg = {.size = sizeof(msg),
                          .channel_id = "19:fuzz@thread.tacv2;messageid=1",
                          .text = "Run `make`?",
                          .choices = choices};
    struct ab_msg_ref ref = {"a:fuzz-personal", "1"};

    ab_plugin.chat->send(chat, &msg, fuzz_sent, NULL);
    ab_plugin.chat->edit(chat, &ref, "edited", fuzz_done, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct teams_fuzz f;
    struct ab_chat *chat = NULL;

    if (!teams_fuzz_key) {
        if (!(teams_fuzz_key = jwt_rsa_key(jwt_key_a_pem)))
            abort();
        char body[4000];
        if (jwt_jwks_json(teams_fuzz_key, "fk", "msteams", body, sizeof(body)) < 0)
            abort();
        snprintf(teams_fuzz_jwks, sizeof(teams_fuzz_jwks), "%s", body);
    }
    plugin_host_init(&f.h, teams_fuzz_config);
    f.h.respond = teams_fuzz_respond;
    if (ab_plugin.chat->open(plugin_host_handle(&f.h), &f.h.svc, &chat) < 0 ||
        ab_plugin.chat->start(chat) < 0)
        abort();
    plugin_host_run(&f.h, 0, 16); /* the keys are in */
    teams_fuzz_outbound(chat);
    fuzz_lines((const char *)data, size, teams_fuzz_line, &f);
    plugin_host_run(&f.h, 0, 4);
    ab_plugin.chat->close(chat);
    plugin_host_free(&f.h);
    free(f.auth);
    f.auth = NULL;
    return 0;
}
