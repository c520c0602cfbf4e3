/* Plugin discovery, loading and validation. */
#include "plugin/loader.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef AB_PLUGIN_DIR
#define AB_PLUGIN_DIR "/usr/local/lib/agent-broker/plugins"
#endif
#ifndef AB_BUILD_PLUGIN_DIR
#define AB_BUILD_PLUGIN_DIR ""
#endif

/* Smallest descriptor the host accepts: everything up to and including the ops pointers. */
#define PLUGIN_DESC_MIN_SIZE (offsetof(struct ab_plugin_desc, agent) + sizeof(void *))

/* The host's copies of one accepted plugin's tables. */
struct plugin_copy {
    struct ab_plugin_desc desc;
    struct ab_chat_ops chat;
    struct ab_agent_ops agent;
    struct ab_agent_preset preset;
    struct ab_config_key *keys; /* owned array, NULL-name terminated */
    bool call_preset;           /* a pre-1.3 agent plugin: preset() once accepted */
    void **owned;               /* owned: the copied strings and string arrays */
    size_t nowned, capowned;
};

/* Free a plugin's host copies and everything they own (NULL is fine). */
static void
plugin_copy_free(struct plugin_copy *copy)
{
    if (!copy)
        return;
    for (size_t i = 0; i < copy->nowned; i++)
        free(copy->owned[i]);
    free(copy->owned);
    free(copy->keys);
    free(copy);
}

/* Remember @ptr (owned) in @copy; on failure @ptr is freed. Returns @ptr or NULL. */
static void *
plugin_copy_own(struct plugin_copy *copy, void *ptr)
{
    if (!ptr)
        return NULL;
    if (copy->nowned == copy->capowned) {
        size_t cap = copy->capowned ? copy->capowned * 2 : 32;
        void **grown = realloc(copy->owned, cap * sizeof(*grown));
        if (!grown) {
            free(ptr);
            return NULL;
        }
        copy->owned = grown;
        copy->capowned = cap;
    }
    copy->owned[copy->nowned++] = ptr;
    return ptr;
}

/* Point *@slot at a host copy of the plugin's string (NULL stays NULL). */
static int
plugin_copy_str(struct plugin_copy *copy, const char **slot)
{
    if (!*slot)
        return 0;
    if (!(*slot = plugin_copy_own(copy, strdup(*slot))))
        return AB_ENOMEM;
    return 0;
}

/* Point *@slot at a host copy of the plugin's NULL-terminated string array. */
static int
plugin_copy_strv(struct plugin_copy *copy, const char *const **slot)
{
    const char **v;
    size_t n = 0;

    if (!*slot)
        return 0;
    while ((*slot)[n])
        n++;
    if (!(v = plugin_copy_own(copy, calloc(n + 1, sizeof(*v)))))
        return AB_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        v[i] = (*slot)[i];
        if (plugin_copy_str(copy, &v[i]) < 0)
            return AB_ENOMEM;
    }
    *slot = v;
    return 0;
}

/* Copy every string an accepted plugin's tables point at into host memory, so that
 * nothing but its functions stays in the plugin: one that is not used can then be
 * unloaded (plugin_set_unload_unused) and its descriptor still read. */
static int
plugin_copy_strings(struct plugin_copy *c)
{
    struct ab_agent_preset *pr = &c->preset;
    int rc = 0;

    rc |= plugin_copy_str(c, &c->desc.name);
    rc |= plugin_copy_str(c, &c->desc.version);
    rc |= plugin_copy_str(c, &c->desc.description);
    rc |= plugin_copy_strv(c, &c->desc.redact_prefixes);
    for (struct ab_config_key *k = c->keys; k && k->name && rc == 0; k++) {
        rc |= plugin_copy_str(c, &k->name);
        rc |= plugin_copy_str(c, &k->def);
        rc |= plugin_copy_strv(c, &k->values);
        rc |= plugin_copy_str(c, &k->prefix);
        rc |= plugin_copy_str(c, &k->env);
        rc |= plugin_copy_str(c, &k->help);
    }
    if (c->desc.preset) {
        rc |= plugin_copy_str(c, &pr->command);
        rc |= plugin_copy_strv(c, &pr->args);
        rc |= plugin_copy_strv(c, &pr->env);
        rc |= plugin_copy_strv(c, &pr->inherit_env);
        rc |= plugin_copy_strv(c, &pr->command_names);
        rc |= plugin_copy_str(c, &pr->home);
        rc |= plugin_copy_str(c, &pr->auth_hint);
        rc |= plugin_copy_str(c, &pr->session_mode);
    }
    return rc ? AB_ENOMEM : 0;
}

/* "chat" or "agent" for messages. */
const char *
plugin_kind_name(uint32_t kind)
{
    switch (kind) {
    case AB_PLUGIN_CHAT: return "chat";
    case AB_PLUGIN_AGENT: return "agent";
    default: return "?";
    }
}

/* Append a copy of @dir to the NULL-terminated list unless it is already there. */
static int
plugin_dirs_add(char ***dirs, size_t *n, const char *dir)
{
    char **grown;

    if (!dir || !*dir)
        return 0;
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*dirs)[i], dir) == 0)
            return 0;
    grown = realloc(*dirs, (*n + 2) * sizeof(char *));
    if (!grown)
        return AB_ENOMEM;
    *dirs = grown;
    if (!(grown[*n] = strdup(dir)))
        return AB_ENOMEM;
    grown[++*n] = NULL;
    return 0;
}

/* True when the running executable lives in this project's build tree, so the
 * freshly built plugins next to it are the ones to use. */
static bool
plugin_running_from_build_tree(void)
{
    char exe[PATH_MAX], want[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    const char *build_plugins = AB_BUILD_PLUGIN_DIR;
    size_t root_len;

    if (len <= 0 || !*build_plugins)
        return false;
    exe[len] = '\0';
    /* AB_BUILD_PLUGIN_DIR is <build>/plugins; the binary is <build>/core/agent-broker. */
    root_len = strlen(build_plugins) - strlen("/plugins");
    if (root_len >= sizeof(want) - 32)
        return false;
    memcpy(want, build_plugins, root_len);
    strcpy(want + root_len, "/core/");
    return strncmp(exe, want, strlen(want)) == 0;
}

/* Build the search path in the documented order. */
int
plugin_dirs(const char *const *config_paths, size_t n, char ***out)
{
    char **dirs = calloc(1, sizeof(char *));
    size_t count = 0;
    const char *env = getenv("AGENT_BROKER_PLUGIN_PATH");
    int rc = 0;

    if (!dirs)
        return AB_ENOMEM;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = plugin_dirs_add(&dirs, &count, config_paths[i]);
    if (env && rc == 0) {
        char *copy = strdup(env), *save = NULL;
        if (!copy)
            rc = AB_ENOMEM;
        for (char *tok = copy ? strtok_r(copy, ":", &save) : NULL; tok && rc == 0;
             tok = strtok_r(NULL, ":", &save))
            rc = plugin_dirs_add(&dirs, &count, tok);
        free(copy);
    }
    if (rc == 0)
        rc = plugin_dirs_add(&dirs, &count, AB_PLUGIN_DIR);
    if (rc == 0 && plugin_running_from_build_tree())
        rc = plugin_dirs_add(&dirs, &count, AB_BUILD_PLUGIN_DIR);
    if (rc < 0) {
        plugin_dirs_free(dirs);
        return rc;
    }
    *out = dirs;
    return 0;
}

/* Free a list from plugin_dirs. */
void
plugin_dirs_free(char **dirs)
{
    for (size_t i = 0; dirs && dirs[i]; i++)
        free(dirs[i]);
    free(dirs);
}

/* Record a refusal with a formatted, user-facing reason. */
static int plugin_refuse(struct plugin *p, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
plugin_refuse(struct plugin *p, int status, const char *fmt, ...)
{
    va_list ap;
    char buf[1024];

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    free(p->reason);
    p->reason = strdup(buf);
    p->status = status;
    p->desc = NULL;
    plugin_copy_free(p->copy);
    p->copy = NULL;
    if (p->handle) {
        dlclose(p->handle);
        p->handle = NULL;
    }
    return status;
}

/* True for names of the form [a-z0-9_-]+. */
static bool
plugin_name_valid(const char *name)
{
    if (!name || !*name || strlen(name) > 64)
        return false;
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
            return false;
    return true;
}

/* Smallest config key element a 1.3 plugin may declare: every member up to help. */
#define PLUGIN_KEY_MIN_SIZE (offsetof(struct ab_config_key, help) + sizeof(const char *))
/* Most keys one plugin may declare. */
#define PLUGIN_MAX_KEYS 256

/* Copy @have bytes of a plugin struct into the zeroed full-size host struct @dst of
 * @full bytes; the copy's leading size then says @full (every member is readable). */
static void
plugin_copy_struct(void *dst, size_t full, const void *src, size_t have)
{
    memset(dst, 0, full);
    memcpy(dst, src, have < full ? have : full);
    *(uint32_t *)dst = (uint32_t)full;
}

/* Check the ops table of a chat plugin: size first, then the mandatory ops. */
static int
plugin_check_chat(struct plugin *p, const struct ab_chat_ops *raw)
{
    static const char *const names[] = {"open", "start", "close", "send"};
    struct ab_chat_ops *ops = &p->copy->chat;
    const void *fns[4];

    if (!raw || raw->size < offsetof(struct ab_chat_ops, send) + sizeof(void *))
        return plugin_refuse(p, AB_EMISSINGOP,
                             "chat plugin has no usable ab_chat_ops — fix the plugin");
    plugin_copy_struct(ops, sizeof(*ops), raw, raw->size);
    fns[0] = (const void *)ops->open;
    fns[1] = (const void *)ops->start;
    fns[2] = (const void *)ops->close;
    fns[3] = (const void *)ops->send;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!fns[i])
            return plugin_refuse(p, AB_EMISSINGOP,
                                 "chat plugin lacks the mandatory operation '%s' — fix the "
                                 "plugin's ab_chat_ops or remove the file",
                                 names[i]);
    if (ops->max_chars == 0)
        return plugin_refuse(p, AB_EINVAL,
                             "chat plugin declares max_chars = 0 — set its message limit");
    p->copy->desc.chat = ops;
    return 0;
}

/* Copy and check a preset: it needs a command. */
static int
plugin_take_preset(struct plugin *p, const struct ab_agent_preset *raw)
{
    if (!raw || raw->size < offsetof(struct ab_agent_preset, flags) + sizeof(uint32_t) ||
        !raw->command || !*raw->command)
        return plugin_refuse(p, AB_EINVAL, "agent plugin's preset has no command — fix the plugin");
    plugin_copy_struct(&p->copy->preset, sizeof(p->copy->preset), raw, raw->size);
    p->copy->desc.preset = &p->copy->preset;
    return 0;
}

/* Check the tables of an agent plugin. The preset is plain data in a 1.3 descriptor;
 * an older plugin's preset() is called only here, after everything else passed. */
static int
plugin_check_agent(struct plugin *p, const struct ab_agent_ops *raw, bool *call_preset)
{
    struct ab_agent_ops *ops = &p->copy->agent;

    *call_preset = false;
    if (raw && raw->size < sizeof(uint32_t) + sizeof(void *))
        return plugin_refuse(p, AB_EMISSINGOP,
                             "agent plugin's ab_agent_ops is truncated — fix the plugin");
    if (raw)
        plugin_copy_struct(ops, sizeof(*ops), raw, raw->size);
    else
        plugin_copy_struct(ops, sizeof(*ops), &(struct ab_agent_ops){0}, 0);
    p->copy->desc.agent = ops;
    if (p->copy->desc.preset)
        return plugin_take_preset(p, p->copy->desc.preset);
    if (!ops->preset)
        return plugin_refuse(p, AB_EMISSINGOP,
                             "agent plugin declares no preset (ab_plugin_desc.preset, or "
                             "ab_agent_ops.preset before ABI 1.3) — fix the plugin");
    *call_preset = true;
    return 0;
}

/* True for config key names of the form [a-z0-9_]+. */
static bool
plugin_key_name_valid(const char *name)
{
    if (!*name || strlen(name) > 64)
        return false;
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
            return false;
    return true;
}

/* True when a key's default (TOML-like text) is a value the key accepts. */
static bool
plugin_key_default_valid(const struct ab_config_key *k)
{
    char *end = NULL;
    long long n;

    switch (k->type) {
    case AB_KEY_INT:
        errno = 0;
        n = strtoll(k->def, &end, 10);
        return errno == 0 && end != k->def && *end == '\0' &&
               (k->min >= k->max || (n >= k->min && n <= k->max));
    case AB_KEY_BOOL: return strcmp(k->def, "true") == 0 || strcmp(k->def, "false") == 0;
    case AB_KEY_ENUM:
        for (size_t i = 0; k->values[i]; i++)
            if (strcmp(k->values[i], k->def) == 0)
                return true;
        return false;
    case AB_KEY_STRING: return true;
    default: return false; /* arrays have no default text */
    }
}

/* Copy and check the config schema (ABI 1.3): every key well formed. */
static int
plugin_check_keys(struct plugin *p)
{
    const struct ab_plugin_desc *d = &p->copy->desc;
    size_t stride = d->config_key_size, n = 0;
    const char *base = (const char *)d->config_keys;

    if (!d->config_keys)
        return 0;
    if (stride < PLUGIN_KEY_MIN_SIZE)
        return plugin_refuse(p, AB_EABI,
                             "config_key_size is %zu, smaller than a config key — set it to "
                             "sizeof(struct ab_config_key)",
                             stride);
    while (((const struct ab_config_key *)(base + n * stride))->name)
        if (++n > PLUGIN_MAX_KEYS)
            return plugin_refuse(p, AB_EINVAL,
                                 "more than %d config keys, or the key array is not ended by "
                                 "a key whose name is NULL — fix the descriptor",
                                 PLUGIN_MAX_KEYS);
    if (!(p->copy->keys = calloc(n + 1, sizeof(*p->copy->keys))))
        return plugin_refuse(p, AB_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        struct ab_config_key *k = &p->copy->keys[i];
        memcpy(k, base + i * stride, stride < sizeof(*k) ? stride : sizeof(*k));
        if (!plugin_key_name_valid(k->name))
            return plugin_refuse(
                p, AB_EINVAL, "config key \"%s\" is not [a-z0-9_]+ — fix the descriptor", k->name);
        if (k->type < AB_KEY_STRING || k->type > AB_KEY_ENUM)
            return plugin_refuse(p, AB_EINVAL,
                                 "config key %s has unknown type %u — fix the descriptor", k->name,
                                 k->type);
        if (k->type == AB_KEY_ENUM && (!k->values || !k->values[0]))
            return plugin_refuse(p, AB_EINVAL,
                                 "config key %s is an enum without values — fix the descriptor",
                                 k->name);
        if ((k->flags & (AB_KEY_SECRET | AB_KEY_ENDPOINT)) && k->type != AB_KEY_STRING)
            return plugin_refuse(p, AB_EINVAL,
                                 "config key %s is a secret or endpoint but not a string — fix "
                                 "the descriptor",
                                 k->name);
        if (k->type == AB_KEY_INT && k->min > k->max)
            return plugin_refuse(p, AB_EINVAL, "config key %s has min > max — fix the descriptor",
                                 k->name);
        if (k->def && !plugin_key_default_valid(k))
            return plugin_refuse(p, AB_EINVAL,
                                 "config key %s: default \"%s\" is not a valid value of the key — "
                                 "fix the descriptor",
                                 k->name, k->def);
        for (size_t j = 0; j < i; j++)
            if (strcmp(p->copy->keys[j].name, k->name) == 0)
                return plugin_refuse(
                    p, AB_EINVAL, "config key %s is declared twice — fix the descriptor", k->name);
    }
    p->copy->desc.config_keys = p->copy->keys;
    p->copy->desc.config_key_size = sizeof(struct ab_config_key);
    for (size_t i = 0; d->redact_prefixes && d->redact_prefixes[i]; i++)
        if (strlen(d->redact_prefixes[i]) < 3 || i >= 32)
            return plugin_refuse(p, AB_EINVAL,
                                 "redact_prefixes needs at most 32 prefixes of 3 characters or "
                                 "more — fix the descriptor");
    return 0;
}

/* Validate the descriptor, reading only the fixed prefix until the ABI is known; then
 * work only on the host's full-size copy. No plugin function runs here. */
static int
plugin_validate(struct plugin *p, const char *base)
{
    const struct ab_plugin_desc *d = p->desc;
    const char *want_prefix;
    bool call_preset = false;
    size_t plen;
    int rc;

    snprintf(p->abi, sizeof(p->abi), "%u.%u", d->abi_major, d->abi_minor);
    if (d->abi_major != AB_ABI_MAJOR)
        return plugin_refuse(p, AB_EABI,
                             "built for ABI %u.%u, this agent-broker speaks %u.%u — rebuild it "
                             "against agent-broker-plugin %u.x or remove the file",
                             d->abi_major, d->abi_minor, AB_ABI_MAJOR, AB_ABI_MINOR, AB_ABI_MAJOR);
    if (d->abi_minor > AB_ABI_MINOR)
        return plugin_refuse(p, AB_EABI,
                             "built for ABI %u.%u, newer than this agent-broker's %u.%u — "
                             "upgrade agent-broker or rebuild the plugin against "
                             "agent-broker-plugin %u.%u",
                             d->abi_major, d->abi_minor, AB_ABI_MAJOR, AB_ABI_MINOR, AB_ABI_MAJOR,
                             AB_ABI_MINOR);
    if (d->struct_size < PLUGIN_DESC_MIN_SIZE)
        return plugin_refuse(p, AB_EABI,
                             "descriptor is %u bytes, smaller than ABI %u.%u allows — rebuild "
                             "the plugin against agent-broker-plugin %u.x",
                             d->struct_size, d->abi_major, d->abi_minor, AB_ABI_MAJOR);
    if (!(p->copy = calloc(1, sizeof(*p->copy))))
        return plugin_refuse(p, AB_ENOMEM, "out of memory");
    memcpy(&p->copy->desc, d, d->struct_size < sizeof(*d) ? d->struct_size : sizeof(*d));
    p->copy->desc.struct_size = sizeof(*d);
    d = p->desc = &p->copy->desc;
    if (d->kind != AB_PLUGIN_CHAT && d->kind != AB_PLUGIN_AGENT)
        return plugin_refuse(p, AB_EINVAL, "unknown plugin kind %u — fix the descriptor", d->kind);
    if (!plugin_name_valid(d->name))
        return plugin_refuse(p, AB_EINVAL,
                             "plugin name is missing or not [a-z0-9_-]+ — fix the descriptor");
    want_prefix = d->kind == AB_PLUGIN_CHAT ? "chat-" : "agent-";
    plen = strlen(want_prefix);
    if (strncmp(base, want_prefix, plen) != 0 ||
        strncmp(base + plen, d->name, strlen(d->name)) != 0 ||
        strcmp(base + plen + strlen(d->name), ".so") != 0)
        return plugin_refuse(p, AB_EINVAL,
                             "file name does not match the descriptor (a %s plugin named '%s' "
                             "must be %s%s.so) — rename the file",
                             plugin_kind_name(d->kind), d->name, want_prefix, d->name);
    if ((rc = plugin_check_keys(p)) < 0)
        return rc;
    if (d->kind == AB_PLUGIN_CHAT) {
        p->copy->desc.agent = NULL;
        p->copy->desc.preset = NULL;
        return plugin_check_chat(p, d->chat);
    }
    p->copy->desc.chat = NULL;
    if ((rc = plugin_check_agent(p, d->agent, &call_preset)) < 0)
        return rc;
    p->copy->call_preset = call_preset;
    return 0;
}

/* Grow the set by one zeroed plugin. */
static struct plugin *
plugin_set_push(struct plugin_set *set, const char *path)
{
    struct plugin *p;

    if (set->count == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 8;
        struct plugin *grown = realloc(set->items, cap * sizeof(*grown));
        if (!grown)
            return NULL;
        set->items = grown;
        set->cap = cap;
    }
    p = &set->items[set->count];
    memset(p, 0, sizeof(*p));
    if (!(p->path = strdup(path)))
        return NULL;
    strcpy(p->abi, "?");
    set->count++;
    return p;
}

/* Load and validate one file. */
int
plugin_set_load(struct plugin_set *set, const char *path)
{
    struct plugin *p = plugin_set_push(set, path);
    const char *base = strrchr(path, '/');
    const struct plugin *other;
    int rc;

    if (!p)
        return AB_ENOMEM;
    base = base ? base + 1 : path;
    dlerror();
    p->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!p->handle)
        return plugin_refuse(p, AB_ENOTPLUGIN,
                             "cannot be loaded (%s) — it is not a plugin built for this system; "
                             "remove the file",
                             dlerror());
    p->desc = dlsym(p->handle, AB_PLUGIN_SYMBOL);
    if (!p->desc)
        return plugin_refuse(p, AB_ENOTPLUGIN,
                             "exports no '%s' descriptor — not an agent-broker plugin; remove "
                             "it from the plugin path",
                             AB_PLUGIN_SYMBOL);
    if ((rc = plugin_validate(p, base)) < 0)
        return rc;
    other = plugin_set_find(set, p->desc->kind, p->desc->name);
    if (other && other != p)
        return plugin_refuse(p, AB_EDUP,
                             "a %s plugin named '%s' was already loaded from %s — remove one "
                             "of them",
                             plugin_kind_name(p->desc->kind), p->desc->name, other->path);
    /* accepted: only now may a pre-1.3 agent plugin's code run, to hand over its preset */
    if (p->copy->call_preset && (rc = plugin_take_preset(p, p->copy->agent.preset())) < 0)
        return rc;
    if (plugin_copy_strings(p->copy) < 0)
        return plugin_refuse(p, AB_ENOMEM, "out of memory");
    return 0;
}

/* True for chat-*.so and agent-*.so. */
static bool
plugin_file_wanted(const char *name)
{
    size_t len = strlen(name);

    if (len < 4 || strcmp(name + len - 3, ".so") != 0)
        return false;
    return strncmp(name, "chat-", 5) == 0 || strncmp(name, "agent-", 6) == 0;
}

/* qsort comparator for file names. */
static int
plugin_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Load the plugin files of one directory in name order; @depth > 0 also looks one
 * level down (the build tree keeps each plugin in its own folder). */
static int
plugin_scan_dir(struct plugin_set *set, const char *dir, int depth)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;

    if (!d)
        return 0; /* a missing directory on the search path is not an error */
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **grown = realloc(names, cap * sizeof(char *));
            if (!grown) {
                rc = AB_ENOMEM;
                goto out;
            }
            names = grown;
        }
        if (!(names[n] = strdup(e->d_name))) {
            rc = AB_ENOMEM;
            goto out;
        }
        n++;
    }
    qsort(names, n, sizeof(char *), plugin_name_cmp);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (plugin_file_wanted(names[i])) {
            if (plugin_set_load(set, path) == AB_ENOMEM)
                rc = AB_ENOMEM;
        } else if (depth > 0) {
            DIR *sub = opendir(path);
            if (sub) {
                closedir(sub);
                rc = plugin_scan_dir(set, path, depth - 1);
            }
        }
    }
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return rc;
}

/* Load everything on the search path. */
int
plugin_set_scan(struct plugin_set *set, char *const *dirs)
{
    int rc;

    for (size_t i = 0; dirs && dirs[i]; i++) {
        int depth = strcmp(dirs[i], AB_BUILD_PLUGIN_DIR) == 0 ? 1 : 0;
        if ((rc = plugin_scan_dir(set, dirs[i], depth)) < 0)
            return rc;
    }
    return 0;
}

/* Find a loaded plugin by kind and name. */
const struct plugin *
plugin_set_find(const struct plugin_set *set, enum ab_plugin_kind kind, const char *name)
{
    for (size_t i = 0; i < set->count; i++) {
        const struct plugin *p = &set->items[i];
        if (p->status == 0 && p->desc && p->desc->kind == (uint32_t)kind &&
            strcmp(p->desc->name, name) == 0)
            return p;
    }
    return NULL;
}

/* Find a loaded chat plugin's descriptor by name (for config binding). */
const struct ab_plugin_desc *
plugin_set_find_chat(void *set, const char *name)
{
    const struct plugin *p = plugin_set_find(set, AB_PLUGIN_CHAT, name);

    return p ? p->desc : NULL;
}

/* Count refusals. */
size_t
plugin_set_refused(const struct plugin_set *set)
{
    size_t n = 0;

    for (size_t i = 0; i < set->count; i++)
        n += set->items[i].status != 0;
    return n;
}

/* Unload and free. */
void
plugin_set_free(struct plugin_set *set)
{
    for (size_t i = 0; i < set->count; i++) {
        if (set->items[i].handle)
            dlclose(set->items[i].handle);
        free(set->items[i].path);
        free(set->items[i].reason);
        plugin_copy_free(set->items[i].copy);
    }
    free(set->items);
    memset(set, 0, sizeof(*set));
}

/* Unload the loaded plugins @keep says no to: their code leaves the process, their
 * descriptor copies stay readable (names, config keys, preset data), their operations
 * read as NULL. */
size_t
plugin_set_unload_unused(struct plugin_set *set, bool (*keep)(const struct plugin *p, void *arg),
                         void *arg)
{
    size_t n = 0;

    for (size_t i = 0; i < set->count; i++) {
        struct plugin *p = &set->items[i];
        if (p->status != 0 || !p->handle || keep(p, arg))
            continue;
        plugin_copy_struct(&p->copy->chat, sizeof(p->copy->chat), &(struct ab_chat_ops){0}, 0);
        plugin_copy_struct(&p->copy->agent, sizeof(p->copy->agent), &(struct ab_agent_ops){0}, 0);
        dlclose(p->handle);
        p->handle = NULL;
        n++;
    }
    return n;
}
