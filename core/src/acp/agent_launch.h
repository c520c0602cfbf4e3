/* How to start one agent process: a plain struct the engine fills from the config and
 * the agent preset. Every pointer is lent; the ACP layer copies nothing it does not
 * need after agent_proc_start() returns, except what the pool keeps (see pool.h). */
#ifndef AB_ACP_AGENT_LAUNCH_H
#define AB_ACP_AGENT_LAUNCH_H

#include <stdbool.h>
#include <stddef.h>

/* One MCP server handed to the agent in session/new and session/load (every pointer
 * lent, like the launch's). */
enum agent_mcp_type { AGENT_MCP_STDIO, AGENT_MCP_HTTP, AGENT_MCP_SSE };
struct agent_mcp_server {
    const char *name;
    enum agent_mcp_type type;
    const char *command;        /* stdio */
    const char *const *args;    /* stdio: NULL-terminated, or NULL */
    const char *const *env;     /* stdio: "NAME=value", NULL-terminated, or NULL (secrets) */
    const char *url;            /* http, sse */
    const char *const *headers; /* http, sse: "Name=value", NULL-terminated, or NULL
                                   (secrets) */
};

struct agent_launch {
    const char *command;            /* resolved path, or a name looked up on PATH */
    const char *const *args;        /* NULL-terminated, without argv[0]; NULL = none */
    const char *const *preset_env;  /* "K=V", NULL-terminated: the preset's own */
    const char *const *inherit_env; /* names copied from the broker's environment */
    const char *const *config_env;  /* "K=V" from [agent] env, ${VAR} already expanded */
    const char *cwd;                /* working directory: absolute; also session/new's cwd */
    bool shared_process;            /* the agent may carry several sessions per process */
    bool load_may_hang;             /* session/load on an unknown id may hang: after a
                                       load timeout restart the process (Kiro 1.x) */
    /* Pick the authenticate methodId among the agent's usable @ids (lent), given the
     * agent's environment @env ("K=V", lent); NULL = do not authenticate. May be NULL. */
    const char *(*auth_method)(const char *const *ids, size_t n, const char *const *env);
    const char *auth_hint;    /* shown when start or auth fails, e.g.
                                 "run kiro-cli login --use-device-flow"; may be NULL */
    const char *session_mode; /* session/set_mode after session/new; NULL = none */
    const char *home;         /* HOME for the agent when the broker has none (the preset's
                                 home in its container image); NULL = none */
    const char *name;         /* the agent's name in the config ("default"), for log lines;
                                 NULL = "agent" */
    /* MCP servers for every session: passed as the agent's mcpCapabilities allow (stdio
     * always; http and sse when advertised), the others reported when it starts. */
    const struct agent_mcp_server *mcp_servers;
    size_t nmcp;
};

#endif
