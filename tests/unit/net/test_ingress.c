/* The ingress listener (core/src/ingress/) and its host services, driven by the core's
 * HTTP client (an implementation independent of libwebsockets' server) and by raw
 * sockets for what a well-behaved client never does: routes by prefix, wanted headers,
 * asynchronous answers, 404/413/503, slow requests, per-peer caps, route removal. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <check.h>
#include <uv.h>

#include <agent-broker/plugin.h>

#include "host/host.h"
#include "ingress/ingress.h"
#include "net/http_client.h"
#include "net_fixture.h"

struct fixture {
    uv_loop_t loop;
    struct ingress *in;
    struct http_client *http;
    int port;
};

struct served {
    int calls;
    char method[16];
    char path[256];
    char auth[128];
    char custom[128];
    size_t nheaders;
    char body[4096];
    size_t body_len;
    struct ab_http_exchange *ex; /* held for a later answer */
    bool answer_now;
    int respond_rc;
    uv_timer_t later;
};

struct got {
    bool done;
    int error;
    long status;
    char body[4096];
    char hdr[128];
};

static void
fixture_open(struct fixture *f, const struct ingress_limits *lim)
{
    memset(f, 0, sizeof(*f));
    ck_assert_int_eq(uv_loop_init(&f->loop), 0);
    ck_assert_int_eq(ingress_start(&f->loop, "127.0.0.1:0", lim, &f->in), 0);
    f->port = ingress_port(f->in);
    ck_assert_int_gt(f->port, 0);
    ck_assert_int_eq(http_client_new(&f->loop, NULL, &f->http), 0);
}

static void
fixture_close(struct fixture *f)
{
    http_client_close(f->http);
    ingress_close(f->in);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    ingress_finish(f->in);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&f->loop), 0);
}

static void
on_request(void *arg, struct ab_http_exchange *ex, const struct ab_http_inbound *req)
{
    struct served *s = arg;
    static const char *const hdrs[] = {"Content-Type: application/json", "X-Answer: yes", NULL};

    s->calls++;
    snprintf(s->method, sizeof(s->method), "%s", req->method);
    snprintf(s->path, sizeof(s->path), "%s", req->path);
    s->nheaders = req->header_count;
    s->auth[0] = s->custom[0] = '\0';
    for (size_t i = 0; i < req->header_count; i++) {
        if (!strcmp(req->headers[i].name, "Authorization"))
            snprintf(s->auth, sizeof(s->auth), "%s", req->headers[i].value);
        if (!strcmp(req->headers[i].name, "X-Custom-Thing"))
            snprintf(s->custom, sizeof(s->custom), "%s", req->headers[i].value);
    }
    s->body_len = req->body_len;
    memcpy(s->body, req->body, req->body_len < sizeof(s->body) ? req->body_len : 0);
    if (s->answer_now)
        s->respond_rc = ingress_respond(ex, 201, hdrs, "{\"id\":\"1\"}", 10);
    else
        s->ex = ex;
}

static void
on_response(void *arg, const struct ab_http_response *r)
{
    struct got *g = arg;
    const char *h = ab_http_header(r, "X-Answer");

    g->done = true;
    g->error = r->error;
    g->status = r->status;
    snprintf(g->body, sizeof(g->body), "%.*s", (int)r->body_len, r->body);
    snprintf(g->hdr, sizeof(g->hdr), "%s", h ? h : "");
}

static void
request(struct fixture *f, const char *method, const char *path, const char *const *headers,
        const char *body, struct got *g)
{
    char url[512];
    struct ab_http_request req = {.size = sizeof(req),
                                  .method = method,
                                  .url = url,
                                  .headers = headers,
                                  .body = body,
                                  .body_len = body ? strlen(body) : 0,
                                  .timeout_ms = 20000};
    struct ab_http *h;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", f->port, path);
    ck_assert_int_eq(
        http_client_request(f->http, &req, &(struct net_policy){0}, on_response, g, &h), 0);
}

static const char *const wanted[] = {"Authorization", "X-Custom-Thing", "Content-Type", NULL};

static struct ab_http_route *
add_route(struct fixture *f, const char *prefix, size_t max_body, uint32_t timeout_ms,
          struct served *s)
{
    struct ab_http_route_options o = {.size = sizeof(o),
                                      .prefix = prefix,
                                      .headers = wanted,
                                      .max_body = max_body,
                                      .timeout_ms = timeout_ms};
    struct ab_http_route *r;

    ck_assert_int_eq(ingress_route_add(f->in, f, &o, on_request, s, &r), 0);
    return r;
}

START_TEST(post_reaches_the_route_with_the_wanted_headers_and_body)
{
    struct fixture f;
    struct served s = {.answer_now = true};
    struct got g = {0};
    static const char *const hdrs[] = {"Authorization: Bearer abc.def", "X-Custom-Thing: 42",
                                       "X-Not-Wanted: no", "Content-Type: application/json", NULL};

    fixture_open(&f, NULL);
    add_route(&f, "/api/messages", 0, 0, &s);
    request(&f, "POST", "/api/messages?x=1", hdrs, "{\"type\":\"message\"}", &g);
    ck_assert(net_run_until(&f.loop, &g.done, 10000));
    ck_assert_int_eq(g.error, 0);
    ck_assert_int_eq(g.status, 201);
    ck_assert_str_eq(g.body, "{\"id\":\"1\"}");
    ck_assert_str_eq(g.hdr, "yes");
    ck_assert_int_eq(s.calls, 1);
    ck_assert_int_eq(s.respond_rc, 0);
    ck_assert_str_eq(s.method, "POST");
    ck_assert_str_eq(s.path, "/api/messages?x=1");
    ck_assert_str_eq(s.auth, "Bearer abc.def");
    ck_assert_str_eq(s.custom, "42");
    ck_assert_uint_eq(s.nheaders, 3); /* X-Not-Wanted is not handed over */
    ck_assert_uint_eq(s.body_len, 18);
    ck_assert_str_eq(s.body, "{\"type\":\"message\"}");
    fixture_close(&f);
}
END_TEST

static void
answer_later(uv_timer_t *t)
{
    struct served *s = t->data;

    s->respond_rc = ingress_respond(s->ex, 200, NULL, "late", 4);
    s->ex = NULL;
    uv_close((uv_handle_t *)t, NULL);
}

START_TEST(answer_may_come_on_a_later_loop_turn)
{
    struct fixture f;
    struct served s = {0};
    struct got g = {0};

    fixture_open(&f, NULL);
    add_route(&f, "/hook/", 0, 0, &s);
    request(&f, "GET", "/hook/abc", NULL, NULL, &g);
    while (!s.ex && net_run_until(&f.loop, &g.done, 50) == false && s.calls == 0)
        ;
    ck_assert_ptr_nonnull(s.ex);
    ck_assert_str_eq(s.method, "GET");
    uv_timer_init(&f.loop, &s.later);
    s.later.data = &s;
    uv_timer_start(&s.later, answer_later, 200, 0);
    ck_assert(net_run_until(&f.loop, &g.done, 10000));
    ck_assert_int_eq(g.status, 200);
    ck_assert_str_eq(g.body, "late");
    ck_assert_int_eq(s.respond_rc, 0);
    fixture_close(&f);
}
END_TEST

START_TEST(prefix_matches_whole_segments_only)
{
    struct fixture f;
    struct served s = {.answer_now = true};
    struct got g1 = {0}, g2 = {0}, g3 = {0};

    fixture_open(&f, NULL);
    add_route(&f, "/api/messages", 0, 0, &s);
    request(&f, "POST", "/api/messagesx", NULL, "{}", &g1);
    request(&f, "POST", "/other", NULL, "{}", &g2);
    request(&f, "POST", "/api/messages/sub", NULL, "{}", &g3);
    ck_assert(net_run_until(&f.loop, &g1.done, 10000));
    ck_assert(net_run_until(&f.loop, &g2.done, 10000));
    ck_assert(net_run_until(&f.loop, &g3.done, 10000));
    ck_assert_int_eq(g1.status, 404);
    ck_assert_int_eq(g2.status, 404);
    ck_assert_int_eq(g3.status, 201);
    ck_assert_int_eq(s.calls, 1);
    fixture_close(&f);
}
END_TEST

START_TEST(body_over_the_route_cap_is_refused_with_413)
{
    struct fixture f;
    struct served s = {.answer_now = true};
    struct got g = {0};
    char big[2049];

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    fixture_open(&f, NULL);
    add_route(&f, "/in", 1024, 0, &s);
    request(&f, "POST", "/in", NULL, big, &g);
    ck_assert(net_run_until(&f.loop, &g.done, 10000));
    ck_assert_int_eq(g.status, 413);
    ck_assert_int_eq(s.calls, 0);
    fixture_close(&f);
}
END_TEST

START_TEST(no_answer_in_time_is_503_and_the_late_answer_is_closed)
{
    struct fixture f;
    struct served s = {0};
    struct got g = {0};

    fixture_open(&f, NULL);
    add_route(&f, "/slow", 0, 300, &s);
    request(&f, "POST", "/slow", NULL, "{}", &g);
    ck_assert(net_run_until(&f.loop, &g.done, 10000));
    ck_assert_int_eq(g.status, 503);
    ck_assert_ptr_nonnull(s.ex);
    ck_assert_int_eq(ingress_respond(s.ex, 200, NULL, "x", 1), AB_ECLOSED);
    fixture_close(&f);
}
END_TEST

START_TEST(removing_a_route_answers_its_pending_requests_503)
{
    struct fixture f;
    struct served s = {0};
    struct got g = {0}, g2 = {0};
    struct ab_http_route *r;

    fixture_open(&f, NULL);
    r = add_route(&f, "/gone", 0, 0, &s);
    request(&f, "POST", "/gone", NULL, "{}", &g);
    while (s.calls == 0 && !net_run_until(&f.loop, &g.done, 50))
        ;
    ck_assert_int_eq(s.calls, 1);
    ingress_route_remove(r);
    ck_assert(net_run_until(&f.loop, &g.done, 10000));
    ck_assert_int_eq(g.status, 503);
    request(&f, "POST", "/gone", NULL, "{}", &g2);
    ck_assert(net_run_until(&f.loop, &g2.done, 10000));
    ck_assert_int_eq(g2.status, 404);
    fixture_close(&f);
}
END_TEST

START_TEST(bad_answers_and_routes_are_refused)
{
    struct fixture f;
    struct served s = {0};
    struct got g = {0};
    struct ab_http_route *r;
    struct ab_http_route_options o = {.size = sizeof(o), .prefix = "/api"};
    static const char *const bad[] = {"X-Evil: a\r\nSet-Cookie: b", NULL};

    fixture_open(&f, NULL);
    add_route(&f, "/api/messages", 0, 0, &s);
    ck_assert_int_eq(ingress_route_add(f.in, &f, &o, on_request, &s, &r), AB_EEXIST);
    o.prefix = "relative";
    ck_assert_int_eq(ingress_route_add(f.in, &f, &o, on_request, &s, &r), AB_EINVAL);
    o.prefix = "/x";
    o.max_body = INGRESS_MAX_BODY_CAP + 1;
    ck_assert_int_eq(ingress_route_add(f.in, &f, &o, on_request, &s, &r), AB_EINVAL);
    request(&f, "POST", "/api/messages", NULL, "{}", &g);
    while (s.calls == 0 && !net_run_until(&f.loop, &g.done, 50))
        ;
    ck_assert_int_eq(ingress_respond(s.ex, 200, bad, "", 0), AB_EINVAL);
    ck_assert(net_run_until(&f.loop, &g.done, 10000));
    ck_assert_int_eq(g.status, 500);
    fixture_close(&f);
}
END_TEST

/* A raw, non-blocking TCP connection to the listener. */
static int
raw_connect(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* Whether the server closed @fd (read returns 0 or ECONNRESET) within @ms of loop time. */
static bool
raw_closed_within(struct fixture *f, int fd, uint64_t ms)
{
    char buf[512];

    for (uint64_t t = 0; t < ms; t += 20) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return true;
        net_run_for(&f->loop, 20);
    }
    return false;
}

START_TEST(connections_over_the_per_peer_cap_are_closed_at_once)
{
    struct fixture f;
    struct ingress_limits lim = {.max_per_peer = 2};
    int a, b, c;

    fixture_open(&f, &lim);
    a = raw_connect(f.port);
    b = raw_connect(f.port);
    net_run_for(&f.loop, 200);
    ck_assert_uint_eq(ingress_conn_count(f.in), 2);
    c = raw_connect(f.port);
    ck_assert(raw_closed_within(&f, c, 3000));
    ck_assert(!raw_closed_within(&f, a, 200));
    ck_assert_uint_eq(ingress_conn_count(f.in), 2);
    close(a);
    close(b);
    close(c);
    net_run_for(&f.loop, 300);
    ck_assert_uint_eq(ingress_conn_count(f.in), 0);
    fixture_close(&f);
}
END_TEST

START_TEST(a_request_that_never_completes_is_dropped)
{
    struct fixture f;
    struct ingress_limits lim = {.receive_timeout_ms = 1000};
    struct served s = {.answer_now = true};
    int a, b, c;
    static const char head[] = "POST /in HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{";
    static const char part[] = "POST /in HTTP/1.1\r\nHo";

    fixture_open(&f, &lim);
    add_route(&f, "/in", 0, 0, &s);
    a = raw_connect(f.port); /* says nothing at all */
    b = raw_connect(f.port); /* promises a body it never sends */
    c = raw_connect(f.port); /* a head that never ends */
    ck_assert_int_eq(write(b, head, sizeof(head) - 1), (ssize_t)sizeof(head) - 1);
    ck_assert_int_eq(write(c, part, sizeof(part) - 1), (ssize_t)sizeof(part) - 1);
    ck_assert(raw_closed_within(&f, a, 6000));
    ck_assert(raw_closed_within(&f, b, 6000));
    ck_assert(raw_closed_within(&f, c, 6000));
    ck_assert_int_eq(s.calls, 0);
    close(a);
    close(b);
    close(c);
    fixture_close(&f);
}
END_TEST

START_TEST(a_body_it_cannot_frame_is_refused_501_unread)
{
    struct fixture f;
    struct served s = {.answer_now = true};
    char buf[256] = "";
    ssize_t n = 0;
    int a;
    static const char req[] = "POST /in HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nzz";

    fixture_open(&f, NULL);
    add_route(&f, "/in", 0, 0, &s);
    a = raw_connect(f.port);
    ck_assert_int_eq(write(a, req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
    for (int i = 0; i < 200 && n <= 0; i++) {
        net_run_for(&f.loop, 20);
        n = read(a, buf, sizeof(buf) - 1);
    }
    ck_assert_int_gt(n, 12);
    ck_assert_msg(!strncmp(buf, "HTTP/1.1 501", 12), "got %s", buf);
    ck_assert(raw_closed_within(&f, a, 3000));
    ck_assert_int_eq(s.calls, 0);
    close(a);
    fixture_close(&f);
}
END_TEST

/* Requests pipelined on one connection, the second promising a body its client never
 * sends (it half-closed): libwebsockets 4.1 reported that body complete in a loop that
 * never returned to the event loop (the daemon froze), or read the next body from
 * freed memory (found by fuzz-ingress). One request per connection: the first is
 * answered with Connection: close, the connection closes, the second never runs. */
START_TEST(a_pipelined_request_is_never_served)
{
    struct fixture f;
    struct served s = {.answer_now = true};
    char buf[1024] = "";
    size_t got = 0;
    ssize_t n = 1;
    int a;
    static const char req[] = "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n"
                              "POST /in HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\n";

    fixture_open(&f, NULL);
    add_route(&f, "/in", 0, 0, &s);
    a = raw_connect(f.port);
    ck_assert_int_eq(write(a, req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
    shutdown(a, SHUT_WR);
    for (int i = 0; i < 150 && n != 0; i++) { /* until the server closes, 3 s at most */
        net_run_for(&f.loop, 20);
        while ((n = read(a, buf + got, sizeof(buf) - 1 - got)) > 0)
            got += (size_t)n;
    }
    buf[got] = '\0';
    ck_assert_int_eq(n, 0);
    ck_assert_msg(!strncmp(buf, "HTTP/1.1 404", 12), "got %s", buf);
    ck_assert_ptr_nonnull(strcasestr(buf, "connection: close\r\n"));
    ck_assert_int_eq(s.calls, 0);
    close(a);
    net_run_for(&f.loop, 100);
    ck_assert_uint_eq(ingress_conn_count(f.in), 0);
    fixture_close(&f);
}
END_TEST

START_TEST(head_gets_the_length_but_no_body)
{
    struct fixture f;
    struct served s = {.answer_now = true};
    char buf[1024] = "";
    size_t got = 0;
    int a;
    const char *end;
    static const char req[] = "HEAD /in HTTP/1.1\r\nHost: x\r\n\r\n";

    fixture_open(&f, NULL);
    add_route(&f, "/in", 0, 0, &s);
    a = raw_connect(f.port);
    ck_assert_int_eq(write(a, req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
    for (int i = 0; i < 50; i++) { /* 1 s: the answer and anything that would follow it */
        ssize_t n;
        net_run_for(&f.loop, 20);
        while ((n = read(a, buf + got, sizeof(buf) - 1 - got)) > 0)
            got += (size_t)n;
    }
    buf[got] = '\0';
    ck_assert_int_eq(s.calls, 1);
    ck_assert_str_eq(s.method, "HEAD");
    ck_assert_msg(!strncmp(buf, "HTTP/1.1 201", 12), "got %s", buf);
    ck_assert_ptr_nonnull(strcasestr(buf, "content-length: 10\r\n"));
    ck_assert_ptr_nonnull(end = strstr(buf, "\r\n\r\n"));
    ck_assert_str_eq(end, "\r\n\r\n"); /* nothing after the head */
    close(a);
    fixture_close(&f);
}
END_TEST

START_TEST(host_service_without_ingress_is_a_config_error)
{
    uv_loop_t loop;
    struct ab_host *h;
    struct ab_http_route *r = NULL;
    struct served s = {0};
    struct ab_http_route_options o = {.size = sizeof(o), .prefix = "/api/messages"};
    const struct ab_host_services *svc = &host_services;

    ck_assert_int_eq(uv_loop_init(&loop), 0);
    ck_assert_int_eq(host_new(&loop, "chat", "x", NULL, NULL, NULL, &h), 0);
    ck_assert(AB_HAS(svc, struct ab_host_services, http_respond));
    ck_assert_int_eq(svc->http_route_add(h, &o, on_request, &s, &r), AB_ECONFIG);
    host_free(h);
    uv_run(&loop, UV_RUN_DEFAULT);
    host_net_finish();
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(host_service_routes_go_with_their_host)
{
    struct fixture f;
    struct ab_host *h;
    struct ab_http_route *r = NULL;
    struct served s = {.answer_now = true};
    struct got g = {0}, g2 = {0};
    struct ab_http_route_options o = {.size = sizeof(o), .prefix = "/api/messages"};
    const struct ab_host_services *svc = &host_services;

    fixture_open(&f, NULL);
    host_set_ingress(f.in);
    ck_assert_int_eq(host_new(&f.loop, "chat", "x", NULL, NULL, NULL, &h), 0);
    ck_assert_int_eq(svc->http_route_add(h, &o, on_request, &s, &r), 0);
    request(&f, "POST", "/api/messages", NULL, "{}", &g);
    ck_assert(net_run_until(&f.loop, &g.done, 10000));
    ck_assert_int_eq(g.status, 201);
    host_free(h);
    request(&f, "POST", "/api/messages", NULL, "{}", &g2);
    ck_assert(net_run_until(&f.loop, &g2.done, 10000));
    ck_assert_int_eq(g2.status, 404);
    host_set_ingress(NULL);
    host_net_finish();
    fixture_close(&f);
}
END_TEST

int
main(void)
{
    const TTest *const tests[] = {
        post_reaches_the_route_with_the_wanted_headers_and_body,
        answer_may_come_on_a_later_loop_turn,
        prefix_matches_whole_segments_only,
        body_over_the_route_cap_is_refused_with_413,
        no_answer_in_time_is_503_and_the_late_answer_is_closed,
        removing_a_route_answers_its_pending_requests_503,
        bad_answers_and_routes_are_refused,
        connections_over_the_per_peer_cap_are_closed_at_once,
        a_request_that_never_completes_is_dropped,
        a_body_it_cannot_frame_is_refused_501_unread,
        a_pipelined_request_is_never_served,
        head_gets_the_length_but_no_body,
        host_service_without_ingress_is_a_config_error,
        host_service_routes_go_with_their_host,
    };

    return check_run_tests("ingress", 30, tests, sizeof(tests) / sizeof(tests[0]));
}
