/* Outbound scheduling: one FIFO per priority per route ("bucket" below), routes kept in
 * a hash table and released when idle; each route points at a limit (its own until the
 * platform names the bucket it belongs to, then the shared one), and one request is in
 * flight per limit, so every answer's remaining count is exact. */
#include "outbound/ratelimit.h"

#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#define RATELIMIT_PRIORITIES RATELIMIT_PRIORITY_COUNT
#define RATELIMIT_MAX_RULES 32
#define RATELIMIT_MAX_SCOPES 16
#define RATELIMIT_MAX_ALIASES 4096 /* route -> platform bucket; forgotten all at once past it */
#define RATELIMIT_ALIAS_SLOTS 256
#define RATELIMIT_MAX_FACT_MS 86400000ULL /* a platform's wait beyond a day is taken as a day */

struct ratelimit_bucket;
struct ratelimit_scope;

/* A sliding budget: at most `limit` starts in any `window_ms`; a ring of start times. */
struct ratelimit_window {
    uint32_t limit, filled, next; /* next: the oldest slot once filled */
    uint64_t window_ms;
    uint64_t starts[]; /* limit entries */
};

/* What the platform said about one of its buckets. A route's own limit is embedded in
 * it (key NULL); shared limits live in the scheduler's table. */
struct ratelimit_limit {
    struct ratelimit_limit *hash_next;
    struct ratelimit *rl;            /* lent */
    char *key;                       /* owned; NULL = a route's own */
    size_t refs;                     /* routes attached (and calls completing on it) */
    struct ratelimit_bucket *routes; /* lent: the routes attached, a list */
    bool is_busy;                    /* a request is in flight on it */
    uint64_t blocked_until_ms;       /* a 429 or a retry's backoff */
    int64_t remaining;               /* from the platform; -1 unknown */
    uint64_t reset_at_ms;            /* when remaining refills */
    struct clock_timer timer;        /* shared, without routes: released when its facts expire */
};

/* A route key remembered as belonging to a platform bucket. */
struct ratelimit_alias {
    struct ratelimit_alias *next;
    char *route, *limit; /* owned */
};

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
    uint64_t first_start_ms;
    bool has_started;
    struct ratelimit_limit *limit; /* lent: the limit it is in flight on */
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
    bool has_done;
    uint64_t last_done_ms; /* the last answer: spacing counts from it */
    uint64_t retry_at_ms;  /* a retry's backoff (5xx, network, 429 without retry_after) */
    uint64_t min_spacing_ms;
    struct ratelimit_window *window; /* owned: the route rule's budget, or NULL */
    struct ratelimit_scope *scope;   /* lent from the scheduler */
    struct ratelimit_limit own;      /* the route's facts until it joins a shared limit */
    struct ratelimit_limit *limit;   /* lent: &own or a shared one */
    struct ratelimit_bucket *limit_prev, *limit_next; /* in limit->routes when shared */
    struct clock_timer timer;                         /* wakes the bucket when it may send again */
};

/* A plugin's whole: its global pause and its budget. */
struct ratelimit_scope {
    char *name; /* owned */
    uint64_t global_until_ms;
    struct ratelimit_window *window; /* owned, or NULL */
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
    struct ratelimit_scope scopes[RATELIMIT_MAX_SCOPES];
    size_t scope_count;
    struct ratelimit_limit **limits;                        /* owned chains of shared limits */
    size_t limits_size;                                     /* a power of two */
    struct ratelimit_alias *aliases[RATELIMIT_ALIAS_SLOTS]; /* owned chains */
    size_t alias_count;
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
        .max_rate_limited_wait_ms = 600000,
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
    rl->limits_size = 64;
    if (!(rl->table = calloc(rl->table_size, sizeof(*rl->table))))
        goto fail_rl;
    if (!(rl->limits = calloc(rl->limits_size, sizeof(*rl->limits))))
        goto fail_table;
    rl->clock = clock;
    rl->cfg = c;
    rl->seed = c.rand_seed;
    if (!rl->cfg.rand) {
        rl->cfg.rand = backoff_rand_xorshift;
        rl->cfg.rand_state = &rl->seed;
    }
    *out = rl;
    return 0;

fail_table:
    free(rl->table);
fail_rl:
    free(rl);
fail:
    return rc;
}

/* A budget of @limit starts per @window_ms, or NULL (no budget, or out of memory). */
static struct ratelimit_window *
ratelimit_window_new(uint32_t limit, uint64_t window_ms)
{
    struct ratelimit_window *w;

    if (limit == 0 || window_ms == 0 || limit > 100000)
        return NULL;
    if (!(w = calloc(1, sizeof(*w) + limit * sizeof(w->starts[0]))))
        return NULL;
    w->limit = limit;
    w->window_ms = window_ms;
    return w;
}

/* The earliest time @w allows one more start (0: now). */
static uint64_t
ratelimit_window_ready(const struct ratelimit_window *w)
{
    if (!w || w->filled < w->limit)
        return 0;
    return w->starts[w->next] + w->window_ms;
}

/* Until when @w still remembers a start that counts (0: none). */
static uint64_t
ratelimit_window_expiry(const struct ratelimit_window *w)
{
    if (!w || w->filled == 0)
        return 0;
    return w->starts[(w->next + w->limit - 1) % w->limit] + w->window_ms;
}

/* Count a start at @now. */
static void
ratelimit_window_record(struct ratelimit_window *w, uint64_t now)
{
    if (!w)
        return;
    w->starts[w->next] = now;
    w->next = (w->next + 1) % w->limit;
    if (w->filled < w->limit)
        w->filled++;
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

/* Set or replace the options of a key prefix and apply the spacing to live buckets
 * (budgets apply to routes created from now on). */
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

/* The scope named @name, created when new; NULL when the table is full. */
static struct ratelimit_scope *
ratelimit_scope_get(struct ratelimit *rl, const char *name)
{
    size_t i;

    for (i = 0; i < rl->scope_count; i++)
        if (strcmp(rl->scopes[i].name, name) == 0)
            return &rl->scopes[i];
    if (i == RATELIMIT_MAX_SCOPES || !(rl->scopes[i].name = strdup(name)))
        return NULL;
    rl->scope_count++;
    return &rl->scopes[i];
}

/* Give a scope its shared budget. */
int
ratelimit_set_scope_opts(struct ratelimit *rl, const char *scope,
                         const struct ratelimit_bucket_opts *opts)
{
    struct ratelimit_scope *sc;
    struct ratelimit_window *w;

    if (!rl || !scope || !opts)
        return AB_EINVAL;
    if (!(sc = ratelimit_scope_get(rl, scope)))
        return AB_EFULL;
    w = ratelimit_window_new(opts->limit, opts->window_ms);
    if (!w && opts->limit > 0)
        return AB_EINVAL;
    free(sc->window);
    sc->window = w;
    return 0;
}

/* Reset @l to knowing nothing. */
static void
ratelimit_limit_init(struct ratelimit_limit *l, struct ratelimit *rl)
{
    *l = (struct ratelimit_limit){.rl = rl, .remaining = -1};
    clock_timer_init(&l->timer);
}

/* The shared limit @key, or NULL. */
static struct ratelimit_limit *
ratelimit_limit_find(const struct ratelimit *rl, const char *key)
{
    struct ratelimit_limit *l = rl->limits[ratelimit_hash(key) & (rl->limits_size - 1)];

    while (l && strcmp(l->key, key) != 0)
        l = l->hash_next;
    return l;
}

/* The shared limit @key, created when new. */
static int
ratelimit_limit_get(struct ratelimit *rl, const char *key, struct ratelimit_limit **out)
{
    struct ratelimit_limit *l = ratelimit_limit_find(rl, key);

    if (!l) {
        if (!(l = malloc(sizeof(*l))))
            return AB_ENOMEM;
        ratelimit_limit_init(l, rl);
        if (!(l->key = strdup(key))) {
            free(l);
            return AB_ENOMEM;
        }
        size_t slot = ratelimit_hash(key) & (rl->limits_size - 1);
        l->hash_next = rl->limits[slot];
        rl->limits[slot] = l;
        rl->stats.limits++;
    }
    *out = l;
    return 0;
}

/* Until when @l's facts still hold something back (0: they do not). */
static uint64_t
ratelimit_limit_expiry(const struct ratelimit_limit *l, uint64_t now)
{
    uint64_t until = l->blocked_until_ms > now ? l->blocked_until_ms : 0;

    if (l->remaining == 0 && l->reset_at_ms > until)
        until = l->reset_at_ms;
    return until > now ? until : 0;
}

static void ratelimit_free_if_done(struct ratelimit *rl);

static void ratelimit_limit_timer_fired(void *arg);

/* Free a shared limit nobody uses once its facts no longer matter (at once when closed). */
static void
ratelimit_limit_release_if_idle(struct ratelimit_limit *l)
{
    struct ratelimit *rl = l->rl;

    if (!l->key || l->refs > 0 || l->is_busy)
        return;
    if (!rl->is_closed) {
        uint64_t now = clock_now_ms(rl->clock);
        uint64_t until = ratelimit_limit_expiry(l, now);
        if (until > now) {
            clock_timer_start(rl->clock, &l->timer, until - now, ratelimit_limit_timer_fired, l);
            return;
        }
    }
    struct ratelimit_limit **p = &rl->limits[ratelimit_hash(l->key) & (rl->limits_size - 1)];
    while (*p != l)
        p = &(*p)->hash_next;
    *p = l->hash_next;
    clock_timer_stop(&l->timer);
    rl->stats.limits--;
    free(l->key);
    free(l);
    ratelimit_free_if_done(rl);
}

/* The shared limit's facts expired: free it if still unused. */
static void
ratelimit_limit_timer_fired(void *arg)
{
    ratelimit_limit_release_if_idle(arg);
}

/* The platform bucket route @route was last seen in, or NULL. */
static const char *
ratelimit_alias_find(const struct ratelimit *rl, const char *route)
{
    for (struct ratelimit_alias *a = rl->aliases[ratelimit_hash(route) % RATELIMIT_ALIAS_SLOTS]; a;
         a = a->next)
        if (strcmp(a->route, route) == 0)
            return a->limit;
    return NULL;
}

/* Forget every alias (bounded memory: routes then learn their bucket again). */
static void
ratelimit_alias_clear(struct ratelimit *rl)
{
    for (size_t s = 0; s < RATELIMIT_ALIAS_SLOTS; s++) {
        while (rl->aliases[s]) {
            struct ratelimit_alias *a = rl->aliases[s];
            rl->aliases[s] = a->next;
            free(a->route);
            free(a->limit);
            free(a);
        }
    }
    rl->alias_count = 0;
}

/* Remember that route @route belongs to platform bucket @limit. Failure only costs a
 * probe later. */
static void
ratelimit_alias_set(struct ratelimit *rl, const char *route, const char *limit)
{
    struct ratelimit_alias **slot = &rl->aliases[ratelimit_hash(route) % RATELIMIT_ALIAS_SLOTS];
    struct ratelimit_alias *a;
    char *copy;

    for (a = *slot; a; a = a->next) {
        if (strcmp(a->route, route) == 0) {
            if (strcmp(a->limit, limit) != 0 && (copy = strdup(limit))) {
                free(a->limit);
                a->limit = copy;
            }
            return;
        }
    }
    if (rl->alias_count >= RATELIMIT_MAX_ALIASES)
        ratelimit_alias_clear(rl);
    if (!(a = calloc(1, sizeof(*a))))
        return;
    if (!(a->route = strdup(route)) || !(a->limit = strdup(limit))) {
        free(a->route);
        free(a);
        return;
    }
    a->next = *slot;
    *slot = a;
    rl->alias_count++;
}

/* Move @b onto limit @l (its own or a shared one), carrying a running pause along. */
static void
ratelimit_bucket_attach(struct ratelimit_bucket *b, struct ratelimit_limit *l)
{
    struct ratelimit_limit *old = b->limit;

    if (old == l)
        return;
    if (old && old->blocked_until_ms > l->blocked_until_ms)
        l->blocked_until_ms = old->blocked_until_ms;
    if (old && old->key) {
        if (b->limit_prev)
            b->limit_prev->limit_next = b->limit_next;
        else
            old->routes = b->limit_next;
        if (b->limit_next)
            b->limit_next->limit_prev = b->limit_prev;
        b->limit_prev = b->limit_next = NULL;
    }
    b->limit = l;
    if (l->key) {
        l->refs++;
        b->limit_next = l->routes;
        if (l->routes)
            l->routes->limit_prev = b;
        l->routes = b;
        clock_timer_stop(&l->timer);
    }
    if (old && old->key) {
        old->refs--;
        ratelimit_limit_release_if_idle(old);
    }
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

/* The bucket of @key in @scope, created with its rule's options (and on the platform
 * bucket it was last seen in) when new. */
static int
ratelimit_bucket_get(struct ratelimit *rl, const char *key, const char *scope,
                     struct ratelimit_bucket **out)
{
    struct ratelimit_bucket *b = ratelimit_bucket_find(rl, key);
    struct ratelimit_limit *shared;
    const char *alias;

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
    struct ratelimit_bucket_opts opts = ratelimit_opts_for(rl, key);
    b->min_spacing_ms = opts.min_spacing_ms;
    b->window = ratelimit_window_new(opts.limit, opts.window_ms);
    b->scope = ratelimit_scope_get(rl, scope ? scope : "");
    ratelimit_limit_init(&b->own, rl);
    b->limit = &b->own;
    if ((alias = ratelimit_alias_find(rl, key)) && ratelimit_limit_get(rl, alias, &shared) == 0)
        ratelimit_bucket_attach(b, shared);
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
    ratelimit_bucket_attach(b, &b->own);
    rl->stats.buckets--;
    free(b->window);
    free(b->key);
    free(b);
}

/* Free the whole scheduler once closed and every bucket and limit is gone. */
static void
ratelimit_free_if_done(struct ratelimit *rl)
{
    if (!rl->is_closed || rl->is_closing || rl->stats.buckets > 0 || rl->stats.limits > 0)
        return;
    for (size_t i = 0; i < rl->rule_count; i++)
        free(rl->rules[i].prefix);
    for (size_t i = 0; i < rl->scope_count; i++) {
        free(rl->scopes[i].name);
        free(rl->scopes[i].window);
    }
    ratelimit_alias_clear(rl);
    free(rl->limits);
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

/* Release @b when nothing needs it: no work, no operation running, and no state of
 * its own that still matters (a pause, an empty window, spacing or a budget running). */
static void
ratelimit_bucket_release_if_idle(struct ratelimit_bucket *b)
{
    struct ratelimit *rl = b->rl;

    if (b->busy > 0 || b->is_pumping || b->in_flight || b->queued > 0 ||
        clock_timer_is_active(&b->timer))
        return;
    if (!rl->is_closed) {
        uint64_t now = clock_now_ms(rl->clock);
        uint64_t until = ratelimit_bucket_ready_ms(b, now);
        uint64_t w = ratelimit_window_expiry(b->window);
        if (b->limit == &b->own && ratelimit_limit_expiry(&b->own, now) > until)
            until = ratelimit_limit_expiry(&b->own, now);
        if (w > until)
            until = w;
        if (until > now) {
            /* Keep the pause, spacing or budget in force; look again when it ends. */
            clock_timer_start(rl->clock, &b->timer, until - now, ratelimit_bucket_timer_fired, b);
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
    struct ratelimit_limit *l = b->limit;
    uint64_t ready = b->retry_at_ms, t;

    if (l->blocked_until_ms > ready)
        ready = l->blocked_until_ms;
    if (b->scope && b->scope->global_until_ms > ready)
        ready = b->scope->global_until_ms;
    if (b->has_done && b->last_done_ms + b->min_spacing_ms > ready)
        ready = b->last_done_ms + b->min_spacing_ms;
    if ((t = ratelimit_window_ready(b->window)) > ready)
        ready = t;
    if (b->scope && (t = ratelimit_window_ready(b->scope->window)) > ready)
        ready = t;
    if (l->remaining == 0) {
        if (l->reset_at_ms > now) {
            if (l->reset_at_ms > ready)
                ready = l->reset_at_ms;
        } else {
            l->remaining = -1; /* the window reset: unknown until the next report */
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

/* Start requests while the bucket may send; otherwise sleep until it may (or, while
 * another route of its platform bucket has a request in flight, until that answer wakes
 * it). A call done synchronously inside perform lands here again and is picked up by
 * the loop. */
static void
ratelimit_bucket_pump(struct ratelimit_bucket *b)
{
    struct ratelimit *rl = b->rl;

    if (b->is_pumping || rl->is_closed)
        return;
    b->is_pumping = true;
    while (!b->in_flight && b->queued > 0 && !b->limit->is_busy) {
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
        call->limit = b->limit;
        call->limit->is_busy = true;
        rl->stats.in_flight++;
        if (!call->has_started) {
            call->has_started = true;
            call->first_start_ms = now;
        }
        if (b->limit->remaining > 0)
            b->limit->remaining--;
        ratelimit_window_record(b->window, now);
        if (b->scope)
            ratelimit_window_record(b->scope->window, now);
        call->perform(call->arg, call);
    }
    b->is_pumping = false;
}

/* Wake, on the next timer round, every other route of shared limit @l that has work
 * (they waited for its request in flight, or for facts that just changed). */
static void
ratelimit_limit_wake(struct ratelimit *rl, struct ratelimit_limit *l,
                     const struct ratelimit_bucket *except)
{
    if (!l->key)
        return;
    for (struct ratelimit_bucket *b = l->routes; b; b = b->limit_next) {
        if (b != except && b->queued > 0 && !b->in_flight && !clock_timer_is_active(&b->timer))
            clock_timer_start(rl->clock, &b->timer, 0, ratelimit_bucket_timer_fired, b);
    }
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
    if ((rc = ratelimit_bucket_get(rl, req->bucket ? req->bucket : "", req->scope, &b)) < 0)
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

/* @ms bounded to a day: untrusted numbers never overflow a deadline. */
static uint64_t
ratelimit_fact_ms(uint64_t ms)
{
    return ms > RATELIMIT_MAX_FACT_MS ? RATELIMIT_MAX_FACT_MS : ms;
}

/* Apply the platform's facts to limit @l, or to @scope for a global pause. */
static void
ratelimit_limit_learn(struct ratelimit_limit *l, struct ratelimit_scope *scope,
                      const struct ratelimit_facts *facts, uint64_t now)
{
    if (facts->remaining >= 0) {
        l->remaining = facts->remaining;
        if (facts->reset_after_ms > 0)
            l->reset_at_ms = now + ratelimit_fact_ms(facts->reset_after_ms);
    }
    if (facts->retry_after_ms > 0) {
        uint64_t until = now + ratelimit_fact_ms(facts->retry_after_ms);
        uint64_t *slot = facts->is_global && scope ? &scope->global_until_ms : &l->blocked_until_ms;
        if (until > *slot)
            *slot = until;
    }
}

/* Apply a report about @b's route: join the platform bucket it names, then learn. */
static void
ratelimit_bucket_learn(struct ratelimit_bucket *b, const struct ratelimit_facts *facts)
{
    struct ratelimit *rl = b->rl;
    struct ratelimit_limit *shared;

    if (facts->limit_key && *facts->limit_key &&
        (!b->limit->key || strcmp(b->limit->key, facts->limit_key) != 0)) {
        ratelimit_alias_set(rl, b->key, facts->limit_key);
        if (ratelimit_limit_get(rl, facts->limit_key, &shared) == 0)
            ratelimit_bucket_attach(b, shared);
    }
    ratelimit_limit_learn(b->limit, b->scope, facts, clock_now_ms(rl->clock));
}

/* Decide what a failed attempt means: retry later (returns true, the call is queued
 * again first in line) or give up (returns false). Final text meets no 429 count: it
 * waits out any retry_after until max_rate_limited_wait_ms since its first start. */
static bool
ratelimit_should_retry(struct ratelimit_bucket *b, struct ratelimit_call *call, int status,
                       const struct ratelimit_facts *facts)
{
    struct ratelimit *rl = b->rl;
    uint64_t now = clock_now_ms(rl->clock);
    uint64_t delay, wait;

    if (status == AB_ERATELIMIT) {
        rl->stats.rate_limited++;
        ++call->rate_limited;
        if (call->priority != RATELIMIT_FINAL_TEXT && call->rate_limited > rl->cfg.max_rate_limited)
            return false;
        /* With retry_after the bucket (or everything) is already paused. */
        wait = facts && facts->retry_after_ms > 0 ? ratelimit_fact_ms(facts->retry_after_ms)
                                                  : rl->cfg.default_retry_after_ms;
        if (now + wait - call->first_start_ms > rl->cfg.max_rate_limited_wait_ms)
            return false;
        delay = facts && facts->retry_after_ms > 0 ? 0 : wait;
    } else if (status == AB_EIO || status == AB_ETIMEDOUT) {
        if (++call->failures >= rl->cfg.max_attempts)
            return false;
        delay = backoff_next_ms(&call->backoff, rl->cfg.rand, rl->cfg.rand_state);
    } else {
        return false;
    }
    if (now + delay > b->retry_at_ms)
        b->retry_at_ms = now + delay;
    rl->stats.retried++;
    ratelimit_queue_push(b, call, true);
    return true;
}

/* A performed request came back. */
void
ratelimit_call_done(struct ratelimit_call *call, int status, const struct ratelimit_facts *facts)
{
    struct ratelimit_bucket *b = call->bucket;
    struct ratelimit *rl = b->rl;
    struct ratelimit_limit *was = call->limit;

    b->busy++;
    b->in_flight = NULL;
    was->is_busy = false;
    rl->stats.in_flight--;
    b->has_done = true;
    b->last_done_ms = clock_now_ms(rl->clock);
    if (was->key)
        was->refs++; /* keep it while this runs: the route may leave it */
    if (facts && !rl->is_closed)
        ratelimit_bucket_learn(b, facts);
    if (status == 0) {
        rl->stats.delivered++;
        ratelimit_finish(call, 0);
    } else if (rl->is_closed || !ratelimit_should_retry(b, call, status, facts)) {
        rl->stats.failed++;
        ratelimit_finish(call, status);
    }
    ratelimit_bucket_pump(b);
    if (!rl->is_closed) {
        ratelimit_limit_wake(rl, was, b);
        if (b->limit != was)
            ratelimit_limit_wake(rl, b->limit, b);
    }
    if (was->key) {
        was->refs--;
        ratelimit_limit_release_if_idle(was);
    }
    b->busy--;
    ratelimit_bucket_release_if_idle(b);
}

/* A report outside a call. A bucket (or shared limit) is created for it so the facts
 * are kept. */
void
ratelimit_report(struct ratelimit *rl, const char *scope, const char *default_bucket,
                 const struct ratelimit_facts *facts)
{
    struct ratelimit_bucket *b;
    struct ratelimit_limit *l;

    if (!rl || !facts || rl->is_closed)
        return;
    if (facts->limit_key && *facts->limit_key) {
        if (ratelimit_limit_get(rl, facts->limit_key, &l) < 0)
            return;
        ratelimit_limit_learn(l, ratelimit_scope_get(rl, scope ? scope : ""), facts,
                              clock_now_ms(rl->clock));
        ratelimit_limit_wake(rl, l, NULL);
        ratelimit_limit_release_if_idle(l);
        return;
    }
    if (ratelimit_bucket_get(rl, default_bucket ? default_bucket : "", scope, &b) < 0)
        return;
    b->busy++;
    ratelimit_limit_learn(b->limit, b->scope, facts, clock_now_ms(rl->clock));
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
    for (size_t s = 0; s < rl->limits_size; s++) {
        struct ratelimit_limit *l = rl->limits[s];
        while (l) {
            struct ratelimit_limit *next = l->hash_next;
            ratelimit_limit_release_if_idle(l);
            l = next;
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
