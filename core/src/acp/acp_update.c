/* session/update parsing into neutral events; see acp_event.h. */
#include <string.h>

#include <agent-broker/errors.h>

#include "acp/acp_event.h"

/* Plan entries beyond this are dropped: a plan is for people to read. */
#define ACP_UPDATE_MAX_PLAN 64

/* The string member @name of @obj, or NULL. */
static const char *
acp_update_str(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Map a ToolCallStatus string. */
static enum acp_tool_status
acp_update_tool_status(const char *s)
{
    if (!s)
        return ACP_TOOL_STATUS_NONE;
    if (strcmp(s, "pending") == 0)
        return ACP_TOOL_PENDING;
    if (strcmp(s, "in_progress") == 0)
        return ACP_TOOL_IN_PROGRESS;
    if (strcmp(s, "completed") == 0)
        return ACP_TOOL_COMPLETED;
    if (strcmp(s, "failed") == 0)
        return ACP_TOOL_FAILED;
    return ACP_TOOL_STATUS_OTHER;
}

/* Fill a tool event; see the header. */
int
acp_update_tool(const cJSON *obj, struct acp_event *ev)
{
    ev->kind = ACP_EV_TOOL_CALL;
    if (!(ev->u.tool.id = acp_update_str(obj, "toolCallId")))
        return AB_EPROTO;
    ev->u.tool.title = acp_update_str(obj, "title");
    ev->u.tool.kind = acp_update_str(obj, "kind");
    ev->u.tool.status = acp_update_tool_status(acp_update_str(obj, "status"));
    ev->u.tool.is_new = false;
    return 0;
}

/* Fill a chunk event from the update's ContentBlock. */
static int
acp_update_chunk(const cJSON *up, struct acp_event *ev, enum acp_event_kind kind)
{
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(up, "content");

    if (!cJSON_IsObject(content))
        return AB_EPROTO;
    ev->kind = kind;
    ev->u.chunk.type = acp_update_str(content, "type");
    ev->u.chunk.message_id = acp_update_str(up, "messageId");
    ev->u.chunk.text = NULL;
    ev->u.chunk.len = 0;
    if (ev->u.chunk.type && strcmp(ev->u.chunk.type, "text") == 0 &&
        (ev->u.chunk.text = acp_update_str(content, "text")))
        ev->u.chunk.len = strlen(ev->u.chunk.text);
    return 0;
}

/* Fill a plan event; entries are stored in @buf. */
static int
acp_update_plan(const cJSON *up, struct acp_event *ev, struct acp_plan_entry *buf)
{
    const cJSON *entries = cJSON_GetObjectItemCaseSensitive(up, "entries"), *e;
    size_t n = 0;

    if (!cJSON_IsArray(entries))
        return AB_EPROTO;
    cJSON_ArrayForEach(e, entries)
    {
        if (n == ACP_UPDATE_MAX_PLAN)
            break;
        if (!acp_update_str(e, "content"))
            continue;
        buf[n].content = acp_update_str(e, "content");
        buf[n].priority = acp_update_str(e, "priority");
        buf[n].status = acp_update_str(e, "status");
        n++;
    }
    ev->kind = ACP_EV_PLAN;
    ev->u.plan.entries = buf;
    ev->u.plan.count = n;
    return 0;
}

/* Fill a usage event; used:null (old claude) is tolerated. */
static int
acp_update_usage(const cJSON *up, struct acp_event *ev)
{
    const cJSON *used = cJSON_GetObjectItemCaseSensitive(up, "used");
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(up, "size");
    const cJSON *cost = cJSON_GetObjectItemCaseSensitive(up, "cost");
    const cJSON *amount = cJSON_GetObjectItemCaseSensitive(cost, "amount");

    ev->kind = ACP_EV_USAGE;
    ev->u.usage.has_used = cJSON_IsNumber(used);
    ev->u.usage.used = cJSON_IsNumber(used) ? used->valuedouble : 0;
    ev->u.usage.size = cJSON_IsNumber(size) ? size->valuedouble : 0;
    ev->u.usage.has_cost = cJSON_IsNumber(amount);
    ev->u.usage.cost = cJSON_IsNumber(amount) ? amount->valuedouble : 0;
    ev->u.usage.currency = acp_update_str(cost, "currency");
    return 0;
}

/* Parse one session/update; see the header. */
int
acp_update_dispatch(const cJSON *params, void (*fn)(void *arg, const struct acp_event *ev),
                    void *arg)
{
    struct acp_plan_entry plan[ACP_UPDATE_MAX_PLAN];
    const cJSON *up = cJSON_GetObjectItemCaseSensitive(params, "update");
    const char *kind = acp_update_str(up, "sessionUpdate");
    struct acp_event ev;
    int rc = 1;

    memset(&ev, 0, sizeof(ev));
    ev.session_id = acp_update_str(params, "sessionId");
    ev.raw = up;
    if (!ev.session_id || !kind)
        return AB_EPROTO;
    if (strcmp(kind, "agent_message_chunk") == 0) {
        rc = acp_update_chunk(up, &ev, ACP_EV_MESSAGE_CHUNK);
    } else if (strcmp(kind, "agent_thought_chunk") == 0) {
        rc = acp_update_chunk(up, &ev, ACP_EV_THOUGHT_CHUNK);
    } else if (strcmp(kind, "user_message_chunk") == 0) {
        rc = acp_update_chunk(up, &ev, ACP_EV_USER_CHUNK);
    } else if (strcmp(kind, "tool_call") == 0) {
        rc = acp_update_tool(up, &ev);
        ev.u.tool.is_new = true;
        if (rc == 0 && ev.u.tool.status == ACP_TOOL_STATUS_NONE)
            ev.u.tool.status = ACP_TOOL_PENDING; /* the schema's default */
    } else if (strcmp(kind, "tool_call_update") == 0) {
        rc = acp_update_tool(up, &ev);
    } else if (strcmp(kind, "plan") == 0) {
        rc = acp_update_plan(up, &ev, plan);
    } else if (strcmp(kind, "available_commands_update") == 0) {
        ev.kind = ACP_EV_COMMANDS;
        rc = cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(up, "availableCommands")) ? 0
                                                                                      : AB_EPROTO;
    } else if (strcmp(kind, "current_mode_update") == 0) {
        ev.kind = ACP_EV_MODE;
        rc = (ev.u.mode_id = acp_update_str(up, "currentModeId")) ? 0 : AB_EPROTO;
    } else if (strcmp(kind, "config_option_update") == 0) {
        ev.kind = ACP_EV_CONFIG_OPTIONS;
        rc = cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(up, "configOptions")) ? 0 : AB_EPROTO;
    } else if (strcmp(kind, "usage_update") == 0) {
        rc = acp_update_usage(up, &ev);
    } else if (strcmp(kind, "session_info_update") == 0) {
        ev.kind = ACP_EV_SESSION_INFO;
        ev.u.title = acp_update_str(up, "title");
        rc = 0;
    }
    if (rc == 0)
        fn(arg, &ev);
    return rc;
}

/* Name a reset reason. */
const char *
acp_reset_reason_name(enum acp_reset_reason r)
{
    switch (r) {
    case ACP_RESET_EXPIRED: return "expired";
    case ACP_RESET_LOAD_FAILED: return "load_failed";
    case ACP_RESET_CRASHED: return "crashed";
    }
    return "unknown";
}
