/* chat-teams: inbound requests from the Bot Connector. The route on the host's ingress
 * listener takes POSTs of one Activity each; the Authorization header's JWT is checked
 * against the Bot Framework's signing keys (OpenID metadata → jwks_uri → JWKS, fetched
 * through the host's HTTP client and kept in memory, refreshed daily and, when a token
 * names a key id we do not hold, fetched again at most once per key_refetch_ms). Requests
 * that arrive before the keys wait for them (bounded). Anything that fails the check is
 * answered 401 with a log line that never contains the token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "teams.h"

#define TEAMS_KEYS_REFRESH_MS (24ull * 3600 * 1000)
#define TEAMS_MAX_BODY (256u * 1024)
#define TEAMS_ANSWER_TIMEOUT_MS 12000 /* the Connector gives up after 15 s */

static void teams_keys_fetch(struct ab_chat *t);

/* Answer a request and log why when it is refused. */
static void
teams_answer(struct ab_chat *t, struct ab_http_exchange *ex, int status, const char *why)
{
    static const char *const json[] = {"Content-Type: application/json", NULL};

    if (status == 401)
        t->svc->log(t->host, AB_LOG_WARN, "refused an inbound activity (401): %s", why);
    t->svc->http_respond(ex, status, status == 200 ? NULL : json, status == 200 ? "" : "{}",
                         status == 200 ? 0 : 2);
}

/* The token from "Bearer <token>" (exactly that scheme and one space), or NULL. */
static const char *
teams_bearer(const char *auth)
{
    if (!auth || strncmp(auth, "Bearer ", 7) || !auth[7] || strchr(auth + 7, ' '))
        return NULL;
    return auth + 7;
}

/* Check one request; hand a good Activity on. Returns AB_ENOENT when the token's key is
 * unknown (the caller may wait for a refetch), else 0 having answered @ex. */
static int
teams_check(struct ab_chat *t, struct ab_http_exchange *ex, const char *auth, const char *body,
            size_t len)
{
    const char *token = teams_bearer(auth), *why = "";
    cJSON *act = cJSON_ParseWithLength(body, len);
    const cJSON *surl = cJSON_GetObjectItemCaseSensitive(act, "serviceUrl");
    const cJSON *chan = cJSON_GetObjectItemCaseSensitive(act, "channelId");
    struct teams_jwt_expect e = {
        .issuer = t->issuer,
        .audience = t->app_id,
        .channel_id = cJSON_IsString(chan) ? chan->valuestring : NULL,
        .service_url = cJSON_IsString(surl) ? surl->valuestring : NULL,
        .now_s = (int64_t)time(NULL),
        .skew_s = t->skew_s,
    };
    int rc;

    if (!token) {
        teams_answer(t, ex, 401, "no Bearer token");
    } else if ((rc = teams_jwt_verify(token, &t->keys, &e, &why)) == AB_ENOENT) {
        cJSON_Delete(act);
        return AB_ENOENT;
    } else if (rc < 0) {
        teams_answer(t, ex, 401, why);
    } else if (!cJSON_IsObject(act) ||
               !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(act, "type"))) {
        t->svc->log(t->host, AB_LOG_WARN, "an authenticated request without an Activity: 400");
        t->svc->http_respond(ex, 400, NULL, "", 0);
    } else {
        teams_activity_handle(t, act, ex);
    }
    cJSON_Delete(act);
    return 0;
}

/* Free a waiting request (its exchange already answered). */
static void
teams_pending_free(struct teams_pending *p)
{
    free(p->auth);
    free(p->body);
    free(p);
}

/* The keys changed (or could not be had): check every waiting request again; those
 * whose key is still unknown are refused. */
static void
teams_pending_run(struct ab_chat *t)
{
    struct teams_pending *list = t->pending;

    t->pending = NULL;
    t->npending = 0;
    while (list) {
        struct teams_pending *p = list;
        list = p->next;
        if (!t->has_keys)
            teams_answer(t, p->ex, 503, "");
        else if (teams_check(t, p->ex, p->auth, p->body, p->body_len) == AB_ENOENT)
            teams_answer(t, p->ex, 401, "unknown signing key");
        teams_pending_free(p);
    }
}

/* Keep a request until the keys arrive; 503 when too many wait. */
static void
teams_pending_add(struct ab_chat *t, struct ab_http_exchange *ex, const char *auth,
                  const char *body, size_t len)
{
    struct teams_pending *p;

    if (t->npending >= TEAMS_PENDING_MAX || !(p = calloc(1, sizeof(*p)))) {
        teams_answer(t, ex, 503, "");
        return;
    }
    p->ex = ex;
    p->auth = auth ? strdup(auth) : NULL;
    p->body = malloc(len + 1);
    if ((auth && !p->auth) || !p->body) {
        teams_pending_free(p);
        teams_answer(t, ex, 503, "");
        return;
    }
    memcpy(p->body, body, len);
    p->body[len] = '\0';
    p->body_len = len;
    p->next = t->pending;
    t->pending = p;
    t->npending++;
}

/* The route's callback: one request from the Connector (or anyone). */
static void
teams_on_request(void *arg, struct ab_http_exchange *ex, const struct ab_http_inbound *req)
{
    struct ab_chat *t = arg;
    const char *auth = NULL;
    uint64_t now = t->svc->now_ms(t->host);

    if (strcmp(req->method, "POST")) {
        t->svc->http_respond(ex, 405, (const char *const[]){"Allow: POST", NULL}, "", 0);
        return;
    }
    for (size_t i = 0; i < req->header_count; i++)
        if (!strcmp(req->headers[i].name, "Authorization"))
            auth = req->headers[i].value;
    if (!teams_bearer(auth)) {
        teams_answer(t, ex, 401, "no Bearer token");
        return;
    }
    if (!t->has_keys) {
        teams_pending_add(t, ex, auth, req->body, req->body_len);
        if (!t->keys_fetch)
            teams_keys_fetch(t);
        return;
    }
    if (teams_check(t, ex, auth, req->body, req->body_len) != AB_ENOENT)
        return;
    /* A key we do not hold: the Bot Framework may have rotated its keys. Fetch them again,
     * but not more often than key_refetch_ms, whatever kids strangers make up. */
    if (t->keys_fetch) {
        teams_pending_add(t, ex, auth, req->body, req->body_len);
    } else if (!t->keys_refetch_done || now - t->keys_fetched_ms >= (uint64_t)t->key_refetch_ms) {
        t->keys_refetch_done = true;
        t->keys_fetched_ms = now;
        t->svc->log(t->host, AB_LOG_INFO,
                    "a token names an unknown signing key: fetching the keys");
        teams_pending_add(t, ex, auth, req->body, req->body_len);
        teams_keys_fetch(t);
    } else {
        teams_answer(t, ex, 401, "unknown signing key (keys fetched recently)");
    }
}

/* The JWKS arrived. */
static void
teams_on_jwks(void *arg, const struct ab_http_response *r)
{
    struct ab_chat *t = arg;
    struct teams_jwks ks;

    t->keys_fetch = NULL;
    if (r->error || r->status != 200 || teams_jwks_parse(r->body, r->body_len, &ks) < 0) {
        t->svc->log(t->host, AB_LOG_WARN,
                    "cannot get the Bot Framework signing keys (HTTP %ld%s%s)", r->status,
                    r->error ? ": " : "", r->error ? r->error_text : "");
        if (!t->has_keys)
            t->svc->set_connected(t->host, false, "no Bot Framework signing keys");
    } else {
        teams_jwks_free(&t->keys);
        t->keys = ks;
        t->has_keys = true;
        t->svc->log(t->host, AB_LOG_INFO, "%zu Bot Framework signing key(s) loaded", ks.n);
        t->svc->set_connected(t->host, true, "receiving activities");
    }
    teams_pending_run(t);
}

/* The OpenID metadata arrived: fetch its jwks_uri. */
static void
teams_on_openid(void *arg, const struct ab_http_response *r)
{
    struct ab_chat *t = arg;
    cJSON *doc = r->error || r->status != 200 ? NULL : cJSON_ParseWithLength(r->body, r->body_len);
    const cJSON *uri = cJSON_GetObjectItemCaseSensitive(doc, "jwks_uri");
    struct ab_http_request req = {.size = sizeof(req), .method = "GET"};
    int rc = AB_EPROTO;

    t->keys_fetch = NULL;
    if (cJSON_IsString(uri) &&
        (!strncmp(uri->valuestring, "https://", 8) || !strncmp(uri->valuestring, "http://", 7))) {
        req.url = uri->valuestring;
        rc = t->svc->http_request(t->host, &req, teams_on_jwks, t, &t->keys_fetch);
    }
    cJSON_Delete(doc);
    if (rc < 0) {
        t->keys_fetch = NULL;
        t->svc->log(t->host, AB_LOG_WARN,
                    "cannot read the Bot Framework OpenID metadata (HTTP %ld)", r->status);
        if (!t->has_keys)
            t->svc->set_connected(t->host, false, "no Bot Framework OpenID metadata");
        teams_pending_run(t);
    }
}

/* Fetch the metadata, then the keys. */
static void
teams_keys_fetch(struct ab_chat *t)
{
    struct ab_http_request req = {.size = sizeof(req), .method = "GET", .url = t->openid_url};

    if (t->keys_fetch || t->is_closing)
        return;
    if (t->svc->http_request(t->host, &req, teams_on_openid, t, &t->keys_fetch) < 0) {
        t->keys_fetch = NULL;
        t->svc->log(t->host, AB_LOG_ERROR, "cannot fetch %s", t->openid_url);
    }
}

/* The daily refresh. */
static void
teams_keys_tick(void *arg)
{
    teams_keys_fetch(arg);
}

/* Register the route and fetch the keys. */
int
teams_auth_start(struct ab_chat *t)
{
    static const char *const want[] = {"Authorization", NULL};
    struct ab_http_route_options o = {.size = sizeof(o),
                                      .prefix = t->route,
                                      .headers = want,
                                      .max_body = TEAMS_MAX_BODY,
                                      .timeout_ms = TEAMS_ANSWER_TIMEOUT_MS};
    int rc;

    if ((rc = t->svc->http_route_add(t->host, &o, teams_on_request, t, &t->http_route)) < 0) {
        t->http_route = NULL;
        t->svc->log(t->host, AB_LOG_ERROR, "cannot serve %s: %s", t->route, ab_strerror(rc));
        return rc;
    }
    t->svc->set_connected(t->host, false, "fetching the Bot Framework signing keys");
    teams_keys_fetch(t);
    return t->svc->timer_start(t->host, TEAMS_KEYS_REFRESH_MS, TEAMS_KEYS_REFRESH_MS,
                               teams_keys_tick, t, &t->keys_refresh);
}

/* Stop serving. */
void
teams_auth_stop(struct ab_chat *t)
{
    t->svc->http_route_remove(t->http_route); /* answers what it still holds */
    t->http_route = NULL;
    while (t->pending) {
        struct teams_pending *p = t->pending;
        t->pending = p->next;
        teams_pending_free(p); /* its exchange went with the route */
    }
    t->npending = 0;
    t->svc->http_cancel(t->keys_fetch);
    t->keys_fetch = NULL;
    t->svc->timer_stop(t->keys_refresh);
    t->keys_refresh = NULL;
    teams_jwks_free(&t->keys);
    t->has_keys = false;
}
