/* The outbound request scheduler between the renderer and the chat plugins: per-bucket
 * queues by priority, coalescing of superseded work, platform rate-limit feedback
 * (remaining/reset, 429 retry_after, global pauses), minimum spacing, and retries with
 * backoff. Plugins never rate-limit or retry themselves; they report what they saw. */
#ifndef AB_ENGINE_RATELIMIT_H
#define AB_ENGINE_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <agent-broker/host.h>

#include "engine/backoff.h"
#include "engine/clock.h"

/* Opaque; created by ratelimit_new, released by ratelimit_close. */
struct ratelimit;

/* One request while it is being performed. Opaque; owned by the scheduler. */
struct ratelimit_call;

/* Higher goes first within a bucket. */
enum ratelimit_priority {
    RATELIMIT_REACTION = 0,
    RATELIMIT_LIVE_EDIT = 1,
    RATELIMIT_FINAL_TEXT = 2,
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
    const char *bucket; /* e.g. "NAME:react:<channel>"; NULL = "" */
    enum ratelimit_priority priority;
    enum ratelimit_coalesce coalesce;
    const char *coalesce_key; /* the message (and emoji) the request is about; required
                                 unless coalesce is NONE */
    ratelimit_perform_fn perform;
    ratelimit_finished_fn finished; /* may be NULL */
    void *arg;                      /* lent to perform and finished */
};

/* Options of the buckets whose key starts with a prefix. */
struct ratelimit_bucket_opts {
    uint64_t min_spacing_ms; /* between the starts of two requests (e.g. reactions: 250) */
};

/* Scheduler-wide settings. */
struct ratelimit_config {
    size_t bucket_queue_cap;         /* queued requests per bucket (default 64) */
    uint32_t max_attempts;           /* tries for 5xx/network errors, the first included (4) */
    uint32_t max_rate_limited;       /* 429 retries per request before giving up (8) */
    uint64_t backoff_base_ms;        /* first retry delay ceiling (500) */
    uint64_t backoff_cap_ms;         /* retry delay cap (30000) */
    uint64_t default_retry_after_ms; /* a 429 that gave no retry_after waits this (1000) */
    backoff_rand_fn rand;            /* jitter source; NULL = xorshift seeded from rand_seed */
    void *rand_state;                /* lent to rand */
    uint64_t rand_seed;
};

/* Counters for /metrics. */
struct ratelimit_stats {
    uint64_t submitted, delivered, failed, dropped, coalesced, retried, rate_limited;
    size_t queued, in_flight, buckets;
};

/* The defaults above. */
struct ratelimit_config ratelimit_config_default(void);

/* A scheduler on @clock (lent; must outlive it). @cfg is copied; NULL = defaults. */
int ratelimit_new(struct clock *clock, const struct ratelimit_config *cfg, struct ratelimit **out);

/* Apply @opts to every bucket whose key starts with @prefix (copied), existing or
 * future. The longest matching prefix wins. */
int ratelimit_set_bucket_opts(struct ratelimit *rl, const char *prefix,
                              const struct ratelimit_bucket_opts *opts);

/* Queue @req. Returns 0 when accepted (finished will be called exactly once, possibly
 * before this returns), or a negative code when refused (finished is never called):
 * AB_EINVAL for a malformed request, AB_EFULL when the bucket is full of work that
 * cannot be dropped, AB_ECLOSED after ratelimit_close. */
int ratelimit_submit(struct ratelimit *rl, const struct ratelimit_req *req);

/* Report how a performed request ended: 0, or AB_ERATELIMIT (429; retried after
 * retry_after), AB_EIO / AB_ETIMEDOUT (5xx or network; retried with backoff up to
 * max_attempts), anything else = permanent. @info (lent, may be NULL) is what the
 * platform said; it applies to the call's bucket whatever info->bucket says. @call is
 * invalid afterwards. */
void ratelimit_call_done(struct ratelimit_call *call, int status, const struct ab_rate_info *info);

/* Feed rate-limit facts reported outside a call (host rate_report). They apply to
 * info->bucket, or to @default_bucket (lent) when that is NULL. */
void ratelimit_report(struct ratelimit *rl, const char *default_bucket,
                      const struct ab_rate_info *info);

/* The counters now. */
void ratelimit_get_stats(const struct ratelimit *rl, struct ratelimit_stats *out);

/* Cancel every queued request (finished with AB_ECANCELED) and release the scheduler;
 * requests in flight are released when their ratelimit_call_done arrives. */
void ratelimit_close(struct ratelimit *rl);

#endif
