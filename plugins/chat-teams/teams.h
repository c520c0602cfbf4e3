/* chat-teams: the plugin instance shared by its parts — teams.c (life cycle, chat
 * operations, descriptor), teams_auth.c (the Bot Framework's OpenID metadata and JWKS,
 * inbound requests checked and answered), teams_activity.c (an Activity turned into an
 * ab_inbound), teams_connector.c (the client-credentials token and Connector REST
 * calls), teams_jwt.c (tokens checked with libcrypto). Private to the plugin. */
#ifndef CHAT_TEAMS_H
#define CHAT_TEAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include <agent-broker/plugin.h>

#include "teams_jwt.h"

#define TEAMS_SERVICE_URLS_MAX 1024 /* conversations whose serviceUrl is remembered */
#define TEAMS_PENDING_MAX 64        /* requests waiting for the keys */
#define TEAMS_SEEN_MAX 256          /* activity ids remembered against redelivery */
/* The key of an approval button's Action.Submit data that carries the choice's emoji */
#define TEAMS_CHOICE_KEY "agentBrokerChoice"

/* An inbound request waiting for the signing keys (first fetch or an unknown kid). */
struct teams_pending {
    struct teams_pending *next;
    struct ab_http_exchange *ex; /* owned until answered */
    char *auth;                  /* owned: the Authorization header */
    char *body;                  /* owned */
    size_t body_len;
};

/* One conversation's serviceUrl, learned from an authenticated activity. */
struct teams_service_url {
    char *conversation; /* owned */
    char *url;          /* owned, without a trailing '/' */
    uint64_t used_ms;   /* for eviction */
};

/* A Connector call waiting for the outbound token, or in flight. */
struct teams_call;

struct ab_chat {
    struct ab_host *host;
    const struct ab_host_services *svc;
    /* config, lent from the host */
    const char *app_id, *app_password, *tenant, *route;
    const char *openid_url, *login_url, *issuer, *default_service_url;
    const char *const *allowed_teams;
    size_t nallowed_teams;
    int64_t key_refetch_ms; /* an unknown kid refetches the keys at most this often */
    int64_t skew_s;

    struct ab_http_route *http_route; /* owned by the host until removed */

    /* inbound authentication */
    struct teams_jwks keys;        /* owned */
    bool has_keys;                 /* keys hold a successfully fetched JWKS */
    struct ab_http *keys_fetch;    /* host-owned while the metadata or JWKS is fetched */
    uint64_t keys_fetched_ms;      /* loop time of the last fetch started by an unknown kid */
    bool keys_refetch_done;        /* at least one unknown-kid refetch happened */
    struct ab_timer *keys_refresh; /* owned: the daily refresh */
    struct teams_pending *pending; /* owned: requests waiting for the keys */
    size_t npending;

    /* outbound */
    char *token;                 /* owned: the Connector bearer token, or NULL */
    uint64_t token_expires_ms;   /* loop time it stops being used */
    struct ab_http *token_fetch; /* host-owned while the token is fetched */
    struct teams_call *calls;    /* owned: waiting for the token or in flight */

    struct teams_service_url urls[TEAMS_SERVICE_URLS_MAX];
    size_t nurls;

    char *seen[TEAMS_SEEN_MAX]; /* owned: recent activity ids, a ring */
    size_t seen_next;
    bool is_closing;
};

/* ---- teams_auth.c ---- */

/* Register the inbound route and fetch the keys. */
int teams_auth_start(struct ab_chat *t);
/* Remove the route, answer the waiting requests 503, drop the keys. */
void teams_auth_stop(struct ab_chat *t);

/* ---- teams_activity.c ---- */

/* Handle one authenticated Activity (@act lent): deliver a message to the core or
 * ignore it. Answers @ex (owned) itself, now or when the core has the message. */
void teams_activity_handle(struct ab_chat *t, const cJSON *act, struct ab_http_exchange *ex);
/* Forget the remembered activity ids. */
void teams_activity_free(struct ab_chat *t);
/* Remove the bot's own mention (<at>…</at> text of the entity naming @bot_id) from
 * @text; returns a malloc'd, trimmed copy, or NULL on ENOMEM. Pure. */
char *teams_strip_mention(const char *text, const cJSON *entities, const char *bot_id);

/* ---- teams_connector.c ---- */

/* Completion of a Connector call: @status 0 or AB_E*; @id (lent) the new activity's id
 * for a send, else NULL. */
typedef void (*teams_call_cb)(void *arg, int status, const char *id);

/* ab_chat_ops.conversation_of: the reply chain "CHANNEL;messageid=ROOT" under post
 * @message_id of a Teams channel, thread @thread_id itself, or a chat's own id. Strings
 * lent; 0 or AB_EINVAL. */
int teams_conversation_of(struct ab_chat *t, const char *channel_id, const char *thread_id,
                          const char *message_id, char *out, size_t cap);
/* Call the Connector: @method on serviceUrl/v3/conversations/<@conversation>/activities
 * [/<@activity_id>] (both lent, escaped here) with the JSON @body (lent), with the bearer
 * token (fetched first when needed). @op is the core's operation the answer's rate facts
 * belong to (or NULL). @cb runs later, once; when the instance closes first, from
 * teams_connector_stop with AB_ECANCELED and t->is_closing set: it frees what it holds
 * and calls nothing of the core's. */
int teams_connector_call(struct ab_chat *t, const char *conversation, const char *method,
                         const char *activity_id, const char *body, void *op, teams_call_cb cb,
                         void *arg);
/* Drop every call and the token. */
void teams_connector_stop(struct ab_chat *t);
/* Remember @url (lent) as @conversation's serviceUrl. */
void teams_service_url_learn(struct ab_chat *t, const char *conversation, const char *url);
/* Percent-encode @in as one path segment into a malloc'd string (NULL on ENOMEM). */
char *teams_path_escape(const char *in);

#endif
