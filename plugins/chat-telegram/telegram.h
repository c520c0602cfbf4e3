/* chat-telegram: the plugin instance shared by its parts (tg_api.c, poll.c, webhook.c,
 * updates.c, entities.c, status.c, telegram.c). Private to the plugin. */
#ifndef CHAT_TELEGRAM_H
#define CHAT_TELEGRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include <agent-broker/plugin.h>

#define TG_MAX_CHARS 4096   /* sendMessage/editMessageText text after entity parsing */
#define TG_THREADS_MAX 512  /* bot/user message → reply-chain root, remembered */
#define TG_TYPING_MAX 32    /* chats shown "typing" at once */
#define TG_REACTED_MAX 256  /* the bot's current reaction per message, remembered */
#define TG_TOPIC_PREFIX "t" /* thread ids of forum topics: "t<message_thread_id>" */
#define TG_SEEN_MAX 256     /* webhook: the update ids handled lately, remembered */
#define TG_WEBHOOK_PATH "/telegram/webhook" /* webhook_path's default */

/* Completion of a Bot API call: @status 0 (ok:true) or AB_E*; @result (lent, NULL
 * when none) is the answer's "result"; @description (lent, "" when none) the error's
 * text. */
typedef void (*tg_api_cb)(void *arg, int status, const cJSON *result, const char *description);

/* One Bot API call in flight; owned by the instance's list until its callback ran. */
struct tg_call;

/* One chat operation (send, edit, react, open_thread) waiting for its answer. */
struct tg_op;

/* A remembered message of a plain group's reply chain: which thread root it is under. */
struct tg_thread_link {
    int64_t chat;
    int64_t message;
    int64_t root;
};

/* A chat shown "typing" while a turn runs there. */
struct tg_typing {
    int64_t chat;
    int64_t message;   /* the user's message whose status says "working" */
    int64_t topic;     /* forum topic, 0 = none */
    uint64_t until_ms; /* stop after this even without a final status */
};

/* The bot's reaction on one message (bots may hold one per message). */
struct tg_reacted {
    int64_t chat;
    int64_t message;
    char emoji[32];
};

/* The polling state: one getUpdates at a time; the batch it brought is handed over one
 * update at a time and the next poll (which confirms it to Telegram) waits until the core
 * holds every one of them. */
struct tg_poll {
    struct tg_call *call;   /* lent from calls: getUpdates in flight */
    struct ab_timer *retry; /* owned: the next poll after a failure */
    int64_t next_offset;    /* the first update_id not yet handled */
    int64_t batch_last;     /* the last update_id of the batch being handled */
    uint32_t owed;          /* held deliveries of the batch not yet completed */
    uint32_t conflicts;     /* consecutive 409 answers */
    uint64_t serial;        /* which batch the held completions belong to */
    bool is_started;
};

/* One webhook POST whose update the core is recording (deliver_held). */
struct tg_hook_req;

/* Webhook mode: Telegram POSTs each Update to webhook_url, which the ingress controller
 * forwards to webhook_path on the daemon's [ingress] listener. */
struct tg_hook {
    const char *url;             /* lent from the host's config; NULL = long polling */
    const char *secret;          /* lent from the host's config: secret_token */
    const char *path;            /* lent from the host's config: the route's prefix */
    struct ab_http_route *route; /* owned by the host until http_route_remove() */
    struct tg_call *call;        /* lent from calls: setWebhook in flight */
    struct ab_timer *retry;      /* owned: setWebhook again after a failure */
    struct tg_call *info_call;   /* lent from calls: getWebhookInfo in flight */
    struct ab_timer *info_timer; /* owned: getWebhookInfo every check_s */
    int64_t check_s;             /* [telegram] webhook_check_s; 0 = never */
    int64_t error_seen;          /* Telegram's last_error_date already told (unix s) */
    struct tg_hook_req *pending; /* owned: POSTs waiting for the core's record */
    int64_t seen[TG_SEEN_MAX];   /* a ring of handled update ids, -1 = empty */
    size_t seen_next;
};

struct ab_chat {
    struct ab_host *host;
    const struct ab_host_services *svc;
    const char *token;    /* lent from the host's config, valid until close */
    const char *api_base; /* lent from the host's config */
    int64_t poll_timeout_s;
    int64_t self_id;        /* getMe: the bot's user id */
    char self_username[64]; /* getMe: the bot's username, without @ */
    bool can_read_all;      /* getMe: privacy mode off */

    struct tg_call *calls;     /* owned: in flight */
    struct tg_op *ops;         /* owned: operations in flight */
    struct tg_call *me_call;   /* lent from calls: getMe in flight */
    struct ab_timer *me_retry; /* owned: getMe again after a failure */
    struct tg_poll poll;
    struct tg_hook hook;
    bool is_signed_in; /* getMe answered: updates can be understood */
    bool is_connected;
    bool is_stopped; /* a dead token: never poll again */
    bool is_closing;
    uint64_t last_retry_after_ms; /* the last 429's wait (the poller's own calls) */

    struct tg_thread_link threads[TG_THREADS_MAX]; /* a ring */
    size_t threads_next;
    bool threads_dirty;

    struct tg_typing typing[TG_TYPING_MAX];
    struct ab_timer *typing_timer; /* owned: every 4 s while a chat is typing */

    struct tg_reacted reacted[TG_REACTED_MAX]; /* a ring */
    size_t reacted_next;
};

/* ---- telegram.c ---- */

/* Stop for good (a dead token, a refused webhook): report @detail (lent) and never poll
 * or set the webhook again. */
void tg_fatal(struct ab_chat *t, const char *detail);
/* Stop for good because Telegram refused the token (401); @description (lent, may be "")
 * is its answer's text. */
void tg_fatal_token(struct ab_chat *t, const char *description);

/* ---- tg_api.c ---- */

/* Call Bot API @method with the JSON object @params (lent; NULL = none) as a JSON POST
 * to api_base/bot<token>/@method, now. @op (lent, or NULL) is the core's operation the
 * answer's rate facts belong to. @timeout_ms 0 = 30 s. @cb runs later, exactly once,
 * unless tg_api_cancel() or close comes first. The URL holds the token: it is never
 * logged. Returns 0 or AB_E*. */
int tg_api_call(struct ab_chat *t, const char *method, const cJSON *params, void *op,
                uint32_t timeout_ms, tg_api_cb cb, void *arg, struct tg_call **out);
/* Abandon a call: its callback will not run. NULL is allowed. */
void tg_api_cancel(struct ab_chat *t, struct tg_call *call);
/* Abandon every call (close). */
void tg_api_cancel_all(struct ab_chat *t);
/* The AB_E* code for a Bot API error (@http_status, @description lent). */
int tg_api_error_code(long http_status, const char *description);

/* ---- poll.c ---- */

/* Read the saved offset, remove a webhook left set (deleteWebhook) and start long
 * polling. */
int tg_poll_start(struct ab_chat *t);
/* Stop polling (close, fatal). */
void tg_poll_stop(struct ab_chat *t);
/* Read the saved offset into poll.next_offset (0 when none) / save poll.next_offset. */
void tg_poll_offset_load(struct ab_chat *t);
void tg_poll_offset_save(struct ab_chat *t);
/* Add the update types the bot asks for (getUpdates and setWebhook) to @params as
 * "allowed_updates": messages and reactions. Returns 0 or AB_ENOMEM. */
int tg_allowed_updates_add(cJSON *params);

/* ---- webhook.c ---- */

/* Read and check the webhook keys of [telegram] (webhook_url empty: long polling).
 * Returns 0 or AB_ECONFIG (logged). */
int tg_webhook_config(struct ab_chat *t);
/* Serve webhook_path on the ingress listener (start; AB_ECONFIG without [ingress]
 * listen). Requests are answered 503 until signed in. Returns 0 or AB_E*. */
int tg_webhook_serve(struct ab_chat *t);
/* Signed in: read the handled update ids and call setWebhook (retried on failures). */
void tg_webhook_start(struct ab_chat *t);
/* Stop calling setWebhook (fatal, close). */
void tg_webhook_stop(struct ab_chat *t);
/* Stop serving the route and forget the POSTs still waiting (close). */
void tg_webhook_close(struct ab_chat *t);

/* ---- updates.c ---- */

/* Completion of a held update: the core has it (deliver_held). */
typedef void (*tg_recorded_fn)(void *arg, int status);

/* The update_id of @update (lent) in *out; false when it has none that is valid. */
bool tg_update_id(const cJSON *update, int64_t *out);
/* Act on one Update (lent): a message for the bot goes to the core. Returns true when it
 * was handed with deliver_held: @recorded(@arg) then runs later, once; false when the
 * update needs nothing more (ignored, malformed, delivered without holding). */
bool tg_update_handle(struct ab_chat *t, const cJSON *update, tg_recorded_fn recorded, void *arg);
/* Remember that @message in @chat belongs to the reply chain rooted at @root. */
void tg_thread_remember(struct ab_chat *t, int64_t chat, int64_t message, int64_t root);
/* ab_chat_ops.conversation_of: the key updates.c gives messages of thread @thread_id
 * (a topic "t<N>" or a reply chain's root) of chat @channel_id, or of the reply chain
 * under the core's post @message_id (remembered as its root); a private chat is one
 * conversation. Strings lent; 0 or AB_EINVAL. */
int tg_conversation_of(struct ab_chat *t, const char *channel_id, const char *thread_id,
                       const char *message_id, char *out, size_t cap);
/* The root of @message's reply chain in @chat, or 0 when unknown. */
int64_t tg_thread_root(const struct ab_chat *t, int64_t chat, int64_t message);
/* Save / load the remembered reply chains through the state service. */
void tg_threads_save(struct ab_chat *t);
void tg_threads_load(struct ab_chat *t);

/* Bytes of @s (lent) from UTF-16 offset @off: the position in @s[0..len) where the
 * UTF-16 unit @off starts (len when past the end). */
size_t tg_utf16_to_byte(const char *s, size_t len, size_t off);
/* Bytes of the valid UTF-8 sequence starting @s[0..len) (lent), or 0 when none does. */
size_t tg_utf8_valid_len(const char *s, size_t len);
/* UTF-16 code units of @s[0..len) (lent); invalid bytes count one each. */
size_t tg_utf16_len(const char *s, size_t len);

/* ---- entities.c ---- */

/* Agent Markdown @md (lent) as Telegram text plus an entities array (no parse_mode, so
 * nothing needs escaping): *text malloc'd, *entities a new cJSON array (caller frees
 * both). Offsets and lengths are UTF-16 code units; entities nest properly, are never
 * empty and never pass the text's end. Returns 0, AB_ENOMEM or AB_ENOTSUP (a host
 * without md_walk). */
int tg_entities_render(const struct ab_host_services *svc, struct ab_host *h, const char *md,
                       char **text, cJSON **entities);

/* ---- status.c ---- */

/* The reaction a bot may set for the core's status @emoji (lent; a trailing U+FE0F
 * ignored), or NULL when it has none. Static storage. */
const char *tg_status_emoji(const char *emoji);
/* True when @emoji (lent, the core's) says a turn is still running (queued, thinking,
 * tool, coding, web, stall). */
bool tg_status_is_working(const char *emoji);
/* The core's emoji for a reaction a user set (@emoji lent, Telegram's), or @emoji. */
const char *tg_status_from_user(const char *emoji);

#endif
