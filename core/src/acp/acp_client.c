/* ACP client of one agent process; see acp_client.h. */
#include "acp/acp_client.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/convert.h>
#include <agent-broker/errors.h>
#include <agent-broker/version.h>

#include "acp/agent_env.h"
#include "acp/agent_proc.h"
#include "acp/jsonrpc.h"
#include "log.h"

/* The only ACP version this client speaks (v2 drafts change how a turn ends). */
#define ACP_PROTOCOL_VERSION 1

struct acp_client {
    uv_loop_t *loop;
    struct agent_proc *proc; /* owned until it reports its exit */
    struct jsonrpc rpc;
    uv_timer_t perm_timer;             /* ask-mode deadlines */
    const struct agent_launch *launch; /* lent */
    struct acp_client_config cfg;
    const struct acp_client_ops *ops; /* lent */
    void *arg;
    char **env; /* owned: the agent's environment */
    bool ready, can_load, can_close, gone;
    bool mcp_http, mcp_sse;             /* agentCapabilities.mcpCapabilities */
    struct acp_prompt_caps prompt_caps; /* promptCapabilities of the initialize reply */
    int pid;
    struct acp_permission *perms; /* owned: ask-mode requests awaiting the engine */
    struct acp_client_exit exit;
    char *stderr_tail, *stderr_last; /* owned copies for exit */
    char message[1024];              /* the last error text handed out */
    struct acp_prompt_job *jobs;     /* owned: prompts whose files are being read */
    bool rpc_closed;                 /* the rpc is closed: free once the jobs are over */
};

/* A session/prompt whose files are read (and images base64'ed) in libuv's threadpool:
 * an attachment of megabytes never stalls the loop. The request goes from the loop
 * once the blocks are made. */
struct acp_prompt_job {
    uv_work_t work;
    struct acp_client *c;        /* lent: the client waits for its jobs before it frees */
    struct acp_prompt_job *next; /* in c->jobs */
    struct acp_call *call;       /* owned until the request goes */
    cJSON *params;               /* owned: the request, its prompt without the files yet */
    cJSON *blocks;               /* owned: the files' blocks, made in the threadpool */
    struct acp_file *files;      /* owned copies */
    size_t nfiles, linked;
    struct acp_prompt_caps caps;
    int rc;         /* of making the blocks */
    bool cancelled; /* acp_client_cancel came while reading: cancel once it went */
};

/* One of our requests in flight with its caller's callback. */
struct acp_call {
    struct acp_client *c;
    acp_session_fn session_fn;
    acp_prompt_fn prompt_fn;
    void *arg;
    char *session_id; /* owned: the session a prompt belongs to */
};

static void acp_client_perm_arm(struct acp_client *c);

/* Format the agent's error object (lent) into c->message; returns the AB code. */
static int
acp_client_error(struct acp_client *c, int rc, const cJSON *error, const char *what, int *code)
{
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(error, "message");
    const cJSON *num = cJSON_GetObjectItemCaseSensitive(error, "code");
    const char *text = cJSON_IsString(msg) ? msg->valuestring : "no message";
    int64_t wide = 0;
    int n;

    /* JSON-RPC codes are integers: anything else (1e300, 2.5e9) reads as 0, logged. */
    if (cJSON_IsNumber(num) && ab_double_to_i64(num->valuedouble, INT32_MIN, INT32_MAX, &wide) < 0)
        log_warn("acp", "%s: error code %g out of range: read as 0", what, num->valuedouble);
    n = (int)wide;

    if (code)
        *code = n;
    if (rc == AB_ETIMEDOUT) {
        log_format_redacted(c->message, sizeof(c->message), "%s timed out", what);
    } else if (rc == AB_ECLOSED) {
        if (c->exit.exited && c->exit.term_signal)
            log_format_redacted(
                c->message, sizeof(c->message), "%s: the agent was killed by signal %d%s%s", what,
                c->exit.term_signal, *c->exit.stderr_last ? ": " : "", c->exit.stderr_last);
        else if (c->exit.exited)
            log_format_redacted(
                c->message, sizeof(c->message), "%s: the agent exited (exit %lld)%s%s", what,
                (long long)c->exit.status, *c->exit.stderr_last ? ": " : "", c->exit.stderr_last);
        else
            log_format_redacted(c->message, sizeof(c->message), "%s: the agent is stopping", what);
    } else if (error) {
        if (n == JSONRPC_AUTH_REQUIRED)
            rc = AB_EAUTH;
        log_format_redacted(c->message, sizeof(c->message), "%s failed: %s (code %d)%s%s", what,
                            text, n, rc == AB_EAUTH && c->launch->auth_hint ? " — " : "",
                            rc == AB_EAUTH && c->launch->auth_hint ? c->launch->auth_hint : "");
    } else {
        log_format_redacted(c->message, sizeof(c->message), "%s: %s", what, ab_strerror(rc));
    }
    return rc;
}

/* Report a failed start once and stop the agent. */
static void
acp_client_fail_start(struct acp_client *c, int rc)
{
    c->ready = false;
    c->ops->on_ready(c->arg, c, rc, c->message);
    acp_client_stop(c);
}

/* The authenticate reply: ready, or a start failure with the preset's hint. */
static void
acp_client_on_authenticated(void *arg, int rc, const cJSON *result, const cJSON *error)
{
    struct acp_client *c = arg;

    (void)result;
    if (rc < 0) {
        acp_client_error(c, rc, error, "authenticate", NULL);
        acp_client_fail_start(c, AB_EAUTH);
        return;
    }
    c->ready = true;
    c->ops->on_ready(c->arg, c, 0, NULL);
}

/* Collect the ids of the agent-driven auth methods and ask the preset which to use. */
static const char *
acp_client_auth_choice(struct acp_client *c, const cJSON *methods)
{
    const char *ids[32];
    const cJSON *m, *id, *type;
    size_t n = 0;

    if (!c->launch->auth_method || !cJSON_IsArray(methods))
        return NULL;
    cJSON_ArrayForEach(m, methods)
    {
        id = cJSON_GetObjectItemCaseSensitive(m, "id");
        type = cJSON_GetObjectItemCaseSensitive(m, "type");
        /* Only "agent" methods go through authenticate; terminal and unknown types
         * (codex's env_var) are not for us. */
        if (!cJSON_IsString(id) || n == 32 ||
            (type && !(cJSON_IsString(type) && strcmp(type->valuestring, "agent") == 0)))
            continue;
        ids[n++] = id->valuestring;
    }
    return c->launch->auth_method(ids, n, (const char *const *)c->env);
}

/* Whether the agent takes MCP server @m (stdio always; http and sse as advertised). */
static bool
acp_client_mcp_ok(const struct acp_client *c, const struct agent_mcp_server *m)
{
    return m->type == AGENT_MCP_STDIO || (m->type == AGENT_MCP_HTTP && c->mcp_http) ||
           (m->type == AGENT_MCP_SSE && c->mcp_sse);
}

/* Note mcpCapabilities {http, sse} and say which configured servers the agent cannot
 * take: they are left out of every session, never silently. */
static void
acp_client_note_mcp(struct acp_client *c, const cJSON *caps)
{
    const char *agent = c->launch->name ? c->launch->name : "agent";

    c->mcp_http = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(caps, "http"));
    c->mcp_sse = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(caps, "sse"));
    for (size_t i = 0; i < c->launch->nmcp; i++) {
        const struct agent_mcp_server *m = &c->launch->mcp_servers[i];
        if (!acp_client_mcp_ok(c, m))
            log_warn("acp",
                     "%s: the agent does not support MCP over %s (mcpCapabilities): server "
                     "\"%s\" is not passed to its sessions",
                     agent, m->type == AGENT_MCP_HTTP ? "http" : "sse", m->name);
    }
}

/* Append "K=V" pairs of @kvs (NULL-terminated, may be NULL) to @arr as {name, value}. */
static bool
acp_client_add_pairs(cJSON *arr, const char *const *kvs)
{
    for (size_t i = 0; arr && kvs && kvs[i]; i++) {
        const char *eq = strchr(kvs[i], '=');
        cJSON *o = cJSON_CreateObject();
        char *name = eq ? strndup(kvs[i], (size_t)(eq - kvs[i])) : NULL;
        bool ok = o && name && cJSON_AddStringToObject(o, "name", name) &&
                  cJSON_AddStringToObject(o, "value", eq + 1);
        free(name);
        if (!ok || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            return false;
        }
    }
    return arr != NULL;
}

/* The mcpServers array of session/new and session/load: the servers the agent takes,
 * in ACP's shapes. NULL when out of memory. */
static cJSON *
acp_client_mcp_servers(const struct acp_client *c)
{
    cJSON *arr = cJSON_CreateArray();

    for (size_t i = 0; arr && i < c->launch->nmcp; i++) {
        const struct agent_mcp_server *m = &c->launch->mcp_servers[i];
        cJSON *o, *args;
        bool ok;
        if (!acp_client_mcp_ok(c, m))
            continue;
        if (!(o = cJSON_CreateObject()) || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            goto fail;
        }
        if (m->type == AGENT_MCP_STDIO) {
            ok = cJSON_AddStringToObject(o, "name", m->name) &&
                 cJSON_AddStringToObject(o, "command", m->command) &&
                 (args = cJSON_AddArrayToObject(o, "args")) != NULL;
            for (size_t a = 0; ok && m->args && m->args[a]; a++)
                ok = cJSON_AddItemToArray(args, cJSON_CreateString(m->args[a]));
            ok = ok && acp_client_add_pairs(cJSON_AddArrayToObject(o, "env"), m->env);
        } else {
            /* headers always present: Kiro exits on an http entry without it */
            ok = cJSON_AddStringToObject(o, "type", m->type == AGENT_MCP_HTTP ? "http" : "sse") &&
                 cJSON_AddStringToObject(o, "name", m->name) &&
                 cJSON_AddStringToObject(o, "url", m->url) &&
                 acp_client_add_pairs(cJSON_AddArrayToObject(o, "headers"), m->headers);
        }
        if (!ok)
            goto fail;
    }
    return arr;

fail:
    cJSON_Delete(arr);
    return NULL;
}

/* The initialize reply: check the protocol version, note capabilities, authenticate. */
static void
acp_client_on_initialized(void *arg, int rc, const cJSON *result, const cJSON *error)
{
    struct acp_client *c = arg;
    const cJSON *ver, *caps, *load;
    const char *method;
    cJSON *params;

    if (rc < 0) {
        acp_client_fail_start(c, acp_client_error(c, rc, error, "initialize", NULL));
        return;
    }
    ver = cJSON_GetObjectItemCaseSensitive(result, "protocolVersion");
    if (!cJSON_IsNumber(ver) || ver->valuedouble != ACP_PROTOCOL_VERSION) {
        snprintf(c->message, sizeof(c->message),
                 "the agent speaks ACP protocol version %g; agent-broker speaks %d — use an agent "
                 "release that supports ACP v1",
                 cJSON_IsNumber(ver) ? ver->valuedouble : -1.0, ACP_PROTOCOL_VERSION);
        acp_client_fail_start(c, AB_EPROTO);
        return;
    }
    caps = cJSON_GetObjectItemCaseSensitive(result, "agentCapabilities");
    load = cJSON_GetObjectItemCaseSensitive(caps, "loadSession");
    c->can_load = cJSON_IsTrue(load);
    acp_client_note_mcp(c, cJSON_GetObjectItemCaseSensitive(caps, "mcpCapabilities"));
    c->can_close = cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(caps, "sessionCapabilities"), "close"));
    caps = cJSON_GetObjectItemCaseSensitive(caps, "promptCapabilities");
    c->prompt_caps.image = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(caps, "image"));
    c->prompt_caps.audio = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(caps, "audio"));
    c->prompt_caps.embedded =
        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(caps, "embeddedContext"));
    method = acp_client_auth_choice(c, cJSON_GetObjectItemCaseSensitive(result, "authMethods"));
    if (!method) {
        c->ready = true;
        c->ops->on_ready(c->arg, c, 0, NULL);
        return;
    }
    params = cJSON_CreateObject();
    cJSON_AddStringToObject(params, "methodId", method);
    if ((rc = jsonrpc_call(&c->rpc, "authenticate", params, c->cfg.init_timeout_ms,
                           acp_client_on_authenticated, c, NULL)) < 0)
        acp_client_fail_start(c, acp_client_error(c, rc, NULL, "authenticate", NULL));
}

/* Send initialize: protocol 1, no fs, no terminal, our real version. */
static int
acp_client_initialize(struct acp_client *c)
{
    cJSON *params = cJSON_CreateObject(), *caps, *fs, *info;

    cJSON_AddNumberToObject(params, "protocolVersion", ACP_PROTOCOL_VERSION);
    caps = cJSON_AddObjectToObject(params, "clientCapabilities");
    fs = cJSON_AddObjectToObject(caps, "fs");
    cJSON_AddFalseToObject(fs, "readTextFile");
    cJSON_AddFalseToObject(fs, "writeTextFile");
    cJSON_AddFalseToObject(caps, "terminal");
    info = cJSON_AddObjectToObject(params, "clientInfo");
    cJSON_AddStringToObject(info, "name", "agent-broker");
    if (!cJSON_AddStringToObject(info, "version", AB_VERSION_STRING)) {
        cJSON_Delete(params);
        return AB_ENOMEM;
    }
    return jsonrpc_call(&c->rpc, "initialize", params, c->cfg.init_timeout_ms,
                        acp_client_on_initialized, c, NULL);
}

/* Hand a parsed update to the owner. */
static void
acp_client_emit(void *arg, const struct acp_event *ev)
{
    struct acp_client *c = arg;

    c->ops->on_event(c->arg, c, ev);
}

/* Notifications: session/update becomes events; anything else is tolerated. */
static void
acp_client_on_notification(void *arg, const char *method, const cJSON *params)
{
    struct acp_client *c = arg;

    if (strcmp(method, "session/update") == 0) {
        if (acp_update_dispatch(params, acp_client_emit, c) < 0)
            log_warn("acp", "agent %d: malformed session/update skipped", c->pid);
    } else {
        log_trace("acp", "agent %d: notification %s ignored", c->pid, method);
    }
}

/* Unlink @req from the pending list. */
static void
acp_client_perm_unlink(struct acp_client *c, struct acp_permission *req)
{
    struct acp_permission **pp;

    for (pp = &c->perms; *pp; pp = &(*pp)->next)
        if (*pp == req) {
            *pp = req->next;
            break;
        }
}

/* Answer a permission request and free it; see the header. */
int
acp_client_permission_answer(struct acp_client *c, struct acp_permission *req,
                             enum acp_perm_decision d)
{
    cJSON *result = acp_permission_outcome(req, d);
    int rc = result ? 0 : AB_ENOMEM;

    acp_client_perm_unlink(c, req);
    if (result)
        rc = jsonrpc_respond(&c->rpc, req->id, result);
    log_debug("acp", "agent %d: permission for %s answered %s", c->pid,
              req->title ? req->title : "a tool",
              d == ACP_PERM_CANCELLED ? "cancelled" : acp_permission_pick(req, d));
    acp_permission_free(req);
    acp_client_perm_arm(c);
    return rc;
}

/* Answer every pending request of @session_id (NULL = all) with @d. */
static void
acp_client_perm_settle(struct acp_client *c, const char *session_id, enum acp_perm_decision d)
{
    struct acp_permission *req, *next;

    for (req = c->perms; req; req = next) {
        next = req->next;
        if (!session_id || strcmp(req->session_id, session_id) == 0)
            acp_client_permission_answer(c, req, d);
    }
}

/* Ask-mode deadline: an unanswered request is a reject. */
static void
acp_client_on_perm_timer(uv_timer_t *t)
{
    struct acp_client *c = t->data;
    struct acp_permission *req;
    uint64_t now = uv_now(c->loop);

    for (req = c->perms; req;) {
        if (req->deadline && req->deadline <= now) {
            log_info("acp", "agent %d: permission for %s not answered in time: rejected", c->pid,
                     req->title ? req->title : "a tool");
            acp_client_permission_answer(c, req, ACP_PERM_REJECT);
            req = c->perms; /* the list changed */
        } else {
            req = req->next;
        }
    }
    acp_client_perm_arm(c);
}

/* Re-arm the permission timer for the earliest deadline. */
static void
acp_client_perm_arm(struct acp_client *c)
{
    struct acp_permission *req;
    uint64_t first = 0, now = uv_now(c->loop);

    if (c->gone)
        return;
    for (req = c->perms; req; req = req->next)
        if (req->deadline && (!first || req->deadline < first))
            first = req->deadline;
    if (first)
        uv_timer_start(&c->perm_timer, acp_client_on_perm_timer, first > now ? first - now : 0, 0);
    else
        uv_timer_stop(&c->perm_timer);
}

/* session/request_permission: upsert the tool call, then answer per mode. */
static void
acp_client_on_permission(struct acp_client *c, const cJSON *id, const cJSON *params)
{
    struct acp_permission *req;
    struct acp_event ev;
    const cJSON *tool;
    int rc;

    if ((rc = acp_permission_new(c, id, params, &req)) < 0) {
        jsonrpc_respond_error(&c->rpc, id, JSONRPC_INVALID_PARAMS, "invalid permission request");
        return;
    }
    /* Agents ask before announcing the tool (codex, gemini): the request is an upsert. */
    tool = cJSON_GetObjectItemCaseSensitive(req->request, "toolCall");
    memset(&ev, 0, sizeof(ev));
    if (acp_update_tool(tool, &ev) == 0) {
        ev.session_id = req->session_id;
        ev.raw = tool;
        c->ops->on_event(c->arg, c, &ev);
    }
    req->next = c->perms;
    c->perms = req;
    if (c->cfg.perm_mode == ACP_PERM_AUTO) {
        acp_client_permission_answer(c, req, ACP_PERM_ALLOW_ALWAYS);
    } else if (c->cfg.perm_mode == ACP_PERM_DENY || !c->ops->on_permission) {
        acp_client_permission_answer(c, req, ACP_PERM_REJECT);
    } else if (acp_client_pending_permissions(c, req->session_id) > ACP_PERM_PENDING_MAX) {
        /* A turn asking for more at once than anyone answers: bounded, and said. */
        log_warn("acp",
                 "agent %d: more than %d permission requests pending in one turn: %s "
                 "rejected",
                 c->pid, ACP_PERM_PENDING_MAX, req->tool_call_id ? req->tool_call_id : "a request");
        acp_client_permission_answer(c, req, ACP_PERM_REJECT);
    } else {
        if (c->cfg.perm_timeout_ms)
            req->deadline = uv_now(c->loop) + c->cfg.perm_timeout_ms;
        acp_client_perm_arm(c);
        c->ops->on_permission(c->arg, c, req);
    }
}

/* Requests from the agent: permissions; we advertised nothing else (-32601). */
static void
acp_client_on_request(void *arg, const char *method, const cJSON *id, const cJSON *params)
{
    struct acp_client *c = arg;

    if (strcmp(method, "session/request_permission") == 0) {
        acp_client_on_permission(c, id, params);
        return;
    }
    log_debug("acp", "agent %d: request %s answered -32601", c->pid, method);
    jsonrpc_respond_error(&c->rpc, id, JSONRPC_METHOD_NOT_FOUND, "Method not found");
}

/* Our messages to the agent's stdin. */
static int
acp_client_write(void *arg, char *line, size_t len)
{
    struct acp_client *c = arg;

    if (!c->proc) {
        free(line);
        return AB_ECLOSED;
    }
    return agent_proc_write(c->proc, line, len);
}

/* One line from the agent's stdout. */
static void
acp_client_on_line(void *arg, const char *line, size_t len)
{
    struct acp_client *c = arg;

    jsonrpc_handle_line(&c->rpc, line, len);
}

/* Last handle closed: tell the owner, then free. */
static void
acp_client_on_timer_closed(uv_handle_t *h)
{
    struct acp_client *c = h->data;

    c->ops->on_exit(c->arg, c);
    agent_env_free(c->env);
    free(c->stderr_tail);
    free(c->stderr_last);
    free(c);
}

/* The rpc timer is closed: close ours, once no prompt's files are being read. */
static void
acp_client_on_rpc_closed(struct jsonrpc *rpc)
{
    struct acp_client *c = (struct acp_client *)((char *)rpc - offsetof(struct acp_client, rpc));

    c->rpc_closed = true;
    if (!c->jobs)
        uv_close((uv_handle_t *)&c->perm_timer, acp_client_on_timer_closed);
}

/* The process is gone: record how, drop permissions, fail every request. */
static void
acp_client_on_proc_exit(void *arg, const struct agent_exit *ex)
{
    struct acp_client *c = arg;
    struct acp_permission *req;

    c->proc = NULL;
    c->exit.exited = true;
    c->exit.status = ex->status;
    c->exit.term_signal = ex->term_signal;
    c->exit.stdin_broken = ex->stdin_broken;
    c->stderr_tail = strdup(ex->stderr_tail);
    c->stderr_last = strdup(ex->stderr_last);
    c->exit.stderr_tail = c->stderr_tail ? c->stderr_tail : "";
    c->exit.stderr_last = c->stderr_last ? c->stderr_last : "";
    log_info("acp", "agent %d ended: exit %lld, signal %d%s%s", c->pid, (long long)ex->status,
             ex->term_signal, *c->exit.stderr_last ? "; last stderr: " : "", c->exit.stderr_last);
    c->gone = true;
    uv_timer_stop(&c->perm_timer);
    while ((req = c->perms)) {
        c->perms = req->next;
        acp_permission_free(req);
    }
    jsonrpc_close(&c->rpc, acp_client_on_rpc_closed);
}

static const struct agent_proc_ops acp_client_proc_ops = {
    .on_line = acp_client_on_line,
    .on_exit = acp_client_on_proc_exit,
};

static const struct jsonrpc_ops acp_client_rpc_ops = {
    .write = acp_client_write,
    .on_request = acp_client_on_request,
    .on_notification = acp_client_on_notification,
};

/* Spawn and initialize; see the header. */
int
acp_client_start(uv_loop_t *loop, const struct agent_launch *launch,
                 const struct acp_client_config *cfg, const struct acp_client_ops *ops, void *arg,
                 struct acp_client **out)
{
    struct acp_client *c;
    int rc;

    if (!(c = calloc(1, sizeof(*c))))
        return AB_ENOMEM;
    c->loop = loop;
    c->launch = launch;
    c->cfg = *cfg;
    c->ops = ops;
    c->arg = arg;
    c->exit.stderr_tail = c->exit.stderr_last = "";
    if ((rc = agent_env_build(launch, &c->env)) < 0)
        goto fail;
    if ((rc = agent_proc_start(loop, launch, c->env, &acp_client_proc_ops, c, &c->proc)) < 0)
        goto fail_env;
    c->pid = agent_proc_pid(c->proc);
    /* Neither init can fail once the loop exists; both handles close in on_proc_exit. */
    jsonrpc_init(&c->rpc, loop, &acp_client_rpc_ops, c);
    uv_timer_init(loop, &c->perm_timer);
    c->perm_timer.data = c;
    *out = c;
    if ((rc = acp_client_initialize(c)) < 0) {
        acp_client_error(c, rc, NULL, "initialize", NULL);
        /* Report asynchronously through the normal path: the agent is stopped. */
        acp_client_kill(c);
    }
    return 0;

fail_env:
    agent_env_free(c->env);
fail:
    free(c);
    return rc;
}

/* Whether the agent advertised loadSession. */
bool
acp_client_can_load(const struct acp_client *c)
{
    return c->can_load;
}

/* session/close replied: nothing waits for it; a failure is only logged. */
static void
acp_client_on_closed(void *arg, int rc, const cJSON *result, const cJSON *error)
{
    (void)arg;
    (void)result;
    (void)error;
    if (rc < 0)
        log_debug("acp", "session/close failed: %s", ab_strerror(rc));
}

/* session/close; see the header. */
int
acp_client_session_close(struct acp_client *c, const char *session_id)
{
    cJSON *params;

    if (!c->can_close)
        return AB_ENOTSUP;
    if (!(params = cJSON_CreateObject()) ||
        !cJSON_AddStringToObject(params, "sessionId", session_id)) {
        cJSON_Delete(params);
        return AB_ENOMEM;
    }
    return jsonrpc_call(&c->rpc, "session/close", params, c->cfg.load_timeout_ms,
                        acp_client_on_closed, NULL, NULL);
}

/* Allocate the context of one call. */
static struct acp_call *
acp_call_new(struct acp_client *c, acp_session_fn sfn, acp_prompt_fn pfn, void *arg)
{
    struct acp_call *call = calloc(1, sizeof(*call));

    if (call) {
        call->c = c;
        call->session_fn = sfn;
        call->prompt_fn = pfn;
        call->arg = arg;
    }
    return call;
}

/* Reply to session/new, session/load or set_mode. */
static void
acp_client_on_session_reply(void *arg, int rc, const cJSON *result, const cJSON *error,
                            const char *what, bool wants_id)
{
    struct acp_call *call = arg;
    struct acp_client *c = call->c;
    const cJSON *sid = cJSON_GetObjectItemCaseSensitive(result, "sessionId");
    const char *id = call->session_id;

    if (rc == 0 && wants_id) {
        if (cJSON_IsString(sid))
            id = sid->valuestring;
        else
            rc = AB_EPROTO;
    }
    if (rc < 0)
        rc = acp_client_error(c, rc, error, what, NULL);
    call->session_fn(call->arg, rc, rc < 0 ? NULL : id, rc < 0 ? c->message : NULL,
                     rc < 0 || !cJSON_IsObject(result) ? NULL : result);
    free(call->session_id);
    free(call);
}

/* session/new replied. */
static void
acp_client_on_new(void *arg, int rc, const cJSON *result, const cJSON *error)
{
    acp_client_on_session_reply(arg, rc, result, error, "session/new", true);
}

/* session/load replied. */
static void
acp_client_on_load(void *arg, int rc, const cJSON *result, const cJSON *error)
{
    acp_client_on_session_reply(arg, rc, result, error, "session/load", false);
}

/* session/set_mode replied. */
static void
acp_client_on_mode(void *arg, int rc, const cJSON *result, const cJSON *error)
{
    acp_client_on_session_reply(arg, rc, result, error, "session/set_mode", false);
}

/* session/set_model replied. */
static void
acp_client_on_model(void *arg, int rc, const cJSON *result, const cJSON *error)
{
    acp_client_on_session_reply(arg, rc, result, error, "session/set_model", false);
}

/* session/set_config_option replied. */
static void
acp_client_on_config(void *arg, int rc, const cJSON *result, const cJSON *error)
{
    acp_client_on_session_reply(arg, rc, result, error, "session/set_config_option", false);
}

/* Send one session request with @params (owned); @sid (lent) echoed to the reply. */
static int
acp_client_session_call(struct acp_client *c, const char *method, cJSON *params,
                        uint64_t timeout_ms, jsonrpc_reply_fn reply, const char *sid,
                        acp_session_fn fn, void *arg)
{
    struct acp_call *call = acp_call_new(c, fn, NULL, arg);
    int rc;

    if (!call || !params || (sid && !(call->session_id = strdup(sid)))) {
        rc = AB_ENOMEM;
        goto fail;
    }
    if ((rc = jsonrpc_call(&c->rpc, method, params, timeout_ms, reply, call, NULL)) < 0) {
        params = NULL;
        goto fail;
    }
    return 0;

fail:
    cJSON_Delete(params);
    if (call)
        free(call->session_id);
    free(call);
    return rc;
}

/* {sessionId?, cwd, mcpServers: [the servers the agent takes]} */
static cJSON *
acp_client_session_params(const struct acp_client *c, const char *session_id, const char *cwd)
{
    cJSON *params = cJSON_CreateObject();
    cJSON *servers = acp_client_mcp_servers(c);

    if (!params || !servers ||
        (session_id && !cJSON_AddStringToObject(params, "sessionId", session_id)) ||
        !cJSON_AddStringToObject(params, "cwd", cwd) ||
        !cJSON_AddItemToObject(params, "mcpServers", servers)) {
        if (!cJSON_GetObjectItemCaseSensitive(params, "mcpServers"))
            cJSON_Delete(servers);
        cJSON_Delete(params);
        return NULL;
    }
    return params;
}

/* session/new; see the header. */
int
acp_client_session_new(struct acp_client *c, const char *cwd, acp_session_fn fn, void *arg)
{
    return acp_client_session_call(c, "session/new", acp_client_session_params(c, NULL, cwd),
                                   c->cfg.init_timeout_ms, acp_client_on_new, NULL, fn, arg);
}

/* session/load; see the header. */
int
acp_client_session_load(struct acp_client *c, const char *session_id, const char *cwd,
                        acp_session_fn fn, void *arg)
{
    if (!c->can_load)
        return AB_ENOTSUP;
    return acp_client_session_call(c, "session/load", acp_client_session_params(c, session_id, cwd),
                                   c->cfg.load_timeout_ms, acp_client_on_load, session_id, fn, arg);
}

static int acp_client_setting(struct acp_client *c, const char *method, jsonrpc_reply_fn reply,
                              const char *session_id, const char *k1, const char *v1,
                              const char *k2, const char *v2, acp_session_fn fn, void *arg);

/* session/set_mode; see the header. */
int
acp_client_set_mode(struct acp_client *c, const char *session_id, const char *mode_id,
                    acp_session_fn fn, void *arg)
{
    return acp_client_setting(c, "session/set_mode", acp_client_on_mode, session_id, "modeId",
                              mode_id, NULL, NULL, fn, arg);
}

/* A setting request {sessionId, @k1: @v1[, @k2: @v2]} (all lent) of @method. */
static int
acp_client_setting(struct acp_client *c, const char *method, jsonrpc_reply_fn reply,
                   const char *session_id, const char *k1, const char *v1, const char *k2,
                   const char *v2, acp_session_fn fn, void *arg)
{
    cJSON *params = cJSON_CreateObject();

    if (!cJSON_AddStringToObject(params, "sessionId", session_id) ||
        !cJSON_AddStringToObject(params, k1, v1) ||
        (k2 && !cJSON_AddStringToObject(params, k2, v2))) {
        cJSON_Delete(params);
        return AB_ENOMEM;
    }
    return acp_client_session_call(c, method, params, c->cfg.init_timeout_ms, reply, session_id, fn,
                                   arg);
}

/* session/set_model; see the header. */
int
acp_client_set_model(struct acp_client *c, const char *session_id, const char *model_id,
                     acp_session_fn fn, void *arg)
{
    return acp_client_setting(c, "session/set_model", acp_client_on_model, session_id, "modelId",
                              model_id, NULL, NULL, fn, arg);
}

/* session/set_config_option; see the header. */
int
acp_client_set_config(struct acp_client *c, const char *session_id, const char *config_id,
                      const char *value, acp_session_fn fn, void *arg)
{
    return acp_client_setting(c, "session/set_config_option", acp_client_on_config, session_id,
                              "configId", config_id, "value", value, fn, arg);
}

/* session/prompt replied: the turn is over. */
static void
acp_client_on_prompt(void *arg, int rc, const cJSON *result, const cJSON *error)
{
    struct acp_call *call = arg;
    struct acp_client *c = call->c;
    const cJSON *stop = cJSON_GetObjectItemCaseSensitive(result, "stopReason");
    int code = 0;

    /* Whatever is still asked belongs to a finished turn. */
    if (!c->gone)
        acp_client_perm_settle(c, call->session_id, ACP_PERM_CANCELLED);
    if (rc == 0 && !cJSON_IsString(stop)) {
        rc = AB_EPROTO;
        snprintf(c->message, sizeof(c->message), "session/prompt reply without a stopReason");
    } else if (rc < 0) {
        rc = acp_client_error(c, rc, error, "session/prompt", &code);
    }
    call->prompt_fn(call->arg, rc, rc == 0 ? stop->valuestring : NULL, code,
                    rc == 0 ? NULL : c->message, rc == 0 ? result : NULL);
    free(call->session_id);
    free(call);
}

/* Append a text content block to @prompt. */
static bool
acp_client_text_block(cJSON *prompt, const char *text)
{
    cJSON *b = cJSON_CreateObject();

    if (!b || !cJSON_AddStringToObject(b, "type", "text") ||
        !cJSON_AddStringToObject(b, "text", text)) {
        cJSON_Delete(b);
        return false;
    }
    cJSON_AddItemToArray(prompt, b);
    return true;
}

/* session/prompt; see the header. */
int
acp_client_prompt(struct acp_client *c, const char *session_id, const char *sender_context,
                  const char *text, acp_prompt_fn fn, void *arg)
{
    return acp_client_prompt_files(c, session_id, sender_context, text, NULL, 0, fn, arg);
}

/* Tell the session's turn that @n images went as links only. */
static void
acp_client_images_notice(struct acp_client *c, const char *session_id, size_t n)
{
    char line[256];
    struct acp_event ev = {.kind = ACP_EV_NOTICE, .session_id = session_id};

    snprintf(line, sizeof(line),
             "📎 The agent cannot read images: %zu image%s passed as a file path instead.", n,
             n == 1 ? "" : "s");
    ev.u.notice = line;
    c->ops->on_event(c->arg, c, &ev);
}

/* Threadpool: read the files and make their blocks (no loop state touched). */
static void
acp_prompt_job_work(uv_work_t *w)
{
    struct acp_prompt_job *job = w->data;

    if (!(job->blocks = cJSON_CreateArray()))
        job->rc = AB_ENOMEM;
    else
        job->rc = acp_prompt_files(job->blocks, &job->caps, job->files, job->nfiles, &job->linked);
}

/* Send @params (owned) as session/prompt for @call (owned); a failure reaches the caller
 * through its callback, as the agent's error would. */
static void
acp_client_prompt_send(struct acp_client *c, struct acp_call *call, cJSON *params, bool cancel)
{
    int rc = c->gone ? AB_ECLOSED
                     : jsonrpc_call(&c->rpc, "session/prompt", params, 0, acp_client_on_prompt,
                                    call, NULL);

    if (c->gone)
        cJSON_Delete(params);
    if (rc < 0) {
        acp_client_on_prompt(call, rc, NULL, NULL);
        return;
    }
    if (cancel)
        acp_client_cancel(c, call->session_id);
}

/* Loop: the blocks are made (or not): append them and send, then free the job. */
static void
acp_prompt_job_done(uv_work_t *w, int status)
{
    struct acp_prompt_job *job = w->data;
    struct acp_client *c = job->c;
    cJSON *prompt = cJSON_GetObjectItemCaseSensitive(job->params, "prompt"), *b;

    for (struct acp_prompt_job **link = &c->jobs; *link; link = &(*link)->next)
        if (*link == job) {
            *link = job->next;
            break;
        }
    if (status < 0 && job->rc == 0)
        job->rc = AB_ECANCELED;
    if (job->rc < 0 && !c->gone) {
        cJSON_Delete(job->params);
        acp_client_on_prompt(job->call, job->rc, NULL, NULL);
    } else {
        while (job->blocks && (b = cJSON_DetachItemFromArray(job->blocks, 0)))
            cJSON_AddItemToArray(prompt, b);
        if (job->linked && !c->gone)
            acp_client_images_notice(c, job->call->session_id, job->linked);
        acp_client_prompt_send(c, job->call, job->params, job->cancelled);
    }
    cJSON_Delete(job->blocks);
    acp_files_free(job->files, job->nfiles);
    free(job);
    if (c->rpc_closed && !c->jobs)
        uv_close((uv_handle_t *)&c->perm_timer, acp_client_on_timer_closed);
}

/* session/prompt with files; see the header. */
int
acp_client_prompt_files(struct acp_client *c, const char *session_id, const char *sender_context,
                        const char *text, const struct acp_file *files, size_t nfiles,
                        acp_prompt_fn fn, void *arg)
{
    struct acp_call *call = acp_call_new(c, NULL, fn, arg);
    cJSON *params = cJSON_CreateObject(), *prompt;
    struct acp_prompt_job *job = NULL;
    int rc = AB_ENOMEM;

    if (c->gone) {
        rc = AB_ECLOSED;
        goto fail;
    }
    if (!call || !params || !(call->session_id = strdup(session_id)) ||
        !cJSON_AddStringToObject(params, "sessionId", session_id) ||
        !(prompt = cJSON_AddArrayToObject(params, "prompt")))
        goto fail;
    if (sender_context && !acp_client_text_block(prompt, sender_context))
        goto fail;
    if (!acp_client_text_block(prompt, text))
        goto fail;
    if (nfiles == 0) {
        rc = jsonrpc_call(&c->rpc, "session/prompt", params, 0, acp_client_on_prompt, call, NULL);
        params = NULL;
        if (rc < 0)
            goto fail;
        return 0;
    }
    if (!(job = calloc(1, sizeof(*job))) || acp_files_copy(files, nfiles, &job->files) < 0)
        goto fail;
    job->work.data = job;
    job->c = c;
    job->call = call;
    job->params = params;
    job->nfiles = nfiles;
    job->caps = c->prompt_caps;
    if ((rc = uv_queue_work(c->loop, &job->work, acp_prompt_job_work, acp_prompt_job_done)) < 0) {
        rc = AB_EIO;
        goto fail;
    }
    job->next = c->jobs;
    c->jobs = job;
    return 0;

fail:
    if (job)
        acp_files_free(job->files, nfiles);
    free(job);
    cJSON_Delete(params);
    if (call)
        free(call->session_id);
    free(call);
    return rc;
}

/* session/cancel, then cancel the session's pending permissions. */
int
acp_client_cancel(struct acp_client *c, const char *session_id)
{
    cJSON *params = cJSON_CreateObject();
    int rc;

    if (!cJSON_AddStringToObject(params, "sessionId", session_id)) {
        cJSON_Delete(params);
        return AB_ENOMEM;
    }
    rc = jsonrpc_notify(&c->rpc, "session/cancel", params);
    if (!c->gone)
        acp_client_perm_settle(c, session_id, ACP_PERM_CANCELLED);
    for (struct acp_prompt_job *job = c->jobs; job; job = job->next)
        if (strcmp(job->call->session_id, session_id) == 0)
            job->cancelled = true; /* its prompt is not out yet: cancel it once it is */
    return rc;
}

/* Count pending permission requests of a session. */
size_t
acp_client_pending_permissions(const struct acp_client *c, const char *session_id)
{
    const struct acp_permission *req;
    size_t n = 0;

    for (req = c->perms; req; req = req->next)
        if (strcmp(req->session_id, session_id) == 0)
            n++;
    return n;
}

/* Stop gracefully. */
void
acp_client_stop(struct acp_client *c)
{
    if (c->proc)
        agent_proc_stop(c->proc, c->cfg.stop_grace_ms);
}

/* Kill now. */
void
acp_client_kill(struct acp_client *c)
{
    if (c->proc)
        agent_proc_kill(c->proc, c->cfg.stop_grace_ms);
}

/* The process id. */
int
acp_client_pid(const struct acp_client *c)
{
    return c->proc ? c->pid : 0;
}

/* How the process ended. */
const struct acp_client_exit *
acp_client_exit_info(const struct acp_client *c)
{
    return &c->exit;
}
