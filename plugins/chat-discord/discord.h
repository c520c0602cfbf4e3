/* chat-discord: the instance shared by the plugin's files (gateway, REST, events,
 * outbound operations, channel cache). Nothing here is visible outside the plugin. */
#ifndef CHAT_DISCORD_H
#define CHAT_DISCORD_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include <agent-broker/plugin.h>

#define DISCORD_MAX_CHARS 2000
#define DISCORD_ID_MAX 32 /* a snowflake is at most 20 digits */
#define DISCORD_CACHE_SLOTS 4096
#define DISCORD_RETRY_MAX_MS (24ull * 3600 * 1000)   /* the longest 429 wait believed */
#define DISCORD_HEARTBEAT_MAX_MS (10ull * 60 * 1000) /* Hello's interval is ~41 s */
#define DISCORD_SHARDS_MAX 65536
/* Identify windows of a sharded bot: one wave of max_concurrency shards identifies in
 * the first DISCORD_IDENTIFY_WINDOW_MS of its slot; slots are DISCORD_IDENTIFY_SLOT_MS
 * apart, so two Identifies of one bucket are always >= 5.5 s apart (Discord's limit is
 * 5 s; the rest absorbs a late timer or a slow network). */
#define DISCORD_IDENTIFY_SLOT_MS 7000
#define DISCORD_IDENTIFY_WINDOW_MS 1500

/* GUILDS | GUILD_MESSAGES | GUILD_MESSAGE_REACTIONS | DIRECT_MESSAGES | MESSAGE_CONTENT:
 * reactions are needed for 🛑 and permission answers. */
#define DISCORD_INTENTS ((1 << 0) | (1 << 9) | (1 << 10) | (1 << 12) | (1 << 15))

/* What the plugin knows about one channel (from GUILD_CREATE, THREAD_*, CHANNEL_* or
 * GET /channels/{id}). */
struct discord_channel {
    char id[DISCORD_ID_MAX];
    char parent_id[DISCORD_ID_MAX]; /* "" when none */
    char owner_id[DISCORD_ID_MAX];  /* thread creator, "" when none */
    int type;
    bool is_thread; /* thread_metadata was present */
    uint64_t used;  /* cache clock of the last use: the oldest is evicted */
};

/* A bounded channel cache: linear slots, least recently used evicted. */
struct discord_cache {
    struct discord_channel slots[DISCORD_CACHE_SLOTS];
    size_t count;
    uint64_t clock;
    bool is_dirty; /* changed since it was last saved */
};

struct discord_req;
struct discord_lookup;

/* Completion of a REST call: @status 0 (2xx) or AB_E*; @http the HTTP status (0 when
 * none arrived); @body the parsed JSON body or NULL (lent for the call); @code Discord's
 * JSON error code (0 when none). */
typedef void (*discord_rest_cb)(void *arg, int status, long http, const cJSON *body, int code);

/* A MESSAGE_CREATE whose sequence number must not be saved before the core recorded
 * the message (ABI 1.3 deliver_held): a restart then resumes before it and Discord
 * replays it. */
struct discord_hold {
    struct discord_hold *next;
    struct ab_chat *chat; /* lent */
    int64_t seq;          /* its dispatch's s */
    uint64_t session_gen; /* the session it belongs to */
    bool is_done;         /* recorded (or needs no record): no longer holds the seq */
};

/* The gateway session and connection. */
struct discord_gateway {
    struct ab_ws *ws;             /* lent by the host until on_close */
    struct ab_http *lookup;       /* GET /gateway/bot in flight */
    struct ab_timer *heartbeat;   /* repeating, while connected */
    struct ab_timer *first_beat;  /* the jittered first heartbeat */
    struct ab_timer *reconnect;   /* a pending reconnect */
    char *url;                    /* owned: the gateway base URL */
    char *resume_url;             /* owned: READY's resume_gateway_url, or NULL */
    char *session_id;             /* owned, or NULL: no session to resume */
    int64_t seq;                  /* last non-null s, -1 none */
    uint64_t interval_ms;         /* from Hello */
    bool is_acked;                /* an ACK arrived since our last heartbeat */
    bool is_session_ready;        /* READY or RESUMED on this connection */
    bool is_ready;                /* reported connected */
    bool is_resuming;             /* this connection sent Resume */
    bool is_stopped;              /* fatal close: never reconnect */
    bool is_dirty;                /* seq changed since the last state_put */
    int close_code;               /* why we closed it ourselves, 0 = not us */
    struct discord_hold *holds;   /* owned: messages not yet recorded, by seq */
    struct discord_hold *current; /* the hold of the dispatch being handled, or NULL once
                                     events.c took it */
    uint64_t session_gen;         /* bumped for every new session */
    uint64_t identifies, resumes; /* counters for the log */
    /* Sharding ([discord] shard_id / shard_count; Identify's `shard`). */
    int64_t shard_id, shard_count;
    int64_t max_concurrency;        /* GET /gateway/bot's session_start_limit; 1 unknown */
    struct ab_timer *identify_wait; /* an Identify waiting for its shard's window */
};

struct ab_chat {
    struct ab_host *host;               /* lent by the host, outlives us */
    const struct ab_host_services *svc; /* lent */
    const char *token;                  /* lent from the config tree */
    const char *api_base;               /* lent from the config tree */
    const char *gateway_url;            /* lent from the config tree; "" = look it up */
    char *auth_header;                  /* owned: "Authorization: Bot …" */
    char bot_id[DISCORD_ID_MAX];        /* "" until READY (or the saved session) */
    bool is_token_dead;                 /* a 401 arrived: the token is never used again */
    bool is_closing;
    struct discord_gateway gw;
    struct discord_cache cache;
    struct discord_req *reqs;       /* owned: REST calls in flight */
    struct discord_lookup *lookups; /* owned: inbound messages waiting for a channel */
    struct discord_lookup *lookups_tail;
    struct discord_interaction *interactions; /* owned: commands awaiting the core's answer */
    size_t ninteractions;
    bool is_commands_registered; /* application commands were registered */
};

/* ---- rest.c ---- */

/* Start a REST call: @method, @path below api_base (lent), @body JSON text or NULL
 * (lent). @op (lent) is the @arg the core passed with the chat operation this call
 * performs (sent now: the core's scheduler decided when), NULL for the plugin's own
 * calls (queued in that scheduler by route, retried there on a 429 or 5xx): the
 * response's rate facts are reported tied to it before @cb. @cb runs later, exactly
 * once (AB_ECANCELED when the instance closes first). */
int discord_rest_call(struct ab_chat *c, const char *method, const char *path, const char *body,
                      void *op, discord_rest_cb cb, void *arg);
/* POST @path as multipart/form-data from @parts (lent; file parts streamed from disk). */
int discord_rest_upload(struct ab_chat *c, const char *path, const struct ab_form_part *parts,
                        size_t nparts, void *op, discord_rest_cb cb, void *arg);
/* Cancel every REST call in flight (their callbacks run with AB_ECANCELED). */
void discord_rest_close(struct ab_chat *c);
/* The AB_E* code for an HTTP status (0 for 2xx). */
int discord_rest_status(long http);

/* ---- gateway.c ---- */

/* Load a saved session and connect (or look up the gateway URL first). */
int discord_gateway_start(struct ab_chat *c);
/* Save the session, drop the connection (resumably) and release timers. */
void discord_gateway_close(struct ab_chat *c);

/* ---- events.c ---- */

/* Handle one dispatch event @type with data @d (both lent). */
void discord_events_dispatch(struct ab_chat *c, const char *type, const cJSON *d);
/* The message of @h is recorded (@recorded true) or needs no record: it no longer holds
 * the saved sequence number back. Not recorded (closing): it keeps holding it. */
void discord_hold_done(struct discord_hold *h, bool recorded);
/* deliver_held's completion for a hold (arg: struct discord_hold *). */
void discord_hold_recorded(void *arg, int status);
/* Forget inbound messages waiting for channel lookups. */
void discord_events_close(struct ab_chat *c);

/* ---- interactions.c: native commands ---- */

/* READY @d (lent): register the core's commands as application commands (once). */
void discord_interactions_ready(struct ab_chat *c, const cJSON *d);
/* INTERACTION_CREATE @d (lent): defer, then hand the command to the core. */
void discord_interactions_create(struct ab_chat *c, const cJSON *d);
/* ab_chat_ops.command_reply: edit the deferred response with the core's answer. */
int discord_command_reply(struct ab_chat *c, const char *reply_token, const char *text,
                          ab_done_cb cb, void *arg);
/* Forget the invocations still waiting (closing). */
void discord_interactions_close(struct ab_chat *c);
/* Add @choices (lent, NULL-terminated emoji) to message @body as one row of buttons. */
void discord_buttons_add(cJSON *body, const char *const *choices);

/* ---- channel_cache.c ---- */

/* The cached facts of channel @id (lent), or NULL. The result is lent until the next
 * cache_put. */
const struct discord_channel *discord_cache_get(struct discord_cache *cache, const char *id);
/* Remember a channel object @ch (lent JSON: id, type, parent_id, owner_id,
 * thread_metadata); ignored without a string id. */
void discord_cache_put(struct discord_cache *cache, const cJSON *ch);
/* Forget channel @id (lent). */
void discord_cache_remove(struct discord_cache *cache, const char *id);
/* The cache as JSON text (malloc'd, caller frees), or NULL; clears is_dirty. */
char *discord_cache_dump(struct discord_cache *cache);
/* Fill the cache from discord_cache_dump's text (@len bytes, lent); malformed parts are
 * skipped. */
void discord_cache_load(struct discord_cache *cache, const char *text, size_t len);

/* ---- mention.c ---- */

/* Discord's mention markup (<@ID>, <@!ID>, <@&ROLE>): *out (malloc'd, caller frees) is
 * @text (lent) without the user mentions of @bot_id (lent; NULL or "" removes none),
 * words around a removed mention joined by one space, trimmed. Returns how many were
 * removed (>= 0: the bot was mentioned when > 0), AB_EINVAL or AB_ENOMEM. */
int discord_mention_strip(const char *text, const char *bot_id, char **out);

/* ---- outbound.c ---- */

int discord_send(struct ab_chat *c, const struct ab_send *msg, ab_sent_cb cb, void *arg);
int discord_edit(struct ab_chat *c, const struct ab_msg_ref *ref, const char *text, ab_done_cb cb,
                 void *arg);
int discord_react(struct ab_chat *c, const struct ab_msg_ref *ref, const char *emoji, bool add,
                  ab_done_cb cb, void *arg);
int discord_open_thread(struct ab_chat *c, const struct ab_msg_ref *origin, const char *name,
                        ab_thread_cb cb, void *arg);
/* The rate-limit route of an operation (ab_chat_ops.rate_route). */
int discord_rate_route(struct ab_chat *c, const struct ab_op_target *op, char *out, size_t cap);
/* The static rate rules (ab_chat_ops.rate_rules) and their count. */
extern const struct ab_rate_rule discord_rate_rules[];
#define DISCORD_RATE_RULE_COUNT 2

/* ---- json strings ---- */

/* The string member @key of @obj (lent), or NULL. */
static inline const char *
discord_json_str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ---- upload.c ---- */

#define DISCORD_MAX_FILES 10                       /* attachments per message */
#define DISCORD_MAX_FILE_BYTES (10u * 1024 * 1024) /* per file, without Boost */

/* ab_chat_ops.upload: one message with the files as multipart files[n]. */
int discord_upload(struct ab_chat *c, const struct ab_upload *up, ab_done_cb cb, void *arg);

/* ---- attachments.c ---- */

/* The attachments[] of message @msg (lent) as entries pointing into it, in *@out
 * (malloc'd array, caller frees; NULL when none); returns how many. */
size_t discord_attachments(const cJSON *msg, struct ab_attachment **out);

#endif
