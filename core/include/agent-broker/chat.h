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
    /* ---- ABI 1.3: approval buttons ---- */
    /* Choices a person may click (a permission question's ✅ ♾️ ❌), NULL-terminated, at
     * most 5; NULL = none. A plugin whose platform has buttons may render them (the
     * core offers the same choices as reactions anyway); a click is delivered with
     * deliver_reaction as if that user had reacted with the choice's emoji on this
     * message (added = true). Read through AB_HAS. */
    const char *const *choices;
};

/* ABI 1.3: one file to upload (ab_upload.files). Pointers lent for the call. */
struct ab_upload_file {
    uint32_t size;            /* sizeof(struct ab_upload_file) at the host's build */
    const char *path;         /* the file on disk (the plugin streams it with http_upload) */
    const char *name;         /* the name to show */
    const char *content_type; /* media type, or NULL */
    uint64_t bytes;           /* its size */
};

/* ABI 1.3: files to post in one message. Pointers lent for the call. */
struct ab_upload {
    uint32_t size;
    const char *channel_id; /* as ab_send */
    const char *thread_id;  /* as ab_send (Slack: the parent message's ts) */
    const char *text;       /* message text with the files, or NULL */
    const struct ab_upload_file *files;
    size_t count; /* at most ab_chat_ops.max_upload_files */
};

/* Completion of send(): @status 0 or ab_err; @ref (lent) names the new message. */
typedef void (*ab_sent_cb)(void *arg, int status, const struct ab_msg_ref *ref);
/* Completion of an operation without a result. @status 0 or ab_err. */
typedef void (*ab_done_cb)(void *arg, int status);
/* Completion of open_thread(): @thread_id (lent) is the thread to post in. */
typedef void (*ab_thread_cb)(void *arg, int status, const char *thread_id);

/* Facts a chat plugin states in ab_plugin_desc.caps. The core decides by these facts,
 * never by a plugin's name. EDIT, REACT and THREADS describe the platform and are
 * listed by `plugins --keys`; the core uses an operation whenever its pointer is set
 * (a NULL edit/react/open_thread is what degrades, whatever the bits say). */
#define AB_CHAT_EDIT (1u << 0)    /* edit() works: live streaming */
#define AB_CHAT_REACT (1u << 1)   /* react() works: status reactions */
#define AB_CHAT_THREADS (1u << 2) /* open_thread() works */
/* ABI 1.3: an interactive session (a terminal): when the plugin reports itself not
 * connected (its input ended), the run ends once the last reply is out. */
#define AB_CHAT_INTERACTIVE (1u << 3)

/* ---- ABI 1.3: rate facts ---- */

/* The operations the core schedules (ab_op_target.op). */
enum ab_chat_op {
    AB_OP_SEND = 1,
    AB_OP_EDIT = 2,
    AB_OP_REACT = 3,
    AB_OP_OPEN_THREAD = 4,
    AB_OP_UPLOAD = 5, /* ABI 1.3: upload() */
};

/* An operation the core is about to queue, for rate_route(). Pointers lent for the call. */
struct ab_op_target {
    uint32_t size;
    uint32_t op;            /* enum ab_chat_op */
    const char *channel_id; /* send: ab_send.channel_id; else the message's channel */
    const char *thread_id;  /* send: ab_send.thread_id (may be NULL); else NULL */
    const char *message_id; /* edit, react, open_thread: the message; send: NULL */
    const char *emoji;      /* react: the emoji; else NULL */
    bool add;               /* react: add (true) or remove */
};

/* A static rule the core applies to the routes whose key (as rate_route() names them)
 * starts with route_prefix: spacing and/or a budget. Rules are read once, at open;
 * the array is static data owned by the plugin. The host steps through the array by
 * the first element's size, so members may be added at the end. */
struct ab_rate_rule {
    uint32_t size;            /* sizeof(struct ab_rate_rule) at the plugin's build */
    uint32_t flags;           /* AB_RATE_RULE_* */
    const char *route_prefix; /* "" = every route */
    uint32_t min_spacing_ms;  /* from one request's answer to the next start on the same
                                 route (Discord reactions per channel: 250); 0 = none */
    uint32_t limit;           /* at most this many starts per route in any window_ms;
                                 0 = no budget */
    uint32_t window_ms;
};

/* The rule's budget counts the starts of all the plugin's routes together (Discord's
 * global 50 per second); route_prefix and min_spacing_ms are then ignored. */
#define AB_RATE_RULE_PLUGIN (1u << 0)

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

    /* ---- ABI 1.3: rate facts ---- */
    /* Optional (NULL: the core keys each operation by kind and target). Name the
     * rate-limit route of an operation before the core queues it: write a key (at
     * most @cap bytes with the NUL) into @out, e.g. Discord "PATCH /channels/<id>/messages"
     * (method + route + major parameter), Slack "chat.postMessage <channel>". Operations
     * of one route are queued and spaced together; the platform's answers tell the
     * core which platform bucket a route falls in. Returns 0, or < 0 to use the
     * default key. Runs synchronously; no I/O. */
    int (*rate_route)(struct ab_chat *chat, const struct ab_op_target *op, char *out, size_t cap);
    /* Static rules (owned by the plugin, static storage), rate_rule_count of them; NULL
     * = none. */
    const struct ab_rate_rule *rate_rules;
    uint32_t rate_rule_count;

    /* ---- ABI 1.3: native commands ---- */
    /* Optional (NULL: commands are typed as text only). Answer the native command
     * invocation @reply_token (lent; as the plugin passed it in ab_command_event) with
     * @text (Markdown, lent, within max_chars). Called exactly once per delivered
     * invocation. The plugin owns the platform's deadlines (Discord: a deferred
     * response within 3 s, then this edits it; Slack: ack, then response_url). @cb
     * runs later, exactly once, with 0 or AB_E* (AB_ETIMEDOUT: the platform's token
     * expired). */
    int (*command_reply)(struct ab_chat *chat, const char *reply_token, const char *text,
                         ab_done_cb cb, void *arg);
    /* ---- ABI 1.3: attachments ---- */
    /* Optional (NULL: the core fetches attachments without credentials and skips those
     * with needs_auth). Download @att (lent, from an ab_inbound this plugin delivered)
     * into a new file at @path (lent) with the host's http_download, adding the
     * platform's credentials, at most @max_bytes. @cb(@arg, status): 0 when the file is
     * there; AB_EAUTH when the platform answered with a login page or 401/403 (the file
     * is removed); AB_EFULL over @max_bytes; AB_EIO or another AB_E* otherwise. Runs
     * @cb later, never inside the call. Credentials never reach the file name or logs. */
    int (*download)(struct ab_chat *chat, const struct ab_attachment *att, const char *path,
                    uint64_t max_bytes, ab_done_cb cb, void *arg);
    /* Optional (NULL: files the agent leaves in the outbox are named in the thread, not
     * posted). Post @up->files (each within max_upload_bytes, at most max_upload_files)
     * in one message, streaming each from disk with the host's http_upload. Report rate
     * facts and complete like send (AB_EFULL: the platform refused the size). */
    int (*upload)(struct ab_chat *chat, const struct ab_upload *up, ab_done_cb cb, void *arg);
    uint64_t max_upload_bytes; /* one file at most (Discord 10 MiB); 0 = no upload */
    uint32_t max_upload_files; /* files per message at most (Discord 10) */

    /* ---- ABI 1.3: conversations the core opens ---- */
    /* Optional. The conversation id (ab_inbound.conversation) this plugin gives the
     * messages of thread @thread_id in @channel_id or — @thread_id NULL — of the thread
     * that opens under the core's own post @message_id in @channel_id (a scheduled job's
     * line), so that replies there reach the same conversation. Remember what the plugin
     * needs for that (a reply chain's root, say). Writes a NUL-terminated id of at most
     * @cap bytes into @out; returns 0, AB_EINVAL or AB_ENOTSUP (no threads there).
     * Synchronous, no I/O. NULL: the core uses @thread_id, else @message_id (a thread is
     * named after the post it starts from, as on Discord). A plugin without open_thread
     * (replies go to ab_inbound.channel_id) names a conversation by where its replies go:
     * the core posts the answer there. All strings lent. */
    int (*conversation_of)(struct ab_chat *chat, const char *channel_id, const char *thread_id,
                           const char *message_id, char *out, size_t cap);

    /* new members only at the end */
};

#endif
