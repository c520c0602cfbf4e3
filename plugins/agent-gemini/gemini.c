/* agent-gemini: the Gemini CLI (gemini --acp) preset. */
#include <stdbool.h>
#include <string.h>

#include <agent-broker/plugin.h>

static const char *const gemini_args[] = {"--acp", NULL};
/* The working directory is the bot's workspace: trust it, or every "allow always"
 * answer fails with "Cannot enable privileged approval modes in an untrusted folder". */
static const char *const gemini_env[] = {"GEMINI_CLI_NO_RELAUNCH=true",
                                         "GEMINI_CLI_TRUST_WORKSPACE=true", NULL};
static const char *const gemini_inherit[] = {
    "GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL", "GOOGLE_CLOUD_PROJECT", NULL};
static const char *const gemini_names[] = {"gemini", NULL};

static const struct ab_agent_preset gemini_preset_data = {
    .size = sizeof(struct ab_agent_preset),
    .command = "gemini",
    .args = gemini_args,
    .env = gemini_env,
    .inherit_env = gemini_inherit,
    .command_names = gemini_names,
    .home = "/home/node",
    .auth_hint = "run gemini once to sign in with Google (OAuth), or set GEMINI_API_KEY",
    .flags = AB_AGENT_SHARED_PROCESS,
};

AB_PLUGIN_EXPORT const struct ab_plugin_desc ab_plugin = {
    .abi_major = AB_ABI_MAJOR,
    .abi_minor = AB_ABI_MINOR,
    .struct_size = sizeof(struct ab_plugin_desc),
    .kind = AB_PLUGIN_AGENT,
    .name = "gemini",
    .version = AB_VERSION_STRING,
    .description = "Gemini CLI (gemini --acp)",
    .preset = &gemini_preset_data,
};
