/* The plugin loader against real fixture objects: accepted, or refused with a
 * message that names the ABI and says what to do. */
#include <check.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/loader.h"
#include "../unit/support/check_runner.h"

static char fixture_path[4096];

/* Path of a fixture in the build dir. */
static const char *
fixture(const char *file)
{
    const char *dir = getenv("AB_FIXTURE_DIR");

    ck_assert_ptr_nonnull(dir);
    snprintf(fixture_path, sizeof(fixture_path), "%s/%s", dir, file);
    return fixture_path;
}

START_TEST(valid_plugin_is_accepted)
{
    struct plugin_set set = {0};

    ck_assert_int_eq(plugin_set_load(&set, fixture("chat-fixture.so")), 0);
    ck_assert_uint_eq(set.count, 1);
    ck_assert_ptr_nonnull(set.items[0].desc);
    ck_assert_str_eq(set.items[0].desc->name, "fixture");
    char abi[32];
    snprintf(abi, sizeof(abi), "%d.%d", AB_ABI_MAJOR, AB_ABI_MINOR);
    ck_assert_str_eq(set.items[0].abi, abi);
    ck_assert_ptr_nonnull(plugin_set_find(&set, AB_PLUGIN_CHAT, "fixture"));
    ck_assert_ptr_null(plugin_set_find(&set, AB_PLUGIN_AGENT, "fixture"));
    ck_assert_uint_eq(plugin_set_refused(&set), 0);
    plugin_set_free(&set);
}
END_TEST

START_TEST(wrong_major_is_refused_with_both_abis_and_advice)
{
    struct plugin_set set = {0};
    char want[128];

    ck_assert_int_eq(plugin_set_load(&set, fixture("chat-wrongmajor.so")), AB_EABI);
    snprintf(want, sizeof(want), "built for ABI %d.%d, this agent-broker speaks %d.%d",
             AB_ABI_MAJOR + 1, AB_ABI_MINOR, AB_ABI_MAJOR, AB_ABI_MINOR);
    ck_assert_ptr_nonnull(strstr(set.items[0].reason, want));
    snprintf(want, sizeof(want), "rebuild it against agent-broker-plugin %d.x or remove the file",
             AB_ABI_MAJOR);
    ck_assert_ptr_nonnull(strstr(set.items[0].reason, want));
    ck_assert_ptr_null(set.items[0].handle);
    ck_assert_ptr_null(plugin_set_find(&set, AB_PLUGIN_CHAT, "wrongmajor"));
    plugin_set_free(&set);
}
END_TEST

START_TEST(newer_minor_is_refused)
{
    struct plugin_set set = {0};
    char want[128];

    ck_assert_int_eq(plugin_set_load(&set, fixture("chat-newminor.so")), AB_EABI);
    snprintf(want, sizeof(want), "built for ABI %d.%d, newer than this agent-broker's %d.%d",
             AB_ABI_MAJOR, AB_ABI_MINOR + 1, AB_ABI_MAJOR, AB_ABI_MINOR);
    ck_assert_ptr_nonnull(strstr(set.items[0].reason, want));
    ck_assert_ptr_nonnull(strstr(set.items[0].reason, "upgrade agent-broker"));
    plugin_set_free(&set);
}
END_TEST

START_TEST(missing_mandatory_op_is_refused)
{
    struct plugin_set set = {0};

    ck_assert_int_eq(plugin_set_load(&set, fixture("chat-nosend.so")), AB_EMISSINGOP);
    ck_assert_ptr_nonnull(strstr(set.items[0].reason, "mandatory operation 'send'"));
    plugin_set_free(&set);
}
END_TEST

START_TEST(config_schema_is_checked_before_acceptance)
{
    struct plugin_set set = {0};

    ck_assert_int_eq(plugin_set_load(&set, fixture("chat-badkey.so")), AB_EINVAL);
    ck_assert_ptr_nonnull(
        strstr(set.items[0].reason, "config key window: default \"0\" is not a valid value"));
    ck_assert_ptr_null(set.items[0].desc);
    plugin_set_free(&set);
}
END_TEST

START_TEST(shared_object_without_descriptor_is_refused)
{
    struct plugin_set set = {0};

    ck_assert_int_eq(plugin_set_load(&set, fixture("chat-nodesc.so")), AB_ENOTPLUGIN);
    ck_assert_ptr_nonnull(strstr(set.items[0].reason, "exports no 'ab_plugin' descriptor"));
    plugin_set_free(&set);
}
END_TEST

START_TEST(text_file_named_so_is_refused)
{
    struct plugin_set set = {0};

    ck_assert_int_eq(plugin_set_load(&set, fixture("chat-text.so")), AB_ENOTPLUGIN);
    ck_assert_ptr_nonnull(strstr(set.items[0].reason, "cannot be loaded"));
    ck_assert_ptr_nonnull(strstr(set.items[0].reason, "remove the file"));
    plugin_set_free(&set);
}
END_TEST

START_TEST(second_plugin_with_same_name_is_refused)
{
    struct plugin_set set = {0};
    char first[4096], dir2[4096];
    char *dirs[3];

    snprintf(first, sizeof(first), "%s", getenv("AB_FIXTURE_DIR"));
    snprintf(dir2, sizeof(dir2), "%s/dup", getenv("AB_FIXTURE_DIR"));
    dirs[0] = first;
    dirs[1] = dir2;
    dirs[2] = NULL;
    ck_assert_int_eq(plugin_set_scan(&set, dirs), 0);
    /* fixture + the five refused fixtures + text + dup */
    const struct plugin *dup = NULL;
    for (size_t i = 0; i < set.count; i++)
        if (strstr(set.items[i].path, "/dup/"))
            dup = &set.items[i];
    ck_assert_ptr_nonnull(dup);
    ck_assert_int_eq(dup->status, AB_EDUP);
    ck_assert_ptr_nonnull(strstr(dup->reason, "a chat plugin named 'fixture' was already loaded"));
    ck_assert_ptr_nonnull(strstr(dup->reason, "remove one of them"));
    ck_assert_ptr_nonnull(plugin_set_find(&set, AB_PLUGIN_CHAT, "fixture"));
    ck_assert_uint_eq(plugin_set_refused(&set), 7);
    plugin_set_free(&set);
}
END_TEST

START_TEST(search_path_order_is_config_then_env_then_installed)
{
    const char *cfg[] = {"/opt/one", "/opt/two"};
    char **dirs = NULL;

    setenv("AGENT_BROKER_PLUGIN_PATH", "/env/a:/env/b:/opt/one", 1);
    ck_assert_int_eq(plugin_dirs(cfg, 2, &dirs), 0);
    ck_assert_str_eq(dirs[0], "/opt/one");
    ck_assert_str_eq(dirs[1], "/opt/two");
    ck_assert_str_eq(dirs[2], "/env/a");
    ck_assert_str_eq(dirs[3], "/env/b");
    ck_assert_str_eq(dirs[4], AB_PLUGIN_DIR);
    plugin_dirs_free(dirs);
    unsetenv("AGENT_BROKER_PLUGIN_PATH");
}
END_TEST

START_TEST(file_name_must_match_descriptor)
{
    char tmp[] = "/tmp/ab-abi-XXXXXX";
    char dst[4096], cmd[8400];
    struct plugin_set set = {0};

    ck_assert_ptr_nonnull(mkdtemp(tmp));
    snprintf(dst, sizeof(dst), "%s/chat-other.so", tmp);
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", fixture("chat-fixture.so"), dst);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(plugin_set_load(&set, dst), AB_EINVAL);
    ck_assert_ptr_nonnull(strstr(set.items[0].reason, "must be chat-fixture.so"));
    plugin_set_free(&set);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* plugin_set_unload_unused's test: keep the plugin named in @arg. */
static bool
keep_named(const struct plugin *p, void *arg)
{
    return arg && strcmp(p->desc->name, arg) == 0;
}

START_TEST(unused_plugins_leave_the_process_and_their_descriptors_stay)
{
    /* Real plugins of the build tree: the Slack one (config keys with defaults, enum
     * values, prefixes, help; redaction prefixes) and the Claude preset. */
    const char *root = getenv("AB_BUILD_ROOT");
    char slack[4096], claude[4096], want_help[512], want_cmd[256];
    struct plugin_set set = {0};
    const struct ab_plugin_desc *ds, *dc;
    const struct ab_config_key *k;
    void *h;

    ck_assert_ptr_nonnull(root);
    snprintf(slack, sizeof(slack), "%s/plugins/chat-slack/chat-slack.so", root);
    snprintf(claude, sizeof(claude), "%s/plugins/agent-claude/agent-claude.so", root);
    ck_assert_int_eq(plugin_set_load(&set, slack), 0);
    ck_assert_int_eq(plugin_set_load(&set, claude), 0);
    ds = set.items[0].desc;
    dc = set.items[1].desc;
    ck_assert_ptr_nonnull(ds->config_keys);
    ck_assert_ptr_nonnull(ds->config_keys[0].help);
    snprintf(want_help, sizeof(want_help), "%s", ds->config_keys[0].help);
    snprintf(want_cmd, sizeof(want_cmd), "%s", dc->preset->command);
    /* the Claude plugin is kept, the Slack one leaves */
    ck_assert_uint_eq(plugin_set_unload_unused(&set, keep_named, "claude"), 1);
    ck_assert_ptr_null(set.items[0].handle);
    ck_assert_ptr_nonnull(set.items[1].handle);
    h = dlopen(slack, RTLD_NOW | RTLD_NOLOAD);
    ck_assert_msg(h == NULL, "chat-slack.so is still mapped");
    /* everything the descriptor says is still readable (ASan/valgrind would trap a read
     * of the unmapped plugin), and its operations are gone */
    ck_assert_str_eq(ds->name, "slack");
    ck_assert_str_eq(ds->config_keys[0].help, want_help);
    for (k = ds->config_keys; k->name; k++) {
        ck_assert_uint_gt(strlen(k->name), 0);
        ck_assert(!k->help || strlen(k->help) < 1000);
        ck_assert(!k->def || strlen(k->def) < 1000);
        ck_assert(!k->prefix || strlen(k->prefix) < 100);
        ck_assert(!k->env || strlen(k->env) < 100);
        for (size_t i = 0; k->values && k->values[i]; i++)
            ck_assert_uint_gt(strlen(k->values[i]), 0);
    }
    ck_assert_ptr_nonnull(ds->redact_prefixes);
    ck_assert_uint_ge(strlen(ds->redact_prefixes[0]), 3);
    ck_assert_ptr_null(ds->chat->send);
    ck_assert_ptr_nonnull(plugin_set_find_chat(&set, "slack"));
    /* then the agent one too: its preset's strings are host copies */
    ck_assert_uint_eq(plugin_set_unload_unused(&set, keep_named, NULL), 1);
    ck_assert_str_eq(dc->preset->command, want_cmd);
    for (size_t i = 0; dc->preset->args && dc->preset->args[i]; i++)
        ck_assert_uint_gt(strlen(dc->preset->args[i]), 0);
    for (size_t i = 0; dc->preset->command_names && dc->preset->command_names[i]; i++)
        ck_assert_uint_gt(strlen(dc->preset->command_names[i]), 0);
    ck_assert(!dc->preset->auth_hint || strlen(dc->preset->auth_hint) > 0);
    ck_assert_uint_eq(plugin_set_unload_unused(&set, keep_named, NULL), 0);
    plugin_set_free(&set);
}
END_TEST

/* The suite. */
static Suite *
loader_suite(void)
{
    Suite *s = suite_create("abi-loader");
    TCase *tc = tcase_create("loader");

    tcase_add_test(tc, valid_plugin_is_accepted);
    tcase_add_test(tc, wrong_major_is_refused_with_both_abis_and_advice);
    tcase_add_test(tc, newer_minor_is_refused);
    tcase_add_test(tc, missing_mandatory_op_is_refused);
    tcase_add_test(tc, config_schema_is_checked_before_acceptance);
    tcase_add_test(tc, shared_object_without_descriptor_is_refused);
    tcase_add_test(tc, text_file_named_so_is_refused);
    tcase_add_test(tc, second_plugin_with_same_name_is_refused);
    tcase_add_test(tc, search_path_order_is_config_then_env_then_installed);
    tcase_add_test(tc, file_name_must_match_descriptor);
    tcase_add_test(tc, unused_plugins_leave_the_process_and_their_descriptors_stay);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return check_run_suite(loader_suite());
}
