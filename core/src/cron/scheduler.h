/* The cron scheduler: one clock timer per job on the core clock (never blocking), the
 * next run computed in the job's zone, at most @catch_up missed run made up after
 * downtime, and a re-check of the wall clock at least hourly (clock jumps, suspend). */
#ifndef AB_CRON_SCHEDULER_H
#define AB_CRON_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>

#include "clock/clock.h"
#include "cron/cron_expr.h"
#include "cron/tz.h"

struct cron_sched_config {
    int catch_up; /* 0: runs missed while down are skipped; 1: one of them runs at start */
    /* Wall-clock UTC seconds now; NULL = time(). Tests pair it with a fake clock. */
    int64_t (*wall_now)(void *arg);
    void *wall_arg;
    /* Job @job is due (its scheduled minute @at, UTC seconds); called on the loop from a
     * timer, never inside cron_sched_*(). */
    void (*fire)(void *arg, size_t job, int64_t at);
    void *arg;
};

struct cron_sched;

/* A scheduler on clock @c (lent, must outlive it); @cfg copied. 0 or AB_ENOMEM. */
int cron_sched_new(struct clock *c, const struct cron_sched_config *cfg, struct cron_sched **out);

/* Add a job (index = the number added before): @e copied, @tz owned by the scheduler
 * from now on (even on failure), @last_run its last run (UTC seconds) from an earlier
 * life, or 0. Only before cron_sched_start(). Returns 0, AB_EINVAL or AB_ENOMEM. */
int cron_sched_add(struct cron_sched *s, const struct cron_expr *e, struct tz *tz,
                   int64_t last_run);

/* Arm every job: a missed run first (see catch_up), then the next ones. */
void cron_sched_start(struct cron_sched *s);

/* Job @job's next run (UTC seconds, -1 = never) and last run (0 = none yet). */
int64_t cron_sched_next(const struct cron_sched *s, size_t job);
int64_t cron_sched_last_run(const struct cron_sched *s, size_t job);

/* Stop and free (NULL is fine). */
void cron_sched_free(struct cron_sched *s);

#endif
