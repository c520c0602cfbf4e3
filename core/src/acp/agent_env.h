/* The environment of an agent process, built from nothing: HOME, PATH, USER, LANG, TZ
 * when set (HOME: else the preset's home), the names in inherit_env, the preset's env, then [agent]
 * env. Nothing else of the broker's environment (its tokens above all) ever reaches the agent. */
#ifndef AB_ACP_AGENT_ENV_H
#define AB_ACP_AGENT_ENV_H

#include "acp/agent_launch.h"

/* Build the envp for @launch into *@out: owned, NULL-terminated "K=V" strings, free
 * with agent_env_free(). A later source overrides an earlier one with the same name.
 * Returns 0, AB_EINVAL for a preset/config entry that is not "K=V", or AB_ENOMEM. */
int agent_env_build(const struct agent_launch *launch, char ***out);

/* The value of @name in @env (lent), or NULL. */
const char *agent_env_get(const char *const *env, const char *name);

/* Free an envp from agent_env_build(); NULL is fine. */
void agent_env_free(char **env);

#endif
