/* JSON-RPC layer: classification, our ids vs the peer's ids, timeouts, EOF. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#include "acp_fixture.h"

#include "acp/jsonrpc.h"

struct peer {
    char out[8][512]; /* what we wrote */
    int nout;
    int requests, notifications;
    char last_method[64];
    cJSON *last_id;
    int replies, last_rc;
    char last_result[128];
    struct jsonrpc *rpc;
};

/* Capture our outgoing lines. */
static int
peer_write(void *arg, char *line, size_t len)
{
    struct peer *p = arg;

    ck_assert_int_lt(p->nout, 8);
    ck_assert_uint_lt(len, 512);
    ck_assert_int_eq(line[len - 1], '\n');
    memcpy(p->out[p->nout], line, len);
    p->out[p->nout++][len - 1] = '\0';
    free(line);
    return 0;
}

/* A request from the peer: answer unknown ones -32601, like the client does. */
static void
peer_request(void *arg, const char *method, const cJSON *id, const cJSON *params)
{
    struct peer *p = arg;

    (void)params;
    p->requests++;
    snprintf(p->last_method, sizeof(p->last_method), "%s", method);
    jsonrpc_respond_error(p->rpc, id, JSONRPC_METHOD_NOT_FOUND, "Method not found");
}

/* A notification from the peer. */
static void
peer_notification(void *arg, const char *method, const cJSON *params)
{
    struct peer *p = arg;

    (void)params;
    p->notifications++;
    snprintf(p->last_method, sizeof(p->last_method), "%s", method);
}

/* A reply to one of our requests. */
static void
peer_reply(void *arg, int rc, const cJSON *result, const cJSON *error)
{
    struct peer *p = arg;
    char *s;

    p->replies++;
    p->last_rc = rc;
    p->last_result[0] = '\0';
    if (result || error) {
        s = cJSON_PrintUnformatted(result ? result : error);
        snprintf(p->last_result, sizeof(p->last_result), "%s", s);
        free(s);
    }
}

static const struct jsonrpc_ops peer_ops = {
    .write = peer_write,
    .on_request = peer_request,
    .on_notification = peer_notification,
};

/* Feed one line. */
static void
feed(struct jsonrpc *rpc, const char *line)
{
    ck_assert_int_eq(jsonrpc_handle_line(rpc, line, strlen(line)), 0);
}

/* Nothing to free: the rpc lives on the test's stack. */
static void
on_closed(struct jsonrpc *rpc)
{
    (void)rpc;
}

/* A loop and an rpc talking to @p. */
static void
peer_open(uv_loop_t *loop, struct jsonrpc *rpc, struct peer *p)
{
    ck_assert_int_eq(uv_loop_init(loop), 0);
    ck_assert_int_eq(jsonrpc_init(rpc, loop, &peer_ops, p), 0);
    p->rpc = rpc;
}

/* Close the rpc, run the loop dry and close it. */
static void
peer_close(uv_loop_t *loop, struct jsonrpc *rpc)
{
    jsonrpc_close(rpc, on_closed);
    uv_run(loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(loop), 0);
}

START_TEST(ids_of_each_direction_never_mix)
{
    uv_loop_t loop;
    struct jsonrpc rpc;
    struct peer p = {0};
    uint64_t id;

    peer_open(&loop, &rpc, &p);
    ck_assert_int_eq(jsonrpc_call(&rpc, "initialize", NULL, 0, peer_reply, &p, &id), 0);
    ck_assert_uint_eq(id, 0);
    ck_assert_str_eq(p.out[0], "{\"jsonrpc\":\"2.0\",\"method\":\"initialize\",\"id\":0}");
    /* The agent's request id 0 is not our id 0: it is answered, ours stays pending. */
    feed(&rpc, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"fs/read_text_file\",\"params\":{}}");
    ck_assert_int_eq(p.requests, 1);
    ck_assert_int_eq(p.replies, 0);
    ck_assert_str_eq(p.out[1], "{\"jsonrpc\":\"2.0\",\"id\":0,\"error\":{\"code\":-32601,"
                               "\"message\":\"Method not found\"}}");
    /* A string id is echoed verbatim. */
    feed(&rpc, "{\"jsonrpc\":\"2.0\",\"id\":\"9b2f-uuid\",\"method\":\"x/y\"}");
    ck_assert_ptr_nonnull(strstr(p.out[2], "\"id\":\"9b2f-uuid\""));
    /* A reply with a string "0" is not a reply to our 0. */
    feed(&rpc, "{\"jsonrpc\":\"2.0\",\"id\":\"0\",\"result\":{}}");
    ck_assert_int_eq(p.replies, 0);
    feed(&rpc, "{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{\"protocolVersion\":1}}");
    ck_assert_int_eq(p.replies, 1);
    ck_assert_int_eq(p.last_rc, 0);
    ck_assert_str_eq(p.last_result, "{\"protocolVersion\":1}");
    /* Replayed reply: nobody waits for it any more. */
    feed(&rpc, "{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{}}");
    ck_assert_int_eq(p.replies, 1);
    peer_close(&loop, &rpc);
}
END_TEST

START_TEST(malformed_lines_are_skipped_and_errors_reported)
{
    uv_loop_t loop;
    struct jsonrpc rpc;
    struct peer p = {0};

    peer_open(&loop, &rpc, &p);
    feed(&rpc, "this line is not JSON {");
    feed(&rpc, "42");
    feed(&rpc, "[{\"jsonrpc\":\"2.0\",\"method\":\"a\"}]");
    ck_assert_str_eq(p.out[0], "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,"
                               "\"message\":\"batches are not supported\"}}");
    feed(&rpc, "{\"jsonrpc\":\"2.0\",\"method\":\"session/update\",\"params\":{}}");
    ck_assert_int_eq(p.notifications, 1);
    ck_assert_int_eq(
        jsonrpc_call(&rpc, "session/new", cJSON_CreateObject(), 0, peer_reply, &p, NULL), 0);
    feed(&rpc, "{\"jsonrpc\":\"2.0\",\"id\":0,\"error\":{\"code\":500,\"message\":\"boom\"}}");
    ck_assert_int_eq(p.last_rc, AB_EPROTO);
    ck_assert_str_eq(p.last_result, "{\"code\":500,\"message\":\"boom\"}");
    peer_close(&loop, &rpc);
}
END_TEST

START_TEST(deadlines_fire_and_close_fails_pending)
{
    uv_loop_t loop;
    struct jsonrpc rpc;
    struct peer p = {0};

    peer_open(&loop, &rpc, &p);
    ck_assert_int_eq(jsonrpc_call(&rpc, "session/load", NULL, 50, peer_reply, &p, NULL), 0);
    ck_assert_int_eq(jsonrpc_call(&rpc, "session/prompt", NULL, 0, peer_reply, &p, NULL), 0);
    uv_run(&loop, UV_RUN_ONCE);
    ck_assert_int_eq(p.replies, 1);
    ck_assert_int_eq(p.last_rc, AB_ETIMEDOUT);
    ck_assert_uint_eq(jsonrpc_pending_count(&rpc), 1);
    jsonrpc_close(&rpc, on_closed);
    ck_assert_int_eq(p.replies, 2);
    ck_assert_int_eq(p.last_rc, AB_ECLOSED);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("acp-jsonrpc");
    TCase *tc = tcase_create("jsonrpc");

    tcase_add_test(tc, ids_of_each_direction_never_mix);
    tcase_add_test(tc, malformed_lines_are_skipped_and_errors_reported);
    tcase_add_test(tc, deadlines_fire_and_close_fails_pending);
    suite_add_tcase(s, tc);
    return check_run_suite(s);
}
