/* Choosing and resolving the agent preset. */
#include "agent/preset.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/secret_env.h"

/* Append copies of a NULL-terminated list. */
static int
preset_copy_list(struct strlist *dst, const char *const *src)
{
    for (size_t i = 0; src && src[i]; i++) {
        char **grown = realloc(dst->items, (dst->count + 2) * sizeof(char *));
        if (!grown)
            return AB_ENOMEM;
        dst->items = grown;
        dst->items[dst->count] = NULL;
        if (!(dst->items[dst->count] = strdup(src[i])))
            return AB_ENOMEM;
        dst->items[++dst->count] = NULL;
    }
    return 0;
}

/* The base name of a command path. */
static const char *
preset_basename(const char *cmd)
{
    const char *slash = strrchr(cmd, '/');

    return slash ? slash + 1 : cmd;
}

/* True when @path is a regular executable file. */
static bool
preset_is_executable(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* Resolve a command like a shell's PATH lookup. */
int
agent_which(const char *cmd, char **out)
{
    const char *path = getenv("PATH");
    char buf[PATH_MAX];

    if (!cmd || !*cmd)
        return AB_EINVAL;
    if (strchr(cmd, '/')) {
        if (!preset_is_executable(cmd))
            return AB_ENOENT;
        *out = realpath(cmd, NULL);
        return *out ? 0 : AB_ENOMEM;
    }
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    for (const char *p = path; *p;) {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n > 0 && n + strlen(cmd) + 2 < sizeof(buf)) {
            memcpy(buf, p, n);
            buf[n] = '/';
            strcpy(buf + n + 1, cmd);
            if (preset_is_executable(buf)) {
                *out = strdup(buf);
                return *out ? 0 : AB_ENOMEM;
            }
        }
        p = end ? end + 1 : p + n;
    }
    return AB_ENOENT;
}

/* The agent plugin whose command names include @cmd's base name, or NULL. */
static const struct plugin *
preset_infer(const struct plugin_set *plugins, const char *cmd)
{
    const char *base = preset_basename(cmd);

    for (size_t i = 0; i < plugins->count; i++) {
        const struct plugin *p = &plugins->items[i];
        const struct ab_agent_preset *pr;
        if (p->status != 0 || p->desc->kind != AB_PLUGIN_AGENT)
            continue;
        pr = p->desc->preset;
        for (size_t j = 0; pr->command_names && pr->command_names[j]; j++)
            if (strcmp(pr->command_names[j], base) == 0)
                return p;
        if (strcmp(preset_basename(pr->command), base) == 0)
            return p;
    }
    return NULL;
}

/* Line of agent @a's key @key for messages (its header's without the key), or 0. */
static int
preset_line(const struct config_agent *a, const char *key)
{
    const struct toml_value *v = a->table && key ? toml_table_get(a->table, key) : NULL;

    return v ? v->line : a->line;
}

/* "SECTION.KEY" of agent @a, in @buf. */
static const char *
preset_key(const struct config_agent *a, const char *key, char *buf, size_t size)
{
    snprintf(buf, size, "%s.%s", a->section, key);
    return buf;
}

/* True when @val is a chat platform's token: a secret of the config that no
 * credential-named [agent] env entry accounts for. */
static bool
preset_is_platform_token(const struct config *cfg, const char *val)
{
    long n = 0;

    for (size_t i = 0; i < cfg->secrets.count; i++)
        n += strcmp(cfg->secrets.items[i], val) == 0;
    for (size_t a = 0; a < cfg->nagents; a++)
        for (size_t i = 0; i < cfg->agents[a].env.count; i++) {
            const char *pair = cfg->agents[a].env.items[i], *eq = strchr(pair, '=');
            if (eq && secret_env_name_is_secret(pair, (size_t)(eq - pair)) &&
                strcmp(eq + 1, val) == 0)
                n--;
        }
    for (size_t a = 0; a < cfg->nagents; a++) /* MCP servers' own credentials */
        for (size_t m = 0; m < cfg->agents[a].nmcp; m++) {
            const struct config_mcp *s = &cfg->agents[a].mcp[m];
            const struct strlist *lists[2] = {&s->env, &s->headers};
            for (size_t l = 0; l < 2; l++)
                for (size_t i = 0; i < lists[l]->count; i++) {
                    const char *eq = strchr(lists[l]->items[i], '=');
                    if (eq && strcmp(eq + 1, val) == 0)
                        n--;
                }
        }
    return n > 0;
}

/* The agent must never be handed a chat platform's token, by inherit_env or by
 * [agent] env: each such entry is an error. */
static void
preset_check_tokens(const struct config *cfg, const struct config_agent *a,
                    const struct agent_choice *c, struct diag *diag)
{
    char key[160];

    for (size_t i = 0; i < c->inherit_env.count; i++) {
        const char *val = secret_env_get(c->inherit_env.items[i]);
        if (val && *val && preset_is_platform_token(cfg, val))
            diag_add(diag, true, preset_line(a, "inherit_env"),
                     preset_key(a, "inherit_env", key, sizeof(key)),
                     "%s holds a chat platform's token: the agent must never get it — remove "
                     "it from inherit_env",
                     c->inherit_env.items[i]);
    }
    for (size_t i = 0; i < c->config_env.count; i++) {
        const char *eq = strchr(c->config_env.items[i], '=');
        if (eq && eq[1] && preset_is_platform_token(cfg, eq + 1))
            diag_add(diag, true, preset_line(a, "env"), preset_key(a, "env", key, sizeof(key)),
                     "%.*s is set to a chat platform's token: the agent must never get it — "
                     "remove it",
                     (int)(eq - c->config_env.items[i]), c->config_env.items[i]);
    }
}

/* Resolve preset, command, args, env and cwd. */
int
agent_choice_resolve(const struct config *cfg, const struct config_agent *a,
                     const struct plugin_set *plugins, const char *preset_override,
                     struct agent_choice *c, struct diag *diag)
{
    const char *name = preset_override ? preset_override : a->preset;
    const struct plugin *plugin = NULL;
    char cwd[PATH_MAX], key[160];
    size_t errors;
    int rc;

    memset(c, 0, sizeof(*c));
    if (!name && a->command) {
        plugin = preset_infer(plugins, a->command);
        name = plugin ? plugin->desc->name : "acp";
    }
    if (!name)
        name = "kiro";
    if (!(c->preset_name = strdup(name)))
        return AB_ENOMEM;
    if (!plugin && strcmp(name, "acp") != 0) {
        plugin = plugin_set_find(plugins, AB_PLUGIN_AGENT, name);
        if (!plugin) {
            diag_add(diag, true, preset_line(a, "preset"),
                     preset_key(a, "preset", key, sizeof(key)),
                     "no agent plugin \"%s\" (agent-%s.so) was found on the plugin path — use "
                     "kiro, claude, codex, gemini or acp, or install the plugin",
                     name, name);
            return AB_ECONFIG;
        }
    }
    if (plugin) {
        c->ops = plugin->desc->agent;
        c->preset = plugin->desc->preset;
        c->auth_hint = c->preset->auth_hint;
        c->flags = c->preset->flags;
        if ((rc = preset_copy_list(&c->preset_env, c->preset->env)) < 0 ||
            (rc = preset_copy_list(&c->inherit_env, c->preset->inherit_env)) < 0)
            return rc;
        if (!a->args_set && (rc = preset_copy_list(&c->args, c->preset->args)) < 0)
            return rc;
    }
    if (a->args_set && (rc = preset_copy_list(&c->args, (const char *const *)a->args.items)) < 0)
        return rc;
    if ((rc = preset_copy_list(&c->inherit_env, (const char *const *)a->inherit_env.items)) < 0)
        return rc;
    if ((rc = preset_copy_list(&c->config_env, (const char *const *)a->env.items)) < 0)
        return rc;
    c->command = strdup(a->command ? a->command : c->preset ? c->preset->command : "");
    if (!c->command)
        return AB_ENOMEM;
    if (!*c->command) {
        diag_add(diag, true, preset_line(a, NULL), preset_key(a, "command", key, sizeof(key)),
                 "a generic ACP agent needs a command — set [%s] command", a->section);
        return AB_ECONFIG;
    }
    if (a->working_dir)
        c->cwd = strdup(a->working_dir);
    else
        c->cwd = getcwd(cwd, sizeof(cwd)) ? strdup(cwd) : strdup("/");
    if (!c->cwd)
        return AB_ENOMEM;
    errors = diag->errors;
    preset_check_tokens(cfg, a, c, diag);
    if (diag->errors > errors)
        return AB_ECONFIG;
    rc = agent_which(c->command, &c->resolved);
    if (rc == AB_ENOMEM)
        return rc;
    return 0;
}

/* Free a string list owned by the choice. */
static void
preset_list_free(struct strlist *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i]);
    free(l->items);
}

/* Free everything the choice owns. */
void
agent_choice_free(struct agent_choice *c)
{
    free(c->preset_name);
    free(c->command);
    free(c->resolved);
    free(c->cwd);
    preset_list_free(&c->args);
    preset_list_free(&c->preset_env);
    preset_list_free(&c->inherit_env);
    preset_list_free(&c->config_env);
    memset(c, 0, sizeof(*c));
}
