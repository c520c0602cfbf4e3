/* The network services as a plugin sees them: http_request, ws_connect, backoff, the
 * loopback-only rule from config, and what happens to open work when a host is freed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <uv.h>

#include <agent-broker/plugin.h>

#include "host/host.h"
#include "net_fixture.h"
#include "toml/toml.h"

static const struct ab_host_services *svc = &host_services;

struct got {
    bool done;
    int calls;
    int error;
    long status;
    bool closed;
    int code;
    bool is_open;
    char last[64];
};

static void
on_http(void *arg, const struct ab_http_response *r)
{
    struct got *g = arg;

    g->calls++;
    g->done = true;
    g->error = r->error;
    g->status = r->status;
    snprintf(g->last, sizeof(g->last), "%.*s", (int)(r->body_len < 63 ? r->body_len : 63), r->body);
}

static void
on_ws_open(void *arg, struct ab_ws *ws)
{
    struct got *g = arg;

    g->is_open = true;
    ck_assert_int_eq(svc->ws_send(ws, "ping me", 7), 0);
}

static void
on_ws_message(void *arg, struct ab_ws *ws, const char *data, size_t len, bool is_binary)
{
    struct got *g = arg;

    (void)is_binary;
    snprintf(g->last, sizeof(g->last), "%.*s", (int)len, data);
    ck_assert_int_eq(svc->ws_close(ws, 4000, "resume later"), 0);
}

static void
on_ws_close(void *arg, struct ab_ws *ws, int code, const char *reason, bool was_clean)
{
    struct got *g = arg;

    (void)ws;
    (void)reason;
    (void)was_clean;
    g->calls++;
    g->closed = true;
    g->code = code;
}

static const struct ab_ws_callbacks ws_cb = {
    .size = sizeof(struct ab_ws_callbacks),
    .on_open = on_ws_open,
    .on_message = on_ws_message,
    .on_close = on_ws_close,
};

/* Free @h (the last host), run the loop, finish the WebSocket teardown, close. */
static void
stop_all(uv_loop_t *loop, struct ab_host *h)
{
    host_free(h);
    uv_run(loop, UV_RUN_DEFAULT);
    host_net_finish();
    uv_run(loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(loop), 0);
}

START_TEST(abi_minor_is_at_least_1_and_table_has_the_network_members)
{
    ck_assert_int_ge(AB_ABI_MINOR, 1);
    ck_assert_ptr_nonnull(host_services.fatal); /* ABI 1.2 */
    ck_assert_uint_ge(host_services.size, offsetof(struct ab_host_services, backoff_reset) +
                                              sizeof(host_services.backoff_reset));
    ck_assert_ptr_nonnull(host_services.http_request);
    ck_assert_ptr_nonnull(host_services.http_cancel);
    ck_assert_ptr_nonnull(host_services.ws_connect);
    ck_assert_ptr_nonnull(host_services.ws_send);
    ck_assert_ptr_nonnull(host_services.ws_close);
    ck_assert_ptr_nonnull(host_services.backoff_next);
    ck_assert_ptr_nonnull(host_services.backoff_reset);
}
END_TEST

START_TEST(http_and_ws_through_the_services)
{
    uv_loop_t loop;
    struct net_server hs, ws;
    struct ab_host *h;
    struct got g = {0}, w = {0};
    struct ab_http *req;
    struct ab_ws *conn;
    char url[128];

    net_server_start(&hs, "http_server.py");
    net_server_start(&ws, "ws_server.py");
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    ck_assert_int_eq(host_new(&loop, "chat", "fake", NULL, NULL, NULL, &h), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/big?bytes=5", hs.port);
    ck_assert_int_eq(
        svc->http_request(
            h, &(struct ab_http_request){.size = sizeof(struct ab_http_request), .url = url},
            on_http, &g, &req),
        0);
    ck_assert_int_eq(g.calls, 0);
    ck_assert(net_run_until(&loop, &g.done, 10000));
    ck_assert_int_eq(g.status, 200);
    ck_assert_str_eq(g.last, "xxxxx");

    snprintf(url, sizeof(url), "ws://localhost:%d/echo", ws.port);
    ck_assert_int_eq(
        svc->ws_connect(h,
                        &(struct ab_ws_options){.size = sizeof(struct ab_ws_options), .url = url},
                        &ws_cb, &w, &conn),
        0);
    ck_assert(net_run_until(&loop, &w.closed, 10000));
    ck_assert(w.is_open);
    ck_assert_str_eq(w.last, "echo:ping me");
    ck_assert_int_eq(w.code, 4000);
    ck_assert_int_eq(w.calls, 1);
    stop_all(&loop, h);
    net_server_stop(&hs);
    net_server_stop(&ws);
}
END_TEST

START_TEST(plain_text_to_remote_hosts_needs_insecure_in_config)
{
    uv_loop_t loop;
    struct ab_host *h;
    struct toml_table *root = NULL;
    struct toml_error err;
    struct got g = {0};
    struct ab_http *req;
    struct ab_ws *conn;
    const struct ab_http_request remote = {.size = sizeof(struct ab_http_request),
                                           .url = "http://192.0.2.1:9/x"};
    const struct ab_ws_options remote_ws = {.size = sizeof(struct ab_ws_options),
                                            .url = "ws://192.0.2.1:9/x"};

    ck_assert_int_eq(uv_loop_init(&loop), 0);
    ck_assert_int_eq(host_new(&loop, "chat", "fake", NULL, NULL, NULL, &h), 0);
    ck_assert_int_eq(svc->http_request(h, &remote, on_http, &g, &req), AB_ECONFIG);
    ck_assert_int_eq(svc->ws_connect(h, &remote_ws, &ws_cb, &g, &conn), AB_ECONFIG);
    host_free(h);

    /* insecure = true in the plugin's section lifts the rule: the request starts (and is
     * dropped unanswered when the host goes, without a callback) */
    ck_assert_int_eq(
        toml_parse("[fake]\ninsecure = true\n", strlen("[fake]\ninsecure = true\n"), &root, &err),
        0);
    ck_assert_int_eq(
        host_new(&loop, "chat", "fake", toml_get_path(root, "fake")->u.tab, NULL, NULL, &h), 0);
    ck_assert_int_eq(svc->http_request(h, &remote, on_http, &g, &req), 0);
    ck_assert_int_eq(svc->ws_connect(h, &remote_ws, &ws_cb, &g, &conn), 0);
    stop_all(&loop, h); /* freed at once: both are dropped without a callback */
    ck_assert_int_eq(g.calls, 0);
    toml_free(root);
}
END_TEST

START_TEST(backoff_grows_with_jitter_to_a_cap_and_resets_per_key)
{
    uv_loop_t loop;
    struct ab_host *h;
    uint64_t d, max_seen = 0;
    int below_cap_half = 0;

    ck_assert_int_eq(uv_loop_init(&loop), 0);
    ck_assert_int_eq(host_new(&loop, "chat", "fake", NULL, NULL, NULL, &h), 0);
    ck_assert_uint_le(svc->backoff_next(h, "gateway"), 1000);
    ck_assert_uint_le(svc->backoff_next(h, "gateway"), 2000);
    ck_assert_uint_le(svc->backoff_next(h, "gateway"), 4000);
    for (int i = 0; i < 200; i++) {
        d = svc->backoff_next(h, "gateway");
        ck_assert_uint_le(d, 60000);
        if (d > max_seen)
            max_seen = d;
        if (d < 30000)
            below_cap_half++;
    }
    ck_assert_uint_gt(max_seen, 45000);   /* it does reach toward the cap */
    ck_assert_int_gt(below_cap_half, 20); /* and is jittered, not fixed */
    /* other keys are independent; a reset starts over */
    ck_assert_uint_le(svc->backoff_next(h, "rest"), 1000);
    svc->backoff_reset(h, "gateway");
    ck_assert_uint_le(svc->backoff_next(h, "gateway"), 1000);
    svc->backoff_reset(h, "never-used");
    stop_all(&loop, h);
}
END_TEST

int
main(void)
{
    const TTest *const tests[] = {
        abi_minor_is_at_least_1_and_table_has_the_network_members,
        http_and_ws_through_the_services,
        plain_text_to_remote_hosts_needs_insecure_in_config,
        backoff_grows_with_jitter_to_a_cap_and_resets_per_key,
    };

    return check_run_tests("host_net", 30, tests, sizeof(tests) / sizeof(tests[0]));
}
