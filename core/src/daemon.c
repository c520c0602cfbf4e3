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
#include "conv/engine.h"
#include "health/health_server.h"
#include "health/metrics.h"
#include "health/process_metrics.h"
#include "host/host.h"
#include "log.h"
#include "plugin/loader.h"
#include "state/journal.h"
#include "state/state_dir.h"
#include "state/state_file.h"

/* Everything the daemon owns, torn down in reverse. */
struct daemon {
    uv_loop_t loop;
    enum daemon_mode mode;
    struct config cfg;
    struct plugin_set plugins;
    char **dirs;
    struct agent_choice agent;
    struct agent_launch launch;
    struct pool *pool;
    struct engine *engine;
    struct journal *journal;     /* owned, or NULL without a state dir */
    struct chat_instance *chats; /* owned array */
    size_t nchats;
    struct health_server *health;
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t idle_guard;
    uv_timer_t quiet_timer; /* runs the teardown from a clean stack */
    struct config *retired; /* owned: configs replaced by SIGHUP (engine strings point
                               into them until exit) */
    size_t nretired;
    bool is_stopping;
    int exit_code;
};

/* Fill the policy's view of a chat section. Lists stay owned by the config. */
static void
daemon_policy_config(const struct config_chat *cc, struct policy_config *pc)
{
    policy_config_default(pc);
    if (!cc)
        return;
    pc->allowed_channels = cc->allowed_channels.items;
    pc->allowed_channel_count = cc->allowed_channels.count;
    pc->allow_all_channels =
        cc->allow_all_channels ? POLICY_ALLOW_ALL_TRUE : POLICY_ALLOW_ALL_FALSE;
    pc->allowed_users = cc->allowed_users.items;
    pc->allowed_user_count = cc->allowed_users.count;
    pc->allow_all_users = cc->allow_all_users ? POLICY_ALLOW_ALL_TRUE : POLICY_ALLOW_ALL_FALSE;
    pc->allowed_role_ids = cc->allowed_role_ids.items;
    pc->allowed_role_count = cc->allowed_role_ids.count;
    pc->allow_user_messages =
        cc->allow_user_messages == USER_MESSAGES_MENTIONS   ? POLICY_USERS_MENTIONS
        : cc->allow_user_messages == USER_MESSAGES_MULTIBOT ? POLICY_USERS_MULTIBOT
                                                            : POLICY_USERS_INVOLVED;
    pc->allow_bot_messages = cc->allow_bot_messages == BOT_MESSAGES_ALL ? POLICY_BOTS_ALL
                             : cc->allow_bot_messages == BOT_MESSAGES_MENTIONS
                                 ? POLICY_BOTS_MENTIONS
                                 : POLICY_BOTS_OFF;
    pc->trusted_bot_ids = cc->trusted_bot_ids.items;
    pc->trusted_bot_count = cc->trusted_bot_ids.count;
    pc->max_bot_turns = (uint32_t)cc->max_bot_turns;
    pc->allow_dm = cc->allow_dm;
}

/* The engine's settings from the config and the agent's preset. */
static void
daemon_engine_config(const struct daemon *d, struct engine_config *ec)
{
    broker_setup_engine_config(&d->cfg, ec);
    ec->auth_hint = d->agent.auth_hint;
    ec->attach.dir = d->agent.cwd; /* attachments are saved where the agent works */
    ec->classify_tool = d->agent.ops ? d->agent.ops->classify_tool : NULL;
}

/* The agent launch spec from the resolved preset. */
static void
daemon_launch(struct daemon *d)
{
    const struct agent_choice *a = &d->agent;

    d->launch = (struct agent_launch){
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
    };
}

/* /readyz: every chat plugin connected; with none, the agent command resolves. */
static bool
daemon_ready(void *arg, struct health_text *why)
{
    struct daemon *d = arg;
    bool ready = true;

    if (d->is_stopping) {
        health_text_printf(why, "shutting down\n");
        return false;
    }
    for (size_t i = 0; i < d->nchats; i++) {
        struct ab_host *h = d->chats[i].host;
        if (!h->connected) {
            health_text_printf(why, "%s: not connected%s%s\n", d->chats[i].name,
                               h->detail ? ": " : "", h->detail ? h->detail : "");
            ready = false;
        }
    }
    if (d->nchats == 0 && !d->agent.resolved) {
        health_text_printf(why, "agent command \"%s\" not found on PATH\n", d->agent.command);
        ready = false;
    }
    return ready;
}

/* The agent processes' memory (each with what it started: its process group). */
static void
daemon_metrics_agents(struct daemon *d, struct health_text *out)
{
    int pids[256];
    size_t n = pool_agent_pids(d->pool, pids, sizeof(pids) / sizeof(pids[0]));
    uint64_t bytes;

    if (process_metrics_groups_rss(pids, n, &bytes) == 0)
        metrics_gauge(out, "agent_broker_agent_resident_memory_bytes",
                      "resident memory of the agent processes and their children", NULL, 0,
                      (double)bytes);
}

/* /metrics: plugins, pool, engine, outbound scheduler. */
static void
daemon_metrics(void *arg, struct health_text *out)
{
    struct daemon *d = arg;
    struct pool_stats ps;
    struct engine_stats es;
    struct ratelimit_stats rs;

    metrics_family(out, "agent_broker_plugin_connected",
                   "1 when the chat plugin reports itself connected", METRICS_GAUGE);
    for (size_t i = 0; i < d->nchats; i++)
        metrics_sample(out, "agent_broker_plugin_connected",
                       &(struct metrics_label){"plugin", d->chats[i].name}, 1,
                       d->chats[i].host->connected);
    pool_stats(d->pool, &ps);
    metrics_gauge(out, "agent_broker_sessions", "known agent sessions", NULL, 0, ps.sessions);
    metrics_gauge(out, "agent_broker_sessions_live", "sessions attached to a process", NULL, 0,
                  ps.live);
    metrics_gauge(out, "agent_broker_sessions_busy", "sessions running a turn", NULL, 0, ps.busy);
    metrics_gauge(out, "agent_broker_agent_processes", "agent processes", NULL, 0, ps.processes);
    engine_get_stats(d->engine, &es);
    metrics_counter(out, "agent_broker_messages_received_total", "inbound messages", NULL, 0,
                    (double)es.received);
    metrics_counter(out, "agent_broker_messages_accepted_total", "messages accepted by policy",
                    NULL, 0, (double)es.accepted);
    metrics_counter(out, "agent_broker_messages_rejected_total",
                    "accepted messages that could not be queued (the user was told)", NULL, 0,
                    (double)es.rejected);
    metrics_counter(out, "agent_broker_turns_total", "agent turns started", NULL, 0,
                    (double)es.turns);
    metrics_counter(out, "agent_broker_turn_errors_total", "turns that ended in an error", NULL, 0,
                    (double)es.turn_errors);
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
    for (size_t i = 0; i < d->nchats; i++)
        metrics_sample(out, "agent_broker_plugin_reconnects_total",
                       &(struct metrics_label){"plugin", d->chats[i].name}, 1,
                       (double)d->chats[i].host->reconnects);
    ratelimit_get_stats(engine_ratelimit(d->engine), &rs);
    metrics_counter(out, "agent_broker_outbound_failed_total",
                    "chat operations that could not be delivered", NULL, 0, (double)rs.failed);
    metrics_counter(out, "agent_broker_outbound_rate_limited_total",
                    "chat operations that met a rate limit", NULL, 0, (double)rs.rate_limited);
}

static void daemon_stop(struct daemon *d, int exit_code);

/* Host sink: a message from a chat plugin. */
static int
daemon_sink_deliver(void *arg, struct ab_host *h, const struct ab_inbound *msg)
{
    struct daemon *d = arg;

    for (size_t i = 0; i < d->nchats; i++)
        if (d->chats[i].host == h)
            return engine_inbound(d->engine, &d->chats[i], msg);
    return AB_ENOENT;
}

/* The engine recorded a held message (or needs no record): its plugin may ack. */
static void
daemon_recorded(void *arg, int status)
{
    host_hold_release(arg, status == 0 || status == AB_ECANCELED ? status : AB_EIO);
}

/* Host sink (ABI 1.3): a message whose ack the plugin holds until it is recorded. */
static int
daemon_sink_deliver_held(void *arg, struct ab_host *h, const struct ab_inbound *msg,
                         struct host_hold *hold)
{
    struct daemon *d = arg;

    for (size_t i = 0; i < d->nchats; i++)
        if (d->chats[i].host == h)
            return engine_inbound_held(d->engine, &d->chats[i], msg, daemon_recorded, hold);
    return AB_ENOENT;
}

/* Host sink: a reaction from a chat plugin. */
static int
daemon_sink_reaction(void *arg, struct ab_host *h, const struct ab_reaction_event *ev)
{
    struct daemon *d = arg;

    for (size_t i = 0; i < d->nchats; i++)
        if (d->chats[i].host == h)
            return engine_reaction(d->engine, &d->chats[i], ev);
    return AB_ENOENT;
}

/* Host sink: rate-limit facts. */
static void
daemon_sink_rate(void *arg, struct ab_host *h, const struct ab_rate_info *info)
{
    struct daemon *d = arg;

    for (size_t i = 0; i < d->nchats; i++)
        if (d->chats[i].host == h)
            chat_rate_report(&d->chats[i], info);
}

/* An interactive plugin's input ended: stop once the last reply is out. */
static void
daemon_interactive_idle(void *arg)
{
    daemon_stop(arg, CLI_EXIT_OK);
}

/* Host sink: connection changes (an interactive plugin's end of input ends the run). */
static void
daemon_sink_connected(void *arg, struct ab_host *h, bool connected, const char *detail)
{
    struct daemon *d = arg;

    (void)detail;
    if (!connected && h->desc && (h->desc->caps & AB_CHAT_INTERACTIVE) && !d->is_stopping)
        engine_when_idle(d->engine, daemon_interactive_idle, d);
}

/* Host sink: a chat plugin gave up for good; with none left running, exit 1. */
static void
daemon_sink_fatal(void *arg, struct ab_host *h, int status, const char *why)
{
    struct daemon *d = arg;
    size_t running = 0;

    (void)status;
    (void)why;
    for (size_t i = 0; i < d->nchats; i++) {
        if (d->chats[i].host == h)
            d->chats[i].is_started = false;
        running += d->chats[i].is_started;
    }
    if (running == 0 && !d->is_stopping) {
        log_error("core", "no chat platform can stay connected; exiting");
        daemon_stop(d, CLI_EXIT_RUNTIME);
    }
}

/* A policy start-up warning. */
static void
daemon_policy_warning(void *arg, const char *line)
{
    (void)arg;
    log_warn("core", "%s", line);
}

/* Open and start one chat plugin. */
static int
daemon_start_chat(struct daemon *d, const char *name, struct chat_instance *ci)
{
    const struct plugin *p = plugin_set_find(&d->plugins, AB_PLUGIN_CHAT, name);
    const struct config_chat *cc = config_chat(&d->cfg, name);
    struct host_sink sink = {d,
                             daemon_sink_deliver,
                             daemon_sink_reaction,
                             daemon_sink_rate,
                             daemon_sink_connected,
                             daemon_sink_fatal,
                             daemon_sink_deliver_held};
    struct policy_config pc;
    int rc;

    if (!p) {
        log_error("core", "chat plugin chat-%s.so was not found on the plugin path", name);
        return AB_ENOENT;
    }
    ci->name = strdup(name);
    ci->desc = p->desc;
    ci->ops = p->desc->chat;
    /* ops is the loader's full-size copy: members the plugin lacks are NULL */
    ci->can_edit = ci->ops->edit != NULL;
    ci->can_react = ci->ops->react != NULL;
    ci->can_thread = ci->ops->open_thread != NULL;
    if (!ci->name)
        return AB_ENOMEM;
    if ((rc = host_new(&d->loop, "chat", name, config_table(&d->cfg, name), d->cfg.state_dir, &sink,
                       &ci->host)) < 0)
        return rc;
    ci->host->desc = p->desc;
    daemon_policy_config(cc, &pc);
    if ((rc = policy_new(&pc, &ci->policy)) < 0)
        return rc;
    if (cc)
        policy_warnings(&pc, name, daemon_policy_warning, NULL);
    if ((rc = engine_add_chat(d->engine, ci)) < 0)
        return rc;
    if ((rc = ci->ops->open(ci->host, &host_services, &ci->chat)) < 0) {
        log_error("core", "chat-%s: cannot open: %s", name, ab_strerror(rc));
        ci->chat = NULL;
        return rc;
    }
    if ((rc = ci->ops->start(ci->chat)) < 0) {
        /* The plugin's own reason (set_connected detail) says more than the code. */
        log_error("core", "chat-%s: cannot start: %s%s%s", name, ab_strerror(rc),
                  ci->host->detail ? " — " : "", ci->host->detail ? ci->host->detail : "");
        return rc;
    }
    ci->is_started = true;
    engine_recover(d->engine, ci);
    return 0;
}

/* Handles closed: nothing more to do in the callback. */
static void
daemon_handle_closed(uv_handle_t *h)
{
    (void)h;
}

/* The pool has stopped every agent: free the engine and plugins, close handles. */
static void
daemon_pool_closed(void *arg)
{
    struct daemon *d = arg;

    d->pool = NULL;
    for (size_t i = 0; i < d->nchats; i++) {
        struct chat_instance *ci = &d->chats[i];
        host_holds_cancel(ci->host);
        if (ci->chat)
            ci->ops->close(ci->chat);
        ci->chat = NULL;
    }
    engine_free(d->engine);
    d->engine = NULL;
    journal_close(d->journal);
    d->journal = NULL;
    for (size_t i = 0; i < d->nchats; i++) {
        policy_free(d->chats[i].policy);
        host_free(d->chats[i].host);
        free(d->chats[i].name);
    }
    free(d->chats);
    d->chats = NULL;
    d->nchats = 0;
    uv_close((uv_handle_t *)&d->sig_term, daemon_handle_closed);
    uv_close((uv_handle_t *)&d->sig_int, daemon_handle_closed);
    uv_close((uv_handle_t *)&d->sig_hup, daemon_handle_closed);
    uv_close((uv_handle_t *)&d->idle_guard, daemon_handle_closed);
    uv_close((uv_handle_t *)&d->quiet_timer, daemon_handle_closed);
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
    if (d->pool)
        pool_close(d->pool, daemon_pool_closed, d);
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
    engine_when_idle(d->engine, NULL, NULL);
    daemon_quiet(d);
}

/* Running turns ended (or were cancelled): wait for their replies to go out. */
static void
daemon_drained(void *arg)
{
    struct daemon *d = arg;

    uv_timer_start(&d->idle_guard, daemon_idle_guard, 5000, 0);
    engine_when_idle(d->engine, daemon_quiet, d);
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
    engine_drain(d->engine, (uint64_t)d->cfg.drain_timeout_s * 1000, daemon_drained, d);
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
    const struct strlist *inherit = &d->agent.inherit_env;

    for (size_t i = 0; i < inherit->count; i++) {
        const char *name = inherit->items[i];
        const char *val = secret_env_get(name);
        if (!val || !secret_env_name_is_secret(name, strlen(name)))
            continue;
        log_add_secret(val);
        if (secret_env_take(name) == AB_ENOMEM)
            log_warn("core", "out of memory: %s stays in the environment", name);
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
    for (size_t i = 0; i < d->nchats; i++) {
        const struct config_chat *cc = config_chat(&fresh, d->chats[i].name);
        struct policy_config pc;
        /* A running platform's section is gone: its defaults would admit everyone. */
        if (!cc) {
            log_warn("core",
                     "SIGHUP: [%s] is no longer in %s but %s keeps running (removing a "
                     "platform needs a restart); keeping its allowlists and gating",
                     d->chats[i].name, d->cfg.path, d->chats[i].name);
            continue;
        }
        daemon_policy_config(cc, &pc);
        policy_set_config(d->chats[i].policy, &pc);
    }
    daemon_add_secrets(&fresh);
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
    engine_set_config(d->engine, &ec);
    if (log_level_parse(d->cfg.log_level, &level) == 0)
        log_configure(level,
                      strcmp(d->cfg.log_format, "json") == 0 ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT);
    log_info("core", "SIGHUP: configuration reloaded from %s", d->cfg.path);
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
    if (state_dir_exposed(dir, d->agent.cwd))
        log_warn("core",
                 "state dir %s is inside the agent's working directory %s: the agent's tools "
                 "see it and may commit it — set [state] dir outside it (or [agent] "
                 "working_dir to the project)",
                 dir, d->agent.cwd);
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
    if (d->mode == DAEMON_RUN) {
        hs = (struct health_source){d, daemon_ready, daemon_metrics};
        if ((rc = health_server_start(&d->loop, d->cfg.health_listen, &hs, NULL, &d->health)) < 0)
            log_error("core", "health server on %s: %s; /healthz is unavailable",
                      d->cfg.health_listen, ab_strerror(rc));
    } else {
        fprintf(stderr,
                "agent-broker console: agent \"%s\" (%s). Type a message and press "
                "Enter; Ctrl-D to quit.\n",
                d->agent.command, d->agent.preset_name);
    }
}

/* One chat instance per enabled chat plugin (the console alone in console mode), each
 * started; *started counts those that did. AB_ENOMEM when d->chats cannot be had. */
static int
daemon_start_chats(struct daemon *d, size_t *started)
{
    static const char *const names_console[] = {"console"};
    const char *const *names = names_console;
    size_t nnames = 1;

    if (d->mode != DAEMON_CONSOLE) {
        names = (const char *const *)d->cfg.plugin_chat.items;
        nnames = d->cfg.plugin_chat.count;
    }
    if (!(d->chats = calloc(nnames, sizeof(*d->chats))))
        return AB_ENOMEM;
    d->nchats = nnames;
    for (size_t i = 0; i < nnames; i++)
        if (daemon_start_chat(d, names[i], &d->chats[i]) == 0)
            (*started)++;
    return 0;
}

/* Set up everything, run the loop, tear down. */
int
daemon_main(enum daemon_mode mode, const char *config_path, const char *preset)
{
    struct daemon *d = calloc(1, sizeof(*d));
    struct diag diag = {0};
    struct engine_config ec;
    struct pool_config pc;
    enum ab_log_level level = AB_LOG_INFO;
    size_t started = 0;
    int rc, exit_code;

    if (!d)
        return CLI_EXIT_RUNTIME;
    d->mode = mode;
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
    if (agent_choice_resolve(&d->cfg, &d->plugins, preset, &d->agent, &diag) < 0) {
        diag_print(&diag, stderr);
        diag_free(&diag);
        exit_code = CLI_EXIT_USAGE;
        goto out_agent;
    }
    daemon_hide_secrets(d);
    if (!d->agent.resolved)
        log_error("core",
                  "agent command \"%s\" was not found on PATH; turns will fail until it "
                  "is installed%s%s",
                  d->agent.command, d->agent.auth_hint ? " — then log in: " : "",
                  d->agent.auth_hint ? d->agent.auth_hint : "");
    if (d->cfg.state_dir && daemon_state_dir(d) < 0) {
        exit_code = CLI_EXIT_USAGE;
        goto out_agent;
    }
    daemon_launch(d);
    broker_setup_pool_config(&d->cfg, &pc);
    if ((rc = pool_new(&d->loop, &pc, &d->launch, &d->pool)) < 0) {
        log_error("core", "cannot start the session pool: %s", ab_strerror(rc));
        goto out_agent;
    }
    daemon_engine_config(d, &ec);
    if ((rc = engine_new(&d->loop, d->pool, &ec, &d->engine)) < 0)
        goto out_pool;
    if (d->cfg.state_dir && journal_open(&d->loop, d->cfg.state_dir, &d->journal) < 0)
        log_warn("core",
                 "cannot open the journal in %s; accepted messages will not survive a "
                 "crash",
                 d->cfg.state_dir);
    engine_set_journal(d->engine, d->journal);
    if (daemon_start_chats(d, &started) < 0)
        goto out_engine;
    if (started == 0) {
        log_error("core", "no chat platform could start; exiting");
        goto out_chats;
    }
    daemon_listen(d);
    log_info("core", "agent-broker %s started: %zu chat plugin(s), agent %s", AB_VERSION_STRING,
             started, d->agent.command);
    exit_code = CLI_EXIT_OK;
    uv_run(&d->loop, UV_RUN_DEFAULT);
    host_net_finish(); /* libwebsockets' second teardown step, after the loop ran dry */
    exit_code = d->exit_code;
    goto out_loop_close;

out_chats:
    for (size_t i = 0; i < d->nchats; i++) {
        if (d->chats[i].host)
            host_holds_cancel(d->chats[i].host);
        if (d->chats[i].chat)
            d->chats[i].ops->close(d->chats[i].chat);
    }
    engine_free(d->engine);
    d->engine = NULL;
    journal_close(d->journal);
    d->journal = NULL;
    for (size_t i = 0; i < d->nchats; i++) {
        policy_free(d->chats[i].policy);
        host_free(d->chats[i].host);
        free(d->chats[i].name);
    }
    free(d->chats);
out_engine:
    engine_free(d->engine);
    journal_close(d->journal);
out_pool:
    if (d->pool)
        pool_close(d->pool, NULL, NULL);
    uv_run(&d->loop, UV_RUN_DEFAULT);
out_agent:
out_loop_close:
    agent_choice_free(&d->agent);
out_loop:
    uv_run(&d->loop, UV_RUN_DEFAULT);
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
