/* Modes and models a session advertised: configOptions first, else the legacy modes and
 * models; malformed entries skipped; nothing offered that was not advertised. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#include "../support/check_runner.h"
#include "acp_fixture.h"

#include "acp/acp_options.h"

/* Parse @text (a test literal). */
static cJSON *
json(const char *text)
{
    cJSON *v = cJSON_Parse(text);

    ck_assert_ptr_nonnull(v);
    return v;
}

START_TEST(legacy_modes_and_models_are_listed_with_their_current_choice)
{
    cJSON *modes = json("{\"currentModeId\":\"plan\",\"availableModes\":[{\"id\":\"default\","
                        "\"name\":\"Default\"},{\"id\":\"plan\",\"name\":\"Plan\"},{\"name\":\"no "
                        "id\"},7]}");
    cJSON *models = json("{\"currentModelId\":\"fast\",\"availableModels\":[{\"modelId\":\"fast\"},"
                         "{\"modelId\":\"smart\",\"name\":\"Smart\"}]}");
    struct acp_choices ch;

    ck_assert_int_eq(acp_options_get(modes, models, NULL, ACP_OPTION_MODE, &ch), 0);
    ck_assert_int_eq(ch.via, ACP_VIA_SET_MODE);
    ck_assert_uint_eq(ch.count, 2); /* the entry without an id and the number are skipped */
    ck_assert_str_eq(ch.current, "plan");
    ck_assert_str_eq(ch.items[1].name, "Plan");
    ck_assert_int_eq(acp_options_get(modes, models, NULL, ACP_OPTION_MODEL, &ch), 0);
    ck_assert_int_eq(ch.via, ACP_VIA_SET_MODEL);
    ck_assert_str_eq(ch.items[0].name, "fast"); /* no name: the id */
    /* by id, or by name ignoring case */
    ck_assert_str_eq(acp_options_find(&ch, "SMART")->id, "smart");
    ck_assert_ptr_null(acp_options_find(&ch, "huge"));
    cJSON_Delete(modes);
    cJSON_Delete(models);
}
END_TEST

START_TEST(config_options_supersede_the_legacy_fields_and_may_be_grouped)
{
    cJSON *modes = json("{\"currentModeId\":\"a\",\"availableModes\":[{\"id\":\"a\"}]}");
    cJSON *config =
        json("[{\"id\":\"effort\",\"name\":\"Effort\",\"category\":\"thought_level\",\"type\":"
             "\"select\",\"currentValue\":\"low\",\"options\":[{\"value\":\"low\"}]},"
             "{\"id\":\"m\",\"name\":\"Model\",\"category\":\"model\",\"type\":\"select\","
             "\"currentValue\":\"x1\",\"options\":[{\"group\":\"g\",\"name\":\"G\",\"options\":"
             "[{\"value\":\"x1\",\"name\":\"X one\"},{\"value\":\"x2\"}]},{\"value\":\"y\"}]},"
             "{\"id\":\"md\",\"name\":\"Mode\",\"category\":\"mode\",\"type\":\"select\","
             "\"currentValue\":\"ask\",\"options\":[{\"value\":\"ask\"},{\"value\":\"code\"}]}]");
    struct acp_choices ch;

    ck_assert_int_eq(acp_options_get(modes, NULL, config, ACP_OPTION_MODEL, &ch), 0);
    ck_assert_int_eq(ch.via, ACP_VIA_CONFIG);
    ck_assert_str_eq(ch.config_id, "m");
    ck_assert_uint_eq(ch.count, 3);
    ck_assert_str_eq(ch.items[0].name, "X one");
    ck_assert_str_eq(ch.items[2].id, "y");
    ck_assert_int_eq(acp_options_get(modes, NULL, config, ACP_OPTION_MODE, &ch), 0);
    ck_assert_int_eq(ch.via, ACP_VIA_CONFIG);
    ck_assert_str_eq(ch.current, "ask");
    cJSON_Delete(modes);
    cJSON_Delete(config);
}
END_TEST

START_TEST(nothing_advertised_is_nothing_offered)
{
    cJSON *config = json("[{\"id\":\"b\",\"category\":\"model\",\"type\":\"boolean\","
                         "\"currentValue\":true}]");
    cJSON *empty = json("{\"currentModeId\":\"a\",\"availableModes\":[]}");
    struct acp_choices ch;

    ck_assert_int_eq(acp_options_get(NULL, NULL, NULL, ACP_OPTION_MODE, &ch), AB_ENOENT);
    ck_assert_int_eq(acp_options_get(NULL, NULL, config, ACP_OPTION_MODEL, &ch), AB_ENOENT);
    ck_assert_int_eq(acp_options_get(empty, NULL, NULL, ACP_OPTION_MODE, &ch), AB_ENOENT);
    cJSON_Delete(config);
    cJSON_Delete(empty);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("acp-options");
    TCase *tc = tcase_create("options");

    tcase_add_test(tc, legacy_modes_and_models_are_listed_with_their_current_choice);
    tcase_add_test(tc, config_options_supersede_the_legacy_fields_and_may_be_grouped);
    tcase_add_test(tc, nothing_advertised_is_nothing_offered);
    suite_add_tcase(s, tc);
    return check_run_suite(s);
}
