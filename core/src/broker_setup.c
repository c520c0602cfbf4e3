/* Assembling the broker: settings from a loaded config, then pools, engine and chat
 * instances in one function, and their teardown in reverse. */
#include "broker_setup.h"

#include <stdlib.h>
#include <string.h>

#include "conv/commands.h"
#include "host/host.h"
#include "log.h"

/* [attachments] allowed_types when the config names none. */
static const char *const broker_attach_types[] = {
    "image/*",
    "text/*",
    "audio/*",
    "application/pdf",
    "application/json",
    "application/zip",
    "application/x-yaml",
    "application/xml",
};

/* See broker_setup.h. */
void
broker_setup_engine_config(const struct config *c, struct engine_config *ec)
{
    struct reactions_config rc = reactions_config_default();

    rc.enabled = c->reactions_enabled;
    rc.remove_after_reply = c->remove_after_reply;
    rc.emojis.queued = c->emojis.queued;
    rc.emojis.thinking = c->emojis.thinking;
    rc.emojis.tool = c->emojis.tool;
    rc.emojis.coding = c->emojis.coding;
    rc.emojis.web = c->emojis.web;
    rc.emojis.done = c->emojis.done;
    rc.emojis.error = c->emojis.error;
    rc.emojis.stall_soft = c->emojis.stall_soft;
    rc.emojis.stall_hard = c->emojis.stall_hard;
    rc.debounce_ms = (uint64_t)c->timing.debounce_ms;
    rc.stall_soft_ms = (uint64_t)c->timing.stall_soft_ms;
    rc.stall_hard_ms = (uint64_t)c->timing.stall_hard_ms;
    rc.done_hold_ms = (uint64_t)c->timing.done_hold_ms;
    rc.error_hold_ms = (uint64_t)c->timing.error_hold_ms;
    *ec = (struct engine_config){
        .tool_display = c->tool_display == TOOL_DISPLAY_COMPACT ? RENDER_TOOLS_COMPACT
                        : c->tool_display == TOOL_DISPLAY_NONE  ? RENDER_TOOLS_NONE
                                                                : RENDER_TOOLS_FULL,
        .reactions = rc,
        .emojis =
            {
                .cancel = c->emojis.cancel,
                .deny = c->emojis.deny,
                .allow_once = c->emojis.allow_once,
                .allow_always = c->emojis.allow_always,
                .reject = c->emojis.reject,
            },
        .edit_interval_ms = (uint64_t)c->edit_interval_ms,
        .max_parts = (uint32_t)c->max_parts,
        .usage_footer = c->usage_footer,
        .max_sessions = (uint32_t)c->max_sessions,
        .pool_queue_max = (uint32_t)c->queue_max,
        .pool_queue_wait_ms = (uint64_t)c->queue_timeout_s * 1000,
        .pool_queue_notice_ms = (uint64_t)c->queue_notice_ms,
        .perm_ask = c->perm_mode == PERM_MODE_ASK,
        .perm_timeout_ms = (uint64_t)c->perm_timeout_s * 1000,
        .approvers = (const char *const *)c->perm_approvers.items,
        .napprovers = c->perm_approvers.count,
        .attach =
            {
                .enabled = c->attach_enabled,
                .outbox = c->attach_outbox,
                .stt = c->stt_enabled,
                .stt_url = c->stt_base_url,
                .stt_key = c->stt_api_key,
                .stt_model = c->stt_model,
                .stt_echo = c->stt_echo,
                .auto_upload_dirs = (const char *const *)c->agents[0].auto_upload_dirs.items,
                .auto_upload_count = c->agents[0].auto_upload_dirs.count,
                .max_file_bytes = (uint64_t)c->attach_max_file_mb * 1024 * 1024,
                .max_total_bytes = (uint64_t)c->attach_max_total_mb * 1024 * 1024,
                .max_files = (uint32_t)c->attach_max_files,
                .allowed_types = c->attach_types.count ? (const char *const *)c->attach_types.items
                                                       : broker_attach_types,
                .allowed_count = c->attach_types.count
                                     ? c->attach_types.count
                                     : sizeof(broker_attach_types) / sizeof(broker_attach_types[0]),
            },
    };
}

/* See broker_setup.h. */
void
broker_setup_pool_config(const struct config *c, struct pool_config *pc)
{
    *pc = (struct pool_config){
        .max_sessions = (uint32_t)c->max_sessions,
        .session_ttl_ms = (uint64_t)c->session_ttl_hours * 3600 * 1000,
        .sessions_per_process = (uint32_t)c->sessions_per_process,
        .watchdog_ms = (uint64_t)c->watchdog_s * 1000,
        .idle_suspend_ms = (uint64_t)c->idle_suspend_s * 1000,
        .suspend_without_load = c->suspend_without_load,
        .state_dir = c->state_dir,
        .perm_mode = c->perm_mode == PERM_MODE_ASK    ? ACP_PERM_ASK
                     : c->perm_mode == PERM_MODE_DENY ? ACP_PERM_DENY
                                                      : ACP_PERM_AUTO,
        .perm_timeout_ms = 0, /* ask mode: the engine's question times out itself */
    };
}

/* See broker_setup.h. */
void
broker_setup_policy_config(const struct config_chat *cc, struct policy_config *pc)
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

/* See broker_setup.h. */
struct chat_instance *
broker_chat_of(struct broker *b, const struct ab_host *h)
{
    for (size_t i = 0; i < b->nchats; i++)
        if (b->chats[i].host == h)
            return &b->chats[i];
    return NULL;
}

/* Host sink: a message from a chat plugin. */
static int
broker_sink_deliver(void *arg, struct ab_host *h, const struct ab_inbound *msg)
{
    struct broker *b = arg;
    struct chat_instance *ci = broker_chat_of(b, h);

    return ci ? engine_inbound(b->engine, ci, msg) : AB_ENOENT;
}

/* The engine recorded a held message (or needs no record): its plugin may ack. */
static void
broker_recorded(void *arg, int status)
{
    host_hold_release(arg, status == 0 || status == AB_ECANCELED ? status : AB_EIO);
}

/* Host sink (ABI 1.3): a message whose ack the plugin holds until it is recorded. */
static int
broker_sink_deliver_held(void *arg, struct ab_host *h, const struct ab_inbound *msg,
                         struct host_hold *hold)
{
    struct broker *b = arg;
    struct chat_instance *ci = broker_chat_of(b, h);

    return ci ? engine_inbound_held(b->engine, ci, msg, broker_recorded, hold) : AB_ENOENT;
}

/* Host sink: a reaction from a chat plugin. */
static int
broker_sink_reaction(void *arg, struct ab_host *h, const struct ab_reaction_event *ev)
{
    struct broker *b = arg;
    struct chat_instance *ci = broker_chat_of(b, h);

    return ci ? engine_reaction(b->engine, ci, ev) : AB_ENOENT;
}

/* Host sink: the core's commands, for native registration. */
static int
broker_sink_commands_list(void *arg, const struct ab_command_info **out, size_t *count)
{
    (void)arg;
    *out = commands_info(count);
    return 0;
}

/* Host sink: a native command invocation. */
static int
broker_sink_command(void *arg, struct ab_host *h, const struct ab_command_event *ev)
{
    struct broker *b = arg;
    struct chat_instance *ci = broker_chat_of(b, h);

    return ci ? engine_command(b->engine, ci, ev) : AB_ENOENT;
}

/* Host sink: rate-limit facts go to the engine's scheduler. */
static void
broker_sink_rate(void *arg, struct ab_host *h, const struct ab_rate_info *info)
{
    struct chat_instance *ci = broker_chat_of(arg, h);

    if (ci)
        chat_rate_report(ci, info);
}

/* Host sink: a connection change, for the owner. */
static void
broker_sink_connected(void *arg, struct ab_host *h, bool connected, const char *detail)
{
    struct broker *b = arg;
    struct chat_instance *ci = broker_chat_of(b, h);

    if (ci && b->events.connected)
        b->events.connected(b->events.arg, b, ci, connected, detail);
}

/* Host sink: a chat plugin gave up for good. */
static void
broker_sink_fatal(void *arg, struct ab_host *h, int status, const char *why)
{
    struct broker *b = arg;
    struct chat_instance *ci = broker_chat_of(b, h);

    if (!ci)
        return;
    if (ci->is_started && b->started > 0)
        b->started--;
    ci->is_started = false;
    if (b->events.fatal)
        b->events.fatal(b->events.arg, b, ci, status, why);
}

/* A policy start-up warning. */
static void
broker_policy_warning(void *arg, const char *line)
{
    (void)arg;
    log_warn("core", "%s", line);
}

/* Make, open and start one chat instance. Returns 0 when it started. */
static int
broker_start_chat(struct broker *b, const struct broker_chat_spec *cs, struct chat_instance *ci)
{
    const struct host_sink sink = {b,
                                   broker_sink_deliver,
                                   broker_sink_reaction,
                                   broker_sink_rate,
                                   broker_sink_connected,
                                   broker_sink_fatal,
                                   broker_sink_deliver_held,
                                   broker_sink_commands_list,
                                   broker_sink_command};
    int rc;

    ci->desc = cs->desc;
    ci->ops = cs->ops;
    /* ops is the loader's full-size copy: members the plugin lacks are NULL */
    ci->can_edit = ci->ops->edit != NULL;
    ci->can_react = ci->ops->react != NULL;
    ci->can_thread = ci->ops->open_thread != NULL;
    if (!(ci->name = strdup(cs->name)))
        return AB_ENOMEM;
    if ((rc = host_new(b->loop, "chat", cs->name, cs->table, cs->state_dir, &sink, &ci->host)) < 0)
        return rc;
    ci->host->desc = cs->desc;
    if ((rc = policy_new(&cs->policy, &ci->policy)) < 0)
        return rc;
    if (cs->warn_policy)
        policy_warnings(&cs->policy, cs->name, broker_policy_warning, NULL);
    if ((rc = engine_add_chat(b->engine, ci)) < 0)
        return rc;
    if (cs->chat) {
        ci->chat = cs->chat;
    } else if ((rc = ci->ops->open(ci->host, &host_services, &ci->chat)) < 0) {
        log_error("core", "chat-%s: cannot open: %s", cs->name, ab_strerror(rc));
        ci->chat = NULL;
        return rc;
    }
    if (b->events.opened)
        b->events.opened(b->events.arg, b, ci);
    if (!cs->chat && (rc = ci->ops->start(ci->chat)) < 0) {
        /* The plugin's own reason (set_connected detail) says more than the code. */
        log_error("core", "chat-%s: cannot start: %s%s%s", cs->name, ab_strerror(rc),
                  ci->host->detail ? " — " : "", ci->host->detail ? ci->host->detail : "");
        return rc;
    }
    ci->is_started = true;
    engine_recover(b->engine, ci);
    return 0;
}

/* Close the chat plugins, free the engine, policies, hosts and @b. */
static void
broker_free_parts(struct broker *b)
{
    for (size_t i = 0; i < b->nchats; i++) {
        struct chat_instance *ci = &b->chats[i];
        if (ci->host)
            host_holds_cancel(ci->host);
        if (ci->chat)
            ci->ops->close(ci->chat);
        ci->chat = NULL;
    }
    engine_free(b->engine);
    for (size_t i = 0; i < b->nchats; i++) {
        policy_free(b->chats[i].policy);
        host_free(b->chats[i].host);
        free(b->chats[i].name);
    }
    free(b->chats);
    for (size_t i = 0; i < b->nagents; i++)
        free(b->agents[i].name);
    free(b->agents);
    free(b);
}

/* One pool has stopped its agents; after the last, the rest goes. */
static void
broker_pool_closed(void *arg)
{
    struct broker *b = arg;
    void (*done)(void *) = b->closed;
    void *done_arg = b->closed_arg;

    if (--b->closing > 0)
        return;
    broker_free_parts(b);
    if (done)
        done(done_arg);
}

/* See broker_setup.h. */
void
broker_close(struct broker *b, void (*done)(void *arg), void *arg)
{
    size_t npools = 0;

    b->closed = done;
    b->closed_arg = arg;
    for (size_t i = 0; i < b->nagents; i++)
        npools += b->agents[i].pool != NULL;
    if (npools == 0) {
        broker_free_parts(b);
        if (done)
            done(arg);
        return;
    }
    b->closing = npools;
    for (size_t i = 0; i < b->nagents; i++)
        if (b->agents[i].pool)
            pool_close(b->agents[i].pool, broker_pool_closed, b);
}

/* See broker_setup.h. */
int
broker_new(uv_loop_t *loop, const struct broker_spec *spec, struct broker **out)
{
    struct broker *b = calloc(1, sizeof(*b));
    int rc = AB_ENOMEM;

    *out = NULL;
    if (!b)
        return AB_ENOMEM;
    b->loop = loop;
    b->events = spec->events;
    if (spec->nagents == 0) {
        rc = AB_EINVAL;
        goto fail;
    }
    if (!(b->agents = calloc(spec->nagents, sizeof(*b->agents))))
        goto fail;
    b->nagents = spec->nagents;
    for (size_t i = 0; i < spec->nagents; i++) {
        const struct broker_agent_spec *as = &spec->agents[i];
        if (!(b->agents[i].name = strdup(as->name))) {
            rc = AB_ENOMEM;
            goto fail;
        }
        if ((rc = pool_new(loop, &as->pool, as->launch, &b->agents[i].pool)) < 0) {
            log_error("core", "cannot start the session pool of agent %s: %s", as->name,
                      ab_strerror(rc));
            goto fail;
        }
    }
    if ((rc = engine_new(loop, b->agents[0].pool, &spec->engine, &b->engine)) < 0)
        goto fail;
    for (size_t i = 1; i < spec->nagents; i++)
        if ((rc = engine_add_agent(b->engine, b->agents[i].name, b->agents[i].pool,
                                   spec->agents[i].auth_hint, spec->agents[i].classify_tool)) < 0)
            goto fail;
    for (size_t i = 0; i < spec->nroutes; i++)
        if ((rc = engine_add_route(b->engine, spec->routes[i].channel, spec->routes[i].role,
                                   spec->routes[i].agent)) < 0) {
            log_error("core", "route to agent %s: %s", spec->routes[i].agent, ab_strerror(rc));
            goto fail;
        }
    if (spec->fallback && (rc = engine_set_fallback(b->engine, spec->fallback)) < 0) {
        log_error("core", "there is no agent named \"%s\"", spec->fallback);
        goto fail;
    }
    engine_set_journal(b->engine, spec->journal);
    if (spec->nchats && !(b->chats = calloc(spec->nchats, sizeof(*b->chats)))) {
        rc = AB_ENOMEM;
        goto fail;
    }
    b->nchats = spec->nchats;
    for (size_t i = 0; i < spec->nchats; i++)
        if (broker_start_chat(b, &spec->chats[i], &b->chats[i]) == 0)
            b->started++;
    *out = b;
    return 0;

fail:
    for (size_t i = 0; i < spec->nchats; i++) /* the caller's own instances are ours */
        if (spec->chats[i].chat)
            spec->chats[i].ops->close(spec->chats[i].chat);
    broker_close(b, NULL, NULL);
    return rc;
}
