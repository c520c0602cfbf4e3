/* Outbound chat operations through the rate limiter: every send, edit and reaction
 * is a request with a bucket, a priority and a coalescing key. */
#include "conv/chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/defer.h"
#include "log.h"

enum chat_op_kind {
    CHAT_OP_SEND,
    CHAT_OP_EDIT,
    CHAT_OP_REACT,
    CHAT_OP_THREAD, /* open_thread: not rate-limited */
};

/* One queued operation: owns copies of everything the plugin call needs. */
struct chat_op {
    enum chat_op_kind kind;
    struct chat_instance *ci;
    struct ratelimit_call *call; /* set while the plugin works on it */
    char *channel, *thread_id, *message_id, *text, *emoji;
    bool add;
    char nonce[26]; /* send: one idempotency key for every attempt of this post */
    chat_sent_fn sent;
    chat_done_fn done;
    chat_thread_fn thread;
    void *arg;
    struct chat_owner *owner;                /* lent; NULL once detached or without callback */
    struct chat_op *owner_prev, *owner_next; /* in the owner's list */
    int status;                              /* how it ended, kept for a deferred report */
    struct ab_msg_ref result; /* send: the posted message; thread: the thread (owned) */
};

/* Take @op out of its owner's list. */
static void
chat_op_unlink(struct chat_op *op)
{
    if (!op->owner)
        return;
    if (op->owner_prev)
        op->owner_prev->owner_next = op->owner_next;
    else
        op->owner->ops = op->owner_next;
    if (op->owner_next)
        op->owner_next->owner_prev = op->owner_prev;
    op->owner = NULL;
    op->owner_prev = op->owner_next = NULL;
}

/* Forget every callback owed to @o. */
void
chat_owner_detach(struct chat_owner *o)
{
    while (o && o->ops) {
        struct chat_op *op = o->ops;
        chat_op_unlink(op);
        op->sent = NULL;
        op->done = NULL;
        op->thread = NULL;
    }
}

/* Free an operation and its copies. */
static void
chat_op_free(struct chat_op *op)
{
    chat_op_unlink(op);
    free(op->channel);
    free(op->thread_id);
    free(op->message_id);
    free(op->text);
    free(op->emoji);
    free((char *)op->result.channel_id);
    free((char *)op->result.message_id);
    free(op);
}

/* The plugin answered a send: keep the new message's ref, tell the scheduler. */
static void
chat_op_sent(void *arg, int status, const struct ab_msg_ref *ref)
{
    struct chat_op *op = arg;

    if (status == 0 && ref) {
        op->result.channel_id = ref->channel_id ? strdup(ref->channel_id) : NULL;
        op->result.message_id = ref->message_id ? strdup(ref->message_id) : NULL;
    }
    ratelimit_call_done(op->call, status, NULL);
}

/* The plugin answered an edit or a reaction. */
static void
chat_op_done(void *arg, int status)
{
    struct chat_op *op = arg;

    ratelimit_call_done(op->call, status, NULL);
}

/* The scheduler says go: call the plugin. A synchronous refusal completes at once. */
static void
chat_op_perform(void *arg, struct ratelimit_call *call)
{
    struct chat_op *op = arg;
    const struct ab_chat_ops *ops = op->ci->ops;
    struct ab_msg_ref ref = {op->channel, op->message_id};
    int rc;

    op->call = call;
    switch (op->kind) {
    case CHAT_OP_SEND: {
        struct ab_send msg = {
            .size = sizeof(msg),
            .channel_id = op->channel,
            .thread_id = op->thread_id,
            .text = op->text,
            .nonce = op->nonce,
        };
        rc = ops->send(op->ci->chat, &msg, chat_op_sent, op);
        break;
    }
    case CHAT_OP_EDIT:
        rc = ops->edit ? ops->edit(op->ci->chat, &ref, op->text, chat_op_done, op) : AB_ENOTSUP;
        break;
    case CHAT_OP_REACT:
    default:
        rc = ops->react ? ops->react(op->ci->chat, &ref, op->emoji, op->add, chat_op_done, op)
                        : AB_ENOTSUP;
        break;
    }
    if (rc < 0)
        ratelimit_call_done(call, rc, NULL);
}

/* Tell the owner (unless it went away) and free the operation. */
static void
chat_op_report(void *arg)
{
    struct chat_op *op = arg;
    int status = op->status;

    chat_op_unlink(op); /* the callback may detach or free the owner */
    if (op->kind == CHAT_OP_SEND && op->sent)
        op->sent(op->arg, status, status == 0 ? &op->result : NULL);
    else if (op->kind == CHAT_OP_THREAD && op->thread)
        op->thread(op->arg, status, status == 0 ? op->result.channel_id : NULL);
    else if (op->done)
        op->done(op->arg, status);
    chat_op_free(op);
}

/* The operation is over: count a failure, then report — on a later loop iteration
 * when this happens inside a chat_* call (a synchronous refusal or coalescing). */
static void
chat_op_finished(void *arg, int status)
{
    static const char *const names[] = {"send", "edit", "reaction", "thread"};
    struct chat_op *op = arg;
    int rc;

    op->status = status;
    if (status < 0 && status != AB_ECANCELED) {
        op->ci->failed++;
        log_warn("engine", "%s: %s in %s failed: %s", op->ci->name, names[op->kind],
                 op->channel ? op->channel : "?", ab_strerror(status));
    }
    if (op->ci->submitting > 0 && op->ci->loop) {
        if ((rc = defer_call(op->ci->loop, chat_op_report, op, NULL)) == 0)
            return;
        log_error("engine", "%s: cannot defer a completion: %s", op->ci->name, ab_strerror(rc));
    }
    chat_op_report(op);
}

/* Allocate an operation with copies of the given strings, in @owner's list. */
static struct chat_op *
chat_op_new(struct chat_instance *ci, enum chat_op_kind kind, struct chat_owner *owner,
            const char *channel, const char *thread_id, const char *message_id, const char *text,
            const char *emoji)
{
    struct chat_op *op = calloc(1, sizeof(*op));

    if (!op)
        return NULL;
    op->ci = ci;
    op->kind = kind;
    if (owner) {
        op->owner = owner;
        op->owner_next = owner->ops;
        if (owner->ops)
            owner->ops->owner_prev = op;
        owner->ops = op;
    }
    if ((channel && !(op->channel = strdup(channel))) ||
        (thread_id && !(op->thread_id = strdup(thread_id))) ||
        (message_id && !(op->message_id = strdup(message_id))) ||
        (text && !(op->text = strdup(text))) || (emoji && !(op->emoji = strdup(emoji)))) {
        chat_op_free(op);
        return NULL;
    }
    return op;
}

/* Hand an operation to the scheduler. */
static int
chat_op_submit(struct chat_op *op, const char *bucket_kind, enum ratelimit_priority prio,
               enum ratelimit_coalesce coalesce, const char *key)
{
    char bucket[256];
    struct chat_instance *ci = op->ci;
    struct ratelimit_req req = {
        .bucket = bucket,
        .priority = prio,
        .coalesce = coalesce,
        .coalesce_key = key,
        .perform = chat_op_perform,
        .finished = chat_op_finished,
        .arg = op,
    };
    int rc;

    /* A post in a thread goes to the thread (Discord: its own channel): key by the
     * thread, so threads of one busy channel do not queue behind each other. */
    snprintf(bucket, sizeof(bucket), "%s:%s:%s", op->ci->name, bucket_kind,
             op->thread_id ? op->thread_id
             : op->channel ? op->channel
                           : "");
    ci->submitting++;
    if ((rc = ratelimit_submit(ci->rl, &req)) < 0)
        chat_op_free(op);
    ci->submitting--;
    return rc;
}

/* Queue a post. */
int
chat_send(struct chat_instance *ci, const char *channel, const char *thread_id, const char *text,
          enum ratelimit_priority prio, struct chat_owner *owner, chat_sent_fn done, void *arg)
{
    struct chat_op *op;

    if (done && !owner)
        return AB_EINVAL;
    if (!(op = chat_op_new(ci, CHAT_OP_SEND, owner, channel, thread_id, NULL, text, NULL)))
        return AB_ENOMEM;
    op->sent = done;
    op->arg = arg;
    return chat_op_submit(op, "msg", prio, RATELIMIT_COALESCE_NONE, NULL);
}

/* Queue an edit; live edits of one message coalesce. */
int
chat_edit(struct chat_instance *ci, const struct ab_msg_ref *ref, const char *text, bool is_final,
          struct chat_owner *owner, chat_done_fn done, void *arg)
{
    struct chat_op *op;

    if (done && !owner)
        return AB_EINVAL;
    if (!(op = chat_op_new(ci, CHAT_OP_EDIT, owner, ref->channel_id, NULL, ref->message_id, text,
                           NULL)))
        return AB_ENOMEM;
    op->done = done;
    op->arg = arg;
    return chat_op_submit(op, "msg", is_final ? RATELIMIT_FINAL_TEXT : RATELIMIT_LIVE_EDIT,
                          is_final ? RATELIMIT_COALESCE_NONE : RATELIMIT_COALESCE_REPLACE,
                          ref->message_id);
}

/* Queue a reaction change. */
int
chat_react(struct chat_instance *ci, const struct ab_msg_ref *ref, const char *emoji, bool add,
           struct chat_owner *owner, chat_done_fn done, void *arg)
{
    struct chat_op *op;
    char key[512];

    if (done && !owner)
        return AB_EINVAL;
    if (!(op = chat_op_new(ci, CHAT_OP_REACT, owner, ref->channel_id, NULL, ref->message_id, NULL,
                           emoji)))
        return AB_ENOMEM;
    op->add = add;
    op->done = done;
    op->arg = arg;
    snprintf(key, sizeof(key), "%s %s", ref->message_id, emoji);
    return chat_op_submit(op, "react", RATELIMIT_REACTION,
                          add ? RATELIMIT_COALESCE_ADD : RATELIMIT_COALESCE_REMOVE, key);
}

/* The plugin opened the thread (or could not). */
static void
chat_op_thread_done(void *arg, int status, const char *thread_id)
{
    struct chat_op *op = arg;

    if (status == 0 && thread_id && !(op->result.channel_id = strdup(thread_id)))
        status = AB_ENOMEM;
    chat_op_finished(op, status);
}

/* Open a thread directly (not rate-limited here: one per conversation). Without
 * threads the answer is the channel itself, on a later loop iteration. */
int
chat_open_thread(struct chat_instance *ci, const struct ab_msg_ref *origin, const char *name,
                 struct chat_owner *owner, chat_thread_fn done, void *arg)
{
    struct chat_op *op;
    int rc = 0;

    if (done && !owner)
        return AB_EINVAL;
    if (!(op = chat_op_new(ci, CHAT_OP_THREAD, owner, origin->channel_id, NULL, origin->message_id,
                           name, NULL)))
        return AB_ENOMEM;
    op->thread = done;
    op->arg = arg;
    ci->submitting++;
    if (!ci->ops->open_thread || !ci->can_thread)
        chat_op_thread_done(op, 0, origin->channel_id);
    else if ((rc = ci->ops->open_thread(ci->chat, origin, name, chat_op_thread_done, op)) < 0)
        chat_op_free(op);
    ci->submitting--;
    return rc;
}
