/* chat-slack: files posted into a thread with Slack's external upload (files.upload
 * stopped working on 2025-11-12): per file files.getUploadURLExternal {filename,
 * length} → POST the bytes to upload_url as a multipart form, streamed from disk, with
 * no token (the URL authorises); then one files.completeUploadExternal {files,
 * channel_id, thread_ts} shares them in the thread. Only 200 from upload_url is success. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slack.h"

struct slack_upload {
    struct slack_upload *next;
    struct ab_chat *s;
    void *op; /* lent: the core's operation (rate facts) */
    ab_done_cb cb;
    void *arg;
    struct slack_web_call *call; /* the Web API call in flight, or NULL */
    struct ab_http *http;        /* the upload_url POST in flight, or NULL */
    char *channel, *thread;      /* owned */
    size_t count, next_file;
    char **paths, **names; /* owned */
    uint64_t *bytes;
    cJSON *done; /* owned: [{id, title}] of the files sent */
};

/* Unlink and free @u (nothing of it in flight). */
static void
upload_free(struct slack_upload *u)
{
    for (struct slack_upload **l = &u->s->uploads; *l; l = &(*l)->next)
        if (*l == u) {
            *l = u->next;
            break;
        }
    for (size_t i = 0; i < u->count; i++) {
        free(u->paths ? u->paths[i] : NULL);
        free(u->names ? u->names[i] : NULL);
    }
    free(u->paths);
    free(u->names);
    free(u->bytes);
    free(u->channel);
    free(u->thread);
    cJSON_Delete(u->done);
    free(u);
}

/* Report @status to the core and free @u. */
static void
upload_end(struct slack_upload *u, int status)
{
    ab_done_cb cb = u->cb;
    void *arg = u->arg;

    upload_free(u);
    cb(arg, status);
}

static void upload_next(struct slack_upload *u);

/* files.completeUploadExternal answered: the files are in the thread. */
static void
upload_completed(void *arg, int status, const cJSON *body, const char *error)
{
    struct slack_upload *u = arg;

    (void)body;
    u->call = NULL;
    if (status < 0)
        u->s->svc->log(u->s->host, AB_LOG_WARN, "files.completeUploadExternal failed: %s",
                       error && *error ? error : ab_strerror(status));
    upload_end(u, status);
}

/* The bytes reached upload_url (200 only) or not. */
static void
upload_posted(void *arg, const struct ab_http_response *r)
{
    struct slack_upload *u = arg;

    u->http = NULL;
    if (r->error || r->status != 200) {
        u->s->svc->log(u->s->host, AB_LOG_WARN, "upload of %s failed: %s",
                       u->names[u->next_file - 1],
                       r->error ? ab_strerror(r->error) : "the upload URL did not answer 200");
        upload_end(u, r->error ? r->error : AB_EIO);
        return;
    }
    upload_next(u);
}

/* files.getUploadURLExternal answered: send the bytes there. */
static void
upload_got_url(void *arg, int status, const cJSON *body, const char *error)
{
    struct slack_upload *u = arg;
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(body, "upload_url");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(body, "file_id");
    size_t i = u->next_file - 1;
    cJSON *item;
    int rc;

    u->call = NULL;
    if (status == 0 && (!cJSON_IsString(url) || !cJSON_IsString(id)))
        status = AB_EPROTO;
    if (status < 0) {
        u->s->svc->log(u->s->host, AB_LOG_WARN, "files.getUploadURLExternal failed: %s",
                       error && *error ? error : ab_strerror(status));
        upload_end(u, strcmp(error ? error : "", "file_upload_size_restricted") == 0 ? AB_EFULL
                                                                                     : status);
        return;
    }
    if (!(item = cJSON_CreateObject()) || !cJSON_AddStringToObject(item, "id", id->valuestring) ||
        !cJSON_AddStringToObject(item, "title", u->names[i])) {
        cJSON_Delete(item);
        upload_end(u, AB_ENOMEM);
        return;
    }
    cJSON_AddItemToArray(u->done, item);
    struct ab_form_part part = {.size = sizeof(part),
                                .name = "file",
                                .filename = u->names[i],
                                .content_type = "application/octet-stream",
                                .path = u->paths[i]};
    struct ab_http_request req = {
        .size = sizeof(req), .method = "POST", .url = url->valuestring, .timeout_ms = 300000};
    rc = AB_HAS(u->s->svc, struct ab_host_services, http_upload) && u->s->svc->http_upload
             ? u->s->svc->http_upload(u->s->host, &req, &part, 1, upload_posted, u, &u->http)
             : AB_ENOTSUP;
    if (rc < 0)
        upload_end(u, rc);
}

/* The next file's URL, or the completion once every file is up. */
static void
upload_next(struct slack_upload *u)
{
    char length[32], *files = NULL;
    int rc;

    if (u->next_file < u->count) {
        size_t i = u->next_file++;
        snprintf(length, sizeof(length), "%llu", (unsigned long long)u->bytes[i]);
        const char *form[] = {"filename", u->names[i], "length", length, NULL};
        if ((rc = slack_web_call(u->s, SLACK_WEB_GET_UPLOAD_URL, form, upload_got_url, u,
                                 &u->call)) < 0)
            upload_end(u, rc);
        return;
    }
    if (!(files = cJSON_PrintUnformatted(u->done))) {
        upload_end(u, AB_ENOMEM);
        return;
    }
    const char *form[] = {
        "files", files, "channel_id", u->channel, u->thread ? "thread_ts" : NULL, u->thread, NULL};
    rc = slack_web_call_for(u->s, SLACK_WEB_COMPLETE_UPLOAD, form, u->op, upload_completed, u,
                            &u->call);
    free(files);
    if (rc < 0)
        upload_end(u, rc);
}

/* Run @u's first step on a later loop iteration (never inside slack_upload). */
static void
upload_start(void *arg)
{
    upload_next(arg);
}

/* See slack.h. */
int
slack_upload(struct ab_chat *s, const struct ab_upload *up, ab_done_cb cb, void *arg)
{
    struct slack_upload *u;
    struct ab_defer *d;

    if (!up || !up->channel_id || up->count == 0 || up->count > SLACK_MAX_UPLOAD_FILES || !cb)
        return AB_EINVAL;
    if (!(u = calloc(1, sizeof(*u))))
        return AB_ENOMEM;
    u->s = s;
    u->op = arg;
    u->cb = cb;
    u->arg = arg;
    u->count = up->count;
    u->next = s->uploads;
    s->uploads = u;
    if (!(u->paths = calloc(up->count, sizeof(char *))) ||
        !(u->names = calloc(up->count, sizeof(char *))) ||
        !(u->bytes = calloc(up->count, sizeof(uint64_t))) ||
        !(u->channel = strdup(up->channel_id)) ||
        (up->thread_id && !(u->thread = strdup(up->thread_id))) || !(u->done = cJSON_CreateArray()))
        goto fail;
    for (size_t i = 0; i < up->count; i++) {
        if (!(u->paths[i] = strdup(up->files[i].path)) ||
            !(u->names[i] = strdup(up->files[i].name)))
            goto fail;
        u->bytes[i] = up->files[i].bytes;
    }
    if (s->svc->defer(s->host, upload_start, u, &d) < 0)
        goto fail;
    return 0;

fail:
    upload_free(u);
    return AB_ENOMEM;
}

/* See slack.h. */
void
slack_uploads_cancel(struct ab_chat *s)
{
    while (s->uploads) {
        struct slack_upload *u = s->uploads;
        slack_web_cancel(s, u->call);
        s->svc->http_cancel(u->http);
        upload_free(u);
    }
}
