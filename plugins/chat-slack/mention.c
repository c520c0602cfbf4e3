/* chat-slack: Slack's user mention markup in message text — <@UID> and <@UID|name> —
 * and the removal of the bot's own mentions from the prompt. The only place that reads
 * this markup: the core gets clean_text and mentions_bot. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "slack.h"

/* The length of a mention of @uid (@ulen bytes) at @p, or 0. A label runs to the
 * first '>' and may not hold '<' or a newline; nothing is read past the NUL. */
static size_t
slack_mention_len(const char *p, const char *uid, size_t ulen)
{
    size_t i = 2 + ulen;

    if (p[0] != '<' || p[1] != '@' || strncmp(p + 2, uid, ulen) != 0)
        return 0;
    if (p[i] == '|')
        while (p[i] && p[i] != '>' && p[i] != '<' && p[i] != '\n')
            i++;
    return p[i] == '>' ? i + 1 : 0;
}

/* Copy @text without the mentions of @uid and the spaces after each, then trim. */
int
slack_mention_strip(const char *text, const char *uid, char **out)
{
    size_t ulen = uid ? strlen(uid) : 0, len = 0, start = 0, n;
    int removed = 0;
    char *s;

    *out = NULL;
    if (!text)
        return AB_EINVAL;
    if (!(s = malloc(strlen(text) + 1)))
        return AB_ENOMEM;
    for (const char *p = text; *p;) {
        if (ulen && (n = slack_mention_len(p, uid, ulen)) > 0) {
            for (p += n; *p == ' ';)
                p++;
            removed++;
            continue;
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
