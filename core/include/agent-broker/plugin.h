/* agent-broker plugin ABI: the descriptor every plugin exports. Include this header
 * (it includes the rest); build with `pkg-config --cflags agent-broker-plugin`.
 *
 * The descriptor is the whole contract, and plain data: the host validates it before
 * any plugin function runs. A chat plugin declares its config keys (config_keys: the
 * core validates [NAME] with file:line diagnostics, applies the defaults, redacts the
 * secrets, enables the plugin when [NAME] is present, and prints the schema with
 * `agent-broker plugins --keys`), the token shapes to redact (redact_prefixes) and its
 * facts (caps, chat.h); an agent plugin declares its preset (preset, agent.h). The core
 * never decides anything by a plugin's name. */
#ifndef AGENT_BROKER_PLUGIN_H
#define AGENT_BROKER_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include <agent-broker/agent.h>
#include <agent-broker/chat.h>
#include <agent-broker/convert.h>
#include <agent-broker/errors.h>
#include <agent-broker/host.h>
#include <agent-broker/markdown.h>
#include <agent-broker/version.h>

/* The ABI this header describes. Major must equal the host's; minor must be <= it.
 *
 * How the ABI evolves (the rules every header here follows):
 *  - Append only. A struct gains members only at its end, after a "---- ABI 1.N ----"
 *    line; no member is ever removed, reordered, renamed or retyped, and no enum value
 *    or flag bit changes meaning. Such an addition bumps AB_ABI_MINOR.
 *  - Sizes. Every struct that crosses the boundary starts with its size as its builder
 *    compiled it (`size`, or `struct_size` in the descriptor; arrays of structs carry
 *    their element size, e.g. config_key_size). A reader never reads past that size:
 *    the host copies each plugin struct, once, where it crosses the boundary, into a
 *    zeroed struct of its own full size, so a member the plugin did not know reads as
 *    0 / NULL; a plugin reads a member of a host table only when AB_HAS() holds.
 *  - Anything else — removing or reordering a member, changing a type, a meaning or a
 *    calling convention, making an optional member mandatory — bumps AB_ABI_MAJOR, and
 *    the host refuses plugins of another major.
 *  - Plugins built against every earlier 1.x header set load and work on this host
 *    (tests/abi/compat holds those header sets and proves it). */
#define AB_ABI_MAJOR 1
#define AB_ABI_MINOR 3

/* True when the table @ptr (of @type, starting with a uint32_t `size` as the other side
 * built it) reaches @member: read an optional or newer member only when this holds.
 * The host checks every table's size once, where it crosses the boundary. */
#define AB_HAS(ptr, type, member)                                                                  \
    ((ptr) != NULL && (ptr)->size >= offsetof(type, member) + sizeof(((type *)0)->member))

/* The descriptor's symbol name as the host looks it up with dlsym(). */
#define AB_PLUGIN_SYMBOL "ab_plugin"

/* Mark the descriptor as the plugin's one exported symbol (build with
 * -fvisibility=hidden). */
#define AB_PLUGIN_EXPORT __attribute__((visibility("default")))

enum ab_plugin_kind {
    AB_PLUGIN_CHAT = 1,
    AB_PLUGIN_AGENT = 2,
};

/* ---- ABI 1.3: the config schema ---- */

/* The type of a config key; the core checks the TOML value against it. */
enum ab_key_type {
    AB_KEY_STRING = 1,  /* a string */
    AB_KEY_INT = 2,     /* an integer; within [min, max] when min < max */
    AB_KEY_BOOL = 3,    /* true or false */
    AB_KEY_STRINGS = 4, /* an array of strings */
    AB_KEY_IDS = 5,     /* an array of platform ids: strings (integers become their text) */
    AB_KEY_ENUM = 6,    /* a string among `values` */
};

/* Flags of a config key. */
#define AB_KEY_REQUIRED (1u << 0) /* must be present and, for strings, non-empty */
#define AB_KEY_SECRET                                                                              \
    (1u << 1) /* a credential: redacted from logs and chat, kept from the                          \
                 agent, never printed; placeholders are refused */
#define AB_KEY_ENDPOINT                                                                            \
    (1u << 2) /* an http(s):// or ws(s):// URL: plain http/ws only to a                            \
                 loopback host unless the section sets insecure = true */

/* One key of a plugin's config section ([NAME] for chat-NAME). Static data owned by
 * the plugin. The core validates the section against these in `check` and `run`
 * (FILE:LINE: [NAME] key: what — what to do), warns about keys that are neither the
 * plugin's nor the core's shared policy keys, registers secrets for redaction, and
 * answers config_string/int/bool/strings with `def` when the key is absent. */
struct ab_config_key {
    const char *name;          /* "bot_token"; [a-z0-9_]+; NULL ends the array */
    uint32_t type;             /* enum ab_key_type */
    uint32_t flags;            /* AB_KEY_* */
    const char *def;           /* the default as TOML would write it ("30000", "true",
                                  "https://…"), or NULL for none */
    int64_t min, max;          /* AB_KEY_INT: the accepted range when min < max */
    const char *const *values; /* AB_KEY_ENUM: the accepted words, NULL-terminated */
    const char *prefix;        /* AB_KEY_STRING: the value should start with this (a warning
                                  when not); with AB_KEY_SECRET also redacted wherever a
                                  token-shaped run with this prefix appears */
    const char *env;           /* the environment variable the README suggests
                                  ("SLACK_BOT_TOKEN" for ${SLACK_BOT_TOKEN}), or NULL */
    const char *help;          /* one line for `plugins --keys` and the README */
};

/* The descriptor. The first three fields never change, so any host can read any
 * plugin's ABI before trusting the rest. All pointers are to static data owned by
 * the plugin. No plugin function runs before the host has accepted the descriptor:
 * everything the host checks is plain data. Declare it as:
 *   AB_PLUGIN_EXPORT const struct ab_plugin_desc ab_plugin = { ... };            */
struct ab_plugin_desc {
    uint32_t abi_major;   /* AB_ABI_MAJOR */
    uint32_t abi_minor;   /* AB_ABI_MINOR */
    uint32_t struct_size; /* sizeof(struct ab_plugin_desc) */
    uint32_t kind;        /* enum ab_plugin_kind */
    const char *name;     /* "console" for chat-console.so; [a-z0-9_-]+ */
    const char *version;  /* the plugin's own version */
    const char *description;
    uint64_t caps;                    /* AB_CHAT_* facts for chat plugins (chat.h) */
    const struct ab_chat_ops *chat;   /* kind == AB_PLUGIN_CHAT, else NULL */
    const struct ab_agent_ops *agent; /* kind == AB_PLUGIN_AGENT, else NULL */

    /* ---- ABI 1.3 ---- */

    /* The plugin's config keys, an array ended by a key whose name is NULL, each
     * config_key_size bytes apart (sizeof(struct ab_config_key)). The core's shared
     * policy keys are valid in every chat section besides these. NULL = no schema (as
     * before 1.3): the section's other keys are not checked; a plugin without keys of
     * its own declares an array holding only the end marker, so typos warn. */
    const struct ab_config_key *config_keys;
    uint32_t config_key_size;
    /* Token shapes redacted wherever they appear, even when never configured (a token
     * pasted into a prompt, echoed in an error): a run of [A-Za-z0-9-] of more than 8
     * bytes that starts with one of these prefixes (NULL-terminated), or NULL. */
    const char *const *redact_prefixes;
    /* Agent plugins: the preset's defaults as plain data (replaces ab_agent_ops.preset,
     * which 1.0-1.2 plugins still use and the host calls only after accepting them). */
    const struct ab_agent_preset *preset;
    /* new members only at the end */
};

#endif
