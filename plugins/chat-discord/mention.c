/* chat-discord: finding and removing the bot's own mention (<@ID>, legacy <@!ID>) in
 * message text. The core has the same rule; a plugin cannot link core code. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "discord.h"

/* Length of a mention of @id at @s, or 0. */
static size_t
discord_mention_match(const char *s, const char *id, size_t id_len)
{
    size_t i = 2;

    if (s[0] != '<' || s[1] != '@')
        return 0;
    if (s[i] == '!')
        i++;
    if (strncmp(s + i, id, id_len) != 0)
        return 0;
    i += id_len;
    return s[i] == '>' ? i + 1 : 0;
}

/* Scan for the first mention of @bot_id. */
bool
discord_mention_has(const char *text, const char *bot_id)
{
    size_t id_len = bot_id ? strlen(bot_id) : 0;

    if (!text || id_len == 0)
        return false;
    for (const char *p = strstr(text, "<@"); p; p = strstr(p + 1, "<@"))
        if (discord_mention_match(p, bot_id, id_len))
            return true;
    return false;
}

/* Copy around each mention; a space on both sides of one collapses into one. */
char *
discord_mention_strip(const char *text, const char *bot_id)
{
    size_t id_len = bot_id ? strlen(bot_id) : 0, len = 0, n, start = 0;
    char *out = malloc(strlen(text) + 1);
    const char *p = text;

    if (!out)
        return NULL;
    while (*p) {
        if (id_len && *p == '<' && (n = discord_mention_match(p, bot_id, id_len)) > 0) {
            p += n;
            if (len > 0 && isspace((unsigned char)out[len - 1]) && isspace((unsigned char)*p))
                p++;
            continue;
        }
        out[len++] = *p++;
    }
    while (len > 0 && isspace((unsigned char)out[len - 1]))
        len--;
    while (start < len && isspace((unsigned char)out[start]))
        start++;
    memmove(out, out + start, len - start);
    out[len - start] = '\0';
    return out;
}
