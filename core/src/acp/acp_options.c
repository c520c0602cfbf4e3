/* Modes and models a session advertises; see acp_options.h. */
#include "acp/acp_options.h"

#include <string.h>
#include <strings.h>

#include <agent-broker/errors.h>

/* A string member of @obj, or NULL. */
static const char *
acp_options_str(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

/* Add one choice to @out unless it is full or @id is missing. */
static void
acp_options_add(struct acp_choices *out, const char *id, const char *name)
{
    if (!id || out->count >= ACP_OPTIONS_MAX)
        return;
    out->items[out->count].id = id;
    out->items[out->count].name = name ? name : id;
    out->count++;
}

/* The values of a select config option: flat [{value, name}] or grouped
 * [{group, name, options:[{value, name}]}]. */
static void
acp_options_select(const cJSON *options, struct acp_choices *out)
{
    const cJSON *o, *inner, *g;

    cJSON_ArrayForEach(o, options)
    {
        if ((inner = cJSON_GetObjectItemCaseSensitive(o, "options")) && cJSON_IsArray(inner)) {
            cJSON_ArrayForEach(g, inner)
                acp_options_add(out, acp_options_str(g, "value"), acp_options_str(g, "name"));
            continue;
        }
        acp_options_add(out, acp_options_str(o, "value"), acp_options_str(o, "name"));
    }
}

/* A select config option of @category in @config, as choices. */
static int
acp_options_from_config(const cJSON *config, const char *category, struct acp_choices *out)
{
    const cJSON *o;

    cJSON_ArrayForEach(o, config)
    {
        const char *cat = acp_options_str(o, "category"), *type = acp_options_str(o, "type");
        const cJSON *cur = cJSON_GetObjectItemCaseSensitive(o, "currentValue");
        if (!cat || strcmp(cat, category) != 0 || !type || strcmp(type, "select") != 0 ||
            !acp_options_str(o, "id"))
            continue;
        out->via = ACP_VIA_CONFIG;
        out->config_id = acp_options_str(o, "id");
        out->current = cJSON_IsString(cur) ? cur->valuestring : NULL;
        acp_options_select(cJSON_GetObjectItemCaseSensitive(o, "options"), out);
        return out->count ? 0 : AB_ENOENT;
    }
    return AB_ENOENT;
}

/* See the header. */
int
acp_options_get(const cJSON *modes, const cJSON *models, const cJSON *config,
                enum acp_option_kind kind, struct acp_choices *out)
{
    const cJSON *legacy = kind == ACP_OPTION_MODE ? modes : models, *list, *o;
    const char *id_key = kind == ACP_OPTION_MODE ? "id" : "modelId";

    memset(out, 0, sizeof(*out));
    /* configOptions supersede the legacy fields when the agent sends both. */
    if (cJSON_IsArray(config) &&
        acp_options_from_config(config, kind == ACP_OPTION_MODE ? "mode" : "model", out) == 0)
        return 0;
    memset(out, 0, sizeof(*out));
    if (!cJSON_IsObject(legacy))
        return AB_ENOENT;
    out->via = kind == ACP_OPTION_MODE ? ACP_VIA_SET_MODE : ACP_VIA_SET_MODEL;
    out->current =
        acp_options_str(legacy, kind == ACP_OPTION_MODE ? "currentModeId" : "currentModelId");
    list = cJSON_GetObjectItemCaseSensitive(legacy, kind == ACP_OPTION_MODE ? "availableModes"
                                                                            : "availableModels");
    cJSON_ArrayForEach(o, list)
        acp_options_add(out, acp_options_str(o, id_key), acp_options_str(o, "name"));
    return out->count ? 0 : AB_ENOENT;
}

/* See the header. */
const struct acp_choice *
acp_options_find(const struct acp_choices *c, const char *want)
{
    for (size_t i = 0; i < c->count; i++)
        if (strcmp(c->items[i].id, want) == 0)
            return &c->items[i];
    for (size_t i = 0; i < c->count; i++)
        if (strcasecmp(c->items[i].name, want) == 0)
            return &c->items[i];
    return NULL;
}

/* See the header. */
const char *
acp_option_kind_name(enum acp_option_kind kind)
{
    return kind == ACP_OPTION_MODE ? "mode" : "model";
}
