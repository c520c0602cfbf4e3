/* chat-discord: a bounded cache of channel facts (type, parent, owner, thread or not),
 * so a message needs no REST lookup when its channel was seen in GUILD_CREATE,
 * THREAD_* or CHANNEL_* events. The least recently used entry makes room. */
#include <stdio.h>
#include <string.h>

#include "discord.h"

/* The slot holding @id, or NULL. */
static struct discord_channel *
discord_cache_find(struct discord_cache *cache, const char *id)
{
    for (size_t i = 0; i < cache->count; i++)
        if (strcmp(cache->slots[i].id, id) == 0)
            return &cache->slots[i];
    return NULL;
}

/* Look up a channel and mark it used. */
const struct discord_channel *
discord_cache_get(struct discord_cache *cache, const char *id)
{
    struct discord_channel *ch = id ? discord_cache_find(cache, id) : NULL;

    if (ch)
        ch->used = ++cache->clock;
    return ch;
}

/* Copy a snowflake string into @dst, "" when absent or too long. */
static void
discord_cache_copy_id(char *dst, const char *src)
{
    if (!src || strlen(src) >= DISCORD_ID_MAX)
        src = "";
    snprintf(dst, DISCORD_ID_MAX, "%s", src);
}

/* Insert or refresh a channel from its JSON object. */
void
discord_cache_put(struct discord_cache *cache, const cJSON *obj)
{
    const char *id = discord_json_str(obj, "id");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(obj, "type");
    struct discord_channel *ch;

    if (!id || !*id || strlen(id) >= DISCORD_ID_MAX)
        return;
    if (!(ch = discord_cache_find(cache, id))) {
        if (cache->count < DISCORD_CACHE_SLOTS) {
            ch = &cache->slots[cache->count++];
        } else {
            ch = &cache->slots[0];
            for (size_t i = 1; i < cache->count; i++)
                if (cache->slots[i].used < ch->used)
                    ch = &cache->slots[i];
        }
    }
    discord_cache_copy_id(ch->id, id);
    discord_cache_copy_id(ch->parent_id, discord_json_str(obj, "parent_id"));
    discord_cache_copy_id(ch->owner_id, discord_json_str(obj, "owner_id"));
    ch->type = cJSON_IsNumber(type) ? type->valueint : -1;
    /* parent_id alone proves nothing: category children have one too. */
    ch->is_thread = cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(obj, "thread_metadata"));
    ch->used = ++cache->clock;
    cache->is_dirty = true;
}

/* Drop a channel: the last slot moves into its place. */
void
discord_cache_remove(struct discord_cache *cache, const char *id)
{
    struct discord_channel *ch = id ? discord_cache_find(cache, id) : NULL;

    if (!ch)
        return;
    *ch = cache->slots[--cache->count];
    cache->is_dirty = true;
}

/* Add the string @v as @k unless empty. */
static bool
discord_cache_put_id(cJSON *o, const char *k, const char *v)
{
    return !*v || cJSON_AddStringToObject(o, k, v) != NULL;
}

/* The cache as channel objects, so that discord_cache_put reads them back. */
char *
discord_cache_dump(struct discord_cache *cache)
{
    cJSON *arr = cJSON_CreateArray();
    char *text = NULL;

    for (size_t i = 0; arr && i < cache->count; i++) {
        const struct discord_channel *ch = &cache->slots[i];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o) || !discord_cache_put_id(o, "id", ch->id) ||
            !discord_cache_put_id(o, "parent_id", ch->parent_id) ||
            !discord_cache_put_id(o, "owner_id", ch->owner_id) ||
            !cJSON_AddNumberToObject(o, "type", ch->type) ||
            (ch->is_thread && !cJSON_AddObjectToObject(o, "thread_metadata")))
            goto out;
    }
    if (arr && (text = cJSON_PrintUnformatted(arr)))
        cache->is_dirty = false;
out:
    cJSON_Delete(arr);
    return text;
}

/* Fill the cache from a dump. */
void
discord_cache_load(struct discord_cache *cache, const char *text, size_t len)
{
    cJSON *arr = cJSON_ParseWithLength(text, len);
    const cJSON *o;

    if (cJSON_IsArray(arr)) {
        cJSON_ArrayForEach(o, arr)
        {
            discord_cache_put(cache, o);
        }
    }
    cJSON_Delete(arr);
    cache->is_dirty = false;
}
