/* libFuzzer target: chat-slack's emoji name mapping both ways (emoji_name.c). Any
 * bytes as a Slack reaction name or as a Unicode emoji from the core; a name that maps
 * to an emoji must map back to that name, and the reverse. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slack.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    const char *emoji, *name;

    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if ((emoji = emoji_name_unicode(s))) {
        name = emoji_name_of(emoji);
        /* "eyes::skin-tone-2" maps like "eyes": compare up to the first ':' */
        if (!name || strncmp(name, s, strcspn(s, ":")) != 0 || name[strcspn(s, ":")] != '\0')
            abort();
    }
    if ((name = emoji_name_of(s))) {
        emoji = emoji_name_unicode(name);
        if (!emoji || emoji_name_of(emoji) != name)
            abort();
    }
    free(s);
    return 0;
}
