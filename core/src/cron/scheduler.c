/* The cron scheduler (see scheduler.h). */
#include "cron/scheduler.h"

#include <stdlib.h>
#include <time.h>

#include <agent-broker/errors.h>

#define CRON_RECHECK_S 3600 /* sleep at most this long before looking at the wall clock */

struct cron_job {
    struct cron_sched *s;
    size_t index;
    struct cron_expr expr;
    struct tz *tz;    /* owned */
    int64_t next;     /* UTC seconds, -1 = never */
    int64_t last_run; /* UTC seconds, 0 = none */
    bool missed;      /* a missed run is due at once */
    struct clock_timer timer;
};

struct cron_sched {
    struct clock *clock; /* lent */
    struct cron_sched_config cfg;
    struct cron_job *jobs; /* owned, njobs of them */
    size_t njobs, cap;
    bool started;
};

/* Wall-clock seconds now. */
static int64_t
cron_sched_now(const struct cron_sched *s)
{
    return s->cfg.wall_now ? s->cfg.wall_now(s->cfg.wall_arg) : (int64_t)time(NULL);
}

static void cron_job_due(void *arg);

/* Arm @j's timer for its next run, at most CRON_RECHECK_S away. */
static void
cron_job_arm(struct cron_job *j)
{
    int64_t now = cron_sched_now(j->s), wait;

    if (j->next < 0 && !j->missed)
        return;
    wait = j->missed ? 0 : j->next - now;
    wait = wait < 0 ? 0 : wait > CRON_RECHECK_S ? CRON_RECHECK_S : wait;
    clock_timer_start(j->s->clock, &j->timer, (uint64_t)wait * 1000, cron_job_due, j);
}

/* @j's timer: run it when its minute has come, then compute the following one. A late
 * wake-up (suspend, a busy loop) runs the due minute once, never each minute missed. */
static void
cron_job_due(void *arg)
{
    struct cron_job *j = arg;
    struct cron_sched *s = j->s;
    int64_t now = cron_sched_now(s), at;

    if (j->missed) {
        j->missed = false;
        at = cron_next(&j->expr, j->tz, j->last_run);
    } else if (j->next >= 0 && now >= j->next) {
        at = j->next;
    } else {
        cron_job_arm(j); /* woke early (re-check, or the wall clock moved back) */
        return;
    }
    j->last_run = at;
    j->next = cron_next(&j->expr, j->tz, now > at ? now : at);
    cron_job_arm(j);
    s->cfg.fire(s->cfg.arg, j->index, at);
}

/* See scheduler.h. */
int
cron_sched_new(struct clock *c, const struct cron_sched_config *cfg, struct cron_sched **out)
{
    struct cron_sched *s = calloc(1, sizeof(*s));

    if (!s)
        return AB_ENOMEM;
    s->clock = c;
    s->cfg = *cfg;
    *out = s;
    return 0;
}

/* See scheduler.h. */
int
cron_sched_add(struct cron_sched *s, const struct cron_expr *e, struct tz *tz, int64_t last_run)
{
    struct cron_job *j;

    if (s->started) { /* armed timers live in the array: no moving it */
        tz_free(tz);
        return AB_EINVAL;
    }
    if (s->njobs == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4;
        struct cron_job *jobs = realloc(s->jobs, cap * sizeof(*jobs));
        if (!jobs) {
            tz_free(tz);
            return AB_ENOMEM;
        }
        s->jobs = jobs;
        s->cap = cap;
    }
    j = &s->jobs[s->njobs];
    *j = (struct cron_job){.s = s, .index = s->njobs, .expr = *e, .tz = tz, .last_run = last_run};
    clock_timer_init(&j->timer);
    s->njobs++;
    return 0;
}

/* See scheduler.h. */
void
cron_sched_start(struct cron_sched *s)
{
    int64_t now = cron_sched_now(s);

    s->started = true;
    for (size_t i = 0; i < s->njobs; i++) {
        struct cron_job *j = &s->jobs[i];
        int64_t missed = j->last_run > 0 ? cron_next(&j->expr, j->tz, j->last_run) : -1;
        j->missed = s->cfg.catch_up > 0 && missed >= 0 && missed <= now;
        j->next = cron_next(&j->expr, j->tz, now);
        cron_job_arm(j);
    }
}

/* See scheduler.h. */
int64_t
cron_sched_next(const struct cron_sched *s, size_t job)
{
    return job < s->njobs ? s->jobs[job].next : -1;
}

/* See scheduler.h. */
int64_t
cron_sched_last_run(const struct cron_sched *s, size_t job)
{
    return job < s->njobs ? s->jobs[job].last_run : 0;
}

/* See scheduler.h. */
void
cron_sched_free(struct cron_sched *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->njobs; i++) {
        clock_timer_stop(&s->jobs[i].timer);
        tz_free(s->jobs[i].tz);
    }
    free(s->jobs);
    free(s);
}
