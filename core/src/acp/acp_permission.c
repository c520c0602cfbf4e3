/* Permission requests; see acp_permission.h. */
#include "acp/acp_permission.h"

#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#include "acp/acp_client.h"

/* The string member @name of @obj, or NULL. */
static const char *
acp_permission_str(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Parse a request; see the header. */
int
acp_permission_new(struct acp_client *c, const cJSON *id, const cJSON *params,
                   struct acp_permission **out)
{
    struct acp_permission *req;
    const cJSON *options, *o, *tool;
    size_t n = 0;
    int rc = AB_ENOMEM;

    if (!(req = calloc(1, sizeof(*req))))
        return AB_ENOMEM;
    req->client = c;
    if (!(req->request = cJSON_Duplicate(params, 1)) || !(req->id = cJSON_Duplicate(id, 1)))
        goto fail;
    rc = AB_EPROTO;
    options = cJSON_GetObjectItemCaseSensitive(req->request, "options");
    if (!(req->session_id = acp_permission_str(req->request, "sessionId")) ||
        !cJSON_IsArray(options))
        goto fail;
    rc = AB_ENOMEM;
    if (!(req->opt = calloc((size_t)cJSON_GetArraySize(options) + 1, sizeof(*req->opt))))
        goto fail;
    cJSON_ArrayForEach(o, options)
    {
        if (!acp_permission_str(o, "optionId"))
            continue;
        req->opt[n].id = acp_permission_str(o, "optionId");
        req->opt[n].name = acp_permission_str(o, "name");
        req->opt[n].kind = acp_permission_str(o, "kind");
        n++;
    }
    req->options = req->opt;
    req->option_count = n;
    tool = cJSON_GetObjectItemCaseSensitive(req->request, "toolCall");
    req->tool_call_id = acp_permission_str(tool, "toolCallId");
    req->title = acp_permission_str(tool, "title");
    req->tool_kind = acp_permission_str(tool, "kind");
    *out = req;
    return 0;

fail:
    acp_permission_free(req);
    return rc;
}

/* The first option whose kind is @kind. */
static const char *
acp_permission_by_kind(const struct acp_permission *req, const char *kind)
{
    size_t i;

    for (i = 0; i < req->option_count; i++)
        if (req->options[i].kind && strcmp(req->options[i].kind, kind) == 0)
            return req->options[i].id;
    return NULL;
}

/* Pick the agent's option for a decision; see the header. */
const char *
acp_permission_pick(const struct acp_permission *req, enum acp_perm_decision d)
{
    const char *id = NULL;

    switch (d) {
    case ACP_PERM_ALLOW_ALWAYS:
        if (!(id = acp_permission_by_kind(req, "allow_always")))
            id = acp_permission_by_kind(req, "allow_once");
        break;
    case ACP_PERM_ALLOW_ONCE:
        if (!(id = acp_permission_by_kind(req, "allow_once")))
            id = acp_permission_by_kind(req, "allow_always");
        break;
    case ACP_PERM_REJECT:
        if (!(id = acp_permission_by_kind(req, "reject_once")))
            id = acp_permission_by_kind(req, "reject_always");
        break;
    case ACP_PERM_CANCELLED: break;
    }
    return id;
}

/* Build the answer object; see the header. */
cJSON *
acp_permission_outcome(const struct acp_permission *req, enum acp_perm_decision d)
{
    const char *id = acp_permission_pick(req, d);
    cJSON *result = cJSON_CreateObject();
    cJSON *outcome = cJSON_AddObjectToObject(result, "outcome");

    if (!outcome || !cJSON_AddStringToObject(outcome, "outcome", id ? "selected" : "cancelled") ||
        (id && !cJSON_AddStringToObject(outcome, "optionId", id))) {
        cJSON_Delete(result);
        return NULL;
    }
    return result;
}

/* Answer and free; see the header. */
int
acp_permission_resolve(struct acp_permission *req, enum acp_perm_decision d)
{
    return acp_client_permission_answer(req->client, req, d);
}

/* Free a request. */
void
acp_permission_free(struct acp_permission *req)
{
    if (!req)
        return;
    cJSON_Delete(req->request);
    cJSON_Delete(req->id);
    free(req->opt);
    free(req);
}
