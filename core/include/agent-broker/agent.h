/* agent-broker plugin ABI: what an agent preset plugin describes. */
#ifndef AGENT_BROKER_AGENT_H
#define AGENT_BROKER_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Capability bits in ab_agent_preset.flags. */
#define AB_AGENT_SHARED_PROCESS (1u << 0) /* one process may carry several sessions */
#define AB_AGENT_LOAD_MAY_HANG (1u << 1)  /* session/load of an unknown id hangs or exits */
/* Reserved (informational, not read by the host): the agent needs a login. The host
 * calls authenticate whenever auth_method is set and picks a method, bit or no bit. */
#define AB_AGENT_NEEDS_AUTH (1u << 2)

/* How a tool call is shown in status reactions: the answer of classify_tool. */
enum ab_tool_class {
    AB_TOOL_OTHER = 0,  /* 🔥 */
    AB_TOOL_CODING = 1, /* 👨‍💻 exec, read, write, edit, shell… */
    AB_TOOL_WEB = 2,    /* ⚡ search, fetch, browser */
};

/* A preset's defaults. All pointers are to static data owned by the plugin, valid
 * while it is loaded; string lists are NULL-terminated. */
struct ab_agent_preset {
    uint32_t size;
    const char *command;              /* default command (resolved on PATH) */
    const char *const *args;          /* default args */
    const char *const *env;           /* "NAME=value" added to the agent's environment */
    const char *const *inherit_env;   /* names copied from the broker's environment if set */
    const char *const *command_names; /* command base names that infer this preset */
    const char *home;                 /* home directory in the container image: the agent's
                                         HOME when the broker's environment has none */
    const char *auth_hint;            /* what a user runs to log in */
    uint32_t flags;                   /* AB_AGENT_* */
    const char *session_mode;         /* ABI 1.1: session/set_mode after session/new, or NULL */
};

/* The agent plugin's operations, all optional since ABI 1.3 (the table itself may be
 * NULL). The host copies the table once at load into a full-size zeroed one. */
struct ab_agent_ops {
    uint32_t size;
    /* ABI 1.0-1.2: return the preset's defaults (static data). A 1.3 plugin sets
     * ab_plugin_desc.preset instead and leaves this NULL; the host calls it only for a
     * plugin whose descriptor has no preset, and only after accepting the plugin. */
    const struct ab_agent_preset *(*preset)(void);
    /* Optional: pick the authenticate methodId among the agent's @ids (lent, @count
     * of them) given the agent's environment @env ("NAME=value", NULL-terminated,
     * lent). Return one of @ids, or NULL for no authenticate call. */
    const char *(*auth_method)(const char *const *ids, size_t count, const char *const *env);
    /* Optional: classify a tool call by its ACP kind and title (either may be NULL,
     * both lent) for the status reaction (🔥 / 👨‍💻 / ⚡); a value outside the enum
     * counts as AB_TOOL_OTHER. NULL = the core's classification by ACP kind and title words. */
    enum ab_tool_class (*classify_tool)(const char *kind, const char *title);
    /* new members only at the end */
};

#endif
