/* chat-slack: the plugin instance shared by its parts (slack_socket.c, slack_web.c, events.c,
 * mrkdwn.c, emoji_name.c, slack.c). Private to the plugin. */
#ifndef CHAT_SLACK_H
#define CHAT_SLACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include <agent-broker/plugin.h>

/* Slack Web API methods the plugin calls (each has its own rate budget). */
enum slack_web_method {
    SLACK_WEB_AUTH_TEST,
    SLACK_WEB_CONNECTIONS_OPEN,
    SLACK_WEB_POST_MESSAGE,
    SLACK_WEB_UPDATE,
    SLACK_WEB_REACTIONS_ADD,
    SLACK_WEB_REACTIONS_REMOVE,
    SLACK_WEB_GET_UPLOAD_URL,  /* files.getUploadURLExternal */
    SLACK_WEB_COMPLETE_UPLOAD, /* files.completeUploadExternal */
    SLACK_WEB_METHOD_COUNT,
};

/* Completion of a Web API call: @status 0 (ok:true) or AB_E*; @body (lent for the
 * call, NULL when no JSON arrived) is the whole answer; @error (lent) the Slack error
 * code ("" when none). */
typedef void (*slack_web_cb)(void *arg, int status, const cJSON *body, const char *error);

/* One Web API call in flight; owned by the instance's list until its callback ran. */
struct slack_web_call;

/* One Socket Mode WebSocket; owned by the instance's list until its on_close. */
struct slack_socket_conn;

/* One file download in flight (files.c). */
struct slack_download;
/* One three-step upload in flight (upload.c). */
struct slack_upload;

/* One chat operation (send, edit, react, open_thread) waiting for its answer. */
struct slack_op;

#define EVENTS_SEEN_MAX 256 /* event ids remembered against redelivery */

struct ab_chat {
    struct ab_host *host;
    const struct ab_host_services *svc;
    const char *bot_token; /* lent from the host's config, valid until close */
    const char *app_token; /* lent from the host's config */
    const char *api_base;  /* lent from the host's config, no trailing slash needed */
    uint32_t idle_timeout_ms;
    char self_user[64]; /* the bot's user id (auth.test user_id) */
    char self_bot[64];  /* the bot's bot id (auth.test bot_id) */

    struct slack_web_call *calls; /* owned: in flight */

    struct slack_socket_conn *conns; /* owned: open or opening sockets, newest first */
    uint64_t conn_serial;            /* the last socket's number (held acks find theirs) */
    struct slack_web_call *opening;  /* lent from calls: apps.connections.open in flight */
    struct ab_timer *reconnect;      /* owned: the pending reconnect */
    bool is_connected;               /* what set_connected last said */
    bool is_stopped;                 /* a dead token: never reconnect */
    bool is_closing;                 /* close() is running */

    char *seen[EVENTS_SEEN_MAX]; /* owned: recent event ids, a ring */
    size_t seen_next;

    struct slack_op *ops;             /* owned: operations in flight */
    struct slack_web_call *auth_call; /* lent from calls: auth.test in flight */
    struct ab_timer *auth_retry;      /* owned: auth.test again after a failure */

    const char *slash_command;   /* lent from the config: "/agent-broker" */
    struct slack_slash *slashes; /* owned: slash commands awaiting the core's answer */
    size_t nslashes;
    uint64_t slash_serial;
    struct slack_download *downloads; /* owned: file downloads in flight */
    struct slack_upload *uploads;     /* owned: uploads in flight (upload.c) */
};

/* ---- slack.c ---- */

/* Stop for good (a dead token, Socket Mode refused): close every socket, report
 * @detail (lent) as the reason, never reconnect. */
void slack_fatal(struct ab_chat *s, const char *detail);

/* ---- slack_web.c ---- */

/* Call @method (api_base/@method) as a form POST with @form (name, value pairs,
 * NULL-terminated; lent) and the bot token, or the app token for
 * apps.connections.open, queued in the core's scheduler on the method's route (a 429 or
 * 5xx is retried there). @cb runs later, exactly once unless close() comes first.
 * Returns 0 or AB_E*. */
int slack_web_call(struct ab_chat *s, enum slack_web_method method, const char *const *form,
                   slack_web_cb cb, void *arg, struct slack_web_call **out);
/* slack_web_call for a chat operation, sent now (the core scheduled the operation): @op
 * (lent) is the @arg the core passed with it, and the answer's rate facts are reported
 * tied to it before @cb. */
int slack_web_call_for(struct ab_chat *s, enum slack_web_method method, const char *const *form,
                       void *op, slack_web_cb cb, void *arg, struct slack_web_call **out);
/* Abandon a call: its callback will not run. NULL is allowed. */
void slack_web_cancel(struct ab_chat *s, struct slack_web_call *call);
/* Abandon every call (close). */
void slack_web_cancel_all(struct ab_chat *s);
/* The AB_E* code for a Slack error code (@error lent). */
int slack_web_error_code(const char *error);

/* ---- slack_socket.c ---- */

/* Open the first Socket Mode connection (after auth.test). */
int slack_socket_start(struct ab_chat *s);
/* Close every socket and stop reconnecting. */
void slack_socket_stop(struct ab_chat *s);
/* Free what slack_socket_stop() left waiting for on_close (close(): the host drops the
 * sockets with the plugin). */
void slack_socket_forget(struct ab_chat *s);

/* ---- events.c ---- */

/* Act on one Events API payload (the envelope's payload, lent): messages and
 * mentions to deliver(), reactions to deliver_reaction(). Repeated event ids are
 * dropped. */
/* Completion of a held message: the core recorded it (ABI 1.3 deliver_held). */
typedef void (*events_recorded_fn)(void *arg, int status);

/* Act on one Events API payload (the envelope's payload, lent): messages and
 * mentions to deliver(), reactions to deliver_reaction(). Repeated event ids are
 * dropped. Returns true when a message went to the core with deliver_held: @recorded
 * (@arg) then runs later, once, and acks the envelope; false: ack now (@arg untouched). */
bool events_handle(struct ab_chat *s, const cJSON *payload, events_recorded_fn recorded, void *arg);
/* Free the remembered event ids. */
void events_free(struct ab_chat *s);
/* ab_chat_ops.conversation_of: "CHANNEL:TS" of thread @thread_id, or of the thread under
 * post @message_id (strings lent), into @out (@cap bytes). 0 or AB_EINVAL. */
int slack_conversation_of(struct ab_chat *chat, const char *channel_id, const char *thread_id,
                          const char *message_id, char *out, size_t cap);

/* ---- files.c ---- */

/* The files[] of message event @ev (lent) as entries pointing into it (needs_auth: the
 * url_private_download URLs need the bot token), in *@out (malloc'd, caller frees; NULL
 * when none); returns how many. */
size_t slack_files(const cJSON *ev, struct ab_attachment **out);
/* ab_chat_ops.download: GET @att->url with the bot token into @path. */
int slack_download(struct ab_chat *s, const struct ab_attachment *att, const char *path,
                   uint64_t max_bytes, ab_done_cb cb, void *arg);
/* Abandon every download (close): their callbacks never run. */
void slack_downloads_cancel(struct ab_chat *s);

/* ---- upload.c ---- */

#define SLACK_MAX_UPLOAD_FILES 10
#define SLACK_MAX_UPLOAD_BYTES (1024ull * 1024 * 1024) /* workspace policies may say less */

/* ab_chat_ops.upload: files.getUploadURLExternal, POST the bytes to upload_url (no
 * token), per file; then files.completeUploadExternal into the thread. */
int slack_upload(struct ab_chat *s, const struct ab_upload *up, ab_done_cb cb, void *arg);
/* Abandon every upload (close): their callbacks never run. */
void slack_uploads_cancel(struct ab_chat *s);

/* ---- mention.c ---- */

/* Slack's mention markup (<@UID>, <@UID|name>): *out (malloc'd, caller frees) is @text
 * (lent, raw Slack text) without the mentions of @uid (lent; NULL or "" removes none)
 * and the spaces after each, trimmed. Returns how many were removed (>= 0: the user
 * was mentioned when > 0), AB_EINVAL or AB_ENOMEM. */
int slack_mention_strip(const char *text, const char *uid, char **out);

/* ---- slash.c: native commands ---- */

struct slack_slash;
/* A slash_commands envelope's payload (lent), acknowledged already: to the core. */
void slack_slash_on_envelope(struct ab_chat *s, const cJSON *payload);
/* ab_chat_ops.command_reply: the core's answer to the invocation's response_url. */
int slack_command_reply(struct ab_chat *s, const char *reply_token, const char *text, ab_done_cb cb,
                        void *arg);
/* Forget every invocation (closing). */
void slack_slash_close(struct ab_chat *s);
/* The blocks of a message showing @mrkdwn (lent) with @choices (lent, NULL-terminated
 * emoji) as buttons: JSON text (malloc'd, caller frees), or NULL. */
char *slack_buttons_blocks(const char *mrkdwn, const char *const *choices);
/* An interactive envelope's payload (lent), acknowledged already: a click on one of our
 * buttons goes to the core as the clicker's reaction. */
void slack_interactive_on_envelope(struct ab_chat *s, const cJSON *payload);

/* ---- mrkdwn.c ---- */

/* Convert Markdown @md (lent) into Slack mrkdwn with the host's md_walk (@svc and @h
 * lent); *out is malloc'd, caller frees. Returns 0, AB_ENOMEM or AB_ENOTSUP (a host
 * without md_walk). */
int mrkdwn_from_markdown(const struct ab_host_services *svc, struct ab_host *h, const char *md,
                         char **out);

/* ---- emoji_name.c ---- */

/* The Slack reaction name for Unicode @emoji (lent; a trailing U+FE0F is ignored),
 * or NULL when it has none. Static storage. */
const char *emoji_name_of(const char *emoji);
/* The Unicode emoji for Slack reaction @name (lent; a "::skin-tone-N" suffix is
 * ignored), or NULL. Static storage. */
const char *emoji_name_unicode(const char *name);

#endif
