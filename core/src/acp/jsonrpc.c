/* JSON-RPC 2.0 message layer: see jsonrpc.h. */
#include "acp/jsonrpc.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#include "log.h"

struct jsonrpc_pending {
    uint64_t id;
    uint64_t deadline; /* loop time in ms; 0 = none */
    jsonrpc_reply_fn fn;
    void *arg;
    struct jsonrpc_pending *next;
};

/* Prepare @rpc; see the header. */
int
jsonrpc_init(struct jsonrpc *rpc, uv_loop_t *loop, const struct jsonrpc_ops *ops, void *arg)
{
    int rc;

    memset(rpc, 0, sizeof(*rpc));
    rpc->ops = ops;
    rpc->arg = arg;
    if ((rc = uv_timer_init(loop, &rpc->timer)) < 0)
        return rc;
    rpc->timer.data = rpc;
    return 0;
}

/* Serialise @msg (owned, consumed) as one line and hand it to the writer. */
static int
jsonrpc_send(struct jsonrpc *rpc, cJSON *msg)
{
    char *text, *line;
    size_t len;

    text = cJSON_PrintUnformatted(msg);
    cJSON_Delete(msg);
    if (!text)
        return AB_ENOMEM;
    len = strlen(text);
    line = realloc(text, len + 2);
    if (!line) {
        free(text);
        return AB_ENOMEM;
    }
    line[len] = '\n';
    line[len + 1] = '\0';
    return rpc->ops->write(rpc->arg, line, len + 1);
}

/* Build {"jsonrpc":"2.0"} plus @method and @params (owned). */
static cJSON *
jsonrpc_message(const char *method, cJSON *params)
{
    cJSON *msg = cJSON_CreateObject();

    if (!msg || !cJSON_AddStringToObject(msg, "jsonrpc", "2.0") ||
        (method && !cJSON_AddStringToObject(msg, "method", method))) {
        cJSON_Delete(msg);
        cJSON_Delete(params);
        return NULL;
    }
    if (params)
        cJSON_AddItemToObject(msg, "params", params);
    return msg;
}

/* Unlink and return the pending request @id, or NULL. */
static struct jsonrpc_pending *
jsonrpc_take(struct jsonrpc *rpc, uint64_t id)
{
    struct jsonrpc_pending **pp, *p;

    for (pp = &rpc->pending; (p = *pp); pp = &p->next)
        if (p->id == id) {
            *pp = p->next;
            return p;
        }
    return NULL;
}

static void jsonrpc_on_timer(uv_timer_t *t);

/* Re-arm the timer for the earliest deadline, or stop it. */
static void
jsonrpc_arm(struct jsonrpc *rpc)
{
    uint64_t first = 0, now = uv_now(rpc->timer.loop);
    struct jsonrpc_pending *p;

    if (rpc->closed)
        return;
    for (p = rpc->pending; p; p = p->next)
        if (p->deadline && (!first || p->deadline < first))
            first = p->deadline;
    if (!first)
        uv_timer_stop(&rpc->timer);
    else
        uv_timer_start(&rpc->timer, jsonrpc_on_timer, first > now ? first - now : 0, 0);
}

/* Fail every request whose deadline has passed with AB_ETIMEDOUT. */
static void
jsonrpc_on_timer(uv_timer_t *t)
{
    struct jsonrpc *rpc = t->data;
    struct jsonrpc_pending *p;
    uint64_t now = uv_now(t->loop);

    /* Rescan after each callback: it may add or drop requests. */
    for (;;) {
        for (p = rpc->pending; p; p = p->next)
            if (p->deadline && p->deadline <= now)
                break;
        if (!p)
            break;
        p = jsonrpc_take(rpc, p->id);
        p->fn(p->arg, AB_ETIMEDOUT, NULL, NULL);
        free(p);
    }
    jsonrpc_arm(rpc);
}

/* Send a request; see the header. */
int
jsonrpc_call(struct jsonrpc *rpc, const char *method, cJSON *params, uint64_t timeout_ms,
             jsonrpc_reply_fn fn, void *arg, uint64_t *id_out)
{
    struct jsonrpc_pending *p;
    cJSON *msg;
    int rc;

    if (rpc->closed) {
        cJSON_Delete(params);
        return AB_ECLOSED;
    }
    p = calloc(1, sizeof(*p));
    msg = jsonrpc_message(method, params);
    if (!p || !msg) {
        rc = AB_ENOMEM;
        goto fail;
    }
    p->id = rpc->next_id++;
    p->fn = fn;
    p->arg = arg;
    p->deadline = timeout_ms ? uv_now(rpc->timer.loop) + timeout_ms : 0;
    if (!cJSON_AddItemToObject(msg, "id", cJSON_CreateNumber((double)p->id))) {
        rc = AB_ENOMEM;
        goto fail;
    }
    rc = jsonrpc_send(rpc, msg);
    msg = NULL;
    if (rc < 0)
        goto fail;
    p->next = rpc->pending;
    rpc->pending = p;
    if (id_out)
        *id_out = p->id;
    if (p->deadline)
        jsonrpc_arm(rpc);
    return 0;

fail:
    cJSON_Delete(msg);
    free(p);
    return rc;
}

/* Send a notification; see the header. */
int
jsonrpc_notify(struct jsonrpc *rpc, const char *method, cJSON *params)
{
    cJSON *msg;

    if (rpc->closed) {
        cJSON_Delete(params);
        return AB_ECLOSED;
    }
    if (!(msg = jsonrpc_message(method, params)))
        return AB_ENOMEM;
    return jsonrpc_send(rpc, msg);
}

/* Build a reply to @id carrying @member (owned) under @name, and send it. */
static int
jsonrpc_reply(struct jsonrpc *rpc, const cJSON *id, const char *name, cJSON *member)
{
    cJSON *msg = jsonrpc_message(NULL, NULL);
    cJSON *idc = id ? cJSON_Duplicate(id, 1) : cJSON_CreateNull();

    if (!msg || !idc || !member) {
        cJSON_Delete(msg);
        cJSON_Delete(idc);
        cJSON_Delete(member);
        return AB_ENOMEM;
    }
    cJSON_AddItemToObject(msg, "id", idc);
    cJSON_AddItemToObject(msg, name, member);
    if (rpc->closed) {
        cJSON_Delete(msg);
        return AB_ECLOSED;
    }
    return jsonrpc_send(rpc, msg);
}

/* Answer a request of the peer with a result. */
int
jsonrpc_respond(struct jsonrpc *rpc, const cJSON *id, cJSON *result)
{
    return jsonrpc_reply(rpc, id, "result", result ? result : cJSON_CreateNull());
}

/* Answer a request of the peer with an error. */
int
jsonrpc_respond_error(struct jsonrpc *rpc, const cJSON *id, int code, const char *message)
{
    cJSON *err = cJSON_CreateObject();

    if (err && (!cJSON_AddNumberToObject(err, "code", code) ||
                !cJSON_AddStringToObject(err, "message", message))) {
        cJSON_Delete(err);
        err = NULL;
    }
    return jsonrpc_reply(rpc, id, "error", err);
}

/* Route a response to the pending request with the same id, if it is one of ours. */
static void
jsonrpc_on_response(struct jsonrpc *rpc, const cJSON *msg, const cJSON *id)
{
    const cJSON *result = cJSON_GetObjectItemCaseSensitive(msg, "result");
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(msg, "error");
    struct jsonrpc_pending *p = NULL;
    double v;

    /* We only ever send non-negative integers: any other id is not an answer to us. */
    if (cJSON_IsNumber(id)) {
        v = id->valuedouble;
        if (v >= 0 && v < 9007199254740992.0 && floor(v) == v)
            p = jsonrpc_take(rpc, (uint64_t)v);
    }
    if (!p) {
        log_debug("acp", "reply to no request of ours ignored");
        return;
    }
    if (cJSON_IsObject(error))
        p->fn(p->arg, AB_EPROTO, NULL, error);
    else if (result)
        p->fn(p->arg, 0, result, NULL);
    else
        p->fn(p->arg, AB_EPROTO, NULL, NULL);
    free(p);
    jsonrpc_arm(rpc);
}

/* Classify one parsed message and dispatch it. */
static void
jsonrpc_dispatch(struct jsonrpc *rpc, const cJSON *msg)
{
    const cJSON *method = cJSON_GetObjectItemCaseSensitive(msg, "method");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(msg, "params");

    if (cJSON_IsString(method) && id) {
        if (cJSON_IsObject(id) || cJSON_IsArray(id))
            jsonrpc_respond_error(rpc, NULL, JSONRPC_INVALID_REQUEST, "id must be a scalar");
        else
            rpc->ops->on_request(rpc->arg, method->valuestring, id, params);
    } else if (cJSON_IsString(method)) {
        rpc->ops->on_notification(rpc->arg, method->valuestring, params);
    } else if (id) {
        jsonrpc_on_response(rpc, msg, id);
    } else {
        log_warn("acp", "message that is neither request, notification nor reply skipped");
    }
}

/* Parse one line and dispatch it; see the header. */
int
jsonrpc_handle_line(struct jsonrpc *rpc, const char *line, size_t len)
{
    cJSON *msg = cJSON_ParseWithLength(line, len);

    if (!msg || !cJSON_IsObject(msg)) {
        /* The line is not NUL-terminated: print at most its own bytes, redacted whole
         * before the cut to 80 bytes. */
        char head[81];
        log_format_redacted(head, sizeof(head), "%.*s", (int)(len < INT_MAX ? len : INT_MAX), line);
        log_warn("acp", "agent sent a line that is not a JSON-RPC object (%zu bytes): %s%s", len,
                 head, len > 80 ? "..." : "");
        /* A batch is not allowed in ACP; the spec's answer is -32600 with a null id. */
        if (cJSON_IsArray(msg))
            jsonrpc_respond_error(rpc, NULL, JSONRPC_INVALID_REQUEST, "batches are not supported");
        cJSON_Delete(msg);
        return 0;
    }
    jsonrpc_dispatch(rpc, msg);
    cJSON_Delete(msg);
    return 0;
}

/* Drop a pending request without calling back. */
void
jsonrpc_forget(struct jsonrpc *rpc, uint64_t id)
{
    free(jsonrpc_take(rpc, id));
    jsonrpc_arm(rpc);
}

/* Fail every pending request with @rc. */
void
jsonrpc_fail_all(struct jsonrpc *rpc, int rc)
{
    struct jsonrpc_pending *p;

    while ((p = rpc->pending)) {
        rpc->pending = p->next;
        p->fn(p->arg, rc, NULL, NULL);
        free(p);
    }
    jsonrpc_arm(rpc);
}

/* Count our requests awaiting replies. */
size_t
jsonrpc_pending_count(const struct jsonrpc *rpc)
{
    const struct jsonrpc_pending *p;
    size_t n = 0;

    for (p = rpc->pending; p; p = p->next)
        n++;
    return n;
}

/* The timer is closed: hand over to the owner. */
static void
jsonrpc_on_closed(uv_handle_t *h)
{
    struct jsonrpc *rpc = h->data;

    rpc->closed(rpc);
}

/* Fail what is pending and close the timer. */
void
jsonrpc_close(struct jsonrpc *rpc, void (*closed)(struct jsonrpc *rpc))
{
    /* Mark closed first: callbacks that try to send now get AB_ECLOSED. */
    rpc->closed = closed;
    jsonrpc_fail_all(rpc, AB_ECLOSED);
    uv_close((uv_handle_t *)&rpc->timer, jsonrpc_on_closed);
}
