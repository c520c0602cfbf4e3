/* chat-slack emoji names: Slack reactions take names (eyes, white_check_mark), never
 * Unicode (invalid_name); the core speaks Unicode. One table maps both ways. */
#include <string.h>

#include "slack.h"

struct emoji_name {
    const char *unicode; /* without a trailing U+FE0F */
    const char *name;
};

/* The core's status, mood, cancel, deny and answer emojis. */
static const struct emoji_name emoji_names[] = {
    {"👀", "eyes"},
    {"🤔", "thinking_face"},
    {"🔥", "fire"},
    {"👨‍💻", "technologist"},
    {"⚡", "zap"},
    {"🆗", "ok"},
    {"😱", "scream"},
    {"🥱", "yawning_face"},
    {"😨", "fearful"},
    {"🛑", "octagonal_sign"},
    {"✅", "white_check_mark"},
    {"♾", "infinity"},
    {"❌", "x"},
    {"🚫", "no_entry_sign"},
    {"😊", "blush"},
    {"🤷", "shrug"},
    {"😅", "sweat_smile"},
    {"🫡", "saluting_face"},
    {"🔧", "wrench"},
    {"🎤", "microphone"},
};

#define EMOJI_VS16 "\xEF\xB8\x8F" /* U+FE0F, the emoji presentation selector */

/* The name for @emoji, ignoring a trailing U+FE0F. */
const char *
emoji_name_of(const char *emoji)
{
    size_t n = strlen(emoji);

    if (n >= 3 && strcmp(emoji + n - 3, EMOJI_VS16) == 0)
        n -= 3;
    for (size_t i = 0; i < sizeof(emoji_names) / sizeof(emoji_names[0]); i++)
        if (strlen(emoji_names[i].unicode) == n && strncmp(emoji_names[i].unicode, emoji, n) == 0)
            return emoji_names[i].name;
    return NULL;
}

/* The Unicode for @name, ignoring a "::skin-tone-N" suffix. The core's ♾️ carries
 * U+FE0F, so that one is handed out with it. */
const char *
emoji_name_unicode(const char *name)
{
    size_t n = strcspn(name, ":");

    if (n == 8 && strncmp(name, "infinity", 8) == 0)
        return "♾" EMOJI_VS16;
    for (size_t i = 0; i < sizeof(emoji_names) / sizeof(emoji_names[0]); i++)
        if (strlen(emoji_names[i].name) == n && strncmp(emoji_names[i].name, name, n) == 0)
            return emoji_names[i].unicode;
    return NULL;
}
