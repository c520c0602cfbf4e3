/* What a session lets a user choose (its mode, its model) and how to switch it, read
 * from what the agent advertised: session/new's `configOptions` (category mode or
 * model, switched with session/set_config_option), else the legacy `modes`
 * (session/set_mode) and the unstable `models` (session/set_model). Nothing the agent
 * did not advertise is ever offered. */
#ifndef AB_ACP_OPTIONS_H
#define AB_ACP_OPTIONS_H

#include <stddef.h>

#include <cjson/cJSON.h>

enum acp_option_kind {
    ACP_OPTION_MODE,
    ACP_OPTION_MODEL,
};

enum acp_option_via {
    ACP_VIA_CONFIG,    /* session/set_config_option {configId, value} */
    ACP_VIA_SET_MODE,  /* session/set_mode {modeId} */
    ACP_VIA_SET_MODEL, /* session/set_model {modelId} */
};

#define ACP_OPTIONS_MAX 64 /* choices listed at most; the rest is ignored */

struct acp_choice {
    const char *id;   /* lent from the advertised JSON */
    const char *name; /* lent; the id when the agent gave no name */
};

struct acp_choices {
    enum acp_option_via via;
    const char *config_id; /* lent: the config option's id (ACP_VIA_CONFIG) */
    const char *current;   /* lent: the current id, or NULL */
    struct acp_choice items[ACP_OPTIONS_MAX];
    size_t count;
};

/* The choices of @kind in @modes, @models and @config (each lent, may be NULL); every
 * pointer in @out is lent from them. Returns 0, or AB_ENOENT when the agent advertised
 * none. Malformed entries are skipped. */
int acp_options_get(const cJSON *modes, const cJSON *models, const cJSON *config,
                    enum acp_option_kind kind, struct acp_choices *out);

/* The choice of @out whose id (or, ignoring case, name) is @want; NULL if none. */
const struct acp_choice *acp_options_find(const struct acp_choices *c, const char *want);

/* Readable name of @kind ("mode", "model"). */
const char *acp_option_kind_name(enum acp_option_kind kind);

#endif
