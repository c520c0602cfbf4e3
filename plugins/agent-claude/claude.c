/* agent-claude: the Claude Code (claude-agent-acp) preset. */
#include <stdbool.h>
#include <string.h>

#include <agent-broker/plugin.h>

static const char *const claude_args[] = {NULL};
/* No telemetry or update checks from a server daemon. */
static const char *const claude_env[] = {"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", NULL};
static const char *const claude_inherit[] = {"ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN",
                                             "ANTHROPIC_BASE_URL", "CLAUDE_CODE_EXECUTABLE", NULL};
static const char *const claude_names[] = {"claude-agent-acp", NULL};

static const struct ab_agent_preset claude_preset_data = {
    .size = sizeof(struct ab_agent_preset),
    .command = "claude-agent-acp",
    .args = claude_args,
    .env = claude_env,
    .inherit_env = claude_inherit,
    .command_names = claude_names,
    .home = "/home/node",
    .auth_hint = "claude setup-token, then set CLAUDE_CODE_OAUTH_TOKEN",
    .flags = AB_AGENT_SHARED_PROCESS,
    /* claude-agent-acp starts in its own "auto" mode, where a classifier approves tools
     * and the client is never asked: "default" routes permission requests to us. */
    .session_mode = "default",
};

AB_PLUGIN_EXPORT const struct ab_plugin_desc ab_plugin = {
    .abi_major = AB_ABI_MAJOR,
    .abi_minor = AB_ABI_MINOR,
    .struct_size = sizeof(struct ab_plugin_desc),
    .kind = AB_PLUGIN_AGENT,
    .name = "claude",
    .version = AB_VERSION_STRING,
    .description = "Claude Code (claude-agent-acp)",
    .preset = &claude_preset_data,
};
