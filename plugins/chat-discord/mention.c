/* chat-discord: Discord's mention markup in message text — users <@ID> and the legacy
 * <@!ID>, roles <@&ID> — and the removal of the bot's own mentions from the prompt.
 * The only place that reads this markup: the core gets clean_text and mentions_bot. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "discord.h"

/* Snowflakes are decimal 64-bit integers: at most 20 digits. */
#define DISCORD_MENTION_ID_MAX 20

/* Copy @text without the user mentions of @bot_id; a role mention or another user's
 * stays. Scans byte by byte and never reads past the NUL. */
int
discord_mention_strip(const char *text, const char *bot_id, char **out)
{
    size_t id_len = bot_id ? strlen(bot_id) : 0, len = 0, start = 0;
    const char *p = text;
    int removed = 0;
    char *s;

    *out = NULL;
    if (!text)
        return AB_EINVAL;
    if (!(s = malloc(strlen(text) + 1)))
        return AB_ENOMEM;
    while (*p) {
        size_t i = 2, digits = 0;
        bool user = true;

        if (p[0] == '<' && p[1] == '@') {
            if (p[2] == '!' || p[2] == '&') {
                user = p[2] == '!';
                i++;
            }
            while (isdigit((unsigned char)p[i + digits]) && digits <= DISCORD_MENTION_ID_MAX)
                digits++;
            if (user && digits > 0 && digits <= DISCORD_MENTION_ID_MAX && digits == id_len &&
                p[i + digits] == '>' && memcmp(p + i, bot_id, id_len) == 0) {
                p += i + digits + 1;
                removed++;
                /* a space on both sides of the mention collapses into one */
                if (len > 0 && isspace((unsigned char)s[len - 1]) && isspace((unsigned char)*p))
                    p++;
                continue;
            }
        }
        s[len++] = *p++;
    }
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        len--;
    while (start < len && isspace((unsigned char)s[start]))
        start++;
    memmove(s, s + start, len - start);
    s[len - start] = '\0';
    *out = s;
    return removed;
}
