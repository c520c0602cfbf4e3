/* agent-kiro: the Kiro CLI (kiro-cli acp) preset. */
#include <stdbool.h>
#include <string.h>

#include <agent-broker/plugin.h>

static const char *const kiro_args[] = {"acp", "--trust-all-tools", NULL};
static const char *const kiro_env[] = {NULL};
static const char *const kiro_inherit[] = {"KIRO_API_KEY", NULL};
static const char *const kiro_names[] = {"kiro-cli", "kiro-cli-chat", "kiro", NULL};

static const struct ab_agent_preset kiro_preset_data = {
    .size = sizeof(struct ab_agent_preset),
    .command = "kiro-cli",
    .args = kiro_args,
    .env = kiro_env,
    .inherit_env = kiro_inherit,
    .command_names = kiro_names,
    .home = "/home/agent",
    .auth_hint = "kiro-cli login --use-device-flow",
    .flags = AB_AGENT_LOAD_MAY_HANG,
};

AB_PLUGIN_EXPORT const struct ab_plugin_desc ab_plugin = {
    .abi_major = AB_ABI_MAJOR,
    .abi_minor = AB_ABI_MINOR,
    .struct_size = sizeof(struct ab_plugin_desc),
    .kind = AB_PLUGIN_AGENT,
    .name = "kiro",
    .version = AB_VERSION_STRING,
    .description = "Kiro CLI (kiro-cli acp)",
    .preset = &kiro_preset_data,
};
