/* [[cron.jobs]] at work (see schedules.h). */
#include "conv/schedules.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <agent-broker/convert.h>
#include <agent-broker/errors.h>
#include <cjson/cJSON.h>

#include "acp/state_map.h"
#include "cron/cron_expr.h"
#include "cron/scheduler.h"
#include "cron/tz.h"
#include "host/host.h"
#include "log.h"

#define SCHEDULES_SHIFT_MAX_S                                                                      \
    (100LL * 366 * 86400) /* the test knob moves the clock at most this far */

/* One enabled job, copied from the config. */
struct schedules_job {
    struct schedules *s;
    int line;
    char *schedule, *platform, *channel, *thread_id, *message, *sender_name; /* owned */
    struct chat_instance *ci; /* lent: where it posts */
};

/* One run being posted: its line is on its way to the platform. */
struct schedules_run {
    struct schedules_run *prev, *next; /* the owner's runs in flight */
    struct schedules_job job;          /* a copy: a reload may free the job meanwhile */
    struct chat_owner owner;           /* the post */
};

struct schedules {
    uv_loop_t *loop;             /* lent */
    struct engine *e;            /* lent */
    struct chat_instance *chats; /* lent, nchats of them */
    size_t nchats;
    struct schedules_job *jobs; /* owned, njobs of them: the armed ones, in the scheduler's order */
    size_t njobs;
    struct cron_sched *sched;   /* owned, or NULL when stopped */
    struct state_map *state;    /* owned, or NULL: last runs not kept */
    cJSON *doc;                 /* owned: {"jobs": [{schedule, platform, channel, thread_id,
                                   message, last_run}]}, every record seen or made */
    int64_t shift;              /* SCHEDULES_TEST_SHIFT_ENV, seconds */
    struct schedules_run *runs; /* owned: runs in flight */
};

/* @j as a config entry (strings lent from @j). */
static struct config_cron_job
schedules_job_view(const struct schedules_job *j)
{
    return (struct config_cron_job){.line = j->line,
                                    .schedule = j->schedule,
                                    .platform = j->platform,
                                    .channel = j->channel,
                                    .thread_id = j->thread_id,
                                    .message = j->message,
                                    .sender_name = j->sender_name};
}

/* Free @j's strings. */
static void
schedules_job_clear(struct schedules_job *j)
{
    free(j->schedule);
    free(j->platform);
    free(j->channel);
    free(j->thread_id);
    free(j->message);
    free(j->sender_name);
}

/* Fill @j (zeroed) for @s posting through @ci with copies of @cj's strings. 0 or
 * AB_ENOMEM (@j holds what was copied: clear it). */
static int
schedules_job_copy(struct schedules_job *j, struct schedules *s, struct chat_instance *ci,
                   const struct config_cron_job *cj)
{
    *j = (struct schedules_job){.s = s, .line = cj->line, .ci = ci};
    j->schedule = strdup(cj->schedule);
    j->platform = cj->platform ? strdup(cj->platform) : NULL;
    j->channel = cj->channel ? strdup(cj->channel) : NULL;
    j->thread_id = cj->thread_id ? strdup(cj->thread_id) : NULL;
    j->message = strdup(cj->message);
    j->sender_name = strdup(cj->sender_name ? cj->sender_name : "cron");
    return !j->schedule || (cj->platform && !j->platform) || (cj->channel && !j->channel) ||
                   (cj->thread_id && !j->thread_id) || !j->message || !j->sender_name
               ? AB_ENOMEM
               : 0;
}

/* The schedules' wall clock: time(), moved by the test knob when it is set. */
static int64_t
schedules_now(void *arg)
{
    const struct schedules *s = arg;

    return (int64_t)time(NULL) + s->shift;
}

/* A record's string field equals @want (NULL and absent match). */
static bool
schedules_field_is(const cJSON *rec, const char *name, const char *want)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, name);
    const char *got = cJSON_IsString(v) ? v->valuestring : NULL;

    return got && want ? strcmp(got, want) == 0 : !got && !want;
}

/* The record of @job in @doc, or NULL: a job is known by its schedule, platform, channel,
 * thread and message (its line or sender name may change without losing it). */
static cJSON *
schedules_record(const cJSON *doc, const struct config_cron_job *job)
{
    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(doc, "jobs"), *rec;

    cJSON_ArrayForEach(rec, jobs)
    {
        if (schedules_field_is(rec, "schedule", job->schedule) &&
            schedules_field_is(rec, "platform", job->platform) &&
            schedules_field_is(rec, "channel", job->channel) &&
            schedules_field_is(rec, "thread_id", job->thread_id) &&
            schedules_field_is(rec, "message", job->message))
            return (cJSON *)rec;
    }
    return NULL;
}

/* See schedules.h. */
int64_t
schedules_last_run(const struct schedules *s, const struct config_cron_job *job)
{
    const cJSON *rec = schedules_record(s->doc, job);
    const cJSON *v = rec ? cJSON_GetObjectItemCaseSensitive(rec, "last_run") : NULL;

    return cJSON_IsNumber(v) && v->valuedouble > 0 ? (int64_t)v->valuedouble : 0;
}

/* Record @job's last run @at and write the file (off the loop). */
static void
schedules_remember(struct schedules *s, const struct schedules_job *j, int64_t at)
{
    const struct config_cron_job key = schedules_job_view(j);
    cJSON *rec = schedules_record(s->doc, &key), *jobs, *copy;

    if (!rec) {
        jobs = cJSON_GetObjectItemCaseSensitive(s->doc, "jobs");
        if (!cJSON_IsArray(jobs)) {
            cJSON_DeleteItemFromObjectCaseSensitive(s->doc, "jobs");
            jobs = cJSON_AddArrayToObject(s->doc, "jobs");
        }
        if (!jobs || !(rec = cJSON_CreateObject()))
            goto fail;
        cJSON_AddItemToArray(jobs, rec);
        if (!cJSON_AddStringToObject(rec, "schedule", j->schedule) ||
            (j->platform && !cJSON_AddStringToObject(rec, "platform", j->platform)) ||
            (j->channel && !cJSON_AddStringToObject(rec, "channel", j->channel)) ||
            (j->thread_id && !cJSON_AddStringToObject(rec, "thread_id", j->thread_id)) ||
            !cJSON_AddStringToObject(rec, "message", j->message))
            goto fail;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(rec, "last_run");
    if (!cJSON_AddNumberToObject(rec, "last_run", (double)at))
        goto fail;
    if (s->state &&
        (!(copy = cJSON_Duplicate(s->doc, true)) || state_map_write(s->state, copy) < 0))
        goto fail;
    return;

fail:
    log_warn("cron",
             "job at line %d: out of memory keeping its last run; [cron] catch_up may "
             "repeat it after a restart",
             j->line);
}

/* Free a run. */
static void
schedules_run_free(struct schedules_run *r)
{
    chat_owner_detach(&r->owner);
    schedules_job_clear(&r->job);
    free(r);
}

/* Take @r out of its owner's list. */
static void
schedules_run_unlink(struct schedules_run *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        r->job.s->runs = r->next;
    if (r->next)
        r->next->prev = r->prev;
}

/* A run whose line is on the platform could not start: say so under it (a posted line
 * is never left without an answer), and log @what. */
static void
schedules_say_not_run(const struct schedules_job *j, const struct ab_msg_ref *ref, const char *what,
                      int rc)
{
    char line[256];

    log_warn("cron", "job at line %d: %s %s in %s was not run: %s", j->line, what, ref->message_id,
             ref->channel_id, ab_strerror(rc));
    snprintf(line, sizeof(line),
             "⚠️ This scheduled run could not start (%s); it runs again at its next time.",
             ab_strerror(rc));
    if (chat_send(j->ci, j->thread_id ? j->thread_id : ref->channel_id, j->thread_id, line,
                  RATELIMIT_FINAL_TEXT, NULL, NULL, NULL) < 0)
        log_warn("cron", "job at line %d: cannot say so in %s either", j->line, ref->channel_id);
}

/* A run's line is posted: the engine takes it as the operator's message there — at top
 * level a thread opens from the line, in a thread it queues behind a running turn. */
static void
schedules_posted(void *arg, int status, const struct ab_msg_ref *ref)
{
    struct schedules_run *r = arg;
    const struct schedules_job *j = &r->job;
    const char *parent = j->channel ? j->channel : j->thread_id;
    int rc;

    schedules_run_unlink(r);
    if (status < 0 || !ref || !ref->message_id || !ref->channel_id) {
        log_warn("cron",
                 "job at line %d: cannot post in %s on %s (%s); this run is skipped — it runs "
                 "again at its next time",
                 j->line, j->thread_id ? j->thread_id : j->channel, j->ci->name,
                 ab_strerror(status < 0 ? status : AB_EIO));
        schedules_run_free(r);
        return;
    }
    /* Shaped as the plugin delivers a message there (its conversation id for the thread,
     * or for the thread the post opens), from a sender no allowlist names. */
    char conv[POLICY_KEY_MAX];
    if ((rc = chat_conversation_of(j->ci, ref->channel_id, j->thread_id, ref->message_id, conv,
                                   sizeof(conv))) < 0) {
        schedules_say_not_run(j, ref, "the platform cannot name the conversation of its line", rc);
        schedules_run_free(r);
        return;
    }
    /* a platform without threads to open replies where the conversation is (Teams: the
     * reply chain under the line) */
    bool in_conversation = !j->thread_id && !j->ci->can_thread && strcmp(conv, ref->channel_id);
    struct ab_inbound m = {
        .size = sizeof(m),
        .conversation = conv,
        .channel_id = in_conversation ? conv : ref->channel_id,
        .parent_id = j->thread_id      ? parent
                     : in_conversation ? ref->channel_id
                                       : NULL,
        .message_id = ref->message_id,
        .sender_id = "cron",
        .sender_name = j->sender_name,
        .display_name = j->sender_name,
        .text = j->message,
        .clean_text = j->message,
        .is_thread = j->thread_id != NULL || in_conversation,
        .mentions_bot = true,
        .is_human_turn = true,
        .thread_is_ours = j->thread_id != NULL || in_conversation,
        .thread_id = j->thread_id      ? j->thread_id
                     : in_conversation ? conv
                                       : NULL,
    };
    if ((rc = engine_inbound_trusted(j->s->e, j->ci, &m)) < 0)
        schedules_say_not_run(j, ref, "its line", rc);
    else if (rc == 0)
        log_info("cron", "job at line %d: posted %s in %s on %s", j->line, ref->message_id,
                 ref->channel_id, j->ci->name);
    schedules_run_free(r);
}

/* Job @index is due (its minute @at): keep the run, post its line. */
static void
schedules_fire(void *arg, size_t index, int64_t at)
{
    struct schedules *s = arg;
    struct schedules_job *j = &s->jobs[index];
    const struct config_cron_job view = schedules_job_view(j);
    struct schedules_run *r = NULL;
    int64_t now = schedules_now(s);
    char *line = NULL;

    /* The run's real time, not its minute: a made-up run (catch_up) must not make
     * another one due after the next restart. */
    schedules_remember(s, j, now > at ? now : at);
    if (!j->ci->is_started) {
        log_warn("cron", "job at line %d: %s is not running; this run is skipped", j->line,
                 j->ci->name);
        return;
    }
    if (!j->ci->host->connected)
        log_warn("cron",
                 "job at line %d: %s reports no connection; posting anyway (the outbound "
                 "queue retries; a post that fails is reported)",
                 j->line, j->ci->name);
    if (!(r = calloc(1, sizeof(*r))) ||
        asprintf(&line, "🕐 %s: %s", j->sender_name, j->message) < 0 ||
        schedules_job_copy(&r->job, s, j->ci, &view) < 0)
        goto fail;
    r->next = s->runs;
    if (s->runs)
        s->runs->prev = r;
    s->runs = r;
    if (chat_send(j->ci, j->channel ? j->channel : j->thread_id, j->thread_id, line,
                  RATELIMIT_FINAL_TEXT, &r->owner, schedules_posted, r) < 0) {
        schedules_run_unlink(r);
        goto fail;
    }
    free(line);
    return;

fail:
    log_warn("cron", "job at line %d: cannot post in %s on %s; this run is skipped", j->line,
             j->thread_id ? j->thread_id : j->channel, j->ci->name);
    free(line);
    if (r)
        schedules_run_free(r);
}

/* Free the jobs. */
static void
schedules_jobs_free(struct schedules_job *jobs, size_t n)
{
    for (size_t i = 0; jobs && i < n; i++)
        schedules_job_clear(&jobs[i]);
    free(jobs);
}

/* The chat instance job @cj posts through (its platform, else the first), or NULL. */
static struct chat_instance *
schedules_chat(struct schedules *s, const struct config_cron_job *cj)
{
    for (size_t i = 0; i < s->nchats; i++)
        if (!cj->platform || strcmp(s->chats[i].name, cj->platform) == 0)
            return &s->chats[i];
    return NULL;
}

/* Add job @cj to @sched as jobs[*n] when it can run there; a job that cannot is logged
 * and left out. Returns 0 or AB_ENOMEM. */
static int
schedules_add(struct schedules *s, struct cron_sched *sched, const struct config_cron_job *cj,
              struct schedules_job *jobs, size_t *n)
{
    struct schedules_job *j = &jobs[*n];
    struct chat_instance *ci = schedules_chat(s, cj);
    const char *where = cj->channel ? cj->channel : cj->thread_id;
    struct cron_expr e;
    struct tz *tz = NULL;
    char err[300];
    int rc;

    if (!cj->enabled)
        return 0;
    if (!ci) {
        log_info("cron", "job at line %d: platform \"%s\" is not running; the job is skipped",
                 cj->line, cj->platform ? cj->platform : "(first)");
        return 0;
    }
    if (!policy_channel_allowed(ci->policy, where)) {
        log_info("cron",
                 "job at line %d: channel %s is not allowed on %s ([%s] allowed_channels); the "
                 "job is skipped",
                 cj->line, where ? where : "(none)", ci->name, ci->name);
        return 0;
    }
    if (cron_parse(cj->schedule, &e, err, sizeof(err)) < 0 ||
        tz_load(NULL, cj->timezone, &tz, err, sizeof(err)) < 0) {
        log_warn("cron", "job at line %d: %s; the job is skipped", cj->line, err);
        return 0;
    }
    rc = schedules_job_copy(j, s, ci, cj);
    (*n)++; /* freed with the others from here on */
    if (rc < 0) {
        tz_free(tz);
        return rc;
    }
    if ((rc = cron_sched_add(sched, &e, tz, schedules_last_run(s, cj))) < 0)
        return rc;
    return 0;
}

/* Build the jobs and their scheduler from @cjobs and start it; on failure @s keeps what
 * it had. */
static int
schedules_arm(struct schedules *s, const struct config_cron_job *cjobs, size_t ncjobs, int catch_up)
{
    struct cron_sched_config cc = {.catch_up = catch_up,
                                   .wall_now = schedules_now,
                                   .wall_arg = s,
                                   .fire = schedules_fire,
                                   .arg = s};
    struct schedules_job *jobs = calloc(ncjobs ? ncjobs : 1, sizeof(*jobs));
    struct cron_sched *sched = NULL;
    size_t n = 0;
    int rc = AB_ENOMEM;

    if (!jobs || (rc = cron_sched_new(engine_clock(s->e), &cc, &sched)) < 0)
        goto fail;
    for (size_t i = 0; i < ncjobs; i++)
        if ((rc = schedules_add(s, sched, &cjobs[i], jobs, &n)) < 0)
            goto fail;
    cron_sched_free(s->sched);
    schedules_jobs_free(s->jobs, s->njobs);
    s->sched = sched;
    s->jobs = jobs;
    s->njobs = n;
    cron_sched_start(sched);
    for (size_t i = 0; i < n; i++) {
        time_t next = (time_t)cron_sched_next(sched, i);
        struct tm tm;
        char when[32] = "never";
        if (next >= 0 && gmtime_r(&next, &tm))
            strftime(when, sizeof(when), "%Y-%m-%dT%H:%MZ", &tm);
        log_info("cron", "job at line %d: next run %s in %s on %s", jobs[i].line, when,
                 jobs[i].thread_id ? jobs[i].thread_id : jobs[i].channel, jobs[i].ci->name);
    }
    return 0;

fail:
    cron_sched_free(sched);
    schedules_jobs_free(jobs, n);
    return rc;
}

/* See schedules.h. */
int
schedules_new(uv_loop_t *loop, struct engine *e, struct chat_instance *chats, size_t nchats,
              const struct config_cron_job *jobs, size_t njobs, int catch_up, const char *state_dir,
              struct schedules **out)
{
    struct schedules *s = calloc(1, sizeof(*s));
    const char *shift = getenv(SCHEDULES_TEST_SHIFT_ENV);
    int rc;

    if (!s)
        return AB_ENOMEM;
    s->loop = loop;
    s->e = e;
    s->chats = chats;
    s->nchats = nchats;
    if (shift && *shift &&
        ab_str_to_i64(shift, -SCHEDULES_SHIFT_MAX_S, SCHEDULES_SHIFT_MAX_S, &s->shift) < 0) {
        log_warn("cron", "%s=%s is not a number of seconds; ignored", SCHEDULES_TEST_SHIFT_ENV,
                 shift);
    } else if (shift && *shift) {
        log_warn("cron",
                 "%s=%s: the schedules run on a clock moved by %" PRId64 " s (a test "
                 "knob; unset it in production)",
                 SCHEDULES_TEST_SHIFT_ENV, shift, s->shift);
    }
    if (state_dir &&
        state_map_open(loop, state_dir, SCHEDULES_STATE_FILE, &s->state, &s->doc) < 0) {
        log_warn("cron",
                 "cannot keep the jobs' last runs in %s; [cron] catch_up will not "
                 "see runs missed before a restart",
                 state_dir);
        s->state = NULL;
    }
    if (!s->doc && !(s->doc = cJSON_CreateObject())) {
        rc = AB_ENOMEM;
        goto fail;
    }
    if ((rc = schedules_arm(s, jobs, njobs, catch_up)) < 0)
        goto fail;
    *out = s;
    return 0;

fail:
    schedules_close(s);
    return rc;
}

/* See schedules.h. */
int
schedules_reload(struct schedules *s, const struct config_cron_job *jobs, size_t njobs,
                 int catch_up)
{
    return schedules_arm(s, jobs, njobs, catch_up);
}

/* See schedules.h. */
void
schedules_stop(struct schedules *s)
{
    if (!s)
        return;
    cron_sched_free(s->sched);
    s->sched = NULL;
    while (s->runs) {
        struct schedules_run *r = s->runs;
        schedules_run_unlink(r);
        schedules_run_free(r);
    }
}

/* See schedules.h. */
void
schedules_close(struct schedules *s)
{
    if (!s)
        return;
    schedules_stop(s);
    schedules_jobs_free(s->jobs, s->njobs);
    cJSON_Delete(s->doc);
    if (s->state)
        state_map_close(s->state, NULL, NULL);
    free(s);
}
