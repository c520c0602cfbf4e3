/* agent-broker plugin ABI: what an agent preset plugin describes. */
#ifndef AGENT_BROKER_AGENT_H
#define AGENT_BROKER_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Capability bits in ab_agent_preset.flags. */
#define AB_AGENT_SHARED_PROCESS (1u << 0) /* one process may carry several sessions */
#define AB_AGENT_LOAD_MAY_HANG (1u << 1)  /* session/load of an unknown id hangs or exits */
#define AB_AGENT_NEEDS_AUTH (1u << 2)     /* call authenticate when auth_method() picks one */

/* How a tool call is shown in status reactions. */
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
    const char *home;                 /* home directory in the container image */
    const char *auth_hint;            /* what a user runs to log in */
    uint32_t flags;                   /* AB_AGENT_* */
    const char *session_mode;         /* ABI 1.1: session/set_mode after session/new, or NULL */
};

/* The agent plugin's operations. The host reads no member past `size`.
 * Mandatory: preset. */
struct ab_agent_ops {
    uint32_t size;
    /* Return the preset's defaults (static data). */
    const struct ab_agent_preset *(*preset)(void);
    /* Optional: pick the authenticate methodId among the agent's @ids (lent, @count
     * of them) given the agent's environment @env ("NAME=value", NULL-terminated,
     * lent). Return one of @ids, or NULL for no authenticate call. */
    const char *(*auth_method)(const char *const *ids, size_t count, const char *const *env);
    /* Optional: classify a tool call by its ACP kind and title (either may be NULL);
     * NULL = the core's classification by ACP kind and title words. */
    enum ab_tool_class (*classify_tool)(const char *kind, const char *title);
    /* new members only at the end */
};

#endif
