/* libFuzzer target: bytes from an agent's stdout through the line framer, the
 * JSON-RPC classifier (requests answered, notifications dispatched as session/update
 * events, permission requests parsed) — a hostile agent must never crash the broker. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "acp/acp_event.h"
#include "acp/acp_permission.h"
#include "acp/jsonrpc.h"
#include "acp/ndjson.h"

static uv_loop_t acp_fuzz_loop;

/* Discard what the client would write back. */
static int
acp_fuzz_write(void *arg, char *line, size_t len)
{
    (void)arg;
    (void)len;
    free(line);
    return 0;
}

/* Touch every event field the engine would read. */
static void
acp_fuzz_event(void *arg, const struct acp_event *ev)
{
    size_t *sum = arg;

    if (ev->kind == ACP_EV_MESSAGE_CHUNK && ev->u.chunk.text)
        *sum += strlen(ev->u.chunk.text);
    if (ev->kind == ACP_EV_TOOL_CALL && ev->u.tool.id)
        *sum += strlen(ev->u.tool.id);
}

/* Requests: parse permission requests, answer everything. */
static void
acp_fuzz_request(void *arg, const char *method, const cJSON *id, const cJSON *params)
{
    struct jsonrpc *rpc = arg;
    struct acp_permission *req = NULL;

    if (strcmp(method, "session/request_permission") == 0 &&
        acp_permission_new(NULL, id, params, &req) == 0) {
        cJSON *out = acp_permission_outcome(req, ACP_PERM_ALLOW_ALWAYS);
        acp_permission_pick(req, ACP_PERM_REJECT);
        cJSON_Delete(out);
        acp_permission_free(req);
    }
    jsonrpc_respond_error(rpc, id, -32601, "method not found");
}

/* Notifications: session/update becomes events. */
static void
acp_fuzz_notification(void *arg, const char *method, const cJSON *params)
{
    size_t sum = 0;

    (void)arg;
    if (strcmp(method, "session/update") == 0)
        acp_update_dispatch(params, acp_fuzz_event, &sum);
}

static const struct jsonrpc_ops acp_fuzz_ops = {
    .write = acp_fuzz_write,
    .on_request = acp_fuzz_request,
    .on_notification = acp_fuzz_notification,
};

/* One framed line to the JSON-RPC layer. */
static int
acp_fuzz_line(void *arg, const char *line, size_t len)
{
    jsonrpc_handle_line(arg, line, len);
    return 0;
}

/* Closing callback: nothing to free (the struct is on the stack). */
static void
acp_fuzz_closed(struct jsonrpc *rpc)
{
    (void)rpc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct jsonrpc rpc;
    struct ndjson fr;

    if (!acp_fuzz_loop.data) {
        uv_loop_init(&acp_fuzz_loop);
        acp_fuzz_loop.data = &acp_fuzz_loop;
    }
    if (jsonrpc_init(&rpc, &acp_fuzz_loop, &acp_fuzz_ops, &rpc) < 0)
        return 0;
    ndjson_init(&fr, 1 << 20);
    /* Feed in two pieces so lines split across reads are exercised too. */
    ndjson_feed(&fr, (const char *)data, size / 2, acp_fuzz_line, &rpc);
    ndjson_feed(&fr, (const char *)data + size / 2, size - size / 2, acp_fuzz_line, &rpc);
    ndjson_free(&fr);
    jsonrpc_close(&rpc, acp_fuzz_closed);
    uv_run(&acp_fuzz_loop, UV_RUN_NOWAIT);
    return 0;
}
