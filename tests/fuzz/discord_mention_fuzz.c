/* libFuzzer target for chat-discord's mention markup (plugins/chat-discord/mention.c).
 * Input: the bot's id, a newline, the message content. The strip must count a mention
 * exactly when the content holds <@ID> or <@!ID> of the bot (checked against a plain
 * substring search), and keep the common invariants of tests/fuzz/mention_fuzz.h. */
#include <stdint.h>

#include "discord.h"
#include "mention_fuzz.h"

/* The oracle: is <@ID> or <@!ID> anywhere in @text? (Snowflake ids only.) */
static bool
discord_fuzz_mentioned(const char *text, const char *id)
{
    char a[64], b[64];

    if (!*id || strlen(id) > 20 || strspn(id, "0123456789") != strlen(id))
        return false;
    snprintf(a, sizeof(a), "<@%s>", id);
    snprintf(b, sizeof(b), "<@!%s>", id);
    return strstr(text, a) || strstr(text, b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *id, *text, *out = NULL;
    int removed;

    if (!mention_fuzz_split(data, size, &id, &text))
        return 0;
    removed = discord_mention_strip(text, id, &out);
    mention_fuzz_common(text, out, removed);
    mention_fuzz_check((removed > 0) == discord_fuzz_mentioned(text, id),
                       "mention count disagrees with a substring search", text, out);
    free(out);
    free(id);
    free(text);
    return 0;
}
