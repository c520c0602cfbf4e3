/* agent-NAME: an agent preset plugin for the compatibility test, built against the 1.0,
 * 1.1, 1.2 and current header sets. Its preset runs the scripted ACP agent
 * (-DSCRIPTED_AGENT="/path/scripted-agent.js"). Before ABI 1.3 the preset comes from
 * ops->preset(); from 1.3 it is plain data in the descriptor. */
#include <stddef.h>

#include <agent-broker/plugin.h>

static const char *const preset_args[] = {SCRIPTED_AGENT, NULL};
static const char *const preset_none[] = {NULL};

static const struct ab_agent_preset preset_data = {
    .size = sizeof(struct ab_agent_preset),
    .command = "node",
    .args = preset_args,
    .env = preset_none,
    .inherit_env = preset_none,
    .command_names = preset_none,
    .auth_hint = "nothing to log in to",
};

#if AB_ABI_MINOR < 3
/* The preset's defaults (ABI 1.0-1.2). */
static const struct ab_agent_preset *
preset_get(void)
{
    return &preset_data;
}

static const struct ab_agent_ops preset_ops = {
    .size = sizeof(struct ab_agent_ops),
    .preset = preset_get,
};
#endif

AB_PLUGIN_EXPORT const struct ab_plugin_desc ab_plugin = {
    .abi_major = AB_ABI_MAJOR,
    .abi_minor = AB_ABI_MINOR,
    .struct_size = sizeof(struct ab_plugin_desc),
    .kind = AB_PLUGIN_AGENT,
    .name = PRESET_NAME,
    .version = "0.1.0",
    .description = "scripted agent (compatibility test)",
#if AB_ABI_MINOR < 3
    .agent = &preset_ops,
#else
    .preset = &preset_data,
#endif
};
