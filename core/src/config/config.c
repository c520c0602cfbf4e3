/* The configuration model: defaults, schema, validation. */
#include "config/config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#include "config/expand.h"
#include "cron/cron_expr.h"
#include "cron/tz.h"
#include "config/secret_env.h"
#include "config/schema.h"

#define CONFIG_MAX_FILE (4u << 20)

/* How a known key is read. */
enum key_kind {
    KEY_STRING,
    KEY_INT,
    KEY_BOOL,
    KEY_STRINGS, /* array of strings */
    KEY_IDS,     /* array of platform ids: strings, or integers turned into strings */
    KEY_ENUM,
    KEY_ENV, /* inline table of NAME = "value" */
};

/* One known key of a fixed section: where it goes in struct config. */
struct key_spec {
    const char *section; /* "pool", "reactions.timing" */
    const char *key;
    enum key_kind kind;
    size_t offset;
    int64_t min, max;         /* KEY_INT range */
    const char *const *names; /* KEY_ENUM: the accepted words, index = value */
    const char *hint;         /* what to do, for errors */
};

static const char *const perm_names[] = {"auto", "ask", "deny", NULL};
static const char *const display_names[] = {"full", "compact", "none", NULL};
static const char *const level_names[] = {"error", "warn", "info", "debug", "trace", NULL};
static const char *const format_names[] = {"text", "json", NULL};
static const char *const user_msg_names[] = {"involved", "mentions", "multibot-mentions", NULL};
static const char *const bot_msg_names[] = {"off", "mentions", "all", NULL};

#define OFF(f) offsetof(struct config, f)
#define DAY_MS (24LL * 3600 * 1000)

static const struct key_spec config_keys[] = {
    {"plugins", "path", KEY_STRINGS, OFF(plugin_path), 0, 0, NULL, NULL},
    {"plugins", "chat", KEY_STRINGS, OFF(plugin_chat), 0, 0, NULL, NULL},
    {"plugins", "strict", KEY_BOOL, OFF(plugins_strict), 0, 0, NULL, NULL},
    {"pool", "max_sessions", KEY_INT, OFF(max_sessions), 1, 10000, NULL, NULL},
    {"pool", "session_ttl_hours", KEY_INT, OFF(session_ttl_hours), 1, 24 * 365, NULL, NULL},
    {"pool", "sessions_per_process", KEY_INT, OFF(sessions_per_process), 1, 256, NULL, NULL},
    {"pool", "drain_timeout_s", KEY_INT, OFF(drain_timeout_s), 0, 3600, NULL, NULL},
    {"pool", "queue_max", KEY_INT, OFF(queue_max), 0, 100000, NULL, NULL},
    {"pool", "queue_timeout_s", KEY_INT, OFF(queue_timeout_s), 1, 86400, NULL, NULL},
    {"pool", "queue_notice_ms", KEY_INT, OFF(queue_notice_ms), 0, 3600000, NULL, NULL},
    {"pool", "watchdog_s", KEY_INT, OFF(watchdog_s), 1, 86400, NULL, NULL},
    {"pool", "idle_suspend_s", KEY_INT, OFF(idle_suspend_s), 0, 86400 * 365, NULL, NULL},
    {"pool", "suspend_without_load", KEY_BOOL, OFF(suspend_without_load), 0, 0, NULL, NULL},
    {"permissions", "mode", KEY_ENUM, OFF(perm_mode), 0, 0, perm_names, NULL},
    {"permissions", "timeout_s", KEY_INT, OFF(perm_timeout_s), 1, 86400, NULL, NULL},
    {"permissions", "approvers", KEY_STRINGS, OFF(perm_approvers), 0, 0, NULL, NULL},
    {"reactions", "enabled", KEY_BOOL, OFF(reactions_enabled), 0, 0, NULL, NULL},
    {"reactions", "remove_after_reply", KEY_BOOL, OFF(remove_after_reply), 0, 0, NULL, NULL},
    {"reactions", "tool_display", KEY_ENUM, OFF(tool_display), 0, 0, display_names, NULL},
    {"reactions.emojis", "queued", KEY_STRING, OFF(emojis.queued), 0, 0, NULL, NULL},
    {"reactions.emojis", "thinking", KEY_STRING, OFF(emojis.thinking), 0, 0, NULL, NULL},
    {"reactions.emojis", "tool", KEY_STRING, OFF(emojis.tool), 0, 0, NULL, NULL},
    {"reactions.emojis", "coding", KEY_STRING, OFF(emojis.coding), 0, 0, NULL, NULL},
    {"reactions.emojis", "web", KEY_STRING, OFF(emojis.web), 0, 0, NULL, NULL},
    {"reactions.emojis", "done", KEY_STRING, OFF(emojis.done), 0, 0, NULL, NULL},
    {"reactions.emojis", "error", KEY_STRING, OFF(emojis.error), 0, 0, NULL, NULL},
    {"reactions.emojis", "stall_soft", KEY_STRING, OFF(emojis.stall_soft), 0, 0, NULL, NULL},
    {"reactions.emojis", "stall_hard", KEY_STRING, OFF(emojis.stall_hard), 0, 0, NULL, NULL},
    {"reactions.emojis", "cancel", KEY_STRING, OFF(emojis.cancel), 0, 0, NULL, NULL},
    {"reactions.emojis", "deny", KEY_STRING, OFF(emojis.deny), 0, 0, NULL, NULL},
    {"reactions.emojis", "allow_once", KEY_STRING, OFF(emojis.allow_once), 0, 0, NULL, NULL},
    {"reactions.emojis", "allow_always", KEY_STRING, OFF(emojis.allow_always), 0, 0, NULL, NULL},
    {"reactions.emojis", "reject", KEY_STRING, OFF(emojis.reject), 0, 0, NULL, NULL},
    {"reactions.timing", "debounce_ms", KEY_INT, OFF(timing.debounce_ms), 0, DAY_MS, NULL, NULL},
    {"reactions.timing", "stall_soft_ms", KEY_INT, OFF(timing.stall_soft_ms), 0, DAY_MS, NULL,
     NULL},
    {"reactions.timing", "stall_hard_ms", KEY_INT, OFF(timing.stall_hard_ms), 0, DAY_MS, NULL,
     NULL},
    {"reactions.timing", "done_hold_ms", KEY_INT, OFF(timing.done_hold_ms), 0, DAY_MS, NULL, NULL},
    {"reactions.timing", "error_hold_ms", KEY_INT, OFF(timing.error_hold_ms), 0, DAY_MS, NULL,
     NULL},
    {"stream", "edit_interval_ms", KEY_INT, OFF(edit_interval_ms), 100, 600000, NULL, NULL},
    {"stream", "max_parts", KEY_INT, OFF(max_parts), 1, 100, NULL, NULL},
    {"stream", "usage_footer", KEY_BOOL, OFF(usage_footer), 0, 0, NULL, NULL},
    {"attachments", "enabled", KEY_BOOL, OFF(attach_enabled), 0, 0, NULL, NULL},
    {"stt", "enabled", KEY_BOOL, OFF(stt_enabled), 0, 0, NULL, NULL},
    {"stt", "api_key", KEY_STRING, OFF(stt_api_key), 0, 0, NULL, NULL},
    {"stt", "model", KEY_STRING, OFF(stt_model), 0, 0, NULL, NULL},
    {"stt", "base_url", KEY_STRING, OFF(stt_base_url), 0, 0, NULL, NULL},
    {"stt", "echo_transcript", KEY_BOOL, OFF(stt_echo), 0, 0, NULL, NULL},
    {"attachments", "outbox", KEY_BOOL, OFF(attach_outbox), 0, 0, NULL, NULL},
    {"attachments", "max_file_mb", KEY_INT, OFF(attach_max_file_mb), 1, 4096, NULL, NULL},
    {"attachments", "max_total_mb", KEY_INT, OFF(attach_max_total_mb), 1, 16384, NULL, NULL},
    {"attachments", "max_files", KEY_INT, OFF(attach_max_files), 1, 100, NULL, NULL},
    {"attachments", "allowed_types", KEY_STRINGS, OFF(attach_types), 0, 0, NULL, NULL},
    {"health", "listen", KEY_STRING, OFF(health_listen), 0, 0, NULL, NULL},
    {"ingress", "listen", KEY_STRING, OFF(ingress_listen), 0, 0, NULL, NULL},
    {"state", "dir", KEY_STRING, OFF(state_dir), 0, 0, NULL, NULL},
    {"log", "level", KEY_ENUM, OFF(log_level), 0, 0, level_names, NULL},
    {"log", "format", KEY_ENUM, OFF(log_format), 0, 0, format_names, NULL},
};

static const char *const workspace_names[] = {"shared", "per-conversation", NULL};

#define AGENT_OFF(f) offsetof(struct config_agent, f)

/* Keys of [agent] and of each [agents.NAME]; the pool keys override [pool]'s. */
static const struct key_spec agent_keys[] = {
    {"", "preset", KEY_STRING, AGENT_OFF(preset), 0, 0, NULL, NULL},
    {"", "command", KEY_STRING, AGENT_OFF(command), 0, 0, NULL, NULL},
    {"", "args", KEY_STRINGS, AGENT_OFF(args), 0, 0, NULL, NULL},
    {"", "working_dir", KEY_STRING, AGENT_OFF(working_dir), 0, 0, NULL, NULL},
    {"", "env", KEY_ENV, AGENT_OFF(env), 0, 0, NULL, NULL},
    {"", "inherit_env", KEY_STRINGS, AGENT_OFF(inherit_env), 0, 0, NULL, NULL},
    {"", "max_sessions", KEY_INT, AGENT_OFF(max_sessions), 1, 10000, NULL, NULL},
    {"", "session_ttl_hours", KEY_INT, AGENT_OFF(session_ttl_hours), 1, 24 * 365, NULL, NULL},
    {"", "sessions_per_process", KEY_INT, AGENT_OFF(sessions_per_process), 1, 256, NULL, NULL},
    {"", "workspace", KEY_ENUM, AGENT_OFF(workspace), 0, 0, workspace_names, NULL},
    {"", "workspace_git", KEY_STRING, AGENT_OFF(workspace_git), 0, 0, NULL, NULL},
    {"", "workspace_max_mb", KEY_INT, AGENT_OFF(workspace_max_mb), 1, 1 << 30, NULL, NULL},
    {"", "auto_upload_dirs", KEY_STRINGS, AGENT_OFF(auto_upload_dirs), 0, 0, NULL, NULL},
};

#define MCP_OFF(f) offsetof(struct config_mcp, f)

/* Keys of one [[agent.mcp_servers]] entry (type is read on its own). */
static const struct key_spec mcp_keys[] = {
    {"", "name", KEY_STRING, MCP_OFF(name), 0, 0, NULL, NULL},
    {"", "command", KEY_STRING, MCP_OFF(command), 0, 0, NULL, NULL},
    {"", "args", KEY_STRINGS, MCP_OFF(args), 0, 0, NULL, NULL},
    {"", "env", KEY_ENV, MCP_OFF(env), 0, 0, NULL, NULL},
    {"", "url", KEY_STRING, MCP_OFF(url), 0, 0, NULL, NULL},
    {"", "headers", KEY_ENV, MCP_OFF(headers), 0, 0, NULL, NULL},
};
static const char *const mcp_type_names[] = {"stdio", "http", "sse", NULL};

/* The one table of emoji defaults: config_defaults fills them, config_free frees them. */
static const struct {
    size_t offset; /* of the char * in struct config */
    const char *value;
} config_emoji_defaults[] = {
    {OFF(emojis.queued), "👀"},
    {OFF(emojis.thinking), "🤔"},
    {OFF(emojis.tool), "🔥"},
    {OFF(emojis.coding), "👨‍💻"},
    {OFF(emojis.web), "⚡"},
    {OFF(emojis.done), "🆗"},
    {OFF(emojis.error), "😱"},
    {OFF(emojis.stall_soft), "🥱"},
    {OFF(emojis.stall_hard), "😨"},
    {OFF(emojis.cancel), "🛑"},
    {OFF(emojis.deny), "🚫"},
    {OFF(emojis.allow_once), "✅"},
    {OFF(emojis.allow_always), "♾️"},
    {OFF(emojis.reject), "❌"},
};

/* The emoji field of cfg at one entry of config_emoji_defaults. */
static char **
config_emoji_field(struct config *cfg, size_t i)
{
    return (char **)((char *)cfg + config_emoji_defaults[i].offset);
}

#define CHAT_OFF(f) offsetof(struct config_chat, f)

/* Policy keys every chat section shares (read by the core). */
static const struct key_spec chat_keys[] = {
    {"", "allowed_channels", KEY_IDS, CHAT_OFF(allowed_channels), 0, 0, NULL, NULL},
    {"", "allow_all_channels", KEY_BOOL, CHAT_OFF(allow_all_channels), 0, 0, NULL, NULL},
    {"", "allowed_users", KEY_IDS, CHAT_OFF(allowed_users), 0, 0, NULL, NULL},
    {"", "allow_all_users", KEY_BOOL, CHAT_OFF(allow_all_users), 0, 0, NULL, NULL},
    {"", "allowed_role_ids", KEY_IDS, CHAT_OFF(allowed_role_ids), 0, 0, NULL, NULL},
    {"", "allow_user_messages", KEY_ENUM, CHAT_OFF(allow_user_messages), 0, 0, user_msg_names,
     NULL},
    {"", "allow_bot_messages", KEY_ENUM, CHAT_OFF(allow_bot_messages), 0, 0, bot_msg_names, NULL},
    {"", "trusted_bot_ids", KEY_IDS, CHAT_OFF(trusted_bot_ids), 0, 0, NULL, NULL},
    {"", "max_bot_turns", KEY_INT, CHAT_OFF(max_bot_turns), 1, 1000000, NULL, NULL},
    {"", "allow_dm", KEY_BOOL, CHAT_OFF(allow_dm), 0, 0, NULL, NULL},
};

/* Keys the host's network services read from every chat section (host.c): valid in
 * each one besides the plugin's own, checked with the same schema rules. */
static const struct ab_config_key config_net_keys[] = {
    {.name = "insecure",
     .type = AB_KEY_BOOL,
     .def = "false",
     .help = "allow plain http:// and ws:// to hosts other than loopback"},
    {.name = "ca_file",
     .type = AB_KEY_STRING,
     .help = "PEM bundle to trust instead of the system's"},
    {.name = NULL},
};
static const struct ab_plugin_desc config_net_schema = {.name = "", .config_keys = config_net_keys};

/* OpenAB sections accepted with one warning each. */
static const char *const config_unimplemented[] = {"gateway", "markdown", NULL};
static const char *const config_sections[] = {
    "plugins", "agent", "agents", "routes",  "pool",        "permissions", "reactions", "stream",
    "health",  "state", "log",    "ingress", "attachments", "stt",         "cron",      NULL};
/* Sections read on their own rather than through config_keys. */
static const char *const config_own_sections[] = {"agent", "agents", "routes", "cron", NULL};

/* Free a string list. */
static void
strlist_free(struct strlist *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

/* Append a copy of @s (@len bytes). */
int
strlist_push(struct strlist *l, const char *s, size_t len)
{
    char **grown = realloc(l->items, (l->count + 2) * sizeof(char *));
    char *copy;

    if (!grown)
        return AB_ENOMEM;
    l->items = grown;
    l->items[l->count] = NULL;
    if (!(copy = malloc(len + 1)))
        return AB_ENOMEM;
    memcpy(copy, s, len);
    copy[len] = '\0';
    l->items[l->count++] = copy;
    l->items[l->count] = NULL;
    return 0;
}

/* True when @l contains @s. */
static bool
strlist_has(const struct strlist *l, const char *s)
{
    for (size_t i = 0; i < l->count; i++)
        if (strcmp(l->items[i], s) == 0)
            return true;
    return false;
}

/* Replace an owned string field. */
static int
config_set_str(char **field, const char *s)
{
    char *copy = s ? strdup(s) : NULL;

    if (s && !copy)
        return AB_ENOMEM;
    free(*field);
    *field = copy;
    return 0;
}

/* Defaults of one chat section (OpenAB's meanings). */
static void
config_chat_defaults(struct config_chat *c)
{
    c->allow_all_channels = true;
    c->allow_all_users = true;
    c->allow_user_messages = USER_MESSAGES_INVOLVED;
    c->allow_bot_messages = BOT_MESSAGES_OFF;
    c->max_bot_turns = 100;
    c->allow_dm = false;
}

/* Free one agent's strings. */
static void
config_agent_free(struct config_agent *a)
{
    free(a->name);
    free(a->section);
    free(a->preset);
    free(a->command);
    free(a->working_dir);
    free(a->workspace_git);
    strlist_free(&a->args);
    strlist_free(&a->env);
    strlist_free(&a->inherit_env);
    strlist_free(&a->auto_upload_dirs);
    for (size_t i = 0; i < a->nmcp; i++) {
        struct config_mcp *m = &a->mcp[i];
        free(m->name);
        free(m->command);
        free(m->url);
        strlist_free(&m->args);
        strlist_free(&m->env);
        strlist_free(&m->headers);
    }
    free(a->mcp);
    memset(a, 0, sizeof(*a));
}

/* Append an agent named @name whose keys are written under [@section] (@t, lent, may be
 * NULL), with every default. */
static int
config_agent_push(struct config *cfg, const char *name, const char *section,
                  const struct toml_table *t)
{
    struct config_agent *grown = realloc(cfg->agents, (cfg->nagents + 1) * sizeof(*grown));
    struct config_agent *a;

    if (!grown)
        return AB_ENOMEM;
    cfg->agents = grown;
    a = &cfg->agents[cfg->nagents];
    memset(a, 0, sizeof(*a));
    a->table = t;
    a->line = t ? t->line : 0;
    if (!(a->name = strdup(name)) || !(a->section = strdup(section))) {
        config_agent_free(a);
        return AB_ENOMEM;
    }
    cfg->nagents++;
    return 0;
}

/* Every default of CONFIG.md. */
int
config_defaults(struct config *cfg)
{
    int rc = 0;

    memset(cfg, 0, sizeof(*cfg));
    cfg->max_sessions = 10;
    cfg->session_ttl_hours = 24;
    cfg->queue_max = 200;
    cfg->queue_timeout_s = 900;
    cfg->queue_notice_ms = 5000;
    cfg->sessions_per_process = 1;
    cfg->drain_timeout_s = 30;
    cfg->watchdog_s = 600;
    cfg->idle_suspend_s = 300;
    cfg->perm_mode = PERM_MODE_AUTO;
    cfg->perm_timeout_s = 300;
    cfg->reactions_enabled = true;
    cfg->remove_after_reply = false;
    cfg->tool_display = TOOL_DISPLAY_FULL;
    cfg->timing = (struct config_timing){700, 10000, 30000, 1500, 2500};
    cfg->edit_interval_ms = 1500;
    cfg->max_parts = 10;
    cfg->attach_enabled = true;
    cfg->attach_max_file_mb = 25;
    cfg->attach_max_total_mb = 50;
    cfg->attach_max_files = 10;
    for (size_t i = 0;
         i < sizeof(config_emoji_defaults) / sizeof(config_emoji_defaults[0]) && rc == 0; i++)
        rc = config_set_str(config_emoji_field(cfg, i), config_emoji_defaults[i].value);
    if (rc == 0)
        rc = config_set_str(&cfg->stt_model, "whisper-large-v3-turbo");
    if (rc == 0)
        rc = config_set_str(&cfg->stt_base_url, "https://api.groq.com/openai/v1");
    if (rc == 0)
        rc = config_set_str(&cfg->health_listen, "127.0.0.1:9464");
    if (rc == 0)
        rc = config_set_str(&cfg->state_dir, "~/.agent-broker");
    if (rc == 0)
        rc = config_set_str(&cfg->log_level, "info");
    if (rc == 0)
        rc = config_set_str(&cfg->log_format, "text");
    if (rc == 0)
        rc = config_agent_push(cfg, "default", "agent", NULL);
    return rc;
}

/* Describe a value's type the way a user reads it. */
static const char *
config_type_word(const struct toml_value *v)
{
    return toml_type_name(v->type);
}

/* Read one platform id: a string, or an integer turned into its exact decimal text. */
static int
config_read_id(const struct toml_value *v, const char *key, struct diag *diag, struct strlist *out)
{
    char buf[32];

    if (v->type == TOML_STRING) {
        if (v->u.str.len == 0) {
            diag_add(diag, true, v->line, key, "an empty id — remove it or write the id");
            return 0;
        }
        return strlist_push(out, v->u.str.ptr, v->u.str.len);
    }
    if (v->type == TOML_INTEGER) {
        int n = snprintf(buf, sizeof(buf), "%lld", (long long)v->u.i);
        return strlist_push(out, buf, (size_t)n);
    }
    if (v->type == TOML_FLOAT)
        diag_add(diag, true, v->line, key,
                 "id %g was mangled into a float (e.g. by Helm) and lost digits — write ids as "
                 "quoted strings",
                 v->u.f);
    else
        diag_add(diag, true, v->line, key, "ids must be strings, found %s — quote the id",
                 config_type_word(v));
    return 0;
}

/* Read one known key into @base + spec->offset. Type and range problems become
 * errors naming the key; the default stays in place. */
static int
config_read_key(const struct key_spec *spec, const struct toml_value *v, const char *key,
                void *base, struct diag *diag)
{
    char *field = (char *)base + spec->offset;
    int rc = 0;

    switch (spec->kind) {
    case KEY_STRING:
        if (v->type != TOML_STRING) {
            diag_add(diag, true, v->line, key, "expected a string, found %s — quote the value",
                     config_type_word(v));
            return 0;
        }
        return config_set_str((char **)field, v->u.str.ptr);
    case KEY_INT:
        if (v->type != TOML_INTEGER) {
            diag_add(diag, true, v->line, key,
                     "expected an integer, found %s — write a number "
                     "without quotes",
                     config_type_word(v));
            return 0;
        }
        if (v->u.i < spec->min || v->u.i > spec->max) {
            diag_add(diag, true, v->line, key, "%lld is out of range — use %lld to %lld",
                     (long long)v->u.i, (long long)spec->min, (long long)spec->max);
            return 0;
        }
        *(int64_t *)field = v->u.i;
        return 0;
    case KEY_BOOL:
        if (v->type != TOML_BOOL) {
            diag_add(diag, true, v->line, key, "expected true or false, found %s",
                     config_type_word(v));
            return 0;
        }
        *(bool *)field = v->u.b;
        return 0;
    case KEY_ENUM:
        if (v->type == TOML_STRING) {
            for (int i = 0; spec->names[i]; i++) {
                if (strcmp(v->u.str.ptr, spec->names[i]) == 0) {
                    if (spec->names == level_names || spec->names == format_names)
                        return config_set_str((char **)field, spec->names[i]);
                    *(int *)field = i;
                    return 0;
                }
            }
        }
        {
            char words[128] = "";
            for (int i = 0; spec->names[i]; i++)
                snprintf(words + strlen(words), sizeof(words) - strlen(words), "%s%s",
                         i ? " | " : "", spec->names[i]);
            diag_add(diag, true, v->line, key, "expected one of %s", words);
        }
        return 0;
    case KEY_STRINGS:
    case KEY_IDS: {
        struct strlist *list = (struct strlist *)field;
        if (v->type != TOML_ARRAY) {
            diag_add(diag, true, v->line, key, "expected an array, found %s — write [\"…\"]",
                     config_type_word(v));
            return 0;
        }
        strlist_free(list);
        for (size_t i = 0; i < v->u.arr->count && rc == 0; i++) {
            const struct toml_value *item = &v->u.arr->items[i];
            if (spec->kind == KEY_IDS)
                rc = config_read_id(item, key, diag, list);
            else if (item->type != TOML_STRING)
                diag_add(diag, true, item->line, key, "expected strings, found %s",
                         config_type_word(item));
            else
                rc = strlist_push(list, item->u.str.ptr, item->u.str.len);
        }
        return rc;
    }
    case KEY_ENV: {
        struct strlist *list = (struct strlist *)field;
        if (v->type != TOML_TABLE) {
            diag_add(diag, true, v->line, key, "expected a table like { NAME = \"value\" }");
            return 0;
        }
        for (size_t i = 0; i < v->u.tab->count && rc == 0; i++) {
            const struct toml_kv *kv = &v->u.tab->items[i];
            char *pair;
            if (kv->val.type != TOML_STRING) {
                diag_add(diag, true, kv->line, key, "%s: expected a string value", kv->key);
                continue;
            }
            if (!*kv->key || strchr(kv->key, '=')) {
                diag_add(diag, true, kv->line, key, "\"%s\" is not a valid variable name", kv->key);
                continue;
            }
            if (asprintf(&pair, "%s=%s", kv->key, kv->val.u.str.ptr) < 0)
                return AB_ENOMEM;
            rc = strlist_push(list, pair, strlen(pair));
            free(pair);
        }
        return rc;
    }
    }
    return 0;
}

/* Read a section's known keys from @t, warning about unknown ones. @section is the
 * dotted name of the specs; @msg_prefix starts each key in messages ("pool." or
 * "[name] "); sub-tables are handled by the caller. A chat section's keys are known
 * when @chat_schema (a loaded plugin's descriptor) declares them; @all_known when the
 * plugin is missing (reported on its own) or declares no schema. */
static int
config_read_section(const struct key_spec *specs, size_t nspecs, const char *section,
                    const char *msg_prefix, const struct toml_table *t, void *base,
                    struct diag *diag, const struct ab_plugin_desc *chat_schema, bool all_known)
{
    int rc;

    for (size_t i = 0; i < t->count; i++) {
        const struct toml_kv *kv = &t->items[i];
        char key[256];
        bool known = false;

        snprintf(key, sizeof(key), "%s%s", msg_prefix, kv->key);
        for (size_t s = 0; s < nspecs; s++) {
            if (strcmp(specs[s].section, section) == 0 && strcmp(specs[s].key, kv->key) == 0) {
                if ((rc = config_read_key(&specs[s], &kv->val, key, base, diag)) < 0)
                    return rc;
                known = true;
                break;
            }
        }
        if (!known && kv->val.type == TOML_TABLE) {
            char sub[256];
            snprintf(sub, sizeof(sub), "%s%s%s", section, *section ? "." : "", kv->key);
            for (size_t s = 0; s < nspecs && !known; s++)
                known = strcmp(specs[s].section, sub) == 0;
        }
        if (!known && (chat_schema || all_known))
            known = all_known || schema_find(chat_schema, kv->key) ||
                    schema_find(&config_net_schema, kv->key);
        if (!known)
            diag_add(diag, false, kv->line, key,
                     "unknown key, ignored — check the spelling "
                     "against the configuration reference");
    }
    return 0;
}

/* Read one chat section: the core's policy keys, then the plugin's own keys against
 * the schema its descriptor @d declares (NULL: the plugin is missing). */
static int
config_read_chat(struct config *cfg, struct config_chat *chat, const struct toml_table *t,
                 const struct ab_plugin_desc *d, struct diag *diag)
{
    const struct toml_value *v;
    char prefix[80];
    int rc;

    config_chat_defaults(chat);
    snprintf(prefix, sizeof(prefix), "[%s] ", chat->name);
    /* a plugin that declares no schema (before ABI 1.3) has its keys unchecked */
    if ((rc = config_read_section(chat_keys, sizeof(chat_keys) / sizeof(chat_keys[0]), "", prefix,
                                  t, chat, diag, d, !d || !d->config_keys)) < 0)
        return rc;
    /* OpenAB: allow_all_* omitted means "true when the list is empty". */
    if (!toml_table_get(t, "allow_all_channels"))
        chat->allow_all_channels = chat->allowed_channels.count == 0;
    if (!toml_table_get(t, "allow_all_users"))
        chat->allow_all_users = chat->allowed_users.count == 0;
    v = toml_table_get(t, "allow_all_channels");
    if (v && v->type == TOML_BOOL && !v->u.b && chat->allowed_channels.count == 0)
        diag_add(diag, false, v->line, "allow_all_channels",
                 "[%s] allows no channel at all — list channel ids in allowed_channels",
                 chat->name);
    if ((rc = schema_check(&config_net_schema, chat->name, t, chat->line, diag, &cfg->secrets,
                           &cfg->redact_prefixes)) < 0)
        return rc;
    return d ? schema_check(d, chat->name, t, chat->line, diag, &cfg->secrets,
                            &cfg->redact_prefixes)
             : 0;
}

/* Expand a leading ~ in the state dir. */
static int
config_expand_home(char **path)
{
    const char *home = getenv("HOME");
    char *out;

    if (!*path || (*path)[0] != '~' || ((*path)[1] != '/' && (*path)[1] != '\0'))
        return 0;
    if (!home || !*home)
        home = "/tmp";
    if (asprintf(&out, "%s%s", home, *path + 1) < 0)
        return AB_ENOMEM;
    free(*path);
    *path = out;
    return 0;
}

/* True for the core's own top-level sections (and the OpenAB ones it accepts). */
static bool
config_is_core_section(const char *name)
{
    for (size_t s = 0; config_sections[s]; s++)
        if (strcmp(config_sections[s], name) == 0)
            return true;
    for (size_t s = 0; config_unimplemented[s]; s++)
        if (strcmp(config_unimplemented[s], name) == 0)
            return true;
    return false;
}

/* Decide which chat plugins run: [plugins] chat, else every section named like an
 * installed chat plugin; read each one's section. */
static int
config_resolve_chats(struct config *cfg, const struct toml_table *root, config_find_chat_fn find,
                     void *arg, struct diag *diag)
{
    int rc = 0;

    if (cfg->plugin_chat.count == 0) {
        for (size_t i = 0; i < root->count && rc == 0; i++) {
            const struct toml_kv *kv = &root->items[i];
            if (kv->val.type == TOML_TABLE && !config_is_core_section(kv->key) &&
                find(arg, kv->key))
                rc = strlist_push(&cfg->plugin_chat, kv->key, strlen(kv->key));
        }
    }
    if (rc < 0)
        return rc;
    cfg->chats = calloc(cfg->plugin_chat.count ? cfg->plugin_chat.count : 1, sizeof(*cfg->chats));
    if (!cfg->chats)
        return AB_ENOMEM;
    for (size_t i = 0; i < cfg->plugin_chat.count; i++) {
        const char *name = cfg->plugin_chat.items[i];
        const struct toml_value *t = toml_table_get(root, name);
        const struct ab_plugin_desc *d = find(arg, name);
        struct config_chat *chat = &cfg->chats[i];

        if (!(chat->name = strdup(name)))
            return AB_ENOMEM;
        config_chat_defaults(chat);
        if (t && t->type != TOML_TABLE) {
            diag_add(diag, true, t->line, name, "expected a table [%s]", name);
            continue;
        }
        if (!t) {
            if (schema_has_required(d))
                diag_add(diag, true, 0, "plugins.chat",
                         "\"%s\" is listed but there is no [%s] section — add it or remove the "
                         "name",
                         name, name);
            continue;
        }
        chat->line = t->u.tab->line;
        if ((rc = config_read_chat(cfg, chat, t->u.tab, d, diag)) < 0)
            return rc;
    }
    return 0;
}

/* Read every fixed section. */
static int
config_read_fixed(struct config *cfg, const struct toml_table *root, struct diag *diag)
{
    char prefix[64];
    int rc;

    for (size_t s = 0; config_sections[s]; s++) {
        const struct toml_value *t = toml_table_get(root, config_sections[s]);
        bool own = false;
        for (size_t o = 0; config_own_sections[o]; o++)
            own = own || strcmp(config_own_sections[o], config_sections[s]) == 0;
        if (!t || own)
            continue;
        if (t->type != TOML_TABLE) {
            diag_add(diag, true, t->line, config_sections[s], "expected a table [%s]",
                     config_sections[s]);
            continue;
        }
        snprintf(prefix, sizeof(prefix), "%s.", config_sections[s]);
        if ((rc = config_read_section(config_keys, sizeof(config_keys) / sizeof(config_keys[0]),
                                      config_sections[s], prefix, t->u.tab, cfg, diag, NULL,
                                      false)) < 0)
            return rc;
    }
    /* [reactions.emojis] and [reactions.timing] */
    static const char *const subs[] = {"reactions.emojis", "reactions.timing", NULL};
    for (size_t s = 0; subs[s]; s++) {
        const struct toml_value *t = toml_get_path(root, subs[s]);
        if (!t)
            continue;
        if (t->type != TOML_TABLE) {
            diag_add(diag, true, t->line, subs[s], "expected a table [%s]", subs[s]);
            continue;
        }
        snprintf(prefix, sizeof(prefix), "%s.", subs[s]);
        if ((rc = config_read_section(config_keys, sizeof(config_keys) / sizeof(config_keys[0]),
                                      subs[s], prefix, t->u.tab, cfg, diag, NULL, false)) < 0)
            return rc;
    }
    return 0;
}

/* Read the keys of @t that @specs (section "") name into @base; @skip (read by the
 * caller) is not warned about, any other key is, with @hint. @prefix starts each key in
 * messages. */
static int
config_read_table(const struct key_spec *specs, size_t nspecs, const char *prefix,
                  const struct toml_table *t, void *base, const char *skip, const char *hint,
                  struct diag *diag)
{
    char key[256];
    int rc;

    for (size_t i = 0; i < t->count; i++) {
        const struct toml_kv *kv = &t->items[i];
        bool known = strcmp(kv->key, skip) == 0;
        snprintf(key, sizeof(key), "%s%s", prefix, kv->key);
        for (size_t k = 0; k < nspecs && !known; k++) {
            if (strcmp(specs[k].key, kv->key) != 0)
                continue;
            known = true;
            if ((rc = config_read_key(&specs[k], &kv->val, key, base, diag)) < 0)
                return rc;
        }
        if (!known)
            diag_add(diag, false, kv->line, key, "unknown key, ignored — %s", hint);
    }
    return 0;
}

/* Read one [[SECTION.mcp_servers]] entry @t into @m; its env and header values become
 * secrets. */
static int
config_read_mcp(struct config *cfg, const char *section, const struct toml_table *t,
                struct config_mcp *m, struct diag *diag)
{
    const struct toml_value *type = toml_table_get(t, "type");
    char prefix[160];
    struct strlist *values[2] = {&m->env, &m->headers};
    int rc;

    snprintf(prefix, sizeof(prefix), "%s.mcp_servers.", section);
    m->line = t->line;
    if ((rc = config_read_table(mcp_keys, sizeof(mcp_keys) / sizeof(mcp_keys[0]), prefix, t, m,
                                "type",
                                "an MCP server has name, type, command, args, env (stdio) or url, "
                                "headers (http, sse)",
                                diag)) < 0)
        return rc;
    m->type = CONFIG_MCP_STDIO;
    if (type) {
        bool ok = false;
        for (int i = 0; type->type == TOML_STRING && mcp_type_names[i] && !ok; i++)
            if (strcmp(type->u.str.ptr, mcp_type_names[i]) == 0) {
                m->type = (enum config_mcp_type)i;
                ok = true;
            }
        if (!ok)
            diag_add(diag, true, type->line, "mcp_servers.type",
                     "[[%s.mcp_servers]] type: expected one of stdio | http | sse", section);
    }
    if (!m->name || !*m->name)
        diag_add(diag, true, m->line, "mcp_servers.name",
                 "[[%s.mcp_servers]] needs a name — add name = \"…\"", section);
    if (m->type == CONFIG_MCP_STDIO && (!m->command || !*m->command))
        diag_add(diag, true, m->line, "mcp_servers.command",
                 "[[%s.mcp_servers]] %s: a stdio server needs a command (or set type = "
                 "\"http\" and a url)",
                 section, m->name ? m->name : "");
    if (m->type != CONFIG_MCP_STDIO && (!m->url || !*m->url))
        diag_add(diag, true, m->line, "mcp_servers.url",
                 "[[%s.mcp_servers]] %s: an %s server needs a url", section, m->name ? m->name : "",
                 mcp_type_names[m->type]);
    /* KEY_ENV wrote "Name=value"; headers travel as name and value, kept the same way.
     * Every value is a secret: it reaches the agent and nothing else. */
    for (size_t l = 0; l < 2; l++)
        for (size_t i = 0; i < values[l]->count; i++) {
            const char *eq = strchr(values[l]->items[i], '=');
            const char *word = eq ? strrchr(eq + 1, ' ') : NULL;
            if (eq && eq[1] && (rc = strlist_push(&cfg->secrets, eq + 1, strlen(eq + 1))) < 0)
                return rc;
            /* "Bearer TOKEN": the token alone is a secret too */
            if (word && strlen(word + 1) >= 8 &&
                (rc = strlist_push(&cfg->secrets, word + 1, strlen(word + 1))) < 0)
                return rc;
        }
    return 0;
}

/* Read one agent's table: its keys, then its mcp_servers. */
static int
config_read_agent(struct config *cfg, struct config_agent *a, struct diag *diag)
{
    const struct toml_value *servers;
    char prefix[160];
    int rc;

    if (!a->table)
        return 0;
    snprintf(prefix, sizeof(prefix), "%s.", a->section);
    if ((rc = config_read_table(
             agent_keys, sizeof(agent_keys) / sizeof(agent_keys[0]), prefix, a->table, a,
             "mcp_servers", "check the spelling against the configuration reference", diag)) < 0)
        return rc;
    a->args_set = toml_table_get(a->table, "args") != NULL;
    servers = toml_table_get(a->table, "mcp_servers");
    if (!servers)
        return 0;
    if (servers->type != TOML_ARRAY) {
        diag_add(diag, true, servers->line, "mcp_servers", "expected [[%s.mcp_servers]] tables",
                 a->section);
        return 0;
    }
    if (!(a->mcp = calloc(servers->u.arr->count + 1, sizeof(*a->mcp))))
        return AB_ENOMEM;
    for (size_t i = 0; i < servers->u.arr->count; i++) {
        const struct toml_value *v = &servers->u.arr->items[i];
        if (v->type != TOML_TABLE) {
            diag_add(diag, true, v->line, "mcp_servers", "expected [[%s.mcp_servers]] tables",
                     a->section);
            continue;
        }
        if ((rc = config_read_mcp(cfg, a->section, v->u.tab, &a->mcp[a->nmcp++], diag)) < 0)
            return rc;
        for (size_t j = 0; j + 1 < a->nmcp; j++)
            if (a->mcp[j].name && a->mcp[a->nmcp - 1].name &&
                strcmp(a->mcp[j].name, a->mcp[a->nmcp - 1].name) == 0)
                diag_add(diag, true, v->u.tab->line, "mcp_servers.name",
                         "[[%s.mcp_servers]] \"%s\" is defined twice — give each server its "
                         "own name",
                         a->section, a->mcp[j].name);
    }
    return 0;
}

/* True when @name may name an agent: letters, digits, '-' and '_' (it names a state
 * file and a metrics label). */
static bool
config_agent_name_ok(const char *name)
{
    if (!*name || strlen(name) > 64)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_'))
            return false;
    return true;
}

/* [agent] (the agent "default") and [agents.NAME]: with named agents and no [agent],
 * the first named one is the default. */
static int
config_read_agents(struct config *cfg, const struct toml_table *root, struct diag *diag)
{
    const struct toml_value *single = toml_table_get(root, "agent");
    const struct toml_value *many = toml_table_get(root, "agents");
    char section[128];
    int rc;

    if (single && single->type != TOML_TABLE) {
        diag_add(diag, true, single->line, "agent", "expected a table [agent]");
        single = NULL;
    }
    if (many && many->type != TOML_TABLE) {
        diag_add(diag, true, many->line, "agents", "expected tables [agents.NAME]");
        many = NULL;
    }
    if (single) {
        cfg->agents[0].table = single->u.tab;
        cfg->agents[0].line = single->u.tab->line;
    } else if (many && many->u.tab->count > 0) {
        config_agent_free(&cfg->agents[0]); /* the first [agents.NAME] takes its place */
        cfg->nagents = 0;
    }
    for (size_t i = 0; many && i < many->u.tab->count; i++) {
        const struct toml_kv *kv = &many->u.tab->items[i];
        if (kv->val.type != TOML_TABLE) {
            diag_add(diag, true, kv->line, "agents", "agents.%s: expected a table [agents.%s]",
                     kv->key, kv->key);
            continue;
        }
        if (!config_agent_name_ok(kv->key)) {
            diag_add(diag, true, kv->line, "agents",
                     "[agents.%s]: an agent's name is letters, digits, - and _ (64 at most)",
                     kv->key);
            continue;
        }
        if (config_agent(cfg, kv->key)) {
            diag_add(diag, true, kv->line, "agents",
                     "[agents.%s]: \"%s\" is already an agent (%s) — rename one", kv->key, kv->key,
                     single && strcmp(kv->key, "default") == 0 ? "[agent]" : "above");
            continue;
        }
        snprintf(section, sizeof(section), "agents.%s", kv->key);
        if ((rc = config_agent_push(cfg, kv->key, section, kv->val.u.tab)) < 0)
            return rc;
    }
    if (cfg->nagents == 0 && (rc = config_agent_push(cfg, "default", "agent", NULL)) < 0)
        return rc;
    for (size_t i = 0; i < cfg->nagents; i++)
        if ((rc = config_read_agent(cfg, &cfg->agents[i], diag)) < 0)
            return rc;
    return 0;
}

/* A route's channel or role id: a string, or an integer as its decimal text. */
static int
config_route_id(const struct toml_value *v, const char *key, struct diag *diag, char **out)
{
    struct strlist one = {0};
    int rc = config_read_id(v, key, diag, &one);

    if (rc == 0 && one.count == 1) {
        *out = one.items[0];
        one.items[0] = NULL;
    }
    strlist_free(&one);
    return rc;
}

/* Check one cron job's schedule and zone; report them at the job's line. */
static void
config_check_cron_job(const struct config_cron_job *j, struct diag *diag)
{
    struct cron_expr e;
    struct tz *tz = NULL;
    char err[300];

    if (!j->schedule)
        diag_add(diag, true, j->line, "cron.jobs",
                 "a job needs schedule = \"MIN HOUR DOM MON DOW\"");
    else if (cron_parse(j->schedule, &e, err, sizeof(err)) < 0)
        diag_add(diag, true, j->line, "cron.jobs.schedule", "\"%s\": %s", j->schedule, err);
    if (!j->message || !j->message[0])
        diag_add(diag, true, j->line, "cron.jobs", "a job needs message = \"...\"");
    if (!j->channel && !j->thread_id)
        diag_add(diag, true, j->line, "cron.jobs", "a job needs channel = \"ID\" (or thread_id)");
    if (tz_load(NULL, j->timezone, &tz, err, sizeof(err)) < 0)
        diag_add(diag, true, j->line, "cron.jobs.timezone", "%s", err);
    tz_free(tz);
}

/* [cron] catch_up and [[cron.jobs]]: each job's schedule and time zone checked. */
static int
config_read_cron(struct config *cfg, const struct toml_table *root, struct diag *diag)
{
    const struct toml_value *cron = toml_table_get(root, "cron"), *jobs;
    int rc = 0;

    cfg->cron_catch_up = 1;
    if (!cron)
        return 0;
    if (cron->type != TOML_TABLE) {
        diag_add(diag, true, cron->line, "cron", "expected a [cron] table");
        return 0;
    }
    for (size_t k = 0; k < cron->u.tab->count; k++) {
        const struct toml_kv *kv = &cron->u.tab->items[k];
        if (strcmp(kv->key, "catch_up") == 0) {
            if (kv->val.type != TOML_INTEGER || kv->val.u.i < 0 || kv->val.u.i > 1)
                diag_add(diag, true, kv->line, "cron.catch_up",
                         "expected 0 (skip runs missed while down) or 1 (run one of them)");
            else
                cfg->cron_catch_up = kv->val.u.i;
        } else if (strcmp(kv->key, "jobs") != 0) {
            diag_add(diag, false, kv->line, "cron", "%s: unknown key, ignored", kv->key);
        }
    }
    if (!(jobs = toml_table_get(cron->u.tab, "jobs")))
        return 0;
    if (jobs->type != TOML_ARRAY) {
        diag_add(diag, true, jobs->line, "cron.jobs", "expected [[cron.jobs]] tables");
        return 0;
    }
    if (!(cfg->cron_jobs = calloc(jobs->u.arr->count + 1, sizeof(*cfg->cron_jobs))))
        return AB_ENOMEM;
    for (size_t i = 0; i < jobs->u.arr->count; i++) {
        const struct toml_value *v = &jobs->u.arr->items[i];
        struct config_cron_job *j = &cfg->cron_jobs[cfg->ncron_jobs];
        if (v->type != TOML_TABLE) {
            diag_add(diag, true, v->line, "cron.jobs", "expected [[cron.jobs]] tables");
            continue;
        }
        cfg->ncron_jobs++;
        j->line = v->u.tab->line;
        j->enabled = true;
        for (size_t k = 0; k < v->u.tab->count && rc == 0; k++) {
            const struct toml_kv *kv = &v->u.tab->items[k];
            char **str = strcmp(kv->key, "schedule") == 0      ? &j->schedule
                         : strcmp(kv->key, "message") == 0     ? &j->message
                         : strcmp(kv->key, "platform") == 0    ? &j->platform
                         : strcmp(kv->key, "sender_name") == 0 ? &j->sender_name
                         : strcmp(kv->key, "timezone") == 0    ? &j->timezone
                                                               : NULL;
            if (strcmp(kv->key, "channel") == 0)
                rc = config_route_id(&kv->val, "cron.jobs.channel", diag, &j->channel);
            else if (strcmp(kv->key, "thread_id") == 0)
                rc = config_route_id(&kv->val, "cron.jobs.thread_id", diag, &j->thread_id);
            else if (strcmp(kv->key, "enabled") == 0 && kv->val.type == TOML_BOOL)
                j->enabled = kv->val.u.b;
            else if (str && kv->val.type == TOML_STRING)
                rc = config_set_str(str, kv->val.u.str.ptr);
            else
                diag_add(diag, str || strcmp(kv->key, "enabled") == 0, kv->line, "cron.jobs",
                         str || strcmp(kv->key, "enabled") == 0 ? "%s: wrong type"
                                                                : "%s: unknown key, ignored",
                         kv->key);
        }
        if (rc < 0 || (!j->sender_name && (rc = config_set_str(&j->sender_name, "cron")) < 0) ||
            (!j->timezone && (rc = config_set_str(&j->timezone, "UTC")) < 0))
            return rc;
        if (j->enabled)
            config_check_cron_job(j, diag);
    }
    return 0;
}

/* Each enabled job posts where its platform's policy lets the bot speak: a job aimed
 * elsewhere is skipped at start, so say so here (warnings: the rest runs). */
static void
config_check_cron_places(const struct config *cfg, struct diag *diag)
{
    for (size_t i = 0; i < cfg->ncron_jobs; i++) {
        const struct config_cron_job *j = &cfg->cron_jobs[i];
        const char *where = j->channel ? j->channel : j->thread_id;
        size_t c = 0;

        if (!j->enabled || !where)
            continue;
        while (c < cfg->plugin_chat.count && j->platform &&
               strcmp(cfg->plugin_chat.items[c], j->platform) != 0)
            c++;
        if (c == cfg->plugin_chat.count) {
            if (j->platform)
                diag_add(diag, false, j->line, "cron.jobs.platform",
                         "\"%s\" is not an enabled chat plugin ([plugins] chat): the job is "
                         "skipped",
                         j->platform);
            else
                diag_add(diag, false, j->line, "cron.jobs",
                         "no chat plugin is enabled: the job is skipped");
            continue;
        }
        if (!cfg->chats[c].allow_all_channels &&
            !strlist_has(&cfg->chats[c].allowed_channels, where))
            diag_add(diag, false, j->line, j->channel ? "cron.jobs.channel" : "cron.jobs.thread_id",
                     "%s is not in [%s] allowed_channels: the job is skipped — add it there or "
                     "point the job at an allowed channel",
                     where, cfg->plugin_chat.items[c]);
    }
}

/* [[routes]]: channel or role -> agent, each agent name checked. */
static int
config_read_routes(struct config *cfg, const struct toml_table *root, struct diag *diag)
{
    const struct toml_value *routes = toml_table_get(root, "routes");
    int rc;

    if (!routes)
        return 0;
    if (routes->type != TOML_ARRAY) {
        diag_add(diag, true, routes->line, "routes",
                 "expected [[routes]] tables with channel or role, and agent");
        return 0;
    }
    if (!(cfg->routes = calloc(routes->u.arr->count + 1, sizeof(*cfg->routes))))
        return AB_ENOMEM;
    for (size_t i = 0; i < routes->u.arr->count; i++) {
        const struct toml_value *v = &routes->u.arr->items[i];
        struct config_route *r = &cfg->routes[cfg->nroutes];
        if (v->type != TOML_TABLE) {
            diag_add(diag, true, v->line, "routes", "expected [[routes]] tables");
            continue;
        }
        r->line = v->u.tab->line;
        for (size_t k = 0; k < v->u.tab->count; k++) {
            const struct toml_kv *kv = &v->u.tab->items[k];
            if (strcmp(kv->key, "channel") == 0)
                rc = config_route_id(&kv->val, "routes.channel", diag, &r->channel);
            else if (strcmp(kv->key, "role") == 0)
                rc = config_route_id(&kv->val, "routes.role", diag, &r->role);
            else if (strcmp(kv->key, "agent") == 0 && kv->val.type == TOML_STRING)
                rc = config_set_str(&r->agent, kv->val.u.str.ptr);
            else {
                diag_add(diag, kv->val.type != TOML_STRING || strcmp(kv->key, "agent") == 0,
                         kv->line, "routes",
                         strcmp(kv->key, "agent") == 0 ? "agent: expected a string"
                                                       : "%s: unknown key, ignored — a route has "
                                                         "channel or role, and agent",
                         kv->key);
                rc = 0;
            }
            if (rc < 0)
                return rc;
        }
        cfg->nroutes++;
        if (!r->agent)
            diag_add(diag, true, r->line, "routes", "a route needs agent = \"NAME\"");
        else if (!config_agent(cfg, r->agent)) {
            char names[256] = "";
            for (size_t a = 0; a < cfg->nagents; a++)
                snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
                         a ? ", " : "", cfg->agents[a].name);
            diag_add(diag, true, r->line, "routes.agent",
                     "unknown agent \"%s\" — define [agents.%s] or use one of: %s", r->agent,
                     r->agent, names);
        }
        if (!r->channel == !r->role)
            diag_add(diag, true, r->line, "routes",
                     "a route has either channel = \"ID\" or role = \"ID\" (not both, not "
                     "neither)");
    }
    return 0;
}

/* Warn about top-level keys and sections nobody reads. */
static void
config_check_top(struct config *cfg, const struct toml_table *root, config_find_chat_fn find,
                 void *arg, struct diag *diag)
{
    for (size_t i = 0; i < root->count; i++) {
        const struct toml_kv *kv = &root->items[i];
        bool known = strlist_has(&cfg->plugin_chat, kv->key);
        for (size_t s = 0; config_sections[s] && !known; s++)
            known = strcmp(config_sections[s], kv->key) == 0;
        for (size_t s = 0; config_unimplemented[s] && !known; s++) {
            if (strcmp(config_unimplemented[s], kv->key) == 0) {
                diag_add(diag, false, kv->line, kv->key,
                         "[%s] is not implemented by agent-broker yet; the section is ignored",
                         kv->key);
                known = true;
            }
        }
        if (!known && kv->val.type == TOML_TABLE && find(arg, kv->key)) {
            diag_add(diag, false, kv->line, kv->key,
                     "[%s] is present but not in [plugins] chat; it is ignored", kv->key);
            known = true;
        }
        if (!known && kv->val.type == TOML_TABLE) {
            cfg->unclaimed_sections++;
            diag_add(diag, false, kv->line, kv->key,
                     "unknown section, ignored — no installed chat plugin is named \"%s\" (see "
                     "`agent-broker plugins`): install chat-%s.so or check the spelling",
                     kv->key, kv->key);
        } else if (!known) {
            diag_add(diag, false, kv->line, kv->key,
                     "unknown key, ignored — check the spelling against the configuration "
                     "reference");
        }
    }
}

/* Cross-key rules. */
static void
config_check_rules(struct config *cfg, const struct toml_table *root, struct diag *diag)
{
    const struct toml_value *v;

    if (cfg->timing.stall_hard_ms < cfg->timing.stall_soft_ms) {
        v = toml_get_path(root, "reactions.timing.stall_hard_ms");
        diag_add(diag, true, v ? v->line : 0, "reactions.timing.stall_hard_ms",
                 "must not be shorter than stall_soft_ms (%lld)",
                 (long long)cfg->timing.stall_soft_ms);
    }
    for (size_t i = 0; i < cfg->nagents; i++) {
        const struct config_agent *a = &cfg->agents[i];
        char key[160];
        v = a->table ? toml_table_get(a->table, "command") : NULL;
        snprintf(key, sizeof(key), "%s.command", a->section);
        if (v && v->type == TOML_STRING && v->u.str.len == 0)
            diag_add(diag, true, v->line, key,
                     "is empty (after ${VAR} expansion) — set a command or remove the key");
        if (a->working_dir && a->working_dir[0] != '/' && a->working_dir[0] != '~') {
            v = toml_table_get(a->table, "working_dir");
            snprintf(key, sizeof(key), "%s.working_dir", a->section);
            diag_add(diag, true, v ? v->line : 0, key,
                     "must be an absolute path (ACP requires an absolute cwd)");
        }
        if (a->workspace_git && a->workspace_git[0] != '/' && a->workspace_git[0] != '~') {
            v = toml_table_get(a->table, "workspace_git");
            snprintf(key, sizeof(key), "%s.workspace_git", a->section);
            diag_add(diag, true, v ? v->line : 0, key,
                     "must be an absolute path to a git repository");
        }
        if ((a->workspace_git || a->workspace_max_mb) &&
            a->workspace != CONFIG_WS_PER_CONVERSATION) {
            v = toml_table_get(a->table, a->workspace_git ? "workspace_git" : "workspace_max_mb");
            snprintf(key, sizeof(key), "%s.%s", a->section,
                     a->workspace_git ? "workspace_git" : "workspace_max_mb");
            diag_add(diag, false, v ? v->line : 0, key,
                     "has no effect unless workspace = \"per-conversation\"");
        }
        for (size_t e = 0; e < a->env.count; e++) {
            const char *pair = a->env.items[e];
            const char *eq = strchr(pair, '=');
            if (eq && eq[1] && secret_env_name_is_secret(pair, (size_t)(eq - pair)) &&
                (size_t)(eq - pair) < 64)
                strlist_push(&cfg->secrets, eq + 1, strlen(eq + 1));
        }
    }
    if (cfg->health_listen && *cfg->health_listen && !strrchr(cfg->health_listen, ':')) {
        v = toml_get_path(root, "health.listen");
        diag_add(diag, true, v ? v->line : 0, "health.listen",
                 "expected HOST:PORT like \"127.0.0.1:9464\"");
    }
    if (cfg->ingress_listen && *cfg->ingress_listen && !strrchr(cfg->ingress_listen, ':')) {
        v = toml_get_path(root, "ingress.listen");
        diag_add(diag, true, v ? v->line : 0, "ingress.listen",
                 "expected HOST:PORT like \"0.0.0.0:3978\"");
    }
    if (cfg->stt_api_key && *cfg->stt_api_key) /* [stt] api_key is a secret */
        strlist_push(&cfg->secrets, cfg->stt_api_key, strlen(cfg->stt_api_key));
}

/* Parse, expand and read a whole document. */
int
config_load_string(const char *name, const char *text, size_t len, struct config *cfg,
                   struct diag *diag)
{
    struct toml_error err;
    int rc;

    if ((rc = config_defaults(cfg)) < 0)
        return rc;
    if (!(cfg->path = strdup(name)))
        return AB_ENOMEM;
    diag->file = cfg->path;
    if (toml_parse(text, len, &cfg->root, &err) < 0) {
        cfg->root = NULL;
        diag_add(diag, true, err.line, NULL, "%s (column %d) — fix the TOML syntax", err.msg,
                 err.col);
        return AB_ECONFIG;
    }
    if ((rc = expand_tree(cfg->root, diag)) < 0)
        return rc;
    if ((rc = config_read_fixed(cfg, cfg->root, diag)) < 0 ||
        (rc = config_read_agents(cfg, cfg->root, diag)) < 0 ||
        (rc = config_read_routes(cfg, cfg->root, diag)) < 0 ||
        (rc = config_read_cron(cfg, cfg->root, diag)) < 0)
        return rc;
    config_check_rules(cfg, cfg->root, diag);
    if ((rc = config_expand_home(&cfg->state_dir)) < 0)
        return rc;
    for (size_t i = 0; i < cfg->nagents; i++)
        if ((rc = config_expand_home(&cfg->agents[i].working_dir)) < 0 ||
            (rc = config_expand_home(&cfg->agents[i].workspace_git)) < 0)
            return rc;
    return diag->errors ? AB_ECONFIG : 0;
}

/* Second step: with the plugins known, enable and read the chat sections. */
int
config_bind_chats(struct config *cfg, config_find_chat_fn find, void *arg, struct diag *diag)
{
    int rc;

    if (!cfg->root || cfg->chats)
        return diag->errors ? AB_ECONFIG : 0;
    if ((rc = config_resolve_chats(cfg, cfg->root, find, arg, diag)) < 0)
        return rc;
    config_check_top(cfg, cfg->root, find, arg, diag);
    config_check_cron_places(cfg, diag);
    return diag->errors ? AB_ECONFIG : 0;
}

/* Read a file (bounded) and load it. */
int
config_load(const char *path, struct config *cfg, struct diag *diag)
{
    FILE *f = fopen(path, "rbe");
    char *buf = NULL;
    size_t len = 0;
    int rc;

    if (!f) {
        int err = errno;
        config_defaults(cfg);
        cfg->path = strdup(path);
        diag->file = cfg->path;
        diag_add(diag, true, 0, NULL, "cannot read the file: %s — check the path", strerror(err));
        return AB_ENOENT;
    }
    buf = malloc(CONFIG_MAX_FILE + 1);
    if (buf)
        len = fread(buf, 1, CONFIG_MAX_FILE + 1, f);
    fclose(f);
    if (!buf)
        return AB_ENOMEM;
    if (len > CONFIG_MAX_FILE) {
        free(buf);
        config_defaults(cfg);
        cfg->path = strdup(path);
        diag->file = cfg->path;
        diag_add(diag, true, 0, NULL, "the file is larger than 4 MiB — is it the right file?");
        return AB_ECONFIG;
    }
    rc = config_load_string(path, buf, len, cfg, diag);
    free(buf);
    return rc;
}

/* Free everything. */
void
config_free(struct config *cfg)
{
    char **strs[] = {&cfg->path,        &cfg->health_listen, &cfg->state_dir,
                     &cfg->log_level,   &cfg->log_format,    &cfg->ingress_listen,
                     &cfg->stt_api_key, &cfg->stt_model,     &cfg->stt_base_url};
    struct strlist *lists[] = {&cfg->plugin_path, &cfg->secrets, &cfg->redact_prefixes,
                               &cfg->perm_approvers, &cfg->attach_types};

    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        free(*strs[i]);
    for (size_t i = 0; i < sizeof(config_emoji_defaults) / sizeof(config_emoji_defaults[0]); i++)
        free(*config_emoji_field(cfg, i));
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
        strlist_free(lists[i]);
    for (size_t i = 0; cfg->chats && i < cfg->plugin_chat.count; i++) {
        struct config_chat *c = &cfg->chats[i];
        free(c->name);
        strlist_free(&c->allowed_channels);
        strlist_free(&c->allowed_users);
        strlist_free(&c->allowed_role_ids);
        strlist_free(&c->trusted_bot_ids);
    }
    free(cfg->chats);
    for (size_t i = 0; i < cfg->nagents; i++)
        config_agent_free(&cfg->agents[i]);
    free(cfg->agents);
    for (size_t i = 0; i < cfg->nroutes; i++) {
        free(cfg->routes[i].channel);
        free(cfg->routes[i].role);
        free(cfg->routes[i].agent);
    }
    free(cfg->routes);
    for (size_t i = 0; i < cfg->ncron_jobs; i++) {
        struct config_cron_job *j = &cfg->cron_jobs[i];
        free(j->schedule);
        free(j->channel);
        free(j->thread_id);
        free(j->message);
        free(j->platform);
        free(j->sender_name);
        free(j->timezone);
    }
    free(cfg->cron_jobs);
    strlist_free(&cfg->plugin_chat);
    toml_free(cfg->root);
    memset(cfg, 0, sizeof(*cfg));
}

/* Find a chat section by name. */
const struct config_chat *
config_chat(const struct config *cfg, const char *name)
{
    for (size_t i = 0; cfg->chats && i < cfg->plugin_chat.count; i++)
        if (strcmp(cfg->chats[i].name, name) == 0)
            return &cfg->chats[i];
    return NULL;
}

/* Find an agent by name. */
const struct config_agent *
config_agent(const struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nagents; i++)
        if (strcmp(cfg->agents[i].name, name) == 0)
            return &cfg->agents[i];
    return NULL;
}

/* The expanded table [@name]. */
const struct toml_table *
config_table(const struct config *cfg, const char *name)
{
    const struct toml_value *v = cfg->root ? toml_table_get(cfg->root, name) : NULL;

    return v && v->type == TOML_TABLE ? v->u.tab : NULL;
}
