/* The HTTP client against a loopback Python server: methods, headers, bodies, keep-alive,
 * timeouts, rate-limit headers, the body cap, chunked and cut responses, downloads to a
 * file, multipart uploads streamed from disk, cancel and close. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <uv.h>

#include <agent-broker/errors.h>

#include "net/http_client.h"
#include "net/tls_errors.h"
#include "net_fixture.h"

/* What one request came back with (copied out of the callback). */
struct result {
    bool done;
    int calls;
    int error;
    char error_text[256];
    long status;
    char *body;
    size_t body_len;
    char x_echo[16];
    uint64_t retry_after_ms;
    int64_t remaining;
    uint64_t reset_after_ms;
    char bucket[32];
    bool global;
    char retry_after_header[16];
};

struct fx {
    uv_loop_t loop;
    struct net_server srv;
    struct http_client *http;
    char url[256];
};

static void
fx_start(struct fx *f, size_t max_body)
{
    struct http_client_options o = {.max_body = max_body};

    net_server_start(&f->srv, "http_server.py");
    ck_assert_int_eq(uv_loop_init(&f->loop), 0);
    ck_assert_int_eq(http_client_new(&f->loop, &o, &f->http), 0);
}

/* Close the client, run the loop empty, and insist it closes. */
static void
fx_stop(struct fx *f)
{
    http_client_close(f->http);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    net_server_stop(&f->srv);
    ck_assert_int_eq(uv_loop_close(&f->loop), 0);
}

static const char *
fx_url(struct fx *f, const char *path)
{
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d%s", f->srv.port, path);
    return f->url;
}

static void
on_done(void *arg, const struct ab_http_response *r)
{
    struct result *res = arg;
    const char *v;

    res->calls++;
    res->done = true;
    res->error = r->error;
    snprintf(res->error_text, sizeof(res->error_text), "%s", r->error_text);
    res->status = r->status;
    free(res->body);
    res->body = malloc(r->body_len + 1);
    memcpy(res->body, r->body, r->body_len + 1);
    res->body_len = r->body_len;
    snprintf(res->x_echo, sizeof(res->x_echo), "%s", (v = ab_http_header(r, "x-ECHO")) ? v : "");
    res->retry_after_ms = r->retry_after_ms;
    res->remaining = r->ratelimit_remaining;
    res->reset_after_ms = r->ratelimit_reset_after_ms;
    snprintf(res->bucket, sizeof(res->bucket), "%s",
             r->ratelimit_bucket ? r->ratelimit_bucket : "");
    res->global = r->ratelimit_global;
    v = ab_http_header(r, "Retry-After");
    snprintf(res->retry_after_header, sizeof(res->retry_after_header), "%s", v ? v : "");
}

/* Run one request to completion. */
static void
fx_fetch(struct fx *f, const struct ab_http_request *req, struct result *res)
{
    struct ab_http *h;

    ck_assert_int_eq(http_client_request(f->http, req, NULL, on_done, res, &h), 0);
    ck_assert_int_eq(res->calls, 0); /* never inside the call */
    ck_assert(net_run_until(&f->loop, &res->done, 10000));
}

START_TEST(get_returns_status_headers_and_body)
{
    static const char *const hdrs[] = {"X-Test: one two", "Authorization: Bot secret", NULL};
    struct fx f;
    struct result res = {0};
    cJSON *doc;

    fx_start(&f, 0);
    fx_fetch(&f,
             &(struct ab_http_request){.size = sizeof(struct ab_http_request),
                                       .url = fx_url(&f, "/echo?q=1"),
                                       .headers = hdrs},
             &res);
    ck_assert_int_eq(res.error, 0);
    ck_assert_int_eq(res.status, 200);
    ck_assert_str_eq(res.x_echo, "yes");
    ck_assert_ptr_nonnull(doc = cJSON_ParseWithLength(res.body, res.body_len));
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(doc, "method")->valuestring, "GET");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(doc, "path")->valuestring, "/echo?q=1");
    ck_assert_str_eq(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "headers"), "x-test")
            ->valuestring,
        "one two");
    cJSON_Delete(doc);
    free(res.body);
    fx_stop(&f);
}
END_TEST

/* Send @method with @body to /echo and check what the server saw. */
static void
check_method(struct fx *f, const char *method, const char *body)
{
    static const char *const hdrs[] = {"Content-Type: application/json", NULL};
    struct result res = {0};
    cJSON *doc;

    fx_fetch(f,
             &(struct ab_http_request){.size = sizeof(struct ab_http_request),
                                       .method = method,
                                       .url = fx_url(f, "/echo"),
                                       .headers = hdrs,
                                       .body = body,
                                       .body_len = body ? strlen(body) : 0},
             &res);
    ck_assert_int_eq(res.status, 200);
    ck_assert_ptr_nonnull(doc = cJSON_ParseWithLength(res.body, res.body_len));
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(doc, "method")->valuestring, method);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(doc, "body")->valuestring, body ? body : "");
    cJSON_Delete(doc);
    free(res.body);
}

START_TEST(post_patch_put_delete_send_method_and_body)
{
    struct fx f;
    char big[5000];

    memset(big, 'b', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    fx_start(&f, 0);
    check_method(&f, "POST", "{\"content\":\"hello\"}");
    check_method(&f, "PATCH", "{\"content\":\"edited\"}");
    check_method(&f, "PUT", big); /* over 1 KiB: no 100-continue stall */
    check_method(&f, "DELETE", NULL);
    check_method(&f, "POST", NULL);
    fx_stop(&f);
}
END_TEST

/* Chain @left GETs, each started from the previous one's callback. */
struct chain {
    struct http_client *http;
    const char *url;
    int left;
    bool done;
    int failures;
};

static void
chain_next(void *arg, const struct ab_http_response *r)
{
    struct chain *c = arg;
    struct ab_http *h;

    if (r->error || r->status != 200)
        c->failures++;
    if (--c->left == 0) {
        c->done = true;
        return;
    }
    ck_assert_int_eq(http_client_request(c->http,
                                         &(struct ab_http_request){
                                             .size = sizeof(struct ab_http_request), .url = c->url},
                                         NULL, chain_next, c, &h),
                     0);
}

START_TEST(keep_alive_reuses_one_connection)
{
    struct fx f;
    struct chain c = {.left = 6};
    struct result res = {0};
    struct ab_http *h;
    cJSON *doc;

    fx_start(&f, 0);
    c.http = f.http;
    c.url = fx_url(&f, "/echo");
    ck_assert_int_eq(
        http_client_request(
            f.http, &(struct ab_http_request){.size = sizeof(struct ab_http_request), .url = c.url},
            NULL, chain_next, &c, &h),
        0);
    ck_assert(net_run_until(&f.loop, &c.done, 10000));
    ck_assert_int_eq(c.failures, 0);
    fx_fetch(&f,
             &(struct ab_http_request){.size = sizeof(struct ab_http_request),
                                       .url = fx_url(&f, "/connections")},
             &res);
    ck_assert_ptr_nonnull(doc = cJSON_ParseWithLength(res.body, res.body_len));
    /* 7 requests, one TCP connection */
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(doc, "connections")->valuedouble, 1);
    cJSON_Delete(doc);
    free(res.body);
    fx_stop(&f);
}
END_TEST

START_TEST(timeout_fails_with_etimedout)
{
    struct fx f;
    struct result res = {0};
    uint64_t t0;

    fx_start(&f, 0);
    t0 = uv_hrtime();
    fx_fetch(&f,
             &(struct ab_http_request){.size = sizeof(struct ab_http_request),
                                       .url = fx_url(&f, "/slow?ms=5000"),
                                       .timeout_ms = 300},
             &res);
    ck_assert_int_eq(res.error, AB_ETIMEDOUT);
    ck_assert_int_eq(res.status, 0);
    ck_assert_str_ne(res.error_text, "");
    ck_assert_uint_ge((uv_hrtime() - t0) / 1000000, 250);
    ck_assert_uint_lt((uv_hrtime() - t0) / 1000000, 3000);
    free(res.body);
    fx_stop(&f);
}
END_TEST

START_TEST(rate_limited_429_exposes_retry_after_and_bucket)
{
    struct fx f;
    struct result res = {0};

    fx_start(&f, 0);
    fx_fetch(&f,
             &(struct ab_http_request){.size = sizeof(struct ab_http_request),
                                       .url = fx_url(&f, "/ratelimit")},
             &res);
    ck_assert_int_eq(res.error, 0);
    ck_assert_int_eq(res.status, 429);
    ck_assert_uint_eq(res.retry_after_ms, 3000);
    ck_assert_str_eq(res.retry_after_header, "3");
    ck_assert_int_eq(res.remaining, 0);
    ck_assert_uint_eq(res.reset_after_ms, 2500);
    ck_assert_str_eq(res.bucket, "abc123");
    ck_assert(res.global);
    ck_assert_ptr_nonnull(strstr(res.body, "\"retry_after\": 2.5"));
    free(res.body);
    fx_stop(&f);
}
END_TEST

/* Header numbers no wait can be (1e300 s, inf, nan, a year) read as absent, not cast. */
START_TEST(absurd_rate_limit_headers_read_as_absent)
{
    static const char *const paths[] = {
        "/ratelimit?retry=1e300&reset=1e300",
        "/ratelimit?retry=inf&reset=inf",
        "/ratelimit?retry=nan&reset=nan",
        "/ratelimit?retry=31536000&reset=31536000",
    };
    struct fx f;

    fx_start(&f, 0);
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct result res = {0};
        fx_fetch(&f,
                 &(struct ab_http_request){.size = sizeof(struct ab_http_request),
                                           .url = fx_url(&f, paths[i])},
                 &res);
        ck_assert_int_eq(res.status, 429);
        ck_assert_msg(res.retry_after_ms == 0, "%s: %llu", paths[i],
                      (unsigned long long)res.retry_after_ms);
        ck_assert_msg(res.reset_after_ms == 0, "%s: %llu", paths[i],
                      (unsigned long long)res.reset_after_ms);
        free(res.body);
    }
    fx_stop(&f);
}
END_TEST

START_TEST(body_over_the_cap_fails_with_efull)
{
    struct fx f;
    struct result small = {0}, big = {0};

    fx_start(&f, 4096);
    fx_fetch(&f,
             &(struct ab_http_request){.size = sizeof(struct ab_http_request),
                                       .url = fx_url(&f, "/big?bytes=4096")},
             &small);
    ck_assert_int_eq(small.error, 0);
    ck_assert_uint_eq(small.body_len, 4096);
    fx_fetch(&f,
             &(struct ab_http_request){.size = sizeof(struct ab_http_request),
                                       .url = fx_url(&f, "/big?bytes=4097")},
             &big);
    ck_assert_int_eq(big.error, AB_EFULL);
    ck_assert_ptr_nonnull(strstr(big.error_text, "4096"));
    free(small.body);
    free(big.body);
    fx_stop(&f);
}
END_TEST

START_TEST(default_cap_is_8_mib)
{
    struct fx f;
    struct result res = {0};

    fx_start(&f, 0);
    fx_fetch(&f,
             &(struct ab_http_request){.size = sizeof(struct ab_http_request),
                                       .url = fx_url(&f, "/big?bytes=8388609")},
             &res);
    ck_assert_int_eq(res.error, AB_EFULL);
    free(res.body);
    fx_stop(&f);
}
END_TEST

START_TEST(cancel_in_flight_never_calls_back)
{
    struct fx f;
    struct result res = {0};
    struct ab_http *h;

    fx_start(&f, 0);
    ck_assert_int_eq(
        http_client_request(f.http,
                            &(struct ab_http_request){.size = sizeof(struct ab_http_request),
                                                      .url = fx_url(&f, "/hang")},
                            NULL, on_done, &res, &h),
        0);
    net_run_for(&f.loop, 200);
    ck_assert_uint_eq(http_client_pending(f.http), 1);
    http_client_cancel(h);
    ck_assert_uint_eq(http_client_pending(f.http), 0);
    net_run_for(&f.loop, 200);
    ck_assert_int_eq(res.calls, 0);
    fx_stop(&f);
    ck_assert_int_eq(res.calls, 0);
}
END_TEST

/* What the first callback of cancel_from_inside_a_callback does. */
struct canceller {
    struct fx *f;
    struct ab_http *victim; /* cancelled from the callback */
    int owner_tag;          /* the policy owner of the requests cancelled by owner */
    struct result first, next, victim_res, owned;
    struct ab_http *next_h;
};

static void
on_first_cancels(void *arg, const struct ab_http_response *r)
{
    struct canceller *k = arg;

    on_done(&k->first, r);
    http_client_cancel(k->victim);
    http_client_cancel_owner(k->f->http, &k->owner_tag);
    ck_assert_int_eq(
        http_client_request(k->f->http,
                            &(struct ab_http_request){.size = sizeof(struct ab_http_request),
                                                      .url = fx_url(k->f, "/echo?next=1")},
                            NULL, on_done, &k->next, &k->next_h),
        0);
    ck_assert_int_eq(k->next.calls, 0);
}

START_TEST(cancel_from_inside_a_callback)
{
    struct fx f;
    struct canceller k = {.f = &f};
    struct ab_http *h;
    const struct ab_http_request hang = {.size = sizeof(struct ab_http_request)};
    struct ab_http_request req = hang;

    fx_start(&f, 0);
    req.url = fx_url(&f, "/hang");
    ck_assert_int_eq(http_client_request(f.http, &req, NULL, on_done, &k.victim_res, &k.victim), 0);
    ck_assert_int_eq(http_client_request(f.http, &req, &(struct net_policy){.owner = &k.owner_tag},
                                         on_done, &k.owned, &h),
                     0);
    req.url = fx_url(&f, "/slow?ms=100");
    ck_assert_int_eq(http_client_request(f.http, &req, NULL, on_first_cancels, &k, &h), 0);
    ck_assert(net_run_until(&f.loop, &k.next.done, 10000));
    ck_assert_int_eq(k.first.status, 200);
    ck_assert_int_eq(k.next.error, 0);
    ck_assert_int_eq(k.next.status, 200);
    ck_assert_uint_eq(http_client_pending(f.http), 0);
    net_run_for(&f.loop, 100);
    ck_assert_int_eq(k.victim_res.calls, 0);
    ck_assert_int_eq(k.owned.calls, 0);
    free(k.first.body);
    free(k.next.body);
    fx_stop(&f);
    ck_assert_int_eq(k.victim_res.calls, 0);
    ck_assert_int_eq(k.owned.calls, 0);
}
END_TEST

START_TEST(close_cancels_pending_requests)
{
    struct fx f;
    struct result res[3] = {{0}};
    struct ab_http *h;

    fx_start(&f, 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(
            http_client_request(f.http,
                                &(struct ab_http_request){.size = sizeof(struct ab_http_request),
                                                          .url = fx_url(&f, "/hang")},
                                NULL, on_done, &res[i], &h),
            0);
    net_run_for(&f.loop, 200);
    http_client_close(f.http);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(res[i].calls, 1);
        ck_assert_int_eq(res[i].error, AB_ECANCELED);
        free(res[i].body);
    }
    f.http = NULL;
    fx_stop(&f); /* closing NULL is allowed; the loop must still close */
}
END_TEST

START_TEST(connection_refused_reports_eio_with_text)
{
    struct fx f;
    struct result res = {0};
    char url[64];

    fx_start(&f, 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", net_free_port());
    fx_fetch(&f, &(struct ab_http_request){.size = sizeof(struct ab_http_request), .url = url},
             &res);
    ck_assert_int_eq(res.error, AB_EIO);
    ck_assert_int_eq(res.status, 0);
    ck_assert_str_ne(res.error_text, "");
    free(res.body);
    fx_stop(&f);
}
END_TEST

START_TEST(bad_requests_are_refused_at_once)
{
    static const char *const injected[] = {"X-A: b\r\nX-Evil: 1", NULL};
    static const char *const nameless[] = {": value", NULL};
    struct fx f;
    struct result res = {0};
    struct ab_http *h;
    const size_t sz = sizeof(struct ab_http_request);

    fx_start(&f, 0);
    ck_assert_int_eq(
        http_client_request(f.http,
                            &(struct ab_http_request){.size = sz, .url = "http://discord.com/api"},
                            NULL, on_done, &res, &h),
        AB_ECONFIG);
    ck_assert_int_eq(http_client_request(f.http,
                                         &(struct ab_http_request){.size = sz, .url = "ws://x/"},
                                         NULL, on_done, &res, &h),
                     AB_EINVAL);
    ck_assert_int_eq(
        http_client_request(
            f.http, &(struct ab_http_request){.size = sz, .method = "get", .url = fx_url(&f, "/")},
            NULL, on_done, &res, &h),
        AB_EINVAL);
    ck_assert_int_eq(
        http_client_request(
            f.http,
            &(struct ab_http_request){.size = sz, .headers = injected, .url = fx_url(&f, "/")},
            NULL, on_done, &res, &h),
        AB_EINVAL);
    ck_assert_int_eq(
        http_client_request(
            f.http,
            &(struct ab_http_request){.size = sz, .headers = nameless, .url = fx_url(&f, "/")},
            NULL, on_done, &res, &h),
        AB_EINVAL);
    ck_assert_int_eq(
        http_client_request(
            f.http, &(struct ab_http_request){.size = sz, .body_len = 3, .url = fx_url(&f, "/")},
            NULL, on_done, &res, &h),
        AB_EINVAL);
    ck_assert_uint_eq(http_client_pending(f.http), 0);
    net_run_for(&f.loop, 50);
    ck_assert_int_eq(res.calls, 0);
    fx_stop(&f);
}
END_TEST

START_TEST(chunked_response_is_reassembled)
{
    struct fx f;
    struct result res = {0};

    fx_start(&f, 0);
    fx_fetch(&f,
             &(struct ab_http_request){.size = sizeof(struct ab_http_request),
                                       .url = fx_url(&f, "/chunked?n=60&size=1000")},
             &res);
    ck_assert_int_eq(res.error, 0);
    ck_assert_int_eq(res.status, 200);
    ck_assert_uint_eq(res.body_len, 60000);
    for (size_t i = 0; i < 60; i++)
        ck_assert_int_eq(res.body[i * 1000 + 999], 'a' + (int)(i % 26));
    ck_assert_int_eq(res.body[res.body_len], '\0');
    free(res.body);
    /* the chunked answer ended cleanly: the connection is reused */
    memset(&res, 0, sizeof(res));
    fx_fetch(&f,
             &(struct ab_http_request){.size = sizeof(struct ab_http_request),
                                       .url = fx_url(&f, "/connections")},
             &res);
    ck_assert_ptr_nonnull(strstr(res.body, "\"connections\": 1"));
    free(res.body);
    fx_stop(&f);
}
END_TEST

START_TEST(a_body_cut_short_fails_with_eio)
{
    struct fx f;
    struct result res = {0};

    fx_start(&f, 0);
    fx_fetch(&f,
             &(struct ab_http_request){.size = sizeof(struct ab_http_request),
                                       .url = fx_url(&f, "/cut")},
             &res);
    ck_assert_int_eq(res.error, AB_EIO);
    ck_assert_ptr_nonnull(strstr(res.error_text, "middle of the response"));
    ck_assert_ptr_null(strstr(res.error_text, "/cut"));
    free(res.body);
    fx_stop(&f);
}
END_TEST

/* A new path under the temporary directory (nothing there yet). */
static void
tmp_path(char *out, size_t n, const char *name)
{
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

    snprintf(out, n, "%s/ab-http-%d-%s", dir, (int)getpid(), name);
    unlink(out);
}

/* A download's callback: a 2xx body is in the file (body "", body_len = its size). */
static void
on_file_done(void *arg, const struct ab_http_response *r)
{
    struct result *res = arg;

    res->calls++;
    res->done = true;
    res->error = r->error;
    snprintf(res->error_text, sizeof(res->error_text), "%s", r->error_text);
    res->status = r->status;
    ck_assert_str_eq(r->status >= 200 && r->status < 300 ? r->body : "", "");
    free(res->body);
    res->body = strdup(r->body);
    res->body_len = r->body_len;
}

START_TEST(download_writes_2xx_bodies_to_a_new_private_file)
{
    struct fx f;
    struct result res = {0};
    struct ab_http *h;
    char path[256], buf[4096];
    struct stat st;
    const struct ab_http_request big = {.size = sizeof(struct ab_http_request), .url = NULL};
    struct ab_http_request req = big;
    size_t total = 0;
    ssize_t n;
    int fd;

    fx_start(&f, 4096); /* the memory cap does not apply to the file */
    tmp_path(path, sizeof(path), "dl");
    req.url = fx_url(&f, "/big?bytes=400000");
    ck_assert_int_eq(http_client_download(f.http, &req, NULL, path, 0, on_file_done, &res, &h), 0);
    ck_assert_int_eq(res.calls, 0);
    ck_assert(net_run_until(&f.loop, &res.done, 20000));
    ck_assert_int_eq(res.error, 0);
    ck_assert_int_eq(res.status, 200);
    ck_assert_uint_eq(res.body_len, 400000);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(st.st_size, 400000);
    ck_assert_int_ge(fd = open(path, O_RDONLY), 0);
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n; i++)
            ck_assert_int_eq(buf[i], 'x');
        total += (size_t)n;
    }
    close(fd);
    ck_assert_uint_eq(total, 400000);
    /* never over an existing file */
    ck_assert_int_eq(http_client_download(f.http, &req, NULL, path, 0, on_file_done, &res, &h),
                     -EEXIST);
    unlink(path);
    /* past the cap */
    free(res.body);
    memset(&res, 0, sizeof(res));
    ck_assert_int_eq(http_client_download(f.http, &req, NULL, path, 100000, on_file_done, &res, &h),
                     0);
    ck_assert(net_run_until(&f.loop, &res.done, 20000));
    ck_assert_int_eq(res.error, AB_EFULL);
    ck_assert_ptr_nonnull(strstr(res.error_text, "100000"));
    unlink(path);
    /* not 2xx: the body stays in memory, the file empty */
    free(res.body);
    memset(&res, 0, sizeof(res));
    req.url = fx_url(&f, "/nothing-here");
    ck_assert_int_eq(http_client_download(f.http, &req, NULL, path, 0, on_file_done, &res, &h), 0);
    ck_assert(net_run_until(&f.loop, &res.done, 20000));
    ck_assert_int_eq(res.error, 0);
    ck_assert_int_eq(res.status, 404);
    ck_assert_str_eq(res.body, "no such path");
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_size, 0);
    free(res.body);
    unlink(path);
    fx_stop(&f);
}
END_TEST

START_TEST(upload_streams_a_file_part_from_disk)
{
    struct fx f;
    struct result res = {0};
    struct ab_http *h;
    char path[256], want[2 * EVP_MAX_MD_SIZE + 1];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    const size_t size = 300 * 1000 + 17; /* several file reads and socket writes */
    char *data = malloc(size);
    cJSON *doc, *parts, *p;
    FILE *fp;

    for (size_t i = 0; i < size; i++)
        data[i] = (char)('A' + (i * 7) % 26);
    ck_assert_int_eq(EVP_Digest(data, size, md, &mdlen, EVP_sha256(), NULL), 1);
    for (unsigned int i = 0; i < mdlen; i++)
        snprintf(want + 2 * i, 3, "%02x", md[i]);
    tmp_path(path, sizeof(path), "up");
    ck_assert_ptr_nonnull(fp = fopen(path, "w"));
    ck_assert_uint_eq(fwrite(data, 1, size, fp), size);
    fclose(fp);
    free(data);

    const struct ab_form_part form[] = {
        {.size = sizeof(struct ab_form_part),
         .name = "payload_json",
         .content_type = "application/json",
         .data = "{\"a\":1}",
         .data_len = 7},
        {.size = sizeof(struct ab_form_part),
         .name = "files[0]",
         .filename = "f \"1\".txt",
         .path = path},
    };
    fx_start(&f, 0);
    ck_assert_int_eq(
        http_client_upload(f.http,
                           &(struct ab_http_request){.size = sizeof(struct ab_http_request),
                                                     .url = fx_url(&f, "/form")},
                           NULL, form, 2, on_done, &res, &h),
        0);
    ck_assert_int_eq(res.calls, 0);
    ck_assert(net_run_until(&f.loop, &res.done, 30000));
    ck_assert_int_eq(res.error, 0);
    ck_assert_int_eq(res.status, 200);
    ck_assert_ptr_nonnull(doc = cJSON_ParseWithLength(res.body, res.body_len));
    parts = cJSON_GetObjectItemCaseSensitive(doc, "parts");
    ck_assert_int_eq(cJSON_GetArraySize(parts), 2);
    p = cJSON_GetArrayItem(parts, 0);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(p, "name")->valuestring, "payload_json");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(p, "type")->valuestring, "application/json");
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(p, "size")->valuedouble, 7);
    p = cJSON_GetArrayItem(parts, 1);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(p, "name")->valuestring, "files[0]");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(p, "filename")->valuestring, "f %221%22.txt");
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(p, "size")->valuedouble, (double)size);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(p, "sha256")->valuestring, want);
    cJSON_Delete(doc);
    free(res.body);
    /* a missing file is refused at once */
    unlink(path);
    ck_assert_int_eq(
        http_client_upload(f.http,
                           &(struct ab_http_request){.size = sizeof(struct ab_http_request),
                                                     .url = fx_url(&f, "/form")},
                           NULL, form, 2, on_done, &res, &h),
        AB_ENOENT);
    fx_stop(&f);
}
END_TEST

START_TEST(https_verifies_the_peer_against_the_ca_file_and_the_name)
{
    struct fx f;
    struct result res = {0};
    struct net_tls t;
    char key[300], url[128];
    const struct ab_http_request base = {.size = sizeof(struct ab_http_request)};
    struct ab_http_request req = base;

    net_tls_init(&t, "http", "DNS:other.example");
    fx_start(&f, 0);
    unsetenv("AB_TEST_TLS_CERT");
    unsetenv("AB_TEST_TLS_KEY");
    req.url = url;
    /* trusted through the policy's CA file, by name and by address; kept alive */
    for (int i = 0; i < 3; i++) {
        snprintf(url, sizeof(url), "https://%s:%d/echo?i=%d", i == 1 ? "127.0.0.1" : "localhost",
                 f.srv.port, i);
        memset(&res, 0, sizeof(res));
        ck_assert_int_eq(http_client_request(f.http, &req, &(struct net_policy){.ca_file = t.cert},
                                             on_done, &res, &(struct ab_http *){0}),
                         0);
        ck_assert(net_run_until(&f.loop, &res.done, 10000));
        ck_assert_msg(res.error == 0, "%s", res.error_text);
        ck_assert_int_eq(res.status, 200);
        ck_assert_str_eq(res.x_echo, "yes");
        ck_assert_ptr_nonnull(strstr(res.body, "\"host\": \""));
        free(res.body);
    }
    /* two names, two connections: each kept alive across its requests */
    snprintf(url, sizeof(url), "https://localhost:%d/connections", f.srv.port);
    memset(&res, 0, sizeof(res));
    ck_assert_int_eq(http_client_request(f.http, &req, &(struct net_policy){.ca_file = t.cert},
                                         on_done, &res, &(struct ab_http *){0}),
                     0);
    ck_assert(net_run_until(&f.loop, &res.done, 10000));
    ck_assert_ptr_nonnull(strstr(res.body, "\"connections\": 2"));
    free(res.body);
    /* not with the system's CAs, nor with another certificate as the CA */
    for (int i = 0; i < 2; i++) {
        snprintf(url, sizeof(url), "https://localhost:%d/echo", f.srv.port);
        memset(&res, 0, sizeof(res));
        ck_assert_int_eq(http_client_request(f.http, &req,
                                             &(struct net_policy){.ca_file = i ? t.other : NULL},
                                             on_done, &res, &(struct ab_http *){0}),
                         0);
        ck_assert(net_run_until(&f.loop, &res.done, 10000));
        ck_assert_int_eq(res.error, AB_EIO);
        ck_assert_int_eq(res.status, 0);
        ck_assert_ptr_nonnull(strstr(res.error_text, "certificate"));
        free(res.body);
    }
    fx_stop(&f);
    /* a name the certificate does not carry */
    setenv("AB_TEST_TLS_CERT", t.other, 1);
    snprintf(key, sizeof(key), "%s/other.key", t.dir);
    setenv("AB_TEST_TLS_KEY", key, 1);
    fx_start(&f, 0);
    unsetenv("AB_TEST_TLS_CERT");
    unsetenv("AB_TEST_TLS_KEY");
    snprintf(url, sizeof(url), "https://localhost:%d/echo", f.srv.port);
    memset(&res, 0, sizeof(res));
    ck_assert_int_eq(http_client_request(f.http, &req, &(struct net_policy){.ca_file = t.other},
                                         on_done, &res, &(struct ab_http *){0}),
                     0);
    ck_assert(net_run_until(&f.loop, &res.done, 10000));
    ck_assert_int_eq(res.error, AB_EIO);
    ck_assert_ptr_nonnull(strstr(res.error_text, "certificate"));
    free(res.body);
    fx_stop(&f);
    net_tls_free(&t);
}
END_TEST

START_TEST(https_trusts_the_system_directory_by_hash)
{
    /* No CA file: the system's CAs, found through the certificate directory's hash
     * links (SSL_CERT_DIR here) — the server's own certificate linked there is trusted,
     * another one with the same name is not. */
    struct net_tls t;
    struct fx f;
    struct result res = {0};
    char url[128];
    struct ab_http_request req = {.size = sizeof(struct ab_http_request), .url = url};

    net_tls_init(&t, "http", "DNS:localhost,IP:127.0.0.1");
    for (int i = 0; i < 2; i++) {
        net_tls_trust_only(&t, i, i == 0 ? t.cert : t.other);
        fx_start(&f, 0);
        snprintf(url, sizeof(url), "https://localhost:%d/echo", f.srv.port);
        memset(&res, 0, sizeof(res));
        ck_assert_int_eq(http_client_request(f.http, &req, &(struct net_policy){0}, on_done, &res,
                                             &(struct ab_http *){0}),
                         0);
        ck_assert(net_run_until(&f.loop, &res.done, 10000));
        if (i == 0) {
            ck_assert_msg(res.error == 0, "%s", res.error_text);
            ck_assert_int_eq(res.status, 200);
        } else {
            ck_assert_int_eq(res.error, AB_EIO);
            ck_assert_ptr_nonnull(strstr(res.error_text, "certificate"));
        }
        free(res.body);
        fx_stop(&f);
    }
    net_tls_free(&t);
}
END_TEST

START_TEST(tls_errors_are_described_in_words_though_loaded_late)
{
    /* OpenSSL initialised without its error texts (as the daemon does), then a TLS
     * handshake with a plain HTTP server: the error is OpenSSL's words, not codes. */
    struct fx f;
    struct result res = {0};
    char url[128];
    struct ab_http_request req = {.size = sizeof(struct ab_http_request), .url = url};

    tls_errors_defer();
    fx_start(&f, 0);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/echo", f.srv.port);
    fx_fetch(&f, &req, &res);
    ck_assert_int_eq(res.error, AB_EIO);
    ck_assert_msg(strstr(res.error_text, "wrong version number") != NULL, "%s", res.error_text);
    ck_assert_msg(strstr(res.error_text, "reason(") == NULL, "%s", res.error_text);
    free(res.body);
    fx_stop(&f);
}
END_TEST

int
main(void)
{
    const TTest *const tests[] = {
        get_returns_status_headers_and_body,
        post_patch_put_delete_send_method_and_body,
        keep_alive_reuses_one_connection,
        timeout_fails_with_etimedout,
        rate_limited_429_exposes_retry_after_and_bucket,
        absurd_rate_limit_headers_read_as_absent,
        body_over_the_cap_fails_with_efull,
        default_cap_is_8_mib,
        cancel_in_flight_never_calls_back,
        cancel_from_inside_a_callback,
        close_cancels_pending_requests,
        connection_refused_reports_eio_with_text,
        bad_requests_are_refused_at_once,
        chunked_response_is_reassembled,
        a_body_cut_short_fails_with_eio,
        download_writes_2xx_bodies_to_a_new_private_file,
        upload_streams_a_file_part_from_disk,
        https_verifies_the_peer_against_the_ca_file_and_the_name,
        https_trusts_the_system_directory_by_hash,
        tls_errors_are_described_in_words_though_loaded_late,
    };

    return check_run_tests("http", 30, tests, sizeof(tests) / sizeof(tests[0]));
}
