/* The configuration model: every section and key of CONFIG.md with its default,
 * read from TOML, `${VAR}`-expanded after parsing, validated with file:line
 * diagnostics. */
#ifndef AB_CONFIG_H
#define AB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <agent-broker/errors.h>
#include <agent-broker/plugin.h>

#include "config/diag.h"
#include "toml/toml.h"

/* A list of owned strings, NULL-terminated when not empty (items may be NULL). */
struct strlist {
    char **items; /* owned, each owned; items[count] == NULL */
    size_t count;
};

/* involved: follow-ups without mention where the bot is involved; mentions: always
 * mention; multibot-mentions: like involved until another bot posts in the thread. */
enum user_messages { USER_MESSAGES_INVOLVED, USER_MESSAGES_MENTIONS, USER_MESSAGES_MULTIBOT };
enum bot_messages { BOT_MESSAGES_OFF, BOT_MESSAGES_MENTIONS, BOT_MESSAGES_ALL };
enum perm_mode_cfg { PERM_MODE_AUTO, PERM_MODE_ASK, PERM_MODE_DENY };
enum tool_display { TOOL_DISPLAY_FULL, TOOL_DISPLAY_COMPACT, TOOL_DISPLAY_NONE };

/* One chat plugin's section [NAME]: the policy keys the core applies to every chat
 * plugin; the plugin's own keys are checked against its schema and read by it. */
struct config_chat {
    char *name; /* owned: "console" */
    int line;   /* line of the [name] header */
    struct strlist allowed_channels;
    bool allow_all_channels;
    struct strlist allowed_users;
    bool allow_all_users;
    struct strlist allowed_role_ids;
    enum user_messages allow_user_messages;
    enum bot_messages allow_bot_messages;
    struct strlist trusted_bot_ids;
    int64_t max_bot_turns;
    bool allow_dm;
};

/* [reactions.emojis]: every emoji the broker shows or reads, all owned. The status
 * reactions (queued … stall_hard), the user's cancel, the broker's refusal of a user
 * outside allowed_users (deny), and the answers to a permission question. */
struct config_emojis {
    char *queued, *thinking, *tool, *coding, *web, *done, *error, *stall_soft, *stall_hard;
    char *cancel, *deny, *allow_once, *allow_always, *reject;
};

struct config_timing {
    int64_t debounce_ms, stall_soft_ms, stall_hard_ms, done_hold_ms, error_hold_ms;
};

/* One MCP server handed to the agent in session/new and session/load. */
enum config_mcp_type { CONFIG_MCP_STDIO, CONFIG_MCP_HTTP, CONFIG_MCP_SSE };
struct config_mcp {
    char *name; /* owned */
    int line;   /* line of its [[...mcp_servers]] header */
    enum config_mcp_type type;
    char *command;          /* owned: stdio */
    struct strlist args;    /* stdio */
    struct strlist env;     /* stdio: "NAME=value", expanded; values are secrets */
    char *url;              /* owned: http, sse */
    struct strlist headers; /* http, sse: "Name: value", expanded; values are secrets */
};

/* [agent] workspace: every session in working_dir, or one directory per conversation. */
enum config_workspace { CONFIG_WS_SHARED, CONFIG_WS_PER_CONVERSATION };

/* One agent: [agent] (named "default") or [agents.NAME]. */
struct config_agent {
    char *name;    /* owned: "default", or NAME */
    char *section; /* owned: "agent" or "agents.NAME", the prefix of its keys in messages */
    int line;      /* line of its header, 0 when [agent] is absent */
    const struct toml_table *table; /* lent from the config's tree, or NULL */
    char *preset;                   /* owned; NULL = infer from command */
    char *command;                  /* owned; NULL = the preset's */
    struct strlist args;
    bool args_set;      /* args given in the file (replace the preset's) */
    char *working_dir;  /* owned; NULL = the preset's home or cwd */
    struct strlist env; /* "NAME=value", expanded */
    struct strlist inherit_env;
    struct strlist auto_upload_dirs; /* auto_upload_dirs (OpenAB): files written there in a
                                        turn are posted when it ends */
    int64_t max_sessions, session_ttl_hours, sessions_per_process; /* 0 = [pool]'s */
    struct config_mcp *mcp;                                        /* owned, nmcp of them */
    size_t nmcp;
    int workspace;            /* enum config_workspace: shared (0) or per-conversation */
    char *workspace_git;      /* owned: a git repository for per-conversation worktrees, or NULL */
    int64_t workspace_max_mb; /* per-conversation directory size cap; 0 = none */
};

/* One [[routes]] entry: messages in @channel (and its threads), or mentioning @role, go
 * to @agent. Exactly one of channel and role is set. */
struct config_route {
    char *channel; /* owned, or NULL */
    char *role;    /* owned, or NULL */
    char *agent;   /* owned: a configured agent's name */
    int line;
};

/* One [[cron.jobs]] entry (OpenAB's shape): post @message as a prompt from
 * @sender_name into @channel (a new thread) or @thread_id at each @schedule time. */
struct config_cron_job {
    int line;                  /* line of its [[cron.jobs]] header */
    char *schedule;            /* owned: 5-field cron expression, checked */
    char *channel, *thread_id; /* owned; thread_id may be NULL */
    char *message;             /* owned */
    char *platform;            /* owned: a chat plugin's name, or NULL = the first enabled */
    char *sender_name;         /* owned (default "cron") */
    char *timezone;            /* owned: an IANA zone (default "UTC"), checked */
    bool enabled;              /* default true */
};

struct config {
    char *path; /* owned: the file read, for messages */

    struct strlist plugin_path;
    struct strlist plugin_chat; /* chat plugins to load, resolved (default: sections present) */
    bool plugins_strict;

    struct config_chat *chats; /* owned, plugin_chat.count of them, same order */

    struct config_agent *agents; /* owned, nagents >= 1 of them: agents[0] is the default */
    size_t nagents;
    struct config_route *routes; /* owned, nroutes of them, in file order */
    size_t nroutes;
    struct config_cron_job *cron_jobs; /* owned, ncron_jobs of them, in file order */
    size_t ncron_jobs;
    int64_t cron_catch_up; /* [cron] catch_up: missed runs made up after downtime (0-1) */

    int64_t max_sessions, session_ttl_hours, sessions_per_process, drain_timeout_s;
    int64_t queue_max, queue_timeout_s, queue_notice_ms; /* the wait for a free session */
    int64_t watchdog_s;        /* no progress from a busy agent this long = cancel, then kill */
    int64_t idle_suspend_s;    /* a session idle this long is suspended (0 = never) */
    bool suspend_without_load; /* suspend even agents without session/load */

    enum perm_mode_cfg perm_mode;
    int64_t perm_timeout_s;
    struct strlist perm_approvers; /* [permissions] approvers: who may answer; empty = the
                                      allowed users */

    bool reactions_enabled, remove_after_reply;
    enum tool_display tool_display;
    struct config_emojis emojis;
    struct config_timing timing;

    int64_t edit_interval_ms;
    int64_t max_parts;   /* [stream] max_parts: reply messages before the rest is cut */
    bool usage_footer;   /* [stream] usage_footer: tokens/cost under each final reply */
    bool attach_enabled; /* [attachments] enabled */
    bool attach_outbox;  /* [attachments] outbox */
    bool stt_enabled;    /* [stt] enabled: voice and audio transcribed */
    char *stt_api_key;   /* owned; [stt] api_key (a secret) */
    char *stt_model;     /* owned; [stt] model */
    char *stt_base_url;  /* owned; [stt] base_url (OpenAI-compatible, /audio/transcriptions) */
    bool stt_echo;       /* [stt] echo_transcript: post the transcript in the thread */
    int64_t attach_max_file_mb;  /* [attachments] max_file_mb: one file at most */
    int64_t attach_max_total_mb; /* [attachments] max_total_mb: all files of a message */
    int64_t attach_max_files;    /* [attachments] max_files: files per message */
    struct strlist attach_types; /* [attachments] allowed_types; empty = the defaults */
    char *health_listen;         /* owned */
    char *ingress_listen;        /* owned: [ingress] listen, NULL = no inbound HTTP */
    char *state_dir;             /* owned, ~ expanded */
    char *log_level;             /* owned */
    char *log_format;            /* owned */

    struct strlist secrets;         /* every secret value found (tokens): redact them */
    struct strlist redact_prefixes; /* token shapes the chat plugins declare: redact them */
    size_t unclaimed_sections;      /* sections neither the core's nor an installed chat
                                       plugin's (after config_bind_chats) */
    struct toml_table *root;        /* owned: the expanded tree, for plugins' own keys */
};

/* Append a copy of @s (@len bytes) to @l. Returns 0 or AB_ENOMEM. */
int strlist_push(struct strlist *l, const char *s, size_t len);

/* The installed chat plugin named @name (its loader copy, lent), or NULL. */
typedef const struct ab_plugin_desc *(*config_find_chat_fn)(void *arg, const char *name);

/* Fill @cfg with every default (no file). */
int config_defaults(struct config *cfg);

/* Read and validate @path. Problems go to @diag (errors and warnings, with line
 * numbers); returns 0 when there is no error, AB_ECONFIG when there is at least
 * one, AB_ENOENT when the file cannot be read. @cfg is usable (defaults where
 * broken) either way and must be freed with config_free. */
int config_load(const char *path, struct config *cfg, struct diag *diag);

/* Same from memory (tests); @name is used in messages. */
int config_load_string(const char *name, const char *text, size_t len, struct config *cfg,
                       struct diag *diag);

/* The second step of loading, once the plugins are scanned (their search path comes
 * from the first): decide which chat plugins run — [plugins] chat, else every
 * section named like an installed chat plugin (@find) — read their policy keys,
 * check their own keys against each plugin's schema (secrets and token shapes go to
 * secrets / redact_prefixes) and warn about sections nobody reads. Until it runs,
 * plugin_chat holds only what [plugins] chat listed and chats is NULL. Returns 0, or
 * AB_ECONFIG when @diag holds an error (from either step). */
int config_bind_chats(struct config *cfg, config_find_chat_fn find, void *arg, struct diag *diag);

/* Free everything @cfg owns. */
void config_free(struct config *cfg);

/* The chat section named @name, or NULL. Lent. */
const struct config_chat *config_chat(const struct config *cfg, const char *name);

/* The agent named @name, or NULL. Lent. */
const struct config_agent *config_agent(const struct config *cfg, const char *name);

/* The raw expanded table [@name], or NULL. Lent. */
const struct toml_table *config_table(const struct config *cfg, const char *name);

#endif
