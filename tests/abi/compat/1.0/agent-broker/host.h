/* agent-broker plugin ABI: the services the host lends to a plugin. */
#ifndef AGENT_BROKER_HOST_H
#define AGENT_BROKER_HOST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* One inbound chat message, normalised by a chat plugin. Every pointer is lent for
 * the duration of deliver(); the core copies what it keeps. Ids are strings. */
struct ab_inbound {
    uint32_t size;               /* sizeof(struct ab_inbound) at the plugin's build */
    const char *conversation;    /* stable key of the conversation: thread id, Slack thread_ts
                                    (with channel), or the message id a new thread will take */
    const char *channel_id;      /* where the message was posted (a thread id inside threads) */
    const char *parent_id;       /* the thread's parent channel, or NULL when not in a thread */
    const char *message_id;      /* the message's own id (Discord id, Slack ts) */
    const char *event_id;        /* dedupe key; NULL = message_id */
    const char *sender_id;
    const char *sender_name;     /* user name */
    const char *display_name;    /* nick / display name, or NULL */
    const char *text;            /* raw text, mentions included */
    const char *clean_text;      /* text with the bot mention removed, or NULL = text */
    const char *const *role_ids; /* role ids mentioned in the message; the core applies
                                    allowed_role_ids to them */
    size_t role_count;
    bool is_thread;              /* the message is inside a thread */
    bool is_dm;                  /* a direct message */
    bool is_bot;                 /* the sender is a bot */
    bool is_self;                /* the sender is this bot */
    bool mentions_bot;           /* the bot itself was mentioned (not a role) */
    bool is_human_turn;          /* an ordinary message (Discord types 0/19) from a user or a
                                    bot; false for system messages */
    bool thread_is_ours;         /* the platform says the bot opened or is in this thread */
    const char *thread_id;       /* the thread the message is in (Discord: the thread channel
                                    id; Slack: thread_ts), or NULL at top level */
};

/* A reaction added or removed by a user. Pointers lent for the call. */
struct ab_reaction_event {
    uint32_t size;
    struct ab_msg_ref msg;
    const char *conversation; /* the conversation the message belongs to, or NULL */
    const char *user_id;
    const char *emoji;        /* Unicode emoji as configured in [reactions.emojis] */
    bool added;               /* false: removed */
    bool is_self;             /* the bot's own reaction (echoed by the platform): ignored */
};

/* What a plugin learned from a platform response, fed to the core's rate limiter. */
struct ab_rate_info {
    uint32_t size;
    const char *bucket;          /* opaque bucket key; NULL = the plugin's default bucket */
    int64_t remaining;           /* requests left in the window, -1 unknown */
    uint64_t reset_after_ms;     /* until the window resets, 0 unknown */
    uint64_t retry_after_ms;     /* from a 429, 0 if none */
    bool global;                 /* the limit applies to every bucket */
};

/* The host's services. A plugin reads no member past `size`; members are only
 * ever added at the end (a minor ABI bump). All calls are from the loop thread. */
struct ab_host_services {
    uint32_t size;

    /* Log a line at a level; the host prefixes the plugin name and redacts every
     * registered secret. @fmt is printf-style. */
    void (*log)(struct ab_host *h, enum ab_log_level level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

    /* Read a key of the plugin's own config table ([NAME] for chat-NAME).
     * Dotted keys reach sub-tables. A missing key yields @def and returns 0; a key
     * of the wrong type returns AB_ECONFIG and logs file:line. @out is owned by
     * the host and valid until close(). */
    int (*config_string)(struct ab_host *h, const char *key, const char *def,
                         const char **out);
    int (*config_int)(struct ab_host *h, const char *key, int64_t def, int64_t *out);
    int (*config_bool)(struct ab_host *h, const char *key, bool def, bool *out);
    /* An array of strings; *out (owned by the host) holds *count items, NULL-terminated. */
    int (*config_strings)(struct ab_host *h, const char *key, const char *const **out,
                          size_t *count);

    /* Register a secret: it is replaced by *** in every log line from now on.
     * @secret is copied. */
    void (*add_secret)(struct ab_host *h, const char *secret);

    /* Monotonic milliseconds of the host loop. */
    uint64_t (*now_ms)(struct ab_host *h);

    /* Start a timer firing after @timeout_ms, then every @repeat_ms (0 = once).
     * *out is owned by the host until timer_stop(); a one-shot timer stays valid
     * (stopped) after it fired until timer_stop() releases it. */
    int (*timer_start)(struct ab_host *h, uint64_t timeout_ms, uint64_t repeat_ms,
                       ab_timer_cb cb, void *arg, struct ab_timer **out);
    /* Stop and release a timer. NULL is allowed. */
    void (*timer_stop)(struct ab_timer *t);

    /* Hand an inbound message to the core. Never blocks. */
    int (*deliver)(struct ab_host *h, const struct ab_inbound *msg);
    /* Hand a user's reaction to the core (cancel, permission answers). */
    int (*deliver_reaction)(struct ab_host *h, const struct ab_reaction_event *ev);

    /* Report connection state: /readyz is ready only while every chat plugin says
     * connected. @detail (lent) says why, for logs and /metrics. */
    void (*set_connected)(struct ab_host *h, bool connected, const char *detail);

    /* Report rate-limit facts from a platform response. */
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
};

#endif
