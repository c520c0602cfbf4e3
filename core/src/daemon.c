/* The long-running modes: load the config and plugins, start the agent pool, the
 * engine, the chat plugins and the health server on one loop; stop on signals. */
#include "daemon.h"

#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "agent/preset.h"
#include "broker_setup.h"
#include "cli.h"
#include "config/config.h"
#include "config/secret_env.h"
#include "conv/commands.h"
#include "conv/engine.h"
#include "conv/schedules.h"
#include "health/health_server.h"
#include "heap_trim.h"
#include "ingress/ingress.h"
#include "health/metrics.h"
#include "health/process_metrics.h"
#include "host/host.h"
#include "log.h"
#include "plugin/loader.h"
#include "state/journal.h"
#include "state/state_dir.h"
#include "state/state_file.h"

/* One configured agent, resolved. */
struct daemon_agent {
    struct agent_choice choice;      /* owned */
    struct agent_launch launch;      /* points into choice, mcp and the config */
    struct agent_mcp_server *mcp;    /* owned array; strings lent from the config */
    char state_file[96];             /* its session map's file name */
    const struct config_agent *conf; /* lent from the config */
    struct workspace_config ws;      /* per-conversation workspaces; strings lent */
};

/* Everything the daemon owns, torn down in reverse. */
/* Freed heap goes back to the kernel 2 s after start (what start-up freed), then once a
 * minute, whenever glibc holds at least 256 KiB of it. */
#define DAEMON_TRIM_FIRST_MS 2000
#define DAEMON_TRIM_EVERY_MS 60000
#define DAEMON_TRIM_MIN_FREE (256 * 1024)

struct daemon {
    uv_loop_t loop;
    enum daemon_mode mode;
    struct config cfg;
    struct plugin_set plugins;
    char **dirs;
    struct daemon_agent *agents; /* owned, cfg.nagents of them: [0] is the default */
    size_t nagents;
    const char *console_agent; /* lent: --agent NAME, or NULL */
    struct broker *broker;     /* owned: pools, engine, chat instances */
    struct journal *journal;   /* owned, or NULL without a state dir */
    struct health_server *health;
    struct ingress *ingress;     /* owned: [ingress] listen, or NULL */
    struct schedules *schedules; /* owned: [[cron.jobs]] in run mode, or NULL */
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t idle_guard;
    uv_timer_t quiet_timer;     /* runs the teardown from a clean stack */
    struct heap_trim heap_trim; /* freed heap back to the kernel, now and then */
    struct config *retired;     /* owned: configs replaced by SIGHUP (engine strings point
                                   into them until exit) */
    size_t nretired;
    bool is_stopping;
    int exit_code;
};

/* The engine's settings from the config and the agent's preset. */
static void
daemon_engine_config(const struct daemon *d, struct engine_config *ec)
{
    broker_setup_engine_config(&d->cfg, ec);
    ec->auth_hint = d->agents[0].choice.auth_hint;
    ec->attach.dir = d->agents[0].choice.cwd; /* attachments are saved where the agent works */
    ec->classify_tool = d->agents[0].choice.ops ? d->agents[0].choice.ops->classify_tool : NULL;
}

/* The launch spec of agent @da from its resolved preset and its MCP servers. */
static int
daemon_launch(struct daemon_agent *da)
{
    const struct agent_choice *a = &da->choice;
    const struct config_agent *ca = da->conf;

    if (ca->nmcp && !(da->mcp = calloc(ca->nmcp, sizeof(*da->mcp))))
        return AB_ENOMEM;
    for (size_t i = 0; i < ca->nmcp; i++) {
        const struct config_mcp *m = &ca->mcp[i];
        da->mcp[i] = (struct agent_mcp_server){
            .name = m->name,
            .type = m->type == CONFIG_MCP_HTTP  ? AGENT_MCP_HTTP
                    : m->type == CONFIG_MCP_SSE ? AGENT_MCP_SSE
                                                : AGENT_MCP_STDIO,
            .command = m->command,
            .args = (const char *const *)m->args.items,
            .env = (const char *const *)m->env.items,
            .url = m->url,
            .headers = (const char *const *)m->headers.items,
        };
    }
    snprintf(da->state_file, sizeof(da->state_file),
             strcmp(ca->name, "default") == 0 ? "sessions.json" : "sessions-%s.json", ca->name);
    da->launch = (struct agent_launch){
        .command = a->resolved ? a->resolved : a->command,
        .args = (const char *const *)a->args.items,
        .preset_env = (const char *const *)a->preset_env.items,
        .inherit_env = (const char *const *)a->inherit_env.items,
        .config_env = (const char *const *)a->config_env.items,
        .cwd = a->cwd,
        .shared_process = (a->flags & AB_AGENT_SHARED_PROCESS) != 0,
        .load_may_hang = (a->flags & AB_AGENT_LOAD_MAY_HANG) != 0,
        .auth_method = a->ops ? a->ops->auth_method : NULL,
        .auth_hint = a->auth_hint,
        .session_mode = a->preset ? a->preset->session_mode : NULL,
        .home = a->preset ? a->preset->home : NULL,
        .name = ca->name,
        .mcp_servers = da->mcp,
        .nmcp = ca->nmcp,
    };
    return 0;
}

/* /readyz: every chat plugin connected and every agent's command resolves. */
static bool
daemon_ready(void *arg, struct health_text *why)
{
    struct daemon *d = arg;
    bool ready = true;

    if (d->is_stopping) {
        health_text_printf(why, "shutting down\n");
        return false;
    }
    for (size_t i = 0; i < d->broker->nchats; i++) {
        struct ab_host *h = d->broker->chats[i].host;
        if (!h->connected) {
            health_text_printf(why, "%s: not connected%s%s\n", d->broker->chats[i].name,
                               h->detail ? ": " : "", h->detail ? h->detail : "");
            ready = false;
        }
    }
    for (size_t i = 0; i < d->nagents; i++)
        if (!d->agents[i].choice.resolved) {
            health_text_printf(why, "agent %s: command \"%s\" not found on PATH\n",
                               d->agents[i].conf->name, d->agents[i].choice.command);
            ready = false;
        }
    return ready;
}

/* The agents' usage counters (tokens, cost, turns), one sample set per agent. */
static void
daemon_metrics_usage(struct daemon *d, struct health_text *out)
{
    size_t n = engine_agent_count(d->broker->engine);
    const char **names = calloc(n ? n : 1, sizeof(*names));
    struct pool_usage *usage = calloc(n ? n : 1, sizeof(*usage));

    if (names && usage) {
        for (size_t i = 0; i < n; i++) {
            struct pool *pool;
            uint64_t turns, errors;
            engine_agent_stats(d->broker->engine, i, &names[i], &pool, &turns, &errors);
            pool_usage_total(pool, &usage[i]);
        }
        metrics_usage(out, names, usage, n);
    }
    free(names);
    free(usage);
}

/* The agent processes' memory (each with what it started: its process group), over
 * every agent's pool. */
static void
daemon_metrics_agents(struct daemon *d, struct health_text *out)
{
    int pids[256];
    size_t n = 0, nagents = engine_agent_count(d->broker->engine);
    uint64_t bytes;

    for (size_t i = 0; i < nagents && n < sizeof(pids) / sizeof(pids[0]); i++) {
        const char *name;
        struct pool *pool;
        uint64_t turns, errors;
        engine_agent_stats(d->broker->engine, i, &name, &pool, &turns, &errors);
        n += pool_agent_pids(pool, pids + n, sizeof(pids) / sizeof(pids[0]) - n);
    }
    if (process_metrics_groups_rss(pids, n, &bytes) == 0)
        metrics_gauge(out, "agent_broker_agent_resident_memory_bytes",
                      "resident memory of the agent processes and their children", NULL, 0,
                      (double)bytes);
}

/* Sample @value of agent @i's family @name (declared by the caller). */
static void
daemon_agent_sample(struct health_text *out, const char *name, const char *agent, double value)
{
    metrics_sample(out, name, &(struct metrics_label){"agent", agent}, 1, value);
}

/* The pool's and the turns' families, one sample per agent (label agent="NAME"). */
static void
daemon_agent_metrics(struct daemon *d, struct health_text *out)
{
    static const struct {
        const char *name, *help;
        enum metrics_type type;
    } fams[] = {
        {"agent_broker_sessions", "known agent sessions", METRICS_GAUGE},
        {"agent_broker_sessions_live", "sessions attached to a process", METRICS_GAUGE},
        {"agent_broker_sessions_busy", "sessions running a turn", METRICS_GAUGE},
        {"agent_broker_agent_processes", "agent processes", METRICS_GAUGE},
        {"agent_broker_turns_total", "agent turns started", METRICS_COUNTER},
        {"agent_broker_turn_errors_total", "turns that ended in an error", METRICS_COUNTER},
        {"agent_broker_sessions_suspended", "sessions without a process, kept for session/load",
         METRICS_GAUGE},
        {"agent_broker_sessions_idle_suspended_total", "sessions suspended after idle_suspend_s",
         METRICS_COUNTER},
        {"agent_broker_sessions_resumed_total", "sessions resumed with session/load",
         METRICS_COUNTER},
    };
    size_t n = engine_agent_count(d->broker->engine);

    for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
        metrics_family(out, fams[f].name, fams[f].help, fams[f].type);
        for (size_t i = 0; i < n; i++) {
            const char *name;
            struct pool *pool;
            struct pool_stats ps;
            uint64_t turns, errors;
            double v[9];
            engine_agent_stats(d->broker->engine, i, &name, &pool, &turns, &errors);
            pool_stats(pool, &ps);
            v[0] = ps.sessions;
            v[1] = ps.live;
            v[2] = ps.busy;
            v[3] = ps.processes;
            v[4] = (double)turns;
            v[5] = (double)errors;
            v[6] = ps.suspended;
            v[7] = (double)ps.idle_suspensions;
            v[8] = (double)ps.resumes;
            daemon_agent_sample(out, fams[f].name, name, v[f]);
        }
    }
}

/* /metrics: plugins, pools and turns per agent, engine, outbound scheduler. */
static void
daemon_metrics(void *arg, struct health_text *out)
{
    struct daemon *d = arg;
    struct engine_stats es;
    struct ratelimit_stats rs;

    metrics_family(out, "agent_broker_plugin_connected",
                   "1 when the chat plugin reports itself connected", METRICS_GAUGE);
    for (size_t i = 0; i < d->broker->nchats; i++)
        metrics_sample(out, "agent_broker_plugin_connected",
                       &(struct metrics_label){"plugin", d->broker->chats[i].name}, 1,
                       d->broker->chats[i].host->connected);
    daemon_agent_metrics(d, out);
    engine_get_stats(d->broker->engine, &es);
    metrics_counter(out, "agent_broker_messages_received_total", "inbound messages", NULL, 0,
                    (double)es.received);
    metrics_counter(out, "agent_broker_messages_accepted_total", "messages accepted by policy",
                    NULL, 0, (double)es.accepted);
    metrics_counter(out, "agent_broker_messages_rejected_total",
                    "accepted messages that could not be queued (the user was told)", NULL, 0,
                    (double)es.rejected);
    metrics_gauge(out, "agent_broker_messages_queued", "messages waiting behind a turn", NULL, 0,
                  es.queued);
    metrics_gauge(out, "agent_broker_conversations_waiting",
                  "conversations waiting for a free agent session", NULL, 0, es.waiting);
    metrics_family(out, "agent_broker_turns_finished_total", "agent turns ended, by outcome",
                   METRICS_COUNTER);
    metrics_sample(out, "agent_broker_turns_finished_total",
                   &(struct metrics_label){"outcome", "ok"}, 1, (double)es.turns_ok);
    metrics_sample(out, "agent_broker_turns_finished_total",
                   &(struct metrics_label){"outcome", "error"}, 1, (double)es.turn_errors);
    metrics_sample(out, "agent_broker_turns_finished_total",
                   &(struct metrics_label){"outcome", "cancelled"}, 1, (double)es.turns_cancelled);
    metrics_histogram_write(out, "agent_broker_turn_duration_seconds",
                            "from the prompt to the agent's end of turn", &es.turn_seconds);
    metrics_histogram_write(out, "agent_broker_first_reply_seconds",
                            "from the prompt to the agent's first reply text",
                            &es.first_reply_seconds);
    daemon_metrics_agents(d, out);
    metrics_family(out, "agent_broker_plugin_reconnects_total",
                   "reconnect attempts of the chat plugin (backoff delays handed out)",
                   METRICS_COUNTER);
    for (size_t i = 0; i < d->broker->nchats; i++)
        metrics_sample(out, "agent_broker_plugin_reconnects_total",
                       &(struct metrics_label){"plugin", d->broker->chats[i].name}, 1,
                       (double)d->broker->chats[i].host->reconnects);
    metrics_counter(out, "agent_broker_commands_total", "chat commands run (never prompted)", NULL,
                    0, (double)es.commands);
    daemon_metrics_usage(d, out);
    ratelimit_get_stats(engine_ratelimit(d->broker->engine), &rs);
    metrics_counter(out, "agent_broker_outbound_failed_total",
                    "chat operations that could not be delivered", NULL, 0, (double)rs.failed);
    metrics_counter(out, "agent_broker_outbound_rate_limited_total",
                    "chat operations that met a rate limit", NULL, 0, (double)rs.rate_limited);
}

static void daemon_stop(struct daemon *d, int exit_code);
static void daemon_schedules(struct daemon *d);

/* An interactive plugin's input ended: stop once the last reply is out. */
static void
daemon_interactive_idle(void *arg)
{
    daemon_stop(arg, CLI_EXIT_OK);
}

/* Connection changes (an interactive plugin's end of input ends the run). */
static void
daemon_on_connected(void *arg, struct broker *b, struct chat_instance *ci, bool connected,
                    const char *detail)
{
    struct daemon *d = arg;

    (void)detail;
    if (!connected && ci->desc && (ci->desc->caps & AB_CHAT_INTERACTIVE) && !d->is_stopping)
        engine_when_idle(b->engine, daemon_interactive_idle, d);
}

/* A chat plugin gave up for good; with none left running, exit 1. */
static void
daemon_on_fatal(void *arg, struct broker *b, struct chat_instance *ci, int status, const char *why)
{
    struct daemon *d = arg;

    (void)ci;
    (void)status;
    (void)why;
    if (b->started == 0 && !d->is_stopping) {
        log_error("core", "no chat platform can stay connected; exiting");
        daemon_stop(d, CLI_EXIT_RUNTIME);
    }
}

/* Handles closed: nothing more to do in the callback. */
static void
daemon_handle_closed(uv_handle_t *h)
{
    (void)h;
}

/* The broker has stopped every agent and freed itself: close the journal and handles. */
static void
daemon_broker_closed(void *arg)
{
    struct daemon *d = arg;

    journal_close(d->journal);
    d->journal = NULL;
    host_set_ingress(NULL);
    ingress_close(d->ingress); /* its routes went with the hosts */
    uv_close((uv_handle_t *)&d->sig_term, daemon_handle_closed);
    uv_close((uv_handle_t *)&d->sig_int, daemon_handle_closed);
    uv_close((uv_handle_t *)&d->sig_hup, daemon_handle_closed);
    uv_close((uv_handle_t *)&d->idle_guard, daemon_handle_closed);
    uv_close((uv_handle_t *)&d->quiet_timer, daemon_handle_closed);
    heap_trim_close(&d->heap_trim);
}

/* Every reply is out (or the guard expired): stop the agents. */
static void
daemon_quiet_now(uv_timer_t *t)
{
    struct daemon *d = t->data;

    if (d->health) {
        health_server_close(d->health, NULL, NULL);
        d->health = NULL;
    }
    schedules_close(d->schedules);
    d->schedules = NULL;
    if (d->broker) {
        struct broker *b = d->broker;
        d->broker = NULL;
        broker_close(b, daemon_broker_closed, d);
    }
}

/* Schedule the teardown on the next loop turn: callers may be deep inside a plugin's
 * or the pool's callback. */
static void
daemon_quiet(void *arg)
{
    struct daemon *d = arg;

    uv_timer_stop(&d->idle_guard);
    uv_timer_start(&d->quiet_timer, daemon_quiet_now, 0, 0);
}

/* The last replies did not go out in time: stop anyway. */
static void
daemon_idle_guard(uv_timer_t *t)
{
    struct daemon *d = t->data;

    log_warn("core", "replies still pending at shutdown; stopping anyway");
    engine_when_idle(d->broker->engine, NULL, NULL);
    daemon_quiet(d);
}

/* Running turns ended (or were cancelled): wait for their replies to go out. */
static void
daemon_drained(void *arg)
{
    struct daemon *d = arg;

    uv_timer_start(&d->idle_guard, daemon_idle_guard, 5000, 0);
    engine_when_idle(d->broker->engine, daemon_quiet, d);
}

/* Orderly stop: no new turns, running ones finish within drain_timeout_s, then every
 * agent process group is stopped. */
static void
daemon_stop(struct daemon *d, int exit_code)
{
    if (d->is_stopping)
        return;
    d->is_stopping = true;
    d->exit_code = exit_code;
    log_info("core", "stopping: running turns may finish for up to %llds",
             (long long)d->cfg.drain_timeout_s);
    schedules_stop(d->schedules);
    engine_drain(d->broker->engine, (uint64_t)d->cfg.drain_timeout_s * 1000, daemon_drained, d);
}

/* SIGTERM / SIGINT. */
static void
daemon_on_stop_signal(uv_signal_t *s, int signum)
{
    struct daemon *d = s->data;

    log_info("core", "received %s", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    if (d->is_stopping && signum == SIGINT) {
        log_warn("core", "second interrupt: stopping the agents now");
        daemon_quiet(d);
        return;
    }
    daemon_stop(d, CLI_EXIT_OK);
}

/* Wipe the environment variables that carried secrets (registered for redaction by
 * daemon_add_secrets first): the config's tokens and the agent's credential-named
 * inherit_env values (the agent still gets those: agent_env reads the kept copies). */
static void
daemon_hide_secrets(struct daemon *d)
{
    for (size_t a = 0; a < d->nagents; a++) {
        const struct strlist *inherit = &d->agents[a].choice.inherit_env;
        for (size_t i = 0; i < inherit->count; i++) {
            const char *name = inherit->items[i];
            const char *val = secret_env_get(name);
            if (!val || !secret_env_name_is_secret(name, strlen(name)))
                continue;
            log_add_secret(val);
            if (secret_env_take(name) == AB_ENOMEM)
                log_warn("core", "out of memory: %s stays in the environment", name);
        }
    }
    if (secret_env_in_file(d->cfg.path, d->cfg.secrets.items, d->cfg.secrets.count) > 0)
        log_warn("core",
                 "%s holds a token in clear text: the agent's commands run as this user and "
                 "can read it — export the token and write \"${NAME}\" in the file",
                 d->cfg.path);
    if (secret_env_take_values(d->cfg.secrets.items, d->cfg.secrets.count) < 0)
        log_warn("core", "out of memory: a token stays in the environment");
}

/* Register the config's secrets and the chat plugins' token shapes for redaction. */
static void
daemon_add_secrets(const struct config *cfg)
{
    for (size_t i = 0; i < cfg->secrets.count; i++)
        log_add_secret(cfg->secrets.items[i]);
    for (size_t i = 0; i < cfg->redact_prefixes.count; i++)
        log_add_token_prefix(cfg->redact_prefixes.items[i]);
}

/* Whether @b names the same agents and routes as @a (a reload cannot change them). */
static bool
daemon_same_agents(const struct config *a, const struct config *b)
{
    if (a->nagents != b->nagents || a->nroutes != b->nroutes)
        return false;
    for (size_t i = 0; i < a->nagents; i++)
        if (strcmp(a->agents[i].name, b->agents[i].name) != 0)
            return false;
    for (size_t i = 0; i < a->nroutes; i++) {
        const struct config_route *x = &a->routes[i], *y = &b->routes[i];
        if (strcmp(x->agent, y->agent) != 0 || !x->channel != !y->channel ||
            (x->channel && strcmp(x->channel, y->channel) != 0) || !x->role != !y->role ||
            (x->role && strcmp(x->role, y->role) != 0))
            return false;
    }
    return true;
}

/* SIGHUP: reload allowlists, reactions and timing without dropping connections. */
static void
daemon_on_reload(uv_signal_t *s, int signum)
{
    struct daemon *d = s->data;
    struct config fresh;
    struct diag diag = {0};
    struct engine_config ec;
    enum ab_log_level level;

    (void)signum;
    if (!d->cfg.path || d->mode == DAEMON_CONSOLE) {
        log_info("core", "SIGHUP: nothing to reload");
        return;
    }
    if (config_load(d->cfg.path, &fresh, &diag) < 0 ||
        config_bind_chats(&fresh, plugin_set_find_chat, &d->plugins, &diag) < 0) {
        log_error("core", "SIGHUP: %s has errors; keeping the running configuration", d->cfg.path);
        diag_print(&diag, stderr);
        diag_free(&diag);
        config_free(&fresh);
        return;
    }
    diag_free(&diag);
    for (size_t i = 0; i < d->broker->nchats; i++) {
        struct chat_instance *ci = &d->broker->chats[i];
        const struct config_chat *cc = config_chat(&fresh, ci->name);
        struct policy_config pc;
        /* A running platform's section is gone: its defaults would admit everyone. */
        if (!cc) {
            log_warn("core",
                     "SIGHUP: [%s] is no longer in %s but %s keeps running (removing a "
                     "platform needs a restart); keeping its allowlists and gating",
                     ci->name, d->cfg.path, ci->name);
            continue;
        }
        broker_setup_policy_config(cc, &pc);
        policy_set_config(ci->policy, &pc);
    }
    daemon_add_secrets(&fresh);
    if (!daemon_same_agents(&d->cfg, &fresh))
        log_warn("core",
                 "SIGHUP: the agents or [[routes]] of %s changed; they apply after a restart "
                 "(the running agents and routes stay)",
                 d->cfg.path);
    /* The old config stays alive until exit: plugins hold pointers into its tree and
     * reactions in progress into its emoji strings. */
    {
        struct config *grown = realloc(d->retired, (d->nretired + 1) * sizeof(*grown));
        if (!grown) {
            log_error("core", "SIGHUP: out of memory; keeping the running configuration");
            config_free(&fresh);
            return;
        }
        d->retired = grown;
        d->retired[d->nretired++] = d->cfg;
        d->cfg = fresh;
    }
    daemon_hide_secrets(d);
    daemon_engine_config(d, &ec);
    engine_set_config(d->broker->engine, &ec);
    /* The jobs are re-armed from the new table (stopping: they stay stopped). */
    if (!d->schedules)
        daemon_schedules(d);
    else if (!d->is_stopping && schedules_reload(d->schedules, d->cfg.cron_jobs, d->cfg.ncron_jobs,
                                                 (int)d->cfg.cron_catch_up) < 0)
        log_error("core", "SIGHUP: out of memory; the previous [[cron.jobs]] keep running");
    if (log_level_parse(d->cfg.log_level, &level) == 0)
        log_configure(level,
                      strcmp(d->cfg.log_format, "json") == 0 ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT);
    log_info("core", "SIGHUP: configuration reloaded from %s", d->cfg.path);
}

/* Run mode: start the [[cron.jobs]] (none configured: nothing runs). */
static void
daemon_schedules(struct daemon *d)
{
    int rc;

    if (d->mode != DAEMON_RUN || d->cfg.ncron_jobs == 0 || d->is_stopping)
        return;
    if ((rc = schedules_new(&d->loop, d->broker->engine, d->broker->chats, d->broker->nchats,
                            d->cfg.cron_jobs, d->cfg.ncron_jobs, (int)d->cfg.cron_catch_up,
                            d->cfg.state_dir, &d->schedules)) < 0)
        log_error("core", "cannot start the [[cron.jobs]]: %s", ab_strerror(rc));
}

/* Load and validate the config for this mode. Returns an exit code or -1 to go on. */
static int
daemon_load_config(struct daemon *d, const char *path)
{
    struct diag diag = {0};
    bool explicit = path != NULL;
    int rc;

    if (!path)
        path = "config.toml";
    if (!explicit && access(path, R_OK) != 0) {
        if (d->mode == DAEMON_RUN)
            log_info("core", "no %s here: starting the console chat", path);
        d->mode = DAEMON_CONSOLE;
        return config_defaults(&d->cfg) < 0 ? CLI_EXIT_RUNTIME : -1;
    }
    rc = config_load(path, &d->cfg, &diag);
    diag_print(&diag, stderr);
    diag_free(&diag);
    if (rc < 0)
        return CLI_EXIT_USAGE;
    return -1;
}

/* Create the state dir 0700; refuse one that others may write (it says which sessions
 * to resume and where); warn when the agent works above it. Returns 0 or AB_EINVAL. */
static int
daemon_state_dir(struct daemon *d)
{
    const char *dir = d->cfg.state_dir;
    char why[PATH_MAX + 256];
    int rc;

    if ((rc = state_dir_ensure(dir)) < 0) {
        log_warn("core", "cannot create the state dir %s: %s; sessions will not survive a restart",
                 dir, strerror(-rc));
        return 0;
    }
    if (state_dir_check(dir, why, sizeof(why)) < 0) {
        log_error("core", "%s", why);
        return AB_EINVAL;
    }
    for (size_t i = 0; i < d->nagents; i++)
        if (state_dir_exposed(dir, d->agents[i].choice.cwd))
            log_warn("core",
                     "state dir %s is inside the agent's working directory %s (agent %s): the "
                     "agent's tools see it and may commit it — set [state] dir outside it (or "
                     "[%s] working_dir to the project)",
                     dir, d->agents[i].choice.cwd, d->agents[i].conf->name,
                     d->agents[i].conf->section);
    return 0;
}

/* Whether the daemon may start with the plugins it found: AB_ECONFIG when no chat
 * plugin is enabled but some sections belong to none, or a plugin was refused under
 * [plugins] strict. With no chat plugin at all, run mode becomes the console. */
static int
daemon_check_plugins(struct daemon *d)
{
    if (d->mode == DAEMON_RUN && d->cfg.plugin_chat.count == 0 && d->cfg.unclaimed_sections) {
        log_error("core",
                  "no chat plugin is enabled, and %zu section(s) of %s belong to no "
                  "installed plugin (see the warnings above): not starting",
                  d->cfg.unclaimed_sections, d->cfg.path);
        return AB_ECONFIG;
    }
    if (d->mode == DAEMON_RUN && d->cfg.plugin_chat.count == 0) {
        log_info("core", "no chat platform configured: starting the console chat");
        d->mode = DAEMON_CONSOLE;
    }
    for (size_t i = 0; i < d->plugins.count; i++) {
        struct plugin *p = &d->plugins.items[i];
        if (p->status == 0)
            continue;
        log_warn("core", "plugin %s refused: %s", p->path, p->reason);
        if (d->cfg.plugins_strict) {
            log_error("core", "[plugins] strict = true: not starting");
            return AB_ECONFIG;
        }
    }
    return 0;
}

/* The agent the console talks to: --agent NAME, else the default. */
static const struct daemon_agent *
daemon_console_agent(const struct daemon *d)
{
    for (size_t i = 0; d->console_agent && i < d->nagents; i++)
        if (strcmp(d->agents[i].conf->name, d->console_agent) == 0)
            return &d->agents[i];
    return &d->agents[0];
}

/* Signals (stop, reload), the idle guard and quiet timers, then the health server in
 * run mode or the console's greeting. */
static void
daemon_listen(struct daemon *d)
{
    struct health_source hs;
    int rc;

    uv_signal_init(&d->loop, &d->sig_term);
    uv_signal_init(&d->loop, &d->sig_int);
    uv_signal_init(&d->loop, &d->sig_hup);
    uv_timer_init(&d->loop, &d->idle_guard);
    uv_timer_init(&d->loop, &d->quiet_timer);
    d->sig_term.data = d->sig_int.data = d->sig_hup.data = d->idle_guard.data = d;
    d->quiet_timer.data = d;
    uv_signal_start(&d->sig_term, daemon_on_stop_signal, SIGTERM);
    uv_signal_start(&d->sig_int, daemon_on_stop_signal, SIGINT);
    uv_signal_start(&d->sig_hup, daemon_on_reload, SIGHUP);
    if ((rc = heap_trim_start(&d->loop, DAEMON_TRIM_FIRST_MS, DAEMON_TRIM_EVERY_MS,
                              DAEMON_TRIM_MIN_FREE, &d->heap_trim)) < 0)
        log_warn("core", "heap trim timer: %s", uv_strerror(rc));
    if (d->mode == DAEMON_RUN) {
        hs = (struct health_source){d, daemon_ready, daemon_metrics};
        if ((rc = health_server_start(&d->loop, d->cfg.health_listen, &hs, NULL, &d->health)) < 0)
            log_error("core", "health server on %s: %s; /healthz is unavailable",
                      d->cfg.health_listen, ab_strerror(rc));
    } else {
        fprintf(stderr,
                "agent-broker console: agent \"%s\" (%s). Type a message and press "
                "Enter; Ctrl-D to quit.\n",
                daemon_console_agent(d)->choice.command,
                daemon_console_agent(d)->choice.preset_name);
    }
}

/* plugin_set_unload_unused's test: a chat plugin with an instance, or an agent plugin
 * an agent's preset came from. */
static bool
daemon_uses_plugin(const struct plugin *p, void *arg)
{
    const struct daemon *d = arg;

    for (size_t i = 0; i < d->broker->nchats; i++)
        if (d->broker->chats[i].desc == p->desc)
            return true;
    for (size_t i = 0; p->desc->agent && i < d->nagents; i++)
        if (d->agents[i].choice.ops == p->desc->agent)
            return true;
    return false;
}

/* The broker with one chat instance per enabled chat plugin (the console alone in
 * console mode). A plugin missing from the plugin path is logged and left out. */
static int
daemon_assemble(struct daemon *d)
{
    static const char *const names_console[] = {"console"};
    const char *const *names = names_console;
    size_t nnames = 1, nchats = 0;
    struct broker_chat_spec *chats;
    struct broker_agent_spec *agents = calloc(d->nagents, sizeof(*agents));
    struct broker_spec spec = {
        .agents = agents,
        .nagents = d->nagents,
        .routes = d->cfg.routes,
        .nroutes = d->cfg.nroutes,
        .fallback = d->console_agent,
        .journal = d->journal,
        .events = {.arg = d, .connected = daemon_on_connected, .fatal = daemon_on_fatal},
    };
    int rc;

    if (d->mode != DAEMON_CONSOLE) {
        names = (const char *const *)d->cfg.plugin_chat.items;
        nnames = d->cfg.plugin_chat.count;
    }
    if (!agents || !(chats = calloc(nnames ? nnames : 1, sizeof(*chats)))) {
        free(agents);
        return AB_ENOMEM;
    }
    for (size_t i = 0; i < nnames; i++) {
        const struct plugin *p = plugin_set_find(&d->plugins, AB_PLUGIN_CHAT, names[i]);
        const struct config_chat *cc = config_chat(&d->cfg, names[i]);
        if (!p) {
            log_error("core", "chat plugin chat-%s.so was not found on the plugin path", names[i]);
            continue;
        }
        chats[nchats] = (struct broker_chat_spec){
            .name = names[i],
            .desc = p->desc,
            .ops = p->desc->chat,
            .table = config_table(&d->cfg, names[i]),
            .state_dir = d->cfg.state_dir,
            .warn_policy = cc != NULL,
        };
        broker_setup_policy_config(cc, &chats[nchats++].policy);
    }
    spec.chats = chats;
    spec.nchats = nchats;
    for (size_t i = 0; i < d->nagents; i++) {
        struct daemon_agent *da = &d->agents[i];
        const struct config_agent *ca = da->conf;
        agents[i] = (struct broker_agent_spec){
            .name = ca->name,
            .launch = &da->launch,
            .auth_hint = da->choice.auth_hint,
            .classify_tool = da->choice.ops ? da->choice.ops->classify_tool : NULL,
        };
        broker_setup_pool_config(&d->cfg, &agents[i].pool);
        if (ca->max_sessions)
            agents[i].pool.max_sessions = (uint32_t)ca->max_sessions;
        if (ca->session_ttl_hours)
            agents[i].pool.session_ttl_ms = (uint64_t)ca->session_ttl_hours * 3600 * 1000;
        if (ca->sessions_per_process)
            agents[i].pool.sessions_per_process = (uint32_t)ca->sessions_per_process;
        agents[i].pool.state_file = da->state_file;
        if (ca->workspace == CONFIG_WS_PER_CONVERSATION) {
            da->ws = (struct workspace_config){
                .root = da->launch.cwd,
                .git_repo = ca->workspace_git,
                .max_bytes = (uint64_t)ca->workspace_max_mb << 20,
            };
            agents[i].pool.workspace = &da->ws;
        }
    }
    daemon_engine_config(d, &spec.engine);
    rc = broker_new(&d->loop, &spec, &d->broker);
    free(chats);
    free(agents);
    return rc;
}

/* Resolve every configured agent (@preset replaces the default's preset) and build
 * its launch spec. Returns 0, AB_ECONFIG (reported) or AB_ENOMEM. */
static int
daemon_agents(struct daemon *d, const char *preset)
{
    struct diag diag = {0};
    int rc = 0;

    if (d->console_agent && !config_agent(&d->cfg, d->console_agent)) {
        log_error("core", "--agent %s: %s defines no agent of that name — add [agents.%s]",
                  d->console_agent, d->cfg.path ? d->cfg.path : "the configuration",
                  d->console_agent);
        return AB_ECONFIG;
    }
    if (!(d->agents = calloc(d->cfg.nagents, sizeof(*d->agents))))
        return AB_ENOMEM;
    d->nagents = d->cfg.nagents;
    for (size_t i = 0; i < d->nagents; i++) {
        d->agents[i].conf = &d->cfg.agents[i];
        if (agent_choice_resolve(&d->cfg, d->agents[i].conf, &d->plugins, i == 0 ? preset : NULL,
                                 &d->agents[i].choice, &diag) < 0)
            rc = AB_ECONFIG;
    }
    diag_print(&diag, stderr);
    diag_free(&diag);
    for (size_t i = 0; rc == 0 && i < d->nagents; i++)
        rc = daemon_launch(&d->agents[i]);
    return rc;
}

/* Free the agents. */
static void
daemon_agents_free(struct daemon *d)
{
    for (size_t i = 0; i < d->nagents; i++) {
        agent_choice_free(&d->agents[i].choice);
        free(d->agents[i].mcp);
    }
    free(d->agents);
    d->agents = NULL;
    d->nagents = 0;
}

/* Set up everything, run the loop, tear down. */
int
daemon_main(enum daemon_mode mode, const char *config_path, const char *preset, const char *agent)
{
    struct daemon *d = calloc(1, sizeof(*d));
    struct diag diag = {0};
    enum ab_log_level level = AB_LOG_INFO;
    char more[32] = "";
    size_t n;
    int rc, exit_code;

    if (!d)
        return CLI_EXIT_RUNTIME;
    d->mode = mode;
    d->console_agent = agent;
    signal(SIGPIPE, SIG_IGN);
    if ((exit_code = daemon_load_config(d, config_path)) >= 0)
        goto out_config;
    exit_code = CLI_EXIT_RUNTIME;
    log_level_parse(d->cfg.log_level, &level);
    log_configure(level,
                  strcmp(d->cfg.log_format, "json") == 0 ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT);
    if (!preset && !config_path)
        preset = getenv("AGENT_BROKER_PRESET");
    if ((rc = uv_loop_init(&d->loop)) < 0)
        goto out_config;
    if ((rc = plugin_dirs((const char *const *)d->cfg.plugin_path.items, d->cfg.plugin_path.count,
                          &d->dirs)) < 0 ||
        (rc = plugin_set_scan(&d->plugins, d->dirs)) < 0)
        goto out_loop;
    diag.file = d->cfg.path;
    rc = config_bind_chats(&d->cfg, plugin_set_find_chat, &d->plugins, &diag);
    diag_print(&diag, stderr);
    diag_free(&diag);
    daemon_add_secrets(&d->cfg);
    if (rc < 0) {
        exit_code = CLI_EXIT_USAGE;
        goto out_loop;
    }
    if (daemon_check_plugins(d) < 0) {
        exit_code = CLI_EXIT_USAGE;
        goto out_loop;
    }
    if ((rc = daemon_agents(d, preset)) < 0) {
        exit_code = rc == AB_ECONFIG ? CLI_EXIT_USAGE : CLI_EXIT_RUNTIME;
        goto out_agent;
    }
    daemon_hide_secrets(d);
    for (size_t i = 0; i < d->nagents; i++) {
        const struct agent_choice *a = &d->agents[i].choice;
        if (!a->resolved)
            log_error("core",
                      "agent %s: command \"%s\" was not found on PATH; its turns will fail "
                      "until it is installed%s%s",
                      d->agents[i].conf->name, a->command, a->auth_hint ? " — then log in: " : "",
                      a->auth_hint ? a->auth_hint : "");
    }
    if (d->cfg.state_dir && daemon_state_dir(d) < 0) {
        exit_code = CLI_EXIT_USAGE;
        goto out_agent;
    }
    if (d->cfg.state_dir && journal_open(&d->loop, d->cfg.state_dir, &d->journal) < 0)
        log_warn("core",
                 "cannot open the journal in %s; accepted messages will not survive a "
                 "crash",
                 d->cfg.state_dir);
    if (d->mode == DAEMON_RUN && d->cfg.ingress_listen && *d->cfg.ingress_listen) {
        if ((rc = ingress_start(&d->loop, d->cfg.ingress_listen, NULL, &d->ingress)) < 0) {
            log_error("core", "[ingress] listen = \"%s\": %s; not starting", d->cfg.ingress_listen,
                      ab_strerror(rc));
            goto out_journal;
        }
        log_info("core", "ingress listening on %s", d->cfg.ingress_listen);
        host_set_ingress(d->ingress);
    }
    if ((rc = daemon_assemble(d)) < 0)
        goto out_journal;
    if (d->broker->started == 0) {
        log_error("core", "no chat platform could start; exiting");
        goto out_broker;
    }
    /* Every plugin was loaded to read its config keys; those not used leave now. */
    if ((n = plugin_set_unload_unused(&d->plugins, daemon_uses_plugin, d)) > 0)
        log_debug("core", "unloaded %zu plugin(s) this configuration does not use", n);
    daemon_listen(d);
    daemon_schedules(d);
    if (d->nagents > 1)
        snprintf(more, sizeof(more), " and %zu more", d->nagents - 1);
    log_info("core", "agent-broker %s started: %zu chat plugin(s), agent %s%s", AB_VERSION_STRING,
             d->broker->started, d->agents[0].choice.command, more);
    exit_code = CLI_EXIT_OK;
    uv_run(&d->loop, UV_RUN_DEFAULT);
    host_net_finish(); /* libwebsockets' second teardown step, after the loop ran dry */
    ingress_finish(d->ingress);
    d->ingress = NULL;
    exit_code = d->exit_code;
    goto out_loop_close;

out_broker:
    broker_close(d->broker, NULL, NULL);
    d->broker = NULL;
    uv_run(&d->loop, UV_RUN_DEFAULT);
out_journal:
    journal_close(d->journal);
    d->journal = NULL;
    host_set_ingress(NULL);
    ingress_close(d->ingress);
out_agent:
out_loop_close:
    daemon_agents_free(d);
out_loop:
    uv_run(&d->loop, UV_RUN_DEFAULT);
    ingress_finish(d->ingress);
    if (uv_loop_close(&d->loop) != 0)
        log_debug("core", "loop closed with handles still open");
    plugin_set_free(&d->plugins);
    plugin_dirs_free(d->dirs);
out_config:
    config_free(&d->cfg);
    for (size_t i = 0; i < d->nretired; i++)
        config_free(&d->retired[i]);
    free(d->retired);
    free(d);
    log_clear_secrets();
    secret_env_clear();
    return exit_code;
}
