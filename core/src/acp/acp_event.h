/* Neutral events the ACP layer hands to the engine: one per session/update (plus the
 * pool's session_reset). Every pointer in an event is lent for the callback only. */
#ifndef AB_ACP_EVENT_H
#define AB_ACP_EVENT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

enum acp_event_kind {
    ACP_EV_MESSAGE_CHUNK,  /* agent_message_chunk: chunk */
    ACP_EV_THOUGHT_CHUNK,  /* agent_thought_chunk: chunk */
    ACP_EV_USER_CHUNK,     /* user_message_chunk (history replay): chunk */
    ACP_EV_TOOL_CALL,      /* tool_call, tool_call_update, or a permission's toolCall: tool */
    ACP_EV_PLAN,           /* plan: plan (replaces the previous plan) */
    ACP_EV_COMMANDS,       /* available_commands_update: raw->availableCommands */
    ACP_EV_MODE,           /* current_mode_update: mode_id */
    ACP_EV_CONFIG_OPTIONS, /* config_option_update: raw->configOptions */
    ACP_EV_USAGE,          /* usage_update: usage */
    ACP_EV_SESSION_INFO,   /* session_info_update: title (may be NULL) */
    ACP_EV_SESSION_RESET,  /* from the pool: the agent lost the context; reset */
    ACP_EV_NOTICE,         /* from the client: a line for the thread (notice) */
};

enum acp_tool_status {
    ACP_TOOL_STATUS_NONE, /* not given in this update */
    ACP_TOOL_PENDING,
    ACP_TOOL_IN_PROGRESS,
    ACP_TOOL_COMPLETED,
    ACP_TOOL_FAILED,
    ACP_TOOL_STATUS_OTHER, /* a value v1 does not define */
};

enum acp_reset_reason {
    ACP_RESET_EXPIRED,     /* TTL, or suspended by an agent without session/load */
    ACP_RESET_LOAD_FAILED, /* session/load failed, timed out or killed the agent */
    ACP_RESET_CRASHED,     /* the agent process died and cannot reload the session */
};

struct acp_plan_entry {
    const char *content;
    const char *priority; /* high|medium|low, or NULL */
    const char *status;   /* pending|in_progress|completed, or NULL */
};

struct acp_event {
    enum acp_event_kind kind;
    const char *session_id; /* the agent's session id */
    const cJSON *raw;       /* the update object as received; NULL for pool events */
    union {
        struct {
            const char *text;       /* text of a text block, NULL for other blocks */
            size_t len;             /* bytes of text */
            const char *type;       /* the ContentBlock type: text, image, resource_link, ... */
            const char *message_id; /* or NULL */
        } chunk;
        struct {
            const char *id;    /* toolCallId, always set */
            const char *title; /* NULL = unchanged */
            const char *kind;  /* read|edit|...|other, NULL = unchanged */
            enum acp_tool_status status;
            bool is_new; /* from tool_call (announce), not an update */
        } tool;
        struct {
            const struct acp_plan_entry *entries;
            size_t count;
        } plan;
        const char *mode_id;
        const char *title;
        struct {
            bool has_used;     /* false when the agent sent used:null */
            double used, size; /* tokens */
            bool has_cost;
            double cost;
            const char *currency; /* or NULL */
        } usage;
        enum acp_reset_reason reset;
        const char *notice; /* ACP_EV_NOTICE: one line for people */
    } u;
};

/* Parse the params of one session/update (lent) and call @fn with the event.
 * Returns 0 when delivered, 1 when the kind is unknown or unstable (ignored), or
 * AB_EPROTO when a required field is missing. */
int acp_update_dispatch(const cJSON *params, void (*fn)(void *arg, const struct acp_event *ev),
                        void *arg);

/* Fill @ev as a tool call event from a ToolCall-shaped object (lent): used for
 * tool_call, tool_call_update and the toolCall of a permission request. Returns 0 or
 * AB_EPROTO without a toolCallId. */
int acp_update_tool(const cJSON *obj, struct acp_event *ev);

/* Readable name of a reset reason ("expired", "load_failed", "crashed"). */
const char *acp_reset_reason_name(enum acp_reset_reason r);

#endif
