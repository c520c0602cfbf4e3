/* agent-broker plugin ABI: the descriptor every plugin exports. Include this header
 * (it includes the rest); build with `pkg-config --cflags agent-broker-plugin`. */
#ifndef AGENT_BROKER_PLUGIN_H
#define AGENT_BROKER_PLUGIN_H

#include <stdint.h>

#include <agent-broker/agent.h>
#include <agent-broker/chat.h>
#include <agent-broker/errors.h>
#include <agent-broker/host.h>
#include <agent-broker/version.h>

/* The ABI this header describes. Major must equal the host's; minor must be <= it. */
#define AB_ABI_MAJOR 1
#define AB_ABI_MINOR 1

/* The descriptor's symbol name as the host looks it up with dlsym(). */
#define AB_PLUGIN_SYMBOL "ab_plugin"

/* Mark the descriptor as the plugin's one exported symbol (build with
 * -fvisibility=hidden). */
#define AB_PLUGIN_EXPORT __attribute__((visibility("default")))

enum ab_plugin_kind {
    AB_PLUGIN_CHAT = 1,
    AB_PLUGIN_AGENT = 2,
};

/* The descriptor. The first three fields never change, so any host can read any
 * plugin's ABI before trusting the rest. All pointers are to static data owned by
 * the plugin. Declare it as:
 *   AB_PLUGIN_EXPORT const struct ab_plugin_desc ab_plugin = { ... };            */
struct ab_plugin_desc {
    uint32_t abi_major;   /* AB_ABI_MAJOR */
    uint32_t abi_minor;   /* AB_ABI_MINOR */
    uint32_t struct_size; /* sizeof(struct ab_plugin_desc) */
    uint32_t kind;        /* enum ab_plugin_kind */
    const char *name;     /* "discord" for chat-discord.so; [a-z0-9_-]+ */
    const char *version;  /* the plugin's own version */
    const char *description;
    uint64_t caps;                    /* AB_CHAT_* for chat plugins */
    const struct ab_chat_ops *chat;   /* kind == AB_PLUGIN_CHAT, else NULL */
    const struct ab_agent_ops *agent; /* kind == AB_PLUGIN_AGENT, else NULL */
};

#endif
