/* The pool's and the engine's settings from a loaded config, for every place that
 * assembles a broker. */
#include "broker_setup.h"

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
        .max_sessions = (uint32_t)c->max_sessions,
        .pool_queue_max = (uint32_t)c->queue_max,
        .pool_queue_wait_ms = (uint64_t)c->queue_timeout_s * 1000,
        .pool_queue_notice_ms = (uint64_t)c->queue_notice_ms,
        .perm_ask = c->perm_mode == PERM_MODE_ASK,
        .perm_timeout_ms = (uint64_t)c->perm_timeout_s * 1000,
        .attach =
            {
                .enabled = c->attach_enabled,
                .outbox = c->attach_outbox,
                .stt = c->stt_enabled,
                .stt_url = c->stt_base_url,
                .stt_key = c->stt_api_key,
                .stt_model = c->stt_model,
                .stt_echo = c->stt_echo,
                .auto_upload_dirs = (const char *const *)c->auto_upload_dirs.items,
                .auto_upload_count = c->auto_upload_dirs.count,
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
        .state_dir = c->state_dir,
        .perm_mode = c->perm_mode == PERM_MODE_ASK    ? ACP_PERM_ASK
                     : c->perm_mode == PERM_MODE_DENY ? ACP_PERM_DENY
                                                      : ACP_PERM_AUTO,
        .perm_timeout_ms = 0, /* ask mode: the engine's question times out itself */
    };
}
