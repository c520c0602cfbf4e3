/* One session/request_permission from an agent: the request as the engine sees it,
 * the choice of the agent's option by kind, and the only two valid answers:
 * {"outcome":{"outcome":"selected","optionId":...}} or {"outcome":{"outcome":"cancelled"}}. */
#ifndef AB_ACP_PERMISSION_H
#define AB_ACP_PERMISSION_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Ask mode: permission requests one session (one turn) may have waiting for an answer;
 * one more is rejected at once, with a log line. */
#define ACP_PERM_PENDING_MAX 8

enum acp_perm_mode {
    ACP_PERM_AUTO, /* pick allow_always, else allow_once */
    ACP_PERM_ASK,  /* hand the request to the engine; no answer in time = reject */
    ACP_PERM_DENY, /* pick reject_once, else reject_always */
};

enum acp_perm_decision {
    ACP_PERM_ALLOW_ONCE,
    ACP_PERM_ALLOW_ALWAYS,
    ACP_PERM_REJECT,
    ACP_PERM_CANCELLED,
};

struct acp_perm_option {
    const char *id;   /* the agent's optionId, echoed back verbatim */
    const char *name; /* label for people */
    const char *kind; /* allow_once|allow_always|reject_once|reject_always (or unknown) */
};

struct acp_client;

/* Read-only for the engine. Valid until acp_permission_resolve() or the end of the
 * turn it belongs to (on_done), whichever comes first. Strings point into @request. */
struct acp_permission {
    const char *session_id;
    const char *tool_call_id; /* or NULL */
    const char *title;        /* the tool call's title, or NULL */
    const char *tool_kind;    /* the tool call's kind, or NULL */
    const struct acp_perm_option *options;
    size_t option_count;
    /* private to the ACP layer */
    cJSON *request;              /* owned: copy of the params */
    cJSON *id;                   /* owned: the agent's request id */
    struct acp_perm_option *opt; /* owned: the options array */
    struct acp_client *client;   /* lent: the client that will answer */
    uint64_t deadline;           /* loop ms when an unanswered ask becomes a reject; 0 none */
    struct acp_permission *next;
};

/* Parse request @params (lent) with request id @id (lent) into *@out (owned).
 * Returns 0, AB_EPROTO when sessionId or options are missing, or AB_ENOMEM. */
int acp_permission_new(struct acp_client *c, const cJSON *id, const cJSON *params,
                       struct acp_permission **out);

/* The optionId matching @d (by kind: allow_always/allow_once fall back on each
 * other, reject_once/reject_always likewise), or NULL when the agent offered none. */
const char *acp_permission_pick(const struct acp_permission *req, enum acp_perm_decision d);

/* The answer object for @d (owned by the caller): selected with the picked optionId,
 * or cancelled when @d is CANCELLED or no option of that kind exists. */
cJSON *acp_permission_outcome(const struct acp_permission *req, enum acp_perm_decision d);

/* The engine's answer: send it to the agent and free @req (invalid afterwards).
 * Returns 0 or AB_ECLOSED when the agent is gone (req freed either way). */
int acp_permission_resolve(struct acp_permission *req, enum acp_perm_decision d);

/* Free @req without answering (the agent is gone). */
void acp_permission_free(struct acp_permission *req);

#endif
