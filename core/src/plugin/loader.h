/* Finding, loading and validating plugins: the descriptor is checked before any
 * plugin function is called, and every refusal says what to do. */
#ifndef AB_PLUGIN_LOADER_H
#define AB_PLUGIN_LOADER_H

#include <stdbool.h>
#include <stddef.h>

#include <agent-broker/plugin.h>

struct plugin_copy;

/* One plugin file found on the search path. Once accepted, its descriptor, ops table,
 * preset and config keys are copied into full-size zeroed host structs: a member the
 * plugin's ABI did not have reads as 0 / NULL, and no size is checked past here. Every
 * string those tables point at is copied too. */
struct plugin {
    char *path;                        /* owned: the file */
    void *handle;                      /* owned: dlopen handle, NULL when refused or unloaded */
    const struct ab_plugin_desc *desc; /* owned host copy (in @copy); NULL when refused */
    struct plugin_copy *copy;          /* owned: the host copies desc points into */
    int status;                        /* 0 loaded, or the ab_err of the refusal */
    char *reason;                      /* owned: why it was refused (user-facing), or NULL */
    char abi[32];                      /* "1.0", or "?" when unreadable */
};

/* Every plugin found, in search order. */
struct plugin_set {
    struct plugin *items; /* owned */
    size_t count;
    size_t cap;
};

/* The directories to search, in order: @config_paths (lent, may be NULL), then
 * AGENT_BROKER_PLUGIN_PATH, then the installed dir, then the build tree's plugin
 * dir when the running binary is the build tree's. *out is a NULL-terminated
 * array of owned strings; free with plugin_dirs_free. */
int plugin_dirs(const char *const *config_paths, size_t n, char ***out);
void plugin_dirs_free(char **dirs);

/* Load every chat-*.so and agent-*.so in @dirs into @set (which must be zeroed).
 * Refusals are recorded, not fatal; returns 0 or AB_ENOMEM. */
int plugin_set_scan(struct plugin_set *set, char *const *dirs);

/* Load one file into @set (used by the scan and by tests). Returns the plugin's
 * status: 0 or the refusal code. */
int plugin_set_load(struct plugin_set *set, const char *path);

/* The loaded (not refused) plugin of @kind named @name, or NULL. Lent. */
const struct plugin *plugin_set_find(const struct plugin_set *set, enum ab_plugin_kind kind,
                                     const char *name);

/* config_find_chat_fn over a plugin set (@set is a const struct plugin_set *): the
 * loaded chat plugin named @name's descriptor copy, or NULL. */
const struct ab_plugin_desc *plugin_set_find_chat(void *set, const char *name);

/* Unload every loaded plugin for which @keep returns false (the daemon, once started:
 * plugins it does not use stop taking memory). Their descriptors stay readable — all
 * strings are host copies — with every operation NULL. Returns how many were unloaded. */
size_t plugin_set_unload_unused(struct plugin_set *set,
                                bool (*keep)(const struct plugin *p, void *arg), void *arg);

/* Number of refused plugins. */
size_t plugin_set_refused(const struct plugin_set *set);

/* dlclose every plugin and free the set. */
void plugin_set_free(struct plugin_set *set);

/* "chat" / "agent" / "?" */
const char *plugin_kind_name(uint32_t kind);

#endif
