/* Outbound scheduling: one FIFO per priority per bucket, one request in flight per
 * bucket, buckets kept in a hash table and released when idle. */
#include "engine/ratelimit.h"

#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#define RATELIMIT_PRIORITIES 3
#define RATELIMIT_MAX_RULES 32

struct ratelimit_bucket;

/* One submitted request, from submit until finished. */
struct ratelimit_call {
    struct ratelimit_call *prev, *next; /* in the bucket's queue of its priority */
    struct ratelimit_bucket *bucket;    /* lent: the bucket holding it */
    enum ratelimit_priority priority;
    enum ratelimit_coalesce coalesce;
    char *coalesce_key; /* owned; NULL when coalesce is NONE */
    ratelimit_perform_fn perform;
    ratelimit_finished_fn finished;
    void *arg;             /* lent by the submitter */
    uint32_t failures;     /* 5xx / network errors so far */
    uint32_t rate_limited; /* 429s so far */
    struct backoff backoff;
};

struct ratelimit_queue {
    struct ratelimit_call *head, *tail;
};

struct ratelimit_bucket {
    struct ratelimit_bucket *hash_next; /* chain in the table */
    struct ratelimit *rl;               /* lent: the owner */
    char *key;                          /* owned */
    struct ratelimit_queue queues[RATELIMIT_PRIORITIES];
    size_t queued;
    struct ratelimit_call *in_flight; /* owned while performed */
    unsigned busy;                    /* nested operations: never free while > 0 */
    bool is_pumping;
    bool has_started;
    uint64_t last_start_ms;
    uint64_t blocked_until_ms; /* a 429 or a retry's backoff */
    int64_t remaining;         /* from the platform; -1 unknown */
    uint64_t reset_at_ms;      /* when remaining refills */
    uint64_t min_spacing_ms;
    struct clock_timer timer; /* wakes the bucket when it may send again */
};

struct ratelimit_rule {
    char *prefix; /* owned */
    struct ratelimit_bucket_opts opts;
};

struct ratelimit {
    struct clock *clock; /* lent */
    struct ratelimit_config cfg;
    uint64_t seed;                   /* state of the default jitter source */
    struct ratelimit_bucket **table; /* owned chains */
    size_t table_size;               /* a power of two */
    struct ratelimit_rule rules[RATELIMIT_MAX_RULES];
    size_t rule_count;
    uint64_t global_until_ms;
    bool is_closed;
    bool is_closing; /* inside ratelimit_close: never free the scheduler yet */
    struct ratelimit_stats stats;
};

/* The documented defaults. */
struct ratelimit_config
ratelimit_config_default(void)
{
    return (struct ratelimit_config){
        .bucket_queue_cap = 64,
        .max_attempts = 4,
        .max_rate_limited = 8,
        .backoff_base_ms = 500,
        .backoff_cap_ms = 30000,
        .default_retry_after_ms = 1000,
        .rand_seed = 0x5DEECE66DULL,
    };
}

/* FNV-1a of a bucket key. */
static size_t
ratelimit_hash(const char *key)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *key; key++)
        h = (h ^ (unsigned char)*key) * 1099511628211ULL;
    return (size_t)h;
}

/* A scheduler with an empty bucket table. */
int
ratelimit_new(struct clock *clock, const struct ratelimit_config *cfg, struct ratelimit **out)
{
    struct ratelimit *rl;
    int rc = AB_EINVAL;

    if (!clock || !out)
        goto fail;
    struct ratelimit_config c = cfg ? *cfg : ratelimit_config_default();
    if (c.bucket_queue_cap == 0 || c.max_attempts == 0 || c.backoff_base_ms == 0 ||
        c.backoff_cap_ms < c.backoff_base_ms)
        goto fail;
    rc = AB_ENOMEM;
    if (!(rl = calloc(1, sizeof(*rl))))
        goto fail;
    rl->table_size = 64;
    if (!(rl->table = calloc(rl->table_size, sizeof(*rl->table))))
        goto fail_rl;
    rl->clock = clock;
    rl->cfg = c;
    rl->seed = c.rand_seed;
    if (!rl->cfg.rand) {
        rl->cfg.rand = backoff_rand_xorshift;
        rl->cfg.rand_state = &rl->seed;
    }
    *out = rl;
    return 0;

fail_rl:
    free(rl);
fail:
    return rc;
}

/* The options of the longest rule prefixing @key, or none. */
static struct ratelimit_bucket_opts
ratelimit_opts_for(const struct ratelimit *rl, const char *key)
{
    struct ratelimit_bucket_opts opts = {0};
    size_t best = 0;

    for (size_t i = 0; i < rl->rule_count; i++) {
        size_t n = strlen(rl->rules[i].prefix);
        if (n >= best && strncmp(key, rl->rules[i].prefix, n) == 0) {
            best = n;
            opts = rl->rules[i].opts;
        }
    }
    return opts;
}

/* Set or replace the options of a key prefix and apply them to live buckets. */
int
ratelimit_set_bucket_opts(struct ratelimit *rl, const char *prefix,
                          const struct ratelimit_bucket_opts *opts)
{
    size_t i;

    if (!rl || !prefix || !opts)
        return AB_EINVAL;
    for (i = 0; i < rl->rule_count; i++) {
        if (strcmp(rl->rules[i].prefix, prefix) == 0)
            break;
    }
    if (i == rl->rule_count) {
        if (i == RATELIMIT_MAX_RULES)
            return AB_EFULL;
        if (!(rl->rules[i].prefix = strdup(prefix)))
            return AB_ENOMEM;
        rl->rule_count++;
    }
    rl->rules[i].opts = *opts;
    for (size_t s = 0; s < rl->table_size; s++) {
        for (struct ratelimit_bucket *b = rl->table[s]; b; b = b->hash_next)
            b->min_spacing_ms = ratelimit_opts_for(rl, b->key).min_spacing_ms;
    }
    return 0;
}

/* The bucket of @key, or NULL. */
static struct ratelimit_bucket *
ratelimit_bucket_find(const struct ratelimit *rl, const char *key)
{
    struct ratelimit_bucket *b = rl->table[ratelimit_hash(key) & (rl->table_size - 1)];

    while (b && strcmp(b->key, key) != 0)
        b = b->hash_next;
    return b;
}

/* Double the table when buckets outnumber slots; failure just keeps longer chains. */
static void
ratelimit_table_grow(struct ratelimit *rl)
{
    size_t size = rl->table_size * 2;
    struct ratelimit_bucket **table = calloc(size, sizeof(*table));

    if (!table)
        return;
    for (size_t s = 0; s < rl->table_size; s++) {
        struct ratelimit_bucket *b = rl->table[s];
        while (b) {
            struct ratelimit_bucket *next = b->hash_next;
            size_t slot = ratelimit_hash(b->key) & (size - 1);
            b->hash_next = table[slot];
            table[slot] = b;
            b = next;
        }
    }
    free(rl->table);
    rl->table = table;
    rl->table_size = size;
}

/* The bucket of @key, created with its rule's options when new. */
static int
ratelimit_bucket_get(struct ratelimit *rl, const char *key, struct ratelimit_bucket **out)
{
    struct ratelimit_bucket *b = ratelimit_bucket_find(rl, key);

    if (b) {
        *out = b;
        return 0;
    }
    if (!(b = calloc(1, sizeof(*b))))
        return AB_ENOMEM;
    if (!(b->key = strdup(key))) {
        free(b);
        return AB_ENOMEM;
    }
    b->rl = rl;
    b->remaining = -1;
    b->min_spacing_ms = ratelimit_opts_for(rl, key).min_spacing_ms;
    clock_timer_init(&b->timer);
    if (rl->stats.buckets >= rl->table_size)
        ratelimit_table_grow(rl);
    size_t slot = ratelimit_hash(key) & (rl->table_size - 1);
    b->hash_next = rl->table[slot];
    rl->table[slot] = b;
    rl->stats.buckets++;
    *out = b;
    return 0;
}

/* Unlink @b from the table and free it; its queues are empty. */
static void
ratelimit_bucket_free(struct ratelimit_bucket *b)
{
    struct ratelimit *rl = b->rl;
    struct ratelimit_bucket **p = &rl->table[ratelimit_hash(b->key) & (rl->table_size - 1)];

    while (*p != b)
        p = &(*p)->hash_next;
    *p = b->hash_next;
    clock_timer_stop(&b->timer);
    rl->stats.buckets--;
    free(b->key);
    free(b);
}

/* Free the whole scheduler once closed and every bucket is gone. */
static void
ratelimit_free_if_done(struct ratelimit *rl)
{
    if (!rl->is_closed || rl->is_closing || rl->stats.buckets > 0)
        return;
    for (size_t i = 0; i < rl->rule_count; i++)
        free(rl->rules[i].prefix);
    free(rl->table);
    free(rl);
}

/* Link @call between @prev and @next (NULL at either end) in @q. */
static void
ratelimit_queue_link(struct ratelimit_queue *q, struct ratelimit_call *call,
                     struct ratelimit_call *prev, struct ratelimit_call *next)
{
    call->prev = prev;
    call->next = next;
    if (prev)
        prev->next = call;
    else
        q->head = call;
    if (next)
        next->prev = call;
    else
        q->tail = call;
}

/* Append @call to its priority's queue (or put it first, for a retry). */
static void
ratelimit_queue_push(struct ratelimit_bucket *b, struct ratelimit_call *call, bool at_head)
{
    struct ratelimit_queue *q = &b->queues[call->priority];

    call->bucket = b;
    if (at_head)
        ratelimit_queue_link(q, call, NULL, q->head);
    else
        ratelimit_queue_link(q, call, q->tail, NULL);
    b->queued++;
    b->rl->stats.queued++;
}

/* Put @call where @old is in its queue (same priority), taking @old out. */
static void
ratelimit_queue_swap(struct ratelimit_bucket *b, struct ratelimit_call *old,
                     struct ratelimit_call *call)
{
    call->bucket = b;
    ratelimit_queue_link(&b->queues[old->priority], call, old->prev, old->next);
}

/* Take @call out of its bucket's queue. */
static void
ratelimit_queue_remove(struct ratelimit_bucket *b, struct ratelimit_call *call)
{
    struct ratelimit_queue *q = &b->queues[call->priority];

    if (call->prev)
        call->prev->next = call->next;
    else
        q->head = call->next;
    if (call->next)
        call->next->prev = call->prev;
    else
        q->tail = call->prev;
    b->queued--;
    b->rl->stats.queued--;
}

/* Report @status to the submitter and free the request. It is in no queue. */
static void
ratelimit_finish(struct ratelimit_call *call, int status)
{
    ratelimit_finished_fn finished = call->finished;
    void *arg = call->arg;

    free(call->coalesce_key);
    free(call);
    if (finished)
        finished(arg, status);
}

static uint64_t ratelimit_bucket_ready_ms(struct ratelimit_bucket *b, uint64_t now);
static void ratelimit_bucket_timer_fired(void *arg);
static void ratelimit_bucket_pump(struct ratelimit_bucket *b);

/* Release @b when nothing needs it: no work, no operation running, and no platform
 * state that still matters (a pause, an empty window or the spacing still running). */
static void
ratelimit_bucket_release_if_idle(struct ratelimit_bucket *b)
{
    struct ratelimit *rl = b->rl;

    if (b->busy > 0 || b->is_pumping || b->in_flight || b->queued > 0 ||
        clock_timer_is_active(&b->timer))
        return;
    if (!rl->is_closed) {
        uint64_t now = clock_now_ms(rl->clock);
        uint64_t ready = ratelimit_bucket_ready_ms(b, now);
        if (ready > now) {
            /* Keep the pause or spacing in force; look again when it ends. */
            clock_timer_start(rl->clock, &b->timer, ready - now, ratelimit_bucket_timer_fired, b);
            return;
        }
    }
    ratelimit_bucket_free(b);
    ratelimit_free_if_done(rl);
}

/* The bucket's wait ended. */
static void
ratelimit_bucket_timer_fired(void *arg)
{
    struct ratelimit_bucket *b = arg;

    ratelimit_bucket_pump(b);
    ratelimit_bucket_release_if_idle(b);
}

/* The earliest time @b may start its next request. */
static uint64_t
ratelimit_bucket_ready_ms(struct ratelimit_bucket *b, uint64_t now)
{
    uint64_t ready = b->blocked_until_ms;

    if (b->rl->global_until_ms > ready)
        ready = b->rl->global_until_ms;
    if (b->has_started && b->last_start_ms + b->min_spacing_ms > ready)
        ready = b->last_start_ms + b->min_spacing_ms;
    if (b->remaining == 0) {
        if (b->reset_at_ms > now) {
            if (b->reset_at_ms > ready)
                ready = b->reset_at_ms;
        } else {
            b->remaining = -1; /* the window reset: unknown until the next report */
        }
    }
    return ready;
}

/* The highest-priority queued request of @b, or NULL. */
static struct ratelimit_call *
ratelimit_bucket_first(const struct ratelimit_bucket *b)
{
    for (int p = RATELIMIT_PRIORITIES - 1; p >= 0; p--) {
        if (b->queues[p].head)
            return b->queues[p].head;
    }
    return NULL;
}

/* Start requests while the bucket may send; otherwise sleep until it may. A call done
 * synchronously inside perform lands here again and is picked up by the loop. */
static void
ratelimit_bucket_pump(struct ratelimit_bucket *b)
{
    struct ratelimit *rl = b->rl;

    if (b->is_pumping || rl->is_closed)
        return;
    b->is_pumping = true;
    while (!b->in_flight && b->queued > 0) {
        uint64_t now = clock_now_ms(rl->clock);
        uint64_t ready = ratelimit_bucket_ready_ms(b, now);
        if (ready > now) {
            clock_timer_start(rl->clock, &b->timer, ready - now, ratelimit_bucket_timer_fired, b);
            break;
        }
        clock_timer_stop(&b->timer);
        struct ratelimit_call *call = ratelimit_bucket_first(b);
        ratelimit_queue_remove(b, call);
        b->in_flight = call;
        rl->stats.in_flight++;
        b->has_started = true;
        b->last_start_ms = now;
        if (b->remaining > 0)
            b->remaining--;
        call->perform(call->arg, call);
    }
    b->is_pumping = false;
}

/* A queued request of @b that a newer one with @key and @mode relates to, or NULL. */
static struct ratelimit_call *
ratelimit_find_coalescible(const struct ratelimit_bucket *b, enum ratelimit_coalesce mode,
                           const char *key)
{
    for (int p = 0; p < RATELIMIT_PRIORITIES; p++) {
        for (struct ratelimit_call *c = b->queues[p].head; c; c = c->next) {
            if (c->coalesce == RATELIMIT_COALESCE_NONE || strcmp(c->coalesce_key, key) != 0)
                continue;
            bool is_pair = mode != RATELIMIT_COALESCE_REPLACE;
            if (is_pair == (c->coalesce != RATELIMIT_COALESCE_REPLACE))
                return c;
        }
    }
    return NULL;
}

/* The oldest queued coalescible request of the lowest priority, or NULL. */
static struct ratelimit_call *
ratelimit_find_victim(const struct ratelimit_bucket *b)
{
    for (int p = 0; p < RATELIMIT_PRIORITIES; p++) {
        for (struct ratelimit_call *c = b->queues[p].head; c; c = c->next) {
            if (c->coalesce != RATELIMIT_COALESCE_NONE)
                return c;
        }
    }
    return NULL;
}

/* Build a request record from @req, with its own copy of the coalesce key. */
static int
ratelimit_call_new(const struct ratelimit *rl, const struct ratelimit_req *req,
                   struct ratelimit_call **out)
{
    struct ratelimit_call *call = calloc(1, sizeof(*call));

    if (!call)
        return AB_ENOMEM;
    if (req->coalesce != RATELIMIT_COALESCE_NONE &&
        !(call->coalesce_key = strdup(req->coalesce_key))) {
        free(call);
        return AB_ENOMEM;
    }
    call->priority = req->priority;
    call->coalesce = req->coalesce;
    call->perform = req->perform;
    call->finished = req->finished;
    call->arg = req->arg;
    backoff_init(&call->backoff, rl->cfg.backoff_base_ms, rl->cfg.backoff_cap_ms);
    *out = call;
    return 0;
}

/* Queue @call in @b, coalescing with or dropping queued work as the rules say.
 * Returns 0 or AB_EFULL (then @call is untouched and not queued). */
static int
ratelimit_bucket_enqueue(struct ratelimit_bucket *b, struct ratelimit_call *call)
{
    struct ratelimit *rl = b->rl;
    struct ratelimit_call *old = NULL;

    if (call->coalesce != RATELIMIT_COALESCE_NONE)
        old = ratelimit_find_coalescible(b, call->coalesce, call->coalesce_key);
    if (old && call->coalesce != old->coalesce && call->coalesce != RATELIMIT_COALESCE_REPLACE) {
        /* An add and a remove of the same reaction: neither needs to happen. */
        ratelimit_queue_remove(b, old);
        rl->stats.coalesced += 2;
        ratelimit_finish(old, AB_ECANCELED);
        ratelimit_finish(call, AB_ECANCELED);
        return 0;
    }
    if (old && old->priority == call->priority) {
        /* Take the older one's place: a stream of edits must not starve behind itself. */
        ratelimit_queue_swap(b, old, call);
        rl->stats.coalesced++;
        ratelimit_finish(old, AB_ECANCELED);
        return 0;
    }
    if (old) {
        ratelimit_queue_remove(b, old);
        rl->stats.coalesced++;
        ratelimit_finish(old, AB_ECANCELED);
    }
    if (b->queued >= rl->cfg.bucket_queue_cap) {
        struct ratelimit_call *victim = ratelimit_find_victim(b);
        /* The newcomer goes itself when it is droppable and below every queued victim.
         * Final text is never refused for room: it is what the user waits for, and it is
         * bounded elsewhere (one reply per turn, queued turns per conversation). */
        if (!victim ||
            (call->coalesce != RATELIMIT_COALESCE_NONE && call->priority < victim->priority)) {
            if (call->priority != RATELIMIT_FINAL_TEXT)
                return AB_EFULL;
        } else {
            ratelimit_queue_remove(b, victim);
            rl->stats.dropped++;
            ratelimit_finish(victim, AB_EFULL);
        }
    }
    ratelimit_queue_push(b, call, false);
    return 0;
}

/* Validate, coalesce, queue and start what can start. */
int
ratelimit_submit(struct ratelimit *rl, const struct ratelimit_req *req)
{
    struct ratelimit_bucket *b;
    struct ratelimit_call *call;
    int rc;

    if (!rl || !req || !req->perform || (unsigned)req->priority >= RATELIMIT_PRIORITIES ||
        (unsigned)req->coalesce > RATELIMIT_COALESCE_REMOVE ||
        (req->coalesce != RATELIMIT_COALESCE_NONE && !req->coalesce_key))
        return AB_EINVAL;
    if (rl->is_closed)
        return AB_ECLOSED;
    if ((rc = ratelimit_bucket_get(rl, req->bucket ? req->bucket : "", &b)) < 0)
        goto fail;
    b->busy++;
    if ((rc = ratelimit_call_new(rl, req, &call)) < 0)
        goto fail_bucket;
    if ((rc = ratelimit_bucket_enqueue(b, call)) < 0)
        goto fail_call;
    rl->stats.submitted++;
    ratelimit_bucket_pump(b);
    b->busy--;
    ratelimit_bucket_release_if_idle(b);
    return 0;

fail_call:
    free(call->coalesce_key);
    free(call);
fail_bucket:
    b->busy--;
    ratelimit_bucket_release_if_idle(b);
fail:
    return rc;
}

/* Apply a platform report to @b (and to every bucket when global). */
static void
ratelimit_bucket_learn(struct ratelimit_bucket *b, const struct ab_rate_info *info)
{
    struct ratelimit *rl = b->rl;
    uint64_t now = clock_now_ms(rl->clock);

    if (info->remaining >= 0) {
        b->remaining = info->remaining;
        if (info->reset_after_ms > 0)
            b->reset_at_ms = now + info->reset_after_ms;
    }
    if (info->retry_after_ms > 0) {
        uint64_t until = now + info->retry_after_ms;
        uint64_t *slot = info->global ? &rl->global_until_ms : &b->blocked_until_ms;
        if (until > *slot)
            *slot = until;
    }
}

/* Decide what a failed attempt means: retry later (returns true, the call is queued
 * again first in line) or give up (returns false). */
static bool
ratelimit_should_retry(struct ratelimit_bucket *b, struct ratelimit_call *call, int status,
                       const struct ab_rate_info *info)
{
    struct ratelimit *rl = b->rl;
    uint64_t now = clock_now_ms(rl->clock);
    uint64_t delay;

    if (status == AB_ERATELIMIT) {
        rl->stats.rate_limited++;
        if (++call->rate_limited > rl->cfg.max_rate_limited)
            return false;
        /* With retry_after the bucket (or everything) is already paused. */
        delay = info && info->retry_after_ms > 0 ? 0 : rl->cfg.default_retry_after_ms;
    } else if (status == AB_EIO || status == AB_ETIMEDOUT) {
        if (++call->failures >= rl->cfg.max_attempts)
            return false;
        delay = backoff_next_ms(&call->backoff, rl->cfg.rand, rl->cfg.rand_state);
    } else {
        return false;
    }
    if (now + delay > b->blocked_until_ms)
        b->blocked_until_ms = now + delay;
    rl->stats.retried++;
    ratelimit_queue_push(b, call, true);
    return true;
}

/* A performed request came back. */
void
ratelimit_call_done(struct ratelimit_call *call, int status, const struct ab_rate_info *info)
{
    struct ratelimit_bucket *b = call->bucket;
    struct ratelimit *rl = b->rl;

    b->busy++;
    b->in_flight = NULL;
    rl->stats.in_flight--;
    if (info)
        ratelimit_bucket_learn(b, info);
    if (status == 0) {
        rl->stats.delivered++;
        ratelimit_finish(call, 0);
    } else if (rl->is_closed || !ratelimit_should_retry(b, call, status, info)) {
        rl->stats.failed++;
        ratelimit_finish(call, status);
    }
    ratelimit_bucket_pump(b);
    b->busy--;
    ratelimit_bucket_release_if_idle(b);
}

/* A report outside a call. A bucket is created for it so the facts are kept. */
void
ratelimit_report(struct ratelimit *rl, const char *default_bucket, const struct ab_rate_info *info)
{
    struct ratelimit_bucket *b;
    const char *key = info && info->bucket ? info->bucket : default_bucket;

    if (!rl || !info || rl->is_closed)
        return;
    if (ratelimit_bucket_get(rl, key ? key : "", &b) < 0)
        return;
    b->busy++;
    ratelimit_bucket_learn(b, info);
    ratelimit_bucket_pump(b);
    b->busy--;
    ratelimit_bucket_release_if_idle(b);
}

/* Copy out the counters. */
void
ratelimit_get_stats(const struct ratelimit *rl, struct ratelimit_stats *out)
{
    *out = rl->stats;
}

/* Cancel queued work and free what is not in flight. The cancelled requests are
 * collected first and reported after, so their callbacks cannot disturb the walk. */
void
ratelimit_close(struct ratelimit *rl)
{
    struct ratelimit_call *cancelled = NULL;

    if (!rl || rl->is_closed)
        return;
    rl->is_closed = true;
    rl->is_closing = true;
    for (size_t s = 0; s < rl->table_size; s++) {
        struct ratelimit_bucket *b = rl->table[s];
        while (b) {
            struct ratelimit_bucket *next = b->hash_next;
            struct ratelimit_call *call;
            clock_timer_stop(&b->timer);
            while ((call = ratelimit_bucket_first(b))) {
                ratelimit_queue_remove(b, call);
                call->next = cancelled;
                cancelled = call;
            }
            if (!b->in_flight && b->busy == 0)
                ratelimit_bucket_free(b);
            b = next;
        }
    }
    while (cancelled) {
        struct ratelimit_call *next = cancelled->next;
        ratelimit_finish(cancelled, AB_ECANCELED);
        cancelled = next;
    }
    rl->is_closing = false;
    ratelimit_free_if_done(rl);
}
