/* agent-codex: the Codex (codex-acp) preset. */
#include <stdbool.h>
#include <string.h>

#include <agent-broker/plugin.h>

static const char *const codex_args[] = {NULL};
static const char *const codex_env[] = {NULL};
static const char *const codex_inherit[] = {"OPENAI_API_KEY", "CODEX_API_KEY", "CODEX_HOME", NULL};
static const char *const codex_names[] = {"codex-acp", NULL};

static const struct ab_agent_preset codex_preset_data = {
    .size = sizeof(struct ab_agent_preset),
    .command = "codex-acp",
    .args = codex_args,
    .env = codex_env,
    .inherit_env = codex_inherit,
    .command_names = codex_names,
    .home = "/home/node",
    .auth_hint = "codex login --device-auth",
    .flags = AB_AGENT_SHARED_PROCESS | AB_AGENT_NEEDS_AUTH,
};

/* codex-acp gates on an API key only when told to use it: authenticate with the
 * API-key method when OPENAI_API_KEY (or CODEX_API_KEY) reached the agent. */
static const char *
codex_auth_method(const char *const *ids, size_t count, const char *const *env)
{
    bool has_key = false;

    for (size_t i = 0; env && env[i]; i++)
        if (strncmp(env[i], "OPENAI_API_KEY=", 15) == 0 ||
            strncmp(env[i], "CODEX_API_KEY=", 14) == 0)
            has_key = env[i][strcspn(env[i], "=") + 1] != '\0';
    if (!has_key)
        return NULL;
    for (size_t i = 0; i < count; i++)
        if (strcmp(ids[i], "openai-api-key") == 0 || strcmp(ids[i], "api-key") == 0)
            return ids[i];
    return NULL;
}

static const struct ab_agent_ops codex_ops = {
    .size = sizeof(struct ab_agent_ops),
    .auth_method = codex_auth_method,
};

AB_PLUGIN_EXPORT const struct ab_plugin_desc ab_plugin = {
    .abi_major = AB_ABI_MAJOR,
    .abi_minor = AB_ABI_MINOR,
    .struct_size = sizeof(struct ab_plugin_desc),
    .kind = AB_PLUGIN_AGENT,
    .name = "codex",
    .version = AB_VERSION_STRING,
    .description = "Codex (codex-acp)",
    .agent = &codex_ops,
    .preset = &codex_preset_data,
};
