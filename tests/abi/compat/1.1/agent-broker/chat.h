/* agent-broker plugin ABI: the operations a chat plugin implements. */
#ifndef AGENT_BROKER_CHAT_H
#define AGENT_BROKER_CHAT_H

#include <agent-broker/host.h>

/* One open instance of a chat plugin. Opaque to the host; owned by the plugin. */
struct ab_chat;

/* A message to post. Pointers lent for the call; the plugin copies what it keeps. */
struct ab_send {
    uint32_t size;
    const char *channel_id; /* the channel (a thread's parent channel) */
    const char *thread_id;  /* the thread to post in, as open_thread() returned it or as
                               ab_inbound.thread_id named it (Discord: the thread channel;
                               Slack: thread_ts); NULL = the channel itself */
    const char *text;       /* Markdown as the agent wrote it, within max_chars */
    const char *nonce;      /* idempotency key for retries, or NULL */
};

/* Completion of send(): @status 0 or ab_err; @ref (lent) names the new message. */
typedef void (*ab_sent_cb)(void *arg, int status, const struct ab_msg_ref *ref);
/* Completion of an operation without a result. @status 0 or ab_err. */
typedef void (*ab_done_cb)(void *arg, int status);
/* Completion of open_thread(): @thread_id (lent) is the thread to post in. */
typedef void (*ab_thread_cb)(void *arg, int status, const char *thread_id);

/* Optional capability bits in ab_plugin_desc.caps for chat plugins. */
#define AB_CHAT_EDIT (1u << 0)    /* edit() works: live streaming */
#define AB_CHAT_REACT (1u << 1)   /* react() works: status reactions */
#define AB_CHAT_THREADS (1u << 2) /* open_thread() works */

/* The chat plugin's operations. The host reads no member past `size`. Mandatory:
 * open, start, close, send. Every operation is asynchronous: it returns at once and
 * reports through its callback on the loop thread, never from inside the call. */
struct ab_chat_ops {
    uint32_t size;
    uint32_t max_chars; /* longest message text in Unicode characters (Discord 2000) */

    /* Create an instance. @host and @svc are owned by the host and outlive the
     * instance. Reads config through svc; does no network I/O yet. */
    int (*open)(struct ab_host *host, const struct ab_host_services *svc, struct ab_chat **out);
    /* Connect and begin delivering events. */
    int (*start)(struct ab_chat *chat);
    /* Disconnect and free the instance. Pending callbacks are called with
     * AB_ECANCELED before it returns, or never. */
    void (*close)(struct ab_chat *chat);
    /* Post a message. */
    int (*send)(struct ab_chat *chat, const struct ab_send *msg, ab_sent_cb cb, void *arg);

    /* Optional (NULL: the core posts once at the end instead of live edits). */
    int (*edit)(struct ab_chat *chat, const struct ab_msg_ref *ref, const char *text, ab_done_cb cb,
                void *arg);
    /* Optional (NULL: no status reactions). @emoji is Unicode. */
    int (*react)(struct ab_chat *chat, const struct ab_msg_ref *ref, const char *emoji, bool add,
                 ab_done_cb cb, void *arg);
    /* Optional (NULL: replies go to the channel). Start a thread from @origin and report
     * the thread id to pass as ab_send.thread_id. @name lent; plugin trims to its limit. */
    int (*open_thread)(struct ab_chat *chat, const struct ab_msg_ref *origin, const char *name,
                       ab_thread_cb cb, void *arg);
    /* new members only at the end */
};

#endif
