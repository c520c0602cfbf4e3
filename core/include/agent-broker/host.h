/* agent-broker plugin ABI: the services the host lends to a plugin. */
#ifndef AGENT_BROKER_HOST_H
#define AGENT_BROKER_HOST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <agent-broker/markdown.h>
#include <agent-broker/net.h>

/* One plugin instance's handle on the host. Opaque; owned by the host; valid from
 * the plugin's open() until its close() returns. */
struct ab_host;

/* A one-shot or repeating timer on the host loop. Opaque; owned by the host. */
struct ab_timer;

enum ab_log_level {
    AB_LOG_ERROR = 0,
    AB_LOG_WARN = 1,
    AB_LOG_INFO = 2,
    AB_LOG_DEBUG = 3,
    AB_LOG_TRACE = 4,
};

/* Called on the loop thread when a timer fires. @arg is the pointer given to timer_start. */
typedef void (*ab_timer_cb)(void *arg);

/* A watch on a file descriptor. Opaque; owned by the host. */
struct ab_fd_watch;

/* Called on the loop thread when the watched fd can be read without blocking (or has
 * reached EOF or an error: the plugin's read() tells which). */
typedef void (*ab_fd_cb)(void *arg);

/* A reference to one message on a platform. Pointers lent for the call. */
struct ab_msg_ref {
    const char *channel_id; /* channel, DM or thread the message lives in */
    const char *message_id; /* Discord message id, Slack ts */
};

/* One file attached to an inbound message (ABI 1.3), as the platform describes it. The
 * core decides (size cap, type allow-list, total per message) before anything is
 * downloaded, then fetches it with the plugin's download op (ab_chat_ops) or, when the
 * plugin has none and needs_auth is false, with http_download itself. Every pointer is
 * lent with the ab_inbound that carries it. Declared sizes and types are hints: the core
 * enforces its caps while reading and sniffs the real type. */
struct ab_attachment {
    uint32_t size;            /* sizeof(struct ab_attachment) at the plugin's build */
    const char *id;           /* the platform's file id, or NULL */
    const char *name;         /* file name as posted (untrusted: the core sanitises it) */
    const char *content_type; /* declared media type, or NULL */
    uint64_t bytes;           /* declared size, 0 = unknown */
    const char *url;          /* where to GET it; may be a credential (signed URL): the
                                 core logs only its host and path */
    bool needs_auth;          /* the URL needs the plugin's credentials (Slack
                                 url_private): only the plugin's download op may fetch it */
    bool is_voice;            /* a voice message (Discord flag 1<<13, Slack audio clip) */
};

/* One inbound chat message, normalised by a chat plugin. Every pointer is lent for
 * the duration of deliver(); the core copies what it keeps. Ids are strings. */
struct ab_inbound {
    uint32_t size;            /* sizeof(struct ab_inbound) at the plugin's build */
    const char *conversation; /* stable key of the conversation: thread id, Slack thread_ts
                                 (with channel), or the message id a new thread will take */
    const char *channel_id;   /* where the message was posted (a thread id inside threads) */
    const char *parent_id;    /* the thread's parent channel, or NULL when not in a thread */
    const char *message_id;   /* the message's own id (Discord id, Slack ts) */
    const char *event_id;     /* dedupe key; NULL = message_id */
    const char *sender_id;
    const char *sender_name;     /* user name */
    const char *display_name;    /* nick / display name, or NULL */
    const char *text;            /* raw text, mentions included */
    const char *clean_text;      /* text with the bot mention removed, or NULL = text */
    const char *const *role_ids; /* role ids mentioned in the message; the core applies
                                    allowed_role_ids to them */
    size_t role_count;
    bool is_thread;        /* the message is inside a thread */
    bool is_dm;            /* a direct message */
    bool is_bot;           /* the sender is a bot */
    bool is_self;          /* the sender is this bot */
    bool mentions_bot;     /* the bot itself was mentioned (not a role) */
    bool is_human_turn;    /* an ordinary message (Discord types 0/19) from a user or a
                              bot; false for system messages */
    bool thread_is_ours;   /* the platform says the bot opened or is in this thread */
    const char *thread_id; /* the thread the message is in (Discord: the thread channel
                              id; Slack: thread_ts), or NULL at top level */
    /* ---- ABI 1.3 ---- */
    bool is_unresolved; /* the platform would not say what channel_id is (Discord channel
                           lookup failed after retries): the core does not answer it, but
                           tells an allowed user who mentioned the bot, in channel_id */
    /* ---- ABI 1.3: attachments ---- */
    const struct ab_attachment *attachments; /* the files on the message (lent), or NULL */
    size_t attachment_count;
};

/* A reaction added or removed by a user. Pointers lent for the call. */
struct ab_reaction_event {
    uint32_t size;
    struct ab_msg_ref msg;
    const char *conversation; /* the conversation the message belongs to, or NULL */
    const char *user_id;
    const char *emoji; /* Unicode emoji as configured in [reactions.emojis] */
    bool added;        /* false: removed */
    bool is_self;      /* the bot's own reaction (echoed by the platform): ignored */
};

/* ---- ABI 1.3: native commands ---- */

/* One of the core's chat commands (/reset, /status, ...), for a plugin that registers
 * them with its platform (Discord application commands, Slack slash commands). Static
 * data owned by the host. */
struct ab_command_info {
    uint32_t size;     /* sizeof(struct ab_command_info) at the host's build */
    const char *name;  /* without the slash: [a-z0-9_-], 1..31 bytes */
    const char *usage; /* the name of its one optional argument ("NAME"), or NULL */
    const char *help;  /* one line of at most 100 characters */
};

/* A user invoked a native command. Pointers lent for deliver_command(). */
struct ab_command_event {
    uint32_t size;
    /* The place and the sender, as a message typed there would be: conversation,
     * channel, thread, sender; the core applies the same policy (allowed users,
     * channels) and acts on that place's conversation. text is ignored. */
    const struct ab_inbound *where;
    const char *name;        /* the command, without the slash */
    const char *args;        /* its argument text, or NULL / "" */
    const char *reply_token; /* the plugin's handle for ab_chat_ops.command_reply */
};

/* Where a 429 applies (Discord's X-RateLimit-Scope). */
enum ab_rate_scope {
    AB_RATE_SCOPE_BUCKET = 0, /* this bucket, for this bot (Discord "user") */
    AB_RATE_SCOPE_GLOBAL = 1, /* every request of the plugin (same as .global) */
    AB_RATE_SCOPE_SHARED = 2, /* this bucket, shared with others on the resource: wait
                                 the same, it is just not the bot's fault */
};

/* What a plugin learned from a platform response, fed to the core's scheduler with
 * rate_report. Pointers are lent for the call. The core is the only scheduler: a
 * plugin reports what the platform said and never waits, queues or retries itself.
 *
 * ABI 1.3: the facts of an operation's response travel with its completion. Before
 * calling an operation's callback (send, edit, react, open_thread), the plugin calls
 * rate_report once with .op = the @arg the core passed to that operation; the core
 * keeps the facts and applies them with the status the callback brings (on a 429:
 * retry_after_ms set, then the callback with AB_ERATELIMIT; the core retries). A report
 * with .op NULL, or naming no operation in flight, or from a 1.2 plugin, is about no
 * operation in particular (the plugin's own calls): it applies to .bucket, and a global
 * pause to every operation of the plugin. */
struct ab_rate_info {
    uint32_t size;           /* sizeof(struct ab_rate_info) at the plugin's build */
    const char *bucket;      /* the platform's bucket id the request fell in (Discord:
                                X-RateLimit-Bucket plus the major parameter), shared by
                                every route the platform puts in it; NULL = unknown (the
                                operation's route is its own bucket) */
    int64_t remaining;       /* requests left in the window, -1 unknown */
    uint64_t reset_after_ms; /* until the window resets, 0 unknown */
    uint64_t retry_after_ms; /* from a 429, 0 if none */
    bool global;             /* the limit applies to every bucket */
    /* ---- ABI 1.3: rate facts (read through AB_HAS) ---- */
    void *op;       /* lent: the @arg of the operation whose response this is, or NULL */
    uint32_t scope; /* enum ab_rate_scope of a 429 */
    int64_t limit;  /* requests per window (X-RateLimit-Limit), -1 unknown */
};

/* A call deferred to a later loop iteration (ABI 1.3). Opaque; owned by the host. */
struct ab_defer;

/* Called on the loop thread, once, on a later loop iteration than the defer() call. */
typedef void (*ab_defer_cb)(void *arg);

/* utf8_truncate flags (ABI 1.3). */
#define AB_UTF8_WHOLE_GRAPHEMES                                                                    \
    0x1u /* never cut inside a user-perceived character: an                                        \
            emoji ZWJ sequence, a flag, a base and its                                             \
            combining marks, modifiers or variation selectors */

/* ---- ABI 1.3: scheduled requests ---- */

/* One of a plugin's own platform calls queued in the core's scheduler (ABI 1.3). Opaque;
 * owned by the host; valid from http_scheduled() until its ab_http_cb starts or
 * http_scheduled_cancel() is called, whichever is first. */
struct ab_http_sched;

/* Judge one attempt's answer (@resp->error == 0: an HTTP status arrived; lent for the
 * call): report what the platform said with rate_report, .op = @op, and return 0 (done),
 * AB_ERATELIMIT (429: the core waits retry_after and sends it again), AB_EIO or
 * AB_ETIMEDOUT (5xx: retried with backoff), or another AB_E* (done, failed). Runs on the
 * loop thread for every attempt, before the core decides; it must not cancel @op. */
typedef int (*ab_http_judge_cb)(void *arg, struct ab_http_sched *op,
                                const struct ab_http_response *resp);

/* The host's services. A plugin reads no member past `size`; members are only
 * ever added at the end (a minor ABI bump). All calls are from the loop thread. */
struct ab_host_services {
    uint32_t size;

    /* Log a line at a level; the host prefixes the plugin name and redacts every
     * registered secret. @fmt is printf-style. */
    void (*log)(struct ab_host *h, enum ab_log_level level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

    /* Read a key of the plugin's own config table ([NAME] for chat-NAME).
     * Dotted keys reach sub-tables. A missing key yields the default the plugin's
     * schema declares for it (ab_config_key.def), else @def, and returns 0; a key
     * of the wrong type returns AB_ECONFIG and logs file:line. @out is owned by
     * the host and valid until close(). */
    int (*config_string)(struct ab_host *h, const char *key, const char *def, const char **out);
    int (*config_int)(struct ab_host *h, const char *key, int64_t def, int64_t *out);
    int (*config_bool)(struct ab_host *h, const char *key, bool def, bool *out);
    /* An array of strings; *out (owned by the host) holds *count items, NULL-terminated. */
    int (*config_strings)(struct ab_host *h, const char *key, const char *const **out,
                          size_t *count);

    /* Register a secret: it is replaced by *** in every log line and every chat
     * message from now on. @secret is copied. Keys the schema marks AB_KEY_SECRET are
     * registered by the core already. */
    void (*add_secret)(struct ab_host *h, const char *secret);

    /* Monotonic milliseconds of the host loop. */
    uint64_t (*now_ms)(struct ab_host *h);

    /* Start a timer firing after @timeout_ms, then every @repeat_ms (0 = once).
     * *out is owned by the host until timer_stop(); a one-shot timer stays valid
     * (stopped) after it fired until timer_stop() releases it. */
    int (*timer_start)(struct ab_host *h, uint64_t timeout_ms, uint64_t repeat_ms, ab_timer_cb cb,
                       void *arg, struct ab_timer **out);
    /* Stop and release a timer. NULL is allowed. */
    void (*timer_stop)(struct ab_timer *t);

    /* Hand an inbound message to the core. Never blocks. */
    int (*deliver)(struct ab_host *h, const struct ab_inbound *msg);
    /* Hand a user's reaction to the core (cancel, permission answers). */
    int (*deliver_reaction)(struct ab_host *h, const struct ab_reaction_event *ev);

    /* Report connection state: /readyz is ready only while every chat plugin says
     * connected. @detail (lent) says why, for logs and /metrics. */
    void (*set_connected)(struct ab_host *h, bool connected, const char *detail);

    /* Report rate facts from a platform response (see struct ab_rate_info: with .op,
     * before the operation's callback). @info is lent for the call. */
    void (*rate_report)(struct ab_host *h, const struct ab_rate_info *info);

    /* Durable key/value state private to the plugin (resume data, caches),
     * written atomically under [state] dir. state_get: *out is malloc'd, caller frees;
     * AB_ENOENT when absent. */
    int (*state_get)(struct ab_host *h, const char *key, char **out, size_t *len);
    int (*state_put)(struct ab_host *h, const char *key, const void *data, size_t len);

    /* Watch @fd (owned by the plugin, left open) for readability: @cb runs on the loop
     * whenever a read() will not block; a regular file counts as always readable. *out
     * is owned by the host until fd_unwatch(). The plugin reads non-blocking itself. */
    int (*fd_watch)(struct ab_host *h, int fd, ab_fd_cb cb, void *arg, struct ab_fd_watch **out);
    /* Stop watching and release the watch. NULL is allowed. */
    void (*fd_unwatch)(struct ab_fd_watch *w);

    /* ---- ABI 1.1: network (see agent-broker/net.h) and reconnect backoff ---- */

    /* Start an HTTP request (HTTP/1.1 on the host loop; connections kept alive across
     * requests). @req is lent for the call: the host copies URL, headers and body. @cb
     * runs exactly once, later, on the loop thread (never inside this call) unless
     * http_cancel() comes first; *out (owned by the host) is valid until then. The
     * plugin's config keys `ca_file` (PEM bundle to trust) and `insecure` apply. Header
     * values are never logged. Returns 0, AB_EINVAL (malformed request), AB_ECONFIG
     * (http:// to a non-loopback host without insecure) or AB_ECLOSED. */
    int (*http_request)(struct ab_host *h, const struct ab_http_request *req, ab_http_cb cb,
                        void *arg, struct ab_http **out);
    /* Abandon a request: its callback will not run. NULL is allowed. */
    void (*http_cancel)(struct ab_http *req);

    /* Open a WebSocket (libwebsockets on the host loop). @opt and @cb are lent for the
     * call. The host resolves the name off the loop on every call. cb->on_close (mandatory)
     * runs exactly once per connection, later; *out (owned by the host) is valid until it
     * returns. Reconnecting is the plugin's choice: use backoff_next() for the delay.
     * Returns 0, AB_EINVAL, AB_ECONFIG (ws:// to a non-loopback host) or AB_ECLOSED. */
    int (*ws_connect)(struct ab_host *h, const struct ab_ws_options *opt,
                      const struct ab_ws_callbacks *cb, void *arg, struct ab_ws **out);
    /* Queue a text message; @data is lent for the call (copied). Messages queued before
     * on_open go out after the handshake. AB_ECLOSED once closing, AB_EFULL when over
     * 64 MiB are queued. */
    int (*ws_send)(struct ab_ws *ws, const char *data, size_t len);
    /* Close with @code (1000-1003, 1007-1014, 3000-4999) and @reason (lent; cut to 123
     * bytes) after the queued messages (before on_open: the attempt is abandoned);
     * on_close follows, later, with this code. */
    int (*ws_close)(struct ab_ws *ws, int code, const char *reason);

    /* The next reconnect delay for @key (lent; e.g. "gateway"), per plugin: exponential
     * from 1 s, doubling up to 60 s, with full jitter (uniform in [0, ceiling]). */
    uint64_t (*backoff_next)(struct ab_host *h, const char *key);
    /* Back to the first delay for @key, after a connection proved good. */
    void (*backoff_reset)(struct ab_host *h, const char *key);

    /* ---- ABI 1.2 ---- */

    /* The plugin has stopped for good and will not reconnect (its token was rejected,
     * the platform disabled it): @status is the AB_E* cause, @why (lent) says what the
     * user must fix. Once no chat plugin is left running, `run` exits with status 1. */
    void (*fatal)(struct ab_host *h, int status, const char *why);

    /* ---- ABI 1.3: services ---- */

    /* Run @cb(@arg) once on a later loop iteration than this call's: never inside this
     * call, the callback that made it or that callback's iteration; a plugin's deferred
     * calls run in the order they were made. *out (owned by the host) is valid until @cb
     * starts or defer_cancel() is called, whichever is first; calls still pending when
     * the plugin is closed are cancelled. Returns 0, AB_EINVAL or AB_ENOMEM. */
    int (*defer)(struct ab_host *h, ab_defer_cb cb, void *arg, struct ab_defer **out);
    /* Cancel a deferred call that has not started: @cb will not run. NULL is allowed;
     * a handle whose callback already started must not be passed. */
    void (*defer_cancel)(struct ab_defer *d);

    /* Code points in @s[0..len) (lent); each byte that is not valid UTF-8 counts as one. */
    size_t (*utf8_count)(const char *s, size_t len);
    /* Bytes of the longest prefix of @s[0..len) (lent) with at most @max_chars code points
     * and at most @max_bytes bytes (SIZE_MAX: no limit), never ending inside a UTF-8
     * sequence; with AB_UTF8_WHOLE_GRAPHEMES in @flags never inside an emoji ZWJ
     * sequence, flag or combining sequence either (a single character longer than the
     * limit is then cut at a code point boundary rather than dropped whole). */
    size_t (*utf8_truncate)(const char *s, size_t len, size_t max_chars, size_t max_bytes,
                            unsigned flags);

    /* Parse @md[0..len) (lent; CommonMark with GitHub's tables, strikethrough, autolinks
     * and task lists) and walk the tree, calling @v (lent) on entering and leaving every
     * node; see agent-broker/markdown.h. Nodes are lent for each callback. Returns 0,
     * the first negative value a callback returned, AB_EINVAL or AB_ENOMEM. */
    int (*md_walk)(struct ab_host *h, const char *md, size_t len, const struct ab_md_visitor *v,
                   void *arg);
    /* Render @md[0..len) (lent) as plain text without markup: emphasis dropped, links as
     * "text (url)", list items as "• " or "N. ", quotes as "> ", code kept verbatim,
     * table cells joined by " | ". *out is malloc'd, NUL-terminated; the caller frees. */
    int (*md_plain)(struct ab_host *h, const char *md, size_t len, char **out);

    /* ---- ABI 1.3: durable acceptance ---- */

    /* Like deliver, but the plugin holds its acknowledgement of the message (Slack: the
     * envelope's ack; Discord: persisting a sequence number that covers it) until @cb
     * says the core has it durably, so that a crash or kill -9 cannot lose a message the
     * platform believes delivered. @msg is lent for the call, as for deliver. Returns 0,
     * then @cb(@arg, status) runs exactly once, later, on the loop thread (never inside
     * this call); or < 0 like deliver, then @cb never runs. Status:
     *   0            the message is recorded in the core's journal under [state] dir
     *                (or needs no record: ignored, refused with a visible line, no state
     *                dir configured): ack it now;
     *   AB_EIO       the record could not be written (logged); the message is still
     *                being handled in memory: ack it (a redelivery would be a duplicate);
     *   AB_ECANCELED the plugin is being closed: do not ack (the host runs every owed
     *                completion with this status before it calls the plugin's close()).
     * @arg is the plugin's (owned by the plugin; free it in @cb). Plugins built for
     * 1.2 use deliver and simply do not get the guarantee. */
    int (*deliver_held)(struct ab_host *h, const struct ab_inbound *msg,
                        void (*cb)(void *arg, int status), void *arg);

    /* ---- ABI 1.3: inbound HTTP (see agent-broker/net.h) ---- */

    /* Serve requests whose path starts with @opt->prefix (lent; copied) on the daemon's
     * ingress listener: @cb(@arg, ...) runs once per whole request, later, on the loop
     * thread. *out (owned by the host) is valid until http_route_remove(). Returns 0,
     * AB_EINVAL (bad options), AB_EEXIST (the prefix overlaps another route's) or
     * AB_ECONFIG (no [ingress] listen configured: say so to the user). */
    int (*http_route_add)(struct ab_host *h, const struct ab_http_route_options *opt,
                          ab_http_route_cb cb, void *arg, struct ab_http_route **out);
    /* Stop serving a route: new requests get 404, requests not yet answered get 503 and
     * their exchanges are released (never pass them to http_respond() again). NULL is
     * allowed. Routes still registered when the plugin is closed are removed. */
    void (*http_route_remove)(struct ab_http_route *r);
    /* Answer @ex: @status 100-599, @headers "Name: value" lines (lent, NULL-terminated,
     * may be NULL; no CR/LF inside; Content-Length and Connection are the host's),
     * @body[0..len) (lent; copied). Releases @ex. Returns 0; AB_ECLOSED when the client is
     * gone or the host answered already (timeout): @ex is released all the same;
     * AB_EINVAL for a bad status or header (the host answers 500 and releases @ex). */
    int (*http_respond)(struct ab_http_exchange *ex, int status, const char *const *headers,
                        const char *body, size_t len);

    /* ---- ABI 1.3: scheduled requests ---- */

    /* Queue one of the plugin's own platform calls (not an operation: a gateway URL, a
     * channel or message lookup, auth.test) in the core's scheduler, the one that sends
     * the operations: @route (lent) names its rate-limit route as rate_route() names an
     * operation's (Discord "GET /channels/<id>", Slack "auth.test"), so it waits with
     * the operations of that route and platform bucket for an exhausted bucket, a
     * global pause and the plugin's rate_rules. When its turn comes the host performs
     * @req (lent, copied; as http_request) and calls @judge (lent, may be NULL) with
     * each answer: the facts it reports with .op = the handle apply to the route, and
     * its status decides: a 429 or a 5xx is sent again per the core's retry policy (a
     * transport error too). NULL @judge: the core reads the answer's generic fields
     * (status, Retry-After, X-RateLimit-*, bucket = X-RateLimit-Bucket). @cb(@arg, resp)
     * runs exactly once, later, on the loop thread (never inside this call) unless
     * http_scheduled_cancel() comes first: with the last answer (resp->error 0, any
     * status), or with resp->error set (the last transport error, AB_EFULL when the
     * route's queue is full, AB_ECANCELED when the host closes). *out is valid until @cb
     * starts. Returns 0, AB_EINVAL (malformed route or request), AB_ENOTSUP (this host
     * runs no scheduler: use http_request), AB_ENOMEM or AB_ECLOSED. */
    int (*http_scheduled)(struct ab_host *h, const char *route, const struct ab_http_request *req,
                          ab_http_judge_cb judge, ab_http_cb cb, void *arg,
                          struct ab_http_sched **out);
    /* Abandon a scheduled call, queued or in flight: @cb will not run. NULL is allowed. */
    void (*http_scheduled_cancel)(struct ab_http_sched *r);

    /* ---- ABI 1.3: native commands ---- */

    /* The core's commands, to register natively at start: *out (static, owned by the
     * host) holds *count entries, each (*out)->size bytes apart. Returns 0. */
    int (*commands_list)(struct ab_host *h, const struct ab_command_info **out, size_t *count);
    /* A user invoked a native command (@ev lent for the call). Returns 0: the core
     * answers exactly once, later (never inside this call), through the plugin's
     * command_reply with @ev->reply_token — a refusal (user not allowed, place not
     * allowed) is an answer too; or < 0 (AB_EINVAL, AB_ENOTSUP): no answer will come,
     * the plugin answers the platform itself. */
    int (*deliver_command)(struct ab_host *h, const struct ab_command_event *ev);
    /* ---- ABI 1.3: attachments ---- */

    /* Like http_request, but a 2xx response body is streamed into a new file at @path
     * (lent; created 0600, never overwritten: AB_EEXIST) instead of memory, and the
     * transfer fails with AB_EFULL once it passes @max_bytes (0 = no cap). The response's
     * body is "" and body_len the bytes written; a non-2xx body stays in memory (capped)
     * and the file is left empty. The caller owns the file afterwards (it removes it on
     * failure). Redirects are not followed. Returns like http_request. */
    int (*http_download)(struct ab_host *h, const struct ab_http_request *req, const char *path,
                         uint64_t max_bytes, ab_http_cb cb, void *arg, struct ab_http **out);
    /* Like http_request, but the body is multipart/form-data built from @parts (lent,
     * @nparts of them, each with its own size; the host sets the Content-Type with its
     * boundary, so @req carries no body and no Content-Type). File parts are streamed
     * from disk. Method POST unless @req says otherwise. Returns like http_request;
     * AB_ENOENT when a part's file cannot be opened. */
    int (*http_upload)(struct ab_host *h, const struct ab_http_request *req,
                       const struct ab_form_part *parts, size_t nparts, ab_http_cb cb, void *arg,
                       struct ab_http **out);
};

#endif
