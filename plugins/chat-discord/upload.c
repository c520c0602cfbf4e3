/* chat-discord: files posted as one message: POST /channels/{id}/messages as
 * multipart/form-data, a payload_json part (attachments [{id, filename}], no pings)
 * and one files[n] part per file, streamed from disk by the host. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discord.h"

/* One upload in flight. */
struct discord_upload {
    ab_done_cb cb;
    void *arg;
};

/* Discord answered. 413 / 40005 / 50045: too big. */
static void
discord_upload_done(void *arg, int status, long http, const cJSON *body, int code)
{
    struct discord_upload *u = arg;

    (void)body;
    if (status < 0 && (http == 413 || code == 40005 || code == 50045))
        status = AB_EFULL;
    u->cb(u->arg, status);
    free(u);
}

/* See discord.h. */
int
discord_upload(struct ab_chat *c, const struct ab_upload *up, ab_done_cb cb, void *arg)
{
    const char *target = up->thread_id && *up->thread_id ? up->thread_id : up->channel_id;
    struct ab_form_part parts[1 + DISCORD_MAX_FILES];
    char names[DISCORD_MAX_FILES][32], path[96], *json = NULL;
    struct discord_upload *u = NULL;
    cJSON *payload = NULL, *list, *am;
    int rc = AB_ENOMEM;

    if (!target || !*target || up->count == 0 || up->count > DISCORD_MAX_FILES || !cb)
        return AB_EINVAL;
    if (!(payload = cJSON_CreateObject()) ||
        !(am = cJSON_AddObjectToObject(payload, "allowed_mentions")) ||
        !cJSON_AddArrayToObject(am, "parse") ||
        (up->text && *up->text && !cJSON_AddStringToObject(payload, "content", up->text)) ||
        !(list = cJSON_AddArrayToObject(payload, "attachments")))
        goto done;
    for (size_t i = 0; i < up->count; i++) {
        const struct ab_upload_file *f = &up->files[i];
        cJSON *a = cJSON_CreateObject();
        if (!a)
            goto done;
        cJSON_AddItemToArray(list, a);
        if (!cJSON_AddNumberToObject(a, "id", (double)i) ||
            !cJSON_AddStringToObject(a, "filename", f->name))
            goto done;
        snprintf(names[i], sizeof(names[i]), "files[%zu]", i);
        parts[1 + i] = (struct ab_form_part){
            .size = sizeof(parts[0]),
            .name = names[i],
            .filename = f->name,
            .content_type = f->content_type ? f->content_type : "application/octet-stream",
            .path = f->path};
    }
    if (!(json = cJSON_PrintUnformatted(payload)) || !(u = calloc(1, sizeof(*u))))
        goto done;
    parts[0] = (struct ab_form_part){.size = sizeof(parts[0]),
                                     .name = "payload_json",
                                     .content_type = "application/json",
                                     .data = json,
                                     .data_len = strlen(json)};
    u->cb = cb;
    u->arg = arg;
    snprintf(path, sizeof(path), "/channels/%s/messages", target);
    if ((rc = discord_rest_upload(c, path, parts, 1 + up->count, arg, discord_upload_done, u)) == 0)
        u = NULL;
done:
    free(u);
    free(json);
    cJSON_Delete(payload);
    return rc;
}
