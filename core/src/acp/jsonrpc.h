/* JSON-RPC 2.0 over one newline-delimited stream: message classification, our
 * outgoing requests with per-request deadlines, and answers to the peer's requests.
 * Each direction has its own id space: our ids are integers we allocate; the peer's
 * ids (any JSON scalar) are only ever echoed back verbatim. */
#ifndef AB_ACP_JSONRPC_H
#define AB_ACP_JSONRPC_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

/* JSON-RPC error codes this client sends or reads. */
#define JSONRPC_PARSE_ERROR (-32700)
#define JSONRPC_INVALID_REQUEST (-32600)
#define JSONRPC_METHOD_NOT_FOUND (-32601)
#define JSONRPC_INVALID_PARAMS (-32602)
#define JSONRPC_INTERNAL_ERROR (-32603)
#define JSONRPC_AUTH_REQUIRED (-32000)

/* The outcome of one of our requests. @rc is 0 with @result (lent, may be JSON null),
 * AB_EPROTO with @error (lent: the peer's error object), AB_ETIMEDOUT, or AB_ECLOSED
 * when the stream ended first. */
typedef void (*jsonrpc_reply_fn)(void *arg, int rc, const cJSON *result, const cJSON *error);

struct jsonrpc_ops {
    /* Send one message; @line (owned by the callee, malloc'd) ends with '\n'. */
    int (*write)(void *arg, char *line, size_t len);
    /* A request from the peer; it must be answered once with jsonrpc_respond*().
     * @method, @id, @params lent for the call (copy @id to answer later). */
    void (*on_request)(void *arg, const char *method, const cJSON *id, const cJSON *params);
    /* A notification from the peer; pointers lent for the call. */
    void (*on_notification)(void *arg, const char *method, const cJSON *params);
};

struct jsonrpc_pending;

struct jsonrpc {
    uv_timer_t timer;                /* fires at the earliest deadline */
    const struct jsonrpc_ops *ops;   /* lent; outlives the jsonrpc */
    void *arg;                       /* handed to ops */
    uint64_t next_id;                /* our next request id */
    struct jsonrpc_pending *pending; /* owned: our requests awaiting replies */
    void (*closed)(struct jsonrpc *rpc);
};

/* Prepare @rpc on @loop. Returns 0 or a negative uv code. */
int jsonrpc_init(struct jsonrpc *rpc, uv_loop_t *loop, const struct jsonrpc_ops *ops, void *arg);

/* Send request @method with @params (owned; NULL = none). @timeout_ms 0 = no limit.
 * @fn is called exactly once unless jsonrpc_forget() is called. *@id_out (optional)
 * receives our id. */
int jsonrpc_call(struct jsonrpc *rpc, const char *method, cJSON *params, uint64_t timeout_ms,
                 jsonrpc_reply_fn fn, void *arg, uint64_t *id_out);

/* Send notification @method with @params (owned; NULL = none). */
int jsonrpc_notify(struct jsonrpc *rpc, const char *method, cJSON *params);

/* Answer the peer's request @id (lent) with @result (owned; NULL = JSON null). */
int jsonrpc_respond(struct jsonrpc *rpc, const cJSON *id, cJSON *result);

/* Answer the peer's request @id (lent) with an error. */
int jsonrpc_respond_error(struct jsonrpc *rpc, const cJSON *id, int code, const char *message);

/* Classify and dispatch one line (lent). A malformed line is logged and skipped
 * (returns 0); an unknown request is answered with -32601 by the caller's on_request. */
int jsonrpc_handle_line(struct jsonrpc *rpc, const char *line, size_t len);

/* Drop our request @id without calling its callback. */
void jsonrpc_forget(struct jsonrpc *rpc, uint64_t id);

/* Fail every pending request with @rc (AB_ECLOSED when the stream ended). */
void jsonrpc_fail_all(struct jsonrpc *rpc, int rc);

/* Number of our requests awaiting replies. */
size_t jsonrpc_pending_count(const struct jsonrpc *rpc);

/* Fail what is pending with AB_ECLOSED, close the timer, then call @closed. */
void jsonrpc_close(struct jsonrpc *rpc, void (*closed)(struct jsonrpc *rpc));

#endif
