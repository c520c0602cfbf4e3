/* The session pool; see pool.h. */
#include "acp/pool.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/convert.h>
#include <agent-broker/errors.h>

#include "acp/acp_client.h"
#include "acp/state_map.h"
#include "outbound/defer.h"
#include "log.h"

#define POOL_STATE_FILE "sessions.json"

enum pool_state {
    PS_SUSPENDED, /* no process; the agent's session id may be kept for session/load */
    PS_WAITING,   /* placed on a process that is still initialising */
    PS_OPENING,   /* session/load, session/new or set_mode in flight */
    PS_IDLE,      /* live, no turn */
    PS_BUSY,      /* session/prompt in flight */
};

struct pool_proc {
    struct pool *pool;
    struct acp_client *client; /* owned by itself until on_exit */
    uint32_t nsessions;        /* sessions placed on it */
    bool ready, dying;
    struct pool_proc *next;
};

struct pool_session {
    struct pool *pool;
    char *key;              /* owned */
    char *session_id;       /* owned: the agent's id, kept while suspended; or NULL */
    struct pool_proc *proc; /* lent; NULL while suspended */
    enum pool_state state;
    bool has_reset; /* a session_reset to announce before the next turn's text */
    enum acp_reset_reason reset;
    enum acp_reset_reason lost;       /* why the session would be lost if it cannot be loaded */
    bool skip_load;                   /* the last load failed: open with session/new */
    uint64_t last_used;               /* loop ms */
    uint64_t opened_at;               /* loop ms the session opened; 0 = not open */
    cJSON *modes, *models, *config;   /* owned: what the agent advertised, kept current */
    struct pool_usage usage;          /* this session's */
    double last_cost;                 /* the agent's last running cost total */
    struct pool_setting *setting;     /* owned: a mode/model switch in flight, or NULL */
    struct pool_turn *turn;           /* owned; or NULL */
    struct pool_session *prev, *next; /* most recently used first */
    char *cwd;                        /* owned: its own workspace, or NULL = launch->cwd */
    struct workspace_req *ws_req;     /* lent: the workspace being prepared, or NULL */
};

struct pool_turn {
    struct pool_session *s;
    const struct turn_callbacks *cb; /* lent */
    void *arg;
    char *sender, *text;    /* owned */
    struct acp_file *files; /* owned: attachments of the prompt */
    size_t nfiles;
    uint64_t last_progress;      /* loop ms */
    uint64_t watchdog_cancel_at; /* when the watchdog sent session/cancel; 0 = not yet */
    bool timed_out;
    bool is_starting;        /* inside pool_prompt(): an end is reported later */
    struct turn_result late; /* an end reported later; its strings owned below */
    char *late_strings[4];   /* owned: stop_reason, message, stderr_tail, auth_hint */
    bool had_event;          /* the agent sent something for this turn */
    bool is_resent;          /* already re-sent once to a fresh process */
    struct pool_usage usage; /* this turn's so far */
};

/* A mode or model switch in flight on a session. */
struct pool_setting {
    enum acp_option_kind kind;
    enum acp_option_via via;
    char *value; /* owned: the chosen id */
    pool_set_fn fn;
    void *arg;
};

/* Free a turn record. */
static void
pool_turn_free(struct pool_turn *t)
{
    for (size_t i = 0; i < 4; i++)
        free(t->late_strings[i]);
    free(t->sender);
    free(t->text);
    acp_files_free(t->files, t->nfiles);
    free(t);
}

/* A turn that ended inside pool_prompt(): on_done now, a loop iteration later. */
static void
pool_turn_report_late(void *arg)
{
    struct pool_turn *t = arg;

    t->cb->on_done(t->arg, &t->late);
    pool_turn_free(t);
}

/* Keep @r in @t (copies of its strings) and report it on the next loop iteration.
 * Returns 0, or a negative code when it must be reported now. */
static int
pool_turn_defer(uv_loop_t *loop, struct pool_turn *t, const struct turn_result *r)
{
    const char *src[4] = {r->stop_reason, r->message, r->stderr_tail, r->auth_hint};

    t->late = *r;
    for (size_t i = 0; i < 4; i++)
        if (src[i] && !(t->late_strings[i] = strdup(src[i])))
            return AB_ENOMEM;
    t->late.stop_reason = t->late_strings[0];
    t->late.message = t->late_strings[1];
    t->late.stderr_tail = t->late_strings[2];
    t->late.auth_hint = t->late_strings[3];
    return defer_call(loop, pool_turn_report_late, t, NULL);
}

struct pool {
    uv_loop_t *loop;
    struct pool_config cfg;
    char *state_dir;                   /* owned copy of cfg.state_dir */
    const struct agent_launch *launch; /* lent */
    struct acp_client_config ccfg;
    uint32_t spp; /* effective sessions per process */
    struct pool_proc *procs;
    struct pool_session *head, *tail;
    uint32_t nsessions, live, turns, nprocs;
    uint64_t idle_suspensions, resumes; /* since start, for /metrics */
    uv_timer_t tick;
    struct state_map *state;
    struct workspace *ws; /* owned: per-conversation workspaces, or NULL */
    bool draining, drain_cancelled, closing;
    uint64_t drain_deadline;
    void (*drain_done)(void *arg);
    void *drain_arg;
    void (*close_done)(void *arg);
    void *close_arg;
    struct pool_usage total; /* every turn's usage since start */
    char message[1280];
};

static void pool_session_open(struct pool_session *s);
static int pool_session_place(struct pool_session *s);

/* Find the session of @key. */
static struct pool_session *
pool_find(const struct pool *pool, const char *key)
{
    struct pool_session *s;

    for (s = pool->head; s; s = s->next)
        if (strcmp(s->key, key) == 0)
            return s;
    return NULL;
}

/* Whether @key has a session, live or suspended; see the header. */
bool
pool_has(const struct pool *pool, const char *key)
{
    return pool_find(pool, key) != NULL;
}

/* Unlink @s from the LRU list. */
static void
pool_unlink(struct pool_session *s)
{
    struct pool *pool = s->pool;

    if (s->prev)
        s->prev->next = s->next;
    else
        pool->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        pool->tail = s->prev;
    s->prev = s->next = NULL;
}

/* Mark @s most recently used. */
static void
pool_touch(struct pool_session *s)
{
    struct pool *pool = s->pool;

    s->last_used = uv_now(pool->loop);
    if (pool->head == s)
        return;
    if (s->prev) /* a member that is not the head; a new record is in no list yet */
        pool_unlink(s);
    s->next = pool->head;
    if (pool->head)
        pool->head->prev = s;
    pool->head = s;
    if (!pool->tail)
        pool->tail = s;
}

/* Write the key -> {session_id, last_used} map (wall clock ms). */
static void
pool_persist(struct pool *pool)
{
    uint64_t now = uv_now(pool->loop);
    struct pool_session *s;
    uv_timeval64_t tv;
    int64_t wall;
    cJSON *doc, *e;

    if (!pool->state || uv_gettimeofday(&tv) < 0)
        return;
    wall = tv.tv_sec * 1000 + tv.tv_usec / 1000;
    if (!(doc = cJSON_CreateObject()))
        return;
    for (s = pool->tail; s; s = s->prev) {
        if (!s->session_id)
            continue;
        e = cJSON_AddObjectToObject(doc, s->key);
        cJSON_AddStringToObject(e, "session_id", s->session_id);
        cJSON_AddNumberToObject(e, "last_used", (double)(wall - (int64_t)(now - s->last_used)));
    }
    state_map_write(pool->state, doc);
}

/* Take @s off its process; a process left without sessions is stopped. */
static void
pool_detach(struct pool_session *s)
{
    struct pool_proc *p = s->proc;

    s->state = PS_SUSPENDED;
    if (!p)
        return;
    s->proc = NULL;
    p->nsessions--;
    s->pool->live--;
    if (p->nsessions == 0 && !p->dying && p->client) {
        p->dying = true;
        acp_client_stop(p->client);
    }
}

/* The process of @p is gone or going: never place a session on it again. */
static void
pool_proc_doomed(struct pool_proc *p)
{
    if (p)
        p->dying = true;
}

/* End @s's turn with @r and hand the result to the engine. */
static void
pool_turn_finish(struct pool_session *s, const struct turn_result *r)
{
    struct pool_turn *t = s->turn;
    struct pool *pool = s->pool;

    if (!t)
        return;
    s->turn = NULL;
    pool->turns--;
    if (s->state == PS_BUSY)
        s->state = PS_IDLE;
    pool_touch(s);
    /* Never inside the call that registered on_done: the caller still uses its turn. */
    if (t->is_starting && pool_turn_defer(pool->loop, t, r) == 0)
        return;
    t->cb->on_done(t->arg, r);
    pool_turn_free(t);
}

/* Copy how the agent of @c (may be NULL) ended into @r, if it has. */
static void
pool_result_exit(struct turn_result *r, struct acp_client *c)
{
    const struct acp_client_exit *ex = c ? acp_client_exit_info(c) : NULL;

    if (ex && ex->exited) {
        r->agent_exited = true;
        r->exit_status = ex->status;
        r->term_signal = ex->term_signal;
        r->stderr_tail = ex->stderr_tail;
    }
}

/* End @s's turn with an error; @c (may be NULL) supplies how the agent ended. */
static void
pool_turn_fail(struct pool_session *s, int rc, const char *message, struct acp_client *c)
{
    struct turn_result r = {.rc = rc, .message = message};

    pool_result_exit(&r, c);
    if (rc == AB_EAUTH || (s->turn && s->state <= PS_OPENING))
        r.auth_hint = s->pool->launch->auth_hint;
    pool_turn_finish(s, &r);
}

/* Send the turn's prompt; the session is live and idle. */
static void pool_on_prompt(void *arg, int rc, const char *stop_reason, int code,
                           const char *message, const cJSON *result);

static void
pool_turn_send(struct pool_session *s)
{
    struct pool_turn *t = s->turn;
    struct acp_event ev;
    int rc;

    if (s->has_reset && t->cb->on_event) {
        memset(&ev, 0, sizeof(ev));
        ev.kind = ACP_EV_SESSION_RESET;
        ev.session_id = s->session_id;
        ev.u.reset = s->reset;
        t->cb->on_event(t->arg, &ev);
    }
    s->has_reset = false;
    s->state = PS_BUSY;
    t->last_progress = uv_now(s->pool->loop);
    rc = acp_client_prompt_files(s->proc->client, s->session_id, t->sender, t->text, t->files,
                                 t->nfiles, pool_on_prompt, s);
    if (rc < 0) {
        s->state = PS_IDLE;
        pool_turn_fail(s, rc, "cannot send the prompt to the agent", NULL);
    }
}

/* The session is live: run the waiting turn, if any. */
static void
pool_session_ready(struct pool_session *s)
{
    s->state = PS_IDLE;
    if (s->turn)
        pool_turn_send(s);
}

/* A token count from the agent (untrusted): a finite, non-negative number, else 0. */
static uint64_t
pool_tokens(const cJSON *usage, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(usage, name);
    uint64_t n;

    if (!cJSON_IsNumber(v) || ab_double_to_u64(v->valuedouble, 0, UINT64_C(1) << 53, &n) < 0)
        return 0;
    return n;
}

/* Add @add's counts to @to (the context figures are the latest, not a sum). */
static void
pool_usage_add(struct pool_usage *to, const struct pool_usage *add)
{
    to->turns += add->turns;
    to->input_tokens += add->input_tokens;
    to->output_tokens += add->output_tokens;
    to->cost += add->cost;
    if (add->currency[0])
        memcpy(to->currency, add->currency, sizeof(to->currency));
    if (add->context_size > 0) {
        to->context_used = add->context_used;
        to->context_size = add->context_size;
    }
}

/* The prompt reply's usage {inputTokens, outputTokens} counts for the turn, the session
 * and the agent. */
static void
pool_usage_prompt(struct pool_session *s, struct pool_turn *t, const cJSON *result)
{
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(result, "usage");
    struct pool_usage add = {.turns = 1};

    if (!t)
        return;
    if (cJSON_IsObject(u)) {
        add.input_tokens = pool_tokens(u, "inputTokens");
        add.output_tokens = pool_tokens(u, "outputTokens");
    }
    t->usage.turns = 1;
    t->usage.input_tokens += add.input_tokens;
    t->usage.output_tokens += add.output_tokens;
    pool_usage_add(&s->usage, &add);
    pool_usage_add(&s->pool->total, &add);
}

/* A usage_update: the context figures, and the increase of the session's running cost. */
static void
pool_usage_update(struct pool_session *s, const struct acp_event *ev)
{
    struct pool_usage add = {0};
    double cost = ev->u.usage.cost;

    if (ev->u.usage.has_used && isfinite(ev->u.usage.used) && isfinite(ev->u.usage.size) &&
        ev->u.usage.used >= 0 && ev->u.usage.size > 0) {
        add.context_used = ev->u.usage.used;
        add.context_size = ev->u.usage.size;
    }
    if (ev->u.usage.has_cost && isfinite(cost) && cost >= 0 && cost < 1e12) {
        /* A total lower than the last one is a new running total (a new session). */
        add.cost = cost >= s->last_cost ? cost - s->last_cost : cost;
        s->last_cost = cost;
        if (ev->u.usage.currency)
            snprintf(add.currency, sizeof(add.currency), "%s", ev->u.usage.currency);
    }
    pool_usage_add(&s->usage, &add);
    pool_usage_add(&s->pool->total, &add);
    if (s->turn && s->state == PS_BUSY)
        pool_usage_add(&s->turn->usage, &add);
}

/* session/prompt replied: the turn is over. */
static void
pool_on_prompt(void *arg, int rc, const char *stop_reason, int code, const char *message,
               const cJSON *result)
{
    struct pool_session *s = arg;
    struct pool_turn *t = s->turn;
    struct acp_client *c = s->proc ? s->proc->client : NULL;
    struct turn_result r = {
        .rc = rc, .stop_reason = stop_reason, .agent_code = code, .message = message};
    char buf[256];

    if (rc == 0)
        pool_usage_prompt(s, t, result);
    if (t)
        r.usage = t->usage;

    if (rc == AB_ECLOSED) {
        /* The agent died: the session must be reloaded (or is lost) next time. */
        pool_result_exit(&r, c);
        s->lost = ACP_RESET_CRASHED;
        pool_proc_doomed(s->proc);
        pool_detach(s);
        /* It had stopped reading its stdin: the prompt never reached it. Run the turn
         * once more on a fresh process (session/load when the agent supports it). */
        if (t && !t->had_event && !t->is_resent && !t->timed_out && c &&
            acp_client_exit_info(c)->stdin_broken && !s->pool->draining && !s->pool->closing) {
            t->is_resent = true;
            log_info("acp",
                     "%s: the agent stopped reading its stdin; resending the prompt "
                     "to a fresh process",
                     s->key);
            if (pool_session_place(s) == 0)
                return;
        }
    }
    if (t && t->timed_out) {
        snprintf(buf, sizeof(buf), "the agent made no progress for %llu s: cancelled, then stopped",
                 (unsigned long long)(s->pool->cfg.watchdog_ms / 1000));
        r.rc = AB_ETIMEDOUT;
        r.stop_reason = NULL;
        r.message = buf;
    }
    pool_turn_finish(s, &r);
    pool_persist(s->pool);
}

/* session/set_mode replied: a failure is logged, the session still works. */
static void
pool_on_mode(void *arg, int rc, const char *session_id, const char *message, const cJSON *result)
{
    struct pool_session *s = arg;

    (void)session_id;
    (void)result;
    if (rc < 0)
        log_warn("acp", "%s: %s", s->key, message);
    if (rc == AB_ECLOSED) {
        struct acp_client *c = s->proc ? s->proc->client : NULL;

        pool_proc_doomed(s->proc);
        pool_detach(s);
        pool_turn_fail(s, rc, message, c);
        return;
    }
    pool_session_ready(s);
}

/* session/new replied. */
/* Keep a copy of what session/new or load advertised in @result (lent, may be NULL):
 * modes, models, configOptions. A load that returns none keeps what is known. */
static void
pool_keep_advertised(struct pool_session *s, const cJSON *result, bool is_new)
{
    const char *names[3] = {"modes", "models", "configOptions"};
    cJSON **slots[3] = {&s->modes, &s->models, &s->config};

    for (size_t i = 0; i < 3; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(result, names[i]);
        if (!v && !is_new)
            continue;
        cJSON_Delete(*slots[i]);
        *slots[i] = v && !cJSON_IsNull(v) ? cJSON_Duplicate(v, true) : NULL;
    }
    s->opened_at = uv_now(s->pool->loop);
}

static void
pool_on_new(void *arg, int rc, const char *session_id, const char *message, const cJSON *result)
{
    struct pool_session *s = arg;
    struct pool *pool = s->pool;
    struct acp_client *c = s->proc ? s->proc->client : NULL;
    char *id;

    if (rc < 0 || !(id = strdup(session_id))) {
        rc = rc < 0 ? rc : AB_ENOMEM;
        if (rc == AB_ECLOSED)
            pool_proc_doomed(s->proc);
        log_format_redacted(pool->message, sizeof(pool->message), "cannot open a session: %s",
                            message ? message : ab_strerror(rc));
        pool_detach(s);
        pool_turn_fail(s, rc, pool->message, c);
        return;
    }
    free(s->session_id);
    s->session_id = id;
    s->skip_load = false;
    s->last_cost = 0;
    pool_keep_advertised(s, result, true);
    pool_persist(pool);
    if (pool->launch->session_mode &&
        acp_client_set_mode(c, id, pool->launch->session_mode, pool_on_mode, s) == 0)
        return;
    pool_session_ready(s);
}

/* session/load replied: resumed, or fall back to session/new and say so. */
static void
pool_on_load(void *arg, int rc, const char *session_id, const char *message, const cJSON *result)
{
    struct pool_session *s = arg;
    struct pool_proc *p = s->proc;

    (void)session_id;
    if (rc == 0) {
        pool_keep_advertised(s, result, false);
        log_debug("acp", "%s: session %s resumed", s->key, s->session_id);
        s->pool->resumes++;
        /* A loaded session starts in the agent's default mode again (claude-agent-acp:
         * "auto", which never asks us): set the preset's mode as after session/new. */
        if (s->pool->launch->session_mode &&
            acp_client_set_mode(p->client, s->session_id, s->pool->launch->session_mode,
                                pool_on_mode, s) == 0)
            return;
        pool_session_ready(s);
        return;
    }
    log_warn("acp", "%s: %s; starting a new session", s->key, message);
    s->skip_load = true;
    s->has_reset = true;
    s->reset = ACP_RESET_LOAD_FAILED;
    if (rc == AB_ECLOSED || (rc == AB_ETIMEDOUT && s->pool->launch->load_may_hang)) {
        /* The agent died on the load (Kiro 2.x) or may be stuck in it (Kiro 1.x):
         * continue on another process. */
        pool_proc_doomed(p);
        if (rc == AB_ETIMEDOUT && p->client)
            acp_client_kill(p->client);
        pool_detach(s);
        if (s->turn && (rc = pool_session_place(s)) < 0)
            pool_turn_fail(s, rc, s->pool->message, NULL);
        return;
    }
    s->state = PS_WAITING;
    pool_session_open(s);
}

/* Open @s on its ready process: session/load when possible, else session/new. */
static void
pool_session_open(struct pool_session *s)
{
    struct acp_client *c = s->proc->client;
    struct pool *pool = s->pool;
    int rc;

    s->state = PS_OPENING;
    if (s->session_id && !s->skip_load && acp_client_can_load(c)) {
        if ((rc = acp_client_session_load(c, s->session_id, s->cwd ? s->cwd : pool->launch->cwd,
                                          pool_on_load, s)) < 0)
            pool_on_load(s, rc, NULL, ab_strerror(rc), NULL);
        return;
    }
    if (s->session_id && !s->has_reset) {
        s->has_reset = true;
        s->reset = s->lost;
    }
    if ((rc = acp_client_session_new(c, s->cwd ? s->cwd : pool->launch->cwd, pool_on_new, s)) < 0)
        pool_on_new(s, rc, NULL, ab_strerror(rc), NULL);
}

/* Suspend live idle @s: off its process, and when that process lives on with other
 * sessions, tell it to close this one (it may hold a process of its own for it). */
static void
pool_suspend(struct pool_session *s)
{
    struct pool_proc *p = s->proc;

    pool_detach(s);
    if (p && !p->dying && p->ready && p->client && s->session_id)
        acp_client_session_close(p->client, s->session_id);
}

/* Suspend the least recently used idle live session; AB_EFULL when all are busy. */
static int
pool_evict(struct pool *pool)
{
    struct pool_session *s;

    for (s = pool->tail; s; s = s->prev)
        if (s->proc && s->state == PS_IDLE && !s->turn)
            break;
    if (!s)
        return AB_EFULL;
    log_info("acp", "pool full: suspending %s", s->key);
    s->lost = ACP_RESET_EXPIRED;
    pool_suspend(s);
    return 0;
}

static const struct acp_client_ops pool_client_ops;

/* Start a new agent process. */
static int
pool_spawn(struct pool *pool, struct pool_proc **out)
{
    struct pool_proc *p;
    int rc;

    if (!(p = calloc(1, sizeof(*p))))
        return AB_ENOMEM;
    p->pool = pool;
    if ((rc = acp_client_start(pool->loop, pool->launch, &pool->ccfg, &pool_client_ops, p,
                               &p->client)) < 0) {
        log_format_redacted(pool->message, sizeof(pool->message),
                            "failed to start agent: cannot run '%s': %s%s%s", pool->launch->command,
                            uv_strerror(rc), pool->launch->auth_hint ? " — " : "",
                            pool->launch->auth_hint ? pool->launch->auth_hint : "");
        free(p);
        return rc;
    }
    p->next = pool->procs;
    pool->procs = p;
    pool->nprocs++;
    *out = p;
    return 0;
}

/* Give suspended @s a process: evict if the pool is full, share or spawn. */
static int
pool_session_place(struct pool_session *s)
{
    struct pool *pool = s->pool;
    struct pool_proc *p;
    int rc;

    if (pool->live >= pool->cfg.max_sessions && (rc = pool_evict(pool)) < 0) {
        log_format_redacted(pool->message, sizeof(pool->message),
                            "pool exhausted: all %u agent sessions are busy",
                            pool->cfg.max_sessions);
        return rc;
    }
    for (p = pool->procs; p; p = p->next)
        if (!p->dying && p->client && p->nsessions < pool->spp)
            break;
    if (!p && (rc = pool_spawn(pool, &p)) < 0)
        return rc;
    s->proc = p;
    p->nsessions++;
    pool->live++;
    s->state = PS_WAITING;
    if (p->ready)
        pool_session_open(s);
    return 0;
}

/* A session waiting on @p, or NULL. */
static struct pool_session *
pool_waiting_on(struct pool *pool, struct pool_proc *p)
{
    struct pool_session *s;

    for (s = pool->head; s; s = s->next)
        if (s->proc == p && s->state == PS_WAITING)
            return s;
    return NULL;
}

/* initialize finished: open the waiting sessions, or fail their turns. */
static void
pool_on_ready(void *arg, struct acp_client *c, int rc, const char *message)
{
    struct pool_proc *p = arg;
    struct pool *pool = p->pool;
    struct pool_session *s;

    if (rc == 0) {
        p->ready = true;
        while ((s = pool_waiting_on(pool, p)))
            pool_session_open(s);
        return;
    }
    p->dying = true;
    log_format_redacted(pool->message, sizeof(pool->message), "failed to start agent: %s%s%s",
                        message, pool->launch->auth_hint ? " — " : "",
                        pool->launch->auth_hint ? pool->launch->auth_hint : "");
    log_error("acp", "%s", pool->message);
    while ((s = pool_waiting_on(pool, p))) {
        pool_detach(s);
        pool_turn_fail(s, rc, pool->message, c);
    }
}

/* The session of agent id @sid on @p. */
static struct pool_session *
pool_by_agent_id(struct pool *pool, struct pool_proc *p, const char *sid)
{
    struct pool_session *s;

    for (s = pool->head; s; s = s->next)
        if (s->proc == p && s->session_id && strcmp(s->session_id, sid) == 0)
            return s;
    return NULL;
}

/* Set @obj's string member @name to @value (both lent), replacing it. */
static void
pool_json_set(cJSON *obj, const char *name, const char *value)
{
    cJSON *v = cJSON_CreateString(value);

    if (!obj || !v || !cJSON_ReplaceItemInObjectCaseSensitive(obj, name, v))
        if (!obj || !v || !cJSON_AddItemToObject(obj, name, v))
            cJSON_Delete(v);
}

/* Keep what an update says about the session: usage, the current mode, options. */
static void
pool_note_event(struct pool_session *s, const struct acp_event *ev)
{
    const cJSON *opts;

    switch (ev->kind) {
    case ACP_EV_USAGE: pool_usage_update(s, ev); break;
    case ACP_EV_MODE:
        if (s->modes && ev->u.mode_id)
            pool_json_set(s->modes, "currentModeId", ev->u.mode_id);
        break;
    case ACP_EV_CONFIG_OPTIONS:
        opts = cJSON_GetObjectItemCaseSensitive(ev->raw, "configOptions");
        if (cJSON_IsArray(opts)) {
            cJSON_Delete(s->config);
            s->config = cJSON_Duplicate(opts, true);
        }
        break;
    default: break;
    }
}

/* An update: progress for the watchdog, an event for the turn. Replays of
 * session/load and updates between turns have no turn to go to. */
static void
pool_on_event(void *arg, struct acp_client *c, const struct acp_event *ev)
{
    struct pool_proc *p = arg;
    struct pool_session *s = pool_by_agent_id(p->pool, p, ev->session_id);

    (void)c;
    if (s) /* between turns too: usage and settings often come after the reply */
        pool_note_event(s, ev);
    if (!s || !s->turn || s->state != PS_BUSY)
        return;
    s->turn->last_progress = uv_now(p->pool->loop);
    s->turn->had_event = true;
    if (s->turn->cb->on_event)
        s->turn->cb->on_event(s->turn->arg, ev);
}

/* Ask mode: hand the request to the session's turn, or cancel it. */
static void
pool_on_permission(void *arg, struct acp_client *c, struct acp_permission *req)
{
    struct pool_proc *p = arg;
    struct pool_session *s = pool_by_agent_id(p->pool, p, req->session_id);

    (void)c;
    if (!s || !s->turn || s->state != PS_BUSY) {
        acp_permission_resolve(req, ACP_PERM_CANCELLED);
        return;
    }
    s->turn->last_progress = uv_now(p->pool->loop);
    if (s->turn->cb->on_permission)
        s->turn->cb->on_permission(s->turn->arg, req);
    else
        acp_permission_resolve(req, ACP_PERM_REJECT);
}

static void pool_close_finish(struct pool *pool);

/* The process is gone; every request already failed. Release what was on it. */
static void
pool_on_exit(void *arg, struct acp_client *c)
{
    struct pool_proc *p = arg, **pp;
    struct pool *pool = p->pool;
    struct pool_session *s;

    p->dying = true;
    for (s = pool->head; s; s = s->next) {
        if (s->proc != p)
            continue;
        s->lost = ACP_RESET_CRASHED;
        pool_detach(s);
        if (s->turn)
            pool_turn_fail(s, AB_ECLOSED, "the agent exited before the session was ready", c);
    }
    for (pp = &pool->procs; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    pool->nprocs--;
    free(p);
    if (pool->closing && pool->nprocs == 0)
        pool_close_finish(pool);
}

static const struct acp_client_ops pool_client_ops = {
    .on_ready = pool_on_ready,
    .on_event = pool_on_event,
    .on_permission = pool_on_permission,
    .on_exit = pool_on_exit,
};

/* The conversation's workspace is ready (or not): carry on with the turn. */
static void
pool_on_workspace(void *arg, int rc, const char *path, const char *message)
{
    struct pool_session *s = arg;
    struct pool *pool = s->pool;
    char *cwd;

    s->ws_req = NULL;
    if (rc == 0 && (!s->cwd || strcmp(s->cwd, path) != 0)) {
        if (!(cwd = strdup(path)))
            rc = AB_ENOMEM;
        else {
            free(s->cwd);
            s->cwd = cwd;
        }
    }
    if (!s->turn) /* cancelled meanwhile */
        return;
    if (rc < 0) { /* not the agent's fault: no auth hint */
        struct turn_result r = {.rc = rc, .message = pool->message};
        log_format_redacted(pool->message, sizeof(pool->message),
                            "cannot prepare this conversation's workspace: %s",
                            message ? message : ab_strerror(rc));
        pool_turn_finish(s, &r);
        return;
    }
    if (s->proc && s->state == PS_IDLE)
        pool_turn_send(s);
    else if (!s->proc && (rc = pool_session_place(s)) < 0)
        pool_turn_fail(s, rc, pool->message, NULL);
}

/* Run a turn; see the header. */
int
pool_prompt(struct pool *pool, const char *key, const char *sender_context, const char *text,
            const struct turn_callbacks *cb, void *arg, struct pool_turn **out)
{
    return pool_prompt_files(pool, key, sender_context, text, NULL, 0, cb, arg, out);
}

/* Run a turn with files; see the header. */
int
pool_prompt_files(struct pool *pool, const char *key, const char *sender_context, const char *text,
                  const struct acp_file *files, size_t nfiles, const struct turn_callbacks *cb,
                  void *arg, struct pool_turn **out)
{
    struct pool_session *s = pool_find(pool, key);
    struct pool_turn *t;
    bool created = false;
    int rc = AB_ENOMEM;

    pool->message[0] = '\0';
    if (pool->draining || pool->closing) {
        log_format_redacted(pool->message, sizeof(pool->message), "agent-broker is shutting down");
        return AB_ECLOSED;
    }
    if (s && s->turn) {
        log_format_redacted(pool->message, sizeof(pool->message), "a turn is already running");
        return AB_EAGAIN;
    }
    if (!(t = calloc(1, sizeof(*t))) || !(t->text = strdup(text)) ||
        (sender_context && !(t->sender = strdup(sender_context))) ||
        acp_files_copy(files, nfiles, &t->files) < 0)
        goto fail;
    t->nfiles = t->files ? nfiles : 0;
    if (!s) {
        if (!(s = calloc(1, sizeof(*s))) || !(s->key = strdup(key))) {
            free(s);
            goto fail;
        }
        s->pool = pool;
        s->lost = ACP_RESET_EXPIRED;
        pool->nsessions++;
        created = true;
    }
    t->s = s;
    t->cb = cb;
    t->arg = arg;
    t->is_starting = true;
    s->turn = t;
    pool->turns++;
    pool_touch(s);
    if (out)
        *out = t;
    if (pool->ws) {
        if (s->ws_req) /* a cancelled turn's preparation: this turn makes its own */
            workspace_cancel(s->ws_req);
        s->ws_req = NULL;
        if ((rc = workspace_prepare(pool->ws, key, pool_on_workspace, s, &s->ws_req)) < 0)
            goto fail_placed;
    } else if (s->proc && s->state == PS_IDLE)
        pool_turn_send(s);
    else if (!s->proc && (rc = pool_session_place(s)) < 0)
        goto fail_placed;
    if (s->turn == t) /* still running: later ends are reported as they come */
        t->is_starting = false;
    return 0;

fail_placed:
    if (out)
        *out = NULL;
    s->turn = NULL;
    pool->turns--;
    if (created) {
        pool_unlink(s);
        pool->nsessions--;
        free(s->key);
        free(s);
    }
fail:
    if (t) {
        free(t->text);
        free(t->sender);
        acp_files_free(t->files, t->nfiles);
    }
    free(t);
    return rc;
}

/* The last synchronous failure's message. */
const char *
pool_error(const struct pool *pool)
{
    return pool->message;
}

/* Cancel a running turn; see the header. */
int
pool_cancel(struct pool *pool, const char *key)
{
    struct pool_session *s = pool_find(pool, key);
    struct turn_result r = {.rc = 0, .stop_reason = "cancelled"};

    if (!s || !s->turn)
        return AB_ENOENT;
    if (s->state == PS_BUSY)
        return acp_client_cancel(s->proc->client, s->session_id);
    /* Nothing was sent yet: the turn ends now, the session keeps opening. */
    pool_turn_finish(s, &r);
    return 0;
}

/* Free one session record. */
static void
pool_session_free(struct pool_session *s)
{
    pool_unlink(s);
    s->pool->nsessions--;
    if (s->ws_req)
        workspace_cancel(s->ws_req);
    free(s->key);
    free(s->session_id);
    cJSON_Delete(s->modes);
    cJSON_Delete(s->models);
    cJSON_Delete(s->config);
    free(s->cwd);
    free(s);
}

/* Forget a conversation's session; see the header. */
int
pool_reset(struct pool *pool, const char *key)
{
    struct pool_session *s = pool_find(pool, key);

    if (!s)
        return AB_ENOENT;
    if (s->turn || s->state == PS_OPENING || s->state == PS_WAITING)
        return AB_EAGAIN;
    pool_detach(s);
    pool_session_free(s);
    pool_persist(pool);
    return 0;
}

/* See the header. */
int
pool_session_info(const struct pool *pool, const char *key, struct pool_session_info *out)
{
    const struct pool_session *s = pool_find(pool, key);

    memset(out, 0, sizeof(*out));
    if (!s)
        return AB_ENOENT;
    out->session_id = s->session_id;
    out->is_live = s->proc != NULL;
    out->is_busy = s->turn != NULL;
    out->uptime_ms = s->opened_at && s->session_id ? uv_now(pool->loop) - s->opened_at : 0;
    out->modes = s->modes;
    out->models = s->models;
    out->config_options = s->config;
    out->usage = s->usage;
    return 0;
}

/* See the header. */
void
pool_usage_total(const struct pool *pool, struct pool_usage *out)
{
    *out = pool->total;
}

/* A switch replied: keep the new choice, tell the caller, run a turn that waited. */
static void
pool_on_setting(void *arg, int rc, const char *session_id, const char *message, const cJSON *result)
{
    struct pool_session *s = arg;
    struct pool_setting *st = s->setting;
    const cJSON *opts = cJSON_GetObjectItemCaseSensitive(result, "configOptions");
    struct acp_choices ch;

    (void)session_id;
    s->setting = NULL;
    if (rc == 0) {
        if (st->via == ACP_VIA_SET_MODE)
            pool_json_set(s->modes, "currentModeId", st->value);
        else if (st->via == ACP_VIA_SET_MODEL)
            pool_json_set(s->models, "currentModelId", st->value);
        else if (cJSON_IsArray(opts)) {
            cJSON_Delete(s->config);
            s->config = cJSON_Duplicate(opts, true);
        } else if (acp_options_get(NULL, NULL, s->config, st->kind, &ch) == 0) {
            cJSON *o;
            cJSON_ArrayForEach(o, s->config)
            {
                const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
                if (cJSON_IsString(id) && strcmp(id->valuestring, ch.config_id) == 0)
                    pool_json_set(o, "currentValue", st->value);
            }
        }
    }
    st->fn(st->arg, rc, rc < 0 ? message : NULL);
    free(st->value);
    free(st);
    if (rc == AB_ECLOSED) {
        struct acp_client *c = s->proc ? s->proc->client : NULL;

        pool_proc_doomed(s->proc);
        pool_detach(s);
        if (s->turn)
            pool_turn_fail(s, rc, message, c);
        return;
    }
    if (s->state == PS_OPENING)
        pool_session_ready(s);
}

/* See the header. */
int
pool_set_option(struct pool *pool, const char *key, enum acp_option_kind kind, const char *value,
                pool_set_fn fn, void *arg)
{
    struct pool_session *s = pool_find(pool, key);
    const struct acp_choice *choice;
    struct pool_setting *st;
    struct acp_choices ch;
    int rc;

    if (!s || !s->proc || !s->session_id)
        return AB_ENOENT;
    if (s->turn || s->setting || s->state != PS_IDLE)
        return AB_EAGAIN;
    if (acp_options_get(s->modes, s->models, s->config, kind, &ch) < 0)
        return AB_ENOTSUP;
    if (!(choice = acp_options_find(&ch, value)))
        return AB_EINVAL;
    if (!(st = calloc(1, sizeof(*st))) || !(st->value = strdup(choice->id))) {
        free(st);
        return AB_ENOMEM;
    }
    st->kind = kind;
    st->via = ch.via;
    st->fn = fn;
    st->arg = arg;
    if (ch.via == ACP_VIA_CONFIG)
        rc = acp_client_set_config(s->proc->client, s->session_id, ch.config_id, st->value,
                                   pool_on_setting, s);
    else if (ch.via == ACP_VIA_SET_MODE)
        rc = acp_client_set_mode(s->proc->client, s->session_id, st->value, pool_on_setting, s);
    else
        rc = acp_client_set_model(s->proc->client, s->session_id, st->value, pool_on_setting, s);
    if (rc < 0) {
        free(st->value);
        free(st);
        return rc;
    }
    s->setting = st;
    s->state = PS_OPENING; /* a turn arriving now waits for the reply */
    return 0;
}

/* Counts for /metrics. */
void
pool_stats(const struct pool *pool, struct pool_stats *out)
{
    const struct pool_session *s;

    out->suspended = 0;
    for (s = pool->head; s; s = s->next)
        if (!s->proc && s->session_id)
            out->suspended++;
    out->idle_suspensions = pool->idle_suspensions;
    out->resumes = pool->resumes;
    out->sessions = pool->nsessions;
    out->live = pool->live;
    out->busy = pool->turns;
    out->processes = pool->nprocs;
}

/* The live agent processes' ids. */
size_t
pool_agent_pids(const struct pool *pool, int *out, size_t cap)
{
    size_t n = 0;

    for (const struct pool_proc *p = pool->procs; p && n < cap; p = p->next) {
        int pid = p->client ? acp_client_pid(p->client) : 0;
        if (pid > 0)
            out[n++] = pid;
    }
    return n;
}

/* Watchdog for one busy turn: cancel after no progress, kill after the grace. */
static void
pool_watchdog(struct pool_session *s, uint64_t now)
{
    struct pool_turn *t = s->turn;
    struct pool *pool = s->pool;

    if (acp_client_pending_permissions(s->proc->client, s->session_id) > 0) {
        t->last_progress = now; /* waiting for a person is not a hang */
        return;
    }
    if (!t->watchdog_cancel_at && now - t->last_progress >= pool->cfg.watchdog_ms) {
        log_warn("acp", "%s: no progress for %llu ms: cancelling", s->key,
                 (unsigned long long)(now - t->last_progress));
        t->watchdog_cancel_at = now;
        acp_client_cancel(s->proc->client, s->session_id);
    } else if (t->watchdog_cancel_at && !t->timed_out &&
               now - t->watchdog_cancel_at >= pool->cfg.stop_grace_ms &&
               now - t->last_progress >= pool->cfg.stop_grace_ms) {
        log_warn("acp", "%s: the agent ignored session/cancel: killing it", s->key);
        t->timed_out = true;
        s->proc->dying = true;
        acp_client_kill(s->proc->client);
    }
}

/* Forget an idle session past its TTL; its conversation will hear it expired. */
static bool
pool_expire(struct pool_session *s, uint64_t now)
{
    struct pool *pool = s->pool;

    if (s->turn || (s->state != PS_IDLE && s->state != PS_SUSPENDED) ||
        now - s->last_used < pool->cfg.session_ttl_ms)
        return false;
    if (!s->session_id) {
        /* Only a note that it expired is left: drop it after a second TTL. */
        if (now - s->last_used >= 2 * pool->cfg.session_ttl_ms)
            pool_session_free(s);
        return false;
    }
    log_info("acp", "%s: session expired after %llu ms idle", s->key,
             (unsigned long long)(now - s->last_used));
    pool_detach(s);
    free(s->session_id);
    s->session_id = NULL;
    s->has_reset = true;
    s->reset = ACP_RESET_EXPIRED;
    if (pool->ws) { /* the conversation's files go with its session */
        workspace_release(pool->ws, s->key);
        free(s->cwd);
        s->cwd = NULL;
    }
    return true;
}

/* Suspend live @s once idle_suspend_ms passed since its last turn ended. Never with a
 * turn (a permission question belongs to one) or while opening, and only when the agent
 * can load the session back, unless suspend_without_load. Returns whether it did. */
static bool
pool_suspend_idle(struct pool_session *s, uint64_t now)
{
    struct pool *pool = s->pool;

    if (!s->proc || s->turn || s->state != PS_IDLE || !s->session_id ||
        now - s->last_used < pool->cfg.idle_suspend_ms)
        return false;
    if (!pool->cfg.suspend_without_load &&
        !(s->proc->client && acp_client_can_load(s->proc->client)))
        return false;
    log_info("acp", "%s: idle for %llu ms: suspending session %s", s->key,
             (unsigned long long)(now - s->last_used), s->session_id);
    s->lost = ACP_RESET_EXPIRED; /* told only if it cannot be loaded back */
    pool->idle_suspensions++;
    pool_suspend(s); /* the process stops once it carries no live session */
    return true;
}

/* Periodic work: watchdog, idle suspension, TTL, drain. */
static void
pool_on_tick(uv_timer_t *timer)
{
    struct pool *pool = timer->data;
    struct pool_session *s, *next;
    uint64_t now = uv_now(pool->loop);
    bool expired = false;

    for (s = pool->head; s; s = next) {
        next = s->next;
        if (s->turn && s->state == PS_BUSY && pool->cfg.watchdog_ms) {
            pool_watchdog(s, now);
            continue;
        }
        if (pool->cfg.idle_suspend_ms && !pool->closing)
            pool_suspend_idle(s, now);
        if (pool->cfg.session_ttl_ms)
            expired |= pool_expire(s, now);
    }
    if (expired)
        pool_persist(pool);
    if (!pool->draining || pool->closing)
        return;
    if (pool->turns > 0 && !pool->drain_cancelled && now >= pool->drain_deadline) {
        pool->drain_cancelled = true;
        for (s = pool->head; s; s = next) {
            next = s->next;
            if (s->turn)
                pool_cancel(pool, s->key);
        }
    }
    if (pool->turns == 0 && pool->drain_done) {
        void (*done)(void *) = pool->drain_done;

        pool->drain_done = NULL;
        done(pool->drain_arg);
    }
}

/* A persisted entry is untrusted input: a printable key and session id of sane length
 * (the id is sent to the agent) and a finite time no later than a day from now. */
static bool
pool_restore_valid(const char *key, const cJSON *sid, const cJSON *used, int64_t wall)
{
    const char *strs[2] = {key, cJSON_IsString(sid) ? sid->valuestring : NULL};

    if (!cJSON_IsNumber(used) || !isfinite(used->valuedouble) || used->valuedouble < 0 ||
        used->valuedouble > (double)wall + 86400000.0)
        return false;
    for (size_t i = 0; i < 2; i++) {
        size_t n = strs[i] ? strlen(strs[i]) : 0;
        if (n == 0 || n > 512)
            return false;
        for (const unsigned char *c = (const unsigned char *)strs[i]; *c; c++)
            if (*c < 0x20 || *c == 0x7f)
                return false;
    }
    return true;
}

/* Recreate the suspended sessions of the persisted map (start-up). */
static void
pool_restore(struct pool *pool, const cJSON *doc)
{
    uint64_t now = uv_now(pool->loop), age;
    const cJSON *e, *sid, *used;
    struct pool_session *s;
    uv_timeval64_t tv;
    int64_t wall, at;

    if (uv_gettimeofday(&tv) < 0)
        return;
    wall = tv.tv_sec * 1000 + tv.tv_usec / 1000;
    cJSON_ArrayForEach(e, doc)
    {
        sid = cJSON_GetObjectItemCaseSensitive(e, "session_id");
        used = cJSON_GetObjectItemCaseSensitive(e, "last_used");
        if (!pool_restore_valid(e->string, sid, used, wall)) {
            log_warn("acp", "state: a session map entry is malformed; skipped");
            continue;
        }
        if (ab_double_to_i64(used->valuedouble, 0, INT64_MAX, &at) < 0)
            at = wall;
        age = wall > at ? (uint64_t)(wall - at) : 0;
        if (pool->cfg.session_ttl_ms && age >= pool->cfg.session_ttl_ms)
            continue; /* pruned: the map never grows without bound */
        if (!(s = calloc(1, sizeof(*s))) || !(s->key = strdup(e->string)) ||
            !(s->session_id = strdup(sid->valuestring))) {
            if (s)
                free(s->key);
            free(s);
            return;
        }
        s->pool = pool;
        s->lost = ACP_RESET_EXPIRED;
        pool->nsessions++;
        pool_touch(s);
        s->last_used = age < now ? now - age : 0;
    }
}

/* Create a pool; see the header. */
int
pool_new(uv_loop_t *loop, const struct pool_config *cfg, const struct agent_launch *launch,
         struct pool **out)
{
    struct pool *pool;
    uint64_t tick;
    cJSON *doc = NULL;
    int rc = AB_ENOMEM;

    if (!launch || !launch->command || !launch->cwd || launch->cwd[0] != '/' ||
        cfg->max_sessions == 0)
        return AB_EINVAL;
    if (!(pool = calloc(1, sizeof(*pool))))
        return AB_ENOMEM;
    pool->loop = loop;
    pool->cfg = *cfg;
    pool->cfg.state_file = NULL; /* lent for pool_new only */
    pool->cfg.workspace = NULL;
    pool->launch = launch;
    if (!pool->cfg.init_timeout_ms)
        pool->cfg.init_timeout_ms = 120000;
    if (!pool->cfg.load_timeout_ms)
        pool->cfg.load_timeout_ms = 30000;
    if (!pool->cfg.watchdog_ms)
        pool->cfg.watchdog_ms = 600000;
    if (!pool->cfg.stop_grace_ms)
        pool->cfg.stop_grace_ms = 2000;
    pool->spp =
        launch->shared_process && cfg->sessions_per_process > 1 ? cfg->sessions_per_process : 1;
    pool->ccfg.init_timeout_ms = pool->cfg.init_timeout_ms;
    pool->ccfg.load_timeout_ms = pool->cfg.load_timeout_ms;
    pool->ccfg.stop_grace_ms = pool->cfg.stop_grace_ms;
    pool->ccfg.perm_mode = cfg->perm_mode;
    pool->ccfg.perm_timeout_ms = cfg->perm_timeout_ms;
    if (cfg->workspace && (rc = workspace_new(loop, cfg->workspace, &pool->ws)) < 0)
        goto fail;
    if (cfg->state_dir) {
        rc = AB_ENOMEM;
        if (!(pool->state_dir = strdup(cfg->state_dir)))
            goto fail;
        pool->cfg.state_dir = pool->state_dir;
        if ((rc = state_map_open(loop, pool->state_dir,
                                 cfg->state_file ? cfg->state_file : POOL_STATE_FILE, &pool->state,
                                 &doc)) < 0)
            goto fail;
        pool_restore(pool, doc);
        cJSON_Delete(doc);
    }
    /* One timer drives the watchdog, idle suspension, TTL and drain at a quarter of the
     * finest period. */
    tick = pool->cfg.watchdog_ms;
    if (pool->cfg.session_ttl_ms && pool->cfg.session_ttl_ms < tick)
        tick = pool->cfg.session_ttl_ms;
    if (pool->cfg.idle_suspend_ms && pool->cfg.idle_suspend_ms < tick)
        tick = pool->cfg.idle_suspend_ms;
    if (pool->cfg.stop_grace_ms < tick)
        tick = pool->cfg.stop_grace_ms;
    tick /= 4;
    tick = tick < 10 ? 10 : tick > 1000 ? 1000 : tick;
    uv_timer_init(loop, &pool->tick);
    pool->tick.data = pool;
    uv_timer_start(&pool->tick, pool_on_tick, tick, tick);
    *out = pool;
    return 0;

fail:
    workspace_close(pool->ws);
    free(pool->state_dir);
    free(pool);
    return rc;
}

/* Refuse new turns and wait for the running ones; see the header. */
void
pool_drain(struct pool *pool, uint64_t timeout_ms, void (*done)(void *arg), void *arg)
{
    pool->draining = true;
    pool->drain_deadline = uv_now(pool->loop) + timeout_ms;
    pool->drain_done = done;
    pool->drain_arg = arg;
}

/* The state file is flushed: free the rest and report. */
static void
pool_on_state_closed(void *arg)
{
    struct pool *pool = arg;
    void (*done)(void *) = pool->close_done;
    void *done_arg = pool->close_arg;

    while (pool->head)
        pool_session_free(pool->head);
    workspace_close(pool->ws);
    free(pool->state_dir);
    free(pool);
    if (done)
        done(done_arg);
}

/* The tick timer is closed: flush the state file. */
static void
pool_on_tick_closed(uv_handle_t *h)
{
    struct pool *pool = h->data;

    if (!pool->state) {
        pool_on_state_closed(pool);
        return;
    }
    pool_persist(pool);
    state_map_close(pool->state, pool_on_state_closed, pool);
}

/* Every process is gone: close the timer. */
static void
pool_close_finish(struct pool *pool)
{
    uv_close((uv_handle_t *)&pool->tick, pool_on_tick_closed);
}

/* Stop everything; see the header. */
void
pool_close(struct pool *pool, void (*done)(void *arg), void *arg)
{
    struct pool_proc *p;

    pool->closing = true;
    pool->close_done = done;
    pool->close_arg = arg;
    for (struct pool_session *s = pool->head; s; s = s->next)
        if (s->ws_req && s->turn) { /* still preparing its workspace: ends now */
            workspace_cancel(s->ws_req);
            s->ws_req = NULL;
            pool_turn_fail(s, AB_ECLOSED, "agent-broker is shutting down", NULL);
        }
    if (pool->nprocs == 0) {
        pool_close_finish(pool);
        return;
    }
    for (p = pool->procs; p; p = p->next) {
        p->dying = true;
        if (p->client)
            acp_client_stop(p->client);
    }
}
