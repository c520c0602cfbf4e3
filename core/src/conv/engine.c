/* The conversation engine: inbound events through the policy into conversations,
 * queueing behind running turns, user reactions (cancel, permission answers). */
#include "conv/engine.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv/commands.h"
#include "conv/engine_priv.h"
#include "host/host.h"
#include "conv/outbox.h"
#include "log.h"
#include "render/sender_context.h"
#include "render/thread_name.h"
#include "state/journal.h"

#define ENGINE_BUCKETS_MIN 64
#define ENGINE_HELD_MAX 1500      /* notices held for a thread being opened, bytes */
#define ENGINE_SWEEP_PER_EVENT 4  /* idle conversations an inbound message may evict */
#define ENGINE_SWEEP_PER_TICK 512 /* and the sweep timer, per run */

/* Posted in the thread of a message a previous process accepted and never answered. */
#define ENGINE_RESTART_LINE                                                                        \
    "⚠️ agent-broker restarted while this message was being handled; it was not answered — " \
    "send it again."

/* A restart line in flight for journal entry @id. */
struct engine_recovery {
    struct engine *e;
    uint64_t id;
    char *message_id;             /* owned, for the log */
    struct chat_owner owner;      /* its post */
    struct engine_recovery *next; /* the engine's list of lines in flight */
};

/* FNV-1a over a key. */
static size_t
engine_hash(const char *key)
{
    uint64_t h = 1469598103934665603ULL;

    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return (size_t)h;
}

/* The conversation for @key, or NULL. */
static struct conversation *
engine_find(struct engine *e, const char *key)
{
    for (struct conversation *c = e->buckets[engine_hash(key) & (e->nbuckets - 1)]; c; c = c->next)
        if (strcmp(c->key, key) == 0)
            return c;
    return NULL;
}

/* See engine_priv.h. */
struct conversation *
engine_find_conversation(struct engine *e, const char *key)
{
    return engine_find(e, key);
}

/* Double the table once it holds as many conversations as buckets (a failed grow
 * leaves the table as it is: only longer chains). */
static void
engine_table_grow(struct engine *e)
{
    size_t n = e->nbuckets * 2;
    struct conversation **t;

    if (e->nconvs < e->nbuckets || !(t = calloc(n, sizeof(*t))))
        return;
    for (size_t b = 0; b < e->nbuckets; b++) {
        struct conversation *c, *next;
        for (c = e->buckets[b]; c; c = next) {
            size_t nb = engine_hash(c->key) & (n - 1);
            next = c->next;
            c->next = t[nb];
            t[nb] = c;
        }
    }
    free(e->buckets);
    e->buckets = t;
    e->nbuckets = n;
}

/* Take @c out of the table. */
static void
engine_table_unlink(struct engine *e, struct conversation *c)
{
    struct conversation **pp = &e->buckets[engine_hash(c->key) & (e->nbuckets - 1)];

    while (*pp && *pp != c)
        pp = &(*pp)->next;
    if (*pp)
        *pp = c->next;
    c->next = NULL;
}

/* Take @c out of the LRU. */
static void
engine_lru_unlink(struct engine *e, struct conversation *c)
{
    if (c->lru_prev)
        c->lru_prev->lru_next = c->lru_next;
    else if (e->lru_head == c)
        e->lru_head = c->lru_next;
    if (c->lru_next)
        c->lru_next->lru_prev = c->lru_prev;
    else if (e->lru_tail == c)
        e->lru_tail = c->lru_prev;
    c->lru_prev = c->lru_next = NULL;
}

/* @c was used now: it goes to the LRU's tail. */
static void
engine_touch(struct conversation *c)
{
    struct engine *e = c->e;

    engine_lru_unlink(e, c);
    c->last_used_ms = clock_now_ms(e->clock);
    c->lru_prev = e->lru_tail;
    if (e->lru_tail)
        e->lru_tail->lru_next = c;
    else
        e->lru_head = c;
    e->lru_tail = c;
}

/* The idle bound in effect. */
static uint64_t
engine_idle_ms(const struct engine *e)
{
    return e->cfg.conv_idle_ms ? e->cfg.conv_idle_ms : ENGINE_CONV_IDLE_MS;
}

/* Free a queued message and its reactions. */
void
pending_free(struct pending *p)
{
    if (!p)
        return;
    status_reactions_free(p->rx);
    attach_fetch_free(p->fetch);
    free(p->message_id);
    free(p->channel_id);
    free(p->text);
    free(p->sender_context);
    free(p);
}

/* Free a conversation (it must have no turn; the engine has let go of it). */
static void
conversation_free(struct conversation *c)
{
    struct pending *p, *next;

    chat_owner_detach(&c->chat);
    for (p = c->queue; p; p = next) {
        next = p->next;
        pending_free(p);
    }
    clock_timer_stop(&c->wait_timer);
    free(c->key);
    free(c->reply_channel);
    free(c->reply_thread);
    free(c->held_notices);
    free(c);
}

/* Forget idle @c: out of the table and the LRU, then freed. */
static void
engine_evict(struct engine *e, struct conversation *c)
{
    engine_table_unlink(e, c);
    engine_lru_unlink(e, c);
    e->nconvs--;
    conversation_free(c);
}

/* Evict up to @budget conversations idle past the bound, oldest first; a busy one
 * met on the way is moved back as if just used (it cannot be evicted before it is
 * idle again anyway). Returns whether expired ones may remain. */
static bool
engine_sweep(struct engine *e, unsigned budget)
{
    uint64_t now = clock_now_ms(e->clock), idle = engine_idle_ms(e);
    struct conversation *c;

    while ((c = e->lru_head) && c->last_used_ms + idle <= now) {
        if (budget-- == 0)
            return true;
        if (c->turn || c->queue || c->is_opening_thread)
            engine_touch(c);
        else
            engine_evict(e, c);
    }
    return false;
}

static void engine_sweep_arm(struct engine *e);

/* The sweep timer: evict, and look again when the oldest will have expired. */
static void
engine_sweep_fired(void *arg)
{
    struct engine *e = arg;

    if (engine_sweep(e, ENGINE_SWEEP_PER_TICK))
        clock_timer_start(e->clock, &e->sweep, 1, engine_sweep_fired, e);
    else
        engine_sweep_arm(e);
}

/* Arm the sweep for when the least recently used conversation expires. */
static void
engine_sweep_arm(struct engine *e)
{
    uint64_t now, due;

    if (!e->lru_head || clock_timer_is_active(&e->sweep))
        return;
    now = clock_now_ms(e->clock);
    due = e->lru_head->last_used_ms + engine_idle_ms(e);
    clock_timer_start(e->clock, &e->sweep, due > now ? due - now : 0, engine_sweep_fired, e);
}

/* See engine_priv.h. */
size_t
engine_agent_index(const struct engine *e, const char *name)
{
    size_t i;

    for (i = 0; name && i < e->nagents; i++)
        if (strcmp(e->agents[i].name, name) == 0)
            break;
    return name ? i : e->nagents;
}

/* See engine_priv.h. */
struct engine_agent *
engine_conv_agent(const struct conversation *c)
{
    return &c->e->agents[c->agent];
}

/* See engine_priv.h. */
const char *
engine_conv_auth_hint(const struct conversation *c)
{
    return c->agent == 0 ? c->e->cfg.auth_hint : c->e->agents[c->agent].auth_hint;
}

/* The agent of new conversation @c: the one whose pool knows its key (it talked to it
 * before a restart or before the record was forgotten), else the routes' choice for
 * first message @m; a name prefix that chose is cut from @p's text. */
static void
engine_route(struct engine *e, struct conversation *c, const struct ab_inbound *m,
             struct pending *p)
{
    const char *names[64];
    size_t n = e->nagents < 64 ? e->nagents : 64;
    const char *channel = m->is_thread && m->parent_id ? m->parent_id : m->channel_id;
    struct route_choice rc;

    c->agent = e->fallback;
    for (size_t i = 0; i < e->nagents; i++)
        if (pool_has(e->agents[i].pool, c->key)) {
            c->agent = i;
            return;
        }
    if (e->nagents == 1)
        return;
    for (size_t i = 0; i < n; i++)
        names[i] = e->agents[i].name;
    route_pick(&e->routes, names, n, e->fallback, channel, m->role_ids,
               m->role_ids ? m->role_count : 0, p->text, &rc);
    c->agent = rc.agent;
    if (rc.strip)
        memmove(p->text, p->text + rc.strip, strlen(p->text + rc.strip) + 1);
    log_debug("engine", "%s: agent %s (%s)", c->key, e->agents[c->agent].name,
              rc.why == ROUTE_CHANNEL  ? "channel route"
              : rc.why == ROUTE_PREFIX ? "name prefix"
              : rc.why == ROUTE_ROLE   ? "role route"
                                       : "default");
}

/* Find or create the conversation for @key, replying in @channel / @thread. */
static struct conversation *
engine_conversation(struct engine *e, struct chat_instance *ci, const char *key,
                    const char *channel, const char *thread)
{
    struct conversation *c = engine_find(e, key);
    size_t b;

    if (c) {
        engine_touch(c);
        return c;
    }
    if (!(c = calloc(1, sizeof(*c))))
        return NULL;
    c->e = e;
    c->ci = ci;
    c->agent = SIZE_MAX; /* chosen with its first message: engine_route */
    clock_timer_init(&c->wait_timer);
    c->key = strdup(key);
    c->reply_channel = strdup(channel);
    c->reply_thread = thread ? strdup(thread) : NULL;
    if (!c->key || !c->reply_channel || (thread && !c->reply_thread)) {
        conversation_free(c);
        return NULL;
    }
    engine_table_grow(e);
    b = engine_hash(key) & (e->nbuckets - 1);
    c->next = e->buckets[b];
    e->buckets[b] = c;
    e->nconvs++;
    engine_touch(c);
    engine_sweep_arm(e);
    return c;
}

/* Post a line in the conversation's thread (errors, notices). */
void
engine_post_notice(struct conversation *c, const char *text)
{
    char *held;

    /* The thread is not there yet: the line waits for it (joined to any held one, within
     * one message), never landing in the channel beside it. */
    if (c->is_opening_thread && (!c->held_notices || strlen(c->held_notices) < ENGINE_HELD_MAX)) {
        if (asprintf(&held, "%s%s%s", c->held_notices ? c->held_notices : "",
                     c->held_notices ? "\n" : "", text) >= 0) {
            free(c->held_notices);
            c->held_notices = held;
            return;
        }
    }
    chat_send(c->ci, c->reply_channel, c->reply_thread, text, RATELIMIT_FINAL_TEXT, NULL, NULL,
              NULL);
}

/* Nothing runs or waits anywhere? */
static bool
engine_is_idle(const struct engine *e)
{
    return e->nrunning == 0 && e->nqueued == 0 && e->nopening == 0;
}

/* Take @c's queue for a turn. */
struct pending *
engine_queue_take(struct conversation *c)
{
    struct pending *msgs = c->queue;

    c->e->nqueued -= (uint32_t)c->queued;
    c->queue = NULL;
    c->queued = 0;
    return msgs;
}

/* A turn could not start: @msgs (owned) go back in front of @c's queue. */
void
engine_queue_put_back(struct conversation *c, struct pending *msgs)
{
    struct pending **tail = &msgs;
    size_t n = 0;

    for (; *tail; tail = &(*tail)->next)
        n++;
    *tail = c->queue;
    c->queue = msgs;
    c->queued += n;
    c->e->nqueued += (uint32_t)n;
}

/* @c's turn started: it joins the running list (reactions look only there). */
void
engine_turn_began(struct conversation *c)
{
    struct engine *e = c->e;

    c->run_prev = NULL;
    c->run_next = e->running;
    if (e->running)
        e->running->run_prev = c;
    e->running = c;
    e->nrunning++;
}

/* @c's turn ended (or never really began): it leaves the running list. */
void
engine_running_remove(struct conversation *c)
{
    struct engine *e = c->e;

    if (c->run_prev)
        c->run_prev->run_next = c->run_next;
    else
        e->running = c->run_next;
    if (c->run_next)
        c->run_next->run_prev = c->run_prev;
    c->run_prev = c->run_next = NULL;
    e->nrunning--;
}

/* Tell the idle waiter, once. */
static void
engine_check_idle(struct engine *e)
{
    void (*idle)(void *) = e->idle;

    if (idle && engine_is_idle(e)) {
        e->idle = NULL;
        idle(e->idle_arg);
    }
}

/* Every message queued in @c will not be answered: say so with @line, 😱 on each,
 * clear their journal entries. */
static void
engine_refuse_queue(struct conversation *c, const char *line)
{
    struct engine *e = c->e;
    struct pending *p, *next;

    engine_post_notice(c, line);
    engine_answered(e, c->queue);
    e->nqueued -= (uint32_t)c->queued;
    for (p = c->queue; p; p = next) {
        next = p->next;
        if (p->rx) {
            reactions_error(&p->rx->r);
            status_reactions_release(p->rx);
            p->rx = NULL;
        }
        pending_free(p);
        e->stats.rejected++;
    }
    c->queue = NULL;
    c->queued = 0;
}

/* May @c wait for a free session (rather than be refused)? */
bool
engine_may_wait(struct conversation *c)
{
    struct engine *e = c->e;

    return !e->is_draining && (c->is_waiting || e->nwaiting < e->cfg.pool_queue_max);
}

/* Take @c out of the FIFO (it runs, or gave up). */
static void
engine_unwait(struct conversation *c)
{
    struct engine *e = c->e;
    struct conversation **link;

    if (!c->is_waiting)
        return;
    for (link = &e->waiting; *link && *link != c; link = &(*link)->wait_next)
        ;
    if (*link)
        *link = c->wait_next;
    e->waiting_tail = NULL;
    for (struct conversation *w = e->waiting; w; w = w->wait_next)
        if (!w->wait_next)
            e->waiting_tail = &w->wait_next;
    c->wait_next = NULL;
    c->is_waiting = false;
    c->is_wait_noticed = false;
    clock_timer_stop(&c->wait_timer);
    e->nwaiting--;
}

/* 1-based place of @c in the FIFO. */
static size_t
engine_wait_position(const struct conversation *c)
{
    size_t n = 1;

    for (const struct conversation *w = c->e->waiting; w && w != c; w = w->wait_next)
        n++;
    return n;
}

static void engine_wait_timer(void *arg);

/* Arm @c's wait timer: the position line first, then the bound. */
static void
engine_wait_arm(struct conversation *c)
{
    struct engine *e = c->e;
    uint64_t waited = uv_now(e->loop) - c->wait_since, at = e->cfg.pool_queue_wait_ms;

    if (!c->is_wait_noticed && e->cfg.pool_queue_notice_ms < at)
        at = e->cfg.pool_queue_notice_ms;
    clock_timer_start(e->clock, &c->wait_timer, at > waited ? at - waited : 0, engine_wait_timer,
                      c);
}

/* Every session is busy: @c waits at the FIFO's tail (or, @at_head, back at its head). */
static void
engine_wait(struct conversation *c, bool at_head)
{
    struct engine *e = c->e;

    if (c->is_waiting)
        return;
    c->is_waiting = true;
    e->nwaiting++;
    if (at_head) {
        c->wait_next = e->waiting;
        e->waiting = c;
        if (!c->wait_next)
            e->waiting_tail = &c->wait_next;
    } else {
        c->wait_next = NULL;
        c->wait_since = uv_now(e->loop);
        c->is_wait_noticed = false;
        if (e->waiting_tail)
            *e->waiting_tail = c;
        else
            e->waiting = c;
        e->waiting_tail = &c->wait_next;
        log_info("engine", "%s: every agent session is busy; waiting (#%zu in line)", c->key,
                 e->nwaiting);
    }
    engine_wait_arm(c);
}

/* The wait passed a few seconds (say where it stands) or its bound (give up, visibly). */
static void
engine_wait_timer(void *arg)
{
    struct conversation *c = arg;
    struct engine *e = c->e;
    char line[256];

    if (!c->is_waiting)
        return;
    if (uv_now(e->loop) - c->wait_since >= e->cfg.pool_queue_wait_ms) {
        engine_unwait(c);
        snprintf(line, sizeof(line),
                 "⚠️ Every agent session stayed busy for %llu s; this message was not answered "
                 "— send it again later.",
                 (unsigned long long)(e->cfg.pool_queue_wait_ms / 1000));
        engine_refuse_queue(c, line);
        engine_check_idle(e);
        return;
    }
    if (!c->is_wait_noticed) {
        c->is_wait_noticed = true;
        snprintf(line, sizeof(line),
                 "⏳ All %u agent sessions are busy; this conversation is #%zu in line and "
                 "starts as soon as one is free.",
                 e->cfg.max_sessions, engine_wait_position(c));
        engine_post_notice(c, line);
    }
    engine_wait_arm(c);
}

/* The bit of @agent in a set of full pools (agents past 63 share the last bit). */
static uint64_t
engine_agent_bit(size_t agent)
{
    return 1ULL << (agent < 63 ? agent : 63);
}

/* The first waiting conversation whose agent is not in @full, or NULL. */
static struct conversation *
engine_first_waiting(const struct engine *e, uint64_t full)
{
    struct conversation *c = e->waiting;

    while (c && (full & engine_agent_bit(c->agent)))
        c = c->wait_next;
    return c;
}

/* A session may be free: start waiting conversations in FIFO order, each agent's own
 * line on its own (a full pool does not hold back another agent's waiters). */
static void
engine_wait_next(struct engine *e)
{
    struct conversation *c;
    uint64_t full = 0;
    int rc;

    while (!e->is_draining && (c = engine_first_waiting(e, full))) {
        bool noticed = c->is_wait_noticed;
        uint64_t since = c->wait_since;
        engine_unwait(c); /* off the FIFO while it starts: a nested call sees the rest */
        if (c->turn || !c->queue || c->is_opening_thread)
            continue;
        c->is_waiting = true; /* engine_may_wait: it keeps its place */
        rc = turn_start(c);
        c->is_waiting = false;
        if (rc == AB_EFULL) {
            c->wait_since = since;
            c->is_wait_noticed = noticed;
            engine_wait(c, true); /* the head: ahead of other agents' waiters only */
            full |= engine_agent_bit(c->agent);
            continue;
        }
        if (rc < 0)
            log_error("engine", "%s: cannot start a turn: %s", c->key, ab_strerror(rc));
    }
}

/* Start the next turn of @c when it can run. */
static void
engine_kick(struct conversation *c)
{
    struct engine *e = c->e;
    int rc;

    if (c->turn || !c->queue || c->is_opening_thread || c->is_waiting)
        return;
    for (struct pending *p = c->queue; p; p = p->next)
        if (!attach_fetch_is_done(p->fetch))
            return; /* its files are still coming: engine_fetched kicks again */
    if (engine_first_waiting(e, ~engine_agent_bit(c->agent)) &&
        engine_may_wait(c)) { /* others of its agent were first: behind them */
        engine_wait(c, false);
        return;
    }
    rc = turn_start(c);
    if (rc == AB_EFULL)
        engine_wait(c, false);
    else if (rc < 0)
        log_error("engine", "%s: cannot start a turn: %s", c->key, ab_strerror(rc));
}

/* A turn ended: the next batch goes, or the engine may be idle. */
void
engine_turn_finished(struct conversation *c)
{
    struct engine *e = c->e;

    engine_running_remove(c);
    engine_touch(c); /* idle from now, not from its last message */
    if (c->is_reset_pending) {
        c->is_reset_pending = false;
        if (pool_reset(engine_conv_agent(c)->pool, c->key) == 0)
            log_info("engine", "%s: session reset by /reset", c->key);
    }

    if (!e->is_draining) {
        engine_kick(c);
        engine_wait_next(e);
    }
    engine_check_idle(e);
}

/* The thread for a new conversation exists (or could not be made: reply in the channel). */
static void
engine_thread_opened(void *arg, int status, const char *thread_id)
{
    struct conversation *c = arg;

    c->is_opening_thread = false;
    c->e->nopening--;
    if (status == 0 && thread_id) {
        free(c->reply_thread);
        c->reply_thread = strdup(thread_id);
        if (c->e->journal)
            journal_set_thread(c->e->journal, c->key, thread_id);
    } else {
        log_warn("engine", "%s: cannot open a thread (%s); replying in the channel", c->key,
                 ab_strerror(status));
    }
    if (c->held_notices) {
        char *held = c->held_notices;
        c->held_notices = NULL;
        engine_post_notice(c, held);
        free(held);
    }
    if (!c->e->is_draining)
        engine_kick(c);
    engine_check_idle(c->e); /* a drain may be waiting for this open to finish */
}

/* Build the queued form of an accepted message. */
static struct pending *
engine_pending(struct engine *e, struct chat_instance *ci, const struct ab_inbound *m,
               const char *key)
{
    struct pending *p = calloc(1, sizeof(*p));
    char *outbox = NULL;
    struct sender_context sc = {
        .sender_id = m->sender_id,
        .sender_name = m->sender_name,
        .display_name = m->display_name,
        .channel = ci->name,
        .channel_id = m->channel_id,
        .is_bot = m->is_bot,
    };

    if (!p)
        return NULL;
    if (e->cfg.attach.outbox && e->cfg.attach.dir &&
        outbox_dir(e->cfg.attach.dir, key, 1, &outbox) == 0)
        sc.outbox_dir = outbox;
    p->message_id = strdup(m->message_id);
    p->channel_id = strdup(m->channel_id);
    p->text = strdup(m->clean_text ? m->clean_text : m->text ? m->text : "");
    if (!p->message_id || !p->channel_id || !p->text ||
        sender_context_build(&sc, &p->sender_context) < 0) {
        free(outbox);
        pending_free(p);
        return NULL;
    }
    free(outbox);
    p->rx = status_reactions_new(e, ci, m->channel_id, m->message_id);
    return p;
}

/* A message's attachments are in (or skipped): say what was skipped, then run. */
static void
engine_fetched(void *arg, struct attach_fetch *f)
{
    struct conversation *c = arg;
    const char *skipped = attach_fetch_skipped(f), *said = attach_fetch_transcript(f);
    char *text;

    for (struct pending *p = c->queue; said && p; p = p->next) {
        if (p->fetch != f)
            continue;
        /* A voice message is prompted as its words. */
        if (asprintf(&text, "%s%s[voice transcript]\n%s", p->text, *p->text ? "\n\n" : "", said) >=
            0) {
            free(p->text);
            p->text = text;
        }
        if (c->e->cfg.attach.stt_echo && asprintf(&text, "🎙️ %s", said) >= 0) {
            engine_post_notice(c, text);
            free(text);
        }
    }
    if (skipped)
        engine_post_notice(c, skipped);
    if (!c->e->is_draining)
        engine_kick(c);
}

/* Start fetching @m's attachments for @p of @c, when it has any and they are enabled. */
static int
engine_fetch(struct conversation *c, struct pending *p, const struct ab_inbound *m)
{
    struct engine *e = c->e;

    if (!AB_HAS(m, struct ab_inbound, attachment_count) || !m->attachments ||
        m->attachment_count == 0)
        return 0;
    if (!e->cfg.attach.enabled || !e->cfg.attach.dir) {
        engine_post_notice(c, "📎 Attachments are turned off here; only the text was passed "
                              "to the agent.");
        return 0;
    }
    return attach_fetch_start(&e->cfg.attach, e->clock, c->ci, m->message_id, m->attachments,
                              m->attachment_count, engine_fetched, c, &p->fetch);
}

/* The messages of @msgs got their answer or failure line: clear their journal entries. */
void
engine_answered(struct engine *e, struct pending *msgs)
{
    for (struct pending *p = msgs; p; p = p->next) {
        if (p->journal_id && e->journal)
            journal_done(e->journal, p->journal_id);
        p->journal_id = 0;
    }
}

/* Record accepted message @p of @c in the journal; @recorded hears when it is on disk. */
static void
engine_record(struct engine *e, struct conversation *c, struct pending *p,
              const struct ab_inbound *m, void (*recorded)(void *arg, int status), void *arg)
{
    struct journal_entry je = {
        .platform = c->ci->name,
        .conversation = c->key,
        .reply_channel = c->reply_channel,
        .reply_thread = c->reply_thread,
        .channel_id = (char *)m->channel_id,
        .message_id = (char *)m->message_id,
        .event_id = (char *)m->event_id,
        .sender_id = (char *)m->sender_id,
        .parent_id = (char *)m->parent_id,
        .is_thread = m->is_thread,
        .is_dm = m->is_dm,
        .is_bot = m->is_bot,
    };

    if (!e->journal) {
        if (recorded)
            recorded(arg, 0);
        return;
    }
    if (journal_add(e->journal, &je, recorded, arg, &p->journal_id) < 0) {
        log_error("engine", "%s: cannot record message %s in the journal", c->key, m->message_id);
        if (recorded)
            recorded(arg, AB_EIO);
    }
}

/* Message @p was just queued on @c: start the turn, then show 👀 on @p if it is still
 * queued (a turn that started took it and shows 👀 right after its prompt went out, in
 * turn_start). The prompt goes first: the reaction is a REST request, and the journal
 * writes @p's record at the next loop turn, so nothing the daemon adds to a warm turn
 * comes before the write to the agent. The record is no less safe for it: a crash
 * before the journal's write lands would lose the record in either order (the write
 * takes milliseconds on a worker, the prompt microseconds), and a plugin that holds its
 * ack (deliver_held) acks only once the record is on disk, so the platform redelivers
 * what a crash cut short. */
static void
engine_kick_first(struct conversation *c, struct pending *p)
{
    engine_kick(c);
    for (struct pending *q = c->queue; q; q = q->next) {
        if (q == p && p->rx)
            reactions_queued(&p->rx->r); /* 👀 the moment it is accepted */
    }
}

static int engine_accept(struct engine *e, struct chat_instance *ci, const struct ab_inbound *m,
                         void (*recorded)(void *arg, int status), void *arg);
static int engine_accept_decided(struct engine *e, struct chat_instance *ci,
                                 const struct ab_inbound *m, const struct policy_decision *d,
                                 void (*recorded)(void *arg, int status), void *arg);

/* A message from a chat plugin. */
int
engine_inbound(struct engine *e, struct chat_instance *ci, const struct ab_inbound *m)
{
    return engine_inbound_held(e, ci, m, NULL, NULL);
}

/* A message from a chat plugin that holds its ack until @recorded. */
int
engine_inbound_held(struct engine *e, struct chat_instance *ci, const struct ab_inbound *m,
                    void (*recorded)(void *arg, int status), void *arg)
{
    int rc = engine_accept(e, ci, m, recorded, arg);

    if (rc != 1 && recorded && rc >= 0)
        recorded(arg, 0); /* nothing to record: ignored or refused with a line */
    return rc < 0 ? rc : 0;
}

/* A message the broker posted for the operator's config (a scheduled job). */
int
engine_inbound_trusted(struct engine *e, struct chat_instance *ci, const struct ab_inbound *m)
{
    struct policy_decision d;
    int rc;

    e->stats.received++;
    if ((rc = policy_decide_trusted(ci->policy, ci->name, m, uv_now(e->loop), &d)) < 0)
        return rc;
    if (d.verdict != POLICY_ACCEPT) {
        e->stats.ignored++;
        log_warn("engine", "%s: scheduled message %s in %s not run: %s", ci->name,
                 m->message_id ? m->message_id : "?", m->channel_id ? m->channel_id : "?",
                 d.reason);
        return AB_ECONFIG;
    }
    rc = engine_accept_decided(e, ci, m, &d, NULL, NULL);
    return rc < 0 ? rc : 0;
}

/* Accept a message: 1 when it was queued (and @recorded taken), 0 when it needs no
 * record, < 0 on error. */
static int
engine_accept(struct engine *e, struct chat_instance *ci, const struct ab_inbound *m,
              void (*recorded)(void *arg, int status), void *arg)
{
    struct policy_decision d;
    int rc;

    e->stats.received++;
    engine_sweep(e, ENGINE_SWEEP_PER_EVENT);
    if (m->size >= offsetof(struct ab_inbound, is_unresolved) + sizeof(bool) && m->is_unresolved) {
        /* Nothing can be decided about a place the platform would not describe: say so
         * to an allowed user who asked, never silently drop it. */
        e->stats.ignored++;
        if (m->mentions_bot && !m->is_self && !m->is_bot && m->channel_id && m->sender_id &&
            policy_user_allowed(ci->policy, m->sender_id)) {
            e->stats.rejected++;
            chat_send(ci, m->channel_id, NULL,
                      "⚠️ The platform would not describe this channel (lookup failed); this "
                      "message was not answered — send it again in a minute.",
                      RATELIMIT_FINAL_TEXT, NULL, NULL, NULL);
        }
        log_warn("engine", "%s: message %s in unresolved channel %s not answered", ci->name,
                 m->message_id ? m->message_id : "?", m->channel_id ? m->channel_id : "?");
        return 0;
    }
    if ((rc = policy_decide(ci->policy, ci->name, m, uv_now(e->loop), &d)) < 0)
        return rc;
    switch (d.verdict) {
    case POLICY_IGNORE:
        e->stats.ignored++;
        log_debug("engine", "%s: ignored message %s: %s", ci->name,
                  m->message_id ? m->message_id : "?", d.reason);
        return 0;
    case POLICY_DENY_USER:
        e->stats.denied++;
        log_info("engine", "%s: user %s is not allowed (%s)", ci->name, m->sender_id, d.reason);
        if (ci->can_react && *e->cfg.emojis.deny)
            chat_react(ci, &(struct ab_msg_ref){m->channel_id, m->message_id}, e->cfg.emojis.deny,
                       true, NULL, NULL, NULL);
        return 0;
    case POLICY_BOT_CAP_NOTICE:
        e->stats.ignored++;
        chat_send(ci, m->is_thread && m->parent_id ? m->parent_id : m->channel_id, m->thread_id,
                  "⚠️ Bot turn limit reached in this thread; a human message resets it.",
                  RATELIMIT_FINAL_TEXT, NULL, NULL, NULL);
        return 0;
    case POLICY_ACCEPT:
    default: break;
    }
    return engine_accept_decided(e, ci, m, &d, recorded, arg);
}

/* Queue accepted message @m (policy verdict @d) in its conversation, opening a thread
 * for a new one: 1 when queued (and @recorded taken), 0 when refused with a line. */
static int
engine_accept_decided(struct engine *e, struct chat_instance *ci, const struct ab_inbound *m,
                      const struct policy_decision *d, void (*recorded)(void *arg, int status),
                      void *arg)
{
    struct conversation *c;
    struct pending *p, **tail;
    const char *channel, *thread;
    int rc;

    e->stats.accepted++;
    channel = m->is_thread && m->parent_id ? m->parent_id : m->channel_id;
    thread = m->is_thread ? m->thread_id : NULL;
    if (commands_is_command(m->clean_text ? m->clean_text : m->text)) {
        /* A command acts on this place's conversation and never reaches the agent. */
        e->stats.commands++;
        return commands_run(e, ci, d->key, channel, thread, NULL,
                            m->clean_text ? m->clean_text : m->text);
    }
    if (!(c = engine_conversation(e, ci, d->key, channel, thread)))
        return AB_ENOMEM;
    c->is_multibot = d->is_multibot;
    if (e->is_draining) {
        engine_post_notice(c,
                           "⚠️ agent-broker is restarting; this message was not answered — "
                           "send it again in a minute.");
        e->stats.rejected++;
        return 0;
    }
    if (c->queued >= ENGINE_QUEUE_CAP) {
        char line[256];
        snprintf(line, sizeof(line),
                 "⚠️ Queue full (%d messages waiting); this message was not sent to the agent "
                 "— send it again when the current reply is done.",
                 ENGINE_QUEUE_CAP);
        engine_post_notice(c, line);
        e->stats.rejected++;
        return 0;
    }
    if (!(p = engine_pending(e, ci, m, c->key)))
        return AB_ENOMEM;
    if (c->agent == SIZE_MAX)
        engine_route(e, c, m, p);
    if ((rc = engine_fetch(c, p, m)) < 0) {
        pending_free(p);
        return rc;
    }
    for (tail = &c->queue; *tail; tail = &(*tail)->next)
        ;
    *tail = p;
    c->queued++;
    e->nqueued++;
    e->stats.enqueued++;
    /* The record is made in memory now; the journal writes it at the next loop turn,
     * after the prompt below went to the agent (see engine_kick_first). */
    engine_record(e, c, p, m, recorded, arg);
    if (d->opens_thread && !c->turn && !c->reply_thread && ci->can_thread) {
        char *name = NULL;
        if (p->rx)
            reactions_queued(&p->rx->r); /* 👀 the moment it is accepted, before the thread */
        c->is_opening_thread = true;
        e->nopening++;
        thread_name_from_prompt(p->text, &name);
        rc = chat_open_thread(ci, &(struct ab_msg_ref){m->channel_id, m->message_id},
                              name ? name : "agent-broker", &c->chat, engine_thread_opened, c);
        free(name);
        if (rc < 0)
            engine_thread_opened(c, rc, NULL);
        return 1;
    }
    engine_kick_first(c, p);
    return 1;
}

/* A native command invocation: the same policy as a message typed there, then the
 * command; every outcome is answered through the plugin's reply handle. */
int
engine_command(struct engine *e, struct chat_instance *ci, const struct ab_command_event *ev)
{
    struct policy_decision d;
    const struct ab_inbound *m = ev->where;
    const char *channel, *thread;
    char line[512];
    int rc;

    if (!ci->ops->command_reply)
        return AB_ENOTSUP; /* nothing to answer through: the plugin answers itself */
    e->stats.received++;
    if ((rc = policy_decide(ci->policy, ci->name, m, uv_now(e->loop), &d)) < 0)
        return rc;
    if (d.verdict == POLICY_DENY_USER) {
        e->stats.denied++;
        log_info("engine", "%s: command from %s refused: not an allowed user", ci->name,
                 m->sender_id ? m->sender_id : "?");
        commands_answer(ci, ev->reply_token, "🚫 You are not allowed to use this bot.");
        return 0;
    }
    if (d.verdict != POLICY_ACCEPT) {
        e->stats.ignored++;
        commands_answer(ci, ev->reply_token, "Commands are not answered here.");
        return 0;
    }
    e->stats.accepted++;
    e->stats.commands++;
    channel = m->is_thread && m->parent_id ? m->parent_id : m->channel_id;
    thread = m->is_thread ? m->thread_id : NULL;
    snprintf(line, sizeof(line), "/%s %s", ev->name, ev->args ? ev->args : "");
    if (!commands_is_command(line))
        snprintf(line, sizeof(line), "/?");
    return commands_run(e, ci, d.key, channel ? channel : "", thread, ev->reply_token, line);
}

/* True when @user may act in @ci (cancel, answer questions): the same allowlist as
 * for messages. */
static bool
engine_user_allowed(struct chat_instance *ci, const char *user)
{
    return user && policy_user_allowed(ci->policy, user);
}

/* May @user answer a permission question? [permissions] approvers when set, else the
 * allowed users. */
static bool
engine_user_approves(struct engine *e, struct chat_instance *ci, const char *user)
{
    if (!e->cfg.napprovers)
        return engine_user_allowed(ci, user);
    for (size_t i = 0; i < e->cfg.napprovers; i++)
        if (strcmp(e->cfg.approvers[i], user) == 0)
            return true;
    return false;
}

/* Act on a reaction to a message of @c's running turn. */
static void
engine_reaction_act(struct conversation *c, const struct ab_reaction_event *ev, bool is_cancel)
{
    struct chat_instance *ci = c->ci;

    if (!is_cancel && turn_is_question(c->turn, ev->msg.message_id)) {
        if (!engine_user_approves(c->e, ci, ev->user_id)) {
            log_info("engine", "%s: answer from %s ignored: not an approver", c->key, ev->user_id);
            return;
        }
        turn_answer_ask(c->turn, ev->msg.message_id, ev->emoji, ev->user_id);
        return;
    }
    if (!engine_user_allowed(ci, ev->user_id)) {
        log_info("engine", "%s: reaction from %s ignored: not an allowed user", c->key,
                 ev->user_id ? ev->user_id : "?");
        return;
    }
    if (is_cancel) {
        log_info("engine", "%s: cancelled by %s", c->key, ev->user_id);
        turn_cancel(c->turn);
    }
}

/* An emoji left NULL is "": never matched, never sent, and safe to print. */
static void
engine_emojis_fill(struct engine_emojis *em)
{
    const char **all[] = {&em->cancel, &em->deny, &em->allow_once, &em->allow_always, &em->reject};

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (!*all[i])
            *all[i] = "";
}

/* The variation selector U+FE0F that asks for the emoji presentation of a glyph. */
#define EMOJI_VS16 "\xEF\xB8\x8F"

/* A glyph without a trailing VS16: its length. */
static size_t
engine_emoji_len(const char *s)
{
    size_t n = strlen(s), vs = sizeof(EMOJI_VS16) - 1;

    return n >= vs && memcmp(s + n - vs, EMOJI_VS16, vs) == 0 ? n - vs : n;
}

/* See engine_priv.h. */
bool
engine_emoji_is(const char *got, const char *want)
{
    size_t n;

    if (!got || !want || !*want)
        return false;
    n = engine_emoji_len(want);
    return engine_emoji_len(got) == n && memcmp(got, want, n) == 0;
}

/* A user's reaction: 🛑 on the user's message, the live reply or a question cancels
 * the turn; ✅ ♾️ ❌ on a question answer it. Only allowed users decide: the check
 * comes before anything is done. */
int
engine_reaction(struct engine *e, struct chat_instance *ci, const struct ab_reaction_event *ev)
{
    struct conversation *c;
    bool is_cancel;

    if (!ev->added || !ev->msg.message_id || !ev->emoji || !ev->user_id || !*ev->user_id)
        return 0;
    if (ev->is_self) /* the host hands over a full-size copy */
        return 0;    /* our own ✅ ♾️ ❌ offers must not answer our own questions */
    is_cancel = engine_emoji_is(ev->emoji, e->cfg.emojis.cancel);
    /* Only running turns own messages: the conversation named by the event, or else
     * the running ones (as many as the pool runs turns, never every conversation). */
    if (ev->conversation) {
        char key[512];
        snprintf(key, sizeof(key), "%s:%s", ci->name, ev->conversation);
        c = engine_find(e, key);
        if (c && c->ci == ci && c->turn && turn_owns_message(c->turn, ev->msg.message_id))
            engine_reaction_act(c, ev, is_cancel);
        return 0;
    }
    for (c = e->running; c; c = c->run_next) {
        if (c->ci == ci && c->turn && turn_owns_message(c->turn, ev->msg.message_id)) {
            engine_reaction_act(c, ev, is_cancel);
            return 0;
        }
    }
    return 0;
}

/* Turn and first-reply latency buckets, seconds: agents answer in seconds to tens of
 * minutes; the first text usually comes within seconds. */
static const double engine_turn_buckets[] = {1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800};
static const double engine_first_reply_buckets[] = {0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120};

/* Free the agents' names and the routes. */
static void
engine_agents_free(struct engine *e)
{
    for (size_t i = 0; i < e->nagents; i++)
        free(e->agents[i].name);
    free(e->agents);
    e->agents = NULL;
    e->nagents = 0;
    route_table_free(&e->routes);
}

/* See engine.h. */
int
engine_add_agent(struct engine *e, const char *name, struct pool *pool, const char *auth_hint,
                 enum ab_tool_class (*classify_tool)(const char *kind, const char *title))
{
    struct engine_agent *grown;

    if (engine_agent_index(e, name) < e->nagents)
        return AB_EEXIST;
    if (!(grown = realloc(e->agents, (e->nagents + 1) * sizeof(*grown))))
        return AB_ENOMEM;
    e->agents = grown;
    grown[e->nagents] =
        (struct engine_agent){.pool = pool, .auth_hint = auth_hint, .classify_tool = classify_tool};
    if (!(grown[e->nagents].name = strdup(name)))
        return AB_ENOMEM;
    e->nagents++;
    return 0;
}

/* See engine.h. */
int
engine_add_route(struct engine *e, const char *channel, const char *role, const char *agent)
{
    size_t i = engine_agent_index(e, agent);

    if (i >= e->nagents || !channel == !role)
        return i >= e->nagents ? AB_ENOENT : AB_EINVAL;
    return route_add(&e->routes, channel, role, i);
}

/* See engine.h. */
int
engine_set_fallback(struct engine *e, const char *agent)
{
    size_t i = engine_agent_index(e, agent);

    if (i >= e->nagents)
        return AB_ENOENT;
    e->fallback = i;
    return 0;
}

/* See engine.h. */
int
engine_set_agent(struct engine *e, struct chat_instance *ci, const char *conversation,
                 const char *agent)
{
    char key[512];
    struct conversation *c;

    snprintf(key, sizeof(key), "%s:%s", ci->name, conversation);
    if (!(c = engine_find(e, key)) || c->ci != ci)
        return AB_ENOENT;
    return engine_conv_set_agent(c, agent);
}

/* See engine_priv.h. */
int
engine_conv_set_agent(struct conversation *c, const char *agent)
{
    struct engine *e = c->e;
    size_t i = engine_agent_index(e, agent);

    if (i >= e->nagents)
        return AB_ENOENT;
    if (c->turn || c->is_waiting)
        return AB_EAGAIN;
    if (c->agent == i)
        return 0;
    if (c->agent == SIZE_MAX) { /* not routed yet: its first message was refused */
        c->agent = i;
        return 0;
    }
    /* The old agent forgets the conversation: the pool that knows a key is its agent. */
    if (pool_reset(engine_conv_agent(c)->pool, c->key) == AB_EAGAIN)
        return AB_EAGAIN;
    log_info("engine", "%s: now talks to agent %s", c->key, e->agents[i].name);
    c->agent = i;
    return 0;
}

/* See engine.h. */
const char *
engine_agent_of(struct engine *e, struct chat_instance *ci, const char *conversation)
{
    char key[512];
    struct conversation *c;

    snprintf(key, sizeof(key), "%s:%s", ci->name, conversation);
    c = engine_find(e, key);
    return c && c->ci == ci ? e->agents[c->agent].name : NULL;
}

/* See engine.h. */
void
engine_agent_stats(const struct engine *e, size_t i, const char **name, struct pool **pool,
                   uint64_t *turns, uint64_t *turn_errors)
{
    *name = e->agents[i].name;
    *pool = e->agents[i].pool;
    *turns = e->agents[i].turns;
    *turn_errors = e->agents[i].turn_errors;
}

/* See engine.h. */
size_t
engine_agent_count(const struct engine *e)
{
    return e->nagents;
}

/* Create the engine. */
int
engine_new(uv_loop_t *loop, struct pool *pool, const struct engine_config *cfg, struct engine **out)
{
    struct engine *e = calloc(1, sizeof(*e));
    int rc;

    if (!e)
        return AB_ENOMEM;
    metrics_histogram_init(&e->stats.turn_seconds, engine_turn_buckets,
                           sizeof(engine_turn_buckets) / sizeof(engine_turn_buckets[0]));
    metrics_histogram_init(&e->stats.first_reply_seconds, engine_first_reply_buckets,
                           sizeof(engine_first_reply_buckets) /
                               sizeof(engine_first_reply_buckets[0]));
    e->loop = loop;
    e->cfg = *cfg;
    if ((rc = engine_add_agent(e, "default", pool, NULL, NULL)) < 0)
        goto fail;
    engine_emojis_fill(&e->cfg.emojis);
    e->nbuckets = ENGINE_BUCKETS_MIN;
    clock_timer_init(&e->sweep);
    if (!(e->buckets = calloc(e->nbuckets, sizeof(*e->buckets)))) {
        rc = AB_ENOMEM;
        goto fail;
    }
    if ((rc = clock_new_uv(loop, &e->clock)) < 0)
        goto fail;
    if ((rc = ratelimit_new(e->clock, NULL, &e->rl)) < 0)
        goto fail_clock;
    *out = e;
    return 0;

fail_clock:
    clock_close(e->clock);
fail:
    free(e->buckets);
    engine_agents_free(e);
    free(e);
    return rc;
}

/* New settings from a reload. */
void
engine_set_config(struct engine *e, const struct engine_config *cfg)
{
    e->cfg = *cfg;
}

/* The engine's clock. */
struct clock *
engine_clock(struct engine *e)
{
    return e->clock;
}

/* The engine's scheduler. */
struct ratelimit *
engine_ratelimit(struct engine *e)
{
    return e->rl;
}

/* Remember a chat instance. */
int
engine_add_chat(struct engine *e, struct chat_instance *ci)
{
    struct chat_instance **grown = realloc(e->chats, (e->nchats + 1) * sizeof(*grown));

    if (!grown)
        return AB_ENOMEM;
    e->chats = grown;
    e->chats[e->nchats++] = ci;
    ci->rl = e->rl;
    ci->loop = e->loop;
    chat_rate_setup(ci); /* a malformed rule is logged and skipped */
    return 0;
}

/* One pool has no turn left; after the last, the drain's caller hears. */
static void
engine_pool_drained(void *arg)
{
    struct engine *e = arg;

    if (e->draining > 0 && --e->draining == 0 && e->drained)
        e->drained(e->drained_arg);
}

/* Stop taking turns; every queued message is told; running turns drain in the pools. */
void
engine_drain(struct engine *e, uint64_t timeout_ms, void (*done)(void *arg), void *arg)
{
    e->is_draining = true;
    while (e->waiting)
        engine_unwait(e->waiting);
    for (size_t b = 0; b < e->nbuckets; b++) {
        for (struct conversation *c = e->buckets[b]; c; c = c->next)
            if (c->queue)
                engine_refuse_queue(c, "⚠️ agent-broker is shutting down; the messages waiting "
                                       "here were not answered — send them again in a minute.");
    }
    e->drained = done;
    e->drained_arg = arg;
    e->draining = e->nagents;
    for (size_t i = 0; i < e->nagents; i++)
        pool_drain(e->agents[i].pool, timeout_ms, engine_pool_drained, e);
}

/* Use @j for acceptance records. */
void
engine_set_journal(struct engine *e, struct journal *j)
{
    e->journal = j;
}

/* The line about a recovered message was posted (or could not be): forget it. */
static void
engine_recovered_sent(void *arg, int status, const struct ab_msg_ref *ref)
{
    struct engine_recovery *r = arg;

    (void)ref;
    if (status < 0)
        log_warn("engine", "cannot post the restart line for message %s", r->message_id);
    struct engine_recovery **link;

    if (r->e->journal)
        journal_done(r->e->journal, r->id);
    for (link = &r->e->recoveries; *link && *link != r; link = &(*link)->next)
        ;
    if (*link)
        *link = r->next;
    free(r->message_id);
    free(r);
}

/* Mark one known message as seen by @ci's policy. */
static void
engine_seen(void *arg, const char *event_id, const char *channel_id, const char *message_id)
{
    struct chat_instance *ci = arg;

    policy_remember(ci->policy, ci->name, event_id, channel_id, message_id);
}

/* Whether recovered entry @je may be answered in @ci: it passes the policy a live
 * message passes (channels, users, DMs, the bot gate; judged as a mention, which is
 * what made it accepted), belongs to one of @ci's conversations, and its reply goes
 * where the message is. The journal lives where the agent's uid can write. */
static bool
engine_recovery_allowed(struct chat_instance *ci, const struct journal_entry *je, uint64_t now)
{
    const char *where = je->is_thread ? je->parent_id : je->channel_id;
    size_t n = strlen(ci->name);
    struct policy_decision d;
    struct ab_inbound m = {
        .size = sizeof(m),
        .conversation =
            je->conversation +
            (strncmp(je->conversation, ci->name, n) == 0 && je->conversation[n] == ':' ? n + 1 : 0),
        .channel_id = je->channel_id,
        .parent_id = je->parent_id,
        .message_id = je->message_id,
        .event_id = je->event_id,
        .sender_id = je->sender_id,
        .text = "",
        .is_thread = je->is_thread,
        .is_dm = je->is_dm,
        .is_bot = je->is_bot,
        .mentions_bot = true,
        .is_human_turn = true,
        .thread_id = je->is_thread ? je->reply_thread : NULL,
    };

    if (!where || strcmp(je->reply_channel, where) != 0) {
        log_warn("engine",
                 "%s: recovered message %s: its reply would go to %s, not where it "
                 "was posted: dropped",
                 ci->name, je->message_id, je->reply_channel);
        return false;
    }
    if (m.conversation == je->conversation) {
        log_warn("engine",
                 "%s: recovered message %s names conversation %s of another "
                 "platform: dropped",
                 ci->name, je->message_id, je->conversation);
        return false;
    }
    if (policy_decide(ci->policy, ci->name, &m, now, &d) < 0 || d.verdict != POLICY_ACCEPT ||
        strcmp(d.key, je->conversation) != 0) {
        log_warn("engine",
                 "%s: recovered message %s (user %s in %s) is not one the policy "
                 "accepts (%s): dropped",
                 ci->name, je->message_id, je->sender_id, where,
                 d.verdict == POLICY_ACCEPT ? "another conversation" : d.reason);
        return false;
    }
    return true;
}

/* Tell the users of @ci about messages a previous process never answered. */
void
engine_recover(struct engine *e, struct chat_instance *ci)
{
    const struct journal_entry *je, *next;
    size_t n = 0;

    if (!e->journal)
        return;
    /* Judge every entry before marking the journal's messages as seen (the policy would
     * then take each for a duplicate). */
    for (je = journal_recovered(e->journal); je; je = next) {
        next = je->next;
        if (je->is_recovered && strcmp(je->platform, ci->name) == 0 &&
            !engine_recovery_allowed(ci, je, uv_now(e->loop)))
            journal_drop(e->journal, je->id);
    }
    journal_each_known(e->journal, ci->name, engine_seen, ci);
    for (je = journal_recovered(e->journal); je; je = next) {
        struct engine_recovery *r;
        next = je->next;
        if (!je->is_recovered || strcmp(je->platform, ci->name) != 0)
            continue;
        if (!(r = calloc(1, sizeof(*r))) || !(r->message_id = strdup(je->message_id))) {
            free(r);
            continue;
        }
        r->e = e;
        r->id = je->id;
        if (ci->can_react && e->cfg.reactions.emojis.error)
            chat_react(ci, &(struct ab_msg_ref){je->channel_id, je->message_id},
                       e->cfg.reactions.emojis.error, true, NULL, NULL, NULL);
        if (chat_send(ci, je->reply_channel, je->reply_thread, ENGINE_RESTART_LINE,
                      RATELIMIT_FINAL_TEXT, &r->owner, engine_recovered_sent, r) < 0) {
            free(r->message_id);
            free(r);
            continue;
        }
        r->next = e->recoveries;
        e->recoveries = r;
        n++;
    }
    if (n)
        log_warn("engine",
                 "%s: %zu message(s) accepted before a restart were never answered; "
                 "their threads are told",
                 ci->name, n);
}

/* Call @idle once nothing runs or waits. */
void
engine_when_idle(struct engine *e, void (*idle)(void *arg), void *arg)
{
    e->idle = idle;
    e->idle_arg = arg;
    engine_check_idle(e);
}

/* Counters for /metrics. */
void
engine_get_stats(const struct engine *e, struct engine_stats *out)
{
    *out = e->stats;
    out->conversations = (uint32_t)e->nconvs;
    out->waiting = (uint32_t)e->nwaiting;
    out->running = e->nrunning;
    out->queued = e->nqueued;
    out->status_reactions = 0;
    for (const struct status_reactions *rx = e->rxs; rx; rx = rx->next)
        out->status_reactions++;
}

/* Free everything. */
void
engine_free(struct engine *e)
{
    if (!e)
        return;
    while (e->recoveries) { /* restart lines still in flight: told nothing more */
        struct engine_recovery *r = e->recoveries;
        e->recoveries = r->next;
        chat_owner_detach(&r->owner);
        free(r->message_id);
        free(r);
    }
    for (size_t b = 0; b < e->nbuckets; b++) {
        struct conversation *c, *next;
        for (c = e->buckets[b]; c; c = next) {
            next = c->next;
            if (c->turn)
                turn_abandon(c->turn);
            conversation_free(c);
        }
    }
    while (e->rxs)
        status_reactions_free(e->rxs);
    clock_timer_stop(&e->sweep);
    for (size_t i = 0; i < e->nchats; i++) /* the plugins' own calls end with the scheduler */
        host_set_scheduler(e->chats[i]->host, NULL, NULL);
    ratelimit_close(e->rl);
    clock_close(e->clock);
    free(e->buckets);
    free(e->chats);
    engine_agents_free(e);
    free(e);
}
