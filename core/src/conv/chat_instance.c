/* Outbound chat operations through the rate limiter: every send, edit, reaction and
 * thread is a request with a route (the plugin names it), a priority and a coalescing
 * key; the rate facts the plugin reports for an operation travel with its completion. */
#include "conv/chat_instance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "host/host.h"
#include "outbound/defer.h"
#include "outbound/rate_facts.h"
#include "random_bytes.h"
#include "log.h"

#define CHAT_ROUTE_MAX RATE_KEY_MAX

enum chat_op_kind {
    CHAT_OP_SEND,
    CHAT_OP_EDIT,
    CHAT_OP_REACT,
    CHAT_OP_THREAD,
    CHAT_OP_UPLOAD, /* ABI 1.3 */
};

/* One queued operation: owns copies of everything the plugin call needs. */
struct chat_op {
    enum chat_op_kind kind;
    struct chat_instance *ci;
    struct ratelimit_call *call;     /* set while the plugin works on it */
    struct chat_op *next_performing; /* in ci->performing while the plugin works on it */
    char *channel, *thread_id, *message_id, *text, *emoji;
    char *choices[CHAT_CHOICES_MAX + 1]; /* send: owned, NULL-terminated; [0] NULL = none */
    struct ab_upload_file *files;        /* upload: owned copies (strings too) */
    size_t nfiles;
    int *fds; /* upload: owned descriptors the paths name (-1 = none), or NULL */
    bool add;
    char nonce[26];        /* send: one idempotency key for every attempt of this post */
    chat_text_fn text_now; /* live send/edit: the text is rendered at the moment it goes */
    chat_sent_fn sent;
    chat_done_fn done;
    chat_thread_fn thread;
    void *arg;
    struct chat_owner *owner;                /* lent; NULL once detached or without one */
    struct chat_op *owner_prev, *owner_next; /* in the owner's list */
    bool is_detached;                        /* the owner went away: call nothing of it */
    int status;                              /* how it ended, kept for a deferred report */
    struct ab_msg_ref result;                /* send: the posted message; thread: message_id = the
                                                thread (owned strings) */
    bool has_facts;                          /* the plugin reported this attempt's rate facts */
    struct ratelimit_facts facts;            /* limit_key points into facts_key */
    char facts_key[CHAT_ROUTE_MAX];
};

/* Take @op out of its owner's list. */
static void
chat_op_disown(struct chat_op *op)
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
        chat_op_disown(op);
        op->is_detached = true;
        op->text_now = NULL;
        op->sent = NULL;
        op->done = NULL;
        op->thread = NULL;
    }
}

/* Free an operation and its copies. */
static void
chat_op_free(struct chat_op *op)
{
    chat_op_disown(op);
    free(op->channel);
    free(op->thread_id);
    free(op->message_id);
    free(op->text);
    free(op->emoji);
    for (size_t i = 0; i < CHAT_CHOICES_MAX && op->choices[i]; i++)
        free(op->choices[i]);
    for (size_t i = 0; i < op->nfiles; i++) {
        free((char *)op->files[i].path);
        free((char *)op->files[i].name);
        free((char *)op->files[i].content_type);
        if (op->fds && op->fds[i] >= 0)
            close(op->fds[i]);
    }
    free(op->files);
    free(op->fds);
    free((char *)op->result.channel_id);
    free((char *)op->result.message_id);
    free(op);
}

/* Whether @op is one the plugin is working on (a pointer from the plugin is checked
 * before it is used). */
static bool
chat_op_is_performing(const struct chat_instance *ci, const void *op)
{
    for (const struct chat_op *o = ci->performing; o; o = o->next_performing)
        if (o == op)
            return true;
    return false;
}

/* Take @op off the list of operations the plugin is working on. */
static void
chat_op_unlink(struct chat_op *op)
{
    for (struct chat_op **link = &op->ci->performing; *link; link = &(*link)->next_performing) {
        if (*link == op) {
            *link = op->next_performing;
            break;
        }
    }
}

/* The attempt is over: hand its status and rate facts to the scheduler. */
static void
chat_op_complete(struct chat_op *op, int status)
{
    struct ratelimit_facts facts = op->facts;
    bool has_facts = op->has_facts;
    char key[CHAT_ROUTE_MAX];

    chat_op_unlink(op);
    op->has_facts = false;
    if (has_facts && facts.limit_key) {
        snprintf(key, sizeof(key), "%s", facts.limit_key); /* op may be freed inside */
        facts.limit_key = key;
    }
    ratelimit_call_done(op->call, status, has_facts ? &facts : NULL);
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
    chat_op_complete(op, status);
}

/* The plugin answered an edit or a reaction. */
static void
chat_op_done(void *arg, int status)
{
    chat_op_complete(arg, status);
}

/* The plugin answered open_thread. */
static void
chat_op_thread(void *arg, int status, const char *thread_id)
{
    struct chat_op *op = arg;

    if (status == 0 && thread_id)
        op->result.message_id = strdup(thread_id);
    chat_op_complete(op, status);
}

/* A plugin reported rate facts: keep them for the operation they belong to, or apply
 * them at once to the bucket they name (or the plugin as a whole). */
void
chat_rate_report(struct chat_instance *ci, const struct ab_rate_info *info)
{
    struct ratelimit_facts facts;
    char key[CHAT_ROUTE_MAX], route[CHAT_ROUTE_MAX];
    void *op = NULL;

    if (!rate_facts_from_info(ci->name, info, &facts, key, sizeof(key)))
        return;
    if (AB_HAS(info, struct ab_rate_info, op))
        op = info->op;
    if (op && chat_op_is_performing(ci, op)) {
        struct chat_op *o = op;
        rate_facts_from_info(ci->name, info, &o->facts, o->facts_key, sizeof(o->facts_key));
        o->has_facts = true;
        return;
    }
    snprintf(route, sizeof(route), "%s:", ci->name);
    ratelimit_report(ci->rl, ci->name, route, &facts);
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
    op->has_facts = false;
    if (op->is_detached && !op->text) {
        /* A live post or edit whose owner is gone: nothing left to render. */
        ratelimit_call_done(call, AB_ECANCELED, NULL);
        return;
    }
    if (op->text_now) {
        /* Render now, after any wait: only the newest content goes out. */
        char *text = NULL;
        if ((rc = op->text_now(op->arg, &text)) < 0) {
            ratelimit_call_done(call, rc, NULL);
            return;
        }
        free(op->text);
        op->text = text;
    }
    op->next_performing = op->ci->performing;
    op->ci->performing = op;
    switch (op->kind) {
    case CHAT_OP_SEND: {
        struct ab_send msg = {
            .size = sizeof(msg),
            .channel_id = op->channel,
            .thread_id = op->thread_id,
            .text = op->text,
            .nonce = op->nonce,
            .choices = op->choices[0] ? (const char *const *)op->choices : NULL,
        };
        rc = ops->send(op->ci->chat, &msg, chat_op_sent, op);
        break;
    }
    case CHAT_OP_EDIT:
        rc = ops->edit ? ops->edit(op->ci->chat, &ref, op->text, chat_op_done, op) : AB_ENOTSUP;
        break;
    case CHAT_OP_THREAD:
        rc = ops->open_thread ? ops->open_thread(op->ci->chat, &ref, op->text, chat_op_thread, op)
                              : AB_ENOTSUP;
        break;
    case CHAT_OP_UPLOAD: {
        struct ab_upload up = {
            .size = sizeof(up),
            .channel_id = op->channel,
            .thread_id = op->thread_id,
            .text = op->text,
            .files = op->files,
            .count = op->nfiles,
        };
        rc =
            chat_can_upload(op->ci) ? ops->upload(op->ci->chat, &up, chat_op_done, op) : AB_ENOTSUP;
        break;
    }
    case CHAT_OP_REACT:
    default:
        rc = ops->react ? ops->react(op->ci->chat, &ref, op->emoji, op->add, chat_op_done, op)
                        : AB_ENOTSUP;
        break;
    }
    if (rc < 0) {
        chat_op_unlink(op);
        ratelimit_call_done(call, rc, NULL);
    }
}

/* Tell the owner (unless it went away) and free the operation. */
static void
chat_op_report(void *arg)
{
    struct chat_op *op = arg;
    int status = op->status;

    chat_op_disown(op); /* the callback may detach or free the owner */
    if (op->kind == CHAT_OP_SEND && op->sent)
        op->sent(op->arg, status, status == 0 ? &op->result : NULL);
    else if (op->kind == CHAT_OP_THREAD && op->thread)
        op->thread(op->arg, status, status == 0 ? op->result.message_id : NULL);
    else if (op->kind != CHAT_OP_SEND && op->kind != CHAT_OP_THREAD && op->done)
        op->done(op->arg, status);
    chat_op_free(op);
}

/* The request is over: count a failure, then report — on a later loop iteration when
 * this happens inside a chat_* call (a synchronous refusal, coalescing). */
static void
chat_op_finished(void *arg, int status)
{
    struct chat_op *op = arg;
    int rc;

    op->status = status;
    if (status < 0 && status != AB_ECANCELED) {
        op->ci->failed++;
        log_warn("engine", "%s: %s in %s failed: %s", op->ci->name,
                 op->kind == CHAT_OP_SEND     ? "send"
                 : op->kind == CHAT_OP_EDIT   ? "edit"
                 : op->kind == CHAT_OP_THREAD ? "thread"
                 : op->kind == CHAT_OP_UPLOAD ? "upload"
                                              : "reaction",
                 op->channel ? op->channel : "?", ab_strerror(status));
    }
    if (op->ci->submitting > 0 && op->ci->loop) {
        if ((rc = defer_call(op->ci->loop, chat_op_report, op, NULL)) == 0)
            return;
        log_error("engine", "%s: cannot defer a completion: %s", op->ci->name, ab_strerror(rc));
    }
    chat_op_report(op);
}

/* Allocate an operation with copies of the given strings, in @owner's list (may be
 * NULL). Every text posted to chat passes here and leaves with the log's redaction: no
 * token reaches a channel. */
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
        (text && !(op->text = log_redact_dup(text))) || (emoji && !(op->emoji = strdup(emoji)))) {
        chat_op_free(op);
        return NULL;
    }
    return op;
}

/* The route of @op: as the plugin names it (ABI 1.3 rate_route), else by kind and
 * target. */
static void
chat_op_route(const struct chat_op *op, const char *bucket_kind, char *out, size_t cap)
{
    const struct ab_chat_ops *ops = op->ci->ops;
    static const uint32_t kinds[] = {
        [CHAT_OP_SEND] = AB_OP_SEND,     [CHAT_OP_EDIT] = AB_OP_EDIT,
        [CHAT_OP_REACT] = AB_OP_REACT,   [CHAT_OP_THREAD] = AB_OP_OPEN_THREAD,
        [CHAT_OP_UPLOAD] = AB_OP_UPLOAD,
    };
    struct ab_op_target t = {
        .size = sizeof(t),
        .op = kinds[op->kind],
        .channel_id = op->channel,
        .thread_id = op->thread_id,
        .message_id = op->message_id,
        .emoji = op->emoji,
        .add = op->add,
    };
    char key[CHAT_ROUTE_MAX] = "";
    size_t n = (size_t)snprintf(out, cap, "%s:", op->ci->name);

    if (AB_HAS(ops, struct ab_chat_ops, rate_route) && ops->rate_route && n < cap &&
        ops->rate_route(op->ci->chat, &t, key, sizeof(key)) == 0 &&
        memchr(key, '\0', sizeof(key))) {
        snprintf(out + n, cap - n, "%s", key);
        return;
    }
    /* A post in a thread goes to the thread (on some platforms: its own channel): key by the
     * thread, so threads of one busy channel do not queue behind each other. */
    snprintf(out + n, cap - n, "%s:%s", bucket_kind,
             op->thread_id ? op->thread_id
             : op->channel ? op->channel
                           : "");
}

/* Hand an operation to the scheduler. */
static int
chat_op_submit(struct chat_op *op, const char *bucket_kind, enum ratelimit_priority prio,
               enum ratelimit_coalesce coalesce, const char *key)
{
    char bucket[CHAT_ROUTE_MAX];
    struct ratelimit_req req = {
        .bucket = bucket,
        .scope = op->ci->name,
        .priority = prio,
        .coalesce = coalesce,
        .coalesce_key = key,
        .perform = chat_op_perform,
        .finished = chat_op_finished,
        .arg = op,
    };
    int rc;

    struct chat_instance *ci = op->ci;

    chat_op_route(op, bucket_kind, bucket, sizeof(bucket));
    ci->submitting++;
    if ((rc = ratelimit_submit(ci->rl, &req)) < 0)
        chat_op_free(op);
    ci->submitting--;
    return rc;
}

/* A post's idempotency key, the same for every attempt and unique across restarts and
 * across processes posting as one bot (shards: a platform may match keys by author, not
 * by process): wall-clock milliseconds, then this instance's random start plus its post
 * counter, 12 digits (25 characters, the longest nonce a platform was seen to allow). */
static void
chat_nonce(struct chat_instance *ci, char *out, size_t cap)
{
    struct timespec ts;

    if (ci->posts == 0)
        random_bytes(&ci->nonce_base, sizeof(ci->nonce_base));
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(out, cap, "%lld%012llu", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
             (unsigned long long)((ci->nonce_base + ci->posts++) % 1000000000000ull));
}

/* Queue a post of @text, or of what @text_now renders when it goes. */
static int
chat_send_op(struct chat_instance *ci, const char *channel, const char *thread_id, const char *text,
             chat_text_fn text_now, enum ratelimit_priority prio, struct chat_owner *owner,
             chat_sent_fn done, void *arg)
{
    struct chat_op *op;

    if ((done || text_now) && !owner)
        return AB_EINVAL;
    if (!(op = chat_op_new(ci, CHAT_OP_SEND, owner, channel, thread_id, NULL, text, NULL)))
        return AB_ENOMEM;
    chat_nonce(ci, op->nonce, sizeof(op->nonce));
    op->text_now = text_now;
    op->sent = done;
    op->arg = arg;
    return chat_op_submit(op, "msg", prio, RATELIMIT_COALESCE_NONE, NULL);
}

/* Queue a post offering @choices (lent, NULL-terminated) as buttons. */
int
chat_send_choices(struct chat_instance *ci, const char *channel, const char *thread_id,
                  const char *text, const char *const *choices, enum ratelimit_priority prio,
                  struct chat_owner *owner, chat_sent_fn done, void *arg)
{
    struct chat_op *op;
    size_t n = 0;

    if (done && !owner)
        return AB_EINVAL;
    if (!(op = chat_op_new(ci, CHAT_OP_SEND, owner, channel, thread_id, NULL, text, NULL)))
        return AB_ENOMEM;
    for (size_t i = 0; choices && choices[i] && n < CHAT_CHOICES_MAX; i++) {
        if (!*choices[i])
            continue;
        if (!(op->choices[n++] = strdup(choices[i]))) {
            chat_op_free(op);
            return AB_ENOMEM;
        }
    }
    chat_nonce(ci, op->nonce, sizeof(op->nonce));
    op->sent = done;
    op->arg = arg;
    return chat_op_submit(op, "msg", prio, RATELIMIT_COALESCE_NONE, NULL);
}

/* Queue a post. */
int
chat_send(struct chat_instance *ci, const char *channel, const char *thread_id, const char *text,
          enum ratelimit_priority prio, struct chat_owner *owner, chat_sent_fn done, void *arg)
{
    return chat_send_op(ci, channel, thread_id, text, NULL, prio, owner, done, arg);
}

/* Queue a live post whose text is rendered when it goes. */
int
chat_send_live(struct chat_instance *ci, const char *channel, const char *thread_id,
               chat_text_fn text, struct chat_owner *owner, chat_sent_fn done, void *arg)
{
    return chat_send_op(ci, channel, thread_id, NULL, text, RATELIMIT_LIVE_EDIT, owner, done, arg);
}

/* Queue an edit of @text or of what @text_now renders when it goes; live edits of one
 * message coalesce. */
static int
chat_edit_op(struct chat_instance *ci, const struct ab_msg_ref *ref, const char *text,
             chat_text_fn text_now, bool is_final, struct chat_owner *owner, chat_done_fn done,
             void *arg)
{
    struct chat_op *op;

    if ((done || text_now) && !owner)
        return AB_EINVAL;
    if (!(op = chat_op_new(ci, CHAT_OP_EDIT, owner, ref->channel_id, NULL, ref->message_id, text,
                           NULL)))
        return AB_ENOMEM;
    op->text_now = text_now;
    op->done = done;
    op->arg = arg;
    return chat_op_submit(op, "msg", is_final ? RATELIMIT_FINAL_TEXT : RATELIMIT_LIVE_EDIT,
                          is_final ? RATELIMIT_COALESCE_NONE : RATELIMIT_COALESCE_REPLACE,
                          ref->message_id);
}

/* Queue an edit. */
int
chat_edit(struct chat_instance *ci, const struct ab_msg_ref *ref, const char *text, bool is_final,
          struct chat_owner *owner, chat_done_fn done, void *arg)
{
    return chat_edit_op(ci, ref, text, NULL, is_final, owner, done, arg);
}

/* Queue a live edit whose text is rendered when it goes. */
int
chat_edit_live(struct chat_instance *ci, const struct ab_msg_ref *ref, chat_text_fn text,
               struct chat_owner *owner, chat_done_fn done, void *arg)
{
    return chat_edit_op(ci, ref, NULL, text, false, owner, done, arg);
}

/* Queue a reaction change with @prio, coalescing under @mode and @key. */
static int
chat_react_op(struct chat_instance *ci, const struct ab_msg_ref *ref, const char *emoji, bool add,
              enum ratelimit_priority prio, enum ratelimit_coalesce mode, const char *key,
              struct chat_owner *owner, chat_done_fn done, void *arg)
{
    struct chat_op *op;

    if (done && !owner)
        return AB_EINVAL;
    if (!(op = chat_op_new(ci, CHAT_OP_REACT, owner, ref->channel_id, NULL, ref->message_id, NULL,
                           emoji)))
        return AB_ENOMEM;
    op->add = add;
    op->done = done;
    op->arg = arg;
    return chat_op_submit(op, "react", prio, mode, key);
}

/* Queue a reaction change; an opposite change of the same emoji still queued cancels. */
int
chat_react(struct chat_instance *ci, const struct ab_msg_ref *ref, const char *emoji, bool add,
           struct chat_owner *owner, chat_done_fn done, void *arg)
{
    char key[512];

    snprintf(key, sizeof(key), "%s %s", ref->message_id, emoji);
    return chat_react_op(ci, ref, emoji, add, RATELIMIT_REACTION,
                         add ? RATELIMIT_COALESCE_ADD : RATELIMIT_COALESCE_REMOVE, key, owner, done,
                         arg);
}

/* Queue one step of a message's status reactions: it replaces the message's step still
 * queued. */
int
chat_react_step(struct chat_instance *ci, const struct ab_msg_ref *ref, const char *emoji, bool add,
                enum ratelimit_priority prio, struct chat_owner *owner, chat_done_fn done,
                void *arg)
{
    char key[512];

    if (prio != RATELIMIT_REACTION && prio != RATELIMIT_REACTION_FINAL)
        return AB_EINVAL;
    snprintf(key, sizeof(key), "status %s", ref->message_id);
    return chat_react_op(ci, ref, emoji, add, prio, RATELIMIT_COALESCE_REPLACE, key, owner, done,
                         arg);
}

/* Open a thread through the scheduler (what the user waits for: final priority).
 * Without threads the answer is the channel itself, on a later loop iteration. */
int
chat_open_thread(struct chat_instance *ci, const struct ab_msg_ref *origin, const char *name,
                 struct chat_owner *owner, chat_thread_fn done, void *arg)
{
    struct chat_op *op;

    if (done && !owner)
        return AB_EINVAL;
    if (!(op = chat_op_new(ci, CHAT_OP_THREAD, owner, origin->channel_id, NULL, origin->message_id,
                           name, NULL)))
        return AB_ENOMEM;
    op->thread = done;
    op->arg = arg;
    if (!ci->ops->open_thread || !ci->can_thread) {
        if (origin->channel_id && !(op->result.message_id = strdup(origin->channel_id))) {
            chat_op_free(op);
            return AB_ENOMEM;
        }
        ci->submitting++;
        chat_op_finished(op, 0);
        ci->submitting--;
        return 0;
    }
    return chat_op_submit(op, "thread", RATELIMIT_FINAL_TEXT, RATELIMIT_COALESCE_NONE, NULL);
}

/* Close the @n descriptors of @fds (NULL allowed; -1 = none). */
static void
chat_fds_close(const int *fds, size_t n)
{
    for (size_t i = 0; fds && i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

/* Queue an upload of @files (lent, @n; copied) and @fds (owned) through the scheduler. */
int
chat_upload(struct chat_instance *ci, const char *channel, const char *thread_id, const char *text,
            const struct ab_upload_file *files, size_t n, int *fds, struct chat_owner *owner,
            chat_done_fn done, void *arg)
{
    struct chat_op *op;

    if ((done && !owner) || n == 0) {
        chat_fds_close(fds, n);
        return AB_EINVAL;
    }
    if (!(op = chat_op_new(ci, CHAT_OP_UPLOAD, owner, channel, thread_id, NULL, text, NULL)) ||
        !(op->files = calloc(n, sizeof(*op->files))) ||
        (fds && !(op->fds = malloc(n * sizeof(*op->fds))))) {
        chat_fds_close(fds, n);
        if (op)
            chat_op_free(op);
        return AB_ENOMEM;
    }
    if (fds)
        memcpy(op->fds, fds, n * sizeof(*fds)); /* the operation closes them from now on */
    for (size_t i = 0; i < n; i++, op->nfiles++) {
        struct ab_upload_file *f = &op->files[i];
        *f = (struct ab_upload_file){.size = sizeof(*f), .bytes = files[i].bytes};
        if (!(f->path = strdup(files[i].path)) || !(f->name = strdup(files[i].name)) ||
            (files[i].content_type && !(f->content_type = strdup(files[i].content_type)))) {
            op->nfiles = n;
            chat_op_free(op);
            return AB_ENOMEM;
        }
    }
    op->done = done;
    op->arg = arg;
    return chat_op_submit(op, "upload", RATELIMIT_FINAL_TEXT, RATELIMIT_COALESCE_NONE, NULL);
}

/* Register the plugin's static rate rules (ABI 1.3) with the scheduler. */
int
chat_rate_setup(struct chat_instance *ci)
{
    const struct ab_chat_ops *ops = ci->ops;
    const unsigned char *p;
    uint32_t stride;
    char prefix[CHAT_ROUTE_MAX];
    int rc;

    /* the plugin's own calls (http_scheduled) wait in the same scheduler and scope */
    if ((rc = host_set_scheduler(ci->host, ci->rl, ci->name)) < 0)
        return rc;
    if (!AB_HAS(ops, struct ab_chat_ops, rate_rule_count) || !ops->rate_rules ||
        ops->rate_rule_count == 0)
        return 0;
    stride = ops->rate_rules->size;
    if (stride < offsetof(struct ab_rate_rule, window_ms) + sizeof(uint32_t) ||
        ops->rate_rule_count > 64) {
        log_warn("engine", "%s: malformed rate_rules ignored", ci->name);
        return AB_EINVAL;
    }
    p = (const unsigned char *)ops->rate_rules;
    for (uint32_t i = 0; i < ops->rate_rule_count; i++, p += stride) {
        const struct ab_rate_rule *r = (const struct ab_rate_rule *)p;
        struct ratelimit_bucket_opts o = {
            .min_spacing_ms = r->min_spacing_ms,
            .limit = r->limit,
            .window_ms = r->window_ms,
        };
        if (r->flags & AB_RATE_RULE_PLUGIN) {
            rc = ratelimit_set_scope_opts(ci->rl, ci->name, &o);
        } else {
            snprintf(prefix, sizeof(prefix), "%s:%s", ci->name,
                     r->route_prefix ? r->route_prefix : "");
            rc = ratelimit_set_bucket_opts(ci->rl, prefix, &o);
        }
        if (rc < 0) {
            log_warn("engine", "%s: rate rule %u ignored: %s", ci->name, (unsigned)i,
                     ab_strerror(rc));
            return rc;
        }
    }
    return 0;
}

/* See the header. */
bool
chat_can_upload(const struct chat_instance *ci)
{
    return AB_HAS(ci->ops, struct ab_chat_ops, max_upload_files) && ci->ops->upload;
}

/* See the header. */
int
chat_conversation_of(struct chat_instance *ci, const char *channel_id, const char *thread_id,
                     const char *message_id, char *out, size_t cap)
{
    const struct ab_chat_ops *ops = ci->ops;
    const char *id = thread_id ? thread_id : message_id;
    int rc;

    if (AB_HAS(ops, struct ab_chat_ops, conversation_of) && ops->conversation_of) {
        if ((rc = ops->conversation_of(ci->chat, channel_id, thread_id, message_id, out, cap)) < 0)
            return rc;
        return memchr(out, '\0', cap) && *out ? 0 : AB_EINVAL;
    }
    if (!id || strlen(id) >= cap)
        return AB_EINVAL;
    memcpy(out, id, strlen(id) + 1);
    return 0;
}
