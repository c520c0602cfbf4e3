/* The fake chat plugin; see fake_chat.h. */
#include "fake_chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One answer owed to the core, delivered from a host timer. */
struct fake_reply {
    struct fake_reply *next;
    struct ab_chat *chat;
    struct ab_timer *timer; /* owned by the host until timer_stop */
    enum fake_kind kind;
    int status;
    ab_sent_cb sent;
    ab_done_cb done;
    ab_thread_cb thread;
    void *arg;
    char *channel_id; /* owned: send: where the new message lives */
    char *message_id; /* owned: send: the new id; open_thread: the thread id */
};

struct ab_chat {
    struct ab_host *host;               /* lent by the core */
    const struct ab_host_services *svc; /* lent by the core */
    struct fake_call *calls;            /* owned */
    size_t ncalls, cap;
    struct fake_reply *replies; /* owned: answers not delivered yet */
    int fail_status[FAKE_KINDS];
    int fail_times[FAKE_KINDS];
    int refuse_status[FAKE_KINDS];
    int refuse_times[FAKE_KINDS];
    unsigned next_id;
    char trail[4096];
    bool slack_refs;
    bool forget_calls;        /* keep no calls: reuse `scratch` */
    struct fake_call scratch; /* owned strings: the last call when not kept */
    void (*on_call)(void *arg, const struct fake_call *call); /* fake_chat_on_call */
    void *on_call_arg;
    bool hold[FAKE_KINDS];       /* hold the answers of this kind */
    char *hold_text[FAKE_KINDS]; /* owned: only calls whose text contains it */
    struct fake_reply *held;     /* owned: answers held back, not scheduled */
    size_t nheld;
};

/* Create an instance. */
static int
fake_chat_open(struct ab_host *host, const struct ab_host_services *svc, struct ab_chat **out)
{
    struct ab_chat *c = calloc(1, sizeof(*c));

    if (!c)
        return AB_ENOMEM;
    c->host = host;
    c->svc = svc;
    c->next_id = 9000;
    *out = c;
    return 0;
}

/* Nothing to connect: the test delivers events itself. */
static int
fake_chat_start(struct ab_chat *c)
{
    c->svc->set_connected(c->host, true, "fake");
    return 0;
}

/* Free one reply. */
static void
fake_reply_free(struct fake_reply *r)
{
    free(r->channel_id);
    free(r->message_id);
    free(r);
}

/* Free the strings of one call. */
static void
fake_call_clear(struct fake_call *call)
{
    free(call->channel_id);
    free(call->thread_id);
    free(call->message_id);
    free(call->text);
    free(call->nonce);
    free(call->emoji);
}

/* Free everything; answers still owed are never delivered (allowed by the ABI). */
static void
fake_chat_close(struct ab_chat *c)
{
    struct fake_reply *r, *next;

    for (r = c->replies; r; r = next) {
        next = r->next;
        c->svc->timer_stop(r->timer);
        fake_reply_free(r);
    }
    for (r = c->held; r; r = next) {
        next = r->next;
        fake_reply_free(r);
    }
    for (int k = 0; k < FAKE_KINDS; k++)
        free(c->hold_text[k]);
    for (size_t i = 0; i < c->ncalls; i++)
        fake_call_clear(&c->calls[i]);
    fake_call_clear(&c->scratch);
    free(c->calls);
    free(c);
}

/* Refuse this call of @kind at once? Returns the status to return, or 0. */
static int
fake_chat_refusal(struct ab_chat *c, enum fake_kind kind)
{
    if (c->refuse_times[kind] <= 0)
        return 0;
    c->refuse_times[kind]--;
    return c->refuse_status[kind];
}

/* Record a call; the status it will get comes from the failure plan. */
static struct fake_call *
fake_chat_record(struct ab_chat *c, enum fake_kind kind, const char *channel, const char *thread,
                 const char *message, const char *text, const char *emoji)
{
    struct fake_call *call = &c->scratch;

    if (c->forget_calls) {
        fake_call_clear(&c->scratch);
        call = &c->scratch;
    } else if (c->ncalls == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        struct fake_call *grown = realloc(c->calls, cap * sizeof(*grown));
        if (!grown)
            return NULL;
        c->calls = grown;
        c->cap = cap;
    }
    if (!c->forget_calls)
        call = &c->calls[c->ncalls++];
    *call = (struct fake_call){
        .kind = kind,
        .at_ms = c->svc->now_ms(c->host),
        .channel_id = channel ? strdup(channel) : NULL,
        .thread_id = thread ? strdup(thread) : NULL,
        .message_id = message ? strdup(message) : NULL,
        .text = text ? strdup(text) : NULL,
        .emoji = emoji ? strdup(emoji) : NULL,
    };
    if (c->fail_times[kind] > 0) {
        c->fail_times[kind]--;
        call->status = c->fail_status[kind];
    }
    if (c->on_call)
        c->on_call(c->on_call_arg, call);
    return call;
}

/* A host timer fired: deliver the answer it carries. */
static void
fake_chat_deliver(void *arg)
{
    struct fake_reply *r = arg, **pp;
    struct ab_chat *c = r->chat;

    for (pp = &c->replies; *pp != r; pp = &(*pp)->next)
        ;
    *pp = r->next;
    c->svc->timer_stop(r->timer);
    if (r->kind == FAKE_SEND)
        r->sent(r->arg, r->status,
                r->status == 0 ? &(struct ab_msg_ref){r->channel_id, r->message_id} : NULL);
    else if (r->kind == FAKE_OPEN_THREAD)
        r->thread(r->arg, r->status, r->status == 0 ? r->message_id : NULL);
    else
        r->done(r->arg, r->status);
    fake_reply_free(r);
}

/* Owe the core an answer on a later loop turn. */
static int
fake_chat_answer(struct ab_chat *c, const struct fake_call *call, struct fake_reply *tmpl)
{
    struct fake_reply *r = malloc(sizeof(*r));
    int rc;

    if (!r)
        return AB_ENOMEM;
    *r = *tmpl;
    r->chat = c;
    r->kind = call->kind;
    r->status = call->status;
    r->channel_id = tmpl->channel_id ? strdup(tmpl->channel_id) : NULL;
    r->message_id = tmpl->message_id ? strdup(tmpl->message_id) : NULL;
    if (c->hold[call->kind] && (!c->hold_text[call->kind] ||
                                (call->text && strstr(call->text, c->hold_text[call->kind])))) {
        r->timer = NULL;
        r->next = c->held;
        c->held = r;
        c->nheld++;
        return 0;
    }
    if ((rc = c->svc->timer_start(c->host, 0, 0, fake_chat_deliver, r, &r->timer)) < 0) {
        fake_reply_free(r);
        return rc;
    }
    r->next = c->replies;
    c->replies = r;
    return 0;
}

/* Post a message: it gets a fresh id and lives in the thread when one is given. */
static int
fake_chat_send(struct ab_chat *c, const struct ab_send *msg, ab_sent_cb cb, void *arg)
{
    char id[32];
    struct fake_call *call;
    const char *where = msg->thread_id && !c->slack_refs ? msg->thread_id : msg->channel_id;
    int refused = fake_chat_refusal(c, FAKE_SEND);

    if (refused < 0)
        return refused;
    snprintf(id, sizeof(id), "%u", c->next_id++);
    if (!(call = fake_chat_record(c, FAKE_SEND, msg->channel_id, msg->thread_id, NULL, msg->text,
                                  NULL)))
        return AB_ENOMEM;
    if (msg->nonce)
        call->nonce = strdup(msg->nonce);
    if (call->status == 0)
        call->message_id = strdup(id);
    return fake_chat_answer(
        c, call,
        &(struct fake_reply){
            .sent = cb, .arg = arg, .channel_id = (char *)where, .message_id = id});
}

/* Replace a message's text. */
static int
fake_chat_edit(struct ab_chat *c, const struct ab_msg_ref *ref, const char *text, ab_done_cb cb,
               void *arg)
{
    struct fake_call *call =
        fake_chat_record(c, FAKE_EDIT, ref->channel_id, NULL, ref->message_id, text, NULL);

    if (!call)
        return AB_ENOMEM;
    return fake_chat_answer(c, call, &(struct fake_reply){.done = cb, .arg = arg});
}

/* Add or remove the bot's reaction. */
static int
fake_chat_react(struct ab_chat *c, const struct ab_msg_ref *ref, const char *emoji, bool add,
                ab_done_cb cb, void *arg)
{
    struct fake_call *call = fake_chat_record(c, add ? FAKE_REACT : FAKE_UNREACT, ref->channel_id,
                                              NULL, ref->message_id, NULL, emoji);

    if (!call)
        return AB_ENOMEM;
    return fake_chat_answer(c, call, &(struct fake_reply){.done = cb, .arg = arg});
}

/* Start a thread from a message: Discord gives the thread the message's id. */
static int
fake_chat_open_thread(struct ab_chat *c, const struct ab_msg_ref *origin, const char *name,
                      ab_thread_cb cb, void *arg)
{
    struct fake_call *call = fake_chat_record(c, FAKE_OPEN_THREAD, origin->channel_id, NULL,
                                              origin->message_id, name, NULL);

    if (!call)
        return AB_ENOMEM;
    return fake_chat_answer(
        c, call,
        &(struct fake_reply){.thread = cb, .arg = arg, .message_id = (char *)origin->message_id});
}

static const struct ab_chat_ops fake_chat_template = {
    .size = sizeof(struct ab_chat_ops),
    .max_chars = 2000,
    .open = fake_chat_open,
    .start = fake_chat_start,
    .close = fake_chat_close,
    .send = fake_chat_send,
    .edit = fake_chat_edit,
    .react = fake_chat_react,
    .open_thread = fake_chat_open_thread,
};

/* Refuse the next calls of a kind inside the call. */
void
fake_chat_refuse(struct ab_chat *c, enum fake_kind kind, int status, int times)
{
    c->refuse_status[kind] = status;
    c->refuse_times[kind] = times;
}

/* Watch every call as it is made. */
void
fake_chat_on_call(struct ab_chat *c, void (*fn)(void *arg, const struct fake_call *call), void *arg)
{
    c->on_call = fn;
    c->on_call_arg = arg;
}

/* Keep calls or not. */
void
fake_chat_keep_calls(struct ab_chat *c, bool keep)
{
    c->forget_calls = !keep;
}

/* Instance options. */
void
fake_chat_configure(struct ab_chat *c, const struct fake_chat_options *opt)
{
    c->slack_refs = opt->slack_refs;
}

/* Hold answers of @kind (texts containing @text). */
void
fake_chat_hold(struct ab_chat *c, enum fake_kind kind, const char *text)
{
    c->hold[kind] = true;
    free(c->hold_text[kind]);
    c->hold_text[kind] = text ? strdup(text) : NULL;
}

/* Schedule every held answer. */
int
fake_chat_release(struct ab_chat *c)
{
    struct fake_reply *r;
    int n = 0;

    for (int k = 0; k < FAKE_KINDS; k++)
        c->hold[k] = false;
    while ((r = c->held)) {
        c->held = r->next;
        c->nheld--;
        if (c->svc->timer_start(c->host, 0, 0, fake_chat_deliver, r, &r->timer) < 0) {
            fake_reply_free(r);
            continue;
        }
        r->next = c->replies;
        c->replies = r;
        n++;
    }
    return n;
}

/* Answers held back now. */
size_t
fake_chat_held(const struct ab_chat *c)
{
    return c->nheld;
}

/* The operations, minus what the platform lacks. */
void
fake_chat_ops(const struct fake_chat_options *opt, struct ab_chat_ops *ops)
{
    *ops = fake_chat_template;
    if (opt->max_chars)
        ops->max_chars = opt->max_chars;
    if (opt->no_edit)
        ops->edit = NULL;
    if (opt->no_react)
        ops->react = NULL;
    if (opt->no_threads)
        ops->open_thread = NULL;
}

/* Calls so far. */
size_t
fake_chat_count(const struct ab_chat *c)
{
    return c->ncalls;
}

/* One call. */
const struct fake_call *
fake_chat_call(const struct ab_chat *c, size_t i)
{
    return i < c->ncalls ? &c->calls[i] : NULL;
}

/* Plan failures. */
void
fake_chat_fail(struct ab_chat *c, enum fake_kind kind, int status, int times)
{
    c->fail_status[kind] = status;
    c->fail_times[kind] = times;
}

/* Whether @call matches a search. */
static bool
fake_chat_matches(const struct fake_call *call, enum fake_kind kind, const char *text,
                  const char *message_id, const char *emoji)
{
    return call->kind == kind && (!text || (call->text && strstr(call->text, text))) &&
           (!message_id || (call->message_id && strcmp(call->message_id, message_id) == 0)) &&
           (!emoji || (call->emoji && strcmp(call->emoji, emoji) == 0));
}

/* Search; see the header. */
int
fake_chat_find(const struct ab_chat *c, size_t from, enum fake_kind kind, const char *text,
               const char *message_id, const char *emoji)
{
    for (size_t i = from; i < c->ncalls; i++)
        if (fake_chat_matches(&c->calls[i], kind, text, message_id, emoji))
            return (int)i;
    return -1;
}

/* Count; see the header. */
int
fake_chat_count_kind(const struct ab_chat *c, enum fake_kind kind, const char *text)
{
    int n = 0;

    for (size_t i = 0; i < c->ncalls; i++)
        n += fake_chat_matches(&c->calls[i], kind, text, NULL, NULL);
    return n;
}

/* The reaction trail of a message. */
const char *
fake_chat_trail(const struct ab_chat *c, const char *message_id)
{
    struct ab_chat *m = (struct ab_chat *)c; /* the buffer is a cache, not state */
    size_t len = 0;

    m->trail[0] = '\0';
    for (size_t i = 0; i < c->ncalls; i++) {
        const struct fake_call *call = &c->calls[i];
        if ((call->kind != FAKE_REACT && call->kind != FAKE_UNREACT) ||
            strcmp(call->message_id, message_id) != 0 || len + 64 >= sizeof(m->trail))
            continue;
        len += (size_t)snprintf(m->trail + len, sizeof(m->trail) - len, "%s%c%s", len ? " " : "",
                                call->kind == FAKE_REACT ? '+' : '-', call->emoji);
    }
    return m->trail;
}

/* Current reaction state of one emoji. */
bool
fake_chat_has_reaction(const struct ab_chat *c, const char *message_id, const char *emoji)
{
    bool on = false;

    for (size_t i = 0; i < c->ncalls; i++) {
        const struct fake_call *call = &c->calls[i];
        if (call->status == 0 && (call->kind == FAKE_REACT || call->kind == FAKE_UNREACT) &&
            strcmp(call->message_id, message_id) == 0 && strcmp(call->emoji, emoji) == 0)
            on = call->kind == FAKE_REACT;
    }
    return on;
}

/* What a message shows now. */
const char *
fake_chat_message_text(const struct ab_chat *c, const char *message_id)
{
    const char *text = NULL;

    for (size_t i = 0; i < c->ncalls; i++) {
        const struct fake_call *call = &c->calls[i];
        if (call->status == 0 && (call->kind == FAKE_SEND || call->kind == FAKE_EDIT) &&
            call->message_id && strcmp(call->message_id, message_id) == 0)
            text = call->text;
    }
    return text;
}

/* One line per call. */
void
fake_chat_dump(const struct ab_chat *c)
{
    static const char *const names[] = {"send", "edit", "react", "unreact", "thread"};

    for (size_t i = 0; i < c->ncalls; i++) {
        const struct fake_call *k = &c->calls[i];
        fprintf(stderr, "%6llu %-7s ch=%s th=%s msg=%s st=%d %s %s\n", (unsigned long long)k->at_ms,
                names[k->kind], k->channel_id ? k->channel_id : "-",
                k->thread_id ? k->thread_id : "-", k->message_id ? k->message_id : "-", k->status,
                k->emoji ? k->emoji : "", k->text ? k->text : "");
    }
}
