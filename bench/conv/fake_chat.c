/* An in-process chat platform for benchmarks (see fake_chat.h). Completions are queued
 * and run from one idle handle, so a burst of operations costs no timers. */
#include "fake_chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A completion owed to the core. */
struct fake_op {
    struct fake_op *next;
    ab_sent_cb sent;     /* send */
    ab_done_cb done;     /* edit, react */
    ab_thread_cb thread; /* open_thread */
    void *arg;
    char where[64]; /* the new message's channel, or the new thread */
    char id[32];    /* the new message's id */
};

struct ab_chat {
    uv_idle_t tick;              /* runs owed completions; first member: the handle's data */
    struct fake_op *head, *tail; /* owned FIFO of owed completions */
    fake_chat_text_fn on_text;
    void *arg;
    unsigned next_id;
    struct fake_chat_stats stats;
};

/* Run every owed completion (new ones queued meanwhile wait for the next iteration). */
static void
fake_chat_tick(uv_idle_t *h)
{
    struct ab_chat *c = h->data;
    struct fake_op *op = c->head, *next;

    c->head = c->tail = NULL;
    uv_idle_stop(&c->tick);
    for (; op; op = next) {
        next = op->next;
        if (op->sent)
            op->sent(op->arg, 0, &(struct ab_msg_ref){op->where, op->id});
        else if (op->thread)
            op->thread(op->arg, 0, op->where);
        else if (op->done)
            op->done(op->arg, 0);
        free(op);
    }
}

/* Owe a completion; @where (may be NULL) is copied. */
static int
fake_chat_defer(struct ab_chat *c, struct fake_op *tmpl, const char *where)
{
    struct fake_op *op = malloc(sizeof(*op));

    if (!op)
        return AB_ENOMEM;
    *op = *tmpl;
    op->next = NULL;
    snprintf(op->where, sizeof(op->where), "%s", where ? where : "");
    if (c->tail)
        c->tail->next = op;
    else
        c->head = op;
    c->tail = op;
    return uv_idle_start(&c->tick, fake_chat_tick);
}

/* Post a message: its id is a counter, its channel the thread it went to. */
static int
fake_chat_send(struct ab_chat *c, const struct ab_send *msg, ab_sent_cb cb, void *arg)
{
    const char *where = msg->thread_id ? msg->thread_id : msg->channel_id;
    struct fake_op op = {.sent = cb, .arg = arg};

    if (!where || !msg->text)
        return AB_EINVAL;
    c->stats.sends++;
    snprintf(op.id, sizeof(op.id), "m-%u", ++c->next_id);
    c->on_text(c->arg, where, msg->text);
    return fake_chat_defer(c, &op, where);
}

/* Edit a message. */
static int
fake_chat_edit(struct ab_chat *c, const struct ab_msg_ref *ref, const char *text, ab_done_cb cb,
               void *arg)
{
    if (!ref->channel_id || !text)
        return AB_EINVAL;
    c->stats.edits++;
    c->on_text(c->arg, ref->channel_id, text);
    return fake_chat_defer(c, &(struct fake_op){.done = cb, .arg = arg}, NULL);
}

/* Add or remove a reaction. */
static int
fake_chat_react(struct ab_chat *c, const struct ab_msg_ref *ref, const char *emoji, bool add,
                ab_done_cb cb, void *arg)
{
    (void)ref;
    (void)emoji;
    (void)add;
    c->stats.reactions++;
    return fake_chat_defer(c, &(struct fake_op){.done = cb, .arg = arg}, NULL);
}

/* Open a thread from @origin: as on Discord, the thread takes the message's id. */
static int
fake_chat_open_thread(struct ab_chat *c, const struct ab_msg_ref *origin, const char *name,
                      ab_thread_cb cb, void *arg)
{
    (void)name;
    if (!origin->message_id)
        return AB_EINVAL;
    c->stats.threads++;
    return fake_chat_defer(c, &(struct fake_op){.thread = cb, .arg = arg}, origin->message_id);
}

/* The idle handle is closed: free the instance. */
static void
fake_chat_closed(uv_handle_t *h)
{
    free(h->data);
}

/* Drop owed completions (the core is shutting down) and free the instance. */
static void
fake_chat_close(struct ab_chat *c)
{
    struct fake_op *op, *next;

    for (op = c->head; op; op = next) {
        next = op->next;
        free(op);
    }
    c->head = c->tail = NULL;
    uv_close((uv_handle_t *)&c->tick, fake_chat_closed);
}

const struct ab_chat_ops fake_chat_ops = {
    .size = sizeof(struct ab_chat_ops),
    .max_chars = 2000,
    .close = fake_chat_close,
    .send = fake_chat_send,
    .edit = fake_chat_edit,
    .react = fake_chat_react,
    .open_thread = fake_chat_open_thread,
};

/* Create an instance. */
int
fake_chat_new(uv_loop_t *loop, fake_chat_text_fn on_text, void *arg, struct ab_chat **out)
{
    struct ab_chat *c = calloc(1, sizeof(*c));
    int rc;

    if (!c)
        return AB_ENOMEM;
    if ((rc = uv_idle_init(loop, &c->tick)) < 0) {
        free(c);
        return rc;
    }
    c->tick.data = c;
    c->on_text = on_text;
    c->arg = arg;
    *out = c;
    return 0;
}

/* Counters so far. */
void
fake_chat_get_stats(const struct ab_chat *c, struct fake_chat_stats *out)
{
    *out = c->stats;
}
