/* The config model: defaults, OpenAB semantics, ${VAR} expansion, ids as strings,
 * and diagnostics that name the line and the key. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "../support/check_runner.h"

/* Two chat plugins as the loader would hand them over: "alpha" declares a required
 * secret, an endpoint, a ranged integer and an enum; "beta" a secret with a token
 * prefix. The core knows nothing else about them. */
static const char *const alpha_modes[] = {"fast", "slow", NULL};
static const struct ab_config_key alpha_keys[] = {
    {.name = "bot_token",
     .type = AB_KEY_STRING,
     .flags = AB_KEY_REQUIRED | AB_KEY_SECRET,
     .env = "ALPHA_TOKEN",
     .help = "token"},
    {.name = "api_base",
     .type = AB_KEY_STRING,
     .flags = AB_KEY_ENDPOINT,
     .def = "https://alpha.example/api",
     .help = "REST base"},
    {.name = "insecure", .type = AB_KEY_BOOL, .def = "false", .help = "plain text anywhere"},
    {.name = "window", .type = AB_KEY_INT, .def = "10", .min = 1, .max = 60, .help = "seconds"},
    {.name = "mode", .type = AB_KEY_ENUM, .values = alpha_modes, .help = "how"},
    {.name = NULL},
};
static const struct ab_config_key beta_keys[] = {
    {.name = "bot_token",
     .type = AB_KEY_STRING,
     .flags = AB_KEY_REQUIRED | AB_KEY_SECRET,
     .prefix = "bb-",
     .help = "token"},
    {.name = NULL},
};
static const char *const beta_shapes[] = {"bx-", NULL};
static const struct ab_plugin_desc test_plugins[] = {
    {.kind = AB_PLUGIN_CHAT, .name = "alpha", .config_keys = alpha_keys},
    {.kind = AB_PLUGIN_CHAT,
     .name = "beta",
     .config_keys = beta_keys,
     .redact_prefixes = beta_shapes},
    {.kind = AB_PLUGIN_CHAT, .name = "plain"},
};

/* config_find_chat_fn over test_plugins. */
static const struct ab_plugin_desc *
find_chat(void *arg, const char *name)
{
    (void)arg;
    for (size_t i = 0; i < sizeof(test_plugins) / sizeof(test_plugins[0]); i++)
        if (strcmp(test_plugins[i].name, name) == 0)
            return &test_plugins[i];
    return NULL;
}

/* Load @text into @cfg and bind its chat sections, collecting diagnostics in @d. */
static int
load(const char *text, struct config *cfg, struct diag *d)
{
    int rc;

    memset(d, 0, sizeof(*d));
    rc = config_load_string("config.toml", text, strlen(text), cfg, d);
    if (rc < 0 && rc != AB_ECONFIG)
        return rc;
    return config_bind_chats(cfg, find_chat, NULL, d);
}

/* The first diagnostic whose key is @key, or NULL. */
static const struct diag_item *
diag_for(const struct diag *d, const char *key)
{
    for (size_t i = 0; i < d->count; i++)
        if (d->items[i].key && strcmp(d->items[i].key, key) == 0)
            return &d->items[i];
    return NULL;
}

START_TEST(defaults_match_the_contract)
{
    struct config cfg;
    struct diag d;

    ck_assert_int_eq(load("", &cfg, &d), 0);
    ck_assert_int_eq(cfg.max_sessions, 10);
    ck_assert_int_eq(cfg.session_ttl_hours, 24);
    ck_assert_int_eq(cfg.sessions_per_process, 1);
    ck_assert_int_eq(cfg.drain_timeout_s, 30);
    ck_assert_int_eq(cfg.watchdog_s, 600);
    ck_assert_int_eq(cfg.idle_suspend_s, 300);
    ck_assert(!cfg.suspend_without_load);
    ck_assert_int_eq(cfg.perm_mode, PERM_MODE_AUTO);
    ck_assert_int_eq(cfg.perm_timeout_s, 300);
    ck_assert_int_eq(cfg.edit_interval_ms, 1500);
    ck_assert_int_eq(cfg.timing.debounce_ms, 700);
    ck_assert_str_eq(cfg.health_listen, "127.0.0.1:9464");
    ck_assert_str_eq(cfg.emojis.coding, "👨‍💻");
    ck_assert_str_eq(cfg.emojis.cancel, "🛑");
    ck_assert_str_eq(cfg.emojis.deny, "🚫");
    ck_assert_str_eq(cfg.emojis.allow_once, "✅");
    ck_assert_str_eq(cfg.emojis.allow_always, "♾️");
    ck_assert_str_eq(cfg.emojis.reject, "❌");
    ck_assert_uint_eq(cfg.plugin_chat.count, 0);
    config_free(&cfg);
    diag_free(&d);
}
END_TEST

/* Every emoji the broker shows or reads is a key of [reactions.emojis]. */
START_TEST(control_emojis_come_from_the_config)
{
    struct config cfg;
    struct diag d;

    ck_assert_int_eq(load("[reactions.emojis]\ncancel = \"✋\"\ndeny = \"⛔\"\n"
                          "allow_once = \"👍\"\nallow_always = \"🔁\"\nreject = \"👎\"\n",
                          &cfg, &d),
                     0);
    ck_assert_uint_eq(d.count, 0);
    ck_assert_str_eq(cfg.emojis.cancel, "✋");
    ck_assert_str_eq(cfg.emojis.deny, "⛔");
    ck_assert_str_eq(cfg.emojis.allow_once, "👍");
    ck_assert_str_eq(cfg.emojis.allow_always, "🔁");
    ck_assert_str_eq(cfg.emojis.reject, "👎");
    ck_assert_str_eq(cfg.emojis.queued, "👀");
    config_free(&cfg);
    diag_free(&d);
}
END_TEST

START_TEST(string_where_integer_wanted_names_the_key_and_line)
{
    struct config cfg;
    struct diag d;
    const struct diag_item *it;

    ck_assert_int_eq(load("[pool]\n\nmax_sessions = \"ten\"\n", &cfg, &d), AB_ECONFIG);
    it = diag_for(&d, "pool.max_sessions");
    ck_assert_ptr_nonnull(it);
    ck_assert(it->is_error);
    ck_assert_int_eq(it->line, 3);
    ck_assert_int_eq(cfg.max_sessions, 10); /* the default stays */
    config_free(&cfg);
    diag_free(&d);
}
END_TEST

START_TEST(out_of_range_is_an_error)
{
    struct config cfg;
    struct diag d;

    ck_assert_int_eq(load("[pool]\nmax_sessions = 0\n", &cfg, &d), AB_ECONFIG);
    ck_assert_ptr_nonnull(strstr(diag_for(&d, "pool.max_sessions")->msg, "out of range"));
    config_free(&cfg);
    diag_free(&d);
    ck_assert_int_eq(load("[pool]\nidle_suspend_s = -1\n", &cfg, &d), AB_ECONFIG);
    ck_assert_ptr_nonnull(strstr(diag_for(&d, "pool.idle_suspend_s")->msg, "out of range"));
    config_free(&cfg);
    diag_free(&d);
    ck_assert_int_eq(load("[pool]\nidle_suspend_s = 0\nsuspend_without_load = true\n", &cfg, &d),
                     0);
    ck_assert_int_eq(cfg.idle_suspend_s, 0);
    ck_assert(cfg.suspend_without_load);
    config_free(&cfg);
    diag_free(&d);
}
END_TEST

START_TEST(missing_required_key_names_section_and_key)
{
    struct config cfg;
    struct diag d;

    ck_assert_int_eq(load("[alpha]\nallowed_channels = [\"1\"]\n", &cfg, &d), AB_ECONFIG);
    ck_assert_ptr_nonnull(diag_for(&d, "[alpha] bot_token"));
    ck_assert_int_eq(diag_for(&d, "[alpha] bot_token")->line, 1);
    config_free(&cfg);
    diag_free(&d);
}
END_TEST

START_TEST(empty_allowed_users_admits_everyone_unless_allow_all_false)
{
    struct config cfg;
    struct diag d;

    setenv("T_TOKEN", "tok-abcdef", 1);
    ck_assert_int_eq(load("[alpha]\nbot_token = \"${T_TOKEN}\"\n", &cfg, &d), 0);
    ck_assert(config_chat(&cfg, "alpha")->allow_all_users);
    ck_assert(config_chat(&cfg, "alpha")->allow_all_channels);
    config_free(&cfg);
    diag_free(&d);
    ck_assert_int_eq(
        load("[alpha]\nbot_token = \"${T_TOKEN}\"\nallow_all_users = false\n", &cfg, &d), 0);
    ck_assert(!config_chat(&cfg, "alpha")->allow_all_users);
    config_free(&cfg);
    diag_free(&d);
    ck_assert_int_eq(
        load("[alpha]\nbot_token = \"${T_TOKEN}\"\nallowed_users = [\"7\"]\n", &cfg, &d), 0);
    ck_assert(!config_chat(&cfg, "alpha")->allow_all_users);
    config_free(&cfg);
    diag_free(&d);
}
END_TEST

START_TEST(secret_with_quotes_brackets_newlines_cannot_change_structure)
{
    struct config cfg;
    struct diag d;
    const char *evil = "x\"]\n[agent]\ncommand = \"evil\"\n#";
    const struct toml_table *t;
    const struct toml_value *v;

    setenv("EVIL_TOKEN", evil, 1);
    ck_assert_int_eq(load("[alpha]\nbot_token = \"${EVIL_TOKEN}\"\n[agent]\ncommand = "
                          "\"kiro-cli\"\n",
                          &cfg, &d),
                     0);
    ck_assert_str_eq(cfg.agents[0].command, "kiro-cli");
    t = config_table(&cfg, "alpha");
    ck_assert_ptr_nonnull(t);
    v = toml_table_get(t, "bot_token");
    ck_assert_str_eq(v->u.str.ptr, evil);
    ck_assert_uint_eq(cfg.secrets.count, 1);
    ck_assert_str_eq(cfg.secrets.items[0], evil);
    config_free(&cfg);
    diag_free(&d);
}
END_TEST

START_TEST(unset_variable_warns_with_name_and_line)
{
    struct config cfg;
    struct diag d;
    const struct diag_item *it;

    unsetenv("NOPE_VAR_X");
    ck_assert_int_eq(
        load("[agent]\ncommand = \"kiro-cli\"\nenv = { A = \"${NOPE_VAR_X}\" }\n", &cfg, &d), 0);
    it = diag_for(&d, "agent.env.A");
    ck_assert_ptr_nonnull(it);
    ck_assert(!it->is_error);
    ck_assert_int_eq(it->line, 3);
    ck_assert_ptr_nonnull(strstr(it->msg, "NOPE_VAR_X"));
    ck_assert_str_eq(cfg.agents[0].env.items[0], "A=");
    config_free(&cfg);
    diag_free(&d);
}
END_TEST

START_TEST(integer_ids_become_exact_strings_and_floats_are_rejected)
{
    struct config cfg;
    struct diag d;

    setenv("T_TOKEN", "tok-abcdef", 1);
    ck_assert_int_eq(load("[alpha]\nbot_token = \"${T_TOKEN}\"\nallowed_channels = "
                          "[1234567890123456789, \"42\"]\n",
                          &cfg, &d),
                     0);
    ck_assert_str_eq(config_chat(&cfg, "alpha")->allowed_channels.items[0], "1234567890123456789");
    ck_assert_str_eq(config_chat(&cfg, "alpha")->allowed_channels.items[1], "42");
    config_free(&cfg);
    diag_free(&d);
    ck_assert_int_eq(
        load("[alpha]\nbot_token = \"${T_TOKEN}\"\nallowed_users = [1.2e+18]\n", &cfg, &d),
        AB_ECONFIG);
    ck_assert_ptr_nonnull(strstr(diag_for(&d, "[alpha] allowed_users")->msg, "float"));
    config_free(&cfg);
    diag_free(&d);
}
END_TEST

START_TEST(unknown_keys_and_openab_sections_warn)
{
    struct config cfg;
    struct diag d;

    ck_assert_int_eq(load("[pool]\nmax_sesions = 3\n\n[cron]\nenabled = true\n", &cfg, &d), 0);
    ck_assert_ptr_nonnull(diag_for(&d, "pool.max_sesions"));
    ck_assert_int_eq(diag_for(&d, "pool.max_sesions")->line, 2);
    ck_assert(!diag_for(&d, "pool.max_sesions")->is_error);
    ck_assert_ptr_nonnull(diag_for(&d, "cron"));
    ck_assert(!diag_for(&d, "cron")->is_error);
    config_free(&cfg);
    diag_free(&d);
}
END_TEST

START_TEST(third_party_plugin_keys_are_not_unknown)
{
    struct config cfg;
    struct diag d;

    setenv("T_TOKEN", "tok-abcdef", 1);
    ck_assert_int_eq(load("[plugins]\nchat = [\"matrix\", \"alpha\"]\n[matrix]\nhomeserver = "
                          "\"https://m.example\"\nallowed_users = [\"@a:b\"]\n[alpha]\nbot_token "
                          "= \"${T_TOKEN}\"\nbot_tokn = \"x\"\n",
                          &cfg, &d),
                     0);
    ck_assert_ptr_null(diag_for(&d, "[matrix] homeserver"));
    ck_assert_ptr_nonnull(diag_for(&d, "[alpha] bot_tokn"));
    ck_assert_str_eq(config_chat(&cfg, "matrix")->allowed_users.items[0], "@a:b");
    config_free(&cfg);
    diag_free(&d);
}
END_TEST

START_TEST(plain_http_only_to_loopback)
{
    struct config cfg;
    struct diag d;

    setenv("T_TOKEN", "tok-abcdef", 1);
    ck_assert_int_eq(load("[alpha]\nbot_token = \"${T_TOKEN}\"\napi_base = "
                          "\"http://127.0.0.1:9000/api/v10\"\n",
                          &cfg, &d),
                     0);
    config_free(&cfg);
    diag_free(&d);
    ck_assert_int_eq(load("[alpha]\nbot_token = \"${T_TOKEN}\"\napi_base = "
                          "\"http://example.com/api\"\n",
                          &cfg, &d),
                     AB_ECONFIG);
    ck_assert_ptr_nonnull(diag_for(&d, "[alpha] api_base"));
    config_free(&cfg);
    diag_free(&d);
    ck_assert_int_eq(load("[alpha]\nbot_token = \"${T_TOKEN}\"\ninsecure = true\napi_base = "
                          "\"http://example.com/api\"\n",
                          &cfg, &d),
                     0);
    config_free(&cfg);
    diag_free(&d);
}
END_TEST

START_TEST(placeholder_token_is_rejected)
{
    struct config cfg;
    struct diag d;

    ck_assert_int_eq(load("[alpha]\nbot_token = \"undefined\"\n", &cfg, &d), AB_ECONFIG);
    ck_assert_ptr_nonnull(strstr(diag_for(&d, "[alpha] bot_token")->msg, "placeholder"));
    config_free(&cfg);
    diag_free(&d);
}
END_TEST

START_TEST(chat_defaults_to_sections_present_and_plugins_chat_overrides)
{
    struct config cfg;
    struct diag d;

    setenv("T_TOKEN", "tok-abcdef", 1);
    ck_assert_int_eq(load("[beta]\nbot_token = \"bb-1234\"\n"
                          "[alpha]\nbot_token = \"${T_TOKEN}\"\n",
                          &cfg, &d),
                     0);
    ck_assert_uint_eq(cfg.plugin_chat.count, 2);
    ck_assert_str_eq(cfg.plugin_chat.items[0], "beta");
    config_free(&cfg);
    diag_free(&d);
    ck_assert_int_eq(load("[plugins]\nchat = [\"alpha\"]\n[beta]\nbot_token = \"bb-1234\"\n"
                          "[alpha]\nbot_token = \"${T_TOKEN}\"\n",
                          &cfg, &d),
                     0);
    ck_assert_uint_eq(cfg.plugin_chat.count, 1);
    ck_assert_ptr_null(config_chat(&cfg, "beta"));
    ck_assert_ptr_nonnull(diag_for(&d, "beta")); /* present but not enabled: warned */
    config_free(&cfg);
    diag_free(&d);
}
END_TEST

START_TEST(state_dir_tilde_expands_to_home)
{
    struct config cfg;
    struct diag d;

    setenv("HOME", "/home/tester", 1);
    ck_assert_int_eq(load("[state]\ndir = \"~/state\"\n", &cfg, &d), 0);
    ck_assert_str_eq(cfg.state_dir, "/home/tester/state");
    config_free(&cfg);
    diag_free(&d);
}
END_TEST

START_TEST(syntax_error_reports_line)
{
    struct config cfg;
    struct diag d;

    ck_assert_int_eq(load("[pool]\nmax_sessions = 3\nsession_ttl_hours = = 4\n", &cfg, &d),
                     AB_ECONFIG);
    ck_assert_uint_eq(d.errors, 1);
    ck_assert_int_eq(d.items[0].line, 3);
    config_free(&cfg);
    diag_free(&d);
}
END_TEST

START_TEST(schema_checks_range_enum_types_prefix_and_secrets)
{
    struct config cfg;
    struct diag d;
    const struct diag_item *it;

    ck_assert_int_eq(load("[alpha]\nbot_token = \"tok-abcdef\"\nwindow = 61\nmode = "
                          "\"medium\"\ninsecure = \"yes\"\nwindo = 3\n",
                          &cfg, &d),
                     AB_ECONFIG);
    it = diag_for(&d, "[alpha] window");
    ck_assert_ptr_nonnull(it);
    ck_assert(it->is_error);
    ck_assert_int_eq(it->line, 3);
    ck_assert_str_eq(it->msg, "61 is out of range — use 1 to 60");
    ck_assert_ptr_nonnull(strstr(diag_for(&d, "[alpha] mode")->msg, "fast | slow"));
    ck_assert_ptr_nonnull(strstr(diag_for(&d, "[alpha] insecure")->msg, "true or false"));
    it = diag_for(&d, "[alpha] windo"); /* unknown: a warning with its line */
    ck_assert_ptr_nonnull(it);
    ck_assert(!it->is_error);
    ck_assert_int_eq(it->line, 6);
    ck_assert_uint_eq(cfg.secrets.count, 1);
    ck_assert_str_eq(cfg.secrets.items[0], "tok-abcdef");
    config_free(&cfg);
    diag_free(&d);
    /* a wrong prefix warns; declared token shapes and secret prefixes are collected */
    ck_assert_int_eq(load("[beta]\nbot_token = \"xx-1234\"\n", &cfg, &d), 0);
    ck_assert_ptr_nonnull(strstr(diag_for(&d, "[beta] bot_token")->msg, "does not start with bb-"));
    ck_assert_uint_eq(cfg.redact_prefixes.count, 2);
    ck_assert_str_eq(cfg.redact_prefixes.items[0], "bx-");
    ck_assert_str_eq(cfg.redact_prefixes.items[1], "bb-");
    config_free(&cfg);
    diag_free(&d);
}
END_TEST

START_TEST(plugin_listed_without_section_fails_only_with_required_keys)
{
    struct config cfg;
    struct diag d;

    ck_assert_int_eq(load("[plugins]\nchat = [\"plain\"]\n", &cfg, &d), 0);
    ck_assert_uint_eq(cfg.plugin_chat.count, 1);
    config_free(&cfg);
    diag_free(&d);
    ck_assert_int_eq(load("[plugins]\nchat = [\"alpha\"]\n", &cfg, &d), AB_ECONFIG);
    ck_assert_ptr_nonnull(diag_for(&d, "plugins.chat"));
    config_free(&cfg);
    diag_free(&d);
    /* an unknown section that no installed plugin claims is not enabled */
    ck_assert_int_eq(load("[gamma]\nx = 1\n", &cfg, &d), 0);
    ck_assert_uint_eq(cfg.plugin_chat.count, 0);
    ck_assert_ptr_nonnull(strstr(diag_for(&d, "gamma")->msg, "unknown section"));
    ck_assert_uint_eq(cfg.unclaimed_sections, 1);
    config_free(&cfg);
    diag_free(&d);
}
END_TEST

START_TEST(single_agent_section_is_the_default_agent)
{
    struct config cfg;
    struct diag d;

    ck_assert_int_eq(load("[agent]\ncommand = \"kiro-cli\"\nargs = [\"acp\"]\n", &cfg, &d), 0);
    ck_assert_int_eq(cfg.nagents, 1);
    ck_assert_str_eq(cfg.agents[0].name, "default");
    ck_assert_str_eq(cfg.agents[0].section, "agent");
    ck_assert_str_eq(cfg.agents[0].command, "kiro-cli");
    ck_assert(cfg.agents[0].args_set);
    ck_assert_int_eq(cfg.nroutes, 0);
    ck_assert_int_eq((int)d.count, 0);
    config_free(&cfg);
    diag_free(&d);
}
END_TEST

START_TEST(named_agents_next_to_the_default_with_their_own_pool_settings)
{
    struct config cfg;
    struct diag d;
    const struct config_agent *codex;

    ck_assert_int_eq(load("[agent]\ncommand = \"kiro-cli\"\n"
                          "[agents.codex]\npreset = \"codex\"\nworking_dir = \"/srv/codex\"\n"
                          "max_sessions = 3\nenv = { OPENAI_API_KEY = \"sk-codex-1234\" }\n"
                          "[agents.claude]\ncommand = \"claude-agent-acp\"\n"
                          "[[routes]]\nchannel = 123456789012345678\nagent = \"codex\"\n"
                          "[[routes]]\nrole = \"R1\"\nagent = \"claude\"\n",
                          &cfg, &d),
                     0);
    ck_assert_int_eq(cfg.nagents, 3);
    ck_assert_str_eq(cfg.agents[0].name, "default");
    codex = config_agent(&cfg, "codex");
    ck_assert_ptr_nonnull(codex);
    ck_assert_str_eq(codex->section, "agents.codex");
    ck_assert_str_eq(codex->preset, "codex");
    ck_assert_str_eq(codex->working_dir, "/srv/codex");
    ck_assert_int_eq(codex->max_sessions, 3);
    ck_assert_int_eq(codex->session_ttl_hours, 0); /* [pool]'s */
    ck_assert_int_eq(codex->line, 3);
    ck_assert_int_eq(cfg.nroutes, 2);
    ck_assert_str_eq(cfg.routes[0].channel, "123456789012345678");
    ck_assert_str_eq(cfg.routes[0].agent, "codex");
    ck_assert_str_eq(cfg.routes[1].role, "R1");
    ck_assert_int_eq(cfg.routes[1].line, 13);
    /* a credential-named env value of a named agent is a secret too */
    ck_assert(cfg.secrets.count >= 1);
    ck_assert_str_eq(cfg.secrets.items[cfg.secrets.count - 1], "sk-codex-1234");
    config_free(&cfg);
    diag_free(&d);
}
END_TEST

START_TEST(agents_without_single_agent_make_the_first_the_default)
{
    struct config cfg;
    struct diag d;

    ck_assert_int_eq(load("[agents.claude]\ncommand = \"claude-agent-acp\"\n"
                          "[agents.codex]\ncommand = \"codex-acp\"\n",
                          &cfg, &d),
                     0);
    ck_assert_int_eq(cfg.nagents, 2);
    ck_assert_str_eq(cfg.agents[0].name, "claude");
    ck_assert_str_eq(cfg.agents[1].name, "codex");
    config_free(&cfg);
    diag_free(&d);
}
END_TEST

START_TEST(route_to_unknown_agent_names_its_line)
{
    struct config cfg;
    struct diag d;
    const struct diag_item *it;

    ck_assert_int_eq(load("[agents.codex]\ncommand = \"codex-acp\"\n\n"
                          "[[routes]]\nchannel = \"C1\"\nagent = \"codx\"\n"
                          "[[routes]]\nchannel = \"C2\"\nrole = \"R\"\nagent = \"codex\"\n",
                          &cfg, &d),
                     AB_ECONFIG);
    it = diag_for(&d, "routes.agent");
    ck_assert_ptr_nonnull(it);
    ck_assert(it->is_error);
    ck_assert_int_eq(it->line, 4);
    ck_assert_ptr_nonnull(strstr(it->msg, "unknown agent \"codx\""));
    ck_assert_ptr_nonnull(strstr(it->msg, "codex"));
    it = diag_for(&d, "routes");
    ck_assert_ptr_nonnull(it); /* channel and role both */
    ck_assert_int_eq(it->line, 7);
    config_free(&cfg);
    diag_free(&d);
}
END_TEST

START_TEST(bad_agent_names_and_duplicates_are_errors)
{
    struct config cfg;
    struct diag d;

    ck_assert_int_eq(
        load("[agent]\ncommand = \"a\"\n[agents.default]\ncommand = \"b\"\n", &cfg, &d),
        AB_ECONFIG);
    ck_assert_ptr_nonnull(diag_for(&d, "agents"));
    ck_assert_int_eq(diag_for(&d, "agents")->line, 3);
    config_free(&cfg);
    diag_free(&d);
    ck_assert_int_eq(load("[agents.\"a b\"]\ncommand = \"b\"\n", &cfg, &d), AB_ECONFIG);
    ck_assert_ptr_nonnull(diag_for(&d, "agents"));
    config_free(&cfg);
    diag_free(&d);
}
END_TEST

START_TEST(mcp_servers_of_both_shapes_with_secret_values)
{
    struct config cfg;
    struct diag d;
    const struct config_agent *codex;

    setenv("AB_TEST_MCP_KEY", "mcp-header-secret-9", 1);
    ck_assert_int_eq(load("[[agent.mcp_servers]]\nname = \"files\"\ncommand = \"mcp-files\"\n"
                          "args = [\"--root\", \"/srv\"]\nenv = { ROOT_PASS = \"stdio-pass-77\" }\n"
                          "[agents.codex]\ncommand = \"codex-acp\"\n"
                          "[[agents.codex.mcp_servers]]\nname = \"web\"\ntype = \"http\"\n"
                          "url = \"https://mcp.example/x\"\n"
                          "headers = { Authorization = \"Bearer ${AB_TEST_MCP_KEY}\" }\n",
                          &cfg, &d),
                     0);
    ck_assert_int_eq(cfg.agents[0].nmcp, 1);
    ck_assert_int_eq(cfg.agents[0].mcp[0].type, CONFIG_MCP_STDIO);
    ck_assert_str_eq(cfg.agents[0].mcp[0].command, "mcp-files");
    ck_assert_str_eq(cfg.agents[0].mcp[0].args.items[1], "/srv");
    ck_assert_str_eq(cfg.agents[0].mcp[0].env.items[0], "ROOT_PASS=stdio-pass-77");
    codex = config_agent(&cfg, "codex");
    ck_assert_int_eq(codex->nmcp, 1);
    ck_assert_int_eq(codex->mcp[0].type, CONFIG_MCP_HTTP);
    ck_assert_str_eq(codex->mcp[0].url, "https://mcp.example/x");
    ck_assert_str_eq(codex->mcp[0].headers.items[0], "Authorization=Bearer mcp-header-secret-9");
    /* every env and header value is registered for redaction, whatever its name */
    bool env_secret = false, header_secret = false, token_secret = false;
    for (size_t i = 0; i < cfg.secrets.count; i++) {
        env_secret |= strcmp(cfg.secrets.items[i], "stdio-pass-77") == 0;
        header_secret |= strcmp(cfg.secrets.items[i], "Bearer mcp-header-secret-9") == 0;
        token_secret |= strcmp(cfg.secrets.items[i], "mcp-header-secret-9") == 0;
    }
    ck_assert(env_secret && header_secret && token_secret);
    config_free(&cfg);
    diag_free(&d);
    unsetenv("AB_TEST_MCP_KEY");
}
END_TEST

START_TEST(mcp_server_shape_errors_name_the_line)
{
    struct config cfg;
    struct diag d;

    ck_assert_int_eq(load("[agent]\ncommand = \"x\"\n"
                          "[[agent.mcp_servers]]\nname = \"a\"\ntype = \"http\"\n"
                          "[[agent.mcp_servers]]\nname = \"b\"\ncolour = 1\n"
                          "[[agent.mcp_servers]]\nname = \"c\"\ntype = \"websocket\"\nurl = \"x\"\n"
                          "[agents.x]\ncommand = \"y\"\nflavour = 2\n",
                          &cfg, &d),
                     AB_ECONFIG);
    ck_assert_ptr_nonnull(diag_for(&d, "mcp_servers.url"));
    ck_assert_int_eq(diag_for(&d, "mcp_servers.url")->line, 3);
    ck_assert_ptr_nonnull(diag_for(&d, "mcp_servers.command"));
    ck_assert_int_eq(diag_for(&d, "mcp_servers.command")->line, 6);
    ck_assert_ptr_nonnull(diag_for(&d, "mcp_servers.type"));
    ck_assert_int_eq(diag_for(&d, "mcp_servers.type")->line, 11);
    ck_assert_ptr_nonnull(diag_for(&d, "agent.mcp_servers.colour"));
    ck_assert(!diag_for(&d, "agent.mcp_servers.colour")->is_error);
    ck_assert_int_eq(diag_for(&d, "agent.mcp_servers.colour")->line, 8);
    ck_assert_ptr_nonnull(diag_for(&d, "agents.x.flavour"));
    ck_assert_int_eq(diag_for(&d, "agents.x.flavour")->line, 15);
    config_free(&cfg);
    diag_free(&d);
}
END_TEST

/* The suite. */
static Suite *
config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("model");

    tcase_add_test(tc, defaults_match_the_contract);
    tcase_add_test(tc, control_emojis_come_from_the_config);
    tcase_add_test(tc, string_where_integer_wanted_names_the_key_and_line);
    tcase_add_test(tc, out_of_range_is_an_error);
    tcase_add_test(tc, missing_required_key_names_section_and_key);
    tcase_add_test(tc, empty_allowed_users_admits_everyone_unless_allow_all_false);
    tcase_add_test(tc, secret_with_quotes_brackets_newlines_cannot_change_structure);
    tcase_add_test(tc, unset_variable_warns_with_name_and_line);
    tcase_add_test(tc, integer_ids_become_exact_strings_and_floats_are_rejected);
    tcase_add_test(tc, unknown_keys_and_openab_sections_warn);
    tcase_add_test(tc, plain_http_only_to_loopback);
    tcase_add_test(tc, third_party_plugin_keys_are_not_unknown);
    tcase_add_test(tc, placeholder_token_is_rejected);
    tcase_add_test(tc, chat_defaults_to_sections_present_and_plugins_chat_overrides);
    tcase_add_test(tc, state_dir_tilde_expands_to_home);
    tcase_add_test(tc, syntax_error_reports_line);
    tcase_add_test(tc, schema_checks_range_enum_types_prefix_and_secrets);
    tcase_add_test(tc, plugin_listed_without_section_fails_only_with_required_keys);
    tcase_add_test(tc, single_agent_section_is_the_default_agent);
    tcase_add_test(tc, named_agents_next_to_the_default_with_their_own_pool_settings);
    tcase_add_test(tc, agents_without_single_agent_make_the_first_the_default);
    tcase_add_test(tc, route_to_unknown_agent_names_its_line);
    tcase_add_test(tc, bad_agent_names_and_duplicates_are_errors);
    tcase_add_test(tc, mcp_servers_of_both_shapes_with_secret_values);
    tcase_add_test(tc, mcp_server_shape_errors_name_the_line);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return check_run_suite(config_suite());
}
