/* The WebSocket client against a loopback python3-websockets server: messages both ways,
 * fragments, close codes, drops, liveness, DNS of "localhost", and the two-step
 * teardown that leaves the loop closable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>
#include <uv.h>

#include <agent-broker/errors.h>

#include "net/ws_client.h"
#include "net_fixture.h"

/* What one connection did. */
struct conn {
    struct ab_ws *ws;
    bool is_open;
    int messages;
    char *last; /* owned copy of the last message */
    size_t last_len;
    char all[256]; /* every short message, each followed by '|' */
    bool closed;
    int close_calls;
    int code;
    char reason[256];
    bool was_clean;
    uint64_t closed_ms;
    const char *send_on_open; /* lent */
};

struct fx {
    uv_loop_t loop;
    struct net_server srv;
    struct ws_client *wc;
    char url[256];
};

static void
fx_start(struct fx *f)
{
    net_server_start(&f->srv, "ws_server.py");
    ck_assert_int_eq(uv_loop_init(&f->loop), 0);
    ck_assert_int_eq(ws_client_new(&f->loop, &f->wc), 0);
}

/* The documented shutdown: close, run, finish, run, and the loop closes. */
static void
fx_stop(struct fx *f)
{
    ws_client_close(f->wc);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    ws_client_finish(f->wc);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    net_server_stop(&f->srv);
    ck_assert_int_eq(uv_loop_close(&f->loop), 0);
}

static const char *
fx_url(struct fx *f, const char *host, const char *path)
{
    snprintf(f->url, sizeof(f->url), "ws://%s:%d%s", host, f->srv.port, path);
    return f->url;
}

static void
on_open(void *arg, struct ab_ws *ws)
{
    struct conn *c = arg;

    ck_assert_ptr_eq(ws, c->ws);
    c->is_open = true;
    if (c->send_on_open)
        ck_assert_int_eq(ws_client_send(ws, c->send_on_open, strlen(c->send_on_open)), 0);
}

static void
on_message(void *arg, struct ab_ws *ws, const char *data, size_t len, bool is_binary)
{
    struct conn *c = arg;

    (void)ws;
    ck_assert(!is_binary);
    ck_assert_int_eq(data[len], '\0');
    c->messages++;
    free(c->last);
    c->last = malloc(len + 1);
    memcpy(c->last, data, len + 1);
    c->last_len = len;
    if (len < 64 && strlen(c->all) + len + 2 < sizeof(c->all)) {
        strcat(c->all, data);
        strcat(c->all, "|");
    }
}

static void
on_close(void *arg, struct ab_ws *ws, int code, const char *reason, bool was_clean)
{
    struct conn *c = arg;

    ck_assert_ptr_eq(ws, c->ws);
    c->closed = true;
    c->close_calls++;
    c->code = code;
    snprintf(c->reason, sizeof(c->reason), "%s", reason);
    c->was_clean = was_clean;
    c->closed_ms = uv_hrtime() / 1000000;
}

static const struct ab_ws_callbacks callbacks = {
    .size = sizeof(struct ab_ws_callbacks),
    .on_open = on_open,
    .on_message = on_message,
    .on_close = on_close,
};

/* Connect @c to @url with @idle_ms and @max_message. */
static void
fx_connect(struct fx *f, struct conn *c, const char *url, uint32_t idle_ms, uint32_t max_message)
{
    struct ab_ws_options o = {
        .size = sizeof(o), .url = url, .idle_timeout_ms = idle_ms, .max_message = max_message};

    ck_assert_int_eq(ws_client_connect(f->wc, &o, NULL, &callbacks, c, &c->ws), 0);
    ck_assert(!c->is_open && !c->closed); /* never inside the call */
}

/* Fetch the server's event log through /log; returns a cJSON array (caller frees). */
static cJSON *
fx_server_log(struct fx *f)
{
    struct conn c = {0};
    cJSON *log;

    fx_connect(f, &c, fx_url(f, "127.0.0.1", "/log"), 0, 0);
    ck_assert(net_run_until(&f->loop, &c.closed, 20000));
    ck_assert_int_eq(c.messages, 1);
    ck_assert_ptr_nonnull(log = cJSON_Parse(c.last));
    free(c.last);
    return log;
}

/* The close code the server saw on its first connection to @path, or -1 after 2 s. */
static int
fx_server_close_code(struct fx *f, const char *path)
{
    cJSON *log, *e;
    int code = -1;

    for (int i = 0; i < 40 && code < 0; i++) {
        if (i)
            net_run_for(&f->loop, 50); /* the server logs a close when its handler ends */
        log = fx_server_log(f);
        cJSON_ArrayForEach(e, log)
        {
            if (!strcmp(cJSON_GetObjectItemCaseSensitive(e, "path")->valuestring, path) &&
                !strcmp(cJSON_GetObjectItemCaseSensitive(e, "event")->valuestring, "close")) {
                cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "code");
                code = cJSON_IsNumber(v) ? (int)v->valuedouble : 0;
                break;
            }
        }
        cJSON_Delete(log);
    }
    return code;
}

START_TEST(text_messages_both_ways_then_clean_close)
{
    struct fx f;
    struct conn c = {.send_on_open = "hi there"};

    fx_start(&f);
    fx_connect(&f, &c, fx_url(&f, "127.0.0.1", "/echo"), 0, 0);
    ck_assert(net_run_until(&f.loop, &c.is_open, 20000));
    ck_assert_int_eq(ws_client_send(c.ws, "second", 6), 0);
    net_run_for(&f.loop, 300);
    ck_assert_int_eq(c.messages, 2);
    ck_assert_str_eq(c.last, "echo:second");
    ck_assert_int_eq(ws_client_disconnect(c.ws, 4000, "see you"), 0);
    ck_assert_int_eq(ws_client_send(c.ws, "late", 4), AB_ECLOSED);
    ck_assert(!c.closed); /* never inside the call */
    ck_assert(net_run_until(&f.loop, &c.closed, 20000));
    ck_assert_int_eq(c.close_calls, 1);
    ck_assert_int_eq(c.code, 4000);
    ck_assert(c.was_clean);
    ck_assert_int_eq(fx_server_close_code(&f, "/echo"), 4000);
    free(c.last);
    fx_stop(&f);
}
END_TEST

START_TEST(messages_queued_before_open_go_out_in_order)
{
    struct fx f;
    struct conn c = {0};

    fx_start(&f);
    fx_connect(&f, &c, fx_url(&f, "127.0.0.1", "/echo"), 0, 0);
    ck_assert_int_eq(ws_client_send(c.ws, "one", 3), 0);
    ck_assert_int_eq(ws_client_send(c.ws, "two", 3), 0);
    ck_assert(net_run_until(&f.loop, &c.is_open, 20000));
    ck_assert_int_eq(ws_client_send(c.ws, "three", 5), 0);
    for (int i = 0; i < 100 && c.messages < 3; i++)
        net_run_for(&f.loop, 20);
    ck_assert_str_eq(c.all, "echo:one|echo:two|echo:three|");
    ck_assert_int_eq(ws_client_send(c.ws, "four", 4), 0);
    ck_assert_int_eq(ws_client_disconnect(c.ws, 1000, "bye"), 0); /* after the queue */
    ck_assert(net_run_until(&f.loop, &c.closed, 20000));
    ck_assert_int_eq(c.code, 1000);
    ck_assert_int_eq(fx_server_close_code(&f, "/echo"), 1000);
    {
        cJSON *log = fx_server_log(&f), *e;
        int n = 0;
        cJSON_ArrayForEach(e, log)
        {
            if (!strcmp(cJSON_GetObjectItemCaseSensitive(e, "event")->valuestring, "message"))
                n++;
        }
        ck_assert_int_eq(n, 4); /* "four" reached the server before the close */
        cJSON_Delete(log);
    }
    free(c.last);
    fx_stop(&f);
}
END_TEST

START_TEST(close_before_open_abandons_the_attempt)
{
    struct fx f;
    struct conn c = {0};

    fx_start(&f);
    fx_connect(&f, &c, fx_url(&f, "127.0.0.1", "/echo"), 0, 0);
    ck_assert_int_eq(ws_client_send(c.ws, "one", 3), 0);
    ck_assert_int_eq(ws_client_disconnect(c.ws, 4000, "changed my mind"), 0);
    ck_assert(!c.closed);
    ck_assert(net_run_until(&f.loop, &c.closed, 20000));
    ck_assert_int_eq(c.code, 4000);
    ck_assert_str_eq(c.reason, "changed my mind");
    ck_assert(!c.is_open);
    ck_assert_int_eq(c.messages, 0);
    fx_stop(&f);
}
END_TEST

START_TEST(large_fragmented_message_arrives_whole)
{
    struct fx f;
    struct conn c = {.send_on_open = "big:1048576"};

    fx_start(&f);
    fx_connect(&f, &c, fx_url(&f, "127.0.0.1", "/echo"), 0, 0);
    for (int i = 0; i < 200 && c.messages == 0; i++)
        net_run_for(&f.loop, 25);
    ck_assert_int_eq(c.messages, 1);
    ck_assert_uint_eq(c.last_len, 1048576);
    for (size_t i = 0; i < c.last_len; i += 4099)
        ck_assert_int_eq(c.last[i], 'a' + (int)(i % 26));
    ck_assert(!c.closed);
    free(c.last);
    fx_stop(&f);
}
END_TEST

START_TEST(oversized_message_closes_with_1009)
{
    struct fx f;
    struct conn c = {.send_on_open = "big:200000"};

    fx_start(&f);
    fx_connect(&f, &c, fx_url(&f, "127.0.0.1", "/echo"), 0, 65536);
    ck_assert(net_run_until(&f.loop, &c.closed, 20000));
    ck_assert_int_eq(c.messages, 0);
    ck_assert_int_eq(c.code, 1009);
    ck_assert_ptr_nonnull(strstr(c.reason, "65536"));
    ck_assert_int_eq(fx_server_close_code(&f, "/echo"), 1009);
    fx_stop(&f);
}
END_TEST

START_TEST(server_close_4004_is_reported)
{
    struct fx f;
    struct conn c = {0};

    fx_start(&f);
    fx_connect(&f, &c, fx_url(&f, "127.0.0.1", "/close4004"), 0, 0);
    ck_assert(net_run_until(&f.loop, &c.closed, 20000));
    ck_assert_int_eq(c.close_calls, 1);
    ck_assert_int_eq(c.code, 4004);
    ck_assert_str_eq(c.reason, "Authentication failed.");
    ck_assert(c.was_clean);
    fx_stop(&f);
}
END_TEST

START_TEST(tcp_drop_without_close_frame_is_reported)
{
    struct fx f;
    struct conn c = {0};

    fx_start(&f);
    fx_connect(&f, &c, fx_url(&f, "127.0.0.1", "/drop"), 0, 0);
    ck_assert(net_run_until(&f.loop, &c.closed, 20000));
    ck_assert_int_eq(c.messages, 1);
    ck_assert_str_eq(c.last, "hello");
    ck_assert_int_eq(c.code, 1006);
    ck_assert(!c.was_clean);
    ck_assert_ptr_nonnull(strstr(c.reason, "without a close frame"));
    free(c.last);
    fx_stop(&f);
}
END_TEST

START_TEST(silent_server_is_declared_dead_after_idle_timeout)
{
    struct fx f;
    struct conn c = {0};
    uint64_t opened;

    fx_start(&f);
    fx_connect(&f, &c, fx_url(&f, "127.0.0.1", "/deaf"), 800, 0);
    ck_assert(net_run_until(&f.loop, &c.is_open, 20000));
    opened = uv_hrtime() / 1000000;
    ck_assert(net_run_until(&f.loop, &c.closed, 20000));
    ck_assert_int_eq(c.code, 1006);
    ck_assert(!c.was_clean);
    ck_assert_ptr_nonnull(strstr(c.reason, "presumed dead"));
    ck_assert_uint_ge(c.closed_ms - opened, 700);
    ck_assert_uint_lt(c.closed_ms - opened, 2500);
    free(c.last);
    fx_stop(&f);
}
END_TEST

START_TEST(quiet_server_answering_pings_stays_up)
{
    struct fx f;
    struct conn c = {0};

    fx_start(&f);
    fx_connect(&f, &c, fx_url(&f, "127.0.0.1", "/quiet"), 600, 0);
    ck_assert(net_run_until(&f.loop, &c.is_open, 20000));
    net_run_for(&f.loop, 2500); /* four idle timeouts without a data frame */
    ck_assert(!c.closed);
    ck_assert_int_eq(ws_client_disconnect(c.ws, 1000, ""), 0);
    ck_assert(net_run_until(&f.loop, &c.closed, 20000));
    ck_assert_int_eq(c.code, 1000);
    free(c.last);
    fx_stop(&f);
}
END_TEST

START_TEST(localhost_is_resolved_and_sent_as_host)
{
    struct fx f;
    struct conn c = {.send_on_open = "x"};
    char want[64];
    cJSON *log, *e;
    bool seen = false;

    fx_start(&f);
    /* localhost may resolve to ::1 first; the server listens on 127.0.0.1 only */
    fx_connect(&f, &c, fx_url(&f, "localhost", "/echo"), 0, 0);
    for (int i = 0; i < 200 && c.messages == 0 && !c.closed; i++)
        net_run_for(&f.loop, 25);
    ck_assert_msg(c.messages == 1, "closed: %d %s", c.code, c.reason);
    ck_assert_int_eq(ws_client_disconnect(c.ws, 1000, ""), 0);
    ck_assert(net_run_until(&f.loop, &c.closed, 20000));
    snprintf(want, sizeof(want), "localhost:%d", f.srv.port);
    log = fx_server_log(&f);
    cJSON_ArrayForEach(e, log)
    {
        cJSON *h = cJSON_GetObjectItemCaseSensitive(e, "host");
        if (cJSON_IsString(h) && !strcmp(h->valuestring, want))
            seen = true;
    }
    cJSON_Delete(log);
    ck_assert(seen);
    free(c.last);
    fx_stop(&f);
}
END_TEST

START_TEST(unresolvable_and_refused_are_reported_with_text)
{
    struct fx f;
    struct conn bad = {0}, refused = {0};
    char url[64];

    struct ab_ws_options o = {.size = sizeof(o), .url = "ws://no-such-host.invalid/"};
    struct net_policy insecure = {.insecure = true};

    fx_start(&f);
    ck_assert_int_eq(ws_client_connect(f.wc, &o, &insecure, &callbacks, &bad, &bad.ws), 0);
    ck_assert(net_run_until(&f.loop, &bad.closed, 10000));
    ck_assert_int_eq(bad.code, 1006);
    ck_assert_ptr_nonnull(strstr(bad.reason, "cannot resolve no-such-host.invalid"));
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/", net_free_port());
    fx_connect(&f, &refused, url, 0, 0);
    ck_assert(net_run_until(&f.loop, &refused.closed, 10000));
    ck_assert_int_eq(refused.code, 1006);
    ck_assert_int_eq(refused.close_calls, 1);
    ck_assert_ptr_nonnull(strstr(refused.reason, "cannot connect to 127.0.0.1"));
    fx_stop(&f);
}
END_TEST

START_TEST(bad_options_are_refused_at_once)
{
    struct fx f;
    struct conn c = {0};
    struct ab_ws_options o = {.size = sizeof(o), .url = "ws://gateway.discord.gg/"};
    struct ab_ws *ws;

    fx_start(&f);
    ck_assert_int_eq(ws_client_connect(f.wc, &o, NULL, &callbacks, &c, &ws), AB_ECONFIG);
    o.url = "https://discord.com/";
    ck_assert_int_eq(ws_client_connect(f.wc, &o, NULL, &callbacks, &c, &ws), AB_EINVAL);
    o.url = fx_url(&f, "127.0.0.1", "/echo");
    ck_assert_int_eq(ws_client_connect(f.wc, &o, NULL,
                                       &(struct ab_ws_callbacks){.size = sizeof(callbacks)}, &c,
                                       &ws),
                     AB_EINVAL); /* on_close is mandatory */
    ck_assert_int_eq(ws_client_connect(f.wc, &o, NULL, &callbacks, &c, &c.ws), 0);
    ck_assert_int_eq(ws_client_disconnect(c.ws, 1006, "reserved"), AB_EINVAL);
    ck_assert_int_eq(ws_client_disconnect(c.ws, 1000, "before open"), 0);
    ck_assert(net_run_until(&f.loop, &c.closed, 20000));
    ck_assert_int_eq(c.code, 1000);
    ck_assert(!c.is_open);
    fx_stop(&f);
}
END_TEST

START_TEST(close_with_open_connections_leaves_the_loop_closable)
{
    struct fx f;
    struct conn a = {0}, b = {0};

    fx_start(&f);
    fx_connect(&f, &a, fx_url(&f, "127.0.0.1", "/quiet"), 1000, 0);
    fx_connect(&f, &b, fx_url(&f, "127.0.0.1", "/echo"), 0, 0);
    ck_assert(net_run_until(&f.loop, &a.is_open, 20000));
    ck_assert(net_run_until(&f.loop, &b.is_open, 20000));
    fx_stop(&f);
    ck_assert_int_eq(a.close_calls + b.close_calls, 0); /* dropped without callbacks */
    free(a.last);
}
END_TEST

START_TEST(wss_trusts_the_system_directory_by_hash)
{
    /* No CA file: lws is told not to load the system bundle, and the core gives its
     * context the certificate directory (SSL_CERT_DIR here) instead — the server's own
     * certificate linked there is trusted, another one with the same name is not. */
    struct net_tls t;

    net_tls_init(&t, "ws", "DNS:localhost,IP:127.0.0.1");
    for (int i = 0; i < 2; i++) {
        struct fx f;
        struct conn c = {.send_on_open = "over tls"};

        net_tls_trust_only(&t, i, i == 0 ? t.cert : t.other);
        fx_start(&f);
        snprintf(f.url, sizeof(f.url), "wss://localhost:%d/echo", f.srv.port);
        fx_connect(&f, &c, f.url, 0, 0);
        if (i == 0) {
            ck_assert(net_run_until(&f.loop, &c.is_open, 20000));
            for (int k = 0; k < 200 && !c.messages; k++)
                net_run_for(&f.loop, 50);
            ck_assert_str_eq(c.last, "echo:over tls");
            ck_assert_int_eq(ws_client_disconnect(c.ws, 1000, "done"), 0);
        }
        ck_assert(net_run_until(&f.loop, &c.closed, 20000));
        if (i == 1) {
            ck_assert(!c.is_open);
            ck_assert_int_eq(c.code, 1006);
        }
        free(c.last);
        fx_stop(&f);
    }
    net_tls_free(&t);
}
END_TEST

int
main(void)
{
    const TTest *const tests[] = {
        text_messages_both_ways_then_clean_close,
        messages_queued_before_open_go_out_in_order,
        close_before_open_abandons_the_attempt,
        large_fragmented_message_arrives_whole,
        oversized_message_closes_with_1009,
        server_close_4004_is_reported,
        tcp_drop_without_close_frame_is_reported,
        silent_server_is_declared_dead_after_idle_timeout,
        quiet_server_answering_pings_stays_up,
        localhost_is_resolved_and_sent_as_host,
        unresolvable_and_refused_are_reported_with_text,
        bad_options_are_refused_at_once,
        close_with_open_connections_leaves_the_loop_closable,
        wss_trusts_the_system_directory_by_hash,
    };

    return check_run_tests("ws", 30, tests, sizeof(tests) / sizeof(tests[0]));
}
