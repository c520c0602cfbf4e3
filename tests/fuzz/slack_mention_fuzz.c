/* libFuzzer target for chat-slack's mention markup (plugins/chat-slack/mention.c).
 * Input: the bot's user id, a newline, the raw message text. The strip must count a
 * mention exactly when the text holds <@UID> or <@UID|label> (label without <, > or a
 * newline) of the bot, and keep the common invariants of tests/fuzz/mention_fuzz.h. */
#include <stdint.h>

#include "mention_fuzz.h"
#include "slack.h"

/* The oracle, written differently from the plugin: each "<@UID" then ">" or a label. */
static bool
slack_fuzz_mentioned(const char *text, const char *uid)
{
    char tag[128];
    size_t n;

    if (!*uid || strlen(uid) > 100)
        return false;
    n = (size_t)snprintf(tag, sizeof(tag), "<@%s", uid);
    for (const char *p = strstr(text, tag); p; p = strstr(p + 1, tag)) {
        if (p[n] == '>')
            return true;
        if (p[n] == '|' && p[n + strcspn(p + n, "<>\n")] == '>')
            return true;
    }
    return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *uid, *text, *out = NULL;
    int removed;

    if (!mention_fuzz_split(data, size, &uid, &text))
        return 0;
    removed = slack_mention_strip(text, uid, &out);
    mention_fuzz_common(text, out, removed);
    mention_fuzz_check((removed > 0) == slack_fuzz_mentioned(text, uid),
                       "mention count disagrees with a substring search", text, out);
    free(out);
    free(uid);
    free(text);
    return 0;
}
