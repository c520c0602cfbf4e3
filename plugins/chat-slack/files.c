/* chat-slack: files on a message as ab_attachment entries, and their download with the
 * bot token (url_private needs it; files:read scope). The token goes only to Slack's own
 * hosts (https hosts ending in .slack.com, or the host of api_base) and never into logs; a 200 with
 * an HTML page instead of the file is Slack's answer to a missing scope or a bad token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "slack.h"

/* One download in flight. */
struct slack_download {
    struct slack_download *next;
    struct ab_chat *s;
    struct ab_http *http; /* the host's request */
    ab_done_cb cb;
    void *arg;
};

/* The string member @key of @o, or NULL. */
static const char *
files_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsString(v) && *v->valuestring ? v->valuestring : NULL;
}

/* See slack.h. */
size_t
slack_files(const cJSON *ev, struct ab_attachment **out)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(ev, "files"), *f;
    size_t n = 0;

    *out = NULL;
    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0 ||
        !(*out = calloc((size_t)cJSON_GetArraySize(list), sizeof(**out))))
        return 0;
    cJSON_ArrayForEach(f, list)
    {
        const cJSON *size = cJSON_GetObjectItemCaseSensitive(f, "size");
        const char *url = files_str(f, "url_private_download");
        const char *type = files_str(f, "mimetype"), *sub = files_str(f, "subtype");
        if (!url)
            url = files_str(f, "url_private");
        if (!url)
            continue; /* external or tombstoned: nothing to fetch */
        (*out)[n++] = (struct ab_attachment){
            .size = sizeof(struct ab_attachment),
            .id = files_str(f, "id"),
            .name = files_str(f, "name") ? files_str(f, "name") : files_str(f, "title"),
            .content_type = type,
            .bytes = cJSON_IsNumber(size) && size->valuedouble > 0 && size->valuedouble < 1e15
                         ? (uint64_t)size->valuedouble
                         : 0,
            .url = url,
            .needs_auth = true,
            .is_voice = sub && strcmp(sub, "slack_audio") == 0,
        };
    }
    if (n == 0) {
        free(*out);
        *out = NULL;
    }
    return n;
}

/* The host part of @url ("https://h:p/..." → "h:p") into @out; false when malformed. */
static bool
files_host(const char *url, char *out, size_t cap, bool *is_https)
{
    const char *p = strstr(url, "://");
    size_t n;

    if (!p)
        return false;
    *is_https = (size_t)(p - url) == 5 && strncasecmp(url, "https", 5) == 0;
    p += 3;
    n = strcspn(p, "/?#");
    if (n == 0 || n >= cap || memchr(p, '@', n))
        return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

/* True when the bot token may be sent to @url: Slack's own https hosts, or api_base's
 * host (a test server). */
static bool
files_token_may_go(const struct ab_chat *s, const char *url)
{
    char host[256], api[256];
    bool https, api_https;
    size_t n;

    if (!files_host(url, host, sizeof(host), &https))
        return false;
    if (s->api_base && files_host(s->api_base, api, sizeof(api), &api_https) &&
        strcasecmp(host, api) == 0 && https == api_https)
        return true;
    n = strlen(host);
    return https && (strcasecmp(host, "slack.com") == 0 ||
                     (n > 10 && strcasecmp(host + n - 10, ".slack.com") == 0));
}

/* Forget @d from the instance's list and free it. */
static void
files_forget(struct slack_download *d)
{
    for (struct slack_download **l = &d->s->downloads; *l; l = &(*l)->next)
        if (*l == d) {
            *l = d->next;
            break;
        }
    free(d);
}

/* The file's answer. */
static void
files_downloaded(void *arg, const struct ab_http_response *r)
{
    struct slack_download *d = arg;
    struct ab_chat *s = d->s;
    const char *ct = ab_http_header(r, "Content-Type");
    ab_done_cb cb = d->cb;
    void *cb_arg = d->arg;
    int status = r->error;

    if (status == 0 &&
        (r->status == 401 || r->status == 403 || (ct && strncasecmp(ct, "text/html", 9) == 0))) {
        s->svc->log(s->host, AB_LOG_WARN,
                    "a file download got %s instead of the file: add the files:read scope and "
                    "reinstall the app",
                    r->status == 200 ? "a login page" : "a refusal");
        status = AB_EAUTH;
    } else if (status == 0 && (r->status < 200 || r->status > 299)) {
        s->svc->log(s->host, AB_LOG_WARN, "a file download failed: HTTP %ld", r->status);
        status = AB_EIO;
    }
    files_forget(d);
    cb(cb_arg, status);
}

/* See slack.h (ab_chat_ops.download). */
int
slack_download(struct ab_chat *s, const struct ab_attachment *att, const char *path,
               uint64_t max_bytes, ab_done_cb cb, void *arg)
{
    char auth[512];
    const char *hdrs[] = {auth, NULL};
    struct slack_download *d;
    int rc;

    if (!att || !att->url || !path || !cb)
        return AB_EINVAL;
    if (!AB_HAS(s->svc, struct ab_host_services, http_download) || !s->svc->http_download)
        return AB_ENOTSUP;
    if (!files_token_may_go(s, att->url)) {
        s->svc->log(s->host, AB_LOG_WARN, "a file URL outside Slack's hosts was not fetched");
        return AB_EINVAL;
    }
    if ((size_t)snprintf(auth, sizeof(auth), "Authorization: Bearer %s", s->bot_token) >=
        sizeof(auth))
        return AB_EINVAL;
    if (!(d = calloc(1, sizeof(*d))))
        return AB_ENOMEM;
    d->s = s;
    d->cb = cb;
    d->arg = arg;
    struct ab_http_request req = {.size = sizeof(req),
                                  .method = "GET",
                                  .url = att->url,
                                  .headers = hdrs,
                                  .timeout_ms = 300000};
    if ((rc = s->svc->http_download(s->host, &req, path, max_bytes, files_downloaded, d,
                                    &d->http)) < 0) {
        free(d);
        return rc;
    }
    d->next = s->downloads;
    s->downloads = d;
    return 0;
}

/* See slack.h. */
void
slack_downloads_cancel(struct ab_chat *s)
{
    while (s->downloads) {
        struct slack_download *d = s->downloads;
        s->downloads = d->next;
        s->svc->http_cancel(d->http);
        free(d);
    }
}
