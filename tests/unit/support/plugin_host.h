/* A fake host for driving a chat plugin's real code in-process (unit tests and fuzz
 * targets): a full ab_host_services table whose timers run on a virtual clock, whose
 * HTTP requests are answered by a responder the test supplies, whose WebSockets are
 * handles the test feeds frames into, whose scheduled calls (http_scheduled) go at once and
 * are retried on a 429 or 5xx after the reported wait, and which records every delivery, reaction,
 * frame sent and log line. Nothing runs inside the call that started it: timers and
 * HTTP answers run from plugin_host_run(). Needs only the ABI headers and libc. */
#ifndef AB_TEST_PLUGIN_HOST_H
#define AB_TEST_PLUGIN_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <agent-broker/plugin.h>

#define PLUGIN_HOST_KEEP 64 /* deliveries and reactions kept for inspection */

/* One delivered message, copied (strings owned by the host; NULL when absent). */
struct plugin_host_inbound {
    char *conversation, *channel_id, *parent_id, *message_id, *event_id, *sender_id, *sender_name,
        *display_name, *text, *clean_text, *thread_id;
    size_t role_count;
    bool is_thread, is_dm, is_bot, is_self, mentions_bot, is_human_turn, thread_is_ours;
    bool is_unresolved; /* ABI 1.3 */
};

/* One delivered reaction, copied. */
struct plugin_host_reaction {
    char *channel_id, *message_id, *conversation, *user_id, *emoji;
    bool added, is_self;
};

/* The answer to an HTTP request: fill @status (0 = transport error AB_EIO), @body
 * (lent until the callback returns; NULL = ""), @headers ("Name", "value" pairs,
 * NULL-terminated, lent; may be NULL). Return false to leave the request unanswered. */
typedef bool (*plugin_host_responder)(void *arg, const char *method, const char *url,
                                      const char *body, long *status, const char **resp_body,
                                      const char *const **headers);

struct plugin_host_timer;
struct plugin_host_http;

/* One WebSocket the plugin opened. */
struct ab_ws {
    struct ab_ws *next;
    struct plugin_host *h;
    struct ab_ws_callbacks cbs; /* copied */
    void *arg;
    char *url;
    bool is_open, is_closing, is_closed;
    int close_code;
};

struct plugin_host {
    struct ab_host_services svc; /* hand &svc to the plugin's open() */
    const char *const *config;   /* lent: "key", "value" pairs, NULL-terminated */
    uint64_t now;                /* virtual clock, ms */
    plugin_host_responder respond;
    void *respond_arg;
    char *state_value; /* state_put/get storage for one key at a time (owned) */
    char *state_key;

    struct plugin_host_timer *timers;
    struct plugin_host_http *https;
    struct ab_ws *wss;

    size_t delivered, reacted, logged, sent_frames, http_count, fatal_count;
    size_t commands;           /* deliver_command calls */
    char last_command[64];     /* the last one's name */
    char last_command_arg[64]; /* its args */
    char last_reply_token[256];
    bool connected;
    struct plugin_host_inbound in[PLUGIN_HOST_KEEP];
    struct plugin_host_reaction re[PLUGIN_HOST_KEEP];
    char *queued_body;            /* owned: plugin_host_queue_response()'s body, or NULL */
    long queued_status;           /* its status; 0 = nothing queued */
    char *last_frame;             /* owned: the last ws_send payload */
    char *last_url;               /* owned: the last HTTP request URL */
    char *logs[PLUGIN_HOST_KEEP]; /* owned: the last log lines, a ring */
    /* ABI 1.3 inbound HTTP: the one route the plugin registered, and the last answer */
    struct ab_http_route *route;        /* owned, or NULL */
    int answered_status;                /* the last http_respond status, 0 = none yet */
    struct ab_http_exchange *exchanges; /* owned: requests not answered yet */
    char *answered_body;                /* owned: its body */
    /* ABI 1.3 http_scheduled: calls queued, the last one's route (owned), the retries the
     * fake made, and the rate reports tied to a call while its answer was judged */
    size_t sched_count, sched_retries, sched_facts;
    char *last_route;
    uint64_t sched_retry_after_ms; /* the retry_after of the last such report */
    struct ab_http_sched *judging; /* lent: the call whose answer is being judged */
};

/* The handle to pass as the plugin's host. */
struct ab_host *plugin_host_handle(struct plugin_host *h);
/* Set up @h with @config (lent, may be NULL). */
void plugin_host_init(struct plugin_host *h, const char *const *config);
/* Free everything @h still holds (call after the plugin's close()). */
void plugin_host_free(struct plugin_host *h);
/* Run what is due: answer HTTP requests, fire timers, advancing the clock by up to
 * @advance_ms; at most @rounds rounds (bounded for fuzzing). */
void plugin_host_run(struct plugin_host *h, uint64_t advance_ms, int rounds);
/* The newest open (not closed) WebSocket, or NULL. */
struct ab_ws *plugin_host_ws(struct plugin_host *h);
/* Hand @data (@len bytes, copied and NUL-terminated) to the socket's on_message. */
void plugin_host_ws_message(struct ab_ws *ws, const char *data, size_t len);
/* Answer the next HTTP request with @status and @body (@len bytes, copied) instead of
 * asking the responder. */
void plugin_host_queue_response(struct plugin_host *h, long status, const char *body, size_t len);
/* Whether one of the last log lines contains @needle. */
bool plugin_host_log_has(const struct plugin_host *h, const char *needle);
/* Hand one request to the plugin's route (as the ingress listener would): the answer,
 * now or after plugin_host_run(), lands in answered_status/answered_body. Headers are
 * "Name", "value" pairs, NULL-terminated (lent). Returns 0, or AB_ENOENT without a route
 * matching @path. */
int plugin_host_http_in(struct plugin_host *h, const char *method, const char *path,
                        const char *const *headers, const char *body, size_t len);
/* Mark the socket open (on_open). */
void plugin_host_ws_open(struct ab_ws *ws);

#endif
