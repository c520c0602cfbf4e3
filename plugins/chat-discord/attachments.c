/* chat-discord: a message's attachments[] as ab_attachment entries. Discord's CDN URLs
 * are signed (the query authorises the GET), so the core fetches them without the bot
 * token: this plugin has no download op. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/convert.h>

#include "discord.h"

/* Message flag IS_VOICE_MESSAGE (1 << 13). */
#define DISCORD_MSG_VOICE (1 << 13)

/* See discord.h. */
size_t
discord_attachments(const cJSON *msg, struct ab_attachment **out)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(msg, "attachments");
    const cJSON *flags = cJSON_GetObjectItemCaseSensitive(msg, "flags");
    const cJSON *a;
    int64_t bits = 0;
    bool voice = cJSON_IsNumber(flags) &&
                 ab_double_to_i64(flags->valuedouble, 0, INT64_MAX, &bits) == 0 &&
                 (bits & DISCORD_MSG_VOICE); /* any number may come: no cast out of range */
    size_t n = 0;

    *out = NULL;
    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0 ||
        !(*out = calloc((size_t)cJSON_GetArraySize(list), sizeof(**out))))
        return 0;
    cJSON_ArrayForEach(a, list)
    {
        const cJSON *size = cJSON_GetObjectItemCaseSensitive(a, "size");
        const char *url = discord_json_str(a, "url");
        const char *type = discord_json_str(a, "content_type");
        if (!url)
            continue; /* nothing to fetch: malformed, skipped */
        (*out)[n++] = (struct ab_attachment){
            .size = sizeof(struct ab_attachment),
            .id = discord_json_str(a, "id"),
            .name = discord_json_str(a, "filename"),
            .content_type = type,
            .bytes = cJSON_IsNumber(size) && size->valuedouble > 0 && size->valuedouble < 1e15
                         ? (uint64_t)size->valuedouble
                         : 0,
            .url = url,
            .is_voice = voice && type && strncmp(type, "audio/", 6) == 0,
        };
    }
    if (n == 0) {
        free(*out);
        *out = NULL;
    }
    return n;
}
