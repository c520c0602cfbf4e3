/* Bot mention detection and removal in <@ID> / <@!ID> message markup. */
#include "render/mention.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#include "render/textbuf.h"

/* Length of the mention of @id at @s ("<@ID>", "<@!ID>", "<@ID|label>"), or 0. */
static size_t
mention_match(const char *s, const char *id, size_t id_len)
{
    size_t i = 2;

    if (s[0] != '<' || s[1] != '@')
        return 0;
    if (s[i] == '!')
        i++;
    if (strncmp(s + i, id, id_len) != 0)
        return 0;
    i += id_len;
    if (s[i] == '|') {
        while (s[i] && s[i] != '>' && s[i] != '<' && s[i] != '\n')
            i++;
    }
    return s[i] == '>' ? i + 1 : 0;
}

/* Scan for the first mention. */
bool
mention_has(const char *text, const char *bot_id)
{
    const char *p;

    if (text == NULL || bot_id == NULL || *bot_id == '\0')
        return false;
    for (p = strstr(text, "<@"); p; p = strstr(p + 1, "<@")) {
        if (mention_match(p, bot_id, strlen(bot_id)))
            return true;
    }
    return false;
}

/* Copy around each mention; a space on both sides of one collapses to a single space. */
int
mention_strip(const char *text, const char *bot_id, char **out)
{
    struct textbuf b = {0};
    size_t id_len, n, start, end;
    const char *p = text;
    int removed = 0, rc = 0;

    if (out)
        *out = NULL;
    if (text == NULL || bot_id == NULL || *bot_id == '\0' || out == NULL)
        return AB_EINVAL;
    id_len = strlen(bot_id);
    while (*p && rc == 0) {
        if (*p == '<' && (n = mention_match(p, bot_id, id_len)) > 0) {
            p += n;
            removed++;
            if (b.len > 0 && isspace((unsigned char)b.data[b.len - 1]) &&
                isspace((unsigned char)*p))
                p++;
            continue;
        }
        rc = textbuf_append(&b, p++, 1);
    }
    if (rc < 0) {
        textbuf_free(&b);
        return rc;
    }
    start = 0;
    end = b.len;
    while (start < end && isspace((unsigned char)b.data[start]))
        start++;
    while (end > start && isspace((unsigned char)b.data[end - 1]))
        end--;
    if (b.len > 0) {
        memmove(b.data, b.data + start, end - start);
        b.len = end - start;
        b.data[b.len] = '\0';
    }
    if ((*out = textbuf_take(&b)) == NULL)
        return AB_ENOMEM;
    return removed;
}
