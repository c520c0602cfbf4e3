/* The command line: parse arguments and run one command. */
#include "cli.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <agent-broker/plugin.h>

#include "agent/preset.h"
#include "config/config.h"
#include "config/secret_env.h"
#include "config/schema.h"
#include "daemon.h"
#include "health/health_client.h"
#include "log.h"
#include "plugin/loader.h"
#include "state/state_dir.h"

/* Parsed command line. */
struct cli_args {
    const char *command;    /* run, check, plugins, console, health */
    const char *positional; /* CONFIG or URL */
    const char *config;     /* --config FILE */
    const char *preset;     /* --preset NAME */
    const char *agent;      /* --agent NAME (console): the configured agent to talk to */
    bool keys;              /* plugins --keys [NAME]: print config schemas */
    bool markdown;          /* with --keys: README table rows */
};

/* Print usage to @f. */
static void
cli_usage(FILE *f)
{
    fputs("usage: agent-broker [run] [CONFIG]        run the daemon (CONFIG: ./config.toml)\n"
          "       agent-broker check [CONFIG]        validate the config, its plugins and agent\n"
          "       agent-broker plugins [CONFIG]      list plugins on the search path\n"
          "       agent-broker plugins --keys [NAME] [--markdown] [--config FILE]\n"
          "                                          the config keys each chat plugin declares\n"
          "       agent-broker console [CONFIG] [--preset NAME] [--agent NAME]\n"
          "                                          chat with the agent from the terminal\n"
          "       agent-broker health [URL] [--config FILE]\n"
          "                                          GET /healthz; exit 0 when healthy\n"
          "       agent-broker --version | --help\n"
          "exit codes: 0 ok, 1 runtime failure, 2 bad usage or configuration\n",
          f);
}

/* Split argv into command, one positional argument and options. */
static int
cli_parse(int argc, char **argv, struct cli_args *a)
{
    static const char *const commands[] = {"run", "check", "plugins", "console", "health", NULL};
    int i = 1;

    memset(a, 0, sizeof(*a));
    a->command = "run";
    if (i < argc) {
        for (size_t c = 0; commands[c]; c++) {
            if (strcmp(argv[i], commands[c]) == 0) {
                a->command = commands[c];
                i++;
                break;
            }
        }
    }
    for (; i < argc; i++) {
        if ((strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) && i + 1 < argc) {
            a->config = argv[++i];
        } else if (strcmp(argv[i], "--preset") == 0 && i + 1 < argc) {
            a->preset = argv[++i];
        } else if (strcmp(argv[i], "--agent") == 0 && i + 1 < argc &&
                   strcmp(a->command, "console") == 0) {
            a->agent = argv[++i];
        } else if (strcmp(argv[i], "--keys") == 0 && strcmp(a->command, "plugins") == 0) {
            a->keys = true;
        } else if (strcmp(argv[i], "--markdown") == 0 && strcmp(a->command, "plugins") == 0) {
            a->markdown = true;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "agent-broker: unknown option %s\n", argv[i]);
            return -1;
        } else if (!a->positional) {
            a->positional = argv[i];
        } else {
            fprintf(stderr, "agent-broker: unexpected argument %s\n", argv[i]);
            return -1;
        }
    }
    return 0;
}

/* The config path a command uses: positional, --config, else ./config.toml. */
static const char *
cli_config_path(const struct cli_args *a)
{
    if (a->positional)
        return a->positional;
    return a->config ? a->config : "config.toml";
}

/* Load the plugins on the search path of @cfg (which may hold only defaults). */
static int
cli_scan_plugins(const struct config *cfg, struct plugin_set *set, char ***dirs)
{
    int rc;

    if ((rc = plugin_dirs((const char *const *)cfg->plugin_path.items, cfg->plugin_path.count,
                          dirs)) < 0)
        return rc;
    return plugin_set_scan(set, *dirs);
}

/* The caps of a chat plugin as words. */
static void
cli_print_caps(uint64_t caps)
{
    static const struct {
        uint64_t bit;
        const char *word;
    } names[] = {{AB_CHAT_EDIT, "edit"},
                 {AB_CHAT_REACT, "react"},
                 {AB_CHAT_THREADS, "threads"},
                 {AB_CHAT_INTERACTIVE, "interactive"}};

    printf(" (caps:");
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (caps & names[i].bit)
            printf(" %s", names[i].word);
    printf(")");
}

/* `plugins --keys [NAME]`: each loaded chat plugin's config schema (@name: only that
 * one), as text or README rows. Returns an exit code. */
static int
cli_plugin_keys(const struct plugin_set *set, const char *name, bool markdown)
{
    bool found = false;

    for (size_t i = 0; i < set->count; i++) {
        const struct plugin *p = &set->items[i];
        if (p->status != 0 || p->desc->kind != AB_PLUGIN_CHAT ||
            (name && strcmp(name, p->desc->name) != 0))
            continue;
        found = true;
        if (markdown) {
            schema_markdown(p->desc, stdout);
            continue;
        }
        printf("[%s] chat-%s %s", p->desc->name, p->desc->name,
               p->desc->version ? p->desc->version : "?");
        cli_print_caps(p->desc->caps);
        printf("\n");
        if (!p->desc->config_keys)
            printf("  (declares no schema, built before ABI 1.3: its keys are not checked)\n");
        else if (!p->desc->config_keys[0].name)
            printf("  (no keys of its own)\n");
        schema_print(p->desc, stdout);
        printf("  + the shared policy keys: allowed_channels, allow_all_channels, "
               "allowed_users, allow_all_users, allowed_role_ids, allow_user_messages, "
               "allow_bot_messages, trusted_bot_ids, max_bot_turns, allow_dm, insecure, "
               "ca_file\n");
    }
    if (name && !found) {
        fprintf(stderr,
                "agent-broker: no chat plugin \"%s\" was loaded — see `agent-broker "
                "plugins`\n",
                name);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

/* `plugins`: list every plugin found, with why any was refused. */
static int
cli_plugins(const struct cli_args *a)
{
    struct config cfg;
    struct diag diag = {0};
    struct plugin_set set = {0};
    char **dirs = NULL;
    const char *path = a->keys ? (a->config ? a->config : "config.toml") : cli_config_path(a);
    int rc, exit_code = CLI_EXIT_OK;

    if ((a->positional && !a->keys) || a->config || access(path, R_OK) == 0) {
        if (config_load(path, &cfg, &diag) < 0 && diag.errors) {
            diag_print(&diag, stderr);
            exit_code = CLI_EXIT_USAGE;
            goto out;
        }
    } else if ((rc = config_defaults(&cfg)) < 0) {
        exit_code = CLI_EXIT_RUNTIME;
        goto out;
    }
    if ((rc = cli_scan_plugins(&cfg, &set, &dirs)) < 0) {
        fprintf(stderr, "agent-broker: scanning plugins: %s\n", ab_strerror(rc));
        exit_code = CLI_EXIT_RUNTIME;
        goto out;
    }
    if (a->keys) {
        exit_code = cli_plugin_keys(&set, a->positional, a->markdown);
        goto out;
    }
    printf("%-6s %-12s %-10s %-5s %s\n", "KIND", "NAME", "VERSION", "ABI", "FILE");
    for (size_t i = 0; i < set.count; i++) {
        const struct plugin *p = &set.items[i];
        if (p->status == 0)
            printf("%-6s %-12s %-10s %-5s %s\n", plugin_kind_name(p->desc->kind), p->desc->name,
                   p->desc->version ? p->desc->version : "?", p->abi, p->path);
    }
    for (size_t i = 0; i < set.count; i++) {
        const struct plugin *p = &set.items[i];
        if (p->status != 0) {
            printf("refused %s: %s\n", p->path, p->reason ? p->reason : ab_strerror(p->status));
            exit_code = CLI_EXIT_RUNTIME;
        }
    }
    if (set.count == 0) {
        printf("no plugins found; searched:");
        for (size_t i = 0; dirs && dirs[i]; i++)
            printf(" %s", dirs[i]);
        printf("\n");
    }
out:
    plugin_set_free(&set);
    plugin_dirs_free(dirs);
    diag_free(&diag);
    config_free(&cfg);
    return exit_code;
}

/* `check`: the state dir must be ours and private; inside the agent's cwd is a warning. */
static void
cli_check_state_dir(const struct config *cfg, const struct agent_choice *agent, struct diag *diag)
{
    const struct toml_value *v = toml_get_path(cfg->root, "state.dir");
    char why[PATH_MAX + 256];
    int rc;

    if (!cfg->state_dir)
        return;
    rc = state_dir_check(cfg->state_dir, why, sizeof(why));
    if (rc < 0 && rc != AB_ENOENT)
        diag_add(diag, true, v ? v->line : 0, "state.dir", "%s", why);
    if (agent->cwd && state_dir_exposed(cfg->state_dir, agent->cwd))
        diag_add(diag, false, v ? v->line : 0, "state.dir",
                 "%s is inside the agent's working directory %s: the agent's tools see it — "
                 "set [state] dir outside it",
                 cfg->state_dir, agent->cwd);
}

/* `check`: every problem of the config, its plugins and its agent, at once. */
static int
cli_check(const struct cli_args *a)
{
    struct config cfg;
    struct diag diag = {0};
    struct plugin_set set = {0};
    char **dirs = NULL;
    const char *path = cli_config_path(a);
    int rc;

    rc = config_load(path, &cfg, &diag);
    if (rc == AB_ENOENT || !cfg.root) {
        diag_print(&diag, stderr);
        diag_free(&diag);
        config_free(&cfg);
        return CLI_EXIT_USAGE;
    }
    if ((rc = cli_scan_plugins(&cfg, &set, &dirs)) < 0)
        diag_add(&diag, true, 0, NULL, "scanning plugins: %s", ab_strerror(rc));
    config_bind_chats(&cfg, plugin_set_find_chat, &set, &diag);
    if (cfg.plugin_chat.count == 0 && cfg.unclaimed_sections)
        diag_add(&diag, true, 0, "plugins.chat",
                 "no chat plugin is enabled, and %zu section(s) belong to no installed plugin "
                 "— `run` would not start; install the plugin or fix the section name",
                 cfg.unclaimed_sections);
    for (size_t i = 0; i < cfg.plugin_chat.count; i++) {
        const char *name = cfg.plugin_chat.items[i];
        if (!plugin_set_find(&set, AB_PLUGIN_CHAT, name))
            diag_add(&diag, true, cfg.chats[i].line, name,
                     "chat plugin chat-%s.so is not on the plugin path — install it or set "
                     "[plugins] path",
                     name);
    }
    for (size_t i = 0; i < set.count; i++)
        if (set.items[i].status != 0)
            diag_add(&diag, cfg.plugins_strict, 0, "plugins", "refused %s: %s%s", set.items[i].path,
                     set.items[i].reason,
                     cfg.plugins_strict ? " (strict = true stops start-up)" : "");
    for (size_t i = 0; i < cfg.nagents; i++) {
        const struct config_agent *ca = &cfg.agents[i];
        struct agent_choice agent;
        char key[160];
        if (agent_choice_resolve(&cfg, ca, &set, i == 0 ? a->preset : NULL, &agent, &diag) == 0 &&
            !agent.resolved) {
            const struct toml_value *v = ca->table ? toml_table_get(ca->table, "command") : NULL;
            snprintf(key, sizeof(key), "%s.command", ca->section);
            diag_add(&diag, true, v ? v->line : ca->line, key,
                     "\"%s\" was not found on PATH — install the %s agent or set [%s] command "
                     "to its path",
                     agent.command, agent.preset_name, ca->section);
        }
        cli_check_state_dir(&cfg, &agent, &diag);
        agent_choice_free(&agent);
    }
    if (secret_env_in_file(path, cfg.secrets.items, cfg.secrets.count) > 0)
        diag_add(&diag, false, 0, NULL,
                 "a token is written in clear text: the agent's commands run as this user and "
                 "can read this file — export the token and write \"${NAME}\" instead");
    diag_print(&diag, stderr);
    rc = diag.errors ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    if (rc == CLI_EXIT_OK) {
        printf("%s: ok (%zu chat plugin%s, agent%s", path, cfg.plugin_chat.count,
               cfg.plugin_chat.count == 1 ? "" : "s", cfg.nagents == 1 ? "" : "s");
        for (size_t i = 0; i < cfg.nagents; i++)
            printf("%s %s: %s", i ? "," : "", cfg.agents[i].name,
                   cfg.agents[i].command ? cfg.agents[i].command : "preset default");
        printf(")\n");
    }
    plugin_set_free(&set);
    plugin_dirs_free(dirs);
    diag_free(&diag);
    config_free(&cfg);
    return rc;
}

/* `health`: GET /healthz of a running daemon. */
static int
cli_health(const struct cli_args *a)
{
    char url[512], why[256] = "";
    struct config cfg;
    struct diag diag = {0};
    const char *path = a->config ? a->config : "config.toml";
    int rc;

    if (a->positional) {
        snprintf(url, sizeof(url), "%s", a->positional);
    } else {
        if (access(path, R_OK) == 0)
            config_load(path, &cfg, &diag);
        else
            config_defaults(&cfg);
        rc = health_default_url(cfg.health_listen, url, sizeof(url));
        config_free(&cfg);
        diag_free(&diag);
        if (rc < 0) {
            fprintf(stderr, "agent-broker health: [health] listen is not HOST:PORT\n");
            return CLI_EXIT_USAGE;
        }
    }
    rc = health_check_url(url, 3000, why, sizeof(why));
    if (rc < 0) {
        fprintf(stderr, "agent-broker health: %s: %s\n", url, *why ? why : ab_strerror(rc));
        return CLI_EXIT_RUNTIME;
    }
    printf("healthy\n");
    return CLI_EXIT_OK;
}

/* Dispatch the command line. */
int
cli_main(int argc, char **argv)
{
    struct cli_args a;

    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("agent-broker %s\n", AB_VERSION_STRING);
        return CLI_EXIT_OK;
    }
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        cli_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (cli_parse(argc, argv, &a) < 0) {
        cli_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    log_configure(AB_LOG_INFO, LOG_FORMAT_TEXT);
    if (strcmp(a.command, "plugins") == 0)
        return cli_plugins(&a);
    if (strcmp(a.command, "check") == 0)
        return cli_check(&a);
    if (strcmp(a.command, "health") == 0)
        return cli_health(&a);
    return daemon_main(strcmp(a.command, "console") == 0 ? DAEMON_CONSOLE : DAEMON_RUN,
                       a.positional ? a.positional : a.config, a.preset, a.agent);
}
