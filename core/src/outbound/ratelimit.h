/* The outbound request scheduler between the renderer and the chat plugins, and the
 * only place that waits, retries, coalesces and orders outbound work: per-route queues
 * by priority, coalescing of superseded work, the platform's rate facts (a route learns
 * its platform bucket from the first answer; routes of one bucket share its remaining /
 * reset and go one request at a time; 429 retry_after pauses the bucket or, when global,
 * the whole scope), static rules (spacing and budgets per route or per scope), and
 * retries with backoff. Plugins never wait or retry: they name each operation's route
 * and report what the platform said with its completion. */
#ifndef AB_OUTBOUND_RATELIMIT_H
#define AB_OUTBOUND_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <agent-broker/host.h>

#include "outbound/backoff.h"
#include "clock/clock.h"

/* Opaque; created by ratelimit_new, released by ratelimit_close. */
struct ratelimit;

/* One request while it is being performed. Opaque; owned by the scheduler. */
struct ratelimit_call;

/* Higher goes first within a bucket. */
enum ratelimit_priority {
    RATELIMIT_REACTION = 0,       /* an intermediate status reaction: droppable */
    RATELIMIT_REACTION_FINAL = 1, /* a message's final status (🆗/😱) and its clean-up */
    RATELIMIT_LIVE_EDIT = 2,
    RATELIMIT_FINAL_TEXT = 3,
    RATELIMIT_PRIORITY_COUNT
};

/* How a queued request relates to a newer one with the same bucket and coalesce key. */
enum ratelimit_coalesce {
    RATELIMIT_COALESCE_NONE = 0, /* every request is performed */
    RATELIMIT_COALESCE_REPLACE,  /* the newer replaces the queued older (live edits) */
    RATELIMIT_COALESCE_ADD,      /* a reaction add: cancels against a queued remove */
    RATELIMIT_COALESCE_REMOVE,   /* a reaction remove: cancels against a queued add */
};

/* Start the request now: call the plugin, and from its completion call
 * ratelimit_call_done(@call, ...) exactly once (synchronously is fine). */
typedef void (*ratelimit_perform_fn)(void *arg, struct ratelimit_call *call);

/* Called exactly once per accepted request with how it ended:
 *   0             delivered;
 *   AB_ECANCELED  not needed: superseded by a newer request, cancelled against its
 *                 opposite, or the scheduler closed — nothing to tell the user;
 *   AB_EFULL      dropped because its bucket's queue was over the cap;
 *   other < 0     could not be delivered (last status after the retries ran out, or a
 *                 permanent error): tell the user.
 * After it returns the scheduler forgets @arg; free it here if it is yours. */
typedef void (*ratelimit_finished_fn)(void *arg, int status);

/* A request to submit. Strings are lent for the call and copied. */
struct ratelimit_req {
    const char *bucket; /* the route key, e.g. "NAME:reactions <channel>"; NULL = "" */
    const char *scope;  /* whose global pause and scope budget apply (the plugin's name);
                           NULL = "" */
    enum ratelimit_priority priority;
    enum ratelimit_coalesce coalesce;
    const char *coalesce_key; /* the message (and emoji) the request is about; required
                                 unless coalesce is NONE */
    ratelimit_perform_fn perform;
    ratelimit_finished_fn finished; /* may be NULL */
    void *arg;                      /* lent to perform and finished */
};

/* Options of the routes whose key starts with a prefix (or of a whole scope). */
struct ratelimit_bucket_opts {
    uint64_t min_spacing_ms; /* from one request's answer to the next start (e.g.
                                reactions per channel: 250); unused for a scope */
    uint32_t limit;          /* at most this many starts in any window_ms; 0 = no budget */
    uint64_t window_ms;
};

/* Scheduler-wide settings. */
struct ratelimit_config {
    size_t bucket_queue_cap;           /* queued requests per bucket (default 64) */
    uint32_t max_attempts;             /* tries for 5xx/network errors, the first included (4) */
    uint32_t max_rate_limited;         /* 429 retries of a live edit or reaction before giving
                                          up (8); final text is bounded by time only */
    uint64_t max_rate_limited_wait_ms; /* a request gives up when its 429s would keep it
                                          waiting past this since its first start (600000) */
    uint64_t backoff_base_ms;          /* first retry delay ceiling (500) */
    uint64_t backoff_cap_ms;           /* retry delay cap (30000) */
    uint64_t default_retry_after_ms;   /* a 429 that gave no retry_after waits this (1000) */
    backoff_rand_fn rand;              /* jitter source; NULL = xorshift seeded from rand_seed */
    void *rand_state;                  /* lent to rand */
    uint64_t rand_seed;
};

/* Counters for /metrics. */
struct ratelimit_stats {
    uint64_t submitted, delivered, failed, dropped, coalesced, retried, rate_limited;
    size_t queued, in_flight, buckets, limits;
};

/* The defaults above. */
struct ratelimit_config ratelimit_config_default(void);

/* A scheduler on @clock (lent; must outlive it). @cfg is copied; NULL = defaults. */
int ratelimit_new(struct clock *clock, const struct ratelimit_config *cfg, struct ratelimit **out);

/* Apply @opts to every route whose key starts with @prefix (copied), existing or
 * future. The longest matching prefix wins. */
int ratelimit_set_bucket_opts(struct ratelimit *rl, const char *prefix,
                              const struct ratelimit_bucket_opts *opts);

/* Give @scope (copied) a budget shared by all its routes: @opts->limit starts in any
 * @opts->window_ms (e.g. 50 per 1000 ms). */
int ratelimit_set_scope_opts(struct ratelimit *rl, const char *scope,
                             const struct ratelimit_bucket_opts *opts);

/* Queue @req. Returns 0 when accepted (finished will be called exactly once, possibly
 * before this returns), or a negative code when refused (finished is never called):
 * AB_EINVAL for a malformed request, AB_EFULL when the bucket is full of work that
 * cannot be dropped, AB_ECLOSED after ratelimit_close. */
int ratelimit_submit(struct ratelimit *rl, const struct ratelimit_req *req);

/* Rate facts as the scheduler reads them (a plugin's ab_rate_info, normalised). */
struct ratelimit_facts {
    const char *limit_key;   /* lent: the platform bucket the route belongs to (namespaced
                                by the caller), or NULL = the route's own */
    int64_t remaining;       /* -1 unknown */
    uint64_t reset_after_ms; /* 0 unknown */
    uint64_t retry_after_ms; /* from a 429, 0 none */
    bool is_global;          /* the pause applies to the whole scope */
};

/* Report how a performed request ended: 0, or AB_ERATELIMIT (429; retried after
 * retry_after), AB_EIO / AB_ETIMEDOUT (5xx or network; retried with backoff up to
 * max_attempts), anything else = permanent. @facts (lent, may be NULL) is what the
 * platform said about the call's route: with a limit_key the route joins that platform
 * bucket (remembered for later routes of the same key) and the facts apply to it. @call
 * is invalid afterwards. */
void ratelimit_call_done(struct ratelimit_call *call, int status,
                         const struct ratelimit_facts *facts);

/* Feed rate facts reported outside a call. They apply to facts->limit_key, or to the
 * route @default_bucket (lent) when that is NULL; a global pause to @scope (lent). */
void ratelimit_report(struct ratelimit *rl, const char *scope, const char *default_bucket,
                      const struct ratelimit_facts *facts);

/* The counters now. */
void ratelimit_get_stats(const struct ratelimit *rl, struct ratelimit_stats *out);

/* Cancel every queued request (finished with AB_ECANCELED) and release the scheduler;
 * requests in flight are released when their ratelimit_call_done arrives. */
void ratelimit_close(struct ratelimit *rl);

#endif
