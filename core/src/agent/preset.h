/* Choosing the agent: the preset named in [agent] or inferred from the command,
 * merged with the config's command, args, env and working dir. */
#ifndef AB_AGENT_PRESET_H
#define AB_AGENT_PRESET_H

#include <stdbool.h>

#include <agent-broker/plugin.h>

#include "config/config.h"
#include "plugin/loader.h"

/* The agent to run, fully resolved. */
struct agent_choice {
    char *preset_name;                    /* owned: "kiro", or "acp" for a generic agent */
    const struct ab_agent_ops *ops;       /* lent: the loader's full-size copy; NULL for acp */
    const struct ab_agent_preset *preset; /* lent: the loader's full-size copy; NULL for acp */
    char *command;                        /* owned: as configured or the preset's */
    char *resolved;                       /* owned: absolute path found on PATH, or NULL */
    struct strlist args;                  /* owned */
    struct strlist preset_env;            /* owned: the preset's "NAME=value" */
    struct strlist inherit_env;           /* owned: preset's names then the config's */
    struct strlist config_env;            /* owned: [agent] env, expanded */
    char *cwd;                            /* owned: absolute working directory */
    const char *auth_hint;                /* lent from the plugin, or NULL */
    uint32_t flags;                       /* AB_AGENT_* */
};

/* Resolve agent @a (lent, one of @cfg's agents) with the loaded @plugins; a non-NULL
 * @preset_override replaces its preset. Problems go to @diag with the config's line
 * numbers; returns 0 or AB_ECONFIG. @choice must be freed with agent_choice_free in
 * both cases. */
int agent_choice_resolve(const struct config *cfg, const struct config_agent *a,
                         const struct plugin_set *plugins, const char *preset_override,
                         struct agent_choice *choice, struct diag *diag);

/* Find @cmd on PATH (or check it when it contains a '/'); *out is malloc'd. */
int agent_which(const char *cmd, char **out);

/* Free everything the choice owns. */
void agent_choice_free(struct agent_choice *choice);

#endif
