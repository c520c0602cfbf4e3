/* One running chat plugin instance as the engine sees it: its ops, its host, its
 * policy, and the outbound operations through the core's rate limiter. */
#ifndef AB_CONV_CHAT_INSTANCE_H
#define AB_CONV_CHAT_INSTANCE_H

#include <stdbool.h>

#include <agent-broker/plugin.h>
#include <uv.h>

#include "outbound/ratelimit.h"
#include "policy/policy.h"

struct chat_op;

struct chat_instance {
    char *name;                        /* owned: the plugin's name, "console" */
    const struct ab_plugin_desc *desc; /* lent from the plugin */
    const struct ab_chat_ops *ops;     /* lent from the plugin */
    struct ab_host *host;              /* owned */
    struct ab_chat *chat;              /* owned by the plugin until ops->close */
    struct policy *policy;             /* owned */
    struct ratelimit *rl;              /* lent: the engine's scheduler */
    struct chat_op *performing;        /* lent from the scheduler: operations the plugin
                                          is working on (their rate facts are awaited) */
    uv_loop_t *loop;                   /* lent: the engine's loop (deferred completions) */
    unsigned submitting;               /* inside a chat_* call: completions are deferred */
    bool can_edit, can_react, can_thread;
    bool is_started;
    uint64_t failed;     /* outbound operations that could not be delivered */
    uint64_t posts;      /* posts made: the counter part of their idempotency keys */
    uint64_t nonce_base; /* random start of that counter, drawn at the first post */
};

/* The completions still owed to one owner (a turn, a conversation). Embed it zeroed in
 * the owner, pass it with every operation that has a callback, and call
 * chat_owner_detach() before the owner is freed: an operation still queued or in the
 * plugin then completes without calling anything (a live one not yet rendered is
 * cancelled). Fields are private. */
struct chat_owner {
    struct chat_op *ops; /* lent: the owner's outstanding operations */
};

/* Completion of chat_send: @ref (lent) names the posted message on success. */
typedef void (*chat_sent_fn)(void *arg, int status, const struct ab_msg_ref *ref);
/* Completion of chat_edit / chat_react / chat_open_thread. */
typedef void (*chat_done_fn)(void *arg, int status);
typedef void (*chat_thread_fn)(void *arg, int status, const char *thread_id);
/* The text of a live post or edit, rendered at the moment it goes out: *out malloc'd
 * (owned by the caller). Returns 0 or < 0 (the operation then fails with it). */
typedef int (*chat_text_fn)(void *arg, char **out);

/* Every operation below copies its strings. Its callbacks (may be NULL; then @owner may
 * be NULL too) run on a later loop iteration than the call — the completion exactly
 * once — unless @owner (lent, required with a callback) was detached first. A negative
 * return means refused: nothing is called. */

/* Choices a post may offer as buttons at most (ab_send.choices). */
#define CHAT_CHOICES_MAX 5

/* As chat_send, offering @choices (lent, NULL-terminated; empty strings skipped) for
 * the platform to render as buttons (ab_send.choices). */
int chat_send_choices(struct chat_instance *ci, const char *channel, const char *thread_id,
                      const char *text, const char *const *choices, enum ratelimit_priority prio,
                      struct chat_owner *owner, chat_sent_fn done, void *arg);

/* Post @text in @channel (in thread @thread_id, may be NULL) with @prio. @done runs
 * after delivery or final failure. */
int chat_send(struct chat_instance *ci, const char *channel, const char *thread_id,
              const char *text, enum ratelimit_priority prio, struct chat_owner *owner,
              chat_sent_fn done, void *arg);

/* Replace the text of message @ref (copied). Live edits of one message coalesce: a
 * newer queued edit replaces an older one (@is_final edits never do). */
int chat_edit(struct chat_instance *ci, const struct ab_msg_ref *ref, const char *text,
              bool is_final, struct chat_owner *owner, chat_done_fn done, void *arg);

/* Add or remove our reaction @emoji on @ref; an add and a remove of the same emoji
 * still queued cancel out. */
int chat_react(struct chat_instance *ci, const struct ab_msg_ref *ref, const char *emoji, bool add,
               struct chat_owner *owner, chat_done_fn done, void *arg);

/* One step of a message's status reactions: add or remove our @emoji on @ref with @prio
 * (RATELIMIT_REACTION for an intermediate state, which the scheduler may drop for room;
 * RATELIMIT_REACTION_FINAL for the final one). A newer step of the same message replaces
 * one still queued (that one completes with AB_ECANCELED), so each message waits with at
 * most one step and a final step goes ahead of every intermediate one. */
int chat_react_step(struct chat_instance *ci, const struct ab_msg_ref *ref, const char *emoji,
                    bool add, enum ratelimit_priority prio, struct chat_owner *owner,
                    chat_done_fn done, void *arg);

/* Open a thread from message @origin named @name (plugins without threads answer
 * with the channel itself). */
int chat_open_thread(struct chat_instance *ci, const struct ab_msg_ref *origin, const char *name,
                     struct chat_owner *owner, chat_thread_fn done, void *arg);

/* Post (chat_send_live) or edit (chat_edit_live) a live message whose text @text(@arg)
 * renders at the moment the request goes, so a wait behind a rate limit never sends a
 * stale render. Live edits of one message coalesce. */
int chat_send_live(struct chat_instance *ci, const char *channel, const char *thread_id,
                   chat_text_fn text, struct chat_owner *owner, chat_sent_fn done, void *arg);
int chat_edit_live(struct chat_instance *ci, const struct ab_msg_ref *ref, chat_text_fn text,
                   struct chat_owner *owner, chat_done_fn done, void *arg);

/* True when @ci's plugin posts files: its ops reach the ABI 1.3 upload members (a 1.0-1.2
 * plugin's struct ends before them) and upload is set. */
bool chat_can_upload(const struct chat_instance *ci);

/* The conversation id @ci's plugin gives thread @thread_id of @channel_id, or (NULL
 * @thread_id) the thread under the core's own post @message_id there, into @out (@cap
 * bytes): the plugin's conversation_of, else the thread's or the post's id. All strings
 * lent. 0 or AB_EINVAL / the plugin's error. */
int chat_conversation_of(struct chat_instance *ci, const char *channel_id, const char *thread_id,
                         const char *message_id, char *out, size_t cap);

/* Post @files (lent, @n of them; copied) in one message in @channel / @thread_id with
 * @text (may be NULL) through the plugin's upload op (ABI 1.3); AB_ENOTSUP (through
 * @done) when it has none. @fds (may be NULL): @n open descriptors (-1 = none) the
 * files' paths name as "/proc/self/fd/N", owned by the operation from this call on,
 * also when it fails: closed once the upload is over (done, failed, cancelled, or the
 * scheduler shut down), so the path can only ever mean the file opened. */
int chat_upload(struct chat_instance *ci, const char *channel, const char *thread_id,
                const char *text, const struct ab_upload_file *files, size_t n, int *fds,
                struct chat_owner *owner, chat_done_fn done, void *arg);

/* Forget @o's outstanding operations: none of their callbacks will run (a live one not
 * yet rendered is cancelled). They still finish in the scheduler and the plugin. */
void chat_owner_detach(struct chat_owner *o);

/* Register the plugin's static rate rules (ab_chat_ops.rate_rules) with the scheduler
 * and queue the plugin's own calls (http_scheduled) there too; call once ci->rl is set. */
int chat_rate_setup(struct chat_instance *ci);

/* Rate facts a plugin reported (host rate_report): kept for the operation named by
 * info->op until its completion, or applied at once. @info lent. */
void chat_rate_report(struct chat_instance *ci, const struct ab_rate_info *info);

#endif
